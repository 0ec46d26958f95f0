"""Initial-state radiation: structure-function kernels and their sampling (``docs/physics.md`` §3).

x = 1 - s'/s is the energy fraction carried by collinear ISR photons;
sigma(s) = int F(x, s) sigma_0(s (1 - x)) dx (G eq. 12).

Kernels, with beta_e = (2 alpha/pi)(ln(s/m_e^2) - 1):

* ``kuraev_fadin`` (default): Kuraev & Fadin, Sov. J. Nucl. Phys. 41 (1985) 466, no pair terms.
* ``gorbunov``: G eq. (12), H = B (x^(B-1) - 1 + x/2); integrates to 1 - 3B/4, ~6 % below KF.
* ``off``: no radiation, x = 0.

Sampling: x = x_lim u^(1/beta_e) from the proposal beta_e x^(beta_e - 1) truncated to
[0, x_lim]; weight = x_lim^beta_e F(x) / (beta_e x^(beta_e - 1)), positive everywhere.
"""

from __future__ import annotations

import numpy as np

from .constants import ALPHA, M_E_GEV

__all__ = ["KERNELS", "beta_e", "isr_kernel", "sample_isr_x"]

KERNELS = ("kuraev_fadin", "gorbunov", "off")

_X_FLOOR = 1e-300  # u = 0 would give x = 0 exactly; the kernel ratio is finite there


def beta_e(s_gev2):
    """ISR exponent beta_e = (2 alpha/pi)(ln(s/m_e^2) - 1); ~0.078 at sqrt(s) = 4 GeV."""
    log_s = np.log(np.asarray(s_gev2, dtype=float) / M_E_GEV**2)
    return 2.0 * ALPHA / np.pi * (log_s - 1.0)


def _kf_ratio(x, s_gev2):
    """F_KF(x, s) / (beta_e x^(beta_e - 1)), docs/physics.md §3."""
    log_s = np.log(s_gev2 / M_E_GEV**2)
    b = 2.0 * ALPHA / np.pi * (log_s - 1.0)
    soft = (
        1.0
        + ALPHA / np.pi * (np.pi**2 / 3.0 - 0.5)
        + 0.75 * b
        - b**2 / 24.0 * (log_s / 3.0 + 2.0 * np.pi**2 - 37.0 / 4.0)
    )
    x1mb = x ** (1.0 - b)
    log_one_minus = -np.log1p(-x)  # ln(1/(1-x))
    hard = 4.0 * (2.0 - x) * (-np.log(x)) * x + (1.0 + 3.0 * (1.0 - x) ** 2) * log_one_minus - (6.0 - x) * x
    # beta^2/8 [...] / (beta x^(beta-1)) = (beta/8) x^(1-beta) [...]; [...] multiplied by x above
    return soft - x1mb * (1.0 - x / 2.0) + b / 8.0 * (x1mb / x) * hard


def _gorbunov_ratio(x, s_gev2):
    """H(x, s) / (B x^(B - 1)) for G eq. (12)."""
    b = beta_e(s_gev2)
    return 1.0 - x ** (1.0 - b) * (1.0 - x / 2.0)


def isr_kernel(x, s_gev2, kernel: str = "kuraev_fadin"):
    """The radiator F(x, s) (per unit x) of the chosen ``kernel``; not defined for ``off``."""
    x = np.asarray(x, dtype=float)
    b = beta_e(s_gev2)
    if kernel == "kuraev_fadin":
        ratio = _kf_ratio(x, s_gev2)
    elif kernel == "gorbunov":
        ratio = _gorbunov_ratio(x, s_gev2)
    else:
        raise ValueError(f"kernel must be 'kuraev_fadin' or 'gorbunov', got {kernel!r}")
    return b * x ** (b - 1.0) * ratio


def sample_isr_x(u, s_gev2, x_lim, kernel: str = "kuraev_fadin"):
    """Sample x on [0, x_lim] from uniforms ``u``; return ``(x, weight)``.

    ``weight`` multiplies the Born cross section at s(1 - x): its mean over u is the
    integral of F(x, s) sigma_0 over [0, x_lim] divided by sigma_0 (importance sampling).
    For ``kernel='off'``: x = 0, weight = 1.
    """
    u = np.asarray(u, dtype=float)
    s = np.asarray(s_gev2, dtype=float)
    if kernel == "off":
        return np.zeros_like(u), np.ones_like(u)
    if kernel not in KERNELS:
        raise ValueError(f"unknown ISR kernel {kernel!r}; allowed: {', '.join(KERNELS)}")
    b = beta_e(s)
    x_lim = np.asarray(x_lim, dtype=float)
    x = np.maximum(x_lim * u ** (1.0 / b), _X_FLOOR)
    ratio = _kf_ratio(x, s) if kernel == "kuraev_fadin" else _gorbunov_ratio(x, s)
    return x, x_lim**b * ratio
