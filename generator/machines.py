"""Collider presets: nominal beam energies, full crossing angle and per-beam energy spread.

Each entry quotes the design (or operating) values of one machine and where they come from. The
crossing angle is the FULL angle between the two beams, in the horizontal plane; the geometry and
the lab frame are those of :mod:`generator.beams` (``docs/physics.md`` §10). Energy spreads are the
relative rms spreads sigma_E/E of each beam at the quoted energy; :meth:`Machine.beams` keeps them
when the beams are rescaled to another CM energy (in a ring without damping wigglers sigma_E/E
grows ~ E; give the spread explicitly when that matters).
"""

from __future__ import annotations

from dataclasses import dataclass

from .beams import SPREAD_MODELS, Beams

__all__ = ["Machine", "MACHINES", "machine", "machine_beams"]


@dataclass(frozen=True)
class Machine:
    """One collider: nominal energies [GeV], full crossing angle [rad], relative energy spreads."""

    name: str
    electron_energy_gev: float
    positron_energy_gev: float
    crossing_angle_rad: float
    relative_spread_electron: float
    relative_spread_positron: float
    source: str

    @property
    def energy_ratio(self) -> float:
        """E(e-)/E(e+) of the nominal beams."""
        return self.electron_energy_gev / self.positron_energy_gev

    def nominal_beams(self, spread_model: str = "gaussian_per_beam") -> Beams:
        """Beams at the quoted energies (sqrt(s0) = 2 sqrt(E1 E2) cos(theta_c/2))."""
        return self.beams(None, spread_model)

    def beams(self, sqrt_s_gev: float | None = None, spread_model: str = "gaussian_per_beam") -> Beams:
        """:class:`~generator.beams.Beams` of this machine.

        ``sqrt_s_gev`` None: the quoted beam energies. Otherwise both energies are scaled by one
        factor (their ratio kept) so that sqrt(s0) = ``sqrt_s_gev`` [GeV] with the crossing angle.
        ``spread_model``: 'gaussian_per_beam' (default; the quoted per-beam spreads),
        'gaussian_sqrt_s' (width sqrt(s0)/2 x hypot(d1, d2), the nominal boost) or 'none'.
        """
        if spread_model not in SPREAD_MODELS:
            raise ValueError(f"unknown spread model {spread_model!r}; allowed: {', '.join(SPREAD_MODELS)}")
        return Beams.from_beam_energies(
            self.electron_energy_gev,
            self.positron_energy_gev,
            crossing_angle_rad=self.crossing_angle_rad,
            spread_model=spread_model,
            relative_spread=(self.relative_spread_electron, self.relative_spread_positron),
            sqrt_s0_gev=sqrt_s_gev,
        )


MACHINES: dict[str, Machine] = {
    # Super Charm-Tau factory (BINP, Novosibirsk), SCT CDR (Novosibirsk, 2018; sct.inp.nsk.su):
    # beam energy 1-3.5 GeV, design luminosity 1e35 cm^-2 s^-1 at 2 GeV per beam, crab-waist
    # collisions at a full crossing angle of 60 mrad. Energy spread 0.1 % per beam as used by
    # G §4 for this machine (sigma_0 = sqrt(2) x 0.1 % x sqrt(s0)/2, G eq. 2).
    "sct": Machine("sct", 2.0, 2.0, 60e-3, 1.0e-3, 1.0e-3, "SCT CDR (BINP 2018); spread: G section 4"),
    # Super Tau-Charm Facility (China), STCF CDR vol. 1 (Achasov et al., Front. Phys. 19 (2024)
    # 14701): sqrt(s) 2-7 GeV, optimised at 4 GeV (2 GeV per beam), crab waist with a full
    # crossing angle of 60 mrad; relative energy spread ~ 8e-4 per beam at 2 GeV (collider
    # parameter table of the CDR; J.Q. Lan et al., JINST 16 (2021) T07001).
    "stcf": Machine("stcf", 2.0, 2.0, 60e-3, 8.0e-4, 8.0e-4, "STCF CDR (2024); JINST 16 (2021) T07001"),
    # BEPCII (IHEP, Beijing), BEPCII design report (IHEP-BEPCII-SB-13, 2003): optimum 1.89 GeV
    # per beam, double ring with a horizontal crossing angle of 2 x 11 mrad = 22 mrad, natural
    # energy spread 5.16e-4.
    "bepcii": Machine("bepcii", 1.89, 1.89, 22e-3, 5.16e-4, 5.16e-4, "BEPCII design report (2003)"),
    # SuperKEKB, TDR (KEK Report 2013; Y. Ohnishi et al., PTEP 2013 03A011, table 1): HER e- 7.007
    # GeV (7 GeV nominal, as in L and the Belle II cards), LER e+ 4.000 GeV, full crossing angle
    # 83 mrad (nano-beam scheme), energy spread 6.37e-4 (HER) and 8.08e-4 (LER).
    "superkekb": Machine("superkekb", 7.0, 4.0, 83e-3, 6.37e-4, 8.08e-4, "SuperKEKB TDR (2013), PTEP 2013 03A011"),
    # PEP-II (SLAC), CDR SLAC-418 (1993): HER e- 9.0 GeV, LER e+ 3.1 GeV, head-on collisions
    # (magnetic separation, no crossing angle); rms energy spreads 5.5 MeV (HER) and 2.3 MeV (LER),
    # BaBar detector paper, Nucl. Instrum. Meth. A479 (2002) 1, section 2.
    "pep2": Machine("pep2", 9.0, 3.1, 0.0, 5.5e-3 / 9.0, 2.3e-3 / 3.1, "PEP-II CDR SLAC-418 (1993); NIM A479 (2002) 1"),
}
"""Machine presets by name (``beams.machine`` in the cards)."""


def machine(name: str) -> Machine:
    """The preset called ``name`` (case-insensitive); ValueError lists the known ones."""
    try:
        return MACHINES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown machine {name!r}; known: {', '.join(MACHINES)}") from None


def machine_beams(name: str, sqrt_s_gev: float | None = None, spread_model: str = "gaussian_per_beam") -> Beams:
    """Beams of the preset ``name``, optionally rescaled to the CM energy ``sqrt_s_gev`` [GeV]
    (:meth:`Machine.beams`)."""
    return machine(name).beams(sqrt_s_gev, spread_model)
