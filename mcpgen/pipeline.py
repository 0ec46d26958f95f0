"""The chunked generation pipeline: card -> chunks of events -> ROOT + JSON.

Events ``0 .. N-1`` are split into chunks; each chunk draws its uniforms from the per-block
streams of :mod:`mcpgen.rng`, runs the stages and returns flat branches plus running sums.
Output is identical for any chunk size and executor. Weights are normalised so that they sum
to the cross section in pb (``weight = W / N`` with W the per-trial estimator of the process).
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .card import Card
from .executors import make_executor
from .output import RootEventWriter, flatten_events, write_json_atomic
from .rng import Stage, resolve_seed, uniforms

__all__ = ["ChunkTask", "generate_events", "run", "versions", "max_weight"]


@dataclass(frozen=True)
class ChunkTask:
    """Events ``start`` .. ``stop - 1`` of a run of ``n_total`` trials."""

    process: object
    seed: int
    start: int
    stop: int
    n_total: int
    unweighted: bool = False
    w_max: float = 0.0
    tracker: object = None
    tables: dict | None = None


@dataclass
class ChunkResult:
    branches: dict
    n_trials: int
    n_written: int
    sum_w: float  # sum of per-trial estimators W (pb)
    sum_w2: float
    n_overweight: int = 0
    selections: dict = field(default_factory=dict)  # name -> (sum W, sum W^2) of passing events


def generate_chunk(task: ChunkTask):
    """Generate one chunk; returns (awkward events with normalised weights, ChunkResult stats)."""
    process = task.process
    u = uniforms(task.seed, Stage.GENERATOR, task.start, task.stop, process.n_uniforms)
    events = process.generate(u)
    w = np.asarray(events["weight"])
    n_over = 0
    keep = None
    if task.unweighted:
        u_acc = uniforms(task.seed, Stage.UNWEIGHTING, task.start, task.stop, 1)[0]
        keep = np.flatnonzero(u_acc * task.w_max < w)
        n_over = int(np.count_nonzero(w > task.w_max))
        events = events[keep]
        w_out = np.maximum(w[keep], task.w_max)
    else:
        w_out = w
    events = _with_weight(events, w_out / task.n_total)
    stats = ChunkResult({}, task.stop - task.start, len(events), float(w.sum()), float(w @ w), n_over)
    if task.tracker is not None:
        events = _detector(events, task, keep)
        for name in SIGNAL_SELECTIONS:
            passed = (
                np.asarray(events[name])
                if name != "paper_either"
                else (np.asarray(events["paper_ionization"]) | np.asarray(events["paper_delta"]))
            )
            wp = w_out[passed]
            stats.selections[name] = (float(wp.sum()), float(wp @ wp))
    return events, stats


#: Event selections whose weighted sums give the expected signal (summary.json)
SIGNAL_SELECTIONS = ("found_line", "found_circle", "paper_ionization", "paper_delta", "paper_either")


def _detector(events, task: ChunkTask, keep):
    """Run the detector stage; its uniforms are keyed by trial index like the generator's."""
    import awkward as ak

    from detsim.simulate import simulate

    def source(stage, rows, n):
        u = uniforms(task.seed, stage, task.start, task.stop, rows)
        return u if keep is None else u[:, keep]

    det = simulate(events, task.tracker, source, task.tables)
    for name in det.fields:
        events = ak.with_field(events, det[name], name)
    return events


def _with_weight(events, weight):
    import awkward as ak

    return ak.with_field(events, weight, "weight")


def _chunk_to_branches(task: ChunkTask) -> ChunkResult:
    events, stats = generate_chunk(task)
    stats.branches = flatten_events(events)
    return stats


def max_weight(process, seed: int, n_pilot: int) -> float:
    """Maximum per-trial weight from a pilot sample (own stream), with a 10 % margin."""
    u = uniforms(seed, Stage.PILOT, 0, n_pilot, process.n_uniforms)
    return 1.1 * float(np.max(process.generate(u)["weight"]))


def _tasks(process, seed, n, chunk, unweighted, w_max, tracker=None, tables=None):
    for start in range(0, n, chunk):
        yield ChunkTask(process, seed, start, min(start + chunk, n), n, unweighted, w_max, tracker, tables)


def generate_events(process, n: int, seed=None, chunk_size: int = 100_000, tracker=None):
    """Generate ``n`` weighted events in memory (weights sum to the cross section in pb).

    ``seed`` takes None, an int or a SeedSequence. With a ``tracker`` the detector stage runs
    too. Handy from Python; the CLI streams to ROOT instead.
    """
    import awkward as ak

    seed = resolve_seed(seed)
    tables = _tables(tracker, process)
    parts = [generate_chunk(t)[0] for t in _tasks(process, seed, n, chunk_size, False, 0.0, tracker, tables)]
    return ak.concatenate(parts) if len(parts) > 1 else parts[0]


def _tables(tracker, process):
    if tracker is None:
        return None
    from detsim.simulate import build_tables

    return build_tables(tracker, process.epsilon, process.mass_gev)


def _signal_summary(selections: dict, n: int, luminosity_pb: float, sigma_pb: float) -> dict:
    """Expected signal N = L x sum(weights of found events) per mode, with MC errors."""
    if not selections:
        return {}
    expected, efficiency = {}, {}
    for name, (sw, sw2) in selections.items():
        mean = sw / n
        err = float(np.sqrt(max(sw2 / n - mean**2, 0.0) / n))
        expected[name] = {"events": mean * luminosity_pb, "err": err * luminosity_pb}
        efficiency[name] = mean / sigma_pb if sigma_pb > 0 else 0.0
    modes = {
        "poisson": expected["found_line"],
        "poisson_circle": expected["found_circle"],
        "paper": expected["paper_either"],
        "paper_ionization": expected["paper_ionization"],
        "paper_delta": expected["paper_delta"],
    }
    return {"signal_events_expected": modes, "efficiencies": efficiency}


def _random_trigger_summary(card, seed: int) -> dict:
    tracker = card.tracker
    if tracker is None:
        return {}
    n_rt = int(card.data["detector"]["finder"]["random_trigger_events"])
    if n_rt == 0:
        return {}
    from detsim.simulate import random_trigger

    def source(stage, rows, start, stop):
        return uniforms(seed, stage, start, stop, rows)

    return {"random_trigger": random_trigger(tracker, n_rt, source)}


def versions() -> dict:
    """Versions of mcpgen, Python and the numerical stack, for the run metadata."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("mcpgen", "numpy", "scipy", "awkward", "vector", "uproot", "hepunits", "jsonschema"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def run(
    card: Card,
    n_events: int,
    out_dir: str | Path,
    seed=None,
    workers: int = 1,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> dict:
    """Generate ``n_events`` trials from ``card`` into ``out_dir``; return the summary dict."""
    if "monophoton" in card.extras:
        from .monophoton import run_monophoton

        return run_monophoton(card, n_events, out_dir, seed, workers, chunk_size, progress)
    out_dir = Path(out_dir)
    seed = resolve_seed(card.run["seed"] if seed is None else seed)
    chunk = int(chunk_size or card.run["chunk_size"])
    unweighted = bool(card.run["unweighted"])
    process = card.process
    w_max = max_weight(process, seed, card.run["pilot_events"]) if unweighted else 0.0

    tracker = card.tracker
    tables = _tables(tracker, process)
    sum_w = sum_w2 = 0.0
    n_written = n_over = 0
    selections = {name: [0.0, 0.0] for name in SIGNAL_SELECTIONS} if tracker is not None else {}
    started = time.perf_counter()
    bar = tqdm(
        total=n_events,
        unit="ev",
        unit_scale=True,
        file=sys.stderr,
        disable=None if progress is None else not progress,
        desc=card.data.get("name") or "mcpgen",
    )
    writer = RootEventWriter(out_dir / "events.root", "events", card.output["compression"])
    with make_executor(workers) as executor, writer:
        for result in executor.map(
            _chunk_to_branches, _tasks(process, seed, n_events, chunk, unweighted, w_max, tracker, tables)
        ):
            writer.extend(result.branches)
            sum_w += result.sum_w
            sum_w2 += result.sum_w2
            n_written += result.n_written
            n_over += result.n_overweight
            for name, (a, b) in result.selections.items():
                selections[name][0] += a
                selections[name][1] += b
            bar.update(result.n_trials)
            del result  # do not keep this chunk alive while the next one is produced
        elapsed = time.perf_counter() - started
        sigma = sum_w / n_events
        err = float(np.sqrt(max(sum_w2 / n_events - sigma**2, 0.0) / n_events))
        summary = {
            "mcpgen_summary_version": 1,
            "card_path": card.source,
            "process": process.name,
            "cross_section_pb": sigma,
            "cross_section_err_pb": err,
            "luminosity_pb_inv": card.luminosity_pb,
            "expected_events": sigma * card.luminosity_pb,
            "expected_events_err": err * card.luminosity_pb,
            "n_events": n_written,
            "n_trials": n_events,
            "unweighted": unweighted,
            "max_weight_pb": w_max if unweighted else None,
            "n_overweight": n_over if unweighted else None,
            "seed": seed,
            "chunk_size": chunk,
            "workers": workers,
            "physics": process.describe(),
            **_signal_summary(selections, n_events, card.luminosity_pb, sigma),
            **_random_trigger_summary(card, seed),
            "timing": {"seconds": elapsed, "events_per_second": n_events / elapsed if elapsed else None},
            "card": card.data,
            "versions": versions(),
        }
        import json

        writer.metadata = {"mcpgen_summary": json.dumps(summary, default=float), "mcpgen_card": card.to_yaml()}
    bar.close()
    write_json_atomic(out_dir / "summary.json", summary)
    return summary
