"""mcpgen: Monte Carlo generator and toy detector simulation for millicharged particles.

Stages (each importable on its own): :mod:`generator` (physics processes, beams, ISR),
:mod:`detsim` (tracker, calorimeter), :mod:`analysis` (selections, cut flows, limits); this
package holds the cards, random streams, the chunk engine, the runs, scans and validation, the
files and figures, and the command line.

The names below are resolved on first use, so that ``import mcpgen`` (and ``mcpgen --help``)
does not load the numerical stack.
"""

from __future__ import annotations

import importlib

__all__ = ["CardError", "McpgenError", "load_card", "generate_events", "run", "__version__"]

__version__ = "0.1.0"

_LAZY = {
    "CardError": "mcpgen.errors",
    "McpgenError": "mcpgen.errors",
    "load_card": "mcpgen.build",
    "generate_events": "mcpgen.pipeline",
    "run": "mcpgen.pipeline",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mcpgen' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
