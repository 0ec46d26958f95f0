"""Toy tracker geometry: beam pipe, cylindrical gas tracker with sense layers and cells.

All lengths in cm, field in tesla. The solenoid field is uniform along +z. Each sense layer k
sits at radius r_k inside a gas shell [b_k, b_(k+1)] whose boundaries are the midpoints between
neighbouring layers (the first and last boundaries are the tracker's inner and outer radius).
Each layer is divided azimuthally into cells of (about) ``cell_size_cm``. The volume between the
beam pipe and the tracker's inner wall is taken as vacuum (air and walls neglected).

Options of the stepping (:mod:`detsim.tracker`; all off by default, which reproduces the pure
helix through the IP): ``multiple_scattering`` (Highland kicks in the pipe and every gas shell,
:mod:`detsim.scattering`, ``docs/physics.md §12``), ``time_window_ns`` (hits later than this
many ns after the collision are dropped before the finder, ``docs/physics.md §13``; None keeps
all), ``nuclear_stopping`` (the energy-loss model's nuclear stopping added to the electronic
one, ``docs/physics.md §11``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .eloss import MODELS
from .materials import Material, material

__all__ = ["BeamPipe", "Tracker", "PaperCriteria"]


@dataclass(frozen=True)
class BeamPipe:
    """A cylindrical pipe of ``material`` at ``radius_cm`` with wall ``thickness_cm``."""

    material: Material
    radius_cm: float
    thickness_cm: float


@dataclass(frozen=True)
class PaperCriteria:
    """G §4 thresholds: ionization I_min [GeV/cm] over L_min [cm]; delta-electrons above
    T_min [GeV], at least ``n_delta`` per MCP over ``track_length_cm`` (G: the 1 m radius)."""

    i_min_gev_per_cm: float = 25e-9
    l_min_cm: float = 10.0
    t_min_gev: float = 1e-6
    n_delta: float = 2.0
    track_length_cm: float = 100.0
    dedx_model: str = "bethe_frozen"


@dataclass(frozen=True)
class Tracker:
    """Cylindrical drift chamber in a solenoid (see module docstring for conventions)."""

    gas: Material
    inner_radius_cm: float
    outer_radius_cm: float
    half_length_cm: float
    layer_radii_cm: tuple
    cell_size_cm: float
    field_t: float = 1.0
    resolution_rphi_cm: float = 0.013
    resolution_z_cm: float = 0.2
    noise_occupancy: float = 0.0
    threshold_electrons: int = 1
    delta_t_min_gev: float = 1e-6
    eloss_model: str = "bethe"
    beam_pipe: BeamPipe | None = None
    finder_tolerance_sigmas: float = 3.0
    finder_min_hits: int = 4
    circle_min_radius_cm: float = 100.0
    paper: PaperCriteria = field(default_factory=PaperCriteria)
    multiple_scattering: bool = False
    time_window_ns: float | None = None
    nuclear_stopping: bool = False
    #: boosted-pair hypothesis (:func:`detsim.finder.find_two_rays`): hits per ray, and an
    #: optional radius [cm] inside which each ray needs a hit
    finder_min_hits_per_ray: int = 2
    finder_ray_inner_radius_cm: float | None = None

    def __post_init__(self):
        radii = np.asarray(self.layer_radii_cm, dtype=float)
        if radii.ndim != 1 or radii.size == 0 or np.any(np.diff(radii) <= 0):
            raise ValueError("layer_radii_cm must be a non-empty increasing sequence")
        if radii[0] < self.inner_radius_cm or radii[-1] > self.outer_radius_cm:
            raise ValueError("sense layers must lie between the inner and outer radius")
        if self.eloss_model not in MODELS:
            raise ValueError(f"eloss_model must be one of {MODELS}, got {self.eloss_model!r}")
        if self.gas.w_value_gev is None or self.gas.primary_clusters_per_cm is None:
            raise ValueError(f"tracker gas {self.gas.name!r} needs W and primary-cluster density")
        if self.time_window_ns is not None and not self.time_window_ns > 0:
            raise ValueError(f"time_window_ns must be > 0 ns or None, got {self.time_window_ns}")
        if self.multiple_scattering:
            mats = [self.gas] + ([self.beam_pipe.material] if self.beam_pipe is not None else [])
            for mat in mats:
                if mat.radiation_length_cm is None:
                    raise ValueError(f"multiple scattering needs the radiation length of {mat.name!r}")

    @classmethod
    def equally_spaced(cls, gas: str | Material, inner_radius_cm: float, outer_radius_cm: float, n_layers: int, **kw):
        """Tracker with ``n_layers`` sense layers at the centres of equal-width shells."""
        edges = np.linspace(inner_radius_cm, outer_radius_cm, n_layers + 1)
        radii = tuple(0.5 * (edges[1:] + edges[:-1]))
        return cls(material(gas), inner_radius_cm, outer_radius_cm, layer_radii_cm=radii, **kw)

    @property
    def radii(self) -> np.ndarray:
        return np.asarray(self.layer_radii_cm, dtype=float)

    @property
    def n_layers(self) -> int:
        return len(self.layer_radii_cm)

    @property
    def shell_edges_cm(self) -> np.ndarray:
        """Radial boundaries of the gas shell of each layer: K + 1 values."""
        r = self.radii
        return np.concatenate([[self.inner_radius_cm], 0.5 * (r[1:] + r[:-1]), [self.outer_radius_cm]])

    @property
    def cells_per_layer(self) -> np.ndarray:
        return np.maximum(1, np.round(2 * np.pi * self.radii / self.cell_size_cm)).astype(int)

    @property
    def n_cells(self) -> int:
        return int(self.cells_per_layer.sum())

    @property
    def road_half_bin_rad(self) -> float:
        """Azimuthal half-bin h of the road finder: 2 k sigma / r_first (roads are 2 half-bins).

        A straight track whose hits scatter by at most +-k sigma about the line spans an
        azimuthal interval <= h at every layer, so it always fits inside one road.
        """
        return 2.0 * self.finder_tolerance_sigmas * self.resolution_rphi_cm / self.radii[0]
