"""Tests of detsim/ecl.py (toy calorimeter; docs/physics.md section 8, L appendix eq. 5)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from scipy import integrate, stats

from analysis.bbg import lab_to_cm_theta
from detsim.ecl import (
    N_UNIFORMS,
    PRESETS,
    Calorimeter,
    PowerResolution,
    Region,
    StochasticResolution,
    TableResolution,
    babar,
    belle2,
    bes3,
    boost_photon_to_cm,
    crystal_ball_cdf,
    crystal_ball_pdf,
    crystal_ball_ppf,
    photon_to_cm,
    stcf,
)
from generator.kinematics import momentum4d

CB_PARAMS = [(0.811, 1.79), (1.5, 3.0), (0.5, 1.2)]


# --------------------------------------------------------------------------------------------
# Crystal ball
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha,n", CB_PARAMS)
def test_crystal_ball_normalised(alpha, n):
    mean, sigma = 1.3, 0.07
    f = lambda x: crystal_ball_pdf(x, mean, sigma, alpha, n)  # noqa: E731
    edge = mean - alpha * sigma
    tail, _ = integrate.quad(f, -np.inf, edge, limit=200)
    core, _ = integrate.quad(f, edge, np.inf, limit=200)
    assert tail + core == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("alpha,n", CB_PARAMS)
def test_crystal_ball_continuity_at_junction(alpha, n):
    """pdf and its derivative are continuous at t = -alpha (one-sided limits)."""
    h = 1e-6
    t0 = -alpha
    left, right = crystal_ball_pdf(t0 - h, 0, 1, alpha, n), crystal_ball_pdf(t0 + h, 0, 1, alpha, n)
    assert left == pytest.approx(right, rel=1e-5)
    # one-sided derivatives, each from points on one side only
    dl = (crystal_ball_pdf(t0 - h, 0, 1, alpha, n) - crystal_ball_pdf(t0 - 3 * h, 0, 1, alpha, n)) / (2 * h)
    dr = (crystal_ball_pdf(t0 + 3 * h, 0, 1, alpha, n) - crystal_ball_pdf(t0 + h, 0, 1, alpha, n)) / (2 * h)
    assert dl == pytest.approx(dr, rel=1e-4)
    # analytic: d/dt exp(-t^2/2) at -alpha = alpha exp(-alpha^2/2) (times the normalisation)
    norm = crystal_ball_pdf(0.0, 0, 1, alpha, n)  # = N
    assert dr == pytest.approx(norm * alpha * np.exp(-0.5 * alpha**2), rel=1e-4)


@pytest.mark.parametrize("alpha,n", CB_PARAMS)
def test_crystal_ball_cdf_matches_pdf_integral(alpha, n):
    for x in (-8.0, -2.0, -alpha - 0.01, -alpha + 0.01, 0.0, 1.5):
        ref, _ = integrate.quad(lambda t: crystal_ball_pdf(t, 0, 1, alpha, n), -np.inf, x, limit=200)
        assert crystal_ball_cdf(x, 0, 1, alpha, n) == pytest.approx(ref, abs=1e-8)


@pytest.mark.parametrize("alpha,n", CB_PARAMS)
def test_crystal_ball_sampling_ks(alpha, n):
    u = np.random.default_rng(11).random(200_000)
    t = crystal_ball_ppf(u, alpha, n)
    res = stats.kstest(t, lambda x: crystal_ball_cdf(x, 0, 1, alpha, n))
    assert res.pvalue > 1e-3
    # inverse-CDF round trip, both branches
    x = np.array([-30.0, -3.0, -alpha - 1e-3, -alpha + 1e-3, 0.0, 2.0, 5.0])
    np.testing.assert_allclose(crystal_ball_ppf(crystal_ball_cdf(x, 0, 1, alpha, n), alpha, n), x, rtol=1e-7, atol=1e-7)


# --------------------------------------------------------------------------------------------
# Resolutions
# --------------------------------------------------------------------------------------------
def test_resolution_quoted_numbers():
    b2 = belle2()
    assert b2.rel_sigma(0.1) == pytest.approx(0.04, rel=1e-12)
    assert b2.rel_sigma(8.0) == pytest.approx(0.016, rel=1e-12)
    # log-log interpolation = power law between the nodes
    p = np.log(0.016 / 0.04) / np.log(80.0)
    assert b2.rel_sigma(1.0) == pytest.approx(0.04 * 10.0**p, rel=1e-12)
    assert b2.rel_sigma(0.01) == pytest.approx(0.04) and b2.rel_sigma(20.0) == pytest.approx(0.016)  # clamped
    assert babar().rel_sigma(1.0) == pytest.approx(np.hypot(0.015, 0.01), rel=1e-12)
    assert babar().rel_sigma(16.0) == pytest.approx(np.hypot(0.015 / 2.0, 0.01), rel=1e-12)
    assert bes3().rel_sigma(1.0) == pytest.approx(np.hypot(0.023, 0.01), rel=1e-12)
    # L "optimized cut": STCF sigma_E = 38 MeV for E = sqrt(s)/2 = 2 GeV
    assert stcf().sigma_e(2.0) == pytest.approx(0.038, abs=0.0005)
    assert StochasticResolution(0.1, 0.0, 0.02)(4.0) == pytest.approx(np.hypot(0.05, 0.005))
    assert PowerResolution(0.02, -0.5)(4.0) == pytest.approx(0.01)


def test_table_resolution_validation():
    with pytest.raises(ValueError):
        TableResolution((1.0, 0.5), (0.02, 0.01))
    with pytest.raises(ValueError):
        TableResolution((1.0,), (0.02, 0.01))


@pytest.mark.parametrize("preset,energy", [(belle2, 0.5), (belle2, 4.0), (bes3, 1.0), (bes3, 0.1)])
def test_gaussian_smearing_rms(preset, energy):
    cal = preset(efficiency=1.0)
    n = 200_000
    u = np.random.default_rng(5).random((N_UNIFORMS, n))
    det = cal.detect(_photons(np.full(n, energy), np.full(n, np.pi / 2), np.zeros(n)), u)
    e = np.asarray(det.photon.E)
    sig = cal.sigma_e(energy)
    assert e.mean() == pytest.approx(energy, abs=4 * sig / np.sqrt(n))
    assert e.std() == pytest.approx(sig, abs=4 * sig / np.sqrt(2 * n))


def test_crystal_ball_smearing_in_detect():
    cal = babar()
    n = 100_000
    energy = 3.0
    u = np.random.default_rng(6).random((N_UNIFORMS, n))
    det = cal.detect(_photons(np.full(n, energy), np.full(n, np.pi / 2), np.zeros(n)), u)
    t = (np.asarray(det.photon.E) - energy) / cal.sigma_e(energy)
    assert stats.kstest(t, lambda x: crystal_ball_cdf(x, 0, 1, 0.811, 1.79)).pvalue > 1e-3
    # n = 1.79 < 2: infinite-mean tail, some measured energies are <= 0 -> never detected
    neg = np.asarray(det.photon.E) <= 0
    assert not np.any(np.asarray(det.detected)[neg])


# --------------------------------------------------------------------------------------------
# Acceptance and efficiency
# --------------------------------------------------------------------------------------------
def test_belle2_gaps_never_detected_and_efficiency():
    cal = belle2()
    n = 400_000
    rng = np.random.default_rng(7)
    theta = np.radians(rng.uniform(0.0, 180.0, n))
    u = rng.random((N_UNIFORMS, n))
    det = cal.detect(_photons(np.full(n, 2.0), theta, np.zeros(n)), u)
    d = np.asarray(det.detected)
    deg = np.degrees(theta)
    gaps = (deg <= 12.4) | ((deg >= 31.4) & (deg <= 32.2)) | ((deg >= 128.7) & (deg <= 130.7)) | (deg >= 155.1)
    assert gaps.sum() > 1000 and not d[gaps].any()
    inside = ~gaps
    k, m = d[inside].sum(), inside.sum()
    err = np.sqrt(0.95 * 0.05 / m)
    assert k / m == pytest.approx(0.95, abs=4 * err)
    reg = np.asarray(det.region)
    np.testing.assert_array_equal(reg >= 0, np.asarray(det.in_acceptance))
    assert set(np.unique(reg[inside])) == {0, 1, 2}


def test_bes3_regions():
    cal = bes3()
    cos = np.array([0.0, 0.82, 0.84, 0.86, 0.92, 0.94, -0.84, -0.9, -0.96])
    exp = np.array([True, True, False, True, True, False, False, True, False])
    np.testing.assert_array_equal(np.asarray(cal.in_acceptance(np.arccos(cos))), exp)
    # veto acceptance |cos| < 0.95 (L cos theta_b)
    t1, t2 = cal.veto_theta_edges
    assert np.cos(t1) == pytest.approx(0.95) and np.cos(t2) == pytest.approx(-0.95)


def test_presets():
    assert stcf().regions == bes3().regions and stcf().resolution == bes3().resolution
    assert stcf().name == "stcf"
    assert babar().response == "crystal_ball" and (babar().cb_alpha, babar().cb_n) == (0.811, 1.79)
    assert belle2().efficiency == 0.95
    assert np.degrees(belle2().theta_min) == pytest.approx(12.4)
    assert np.degrees(belle2().theta_max) == pytest.approx(155.1)
    assert set(PRESETS) >= {"bes3", "stcf", "belle2", "babar"}
    with pytest.raises(ValueError):
        Calorimeter("x", (Region(0.5, 0.4),), StochasticResolution(0.01))
    with pytest.raises(ValueError):
        Calorimeter("x", (Region(0.4, 0.5),), StochasticResolution(0.01), response="lorentz")


# --------------------------------------------------------------------------------------------
# CM conversion
# --------------------------------------------------------------------------------------------
def _photons(e, theta, phi):
    """True lab photons as Momentum4D records (px, py, pz, E)."""
    st = np.sin(theta)
    return momentum4d(e * st * np.cos(phi), e * st * np.sin(phi), e * np.cos(theta), e)


def _explicit_boost(p, beta):
    """Lorentz boost along z by velocity beta (matrix form), applied to four-vector p."""
    g = 1.0 / np.sqrt(1 - beta**2)
    m = np.array([[g, 0, 0, -g * beta], [0, 1, 0, 0], [0, 0, 1, 0], [-g * beta, 0, 0, g]])
    return m @ p


def test_cm_conversion_90_degrees():
    beta = 3.0 / 11.0
    e = 3.0
    cal = belle2(resolution=StochasticResolution(0.0), efficiency=1.0)
    u = np.full((N_UNIFORMS, 1), 0.5)  # ndtri(0.5) = 0: no smearing
    det = cal.detect(_photons(np.array([e]), np.array([np.pi / 2]), np.array([0.3])), u, beta_z=beta)
    p_cm = _explicit_boost(np.array([e, e, 0.0, 0.0]), beta)  # photon along +x in the lab
    cm = det.photon_cm
    assert float(cm.E[0]) == pytest.approx(p_cm[0], rel=1e-12)
    assert float(cm.theta[0]) == pytest.approx(np.arctan2(np.hypot(p_cm[1], p_cm[2]), p_cm[3]), rel=1e-12)
    assert np.degrees(float(cm.theta[0])) == pytest.approx(90 + np.degrees(np.arctan(3 / np.sqrt(112))), rel=1e-12)
    assert float(cm.phi[0]) == pytest.approx(0.3)
    assert bool(det.detected[0])


def test_cm_conversion_matches_lab_to_cm_theta():
    beta = 3.0 / 11.0
    th = np.linspace(0.05, 3.1, 50)
    e = np.linspace(0.1, 7.0, 50)
    e_cm, th_cm = boost_photon_to_cm(e, th, beta)
    np.testing.assert_allclose(th_cm, lab_to_cm_theta(th, beta), rtol=1e-12)
    for ei, ti, ec, tc in zip(e, th, e_cm, th_cm, strict=True):
        p = _explicit_boost(ei * np.array([1, np.sin(ti), 0, np.cos(ti)]), beta)
        assert ec == pytest.approx(p[0], rel=1e-12)
        assert tc == pytest.approx(np.arctan2(p[1], p[3]), rel=1e-12, abs=1e-12)


def test_detect_chunk_independent_and_shape_check():
    cal = babar(theta_resolution_rad=0.01, phi_resolution_rad=0.01)
    n = 1000
    rng = np.random.default_rng(9)
    e, th, ph = rng.uniform(0.1, 5, n), rng.uniform(0, np.pi, n), rng.uniform(-np.pi, np.pi, n)
    u = rng.random((N_UNIFORMS, n))
    full = cal.detect(_photons(e, th, ph), u, beta_z=0.5)
    a = cal.detect(_photons(e[:300], th[:300], ph[:300]), u[:, :300], beta_z=0.5)
    b = cal.detect(_photons(e[300:], th[300:], ph[300:]), u[:, 300:], beta_z=0.5)
    assert ak.array_equal(full, ak.concatenate([a, b]))
    tl = np.asarray(full.photon.theta)
    assert np.all((tl >= 0) & (tl <= np.pi)) and not np.allclose(tl, th)
    with pytest.raises(ValueError):
        cal.detect(_photons(e, th, ph), u[:2], beta_z=0.5)


def _general_boost(p, bx, bz):
    """Lorentz transformation into the frame moving with (bx, 0, bz) (matrix form), applied to p."""
    b = np.array([bx, 0.0, bz])
    b2 = b @ b
    g = 1.0 / np.sqrt(1 - b2)
    m = np.eye(4)
    m[0, 0] = g
    m[0, 1:] = m[1:, 0] = -g * b
    m[1:, 1:] += (g - 1) * np.outer(b, b) / b2
    return m @ p


def test_cm_conversion_with_crossing_angle():
    """A CM moving sideways (beta_x = sin 30 mrad, SCT-like, plus a beta_z): photon_to_cm against the
    explicit 4x4 boost; beta_x = 0 entries are exactly the head-on closed form."""
    rng = np.random.default_rng(4)
    n = 200
    e, th, ph = rng.uniform(0.1, 3, n), rng.uniform(0.05, 3.1, n), rng.uniform(-np.pi, np.pi, n)
    bx, bz = np.sin(0.03), 0.01
    e_cm, th_cm, ph_cm = photon_to_cm(e, th, ph, beta_x=bx, beta_z=bz)
    for i in range(n):
        p = e[i] * np.array([1, np.sin(th[i]) * np.cos(ph[i]), np.sin(th[i]) * np.sin(ph[i]), np.cos(th[i])])
        q = _general_boost(p, bx, bz)
        assert e_cm[i] == pytest.approx(q[0], rel=1e-12)
        assert th_cm[i] == pytest.approx(np.arctan2(np.hypot(q[1], q[2]), q[3]), rel=1e-10, abs=1e-12)
        assert np.cos(ph_cm[i] - np.arctan2(q[2], q[1])) == pytest.approx(1.0, abs=1e-12)
    mixed = photon_to_cm(e, th, ph, beta_x=np.where(np.arange(n) % 2 == 0, 0.0, bx), beta_z=bz)
    closed = boost_photon_to_cm(e, th, bz)
    np.testing.assert_array_equal(mixed[0][::2], closed[0][::2])
    np.testing.assert_array_equal(mixed[1][::2], closed[1][::2])
    np.testing.assert_array_equal(mixed[2][::2], ph[::2])
    np.testing.assert_allclose(mixed[0][1::2], e_cm[1::2], rtol=1e-15)


# --------------------------------------------------------------------------------------------
# Veto
# --------------------------------------------------------------------------------------------
def test_event_veto_jagged():
    cal = belle2()
    d = np.radians
    theta = ak.Array([[], [d(5.0)], [d(90.0)], [d(90.0)], [d(31.8)], [d(5.0), d(60.0)], [d(170.0)]])
    energy = ak.Array([[], [3.0], [0.5], [0.05], [3.0], [1.0, 0.2], [2.0]])
    charged = ak.Array([[], [False], [False], [True], [False], [False, False], [True]])
    veto = cal.event_veto(theta, energy, charged)
    # empty; outside acceptance; visible photon; soft but charged; in the gap; one visible; charged outside
    np.testing.assert_array_equal(veto, [False, False, True, True, False, True, False])
    # neutral-only default: the soft particle (0.05 GeV < 0.1 GeV threshold) is not seen
    np.testing.assert_array_equal(cal.event_veto(theta, energy), [False, False, True, False, False, True, False])
    # BESIII veto acceptance |cos| < 0.95 includes the EMC gap 0.83-0.85
    th_gap = ak.Array([[np.arccos(0.84)]])
    assert bes3().event_veto(th_gap, ak.Array([[1.0]]))[0]
    # flat numpy input to visible()
    np.testing.assert_array_equal(cal.visible(np.array([d(90.0), d(90.0)]), np.array([0.5, 0.05])), [True, False])


def test_event_veto_p4():
    import vector

    vector.register_awkward()
    p = ak.zip(
        {"px": [[0.0, 1.0], []], "py": [[0.0, 0.0], []], "pz": [[5.0, 0.0], []], "E": [[5.0, 1.0], []]},
        with_name="Momentum4D",
    )
    np.testing.assert_array_equal(belle2().event_veto_p4(p), [True, False])
