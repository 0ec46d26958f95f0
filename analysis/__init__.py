"""analysis stage of mcpgen: selections, yields, limits, scans, validation against the papers."""

from __future__ import annotations

import importlib

__all__ = ["compare_methods", "eps_limit_chi2", "eps_limit_cls", "eps_limit_zero_background"]


def __getattr__(name: str):
    # the limit functions load analysis.limits (pyhf, scipy.stats) on first use, so that a run
    # importing analysis.cutflow or analysis.selections does not pay for them
    if name in __all__:
        return getattr(importlib.import_module("analysis.limits"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
