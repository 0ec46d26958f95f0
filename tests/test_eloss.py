"""Tests of detsim.eloss against references written out independently (G eqs. 4-11, PM sec. 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from detsim import eloss
from detsim.eloss import (
    RangeTable,
    beta_bethe_maximum,
    beta_bethe_zero,
    beta_floor_delta,
    beta_floor_ionization,
    bethe_log,
    csda_range_cm,
    dedx_ev_per_cm,
    dedx_gev_per_cm,
    delta_rate_per_cm,
    kinetic_from_beta_gev,
    out_of_validity,
    sample_delta_energy,
    t_max_gev,
    validity_range,
)
from detsim.materials import material

ME = 0.51099895e-3  # GeV
K = 0.307075e-3  # GeV cm^2 / mol
EV = 1e-9  # GeV
M_CHI = 1.5  # GeV (G section 4 benchmark)
# G section 3 propane, written out here: rho, Z, A, I.
RHO, Z, A, I_PROP = 1.864e-3, 26.0, 44.1, 11.0 * EV


def _tmax_ref(beta, m):
    """G eq. 5, written out."""
    g = 1.0 / math.sqrt(1.0 - beta * beta)
    return 2 * ME * beta**2 * g**2 / (1 + 2 * g * ME / m + (ME / m) ** 2)


# ------------------------------------------------------------------------------------ dE/dx
def test_bethe_propane_gives_25_ev_per_cm():
    # G eq. 6: 25 eV/cm at eps = 1.8e-3, beta = 1e-2 in propane.
    val = dedx_ev_per_cm(1e-2, 1.8e-3, M_CHI, "propane", model="bethe")
    assert val == pytest.approx(25.0, rel=0.03)
    # and G eq. 4 evaluated by hand
    ref = RHO * K * Z / A * (1.8e-3 / 1e-2) ** 2 * 0.5 * math.log(2 * ME * 1e-4 * _tmax_ref(1e-2, M_CHI) / I_PROP**2)
    assert val * EV == pytest.approx(ref, rel=1e-10)


def test_frozen_scales_as_eps2_over_beta2_and_equals_bethe_at_ref():
    beta = np.array([3e-4, 1e-3, 4e-3, 1e-2, 0.05, 0.2])
    eps = np.array([1e-4, 1e-3, 2e-3, 1.8e-3, 3e-3, 1e-2])
    ref = dedx_gev_per_cm(1e-2, 1.8e-3, M_CHI, "propane", "bethe")
    frz = dedx_gev_per_cm(beta, eps, M_CHI, "propane", "bethe_frozen")
    np.testing.assert_allclose(frz, ref * (eps / 1.8e-3) ** 2 * (1e-2 / beta) ** 2, rtol=1e-12)
    assert dedx_gev_per_cm(1e-2, 1.8e-3, M_CHI, "propane", "bethe_frozen") == pytest.approx(ref, rel=1e-14)


def test_bethe_log_turns_negative_at_3p3e_3_in_propane():
    # 2 m_e beta^2 * 2 m_e beta^2 = I^2 (T_max -> 2 m_e beta^2): beta = sqrt(I / (2 m_e)).
    ref = math.sqrt(I_PROP / (2 * ME))
    assert ref == pytest.approx(3.3e-3, abs=0.05e-3)
    b0 = beta_bethe_zero("propane", M_CHI)
    assert b0 == pytest.approx(ref, rel=1e-3)  # differs by the m_e/m term of T_max only
    assert bethe_log(b0 * 1.001, M_CHI, "propane") > 0
    assert bethe_log(b0 * 0.999, M_CHI, "propane") < 0
    # G eq. 4 taken literally (bethe_paper): no energy loss below the log zero
    below = dedx_gev_per_cm(np.array([1e-4, 1e-3, b0 * 0.999]), 3e-3, M_CHI, "propane", "bethe_paper")
    assert np.all(below == 0.0)
    assert dedx_gev_per_cm(b0 * 1.001, 3e-3, M_CHI, "propane", "bethe_paper") > 0
    for model in ("bethe", "bethe_paper"):
        assert np.all(out_of_validity(np.array([1e-3, b0 * 0.999]), model, "propane", M_CHI))


def test_bethe_continues_below_log_zero_by_the_tangent_line():
    # bethe: G eq. 4 down to L = 2/3, then the line through the origin tangent to it (heavy, slow
    # limit: beta_t = sqrt(e^(2/3) I / (2 m_e)), written out here).
    bt_ref = math.sqrt(math.exp(2 / 3) * I_PROP / (2 * ME))
    bt = eloss.beta_bethe_tangent("propane", M_CHI)
    assert bt == pytest.approx(bt_ref, rel=1e-3)
    assert bt == pytest.approx(4.58e-3, rel=2e-3)
    eps = 3e-3
    # at and above beta_t: G eq. 4 by hand, and identical to bethe_paper
    b = np.array([1.0001 * bt, 5.4e-3, 1e-2, 0.1])
    lg = np.array([0.5 * math.log(2 * ME * x * x * _tmax_ref(x, M_CHI) / I_PROP**2) for x in b])
    np.testing.assert_allclose(
        dedx_gev_per_cm(b, eps, M_CHI, "propane"), RHO * K * Z / A * eps**2 / b**2 * lg, rtol=1e-10
    )
    np.testing.assert_array_equal(
        dedx_gev_per_cm(b, eps, M_CHI, "propane"), dedx_gev_per_cm(b, eps, M_CHI, "propane", "bethe_paper")
    )
    # below: proportional to beta, never zero, value at the join by hand (L = 2/3 exactly)
    low = bt * np.array([1e-4, 0.1, 0.5, 0.9999])
    d = dedx_gev_per_cm(low, eps, M_CHI, "propane")
    assert np.all(d > 0)
    np.testing.assert_allclose(d / low, RHO * K * Z / A * eps**2 / bt**2 * (2 / 3) / bt, rtol=1e-9)
    # C^1 at the join: value and logarithmic slope (= 1 on the line) continuous
    f = lambda x: float(dedx_gev_per_cm(x, eps, M_CHI, "propane"))  # noqa: E731
    h = 1e-5
    up = math.log(f(bt * (1 + 2 * h)) / f(bt * (1 + h))) / math.log((1 + 2 * h) / (1 + h))
    assert f(bt * (1 + 1e-9)) == pytest.approx(f(bt * (1 - 1e-9)), rel=1e-8)
    assert up == pytest.approx(1.0, abs=1e-3)


def test_bethe_validity_edge_is_the_bethe_maximum():
    lo, hi = validity_range("bethe", "propane", M_CHI)
    # L = 1: 2 m_e beta^2 * 2 m_e beta^2 = e^2 I^2 in the heavy, slow limit.
    assert lo == pytest.approx(math.sqrt(math.e * I_PROP / (2 * ME)), rel=1e-3)
    assert hi == pytest.approx(1 / math.sqrt(2))
    b = np.array([0.98, 1.0, 1.02]) * lo
    d = dedx_gev_per_cm(b, 1e-3, M_CHI, "propane", "bethe")
    assert d[1] > d[0] and d[1] > d[2]  # maximum of the curve
    flags = out_of_validity(np.array([0.99 * lo, 1.01 * lo, 0.5, 0.8, np.nan]), "bethe", "propane", M_CHI)
    assert flags.tolist() == [True, False, False, True, True]


def test_frozen_validity_is_empty_where_ref_log_below_one():
    lo, hi = validity_range("bethe_frozen", "aluminium", M_CHI)  # I = 166 eV: L(1e-2) < 0
    assert math.isnan(lo) and math.isnan(hi)
    assert np.all(out_of_validity(np.array([1e-3, 1e-2, 0.1]), "bethe_frozen", "aluminium", M_CHI))
    assert np.all(dedx_gev_per_cm(np.array([1e-3, 1e-2]), 1e-3, M_CHI, "aluminium", "bethe_frozen") == 0)


def test_lindhard_continuous_at_matching_point_and_proportional_to_beta_below():
    bm = beta_bethe_maximum("propane", M_CHI)
    assert bethe_log(bm, M_CHI, "propane") == pytest.approx(1.0, abs=1e-9)
    eps = 2e-3
    f = lambda b: dedx_gev_per_cm(b, eps, M_CHI, "propane", "lindhard")  # noqa: E731
    # continuity: the jump across beta_m vanishes as the step shrinks
    for d in (1e-4, 1e-6, 1e-8):
        assert f(bm * (1 + d)) == pytest.approx(f(bm * (1 - d)), rel=5 * d)
    # proportional to beta below
    b = bm * np.array([1e-3, 0.01, 0.1, 0.5, 0.999])
    np.testing.assert_allclose(f(b) / b, f(b[0]) / b[0], rtol=1e-12)
    # the value at the match, by hand: rho K Z/A eps^2 / beta_m^2 * 1
    assert f(bm * (1 - 1e-12)) == pytest.approx(RHO * K * Z / A * eps**2 / bm**2, rel=1e-9)
    # Bethe above
    ba = bm * np.array([1.01, 2.0, 10.0])
    np.testing.assert_allclose(f(ba), dedx_gev_per_cm(ba, eps, M_CHI, "propane"), rtol=1e-14)


def test_lindhard_validity_floor_is_ionisation_threshold():
    lo, _ = validity_range("lindhard", "propane", M_CHI)
    e_i = material("propane").ionization_energy_gev
    assert _tmax_ref(lo, M_CHI) == pytest.approx(e_i, rel=1e-9)
    lo_be, _ = validity_range("lindhard", "beryllium", M_CHI)
    assert lo_be == 0.0  # conductor: no threshold


def test_vectorised_broadcast_and_scalars():
    beta = np.linspace(1e-3, 0.1, 12).reshape(3, 4)
    eps = np.array([1e-3, 2e-3, 3e-3, 4e-3])
    mass = np.array([[0.5], [1.0], [1.5]])
    for model in eloss.MODELS:
        out = dedx_gev_per_cm(beta, eps, mass, "propane", model)
        assert out.shape == (3, 4)
        one = dedx_gev_per_cm(beta[2, 3], eps[3], mass[2, 0], "propane", model)
        assert np.ndim(one) == 0 and one == pytest.approx(out[2, 3], rel=1e-12)
    assert np.isnan(dedx_gev_per_cm(1.0, 1e-3, 1.0, "propane"))
    with pytest.raises(ValueError, match="allowed: bethe, bethe_frozen, lindhard"):
        dedx_gev_per_cm(0.01, 1e-3, 1.0, "propane", model="bragg")


def test_t_max_limits():
    b = np.array([1e-3, 1e-2, 0.1, 0.5])
    # heavy, slow: 2 m_e beta^2 gamma^2 / (1 + 2 gamma m_e/m ...) written out
    np.testing.assert_allclose(t_max_gev(b, M_CHI), [_tmax_ref(x, M_CHI) for x in b], rtol=1e-12)
    # equal masses (m = m_e): the whole kinetic energy m_e (gamma - 1) can be transferred
    g = 1 / np.sqrt(1 - b**2)
    np.testing.assert_allclose(t_max_gev(b, ME), ME * (g - 1), rtol=1e-9)


# ----------------------------------------------------------------------------- velocity floors
def test_beta_floor_ionization():
    # G section 4: ~6e-4 for m = 1.5 GeV, I_min = 25 eV/cm, L_min = 10 cm.
    ref = math.sqrt(2 * 25 * EV * 10 / M_CHI)
    got = beta_floor_ionization(M_CHI, 25 * EV, 10.0)
    assert got == pytest.approx(ref, rel=1e-6)
    assert got == pytest.approx(5.8e-4, rel=0.01)
    assert kinetic_from_beta_gev(got, M_CHI) == pytest.approx(250 * EV, rel=1e-9)


def test_beta_floor_delta():
    ref = math.sqrt(1e3 * EV / (2 * ME))  # T_min = 1 keV
    got = beta_floor_delta(M_CHI, 1e3 * EV)
    assert got == pytest.approx(ref, rel=1e-3)
    assert got == pytest.approx(3.1e-2, rel=0.02)
    assert _tmax_ref(got, M_CHI) == pytest.approx(1e3 * EV, rel=1e-10)  # exact root of G eq. 5
    # also exact for a light particle, where the m_e/m terms matter
    b_light = beta_floor_delta(0.01, 0.1e-3)
    assert _tmax_ref(float(b_light), 0.01) == pytest.approx(0.1e-3, rel=1e-9)


# ----------------------------------------------------------------------------- delta electrons
@pytest.mark.parametrize("beta", [0.035, 0.05, 0.1])
def test_delta_rate_times_length_is_g_eq_11(beta):
    eps, length, t_min = 3e-3, 100.0, 1e3 * EV
    t_e = _tmax_ref(beta, M_CHI)
    n_ref = RHO * K * Z * eps**2 / (2 * A * beta**2) * length * (1 / t_min - 1 / t_e)
    n = delta_rate_per_cm(beta, eps, M_CHI, "propane", t_min) * length
    assert n == pytest.approx(n_ref, rel=1e-12)


def test_delta_rate_zero_below_kinematic_floor():
    b = np.array([0.01, 0.03, 0.0312, 0.0314, 0.05])
    r = delta_rate_per_cm(b, 3e-3, M_CHI, "propane", 1e3 * EV)
    floor = beta_floor_delta(M_CHI, 1e3 * EV)
    assert np.all((r > 0) == (b > floor))


def test_sampled_delta_energies_follow_one_over_t2():
    rng = np.random.default_rng(20240611)
    u = rng.random(200_000)
    beta, t_min = 0.06, 1e3 * EV
    t = sample_delta_energy(u, beta, M_CHI, t_min)
    t_max = _tmax_ref(beta, M_CHI)
    assert np.all((t >= t_min) & (t <= t_max))

    def cdf(x):
        return (1 / t_min - 1 / x) / (1 / t_min - 1 / t_max)

    assert stats.kstest(t, cdf).pvalue > 1e-3
    # a 1/T spectrum on the same interval must be rejected by the same test
    assert stats.kstest(t, lambda x: np.log(x / t_min) / np.log(t_max / t_min)).pvalue < 1e-6
    # below the kinematic floor no delta electron is possible
    assert np.isnan(sample_delta_energy(0.5, 0.01, M_CHI, t_min))


# ----------------------------------------------------------------------------------- range
def _quad_range(t_hi, t_lo, eps, model, mat="propane"):
    def inv(t):
        b = float(eloss.beta_from_kinetic(t, M_CHI))
        return 1.0 / dedx_gev_per_cm(b, eps, M_CHI, mat, model)

    pts = [kinetic_from_beta_gev(beta_bethe_maximum(mat, M_CHI), M_CHI)]
    pts = [p for p in pts if t_lo < p < t_hi]
    val, _ = integrate.quad(inv, t_lo, t_hi, points=pts or None, limit=200, epsrel=1e-8)
    return val


@pytest.mark.parametrize("model", ["lindhard", "bethe_frozen"])
def test_range_table_matches_quad_and_round_trips(model):
    eps = 3e-3
    table = RangeTable(eps, M_CHI, "propane", model)
    betas = np.array([1e-3, 4e-3, 1e-2, 3e-2])
    t = kinetic_from_beta_gev(betas, M_CHI)
    r = table.range_cm(t)
    ref = np.array([_quad_range(x, 0.0, eps, model) for x in t])
    np.testing.assert_allclose(r, ref, rtol=1e-2)
    np.testing.assert_allclose(table.kinetic_from_range(r), t, rtol=1e-9)
    assert table.range_cm(0.0) == 0.0
    assert table.kinetic_from_range(0.0) == 0.0
    assert table.kinetic_after_cm(t[1], 2 * r[1]) == 0.0  # stopped


def test_frozen_range_analytic():
    # dE/dx = C/beta^2 with C fixed -> nonrelativistic R = T^2 / (C m)
    eps = 3e-3
    c = dedx_gev_per_cm(1e-2, eps, M_CHI, "propane", "bethe_frozen") * 1e-4
    t = kinetic_from_beta_gev(1e-2, M_CHI)
    r = csda_range_cm(t, eps, M_CHI, "propane", "bethe_frozen")
    assert r == pytest.approx(t**2 / (c * M_CHI), rel=1e-3)


def test_bethe_paper_range_is_infinite_but_distances_finite():
    eps = 3e-3
    table = RangeTable(eps, M_CHI, "propane", "bethe_paper")
    t0 = kinetic_from_beta_gev(beta_bethe_zero("propane", M_CHI), M_CHI)
    assert table.kinetic_0_gev == pytest.approx(t0, rel=1e-12)
    t = kinetic_from_beta_gev(np.array([6e-3, 1e-2, 3e-2]), M_CHI)
    assert np.all(np.isinf(table.range_cm(t)))
    t_end = 1.5 * t0
    d = table.distance_cm(t, t_end)
    ref = np.array([_quad_range(x, t_end, eps, "bethe_paper") for x in t])
    np.testing.assert_allclose(d, ref, rtol=1e-2)
    assert np.all(np.isinf(table.distance_cm(t, 0.5 * t0)))
    # stepping: long paths approach T_0 from above, T <= T_0 is left unchanged
    after = table.kinetic_after_cm(t[0], d[0] + np.array([0.0, 30.0, 100.0, 1e9]))
    assert after[0] == pytest.approx(t_end, rel=1e-6)
    assert t_end > after[1] > after[2] > t0
    assert after[3] == pytest.approx(t0, rel=1e-12)
    assert table.kinetic_after_cm(0.9 * t0, 100.0) == pytest.approx(0.9 * t0)
    with pytest.raises(ValueError, match="never brings"):
        table.kinetic_from_range(1.0)


def test_stepping_is_additive_and_rescaling_exact():
    table = RangeTable(3e-3, M_CHI, "propane", "lindhard")
    t = kinetic_from_beta_gev(2e-2, M_CHI)
    one = table.kinetic_after_cm(t, 300.0)
    step = t
    for _ in range(30):
        step = table.kinetic_after_cm(step, 10.0)
    assert step == pytest.approx(one, rel=1e-9)
    other = RangeTable(1e-3, M_CHI, "propane", "lindhard")
    assert table.rescaled(1e-3).range_cm(t) == pytest.approx(other.range_cm(t), rel=1e-12)
    assert other.range_cm(t) == pytest.approx(9 * table.range_cm(t), rel=1e-12)
    assert np.isnan(table.range_cm(kinetic_from_beta_gev(0.95, M_CHI)))  # above the table


def test_lindhard_low_beta_range_and_tail_below_grid():
    # Below beta_m, dE/dx = a beta, so (nonrelativistic) R(beta) = m beta / a: finite range,
    # including below the table grid (beta_min = 1e-4), where the analytic tail is used.
    eps = 3e-3
    bm = beta_bethe_maximum("propane", M_CHI)
    a = dedx_gev_per_cm(0.5 * bm, eps, M_CHI, "propane", "lindhard") / (0.5 * bm)
    table = RangeTable(eps, M_CHI, "propane", "lindhard", beta_min=1e-4)
    betas = np.array([1e-6, 1e-5, 5e-4, 2e-3])
    t = kinetic_from_beta_gev(betas, M_CHI)
    np.testing.assert_allclose(table.range_cm(t), M_CHI * betas / a, rtol=1e-4)
    np.testing.assert_allclose(table.kinetic_from_range(M_CHI * betas / a), t, rtol=1e-4)
