"""(m, eps) sensitivity without regenerating per eps: reweighting, reach and limits (pure).

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
  eps; limits from :mod:`analysis.limits` (:func:`monophoton_limits`).

This module takes arrays (generated events, yields) and returns grids and limits; the scan
drivers that generate the samples and write the files are in :mod:`mcpgen.scan`.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from detsim.eloss import beta_floor_delta, beta_floor_ionization, dedx_gev_per_cm, delta_rate_per_cm
from detsim.tracker import build_tables, prob_at_least

__all__ = [
    "EPS_REF",
    "METHODS",
    "ScanGrid",
    "TrackerEvents",
    "Reweighter",
    "poisson_detection_probability",
    "expected_events",
    "eps_reach",
    "paper_thresholds",
    "eps_reach_exact",
    "zero_background_thresholds",
    "monophoton_limits",
    "DERIVED_CHAINS",
    "derived_chain_yields",
    "window_edges",
    "optimised_window",
    "bin_edges",
]

#: Selection chains a scan derives from the card's own: ``preselection`` (the ``bbg`` chain up to
#: its pre-selection cut: L's STCF curve above m ~ 1.4 GeV, where E_max falls below the bBG cut)
#: and ``optimised`` (the ``bbg`` chain plus L's window E_min < E < E_max per mass, L "Optimized
#: cut"). They are listed beside the card's chains and left out of ``best``.
DERIVED_CHAINS = ("preselection", "optimised")

#: Limit methods of the monophoton scan: L's chi^2, CLs (pyhf), N = 3 ignoring the background.
METHODS = ("chi2", "cls", "zero_background")

EPS_REF = 1.0


@dataclass(frozen=True)
class ScanGrid:
    """Masses [GeV] and charges of a scan."""

    masses_gev: np.ndarray
    epsilons: np.ndarray


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

    @classmethod
    def from_events(cls, events, mass_gev: float) -> TrackerEvents:
        """From generated chi_pair events (fields ``chi``, ``chibar`` Momentum4D, ``chi_beta``,
        ``chibar_beta``, ``weight`` [pb, at eps = EPS_REF])."""

        def angles(p):
            px, py, pz = (np.asarray(getattr(p, c)) for c in ("px", "py", "pz"))
            mom = np.sqrt(px**2 + py**2 + pz**2)
            return np.hypot(px, py) / mom, pz / mom

        s1, c1 = angles(events.chi)
        s2, c2 = angles(events.chibar)
        beta = np.vstack([np.asarray(events.chi_beta), np.asarray(events.chibar_beta)])
        return cls(mass_gev, np.asarray(events.weight), beta, np.vstack([s1, s2]), np.vstack([c1, c2]))


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
        if tracker.finder_min_hits != 4:
            raise ValueError("the reweighting formula is written for min_hits = 4")
        self.events, self.tracker = events, tracker
        m = events.mass_gev
        tables = tables or build_tables(tracker, EPS_REF, m)
        beta = events.beta
        gas = tables["gas_beta"]
        where = gas.locate(beta.ravel())
        self.mean_e = gas.read("mean_e", where).reshape(beta.shape)
        self.ion1 = gas.read("dedx_ion", where).reshape(beta.shape) / tracker.gas.w_value_gev / self.mean_e
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


def expected_events(reweighter: Reweighter, epsilons, luminosity_pb: float) -> dict[str, np.ndarray]:
    """Expected events L sum(w) per eps for the modes ``paper_ionization``, ``paper_delta``
    (G §4 criteria, exact) and ``poisson`` (hit probabilities, module docstring)."""
    out = {m: np.zeros(len(epsilons)) for m in ("paper_ionization", "paper_delta", "poisson")}
    for j, eps in enumerate(epsilons):
        w = reweighter.weights(eps)
        paper = reweighter.paper(eps)
        out["paper_ionization"][j] = luminosity_pb * (w * paper["ionization"]).sum()
        out["paper_delta"][j] = luminosity_pb * (w * paper["delta"]).sum()
        out["poisson"][j] = luminosity_pb * (w * reweighter.poisson(eps)).sum()
    return out


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


def paper_thresholds(reweighter: Reweighter) -> dict[str, np.ndarray]:
    """Per event, the smallest (eps/EPS_REF)^2 at which it passes each G §4 criterion (inf: never).

    Both criteria are monotone in eps at fixed kinematics: dE/dx and N_delta scale as eps^2 (G eqs.
    4, 9) and the velocity floors do not depend on eps, so an event passes at k = (eps/EPS_REF)^2
    iff k >= max over its two MCPs of (threshold / value at EPS_REF), and never if a floor fails.
    """
    crit = reweighter.tracker.paper
    with np.errstate(divide="ignore", invalid="ignore"):
        ion = np.where(reweighter.paper_ion_floor, crit.i_min_gev_per_cm / reweighter.paper_dedx1, np.inf)
        delta = np.where(reweighter.paper_delta_floor, crit.n_delta / reweighter.paper_ndelta1, np.inf)
    ion = np.where(np.isfinite(ion) & (ion >= 0), ion, np.inf)
    delta = np.where(np.isfinite(delta) & (delta >= 0), delta, np.inf)
    return {"paper_ionization": ion.max(axis=0), "paper_delta": delta.max(axis=0)}


def eps_reach_exact(thresholds, weights_pb, luminosity_pb: float, n_required: float = 3.0) -> float:
    """Smallest eps with N(eps) >= n_required, without an eps grid (no quantisation).

    With per-event thresholds k_i (:func:`paper_thresholds`) and weights w_i [pb at EPS_REF],
    N(k) = L k sum_{k_i <= k} w_i is non-decreasing in k = (eps/EPS_REF)^2 and piecewise linear
    between the sorted k_i, so the crossing is min_j max(k_j, n / (L S_j)) with S_j the cumulative
    weight of the j smallest thresholds. Returns EPS_REF sqrt(k*), or nan if N never reaches
    ``n_required``.
    """
    k = np.asarray(thresholds, dtype=float)
    w = np.asarray(weights_pb, dtype=float)
    keep = np.isfinite(k) & (w > 0)
    if not keep.any():
        return float("nan")
    order = np.argsort(k[keep])
    ks, cum = k[keep][order], np.cumsum(w[keep][order])
    with np.errstate(divide="ignore"):
        cand = np.maximum(ks, n_required / (luminosity_pb * cum))
    return float(EPS_REF * math.sqrt(cand.min()))


def zero_background_thresholds() -> dict[str, float]:
    """Signal events needed for a 95 % CL exclusion without background, per method: G's N >= 3,
    L's chi^2 = S^2/(S + B) = 2.71 with B = 0 (S >= 2.71), CLs with n_obs = 0 (S >= -ln 0.05 = 2.996)."""
    limits = importlib.import_module("analysis.limits")  # pyhf and scipy.stats load with the first limit

    return {"zero_background": 3.0, "chi2": 2.71, "cls": float(limits.poisson_upper_limit(0, method="cls"))}


# --- monophoton channel -----------------------------------------------------------------------


def derived_chain_yields(cutflow, luminosity_pb: float, n_trials: int) -> dict[str, float]:
    """Expected events of the derived chain ``preselection``: the weight after the cut named
    ``preselection`` of the ``bbg`` chain (cumulative cut flow ``cutflow``, an
    :class:`analysis.cutflow.CutFlow`), times L / n_trials. Empty where the card has no such cut."""
    cuts = dict(cutflow.chains.get("bbg", ()))
    if "preselection" not in cuts:
        return {}
    return {"preselection": cuts["preselection"].sum_w / n_trials * luminosity_pb}


def window_edges(sqrt_s_gev: float, width_gev: float = 1e-3) -> np.ndarray:
    """Bin edges [GeV] of the measured CM photon energy for the optimised window: ``width_gev``
    (1 MeV, a few per cent of sigma_E at the experiments' energies) from 0 to 0.6 sqrt(s)."""
    return np.arange(0.0, 0.6 * sqrt_s_gev + width_gev, width_gev)


def optimised_window(
    edges, signal, background, e_max: float, sigma_e: float, e_floor: float, delta_chi2: float = 2.71
) -> dict | None:
    """L's optimised cut on top of the bBG cut: the window E_min < E < E_max with E_max = (s - 4m^2)
    / (2 sqrt s), E_min >= ``e_floor`` (the minimum of the bBG curve, L) and Delta E = E_max - E_min
    >= sigma_E when E_max > e_floor + sigma_E (L, "Optimized cut" and Fig. 7); the E_min kept is the
    one that gives the best limit (L Fig. 7: "the Delta E_gamma value that yields the best limit"),
    i.e. the smallest S_needed(B)/S with S_needed = (D + sqrt(D^2 + 4 D B))/2 the signal of
    chi^2 = S^2/(S + B) = D (``delta_chi2``).

    ``signal``, ``background``: expected events per bin of ``edges`` (measured E^CM, GeV) of the
    events passing the bBG chain; bins count when their centre lies inside the window. Returns
    {e_min_gev, e_max_gev, signal, background, bins (mask)} or None when no window exists
    (E_max <= e_floor) or it holds no signal.
    """
    edges = np.asarray(edges, dtype=float)
    sig, bkg = np.asarray(signal, dtype=float), np.asarray(background, dtype=float)
    if not e_max > e_floor:
        return None
    centre = 0.5 * (edges[1:] + edges[:-1])
    below = centre < e_max
    e_hi = e_max - sigma_e if e_max > e_floor + sigma_e else e_max
    lows = edges[:-1][(edges[:-1] >= e_floor) & (edges[:-1] <= e_hi)]
    if lows.size == 0:
        return None
    # S(E_min) and B(E_min): sums over bins with E_min <= lower edge and centre < E_max
    cs = np.concatenate([np.cumsum(np.where(below, sig, 0.0)[::-1])[::-1], [0.0]])
    cb = np.concatenate([np.cumsum(np.where(below, bkg, 0.0)[::-1])[::-1], [0.0]])
    idx = np.searchsorted(edges, lows)
    s, b = cs[idx], cb[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        need = 0.5 * (delta_chi2 + np.sqrt(delta_chi2**2 + 4.0 * delta_chi2 * np.clip(b, 0.0, None)))
        score = np.where(s > 0, need / s, np.inf)
    j = int(np.argmin(score))
    if not np.isfinite(score[j]):
        return None
    e_min = float(lows[j])
    return {
        "e_min_gev": e_min,
        "e_max_gev": float(e_max),
        "signal": float(s[j]),
        "background": float(b[j]),
        "bins": (edges[:-1] >= e_min) & below,
    }


def monophoton_limits(
    signal: Mapping[str, Sequence[Mapping[str, float]]],
    background: Mapping[str, Mapping[str, float]],
    methods: Sequence[str] = METHODS,
    cl: float = 0.95,
    best_over: Sequence[str] | None = None,
) -> tuple[dict, dict]:
    """Expected eps limits at confidence level ``cl`` (95 % or 90 %: Delta chi^2, zero-background
    count and CLs alpha follow it, analysis.limits) per mass for each selection chain, and the best chain.

    ``background[chain]``: expected background events per energy point (the chain's bins);
    ``signal[chain][i]``: expected signal events at eps = EPS_REF per energy point for mass i
    (points missing there are left out of that mass's bins). A chain is combined over its bins
    (chi^2 summed, L; CLs multi-bin on background-only Asimov data). Returns
    (limits[method][chain]: arrays over masses, best[method]: the smallest over the chains
    ``best_over`` (default all); nan where there is no signal).
    """
    limits = importlib.import_module("analysis.limits")

    chains = list(background)
    n_mass = len(next(iter(signal.values()))) if signal else 0
    result = {m: {c: np.full(n_mass, np.nan) for c in chains} for m in methods}
    for c in chains:
        for i, s_points in enumerate(signal[c]):
            labels = [p for p in background[c] if p in s_points]
            s_ref = np.array([s_points[p] for p in labels])
            if s_ref.size == 0 or not np.any(s_ref > 0):
                continue
            sig = limits.PowerLawSignal(s_ref, EPS_REF)
            b = np.array([background[c][p] for p in labels])
            if "chi2" in methods:
                result["chi2"][c][i] = limits.eps_limit_chi2(sig, b, limits.delta_chi2_for(cl))
            if "cls" in methods:
                result["cls"][c][i] = limits.eps_limit_cls(sig, b, cl=cl)
            if "zero_background" in methods:
                result["zero_background"][c][i] = limits.eps_limit_zero_background(
                    sig, limits.zero_background_events(cl)
                )
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # masses without signal: all chains nan
        over = [c for c in chains if best_over is None or c in best_over] or chains
        best = {m: np.nanmin(np.vstack([result[m][c] for c in over]), axis=0) for m in methods}
    return result, best


def bin_edges(centers, log: bool = False) -> np.ndarray:
    """Histogram bin edges around ``centers`` (midpoints; linear or in log)."""
    c = np.log(centers) if log else np.asarray(centers, dtype=float)
    if len(c) == 1:
        e = np.array([c[0] - 0.5, c[0] + 0.5])
    else:
        mid = 0.5 * (c[1:] + c[:-1])
        e = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return np.exp(e) if log else e
