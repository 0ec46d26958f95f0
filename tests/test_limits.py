"""Tests for analysis.limits against independent references (closed forms, scipy.stats, CCGV asymptotics)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm, poisson

from analysis.limits import (
    LimitResult,
    PowerLawSignal,
    TabulatedSignal,
    chi2_stat,
    cls_mu_upper_limit,
    compare_methods,
    eps_limit_chi2,
    eps_limit_cls,
    eps_limit_zero_background,
    poisson_upper_limit,
    zero_background_intervals,
)

Z975 = norm.ppf(0.975)  # 1.95996
Z95 = norm.ppf(0.95)  # 1.64485


def asymptotic_expected_cls_s_up(b: float) -> float:
    """Median expected CLs limit (CCGV eq. for Asimov data): 2 [s - b ln(1 + s/b)] = Phi^-1(0.975)^2."""
    return brentq(lambda s: 2.0 * (s - b * math.log1p(s / b)) - Z975**2, 1e-9, 1e9, xtol=1e-12, rtol=1e-12)


# ---------------------------------------------------------------- Poisson limits
def test_poisson_zero_observed_is_minus_ln_alpha():
    assert poisson_upper_limit(0) == pytest.approx(-math.log(0.05), rel=1e-10)
    assert poisson_upper_limit(0) == pytest.approx(2.9957, abs=1e-4)
    # CLs-style: independent of b for n = 0; classical: 2.996 - b (clipped at 0)
    for b in (0.5, 2.0, 10.0):
        assert poisson_upper_limit(0, background=b, method="cls") == pytest.approx(-math.log(0.05), rel=1e-9)
        assert poisson_upper_limit(0, background=b) == pytest.approx(max(-math.log(0.05) - b, 0.0), abs=1e-9)


@pytest.mark.parametrize("n,b", [(1, 0.0), (3, 0.0), (5, 2.0), (10, 4.5)])
def test_poisson_nonzero_against_scipy(n, b):
    s_cl = poisson_upper_limit(n, background=b)
    assert poisson.cdf(n, s_cl + b) == pytest.approx(0.05, rel=1e-8)
    s_cls = poisson_upper_limit(n, background=b, method="cls")
    assert poisson.cdf(n, s_cls + b) / poisson.cdf(n, b) == pytest.approx(0.05, rel=1e-8)
    assert s_cls >= s_cl - 1e-12  # CLs is conservative


def test_poisson_vectorised():
    n = np.array([0, 1, 2])
    out = poisson_upper_limit(n, background=np.array([[0.0], [1.0]]), method="cls")
    assert out.shape == (2, 3)
    for i, b in enumerate((0.0, 1.0)):
        for j, k in enumerate(n):
            assert poisson.cdf(k, out[i, j] + b) / poisson.cdf(k, b) == pytest.approx(0.05, rel=1e-8)


# ---------------------------------------------------------------- zero background
def test_zero_background_power_law_and_table_and_callable():
    s1, e1 = 0.75, 1e-3
    ref = e1 * math.sqrt(3.0 / s1)
    assert eps_limit_zero_background(PowerLawSignal(s1, e1)) == pytest.approx(ref, rel=1e-9)
    assert eps_limit_zero_background((s1, e1)) == pytest.approx(ref, rel=1e-9)
    grid = np.geomspace(1e-5, 1e-1, 17)
    assert eps_limit_zero_background(TabulatedSignal(grid, s1 * (grid / e1) ** 2)) == pytest.approx(ref, rel=1e-9)
    assert eps_limit_zero_background(lambda e: s1 * (e / e1) ** 2, eps_range=(1e-6, 1.0)) == pytest.approx(
        ref, rel=1e-9
    )
    # combination over points uses the total S
    two = PowerLawSignal([0.25, 0.5], e1)
    assert eps_limit_zero_background(two) == pytest.approx(ref, rel=1e-9)


def test_zero_background_never_reached_is_nan():
    grid = np.geomspace(1e-5, 1e-2, 10)
    assert math.isnan(eps_limit_zero_background(TabulatedSignal(grid, np.full(10, 2.0))))


def test_zero_background_island():
    # S = A eps^2 exp(-eps/c) rises then falls: excluded island between the two roots of S = 3
    a, c = 1e7, 1e-2

    def s(e):
        return a * e**2 * math.exp(-e / c)

    ((lo, hi),) = zero_background_intervals(s, eps_range=(1e-6, 1.0))
    assert s(lo) == pytest.approx(3.0, rel=1e-8) and s(hi) == pytest.approx(3.0, rel=1e-8)
    assert lo < 2 * c < hi  # maximum of S at eps = 2c
    assert eps_limit_zero_background(s, eps_range=(1e-6, 1.0)) == pytest.approx(lo, rel=1e-12)


def test_luminosity_scaling():
    # S ~ L eps^2 (monophoton): eps_up ~ L^-1/2; N ~ L eps^4 (G section 4): x16 luminosity halves eps_up,
    # x10 luminosity improves it by 10^(1/4) = 1.78 ("factor 1.8", G)
    for power, factor16 in ((2.0, 4.0), (4.0, 2.0)):
        e1 = eps_limit_zero_background(PowerLawSignal(0.3, 1e-3, power))
        e16 = eps_limit_zero_background(PowerLawSignal(0.3 * 16, 1e-3, power))
        assert e1 / e16 == pytest.approx(factor16, rel=1e-9)
    e_a = eps_limit_zero_background(PowerLawSignal(0.3, 1e-3, 4.0))
    e_b = eps_limit_zero_background(PowerLawSignal(3.0, 1e-3, 4.0))
    assert e_a / e_b == pytest.approx(1.778, rel=1e-3)
    # tabulated tracker-like yield (not a power law): L x16 still scales S by 16 at fixed eps
    grid = np.geomspace(1e-4, 1e-2, 40)
    s_tab = 500 * grid**4 / 1e-8 * np.exp(-grid / 3e-3)
    ea = eps_limit_zero_background(TabulatedSignal(grid, s_tab))
    eb = eps_limit_zero_background(TabulatedSignal(grid, 16 * s_tab))

    def loglog(e):
        return math.exp(np.interp(math.log(e), np.log(grid), np.log(s_tab)))

    assert loglog(ea) == pytest.approx(3.0, rel=1e-8) and 16 * loglog(eb) == pytest.approx(3.0, rel=1e-8)
    assert 2.0 < ea / eb < 4.0  # between the eps^4 (x2) and eps^2 (x4) scalings


# ---------------------------------------------------------------- chi^2 (L)
@pytest.mark.parametrize("a,b", [(1e6, 0.0), (2e6, 50.0), (3e7, 1e4)])
def test_chi2_single_bin_closed_form(a, b):
    # a^2 x^2 = 2.71 (a x + B), x = eps^2  ->  x = [2.71 + sqrt(2.71^2 + 4*2.71*B)] / (2a)
    d = 2.71
    x = (d + math.sqrt(d * d + 4 * d * b)) / (2 * a)
    assert eps_limit_chi2(PowerLawSignal(a, 1.0), b) == pytest.approx(math.sqrt(x), rel=1e-9)


def test_chi2_stat_additive_and_zero_bins():
    s, b = np.array([1.0, 2.0, 0.0, 3.0]), np.array([4.0, 0.0, 0.0, 9.0])
    assert chi2_stat(s, b) == pytest.approx(1 / 5 + 4 / 2 + 0 + 9 / 12)
    assert chi2_stat(s, b) == pytest.approx(chi2_stat(s[:2], b[:2]) + chi2_stat(s[2:], b[2:]))
    assert np.allclose(chi2_stat(np.stack([s, 2 * s]), b), [chi2_stat(s, b), chi2_stat(2 * s, b)])


def test_chi2_combination_two_identical_points():
    # sum of two identical chi^2 terms: 2 S^2/(S+B) = (2S)^2/(2S+2B) exactly
    s1, b = 4.0, 300.0
    two = eps_limit_chi2(PowerLawSignal([s1, s1], 1e-3), [b, b])
    one = eps_limit_chi2(PowerLawSignal(2 * s1, 1e-3), 2 * b)
    assert two == pytest.approx(one, rel=1e-10)
    # more bins never weaken the limit
    assert two < eps_limit_chi2(PowerLawSignal(s1, 1e-3), b)


def test_chi2_large_b_is_one_sided_1p645_sigma():
    b = 1e6
    e = eps_limit_chi2(PowerLawSignal(1.0, 1.0), b)
    assert e**2 == pytest.approx(Z95 * math.sqrt(b), rel=2e-3)


# ---------------------------------------------------------------- CLs
def test_cls_large_b_matches_asymptotic_formula_and_chi2_ratio():
    b = 1e4
    s_up = cls_mu_upper_limit(1.0, b)  # expected (Asimov), S template = 1 event -> mu_up = S_up
    assert s_up == pytest.approx(asymptotic_expected_cls_s_up(b), rel=0.01)
    assert s_up == pytest.approx(Z975 * math.sqrt(b), rel=0.05)
    # vs chi^2 (Delta chi^2 = 2.71 <-> 1.645 sigma): ratio 1.960/1.645 = 1.19 in S, sqrt(1.19) = 1.09 in eps
    sig = PowerLawSignal(10.0, 1e-3)
    r_eps = eps_limit_cls(sig, b) / eps_limit_chi2(sig, b)
    assert r_eps**2 == pytest.approx(Z975 / math.sqrt(2.71), rel=0.02)
    assert r_eps == pytest.approx(1.09, rel=0.02)


def test_cls_zero_background_n0_gives_three_events():
    for calctype in ("auto", "exact"):
        assert cls_mu_upper_limit(1.0, 1e-12, calctype=calctype) == pytest.approx(3.0, rel=0.05)
        assert cls_mu_upper_limit(1.0, 0.0, observed=0, calctype=calctype) == pytest.approx(3.0, rel=0.05)
    # the asymptotic formula fails here: CLs = 2[1 - Phi(sqrt(2 S))] -> S_up = 1.96^2/2 (documented pitfall)
    assert cls_mu_upper_limit(1.0, 0.0, calctype="asymptotics") == pytest.approx(Z975**2 / 2, rel=0.01)


def test_cls_exact_vs_asymptotic_moderate_b():
    b, n = 50.0, 50
    exact = cls_mu_upper_limit(1.0, b, observed=n, calctype="exact")
    assert poisson.cdf(n, exact + b) / poisson.cdf(n, b) == pytest.approx(0.05, rel=1e-6)  # Read 2002 CLs
    asym = cls_mu_upper_limit(1.0, b, observed=n, calctype="asymptotics")
    assert asym == pytest.approx(exact, rel=0.1)


def test_cls_observed_vs_expected():
    b = 400.0
    exp_ = cls_mu_upper_limit(2.0, b)
    assert cls_mu_upper_limit(2.0, b, observed=b) == pytest.approx(exp_, rel=1e-5)
    assert cls_mu_upper_limit(2.0, b, observed=b - 40) < exp_ < cls_mu_upper_limit(2.0, b, observed=b + 40)


def test_cls_multibin_combination_and_zero_background_bin():
    # identical S/B in every bin: the total count is sufficient -> two bins == merged bin
    two = cls_mu_upper_limit([5.0, 5.0], [500.0, 500.0], calctype="asymptotics")
    one = cls_mu_upper_limit(10.0, 1000.0, calctype="asymptotics")
    assert two == pytest.approx(one, rel=2e-3)
    # a b = 0 bin (floored) adds sensitivity without breaking the fit
    with_zero = cls_mu_upper_limit([5.0, 5.0], [500.0, 0.0], calctype="asymptotics")
    alone = cls_mu_upper_limit(5.0, 500.0, calctype="asymptotics")
    assert math.isfinite(with_zero) and with_zero < alone


def test_cls_background_uncertainty():
    b = 1e4
    no_unc = cls_mu_upper_limit(1.0, b)
    for tiny in (1e-3, 1.0):  # negligible (1e-3 is below the 10^-3.5 relative cut-off, 1.0 is fitted)
        assert cls_mu_upper_limit(1.0, b, b_uncertainty=tiny) == pytest.approx(no_unc, rel=2e-3)
    # B = 100 with 10 % uncertainty: sigma_tot = sqrt(100 + 100); small-count asymptotics, looser tolerance
    assert cls_mu_upper_limit(1.0, 100.0, b_uncertainty=10.0) == pytest.approx(Z975 * math.sqrt(200.0), rel=0.1)
    # 1 % uncertainty on B = 1e4: sigma_tot = sqrt(B + (0.01 B)^2) = sqrt(2) sqrt(B)
    s_up = cls_mu_upper_limit(1.0, b, b_uncertainty=0.01 * b)
    assert s_up == pytest.approx(Z975 * math.sqrt(b + (0.01 * b) ** 2), rel=0.05)


def test_eps_limit_cls_power_law_and_table():
    s1, e1, b = 3.0, 1e-3, 2500.0
    ref = e1 * math.sqrt(asymptotic_expected_cls_s_up(b) / s1)
    assert eps_limit_cls(PowerLawSignal(s1, e1), b) == pytest.approx(ref, rel=0.01)
    grid = np.geomspace(1e-5, 1e-1, 33)
    assert eps_limit_cls(TabulatedSignal(grid, s1 * (grid / e1) ** 2), b) == pytest.approx(ref, rel=0.01)
    # zero background: S(eps_up) = 3 (exact calculator) for a table
    tab = TabulatedSignal(grid, np.stack([s1 * (grid / e1) ** 2, 2 * s1 * (grid / e1) ** 2], axis=-1))
    assert eps_limit_cls(tab, [0.0, 0.0]) == pytest.approx(e1 * math.sqrt(-math.log(0.05) / (3 * s1)), rel=1e-6)


def test_eps_limit_cls_shape_changing_signal_converges():
    grid = np.geomspace(1e-5, 1e-1, 60)
    tab = TabulatedSignal(grid, np.stack([1e8 * grid**2, 1e9 * grid**2.5], axis=-1))
    b = np.array([100.0, 50.0])
    e = eps_limit_cls(tab, b)
    assert cls_mu_upper_limit(tab(e), b) == pytest.approx(1.0, rel=1e-4)


# ---------------------------------------------------------------- comparison
def test_compare_methods():
    sig = PowerLawSignal([10.0, 20.0], 1e-3)
    b = [1000.0, 2000.0]
    res = compare_methods(sig, b, observed=[1000, 2000])
    assert set(res) == {"zero_background", "chi2", "cls_expected", "cls_observed"}
    assert all(isinstance(r, LimitResult) and r.cl == 0.95 for r in res.values())
    assert res["zero_background"].s_at_limit == pytest.approx(3.0)
    assert res["chi2"].eps == pytest.approx(eps_limit_chi2(sig, b))
    assert res["chi2"].s_at_limit ** 2 / (res["chi2"].s_at_limit + 3000.0) == pytest.approx(2.71, rel=1e-6)
    assert res["cls_observed"].eps == pytest.approx(res["cls_expected"].eps, rel=1e-4)
    assert res["zero_background"].eps < res["chi2"].eps < res["cls_expected"].eps
    assert "input_b" in res["chi2"].as_dict()
    assert "cls_observed" not in compare_methods(sig, b)
