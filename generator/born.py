"""Born cross section and angular law of e+e- -> chi chibar (``docs/physics.md`` §1).

The exact velocity beta = sqrt(1 - 4 m^2/s) is used; G eq. (1), sigma = 2 pi alpha^2 eps^2 beta/s,
is its beta -> 0 limit (Dirac). The Coulomb/Sommerfeld factor ~ pi eps^2 alpha/beta is < 1e-4 for
the eps and beta of interest and is neglected (docs/physics.md §1).
"""

from __future__ import annotations

import numpy as np

from .constants import ALPHA, GEV2_TO_PB

__all__ = ["SPINS", "pair_beta", "sigma_born_pb", "sample_cos_theta", "angular_density"]

SPINS = ("dirac", "scalar")


def pair_beta(s_gev2, mass_gev):
    """Velocity of each particle in the pair rest frame, sqrt(1 - 4m^2/s); 0 below threshold."""
    s = np.asarray(s_gev2, dtype=float)
    return np.sqrt(np.clip(1.0 - 4.0 * mass_gev**2 / s, 0.0, None))


def sigma_born_pb(s_gev2, mass_gev: float, epsilon: float, spin: str = "dirac"):
    """Born cross section sigma_0(s) of e+e- -> chi chibar in pb (docs/physics.md §1).

    Dirac: (4 pi alpha^2 eps^2 / 3s) beta (3 - beta^2)/2; scalar: pi alpha^2 eps^2 beta^3/(3s).
    Zero below threshold.
    """
    s = np.asarray(s_gev2, dtype=float)
    beta = pair_beta(s, mass_gev)
    if spin == "dirac":
        sigma = 4.0 * np.pi * ALPHA**2 * epsilon**2 / (3.0 * s) * beta * (3.0 - beta**2) / 2.0
    elif spin == "scalar":
        sigma = np.pi * ALPHA**2 * epsilon**2 * beta**3 / (3.0 * s)
    else:
        raise ValueError(f"spin must be one of {SPINS}, got {spin!r}")
    return sigma * GEV2_TO_PB


def angular_density(cos_theta, beta, spin: str = "dirac"):
    """Normalised dN/dcos(theta) on [-1, 1] in the pair rest frame (docs/physics.md §1).

    Dirac: 1 + c^2 + (1 - beta^2)(1 - c^2) = (2 - beta^2) + beta^2 c^2; scalar: 1 - c^2.
    """
    c = np.asarray(cos_theta, dtype=float)
    if spin == "scalar":
        return 0.75 * (1.0 - c**2)
    b2 = np.asarray(beta, dtype=float) ** 2
    a = 2.0 - b2
    return (a + b2 * c**2) / (2.0 * a + 2.0 * b2 / 3.0)


def sample_cos_theta(u, beta, spin: str = "dirac"):
    """Inverse-CDF sample of cos(theta) from uniforms ``u`` (same shape as ``beta``).

    The CDF of a + b c^2 is a cubic; its single real root (Dirac, b = beta^2 >= 0) is taken in
    the cancellation-free sinh form, the scalar case (a = 1, b = -1) in the trigonometric form.
    """
    u = np.asarray(u, dtype=float)
    if spin == "scalar":
        # (3c - c^3 + 2)/4 = u  <=>  c^3 - 3c + (4u - 2) = 0, root in [-1, 1]
        return 2.0 * np.cos((np.arccos(1.0 - 2.0 * u) + 4.0 * np.pi) / 3.0)
    b = np.maximum(np.asarray(beta, dtype=float) ** 2, 1e-12)
    a = 2.0 - b
    # (b/3) c^3 + a c + (a + b/3) - u (2a + 2b/3) = 0  ->  c^3 + p c + q = 0
    p = 3.0 * a / b
    q = (3.0 * a / b + 1.0) * (1.0 - 2.0 * u)
    root_p3 = np.sqrt(p / 3.0)
    return -2.0 * root_p3 * np.sinh(np.arcsinh(1.5 * q / (p * root_p3)) / 3.0)
