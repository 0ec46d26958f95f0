"""Track-finder hypotheses side by side (line, circle, boosted pair): synthetic straight tracks,
noise-only fake rates against exact and leading-order analytic estimates, events with one MCP
only, and efficiencies on generated pairs head-on and with a 60 mrad crossing angle."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detsim import _pass_kernels, finder
from detsim.finder import (
    HYPOTHESES,
    fake_rate_analytic,
    fake_rate_boosted_analytic,
    find_pairs,
    find_two_rays,
    n_half_bins,
)
from detsim.geometry import BeamPipe, Tracker
from detsim.materials import material
from detsim.simulate import random_trigger, simulate
from detsim.tracker import STATUS, noise_hits, numpy_source, simulate_tracker
from generator import ChiPair
from generator.beams import Beams
from generator.kinematics import momentum4d

MASS, EPS = 1.5, 3e-3  # the sct_3gev benchmark (G §4)


def sct_tracker(**kw) -> Tracker:
    """The tracker of cards/sct_3gev.yaml, built here so the test does not depend on the cards."""
    base = dict(
        half_length_cm=100.0,
        cell_size_cm=2.0,
        field_t=1.5,
        noise_occupancy=1e-4,
        circle_min_radius_cm=300.0,
        beam_pipe=BeamPipe(material("beryllium"), 3.0, 0.05),
    )
    base.update(kw)
    return Tracker.equally_spaced("propane", 5.0, 100.0, 48, **base)


def track_hits(trk: Tracker, directions, rng, p_layer=0.5):
    """Hits of straight tracks from the IP, one per row of ``directions`` (n_events, n_tracks)
    [rad]: every layer fires with probability ``p_layer`` (the first two always), each hit
    scattered uniformly within +- k sigma_rphi about the line (the finder's tolerance)."""
    n, n_tracks = directions.shape
    ev, r, phi = [], [], []
    for t in range(n_tracks):
        for k, radius in enumerate(trk.radii):
            take = np.ones(n, bool) if k < 2 else rng.random(n) < p_layer
            tol = trk.finder_tolerance_sigmas * trk.resolution_rphi_cm / radius
            ev.append(np.flatnonzero(take))
            r.append(np.full(take.sum(), radius))
            phi.append(np.mod(directions[take, t] + rng.uniform(-tol, tol, take.sum()), 2 * np.pi))
    ev, r, phi = (np.concatenate(x) for x in (ev, r, phi))
    order = np.argsort(ev, kind="stable")
    return ev[order], r[order], phi[order]


def run_finder(trk: Tracker, ev, r, phi, n):
    return find_pairs(
        ev,
        r,
        phi,
        n,
        trk.road_half_bin_rad,
        trk.finder_min_hits,
        trk.outer_radius_cm,
        trk.circle_min_radius_cm,
    )


def lab_directions(beta_cm_x, beta_star, phi_star):
    """Transverse lab directions [rad] of chi and chibar emitted at +-beta* along phi* in the
    transverse plane of a CM moving with beta_x (non-relativistic velocity addition,
    docs/physics.md §14)."""
    vx = beta_cm_x + np.array([1.0, -1.0])[None, :] * beta_star * np.cos(phi_star)[:, None]
    vy = np.array([1.0, -1.0])[None, :] * beta_star * np.sin(phi_star)[:, None]
    return np.arctan2(vy, vx)


def test_same_side_pair_found_only_by_boosted():
    """Two straight tracks from the IP, both towards +x (beta_x = 0.03 > beta* = 0.015), opening
    between 0.1 rad and 90 deg: the boosted hypothesis finds all, line and circle none."""
    rng = np.random.default_rng(1)
    trk = sct_tracker()
    n = 20_000
    phi_star = rng.uniform(0, 2 * np.pi, n)
    direction = lab_directions(0.03, 0.015, phi_star)
    opening = np.abs(np.angle(np.exp(1j * (direction[:, 0] - direction[:, 1]))))
    keep = (opening > 0.1) & (opening < np.pi / 2)
    direction, n = direction[keep], int(keep.sum())
    assert n > 10_000
    ev, r, phi = track_hits(trk, direction, rng)
    res = run_finder(trk, ev, r, phi, n)
    assert res["found_boosted"].all()
    assert (res["hits_boosted"] == np.bincount(ev, minlength=n)).all()  # every hit on a ray
    assert not res["found_line"].any()
    assert not res["found_circle"].any()


def test_back_to_back_pair_found_by_all_three():
    """Head-on (beta_x = 0): back-to-back straight tracks are found by every hypothesis."""
    rng = np.random.default_rng(2)
    trk = sct_tracker()
    n = 20_000
    direction = lab_directions(0.0, 0.015, rng.uniform(0, 2 * np.pi, n))
    ev, r, phi = track_hits(trk, direction, rng)
    res = run_finder(trk, ev, r, phi, n)
    for h in HYPOTHESES:
        assert res[f"found_{h}"].all(), h
    assert (res["hits_boosted"] == res["hits_line"]).all()


def test_two_rays_kernel_matches_numpy_and_pair_enumeration():
    """Compiled and numpy two-ray finders agree exactly, and both with a direct enumeration of
    all ray pairs (written here) on dense noise of a small ring."""
    rng = np.random.default_rng(3)
    n, n_h, mean = 3000, 16, 4.0
    half_bin = np.pi / (n_h // 2)
    assert n_half_bins(half_bin) == n_h
    counts = rng.poisson(mean, n)
    ev = np.repeat(np.arange(n), counts)
    phi = rng.uniform(0, 2 * np.pi, len(ev))
    inner = rng.random(len(ev)) < 0.4
    for k, n_min, sep, flags in ((2, 4, 3, None), (1, 4, 3, None), (2, 5, 2, None), (2, 4, 3, inner)):
        found, best = find_two_rays(ev, phi, n, half_bin, n_min, k, sep, flags)
        try:
            finder.USE_COMPILED_KERNEL = False
            found_np, best_np = find_two_rays(ev, phi, n, half_bin, n_min, k, sep, flags)
        finally:
            finder.USE_COMPILED_KERNEL = True
        np.testing.assert_array_equal(best, best_np)
        np.testing.assert_array_equal(found, found_np)
        half = (phi // (2 * np.pi / n_h)).astype(int)
        c, c_inner = np.zeros((n, n_h), int), np.zeros((n, n_h), int)
        np.add.at(c, (ev, half), 1)
        np.add.at(c_inner, (ev, half), np.ones(len(ev), int) if flags is None else flags)
        road = c + np.roll(c, -1, axis=1)
        qualifies = (road >= k) & (c_inner + np.roll(c_inner, -1, axis=1) > 0)
        j, l = np.meshgrid(np.arange(n_h), np.arange(n_h), indexing="ij")
        dist = np.minimum(abs(j - l), n_h - abs(j - l))
        ok = (dist >= sep)[None] & qualifies[:, :, None] & qualifies[:, None, :]
        total = np.where(ok, road[:, :, None] + road[:, None, :], 0).max(axis=(1, 2))
        np.testing.assert_array_equal(best, total)
        assert found.sum() > 100


def test_noise_fake_rates_match_analytic():
    """Noise-only events at 10x the sct_3gev occupancy (7.9 noise hits per event): MC fake rates
    of the line and boosted hypotheses = their exact analytic values (pull < 3); the circle scan
    contains the line."""
    trk = sct_tracker(noise_occupancy=1e-3)
    n = 100_000

    def source(stage, rows, start, stop):
        return np.random.default_rng([11, *stage, start]).random((rows, stop - start))

    rt = random_trigger(trk, n, source)
    for h in ("line", "boosted"):
        p_an = rt[f"fake_rate_{h}_analytic_per_1e6"] / 1e6
        err = math.sqrt(p_an * (1 - p_an) / n)
        p_mc = rt[f"fake_{h}"] / n
        print(f"{h}: fake rate per 1e6 MC {p_mc * 1e6:.0f} +- {err * 1e6:.0f}, analytic {p_an * 1e6:.0f}")
        assert rt[f"fake_{h}"] >= 10
        assert abs(p_mc - p_an) < 3 * err
    assert rt["fake_circle"] >= rt["fake_line"]
    assert rt["fake_boosted"] > 50 * rt["fake_line"]  # two free rays are far more permissive


def test_noise_fake_rate_with_inner_hit_matches_analytic():
    """The same with the optional inner-hit rule (each ray needs a hit in the inner half of the
    layers): MC = exact analytic value with the noise fraction on those layers, counted here
    from the cells (noise is Poisson per cell)."""
    trk = sct_tracker(noise_occupancy=2e-3)
    n = 100_000
    cut = trk.shell_edges_cm[trk.n_layers // 2]
    hits = noise_hits(trk, lambda stage, rows, m: np.random.default_rng([12, *stage]).random((rows, m)), n)
    order = np.argsort(hits["hit_event"], kind="stable")
    ev, r, phi = (hits[key][order] for key in ("hit_event", "hit_r", "hit_phi"))
    res = find_pairs(ev, r, phi, n, trk.road_half_bin_rad, 4, 100.0, 1e12, ray_inner_radius_cm=cut)
    cells = 2 * np.pi * trk.radii / trk.cell_size_cm
    fraction = cells[: trk.n_layers // 2].sum() / cells.sum()
    mu = trk.noise_occupancy * trk.cells_per_layer.sum()
    p_an = fake_rate_boosted_analytic(mu, trk.road_half_bin_rad, 4, inner_fraction=fraction)
    err = math.sqrt(p_an * (1 - p_an) / n)
    p_mc = res["found_boosted"].mean()
    print(f"inner fraction {fraction:.3f}: MC {p_mc * 1e6:.0f} +- {err * 1e6:.0f}, analytic {p_an * 1e6:.0f} per 1e6")
    assert res["found_boosted"].sum() > 300
    assert abs(p_mc - p_an) < 3 * err
    assert p_an < fake_rate_boosted_analytic(mu, trk.road_half_bin_rad, 4)


def test_boosted_fake_rate_analytic_limits():
    """The exact rate -> 0 without noise, -> 1 with a lot; at small mu it tends to the
    leading-order count 3 (mu^4/4!) (3/H)^2 (two pairs of hits, each within one ray); looser
    rules fire more often."""
    h = 0.013  # ~ sct_3gev
    n_h = n_half_bins(h)
    assert fake_rate_boosted_analytic(0.0, h) == 0.0
    assert fake_rate_boosted_analytic(400.0, h) > 0.999
    for mu in (0.1, 0.5):
        leading = 3 * mu**4 / 24 * (3 / n_h) ** 2
        ratio = fake_rate_boosted_analytic(mu, h) / leading
        print(f"mu = {mu}: exact / leading order = {ratio:.4f}")
        assert abs(ratio - 1) < 0.05  # corrections O(few / H) and O(mu / H)
    mu = 0.8
    strict = fake_rate_boosted_analytic(mu, h)
    assert fake_rate_boosted_analytic(mu, h, min_per_ray=1) > strict
    assert fake_rate_boosted_analytic(mu, h, separation=2) > strict
    assert strict > 50 * fake_rate_analytic(mu, h)


def test_single_straight_track_is_not_a_pair():
    """A single straight track whose hits straddle a half-bin edge (the worst case): the one
    half-bin gap between rays keeps it from being split into two rays."""
    rng = np.random.default_rng(4)
    trk = sct_tracker()
    n = 2000
    n_h = n_half_bins(trk.road_half_bin_rad)
    width = 2 * np.pi / n_h
    edge = width * rng.integers(0, n_h, n)
    ev = np.repeat(np.arange(n), trk.n_layers)
    side = np.tile(np.where(np.arange(trk.n_layers) % 2, 0.3, -0.3), n)
    phi = np.mod(edge[ev] + side * width, 2 * np.pi)
    r = np.tile(trk.radii, n)
    res = run_finder(trk, ev, r, phi, n)
    assert not res["found_boosted"].any()
    assert not res["found_line"].any()
    found, _ = find_two_rays(ev, phi, n, trk.road_half_bin_rad, 4, 2, separation=2)
    assert found.all()  # without the gap every such track would pass as a pair


def test_event_with_one_mcp_only():
    """The chibar stops in the beam pipe, the chi crosses the tracker: no hypothesis sees a pair
    (G asks for >= 1 hit from each MCP; the boosted rays need >= 2 hits each, one half-bin
    apart). At eps = 3e-3 even 7.5 eV of kinetic energy crosses 0.5 mm of Be (stopping ~ eps^2),
    so the pipe here is 5 mm of aluminium. No field: a curved single track can be split into two
    rays (a documented limitation, see detsim.finder)."""
    rng = np.random.default_rng(5)
    n = 2000
    trk = sct_tracker(noise_occupancy=0.0, field_t=0.0, beam_pipe=BeamPipe(material("aluminium"), 3.0, 0.5))
    phi = rng.uniform(0, 2 * np.pi, n)
    fast, slow = 0.03, 1e-4  # kinetic energy of the slow one: 7.5 eV
    p_fast = MASS * fast / math.sqrt(1 - fast**2)
    p_slow = MASS * slow / math.sqrt(1 - slow**2)
    q = np.full(n, EPS)
    events = ak.zip(
        {
            "chi": momentum4d(
                p_fast * np.cos(phi), p_fast * np.sin(phi), 0 * q, np.hypot(MASS, p_fast) + 0 * q, charge=-q
            ),
            "chibar": momentum4d(
                p_slow * np.cos(phi), p_slow * np.sin(phi), 0 * q, np.hypot(MASS, p_slow) + 0 * q, charge=q
            ),
        },
        depth_limit=1,
    )
    det = simulate(events, trk, numpy_source(6), epsilon=EPS, mass_gev=MASS)
    assert (ak.to_numpy(det.chibar_status) == STATUS["stopped_pipe"]).all()
    assert (ak.to_numpy(det.chi_n_hits) >= 4).all()
    for h in HYPOTHESES:
        assert not ak.any(det[f"found_{h}"]), h


def test_simulate_takes_epsilon_and_mass_and_records_hit_times():
    """epsilon and mass passed in give the record inferred from the events when they agree; the
    paper criteria follow the epsilon passed in; hit times reach the record when the tracker
    records them."""
    trk = sct_tracker()
    beams = Beams.symmetric(3.0, 0.0021)
    proc = ChiPair(beams, MASS, EPS)
    events = proc.generate(np.random.default_rng(7).random((proc.n_uniforms, 500)))
    given = simulate(events, trk, numpy_source(8), epsilon=EPS, mass_gev=MASS)
    inferred = simulate(events, trk, numpy_source(8))
    assert given.fields == inferred.fields
    mass_data = float(np.asarray(events["chi"].mass)[0])  # from E and p: equal to MASS up to rounding
    assert abs(mass_data - MASS) < 1e-9
    for name in given.fields:
        a, b = (ak.to_numpy(ak.flatten(ak.ravel(x[name]), axis=None)) for x in (given, inferred))
        if name == "hit":
            continue
        np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-6, atol=1e-6, err_msg=name)
    for axis in ("x", "y", "z", "layer"):
        np.testing.assert_allclose(ak.flatten(given.hit[axis]), ak.flatten(inferred.hit[axis]), rtol=1e-6)
    for h in HYPOTHESES:
        assert f"found_{h}" in given.fields and f"hits_{h}" in given.fields
    assert ak.any(given.paper_ionization)
    bright = simulate(events, trk, numpy_source(8), epsilon=0.3, mass_gev=MASS)  # dE/dx x 1e4
    assert ak.sum(bright.paper_ionization) >= ak.sum(given.paper_ionization)
    out = simulate_tracker(events, trk, numpy_source(8))
    if "hit_t" not in out:
        pytest.skip("tracker without hit times")
    t = ak.to_numpy(ak.flatten(given.hit.t))
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t, np.asarray(out["hit_t"], dtype=np.float32))


@pytest.mark.parametrize("angle", [0.0, 0.06])
def test_efficiency_head_on_and_with_crossing_angle(angle):
    """sct_3gev pairs (m = 1.5 GeV, eps = 3e-3, 1.5 T, noise 1e-4) through the full simulation:
    head-on all three hypotheses find the pair; at 60 mrad (beta_x = 0.030, docs/physics.md
    §10) the line and circle lose almost every pair (§14), the boosted hypothesis keeps it."""
    n = 6000
    beams = Beams.symmetric(3.0, 0.0021, crossing_angle_rad=angle)
    proc = ChiPair(beams, MASS, EPS)
    events = proc.generate(np.random.default_rng(9).random((proc.n_uniforms, n)))
    np.testing.assert_allclose(ak.to_numpy(events.beta_x), math.sin(angle / 2), atol=1e-12)
    det = simulate(events, sct_tracker(), numpy_source(10), epsilon=EPS, mass_gev=MASS)
    w = ak.to_numpy(events.weight)
    chi, bar = ak.to_numpy(det.chi_n_hits), ak.to_numpy(det.chibar_n_hits)
    pair = (chi >= 2) & (bar >= 2)  # hits enough for two rays
    assert (w * pair).sum() / w.sum() > 0.95
    eff = {h: (w * ak.to_numpy(det[f"found_{h}"]) * pair).sum() / (w * pair).sum() for h in HYPOTHESES}
    print(f"crossing angle {angle}: efficiencies among pairs with >= 2 hits per MCP {eff}")
    assert eff["boosted"] > 0.97
    if angle == 0.0:
        assert eff["line"] > 0.97 and eff["circle"] > 0.97
    else:
        assert eff["line"] < 0.05 and eff["circle"] < 0.25


@pytest.mark.parametrize("inner", [None, 40.0])
def test_grouped_pass_matches_find_pairs_exactly(inner):
    """find_pairs_grouped (every hypothesis in one compiled pass over event-grouped hits) gives
    find_pairs's flags and counts exactly -- compiled per-hypothesis kernels and numpy
    reference alike -- on simulated sct_3gev pairs at 30x the noise, where all three
    hypotheses and the circle scan are exercised."""
    trk = sct_tracker(noise_occupancy=3e-3)
    proc = ChiPair(Beams.symmetric(3.0, 0.0021), MASS, EPS)
    events = proc.generate(np.random.default_rng(9).random((proc.n_uniforms, 3000)))
    out = simulate_tracker(events, trk, numpy_source(10), epsilon=EPS, mass_gev=MASS)
    n = len(events)
    counts = np.bincount(out["hit_event"], minlength=n)
    out["hit_r"][::7] *= np.float32(0.99)  # off the layer radius, as the hit of an MCP stopping in the cell
    args = (trk.road_half_bin_rad, 4, trk.outer_radius_cm, trk.circle_min_radius_cm)
    grouped = finder.find_pairs_grouped(counts, out["hit_r"], out["hit_phi"], *args, ray_inner_radius_cm=inner)
    layers = {"hit_layer": out["hit_layer"], "layer_radii_cm": trk.radii}  # tabulated circle shifts
    tabulated = finder.find_pairs_grouped(
        counts, out["hit_r"], out["hit_phi"], *args, ray_inner_radius_cm=inner, **layers
    )
    per_hypothesis = {}
    for compiled in (True, False):
        finder.USE_COMPILED_KERNEL = compiled
        try:  # in float64, as the kernels read them (numpy on float32 bins in float32)
            ev, r, phi = out["hit_event"], out["hit_r"].astype(float), out["hit_phi"].astype(float)
            per_hypothesis[compiled] = find_pairs(ev, r, phi, n, *args, ray_inner_radius_cm=inner)
        finally:
            finder.USE_COMPILED_KERNEL = True
    assert grouped["found_circle"].sum() > grouped["found_line"].sum() > 100
    assert (grouped["hits_boosted"] > 0).sum() > 100
    for reference in (*per_hypothesis.values(), tabulated):
        assert grouped.keys() == reference.keys()
        for key in grouped:
            np.testing.assert_array_equal(grouped[key], reference[key], err_msg=key)


@given(
    x=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(min_value=-30.0, max_value=30.0),
        st.sampled_from([0.0, -0.0, 2 * math.pi, -2 * math.pi, math.pi, -math.pi, 5e-324, -5e-324]),
        st.sampled_from([3 * 5e-324, -3 * 5e-324, 7 * 5e-324, 1e-310, -2.5e-310, 1e300, -1e300]),
    ),
    y=st.sampled_from([2 * math.pi, 2 * math.pi / 484, 0.1, 1.0, 3.0, 1e-300, 5e-324]),
)
@settings(max_examples=3000, deadline=None)
def test_compiled_float_divmod_is_pythons(x, y):
    """The compiled passes' float remainder and floor division (shift-and-subtract, no library
    fmod) equal Python's divmod bit for bit, signs of zero included; NaN for infinite x."""
    fd, mod = _pass_kernels._py_divmod(x, y)
    if not math.isfinite(x):
        assert math.isnan(mod)
        return
    ref_fd, ref_mod = divmod(x, y)
    assert (mod, math.copysign(1.0, mod)) == (ref_mod, math.copysign(1.0, ref_mod))
    assert (fd, math.copysign(1.0, fd)) == (ref_fd, math.copysign(1.0, ref_fd))
    if abs(x) < 1e6 and y > 1e-10:
        r = _pass_kernels._pymod(x, y)
        assert (r, math.copysign(1.0, r)) == (x % y, math.copysign(1.0, x % y))
        if x >= 0.0:
            assert _pass_kernels._pyfloordiv(x, y, 1.0 / y) == x // y


def test_circle_bin_estimate_agrees_with_the_exact_rule_or_declines():
    """The circle scan's shortcut bin (phi / width - shift / width, no remainder or division)
    equals the exact half-bin (Python's (x % 2 pi) // width) wherever it answers, on random
    azimuths, on float32 azimuths as the hits store them, and on azimuths put on bin edges,
    on 0 and on 2 pi to within 1e-15..1e-6 half-bins, where it must decline or still agree."""
    trk = sct_tracker()
    n_h = n_half_bins(trk.road_half_bin_rad)
    width = 2 * math.pi / n_h
    inv = 1.0 / width
    kappas = finder.curvature_grid(trk.road_half_bin_rad, trk.outer_radius_cm, trk.circle_min_radius_cm)
    shifts = np.arcsin(np.clip(0.5 * np.outer(kappas, trk.radii.astype(np.float32).astype(float)), -1, 1))
    rng = np.random.default_rng(12)
    phi = np.concatenate(
        [
            rng.uniform(0, 2 * math.pi, 4000),
            rng.uniform(0, 2 * math.pi, 4000).astype(np.float32).astype(float),
            np.zeros(10),
            np.full(10, np.nextafter(2 * math.pi, 0)),
        ]
    )
    ik = rng.integers(0, len(kappas), phi.size)
    ll = rng.integers(0, len(trk.radii), phi.size)
    edge = rng.integers(0, n_h, 3000)
    tiny = rng.choice([0.0, 1e-15, -1e-15, 1e-12, -1e-12, 1e-9, -1e-9, 1e-8, -1e-8, 1e-6, -1e-6], edge.size)
    e_ik, e_ll = rng.integers(0, len(kappas), edge.size), rng.integers(0, len(trk.radii), edge.size)
    phi = np.concatenate([phi, (edge + tiny) * width + shifts[e_ik, e_ll]])
    ik, ll = np.concatenate([ik, e_ik]), np.concatenate([ll, e_ll])
    answered = declined = 0
    for p, i, j in zip(phi, ik, ll, strict=True):
        s = shifts[i, j]
        for q, x in ((p * inv - s * inv, p - s), (p * inv + s * inv - math.pi * inv, p + s - math.pi)):
            est = _pass_kernels._bin_estimate(q, n_h)
            if est < 0:
                declined += 1
                continue
            answered += 1
            assert est == _pass_kernels._half_bin(x, width, inv, n_h) == int((x % (2 * math.pi)) // width) % n_h
    assert answered > 15_000 and declined > 100
