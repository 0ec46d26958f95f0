"""Output: events streamed to a ROOT TTree, summaries to JSON; both written atomically.

Files are written under a temporary name in the target directory and renamed into place only
when complete (``os.replace`` is atomic on POSIX), so an interrupted run never leaves a
truncated ``events.root`` or ``summary.json`` behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

__all__ = ["COMPRESSION_CHOICES", "RootEventWriter", "compression", "flatten_events", "write_json_atomic"]

COMPRESSION_CHOICES = ("none", "lz4", "zlib", "lzma", "zstd")


def compression(spec: str):
    """uproot compression object from ``'none'`` or ``'ALGORITHM:LEVEL'`` (e.g. ``'lz4:1'``)."""
    if spec == "none":
        return None
    algorithm, _, level = spec.partition(":")
    classes = {"lz4": uproot.LZ4, "zlib": uproot.ZLIB, "lzma": uproot.LZMA, "zstd": uproot.ZSTD}
    if algorithm not in classes:
        raise ValueError(f"compression must be one of {COMPRESSION_CHOICES}, got {spec!r}")
    return classes[algorithm](int(level or 1))


def flatten_events(events: ak.Array, float32: frozenset[str] = frozenset()) -> dict:
    """Flat branch arrays from an event record array: record fields become ``name_sub``.

    Flat numeric fields become numpy arrays; jagged fields stay awkward (uproot writes them
    with a counter branch). Names in ``float32`` are stored in single precision.
    """
    branches: dict = {}

    def add(name, array):
        if array.ndim == 1 and not isinstance(ak.type(array).content, ak.types.ListType):
            array = ak.to_numpy(array)
            if name in float32:
                array = array.astype(np.float32)
        branches[name] = array

    for name in events.fields:
        column = events[name]
        if column.fields:
            for sub in column.fields:
                add(f"{name}_{sub}", column[sub])
        else:
            add(name, column)
    return branches


def _temporary(path: Path) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    return Path(name)


def write_json_atomic(path: str | Path, payload: dict) -> None:
    """Write ``payload`` as indented JSON to ``path`` via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        tmp.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class RootEventWriter:
    """Stream chunks of branches into ``TTree`` ``tree`` of ``path``, atomically.

    Use as a context manager; the file appears under its final name only after a clean exit.
    ``metadata`` strings (JSON, YAML) are stored as ``TObjString`` objects beside the tree.
    """

    def __init__(self, path: str | Path, tree: str = "events", compression_spec: str = "lz4:1"):
        self.path = Path(path)
        self.tree_name = tree
        self.compression = compression(compression_spec)
        self.metadata: dict[str, str] = {}
        self.entries = 0
        self._file = None
        self._trees: dict = {}
        self._tmp: Path | None = None

    def __enter__(self) -> RootEventWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _temporary(self.path)
        self._file = uproot.recreate(self._tmp, compression=self.compression)
        return self

    def extend(self, branches: dict, tree: str | None = None) -> None:
        """Append one chunk (a dict of equal-length arrays) to ``tree`` (default: the writer's)."""
        name = tree or self.tree_name
        if name not in self._trees:
            self._trees[name] = self._file.mktree(name, _branch_types(branches))
        self._trees[name].extend(branches)
        self.entries += len(next(iter(branches.values())))

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for key, text in self.metadata.items():
                    self._file[key] = text
            self._file.close()
            if exc_type is None:
                os.replace(self._tmp, self.path)
        finally:
            if self._tmp is not None and self._tmp.exists():
                self._tmp.unlink()


def _branch_types(branches: dict) -> dict:
    types = {}
    for name, array in branches.items():
        if isinstance(array, np.ndarray):
            types[name] = array.dtype
        else:
            types[name] = ak.type(array)
    return types
