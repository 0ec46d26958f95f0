"""Tests of analysis/bbg.py (docs/physics.md §6; L eq. 1, eq. 2 and appendix eqs. 6-8)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from analysis.bbg import (
    cm_to_lab_theta,
    e_max_asymmetric,
    e_max_symmetric,
    lab_to_cm_theta,
    passes_bbg_cut,
)

THETA_B = np.arccos(0.95)  # BESIII
BETA_B2 = 3.0 / 11.0  # Belle II boost


def _solve_edges(theta_g, rs, th1, th2):
    """Solve L eqs. 6-8 for (E_gamma, E1, E2): photon at theta_g, two massless particles at
    th1, th2 in the opposite azimuth."""
    a = np.array(
        [
            [np.sin(theta_g), -np.sin(th1), -np.sin(th2)],
            [np.cos(theta_g), np.cos(th1), np.cos(th2)],
            [1.0, 1.0, 1.0],
        ]
    )
    return np.linalg.solve(a, np.array([0.0, 0.0, rs]))


def _l_eq2_literal(theta_g, rs, th1, th2):
    a = (np.sin(th1) - np.sin(th2)) / (np.cos(th1) - np.cos(th2))
    return (
        rs * (a * np.cos(th1) - np.sin(th1)) / (a * (np.cos(th1) - np.cos(theta_g)) - (np.sin(theta_g) + np.sin(th1)))
    )


def test_symmetric_at_90_degrees():
    for rs in (3.097, 4.0, 7.0):
        assert e_max_symmetric(np.pi / 2, rs, THETA_B) == pytest.approx(rs / (1.0 + 1.0 / np.sin(THETA_B)), rel=1e-14)


@pytest.mark.parametrize("theta_g_deg", [20.0, 45.0, 70.0, 90.0, 120.0, 160.0])
def test_symmetric_explicit_kinematics(theta_g_deg):
    """Photon + two massless particles escaping exactly at theta_b and pi - theta_b."""
    rs, tg = 4.0, np.radians(theta_g_deg)
    e_g, e1, e2 = _solve_edges(tg, rs, THETA_B, np.pi - THETA_B)
    assert e1 >= 0 and e2 >= 0
    # explicit four-vectors: photon at phi = 0, the two escapees at phi = pi
    k = e_g * np.array([1, np.sin(tg), 0, np.cos(tg)])
    p1 = e1 * np.array([1, -np.sin(THETA_B), 0, np.cos(THETA_B)])
    p2 = e2 * np.array([1, -np.sin(THETA_B), 0, -np.cos(THETA_B)])
    np.testing.assert_allclose(k + p1 + p2, [rs, 0, 0, 0], atol=1e-12)
    assert e_max_symmetric(tg, rs, THETA_B) == pytest.approx(e_g, rel=1e-12)


def _random_cone_dirs(rng, n, lo, hi):
    """Unit vectors with theta uniform in cos between lo and hi (radians), phi uniform."""
    c = rng.uniform(np.cos(hi), np.cos(lo), n)
    s = np.sqrt(1 - c * c)
    phi = rng.uniform(0, 2 * np.pi, n)
    return np.stack([s * np.cos(phi), s * np.sin(phi), c])


@pytest.mark.parametrize("edges", ["symmetric", "belle2"])
def test_e_max_is_maximum_over_random_escapes(edges):
    """gamma + 2 massless escapees (one per beam cone) never beats E_m for a detected photon."""
    rs, n = 4.0, 200_000
    if edges == "symmetric":
        th1, th2 = THETA_B, np.pi - THETA_B
    else:
        th1 = lab_to_cm_theta(np.radians(12.4), BETA_B2)
        th2 = lab_to_cm_theta(np.radians(155.1), BETA_B2)
    rng = np.random.default_rng(5)
    n1 = _random_cone_dirs(rng, n, 0.0, th1)
    n2 = _random_cone_dirs(rng, n, th2, np.pi)
    r = rng.random(n)
    v = r * n1 + (1 - r) * n2
    a = np.sqrt(np.sum(v * v, axis=0))
    e_g = rs * a / (1 + a)  # from masslessness of the photon
    cos_g = -v[2] / a
    th_g = np.arccos(cos_g)
    inside = (th_g > th1) & (th_g < th2)
    if edges == "symmetric":
        em = e_max_symmetric(th_g, rs, THETA_B)
    else:
        em = e_max_asymmetric(th_g, rs, th1, th2)
    assert np.all(e_g[inside] <= em[inside] * (1 + 1e-12))
    assert np.max(e_g[inside] / em[inside]) > 0.97  # the bound is reached at the edges


def test_asymmetric_reduces_to_symmetric():
    rs = 4.0
    tg = np.linspace(0.0, np.pi, 181)
    np.testing.assert_allclose(
        e_max_asymmetric(tg, rs, THETA_B, np.pi - THETA_B),
        e_max_symmetric(tg, rs, THETA_B),
        rtol=1e-13,
    )


def test_asymmetric_matches_l_eq2_and_kinematics():
    rs = 10.58
    th1 = lab_to_cm_theta(np.radians(12.4), BETA_B2)
    th2 = lab_to_cm_theta(np.radians(155.1), BETA_B2)
    tg = np.linspace(th1 + 1e-3, th2 - 1e-3, 50)
    lit = _l_eq2_literal(tg, rs, th1, th2)
    ours = e_max_asymmetric(tg, rs, th1, th2)
    np.testing.assert_allclose(ours, np.minimum(lit, rs / 2), rtol=1e-12)
    for t, e in zip(tg, ours, strict=True):
        e_g, e1, e2 = _solve_edges(t, rs, th1, th2)
        if e1 >= 0 and e2 >= 0:
            assert e == pytest.approx(e_g, rel=1e-12)
        else:  # gamma back-to-back with a particle inside an escape cone: sqrt(s)/2
            assert e == pytest.approx(rs / 2, rel=1e-12)
    assert np.all(ours <= rs / 2)


def test_lab_to_cm_90_degrees_belle2():
    beta = BETA_B2
    g = 1.0 / np.sqrt(1 - beta**2)
    k_lab = np.array([1.0, 1.0, 0.0, 0.0])  # E, px, py, pz: photon at 90 deg in the lab
    # lab -> CM: the CM moves with +beta along z in the lab
    e_cm = g * (k_lab[0] - beta * k_lab[3])
    pz_cm = g * (k_lab[3] - beta * k_lab[0])
    theta_ref = np.arctan2(np.hypot(k_lab[1], k_lab[2]), pz_cm)
    assert lab_to_cm_theta(np.pi / 2, beta) == pytest.approx(theta_ref, rel=1e-14)
    assert np.cos(lab_to_cm_theta(np.pi / 2, beta)) == pytest.approx(-beta, rel=1e-14)
    assert pz_cm / e_cm == pytest.approx(-beta)


def test_lab_cm_roundtrip_and_boost():
    beta = BETA_B2
    g = 1.0 / np.sqrt(1 - beta**2)
    th = np.linspace(0.0, np.pi, 37)
    k = np.stack([np.ones_like(th), np.sin(th), np.zeros_like(th), np.cos(th)])
    ref = np.arctan2(k[1], g * (k[3] - beta * k[0]))
    np.testing.assert_allclose(lab_to_cm_theta(th, beta), ref, atol=1e-14)
    np.testing.assert_allclose(cm_to_lab_theta(lab_to_cm_theta(th, beta), beta), th, atol=1e-12)
    assert np.all((lab_to_cm_theta(th, beta) >= 0) & (lab_to_cm_theta(th, beta) <= np.pi))


def test_passes_cut_numpy_and_awkward():
    rs = 4.0
    e = np.array([0.5, 1.0, 1.9, 1.9])
    t = np.array([np.pi / 2, np.pi / 2, np.pi / 2, 0.1])  # last one inside the escape cone
    em90 = rs / (1 + 1 / np.sin(THETA_B))
    expected = np.array([False, e[1] > em90, True, False])
    got = passes_bbg_cut(e, t, rs, THETA_B)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, expected)

    ea = ak.Array([[0.5, 1.0], [], [1.9, 1.9]])
    ta = ak.Array([[np.pi / 2, np.pi / 2], [], [np.pi / 2, 0.1]])
    got_ak = passes_bbg_cut(ea, ta, rs, THETA_B)
    assert isinstance(got_ak, ak.Array)
    assert ak.to_list(ak.flatten(got_ak)) == expected.tolist()
    assert ak.to_list(ak.num(got_ak)) == [2, 0, 2]

    th1, th2 = THETA_B, np.pi - THETA_B
    np.testing.assert_array_equal(passes_bbg_cut(e, t, rs, theta1_cm=th1, theta2_cm=th2), expected)
    em_ak = e_max_asymmetric(ta, rs, th1, th2)
    assert isinstance(em_ak, ak.Array)
    with pytest.raises(ValueError):
        passes_bbg_cut(e, t, rs)
    with pytest.raises(ValueError):
        passes_bbg_cut(e, t, rs, THETA_B, theta1_cm=th1, theta2_cm=th2)
