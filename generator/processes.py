"""One protocol for every process of the generator stage, and the beam wrapper of fixed-energy ones.

A *process* (:class:`Process`) turns a fixed number of uniforms per event into weighted events:

* ``name`` (str) and ``n_uniforms`` (int, rows of uniforms per event);
* ``generate(u) -> ak.Array`` with ``u`` of shape (n_uniforms, n) in [0, 1): one record per trial,
  particles as ``vector`` Momentum4D records (lab frame, GeV), the CM velocity ``beta_x`` and
  ``beta_z`` (0 where head-on / symmetric) and ``weight``, the per-trial estimator in pb (its mean
  over the trials is the cross section inside the generation region; for :class:`Beams` alone it
  is the dimensionless luminosity fraction);
* ``describe() -> dict``: the physics choices, for the run metadata;
* ``mass_gev`` and ``epsilon``: MCP mass [GeV] and charge [e] where the process makes MCPs, None
  otherwise -- downstream code reads them here, never from the events.

Implementations: :class:`generator.chipair.ChiPair` (beams, ISR and the pair in one),
:class:`generator.beams.Beams` (the beams alone) and :class:`BeamProcess`, which feeds a
fixed-energy process (:class:`FixedEnergyProcess`: :class:`~generator.monophoton.ChiChiGamma`,
:class:`~generator.monophoton.NuNuGamma`, :class:`~generator.bbg_processes.ThreePhoton`,
:class:`~generator.bbg_processes.EEGamma`) with beams. Layout of its uniforms: 2 for the beams, then
the inner process's rows, so a given seed gives the same events as before the wrapper moved here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import awkward as ak
import numpy as np

from .beams import Beams

__all__ = ["Process", "FixedEnergyProcess", "BeamProcess", "checked_trials"]


def checked_trials(process, u, *values):
    """``u`` as a float array of shape (``process.n_uniforms``, n), else ValueError naming the
    process; then each of ``values`` (a scalar or n numbers: sqrt(s) [GeV], the CM frame's
    velocity, ...) broadcast to a float array of n, one per event."""
    u = np.asarray(u, dtype=float)
    if u.ndim != 2 or u.shape[0] != process.n_uniforms:
        raise ValueError(f"{process.name}: u must have shape ({process.n_uniforms}, n), got {u.shape}")
    n = u.shape[1]
    return (u, *(np.broadcast_to(np.asarray(v, dtype=float), (n,)).astype(float) for v in values))


@runtime_checkable
class Process(Protocol):
    """What the pipeline calls: uniforms (n_uniforms, n) -> weighted events (see the module doc)."""

    name: str
    n_uniforms: int
    mass_gev: float | None
    epsilon: float | None

    def generate(self, u) -> ak.Array: ...

    def describe(self) -> dict: ...


@runtime_checkable
class FixedEnergyProcess(Protocol):
    """A process at a given sqrt(s) and CM frame per event (the inner process of :class:`BeamProcess`).

    ``generate(u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0)``: ``u`` of shape
    (n_uniforms, n); sqrt(s) [GeV] and the CM frame (velocity (beta_x, 0, beta_z), CM beam-axis
    angle [rad], ``docs/physics.md`` §10) as scalars or per event. Generation cuts and the CM
    fields of the events (``e_gamma_cm``, ``cos_theta_gamma_cm``) refer to the CM frame with angles
    from the CM beam axis.
    """

    name: str
    n_uniforms: int
    mass_gev: float | None
    epsilon: float | None

    def generate(self, u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0) -> ak.Array: ...

    def describe(self) -> dict: ...


@dataclass(frozen=True)
class BeamProcess:
    """A fixed-energy process fed by a beam model: 2 uniforms for the beams, then the process's.

    ``beams`` (:class:`~generator.beams.Beams`, any crossing angle and spread model), ``inner`` (a
    :class:`FixedEnergyProcess`), ``name`` (the dataset's process name), ``sqrt_s_min_gev``: beams
    are drawn only above this CM energy (importance sampling, weight = the probability mass above
    it; default 0: every draw, the weight is 1). Events are the inner process's, with the beams'
    ``beta_z`` and ``beta_x`` added and ``weight`` multiplied by the beam weight.
    """

    beams: Beams
    inner: Any
    name: str
    sqrt_s_min_gev: float = 0.0

    @property
    def n_uniforms(self) -> int:
        return Beams.n_uniforms + self.inner.n_uniforms

    @property
    def mass_gev(self) -> float | None:
        """MCP mass [GeV] of the inner process, None for Standard-Model processes."""
        return getattr(self.inner, "mass_gev", None)

    @property
    def epsilon(self) -> float | None:
        """MCP charge [e] of the inner process, None for Standard-Model processes."""
        return getattr(self.inner, "epsilon", None)

    def generate(self, u) -> ak.Array:
        """Events from uniforms ``u`` of shape (n_uniforms, n): beams from u[:2], the process from
        u[2:]; weight in pb per trial."""
        u = np.asarray(u, dtype=float)
        frame = self.beams.sample_frame(u[:2], self.sqrt_s_min_gev)
        events = self.inner.generate(
            u[2:],
            frame.sqrt_s_gev,
            frame.beta_z,
            beta_x=frame.beta_x,
            cm_axis_angle_rad=frame.cm_axis_angle_rad,
        )
        events = ak.with_field(events, frame.beta_z, "beta_z")
        events = ak.with_field(events, frame.beta_x, "beta_x")
        return ak.with_field(events, np.asarray(events["weight"]) * frame.weight, "weight")

    def describe(self) -> dict:
        """The inner process's choices and the beams', for the run metadata."""
        inner = self.inner.describe() if hasattr(self.inner, "describe") else {"process": self.inner.name}
        return {**inner, "process": self.name, "inner_process": inner.get("process"), "beams": self.beams.describe()}
