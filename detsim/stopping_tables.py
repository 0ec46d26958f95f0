"""Coefficient tables for low-velocity stopping: ICRU 49 proton electronic stopping and ZBL nuclear stopping.

Pure data and the closed-form fits that use it (numpy, vectorised); :mod:`detsim.eloss` turns them
into dE/dx of a charge-eps particle (``icru49`` model, ``nuclear=True``). No other module of the
project is imported here.

Electronic stopping of protons (ICRU Report 49, 1993, "Stopping Powers and Ranges for Protons and
Alpha Particles", low-energy fits; the same coefficients as Geant4's G4BraggModel ICRU_R49p tables)
----------------------------------------------------------------------------------------------------
Andersen-Ziegler form (H. H. Andersen and J. F. Ziegler, "Hydrogen Stopping Powers and Ranges in All
Elements", Pergamon 1977), with T the proton kinetic energy divided by the proton mass in u,
T = T_p[keV] / 1.007276 ("keV/amu"), and S in eV / (1e15 atoms/cm^2) (per molecule for molecules):

    S(T) = S_low S_high / (S_low + S_high),  S_low = A2 T^0.45,  S_high = (A3 / T) ln(1 + A4/T + A5 T)

for 10 <= T < 1e4 keV/amu. Below 10 keV/amu, velocity-proportional (free-electron-gas) stopping:
elements S(10) sqrt(T/10) (carbon: S(40) sqrt(T/40) below 40 keV/amu); molecules A1 sqrt(T).
ICRU 49 uses these fits below ~0.5 MeV; above, Bethe theory with shell and higher-order
corrections (ICRU 49 summary). Mass stopping power [MeV cm^2/g] = S * 0.602214076 / A[g/mol] * 1e3
(``S_TO_MEV_CM2_PER_G / A``).

Checked against the NIST PSTAR electronic column (the ICRU 49 tables) at 1 keV - 0.2 MeV: He, Be,
Al, Ar, CH4, CO2, C3H8 within 0.1 %. Graphite (ICRU 49 molecular entry with Geant4's phase factor)
is within -11 % .. +1 % of PSTAR graphite; its A1 sqrt(T) branch does not join the main fit at
10 keV/amu (an 11 % step, as in Geant4). The molar mass of C3H8 is 44.097 g/mol (Geant4's table
carries 44.665, which is 1.3 % below PSTAR; the true value reproduces PSTAR).

Nuclear stopping (J. F. Ziegler, J. P. Biersack, U. Littmark, "The Stopping and Range of Ions in
Solids", Pergamon 1985, "ZBL"; universal reduced nuclear stopping)
----------------------------------------------------------------------------------------------------
    eps_r = 32.53 M2 E / (Z1 Z2 (M1 + M2) D),   S_n = 8.462 Z1 Z2 M1 s_n(eps_r) / ((M1 + M2) D)
    s_n = ln(1 + 1.1383 eps_r) / (2 (eps_r + 0.01321 eps_r^0.21226 + 0.19593 eps_r^0.5)), eps_r <= 30
    s_n = ln(eps_r) / (2 eps_r)  (unscreened Coulomb), eps_r > 30

E in keV (projectile kinetic energy), masses in u, S_n in eV / (1e15 atoms/cm^2). D sets the
screening length a = 0.8854 a_0 / D: the ZBL universal D = Z1^0.23 + Z2^0.23 is a fit for ions
carrying electrons; for a bare projectile (proton, MCP) the screening is the target atom's alone,
D = Z2^(1/3) -- ICRU 49's choice for protons (as in Geant4's G4ICRU49NuclearStoppingModel for
z1 < 1.5). With D = Z2^(1/3) the formula reproduces the PSTAR (ICRU 49) nuclear stopping of
protons in He, Be and propane within 4 % at 1-100 keV; the universal D is 8-23 % lower there.

Born regime (optional, ``beta=`` given): ZBL is a classical-trajectory result. For eps_r > 30 it is
unscreened Rutherford energy loss to the nuclei, S_n = 4 pi Z1^2 Z2^2 e^4 / (M2 v^2) x Lambda with
Lambda = ln(eps_r) (minimum impact parameter ~ the collision diameter). When the Bohr parameter
kappa = 2 Z1 Z2 alpha / beta is small the minimum impact parameter is the reduced de Broglie
wavelength instead; the first-Born transport cross section of a Yukawa-screened Coulomb potential
(screening length a) gives Lambda_B = 1/2 [ln(1 + x) - x / (1 + x)], x = (2 k a)^2 = (2 kappa eps_r)^2
(k a = kappa eps_r). Taking min(Lambda, Lambda_B) switches at kappa ~ 0.8 (Bohr's criterion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "PROTON_MASS_U",
    "U_GEV",
    "S_TO_MEV_CM2_PER_G",
    "ICRU49_T_MIN_KEV",
    "Element",
    "Molecule",
    "ELEMENTS",
    "MOLECULES",
    "STOPPING_KEYS",
    "formula_of",
    "molar_mass",
    "element_mass_fractions",
    "icru49_proton_mass_stopping",
    "zbl_reduced_nuclear_stopping",
    "zbl_nuclear_stopping",
    "ALPHA",
]

PROTON_MASS_U = 1.007276  #: proton mass in u (the energy scale of the ICRU 49 fits, keV/amu)
U_GEV = 0.93149410242  #: atomic mass unit [GeV] (CODATA 2018)
S_TO_MEV_CM2_PER_G = 602.214076  #: eV/(1e15 atoms/cm^2) -> MeV cm^2/g, divided by A [g/mol] (N_A 1e-15 1e-6)
ICRU49_T_MIN_KEV = 1.0  #: lowest proton kinetic energy tabulated in ICRU 49 / PSTAR [keV]


@dataclass(frozen=True)
class Element:
    """An element: Z, standard atomic weight A [g/mol] and ICRU 49 coefficients A1..A5."""

    symbol: str
    z: int
    a_g_mol: float
    coef: tuple[float, float, float, float, float]


@dataclass(frozen=True)
class Molecule:
    """A compound with ICRU 49 molecular coefficients A1..A5 (S per molecule)."""

    key: str
    formula: tuple[tuple[str, int], ...]
    coef: tuple[float, float, float, float, float]
    phase_factor: Literal["none", "graphite"] = "none"


# ICRU 49 proton coefficients A1..A5, S in eV/(1e15 atoms/cm^2), T in keV/amu (Geant4 G4BraggModel,
# ICRU_R49p element table, rows Z = 1, 2, 4, 6, 7, 8, 9, 10, 13, 14, 18, 54). Atomic weights: IUPAC.
ELEMENTS: dict[str, Element] = {
    e.symbol: e
    for e in (
        Element("H", 1, 1.00794, (1.254, 1.440, 242.6, 1.200e4, 0.1159)),
        Element("He", 2, 4.002602, (1.229, 1.397, 484.5, 5873.0, 0.05225)),
        Element("Be", 4, 9.012182, (2.248, 2.590, 966.0, 153.8, 0.03475)),
        Element("C", 6, 12.0107, (2.631, 2.601, 1701.0, 1279.0, 0.01638)),
        Element("N", 7, 14.0067, (2.954, 3.350, 1683.0, 1900.0, 0.02513)),
        Element("O", 8, 15.9994, (2.652, 3.000, 1920.0, 2000.0, 0.02230)),
        Element("F", 9, 18.9984032, (2.085, 2.352, 2157.0, 2634.0, 0.01816)),
        Element("Ne", 10, 20.1797, (1.951, 2.199, 2393.0, 2699.0, 0.01568)),
        Element("Al", 13, 26.9815386, (4.154, 4.739, 2766.0, 164.5, 0.02023)),
        Element("Si", 14, 28.0855, (4.914, 5.598, 3193.0, 232.7, 0.01419)),
        Element("Ar", 18, 39.948, (5.731, 6.500, 4253.0, 530.0, 0.01123)),
        Element("Xe", 54, 131.293, (8.337, 9.425, 1.051e4, 269.6, 0.006206)),
    )
}

# ICRU 49 molecular coefficients (Geant4 G4BraggModel molecular table: CO_2, CH_4, C_3H_8, Graphite).
MOLECULES: dict[str, Molecule] = {
    m.key: m
    for m in (
        Molecule("CO2", (("C", 1), ("O", 2)), (7.802, 8.814, 8303.0, 744.6, 0.007966)),
        Molecule("CH4", (("C", 1), ("H", 4)), (7.294, 8.284, 5010.0, 454.4, 0.008153)),
        Molecule("C3H8", (("C", 3), ("H", 8)), (16.04, 18.25, 6967.0, 2307.0, 0.03775)),
        Molecule("graphite", (("C", 1),), (2.631, 2.601, 1701.0, 1279.0, 0.01638), "graphite"),
    )
}

#: every key accepted in :attr:`detsim.materials.Material.stopping_composition`
STOPPING_KEYS: frozenset[str] = frozenset(ELEMENTS) | frozenset(MOLECULES)


def formula_of(key: str) -> tuple[tuple[str, int], ...]:
    """Atoms of one formula unit of a stopping key, e.g. ``(("C", 3), ("H", 8))`` for C3H8."""
    if key in ELEMENTS:
        return ((key, 1),)
    try:
        return MOLECULES[key].formula
    except KeyError:
        raise ValueError(f"unknown stopping key {key!r}; allowed: {', '.join(sorted(STOPPING_KEYS))}") from None


def molar_mass(key: str) -> float:
    """Mass of one formula unit [g/mol] from the atomic weights."""
    return math.fsum(n * ELEMENTS[s].a_g_mol for s, n in formula_of(key))


def element_mass_fractions(composition) -> dict[str, float]:
    """Mass fraction of each element in a composition ((key, mass fraction), ...)."""
    out: dict[str, float] = {}
    for key, w in composition:
        m = molar_mass(key)
        for s, n in formula_of(key):
            out[s] = out.get(s, 0.0) + w * n * ELEMENTS[s].a_g_mol / m
    return out


def _andersen_ziegler(t: np.ndarray, coef) -> np.ndarray:
    """S_low S_high / (S_low + S_high) for T >= 10 keV/amu (eV/(1e15 atoms/cm^2))."""
    _, a2, a3, a4, a5 = coef
    slow = a2 * t**0.45
    shigh = np.log1p(a4 / t + a5 * t) * a3 / t
    return slow * shigh / (slow + shigh)


def _graphite_factor(t: np.ndarray) -> np.ndarray:
    """Phase factor of the ICRU 49 graphite entry (Geant4 G4BraggModel), T in keV/amu."""
    lo = 1.023 + 0.0066 * np.log10(t)
    mid = 1.089 - 0.0248 * np.log10(np.maximum(t - 99.0, 1.0))
    hi = 1.089 - 0.0248 * math.log10(700.0 - 99.0)
    return np.where(t < 100.0, lo, np.where(t < 700.0, mid, hi))


def icru49_proton_mass_stopping(key: str, t_proton_kev: npt.ArrayLike) -> np.ndarray:
    """Electronic mass stopping power of protons [MeV cm^2/g] for one stopping key (ICRU 49 fit).

    ``t_proton_kev`` is the proton kinetic energy [keV] (> 0). Module docstring for the form and
    sources; meaningful up to ~0.5 MeV (ICRU 49 joins Bethe theory above).
    """
    t = np.asarray(t_proton_kev, dtype=float) / PROTON_MASS_U
    if key in ELEMENTS:
        el = ELEMENTS[key]
        t_low = 40.0 if el.symbol == "C" else 10.0
        tt = np.maximum(t, t_low)
        s = _andersen_ziegler(tt, el.coef) * np.sqrt(np.minimum(t, t_low) / t_low)
        return s * S_TO_MEV_CM2_PER_G / el.a_g_mol
    try:
        mol = MOLECULES[key]
    except KeyError:
        raise ValueError(f"unknown stopping key {key!r}; allowed: {', '.join(sorted(STOPPING_KEYS))}") from None
    tt = np.maximum(t, 10.0)
    s = np.where(t < 10.0, mol.coef[0] * np.sqrt(t), _andersen_ziegler(tt, mol.coef))
    if mol.phase_factor == "graphite":
        s = s * _graphite_factor(t)
    return s * S_TO_MEV_CM2_PER_G / molar_mass(key)


def zbl_reduced_nuclear_stopping(eps_r: npt.ArrayLike) -> np.ndarray:
    """ZBL universal reduced nuclear stopping s_n(eps_r) (module docstring), eps_r > 0."""
    e = np.asarray(eps_r, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.log1p(1.1383 * e) / (2.0 * (e + 0.01321 * e**0.21226 + 0.19593 * np.sqrt(e)))
        high = np.log(e) / (2.0 * e)
    return np.where(e <= 30.0, low, high)


ALPHA = 1.0 / 137.035999  #: fine-structure constant (Bohr parameter of the Born option)


def zbl_nuclear_stopping(
    e_kev: npt.ArrayLike,
    z1: npt.ArrayLike,
    m1_u: npt.ArrayLike,
    z2: float,
    m2_u: float,
    screening: Literal["bare", "universal"] = "bare",
    beta: npt.ArrayLike | None = None,
) -> np.ndarray:
    """ZBL nuclear stopping cross section S_n [eV/(1e15 atoms/cm^2)] on one target element.

    Projectile of charge z1 (may be fractional), mass m1 [u], kinetic energy E [keV]; target atom
    Z2, M2 [u]. ``screening="bare"``: D = Z2^(1/3) (bare projectile, ICRU 49 for protons);
    ``"universal"``: D = Z1^0.23 + Z2^0.23 (ZBL). With the projectile velocity ``beta`` given, the
    Coulomb log of the unscreened regime (eps_r > 30) is replaced by the first-Born one where that
    is smaller (module docstring, "Born regime"). Broadcasts over e_kev, z1, m1_u, beta.
    """
    e, q, m1 = (np.asarray(x, dtype=float) for x in (e_kev, z1, m1_u))
    if screening == "bare":
        d = np.full(np.broadcast(e, q).shape, z2 ** (1.0 / 3.0))
    elif screening == "universal":
        d = q**0.23 + z2**0.23
    else:
        raise ValueError(f"screening must be 'bare' or 'universal', got {screening!r}")
    eps_r = 32.53 * m2_u * e / (q * z2 * (m1 + m2_u) * d)
    sn = zbl_reduced_nuclear_stopping(eps_r)
    if beta is not None:
        kappa = 2.0 * q * z2 * ALPHA / np.asarray(beta, dtype=float)
        x = (2.0 * kappa * eps_r) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            lam_born = 0.5 * (np.log1p(x) - x / (1.0 + x))
            born = np.minimum(np.log(eps_r), lam_born) / (2.0 * eps_r)
        sn = np.where(eps_r > 30.0, born, sn)
    return 8.462 * q * z2 * m1 * sn / ((m1 + m2_u) * d)
