"""analysis stage of mcpgen: selections, yields, limits, scans, validation against the papers."""

from __future__ import annotations

from .limits import compare_methods, eps_limit_chi2, eps_limit_cls, eps_limit_zero_background

__all__ = ["compare_methods", "eps_limit_chi2", "eps_limit_cls", "eps_limit_zero_background"]
