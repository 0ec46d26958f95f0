"""Small vectorised kinematics helpers (GeV, natural units).

Frames (``docs/physics.md`` §10): the *lab* has z along the detector solenoid, which bisects the
e- direction and the reversed e+ direction; x lies in the crossing plane. The *CM frame* is reached
from the lab by the pure boost -beta (beta = (beta_x, 0, beta_z), the velocity of the e+e- system);
its axes stay parallel to the lab axes. In the CM the beams are back to back along the *CM beam
axis* n = (sin a, 0, cos a) (e- direction), a the CM beam-axis angle. *Beam-axis coordinates* are
CM coordinates rotated about y so that n is their z' axis: processes sample their angles there.
Head-on beams have a = 0 and beta_x = 0, and every helper below then reduces to the plain z boost.
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

__all__ = [
    "records",
    "boost_z",
    "boost_beta3",
    "boost_xz",
    "rotate_y",
    "cm_to_lab",
    "cm_beam_axis_angle",
    "momentum4d",
    "rapidity_of",
]

vector.register_awkward()


def rapidity_of(beta):
    """Rapidity artanh(beta) of a boost with velocity ``beta``."""
    return np.arctanh(beta)


def boost_z(energy, pz, rapidity):
    """Boost (E, pz) along +z by ``rapidity``; returns (E', pz')."""
    ch, sh = np.cosh(rapidity), np.sinh(rapidity)
    return energy * ch + pz * sh, pz * ch + energy * sh


def boost_beta3(energy, px, py, pz, beta_x, beta_y, beta_z):
    """Pure Lorentz boost with velocity (beta_x, beta_y, beta_z): a particle at rest ends up moving
    with that velocity. E' = gamma (E + b.p), p' = p + [gamma^2/(gamma + 1) b.p + gamma E] b
    (Jackson, Classical Electrodynamics, eq. 11.19; gamma^2/(gamma + 1) = (gamma - 1)/b^2).
    Returns (E', px', py', pz')."""
    b2 = beta_x * beta_x + beta_y * beta_y + beta_z * beta_z
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = beta_x * px + beta_y * py + beta_z * pz
    f = gamma * gamma / (gamma + 1.0) * bp + gamma * energy
    return gamma * (energy + bp), px + f * beta_x, py + f * beta_y, pz + f * beta_z


def rotate_y(px, pz, angle_rad):
    """Rotate (px, pz) about +y by ``angle_rad``: +z goes to (sin a, cos a). Returns (px', pz')."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return px * c + pz * s, pz * c - px * s


def boost_xz(energy, px, py, pz, beta_x, beta_z):
    """Pure boost with velocity (beta_x, 0, beta_z), written as a rotation about y that takes the
    velocity onto +-z, a z boost and the inverse rotation. For beta_x = 0 it is bit for bit the
    z boost gamma (E + beta_z pz), gamma (pz + beta_z E). Returns (E', px', py', pz')."""
    beta_x = np.asarray(beta_x, dtype=float)
    beta_z = np.asarray(beta_z, dtype=float)
    sign = np.where(beta_z >= 0.0, 1.0, -1.0)
    b = sign * np.hypot(beta_x, beta_z)  # signed speed, = beta_z when beta_x = 0
    nonzero = b != 0.0
    safe = np.where(nonzero, b, 1.0)
    cos_psi = np.where(nonzero, beta_z / safe, 1.0)
    sin_psi = np.where(nonzero, beta_x / safe, 0.0)
    x1 = px * cos_psi - pz * sin_psi
    z1 = px * sin_psi + pz * cos_psi
    gamma = 1.0 / np.sqrt(1.0 - b * b)
    e2 = gamma * (energy + b * z1)
    z2 = gamma * (z1 + b * energy)
    return e2, x1 * cos_psi + z2 * sin_psi, py, z2 * cos_psi - x1 * sin_psi


def cm_to_lab(energy, px, py, pz, beta_x, beta_z, axis_angle_rad):
    """Four-vectors in beam-axis coordinates of the CM frame -> lab: rotate the CM beam axis into
    place (:func:`rotate_y` by ``axis_angle_rad``), then boost by (beta_x, 0, beta_z)
    (:func:`boost_xz`). Exactly the z boost for head-on beams. Returns (E, px, py, pz)."""
    x, z = rotate_y(px, pz, axis_angle_rad)
    return boost_xz(energy, x, py, z, beta_x, beta_z)


def cm_beam_axis_angle(beta_x, beta_z, crossing_angle_rad):
    """Angle a [rad] of the CM beam axis (e- direction in the CM frame) from +z, about +y.

    The lab e- direction (sin(theta_c/2), 0, cos(theta_c/2)) (massless beam) is boosted by -beta
    into the CM (:func:`boost_beta3`); a = atan2(p_x, p_z) of the result. Zero for head-on beams
    and, whatever the crossing angle, for equal beam energies (then beta is along x)."""
    half = 0.5 * crossing_angle_rad
    bx = np.asarray(beta_x, dtype=float)
    bz = np.asarray(beta_z, dtype=float)
    _, x, _, z = boost_beta3(1.0, np.sin(half), 0.0, np.cos(half), -bx, 0.0 * bx, -bz)
    return np.arctan2(x, z)


def records(fields: dict, with_name: str | None = None) -> ak.Array:
    """``ak.zip(fields, with_name=with_name, depth_limit=1)`` for columns of one length: 1-D
    numpy arrays (float or int) and awkward arrays. Built as the record layout directly -- the
    same array and type as the zip, without its broadcasting pass (the generators' hot path);
    anything else (scalars, nested lists) goes through ``ak.zip``."""
    columns = list(fields.values())
    lengths = {len(c) for c in columns if isinstance(c, (np.ndarray, ak.Array))}
    flat = all(
        (isinstance(c, np.ndarray) and c.ndim == 1 and c.dtype.kind in "fiub") or isinstance(c, ak.Array)
        for c in columns
    )
    if not flat or len(lengths) != 1:
        return ak.zip(fields, with_name=with_name, depth_limit=1)
    contents = [
        ak.contents.NumpyArray(np.ascontiguousarray(c)) if isinstance(c, np.ndarray) else c.layout for c in columns
    ]
    parameters = {"__record__": with_name} if with_name else None
    return ak.Array(ak.contents.RecordArray(contents, list(fields), length=lengths.pop(), parameters=parameters))


def momentum4d(px, py, pz, energy, **extra) -> ak.Array:
    """An awkward array of ``vector`` Momentum4D records (px, py, pz, E) plus extra fields."""
    fields = {"px": px, "py": py, "pz": pz, "E": energy}
    fields.update(extra)
    if all(isinstance(c, np.ndarray) and c.ndim == 1 for c in fields.values()):
        return records(fields, "Momentum4D")
    return ak.zip(fields, with_name="Momentum4D")
