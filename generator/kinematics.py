"""Small vectorised kinematics helpers (GeV, natural units)."""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

__all__ = ["boost_z", "momentum4d", "rapidity_of"]

vector.register_awkward()


def rapidity_of(beta):
    """Rapidity artanh(beta) of a boost with velocity ``beta``."""
    return np.arctanh(beta)


def boost_z(energy, pz, rapidity):
    """Boost (E, pz) along +z by ``rapidity``; returns (E', pz')."""
    ch, sh = np.cosh(rapidity), np.sinh(rapidity)
    return energy * ch + pz * sh, pz * ch + energy * sh


def momentum4d(px, py, pz, energy, **extra) -> ak.Array:
    """An awkward array of ``vector`` Momentum4D records (px, py, pz, E) plus extra fields."""
    fields = {"px": px, "py": py, "pz": pz, "E": energy}
    fields.update(extra)
    return ak.zip(fields, with_name="Momentum4D")
