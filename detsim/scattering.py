"""Multiple Coulomb scattering of a charge-eps particle: Highland's theta_0, step-size
independent kicks, and the regime where a Gaussian kick stops being a fair description.

Highland (PDG review "Passage of particles through matter", eq. 34.16 in the 2024 numbering;
``docs/physics.md §12``), for a particle of charge z e, velocity beta and momentum p crossing a
thickness x of radiation length X0::

    theta_0 = 13.6 MeV / (beta c p) |z| sqrt(x/X0) [1 + 0.038 ln(x z^2 / (X0 beta^2))]

theta_0 is the r.m.s. of the *projected* angle (each of two perpendicular planes). The log makes
theta_0^2 non-additive: cutting a slab into thin steps and adding their variances does not
give the variance of the slab. Steps here are made step-size independent by carrying, per MCP,
the thickness already crossed, t = sum x_i / X0_i (in radiation lengths, summed over all
materials, as PDG recommends for a composite path), and giving each step the variance
H(t + dt) - H(t) of the cumulative H(t) = theta_0^2(t) at the step's beta p
(:func:`variance_increment`). At fixed beta p the increments telescope: any subdivision of a
slab gives exactly the slab's theta_0^2. With slowing down, beta p is the step's midpoint
value, and the sum converges to the integral of dH/dt(t, beta p(t)) as steps shrink. The
bracket is clamped at 0 (it would turn negative below x z^2/(X0 beta^2) = e^-26.3, where
Highland has long lost its meaning) so that H is non-decreasing.

Validity for tiny charges. Highland fits Moliere's Gaussian core when the mean number of
single elastic scatterings in the layer, Omega, is large. In Moliere theory (as written by
Lynch and Dahl, Nucl. Instrum. Meth. B58 (1991) 6, eqs. 5-7; GEANT3 manual PHYS325)::

    chi_c^2 = 0.157 MeV^2 cm^2/g  Z(Z+1)/A  rho x  z^2 / (p^2 beta^2)
    chi_a^2 = 2.007e-5 MeV^2  Z^(2/3) [1 + 3.34 (Z z alpha / beta)^2] / p^2
    Omega   = chi_c^2 / (1.167 chi_a^2)  ~  z^2 x / beta^2   (p cancels)

For eps = 3e-3 at beta = 0.01: Omega ~ 49 in the 0.5 mm Be pipe and ~ 130 over 1 m of G's
propane (1.864 mg/cm^3) -- ~ 2.6 per 2 cm gas shell; Omega scales as (eps/beta)^2: 4x more at
beta = 0.005, 9x less at beta = 0.03 (Be: 5.4, 1 m propane: 14). Below Omega ~ 20 the Gaussian
core is not established: the angle is a sum of a few single scatterings with Rutherford
(1/theta^4) tails, the r.m.s. is dominated by rare large kicks and a Gaussian of width
theta_0 misdescribes both the core and the tails (PDG §34.3: Highland's 11 % accuracy holds
for 1e-3 < x/X0 < 100 with z = 1, i.e. Omega in the hundreds and above). The simulation
records Omega per MCP (``ms_omega``); MCPs with Omega < :data:`OMEGA_GAUSSIAN_MIN` are in the
single-scattering regime, where the Gaussian kicks here are only an order-of-magnitude model.
The small per-shell Omega is no objection in itself: the per-shell kicks are only the pieces of
the cumulative variance, and the core is set by the total Omega.

X0 is the material's ``radiation_length_cm``; gas mixtures get it from
:func:`detsim.materials.gas_mixture` (1/X0 = sum_j w_j / X0_j by mass, PDG).

Materials carry no elemental composition, so Z(Z+1)/A and Z^(2/3) use an effective Z solved
from the material's own X0 and <Z/A> through Dahl's radiation-length fit (PDG eq. 34.26,
X0 = 716.4 A / (Z (Z+1) ln(287/sqrt Z)) g/cm^2): exact for elements, and Z(Z+1)/A within a
few % for hydrocarbons (propane: Z_eff = 4.5, Z(Z+1)/A = 3.22 mol/g, exactly the molecule's
142/44.1); Omega is an order-of-magnitude regime indicator, good to ~ 10 %.

Kicks: two independent projected angles theta_1 (in the bending plane) and theta_2 (along the
polar direction), theta_0 times standard normals by Box-Muller from two uniforms u1, u2, rotate
the direction vector exactly (:func:`kick_direction`). In Box-Muller form the space angle is
T = theta_0 sqrt(-2 ln(1 - u1)) and the kick's azimuth around the direction 2 pi u2
(theta_1 = T cos(2 pi u2), theta_2 = T sin(2 pi u2)), which is how the stepping applies it.
"""

from __future__ import annotations

import math

import numpy as np

from .materials import Material

__all__ = [
    "HIGHLAND_GEV",
    "HIGHLAND_LOG",
    "OMEGA_GAUSSIAN_MIN",
    "highland_theta0_rad",
    "highland_variance",
    "variance_increment",
    "effective_z",
    "omega_per_cm",
    "mean_scatterings",
    "standard_normals",
    "kick_direction",
    "rotate_direction",
]

HIGHLAND_GEV = 0.0136  #: 13.6 MeV (PDG eq. 34.16)
HIGHLAND_LOG = 0.038  #: coefficient of the log term (PDG eq. 34.16)
OMEGA_GAUSSIAN_MIN = 20.0  #: below this many single scatterings the Gaussian core fails
ALPHA_EM = 1.0 / 137.035999084
_CHI_C2 = 0.157  # MeV^2 cm^2 / g (Lynch & Dahl eq. 5)
_CHI_A2 = 2.007e-5  # MeV^2 (Lynch & Dahl eq. 6)
_DAHL_X0 = 716.4  # g/cm^2 (PDG eq. 34.26)


def highland_variance(t, beta, p_gev, charge):
    """H(t) = theta_0^2 [rad^2] of Highland (PDG eq. 34.16) after t = x/X0 radiation lengths,
    at velocity ``beta`` and momentum ``p_gev`` [GeV], charge ``charge`` [e]; 0 at t = 0 and
    with the bracket clamped at 0 (see module docstring). Arrays broadcast."""
    t = np.asarray(t, dtype=float)
    z2 = np.asarray(charge, dtype=float) ** 2
    b = np.asarray(beta, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bracket = 1.0 + HIGHLAND_LOG * np.log(t * z2 / (b * b))
        scale = HIGHLAND_GEV / (b * np.asarray(p_gev, dtype=float))
        out = scale * scale * z2 * t * np.maximum(bracket, 0.0) ** 2
    return np.where(t > 0, out, 0.0)


def highland_theta0_rad(x_over_x0, beta, p_gev, charge):
    """Projected r.m.s. angle theta_0 [rad] of Highland (PDG eq. 34.16) for one layer."""
    return np.sqrt(highland_variance(x_over_x0, beta, p_gev, charge))


def variance_increment(t_before, dt, beta, p_gev, charge):
    """Projected-angle variance [rad^2] of a step of dt radiation lengths after t_before:
    H(t_before + dt) - H(t_before) at the step's beta p (step-size independent, module
    docstring)."""
    return highland_variance(np.asarray(t_before) + dt, beta, p_gev, charge) - highland_variance(
        t_before, beta, p_gev, charge
    )


def effective_z(material: Material) -> float:
    """Effective atomic number from X0 and <Z/A> (Dahl's fit, PDG eq. 34.26):
    (Z + 1) <Z/A> ln(287/sqrt Z) X0[g/cm^2] = 716.4 g/cm^2, solved by bisection."""
    if material.radiation_length_cm is None:
        raise ValueError(f"{material.name}: multiple scattering needs radiation_length_cm (X0)")
    x0_g = material.radiation_length_cm * material.density_g_cm3

    def f(z):
        return (z + 1.0) * material.z_over_a * math.log(287.0 / math.sqrt(z)) * x0_g - _DAHL_X0

    lo, hi = 0.5, 120.0
    if f(lo) * f(hi) > 0:
        return 1.0 if f(lo) > 0 else hi
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if (f(mid) > 0) == (f(lo) > 0):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def omega_per_cm(material: Material) -> float:
    """Omega beta^2 / (z^2 x) [1/cm] without the screening correction: the mean number of
    single scatterings per cm for z = 1, beta = 1 (Lynch & Dahl eqs. 5-7, module docstring)."""
    z = effective_z(material)
    zz1_over_a = (z + 1.0) * material.z_over_a  # Z(Z+1)/A = (Z+1) <Z/A>
    return _CHI_C2 * zz1_over_a * material.density_g_cm3 / (1.167 * _CHI_A2 * z ** (2.0 / 3.0))


def mean_scatterings(x_cm, beta, charge, material: Material):
    """Omega: mean number of single Coulomb scatterings over ``x_cm`` (module docstring)."""
    z = effective_z(material)
    b = np.asarray(beta, dtype=float)
    q = np.asarray(charge, dtype=float)
    screening = 1.0 + 3.34 * (z * q * ALPHA_EM / b) ** 2
    return omega_per_cm(material) * q * q * np.asarray(x_cm, dtype=float) / (b * b) / screening


def standard_normals(u1, u2):
    """Two independent standard normals from two uniforms in [0, 1) (Box-Muller; 1 - u1 keeps
    the log finite)."""
    radius = np.sqrt(-2.0 * np.log1p(-np.asarray(u1, dtype=float)))
    angle = 2.0 * np.pi * np.asarray(u2, dtype=float)
    return radius * np.cos(angle), radius * np.sin(angle)


def kick_direction(cos_psi, sin_psi, sin_theta, cot_theta, theta1, theta2):
    """Rotate the direction d = (sin(th) cos(psi), sin(th) sin(psi), cos(th)) by the projected
    angles theta1 (towards e1 = (-sin psi, cos psi, 0), the bending plane) and theta2 (towards
    e2 = d(d)/d(th)): d' = cos(T) d + sin(T) (theta1 e1 + theta2 e2) / T, T = hypot(theta1, theta2)
    (exact rotation by the space angle T). Returns (cos psi', sin psi', sin th', cot th')."""
    big = np.hypot(theta1, theta2)
    with np.errstate(invalid="ignore", divide="ignore"):
        ca = np.where(big > 0, theta1 / big, 1.0)
        sa = np.where(big > 0, theta2 / big, 0.0)
    return rotate_direction(cos_psi, sin_psi, sin_theta, cot_theta, np.cos(big), np.sin(big), ca, sa)


def rotate_direction(cos_psi, sin_psi, sin_theta, cot_theta, cos_big, sin_big, cos_az, sin_az):
    """:func:`kick_direction` given cos/sin of the space angle T and of the kick's azimuth
    around d (theta1 = T cos_az, theta2 = T sin_az)."""
    cz = cot_theta * sin_theta
    dx = cos_big * sin_theta * cos_psi + sin_big * (-cos_az * sin_psi + sin_az * cz * cos_psi)
    dy = cos_big * sin_theta * sin_psi + sin_big * (cos_az * cos_psi + sin_az * cz * sin_psi)
    dz = cos_big * cz - sin_big * sin_az * sin_theta
    st = np.maximum(np.sqrt(dx * dx + dy * dy), 1e-12)
    return dx / st, dy / st, st, dz / st
