"""generator stage of mcpgen: physics processes, beams (spread, boost), ISR, event sampling.

Processes consume fixed rows of uniforms (``n_uniforms`` per event) and return awkward arrays of
``vector`` Momentum4D records with per-trial weights in pb (see :mod:`mcpgen.pipeline` for
seeding and normalisation); the common interface is :class:`generator.processes.Process`.
Beams may cross at an angle (:mod:`generator.beams`); machine presets are in :mod:`generator.machines`.
"""

from __future__ import annotations

from .bbg_processes import EEGamma, ThreePhoton
from .beams import Beams, BeamSample
from .born import sigma_born_pb
from .chipair import ChiPair
from .isr import isr_kernel, sample_isr_x
from .machines import MACHINES, Machine, machine, machine_beams
from .monophoton import ChiChiGamma, NuNuGamma, sigma_nunu_pb
from .processes import BeamProcess, FixedEnergyProcess, Process

__all__ = [
    "Beams",
    "BeamSample",
    "Machine",
    "MACHINES",
    "machine",
    "machine_beams",
    "Process",
    "FixedEnergyProcess",
    "BeamProcess",
    "ChiPair",
    "ChiChiGamma",
    "NuNuGamma",
    "ThreePhoton",
    "EEGamma",
    "sigma_born_pb",
    "sigma_nunu_pb",
    "isr_kernel",
    "sample_isr_x",
]
