"""(m, eps) sensitivity scans without regenerating per eps (issue: sensitivity).

The cross section scales as eps^2 and the event kinematics do not depend on eps, so each mass is
generated once at eps_ref = 1 and every eps is a reweighting of the same events:

* tracker channel, paper-faithful mode: each event's pass/fail is recomputed from the stored
  MCP velocities with the G §4 criteria at that eps (exact);
* tracker channel, Poisson-hit mode: each MCP's per-layer hit probability is
  p = 1 - P(no ionization hit) e^(-mu_delta) with the ionization-cluster and delta-electron means
  proportional to eps^2 (G eqs. 4, 9), evaluated at the production velocity; the layers reached
  follow from the CSDA range, which scales as 1/eps^2 exactly, and the endcaps. The event is
  counted with P(>= 1 hit per MCP and >= 4 in total) (the finder finds such events, see the
  validation). Neglected here and kept in the full simulation: the slowing down before the
  MCP stops, the beam pipe, curvature of the path;
* monophoton channel: S(eps) = S(eps_ref) (eps/eps_ref)^2 exactly; backgrounds do not depend on
  eps; limits from :mod:`analysis.limits`.

Outputs: grids of expected events (tracker) or limits per mass (monophoton), written by
:func:`write_scan` to ``scan.json``, ``scan.root`` (TH2D / TH1D) and contour plots.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

__all__ = [
    "ScanGrid",
    "TrackerScan",
    "tracker_scan",
    "tracker_point_events",
    "poisson_detection_probability",
    "Reweighter",
    "monophoton_scan",
    "eps_reach",
    "write_scan",
]

EPS_REF = 1.0


@dataclass(frozen=True)
class ScanGrid:
    """Masses [GeV] and charges of a scan."""

    masses_gev: np.ndarray
    epsilons: np.ndarray

    @classmethod
    def from_card(cls, scan: dict, center_gev: float | None = None) -> ScanGrid:
        from mcpgen.units import parse_quantity

        m = scan["mass"]
        lo, hi = parse_quantity(m["from"], "energy"), parse_quantity(m["to"], "energy")
        if m.get("relative_to_threshold", False):
            lo, hi = center_gev + lo, center_gev + hi
        masses = np.geomspace(lo, hi, m["n"]) if m.get("log", False) else np.linspace(lo, hi, m["n"])
        e = scan["epsilon"]
        return cls(masses, np.geomspace(float(e["from"]), float(e["to"]), e["n"]))


# --- tracker channel --------------------------------------------------------------------------


@dataclass
class TrackerEvents:
    """Stored kinematics of one mass point (eps_ref = 1): weights [pb at eps = 1], per-MCP beta
    and direction, for reweighting."""

    mass_gev: float
    weight: np.ndarray
    beta: np.ndarray  # (2, n): chi, chibar lab velocities
    sin_theta: np.ndarray  # (2, n)
    cos_theta: np.ndarray  # (2, n)


def tracker_point_events(process, n_events: int, seed: int) -> TrackerEvents:
    """Generate the kinematics of ``process`` (any eps) once; weights rescaled to eps = 1."""
    from mcpgen.pipeline import generate_events

    proc = replace(process, epsilon=EPS_REF)
    ev = generate_events(proc, n_events, seed=seed)

    def angles(p):
        px, py, pz = (np.asarray(getattr(p, c)) for c in ("px", "py", "pz"))
        mom = np.sqrt(px**2 + py**2 + pz**2)
        return np.hypot(px, py) / mom, pz / mom

    s1, c1 = angles(ev.chi)
    s2, c2 = angles(ev.chibar)
    beta = np.vstack([np.asarray(ev.chi_beta), np.asarray(ev.chibar_beta)])
    return TrackerEvents(process.mass_gev, np.asarray(ev.weight), beta, np.vstack([s1, s2]), np.vstack([c1, c2]))


def _binomial_head(n, p):
    """P(Binomial(n, p) = 0, 1, 2) for integer arrays n and probabilities p."""
    q = 1.0 - p
    qn2 = q ** np.maximum(n - 2, 0)
    p0 = np.where(n >= 2, qn2 * q * q, q**n)
    p1 = np.where(n >= 1, n * p * q ** np.maximum(n - 1, 0), 0.0)
    p2 = np.where(n >= 2, 0.5 * n * (n - 1) * p * p * qn2, 0.0)
    return p0, p1, p2


class Reweighter:
    """eps-reweighting of one mass point's stored events for the tracker channel.

    Everything that does not depend on eps (per-cm ionization-cluster and delta-electron means at
    eps = 1, the CSDA range at eps = 1, the layers allowed by the endcaps, the paper criteria's
    dE/dx and N_delta at eps = 1) is computed once; :meth:`paper` and :meth:`poisson` then cost a
    few array operations per eps.
    """

    def __init__(self, events: TrackerEvents, tracker, tables: dict | None = None):
        from detsim.eloss import beta_floor_delta, beta_floor_ionization, dedx_gev_per_cm, delta_rate_per_cm
        from detsim.tracker import build_tables

        if tracker.finder_min_hits != 4:
            raise ValueError("the reweighting formula is written for min_hits = 4")
        self.events, self.tracker = events, tracker
        m = events.mass_gev
        tables = tables or build_tables(tracker, EPS_REF, m)
        beta = events.beta
        gas = tables["gas_beta"]
        where = gas.locate(beta.ravel())
        self.mean_e = gas.read("mean_e", where).reshape(beta.shape)
        self.ion1 = gas.read("dedx", where).reshape(beta.shape) / tracker.gas.w_value_gev / self.mean_e
        self.delta1 = gas.read("delta_rate", where).reshape(beta.shape)
        widths = np.diff(tracker.shell_edges_cm)
        self.path = widths.mean() / np.maximum(events.sin_theta, 1e-6)
        kinetic = m * (1.0 / np.sqrt(1.0 - beta**2) - 1.0)
        self.reach1 = tables["gas"].range_cm(kinetic.ravel()).reshape(beta.shape) * events.sin_theta
        self.depth_mid = np.cumsum(widths) - 0.5 * widths
        cot = np.abs(events.cos_theta) / np.maximum(events.sin_theta, 1e-12)
        with np.errstate(divide="ignore"):
            self.n_z = np.searchsorted(tracker.radii, tracker.half_length_cm / cot, side="right")
        crit = tracker.paper
        self.paper_dedx1 = dedx_gev_per_cm(beta, EPS_REF, m, tracker.gas, crit.dedx_model)
        self.paper_ion_floor = beta >= beta_floor_ionization(m, crit.i_min_gev_per_cm, crit.l_min_cm)
        self.paper_ndelta1 = delta_rate_per_cm(beta, EPS_REF, m, tracker.gas, crit.t_min_gev) * crit.track_length_cm
        self.paper_delta_floor = beta >= beta_floor_delta(m, crit.t_min_gev)

    def weights(self, eps: float) -> np.ndarray:
        """Event weights [pb] at charge eps (sigma ~ eps^2)."""
        return self.events.weight * (eps / EPS_REF) ** 2

    def paper(self, eps: float) -> dict:
        """G §4 pass/fail per event at eps (both MCPs), identical to :mod:`detsim.paper`."""
        k = (eps / EPS_REF) ** 2
        crit = self.tracker.paper
        ion = (self.paper_dedx1 * k >= crit.i_min_gev_per_cm) & self.paper_ion_floor
        delta = (self.paper_ndelta1 * k >= crit.n_delta) & self.paper_delta_floor
        return {"ionization": ion[0] & ion[1], "delta": delta[0] & delta[1]}

    def poisson(self, eps: float) -> np.ndarray:
        """Per event P(>= 1 hit on each MCP, >= 4 in total) at eps (module docstring)."""
        from detsim.tracker import prob_at_least

        k = (eps / EPS_REF) ** 2
        ion = prob_at_least(self.tracker.threshold_electrons, k * self.ion1 * self.path, self.mean_e)
        p_layer = 1.0 - (1.0 - ion) * np.exp(-k * self.delta1 * self.path)
        n_r = np.searchsorted(self.depth_mid, np.minimum(self.reach1 / k, 1e30).ravel(), side="right").reshape(
            self.reach1.shape
        )
        n = np.minimum(n_r, self.n_z)
        a0, a1, a2 = _binomial_head(n[0], p_layer[0])
        b0, b1, b2 = _binomial_head(n[1], p_layer[1])
        a3, b3 = 1 - a0 - a1 - a2, 1 - b0 - b1 - b2
        # P(a >= 1, b >= 1, a + b >= 4), counts capped at 3+
        return np.clip(a1 * b3 + a2 * (b2 + b3) + a3 * (b1 + b2 + b3), 0.0, 1.0)


def poisson_detection_probability(events: TrackerEvents, tracker, eps: float, tables: dict | None = None) -> np.ndarray:
    """Per event P(>= 1 hit on each MCP, >= 4 hits in total) at charge ``eps``."""
    return Reweighter(events, tracker, tables).poisson(eps)


@dataclass
class TrackerScan:
    """Expected events N[mode][i_mass, j_eps] at one or several collider points."""

    grid: ScanGrid
    expected: dict
    points: list
    seconds: float = 0.0
    meta: dict = field(default_factory=dict)


def tracker_scan(card, grid: ScanGrid | None = None, points=None, n_events: int = 20_000, seed: int = 1) -> TrackerScan:
    """Scan masses x eps for a chi_pair card with a tracker; ``points`` = [(beams, L_pb, grid)]."""
    started = time.perf_counter()
    tracker = card.tracker
    if points is None:
        points = [(card.beams, card.luminosity_pb, grid)]
    modes = ("paper_ionization", "paper_delta", "poisson")
    shapes = {len(g.masses_gev) for _, _, g in points}
    expected = {m: [] for m in modes}
    for k, (beams, lumi, g) in enumerate(points):
        grids = {m: np.zeros((len(g.masses_gev), len(g.epsilons))) for m in modes}
        for i, mass in enumerate(_progress(g.masses_gev, f"scan {beams.sqrt_s0_gev:.4g} GeV")):
            if 2 * mass >= beams.reach_gev():
                continue
            proc = replace(card.process, beams=beams, mass_gev=float(mass), epsilon=EPS_REF)
            rw = Reweighter(tracker_point_events(proc, n_events, seed + 1000 * k + i), tracker)
            for j, eps in enumerate(g.epsilons):
                w = rw.weights(eps)
                paper = rw.paper(eps)
                grids["paper_ionization"][i, j] = lumi * (w * paper["ionization"]).sum()
                grids["paper_delta"][i, j] = lumi * (w * paper["delta"]).sum()
                grids["poisson"][i, j] = lumi * (w * rw.poisson(eps)).sum()
        for m in modes:
            expected[m].append(grids[m])
    meta = {"n_events_per_mass": n_events, "same_mass_grid": len(shapes) == 1}
    return TrackerScan(
        points[0][2], expected, [(b.sqrt_s0_gev, lumi) for b, lumi, _ in points], time.perf_counter() - started, meta
    )


def eps_reach(masses, epsilons, n_grid, n_required=3.0):
    """Smallest eps per mass with N >= n_required (log interpolation between grid points)."""
    out = np.full(len(masses), np.nan)
    for i in range(len(masses)):
        row = n_grid[i]
        above = np.flatnonzero(row >= n_required)
        if above.size == 0:
            continue
        j = above[0]
        if j == 0:
            out[i] = epsilons[0]
            continue
        y0, y1 = row[j - 1], row[j]
        if y0 <= 0:
            out[i] = epsilons[j]
            continue
        t = (math.log(n_required) - math.log(y0)) / (math.log(y1) - math.log(y0))
        out[i] = math.exp(math.log(epsilons[j - 1]) + t * (math.log(epsilons[j]) - math.log(epsilons[j - 1])))
    return out


# --- monophoton channel -----------------------------------------------------------------------


def monophoton_scan(
    card,
    masses_gev,
    n_signal: int = 20_000,
    n_background: int = 200_000,
    seed: int = 1,
    methods=("chi2", "cls", "zero_background"),
) -> dict:
    """Expected 95 % CL limits on eps per mass for a monophoton card (background-only Asimov
    for CLs). Signal and backgrounds are summed over energy points per selection chain; the
    best (smallest) chain limit is reported as ``best``."""
    from analysis import limits
    from mcpgen.monophoton import BeamProcess, Dataset, _chunk, _process, _Task

    started = time.perf_counter()
    setup = card.extras["monophoton"]
    data = card.data
    points = [d for d in setup.datasets if d.process_name == "nunu_gamma"]
    if not points:
        raise ValueError("the card needs a nunu_gamma process for the background")
    analysis = data.get("analysis", {})
    gbg = analysis.get("gbg_events", {})
    chain_points = analysis.get("chain_points", {})
    f_ng = analysis.get("f_ng", {})

    def uses(chain, point):
        return chain not in chain_points or point in chain_points[chain]

    def yields(ds: Dataset, n: int, s: int):
        _, sums, *_ = _chunk(_Task(setup, ds, s, 0, n, n))
        return {chain: rows[-1][1] / n * ds.luminosity_pb for chain, rows in sums.items()}

    # one bin per (chain, energy point): chi^2 is summed over points (L), CLs is multi-bin
    background: dict = {}
    for ds in points:
        for chain, b in yields(ds, n_background, seed).items():
            if uses(chain, ds.point):
                background.setdefault(chain, {})[ds.point] = b
    for chain, extra in gbg.items():  # external gap background: added to the chain's first point
        if chain in background:
            first = next(iter(background[chain]))
            background[chain][first] += float(extra)
    chains = sorted(background)
    result = {m: {c: np.full(len(masses_gev), np.nan) for c in chains} for m in methods}
    signal_ref = {c: np.zeros(len(masses_gev)) for c in chains}
    mcp_spec = {"name": "chi_pair_gamma"}
    for i, mass in enumerate(_progress(masses_gev, "scan masses")):
        sig_bins: dict = {c: {} for c in chains}
        for k, ds in enumerate(points):
            d2 = {**data, "mcp": {**data["mcp"], "mass": f"{mass} GeV", "epsilon": EPS_REF}}
            beams = ds.process.beams
            try:
                inner = _process("chi_pair_gamma", mcp_spec, d2, beams, setup.calorimeter, setup.cos_theta_b)
            except ValueError:
                continue
            sds = Dataset(
                ds.point,
                ds.point,
                "chi_pair_gamma",
                BeamProcess(beams, inner, "chi_pair_gamma"),
                ds.luminosity_pb,
                (50 + i, k),
            )
            y = yields(sds, n_signal, seed + 7 + i)
            for c in chains:
                if ds.point in background[c]:
                    # f_NG: non-geometric signal efficiency (BaBar, L); backgrounds are L's as given
                    sig_bins[c][ds.point] = y.get(c, 0.0) * float(f_ng.get(c, 1.0))
        for c in chains:
            labels = [p for p in background[c] if p in sig_bins[c]]
            s_ref = np.array([sig_bins[c][p] for p in labels])
            if s_ref.size == 0 or not np.any(s_ref > 0):
                continue
            signal_ref[c][i] = s_ref.sum()
            sig = limits.PowerLawSignal(s_ref, EPS_REF)
            b = np.array([background[c][p] for p in labels])
            if "chi2" in methods:
                result["chi2"][c][i] = limits.eps_limit_chi2(sig, b)
            if "cls" in methods:
                result["cls"][c][i] = limits.eps_limit_cls(sig, b)
            if "zero_background" in methods:
                result["zero_background"][c][i] = limits.eps_limit_zero_background(sig, 3.0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # masses without signal: all chains nan
        best = {m: np.nanmin(np.vstack([result[m][c] for c in chains]), axis=0) for m in methods}
    return {
        "masses_gev": np.asarray(masses_gev),
        "chains": chains,
        "background_events": {c: sum(v.values()) for c, v in background.items()},
        "background_events_per_point": background,
        "signal_events_at_eps1": signal_ref,
        "limits": result,
        "best": best,
        "seconds": time.perf_counter() - started,
    }


def _progress(items, desc):
    """A progress bar on stderr for the mass loop (silent when stderr is not a terminal)."""
    import sys

    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="mass", file=sys.stderr, disable=None, leave=False)


# --- output -----------------------------------------------------------------------------------


def _edges(centers, log=False):
    c = np.log(centers) if log else np.asarray(centers, dtype=float)
    if len(c) == 1:
        e = np.array([c[0] - 0.5, c[0] + 0.5])
    else:
        mid = 0.5 * (c[1:] + c[:-1])
        e = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return np.exp(e) if log else e


def write_scan(
    out_dir, name: str, payload: dict, hist2d: dict | None = None, hist1d: dict | None = None, plot=None
) -> dict:
    """scan.json, scan.root (TH2D of grids, TH1D of limits) and the plot (PNG + PDF), atomically."""
    import uproot

    from mcpgen.output import _temporary, write_json_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "scan.json", _jsonable(payload))
    tmp = _temporary(out / "scan.root")
    try:
        with uproot.recreate(tmp) as f:
            for key, (values, x_edges, y_edges) in (hist2d or {}).items():
                f[key] = (np.asarray(values, dtype=float), x_edges, y_edges)
            for key, (values, x_edges) in (hist1d or {}).items():
                f[key] = (np.nan_to_num(np.asarray(values, dtype=float)), x_edges)
            f["mcpgen_scan"] = json.dumps(_jsonable(payload))
        tmp.replace(out / "scan.root")
    finally:
        tmp.unlink(missing_ok=True)
    files = {"json": str(out / "scan.json"), "root": str(out / "scan.root")}
    if plot is not None:
        files.update(plot(out, name))
    return files


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
