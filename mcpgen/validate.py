"""``mcpgen validate``: the MC against every analytic approximation the papers use.

The samples are generated here, each on its own random stream (:meth:`mcpgen.rng.Streams.validation`;
the monophoton rows use the datasets' own streams, i.e. the first events of a run with the same
seed); the analytic references and the table are :mod:`analysis.validation`. :func:`run_validate`
writes ``validation.json``, ``validation.txt`` and the plots, and returns a
:class:`ValidationResult`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import integrate

from analysis.validation import (
    Row,
    born_exact_pb,
    born_g_eq1_pb,
    format_table,
    isr_integral_pb,
    region_integral,
    spectrum_band_fb,
    spread_average,
    w_radiator,
)
from detsim.ecl import StochasticResolution
from detsim.eloss import beta_floor_delta, beta_floor_ionization, dedx_ev_per_cm, delta_rate_per_cm
from detsim.simulate import simulate
from generator.monophoton import sigma_nunu_pb
from generator.two_photon import sigma_tagged_pb

from . import plots
from .build import ChiPairCard, Dataset, MonophotonCard
from .card import DEFAULTS
from .engine import Engine
from .errors import UsageError
from .monophoton_run import MonophotonTask, monophoton_chunk, run_dataset
from .output import jsonable, versions, write_json_atomic, write_text_atomic
from .pipeline import generate_events
from .reach import effect_ladder, simulated_reach
from .results import Result
from .rng import Streams, block_source, resolve_seed

__all__ = ["ValidationResult", "validate_chi_pair", "validate_monophoton", "run_validate"]

#: Validation samples (stream numbers of :meth:`Streams.validation`).
_NO_ISR, _ISR, _DEDX, _SAGITTA, _SPECTRUM, _BEAMS = 0, 1, 2, 4, 11, 12


@dataclass(frozen=True, eq=False)
class ValidationResult(Result):
    """Rows of the validation table and the extra studies (sagitta map, nu nubar gamma spectrum)."""

    card: ChiPairCard | MonophotonCard
    seed: int
    rows: tuple[Row, ...]
    extra: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)

    def table(self) -> str:
        return format_table(self.rows)

    def payload(self) -> dict:
        """The validation.json document."""
        out = {
            "card": self.card.source,
            "seed": self.seed,
            "card_resolved": self.card.data,
            "versions": versions(),
            "rows": [r.as_dict() for r in self.rows],
        }
        if "sagitta" in self.extra:
            out["almost_unbent"] = jsonable(self.extra["sagitta"])
        if "spectrum" in self.extra:
            out["spectrum"] = jsonable(self.extra["spectrum"])
        if "collider_effects" in self.extra:
            out["collider_effects"] = jsonable([step.to_dict() for step in self.extra["collider_effects"]])
        return out

    def to_dict(self) -> dict:
        return {"table": self.table(), "files": self.files, **self.payload()}

    def format(self) -> str:
        lines = [self.table()]
        if "sagitta" in self.extra:
            frac = self.extra["sagitta"]["fraction_bent_beyond_3_sigma"]
            lines.append(f"'almost unbent': sagitta > 3 sigma_rphi on {100 * frac:.0f} % of the (m, eps) grid")
        for step in self.extra.get("collider_effects", ()):
            lines.append(step.format())
        lines.append(f"written: {self.files}")
        return "\n".join(lines)


# --- chi_pair cards -----------------------------------------------------------------------------


def _mc_sigma(process, n: int, seed: int, sample: int) -> tuple[float, float]:
    w = np.asarray(generate_events(process, n, seed=seed, stream=Streams.validation(sample)[0]).weight)
    return w.sum(), math.sqrt(max(w @ w - w.sum() ** 2 / n, 0.0))


def validate_chi_pair(card: ChiPairCard, n_events: int, seed: int) -> tuple[list[Row], dict]:
    """Rows for G eqs. 1, 3, 6, 11, 12, the velocity floors, and the sagitta study."""
    proc, b = card.process, card.beams
    m, eps = proc.mass_gev, proc.epsilon
    if b.spread_model == "none":
        raise UsageError(f"card {card.source}: validate needs a beam-energy spread (G eq. 2)")
    # per-beam spreads: the sqrt(s) Gaussian of the same first-order width (docs/physics.md §10)
    rs0 = b.sqrt_s0_gev
    sigma0 = b.sigma_sqrt_s_gev if b.spread_model == "gaussian_sqrt_s" else float(b.sigma_sqrt_s_effective_gev)
    rows = beam_rows(card, n_events, seed) if b.spread_model == "gaussian_per_beam" or b.crossing_angle_rad else []
    mc, err = _mc_sigma(replace(proc, isr="off"), n_events, seed, _NO_ISR)
    rows.append(
        Row(
            "sigma, beam spread, no ISR [pb]",
            "G eq. 2-3",
            mc,
            err,
            spread_average(lambda s: born_exact_pb(s, m, eps), rs0, sigma0, 2 * m),
        )
    )
    rows.append(
        Row(
            "sigma with G eq. 1 (beta -> 0) [pb]",
            "G eq. 1",
            mc,
            err,
            spread_average(lambda s: born_g_eq1_pb(s, m, eps), rs0, sigma0, 2 * m),
            "approximation: exact beta and (3 - beta^2)/2 in the MC",
        )
    )
    for kernel in ("gorbunov", "kuraev_fadin"):
        p = replace(proc, isr=kernel)
        mc, err = _mc_sigma(p, n_events, seed, _ISR)
        if p.x_max_energy_gev is not None:
            e2 = p.x_max_energy_gev**2
            ana = spread_average(lambda s, k=kernel, e2=e2: isr_integral_pb(s, m, eps, k, e2 / s), rs0, sigma0, 2 * m)
        else:
            ana = spread_average(lambda s, k=kernel, xu=p.x_max: isr_integral_pb(s, m, eps, k, xu), rs0, sigma0, 2 * m)
        rows.append(Row(f"sigma with ISR ({kernel}) [pb]", "G eq. 12", mc, err, ana))
    tracker = card.tracker
    extra = {}
    if tracker is not None:
        gas, crit = tracker.gas, tracker.paper
        # G eq. 6 vs eq. 4 at the produced velocities (both computed by the code; eq. 6 freezes the log)
        generator_stream, detector_stream = Streams.validation(_DEDX)
        n_dedx = 20_000
        ev = generate_events(proc, n_dedx, seed=seed, stream=generator_stream)
        beta = np.asarray(ev.chi_beta)
        w = np.asarray(ev.weight)
        d4 = dedx_ev_per_cm(beta, eps, m, gas, "bethe")
        d6 = dedx_ev_per_cm(beta, eps, m, gas, "bethe_frozen")
        mean4 = float(np.average(d4, weights=w))
        rows.append(
            Row(
                "<dE/dx> at production, eq. 6 vs eq. 4 [eV/cm]",
                "G eq. 4 vs 6",
                mean4,
                float(np.sqrt(np.average((d4 - mean4) ** 2, weights=w) / len(d4))),
                float(np.average(d6, weights=w)),
                "MC column: eq. 4; analytic column: eq. 6",
            )
        )
        # G eq. 11 against the simulated delta-electron count per MCP
        source = block_source(seed, 0, n_dedx, prefix=detector_stream.key)
        det = simulate(ev, tracker, source, epsilon=eps, mass_gev=m)
        nd = np.asarray(det.chi_n_delta, dtype=float)
        eq11 = delta_rate_per_cm(beta, eps, m, gas, tracker.delta_t_min_gev) * np.asarray(det.chi_path_gas)
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
        extra["sagitta"] = _sagitta_study(card, seed)
        ladder = effect_ladder(card)
        if ladder:
            eps_grid = np.geomspace(3e-4, 3e-2, 13)
            extra["collider_effects"] = [
                simulated_reach(
                    step,
                    eps_grid,
                    n_events=min(COLLIDER_EVENTS, n_events),
                    seed=seed,
                    random_trigger_events=0,
                    label=lab,
                )
                for lab, step in ladder
            ]
    return rows, extra


#: generated pairs per step of the collider-effects ladder of ``mcpgen validate`` (fewer when the
#: validation itself runs fewer events per estimate)
COLLIDER_EVENTS = 10_000


def beam_rows(card: ChiPairCard, n_events: int, seed: int) -> list[Row]:
    """The CM motion of crossing beams with per-beam spreads (docs/physics.md §10): mean beta_x
    = sin(theta_c/2) cos-independent of the spread, and sigma(beta_z) to first order in the widths,
    sigma^2 = cos^2(theta_c/2) 4 (E2^2 s1^2 + E1^2 s2^2) / (E1 + E2)^4."""
    b = card.beams
    u = Streams.validation(_BEAMS)[0].uniforms(seed, 0, n_events, 2)
    frame = b.sample_frame(u, 2.0 * card.process.mass_gev)
    bx, bz = np.asarray(frame.beta_x), np.asarray(frame.beta_z)
    h = 0.5 * b.crossing_angle_rad
    e1, e2 = b.electron_energy_gev, b.positron_energy_gev
    s1, s2 = b.sigma_electron_gev, b.sigma_positron_gev
    sigma_bz = math.cos(h) * 2.0 * math.hypot(e2 * s1, e1 * s2) / (e1 + e2) ** 2
    w = np.asarray(frame.weight)  # draws are importance-sampled above threshold: weight them
    n = len(bz)
    n_eff = float(w.sum() ** 2 / (w @ w)) if w.any() else 1.0
    bz_mean = float(np.average(bz, weights=w))
    bz_std = float(np.sqrt(np.average((bz - bz_mean) ** 2, weights=w)))
    rows = [Row("mean CM beta_x", "§10: sin(theta_c/2)", float(bx.mean()), float(bx.std() / math.sqrt(n)), math.sin(h))]
    if b.spread_model == "gaussian_per_beam":
        rows.append(
            Row(
                "sigma(beta_z) of the CM",
                "§10 (first order)",
                bz_std,
                bz_std / math.sqrt(2 * n_eff),
                sigma_bz,
                "weighted draws above the pair threshold; beta_z is independent of sqrt(s) to first order",
            )
        )
    return rows


def _sagitta_study(card: ChiPairCard, seed: int) -> dict:
    """'Almost unbent' (G §2): sagitta over the tracker vs the point resolution on a (m, eps) grid,
    for the typical velocity of pairs at each mass (median beta). Radius of curvature
    R = p / (0.3 eps B) [m, GeV, T]; sagitta over a chord L: R - sqrt(R^2 - L^2/4)."""
    tracker, b = card.tracker, card.beams
    masses = b.sqrt_s0_gev / 2 + np.linspace(-0.01, 0.004, 15)
    epsilons = np.geomspace(1e-4, 1e-1, 16)
    chord = tracker.radii[-1]
    ratio = np.full((len(masses), len(epsilons)), np.nan)
    stream = Streams.validation(_SAGITTA)[0]
    for i, m in enumerate(masses):
        if 2 * m >= b.reach_gev():
            continue
        ev = generate_events(replace(card.process, mass_gev=float(m)), 5_000, seed=seed, stream=stream)
        beta = np.median(np.asarray(ev.chi_beta))
        p = m * beta / math.sqrt(1 - beta**2)
        for j, eps in enumerate(epsilons):
            radius = 100 * p / (0.299792458 * eps * tracker.field_t)
            sag = radius - math.sqrt(max(radius**2 - chord**2 / 4, 0.0)) if radius > chord / 2 else chord / 2
            ratio[i, j] = sag / tracker.resolution_rphi_cm
    return {
        "masses_gev": masses,
        "epsilons": epsilons,
        "sagitta_over_resolution": ratio,
        "fraction_bent_beyond_3_sigma": float(np.nanmean(ratio > 3)),
    }


# --- monophoton cards ---------------------------------------------------------------------------


def validate_monophoton(card: MonophotonCard, n_events: int, seed: int) -> tuple[list[Row], dict]:
    """Rows for L's monophoton and nu nubar gamma integrals (generation cuts, and after the
    pre-selection + bBG cut on a perfect detector), and the bBG-cut test with beam-escape events."""
    perfect = replace(card, calorimeter=replace(card.calorimeter, resolution=StochasticResolution(0.0), efficiency=1.0))
    perfect = replace(perfect, selection=replace(card.selection, bbg_margin_sigma=0.0))  # L's cut as printed
    e_min, cmax = card.e_gamma_min_gev, card.cos_theta_max
    m, eps = card.mass_gev, card.epsilon
    rows = []
    symmetric = [d for d in card.datasets if abs(d.process.beams.beta_z0) <= 1e-12]
    with Engine(seed, chunk_size=card.run.chunk_size) as engine:
        for ds in symmetric:
            if ds.process_name not in ("nunu_gamma", "chi_pair_gamma"):
                continue
            rs = ds.process.beams.sqrt_s0_gev
            if ds.process_name == "nunu_gamma":
                sigma0 = _last_value(lambda sp: float(sigma_nunu_pb(sp)))
            else:
                sigma0 = _last_value(lambda sp: born_exact_pb(sp, m, eps))
            stats = run_dataset(engine, perfect, ds, n_events)
            sigma, err = stats.total.sigma_pb(n_events)
            full = region_integral(rs, sigma0, lambda e, c: 1.0, e_min, cmax)
            rows.append(
                Row(f"{ds.label}: sigma in generation cuts [fb]", "L / phys. §4-5", 1e3 * sigma, 1e3 * err, 1e3 * full)
            )
            x_hi = 1.0 - 4.0 * m * m / rs**2 if ds.process_name == "chi_pair_gamma" else 1.0

            passed = stats.cutflow.final("bbg")
            mc, mc_err = 1e3 * passed.sum_w / n_events, 1e3 * math.sqrt(passed.sum_w2) / n_events
            ana = 1e3 * _selected_integral(rs, sigma0, e_min, cmax, card.cos_theta_b, x_hi)
            rows.append(
                Row(f"{ds.label}: after pre-selection + bBG [fb]", "L eq. 1", mc, mc_err, ana, "perfect detector")
            )
        for ds in card.datasets:
            if ds.process_name != "gg":
                continue
            # e+e- -> gamma gamma: one photon tagged in the CM window, QED (generator/two_photon.py)
            stats = run_dataset(engine, perfect, ds, n_events)
            sigma, err = stats.total.sigma_pb(n_events)
            ana = sigma_tagged_pb(ds.process.beams.sqrt_s0_gev, cmax)
            rows.append(Row(f"{ds.label}: sigma in generation cuts [pb]", "QED, phys. §8", sigma, err, ana, "m_e -> 0"))
        extra = {}
        spectra = [d for d in symmetric if d.process_name == "nunu_gamma"]
        if spectra:
            extra["spectrum"] = _nunu_spectrum(engine, perfect, spectra[0], n_events)
        for ds in card.datasets:
            if ds.process_name not in ("ggg", "eeg"):
                continue
            if "bbg" not in card.selection.chain_names:  # BaBar: CM windows, no bBG cut (L BaBar section)
                continue
            n = n_events // 4
            bbg = dict(run_dataset(engine, perfect, ds, n).cutflow.chains["bbg"])
            det, passed = bbg["detected"], bbg["bbg_cut"]
            frac = passed.sum_w / det.sum_w if det.sum_w > 0 else 0.0
            err = math.sqrt(passed.sum_w2) / det.sum_w if det.sum_w > 0 else 0.0
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


def _selected_integral(sqrt_s, sigma0, e_min, cmax, cos_theta_b, x_hi=1.0):
    """int dcos dx W(x, theta) sigma0(s(1 - x)) (:func:`analysis.validation.w_radiator`) over the
    BESIII pre-selection (E > 25 MeV with |cos| < 0.8, E > 50 MeV with 0.86 < |cos| < 0.92;
    :func:`analysis.selections.besiii_preselection`) and the bBG cut E > E_m(theta) (L eq. 1, E_m
    capped at sqrt(s)/2; :func:`analysis.selections.bbg_symmetric`), |cos| < ``cmax``, E > ``e_min``:
    the region's edges are the limits of the inner integral, so the integrand is smooth (the
    reference of the "after pre-selection + bBG" rows). ``x_hi``: upper end of x = 2E/sqrt(s)."""
    s = sqrt_s**2
    sin_b = math.sqrt(1.0 - cos_theta_b**2)
    top = min(x_hi, 1.0 - 1e-12)

    def inner(c, e_thr):
        e_m = sqrt_s / (1.0 + math.sqrt(max(1.0 - c * c, 0.0)) / sin_b)
        if e_m >= 0.5 * sqrt_s:
            return 0.0
        lo = 2.0 * max(e_thr, e_min, e_m) / sqrt_s
        if lo >= top:
            return 0.0
        return integrate.quad(lambda x: w_radiator(x, c) * sigma0(s * (1.0 - x)), lo, top, epsrel=1e-8, limit=200)[0]

    total = 0.0
    for c_lo, c_hi, e_thr in ((0.0, 0.8, 0.025), (0.86, 0.92, 0.05)):
        c_hi = min(c_hi, cmax)
        if c_hi > c_lo:
            total += 2.0 * integrate.quad(inner, c_lo, c_hi, args=(e_thr,), epsrel=1e-8, limit=200)[0]
    return total


def _last_value(f):
    """``f`` of one float argument, remembering its last call: the inner quadrature of
    :func:`analysis.validation.region_integral` calls sigma0(s') at one s' for every cos theta."""
    memo = [None, 0.0]

    def g(x):
        if memo[0] != x:
            memo[0], memo[1] = x, f(x)
        return memo[1]

    return g


def _nunu_spectrum(engine: Engine, card: MonophotonCard, ds: Dataset, n_events: int) -> dict:
    """Photon energy spectrum of nu nubar gamma inside the generation cuts: MC (its own sample)
    against the quadrature of W(x, theta) sigma_nunu(s') (docs/physics.md §5)."""
    rs = ds.process.beams.sqrt_s0_gev
    sample = replace(ds, streams=Streams.validation(_SPECTRUM))

    def task(start, stop):
        return MonophotonTask(card.calorimeter, card.selection, sample, engine.seed, start, stop, n_events)

    events, _ = engine.collect(monophoton_chunk, engine.tasks(n_events, task))
    e = np.asarray(events.e_gamma_cm)
    w = np.asarray(events.weight) * 1e3  # fb
    edges = np.geomspace(card.e_gamma_min_gev, rs / 2, 16)
    h, _ = np.histogram(e, edges, weights=w)
    v, _ = np.histogram(e, edges, weights=w**2)
    expected = np.array(
        [
            spectrum_band_fb(rs, sigma_nunu_pb, a, b, card.cos_theta_max)
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        ]
    )
    return {"label": ds.label, "edges_gev": edges, "mc_fb": h, "mc_err_fb": np.sqrt(v), "analytic_fb": expected}


# --- the command ------------------------------------------------------------------------------


def run_validate(card, out_dir, n_events: int | None = None, seed=None) -> ValidationResult:
    """The validation table of ``card``: validation.json, validation.txt and plots in ``out_dir``.
    ``n_events``: events per MC estimate (default per card kind, :data:`mcpgen.card.DEFAULTS`);
    ``seed``: None takes the card's ``run.seed``."""
    seed = resolve_seed(card.run.seed if seed is None else seed)
    n = int(n_events or DEFAULTS["validate"]["events"][card.kind])
    if isinstance(card, MonophotonCard):
        rows, extra = validate_monophoton(card, n, seed)
    else:
        rows, extra = validate_chi_pair(card, n, seed)
    result = ValidationResult(card, seed, tuple(rows), extra)
    out = Path(out_dir)
    files = {"json": str(out / "validation.json")}
    if "sagitta" in extra:
        sag = extra["sagitta"]
        x = (sag["masses_gev"] - card.beams.sqrt_s0_gev / 2) * 1e3
        figure = plots.sagitta_map(x, sag["epsilons"], sag["sagitta_over_resolution"])
        files["sagitta_png"] = plots.save(figure, out / "sagitta", ("png",))["png"]
    if "collider_effects" in extra:
        flags = ("found_line", "found_circle", "found_boosted", "paper_either")
        title = f"{card.name}: m = {card.process.mass_gev:g} GeV, each collider effect switched on in turn"
        figure = plots.collider_effects(extra["collider_effects"], flags, title)
        files["collider_effects_png"] = plots.save(figure, out / "collider_effects", ("png",))["png"]
    if "spectrum" in extra:
        spec = extra["spectrum"]
        figure = plots.nunu_spectrum(
            spec["edges_gev"], spec["mc_fb"], spec["mc_err_fb"], spec["analytic_fb"], spec["label"]
        )
        files["spectrum_png"] = plots.save(figure, out / "spectrum", ("png",))["png"]
    write_json_atomic(out / "validation.json", jsonable(result.payload()))
    write_text_atomic(out / "validation.txt", result.table() + "\n")
    files["txt"] = str(out / "validation.txt")
    return replace(result, files=files)
