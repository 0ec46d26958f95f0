"""Independent reference calculations for the tests (scipy quadrature of the paper formulas).

Written from ``docs/physics.md`` §1-3 and G eqs. (2), (3), (12) without importing the
generator, so that a mistake in the sampler cannot hide in its own reference.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

ALPHA = 1 / 137.035999
ME = 0.51099895e-3  # GeV
PB = 3.893794e8  # pb GeV^2


def born_pb(s, m, eps, spin="dirac"):
    """docs/physics.md §1: Dirac (4 pi a^2 e^2/3s) b (3 - b^2)/2, scalar pi a^2 e^2 b^3/(3s)."""
    if s <= 4 * m * m:
        return 0.0
    b = math.sqrt(1 - 4 * m * m / s)
    if spin == "dirac":
        return 4 * math.pi * ALPHA**2 * eps**2 / (3 * s) * b * (3 - b * b) / 2 * PB
    return math.pi * ALPHA**2 * eps**2 * b**3 / (3 * s) * PB


def beta_isr(s):
    return 2 * ALPHA / math.pi * (math.log(s / ME**2) - 1)


def kernel_over_singular(x, s, kernel):
    """F(x, s) * x^(1 - beta_e) (the smooth part left after quad's algebraic weight)."""
    L = math.log(s / ME**2)
    b = beta_isr(s)
    if kernel == "gorbunov":  # G eq. (12): B (x^(B-1) - 1 + x/2)
        return b * (1 - x ** (1 - b) * (1 - x / 2))
    # Kuraev-Fadin, docs/physics.md §3
    c = 1 + ALPHA / math.pi * (math.pi**2 / 3 - 0.5) + 0.75 * b - b * b / 24 * (L / 3 + 2 * math.pi**2 - 37 / 4)
    hard = -b * (1 - x / 2)
    if x > 0:
        hard += b * b / 8 * (4 * (2 - x) * math.log(1 / x) + (1 + 3 * (1 - x) ** 2) / x * math.log(1 / (1 - x)) - 6 + x)
    return b * c + hard * x ** (1 - b)


def sigma_isr_pb(s, m, eps, spin, kernel, x_max=None):
    """int_0^xlim F(x,s) sigma_0(s(1-x)) dx with quad's x^(beta-1) algebraic weight."""
    if kernel == "off":
        return born_pb(s, m, eps, spin)
    x_lim = 1 - 4 * m * m / s
    if x_max is not None:
        x_lim = min(x_lim, x_max)
    if x_lim <= 0:
        return 0.0
    b = beta_isr(s)
    value, _ = integrate.quad(
        lambda x: kernel_over_singular(x, s, kernel) * born_pb(s * (1 - x), m, eps, spin),
        0.0,
        x_lim,
        weight="alg",
        wvar=(b - 1, 0.0),
        epsabs=0,
        epsrel=1e-9,
        limit=200,
    )
    return value


def sigma_spread_pb(sqrt_s0, sigma0, m, eps, spin="dirac", kernel="off", x_max=None, n_sigma=9.0):
    """G eq. (3)/(12): Gaussian beam spread in sqrt(s) convolved with the (ISR) cross section."""

    def integrand(rs):
        gauss = math.exp(-0.5 * ((rs - sqrt_s0) / sigma0) ** 2) / (math.sqrt(2 * math.pi) * sigma0)
        return gauss * sigma_isr_pb(rs * rs, m, eps, spin, kernel, x_max)

    lo = max(2 * m, sqrt_s0 - n_sigma * sigma0)
    hi = sqrt_s0 + n_sigma * sigma0
    value, _ = integrate.quad(
        integrand, lo, hi, epsabs=0, epsrel=1e-9, limit=400, points=[sqrt_s0] if lo < sqrt_s0 else None
    )
    return value


def dsigma_dbeta_pb(beta, sqrt_s0, sigma0, m, eps, spin="dirac"):
    """Spread-averaged d sigma/d beta without ISR: sqrt(s) = 2m/sqrt(1 - beta^2)."""
    rs = 2 * m / math.sqrt(1 - beta * beta)
    jac = 2 * m * beta / (1 - beta * beta) ** 1.5
    gauss = math.exp(-0.5 * ((rs - sqrt_s0) / sigma0) ** 2) / (math.sqrt(2 * math.pi) * sigma0)
    return gauss * born_pb(rs * rs, m, eps, spin) * jac


def weighted_chi2(values, weights, edges, expected):
    """chi^2 of a weighted histogram against expected bin integrals (variance sum w^2)."""
    h, _ = np.histogram(values, edges, weights=weights)
    v, _ = np.histogram(values, edges, weights=weights**2)
    return float(np.sum((h - expected) ** 2 / v)), len(expected)
