"""Beam energies, energy spread, crossing angle and the CM boost (``docs/physics.md`` §2, §10; G eq. 2).

Geometry (``docs/physics.md`` §10). Lab z is the detector (solenoid) axis; it bisects the e-
direction and the reversed e+ direction, as at SuperKEKB/Belle II and BEPCII/BESIII. The beams cross
in the horizontal x-z plane at the full angle theta_c; with massless beams of energies E1 (e-) and
E2 (e+), half angle h = theta_c/2,

    p(e-) = E1 (sin h, 0,  cos h),    p(e+) = E2 (sin h, 0, -cos h),

so both beams lean towards +x and the e+e- system moves towards +x (mirror x -> -x for a machine
whose rings cross the other way; nothing here depends on that choice). Then

    s = 2 E1 E2 (1 + cos theta_c) = 4 E1 E2 cos^2 h,
    beta = (p1 + p2)/(E1 + E2) = (sin h, 0, cos h (E1 - E2)/(E1 + E2)),

i.e. beta_x = sin(theta_c/2) exactly, whatever the energies (0.030 at 60 mrad), and
beta_z = cos h (E1 - E2)/(E1 + E2). Beam masses are neglected (m_e^2/E^2 < 1e-6 in s).
Head-on beams (theta_c = 0) give back the former formulas bit for bit.

Spread models:

* ``none``: monochromatic beams.
* ``gaussian_sqrt_s``: sqrt(s) Gaussian around sqrt(s0) with width sigma_0 (G eq. 2); the beam
  energies of an event are the nominal ones scaled by sqrt(s)/sqrt(s0), so the CM velocity is the
  nominal one (beta_x from the crossing angle, beta_z0).
* ``gaussian_per_beam``: each beam energy Gaussian (independently); sqrt(s) and beta per event
  (asymmetric machines, ``docs/physics.md`` §2).

Sampling is importance sampling above a threshold sqrt(s)_min: draws below it are never made.
The returned ``weight`` is the probability mass of the spread above threshold, so the mean of
weight x sigma(sqrt(s)) over the draws is the luminosity-averaged cross section of G eq. (3).
Per beam, E1 is drawn from its full Gaussian and E2 from its Gaussian truncated at
E2_min = s_min / (4 E1 cos^2 h); weight = P(E2 >= E2_min | E1). Two uniforms per event in every
model (u[0]: sqrt(s) or E1, u[1]: E2).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
from scipy.special import ndtr, ndtri

from .kinematics import cm_beam_axis_angle, momentum4d

__all__ = ["SPREAD_MODELS", "Beams", "BeamSample"]

SPREAD_MODELS = ("none", "gaussian_sqrt_s", "gaussian_per_beam")

_U_EDGE = 2.0**-54  # keeps inverse-CDF arguments strictly inside (0, 1)


def _truncated_normal_above(u, a):
    """Standard-normal z >= a from uniforms u in [0, 1) by inverse CDF; returns (z, P(z >= a))."""
    tail = ndtr(-a)
    v = np.clip(1.0 - u, _U_EDGE, 1.0)  # (0, 1]
    z = -ndtri(v * tail)
    return np.maximum(z, a), tail


def _pair(value) -> tuple[float, float]:
    """A relative spread given as one number (both beams) or as (electron, positron)."""
    if np.ndim(value) == 0:
        return float(value), float(value)
    e, p = value
    return float(e), float(p)


@dataclass(frozen=True)
class BeamSample:
    """Per-event beams drawn by :meth:`Beams.sample_frame` (arrays of length n).

    ``sqrt_s_gev`` CM energy; ``beta_x``, ``beta_z`` velocity of the e+e- system in the lab;
    ``cm_axis_angle_rad`` angle of the CM beam axis (e- direction in the CM frame) from +z about +y
    (:func:`generator.kinematics.cm_beam_axis_angle`); ``electron_energy_gev``,
    ``positron_energy_gev`` lab beam energies; ``crossing_angle_rad`` (scalar); ``weight``
    probability mass above the threshold (dimensionless).
    """

    sqrt_s_gev: np.ndarray
    beta_x: np.ndarray
    beta_z: np.ndarray
    cm_axis_angle_rad: np.ndarray
    electron_energy_gev: np.ndarray
    positron_energy_gev: np.ndarray
    crossing_angle_rad: float
    weight: np.ndarray

    def beam_momenta(self):
        """Lab four-momenta of the e- and e+ beams as two (4, n) arrays (E, px, py, pz) [GeV]."""
        h = 0.5 * self.crossing_angle_rad
        e1, e2 = self.electron_energy_gev, self.positron_energy_gev
        zero = np.zeros_like(e1)
        p1 = np.stack([e1, e1 * np.sin(h), zero, e1 * np.cos(h)])
        p2 = np.stack([e2, e2 * np.sin(h), zero, -e2 * np.cos(h)])
        return p1, p2


@dataclass(frozen=True)
class Beams:
    """Nominal beam energies [GeV], their spread (widths in GeV) and the full crossing angle [rad].

    Build it from the nominal CM energy with :meth:`for_sqrt_s` (sqrt(s0) is then held whatever
    the angle), from two beam energies with :meth:`from_beam_energies`, or from a machine preset
    with :func:`generator.machines.machine_beams`. The plain constructor takes the beam
    energies as they are: sqrt(s0) = 2 sqrt(E1 E2) cos(theta_c/2).
    """

    electron_energy_gev: float
    positron_energy_gev: float
    spread_model: str = "none"
    sigma_sqrt_s_gev: float = 0.0
    sigma_electron_gev: float = 0.0
    sigma_positron_gev: float = 0.0
    crossing_angle_rad: float = 0.0

    name = "beams"
    n_uniforms = 2
    mass_gev = None
    epsilon = None

    def __post_init__(self):
        if self.spread_model not in SPREAD_MODELS:
            raise ValueError(f"unknown spread model {self.spread_model!r}; allowed: {', '.join(SPREAD_MODELS)}")
        if not 0.0 <= self.crossing_angle_rad < np.pi:
            raise ValueError(f"crossing_angle_rad must be in [0, pi), got {self.crossing_angle_rad!r}")
        if min(self.sigma_sqrt_s_gev, self.sigma_electron_gev, self.sigma_positron_gev) < 0.0:
            raise ValueError("beam-spread widths must be >= 0")

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def symmetric(cls, sqrt_s_gev: float, sigma_sqrt_s_gev: float = 0.0, *, crossing_angle_rad: float = 0.0) -> Beams:
        """Equal beams giving sqrt(s0) = ``sqrt_s_gev`` (E = sqrt(s0) / (2 cos(theta_c/2))) with a
        Gaussian sqrt(s) spread (or none if sigma = 0)."""
        model = "gaussian_sqrt_s" if sigma_sqrt_s_gev > 0 else "none"
        half = sqrt_s_gev / (2.0 * np.cos(0.5 * crossing_angle_rad))
        return cls(half, half, model, sigma_sqrt_s_gev=sigma_sqrt_s_gev, crossing_angle_rad=crossing_angle_rad)

    @classmethod
    def for_sqrt_s(
        cls,
        sqrt_s0_gev: float,
        *,
        energy_ratio: float = 1.0,
        crossing_angle_rad: float = 0.0,
        spread_model: str = "none",
        sigma_sqrt_s_gev: float = 0.0,
        relative_spread: float | tuple[float, float] = 0.0,
    ) -> Beams:
        """Beams with nominal CM energy ``sqrt_s0_gev`` [GeV] whatever the crossing angle.

        ``energy_ratio`` = E1/E2 (e- over e+ nominal energy, 1 = symmetric): E2 = sqrt(s0) /
        (2 cos(theta_c/2) sqrt(r)), E1 = r E2. ``relative_spread`` = sigma_E/E per beam, one number
        or (electron, positron): the beam widths of ``gaussian_per_beam``, and for
        ``gaussian_sqrt_s`` without ``sigma_sqrt_s_gev`` the first-order width
        sqrt(s0)/2 x hypot(d1, d2) (G eq. 2: sqrt(2) d sqrt(s0)/2 for equal beams).
        """
        if not energy_ratio > 0.0:
            raise ValueError("energy_ratio must be > 0")
        e2 = sqrt_s0_gev / (2.0 * np.cos(0.5 * crossing_angle_rad) * np.sqrt(energy_ratio))
        e1 = e2 if energy_ratio == 1.0 else energy_ratio * e2
        return cls.from_beam_energies(
            e1,
            e2,
            crossing_angle_rad=crossing_angle_rad,
            spread_model=spread_model,
            sigma_sqrt_s_gev=sigma_sqrt_s_gev,
            relative_spread=relative_spread,
        )

    @classmethod
    def from_beam_energies(
        cls,
        electron_energy_gev: float,
        positron_energy_gev: float,
        *,
        crossing_angle_rad: float = 0.0,
        spread_model: str = "none",
        sigma_sqrt_s_gev: float = 0.0,
        relative_spread: float | tuple[float, float] = 0.0,
        sqrt_s0_gev: float | None = None,
    ) -> Beams:
        """Beams from two nominal beam energies [GeV] and the full crossing angle [rad].

        sqrt(s0) = 2 sqrt(E1 E2) cos(theta_c/2); with ``sqrt_s0_gev`` both energies are scaled by
        one factor (ratio kept) so that this CM energy holds. Spread arguments as in
        :meth:`for_sqrt_s`.
        """
        e1, e2 = float(electron_energy_gev), float(positron_energy_gev)
        if sqrt_s0_gev is not None:
            k = sqrt_s0_gev / (2.0 * np.sqrt(e1 * e2) * np.cos(0.5 * crossing_angle_rad))
            e1, e2 = k * e1, k * e2
        d1, d2 = _pair(relative_spread)
        kwargs = {}
        if spread_model == "gaussian_sqrt_s":
            sigma = sigma_sqrt_s_gev
            if not sigma > 0.0:
                sigma = np.sqrt(e1 * e2) * np.cos(0.5 * crossing_angle_rad) * np.hypot(d1, d2)
            kwargs["sigma_sqrt_s_gev"] = float(sigma)
        elif spread_model == "gaussian_per_beam":
            kwargs["sigma_electron_gev"] = d1 * e1
            kwargs["sigma_positron_gev"] = d2 * e2
        return cls(e1, e2, spread_model, crossing_angle_rad=float(crossing_angle_rad), **kwargs)

    # -- nominal quantities -------------------------------------------------------------------
    @property
    def _cos_half(self) -> float:
        return float(np.cos(0.5 * self.crossing_angle_rad))

    @property
    def sqrt_s0_gev(self) -> float:
        """Nominal CM energy 2 sqrt(E1 E2) cos(theta_c/2) [GeV]."""
        return 2.0 * np.sqrt(self.electron_energy_gev * self.positron_energy_gev) * self._cos_half

    @property
    def beta_z0(self) -> float:
        """Nominal velocity of the CM frame along +z: cos(theta_c/2) (E1 - E2)/(E1 + E2)."""
        e1, e2 = self.electron_energy_gev, self.positron_energy_gev
        return (e1 - e2) / (e1 + e2) * self._cos_half

    @property
    def beta_x0(self) -> float:
        """Velocity of the CM frame along +x: sin(theta_c/2), for any beam energies."""
        return float(np.sin(0.5 * self.crossing_angle_rad))

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

    # -- sampling -----------------------------------------------------------------------------
    def sample_frame(self, u, sqrt_s_min_gev: float) -> BeamSample:
        """Draw the beams of n events from uniforms ``u`` of shape (2, n).

        Only sqrt(s) >= ``sqrt_s_min_gev`` is generated; ``weight`` is its probability.
        """
        u = np.asarray(u, dtype=float)
        n = u.shape[1]
        c = self._cos_half
        e1_0, e2_0 = self.electron_energy_gev, self.positron_energy_gev
        if self.spread_model == "none":
            sqrt_s = np.full(n, self.sqrt_s0_gev)
            weight = np.full(n, 1.0 if self.sqrt_s0_gev >= sqrt_s_min_gev else 0.0)
            beta_z = np.full(n, self.beta_z0)
            e1, e2 = np.full(n, e1_0), np.full(n, e2_0)
        elif self.spread_model == "gaussian_sqrt_s":
            a = (sqrt_s_min_gev - self.sqrt_s0_gev) / self.sigma_sqrt_s_gev
            z, tail = _truncated_normal_above(u[0], a)
            sqrt_s = self.sqrt_s0_gev + self.sigma_sqrt_s_gev * z
            beta_z, weight = np.full(n, self.beta_z0), np.full(n, tail)
            scale = sqrt_s / self.sqrt_s0_gev  # both beams scaled: beta unchanged
            e1, e2 = e1_0 * scale, e2_0 * scale
        else:  # gaussian_per_beam
            e1 = e1_0 + self.sigma_electron_gev * ndtri(np.clip(u[0], _U_EDGE, 1.0 - _U_EDGE))
            e2_min = sqrt_s_min_gev**2 / (4.0 * e1 * (c * c))
            a = (e2_min - e2_0) / self.sigma_positron_gev
            z, weight = _truncated_normal_above(u[1], a)
            e2 = np.maximum(e2_0 + self.sigma_positron_gev * z, e2_min)
            sqrt_s = 2.0 * np.sqrt(e1 * e2) * c
            beta_z = (e1 - e2) / (e1 + e2) * c
        beta_x = np.full(n, self.beta_x0)
        if self.crossing_angle_rad == 0.0 and self.beta_x0 == 0.0:
            # head-on: the e- stays on the z axis in the CM, atan2(0, p_z > 0) = 0 exactly
            axis_angle = np.zeros(n)
        else:
            axis_angle = cm_beam_axis_angle(beta_x, beta_z, self.crossing_angle_rad)
        return BeamSample(
            sqrt_s_gev=sqrt_s,
            beta_x=beta_x,
            beta_z=beta_z,
            cm_axis_angle_rad=axis_angle,
            electron_energy_gev=e1,
            positron_energy_gev=e2,
            crossing_angle_rad=float(self.crossing_angle_rad),
            weight=weight,
        )

    def sample(self, u, sqrt_s_min_gev: float):
        """Draw (sqrt_s [GeV], beta_z, weight) from uniforms ``u`` of shape (2, n) (see
        :meth:`sample_frame` for beta_x, the CM beam axis and the beam energies)."""
        frame = self.sample_frame(u, sqrt_s_min_gev)
        return frame.sqrt_s_gev, frame.beta_z, frame.weight

    # -- process protocol (generator.processes) -----------------------------------------------
    def generate(self, u) -> ak.Array:
        """The beams alone as events (no threshold): fields ``electron``, ``positron``
        (Momentum4D, lab, GeV), ``sqrt_s``, ``beta_x``, ``beta_z``, ``cm_axis_angle`` [rad] and
        ``weight`` (= 1, the luminosity fraction; dimensionless, not pb)."""
        frame = self.sample_frame(u, 0.0)
        p1, p2 = frame.beam_momenta()
        return ak.zip(
            {
                "electron": momentum4d(p1[1], p1[2], p1[3], p1[0]),
                "positron": momentum4d(p2[1], p2[2], p2[3], p2[0]),
                "sqrt_s": frame.sqrt_s_gev,
                "beta_x": frame.beta_x,
                "beta_z": frame.beta_z,
                "cm_axis_angle": frame.cm_axis_angle_rad,
                "weight": frame.weight,
            },
            depth_limit=1,
        )

    def describe(self) -> dict:
        """Beam model, for the run metadata."""
        return {
            "process": self.name,
            "beam_spread_model": self.spread_model,
            "electron_energy_gev": self.electron_energy_gev,
            "positron_energy_gev": self.positron_energy_gev,
            "sqrt_s0_gev": self.sqrt_s0_gev,
            "sigma_sqrt_s_gev": self.sigma_sqrt_s_effective_gev,
            "sigma_electron_gev": self.sigma_electron_gev,
            "sigma_positron_gev": self.sigma_positron_gev,
            "crossing_angle_rad": self.crossing_angle_rad,
            "beta_x0": self.beta_x0,
            "beta_z0": self.beta_z0,
            "frame": "lab z = solenoid axis, bisecting e- and reversed e+; crossing in x-z, CM moves to +x",
        }
