"""The one chunk loop: tasks -> executor -> (flatten, write, add up) -> totals.

A *chain* (the chi_pair chain in :mod:`mcpgen.chipair_run`, the monophoton chain in
:mod:`mcpgen.monophoton_run`) supplies a picklable task per chunk and a module-level chunk
function ``chunk_fn(task) -> Chunk``. The :class:`Engine` resolves the seed, runs the tasks on its
executor (results in task order, a bounded number in flight), flattens each chunk's events to
branches in the worker (:func:`mcpgen.output.flatten`), streams them to the writer, adds up the
per-chunk :class:`ChunkStats`, hands each chunk's small ``sample`` to the chain, and drives the
progress bar. The writer runs in a thread of its own (:class:`_Handoff`): the next chunk is
computed or received while the last one is compressed and written. Events
``0 .. N-1`` are cut into chunks of ``chunk_size``; each chunk draws its uniforms from the
per-block streams of :mod:`mcpgen.rng`, so the output does not depend on the chunk size, the
executor or the number of workers.
"""

from __future__ import annotations

import math
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import awkward as ak
from tqdm import tqdm

from analysis.cutflow import CutFlow, WeightSum

from .errors import ResultError
from .executors import make_executor
from .output import BranchLayout, RootEventWriter, flatten
from .rng import resolve_seed

__all__ = ["ChunkStats", "Chunk", "Produced", "Engine", "chunk_ranges"]

DEFAULT_LAYOUT = BranchLayout()


@dataclass(frozen=True)
class ChunkStats:
    """What a chunk adds to the run totals: trials, events written, overweight events
    (unweighting), weight sums of all trials (``total``, per-trial estimators in pb) and of the
    events passing each cut (``cutflow``). Chunks add with ``+``."""

    n_trials: int = 0
    n_written: int = 0
    n_overweight: int = 0
    total: WeightSum = field(default_factory=WeightSum)
    cutflow: CutFlow = field(default_factory=CutFlow)

    def __add__(self, other: ChunkStats) -> ChunkStats:
        return ChunkStats(
            self.n_trials + other.n_trials,
            self.n_written + other.n_written,
            self.n_overweight + other.n_overweight,
            self.total + other.total,
            self.cutflow + other.cutflow,
        )


@dataclass(frozen=True)
class Chunk:
    """One chunk: its events (one awkward array), its statistics and an optional small ``sample``
    (arrays the chain keeps for its summary or plots)."""

    events: ak.Array
    stats: ChunkStats
    sample: dict | None = None


@dataclass(frozen=True)
class Produced:
    """What a worker sends back: the chunk's branches (or its events), statistics and sample."""

    stats: ChunkStats
    branches: dict | None = None
    events: ak.Array | None = None
    sample: dict | None = None


@dataclass(frozen=True)
class _Work:
    """The function the executor runs: a chunk, then (in the worker, in parallel) its branches
    (``layout`` given), its events (``keep_events``) or only its statistics and sample."""

    chunk_fn: Callable
    layout: BranchLayout | None = None
    keep_events: bool = False

    def __call__(self, task) -> Produced:
        chunk = self.chunk_fn(task)
        branches = flatten(chunk.events, self.layout) if self.layout is not None else None
        events = chunk.events if self.keep_events else None
        return Produced(chunk.stats, branches=branches, events=events, sample=chunk.sample)


class _Handoff:
    """Chunks of branches written by ``writer`` in a thread, in order: :meth:`put` hands a chunk
    over once the previous one is written, so one chunk is written while the next is computed or
    received (one chunk held beyond the executor's). :meth:`close` waits for the last write and
    raises the writer's error; :meth:`abandon` (the run failed) waits only for the write in
    progress, so the writer is idle when its file is closed."""

    def __init__(self, writer, tree: str | None):
        self._writer, self._tree = writer, tree
        self._queue: queue.Queue = queue.Queue()
        self._idle = threading.Semaphore(1)  # released when a write ends
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="mcpgen-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (branches := self._queue.get()) is not None:
            if self._error is None and not self._stop:
                try:
                    self._writer.extend(branches, tree=self._tree)
                except BaseException as exc:  # raised in the run's thread
                    self._error = exc
            del branches
            self._idle.release()

    def put(self, branches: dict) -> None:
        self._idle.acquire()  # the previous chunk is written
        if self._error is not None:
            self._idle.release()
            raise self._error
        self._queue.put(branches)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        self._stop = True
        self._queue.put(None)
        self._thread.join()


def _check_finite(total: ChunkStats) -> None:
    """Stop a run whose weights are not finite (nothing meaningful can be written)."""
    if not (math.isfinite(total.total.sum_w) and math.isfinite(total.total.sum_w2)):
        raise ResultError(
            f"the run's weights sum to {total.total.sum_w!r} over {total.n_trials} trials; the card's "
            "physics gives no finite cross section (check the masses, energies and cuts)."
        )


def chunk_ranges(n: int, chunk_size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) of the chunks of ``n`` events."""
    for start in range(0, n, chunk_size):
        yield start, min(start + chunk_size, n)


class Engine:
    """Runs chunk tasks; use as a context manager (it owns the executor and the progress bar).

    ``seed``: None (fresh entropy, recorded), an int or a SeedSequence -- resolved once
    (:attr:`seed`). ``executor``: anything with ``map(fn, tasks)`` yielding results in task order
    with a bounded number in flight, used as a context manager (:mod:`mcpgen.executors`);
    default: :func:`mcpgen.executors.make_executor` -- serial for one worker, a local process pool
    otherwise, or the dask cluster of an enclosing :func:`mcpgen.dask_executor.executor_scope`
    (the bar then advances as tasks complete on the cluster). ``progress``: None (a bar on
    a terminal only), True or False; ``total``: trials the bar counts to.
    """

    def __init__(
        self,
        seed=None,
        *,
        workers: int = 1,
        chunk_size: int = 100_000,
        executor=None,
        progress: bool | None = False,
        total: int = 0,
        desc: str = "mcpgen",
    ):
        self.seed = resolve_seed(seed)
        self.workers = int(workers)
        self.chunk_size = int(chunk_size)
        self._executor = executor if executor is not None else make_executor(self.workers)
        self._progress = progress
        self._total = total
        self._desc = desc
        self._bar = None

    def __enter__(self) -> Engine:
        self._executor.__enter__()
        self._bar = tqdm(
            total=self._total,
            unit="ev",
            unit_scale=True,
            file=sys.stderr,
            disable=None if self._progress is None else not self._progress,
            desc=self._desc,
        )
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()
        self._executor.__exit__(*exc)

    def tasks(self, n: int, make: Callable[[int, int], object]) -> Iterator:
        """``make(start, stop)`` for every chunk of ``n`` events."""
        return (make(start, stop) for start, stop in chunk_ranges(n, self.chunk_size))

    def produce(
        self,
        chunk_fn: Callable,
        tasks: Iterable,
        *,
        layout: BranchLayout = DEFAULT_LAYOUT,
        writer: RootEventWriter | None = None,
        tree: str | None = None,
        on_sample: Callable[[dict], None] | None = None,
    ) -> ChunkStats:
        """Run every task; write each chunk's branches (``layout``) to ``tree`` of ``writer`` (if
        given), pass its sample to ``on_sample``; return the summed statistics."""
        total = ChunkStats()
        handoff = _Handoff(writer, tree) if writer is not None else None
        try:
            for produced in self._executor.map(_Work(chunk_fn, layout if writer is not None else None), tasks):
                if handoff is not None:
                    handoff.put(produced.branches)
                if on_sample is not None and produced.sample is not None:
                    on_sample(produced.sample)
                total = total + produced.stats
                self._bar.update(produced.stats.n_trials)
                del produced  # do not keep this chunk alive while the next one is produced
        except BaseException:
            if handoff is not None:
                handoff.abandon()
            raise
        if handoff is not None:
            handoff.close()
        _check_finite(total)
        return total

    def collect(self, chunk_fn: Callable, tasks: Iterable) -> tuple[ak.Array, ChunkStats]:
        """Run every task and keep the events in memory: (concatenated events, summed statistics)."""
        parts, total = [], ChunkStats()
        for produced in self._executor.map(_Work(chunk_fn, keep_events=True), tasks):
            parts.append(produced.events)
            total = total + produced.stats
            self._bar.update(produced.stats.n_trials)
        events = ak.concatenate(parts) if len(parts) > 1 else parts[0]
        return events, total
