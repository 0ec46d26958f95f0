"""``mcpgen scan``: the (m, eps) sensitivity of a card, generating each mass once (eps reweighting).

The samples are generated here (one per mass and collider point, each on its own random stream,
:meth:`mcpgen.rng.Streams.scan`); the reweighting, reach and limits are the pure functions of
:mod:`analysis.scan`. :func:`run_scan` writes ``scan.json``, ``scan.root`` (TH2D grids, TH1D
limits) and the reach plot, and returns a :class:`TrackerScanResult` or
:class:`MonophotonScanResult`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from analysis.limits import (
    AUTO_EXACT_MAX_BACKGROUND,
    cls_workspace,
    delta_chi2_for,
    workspace_cls,
    zero_background_events,
)
from analysis.scan import (
    DERIVED_CHAINS,
    EPS_REF,
    METHODS,
    Reweighter,
    ScanGrid,
    TrackerEvents,
    bin_edges,
    derived_chain_yields,
    eps_reach,
    eps_reach_exact,
    expected_events,
    monophoton_limits,
    optimised_window,
    paper_thresholds,
    window_edges,
    zero_background_thresholds,
)
from analysis.selections import bbg_minimum_energy

from . import plots
from .build import ChiPairCard, Dataset, MonophotonCard, ScanPoint
from .dask_executor import executor_scope
from .engine import Engine
from .errors import UsageError
from .executors import make_executor
from .monophoton_run import run_dataset
from .output import jsonable, versions, write_histograms, write_json_atomic
from .pipeline import generate_events
from .results import Result
from .rng import Stream, Streams, resolve_seed

__all__ = [
    "MODES",
    "TrackerScan",
    "TrackerScanResult",
    "MonophotonScanResult",
    "tracker_point_events",
    "tracker_scan",
    "monophoton_scan",
    "run_scan",
    "scan_cl",
    "write_workspaces",
    "BACKGROUND_PROCESSES",
    "background_datasets",
    "background_by_process",
]

#: Detection modes of the tracker scan: G §4 ionization and delta-electron criteria, Poisson hits.
MODES = ("paper_ionization", "paper_delta", "poisson")
#: Modes whose N = 3 crossing is also read off exactly, without the eps grid.
EXACT_MODES = ("paper_ionization", "paper_delta")


def _progress(items, desc, total=None):
    """A progress bar on stderr over completed mass points (silent when stderr is not a terminal)."""
    return tqdm(items, desc=desc, total=total, unit="mass", file=sys.stderr, disable=None, leave=False)


# --- tracker channel --------------------------------------------------------------------------


def tracker_point_events(process, n_events: int, seed: int, stream: Stream | None = None) -> TrackerEvents:
    """Generate the kinematics of ``process`` (any eps) once, with weights at eps = EPS_REF;
    ``stream``: the generator stream (default: the run's)."""
    proc = replace(process, epsilon=EPS_REF)
    return TrackerEvents.from_events(generate_events(proc, n_events, seed=seed, stream=stream), process.mass_gev)


@dataclass(frozen=True)
class _TrackerPoint:
    """One mass of one collider point: a task of the scan (a pure function of seed, k and i)."""

    process: object
    tracker: object
    epsilons: np.ndarray
    luminosity_pb: float
    n_events: int
    seed: int
    k: int
    i: int


def _tracker_point(task: _TrackerPoint) -> dict:
    """Expected events per mode on the eps grid for one mass (a few numbers per eps: a compact
    result, whatever the number of events)."""
    events = tracker_point_events(task.process, task.n_events, task.seed, Streams.scan(task.k, task.i)[0])
    reweighter = Reweighter(events, task.tracker)
    row = expected_events(reweighter, task.epsilons, task.luminosity_pb)
    row.update(_exact_reach_row(reweighter, task.luminosity_pb))
    return row


def _exact_reach_row(reweighter: Reweighter, luminosity_pb: float) -> dict:
    """``exact_<mode>``: the eps with N = 3 of each G §4 criterion, read off without the eps grid
    (:func:`analysis.scan.eps_reach_exact`)."""
    thresholds = paper_thresholds(reweighter)
    w = reweighter.weights(EPS_REF)
    return {f"exact_{mode}": eps_reach_exact(k, w, luminosity_pb) for mode, k in thresholds.items()}


@dataclass(frozen=True)
class TrackerScan:
    """Expected events ``expected[mode][k]`` (a mass x eps grid) at collider points ``points``."""

    points: tuple[ScanPoint, ...]
    expected: dict
    seconds: float = 0.0
    reach_exact: dict = field(default_factory=dict)  # mode -> per point: eps with N = 3 per mass


def tracker_scan(
    card: ChiPairCard, grid: ScanGrid | None = None, points=None, n_events: int = 20_000, seed=None
) -> TrackerScan:
    """Scan masses x eps for a chi_pair card with a tracker; ``points`` (ScanPoint) default to one
    point at the card's beams with ``grid``. ``seed``: None takes the card's.

    Every (point, mass) is one task on the executor of :func:`mcpgen.executors.make_executor`
    (serial, ``run.workers`` local processes, or the dask cluster of an enclosing
    :func:`~mcpgen.dask_executor.executor_scope`); the rows come back in order."""
    started = time.perf_counter()
    seed = resolve_seed(card.run.seed if seed is None else seed)
    if points is None:
        points = (ScanPoint(card.beams, card.luminosity_pb, grid),)
    grids = [{m: np.zeros((len(p.grid.masses_gev), len(p.grid.epsilons))) for m in MODES} for p in points]
    exact = [{m: np.full(len(p.grid.masses_gev), np.nan) for m in EXACT_MODES} for p in points]
    tasks = []
    for k, point in enumerate(points):
        beams, g = point.beams, point.grid
        for i, mass in enumerate(g.masses_gev):
            if 2 * mass >= beams.reach_gev():
                continue
            proc = replace(card.process, beams=beams, mass_gev=float(mass), epsilon=EPS_REF)
            tasks.append(_TrackerPoint(proc, card.tracker, g.epsilons, point.luminosity_pb, n_events, seed, k, i))
    with make_executor(card.run.workers) as executor:
        rows = executor.map(_tracker_point, tasks)
        for task, row in zip(tasks, _progress(rows, "scan", len(tasks)), strict=True):
            for m in MODES:
                grids[task.k][m][task.i] = row[m]
            for m in EXACT_MODES:
                exact[task.k][m][task.i] = row[f"exact_{m}"]
    expected = {m: [g[m] for g in grids] for m in MODES}
    reach = {m: [e[m] for e in exact] for m in EXACT_MODES}
    return TrackerScan(tuple(points), expected, time.perf_counter() - started, reach)


def _provenance(card, seed: int) -> dict:
    return {"seed": seed, "card_resolved": card.data, "versions": versions()}


@dataclass(frozen=True, eq=False)
class TrackerScanResult(Result):
    """Tracker-channel scan: expected-event grids, eps reach per mode and per limit method."""

    card: ChiPairCard
    seed: int
    scan: TrackerScan
    events_per_mass: int
    files: dict = field(default_factory=dict)

    def reach(self, n_required: float = 3.0) -> dict:
        """Smallest eps with N >= n_required, per mode and point."""
        pts = self.scan.points
        return {
            mode: [
                eps_reach(p.grid.masses_gev, p.grid.epsilons, g, n_required) for p, g in zip(pts, grids, strict=True)
            ]
            for mode, grids in self.scan.expected.items()
        }

    def payload(self) -> dict:
        """The scan.json document."""
        thresholds = zero_background_thresholds()
        by_method = {}
        for mode, grids in self.scan.expected.items():
            pairs = list(zip(self.scan.points, grids, strict=True))
            by_method[mode] = {
                name: [eps_reach(p.grid.masses_gev, p.grid.epsilons, g, req) for p, g in pairs]
                for name, req in thresholds.items()
            }
        return {
            "card": self.card.source,
            "channel": "tracker",
            **_provenance(self.card, self.seed),
            "points": [
                {
                    "sqrt_s_gev": p.beams.sqrt_s0_gev,
                    "luminosity_pb_inv": p.luminosity_pb,
                    "masses_gev": p.grid.masses_gev,
                    "epsilons": p.grid.epsilons,
                }
                for p in self.scan.points
            ],
            "expected_events": self.scan.expected,
            "eps_reach_3_events": self.reach(),
            "eps_reach_exact_3_events": self.scan.reach_exact,
            "eps_reach_by_method": by_method,
            "signal_required": thresholds,
            "events_per_mass": self.events_per_mass,
            "seconds": self.scan.seconds,
        }

    def histograms(self) -> dict:
        h2 = {}
        for mode, grids in self.scan.expected.items():
            for k, (p, grid) in enumerate(zip(self.scan.points, grids, strict=True)):
                h2[f"expected_{mode}_{k}"] = (grid, bin_edges(p.grid.masses_gev), bin_edges(p.grid.epsilons, log=True))
        return h2

    def figure(self):
        pts = [(p.beams.sqrt_s0_gev, p.grid.masses_gev, p.grid.epsilons) for p in self.scan.points]
        cl = scan_cl(self.card)
        return plots.tracker_reach(pts, self.scan.expected, _name(self.card), cl, zero_background_events(cl))

    def to_dict(self) -> dict:
        return {**self.payload(), "files": self.files}

    def format(self) -> str:
        lines = []
        for mode, reach in self.reach().items():
            best = [np.nanmin(r) if np.any(np.isfinite(r)) else float("nan") for r in reach]
            lines.append(f"{mode}: smallest eps with N >= 3: " + ", ".join(f"{b:.3g}" for b in best))
        lines.append(f"scan written to {self.files}")
        return "\n".join(lines)


# --- monophoton channel -----------------------------------------------------------------------


def _yields(engine: Engine, card: MonophotonCard, ds: Dataset, n: int) -> dict[str, float]:
    """Expected events after each selection chain of dataset ``ds`` from ``n`` trials."""
    stats = run_dataset(engine, card, ds, n)
    return {chain: stats.cutflow.final(chain).sum_w / n * ds.luminosity_pb for chain in stats.cutflow.chains}


@dataclass(frozen=True)
class _YieldTask:
    """The yields of one dataset (a background point, or the signal of one mass at one point): a
    task of the scan, run through its own in-process engine (same chunks as a serial run)."""

    card: MonophotonCard
    dataset: Dataset
    n_events: int
    seed: int


def _dataset_yields(task: _YieldTask) -> dict[str, float]:
    """Expected events per selection chain of the task's dataset (a compact result)."""
    with Engine(task.seed, chunk_size=task.card.run.chunk_size) as engine:
        return _yields(engine, task.card, task.dataset, task.n_events)


def _dataset_yields_windows(task: _YieldTask) -> tuple[dict[str, float], np.ndarray | None]:
    """Expected events per selection chain and per derived chain (``preselection``,
    :func:`analysis.scan.derived_chain_yields`) of the task's dataset, and the expected events per
    bin of :func:`analysis.scan.window_edges` of the measured CM photon energy after the ``bbg``
    chain (None without one): what the optimised window needs (a compact result)."""
    ds, n = task.dataset, task.n_events
    edges = window_edges(ds.process.beams.sqrt_s0_gev)
    hist = np.zeros(len(edges) - 1)
    seen = []

    def on_sample(sample):
        if "bbg_pass" in sample:
            seen.append(True)
            p = sample["bbg_pass"]
            hist[:] += np.histogram(p["e_cm"], edges, weights=p["weight"])[0] * ds.luminosity_pb

    with Engine(task.seed, chunk_size=task.card.run.chunk_size) as engine:
        stats = run_dataset(engine, task.card, ds, n, on_sample=on_sample)
    yields = {chain: stats.cutflow.final(chain).sum_w / n * ds.luminosity_pb for chain in stats.cutflow.chains}
    yields |= derived_chain_yields(stats.cutflow, ds.luminosity_pb, n)
    return yields, (hist if seen or "bbg" in stats.cutflow.chains else None)


@dataclass(frozen=True, eq=False)
class MonophotonScanResult(Result):
    """Monophoton scan: expected 95 % CL eps limits per mass, chain and method."""

    card: MonophotonCard
    seed: int
    masses_gev: np.ndarray
    epsilons: np.ndarray
    background: dict  # chain -> point -> events
    signal_ref: dict  # chain -> expected signal at EPS_REF per mass
    limits: dict
    best: dict
    seconds: float
    files: dict = field(default_factory=dict)
    signal_points: dict = field(default_factory=dict)  # chain -> per mass: {point: signal at EPS_REF}
    background_processes: dict = field(default_factory=dict)  # chain -> process -> point -> events
    optimised: dict = field(default_factory=dict)  # per mass: {point: L's optimised window, S, B}

    @property
    def chains(self) -> list[str]:
        return list(self.background)

    def all_limits(self) -> dict:
        """``limits`` with the derived chain ``optimised`` added where the card has a ``bbg`` chain."""
        if not self.optimised:
            return self.limits
        return {m: {**per, "optimised": self.optimised["limits"][m]} for m, per in self.limits.items()}

    def payload(self) -> dict:
        return {
            "card": self.card.source,
            "channel": "monophoton",
            **_provenance(self.card, self.seed),
            "masses_gev": self.masses_gev,
            "chains": self.chains,
            "background_events": {c: sum(v.values()) for c, v in self.background.items()},
            "background_events_per_point": self.background,
            "background_events_by_process": self.background_processes,
            "signal_events_at_eps1": self.signal_ref,
            "limits": self.all_limits(),
            "best": self.best,
            "best_over_chains": [c for c in self.chains if c not in DERIVED_CHAINS],
            **({"optimised_windows": self.optimised["windows"]} if self.optimised else {}),
            "seconds": self.seconds,
            "epsilons": self.epsilons,
        }

    def histograms(self) -> tuple[dict, dict]:
        log = self.card.scan.log_mass if self.card.scan is not None else False
        edges = bin_edges(self.masses_gev, log=log)
        every = self.all_limits()
        h1 = {f"eps_limit_{m}_{c}": (every[m][c], edges) for m in every for c in every[m]}
        h1.update({f"eps_limit_{m}_best": (self.best[m], edges) for m in self.best})
        h1.update(self._background_histograms())
        eps_edges = bin_edges(self.epsilons, log=True)
        h2 = {
            f"signal_events_{c}": (np.outer(self.signal_ref[c], self.epsilons**2), edges, eps_edges)
            for c in self.chains
        }
        return h2, h1

    def figure(self):
        return plots.monophoton_reach(
            self.masses_gev, self.best, self.limits, self.chains, _name(self.card), scan_cl(self.card)
        )

    def to_dict(self) -> dict:
        return {**self.payload(), "files": self.files}

    def _background_histograms(self) -> dict:
        """TH1D ``background_<chain>_<process>``: expected events per energy point (bin k = the
        chain's k-th point, in the order of ``background_events_per_point``)."""
        out = {}
        for chain, procs in self.background_processes.items():
            points = list(self.background[chain])
            edges = np.arange(len(points) + 1, dtype=float)
            for name, per_point in procs.items():
                out[f"background_{chain}_{name}"] = (np.array([per_point.get(p, 0.0) for p in points]), edges)
        return out

    def background_table(self) -> str:
        """Terminal table: expected background events per chain, process and energy point."""
        lines = [f"{'chain':<14}{'process':<14}{'point':<14}{'events':>12}"]
        for chain, procs in self.background_processes.items():
            for name, per_point in procs.items():
                for point, b in per_point.items():
                    lines.append(f"{chain:<14}{name:<14}{point:<14}{b:>12.4g}")
            lines.append(f"{chain:<14}{'total':<14}{'':<14}{sum(self.background[chain].values()):>12.4g}")
        return "\n".join(lines)

    def format(self) -> str:
        lines = [self.background_table()] if self.background_processes else []
        for method, best in self.best.items():
            i = int(np.nanargmin(best)) if np.any(np.isfinite(best)) else 0
            lines.append(f"{method}: best eps {best[i]:.3g} at m = {self.masses_gev[i]:.4g} GeV")
        for method, opt in (self.optimised or {}).get("limits", {}).items():
            if np.any(np.isfinite(opt)):
                i = int(np.nanargmin(opt))
                lines.append(f"{method}, optimised window: eps {opt[i]:.3g} at m = {self.masses_gev[i]:.4g} GeV")
        lines.append(f"scan written to {self.files}")
        return "\n".join(lines)


#: The background processes a monophoton card can model (every dataset except the signal).
BACKGROUND_PROCESSES = ("nunu_gamma", "ggg", "eeg", "gg")


def background_datasets(card: MonophotonCard) -> list[Dataset]:
    """Every background dataset of the card (nu nubar gamma and the beam-escape processes), in
    card order; the limits use them all."""
    return [d for d in card.datasets if d.process_name in BACKGROUND_PROCESSES]


def background_by_process(card: MonophotonCard, datasets, yields, uses) -> dict:
    """Expected background events ``[chain][process][point]`` after each chain's last cut.

    ``yields``: per dataset of ``datasets``, {chain: events}; ``uses(chain, point)``: whether the
    chain uses the point in its limit (``analysis.chain_points``). The gap background of a chain
    with ``analysis.gbg_events`` (the Belle II physics-book numbers, L) is, with
    ``analysis.gbg: rescaled``, the book's number on the chain's first point in place of the
    generated ggg and eeg yields (the book's simulation counts the same reducible events: beam
    escape and gaps); with ``computed`` the generated ggg and eeg yields stand (ggg then also has
    its photons lost through the barrel-endcap gaps, gamma gamma included, behind a KLM veto:
    docs/physics.md §8). Chains without a book number always use the generated yields.
    """
    out: dict = {}
    for ds, y in zip(datasets, yields, strict=True):
        for chain, b in y.items():
            if uses(chain, ds.point):
                out.setdefault(chain, {}).setdefault(ds.process_name, {})[ds.point] = float(b)
    if card.gbg == "rescaled":
        for chain, extra in card.gbg_events.items():
            if chain not in out:
                continue
            procs = out[chain]
            first = next(iter(next(iter(procs.values()))))
            for name in ("ggg", "eeg"):
                procs.pop(name, None)
            points = next(iter(procs.values())) if procs else {first: 0.0}
            procs["gbg_rescaled"] = {p: (float(extra) if p == first else 0.0) for p in points}
    return {c: out[c] for c in sorted(out)}


def _sum_processes(procs: dict) -> dict:
    """{point: events} summed over the processes of one chain."""
    total: dict = {}
    for per_point in procs.values():
        for point, b in per_point.items():
            total[point] = total.get(point, 0.0) + b
    return total


def monophoton_scan(
    card: MonophotonCard,
    masses_gev,
    n_signal: int = 20_000,
    n_background: int = 200_000,
    seed=None,
    methods=METHODS,
    epsilons=None,
) -> MonophotonScanResult:
    """Expected 95 % CL limits on eps per mass for a monophoton card (background-only Asimov for
    CLs). The background is the sum of every background dataset of the card (nu nubar gamma,
    ggg, eeg: their first ``n_background`` events each; :func:`background_by_process` for the gap
    background, ``analysis.gbg``); the signal's energy points are the nu nubar gamma points; signal and background are
    combined over energy points per selection chain; ``best`` is the smallest chain limit."""
    started = time.perf_counter()
    masses_gev = np.asarray(masses_gev, dtype=float)
    points = [d for d in card.datasets if d.process_name == "nunu_gamma"]
    if not points:
        raise UsageError(f"card {card.source}: the scan needs a nunu_gamma process for the background")

    def uses(chain, point):
        return chain not in card.chain_points or point in card.chain_points[chain]

    seed = resolve_seed(card.run.seed if seed is None else seed)
    # every background point and every (mass, point) signal is one task, the rows come back in order
    backgrounds = background_datasets(card)
    tasks = [_YieldTask(card, ds, n_background, seed) for ds in backgrounds]
    signal_index = []
    for i, mass in enumerate(masses_gev):
        for k, ds in enumerate(points):
            try:
                process = card.signal(ds.process.beams, float(mass), EPS_REF)
            except ValueError:  # no phase space at this point
                continue
            sds = Dataset(ds.point, ds.point, "chi_pair_gamma", process, ds.luminosity_pb, Streams.scan(k, i))
            tasks.append(_YieldTask(card, sds, n_signal, seed))
            signal_index.append((i, ds.point))
    with make_executor(card.run.workers) as executor:
        results = list(_progress(executor.map(_dataset_yields_windows, tasks), "scan", len(tasks)))
    yields = [y for y, _ in results]
    hists = [h for _, h in results]
    by_process = background_by_process(card, backgrounds, yields[: len(backgrounds)], uses)
    background = {c: _sum_processes(procs) for c, procs in by_process.items()}
    rows = [{c: {} for c in background} for _ in masses_gev]
    for (i, point), y in zip(signal_index, yields[len(backgrounds) :], strict=True):
        for c in background:
            if point in background[c]:
                # f_NG: non-geometric signal efficiency (BaBar, L); backgrounds are L's as given
                rows[i][c][point] = y.get(c, 0.0) * float(card.f_ng.get(c, 1.0))
    signal = {c: [row[c] for row in rows] for c in background}
    base_chains = [c for c in background if c not in DERIVED_CHAINS]
    limits, best = monophoton_limits(signal, background, methods, cl=scan_cl(card), best_over=base_chains)
    optimised = _optimised_chain(card, masses_gev, backgrounds, hists, signal_index, methods)
    # expected signal at EPS_REF per chain and mass, summed over the chain's points
    signal_ref = {c: np.array([sum(b[p] for p in background[c] if p in b) for b in rows]) for c, rows in signal.items()}
    eps = epsilons if epsilons is not None else np.array([])
    return MonophotonScanResult(
        card,
        seed,
        masses_gev,
        np.asarray(eps),
        background,
        signal_ref,
        limits,
        best,
        time.perf_counter() - started,
        signal_points=signal,
        background_processes=by_process,
        optimised=optimised,
    )


def _optimised_chain(card: MonophotonCard, masses_gev, backgrounds, hists, signal_index, methods) -> dict:
    """The derived chain ``optimised`` (:data:`analysis.scan.DERIVED_CHAINS`): per mass and energy
    point L's window E_min < E < E_max on top of the ``bbg`` chain (:func:`analysis.scan.optimised_window`,
    E_max = (s - 4 m^2)/(2 sqrt s), E_min from the bBG curve's minimum, Delta E >= sigma_E at E_max),
    over every background dataset of the card (no gap background: L's optimised curves omit it).
    Returns ``windows`` (per mass: the window, signal at EPS_REF and background by process per
    point) and ``limits`` (per method, over masses); {} for cards without a ``bbg`` chain."""
    bkg_hists = hists[: len(backgrounds)]
    if not any(h is not None for h in bkg_hists):
        return {}
    per_point: dict = {}
    for ds, h in zip(backgrounds, bkg_hists, strict=True):
        if h is not None:
            per_point.setdefault(ds.point, {})[ds.process_name] = h
    beams = {ds.point: ds.process.beams for ds in backgrounds}
    windows: list[dict] = [{} for _ in masses_gev]
    for (i, point), h in zip(signal_index, hists[len(backgrounds) :], strict=True):
        if h is None or point not in per_point:
            continue
        b_procs = per_point[point]
        rs = beams[point].sqrt_s0_gev
        m = float(masses_gev[i])
        e_max = (rs * rs - 4.0 * m * m) / (2.0 * rs)
        lo, hi = card.acceptance_edges_cm(beams[point])
        floor = float(bbg_minimum_energy(rs, lo, hi))
        sigma_e = float(card.calorimeter.sigma_e(max(e_max, 1e-3)))
        edges = window_edges(rs)
        best = optimised_window(edges, h, sum(b_procs.values()), e_max, sigma_e, floor, delta_chi2_for(scan_cl(card)))
        if best is None:
            continue
        bins = best.pop("bins")
        best["sigma_e_gev"] = sigma_e
        best["bbg_floor_gev"] = floor
        best["background_by_process"] = {name: float(b[bins].sum()) for name, b in b_procs.items()}
        windows[i][point] = best
    limits = {method: np.full(len(masses_gev), np.nan) for method in methods}
    for i, w in enumerate(windows):
        if not w:
            continue
        sig = {"optimised": [{p: v["signal"] for p, v in w.items()}]}
        bkg = {"optimised": {p: v["background"] for p, v in w.items()}}
        lim, _ = monophoton_limits(sig, bkg, methods, cl=scan_cl(card))
        for method in methods:
            limits[method][i] = lim[method]["optimised"][0]
    return {"windows": windows, "limits": limits}


# --- the command ------------------------------------------------------------------------------


def _name(card) -> str:
    return card.data.get("name") or "scan"


def run_scan(card, out_dir, n_events: int | None = None, seed=None) -> TrackerScanResult | MonophotonScanResult:
    """Scan the card's ``scan`` grid; write scan.json, scan.root and <name>.png/pdf to ``out_dir``.
    ``n_events``: events per mass (default: ``scan.events_per_mass``); ``seed``: None takes the
    card's ``run.seed``. The mass and energy points run where the card's ``run.executor`` says
    (:func:`mcpgen.dask_executor.executor_scope`); the files are written here, by the client."""
    if card.scan is None:
        raise UsageError(f"card {card.source} has no 'scan' section (mass and epsilon grids)")
    with executor_scope(card.run.executor, card.run.scheduler, card.run.workers):
        result = _compute_scan(card, n_events, seed)
    if isinstance(card, MonophotonCard):
        h2, h1 = result.histograms()
    else:
        h2, h1 = result.histograms(), {}
    out = Path(out_dir)
    workspaces = write_workspaces(result, out)
    payload = jsonable({**result.payload(), **_cl_record(result), **workspaces})
    write_json_atomic(out / "scan.json", payload)
    write_histograms(out / "scan.root", h2, h1, {"mcpgen_scan": json.dumps(payload)})
    files = {"json": str(out / "scan.json"), "root": str(out / "scan.root")}
    if workspaces:
        files["workspaces"] = workspaces["workspaces"]["index"]
    files |= plots.save(result.figure(), out / _name(card))
    return replace(result, files=files)


def _compute_scan(card, n_events: int | None, seed) -> TrackerScanResult | MonophotonScanResult:
    spec = card.scan
    n = int(n_events or spec.events_per_mass)
    seed = resolve_seed(card.run.seed if seed is None else seed)
    if isinstance(card, MonophotonCard):
        grid = spec.grid
        return monophoton_scan(card, grid.masses_gev, n, spec.background_events, seed, METHODS, epsilons=grid.epsilons)
    if card.tracker is None:
        raise UsageError(f"card {card.source}: a chi_pair scan needs detector.tracker")
    return TrackerScanResult(card, seed, tracker_scan(card, points=spec.points, n_events=n, seed=seed), n)


# --- confidence level and pyhf workspaces -------------------------------------------------------


def scan_cl(card) -> float:
    """Confidence level of the card's limits (``scan.cl``: 0.95 unless 90 is asked for)."""
    return card.scan.cl if card.scan is not None else 0.95


def _cl_record(result) -> dict:
    """What scan.json records of the confidence level: ``cl`` (fraction) and, for the tracker
    channel at 90 %, the zero-background reach at that level (-ln 0.1 = 2.30 events)."""
    cl = scan_cl(result.card)
    out = {"cl": cl}
    if isinstance(result, TrackerScanResult):
        n_required = zero_background_events(cl)
        out["signal_required_at_cl"] = n_required
        out["eps_reach_at_cl"] = result.reach(n_required)
    return out


def write_workspaces(result, out_dir: Path) -> dict:
    """The HistFactory workspace (pyhf JSON) behind every CLs limit of a monophoton scan, written
    to ``out_dir/workspaces/<chain>_m<mass MeV>.json`` with ``index.json`` (per workspace: chain,
    mass, eps limit, confidence level, the CLs pyhf gives at the limit and the calculator that set
    it). The signal sample is the expected signal per energy point at the eps limit (signal
    strength mu = 1 is the limit), the background the scan's; data are background-only Asimov
    (expected limits). Limits set with the exact Poisson calculator (total background below
    ``analysis.limits.AUTO_EXACT_MAX_BACKGROUND``) are marked: an asymptotic refit of those
    differs. Returns ``{"workspaces": {...}}`` for scan.json, or {} (tracker scans have
    zero-background limits without a likelihood; ``scan.workspaces: none``)."""
    card = result.card
    if not isinstance(result, MonophotonScanResult) or card.scan is None or card.scan.workspaces == "none":
        return {}
    cls_limits = result.limits.get("cls")
    if not cls_limits or not result.signal_points:
        return {}
    cl = scan_cl(card)
    folder = Path(out_dir) / "workspaces"
    entries = []
    for chain, rows in result.signal_points.items():
        for i, points in enumerate(rows):
            eps = float(cls_limits[chain][i])
            if not np.isfinite(eps):
                continue
            labels = [p for p in result.background[chain] if p in points]
            s = np.array([points[p] for p in labels]) * (eps / EPS_REF) ** 2
            b = np.array([result.background[chain][p] for p in labels])
            workspace = cls_workspace(s, b, cl=cl, bin_names=labels, channel=chain)
            mass = float(result.masses_gev[i])
            name = f"{chain}_m{1e3 * mass:.6g}MeV.json"
            write_json_atomic(folder / name, workspace)
            calculator = "exact" if float(b.sum()) < AUTO_EXACT_MAX_BACKGROUND else "asymptotics"
            entries.append(
                {
                    "file": name,
                    "chain": chain,
                    "mass_gev": mass,
                    "eps_limit": eps,
                    "cl": cl,
                    "cls_target": 1.0 - cl,
                    "cls_at_limit": workspace_cls(workspace),
                    "calculator": calculator,
                    "bins": labels,
                    "signal_events": s.tolist(),
                    "background_events": b.tolist(),
                }
            )
    index = {
        "what": "pyhf workspaces (HistFactory JSON, schema 1.0.0) behind the CLs limits; refit: pyhf cls FILE",
        "cl": cl,
        "test_statistic": "qtilde",
        "seed": result.seed,
        "card": card.source,
        "workspaces": entries,
    }
    write_json_atomic(folder / "index.json", index)
    return {"workspaces": {"index": str(folder / "index.json"), "n": len(entries), "cl": cl}}
