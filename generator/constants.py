"""Physical constants in natural units (GeV), CODATA / PDG, as listed in ``docs/physics.md`` (Conventions)."""

from __future__ import annotations

__all__ = ["ALPHA", "M_E_GEV", "GEV2_TO_PB", "G_FERMI_GEV2", "SIN2_THETA_W"]

ALPHA = 1.0 / 137.035999  #: fine-structure constant
M_E_GEV = 0.51099895e-3  #: electron mass [GeV]
GEV2_TO_PB = 3.893794e8  #: 1 GeV^-2 in pb
G_FERMI_GEV2 = 1.1663787e-5  #: Fermi constant [GeV^-2]
SIN2_THETA_W = 0.2312  #: weak mixing angle (docs/physics.md: choice moves nu-nu rates by < 2 %)
