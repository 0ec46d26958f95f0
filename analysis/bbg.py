"""Beam-escape background (bBG) cut of Liang et al. ("L"), docs/physics.md section 6.

A monophoton candidate can be faked by e+e- -> gamma gamma (gamma) or e+e- -> e+e- gamma with
everything except one photon escaping along the beams. Momentum balance with the escaping
(massless) particles at the acceptance edges bounds the photon CM energy by E_m(theta_gamma);
the bBG cut keeps photons with E_gamma > E_m.

* Symmetric detector (L eq. 1): E_m = sqrt(s) / (1 + sin(theta_gamma)/sin(theta_b)).
* Asymmetric detector (L eq. 2, all angles in the CM frame, edges theta1 < theta2):
  E_m = sqrt(s) (A cos th1 - sin th1) / (A (cos th1 - cos th_g) - (sin th_g + sin th1)),
  A = (sin th1 - sin th2)/(cos th1 - cos th2). Implemented in the equivalent form
  E_m = sqrt(s) sin(th2 - th1) / (sin(th2 - th1) + (sin th1 - sin th2) cos th_g
  + (cos th1 - cos th2) sin th_g), whose denominator is > 0 for 0 < th1 < th2 < pi.

Both are capped at sqrt(s)/2 (L appendix; for the symmetric case this matters only for photons
outside the acceptance). Angles in radians, energies in GeV. All functions are built from numpy
ufuncs and therefore accept numpy and awkward arrays alike.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

__all__ = [
    "e_max_symmetric",
    "e_max_asymmetric",
    "lab_to_cm_theta",
    "cm_to_lab_theta",
    "passes_bbg_cut",
]


def _is_ak(*xs) -> bool:
    return any(isinstance(x, ak.Array) for x in xs)


def e_max_symmetric(theta_gamma, sqrt_s, theta_b):
    """Maximum bBG photon CM energy [GeV], symmetric detector (L eq. 1), capped at sqrt(s)/2.

    theta_gamma: photon CM polar angle [rad]; sqrt_s [GeV]; theta_b: acceptance edge [rad]
    (BESIII: arccos(0.95)).
    """
    em = sqrt_s / (1.0 + np.sin(theta_gamma) / np.sin(theta_b))
    return np.minimum(em, 0.5 * sqrt_s)


def e_max_asymmetric(theta_gamma_cm, sqrt_s, theta1_cm, theta2_cm):
    """Maximum bBG photon CM energy [GeV], asymmetric detector (L eq. 2), capped at sqrt(s)/2.

    theta1_cm, theta2_cm: the two acceptance edges in the CM frame [rad] (order irrelevant,
    the formula is symmetric in 1 <-> 2); theta_gamma_cm: photon CM polar angle [rad].
    """
    s1, c1 = np.sin(theta1_cm), np.cos(theta1_cm)
    s2, c2 = np.sin(theta2_cm), np.cos(theta2_cm)
    d = s2 * c1 - c2 * s1  # sin(theta2 - theta1)
    den = d + (s1 - s2) * np.cos(theta_gamma_cm) + (c1 - c2) * np.sin(theta_gamma_cm)
    em = sqrt_s * d / den
    return np.minimum(em, 0.5 * sqrt_s)


def lab_to_cm_theta(theta_lab, beta):
    """Polar angle [rad] of a massless particle in the CM frame, given its lab angle.

    The CM moves with velocity ``beta`` along +z (e- direction) in the lab (Belle II: 3/11):
    tan theta_cm = sin theta_lab / (gamma (cos theta_lab - beta)) (L footnote 1), via arctan2 so
    the result lies in [0, pi].
    """
    gamma = 1.0 / np.sqrt(1.0 - beta * beta)
    return np.arctan2(np.sin(theta_lab), gamma * (np.cos(theta_lab) - beta))


def cm_to_lab_theta(theta_cm, beta):
    """Inverse of :func:`lab_to_cm_theta`: tan th_lab = sin th_cm / (gamma (cos th_cm + beta))."""
    gamma = 1.0 / np.sqrt(1.0 - beta * beta)
    return np.arctan2(np.sin(theta_cm), gamma * (np.cos(theta_cm) + beta))


def passes_bbg_cut(
    e_gamma_cm,
    theta_gamma_cm,
    sqrt_s,
    theta_b=None,
    *,
    theta1_cm=None,
    theta2_cm=None,
):
    """Boolean mask E_gamma^CM > E_m(theta_gamma^CM) (strict).

    Give either ``theta_b`` (symmetric detector, L eq. 1) or both ``theta1_cm`` and
    ``theta2_cm`` (asymmetric detector, CM-frame edges, L eq. 2). Energies in GeV, angles in
    rad. Returns a numpy bool array, or an awkward array if any input is awkward.
    """
    if theta_b is not None and (theta1_cm is None and theta2_cm is None):
        em = e_max_symmetric(theta_gamma_cm, sqrt_s, theta_b)
    elif theta_b is None and theta1_cm is not None and theta2_cm is not None:
        em = e_max_asymmetric(theta_gamma_cm, sqrt_s, theta1_cm, theta2_cm)
    else:
        raise ValueError("give either theta_b, or theta1_cm and theta2_cm")
    out = e_gamma_cm > em
    if _is_ak(out):
        return out
    return np.asarray(out, dtype=bool)
