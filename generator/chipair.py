"""e+e- -> chi chibar (gamma_ISR) near threshold: the event sampler.

Physics: Born cross section and angular law (``physics.md`` §1, G eq. 1), Gaussian beam
spread (§2, G eqs. 2-3) and collinear ISR (§3, G eq. 12). The expected number of pairs is
N = L x sum(weights) (G eq. 3; eq. 12 with ISR).

Event layout (all energies in GeV, lab frame unless said):
``sqrt_s0`` nominal CM energy, ``sqrt_s`` after spread, ``sqrt_s_prime`` after ISR,
``x`` = 1 - s'/s, ``beta_z`` boost of the beam CM, ``isr`` collinear ISR photon, ``chi``
and ``chibar`` Momentum4D records with ``charge`` (units of e; chi carries -eps like the
electron), ``chi_beta``/``chibar_beta`` lab velocities, ``weight`` in pb.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from .beams import Beams
from .born import pair_beta, sample_cos_theta, sigma_born_pb
from .isr import KERNELS, sample_isr_x
from .kinematics import boost_z, momentum4d

__all__ = ["ChiPair"]


@dataclass(frozen=True)
class ChiPair:
    """Sampler of e+e- -> chi chibar with beam spread and ISR.

    Parameters: ``beams``; ``mass_gev``, ``epsilon``, ``spin`` ('dirac' | 'scalar');
    ``isr`` kernel ('kuraev_fadin' | 'gorbunov' | 'off'); ISR cut-off ``x_max`` (a fraction of
    s; None = kinematic limit 1 - 4m^2/s) or ``x_max_energy_gev`` (G eq. 12: x_max = E^2/s).
    """

    beams: Beams
    mass_gev: float
    epsilon: float
    spin: str = "dirac"
    isr: str = "kuraev_fadin"
    x_max: float | None = None
    x_max_energy_gev: float | None = None

    name = "chi_pair"
    #: uniforms per event: 2 beams, ISR x, ISR side, cos(theta*), phi*
    n_uniforms = 6

    def __post_init__(self):
        if self.isr not in KERNELS:
            raise ValueError(f"unknown ISR kernel {self.isr!r}; allowed: {', '.join(KERNELS)}")

    @property
    def threshold_gev(self) -> float:
        """Pair threshold 2m [GeV]."""
        return 2.0 * self.mass_gev

    def x_limit(self, s_gev2):
        """Upper end of the ISR x range: min(configured x_max, 1 - 4m^2/s)."""
        kinematic = np.clip(1.0 - self.threshold_gev**2 / s_gev2, 0.0, None)
        if self.x_max_energy_gev is not None:
            return np.minimum(kinematic, self.x_max_energy_gev**2 / s_gev2)
        if self.x_max is not None:
            return np.minimum(kinematic, self.x_max)
        return kinematic

    def describe(self) -> dict:
        """Physics model choices, for the run metadata."""
        return {
            "process": self.name,
            "mass_gev": self.mass_gev,
            "epsilon": self.epsilon,
            "spin": self.spin,
            "isr_kernel": self.isr,
            "isr_x_max": "kinematic" if self.x_max is None else self.x_max,
            "isr_x_max_energy_gev": self.x_max_energy_gev,
            "beam_spread_model": self.beams.spread_model,
            "sqrt_s0_gev": self.beams.sqrt_s0_gev,
            "beta_z0": self.beams.beta_z0,
            "coulomb_factor": "neglected (< 1e-4, physics.md §1)",
            "isr_photon": "collinear, emitted by e- or e+ with equal probability",
        }

    def generate(self, u) -> ak.Array:
        """Events from uniforms ``u`` of shape (6, n); ``weight`` is the per-trial estimator
        in pb (its mean over trials is the cross section; divide by the number of trials to
        make weights sum to it)."""
        u = np.asarray(u, dtype=float)
        sqrt_s, beta_z, w_beam = self.beams.sample(u[0:2], self.threshold_gev)
        s = sqrt_s**2
        x, w_isr = sample_isr_x(u[2], s, self.x_limit(s), self.isr)
        s_prime = s * (1.0 - x)
        sqrt_s_prime = np.sqrt(s_prime)
        weight = w_beam * w_isr * sigma_born_pb(s_prime, self.mass_gev, self.epsilon, self.spin)

        # collinear ISR photon in the beam CM: E = x sqrt(s)/2 along the radiating beam
        e_gamma = 0.5 * x * sqrt_s
        side = np.where(u[3] < 0.5, 1.0, -1.0)
        pz_gamma = side * e_gamma
        rapidity_pair = np.arctanh(-pz_gamma / (sqrt_s - e_gamma))
        rapidity_lab = np.arctanh(beta_z)

        # chi chibar in the pair rest frame (physics.md §1 angular law w.r.t. the beam axis)
        beta_star = pair_beta(s_prime, self.mass_gev)
        p_star = 0.5 * sqrt_s_prime * beta_star
        e_star = 0.5 * sqrt_s_prime
        cos_t = sample_cos_theta(u[4], beta_star, self.spin)
        sin_t = np.sqrt(np.clip(1.0 - cos_t**2, 0.0, None))
        phi = 2.0 * np.pi * u[5]
        px = p_star * sin_t * np.cos(phi)
        py = p_star * sin_t * np.sin(phi)
        pz = p_star * cos_t
        y = rapidity_pair + rapidity_lab
        e_chi, pz_chi = boost_z(e_star, pz, y)
        e_bar, pz_bar = boost_z(e_star, -pz, y)
        e_isr, pz_isr = boost_z(e_gamma, pz_gamma, rapidity_lab)

        charge = np.full(len(weight), self.epsilon)
        zero = np.zeros(len(weight))
        return ak.zip(
            {
                "sqrt_s0": np.full(len(weight), self.beams.sqrt_s0_gev),
                "sqrt_s": sqrt_s,
                "sqrt_s_prime": sqrt_s_prime,
                "x": x,
                "beta_z": beta_z,
                "isr": momentum4d(zero, zero, pz_isr, e_isr),
                "chi": momentum4d(px, py, pz_chi, e_chi, charge=-charge),
                "chibar": momentum4d(-px, -py, pz_bar, e_bar, charge=charge),
                "chi_beta": np.hypot(np.hypot(px, py), pz_chi) / e_chi,
                "chibar_beta": np.hypot(np.hypot(px, py), pz_bar) / e_bar,
                "weight": weight,
            },
            depth_limit=1,
        )
