"""Every file mcpgen writes: event trees (ROOT), summaries (JSON), tables (text), scan histograms.

Files are written under a temporary name in the target directory and renamed into place only
when complete (``os.replace`` is atomic on POSIX), so an interrupted run never leaves a
truncated ``events.root`` or ``summary.json`` behind; the temporary name is created with the
process umask respected.

A chunk of events (one awkward array: generator fields, a nested ``detector`` record, a nested
``pass`` record of selection flags) becomes flat branches through one function, :func:`flatten`,
steered by a :class:`BranchLayout` (which fields, under which names).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import platform
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from .errors import OutputError

__all__ = [
    "COMPRESSION_CHOICES",
    "RUN_MARKER",
    "BranchLayout",
    "RootEventWriter",
    "atomic_path",
    "clean_stale_partials",
    "finite_json",
    "run_directory",
    "safe_name",
    "prepare_dir",
    "compression",
    "flatten",
    "jsonable",
    "versions",
    "write_histograms",
    "write_json_atomic",
    "write_text_atomic",
]

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


# --- chunk -> branches -----------------------------------------------------------------------


@dataclass(frozen=True)
class BranchLayout:
    """Which fields of a chunk become branches, under which names.

    ``columns``: (branch, path) pairs written first, in order; a path is dotted
    (``"detector.photon.E"``) and its last element may be a ``vector`` property
    (``"gamma.theta"``); a column whose field is absent from the chunk is left out (optional
    fields). ``expand``: paths whose leaf fields are all written under their default names;
    ``"*"`` stands for every field not written otherwise. Default name: the path joined with
    ``_`` without the record levels listed in ``transparent`` (``detector.hit.x`` -> ``hit_x``).
    ``skip``: top-level fields never written by ``"*"``.
    """

    columns: tuple[tuple[str, str], ...] = ()
    expand: tuple[str, ...] = ("*",)
    transparent: tuple[str, ...] = ("detector",)
    skip: tuple[str, ...] = ()


def _resolve(events, path: str):
    node = events
    for part in path.split("."):
        if part in node.fields:
            node = node[part]
        elif hasattr(node, part) and node.fields:
            node = getattr(node, part)
        else:
            return None
    return node


def _leaf(array):
    if array.ndim == 1 and not isinstance(ak.type(array).content, ak.types.ListType):
        return ak.to_numpy(array)
    return array


def _leaves(array, parts: tuple[str, ...], transparent: tuple[str, ...], out: dict) -> None:
    if array.fields:
        for name in array.fields:
            _leaves(array[name], (*parts, name), transparent, out)
        return
    name = "_".join(p for i, p in enumerate(parts) if not (p in transparent and i < len(parts) - 1))
    out[name] = _leaf(array)


def flatten(events: ak.Array, layout: BranchLayout = BranchLayout()) -> dict:
    """Flat branch arrays of a chunk: numbers become numpy arrays, jagged fields stay awkward
    (uproot writes them with a counter branch ``n<name>``)."""
    branches: dict = {}
    for branch, path in layout.columns:
        column = _resolve(events, path)
        if column is not None:
            branches[branch] = _leaf(column)
    used = {path.split(".")[0] for _, path in layout.columns}
    for path in layout.expand:
        if path == "*":
            for name in events.fields:
                if name not in used and name not in layout.skip:
                    _leaves(events[name], (name,), layout.transparent, branches)
        else:
            column = _resolve(events, path)
            if column is not None:
                _leaves(column, tuple(path.split(".")), layout.transparent, branches)
    return branches


# --- files -----------------------------------------------------------------------------------


def prepare_dir(path: str | Path) -> Path:
    """Create the output directory ``path`` (and parents); :class:`OutputError` if it cannot be."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write output to {str(path)!r}: {exc.strerror or exc}.") from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it when the block ends without error."""
    path = Path(path)
    prepare_dir(path.parent)
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".partial", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write output to {str(path.parent)!r}: {exc.strerror or exc}.") from None
    os.close(handle)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def jsonable(obj):
    """``obj`` with numpy arrays and scalars as lists and numbers, non-finite floats as None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def finite_json(obj):
    """``obj`` ready for strict JSON: numpy values as Python ones, non-finite floats as None
    (``null``: "no meaningful value"), so no ``NaN`` or ``Infinity`` ever reaches a file."""
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite_json(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(path: str | Path, payload: dict) -> None:
    """Write ``payload`` as indented JSON to ``path`` via a temporary file and a rename
    (strict JSON: non-finite numbers become ``null``, :func:`finite_json`)."""
    text = json.dumps(finite_json(payload), indent=2, default=_json_default, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_histograms(path: str | Path, hist2d: dict, hist1d: dict, metadata: dict[str, str]) -> None:
    """A ROOT file of TH2D ``(values, x_edges, y_edges)`` and TH1D ``(values, x_edges)``
    histograms (nan written as 0 in 1D) with titles and axis labels (:mod:`mcpgen.histograms`)
    and TObjString ``metadata``, atomically."""
    scan_histogram = importlib.import_module("mcpgen.histograms").scan_histogram  # hist loads here

    with atomic_path(path) as tmp:
        with uproot.recreate(tmp) as f:
            for key, (values, x_edges, y_edges) in hist2d.items():
                f[key] = scan_histogram(key, values, x_edges, y_edges)
            for key, (values, x_edges) in hist1d.items():
                f[key] = scan_histogram(key, values, x_edges)
            for key, text in metadata.items():
                f[key] = text


class RootEventWriter:
    """Stream chunks of branches into ``TTree`` ``tree`` of ``path``, atomically.

    Use as a context manager; the file appears under its final name only after a clean exit.
    ``metadata`` strings (JSON, YAML) are stored as ``TObjString`` objects beside the trees.
    """

    def __init__(self, path: str | Path, tree: str | None = "events", compression_spec: str = "lz4:1"):
        self.path = Path(path)
        self.tree_name = tree
        self.compression = compression(compression_spec)
        self.metadata: dict[str, str] = {}
        self.entries = 0
        self._file = None
        self._trees: dict = {}
        self._atomic = None
        self._tmp: Path | None = None
        self._pair: list[tuple[Path, dict]] = []

    def pair_json(self, path: str | Path, payload: dict) -> None:
        """Write ``payload`` to ``path`` (JSON, :func:`write_json_atomic`) when the writer closes
        cleanly, *before* the event file is renamed into place: a run that fails in between
        leaves the new summary and no new event file, never a new event file beside an old
        summary."""
        self._pair.append((Path(path), payload))

    def __enter__(self) -> RootEventWriter:
        self._atomic = atomic_path(self.path)
        self._tmp = self._atomic.__enter__()
        self._file = uproot.recreate(self._tmp, compression=self.compression)
        return self

    def extend(self, branches: dict, tree: str | None = None) -> None:
        """Append one chunk (a dict of equal-length arrays) to ``tree`` (default: the writer's)."""
        name = tree or self.tree_name
        if name not in self._trees:
            self._trees[name] = self._file.mktree(name, _branch_types(branches))
            for branch in _incompressible(branches, self.compression):
                self._trees[name][branch].compression = None
        self._trees[name].extend(branches)
        self.entries += len(next(iter(branches.values())))

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                for key, text in self.metadata.items():
                    self._file[key] = text
            self._file.close()
            if exc_type is None:
                for path, payload in self._pair:
                    write_json_atomic(path, payload)
        finally:
            self._atomic.__exit__(exc_type, exc, tb)


#: The marker file of ``mcpgen run`` in its output directory (JSON): the command, its state
#: (``running`` / ``complete`` / ``failed``) and the files the run wrote, which the next run in
#: the directory removes before it starts. Other commands keep their own
#: (``.mcpgen-scan.json``, ``.mcpgen-validate.json``), so a scan never removes a run's files.
RUN_MARKER = ".mcpgen-run.json"

_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(text: str, fallback: str = "mcpgen") -> str:
    """``text`` as one file name: no separators or absolute paths, no leading dots, at most 64
    characters, never empty (``fallback``)."""
    name = _SAFE.sub("_", str(text)).strip("._")[:64]
    return name or fallback


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_partials(directory: str | Path) -> list[Path]:
    """Remove the temporary ``.*.partial`` files of killed runs from ``directory`` (and its
    ``plots``): those whose writing process (the pid in the name) no longer runs, or that carry
    no pid. Returns what was removed."""
    removed = []
    directory = Path(directory)
    for folder in (directory, directory / "plots"):
        if not folder.is_dir():
            continue
        for path in folder.glob(".*.partial"):
            parts = path.name.split(".")
            pids = [int(p) for p in parts[:-2] if p.isdigit()]
            if pids and pids[-1] != os.getpid() and _pid_alive(pids[-1]):
                continue
            if pids and pids[-1] == os.getpid():
                continue
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _files_under(directory: Path) -> dict[str, int]:
    out = {}
    for path in directory.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            out[str(path.relative_to(directory))] = path.stat().st_mtime_ns
    return out


@contextlib.contextmanager
def run_directory(path: str | Path, command: str = "run") -> Iterator[Path]:
    """Output directory ``path`` for one run, so that a run never mixes its files with an old
    run's: stale ``.partial`` files are removed (:func:`clean_stale_partials`), then the files
    listed in the previous run's :data:`RUN_MARKER` (the previous run's outputs, nothing else);
    the marker says ``running`` during the run and lists the files written when it ends
    (``complete``, or ``failed`` after an error or a signal). Other files -- yours, and those of
    other commands (each has its marker ``.mcpgen-<command>.json``) -- are left alone."""
    path = prepare_dir(path)
    clean_stale_partials(path)
    marker = path / f".mcpgen-{safe_name(command)}.json"
    try:
        old = json.loads(marker.read_text())
    except (OSError, ValueError):
        old = {}
    for name in old.get("files", []) if isinstance(old, dict) else []:
        target = (path / str(name)).resolve()
        if target.is_file() and path.resolve() in target.parents:
            target.unlink(missing_ok=True)
    before = _files_under(path)
    write_json_atomic(marker, {"command": command, "state": "running", "pid": os.getpid(), "files": []})
    state = "failed"
    try:
        yield path
        state = "complete"
    finally:
        after = _files_under(path)
        written = sorted(name for name, mtime in after.items() if before.get(name) != mtime)
        with contextlib.suppress(OSError):
            write_json_atomic(marker, {"command": command, "state": state, "files": written})


#: A float branch whose first chunk compresses to more than this fraction is stored raw.
INCOMPRESSIBLE_RATIO = 0.97
_SAMPLE_BYTES = 1 << 16


def _incompressible(branches: dict, algorithm) -> list[str]:
    """The floating-point branches of a tree's first chunk that ``algorithm`` cannot shrink by
    3 % (a 64 kB sample each): the writer stores them uncompressed from then on.

    Measured mantissas of momenta, hit coordinates and times are random to a compressor (LZ4
    leaves every such branch of a ``sct_3gev`` file at 1.000 of its size and spends a tenth of
    the writing time finding out); constant or mostly-zero floats (charges, the crossing-angle
    boost without a crossing angle, scattering sums without scattering) compress a hundredfold
    and keep the file's algorithm, as do all integer branches. The values written are the same."""
    if algorithm is None:
        return []
    out = []
    for name, array in branches.items():
        if isinstance(array, np.ndarray):
            flat = array
        elif re.fullmatch(r"\d+ \* (var \* )?float(32|64)", str(ak.type(array))):  # numbers, or a list each
            flat = ak.to_numpy(ak.flatten(array[: _SAMPLE_BYTES // 4], axis=None))  # enough events for a sample
        else:  # records, strings, deeper lists: left to the file's algorithm
            continue
        if flat.dtype.kind != "f" or flat.size == 0:
            continue
        sample = np.ascontiguousarray(flat[: max(1, _SAMPLE_BYTES // flat.dtype.itemsize)]).tobytes()
        if len(uproot.compression.compress(sample, algorithm)) > INCOMPRESSIBLE_RATIO * len(sample):
            out.append(name)
    return out


def _branch_types(branches: dict) -> dict:
    types = {}
    for name, array in branches.items():
        if isinstance(array, np.ndarray):
            types[name] = array.dtype
        else:
            types[name] = ak.type(array)
    return types


def versions() -> dict:
    """Versions of mcpgen, Python and the numerical stack, for the provenance of every output."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("mcpgen", "numpy", "scipy", "awkward", "vector", "uproot", "hepunits", "jsonschema"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out
