"""Collider beams: crossing angle, per-beam spread and the CM boost (docs/physics.md §2, §10).

References are computed here from the beam four-vectors p(e-) = E1 (sin h, 0, cos h),
p(e+) = E2 (sin h, 0, -cos h), h = theta_c/2, with ``vector`` boosts and numerical quadrature --
not with the generator's own helpers.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import reference as ref
import vector
from scipy import stats

import generator.chipair as chipair_mod
from generator import MACHINES, Beams, ChiPair, machine, machine_beams
from generator.kinematics import boost_beta3, boost_xz, cm_beam_axis_angle, cm_to_lab

vector.register_awkward()

P_MIN = 1e-3  # fixed seeds: a p-value below this means a wrong shape, not bad luck
THETA_C = 60e-3  # SCT / STCF full crossing angle [rad]


def _u(seed, rows, n):
    return np.random.default_rng(seed).random((rows, n))


def _beam_four_vectors(e1, e2, theta_c):
    h = 0.5 * theta_c
    p1 = np.stack([e1, e1 * math.sin(h), 0.0 * e1, e1 * math.cos(h)])
    p2 = np.stack([e2, e2 * math.sin(h), 0.0 * e2, -e2 * math.cos(h)])
    return p1, p2


def _beams_from_event(sqrt_s, beta_x, beta_z, theta_c):
    """Lab beam four-vectors (4, n) rebuilt from an event's sqrt(s) and CM velocity alone:
    E1 + E2 = gamma sqrt(s), E1 - E2 = beta_z (E1 + E2) / cos h."""
    gamma = 1.0 / np.sqrt(1.0 - beta_x**2 - beta_z**2)
    total = gamma * sqrt_s
    diff = beta_z * total / math.cos(0.5 * theta_c)
    return _beam_four_vectors(0.5 * (total + diff), 0.5 * (total - diff), theta_c)


def _p4(p):
    return vector.array({"px": p[1], "py": p[2], "pz": p[3], "E": p[0]})


# ---------------------------------------------------------------------------------------------
# nominal geometry and constructors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("theta_c", [0.0, 22e-3, 60e-3, 83e-3])
@pytest.mark.parametrize(("e1", "e2"), [(2.0, 2.0), (7.0, 4.0), (9.0, 3.1)])
def test_nominal_sqrt_s_and_velocity(theta_c, e1, e2):
    b = Beams(e1, e2, crossing_angle_rad=theta_c)
    p1, p2 = _beam_four_vectors(np.array([e1]), np.array([e2]), theta_c)
    tot = p1 + p2
    assert b.sqrt_s0_gev == pytest.approx(math.sqrt(tot[0, 0] ** 2 - np.sum(tot[1:, 0] ** 2)), rel=1e-14)
    assert b.beta_x0 == pytest.approx(tot[1, 0] / tot[0, 0], rel=1e-14)
    assert b.beta_z0 == pytest.approx(tot[3, 0] / tot[0, 0], rel=1e-14, abs=1e-16)
    # sqrt(s0) held by the constructors whatever the angle
    for ratio in (1.0, e1 / e2):
        held = Beams.for_sqrt_s(3.0, energy_ratio=ratio, crossing_angle_rad=theta_c)
        assert held.sqrt_s0_gev == pytest.approx(3.0, rel=1e-14)
        assert held.electron_energy_gev / held.positron_energy_gev == pytest.approx(ratio, rel=1e-14)
    scaled = Beams.from_beam_energies(e1, e2, crossing_angle_rad=theta_c, sqrt_s0_gev=3.0)
    assert scaled.sqrt_s0_gev == pytest.approx(3.0, rel=1e-14)
    assert Beams.symmetric(3.0, crossing_angle_rad=theta_c).sqrt_s0_gev == pytest.approx(3.0, rel=1e-14)


def test_head_on_constructors_are_the_former_ones():
    """Crossing angle 0: the new constructors give exactly the beams the cards built before."""
    assert Beams.for_sqrt_s(3.0) == Beams(1.5, 1.5, "none")
    assert Beams.symmetric(3.0, 2.1e-3) == Beams(1.5, 1.5, "gaussian_sqrt_s", sigma_sqrt_s_gev=2.1e-3)
    per_beam = Beams.from_beam_energies(7.0, 4.0, spread_model="gaussian_per_beam", relative_spread=1e-3)
    assert per_beam == Beams(7.0, 4.0, "gaussian_per_beam", sigma_electron_gev=7e-3, sigma_positron_gev=4e-3)
    u = _u(1, 2, 1000)
    sqrt_s, beta_z, w = per_beam.sample(u, 10.0)
    frame = per_beam.sample_frame(u, 10.0)
    assert np.array_equal(sqrt_s, frame.sqrt_s_gev) and np.array_equal(beta_z, frame.beta_z)
    assert np.array_equal(w, frame.weight)
    assert np.all(frame.beta_x == 0.0) and np.all(frame.cm_axis_angle_rad == 0.0)


def test_invalid_beams():
    with pytest.raises(ValueError, match="spread model"):
        Beams(1.5, 1.5, "flat")
    with pytest.raises(ValueError, match="crossing_angle_rad"):
        Beams(1.5, 1.5, crossing_angle_rad=-0.01)
    with pytest.raises(ValueError, match="unknown machine"):
        machine("lep")


# ---------------------------------------------------------------------------------------------
# CM velocity
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["none", "gaussian_sqrt_s", "gaussian_per_beam"])
def test_mean_beta_x_is_sin_half_angle(model):
    """<beta_x> = sin(theta_c/2) (exactly: massless beams), and the event beams give the velocity."""
    beams = Beams.for_sqrt_s(3.0, crossing_angle_rad=THETA_C, spread_model=model, relative_spread=1e-3)
    n = 200_000
    frame = beams.sample_frame(_u(3, 2, n), 0.0)
    mean = frame.beta_x.mean()
    err = frame.beta_x.std() / math.sqrt(n)
    expected = math.sin(0.5 * THETA_C)
    print(f"{model}: <beta_x> = {mean:.10f} +- {err:.1e}, sin(theta_c/2) = {expected:.10f}")
    assert abs(mean - expected) <= 3 * err + 1e-15
    if model == "none":
        assert np.all(frame.beta_x == expected)
    # beta = (p1 + p2)/(E1 + E2) of the event's own beams; sqrt(s) their invariant mass
    p1, p2 = frame.beam_momenta()
    tot = p1 + p2
    np.testing.assert_allclose(frame.beta_x, tot[1] / tot[0], rtol=1e-14)
    np.testing.assert_allclose(frame.beta_z, tot[3] / tot[0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(frame.sqrt_s_gev, np.sqrt(tot[0] ** 2 - np.sum(tot[1:] ** 2, axis=0)), rtol=1e-12)
    # the CM beam axis: the lab e- beam boosted into the CM (vector's boost, not the generator's)
    beta = vector.array({"x": -frame.beta_x, "y": 0.0 * frame.beta_x, "z": -frame.beta_z})
    n_cm = _p4(p1).boost_beta3(beta)
    np.testing.assert_allclose(frame.cm_axis_angle_rad, np.arctan2(n_cm.px, n_cm.pz), rtol=0, atol=1e-14)


@pytest.mark.parametrize("model", ["gaussian_sqrt_s", "gaussian_per_beam"])
def test_sqrt_s_distribution_does_not_depend_on_crossing_angle(model):
    """sqrt(s0) held: the sqrt(s) of 0 and 60 mrad beams (independent seeds) agree (KS test)."""
    kw = {"spread_model": model, "relative_spread": 1e-3}
    head_on = Beams.for_sqrt_s(3.0, **kw).sample_frame(_u(5, 2, 100_000), 0.0)
    crossing = Beams.for_sqrt_s(3.0, crossing_angle_rad=THETA_C, **kw).sample_frame(_u(6, 2, 100_000), 0.0)
    p = stats.ks_2samp(head_on.sqrt_s_gev, crossing.sqrt_s_gev).pvalue
    print(f"{model}: KS p = {p:.3f}")
    assert p > P_MIN


@pytest.mark.parametrize("model", ["gaussian_sqrt_s", "gaussian_per_beam"])
def test_cross_section_does_not_depend_on_crossing_angle(model):
    """G eq. (3) with KF ISR at the SCT benchmark (m = sqrt(s0)/2): 0 vs 60 mrad, independent seeds;
    both against the quadrature of G eq. (3)/(12) with the sqrt(s) width sqrt(2) 0.1 % sqrt(s0)/2."""
    kw = {"spread_model": model, "relative_spread": 1e-3}
    n = 200_000
    results = []
    for seed, theta_c in ((7, 0.0), (8, THETA_C)):
        beams = Beams.for_sqrt_s(3.0, crossing_angle_rad=theta_c, **kw)
        w = ChiPair(beams, 1.5, 3e-3).generate(_u(seed, 6, n)).weight.to_numpy()
        results.append((w.mean(), w.std() / math.sqrt(n)))
    (s0, e0), (s1, e1) = results
    pull = (s1 - s0) / math.hypot(e0, e1)
    print(f"{model}: sigma(0) = {s0:.5e} +- {e0:.1e} pb, sigma(60 mrad) = {s1:.5e} +- {e1:.1e} pb, pull {pull:+.2f}")
    assert abs(pull) < 3
    if model == "gaussian_sqrt_s":
        expected = ref.sigma_spread_pb(3.0, math.sqrt(2) * 1e-3 * 1.5, 1.5, 3e-3, "dirac", "kuraev_fadin")
        assert abs(s1 - expected) < 3 * e1


def _gauss_hermite_moments(f, e1, s1, e2, s2, order=80):
    """Mean and standard deviation of f(E1, E2) over two independent Gaussians (product rule)."""
    x, w = np.polynomial.hermite_e.hermegauss(order)
    w = w / w.sum()
    a, b = np.meshgrid(e1 + s1 * x, e2 + s2 * x, indexing="ij")
    ww = np.outer(w, w)
    vals = f(a, b)
    mean = np.sum(ww * vals)
    return mean, math.sqrt(np.sum(ww * (vals - mean) ** 2))


def _std_and_error(x):
    """Sample standard deviation and its error sqrt((m4 - s^4)/(4 s^2 n))."""
    d = x - x.mean()
    var = np.mean(d * d)
    return math.sqrt(var), math.sqrt((np.mean(d**4) - var * var) / (4 * var * len(x)))


@pytest.mark.parametrize(("name", "sqrt_s"), [("sct", 3.0), ("superkekb", None)])
def test_per_beam_spread_sqrt_s_and_beta_z_widths(name, sqrt_s):
    """sigma(sqrt(s)) and sigma(beta_z) of independent per-beam spreads with a crossing angle
    against a Gauss-Hermite quadrature over the two beam-energy Gaussians."""
    beams = machine_beams(name, sqrt_s)
    theta_c = beams.crossing_angle_rad
    c = math.cos(0.5 * theta_c)
    n = 400_000
    frame = beams.sample_frame(_u(11, 2, n), 0.0)
    args = (beams.electron_energy_gev, beams.sigma_electron_gev, beams.positron_energy_gev, beams.sigma_positron_gev)
    _, sd_rs = _gauss_hermite_moments(lambda a, b: 2 * c * np.sqrt(a * b), *args)
    mean_bz, sd_bz = _gauss_hermite_moments(lambda a, b: c * (a - b) / (a + b), *args)
    mc_rs, err_rs = _std_and_error(frame.sqrt_s_gev)
    mc_bz, err_bz = _std_and_error(frame.beta_z)
    print(
        f"{name}: sigma(sqrt s) MC {mc_rs * 1e3:.4f} +- {err_rs * 1e3:.4f} MeV, quadrature {sd_rs * 1e3:.4f} MeV; "
        f"sigma(beta_z) MC {mc_bz:.4e} +- {err_bz:.1e}, quadrature {sd_bz:.4e}; <beta_x> {frame.beta_x.mean():.6f}"
    )
    assert abs(mc_rs - sd_rs) < 3 * err_rs
    assert abs(mc_bz - sd_bz) < 3 * err_bz
    assert abs(frame.beta_z.mean() - mean_bz) < 3 * mc_bz / math.sqrt(n)
    assert np.all(frame.weight == 1.0)


# ---------------------------------------------------------------------------------------------
# chi chibar with a crossing angle
# ---------------------------------------------------------------------------------------------
_CASES = [
    ("sct", 3.0, 1.45, "gaussian_per_beam"),
    ("stcf", 4.0, 1.9, "gaussian_sqrt_s"),
    ("superkekb", 10.58, 4.0, "gaussian_per_beam"),
]


@pytest.mark.parametrize(("name", "sqrt_s", "mass", "model"), _CASES)
def test_chipair_four_momentum_conservation_with_crossing_angle(name, sqrt_s, mass, model):
    """chi + chibar + ISR photon = p(e-) + p(e+) (beams rebuilt from sqrt(s), beta_x, beta_z); the
    ISR photon is collinear with one lab beam; masses and charges."""
    beams = machine_beams(name, sqrt_s, model)
    theta_c = beams.crossing_angle_rad
    ev = ChiPair(beams, mass, 1e-3).generate(_u(13, 6, 40_000))
    rs, bx, bz = ev.sqrt_s.to_numpy(), ev.beta_x.to_numpy(), ev.beta_z.to_numpy()
    assert np.all(bx == math.sin(0.5 * theta_c))
    p1, p2 = _beams_from_event(rs, bx, bz, theta_c)
    total = ev.chi + ev.chibar + ev.isr
    for i, comp in enumerate(("E", "px", "py", "pz")):
        np.testing.assert_allclose(getattr(total, comp).to_numpy(), (p1 + p2)[i], rtol=0, atol=1e-12 * sqrt_s)
    np.testing.assert_allclose(total.mass.to_numpy(), rs, rtol=1e-9)
    np.testing.assert_allclose((ev.chi + ev.chibar).mass.to_numpy(), ev.sqrt_s_prime.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(ev.chi.mass.to_numpy(), mass, rtol=1e-9)
    assert np.all(ev.chi.charge.to_numpy() == -ev.chibar.charge.to_numpy())
    # ISR photon along the radiating beam: k = x p_beam with x = 1 - s'/s
    k = np.stack([ev.isr[c].to_numpy() for c in ("E", "px", "py", "pz")])
    x = ev.x.to_numpy()
    off = np.minimum(np.abs(k - x * p1).max(axis=0), np.abs(k - x * p2).max(axis=0))
    assert off.max() < 1e-12 * sqrt_s
    # the CM velocity measured on the final state
    vx = (total.px / total.E).to_numpy()
    print(f"{name}: <P_x/E> of the final state = {vx.mean():.10f}, sin(theta_c/2) = {math.sin(0.5 * theta_c):.10f}")
    np.testing.assert_allclose(vx, math.sin(0.5 * theta_c), rtol=1e-12)


@pytest.mark.parametrize(
    ("name", "sqrt_s", "mass", "spin"),
    [("sct", 3.0, 0.4, "dirac"), ("sct", 3.0, 0.4, "scalar"), ("superkekb", 10.58, 4.0, "dirac")],
)
def test_angular_law_wrt_cm_beam_axis_with_crossing_angle(name, sqrt_s, mass, spin):
    """cos theta* of chi from the e- beam direction in the pair rest frame (lab beams and chi
    boosted there with ``vector``) follows the Born law of docs/physics.md §1 (chi^2)."""
    beams = machine_beams(name, sqrt_s)
    ev = ChiPair(beams, mass, 1e-3, spin).generate(_u(17, 6, 200_000))
    theta_c = beams.crossing_angle_rad
    p1, _ = _beams_from_event(ev.sqrt_s.to_numpy(), ev.beta_x.to_numpy(), ev.beta_z.to_numpy(), theta_c)
    pair = ev.chi + ev.chibar
    chi_star = ev.chi.boostCM_of_p4(pair)
    beam_star = _p4(p1).boostCM_of_p4(vector.array({c: getattr(pair, c).to_numpy() for c in ("px", "py", "pz", "E")}))
    dot = chi_star.px * beam_star.px + chi_star.py * beam_star.py + chi_star.pz * beam_star.pz
    cos_star = (dot / (chi_star.mag * beam_star.mag)).to_numpy()
    w = ev.weight.to_numpy()
    b = np.sqrt(1 - 4 * mass**2 / ev.sqrt_s_prime.to_numpy() ** 2)
    edges = np.linspace(-1, 1, 21)
    if spin == "scalar":
        cdf = lambda c, b: (3 * c - c**3 + 2) / 4  # noqa: E731
    else:
        cdf = lambda c, b: ((2 - b**2) * (c + 1) + b**2 * (c**3 + 1) / 3) / (2 * (2 - b**2) + 2 * b**2 / 3)  # noqa: E731
    expected = np.array([np.sum(w * (cdf(hi, b) - cdf(lo, b))) for lo, hi in zip(edges[:-1], edges[1:], strict=True)])
    chi2, ndf = ref.weighted_chi2(cos_star, w, edges, expected)
    p = stats.chi2.sf(chi2, ndf)
    print(f"{name} {spin}: chi2/ndf = {chi2:.1f}/{ndf}, p = {p:.3f}")
    assert p > P_MIN


def test_general_boost_path_equals_head_on_path():
    """The crossing-angle code path, run on head-on beams, reproduces the head-on one (round-off)."""
    beams = Beams.for_sqrt_s(3.0, energy_ratio=1.3, spread_model="gaussian_per_beam", relative_spread=1e-3)
    proc = ChiPair(beams, 1.2, 1e-3)
    u = _u(19, 6, 20_000)
    a, b = proc._events(u, head_on=True), proc._events(u, head_on=False)
    for name in ("chi", "chibar", "isr"):
        for comp in ("E", "px", "py", "pz"):
            np.testing.assert_allclose(a[name][comp].to_numpy(), b[name][comp].to_numpy(), rtol=0, atol=1e-14)
    with _numpy_reference():
        assert proc.generate(u).weight.to_list() == a.weight.to_list()
    np.testing.assert_allclose(proc.generate(u).weight.to_numpy(), a.weight.to_numpy(), rtol=1e-12, atol=0)


@contextlib.contextmanager
def _numpy_reference():
    """ChiPair.generate through the numpy path (the reference of the compiled kernel)."""
    saved = chipair_mod.USE_COMPILED_KERNEL
    chipair_mod.USE_COMPILED_KERNEL = False
    try:
        yield
    finally:
        chipair_mod.USE_COMPILED_KERNEL = saved


# ---------------------------------------------------------------------------------------------
# kinematics helpers and machine presets
# ---------------------------------------------------------------------------------------------
def test_boost_helpers_against_vector():
    rng = np.random.default_rng(23)
    n = 1000
    p = rng.normal(size=(3, n))
    e = np.sqrt(np.sum(p * p, axis=0) + 0.3)
    bx, bz = rng.uniform(-0.5, 0.5, (2, n))
    ref_p = _p4(np.stack([e, *p])).boost_beta3(vector.array({"x": bx, "y": 0.0 * bx, "z": bz}))
    for out in (boost_xz(e, *p, bx, bz), boost_beta3(e, *p, bx, 0.0 * bx, bz)):
        for got, comp in zip(out, ("E", "px", "py", "pz"), strict=True):
            np.testing.assert_allclose(got, getattr(ref_p, comp), rtol=1e-12, atol=1e-12)
    # beta_x = 0: bit for bit the z boost gamma (E + beta pz), gamma (pz + beta E)
    gamma = 1 / np.sqrt(1 - bz * bz)
    got = cm_to_lab(e, *p, 0.0, bz, 0.0)
    assert np.array_equal(got[0], gamma * (e + bz * p[2])) and np.array_equal(got[3], gamma * (p[2] + bz * e))
    assert np.array_equal(got[1], p[0]) and np.array_equal(got[2], p[1])
    # equal beams: the CM beam axis is the lab z axis for any crossing angle
    assert cm_beam_axis_angle(math.sin(0.03), 0.0, 0.06) == 0.0


def test_machine_presets():
    quoted = {"sct": 60e-3, "stcf": 60e-3, "bepcii": 22e-3, "superkekb": 83e-3, "pep2": 0.0}
    assert set(MACHINES) == set(quoted)
    for name, theta_c in quoted.items():
        m = machine(name)
        assert m.crossing_angle_rad == theta_c
        assert 1e-4 < m.relative_spread_electron < 2e-3 and 1e-4 < m.relative_spread_positron < 2e-3
        for sqrt_s in (None, 3.0):
            b = m.beams(sqrt_s)
            assert b.spread_model == "gaussian_per_beam"
            assert b.electron_energy_gev / b.positron_energy_gev == pytest.approx(m.energy_ratio, rel=1e-14)
            assert b.sigma_electron_gev == pytest.approx(m.relative_spread_electron * b.electron_energy_gev)
            if sqrt_s is not None:
                assert b.sqrt_s0_gev == pytest.approx(sqrt_s, rel=1e-14)
        assert m.beams(3.0, "gaussian_sqrt_s").sigma_sqrt_s_gev == pytest.approx(
            1.5 * math.hypot(m.relative_spread_electron, m.relative_spread_positron), rel=1e-12
        )
    kekb = machine_beams("SuperKEKB", spread_model="none")
    assert kekb.beta_z0 == pytest.approx(3 / 11 * math.cos(41.5e-3), rel=1e-12)  # Belle II boost
    assert kekb.beta_x0 == pytest.approx(math.sin(41.5e-3), rel=1e-12)
    assert machine_beams("pep2").beta_x0 == 0.0
