"""``mcpgen validate``: every analytic approximation the papers use, against the MC.

Each row: quantity, source (paper equation), MC value with its error, analytic value, pull and
a verdict (``agrees`` for |pull| < 3; otherwise the relative difference is quoted, and
``approximation`` marks a paper formula that is known to be an approximation of what the MC
does). Analytic references are computed here by scipy quadrature of the formula sheet
(physics.md), independently of the samplers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import integrate

from generator.constants import ALPHA, GEV2_TO_PB, M_E_GEV

__all__ = ["Row", "validate_tracker_card", "validate_monophoton_card", "format_table"]


@dataclass
class Row:
    quantity: str
    source: str
    mc: float
    mc_err: float
    analytic: float
    note: str = ""

    @property
    def pull(self) -> float:
        return (self.mc - self.analytic) / self.mc_err if self.mc_err > 0 else float("nan")

    @property
    def rel_diff(self) -> float:
        return self.mc / self.analytic - 1.0 if self.analytic else float("nan")

    @property
    def verdict(self) -> str:
        if self.mc == self.analytic or (math.isfinite(self.pull) and abs(self.pull) < 3):
            return "agrees"
        return f"differs by {100 * self.rel_diff:+.1f} %"

    def as_dict(self) -> dict:
        return {
            "quantity": self.quantity,
            "source": self.source,
            "mc": self.mc,
            "mc_err": self.mc_err,
            "analytic": self.analytic,
            "pull": self.pull,
            "rel_diff": self.rel_diff,
            "verdict": self.verdict,
            "note": self.note,
        }


def format_table(rows) -> str:
    head = f"{'quantity':<54}{'source':<16}{'MC':>13}{'+-':>10}{'analytic':>13}{'pull':>8}  verdict"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.quantity:<54}{r.source:<16}{r.mc:>13.5g}{r.mc_err:>10.2g}{r.analytic:>13.5g}"
            f"{r.pull:>8.2f}  {r.verdict}" + (f"  ({r.note})" if r.note else "")
        )
    return "\n".join(lines)


# --- independent formulas (physics.md §1-3, G eqs. 1-3, 12) -----------------------------------


def _born_exact(s, m, eps):
    if s <= 4 * m * m:
        return 0.0
    b = math.sqrt(1 - 4 * m * m / s)
    return 4 * math.pi * ALPHA**2 * eps**2 / (3 * s) * b * (3 - b * b) / 2 * GEV2_TO_PB


def _born_g_eq1(s, m, eps):
    """G eq. (1): 2 pi alpha^2 eps^2 beta / s with beta = sqrt(sqrt(s)/m - 2)."""
    x = math.sqrt(s) / m - 2
    return 2 * math.pi * ALPHA**2 * eps**2 * math.sqrt(x) / s * GEV2_TO_PB if x > 0 else 0.0


def _isr_integral(s, m, eps, kernel, x_lim_user=None):
    x_lim = 1 - 4 * m * m / s
    if x_lim_user is not None:
        x_lim = min(x_lim, x_lim_user)
    if x_lim <= 0:
        return 0.0
    if kernel == "off":
        return _born_exact(s, m, eps)
    L = math.log(s / M_E_GEV**2)
    b = 2 * ALPHA / math.pi * (L - 1)

    def smooth(x):
        if kernel == "gorbunov":
            return b * (1 - x ** (1 - b) * (1 - x / 2))
        c = 1 + ALPHA / math.pi * (math.pi**2 / 3 - 0.5) + 0.75 * b - b * b / 24 * (L / 3 + 2 * math.pi**2 - 37 / 4)
        hard = -b * (1 - x / 2)
        if x > 0:
            hard += (
                b * b / 8 * (4 * (2 - x) * math.log(1 / x) + (1 + 3 * (1 - x) ** 2) / x * math.log(1 / (1 - x)) - 6 + x)
            )
        return b * c + hard * x ** (1 - b)

    v, _ = integrate.quad(
        lambda x: smooth(x) * _born_exact(s * (1 - x), m, eps),
        0,
        x_lim,
        weight="alg",
        wvar=(b - 1, 0),
        epsrel=1e-8,
        limit=200,
    )
    return v


def _spread(fn, rs0, sigma, lo):
    def integrand(rs):
        return math.exp(-0.5 * ((rs - rs0) / sigma) ** 2) / (math.sqrt(2 * math.pi) * sigma) * fn(rs * rs)

    a, b = max(lo, rs0 - 9 * sigma), rs0 + 9 * sigma
    v, _ = integrate.quad(integrand, a, b, epsrel=1e-8, limit=400, points=[rs0] if a < rs0 < b else None)
    return v


# --- tracker-channel cards ----------------------------------------------------------------------


def _mc_sigma(process, n, seed):
    from mcpgen.pipeline import generate_events

    w = np.asarray(generate_events(process, n, seed=seed).weight)
    return w.sum(), math.sqrt(max(w @ w - w.sum() ** 2 / n, 0.0))


def validate_tracker_card(card, n_events: int = 200_000, seed: int = 1) -> tuple[list[Row], dict]:
    """Rows for G eqs. 1, 3, 6, 11, 12, the velocity floors, and the sagitta study."""
    from detsim.eloss import beta_floor_delta, beta_floor_ionization, dedx_ev_per_cm, delta_rate_per_cm
    from detsim.simulate import simulate
    from detsim.tracker import numpy_source
    from mcpgen.pipeline import generate_events

    proc = card.process
    b = card.beams
    m, eps = proc.mass_gev, proc.epsilon
    if b.spread_model != "gaussian_sqrt_s":
        raise ValueError("validate needs a Gaussian sqrt(s) spread (G eq. 2)")
    rows = []
    off = replace(proc, isr="off")
    mc, err = _mc_sigma(off, n_events, seed)
    rows.append(
        Row(
            "sigma, beam spread, no ISR [pb]",
            "G eq. 2-3",
            mc,
            err,
            _spread(lambda s: _born_exact(s, m, eps), b.sqrt_s0_gev, b.sigma_sqrt_s_gev, 2 * m),
        )
    )
    rows.append(
        Row(
            "sigma with G eq. 1 (beta -> 0) [pb]",
            "G eq. 1",
            mc,
            err,
            _spread(lambda s: _born_g_eq1(s, m, eps), b.sqrt_s0_gev, b.sigma_sqrt_s_gev, 2 * m),
            "approximation: exact beta and (3 - beta^2)/2 in the MC",
        )
    )
    for kernel in ("gorbunov", "kuraev_fadin"):
        p = replace(proc, isr=kernel)
        mc, err = _mc_sigma(p, n_events, seed + 1)
        x_user = p.x_max
        ana = _spread(
            lambda s, k=kernel, xu=x_user: _isr_integral(s, m, eps, k, xu), b.sqrt_s0_gev, b.sigma_sqrt_s_gev, 2 * m
        )
        if p.x_max_energy_gev is not None:
            ana = _spread(
                lambda s, k=kernel, e2=p.x_max_energy_gev**2: _isr_integral(s, m, eps, k, e2 / s),
                b.sqrt_s0_gev,
                b.sigma_sqrt_s_gev,
                2 * m,
            )
        rows.append(Row(f"sigma with ISR ({kernel}) [pb]", "G eq. 12", mc, err, ana))
    tracker = card.tracker
    extra = {}
    if tracker is not None:
        gas = tracker.gas
        crit = tracker.paper
        # G eq. 6 vs eq. 4 at the produced velocities (both computed by the code; eq. 6 freezes the log)
        ev = generate_events(proc, 20_000, seed=seed + 2)
        beta = np.asarray(ev.chi_beta)
        w = np.asarray(ev.weight)
        d4 = dedx_ev_per_cm(beta, eps, m, gas, "bethe")
        d6 = dedx_ev_per_cm(beta, eps, m, gas, "bethe_frozen")
        rows.append(
            Row(
                "<dE/dx> at production, eq. 6 vs eq. 4 [eV/cm]",
                "G eq. 4 vs 6",
                float(np.average(d4, weights=w)),
                float(np.sqrt(np.average((d4 - np.average(d4, weights=w)) ** 2, weights=w) / len(d4))),
                float(np.average(d6, weights=w)),
                "MC column: eq. 4; analytic column: eq. 6",
            )
        )
        # G eq. 11 against the simulated delta-electron count per MCP
        det = simulate(ev, tracker, numpy_source(seed + 3))
        nd = np.asarray(det.chi_n_delta, dtype=float)
        path = np.asarray(det.chi_path_gas)
        eq11 = delta_rate_per_cm(beta, eps, m, gas, tracker.delta_t_min_gev) * path
        rows.append(
            Row(
                "delta-electrons per chi (simulated path)",
                "G eq. 11",
                float(nd.mean()),
                float(nd.std() / math.sqrt(len(nd))),
                float(eq11.mean()),
                "MC slows down along the path; eq. 11 uses the production beta",
            )
        )
        rows.append(
            Row(
                "beta floor, ionization (I_min L_min)",
                "G §4: 6e-4",
                float(beta_floor_ionization(m, crit.i_min_gev_per_cm, crit.l_min_cm)),
                0.0,
                6e-4,
                "computed; paper quotes one digit",
            )
        )
        rows.append(
            Row(
                "beta floor, delta-electrons (T_max = T_min)",
                "G §4: 3e-2",
                float(beta_floor_delta(m, crit.t_min_gev)),
                0.0,
                3e-2,
                "computed; paper quotes one digit",
            )
        )
        extra["sagitta"] = _sagitta_study(card)
    return rows, extra


def _sagitta_study(card) -> dict:
    """'Almost unbent' (G §2): sagitta over the tracker vs the point resolution on a (m, eps)
    grid, for the typical velocity of pairs at each mass (median beta)."""
    from mcpgen.pipeline import generate_events

    tracker = card.tracker
    b = card.beams
    masses = b.sqrt_s0_gev / 2 + np.linspace(-0.01, 0.004, 15)
    epsilons = np.geomspace(1e-4, 1e-1, 16)
    L = tracker.radii[-1]
    ratio = np.full((len(masses), len(epsilons)), np.nan)
    for i, m in enumerate(masses):
        if 2 * m >= b.reach_gev():
            continue
        ev = generate_events(replace(card.process, mass_gev=float(m)), 5_000, seed=7)
        beta = np.median(np.asarray(ev.chi_beta))
        p = m * beta / math.sqrt(1 - beta**2)
        for j, eps in enumerate(epsilons):
            radius = 100 * p / (0.299792458 * eps * tracker.field_t)
            sag = radius - math.sqrt(max(radius**2 - L**2 / 4, 0.0)) if radius > L / 2 else L / 2
            ratio[i, j] = sag / tracker.resolution_rphi_cm
    return {
        "masses_gev": masses,
        "epsilons": epsilons,
        "sagitta_over_resolution": ratio,
        "fraction_bent_beyond_3_sigma": float(np.nanmean(ratio > 3)),
    }


# --- monophoton cards -------------------------------------------------------------------------


def _w_radiator(x, c):
    return ALPHA / (math.pi * x) * ((2 - 2 * x + x * x) / (1 - c * c) - x * x / 2)


def _region_integral(sqrt_s, sigma0, accept, e_min, cmax):
    """int dx dcos W(x, theta) sigma0(s(1-x)) over the accepted (E, cos theta) region (CM)."""
    s = sqrt_s**2

    def inner(x):
        e = x * sqrt_s / 2

        def f(c):
            return _w_radiator(x, c) * sigma0(s * (1 - x)) * accept(e, c)

        v, _ = integrate.quad(f, -cmax, cmax, limit=200, points=[-0.92, -0.86, -0.8, 0.8, 0.86, 0.92], epsrel=1e-7)
        return v

    v, _ = integrate.quad(inner, 2 * e_min / sqrt_s, 1.0 - 1e-12, limit=400, epsrel=1e-7)
    return v


def validate_monophoton_card(card, n_events: int = 400_000, seed: int = 1) -> tuple[list[Row], dict]:
    """Rows for L's monophoton and nu nubar gamma integrals (generation cuts, and after the
    pre-selection + bBG cut on a perfect detector), and the bBG-cut test with gamma gamma gamma."""
    from analysis.selections import bbg_symmetric, besiii_preselection
    from generator.monophoton import sigma_nunu_pb
    from mcpgen.monophoton import _chunk, _Task

    setup = card.extras["monophoton"]
    rows = []
    perfect = replace(
        setup, calorimeter=replace(setup.calorimeter, resolution=lambda e: 0.0 * np.asarray(e), efficiency=1.0)
    )
    gen = card.data.get("generation", {})
    from mcpgen.units import parse_quantity

    e_min = parse_quantity(gen.get("e_gamma_min", "25 MeV"), "energy")
    cmax = float(gen.get("cos_theta_max", setup.cos_theta_b))
    mcp = card.data["mcp"]
    m, eps = parse_quantity(mcp["mass"], "energy"), float(mcp["epsilon"])
    for ds in setup.datasets:
        if ds.process_name not in ("nunu_gamma", "chi_pair_gamma") or abs(ds.process.beams.beta_z0) > 1e-12:
            continue
        rs = ds.process.beams.sqrt_s0_gev
        if ds.process_name == "nunu_gamma":
            sigma0 = lambda sp: float(sigma_nunu_pb(sp))  # noqa: E731
        else:
            sigma0 = lambda sp: _born_exact(sp, m, eps)  # noqa: E731
        branches, sums, sw, sw2, n = _chunk(_Task(perfect, ds, seed, 0, n_events, n_events))
        err = math.sqrt(max(sw2 / n - (sw / n) ** 2, 0.0) / n)
        full = _region_integral(rs, sigma0, lambda e, c: 1.0, e_min, cmax)
        rows.append(
            Row(f"{ds.label}: sigma in generation cuts [fb]", "L / phys. §4-5", 1e3 * sw / n, 1e3 * err, 1e3 * full)
        )
        tb = math.acos(setup.cos_theta_b)

        def selected(e, c, rs=rs, tb=tb):
            pre = besiii_preselection(np.array([e]), np.array([c]))[0]
            return float(pre and bbg_symmetric(np.array([e]), np.array([math.acos(c)]), rs, math.cos(tb))[0])

        w = branches["weight"]
        passed = branches["pass_bbg_bbg_cut"]
        mc = 1e3 * w[passed].sum()
        mc_err = 1e3 * math.sqrt((w[passed] ** 2).sum())
        ana = 1e3 * _region_integral(rs, sigma0, selected, e_min, cmax)
        rows.append(Row(f"{ds.label}: after pre-selection + bBG [fb]", "L eq. 1", mc, mc_err, ana, "perfect detector"))
    extra = {}
    spectra = [d for d in setup.datasets if d.process_name == "nunu_gamma" and abs(d.process.beams.beta_z0) < 1e-12]
    if spectra:
        extra["spectrum"] = _nunu_spectrum(spectra[0], perfect, e_min, cmax, n_events, seed)
    for ds in setup.datasets:
        if ds.process_name not in ("ggg", "eeg"):
            continue
        branches, sums, *_ = _chunk(_Task(perfect, ds, seed, 0, n_events // 4, n_events // 4))
        w = branches["weight"]
        det = branches["pass_bbg_detected"]
        passed = branches["pass_bbg_bbg_cut"]
        frac = w[passed].sum() / w[det].sum() if w[det].sum() > 0 else 0.0
        err = math.sqrt((w[passed] ** 2).sum()) / w[det].sum() if w[det].sum() > 0 else 0.0
        rows.append(
            Row(
                f"{ds.label}: fraction passing the bBG cut",
                "L eqs. 1-2",
                frac,
                err,
                0.0,
                "perfect detector: beam-escape kinematics never pass",
            )
        )
    return rows, extra


def _nunu_spectrum(ds, setup, e_min, cmax, n_events, seed) -> dict:
    """Photon energy spectrum of nu nubar gamma inside the generation cuts: MC vs quadrature."""
    from generator.monophoton import sigma_nunu_pb
    from mcpgen.monophoton import _chunk, _Task

    rs = ds.process.beams.sqrt_s0_gev
    branches, *_ = _chunk(_Task(setup, ds, seed + 11, 0, n_events, n_events))
    e = branches["gamma_E_cm_true"]
    w = branches["weight"] * 1e3  # fb
    edges = np.geomspace(e_min, rs / 2, 16)
    h, _ = np.histogram(e, edges, weights=w)
    v, _ = np.histogram(e, edges, weights=w**2)
    s = rs**2

    def band(lo, hi):
        def inner(x):
            return integrate.quad(
                lambda c: _w_radiator(x, c) * float(sigma_nunu_pb(s * (1 - x))), -cmax, cmax, epsrel=1e-7
            )[0]

        return 1e3 * integrate.quad(inner, 2 * lo / rs, min(2 * hi / rs, 1 - 1e-12), epsrel=1e-7)[0]

    expected = np.array([band(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)])
    return {"label": ds.label, "edges_gev": edges, "mc_fb": h, "mc_err_fb": np.sqrt(v), "analytic_fb": expected}
