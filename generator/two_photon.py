"""e+e- -> gamma gamma at tree level: the two-photon peak of a single-photon search (BaBar, L).

A single-photon trigger sees e+e- -> gamma gamma when one photon is lost: the detected photon then
sits at E* = sqrt(s)/2, i.e. at the recoil mass m^2_chichi = s - 2 sqrt(s) E* = 0 (L, BaBar
section: the crystal-ball peak at m_chichi = 0 of the High-E fit). Whether the partner is lost
(outside the acceptance, or inside it and missed: cracks, inefficiency) is the detector's business
(``mcpgen.monophoton_run``: the loss probability enters the event weight); this module gives the
events.

Cross section (QED, m_e -> 0 except in the propagators; Berends & Kleiss, Nucl. Phys. B186 (1981)
22; docs/physics.md §6): 1/4 sum|M|^2 = 2 e^4 (a/a' + a'/a), a = p+.k, a' = p-.k, and per photon
dsigma/dOmega = |M|^2/(64 pi^2 s), i.e. alpha^2/s (1 + c^2)/(1 - c^2) for massless beams. Here
*one* photon is tagged (``gamma1``) with cos theta* in [-cos_theta_max, cos_theta_max] (CM frame,
angle from the CM beam axis) and its partner (``gamma2``) is back to back: the mean weight is the
expected number of photons in the window per unit luminosity (twice sigma(gamma gamma) when both
photons can be tagged -- each is the single photon when the other is lost), analytically

    sigma_tag(c) = (2 pi alpha^2 / s) [2 ln((1 + c)/(1 - c)) - 2 c]          (massless beams)

(:func:`sigma_tagged_pb`). The massive beams regularise a, a' (exact p+-, m_e), a 1e-6 relative
effect at |cos| < 0.95.

Sampling: 3 uniforms per event, u[0] -> cos theta* with density ~ 1/(1 - c^2) (tanh of a uniform
rapidity), u[1] -> phi* uniform, u[2] unused (kept so that an initial-state radiator can be added
without changing the layout). Events are boosted to the lab with the CM frame of the beams
(:func:`generator.kinematics.cm_to_lab`).
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from .constants import ALPHA, GEV2_TO_PB, M_E_GEV
from .kinematics import cm_to_lab, momentum4d
from .processes import checked_trials

__all__ = ["TwoPhoton", "sigma_tagged_pb"]

_E2 = 4.0 * np.pi * ALPHA  # e^2


def sigma_tagged_pb(sqrt_s_gev: float, cos_theta_max: float) -> float:
    """Massless-beam QED: expected photons with |cos theta*| < c per unit luminosity [pb] in
    e+e- -> gamma gamma, (2 pi alpha^2/s) [2 ln((1 + c)/(1 - c)) - 2 c] (module docstring)."""
    c = float(cos_theta_max)
    s = float(sqrt_s_gev) ** 2
    return 2.0 * np.pi * ALPHA**2 / s * (2.0 * np.log((1.0 + c) / (1.0 - c)) - 2.0 * c) * GEV2_TO_PB


class TwoPhoton:
    """e+e- -> gamma gamma, one photon tagged in the window (module docstring).

    Parameters: ``e_gamma_min_gev`` (the events exist where sqrt(s)/2 exceeds it), ``cos_theta_max``
    (tagged window |cos theta*| <= this, CM), ``photon_loss`` (probability that a photon inside the
    calorimeter acceptance is not reconstructed; read by the monophoton chain, 0 = the partner
    always vetoes the event when it is inside the acceptance).

    ``generate(u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0)``, u of shape (3, n).
    Fields: gamma1 (tagged), gamma2 (partner) as Momentum4D (lab, GeV), sqrt_s, e_gamma_cm,
    cos_theta_gamma_cm, weight [pb per trial].
    """

    name = "twophoton"
    n_uniforms = 3
    mass_gev = None
    epsilon = None

    def __init__(self, e_gamma_min_gev: float, cos_theta_max: float, photon_loss: float = 0.0):
        if not 0.0 < cos_theta_max < 1.0:
            raise ValueError("cos_theta_max must be in (0, 1)")
        if not 0.0 <= photon_loss <= 1.0:
            raise ValueError("photon_loss must be in [0, 1]")
        self.e_gamma_min_gev = float(e_gamma_min_gev)
        self.cos_theta_max = float(cos_theta_max)
        self.photon_loss = float(photon_loss)

    def describe(self) -> dict:
        """Generation region and the loss probability, for the run metadata."""
        return {
            "process": self.name,
            "e_gamma_min_gev": self.e_gamma_min_gev,
            "cos_theta_max": self.cos_theta_max,
            "photon_loss": self.photon_loss,
            "cuts_frame": "CM, angles from the CM beam axis",
        }

    def generate(self, u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0) -> ak.Array:
        """Weighted trials from u (3, n); the CM frame as for every fixed-energy process."""
        u, rs, bz, bx, axis = checked_trials(self, u, sqrt_s_gev, beta_z, beta_x, cm_axis_angle_rad)
        s = rs * rs
        eb = 0.5 * rs
        pb = np.sqrt(np.clip(eb * eb - M_E_GEV**2, 0.0, None))
        at = np.arctanh(self.cos_theta_max)
        c = np.tanh(at * (2.0 * u[0] - 1.0))
        jac_c = (1.0 - c * c) * 2.0 * at  # dc/du[0]
        phi = 2.0 * np.pi * u[1]
        sn = np.sqrt((1.0 - c) * (1.0 + c))
        # a = p+.k, a' = p-.k with the e+ beam along -z, the e- beam along +z (CM)
        a = eb * (eb + pb * c)
        ap = eb * (eb - pb * c)
        me = 2.0 * _E2**2 * (a / ap + ap / a)
        ok = eb > self.e_gamma_min_gev
        weight = np.where(ok, me / (64.0 * np.pi**2 * s) * jac_c * 2.0 * np.pi * GEV2_TO_PB, 0.0)
        k = (eb, eb * sn * np.cos(phi), eb * sn * np.sin(phi), eb * c)
        partner = (eb, -k[1], -k[2], -k[3])
        g1 = cm_to_lab(*k, bx, bz, axis)
        g2 = cm_to_lab(*partner, bx, bz, axis)
        return ak.zip(
            {
                "gamma1": momentum4d(g1[1], g1[2], g1[3], g1[0]),
                "gamma2": momentum4d(g2[1], g2[2], g2[3], g2[0]),
                "sqrt_s": rs,
                "e_gamma_cm": eb,
                "cos_theta_gamma_cm": c,
                "weight": weight,
            },
            depth_limit=1,
        )
