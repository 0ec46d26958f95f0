"""mcpgen: Monte Carlo generator and toy detector simulation for millicharged particles.

Stages (each importable on its own): :mod:`generator` (physics processes, beams, ISR),
:mod:`detsim` (tracker, calorimeter), :mod:`analysis` (selections, cut flows, limits); this
package holds the cards, random streams, the chunk engine, the runs, scans and validation, the
files and figures, and the command line.

The names below are resolved on first use, so that ``import mcpgen`` (and ``mcpgen --help``)
does not load the numerical stack.

Compiled kernels (numba, ``cache=True``) are kept on disk, so a second run compiles nothing:
beside their sources (``detsim/__pycache__``) when that folder is writable, otherwise -- an
installation in a read-only location -- in ``NUMBA_CACHE_DIR``, which :func:`numba_cache_dir`
sets before numba is loaded to ``$XDG_CACHE_HOME/mcpgen/numba`` (``~/.cache/mcpgen/numba``) unless
the user set it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os

__all__ = ["CardError", "McpgenError", "load_card", "generate_events", "run", "numba_cache_dir", "__version__"]

__version__ = "0.1.0"

_LAZY = {
    "CardError": "mcpgen.errors",
    "McpgenError": "mcpgen.errors",
    "load_card": "mcpgen.build",
    "generate_events": "mcpgen.pipeline",
    "run": "mcpgen.pipeline",
}


def numba_cache_dir() -> str | None:
    """Where numba keeps the compiled kernels: None (beside the sources, numba's own choice) when
    ``detsim``'s folder is writable or ``NUMBA_CACHE_DIR`` is set; otherwise a user cache folder,
    exported as ``NUMBA_CACHE_DIR`` (read by numba when it is first imported)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    spec = importlib.util.find_spec("detsim")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    if not folders:
        return None
    pycache = os.path.join(folders[0], "__pycache__")
    if os.access(pycache if os.path.isdir(pycache) else folders[0], os.W_OK):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "mcpgen", "numba")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        import tempfile

        path = os.path.join(tempfile.gettempdir(), f"mcpgen-numba-{os.getuid() if hasattr(os, 'getuid') else 0}")
        os.makedirs(path, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = path
    return path


numba_cache_dir()


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mcpgen' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
