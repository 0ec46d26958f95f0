"""Runs from Python: :func:`run` (a card to ``events.root`` + ``summary.json``) and
:func:`generate_events` (events in memory).

Both go through the one chunk loop (:class:`mcpgen.engine.Engine`); :func:`run` dispatches on the
card kind to the chi_pair chain (:mod:`mcpgen.chipair_run`) or the monophoton chain
(:mod:`mcpgen.monophoton_run`). Weights are normalised so that they sum to the cross section in pb
(``weight = W / N`` with W the per-trial estimator of the process).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

import awkward as ak

from .build import ChiPairCard, MonophotonCard
from .chipair_run import ChiPairSummary, ChiPairTask, chipair_chunk, max_weight, run_chi_pair, tables_for
from .dask_executor import executor_scope
from .engine import ChunkStats, Engine
from .rng import Stream

if TYPE_CHECKING:
    from .monophoton_run import MonophotonSummary

__all__ = ["ChunkTask", "generate_chunk", "generate_events", "max_weight", "run"]

#: A chunk task of the chi_pair chain (events start .. stop - 1 of n_total trials).
ChunkTask = ChiPairTask


def generate_chunk(task: ChiPairTask) -> tuple[ak.Array, ChunkStats]:
    """One chunk of the chi_pair chain: (events with normalised weights, its statistics)."""
    chunk = chipair_chunk(task)
    return chunk.events, chunk.stats


def generate_events(
    process,
    n: int,
    seed=None,
    chunk_size: int = 100_000,
    tracker=None,
    *,
    stream: Stream | None = None,
) -> ak.Array:
    """Generate ``n`` weighted events of a chi_pair-like ``process`` in memory (weights sum to the
    cross section in pb).

    ``seed`` takes None, an int or a SeedSequence. With a ``tracker`` the detector stage runs
    too: the events gain the ``detector`` record and the ``pass`` record of signal flags.
    ``stream``: the generator stream (default: the run's, :attr:`mcpgen.rng.Streams.generator`).
    """
    with Engine(seed, chunk_size=chunk_size) as engine:
        tables = tables_for(tracker, process)

        def task(start, stop):
            return ChiPairTask(process, engine.seed, start, stop, n, False, 0.0, tracker, tables, stream)

        events, _ = engine.collect(chipair_chunk, engine.tasks(n, task))
    return events


def run(
    card: ChiPairCard | MonophotonCard,
    n_events: int,
    out_dir: str | Path,
    seed=None,
    workers: int = 1,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> ChiPairSummary | MonophotonSummary:
    """Generate ``n_events`` trials (per dataset for monophoton cards) from ``card`` into
    ``out_dir``; return the summary (also written to ``out_dir``/summary.json). ``seed``: None
    takes the card's ``run.seed``. The chunks run where the card's ``run.executor`` says (local
    processes, or a dask cluster: :func:`mcpgen.dask_executor.executor_scope`)."""
    if isinstance(card, MonophotonCard):
        chain = importlib.import_module("mcpgen.monophoton_run").run_monophoton  # loads with its cards
    else:
        chain = run_chi_pair
    with executor_scope(card.run.executor, card.run.scheduler, workers):
        return chain(card, n_events, out_dir, seed, workers, chunk_size, progress)
