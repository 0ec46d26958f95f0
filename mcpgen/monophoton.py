"""Monophoton runs (issue: χχ̄γ, νν̄γ and beam-escape backgrounds through a toy ECL).

A monophoton card names an ``experiment`` (ECL and selection preset), energy ``beams.points``
(each with its luminosity) and several ``processes``; the run generates every process at every
point, passes the tagged photon through the calorimeter (:mod:`detsim.ecl`), vetoes events with
another visible particle, applies the experiment's selections (:mod:`analysis.selections`,
L eqs. 1-2) and writes one tree per dataset plus cumulative cut flows.

Selections per experiment (all on the measured photon; CM unless said):

* ``bes3`` / ``stcf``: detected -> BESIII pre-selection -> bBG cut (L eq. 1, cos theta_b).
* ``belle2``: detected -> bBG cut (L eq. 2 with the ECL's outer lab edges), and detected ->
  low-mass / high-mass regions in (E_gamma^CM, theta_gamma^lab) (card-calibrated polygons).
* ``babar``: detected -> High-E window, detected -> Low-E window.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np
from tqdm import tqdm

from analysis import selections as sel
from analysis.bbg import e_max_asymmetric, e_max_symmetric, lab_to_cm_theta
from detsim import ecl as ecl_mod
from generator.bbg_processes import EEGamma, ThreePhoton
from generator.beams import Beams
from generator.monophoton import ChiChiGamma, NuNuGamma, sigma_nunu_pb

from .executors import make_executor
from .output import RootEventWriter, write_json_atomic
from .rng import Stage, resolve_seed, uniforms
from .units import parse_quantity

__all__ = ["MonophotonSetup", "build_monophoton", "run_monophoton", "BeamProcess"]

_PHOTON_FIELD = {"chi_pair_gamma": "gamma", "nunu_gamma": "gamma", "ggg": "gamma1", "eeg": "gamma"}
_OTHERS = {"ggg": (("gamma2", False), ("gamma3", False)), "eeg": (("positron", True), ("electron", True))}


@dataclass(frozen=True)
class BeamProcess:
    """A fixed-sqrt(s) process fed by a beam model: 2 uniforms for the beams, then the process's."""

    beams: Beams
    inner: object
    name: str

    @property
    def n_uniforms(self) -> int:
        return 2 + self.inner.n_uniforms

    def generate(self, u):
        sqrt_s, beta_z, w = self.beams.sample(u[:2], 0.0)
        events = self.inner.generate(u[2:], sqrt_s, beta_z)
        events = ak.with_field(events, beta_z, "beta_z")
        return ak.with_field(events, np.asarray(events["weight"]) * w, "weight")


@dataclass
class Dataset:
    label: str
    point: str
    process_name: str
    process: BeamProcess
    luminosity_pb: float
    index: tuple


@dataclass
class MonophotonSetup:
    experiment: str
    calorimeter: object
    datasets: list
    cos_theta_b: float
    regions: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {
            "experiment": self.experiment,
            "calorimeter": self.calorimeter.source,
            "datasets": [d.label for d in self.datasets],
            "cos_theta_b": self.cos_theta_b,
        }


def _q(text, dimension, path):
    try:
        return parse_quantity(text, dimension)
    except ValueError as exc:
        raise ValueError(f"field '{path}' = {text!r}: {exc}") from None


def _point_beams(point: dict, spread: dict, path: str) -> Beams:
    if "sqrt_s" in point:
        e1 = e2 = _q(point["sqrt_s"], "energy", f"{path}.sqrt_s") / 2
    elif "electron_energy" in point and "positron_energy" in point:
        e1 = _q(point["electron_energy"], "energy", f"{path}.electron_energy")
        e2 = _q(point["positron_energy"], "energy", f"{path}.positron_energy")
    else:
        raise ValueError(f"field '{path}' needs sqrt_s or electron_energy and positron_energy")
    model = spread["model"]
    if model == "gaussian_sqrt_s":
        return Beams(e1, e2, model, sigma_sqrt_s_gev=_q(spread["sigma_sqrt_s"], "energy", "beams.spread.sigma_sqrt_s"))
    if model == "gaussian_per_beam":
        return Beams(
            e1, e2, model, sigma_electron_gev=spread["relative"] * e1, sigma_positron_gev=spread["relative"] * e2
        )
    return Beams(e1, e2, "none")


def _process(name: str, spec: dict, data: dict, beams: Beams, calorimeter, cos_theta_b: float):
    gen = data.get("generation", {})
    e_min = _q(gen.get("e_gamma_min", "25 MeV"), "energy", "generation.e_gamma_min")
    cos_max = float(gen.get("cos_theta_max", cos_theta_b))
    if name == "chi_pair_gamma":
        mcp = data["mcp"]
        mass = _q(mcp["mass"], "energy", "mcp.mass")
        return ChiChiGamma(
            mass, float(mcp["epsilon"]), mcp.get("spin", "dirac"), e_gamma_min_gev=e_min, cos_theta_max=cos_max
        )
    if name == "nunu_gamma":
        return NuNuGamma(
            e_gamma_min_gev=e_min, cos_theta_max=cos_max, z_propagator=bool(spec.get("z_propagator", False))
        )
    # beam-escape processes: tagged photon inside the acceptance, the rest along the beams
    lo, hi = _acceptance_edges_cm(calorimeter, beams, cos_theta_b)
    e_escape = _q(spec["e_escape_min"], "energy", "processes.e_escape_min") if "e_escape_min" in spec else None
    cls = ThreePhoton if name == "ggg" else EEGamma
    kwargs = {"e_escape_min_gev": e_escape} if (cls is ThreePhoton and e_escape is not None) else {}
    return cls(e_min, lo, hi, (lo, hi), **kwargs)


def _acceptance_edges_cm(calorimeter, beams: Beams, cos_theta_b: float):
    """CM polar edges of the veto acceptance: symmetric machines theta_b; otherwise the ECL's
    outer lab edges boosted to the CM (L eq. 2)."""
    if abs(beams.beta_z0) < 1e-12:
        tb = float(np.arccos(cos_theta_b))
        return tb, np.pi - tb
    t1, t2 = calorimeter.theta_min, calorimeter.theta_max
    return float(lab_to_cm_theta(t1, beams.beta_z0)), float(lab_to_cm_theta(t2, beams.beta_z0))


def build_monophoton(data: dict, source: str) -> MonophotonSetup:
    """Build datasets (point x process) and the calorimeter from a validated card dict."""
    experiment = data["experiment"]
    det = data.get("detector", {}).get("ecl", {})
    preset = det.get("preset", experiment)
    overrides = {"efficiency": float(det["efficiency"])} if "efficiency" in det else {}
    calorimeter = ecl_mod.PRESETS[preset](**overrides)
    cos_theta_b = float(data.get("analysis", {}).get("cos_theta_b", 0.95))
    datasets = []
    spread = data["beams"]["spread"]
    labels = [p["label"] for p in data["beams"]["points"]]
    if len(set(labels)) != len(labels):
        raise ValueError(f"field 'beams.points' has repeated labels {labels}; labels must be unique")
    for i, point in enumerate(data["beams"]["points"]):
        path = f"beams.points.{i}"
        beams = _point_beams(point, spread, path)
        lumi = _q(point["luminosity"], "luminosity", f"{path}.luminosity")
        for j, spec in enumerate(data["processes"]):
            name = spec["name"]
            try:
                inner = _process(name, spec, data, beams, calorimeter, cos_theta_b)
            except ValueError as exc:
                raise ValueError(f"process '{name}' at point '{point['label']}': {exc}") from None
            datasets.append(
                Dataset(f"{point['label']}_{name}", point["label"], name, BeamProcess(beams, inner, name), lumi, (i, j))
            )
    regions = {}
    if experiment == "belle2":
        shifts = data.get("analysis", {}).get("belle2_regions", {})
        path = "analysis.belle2_regions"
        polygons = {}
        for name, default in (
            ("low_mass", sel.belle2_low_mass_polygon()),
            ("high_mass", sel.belle2_high_mass_polygon()),
        ):
            poly = default
            if f"{name}_polygon" in shifts:
                try:
                    poly = sel.Polygon.from_degrees(shifts[f"{name}_polygon"], name=name)
                except ValueError as exc:
                    raise ValueError(f"field '{path}.{name}_polygon': {exc}") from None
            shift = _q(shifts.get(f"{name}_shift", "0 GeV"), "energy", f"{path}.{name}_shift")
            polygons[name] = poly.shift_energy(shift) if shift else poly
        low, high = polygons["low_mass"], polygons["high_mass"]
        regions = {"low_mass": low, "high_mass": high}
    return MonophotonSetup(experiment, calorimeter, datasets, cos_theta_b, regions)


# --- per-chunk stage --------------------------------------------------------------------------


def _photon_lab(events, field_name):
    g = events[field_name]
    e = np.asarray(g.E)
    theta = np.asarray(g.theta)
    phi = np.asarray(g.phi)
    return e, theta, phi


def _veto(events, name, calorimeter):
    if name not in _OTHERS:
        return np.zeros(len(events), dtype=bool)
    thetas, energies, charged = [], [], []
    for field_name, is_charged in _OTHERS[name]:
        p = events[field_name]
        thetas.append(np.asarray(p.theta))
        energies.append(np.asarray(p.E))
        charged.append(np.full(len(events), is_charged))
    stack = lambda xs: ak.Array(np.stack(xs, axis=1))  # noqa: E731
    return calorimeter.event_veto(stack(thetas), stack(energies), stack(charged))


def selection_masks(setup: MonophotonSetup, det, veto, sqrt_s, beta_z) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Named cut chains (each an ordered list of masks) for the experiment."""
    detected = np.asarray(det["detected"]) & ~veto
    e_cm = np.asarray(det["e_cm"])
    th_cm = np.asarray(det["theta_cm"])
    cos_cm = np.asarray(det["cos_theta_cm"])
    exp = setup.experiment
    if exp in ("bes3", "stcf"):
        return {
            "bbg": [
                ("detected", detected),
                ("preselection", sel.besiii_preselection(e_cm, cos_cm)),
                ("bbg_cut", sel.bbg_symmetric(e_cm, th_cm, sqrt_s, setup.cos_theta_b)),
            ]
        }
    if exp == "belle2":
        cal = setup.calorimeter
        th_lab = np.asarray(det["theta_lab"])
        return {
            "bbg": [
                ("detected", detected),
                ("bbg_cut", sel.bbg_asymmetric(e_cm, th_cm, sqrt_s, cal.theta_min, cal.theta_max, beta_z)),
            ],
            "low_mass": [("detected", detected), ("low_mass", setup.regions["low_mass"].contains(e_cm, th_lab))],
            "high_mass": [("detected", detected), ("high_mass", setup.regions["high_mass"].contains(e_cm, th_lab))],
        }
    phi_cm = np.asarray(det["phi_cm"])
    return {
        "high_e": [("detected", detected), ("high_e", sel.babar_high_e(e_cm, cos_cm, phi_cm))],
        "low_e": [("detected", detected), ("low_e", sel.babar_low_e(e_cm, cos_cm))],
    }


@dataclass(frozen=True)
class _Task:
    setup: MonophotonSetup
    dataset: Dataset
    seed: int
    start: int
    stop: int
    n_total: int


def _chunk(task: _Task):
    ds = task.dataset
    proc = ds.process
    i, j = ds.index
    u = uniforms(task.seed, (Stage.GENERATOR, 100 + i, j), task.start, task.stop, proc.n_uniforms)
    events = proc.generate(u)
    w = np.asarray(events["weight"])
    e, theta, phi = _photon_lab(events, _PHOTON_FIELD[ds.process_name])
    cal = task.setup.calorimeter
    u_ecl = uniforms(task.seed, (Stage.DETSIM, 100 + i, j), task.start, task.stop, ecl_mod.N_UNIFORMS)
    beta_z = np.asarray(events["beta_z"])
    det = cal.detect(e, theta, phi, u_ecl, beta_z)
    veto = _veto(events, ds.process_name, cal)
    sqrt_s = np.asarray(events["sqrt_s"])
    chains = selection_masks(task.setup, det, veto, sqrt_s, beta_z)
    sums = {}
    flags = {}
    for chain, cuts in chains.items():
        current = np.ones(len(w), dtype=bool)
        rows = []
        for name, mask in cuts:
            current = current & np.asarray(mask, dtype=bool)
            wp = w[current]
            rows.append((name, float(wp.sum()), float(wp @ wp), int(current.sum())))
            flags[f"pass_{chain}_{name}"] = current.copy()
        sums[chain] = rows
    branches = {
        "sqrt_s": sqrt_s,
        "beta_z": beta_z,
        "weight": w / task.n_total,
        "gamma_E_lab": e,
        "gamma_theta_lab": theta,
        "gamma_phi_lab": phi,
        "gamma_E_cm_true": np.asarray(events["e_gamma_cm"]),
        "gamma_cos_theta_cm_true": np.asarray(events["cos_theta_gamma_cm"]),
        "e_lab": np.asarray(det["e_lab"]),
        "phi_lab": np.asarray(det["phi_lab"]),
        "e_cm": np.asarray(det["e_cm"]),
        "theta_cm": np.asarray(det["theta_cm"]),
        "phi_cm": np.asarray(det["phi_cm"]),
        "theta_lab": np.asarray(det["theta_lab"]),
        "detected": np.asarray(det["detected"]),
        "veto": veto,
        **flags,
    }
    return branches, sums, float(w.sum()), float(w @ w), task.stop - task.start


def _merge(total, sums):
    for chain, rows in sums.items():
        acc = total.setdefault(chain, [[name, 0.0, 0.0, 0] for name, *_ in rows])
        for slot, (_, a, b, c) in zip(acc, rows, strict=True):
            slot[1] += a
            slot[2] += b
            slot[3] += c


def _cutflow_table(sum_w, sum_w2, n, chains, lumi_pb):
    def row(name, a, b, count):
        mean = a / n
        err = float(np.sqrt(max(b / n - mean**2, 0.0) / n))
        return {
            "cut": name,
            "sigma_fb": 1e3 * mean,
            "sigma_err_fb": 1e3 * err,
            "events": mean * lumi_pb,
            "events_err": err * lumi_pb,
            "mc_count": count,
        }

    return {chain: [row("generated", sum_w, sum_w2, n)] + [row(*r) for r in rows] for chain, rows in chains.items()}


def run_monophoton(
    card,
    n_events: int,
    out_dir,
    seed=None,
    workers: int = 1,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> dict:
    """Generate every (point, process) dataset of a monophoton card; ROOT + JSON + bBG plots."""
    from .pipeline import versions

    setup: MonophotonSetup = card.extras["monophoton"]
    out_dir = Path(out_dir)
    seed = resolve_seed(card.run["seed"] if seed is None else seed)
    chunk = int(chunk_size or card.run["chunk_size"])
    started = time.perf_counter()
    results = []
    bar = tqdm(
        total=n_events * len(setup.datasets),
        unit="ev",
        unit_scale=True,
        file=sys.stderr,
        disable=None if progress is None else not progress,
        desc=card.data.get("name") or "mcpgen",
    )
    writer = RootEventWriter(out_dir / "events.root", None, card.output["compression"])
    optimisation: dict = {}
    with make_executor(workers) as executor, writer:
        for ds in setup.datasets:
            tasks = (_Task(setup, ds, seed, a, min(a + chunk, n_events), n_events) for a in range(0, n_events, chunk))
            sum_w = sum_w2 = 0.0
            chains: dict = {}
            plot_sample = []
            for branches, sums, a, b, n in executor.map(_chunk, tasks):
                writer.extend(branches, tree=ds.label)
                if ds.process_name in ("chi_pair_gamma", "nunu_gamma") and "pass_bbg_bbg_cut" in branches:
                    keep = branches["pass_bbg_bbg_cut"]
                    optimisation.setdefault((ds.point, ds.process_name), []).append(
                        (branches["e_cm"][keep], branches["weight"][keep], branches["sqrt_s"][keep])
                    )
                sum_w += a
                sum_w2 += b
                _merge(chains, sums)
                if ds.process_name in ("ggg", "eeg") and sum(len(p["w"]) for p in plot_sample) < 200_000:
                    keep = branches["detected"] & ~branches["veto"]
                    plot_sample.append(
                        {k: branches[k][keep] for k in ("e_cm", "theta_cm", "sqrt_s", "beta_z")}
                        | {"w": branches["weight"][keep]}
                    )
                bar.update(n)
            table = _cutflow_table(sum_w, sum_w2, n_events, chains, ds.luminosity_pb)
            sigma = sum_w / n_events
            err = float(np.sqrt(max(sum_w2 / n_events - sigma**2, 0.0) / n_events))
            entry = {
                "dataset": ds.label,
                "point": ds.point,
                "process": ds.process_name,
                "cross_section_pb": sigma,
                "cross_section_err_pb": err,
                "luminosity_pb_inv": ds.luminosity_pb,
                "cutflow": table,
            }
            if ds.process_name == "nunu_gamma":
                s_nominal = ds.process.beams.sqrt_s0_gev**2
                entry["sigma_nunu_total_fb"] = 1e3 * float(sigma_nunu_pb(s_nominal, ds.process.inner.z_propagator))
            if ds.process_name in ("ggg", "eeg"):
                entry["bbg_survivor_fraction"] = _survivor_fraction(table)
                entry["plot"] = _bbg_plot(out_dir, ds, setup, plot_sample)
            results.append(entry)
        elapsed = time.perf_counter() - started
        summary = {
            "mcpgen_summary_version": 1,
            "card_path": card.source,
            "experiment": setup.experiment,
            "optimised_cut": _optimised_cuts(setup, card, optimisation),
            "n_events_per_dataset": n_events,
            "seed": seed,
            "datasets": results,
            "physics": setup.describe(),
            "timing": {"seconds": elapsed, "events_per_second": n_events * len(setup.datasets) / elapsed},
            "card": card.data,
            "versions": versions(),
        }
        writer.metadata = {"mcpgen_summary": json.dumps(summary, default=float), "mcpgen_card": card.to_yaml()}
        for entry in results:
            writer.metadata[f"cutflow_{entry['dataset']}"] = format_cutflow(entry)
    bar.close()
    write_json_atomic(out_dir / "summary.json", summary)
    return summary


def _optimised_cuts(setup: MonophotonSetup, card, samples: dict) -> dict:
    """L's "optimized cut" per point: E_min < E_gamma <= E_max on top of the bBG cut, scanned with
    Delta E >= sigma_E to maximise S/sqrt(S+B) (chi_pair_gamma vs nunu_gamma)."""
    from analysis.selections import bbg_minimum_energy, optimise_energy_window

    out = {}
    mass = parse_quantity(card.data["mcp"]["mass"], "energy")
    for ds in setup.datasets:
        if ds.process_name != "chi_pair_gamma":
            continue
        sig, bkg = samples.get((ds.point, "chi_pair_gamma")), samples.get((ds.point, "nunu_gamma"))
        if not sig or not bkg:
            continue
        e_s, w_s, rs = (np.concatenate(x) for x in zip(*sig, strict=True))
        e_b, w_b, _ = (np.concatenate(x) for x in zip(*bkg, strict=True))
        if len(e_s) == 0 or len(e_b) == 0:
            continue
        sqrt_s = float(np.median(rs))
        e_max = (sqrt_s**2 - 4 * mass**2) / (2 * sqrt_s)
        lo, hi = _acceptance_edges_cm(setup.calorimeter, ds.process.beams, setup.cos_theta_b)
        floor = float(bbg_minimum_energy(sqrt_s, lo, hi))
        sigma_e = float(setup.calorimeter.sigma_e(max(e_max, 1e-3)))
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
        except ValueError:
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


def format_cutflow(entry: dict) -> str:
    """Plain-text cut-flow table of one dataset (also stored in the ROOT file)."""
    lines = [f"{entry['dataset']}  (L = {entry['luminosity_pb_inv'] / 1e3:g} fb^-1)"]
    for chain, rows in entry["cutflow"].items():
        lines.append(f"  chain {chain}:")
        lines.append(f"    {'cut':<14}{'sigma [fb]':>14}{'+-':>11}{'events':>14}{'MC':>10}")
        for r in rows:
            numbers = f"{r['sigma_fb']:>14.6g}{r['sigma_err_fb']:>11.2g}{r['events']:>14.6g}{r['mc_count']:>10d}"
            lines.append(f"    {r['cut']:<14}{numbers}")
    return "\n".join(lines)


def _survivor_fraction(table: dict) -> dict:
    """Weighted fraction of detected (veto-passing) beam-escape events that survive the bBG cut."""
    out = {}
    for chain, rows in table.items():
        if chain != "bbg":
            continue
        det = next(r for r in rows if r["cut"] == "detected")
        last = rows[-1]
        frac = last["sigma_fb"] / det["sigma_fb"] if det["sigma_fb"] > 0 else 0.0
        out = {
            "fraction": frac,
            "survivors_sigma_fb": last["sigma_fb"],
            "survivors_sigma_err_fb": last["sigma_err_fb"],
            "detected_sigma_fb": det["sigma_fb"],
        }
    return out


def _bbg_plot(out_dir: Path, ds: Dataset, setup: MonophotonSetup, sample: list) -> str:
    """(theta_gamma^CM, E_gamma^CM) of detected beam-escape events with the bBG cut line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not sample:
        return ""
    cat = {k: np.concatenate([p[k] for p in sample]) for k in sample[0]}
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    from matplotlib.colors import LogNorm

    ax.hist2d(np.degrees(cat["theta_cm"]), cat["e_cm"], bins=(90, 60), weights=cat["w"], cmap="viridis", norm=LogNorm())
    theta = np.linspace(1e-3, np.pi - 1e-3, 400)
    rs = float(np.median(cat["sqrt_s"]))
    bz = float(np.median(cat["beta_z"]))
    if abs(bz) < 1e-9:
        tb = np.arccos(setup.cos_theta_b)
        e_line = e_max_symmetric(theta, rs, tb)
        what = f"L eq. 1, cos θ_b = {setup.cos_theta_b}"
    else:
        cal = setup.calorimeter
        t1, t2 = lab_to_cm_theta(cal.theta_min, bz), lab_to_cm_theta(cal.theta_max, bz)
        e_line = e_max_asymmetric(theta, rs, t1, t2)
        what = "L eq. 2 (ECL lab edges → CM)"
    ax.plot(np.degrees(theta), e_line, "r-", lw=2, label=f"bBG cut: {what}")
    ax.set_xlabel("θ_γ (CM) [deg]")
    ax.set_ylabel("E_γ (CM) [GeV]")
    ax.set_title(f"{ds.label}: detected beam-escape events (weighted)")
    ax.set_xlim(0, 180)
    ax.set_ylim(0, rs / 2 * 1.05)
    ax.legend(loc="upper right", fontsize=8)
    path = out_dir / "plots" / f"bbg_{ds.label}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
