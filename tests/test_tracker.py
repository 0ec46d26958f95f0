"""Toy tracker: delta-electron counts, ranges, sagitta, finder efficiency and fake rate, and the
paper-faithful expected signal -- each against an independent reference."""

from __future__ import annotations

import dataclasses
import math

import awkward as ak
import numpy as np
import pytest
import reference as ref
from conftest import CARDS
from scipy import integrate

from detsim.eloss import dedx_gev_per_cm
from detsim.finder import fake_rate_analytic, find_roads
from detsim.geometry import Tracker
from detsim.materials import material
from detsim.simulate import random_trigger, simulate
from detsim.tracker import STATUS, numpy_source, simulate_tracker
from generator.kinematics import momentum4d
from mcpgen import generate_events, load_card, run
from mcpgen.rng import uniforms

# G's propane (G §3): rho, Z, A, I
RHO, Z, A, I_EV = 1.864e-3, 26.0, 44.1, 11.0
K_MEV = 0.307075  # MeV cm^2/mol
ME_EV = 0.51099895e6


def pair_events(beta, mass, eps, n, seed=0, cos_theta=None):
    """n back-to-back chi chibar pairs with velocity ``beta``, random azimuth (polar angle fixed
    at 90 deg unless ``cos_theta`` is given)."""
    rng = np.random.default_rng(seed)
    phi = rng.uniform(0, 2 * np.pi, n)
    c = np.zeros(n) if cos_theta is None else np.full(n, cos_theta)
    s = np.sqrt(1 - c**2)
    gamma = 1 / math.sqrt(1 - beta**2)
    p, e = mass * beta * gamma, mass * gamma
    q = np.full(n, eps)
    px, py, pz = p * s * np.cos(phi), p * s * np.sin(phi), p * c
    return ak.zip(
        {
            "chi": momentum4d(px, py, pz, np.full(n, e), charge=-q),
            "chibar": momentum4d(-px, -py, -pz, np.full(n, e), charge=q),
        },
        depth_limit=1,
    )


def tracker(**kw):
    base = dict(half_length_cm=1000.0, cell_size_cm=1.0, field_t=0.0, eloss_model="bethe")
    base.update(kw)
    return Tracker.equally_spaced("propane", 5.0, 100.0, 48, **base)


def test_delta_electron_count_matches_g_eq_11():
    """Mean delta-electrons per MCP over the gas path = G eq. (11); heavy MCP so beta stays fixed."""
    beta, mass, eps, t_min = 0.05, 50.0, 0.02, 1e-6
    ev = pair_events(beta, mass, eps, 20_000, seed=1)
    out = simulate_tracker(ev, tracker(), numpy_source(2))
    n_delta, path = out["n_delta"], out["path_gas"]
    t_max_ev = 2 * ME_EV * beta**2 / (1 - beta**2) / (1 + 2 * ME_EV / (mass * 1e9) / math.sqrt(1 - beta**2))
    per_cm = RHO * K_MEV * 1e6 * Z * eps**2 / (2 * A * beta**2) * (1 / (t_min * 1e9) - 1 / t_max_ev)  # G eq. 11
    expected = per_cm * path.mean()
    err = n_delta.std() / math.sqrt(len(n_delta))
    print(f"delta-electrons per MCP: MC {n_delta.mean():.4f} +- {err:.4f}, G eq. 11 {expected:.4f}")
    assert abs(n_delta.mean() - expected) < 3 * err


@pytest.mark.parametrize(("model", "beta"), [("lindhard", 0.001), ("bethe_frozen", 0.006)])
def test_range_matches_scipy_integral(model, beta):
    """MCPs that stop in the gas: simulated path = int dT / (dE/dx) within 1 %."""
    mass, eps = 1.5, 3e-3
    trk = tracker(eloss_model=model)
    ev = pair_events(beta, mass, eps, 200, seed=3)
    out = simulate_tracker(ev, trk, numpy_source(4))
    stopped = out["status"] == STATUS["stopped_gas"]
    assert stopped.all()
    t0 = mass * (1 / math.sqrt(1 - beta**2) - 1)

    def inverse_dedx(t):
        b = math.sqrt(t * (t + 2 * mass)) / (t + mass)
        return 1.0 / float(dedx_gev_per_cm(b, eps, mass, "propane", model))

    expected, _ = integrate.quad(inverse_dedx, 0.0, t0, limit=400, epsrel=1e-8)
    print(f"{model}: simulated range {out['path_gas'].mean():.3f} cm, quadrature {expected:.3f} cm")
    np.testing.assert_allclose(out["path_gas"], expected, rtol=0.01)
    np.testing.assert_allclose(out["r_end"] - 5.0, expected, rtol=0.01)  # straight, radial (B = 0)


def test_sagitta_matches_curvature_radius():
    """Sagitta of the simulated trajectory vs the circle of radius R = p / (0.3 eps B)."""
    beta, mass, eps, field = 0.02, 1.5, 3e-3, 1.5  # loses < 1 % of its energy over 1 m
    ev = pair_events(beta, mass, eps, 2_000, seed=5)
    trk = tracker(field_t=field)
    out = simulate_tracker(ev, trk, numpy_source(6))
    p = mass * beta / math.sqrt(1 - beta**2)
    radius = 100 * p / (0.299792458 * eps * field)  # cm
    radii = trk.radii
    last = radii[-1]
    mid = radii[np.searchsorted(radii, last / 2)]
    expected = mid * math.sin(math.asin(last / (2 * radius)) - math.asin(mid / (2 * radius)))
    print(f"R = {radius:.1f} cm, sagitta sim {out['sagitta'].mean():.4f} cm, circle {expected:.4f} cm")
    np.testing.assert_allclose(out["radius_of_curvature"], radius, rtol=1e-9)
    np.testing.assert_allclose(out["sagitta"], expected, rtol=0.01)
    assert expected > 10 * trk.resolution_rphi_cm  # the regime where "almost unbent" fails


def test_finder_ideal_lines_efficiency_one():
    """Straight lines through the IP with hit scatter bounded by the tolerance: all found,
    whatever the subset of layers hit (>= 1 per side, >= 4 in total)."""
    rng = np.random.default_rng(7)
    trk = tracker(field_t=0.0)
    n = 20_000
    phi0 = rng.uniform(0, 2 * np.pi, n)
    ev, r, phi = [], [], []
    for shift in (0.0, np.pi):
        for k, radius in enumerate(trk.radii):
            take = rng.random(n) < (0.1 if k else 1.0)  # layer 0 always, others sparse
            sigma = trk.resolution_rphi_cm / radius
            scatter = rng.uniform(-1, 1, take.sum()) * trk.finder_tolerance_sigmas * sigma
            ev.append(np.flatnonzero(take))
            r.append(np.full(take.sum(), radius))
            phi.append(np.mod(phi0[take] + shift + scatter, 2 * np.pi))
    ev, r, phi = (np.concatenate(x) for x in (ev, r, phi))
    order = np.argsort(ev, kind="stable")
    ev, r, phi = ev[order], r[order], phi[order]
    enough = np.bincount(ev, minlength=n) >= 4
    found, best = find_roads(ev, r, phi, n, trk.road_half_bin_rad, 4)
    assert found[enough].all()
    assert (best[enough] == np.bincount(ev, minlength=n)[enough]).all()  # every hit on the road


def test_finder_on_simulated_pairs_with_field_and_noise():
    """Full simulation: slow, bright MCPs; the line finder finds the almost straight ones, the
    circle hypothesis also the curved ones."""
    ev = pair_events(0.03, 1.5, 3e-3, 5_000, seed=8)
    trk = tracker(field_t=1.5, noise_occupancy=1e-4)
    det = simulate(ev, trk, numpy_source(9))
    assert ak.all(det.chi_n_hits >= 4)
    assert ak.mean(det.found_circle) == 1.0
    assert ak.mean(det.found_line) > 0.99


def test_noise_fake_rate_matches_transfer_matrix():
    """Noise-only events at a high occupancy: MC fake rate = exact analytic estimate (pull < 3)."""
    trk = tracker(noise_occupancy=1e-3, circle_min_radius_cm=1e12)  # ~ 31 noise hits per event; lines only
    n = 100_000

    def source(stage, rows, start, stop):
        return uniforms(11, stage, start, stop, rows)

    rt = random_trigger(trk, n, source)
    p_mc = rt["fake_line"] / n
    p_an = rt["fake_rate_line_analytic_per_1e6"] / 1e6
    err = math.sqrt(p_an * (1 - p_an) / n)
    print(f"fake rate per 1e6: MC {p_mc * 1e6:.0f} +- {err * 1e6:.0f}, analytic {p_an * 1e6:.0f}")
    assert rt["fake_line"] > 100
    assert abs(p_mc - p_an) < 3 * err
    assert rt["fake_circle"] == rt["fake_line"]  # no curvature scanned


def test_fake_rate_analytic_limits():
    """Analytic estimate: 0 without noise, -> 1 with a lot, and a small-mu power law ~ mu^4."""
    h = 0.01
    assert fake_rate_analytic(0.0, h) == 0.0
    assert fake_rate_analytic(1e4, h) > 0.999
    r1, r2 = fake_rate_analytic(0.5, h), fake_rate_analytic(1.0, h)
    assert 13 < r2 / r1 < 17  # doubling the noise multiplies rare 4-hit coincidences by ~2^4


def _paper_window_events(card, kind, eps):
    """Independent G eq. (3) integral with the paper's velocity window (ISR off)."""
    b = card.beams
    m = card.process.mass_gev
    lum = card.luminosity_pb
    i_min_ev, l_min, t_min_ev, n_min, length = 25.0, 10.0, 1e3, 2.0, 100.0
    log_ref = 0.5 * math.log((2 * ME_EV * 1e-4) ** 2 / I_EV**2)  # G eq. 4 log frozen at beta = 1e-2
    pre = RHO * K_MEV * 1e6 * Z / A * eps**2  # eV/cm x beta^2

    def accept(beta):
        if kind == "ionization":
            floor = math.sqrt(2 * i_min_ev * l_min / (m * 1e9))
            return pre / beta**2 * log_ref >= i_min_ev and beta >= floor
        t_max = 2 * ME_EV * beta**2 / (1 - beta**2)
        if t_max <= t_min_ev:
            return False
        return pre / (2 * beta**2) * length * (1 / t_min_ev - 1 / t_max) / Z * Z >= n_min

    def integrand(rs):
        beta = math.sqrt(1 - 4 * m * m / (rs * rs))
        gauss = math.exp(-0.5 * ((rs - b.sqrt_s0_gev) / b.sigma_sqrt_s_gev) ** 2) / (
            math.sqrt(2 * math.pi) * b.sigma_sqrt_s_gev
        )
        return gauss * ref.born_pb(rs * rs, m, eps) * accept(beta)

    lo, hi = 2 * m, b.sqrt_s0_gev + 9 * b.sigma_sqrt_s_gev
    grid = np.linspace(lo, hi, 4001)
    vals = np.array([integrand(x) for x in grid[1:]])
    return lum * integrate.simpson(np.concatenate([[0.0], vals]), x=grid)


@pytest.mark.parametrize(("kind", "eps"), [("ionization", 3e-3), ("delta", 3e-2)])
def test_paper_mode_expected_events(tmp_path, kind, eps):
    """sct_3gev at m = sqrt(s0)/2, ISR off: paper-faithful N vs the independent window integral."""
    card = load_card(
        CARDS / "sct_3gev.yaml", ["isr.kernel=off", f"mcp.epsilon={eps}", "detector.finder.random_trigger_events=0"]
    )
    summary = run(card, 100_000 if kind == "ionization" else 30_000, tmp_path, seed=12, progress=False)
    mc = summary["signal_events_expected"][f"paper_{kind}"]
    expected = _paper_window_events(card, kind, eps)
    print(f"paper {kind} eps={eps}: MC {mc['events']:.3f} +- {mc['err']:.3f}, integral {expected:.3f}")
    assert expected > 0.5
    assert abs(mc["events"] - expected) < 3 * mc["err"] + 1e-3 * expected


def test_paper_mode_matches_poisson_on_same_events():
    """Both modes are evaluated on the same events; with the card's thresholds the Poisson-hit
    model sees (much) more than the paper's criteria at eps = 3e-3."""
    card = load_card(CARDS / "sct_3gev.yaml")
    ev = generate_events(card.process, 20_000, seed=13, tracker=card.tracker)
    w = ak.to_numpy(ev.weight)
    n_paper = card.luminosity_pb * (w * ak.to_numpy(ev.detector.paper_ionization)).sum() / w.sum() * w.sum()
    n_poisson = card.luminosity_pb * (w * ak.to_numpy(ev.detector.found_line)).sum()
    assert n_poisson > n_paper > 0


def test_status_codes_and_validity_flags():
    """Slow MCPs below the Bethe validity edge are flagged; MCPs stop in a thick pipe."""
    trk = tracker()
    out = simulate_tracker(pair_events(0.004, 1.5, 3e-3, 100), trk, numpy_source(1))
    assert out["out_of_validity"].all()  # beta = 4e-3 < 5.4e-3 (Bethe maximum in G's propane)
    from detsim.geometry import BeamPipe

    thick = dataclasses.replace(trk, beam_pipe=BeamPipe(material("aluminium"), 3.0, 2.0), eloss_model="lindhard")
    out = simulate_tracker(pair_events(0.004, 1.5, 3e-2, 100), thick, numpy_source(1))
    assert (out["status"] == STATUS["stopped_pipe"]).all()
    assert (out["n_hits"] == 0).all()
    assert out["r_end"].max() <= 5.0


def test_compiled_kernels_match_numpy_reference():
    """The numba stepping and finder give the numpy reference's per-MCP results and event
    decisions exactly, and the same hits (within an event the order of the chi/chibar blocks
    may differ)."""
    import detsim.finder as finder_mod
    import detsim.tracker as tracker_mod

    card = load_card(CARDS / "sct_3gev.yaml")
    ev = generate_events(card.process, 5_000, seed=17)
    results = {}
    for compiled in (False, True):
        tracker_mod.USE_COMPILED_KERNEL = compiled
        finder_mod.USE_COMPILED_KERNEL = compiled
        try:
            results[compiled] = simulate(ev, card.tracker, numpy_source(18))
        finally:
            tracker_mod.USE_COMPILED_KERNEL = True
            finder_mod.USE_COMPILED_KERNEL = True
    a, b = results[False], results[True]
    for name in a.fields:
        if name == "hit":
            continue
        np.testing.assert_allclose(ak.to_numpy(a[name]), ak.to_numpy(b[name]), rtol=1e-9, atol=1e-9)

    def sorted_hits(det):
        ev_idx = np.repeat(np.arange(len(det)), ak.to_numpy(ak.num(det.hit)))
        cols = {f: ak.to_numpy(ak.flatten(det.hit[f])).astype(float) for f in det.hit.fields}
        order = np.lexsort((cols["z"], cols["layer"], cols["source"], ev_idx))
        return {f: c[order] for f, c in cols.items()}

    ha, hb = sorted_hits(a), sorted_hits(b)
    assert len(ha["x"]) > 10_000
    for f in ha:
        np.testing.assert_allclose(ha[f], hb[f], atol=1e-4)


def _keyed_source(seed):
    """One stream per key (as the pipeline): extra streams leave the others' numbers alone."""

    def source(stage, rows, n):
        return uniforms(seed, stage, 0, n, rows)

    return source


def _run_tracker(events, trk, compiled, source, **kw):
    import detsim.tracker as tracker_mod

    tracker_mod.USE_COMPILED_KERNEL = compiled
    try:
        return simulate_tracker(events, trk, source, **kw)
    finally:
        tracker_mod.USE_COMPILED_KERNEL = True


def test_compiled_kernels_match_numpy_with_scattering_and_window():
    """With multiple scattering and a readout window the compiled stepping gives the numpy
    reference's per-MCP results and hits (times included) exactly."""
    card = load_card(CARDS / "sct_3gev.yaml")
    ev = generate_events(card.process, 3_000, seed=21)
    trk = dataclasses.replace(card.tracker, multiple_scattering=True, time_window_ns=600.0)
    a, b = (_run_tracker(ev, trk, compiled, _keyed_source(22)) for compiled in (False, True))
    assert (a["ms_theta0"] > 0).mean() > 0.9 and a["n_hits_late"].sum() > 0
    for key in a:
        if not key.startswith("hit_"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12, err_msg=key)
    order_a = np.lexsort((a["hit_t"], a["hit_layer"], a["hit_source"], a["hit_event"]))
    order_b = np.lexsort((b["hit_t"], b["hit_layer"], b["hit_source"], b["hit_event"]))
    assert len(order_a) == len(order_b) > 30_000
    for key in ("hit_event", "hit_layer", "hit_source", "hit_mech"):
        np.testing.assert_array_equal(a[key][order_a], b[key][order_b])
    for key in ("hit_phi", "hit_z", "hit_t"):
        np.testing.assert_allclose(a[key][order_a], b[key][order_b], rtol=1e-6, atol=1e-4, err_msg=key)


def test_scattering_off_draws_no_new_streams_and_zero_kicks_keep_the_ip_helix():
    """Off (default): only the layer and noise streams are drawn, so the random numbers and
    results stay those of the pure helix. On, with materials of infinite radiation length, the
    general-helix stepping reproduces the IP helix of constant-velocity MCPs (hits to float32
    precision, paths and times to 1e-9)."""
    from detsim import streams
    from detsim.geometry import BeamPipe

    seen = []
    base = _keyed_source(23)

    def spy(stage, rows, n):
        seen.append(tuple(stage))
        return base(stage, rows, n)

    pipe = BeamPipe(material("beryllium"), 3.0, 0.05)
    trk = tracker(field_t=1.5, beam_pipe=pipe, noise_occupancy=1e-4)
    ev = pair_events(0.05, 1.5, 3e-3, 1_000, seed=24, cos_theta=0.3)
    off = _run_tracker(ev, trk, True, spy)
    assert {s[:2] for s in seen} == {streams.LAYER, streams.NOISE}
    assert not off["ms_theta0"].any()
    no_x0 = dataclasses.replace(material("propane"), radiation_length_cm=1e300)
    no_x0_pipe = BeamPipe(dataclasses.replace(material("beryllium"), radiation_length_cm=1e300), 3.0, 0.05)
    on_trk = dataclasses.replace(trk, gas=no_x0, beam_pipe=no_x0_pipe, multiple_scattering=True)
    for compiled in (False, True):
        seen.clear()
        on = _run_tracker(ev, on_trk, compiled, spy)
        assert {s[:2] for s in seen} == {streams.LAYER, streams.NOISE, streams.SCATTER_GAS, streams.SCATTER_PIPE}
        for key in ("status", "n_hits", "n_delta", "hit_layer", "hit_source", "hit_mech"):
            np.testing.assert_array_equal(on[key], off[key])
        for key in ("path_gas", "t_end", "hit_t", "r_end", "beta_min"):
            np.testing.assert_allclose(on[key], off[key], rtol=1e-9)
        np.testing.assert_allclose(on["hit_phi"], off["hit_phi"], atol=2e-6)
        np.testing.assert_allclose(on["hit_z"], off["hit_z"], rtol=1e-6, atol=1e-5)


def test_epsilon_and_mass_passed_in():
    """epsilon= and mass_gev= give what the inference from the events gives."""
    ev = pair_events(0.02, 1.5, 3e-3, 500, seed=25)
    trk = tracker(field_t=1.5)
    a = simulate_tracker(ev, trk, _keyed_source(26))
    b = simulate_tracker(ev, trk, _keyed_source(26), epsilon=3e-3, mass_gev=1.5)
    for key in ("status", "n_hits", "hit_layer"):
        np.testing.assert_array_equal(a[key], b[key])
    for key in ("path_gas", "hit_t", "radius_of_curvature", "beta"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9)


def test_nuclear_stopping_reaches_the_range_tables():
    """``nuclear_stopping`` builds the gas tables with nuclear stopping: MCPs that stop in the
    gas stop at the electronic + nuclear CSDA range, shorter than the electronic one."""
    from detsim.eloss import RangeTable, kinetic_from_beta_gev

    beta, mass, eps = 0.003, 1.5, 1e-2
    ev = pair_events(beta, mass, eps, 200, seed=27)
    k0 = float(kinetic_from_beta_gev(beta, mass))
    ranges = {}
    for nuclear in (False, True):
        trk = tracker(eloss_model="lindhard", nuclear_stopping=nuclear)
        out = simulate_tracker(ev, trk, _keyed_source(28))
        assert (out["status"] == STATUS["stopped_gas"]).all()
        ranges[nuclear] = float(RangeTable(eps, mass, "propane", "lindhard", nuclear=nuclear).range_cm(k0))
        np.testing.assert_allclose(out["path_gas"], ranges[nuclear], rtol=0.01)
    print(f"range: electronic {ranges[False]:.2f} cm, + nuclear {ranges[True]:.2f} cm")
    assert ranges[True] < ranges[False]


def test_stream_keys_unchanged():
    """The stream keys that existed keep their values (same random numbers)."""
    from detsim import streams

    assert streams.DETSIM == 3
    assert streams.LAYER == (3, 1) and streams.NOISE == (3, 2) and streams.RANDOM_TRIGGER == (3, 9)
    assert streams.ecl(1, 2) == (3, 101, 2)
    assert len(set(streams.ALL.values())) == len(streams.ALL)


def test_scattering_with_stopping_and_curling_mcps():
    """Scattering on, MCPs that stop in the pipe or the gas or curl up: every time finite,
    stopping points inside the shells, compiled and numpy paths alike."""
    from detsim.geometry import BeamPipe

    pipe = BeamPipe(material("aluminium"), 3.0, 0.05)
    for model, beta, eps in (("lindhard", 0.003, 1e-2), ("lindhard", 0.01, 1e-2), ("bethe", 0.004, 3e-3)):
        trk = tracker(field_t=1.5, eloss_model=model, multiple_scattering=True, beam_pipe=pipe, noise_occupancy=1e-4)
        ev = pair_events(beta, 1.5, eps, 300, seed=29, cos_theta=0.4)
        a, b = (_run_tracker(ev, trk, compiled, _keyed_source(30)) for compiled in (False, True))
        assert np.isfinite(a["hit_t"]).all() and np.isfinite(a["t_end"]).all()
        stopped = a["status"] == STATUS["stopped_gas"]
        assert (a["r_end"][stopped] >= 5.0).all() and (a["r_end"][stopped] <= 100.0).all()
        for key in a:
            if not key.startswith("hit_"):
                np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12, err_msg=key)


def _mixed_events():
    """Frozen (beta = 0.05), slowing (0.03: compiled stepping), slowing faster (0.015: numpy
    range-table stepping) and stopping (0.008) MCPs of eps = 1e-2 in one chunk, interleaved
    event by event, at four polar angles."""
    parts = [
        pair_events(0.05, 1.5, 1e-2, 150, seed=41, cos_theta=0.8),
        pair_events(0.03, 1.5, 1e-2, 150, seed=42, cos_theta=0.5),
        pair_events(0.015, 1.5, 1e-2, 150, seed=43, cos_theta=0.3),
        pair_events(0.008, 1.5, 1e-2, 150, seed=44, cos_theta=0.0),
    ]
    order = np.random.default_rng(45).permutation(600)
    return ak.concatenate(parts)[order]


def _pass_driver(events, trk, mode, seed):
    """Tracker output with the whole-chunk compiled pass ('pass'), the shell-by-shell compiled
    driver ('layers') or the numpy reference ('numpy')."""
    import detsim._pass_kernels as pass_mod
    import detsim.tracker as tracker_mod

    saved = pass_mod.ndtri_available
    tracker_mod.USE_COMPILED_KERNEL = mode != "numpy"
    pass_mod.ndtri_available = saved and mode == "pass"
    try:
        return simulate_tracker(events, trk, _keyed_source(seed))
    finally:
        tracker_mod.USE_COMPILED_KERNEL = True
        pass_mod.ndtri_available = saved


@pytest.mark.parametrize("scatter", [False, True])
@pytest.mark.parametrize("window", [None, 150.0])
def test_compiled_pass_is_the_layer_driver_bit_for_bit(scatter, window):
    """The whole-chunk pass gives the shell-by-shell compiled driver's output exactly -- every
    hit column in the same order, every per-MCP array -- and the numpy reference's hits and
    per-MCP arrays (integers exactly, floats to 1e-12) up to the order of the chi/chibar blocks
    within an event, on a mix of frozen, slowing, range-table and stopping MCPs, with and
    without multiple scattering and a readout window."""
    from detsim.geometry import BeamPipe

    pipe = BeamPipe(material("beryllium"), 3.0, 0.05)
    trk = tracker(field_t=0.5, eloss_model="lindhard", beam_pipe=pipe, noise_occupancy=3e-4)
    trk = dataclasses.replace(trk, multiple_scattering=scatter, time_window_ns=window, half_length_cm=100.0)
    ev = _mixed_events()
    new, old, ref_np = (_pass_driver(ev, trk, mode, 45) for mode in ("pass", "layers", "numpy"))
    status = np.bincount(new["status"], minlength=6)
    assert status[STATUS["stopped_gas"]] > 50 and status[STATUS["escaped"]] > 50 and status[STATUS["endcap"]] > 50
    assert (new["hit_source"] == 0).sum() > 100 and len(new["hit_event"]) > 10_000
    if window is not None:
        assert new["n_hits_late"].sum() > 100
    assert new.keys() == old.keys()
    for key in new:
        np.testing.assert_array_equal(new[key], old[key], err_msg=key)
    keys = ("hit_t", "hit_phi", "hit_layer", "hit_source", "hit_event")
    order_new, order_np = np.lexsort([new[k] for k in keys]), np.lexsort([ref_np[k] for k in keys])
    for key in new:  # the reference's time and momentum arithmetic rounds differently
        a, b = (new[key][order_new], ref_np[key][order_np]) if key.startswith("hit_") else (new[key], ref_np[key])
        if a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=key)
        else:
            np.testing.assert_array_equal(a, b, err_msg=key)
