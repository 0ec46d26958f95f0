"""The monophoton chain: chi chibar gamma, nu nubar gamma and beam-escape backgrounds through a
toy calorimeter (L).

A monophoton card names an ``experiment`` (calorimeter and selection preset), energy points
(each with its luminosity) and several processes; every (point, process) is a dataset, one tree
of ``events.root``. One chunk (:func:`monophoton_chunk`): the dataset's generator stream ->
events; the tagged photon (:data:`FINAL_STATES`) through :meth:`detsim.ecl.Calorimeter.detect`
(calorimeter stream); the other visible candidates through the calorimeter's veto; the
experiment's selection chains (:class:`analysis.selections.MonophotonSelection`), applied
cumulatively. The chunk is one awkward array: generator fields, ``detector`` (measured photon in
the lab and the CM, ``detected``, ``region``, ``veto``) and ``pass`` (one record per chain of
cumulative cut flags). After the loop: cumulative cut flows per dataset, L's optimised energy
window per point (:func:`analysis.selections.optimise_energy_window`), the bBG survivor fraction
and the bBG-plane plot of the beam-escape datasets.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np

from analysis.bbg import e_max_asymmetric, e_max_symmetric, lab_to_cm_theta
from analysis.cutflow import CutFlow, WeightSum, cumulative
from analysis.selections import MonophotonSelection, bbg_minimum_energy, optimise_energy_window
from detsim import ecl
from generator.final_state import PROCESSES
from generator.monophoton import sigma_nunu_pb

from . import plots
from .build import Dataset, MonophotonCard
from .chipair_run import event_file_sink
from .engine import Chunk, ChunkStats, Engine
from .eventfiles import EventFileTee
from .histograms import cutflow_histogram
from .output import BranchLayout, RootEventWriter, versions
from .results import Result
from .rng import Streams

__all__ = [
    "FINAL_STATES",
    "MonophotonTask",
    "MonophotonSummary",
    "DatasetResult",
    "layout",
    "monophoton_chunk",
    "missing_mass_hist",
    "M2_EDGES_GEV2",
    "run_monophoton",
]

#: Per process: the field of the tagged photon, and the other particles that can veto the event
#: as (field, charged); chi, chibar and the neutrinos never do.
FINAL_STATES = {
    "chi_pair_gamma": ("gamma", ()),
    "nunu_gamma": ("gamma", ()),
    "ggg": ("gamma1", (("gamma2", False), ("gamma3", False))),
    "eeg": ("gamma", (("positron", True), ("electron", True))),
    # the partner of gamma gamma never vetoes outright: its loss probability is a weight (_loss_weight)
    "gg": ("gamma1", ()),
}

#: Events of the beam-escape datasets kept for the bBG-plane plot.
PLOT_SAMPLE = 200_000

#: Bins of the recoil mass squared m^2_chichi = s - 2 sqrt(s) E_gamma^CM [GeV^2] (BaBar spectra:
#: High-E reaches m^2 < 0 through the resolution, Low-E ends near 62 GeV^2 at Upsilon(3S)).
M2_EDGES_GEV2 = np.linspace(-10.0, 70.0, 81)


def missing_mass_hist(flags: dict, e_cm, sqrt_s, weight) -> dict:
    """Per chain, the weighted histogram (expected events per trial, ``weight`` already divided
    by the trials) of m^2 = s - 2 sqrt(s) E_gamma^CM (massless photon recoiling against the
    invisible system, CM frame) of the events passing the chain; bins :data:`M2_EDGES_GEV2`."""
    m2 = sqrt_s * sqrt_s - 2.0 * sqrt_s * e_cm
    return {
        chain: np.histogram(m2[cuts[-1][1]], M2_EDGES_GEV2, weights=weight[cuts[-1][1]])[0]
        for chain, cuts in flags.items()
    }


def layout(process_name: str) -> BranchLayout:
    """Branches of a monophoton tree: beams, weight, the true tagged photon (lab; CM energy and
    cos theta), the measured photon, detection, veto, and ``pass_<chain>_<cut>`` flags."""
    tag = FINAL_STATES[process_name][0]
    return BranchLayout(
        columns=(
            ("sqrt_s", "sqrt_s"),
            ("beta_z", "beta_z"),
            ("beta_x", "beta_x"),
            ("weight", "weight"),
            ("gamma_E_lab", f"{tag}.E"),
            ("gamma_theta_lab", f"{tag}.theta"),
            ("gamma_phi_lab", f"{tag}.phi"),
            ("gamma_E_cm_true", "e_gamma_cm"),
            ("gamma_cos_theta_cm_true", "cos_theta_gamma_cm"),
            ("e_lab", "detector.photon.E"),
            ("phi_lab", "detector.photon.phi"),
            ("e_cm", "detector.photon_cm.E"),
            ("theta_cm", "detector.photon_cm.theta"),
            ("phi_cm", "detector.photon_cm.phi"),
            ("theta_lab", "detector.photon.theta"),
            ("detected", "detector.detected"),
            ("veto", "detector.veto"),
            *_four_momentum_columns(process_name),
        ),
        expand=("pass",),
    )


def _four_momentum_columns(process_name: str) -> tuple[tuple[str, str], ...]:
    """``<particle>_px/_py/_pz/_E`` (lab, GeV) of every outgoing particle of the process (the νν̄
    system as ``missing_``): what the event files and ``mcpgen convert`` need."""
    return tuple((f"{r}_{c}", f"{r}.{c}") for r in PROCESSES[process_name] for c in ("px", "py", "pz", "E"))


@dataclass(frozen=True)
class MonophotonTask:
    """Events ``start`` .. ``stop - 1`` of ``dataset`` (a run of ``n_total`` trials per dataset)."""

    calorimeter: ecl.Calorimeter
    selection: MonophotonSelection
    dataset: Dataset
    seed: int
    start: int
    stop: int
    n_total: int


def _veto(events, process_name: str, calorimeter: ecl.Calorimeter) -> np.ndarray:
    others = FINAL_STATES[process_name][1]
    if not others:
        return np.zeros(len(events), dtype=bool)
    particles = ak.concatenate([events[name][:, np.newaxis] for name, _ in others], axis=1)
    charged = ak.Array(np.broadcast_to(np.array([c for _, c in others]), (len(events), len(others))))
    return calorimeter.event_veto_p4(particles, charged)


def _gap_veto_weight(events, process_name: str, calorimeter: ecl.Calorimeter) -> np.ndarray:
    """Per event, the probability that no other particle is seen behind a calorimeter gap
    (:meth:`detsim.ecl.Calorimeter.gap_veto_weight`; ones without a gap veto)."""
    others = FINAL_STATES[process_name][1]
    if not others or calorimeter.gap_veto_efficiency <= 0.0:
        return np.ones(len(events))
    particles = ak.concatenate([events[name][:, np.newaxis] for name, _ in others], axis=1)
    charged = ak.Array(np.broadcast_to(np.array([c for _, c in others]), (len(events), len(others))))
    return calorimeter.gap_veto_weight(particles.theta, particles.E, charged)


def _loss_weight(events, process_name: str, process, calorimeter: ecl.Calorimeter) -> np.ndarray:
    """Per event, the probability that the partner photon of e+e- -> gamma gamma is not seen: 1
    outside the veto acceptance (or below the veto threshold), ``photon_loss`` of the process
    inside it (cracks and inefficiency of the calorimeter and the backup behind it, a declared
    number: docs/physics.md §8, "BaBar backgrounds"), and the gap-veto miss probability where it
    goes through a calorimeter gap. Ones for every other process (their vetoes are flags)."""
    if process_name != "gg":
        return np.ones(len(events))
    partner = events["gamma2"]
    theta, energy = np.asarray(partner.theta), np.asarray(partner.E)
    seen = np.asarray(calorimeter.visible(theta, energy), dtype=bool)
    loss = float(getattr(getattr(process, "inner", process), "photon_loss", 0.0))
    weight = np.where(seen, loss, 1.0)
    if calorimeter.gap_veto_efficiency > 0.0:
        weight = weight * np.asarray(calorimeter.gap_veto_weight(theta[:, np.newaxis], energy[:, np.newaxis]))
    return weight


def monophoton_chunk(task: MonophotonTask) -> Chunk:
    """One chunk of the monophoton chain (module docstring). A gap veto (Belle II KLM behind the
    barrel-endcap gaps) enters the weights after generation: cut flows and the events' weights are
    expected events seen by the detector, the generated total stays the generator's."""
    ds = task.dataset
    generator_stream, calorimeter_stream = ds.streams
    events = ds.process.generate(generator_stream.uniforms(task.seed, task.start, task.stop, ds.process.n_uniforms))
    w_generated = np.asarray(events["weight"])
    cal = task.calorimeter
    w = w_generated * _gap_veto_weight(events, ds.process_name, cal)
    w = w * _loss_weight(events, ds.process_name, ds.process, cal)
    u = calorimeter_stream.uniforms(task.seed, task.start, task.stop, ecl.N_UNIFORMS)
    beta_z = np.asarray(events["beta_z"])
    beta_x = np.asarray(events["beta_x"]) if "beta_x" in events.fields else 0.0
    measured = cal.detect(events[FINAL_STATES[ds.process_name][0]], u, beta_x=beta_x, beta_z=beta_z)
    veto = _veto(events, ds.process_name, cal)
    detector = ak.zip({**{name: measured[name] for name in measured.fields}, "veto": veto}, depth_limit=1)
    sqrt_s = np.asarray(events["sqrt_s"])
    chains = task.selection.chains(
        detector.photon_cm, detector.photon, np.asarray(detector.detected) & ~veto, sqrt_s, beta_z
    )
    flags = {chain: cumulative(cuts) for chain, cuts in chains.items()}
    passes = ak.zip({chain: ak.zip(dict(cuts), depth_limit=1) for chain, cuts in flags.items()}, depth_limit=1)
    cutflow = CutFlow({chain: tuple((n, WeightSum.of(w, m)) for n, m in cuts) for chain, cuts in flags.items()})
    weight = w / task.n_total
    events = ak.with_field(events, weight, "weight")
    events = ak.with_field(events, detector, "detector")
    events = ak.with_field(events, passes, "pass")
    n = task.stop - task.start
    stats = ChunkStats(n, n, 0, WeightSum.of(w_generated), cutflow)  # exact sums: chunking-independent totals
    e_cm = np.asarray(detector.photon_cm.E)
    sample = None
    if ds.process_name in ("chi_pair_gamma", "nunu_gamma") and "bbg" in flags:
        keep = flags["bbg"][-1][1]
        sample = {"e_cm": e_cm[keep], "weight": weight[keep], "sqrt_s": sqrt_s[keep]}
    elif ds.process_name in ("ggg", "eeg", "gg"):
        keep = np.asarray(detector.detected) & ~veto
        theta_cm = np.asarray(detector.photon_cm.theta)
        sample = {"e_cm": e_cm[keep], "theta_cm": theta_cm[keep], "sqrt_s": sqrt_s[keep]}
        sample |= {"beta_z": beta_z[keep], "weight": weight[keep]}
    if "bbg" in flags:  # measured CM energies through the bBG chain: the scans' optimised window
        keep = flags["bbg"][-1][1]
        sample = (sample or {}) | {"bbg_pass": {"e_cm": e_cm[keep], "weight": weight[keep]}}
    if task.selection.experiment == "babar":  # recoil-mass spectra of the two data sets (L Fig. 6)
        sample = (sample or {}) | {"m2_hist": missing_mass_hist(flags, e_cm, sqrt_s, weight)}
    return Chunk(events, stats, sample)


@dataclass(frozen=True, eq=False)
class DatasetResult:
    """Totals of one dataset: cross section inside the generation cuts, cut flows, extras."""

    dataset: Dataset
    n_trials: int
    stats: ChunkStats
    extra: dict = field(default_factory=dict)

    def cutflow(self) -> dict:
        rows = self.stats.cutflow.rows(self.stats.total, self.n_trials, self.dataset.luminosity_pb)
        return {chain: [r.to_dict() for r in chain_rows] for chain, chain_rows in rows.items()}

    def to_dict(self) -> dict:
        ds = self.dataset
        sigma, err = self.stats.total.sigma_pb(self.n_trials)
        return {
            "dataset": ds.label,
            "point": ds.point,
            "process": ds.process_name,
            "cross_section_pb": sigma,
            "cross_section_err_pb": err,
            "luminosity_pb_inv": ds.luminosity_pb,
            "cutflow": self.cutflow(),
            **self.extra,
        }

    def format_cutflow(self) -> str:
        """Plain-text cut-flow table (also stored in the ROOT file)."""
        d = self.to_dict()
        lines = [f"{d['dataset']}  (L = {d['luminosity_pb_inv'] / 1e3:g} fb^-1)"]
        for chain, rows in d["cutflow"].items():
            lines.append(f"  chain {chain}:")
            lines.append(f"    {'cut':<14}{'sigma [fb]':>14}{'+-':>11}{'events':>14}{'MC':>10}")
            for r in rows:
                numbers = f"{r['sigma_fb']:>14.6g}{r['sigma_err_fb']:>11.2g}{r['events']:>14.6g}{r['mc_count']:>10d}"
                lines.append(f"    {r['cut']:<14}{numbers}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class MonophotonSummary(Result):
    """Totals of a monophoton run: one :class:`DatasetResult` per dataset, optimised windows."""

    card: MonophotonCard
    out_dir: Path
    seed: int
    n_trials: int
    datasets: tuple[DatasetResult, ...]
    optimised_cut: dict
    seconds: float
    versions: dict
    m2_spectra: dict = field(default_factory=dict)  # chain -> process -> expected events per M2_EDGES_GEV2 bin

    def to_dict(self) -> dict:
        n_total = self.n_trials * len(self.datasets)
        return {
            "mcpgen_summary_version": 1,
            "card_path": self.card.source,
            "experiment": self.card.experiment,
            "optimised_cut": self.optimised_cut,
            "n_events_per_dataset": self.n_trials,
            "seed": self.seed,
            "datasets": [d.to_dict() for d in self.datasets],
            "physics": self.card.describe(),
            "timing": {"seconds": self.seconds, "events_per_second": n_total / self.seconds},
            "card": self.card.data,
            "versions": self.versions,
            **(
                {"m2_chichi": {"edges_gev2": M2_EDGES_GEV2.tolist(), "events": _lists(self.m2_spectra)}}
                if self.m2_spectra
                else {}
            ),
        }

    def format(self) -> str:
        lines = []
        for ds in self.to_dict()["datasets"]:
            flows = "; ".join(
                f"{chain}: {rows[-1]['events']:.4g} events ({rows[-1]['sigma_fb']:.4g} fb)"
                for chain, rows in ds["cutflow"].items()
            )
            lines.append(f"{ds['dataset']}: sigma(gen) = {ds['cross_section_pb'] * 1e3:.5g} fb; after cuts {flows}")
        lines.append(f"{len(self.datasets)} datasets -> {self.out_dir}/events.root, {self.out_dir}/summary.json")
        return "\n".join(lines)


def _lists(spectra: dict) -> dict:
    """{chain: {process: list}} of the m^2 histograms, for JSON."""
    return {c: {p: np.asarray(h, dtype=float).tolist() for p, h in procs.items()} for c, procs in spectra.items()}


def _survivor_fraction(table: dict) -> dict:
    """Weighted fraction of detected (veto-passing) beam-escape events that survive the bBG cut."""
    rows = table.get("bbg")
    if rows is None:
        return {}
    det = next(r for r in rows if r["cut"] == "detected")
    last = rows[-1]
    return {
        "fraction": last["sigma_fb"] / det["sigma_fb"] if det["sigma_fb"] > 0 else 0.0,
        "survivors_sigma_fb": last["sigma_fb"],
        "survivors_sigma_err_fb": last["sigma_err_fb"],
        "detected_sigma_fb": det["sigma_fb"],
    }


def _bbg_figure(card: MonophotonCard, ds: Dataset, sample: list[dict]):
    """The bBG plane of a beam-escape dataset with the cut line of the experiment (L eq. 1 or 2)."""
    cat = {k: np.concatenate([p[k] for p in sample]) for k in sample[0]}
    theta = np.linspace(1e-3, np.pi - 1e-3, 400)
    rs = float(np.median(cat["sqrt_s"]))
    bz = float(np.median(cat["beta_z"]))
    if abs(bz) < 1e-9:
        e_line = e_max_symmetric(theta, rs, np.arccos(card.cos_theta_b))
        what = f"L eq. 1, cos θ_b = {card.cos_theta_b}"
    else:
        cal = card.calorimeter
        e_line = e_max_asymmetric(theta, rs, lab_to_cm_theta(cal.theta_min, bz), lab_to_cm_theta(cal.theta_max, bz))
        what = "L eq. 2 (ECL lab edges → CM)"
    title = f"{ds.label}: detected beam-escape events (weighted)"
    return plots.bbg_plane(cat["theta_cm"], cat["e_cm"], cat["weight"], theta, e_line, what, title, rs / 2 * 1.05)


def _optimised_cuts(card: MonophotonCard, samples: dict) -> dict:
    """L's "optimized cut" per point: E_min < E_gamma <= E_max on top of the bBG cut, scanned with
    Delta E >= sigma_E to maximise S/sqrt(S+B) (chi_pair_gamma vs nunu_gamma)."""
    out = {}
    mass = card.mass_gev
    for ds in card.datasets:
        if ds.process_name != "chi_pair_gamma":
            continue
        sig, bkg = samples.get((ds.point, "chi_pair_gamma")), samples.get((ds.point, "nunu_gamma"))
        if not sig or not bkg:
            continue
        e_s, w_s, rs = (np.concatenate([p[k] for p in sig]) for k in ("e_cm", "weight", "sqrt_s"))
        e_b, w_b = (np.concatenate([p[k] for p in bkg]) for k in ("e_cm", "weight"))
        if len(e_s) == 0 or len(e_b) == 0:
            continue
        sqrt_s = float(np.median(rs))
        e_max = (sqrt_s**2 - 4 * mass**2) / (2 * sqrt_s)
        lo, hi = card.acceptance_edges_cm(ds.process.beams)
        floor = float(bbg_minimum_energy(sqrt_s, lo, hi))
        sigma_e = float(card.calorimeter.sigma_e(max(e_max, 1e-3)))
        try:
            best = optimise_energy_window(
                e_s,
                w_s,
                e_b,
                w_b,
                e_max=e_max,
                sigma_e=sigma_e,
                e_floor=floor,
                luminosity_pb=ds.luminosity_pb,
                n_trials_signal=1,
                n_trials_background=1,
            )
        except ValueError:  # no window: E_max below the bBG floor
            continue
        out[ds.point] = {
            "e_min_gev": best.e_min,
            "e_max_gev": best.e_max,
            "signal_events": best.s,
            "background_events": best.b,
            "s_over_sqrt_s_plus_b": best.fom,
            "sigma_e_gev": sigma_e,
            "bbg_floor_gev": floor,
        }
    return out


def _cutflow_histograms(result: DatasetResult) -> dict:
    """One labelled TH1D per selection chain of a dataset: sigma [fb] after each cut (cumulative)
    with its MC error, named ``cutflow_<dataset>_<chain>``."""
    label = result.dataset.label
    return {
        f"cutflow_{label}_{chain}": cutflow_histogram(rows, title=f"{label}: cut flow of chain {chain}, #sigma [fb]")
        for chain, rows in result.cutflow().items()
    }


def _dataset_event_files(card: MonophotonCard, ds: Dataset, n_events: int, out_dir: Path, seed: int):
    """Event-file sink of dataset ``ds`` (``events_<label>.lhe`` ...; None without
    ``output.formats``); unweighted against the maximum of a pilot sample of its own stream."""
    if not card.output.formats:
        return None
    final_state_stream, unweighting_stream, pilot = Streams.event_files(*ds.index)
    w_max = None
    if card.output.event_weights == "unweighted":
        u = pilot.uniforms(seed, 0, card.run.pilot_events, ds.process.n_uniforms)
        w_max = 1.1 * float(np.max(ds.process.generate(u)["weight"])) / n_events
    streams = {"final_state_stream": final_state_stream, "unweighting_stream": unweighting_stream}
    return event_file_sink(card, ds.process, f"events_{ds.label}", out_dir, seed, w_max, **streams)


def _add_m2(spectra: dict, ds: Dataset, hists: dict, chain_points: dict) -> None:
    """Accumulate a chunk's m^2 histograms [expected events per bin] into
    ``spectra[chain][process]``, only on the points each chain uses (``analysis.chain_points``)."""
    for chain, h in hists.items():
        if chain in chain_points and ds.point not in chain_points[chain]:
            continue
        per = spectra.setdefault(chain, {})
        per[ds.process_name] = per.get(ds.process_name, 0.0) + h * ds.luminosity_pb


def run_dataset(engine: Engine, card: MonophotonCard, ds: Dataset, n_events: int, **produce) -> ChunkStats:
    """Run the chunks of one dataset on ``engine`` (``produce``: writer, tree, on_sample ...)."""

    def task(start, stop):
        return MonophotonTask(card.calorimeter, card.selection, ds, engine.seed, start, stop, n_events)

    return engine.produce(monophoton_chunk, engine.tasks(n_events, task), layout=layout(ds.process_name), **produce)


def run_monophoton(
    card: MonophotonCard,
    n_events: int,
    out_dir: str | Path,
    seed=None,
    workers: int = 1,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> MonophotonSummary:
    """Generate every (point, process) dataset of ``card``: events.root, summary.json, bBG plots."""
    out_dir = Path(out_dir)
    engine = Engine(
        card.run.seed if seed is None else seed,
        workers=workers,
        chunk_size=int(chunk_size or card.run.chunk_size),
        progress=progress,
        total=n_events * len(card.datasets),
        desc=card.name,
    )
    started = time.perf_counter()
    results = []
    optimisation: dict = {}
    m2_spectra: dict = {}
    writer = RootEventWriter(out_dir / "events.root", None, card.output.compression)
    with engine, writer:
        for ds in card.datasets:
            kept: list[dict] = []

            def on_sample(sample, ds=ds, kept=kept):
                if "m2_hist" in sample or "bbg_pass" in sample:
                    sample = dict(sample)
                    sample.pop("bbg_pass", None)
                    if "m2_hist" in sample:
                        _add_m2(m2_spectra, ds, sample.pop("m2_hist"), card.chain_points)
                    if not sample:
                        return
                if ds.process_name in ("chi_pair_gamma", "nunu_gamma"):
                    optimisation.setdefault((ds.point, ds.process_name), []).append(sample)
                elif sum(len(p["weight"]) for p in kept) < PLOT_SAMPLE:
                    kept.append(sample)

            sink = _dataset_event_files(card, ds, n_events, out_dir, engine.seed)
            tee = writer if sink is None else EventFileTee(writer, {ds.label: sink})
            try:
                stats = run_dataset(engine, card, ds, n_events, writer=tee, tree=ds.label, on_sample=on_sample)
            except BaseException:
                if sink is not None:
                    sink.abort()
                raise
            extra: dict = {}
            if ds.process_name == "nunu_gamma":
                s_nominal = ds.process.beams.sqrt_s0_gev**2
                extra["sigma_nunu_total_fb"] = 1e3 * float(sigma_nunu_pb(s_nominal, ds.process.inner.z_propagator))
            if sink is not None:
                extra["event_files"] = sink.finish(*stats.total.sigma_pb(n_events))
            result = DatasetResult(ds, n_events, stats)
            if ds.process_name in ("ggg", "eeg"):
                extra["bbg_survivor_fraction"] = _survivor_fraction(result.cutflow())
                extra["plot"] = ""
                if sum(len(p["weight"]) for p in kept) > 0:  # no plot without detected events
                    figure = _bbg_figure(card, ds, kept)
                    extra["plot"] = plots.save(figure, out_dir / "plots" / f"bbg_{ds.label}", ("png",), dpi=110)["png"]
            results.append(DatasetResult(ds, n_events, stats, extra))
        elapsed = time.perf_counter() - started
        if m2_spectra:
            figure = plots.missing_mass_spectra(M2_EDGES_GEV2, m2_spectra, card.name)
            plots.save(figure, out_dir / "plots" / "m2_chichi", ("png",), dpi=110)
        optimised = _optimised_cuts(card, optimisation)
        results = tuple(results)
        summary = MonophotonSummary(
            card, out_dir, engine.seed, n_events, results, optimised, elapsed, versions(), m2_spectra
        )
        document = json.dumps(summary.to_dict(), default=float)
        writer.metadata = {"mcpgen_summary": document, "mcpgen_card": card.to_yaml()}
        for result in results:
            writer.metadata[f"cutflow_{result.dataset.label}"] = result.format_cutflow()
            writer.metadata.update(_cutflow_histograms(result))
        writer.pair_json(out_dir / "summary.json", summary.to_dict())  # renamed before events.root
    return summary
