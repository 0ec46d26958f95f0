"""The chi_pair chain: e+e- -> chi chibar (gamma_ISR) events, optionally through the tracker.

One chunk (:func:`chipair_chunk`): uniforms of the generator stream -> events (weights are
per-trial estimators W in pb, stored as W / N so that they sum to the cross section); optional
hit-or-miss unweighting against a pilot maximum; the detector stage (:func:`detsim.simulate`)
keyed by trial index like the generator; the signal flags (:func:`analysis.selections.tracker_flags`).
The chunk is one awkward array: the generator fields, ``detector`` (hits, finder and paper
flags, per-MCP records) and ``pass`` (the signal flags). The card's ``output.hits``
(:data:`HITS_MODES`, :func:`select_hits`) keeps the hits of every event, of the events where a
finder hypothesis or a paper criterion found the pair (the other events keep their entries and
flags, with empty hit lists), or drops the hit branches. :func:`run_chi_pair` runs the chunks
through the :class:`~mcpgen.engine.Engine` into ``events.root`` and returns a
:class:`ChiPairSummary` (also written to ``summary.json``).
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np

from analysis.cutflow import CutFlow, WeightSum
from analysis.selections import tracker_flags
from detsim.simulate import build_tables, random_trigger, simulate

from .build import ChiPairCard
from .engine import Chunk, ChunkStats, Engine
from .eventfiles import EventFileSink, EventFileTee, event_file_names
from .executors import current_factory
from .output import BranchLayout, RootEventWriter, versions
from .results import Result
from .rng import Stream, Streams, block_source, uniforms

__all__ = [
    "HITS_MODES",
    "ChiPairTask",
    "ChiPairSummary",
    "LAYOUT",
    "chipair_chunk",
    "max_weight",
    "select_hits",
    "tables_for",
    "run_chi_pair",
]

#: Events the parent runs (and discards) before a local pool forks, so that workers start compiled.
WARM_UP_EVENTS = 64

#: Values of the card's ``output.hits``: hits of every event, of the found events, or none.
HITS_MODES = ("all", "found", "none")

#: Branches of the chi_pair tree: every generator and detector field under its own name (the
#: signal flags in ``pass`` repeat detector fields and are not written).
LAYOUT = BranchLayout(skip=("pass",))


@dataclass(frozen=True)
class ChiPairTask:
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
    stream: Stream | None = None  # generator stream (default: Streams.generator)
    hits: str = "all"  # the hits kept in the events: HITS_MODES


def chipair_chunk(task: ChiPairTask) -> Chunk:
    """One chunk of the chi_pair chain (module docstring)."""
    process = task.process
    u = (task.stream or Streams.generator).uniforms(task.seed, task.start, task.stop, process.n_uniforms)
    events = process.generate(u)
    w = np.asarray(events["weight"])
    n_over = 0
    keep = None
    if task.unweighted:
        u_acc = Streams.unweighting.uniforms(task.seed, task.start, task.stop, 1)[0]
        keep = np.flatnonzero(u_acc * task.w_max < w)
        n_over = int(np.count_nonzero(w > task.w_max))
        events = events[keep]
        w_out = np.maximum(w[keep], task.w_max)
    else:
        w_out = w
    events = ak.with_field(events, w_out / task.n_total, "weight")
    cutflow = CutFlow()
    if task.tracker is not None:
        source = block_source(task.seed, task.start, task.stop, keep=keep)
        detector = simulate(
            events, task.tracker, source, task.tables, epsilon=process.epsilon, mass_gev=process.mass_gev
        )
        flags = tracker_flags(detector)
        cutflow = CutFlow({name: ((name, WeightSum.of(w_out, mask)),) for name, mask in flags.items()})
        if task.hits != "all":
            detector = select_hits(detector, flags, task.hits)
        events = ak.with_field(events, detector, "detector")
        events = ak.with_field(events, ak.zip(flags), "pass")
        sample = window_cost(detector, w_out) if task.tracker.time_window_ns is not None else None
    else:
        sample = None
    total = WeightSum.of(w)  # exact sums: totals independent of the chunking
    stats = ChunkStats(task.stop - task.start, len(events), n_over, total, cutflow)
    return Chunk(events, stats, sample)


def select_hits(detector: ak.Array, flags: dict, mode: str) -> ak.Array:
    """``detector`` with the hits ``mode`` keeps (:data:`HITS_MODES`): 'all' as it is; 'found':
    the hit lists of the events where some signal flag (finder hypothesis or paper criterion,
    :func:`analysis.selections.tracker_flags`) is true, empty lists elsewhere (``n_hits`` still
    counts the detector's hits); 'none': without the ``hit`` field (no hit branches)."""
    if mode == "all":
        return detector
    if mode == "none":
        return ak.without_field(detector, "hit")
    if mode != "found":
        raise ValueError(f"hits must be one of {HITS_MODES}, got {mode!r}")
    found = np.zeros(len(detector), dtype=bool)
    for mask in flags.values():
        found |= mask
    hit = detector["hit"]
    counts = np.asarray(ak.num(hit, axis=1))
    kept = ak.flatten(hit, axis=1)[np.repeat(found, counts)]
    return ak.with_field(detector, ak.unflatten(kept, np.where(found, counts, 0)), "hit")


def window_cost(detector, weights) -> dict:
    """What the readout window removed in one chunk (``docs/physics.md`` §13): MCP hits kept and
    dropped as late, and the weight sum [per-trial estimators, pb] of events that lost a hit."""
    late = np.asarray(detector["chi_n_hits_late"]) + np.asarray(detector["chibar_n_hits_late"])
    kept = np.asarray(detector["chi_n_hits"]) + np.asarray(detector["chibar_n_hits"])
    lost = WeightSum.of(weights, late > 0)
    return {"hits_kept": int(kept.sum()), "hits_late": int(late.sum()), "lost": lost}


@dataclass
class WindowCost:
    """Run totals of :func:`window_cost` (chunks add in order)."""

    hits_kept: int = 0
    hits_late: int = 0
    lost: WeightSum = field(default_factory=WeightSum)

    def add(self, sample: dict) -> None:
        self.hits_kept += sample["hits_kept"]
        self.hits_late += sample["hits_late"]
        self.lost = self.lost + sample["lost"]

    def to_dict(self, window_ns: float, n_trials: int, sigma_pb: float) -> dict:
        hits = self.hits_kept + self.hits_late
        lost = self.lost.sigma_pb(n_trials)[0]
        return {
            "window_ns": window_ns,
            "mcp_hits_late_fraction": self.hits_late / hits if hits else 0.0,
            "events_losing_a_hit_fraction": lost / sigma_pb if sigma_pb > 0 else 0.0,
        }


def max_weight(process, seed: int, n_pilot: int) -> float:
    """Maximum per-trial weight from a pilot sample (own stream), with a 10 % margin."""
    u = Streams.pilot.uniforms(seed, 0, n_pilot, process.n_uniforms)
    return 1.1 * float(np.max(process.generate(u)["weight"]))


def tables_for(tracker, process) -> dict | None:
    """The detector's range and velocity tables for the process's (eps, m); None without a tracker."""
    return None if tracker is None else build_tables(tracker, process.epsilon, process.mass_gev)


def _signal_mode(flag: str) -> str:
    """Summary name of a signal flag: finder hypothesis X -> 'poisson_X' ('poisson' for the line
    finder), 'paper_either' -> 'paper', paper criteria keep their names."""
    if flag == "found_line":
        return "poisson"
    if flag.startswith("found_"):
        return "poisson_" + flag.removeprefix("found_")
    return "paper" if flag == "paper_either" else flag


@dataclass(frozen=True, eq=False)
class ChiPairSummary(Result):
    """Totals of a chi_pair run: cross section, expected pairs, detected pairs per signal flag."""

    card: ChiPairCard
    out_dir: Path
    seed: int
    n_trials: int
    chunk_size: int
    workers: int
    stats: ChunkStats
    w_max: float
    random_trigger: dict | None
    seconds: float
    versions: dict
    event_files: dict | None = None
    window: WindowCost | None = None

    @property
    def cross_section_pb(self) -> tuple[float, float]:
        """(sigma, MC error) [pb]."""
        return self.stats.total.sigma_pb(self.n_trials)

    def signal(self) -> dict:
        """Per signal flag: cross section of the passing events [pb] and the expected events
        L x sigma, with MC errors."""
        lumi = self.card.luminosity_pb
        out = {}
        for flag, cuts in self.stats.cutflow.chains.items():
            sigma, err = cuts[-1][1].sigma_pb(self.n_trials)
            out[flag] = {"events": sigma * lumi, "err": err * lumi, "sigma_pb": sigma}
        return out

    def to_dict(self) -> dict:
        sigma, err = self.cross_section_pb
        lumi = self.card.luminosity_pb
        unweighted = self.card.run.unweighted
        out = {
            "mcpgen_summary_version": 1,
            "card_path": self.card.source,
            "process": self.card.process.name,
            "cross_section_pb": sigma,
            "cross_section_err_pb": err,
            "luminosity_pb_inv": lumi,
            "expected_events": sigma * lumi,
            "expected_events_err": err * lumi,
            "n_events": self.stats.n_written,
            "n_trials": self.n_trials,
            "unweighted": unweighted,
            "max_weight_pb": self.w_max if unweighted else None,
            "n_overweight": self.stats.n_overweight if unweighted else None,
            "seed": self.seed,
            "chunk_size": self.chunk_size,
            "workers": self.workers,
            "hits": self.card.output.hits,
            "physics": self.card.process.describe(),
        }
        signal = self.signal()
        if signal:
            found = [f for f in signal if f.startswith("found_")]
            order = found + ["paper_either"] + [f for f in signal if f not in found and f != "paper_either"]
            out["signal_events_expected"] = {
                _signal_mode(f): {"events": signal[f]["events"], "err": signal[f]["err"]} for f in order
            }
            out["efficiencies"] = {f: (s["sigma_pb"] / sigma if sigma > 0 else 0.0) for f, s in signal.items()}
        if self.random_trigger is not None:
            out["random_trigger"] = self.random_trigger
        if self.card.tracker is not None and self.card.tracker.time_window_ns is not None and self.window is not None:
            out["readout_window"] = self.window.to_dict(self.card.tracker.time_window_ns, self.n_trials, sigma)
        if self.event_files:
            out["event_files"] = self.event_files
        rate = self.n_trials / self.seconds if self.seconds else None
        out["timing"] = {"seconds": self.seconds, "events_per_second": rate}
        out["card"] = self.card.data
        out["versions"] = self.versions
        return out

    def format(self) -> str:
        d = self.to_dict()
        lines = []
        if "signal_events_expected" in d:
            found = d["signal_events_expected"]
            lines.append(
                "detected pairs expected: "
                + ", ".join(f"{k} {v['events']:.4g} +- {v['err']:.2g}" for k, v in found.items())
            )
        if "random_trigger" in d:
            rt = d["random_trigger"]
            lines.append(
                f"random trigger: {rt['fake_line']} fakes in {rt['n_events']} noise-only events "
                f"(analytic {rt['fake_rate_line_analytic_per_1e6']:.3g} per 1e6)"
            )
        if self.event_files:
            lines.append(_format_event_files(self.event_files))
        out = self.out_dir
        lines.append(
            f"{d['process']}: sigma = {d['cross_section_pb']:.6g} +- {d['cross_section_err_pb']:.2g} pb; "
            f"expected pairs at {self.card.luminosity_pb / 1e3:g} fb^-1: {d['expected_events']:.4g}; "
            f"{d['n_events']} events -> {out}/events.root, {out}/summary.json "
            f"({d['timing']['events_per_second']:.3g} events/s)"
        )
        return "\n".join(lines)


def _signal_histogram(summary: ChiPairSummary):
    """The signal flags as a labelled TH1D: expected pairs L sigma generated and passing each flag
    (each flag on its own, not cumulative), with MC errors."""
    cutflow_histogram = importlib.import_module("mcpgen.histograms").cutflow_histogram  # hist loads here

    d = summary.to_dict()
    rows = [{"cut": "generated", "events": d["expected_events"], "err": d["expected_events_err"]}]
    rows += [{"cut": flag, "events": v["events"], "err": v["err"]} for flag, v in summary.signal().items()]
    title = f"{summary.card.name}: expected pairs per signal flag, L = {summary.card.luminosity_pb / 1e3:g} fb^{{-1}}"
    return cutflow_histogram(rows, title=title, quantity="events", error="err")


def _format_event_files(info: dict) -> str:
    """One line on the event files of a run: files, weighting, overweight fraction."""
    text = f"event files ({info['weighting']}, {info['n_events']} events): {', '.join(info['files'])}"
    if info.get("overweight_fraction") is not None:
        text += f"; overweight events {info['n_overweight']} ({100 * info['overweight_fraction']:.3g} %)"
    return text


def event_file_sink(card, process, stem: str, out_dir: Path, seed: int, w_max: float | None, **streams):
    """The :class:`~mcpgen.eventfiles.EventFileSink` of ``card``'s ``output.formats`` for one tree
    (None without formats). ``w_max``: pilot maximum per entry [pb] for unweighting (None: weights
    as in events.root, 'weighted' on the card or a run that is unweighted already)."""
    formats = card.output.formats
    if not formats:
        return None
    beams = process.beams

    def metadata():
        return {"card": card.to_yaml(), "seed": seed, "versions": versions(), "physics": process.describe()}

    return EventFileSink(
        event_file_names(out_dir, stem, formats),
        process.name,
        process,
        seed=seed,
        w_max=w_max if card.output.event_weights == "unweighted" else None,
        already_unweighted=card.run.unweighted,
        chi_pdg=card.output.chi_pdg,
        metadata=metadata,
        beam_energies_gev=(float(beams.electron_energy_gev), float(beams.positron_energy_gev)),
        **streams,
    )


def _random_trigger(card: ChiPairCard, seed: int) -> dict | None:
    if card.tracker is None or card.random_trigger_events == 0:
        return None

    def source(stage, rows, start, stop):
        return uniforms(seed, stage, start, stop, rows)

    return random_trigger(card.tracker, card.random_trigger_events, source)


class _Background:
    """``fn()`` in a daemon thread (an interrupted run does not wait for it); :meth:`result`
    starts it if it has not started, waits, and returns its value or raises its exception."""

    def __init__(self, fn: Callable):
        self._fn, self._value, self._error = fn, None, None
        self._thread = threading.Thread(target=self._run, name="mcpgen-background", daemon=True)

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to result()
            self._error = exc

    def start(self) -> None:
        if self._thread.ident is None:
            self._thread.start()

    def result(self):
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _start_after_first(tasks: Iterable, background: _Background) -> Iterator:
    """``tasks``, starting ``background`` when the second task is asked for: the first submission
    has then started the local pool's workers (forked at once), so no fork happens while the
    thread runs."""
    for i, task in enumerate(tasks):
        yield task
        if i == 0:
            background.start()


def run_chi_pair(
    card: ChiPairCard,
    n_events: int,
    out_dir: str | Path,
    seed=None,
    workers: int = 1,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> ChiPairSummary:
    """Generate ``n_events`` trials of ``card`` into ``out_dir``/events.root and summary.json."""
    out_dir = Path(out_dir)
    chunk = int(chunk_size or card.run.chunk_size)
    engine = Engine(
        card.run.seed if seed is None else seed,
        workers=workers,
        chunk_size=chunk,
        progress=progress,
        total=n_events,
        desc=card.name,
    )
    seed = engine.seed
    process, tracker = card.process, card.tracker
    unweighted = card.run.unweighted
    w_max = max_weight(process, seed, card.run.pilot_events) if unweighted else 0.0
    tables = tables_for(tracker, process)
    started = time.perf_counter()

    def task(start, stop):
        return ChiPairTask(
            process, seed, start, stop, n_events, unweighted, w_max, tracker, tables, hits=card.output.hits
        )

    if workers > 1 and current_factory() is None and n_events > 0:
        # a few events in this process before the local pool forks: the workers inherit the
        # compiled kernels (loaded from numba's cache, or compiled once) instead of each loading them
        chipair_chunk(task(0, min(n_events, WARM_UP_EVENTS)))

    writer = RootEventWriter(out_dir / "events.root", "events", card.output.compression)
    sink = None
    if card.output.formats and not unweighted and card.output.event_weights == "unweighted":
        # event files unweighted against the pilot maximum (per entry: W_max / N)
        file_w_max = max_weight(process, seed, card.run.pilot_events) / n_events
    else:
        file_w_max = None
    with engine, writer:
        sink = event_file_sink(card, process, "events", out_dir, seed, file_w_max)
        tee = writer if sink is None else EventFileTee(writer, {"events": sink})
        try:
            window = WindowCost()
            # the noise-only events of the finder's fake rate run beside the chunks (own streams)
            trigger = _Background(lambda: _random_trigger(card, seed))
            tasks = _start_after_first(engine.tasks(n_events, task), trigger)
            stats = engine.produce(chipair_chunk, tasks, layout=LAYOUT, writer=tee, on_sample=window.add)
        except BaseException:
            if sink is not None:
                sink.abort()
            raise
        elapsed = time.perf_counter() - started
        rt = trigger.result()
        files = None if sink is None else sink.finish(*stats.total.sigma_pb(n_events))
        summary = ChiPairSummary(
            card, out_dir, seed, n_events, chunk, workers, stats, w_max, rt, elapsed, versions(), files, window
        )
        document = json.dumps(summary.to_dict(), default=float)
        writer.metadata = {"mcpgen_summary": document, "mcpgen_card": card.to_yaml()}
        if summary.signal():
            writer.metadata["cutflow_signal"] = _signal_histogram(summary)
        writer.pair_json(out_dir / "summary.json", summary.to_dict())  # renamed before events.root
    return summary
