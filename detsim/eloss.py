"""Electronic and nuclear energy loss, delta electrons, velocity floors and CSDA range of a slow MCP.

Units: masses and kinetic energies in GeV, velocities as beta = v/c, epsilon (charge in units
of e) dimensionless, lengths in cm, densities in g/cm^3. dE/dx is in **GeV/cm** in the core API
(:func:`dedx_ev_per_cm` gives eV/cm; ``EV_PER_GEV`` converts). I, W, T_min are in GeV.

All functions are vectorised numpy (scalars and broadcastable arrays); the material is a
:class:`detsim.materials.Material` or a table name.

Physics (G = Gorbunov et al., seed gorbunov_direct_observation; formulas in docs/physics.md §7
and §11):

* G eq. 4 (docs/physics.md §7): dE/dx = rho K (Z/A) (eps^2/beta^2) * 1/2 ln(2 m_e beta^2 T_max / I^2),
  K = 4 pi N_A r_e^2 m_e c^2 = 0.307075 MeV cm^2/mol (PDG), with T_max of G eq. 5. No density
  effect, no shell/Barkas/Bloch corrections (for an MCP the Bloch parameter eps*alpha/beta is
  << 1, e.g. 0.02 at eps = 3e-3, beta = 1e-3: the first-Born form is better justified than for
  a proton).
* G eq. 6: the same with the log frozen at beta_ref = 1e-2 (dE/dx proportional to eps^2/beta^2).
* Low-velocity electronic stopping proportional to beta (Fermi & Teller, Phys. Rev. 72 (1947)
  399; Lindhard & Scharff, Phys. Rev. 124 (1961) 128; PDG section 34.2, low-energy region):
  model ``"lindhard"``, joined to Bethe at the Bethe maximum (see below).
* ICRU Report 49 (1993) proton electronic stopping scaled by eps^2 at equal velocity (model
  ``"icru49"``, docs/physics.md §11), joined to Bethe (PDG eq. 34.5 without density effect) at a
  proton kinetic energy of 0.5 MeV with Geant4's (1 + c/T) smoothing; ZBL nuclear stopping on
  request (``nuclear=True``). Coefficient tables and sources: :mod:`detsim.stopping_tables`.
* G eqs. 9, 11: delta-electron spectrum rho K Z eps^2 / (2 A beta^2 T^2), F(T) = 1.
* G section 4: velocity floors of the ionisation (I_min L_min) and delta (T_max > T_min)
  signatures.

Below the zero of the Bethe log
-------------------------------
G eq. 4 is an expansion in 1/L: it peaks at L = 1, falls to zero at L = 0 (beta_0 ~ sqrt(I/2 m_e),
3.28e-3 in G's propane, 7.9e-3 in Be) and is negative below. Measured stopping of slow ions instead
falls proportional to beta (Fermi-Teller). ``"bethe"`` therefore continues G eq. 4 below the point
where the straight line through the origin touches the Bethe curve, L = 2/3 (heavy, slow limit:
d ln(L/beta^2)/d ln beta = 2/L - 2 = 1), by that tangent line:

    dE/dx = dE/dx_eq4(beta_t) * beta / beta_t   for beta < beta_t,  L(beta_t) = 2/3

(:func:`beta_bethe_tangent`: 4.58e-3 in G's propane, 1.10e-2 in Be). The join is continuous with a
continuous slope (C^1), the curve is never zero for beta > 0, and a slow MCP stops at a finite
range. Above beta_t (in particular wherever ``bethe`` is valid, beta >= beta at L = 1) the numbers
are G eq. 4 unchanged; below it the model stays flagged out of validity. ``"bethe_paper"`` is
G eq. 4 literally, 0 where L < 0 (no energy loss, infinite range), kept to reproduce the paper.

Model validity (``validity_range``):

* ``bethe``, ``bethe_paper``: beta_lo is where the stopping number L = 1/2 ln(2 m_e beta^2 T_max /
  I^2) equals 1, i.e. the maximum of the Bethe curve (d/dbeta [L/beta^2] = 0 at L = 1 for a heavy
  particle); measured proton stopping powers peak near this point, T_p ~ 0.1 MeV in light media,
  and fall proportional to beta below it. For G's propane beta_lo = 5.4e-3, close to alpha =
  7.3e-3, the "beta > alpha" condition G quotes for eq. 9. beta_hi is beta*gamma = 1: above it the
  omitted -beta^2 term (5 % at beta*gamma = 1) and the density effect of PDG eq. 34.5 start to
  matter.
* ``bethe_frozen``: the range of ``bethe`` if L(beta_ref) >= 1, else empty (nan, nan): a log
  frozen below the Bethe maximum is not a Bethe log.
* ``lindhard``: beta_lo is where T_max(beta) equals the first ionisation energy E_I of the medium
  (PDG table 35.5; kinematic ionisation threshold on a free electron at rest -- bound-electron
  motion smears it); 0 for materials without E_I (conductors: the free-electron friction law
  holds down to thermal velocities). beta_hi as for bethe. Nuclear stopping is not included.
* ``icru49``: beta_lo = 1.46e-3, the velocity of a 1 keV proton (lowest energy of the ICRU 49
  tables; below, the model continues proportional to beta). beta_hi: beta*gamma = 1 in solids
  (density effect), 10 in gases (at 1 atm the Sternheimer density correction vanishes below
  beta*gamma = 10^x_0, x_0 >= 1.3 for the table gases); the Bethe part carries the gamma^2 of the
  log and the -beta^2 term.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from hepunits import GeV, MeV, eV

from . import stopping_tables as _st
from .materials import Material
from .materials import material as _material

__all__ = [
    "ALPHA",
    "M_E_GEV",
    "K_GEV_CM2_PER_MOL",
    "EV_PER_GEV",
    "BETA_REF_FROZEN",
    "BETHE_LOG_MIN",
    "BETA_GAMMA_MAX_VALID",
    "BETHE_LOG_TANGENT",
    "M_P_GEV",
    "ICRU49_JOIN_PROTON_KINETIC_GEV",
    "ICRU49_BETA_GAMMA_MAX_VALID_GAS",
    "MODELS",
    "gamma_from_beta",
    "kinetic_from_beta_gev",
    "beta_from_kinetic",
    "t_max_gev",
    "bethe_log",
    "beta_at_bethe_log",
    "beta_bethe_zero",
    "beta_bethe_maximum",
    "beta_bethe_tangent",
    "proton_equivalent_kinetic_gev",
    "icru49_proton_electronic_mev_cm2_per_g",
    "bethe_pdg_mev_cm2_per_g",
    "nuclear_dedx_gev_per_cm",
    "dedx_gev_per_cm",
    "dedx_ev_per_cm",
    "validity_range",
    "out_of_validity",
    "delta_rate_per_cm",
    "sample_delta_energy",
    "beta_floor_ionization",
    "beta_floor_delta",
    "RangeTable",
    "csda_range_cm",
]

ALPHA = 1.0 / 137.035999  #: fine-structure constant (PM header)
M_E_GEV = 0.51099895e-3  #: electron mass [GeV] (PM header)
K_GEV_CM2_PER_MOL = 0.307075 * MeV / GeV  #: K = 4 pi N_A r_e^2 m_e c^2 [GeV cm^2/mol] (PDG)
EV_PER_GEV = GeV / eV  #: 1e9: multiply GeV by this to get eV
BETA_REF_FROZEN = 1e-2  #: beta at which G eq. 6 freezes the Bethe log
BETHE_LOG_MIN = 1.0  #: L at the Bethe maximum: lower validity edge of the Bethe models
BETA_GAMMA_MAX_VALID = 1.0  #: upper validity edge (beta*gamma) of the G eq. 4 models (no density effect)
BETHE_LOG_TANGENT = 2.0 / 3.0  #: L where ``bethe`` leaves G eq. 4 for the tangent line proportional to beta
M_P_GEV = 0.93827208816  #: proton mass [GeV] (CODATA 2018): ICRU 49 is tabulated for protons
ICRU49_JOIN_PROTON_KINETIC_GEV = 0.5e-3  #: icru49: fits below, Bethe above this proton kinetic energy
ICRU49_BETA_GAMMA_MAX_VALID_GAS = 10.0  #: icru49 upper validity edge in gases (solids: BETA_GAMMA_MAX_VALID)
#: names accepted by ``model=``
MODELS = ("bethe", "bethe_frozen", "lindhard", "icru49", "bethe_paper")

_LN_BETA_LO = np.log(1e-12)
_LN_BETA_HI = np.log1p(-1e-12)


# ----------------------------------------------------------------------------------- helpers
def _f(x: npt.ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _ret(x: np.ndarray):
    """0-d arrays -> numpy scalars, arrays unchanged."""
    return x[()] if np.ndim(x) == 0 else x


def _mat(material: Material | str) -> Material:
    return _material(material)


def _check_model(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"unknown energy-loss model {model!r}; allowed: {', '.join(MODELS)}")
    return model


def gamma_from_beta(beta: npt.ArrayLike):
    """Lorentz factor gamma = 1/sqrt(1 - beta^2)."""
    b = _f(beta)
    return _ret(1.0 / np.sqrt((1.0 - b) * (1.0 + b)))


def kinetic_from_beta_gev(beta: npt.ArrayLike, mass_gev: npt.ArrayLike):
    """Kinetic energy T = m (gamma - 1) = m beta^2 gamma^2 / (gamma + 1) [GeV] (stable form)."""
    b, m = _f(beta), _f(mass_gev)
    g = 1.0 / np.sqrt((1.0 - b) * (1.0 + b))
    return _ret(m * b * b * g * g / (g + 1.0))


def beta_from_kinetic(kinetic_gev: npt.ArrayLike, mass_gev: npt.ArrayLike):
    """beta from kinetic energy T [GeV]: x = T/m, beta = sqrt(x (2 + x)) / (1 + x)."""
    x = _f(kinetic_gev) / _f(mass_gev)
    return _ret(np.sqrt(x * (2.0 + x)) / (1.0 + x))


def t_max_gev(beta: npt.ArrayLike, mass_gev: npt.ArrayLike):
    """Maximum energy transfer to a free electron [GeV], G eq. 5 (PDG eq. 34.4), full formula.

    T_max = 2 m_e beta^2 gamma^2 / (1 + 2 gamma m_e/m + (m_e/m)^2)  -> 2 m_e beta^2 (slow, heavy).
    """
    b, m = _f(beta), _f(mass_gev)
    g2 = 1.0 / ((1.0 - b) * (1.0 + b))
    r = M_E_GEV / m
    return _ret(2.0 * M_E_GEV * b * b * g2 / (1.0 + 2.0 * np.sqrt(g2) * r + r * r))


def bethe_log(beta: npt.ArrayLike, mass_gev: npt.ArrayLike, material: Material | str):
    """Stopping number of G eq. 4: L = 1/2 ln(2 m_e beta^2 T_max / I^2) (dimensionless).

    Negative for 2 m_e beta^2 T_max < I^2 (beta < ~sqrt(I / 2 m_e)).
    """
    mat = _mat(material)
    b = _f(beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = 2.0 * M_E_GEV * b * b * _f(t_max_gev(b, mass_gev)) / mat.mean_excitation_gev**2
        return _ret(0.5 * np.log(arg))


def beta_at_bethe_log(value: npt.ArrayLike, mass_gev: npt.ArrayLike, material: Material | str):
    """beta at which :func:`bethe_log` equals ``value`` (vectorised bisection in ln beta).

    L(beta) is strictly increasing, so the root is unique; it is solved with the full T_max of
    G eq. 5 to machine precision (the heavy, slow limit is beta^2 = e^L I / (2 m_e)).
    """
    mat = _mat(material)
    v, m = np.broadcast_arrays(_f(value), _f(mass_gev))
    if v.size == 0:
        return _ret(np.empty(v.shape))
    v0, m0 = v.flat[0], m.flat[0]
    if np.all(v == v0) and np.all(m == m0):  # one (value, mass), the frequent case: cached
        return _ret(np.full(v.shape, _beta_at_bethe_log_cached(float(v0), float(m0), mat)))
    return _ret(_bisect_bethe_log(v, m, mat))


@functools.lru_cache(maxsize=4096)
def _beta_at_bethe_log_cached(value: float, mass_gev: float, mat: Material) -> float:
    return float(_bisect_bethe_log(np.array([value]), np.array([mass_gev]), mat)[0])


def _bisect_bethe_log(v: np.ndarray, m: np.ndarray, mat: Material) -> np.ndarray:
    """Vectorised bisection in ln beta over the unique (value, mass) pairs."""
    pairs = np.stack([v.ravel(), m.ravel()], axis=1)
    uniq, inv = np.unique(pairs, axis=0, return_inverse=True)
    vu, mu = uniq[:, 0], uniq[:, 1]
    lo = np.full(vu.shape, _LN_BETA_LO)
    hi = np.full(vu.shape, _LN_BETA_HI)
    for _ in range(64):  # interval width 28 -> 28/2^64: below double precision
        mid = 0.5 * (lo + hi)
        below = _f(bethe_log(np.exp(mid), mu, mat)) < vu
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.exp(0.5 * (lo + hi))[inv.reshape(-1)].reshape(v.shape)


def beta_bethe_zero(material: Material | str, mass_gev: npt.ArrayLike):
    """beta where the log of G eq. 4 turns negative (2 m_e beta^2 T_max = I^2).

    Heavy, slow limit: beta = sqrt(I / (2 m_e)) = 3.28e-3 for propane with I = 11 eV (PM sec. 7).
    """
    return beta_at_bethe_log(0.0, mass_gev, material)


def beta_bethe_maximum(material: Material | str, mass_gev: npt.ArrayLike):
    """beta of the maximum of the Bethe curve, L = 1 (2 m_e beta^2 T_max = e^2 I^2).

    Lower validity edge of ``bethe``/``bethe_frozen`` and matching point of ``lindhard``.
    Heavy, slow limit: beta = sqrt(e I / (2 m_e)) = 5.41e-3 for propane with I = 11 eV.
    """
    return beta_at_bethe_log(BETHE_LOG_MIN, mass_gev, material)


def beta_bethe_tangent(material: Material | str, mass_gev: npt.ArrayLike):
    """beta where ``bethe`` leaves G eq. 4 for the tangent line through the origin, L = 2/3.

    Heavy, slow limit: beta = sqrt(e^(2/3) I / (2 m_e)) = 4.58e-3 for propane with I = 11 eV,
    1.10e-2 for Be (I = 63.7 eV). Module docstring, "Below the zero of the Bethe log".
    """
    return beta_at_bethe_log(BETHE_LOG_TANGENT, mass_gev, material)


# --------------------------------------------------------------------------------- dE/dx
def _prefactor(beta: np.ndarray, eps: np.ndarray, mat: Material) -> np.ndarray:
    """rho K (Z/A) eps^2 / beta^2 [GeV/cm] (G eq. 4 without the log)."""
    return mat.density_g_cm3 * K_GEV_CM2_PER_MOL * mat.z_over_a * eps * eps / (beta * beta)


def _dedx_bethe_paper(beta, eps, mass, mat):
    lg = _f(bethe_log(beta, mass, mat))
    return _prefactor(beta, eps, mat) * np.maximum(lg, 0.0)


def _dedx_bethe(beta, eps, mass, mat):
    bt = _f(beta_bethe_tangent(mat, mass))
    high = _dedx_bethe_paper(beta, eps, mass, mat)
    low = _prefactor(bt, eps, mat) * BETHE_LOG_TANGENT * (beta / bt)
    return np.where(beta >= bt, high, low)


def _dedx_bethe_frozen(beta, eps, mass, mat):
    lg = _f(bethe_log(np.full_like(beta, BETA_REF_FROZEN), mass, mat))
    return _prefactor(beta, eps, mat) * np.maximum(lg, 0.0)


def _dedx_lindhard(beta, eps, mass, mat):
    bm = _f(beta_bethe_maximum(mat, mass))
    high = _dedx_bethe(beta, eps, mass, mat)
    low = _prefactor(bm, eps, mat) * BETHE_LOG_MIN * (beta / bm)
    return np.where(beta >= bm, high, low)


# ------------------------------------------------------------------- ICRU 49 and ZBL nuclear
_MEV_CM2_G_TO_GEV_CM2_G = MeV / GeV


def proton_equivalent_kinetic_gev(beta: npt.ArrayLike):
    """Kinetic energy [GeV] of a proton with velocity beta: T_p = m_p (gamma - 1)."""
    return kinetic_from_beta_gev(beta, M_P_GEV)


def _composition(mat: Material) -> tuple[tuple[str, float], ...]:
    if mat.stopping_composition is None:
        raise ValueError(
            f"{mat.name}: no stopping_composition, so the icru49 model and nuclear stopping are not "
            "available; give Material(..., stopping_composition=((key, mass fraction), ...))"
        )
    return mat.stopping_composition


def icru49_proton_electronic_mev_cm2_per_g(material: Material | str, t_proton_gev: npt.ArrayLike):
    """ICRU 49 fit of the electronic mass stopping power of protons [MeV cm^2/g] (no Bethe join).

    Bragg additivity by mass over the material's ``stopping_composition`` (ICRU 49 molecular
    coefficients where the material has them, else its elements); T_p in GeV. Meaningful up to
    ~0.5 MeV, where ICRU 49 itself leaves the fits (:mod:`detsim.stopping_tables`).
    """
    mat = _mat(material)
    t_kev = _f(t_proton_gev) * (GeV / MeV) * 1e3
    total = np.zeros(np.shape(t_kev))
    for key, w in _composition(mat):
        total = total + w * _st.icru49_proton_mass_stopping(key, t_kev)
    return _ret(total)


def bethe_pdg_mev_cm2_per_g(beta: npt.ArrayLike, mass_gev: npt.ArrayLike, material: Material | str):
    """Bethe mass stopping power of a unit charge [MeV cm^2/g], PDG eq. 34.5 without density effect.

    K (Z/A) / beta^2 [1/2 ln(2 m_e beta^2 gamma^2 T_max / I^2) - beta^2], T_max of G eq. 5 with the
    particle's own mass. Differs from G eq. 4 by ln(gamma) - beta^2 in the bracket (-beta^2/2 at
    low beta; +0.37, i.e. 3 %, at beta*gamma = 3.5). The high-velocity part of ``icru49``.
    """
    mat = _mat(material)
    b, m = np.broadcast_arrays(_f(beta), _f(mass_gev))
    b2 = b * b
    g2 = 1.0 / ((1.0 - b) * (1.0 + b))
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = 2.0 * M_E_GEV * b2 * g2 * _f(t_max_gev(b, m)) / mat.mean_excitation_gev**2
        out = K_GEV_CM2_PER_MOL * (GeV / MeV) * mat.z_over_a / b2 * (0.5 * np.log(arg) - b2)
    return _ret(out)


@functools.lru_cache(maxsize=256)
def _icru49_fit_at_join(mat: Material) -> float:
    return float(icru49_proton_electronic_mev_cm2_per_g(mat, ICRU49_JOIN_PROTON_KINETIC_GEV))


_BETA_ICRU49_JOIN = float(beta_from_kinetic(ICRU49_JOIN_PROTON_KINETIC_GEV, M_P_GEV))


def _dedx_icru49(beta, eps, mass, mat):
    """eps^2 rho S_p(T_p): ICRU 49 fit below T_join, Bethe (1 + c/T_p) above, c from continuity."""
    t_p = _f(proton_equivalent_kinetic_gev(beta))
    low = _f(icru49_proton_electronic_mev_cm2_per_g(mat, t_p))
    t_j = ICRU49_JOIN_PROTON_KINETIC_GEV
    s_join = _icru49_fit_at_join(mat)
    c = (s_join / _f(bethe_pdg_mev_cm2_per_g(_BETA_ICRU49_JOIN, mass, mat)) - 1.0) * t_j
    high = _f(bethe_pdg_mev_cm2_per_g(beta, mass, mat)) * (1.0 + c / t_p)
    s = np.where(t_p < t_j, low, high)
    return mat.density_g_cm3 * eps * eps * s * _MEV_CM2_G_TO_GEV_CM2_G


def nuclear_dedx_gev_per_cm(
    beta: npt.ArrayLike,
    eps: npt.ArrayLike,
    mass_gev: npt.ArrayLike,
    material: Material | str,
    *,
    screening: str = "bare",
    born: bool = False,
):
    """Nuclear (elastic, screened-Coulomb) stopping -dE/dx [GeV/cm] of a charge eps*e, mass m.

    ZBL universal reduced nuclear stopping (:func:`detsim.stopping_tables.zbl_nuclear_stopping`),
    Bragg-summed over the elements of the material by mass fraction, with projectile "Z1" = |eps|
    (fractional), M1 = m / u and E = m (gamma - 1) in the reduced energy
    eps_r = 32.53 M2 E[keV] / (Z1 Z2 (M1 + M2) D) and in the prefactor 8.462 Z1 Z2 M1 / ((M1+M2) D).
    Screening ``"bare"`` (default): D = Z2^(1/3), the target's own screening length, as ICRU 49 uses
    for protons (a bare projectile carries no electrons); ``"universal"``: D = Z1^0.23 + Z2^0.23.
    For an MCP eps_r >> 30 at every velocity of interest (eps_r ~ 3e4 for eps = 3e-3, m = 1.5 GeV
    at beta = 5e-3 in Be), so S_n = ln(eps_r)/(2 eps_r) x prefactor = eps^2 x (4 pi Z2^2 e^4 / (M2
    v^2)) ln(eps_r) / (N_A..): the eps^2 prefactor of unscreened Rutherford scattering with a
    screening cut-off in the log; the two screening choices differ only inside the log (< 3 % in
    Be and propane for eps >= 1e-3).

    Where it stops being sensible: ZBL is a classical-trajectory result, valid for a Bohr
    parameter kappa = 2 Z1 Z2 alpha / beta >> 1 (protons at keV energies). For an MCP kappa =
    2 |eps| Z2 alpha / beta << 1 (0.035 for eps = 3e-3 in Be at beta = 5e-3): the scattering is
    in the Born regime, the minimum impact parameter is the reduced de Broglie wavelength, not
    the collision diameter, and the Coulomb log is smaller by ~ln(1/(2 kappa)) + 1/2 (10.2 -> 7.0
    in that example): the ZBL value is an upper estimate, ~1.45x the Born one. ``born=True``
    takes the first-Born log where it is smaller (:mod:`detsim.stopping_tables`, "Born regime").
    Size: for eps = 3e-3, m = 1.5 GeV in Be the nuclear part is 2.7 % of the icru49 electronic
    stopping at beta = 5e-3 but grows ~ beta^-3 below (equal near beta = 1.5e-3), so it shortens
    the residual range from beta = 5e-3 by a third (4.4 -> 3.0 cm); the ratio to the electronic
    part hardly depends on eps. Non-relativistic kinematics (negligible above beta ~ 0.1 anyway).
    Zero for eps = 0.
    """
    mat = _mat(material)
    b, e, m = np.broadcast_arrays(_f(beta), np.abs(_f(eps)), _f(mass_gev))
    e_kev = _f(kinetic_from_beta_gev(b, m)) * (GeV / MeV) * 1e3
    m1 = m / _st.U_GEV
    s = np.zeros(b.shape)
    q = np.where(e > 0, e, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        for sym, w in _st.element_mass_fractions(_composition(mat)).items():
            el = _st.ELEMENTS[sym]
            sn = _st.zbl_nuclear_stopping(e_kev, q, m1, el.z, el.a_g_mol, screening=screening, beta=b if born else None)
            s = s + w * sn * _st.S_TO_MEV_CM2_PER_G / el.a_g_mol
    out = np.where((e > 0) & (e_kev > 0), mat.density_g_cm3 * s * _MEV_CM2_G_TO_GEV_CM2_G, 0.0)
    return _ret(out)


_DEDX: dict[str, Callable[..., np.ndarray]] = {
    "bethe": _dedx_bethe,
    "bethe_frozen": _dedx_bethe_frozen,
    "lindhard": _dedx_lindhard,
    "icru49": _dedx_icru49,
    "bethe_paper": _dedx_bethe_paper,
}


def dedx_gev_per_cm(
    beta: npt.ArrayLike,
    eps: npt.ArrayLike,
    mass_gev: npt.ArrayLike,
    material: Material | str,
    model: str = "bethe",
    *,
    nuclear: bool = False,
):
    """Mean energy loss -dE/dx [GeV/cm] of a particle of charge eps*e (electronic; + nuclear).

    Models (module docstring for validity; use :func:`out_of_validity` to flag):

    * ``"bethe"`` -- G eq. 4: rho K (Z/A) eps^2/beta^2 * L, L from :func:`bethe_log` with T_max
      of G eq. 5, for beta >= beta_t (L = 2/3, :func:`beta_bethe_tangent`); below, the tangent
      line through the origin, dE/dx(beta_t) * beta/beta_t (continuous value and slope; never 0
      for beta > 0, so a slow MCP stops). Identical to G eq. 4 wherever L >= 2/3.
    * ``"bethe_paper"`` -- G eq. 4 literally: rho K (Z/A) eps^2/beta^2 * max(L, 0); 0 where L < 0
      (beta below :func:`beta_bethe_zero`: no energy loss). The behaviour of ``bethe`` before the
      tangent continuation.
    * ``"bethe_frozen"`` -- G eq. 6: L frozen at beta_ref = 1e-2 (L(beta_ref) from the material
      and mass, so dE/dx = dE/dx_bethe(beta_ref) (beta_ref/beta)^2 exactly; 24.4 eV/cm at
      eps = 1.8e-3, beta = 1e-2 in G's propane, which G rounds to 25 eV/cm).
    * ``"lindhard"`` -- Bethe above the Bethe maximum beta_m (L = 1, :func:`beta_bethe_maximum`),
      electronic stopping proportional to beta below it (Fermi-Teller / Lindhard-Scharff),
      normalised for continuity: dE/dx = rho K (Z/A) eps^2/beta_m^2 * (beta/beta_m). The curve
      peaks at beta_m (kink, no jump).
    * ``"icru49"`` -- eps^2 times the electronic stopping of a proton at the same velocity,
      S_MCP(beta) = eps^2 S_p(T_p = m_p (gamma - 1)) (docs/physics.md §11): below T_p = 0.5 MeV
      (beta = 0.0326) the ICRU 49 fits (Bragg sum over ``material.stopping_composition``,
      :func:`icru49_proton_electronic_mev_cm2_per_g`); above, Bethe
      (:func:`bethe_pdg_mev_cm2_per_g`, the material's I, the particle's T_max) times
      (1 + c/T_p), c = (S_fit(T_j)/S_Bethe(T_j) - 1) T_j, so dE/dx is continuous at T_j -- the
      smoothing Geant4 applies where G4BraggModel hands over to G4BetheBlochModel. Geant4 joins at
      2 MeV, but its NIST materials take PSTAR there; the fits alone drift away from PSTAR above
      ~0.5 MeV (+7 % for propane, +28 % for methane at 2 MeV), where ICRU 49 itself switches to
      Bethe theory, hence T_j = 0.5 MeV (the smoothing then absorbs most of the omitted shell
      correction: within 5 % of PSTAR at all energies for the table materials). Below 1 keV
      (beta = 1.46e-3) the fits continue as sqrt(T_p), i.e. proportional to beta.

      Effective charge: below ~25 keV a proton spends part of its path neutral (electron
      capture), and ICRU 49 is the stopping of that charge-state-averaged beam; it also carries
      the Barkas (Z1^3) enhancement of a proton. An MCP cannot bind an electron (binding ~ eps^2
      13.6 eV), and its higher-order terms are negligible, so the eps^2 scaling of the proton
      value is an assumption -- good to the size of those proton effects (a few % above
      ~100 keV, tens of % at ~10 keV). For G's ``propane`` (I = 11 eV) the Bethe part uses
      I = 11 eV (20 % above PSTAR at 1-2 MeV); use ``propane_pdg`` for a realistic gas.

    ``nuclear=True`` adds :func:`nuclear_dedx_gev_per_cm` (ZBL, default screening) for any model;
    nuclear stopping heats recoils and makes no ionisation, so hit generation should use the
    electronic part (``nuclear=False``). Default off.

    beta, eps, mass_gev broadcast; beta outside (0, 1) gives nan. Multiply by ``EV_PER_GEV`` for
    eV/cm (or use :func:`dedx_ev_per_cm`). ``icru49`` and ``nuclear`` need a material with a
    ``stopping_composition`` (every table material and gas mixture of them has one).
    """
    mat = _mat(material)
    fn = _DEDX[_check_model(model)]
    if model == "icru49" or nuclear:
        _composition(mat)
    b, e, m = np.broadcast_arrays(_f(beta), _f(eps), _f(mass_gev))
    ok = (b > 0) & (b < 1)
    bs = np.where(ok, b, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = fn(bs, e, m, mat)
    if nuclear:
        out = out + _f(nuclear_dedx_gev_per_cm(bs, e, m, mat))
    return _ret(np.where(ok, out, np.nan))


def dedx_ev_per_cm(beta, eps, mass_gev, material, model: str = "bethe", *, nuclear: bool = False):
    """:func:`dedx_gev_per_cm` in eV/cm."""
    return _ret(_f(dedx_gev_per_cm(beta, eps, mass_gev, material, model, nuclear=nuclear)) * EV_PER_GEV)


_BETA_HI_VALID = BETA_GAMMA_MAX_VALID / np.sqrt(1.0 + BETA_GAMMA_MAX_VALID**2)
_BETA_HI_VALID_ICRU49_GAS = ICRU49_BETA_GAMMA_MAX_VALID_GAS / np.sqrt(1.0 + ICRU49_BETA_GAMMA_MAX_VALID_GAS**2)
_BETA_LO_VALID_ICRU49 = float(beta_from_kinetic(_st.ICRU49_T_MIN_KEV * 1e-6, M_P_GEV))


def validity_range(model: str, material: Material | str, mass_gev: npt.ArrayLike):
    """(beta_lo, beta_hi) inside which ``model`` is trusted (module docstring for the physics).

    * bethe, bethe_paper: beta_lo = Bethe maximum (L = 1), beta_hi = 1/sqrt(2) (beta*gamma = 1);
    * bethe_frozen: as bethe if L(beta_ref = 1e-2) >= 1, else (nan, nan) = empty;
    * lindhard: beta_lo = beta where T_max = E_I (first ionisation energy; 0 if the material
      has none), beta_hi = 1/sqrt(2);
    * icru49: beta_lo = 1.46e-3 (a 1 keV proton, the lowest ICRU 49 energy), beta_hi = beta at
      beta*gamma = 1 (solids) or 10 (gases); independent of the mass.
    Arrays follow the shape of mass_gev.
    """
    mat = _mat(material)
    _check_model(model)
    m = _f(mass_gev)
    hi = np.full(m.shape, _BETA_HI_VALID)
    if model in ("bethe", "bethe_paper"):
        lo = _f(beta_bethe_maximum(mat, m))
    elif model == "bethe_frozen":
        lo = _f(beta_bethe_maximum(mat, m))
        empty = _f(bethe_log(BETA_REF_FROZEN, m, mat)) < BETHE_LOG_MIN
        lo = np.where(empty, np.nan, lo)
        hi = np.where(empty, np.nan, hi)
    elif model == "icru49":
        _composition(mat)
        lo = np.full(m.shape, _BETA_LO_VALID_ICRU49)
        if mat.phase == "gas":
            hi = np.full(m.shape, _BETA_HI_VALID_ICRU49_GAS)
    else:
        if mat.ionization_energy_gev is None:
            lo = np.zeros(m.shape)
        else:
            lo = _f(beta_floor_delta(m, mat.ionization_energy_gev))
    return _ret(lo), _ret(hi)


def out_of_validity(beta: npt.ArrayLike, model: str, material: Material | str, mass_gev: npt.ArrayLike):
    """True where beta is outside :func:`validity_range` (also for nan or beta not in (0, 1))."""
    lo, hi = validity_range(model, material, mass_gev)
    b = _f(beta)
    inside = (b >= lo) & (b <= hi) & (b > 0) & (b < 1)
    return _ret(~inside)


# ---------------------------------------------------------------------------- delta electrons
def delta_rate_per_cm(
    beta: npt.ArrayLike,
    eps: npt.ArrayLike,
    mass_gev: npt.ArrayLike,
    material: Material | str,
    t_min_gev: npt.ArrayLike,
):
    """Mean number of delta electrons per cm with T in [T_min, T_max] [1/cm] (G eqs. 9, 11).

    dN/dx = rho K (Z/A) eps^2 / (2 beta^2) (1/T_min - 1/T_max), T_max from G eq. 5, F(T) = 1;
    0 where T_max <= T_min. Multiply by L [cm] for G eq. 11. G states eq. 9 needs beta > alpha.
    """
    mat = _mat(material)
    b, e, m, tmin = np.broadcast_arrays(_f(beta), _f(eps), _f(mass_gev), _f(t_min_gev))
    tmax = _f(t_max_gev(b, m))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = 0.5 * _prefactor(b, e, mat) * (1.0 / tmin - 1.0 / tmax)
    return _ret(np.where(tmax > tmin, rate, 0.0))


def sample_delta_energy(
    u: npt.ArrayLike,
    beta: npt.ArrayLike,
    mass_gev: npt.ArrayLike,
    t_min_gev: npt.ArrayLike,
):
    """Delta-electron kinetic energies T [GeV] from uniforms u in [0, 1) (G eq. 9: dN/dT ~ 1/T^2).

    Inverse CDF on [T_min, T_max]: 1/T = 1/T_min - u (1/T_min - 1/T_max). nan where
    T_max <= T_min (no delta electron above threshold is possible). Arguments broadcast.
    """
    uu, b, m, tmin = np.broadcast_arrays(_f(u), _f(beta), _f(mass_gev), _f(t_min_gev))
    tmax = _f(t_max_gev(b, m))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = 1.0 / (1.0 / tmin - uu * (1.0 / tmin - 1.0 / tmax))
    return _ret(np.where(tmax > tmin, t, np.nan))


# ---------------------------------------------------------------------------- velocity floors
def beta_floor_ionization(mass_gev: npt.ArrayLike, i_min_gev_per_cm: npt.ArrayLike, l_min_cm: npt.ArrayLike):
    """beta at which the kinetic energy m (gamma - 1) equals I_min * L_min (G section 4, eqs. 7-8).

    A particle depositing at least I_min [GeV/cm] over L_min [cm] needs T >= I_min L_min; exact:
    x = I_min L_min / m, beta = sqrt(x (2 + x)) / (1 + x)  (~ sqrt(2 I_min L_min / m)).
    G: 6e-4 for m = 1.5 GeV, I_min = 25 eV/cm, L_min = 10 cm.
    """
    return beta_from_kinetic(_f(i_min_gev_per_cm) * _f(l_min_cm), mass_gev)


def beta_floor_delta(mass_gev: npt.ArrayLike, t_min_gev: npt.ArrayLike):
    """beta at which T_max(beta) (G eq. 5, full formula) equals T_min (G section 4, eq. 10).

    Closed form: with S = m^2 + m_e^2 + T m_e, the momentum solves
    p^2 = T [S + sqrt((2 m_e^2 + T m_e)(2 m^2 + T m_e))] / (2 m_e), beta = p / sqrt(p^2 + m^2)
    (~ sqrt(T_min / 2 m_e) = 3.13e-2 for T_min = 1 keV).
    """
    m, t = np.broadcast_arrays(_f(mass_gev), _f(t_min_gev))
    me = M_E_GEV
    s = m * m + me * me + t * me
    p2 = t * (s + np.sqrt((2.0 * me * me + t * me) * (2.0 * m * m + t * me))) / (2.0 * me)
    return _ret(np.sqrt(p2 / (p2 + m * m)))


# -------------------------------------------------------------------------------------- range
class RangeTable:
    """Continuous-slowing-down (CSDA) range table for one (eps, mass, material, model, nuclear).

    Built once, evaluated on arrays. dx = dT / (dE/dx) is integrated on a grid uniform in
    xi = ln(beta^2 - beta_0^2), where beta_0 is the velocity at which dE/dx vanishes
    (``bethe_paper``: :func:`beta_bethe_zero`; 0 for the other models). With this variable the
    integrand dx/dxi = m gamma^3 (beta^2 - beta_0^2) / (2 dE/dx) is smooth, and tends to a constant
    at beta -> beta_0 for ``bethe_paper`` (log divergence) or to a power of beta^2 for models that
    stop.

    Two cases, explicit:

    * ``stops`` (``bethe``, ``bethe_frozen``, ``lindhard``, ``icru49``): the particle comes to
      rest at a finite distance. The coordinate X(T) is the residual range, with the analytic
      power-law tail below the grid; ``range_cm(T)`` is finite and ``kinetic_from_range`` inverts
      it.
    * not ``stops`` (``bethe_paper``): dE/dx = 0 for beta <= beta_0, and near beta_0
      dE/dx ~ (T - T_0), so approaching T_0 takes an infinite path. ``range_cm`` is +inf; only
      distances between kinetic energies above T_0 are finite. ``kinetic_after_cm`` tends to T_0
      for long paths and leaves T <= T_0 unchanged.

    ``nuclear=True`` integrates electronic + nuclear stopping (:func:`dedx_gev_per_cm`).
    The table covers beta up to ``beta_max`` (default 0.9); larger kinetic energies give nan.
    Electronic dE/dx of every model is proportional to eps^2, so X scales exactly as 1/eps^2
    (:meth:`rescaled` reuses a table for another eps; with ``nuclear`` it rebuilds the table,
    the nuclear part not being exactly proportional to eps^2).
    """

    def __init__(
        self,
        eps: float,
        mass_gev: float,
        material: Material | str,
        model: str = "bethe",
        *,
        nuclear: bool = False,
        beta_min: float = 1e-6,
        beta_max: float = 0.9,
        n_grid: int = 4000,
    ) -> None:
        self.eps = float(eps)
        self.mass_gev = float(mass_gev)
        self.material = _mat(material)
        self.model = _check_model(model)
        self.nuclear = bool(nuclear)
        self._options = {"beta_min": beta_min, "beta_max": beta_max, "n_grid": n_grid}
        if not (self.eps > 0 and self.mass_gev > 0):
            raise ValueError(f"eps and mass_gev must be > 0, got {eps}, {mass_gev}")
        if not 0 < beta_min < beta_max < 1:
            raise ValueError(f"need 0 < beta_min < beta_max < 1, got {beta_min}, {beta_max}")
        if model == "bethe_frozen" and not nuclear and bethe_log(BETA_REF_FROZEN, mass_gev, self.material) <= 0:
            raise ValueError(
                f"bethe_frozen: the log at beta_ref = {BETA_REF_FROZEN} is <= 0 in "
                f"{self.material.name}: dE/dx = 0 everywhere, the range is infinite"
            )
        m = self.mass_gev
        if model == "bethe_paper":
            self.beta_0 = float(beta_bethe_zero(self.material, m))
            self.stops = False
            xi_lo = np.log(1e-6 * self.beta_0**2)
        else:
            self.beta_0 = 0.0
            self.stops = True
            xi_lo = 2.0 * np.log(beta_min)
        if not beta_max > self.beta_0 * 1.001:
            raise ValueError(f"beta_max = {beta_max} must exceed beta_0 = {self.beta_0}")
        self.kinetic_0_gev = float(kinetic_from_beta_gev(self.beta_0, m))
        xi_hi = np.log(beta_max**2 - self.beta_0**2)
        xi = np.linspace(xi_lo, xi_hi, int(n_grid))
        beta = np.sqrt(self.beta_0**2 + np.exp(xi))
        dedx = _f(dedx_gev_per_cm(beta, self.eps, m, self.material, model, nuclear=self.nuclear))
        g = m * _f(gamma_from_beta(beta)) ** 3 * np.exp(xi) / (2.0 * dedx)
        if not np.all(np.isfinite(g) & (g > 0)):
            raise ValueError(f"{model}: dE/dx vanishes inside the table; cannot build a range")
        x = np.concatenate(([0.0], np.cumsum(np.diff(xi) * (g[1:] + g[:-1]) / 2.0)))  # trapezoid rule
        if self.stops:
            slope = (np.log(g[1]) - np.log(g[0])) / (xi[1] - xi[0])  # g ~ exp(slope xi) below
            if not slope > 0:
                raise ValueError(f"{model}: range diverges at low beta (slope {slope:.3g})")
            self._slope = float(slope)
            x = x + g[0] / slope  # analytic tail: integral of g from -inf to xi_lo
        else:
            self._slope = 0.0
        self._xi = xi
        self._x = x
        self._g0 = float(g[0])
        self.beta_max = float(beta_max)
        self.kinetic_max_gev = float(kinetic_from_beta_gev(beta_max, m))

    # -- internal coordinate X(T) [cm], increasing in T ----------------------------------------
    def _x_of_kinetic(self, kinetic_gev: npt.ArrayLike) -> np.ndarray:
        t = _f(kinetic_gev)
        b = _f(beta_from_kinetic(np.maximum(t, 0.0), self.mass_gev))
        d = b * b - self.beta_0**2
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = np.log(np.where(d > 0, d, np.nan))
            inside = np.interp(xi, self._xi, self._x)
            if self.stops:
                below = self._x[0] * np.exp(self._slope * (xi - self._xi[0]))
                floor = 0.0  # at rest
            else:
                below = self._x[0] + self._g0 * (xi - self._xi[0])
                floor = -np.inf  # T <= T_0 is infinitely far below
        out = np.where(xi < self._xi[0], below, inside)
        out = np.where(d > 0, out, floor)
        out = np.where(t > self.kinetic_max_gev * (1 + 1e-12), np.nan, out)
        return np.where(np.isnan(t), np.nan, out)

    def _kinetic_of_x(self, x: npt.ArrayLike) -> np.ndarray:
        xv = _f(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            inside = np.interp(xv, self._x, self._xi)
            if self.stops:
                below = self._xi[0] + np.log(xv / self._x[0]) / self._slope
            else:
                below = self._xi[0] + (xv - self._x[0]) / self._g0
            xi = np.where(xv < self._x[0], below, inside)
            beta = np.sqrt(self.beta_0**2 + np.exp(xi))
            t = _f(kinetic_from_beta_gev(beta, self.mass_gev))
        if self.stops:
            t = np.where(xv <= 0, 0.0, t)
        else:
            t = np.where(np.isneginf(xv), self.kinetic_0_gev, t)
        return np.where(xv > self._x[-1] * (1 + 1e-12), np.nan, t)

    # -- public API ------------------------------------------------------------------------------
    def range_cm(self, kinetic_gev: npt.ArrayLike):
        """Residual CSDA range [cm]: path to come to rest from kinetic energy T [GeV].

        +inf for models that never stop (``bethe_paper``); nan above the table.
        """
        t = _f(kinetic_gev)
        if self.stops:
            return _ret(self._x_of_kinetic(t))
        out = np.where(t > self.kinetic_max_gev * (1 + 1e-12), np.nan, np.inf)
        return _ret(np.where(np.isnan(t), np.nan, out))

    def kinetic_from_range(self, range_cm: npt.ArrayLike):
        """Inverse of :meth:`range_cm`: kinetic energy [GeV] with residual range R [cm].

        Only for models that stop; for ``bethe_paper`` use :meth:`kinetic_after_cm`.
        """
        if not self.stops:
            raise ValueError(
                f"{self.model} never brings the particle to rest (infinite range); "
                "use kinetic_after_cm(T, path) instead"
            )
        return _ret(self._kinetic_of_x(range_cm))

    def distance_cm(self, kinetic_start_gev: npt.ArrayLike, kinetic_end_gev: npt.ArrayLike = 0.0):
        """Path [cm] needed to slow down from T_start to T_end (0 where T_end >= T_start).

        +inf when T_end is at or below T_0 of a model that stops losing energy there
        (``bethe_paper``).
        """
        t1, t2 = np.broadcast_arrays(_f(kinetic_start_gev), _f(kinetic_end_gev))
        x1, x2 = self._x_of_kinetic(t1), self._x_of_kinetic(t2)
        with np.errstate(invalid="ignore"):
            out = np.where(np.isneginf(x2), np.inf, x1 - x2)
        out = np.where(t2 >= t1, 0.0, out)
        return _ret(np.where(np.isnan(x1) | np.isnan(x2), np.nan, out))

    def kinetic_after_cm(self, kinetic_gev: npt.ArrayLike, path_cm: npt.ArrayLike):
        """Kinetic energy [GeV] after travelling ``path_cm`` [cm] from T [GeV] (CSDA stepping).

        0 once the particle has stopped (models that stop); never below T_0 for ``bethe_paper``,
        and T <= T_0 is returned unchanged (no energy loss there).
        """
        t, s = np.broadcast_arrays(_f(kinetic_gev), _f(path_cm))
        if np.any(s < 0):
            raise ValueError("path_cm must be >= 0")
        x = self._x_of_kinetic(t)
        out = self._kinetic_of_x(x - s)
        out = np.where(np.isneginf(x) | (s == 0), t, out)
        return _ret(np.where(np.isnan(x), np.nan, out))

    def rescaled(self, eps: float) -> RangeTable:
        """The same table for another eps (X scales exactly as 1/eps^2; rebuilt with ``nuclear``)."""
        if self.nuclear:
            return RangeTable(eps, self.mass_gev, self.material, self.model, nuclear=True, **self._options)
        new = object.__new__(RangeTable)
        new.__dict__.update(self.__dict__)
        k = (self.eps / float(eps)) ** 2
        new.eps = float(eps)
        new._x = self._x * k
        new._g0 = self._g0 * k
        return new


def csda_range_cm(
    kinetic_gev: npt.ArrayLike,
    eps: float,
    mass_gev: float,
    material: Material | str,
    model: str = "bethe",
    kinetic_end_gev: npt.ArrayLike = 0.0,
    *,
    nuclear: bool = False,
):
    """CSDA path length [cm] from kinetic energy T to T_end (default: to rest), for scalar eps,
    mass_gev and arrays of T. Builds a :class:`RangeTable` (reuse one for repeated calls).

    Infinite where the model stops losing energy above T_end (``bethe_paper`` with T_end <= T_0).
    """
    table = RangeTable(eps, mass_gev, material, model, nuclear=nuclear)
    return table.distance_cm(kinetic_gev, kinetic_end_gev)
