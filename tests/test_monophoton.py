"""Tests of generator/monophoton.py against independent scipy quadrature (docs/physics.md §4, §5).

The reference formulas are written out again here (docs/physics.md §4 Dirac form dsigma/dE dcos,
the second W form for the scalar and nu nubar cases) rather than imported from the module.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from scipy import integrate, stats

from analysis.bbg import passes_bbg_cut
from generator.born import sample_cos_theta, sigma_born_pb
from generator.monophoton import ChiChiGamma, NuNuGamma, radiator, sigma_nunu_pb

ALPHA = 1.0 / 137.035999
GF = 1.1663787e-5
PB = 3.893794e8
SIGMA_NU = 1.679  # docs/physics.md §5


# ---------------------------------------------------------------------------------------------
# independent reference densities, d2sigma/dE dcos in GeV^-3 (photon energy E in GeV, CM)
# ---------------------------------------------------------------------------------------------
def _d2sigma_chi(e, c, rs, m, eps, spin):
    s = rs * rs
    x = 2.0 * e / rs
    sp = s * (1.0 - x)
    if sp <= 4.0 * m * m:
        return 0.0
    b = np.sqrt(1.0 - 4.0 * m * m / sp)
    sin2 = 1.0 - c * c
    bracket = (1.0 - x / 2.0) ** 2 + x * x * c * c / 4.0
    if spin == "dirac":  # docs/physics.md §4, explicit Dirac form
        return 8.0 * ALPHA**3 * eps**2 / (3.0 * sp * e * sin2) * bracket * b * (1 + 2 * m * m / sp)
    w = 2.0 * ALPHA / (np.pi * x * sin2) * bracket  # per unit x
    return w * np.pi * ALPHA**2 * eps**2 * b**3 / (3.0 * sp) * (2.0 / rs)


def _d2sigma_nu(e, c, rs):
    # docs/physics.md §5: (G_F^2 alpha s Sigma / 6 pi^2)(1-x)[(1-x/2)^2 + x^2 c^2/4]/(x sin^2), per x
    s = rs * rs
    x = 2.0 * e / rs
    return (
        GF**2
        * ALPHA
        * s
        * SIGMA_NU
        / (6.0 * np.pi**2)
        * (1.0 - x)
        * ((1.0 - x / 2.0) ** 2 + x * x * c * c / 4.0)
        / (x * (1.0 - c * c))
        * (2.0 / rs)
    )


def _quad(f, e_lo, e_hi, c_lo, c_hi):
    """dblquad over E (outer) and cos theta (inner) of f(E, c); result in pb."""
    val, _ = integrate.dblquad(lambda c, e: f(e, c), e_lo, e_hi, c_lo, c_hi, epsabs=0.0, epsrel=1e-8)
    return val * PB


def _mc(weights, mask=None):
    w = np.asarray(weights, dtype=float)
    if mask is not None:
        w = w * np.asarray(mask, dtype=float)
    return w.mean(), w.std(ddof=1) / np.sqrt(w.size)


def _uniforms(seed, k, n):
    return np.random.default_rng(seed).random((k, n))


def test_building_blocks_pointwise():
    """radiator * sigma0 * dx/dE equals the written-out reference densities (beta_e = 1)."""
    rs, eps = 4.0, 1e-3
    for e in (0.03, 0.4, 1.2, 1.9):
        for c in (-0.9, 0.0, 0.5):
            x, sp = 2 * e / rs, rs * rs * (1 - 2 * e / rs)
            w = radiator(x, c) * 2.0 / rs
            for m, spin in ((0.1, "dirac"), (0.3, "scalar")):
                ref = _d2sigma_chi(e, c, rs, m, eps, spin)
                assert w * sigma_born_pb(sp, m, eps, spin) / PB == pytest.approx(ref, rel=1e-12)
            assert w * sigma_nunu_pb(sp) / PB == pytest.approx(_d2sigma_nu(e, c, rs), rel=1e-4)
    assert sigma_born_pb(0.5, 0.4, eps) == 0.0  # below threshold


# ---------------------------------------------------------------------------------------------
# cross sections inside generation cuts
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mass", [0.1, 1.0])
@pytest.mark.parametrize("spin", ["dirac", "scalar"])
def test_chi_cross_section_vs_quadrature(mass, spin):
    rs, eps, emin, cmax, n = 4.0, 1e-3, 0.025, 0.8, 400_000
    proc = ChiChiGamma(mass, eps, spin, e_gamma_min_gev=emin, cos_theta_max=cmax)
    ev = proc.generate(_uniforms(11, proc.n_uniforms, n), rs)
    mc, err = _mc(ev.weight)
    e_kin = (rs * rs - 4 * mass * mass) / (2 * rs)
    ref = _quad(lambda e, c: _d2sigma_chi(e, c, rs, mass, eps, spin), emin, e_kin, -cmax, cmax)
    assert abs(mc - ref) < 3 * err, (mc, err, ref)
    assert err / ref < 0.01


def test_light_chi_endpoint_vs_quadrature():
    """m = 1 MeV: sigma0 ~ 1/s' peaks within 4m^2/s of the endpoint; the quadrature splits
    off x > 0.9 and integrates it in t = ln(1 - x)."""
    rs, mass, eps, emin, cmax, n = 4.0, 1e-3, 1e-3, 0.025, 0.8, 400_000
    proc = ChiChiGamma(mass, eps, "dirac", e_gamma_min_gev=emin, cos_theta_max=cmax)
    ev = proc.generate(_uniforms(22, 5, n), rs)
    mc, err = _mc(ev.weight)
    s = rs * rs
    y_min = 4 * mass * mass / s  # 1 - x_kin

    def f_t(c, t):  # d sigma / dt dcos, x = 1 - e^t, dE = (rs/2) e^t dt
        y = np.exp(t)
        e = 0.5 * rs * (1.0 - y)
        return _d2sigma_chi(e, c, rs, mass, eps, "dirac") * 0.5 * rs * y

    low = _quad(lambda e, c: _d2sigma_chi(e, c, rs, mass, eps, "dirac"), emin, 0.45 * rs, -cmax, cmax)
    high, _ = integrate.dblquad(f_t, np.log(y_min), np.log(0.1), -cmax, cmax, epsabs=0.0, epsrel=1e-8)
    ref = low + high * PB
    assert abs(mc - ref) < 3 * err, (mc, err, ref)
    assert err / ref < 0.005


def test_chi_e_gamma_max_cut():
    rs, mass, eps = 4.0, 0.3, 1e-3
    proc = ChiChiGamma(mass, eps, e_gamma_min_gev=0.5, e_gamma_max_gev=1.2, cos_theta_max=0.9)
    ev = proc.generate(_uniforms(12, 5, 200_000), rs)
    assert ak.min(ev.e_gamma_cm) >= 0.5 and ak.max(ev.e_gamma_cm) <= 1.2
    assert ak.max(abs(ev.cos_theta_gamma_cm)) <= 0.9
    mc, err = _mc(ev.weight)
    ref = _quad(lambda e, c: _d2sigma_chi(e, c, rs, mass, eps, "dirac"), 0.5, 1.2, -0.9, 0.9)
    assert abs(mc - ref) < 3 * err, (mc, err, ref)


def test_nunu_cross_section_vs_quadrature():
    rs, emin, cmax, n = 4.0, 0.025, 0.8, 400_000
    proc = NuNuGamma(e_gamma_min_gev=emin, cos_theta_max=cmax)
    ev = proc.generate(_uniforms(13, proc.n_uniforms, n), rs)
    mc, err = _mc(ev.weight)
    ref = _quad(lambda e, c: _d2sigma_nu(e, c, rs), emin, rs / 2, -cmax, cmax)
    assert abs(mc - ref) < 3 * err, (mc, err, ref)


# ---------------------------------------------------------------------------------------------
# BESIII numbers of docs/physics.md §5/§8 at sqrt(s) = 4 GeV
# ---------------------------------------------------------------------------------------------
def test_nunu_total_born():
    assert sigma_nunu_pb(16.0) * 1e3 == pytest.approx(37.7, rel=3e-3)
    assert sigma_nunu_pb(10.58**2) * 1e3 == pytest.approx(264.0, rel=3e-3)
    # Z propagator: P_Z ~ 1 + s/M_Z^2, a ~0.2 % effect at 4 GeV
    ratio = sigma_nunu_pb(16.0, z_propagator=True) / sigma_nunu_pb(16.0)
    assert 1.0 < ratio < 1.01


def _besiii_preselection(e, c):
    a = np.abs(c)
    return ((e > 0.025) & (a < 0.8)) | ((e > 0.05) & (a > 0.86) & (a < 0.92))


def test_nunu_besiii_preselection_and_bbg():
    rs, n = 4.0, 1_000_000
    proc = NuNuGamma(e_gamma_min_gev=0.025, cos_theta_max=0.92)
    ev = proc.generate(_uniforms(14, proc.n_uniforms, n), rs)
    e = ev.e_gamma_cm.to_numpy()
    c = ev.cos_theta_gamma_cm.to_numpy()
    pre = _besiii_preselection(e, c)
    bbg = passes_bbg_cut(e, np.arccos(c), rs, np.arccos(0.95))

    mc_pre, err_pre = _mc(ev.weight, pre)
    mc_bbg, err_bbg = _mc(ev.weight, pre & bbg)

    # independent quadrature of the same selections
    f = lambda e_, c_: _d2sigma_nu(e_, c_, rs)  # noqa: E731
    q_pre = _quad(f, 0.025, rs / 2, -0.8, 0.8) + 2 * _quad(f, 0.05, rs / 2, 0.86, 0.92)
    sb = np.sqrt(1 - 0.95**2)

    def em(c_):
        return rs / (1.0 + np.sqrt(1.0 - c_ * c_) / sb)

    def q_cut(c_lo, c_hi, e_lo):
        val, _ = integrate.dblquad(f, c_lo, c_hi, lambda c_: max(e_lo, em(c_)), rs / 2, epsabs=0.0, epsrel=1e-8)
        return val * PB

    q_bbg = q_cut(-0.8, 0.8, 0.025) + 2 * q_cut(0.86, 0.92, 0.05)

    assert abs(mc_pre - q_pre) < 3 * err_pre, (mc_pre, err_pre, q_pre)
    assert abs(mc_bbg - q_bbg) < 3 * err_bbg, (mc_bbg, err_bbg, q_bbg)
    # formula-sheet numbers (docs/physics.md §5), 3 %
    assert mc_pre * 1e3 == pytest.approx(1.38, rel=0.03)
    assert mc_bbg * 1e3 == pytest.approx(0.030, rel=0.03)


# ---------------------------------------------------------------------------------------------
# shape of the photon spectrum
# ---------------------------------------------------------------------------------------------
def test_e_gamma_spectrum_shape_chi2():
    rs, mass, eps, cmax, n = 4.0, 0.1, 1e-3, 0.8, 400_000
    proc = ChiChiGamma(mass, eps, "dirac", e_gamma_min_gev=0.025, cos_theta_max=cmax)
    ev = proc.generate(_uniforms(15, proc.n_uniforms, n), rs)
    e = ev.e_gamma_cm.to_numpy()
    w = ev.weight.to_numpy()
    e_kin = (rs * rs - 4 * mass * mass) / (2 * rs)
    edges = np.geomspace(0.025, e_kin, 16)
    sw, _ = np.histogram(e, edges, weights=w)
    sw2, _ = np.histogram(e, edges, weights=w * w)
    mc = sw / n
    var = (sw2 / n - mc**2) / (n - 1)
    ref = np.array(
        [
            _quad(lambda e_, c_: _d2sigma_chi(e_, c_, rs, mass, eps, "dirac"), lo, hi, -cmax, cmax)
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
    )
    chi2 = np.sum((mc - ref) ** 2 / var)
    ndf = len(ref)
    assert chi2 < stats.chi2.ppf(0.999, ndf), (chi2, ndf)


# ---------------------------------------------------------------------------------------------
# kinematics
# ---------------------------------------------------------------------------------------------
def _np4(p):
    return np.stack([ak.to_numpy(p.E), ak.to_numpy(p.px), ak.to_numpy(p.py), ak.to_numpy(p.pz)])


@pytest.mark.parametrize("spin", ["dirac", "scalar"])
def test_four_momentum_conservation_cm(spin):
    mass, n = 0.7, 50_000
    rs = 3.0 + 2.0 * np.random.default_rng(3).random(n)  # per-event sqrt(s)
    proc = ChiChiGamma(mass, 1e-3, spin, e_gamma_min_gev=0.01, cos_theta_max=0.99)
    ev = proc.generate(_uniforms(16, 5, n), rs)
    tot = _np4(ev.gamma) + _np4(ev.chi) + _np4(ev.chibar)
    np.testing.assert_allclose(tot[0], rs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(tot[1:], 0.0, rtol=0, atol=1e-9)
    for p in (ev.chi, ev.chibar):
        np.testing.assert_allclose(ak.to_numpy(p.mass), mass, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ak.to_numpy(ev.gamma.mass), 0.0, atol=1e-6)
    np.testing.assert_allclose(ak.to_numpy(ev.gamma.E), ak.to_numpy(ev.e_gamma_cm), atol=1e-12)
    np.testing.assert_allclose(ak.to_numpy(ev.gamma.costheta), ak.to_numpy(ev.cos_theta_gamma_cm), atol=1e-12)
    assert np.all(ak.to_numpy(ev.weight) >= 0.0)


def test_lab_boost():
    mass, rs, bz, n = 0.5, 10.58, 3.0 / 11.0, 20_000
    proc = ChiChiGamma(mass, 1e-3, e_gamma_min_gev=0.1, cos_theta_max=0.95)
    u = _uniforms(17, 5, n)
    lab = proc.generate(u, rs, beta_z=bz)
    cm = proc.generate(u, rs)
    g = 1.0 / np.sqrt(1.0 - bz * bz)
    tot = _np4(lab.gamma) + _np4(lab.chi) + _np4(lab.chibar)
    np.testing.assert_allclose(tot[0], g * rs, atol=1e-9)
    np.testing.assert_allclose(tot[3], g * bz * rs, atol=1e-9)
    np.testing.assert_allclose(tot[1:3], 0.0, atol=1e-9)
    # explicit inverse boost of the lab photon reproduces the CM photon
    e_l, _, _, pz_l = _np4(lab.gamma)
    np.testing.assert_allclose(g * (e_l - bz * pz_l), ak.to_numpy(cm.gamma.E), atol=1e-9)
    np.testing.assert_allclose(g * (pz_l - bz * e_l), ak.to_numpy(cm.gamma.pz), atol=1e-9)
    np.testing.assert_array_equal(lab.weight.to_numpy(), cm.weight.to_numpy())
    np.testing.assert_array_equal(lab.e_gamma_cm.to_numpy(), cm.e_gamma_cm.to_numpy())


def test_nunu_missing_momentum():
    rs, n = 4.0, 10_000
    proc = NuNuGamma(e_gamma_min_gev=0.025, cos_theta_max=0.95)
    ev = proc.generate(_uniforms(18, 3, n), rs, beta_z=0.1)
    tot = _np4(ev.gamma) + _np4(ev.missing)
    g = 1.0 / np.sqrt(1.0 - 0.01)
    np.testing.assert_allclose(tot[0], g * rs, atol=1e-9)
    np.testing.assert_allclose(tot[3], g * 0.1 * rs, atol=1e-9)
    m2 = ak.to_numpy(ev.missing.mass2)
    np.testing.assert_allclose(m2, rs * rs - 2 * rs * ak.to_numpy(ev.e_gamma_cm), atol=1e-9)


def test_chunking_independence_and_fields():
    proc = ChiChiGamma(0.2, 1e-3, e_gamma_min_gev=0.025, cos_theta_max=0.8)
    n = 1000
    u = _uniforms(19, 5, n)
    rs = np.linspace(3.0, 5.0, n)
    full = proc.generate(u, rs)
    parts = ak.concatenate([proc.generate(u[:, :377], rs[:377]), proc.generate(u[:, 377:], rs[377:])])
    assert ak.to_list(full) == ak.to_list(parts)
    assert set(full.fields) == {
        "gamma",
        "chi",
        "chibar",
        "sqrt_s",
        "e_gamma_cm",
        "cos_theta_gamma_cm",
        "weight",
    }
    assert full.gamma.layout.parameter("__record__") == "Momentum4D"
    with pytest.raises(ValueError):
        proc.generate(_uniforms(1, 3, 10), 4.0)


def test_below_threshold_zero_weight_finite():
    proc = ChiChiGamma(2.5, 1e-3, e_gamma_min_gev=0.025, cos_theta_max=0.8)
    ev = proc.generate(_uniforms(20, 5, 1000), 4.0)
    assert np.all(ev.weight.to_numpy() == 0.0)
    for p in (ev.gamma, ev.chi, ev.chibar):
        assert np.all(np.isfinite(_np4(p)))


# ---------------------------------------------------------------------------------------------
# chi decay angular law (docs/physics.md §1) in the recoil rest frame, +z polar axis
# ---------------------------------------------------------------------------------------------
def _cdf_dirac(c, beta):
    b2 = beta * beta
    return ((2 - b2) * (c + 1) + b2 * (c**3 + 1) / 3) / (4 - 4 * b2 / 3)


def _cdf_scalar(c):
    return ((c + 1) - (c**3 + 1) / 3) / (4.0 / 3.0)


@pytest.mark.parametrize("beta", [0.0, 1e-4, 0.3, 0.9, 1.0])
def test_sample_cos_dirac_inverse_cdf(beta):
    u = np.linspace(0.0, 1.0, 1001)
    c = sample_cos_theta(u, np.full_like(u, beta), "dirac")
    np.testing.assert_allclose(_cdf_dirac(c, beta), u, atol=1e-10)


def test_sample_cos_scalar_inverse_cdf():
    u = np.linspace(0.0, 1.0, 1001)
    np.testing.assert_allclose(_cdf_scalar(sample_cos_theta(u, np.zeros_like(u), "scalar")), u, atol=1e-10)


@pytest.mark.parametrize("spin", ["dirac", "scalar"])
def test_chi_rest_frame_angle(spin):
    """Boost chi back to the recoil rest frame by hand: F(cos theta*) must be uniform."""
    rs, mass, n = 4.0, 0.5, 20_000
    proc = ChiChiGamma(mass, 1e-3, spin, e_gamma_min_gev=0.025, cos_theta_max=0.9)
    ev = proc.generate(_uniforms(21, 5, n), rs)
    q = _np4(ev.chi) + _np4(ev.chibar)
    p = _np4(ev.chi)
    mq = np.sqrt(q[0] ** 2 - np.sum(q[1:] ** 2, axis=0))
    b = q[1:] / q[0]
    g = q[0] / mq
    bp = np.sum(b * p[1:], axis=0)
    b2 = np.sum(b * b, axis=0)
    p3 = p[1:] + ((g - 1) * bp / b2 - g * p[0]) * b  # pure boost by -b
    cos_star = p3[2] / np.sqrt(np.sum(p3**2, axis=0))
    if spin == "dirac":
        beta = np.sqrt(1 - 4 * mass**2 / mq**2)
        pit = _cdf_dirac(cos_star, beta)
    else:
        pit = _cdf_scalar(cos_star)
    assert stats.kstest(pit, "uniform").pvalue > 1e-3
