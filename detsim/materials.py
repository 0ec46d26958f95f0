"""Materials for the toy detector: densities, Z/A, mean excitation energies, W, n_p.

Units (also in every field name): lengths in cm, densities in g/cm^3, Z/A in mol/g, energies
(I, W, first ionisation energy) in GeV. Tables below are written in eV and converted with
hepunits (``value * eV / GeV``).

Sources
-------
* PDG, "Atomic and nuclear properties of materials" (pdg.lbl.gov/AtomicNuclearProperties):
  density, <Z/A>, I, X0 of the pure materials (gas densities at 20 degC, 1 atm; the same numbers
  as Geant4's NIST materials ``G4_He``, ``G4_Ar``, ``G4_METHANE``, ...).
* PDG review "Particle detectors", table 35.5 (noble and molecular gases at NTP): first
  ionisation energy E_I, W (W_I), primary clusters per cm n_p for a minimum-ionising particle.
* docs/physics.md section 7 and Gorbunov et al. (G) section 3, for the paper-faithful propane:
  Z = 26, A = 44.1 g/mol, I = 11 eV, rho = 1.864e-3 g/cm^3; propane W = 23.7 eV (beta-ray
  measurement) and n_p ~ 69/cm (interpolated, +-20 %).

Two propanes are provided:

* ``"propane"`` -- G's numbers (I = 11 eV). 11 eV is close to propane's first *ionisation*
  potential (10.95 eV), not its mean excitation energy; it is kept because it is what G's
  eqs. 4-6 use (it gives the 25 eV/cm of G eq. 6).
* ``"propane_pdg"`` -- PDG/NIST: I = 47.1 eV, rho = 1.879e-3 g/cm^3 (Geant4 ``G4_PROPANE``),
  <Z/A> = 0.58962. With this I the Bethe log of G eq. 4 at beta = 1e-2 is 2.9x smaller and
  turns negative already at beta = 6.8e-3.

Stopping composition (``stopping_composition``): the constituents whose ICRU 49 proton stopping
is added by mass fraction (Bragg additivity) for the ``icru49`` model, and whose elements enter the
ZBL nuclear stopping (:mod:`detsim.stopping_tables`). ICRU 49 molecular coefficients are used where
tabulated (propane C3H8, methane CH4, CO2, graphite); isobutane and ethane are Bragg sums of their
H and C atoms (for propane and methane that sum differs from the molecular value by -4 % .. +3 %
over 1 keV - 2 MeV).

Choices documented here: He n_p = 3.5/cm (PDG table 35.5; older compilations, e.g. Sauli 1977,
give 5.9/cm -- docs/physics.md quotes 3.5-5.9; the lower, PDG value is the conservative one for hit
counting). Isobutane takes I of butane (same composition, PDG 48.3 eV). ``carbon_fibre`` is
pure carbon (graphite Z/A, I, X0 per gram) at a typical fibre density of 1.75 g/cm^3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from hepunits import GeV, eV

from .stopping_tables import ELEMENTS, STOPPING_KEYS

__all__ = [
    "Material",
    "MATERIALS",
    "ALIASES",
    "material",
    "material_names",
    "gas_mixture",
    "EV_TO_GEV",
]

EV_TO_GEV = eV / GeV  #: multiply a value in eV by this to get GeV (= 1e-9)


@dataclass(frozen=True)
class Material:
    """A homogeneous material (units in the field names; energies in GeV).

    Attributes
    ----------
    name : str
        Identifier (lookup key for table materials).
    density_g_cm3 : float
        Mass density rho [g/cm^3].
    z_over_a : float
        Electron-weighted <Z/A> [mol/g] (PDG); for a compound sum_j w_j Z_j/A_j.
    mean_excitation_gev : float
        Mean excitation energy I [GeV] of the Bethe formula (G eq. 4, PDG eq. 34.5).
    w_value_gev : float or None
        Mean energy per ion pair W [GeV] (gases; None where not tabulated).
    primary_clusters_per_cm : float or None
        Primary ionisation clusters per cm n_p for a MIP at this density (gases only).
    radiation_length_cm : float or None
        Radiation length X0 [cm].
    ionization_energy_gev : float or None
        First ionisation energy E_I [GeV] (gases, PDG table 35.5); None for conductors and
        solids. Used as the kinematic floor of the low-beta stopping model (see ``eloss``).
    phase : "gas" or "solid"
        Only gases can be mixed with :func:`gas_mixture`.
    stopping_composition : tuple of (key, mass fraction) or None
        Constituents for the ICRU 49 electronic and ZBL nuclear stopping (keys of
        :data:`detsim.stopping_tables.STOPPING_KEYS`: element symbols or ICRU 49 molecules),
        mass fractions summing to 1. None: the ``icru49`` model and nuclear stopping are not
        available for this material.
    """

    name: str
    density_g_cm3: float
    z_over_a: float
    mean_excitation_gev: float
    w_value_gev: float | None = None
    primary_clusters_per_cm: float | None = None
    radiation_length_cm: float | None = None
    ionization_energy_gev: float | None = None
    phase: Literal["gas", "solid"] = "solid"
    stopping_composition: tuple[tuple[str, float], ...] | None = None

    def __post_init__(self) -> None:
        if not self.density_g_cm3 > 0:
            raise ValueError(f"{self.name}: density_g_cm3 must be > 0, got {self.density_g_cm3}")
        if not 0 < self.z_over_a <= 1:
            raise ValueError(f"{self.name}: z_over_a must be in (0, 1] mol/g, got {self.z_over_a}")
        if not 0 < self.mean_excitation_gev < 1e-3:
            raise ValueError(
                f"{self.name}: mean_excitation_gev must be in GeV, in (0, 1e-3); "
                f"got {self.mean_excitation_gev} (did you pass eV?)"
            )
        for field in ("w_value_gev", "ionization_energy_gev"):
            value = getattr(self, field)
            if value is not None and not 0 < value < 1e-3:
                raise ValueError(f"{self.name}: {field} must be in GeV, in (0, 1e-3); got {value}")
        for field in ("primary_clusters_per_cm", "radiation_length_cm"):
            value = getattr(self, field)
            if value is not None and not value > 0:
                raise ValueError(f"{self.name}: {field} must be > 0, got {value}")
        if self.phase not in ("gas", "solid"):
            raise ValueError(f"{self.name}: phase must be 'gas' or 'solid', got {self.phase!r}")
        if self.stopping_composition is not None:
            comp = tuple((str(k), float(w)) for k, w in self.stopping_composition)
            for key, w in comp:
                if key not in STOPPING_KEYS:
                    raise ValueError(
                        f"{self.name}: unknown stopping key {key!r}; allowed: {', '.join(sorted(STOPPING_KEYS))}"
                    )
                if not (math.isfinite(w) and w > 0):
                    raise ValueError(f"{self.name}: mass fraction of {key!r} must be > 0, got {w}")
            if not comp or abs(math.fsum(w for _, w in comp) - 1.0) > 1e-6:
                raise ValueError(f"{self.name}: stopping_composition mass fractions must sum to 1, got {comp}")
            object.__setattr__(self, "stopping_composition", comp)

    @property
    def electron_density_mol_cm3(self) -> float:
        """rho <Z/A> [mol electrons / cm^3]; dE/dx of every model is proportional to it."""
        return self.density_g_cm3 * self.z_over_a


def _make(
    name: str,
    rho: float,
    z_over_a: float,
    i_ev: float,
    x0_g_cm2: float | None,
    *,
    w_ev: float | None = None,
    n_p: float | None = None,
    e_i_ev: float | None = None,
    phase: Literal["gas", "solid"] = "solid",
    stopping: tuple[tuple[str, float], ...] | None = None,
) -> Material:
    """Build a table entry from PDG-style numbers (eV, and X0 in g/cm^2 -> cm)."""
    return Material(
        name=name,
        density_g_cm3=rho,
        z_over_a=z_over_a,
        mean_excitation_gev=i_ev * EV_TO_GEV,
        w_value_gev=None if w_ev is None else w_ev * EV_TO_GEV,
        primary_clusters_per_cm=n_p,
        radiation_length_cm=None if x0_g_cm2 is None else x0_g_cm2 / rho,
        ionization_energy_gev=None if e_i_ev is None else e_i_ev * EV_TO_GEV,
        phase=phase,
        stopping_composition=stopping,
    )


def _atoms(**counts: int) -> tuple[tuple[str, float], ...]:
    """Bragg additivity over the atoms of a formula: element mass fractions, e.g. _atoms(C=2, H=6)."""
    masses = {s: n * ELEMENTS[s].a_g_mol for s, n in counts.items()}
    total = math.fsum(masses.values())
    return tuple((s, m / total) for s, m in masses.items())


_C3H8 = (("C3H8", 1.0),)

# X0 in g/cm^2 from PDG (compounds: 1/X0 = sum_j w_j / X0_j, PDG eq. 34.28 with element X0).
_TABLE: tuple[Material, ...] = (
    # --- gases (20 degC, 1 atm) ---------------------------------------------------------------
    # G section 3 / docs/physics.md section 7: Z = 26, A = 44.1, I = 11 eV, rho = 1.864e-3.
    _make(
        "propane", 1.864e-3, 26.0 / 44.1, 11.0, 45.37, w_ev=23.7, n_p=69.0, e_i_ev=10.95, phase="gas", stopping=_C3H8
    ),
    # PDG / NIST (Geant4 G4_PROPANE): I = 47.1 eV.
    _make(
        "propane_pdg", 1.87939e-3, 0.58962, 47.1, 45.37, w_ev=23.7, n_p=69.0, e_i_ev=10.95, phase="gas", stopping=_C3H8
    ),
    # PDG table 35.5: iC4H10 rho = 2.49 mg/cm3, E_I = 10.6 eV, W = 26 eV, n_p = 90/cm;
    # I and X0 of butane (PDG), Z/A = 34/58.12.
    _make(
        "isobutane",
        2.49e-3,
        34.0 / 58.122,
        48.3,
        45.23,
        w_ev=26.0,
        n_p=90.0,
        e_i_ev=10.6,
        phase="gas",
        stopping=_atoms(C=4, H=10),
    ),
    # PDG: rho = 1.66322e-4, <Z/A> = 0.49967, I = 41.8 eV, X0 = 94.32 g/cm2;
    # table 35.5: E_I = 24.6 eV, W = 41.3 eV, n_p = 3.5/cm (5.9/cm in older compilations).
    _make(
        "helium",
        1.66322e-4,
        0.49967,
        41.8,
        94.32,
        w_ev=41.3,
        n_p=3.5,
        e_i_ev=24.6,
        phase="gas",
        stopping=(("He", 1.0),),
    ),
    # PDG: rho = 1.66201e-3, <Z/A> = 0.45059, I = 188 eV, X0 = 19.55 g/cm2;
    # table 35.5: E_I = 15.7 eV, W = 26 eV, n_p = 25/cm.
    _make(
        "argon",
        1.66201e-3,
        0.45059,
        188.0,
        19.55,
        w_ev=26.0,
        n_p=25.0,
        e_i_ev=15.7,
        phase="gas",
        stopping=(("Ar", 1.0),),
    ),
    # PDG: rho = 6.67151e-4, <Z/A> = 0.62334, I = 41.7 eV, X0 = 46.47 g/cm2;
    # table 35.5: E_I = 12.6 eV, W = 30 eV, n_p = 28/cm.
    _make(
        "methane",
        6.67151e-4,
        0.62334,
        41.7,
        46.47,
        w_ev=30.0,
        n_p=28.0,
        e_i_ev=12.6,
        phase="gas",
        stopping=(("CH4", 1.0),),
    ),
    # PDG: rho = 1.25324e-3, <Z/A> = 0.59861, I = 45.4 eV, X0 = 45.66 g/cm2;
    # table 35.5: E_I = 11.5 eV, W = 26 eV, n_p = 48/cm.
    _make(
        "ethane",
        1.25324e-3,
        0.59861,
        45.4,
        45.66,
        w_ev=26.0,
        n_p=48.0,
        e_i_ev=11.5,
        phase="gas",
        stopping=_atoms(C=2, H=6),
    ),
    # PDG: rho = 1.84212e-3, <Z/A> = 0.49989, I = 85.0 eV, X0 = 36.20 g/cm2;
    # table 35.5: E_I = 13.8 eV, W = 34 eV, n_p = 35/cm.
    _make(
        "co2", 1.84212e-3, 0.49989, 85.0, 36.20, w_ev=34.0, n_p=35.0, e_i_ev=13.8, phase="gas", stopping=(("CO2", 1.0),)
    ),
    # --- solids ---------------------------------------------------------------------------------
    # PDG: Be rho = 1.848, <Z/A> = 0.44384, I = 63.7 eV, X0 = 65.19 g/cm2 (35.28 cm).
    _make("beryllium", 1.848, 0.44384, 63.7, 65.19, stopping=(("Be", 1.0),)),
    # PDG: Al rho = 2.699, <Z/A> = 0.48181, I = 166.0 eV, X0 = 24.01 g/cm2 (8.897 cm).
    _make("aluminium", 2.699, 0.48181, 166.0, 24.01, stopping=(("Al", 1.0),)),
    # PDG: C (graphite) rho = 2.21, <Z/A> = 0.49955, I = 78.0 eV, X0 = 42.70 g/cm2.
    _make("carbon", 2.21, 0.49955, 78.0, 42.70, stopping=(("graphite", 1.0),)),
    # Pure-carbon approximation of carbon fibre at 1.75 g/cm3 (CFRP with epoxy: ~1.55-1.6).
    _make("carbon_fibre", 1.75, 0.49955, 78.0, 42.70, stopping=(("graphite", 1.0),)),
)

#: Table materials by canonical (lower-case) name.
MATERIALS: dict[str, Material] = {m.name: m for m in _TABLE}

#: Accepted alternative spellings (case-insensitive) -> canonical name.
ALIASES: dict[str, str] = {
    "c3h8": "propane",
    "propane_g": "propane",
    "ic4h10": "isobutane",
    "i-c4h10": "isobutane",
    "he": "helium",
    "ar": "argon",
    "ch4": "methane",
    "c2h6": "ethane",
    "carbon_dioxide": "co2",
    "be": "beryllium",
    "al": "aluminium",
    "aluminum": "aluminium",
    "c": "carbon",
    "graphite": "carbon",
    "carbon_fiber": "carbon_fibre",
    "cfrp": "carbon_fibre",
}


def material_names() -> list[str]:
    """Canonical names of the table materials."""
    return list(MATERIALS)


def material(name: str | Material) -> Material:
    """Look up a table material by name or alias (case-insensitive); a Material passes through.

    Raises ValueError naming the allowed names if ``name`` is unknown.
    """
    if isinstance(name, Material):
        return name
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    try:
        return MATERIALS[key]
    except KeyError:
        raise ValueError(
            f"unknown material {name!r}; allowed: {', '.join(MATERIALS)} (aliases: {', '.join(ALIASES)})"
        ) from None


def gas_mixture(
    components: dict[str, float],
    by: Literal["volume", "mass"] = "volume",
    pressure_atm: float = 1.0,
    name: str | None = None,
) -> Material:
    """Mix table gases (all at the same P, T) into a new :class:`Material`.

    Parameters
    ----------
    components : dict name -> fraction
        Table gas names (see :func:`material_names`) and their fractions, summing to 1.
    by : "volume" or "mass"
        Whether fractions are volume (= mole, ideal gas) fractions x_i or mass fractions w_i.
    pressure_atm : float
        Pressure in atm relative to the table conditions (20 degC, 1 atm): density and n_p scale
        linearly (ideal gas), X0 [cm] as 1/P; I, W, Z/A do not change.
    name : str, optional
        Defaults to e.g. ``"helium/propane 60/40 (volume)"``.

    Mixing rules
    ------------
    * density: ideal-gas volume additivity, rho = sum_i x_i rho_i (equivalently
      1/rho = sum_i w_i/rho_i); w_i = x_i rho_i / rho.
    * <Z/A> = sum_i w_i (Z/A)_i (PDG, electron-weighted).
    * ln I = sum_i w_i (Z/A)_i ln I_i / <Z/A> (Bragg additivity, PDG section 34.2).
    * W: 1/W = sum_i f_i / W_i, with f_i = w_i (Z/A)_i / <Z/A> the fraction of the energy lost on
      component i, taken equal to its electron fraction (stopping power per electron assumed
      equal; Penning transfer, which lowers W of e.g. He mixtures, is neglected).
    * n_p = sum_i x_i n_p,i (docs/physics.md section 7), times pressure_atm.
    * X0: 1/X0[g/cm^2] = sum_i w_i / X0_i[g/cm^2] (PDG), then divided by rho.
    * E_I = min_i E_I,i (the lowest ionisation threshold in the mixture).
    * stopping composition: the components' (key, mass fraction) lists weighted by w_i (Bragg
      additivity by mass for the ICRU 49 electronic and the ZBL nuclear stopping); None if a
      component has none.
    """
    if by not in ("volume", "mass"):
        raise ValueError(f"by must be 'volume' or 'mass', got {by!r}")
    if not pressure_atm > 0:
        raise ValueError(f"pressure_atm must be > 0, got {pressure_atm}")
    if not components:
        raise ValueError("components is empty; give e.g. {'helium': 0.6, 'propane': 0.4}")
    gases = [m.name for m in MATERIALS.values() if m.phase == "gas"]
    mats: list[Material] = []
    fracs: list[float] = []
    for key, frac in components.items():
        try:
            mat = material(key)
        except ValueError:
            raise ValueError(f"unknown gas {key!r} in mixture; allowed: {', '.join(gases)}") from None
        if mat.phase != "gas":
            raise ValueError(f"{key!r} is not a gas and cannot enter gas_mixture; allowed: {', '.join(gases)}")
        f = float(frac)
        if not (math.isfinite(f) and f >= 0):
            raise ValueError(f"fraction of {key!r} must be finite and >= 0, got {frac}")
        mats.append(mat)
        fracs.append(f)
    total = math.fsum(fracs)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"{by} fractions must sum to 1, got {total:.6g} ({', '.join(f'{k}={v}' for k, v in components.items())})"
        )
    fracs = [f / total for f in fracs]
    if by == "volume":
        x = fracs
        rho1 = math.fsum(xi * m.density_g_cm3 for xi, m in zip(x, mats, strict=True))
        w = [xi * m.density_g_cm3 / rho1 for xi, m in zip(x, mats, strict=True)]
    else:
        w = fracs
        rho1 = 1.0 / math.fsum(wi / m.density_g_cm3 for wi, m in zip(w, mats, strict=True))
        x = [wi / m.density_g_cm3 * rho1 for wi, m in zip(w, mats, strict=True)]

    z_over_a = math.fsum(wi * m.z_over_a for wi, m in zip(w, mats, strict=True))
    # electron (= energy-loss) fractions
    elec = [wi * m.z_over_a / z_over_a for wi, m in zip(w, mats, strict=True)]
    ln_i = math.fsum(fi * math.log(m.mean_excitation_gev) for fi, m in zip(elec, mats, strict=True))

    w_value = None
    if all(m.w_value_gev is not None for m in mats):
        w_value = 1.0 / math.fsum(fi / m.w_value_gev for fi, m in zip(elec, mats, strict=True))
    n_p = None
    if all(m.primary_clusters_per_cm is not None for m in mats):
        n_p = pressure_atm * math.fsum(xi * m.primary_clusters_per_cm for xi, m in zip(x, mats, strict=True))
    x0_cm = None
    if all(m.radiation_length_cm is not None for m in mats):
        inv = math.fsum(wi / (m.radiation_length_cm * m.density_g_cm3) for wi, m in zip(w, mats, strict=True))
        x0_cm = 1.0 / inv / (rho1 * pressure_atm)
    e_i = None
    if all(m.ionization_energy_gev is not None for m in mats):
        e_i = min(m.ionization_energy_gev for m in mats)
    stopping = None
    if all(m.stopping_composition is not None for m in mats):
        acc: dict[str, float] = {}
        for wi, m in zip(w, mats, strict=True):
            for key, f in m.stopping_composition:
                acc[key] = acc.get(key, 0.0) + wi * f
        stopping = tuple((k, v) for k, v in acc.items() if v > 0)

    if name is None:
        keep = [(m.name, f) for m, f in zip(mats, fracs, strict=True) if f > 0]
        name = (
            "/".join(n for n, _ in keep)
            + " "
            + "/".join(f"{100 * f:g}" for _, f in keep)
            + f" ({by})"
            + ("" if pressure_atm == 1.0 else f" at {pressure_atm:g} atm")
        )
    return Material(
        name=name,
        density_g_cm3=rho1 * pressure_atm,
        z_over_a=z_over_a,
        mean_excitation_gev=math.exp(ln_i),
        w_value_gev=w_value,
        primary_clusters_per_cm=n_p,
        radiation_length_cm=x0_cm,
        ionization_energy_gev=e_i,
        phase="gas",
        stopping_composition=stopping,
    )
