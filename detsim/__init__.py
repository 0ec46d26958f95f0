"""detsim stage of mcpgen: geometry, materials, MCP propagation and energy loss, hits, finder, ECL."""

from __future__ import annotations

from .ecl import Calorimeter
from .geometry import BeamPipe, PaperCriteria, Tracker
from .materials import gas_mixture, material
from .simulate import random_trigger, simulate

__all__ = [
    "Tracker",
    "BeamPipe",
    "PaperCriteria",
    "Calorimeter",
    "material",
    "gas_mixture",
    "simulate",
    "random_trigger",
]
