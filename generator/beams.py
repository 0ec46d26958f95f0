"""Beam energies, energy spread and the CM boost (``physics.md`` §2, G eq. 2).

Electron beam along +z, positron along -z, no crossing angle. Three spread models:

* ``none``: monochromatic beams.
* ``gaussian_sqrt_s``: sqrt(s) Gaussian around sqrt(s0) with width sigma_0 (G eq. 2); the boost
  is the nominal one.
* ``gaussian_per_beam``: each beam energy Gaussian; sqrt(s) = 2 sqrt(E- E+) and the boost
  beta_z = (E- - E+)/(E- + E+) per event (asymmetric machines, physics.md §2).

Sampling is importance sampling above a threshold sqrt(s)_min: draws below it are never made.
The returned ``weight`` is the probability mass of the spread above threshold, so the mean of
weight x sigma(sqrt(s)) over the draws is the luminosity-averaged cross section of G eq. (3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["SPREAD_MODELS", "Beams"]

SPREAD_MODELS = ("none", "gaussian_sqrt_s", "gaussian_per_beam")

_U_EDGE = 2.0**-54  # keeps inverse-CDF arguments strictly inside (0, 1)


def _truncated_normal_above(u, a):
    """Standard-normal z >= a from uniforms u in [0, 1) by inverse CDF; returns (z, P(z >= a))."""
    tail = ndtr(-a)
    v = np.clip(1.0 - u, _U_EDGE, 1.0)  # (0, 1]
    z = -ndtri(v * tail)
    return np.maximum(z, a), tail


@dataclass(frozen=True)
class Beams:
    """Nominal beam energies [GeV] and their spread (widths in GeV)."""

    electron_energy_gev: float
    positron_energy_gev: float
    spread_model: str = "none"
    sigma_sqrt_s_gev: float = 0.0
    sigma_electron_gev: float = 0.0
    sigma_positron_gev: float = 0.0

    n_uniforms = 2

    @classmethod
    def symmetric(cls, sqrt_s_gev: float, sigma_sqrt_s_gev: float = 0.0) -> Beams:
        """Equal beams at sqrt(s0)/2 with a Gaussian sqrt(s) spread (or none if sigma = 0)."""
        model = "gaussian_sqrt_s" if sigma_sqrt_s_gev > 0 else "none"
        half = sqrt_s_gev / 2.0
        return cls(half, half, model, sigma_sqrt_s_gev=sigma_sqrt_s_gev)

    @property
    def sqrt_s0_gev(self) -> float:
        """Nominal CM energy 2 sqrt(E- E+) [GeV]."""
        return 2.0 * np.sqrt(self.electron_energy_gev * self.positron_energy_gev)

    @property
    def beta_z0(self) -> float:
        """Nominal velocity of the CM frame along +z."""
        e1, e2 = self.electron_energy_gev, self.positron_energy_gev
        return (e1 - e2) / (e1 + e2)

    @property
    def sigma_sqrt_s_effective_gev(self) -> float:
        """Width of sqrt(s) to first order: for per-beam spread sqrt(s0) * sqrt((s-/E-)^2 + (s+/E+)^2)/2."""
        if self.spread_model == "gaussian_sqrt_s":
            return self.sigma_sqrt_s_gev
        if self.spread_model == "gaussian_per_beam":
            rel = np.hypot(
                self.sigma_electron_gev / self.electron_energy_gev,
                self.sigma_positron_gev / self.positron_energy_gev,
            )
            return 0.5 * self.sqrt_s0_gev * rel
        return 0.0

    def reach_gev(self, n_sigma: float = 5.0) -> float:
        """Highest sqrt(s) with non-negligible luminosity: sqrt(s0) + n_sigma x width [GeV]."""
        return self.sqrt_s0_gev + n_sigma * self.sigma_sqrt_s_effective_gev

    def sample(self, u, sqrt_s_min_gev: float):
        """Draw (sqrt_s [GeV], beta_z, weight) from uniforms ``u`` of shape (2, n).

        Only sqrt(s) >= ``sqrt_s_min_gev`` is generated; ``weight`` is its probability.
        """
        u = np.asarray(u, dtype=float)
        n = u.shape[1]
        if self.spread_model == "none":
            sqrt_s = np.full(n, self.sqrt_s0_gev)
            weight = np.full(n, 1.0 if self.sqrt_s0_gev >= sqrt_s_min_gev else 0.0)
            return sqrt_s, np.full(n, self.beta_z0), weight
        if self.spread_model == "gaussian_sqrt_s":
            a = (sqrt_s_min_gev - self.sqrt_s0_gev) / self.sigma_sqrt_s_gev
            z, tail = _truncated_normal_above(u[0], a)
            sqrt_s = self.sqrt_s0_gev + self.sigma_sqrt_s_gev * z
            return sqrt_s, np.full(n, self.beta_z0), np.full(n, tail)
        if self.spread_model == "gaussian_per_beam":
            e1 = self.electron_energy_gev + self.sigma_electron_gev * ndtri(np.clip(u[0], _U_EDGE, 1.0 - _U_EDGE))
            e2_min = sqrt_s_min_gev**2 / (4.0 * e1)
            a = (e2_min - self.positron_energy_gev) / self.sigma_positron_gev
            z, tail = _truncated_normal_above(u[1], a)
            e2 = np.maximum(self.positron_energy_gev + self.sigma_positron_gev * z, e2_min)
            sqrt_s = 2.0 * np.sqrt(e1 * e2)
            return sqrt_s, (e1 - e2) / (e1 + e2), tail
        raise ValueError(f"unknown spread model {self.spread_model!r}; allowed: {', '.join(SPREAD_MODELS)}")
