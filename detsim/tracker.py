"""Slow-MCP propagation through the beam pipe and the gas tracker, and the hits it leaves.

Vectorised over all MCPs of a chunk and stepped shell by shell (one gas shell per sense layer):

* Trajectory: a helix of charge q = +-eps e in the solenoid field B along +z. In the transverse
  plane the track is a circle through the IP with radius R[cm] = 100 p_T[GeV]/(0.3 |q| B[T])
  (docs/physics.md §7); the point at radius r has azimuth phi0 - s asin(r/2R), s = sign(q B), and the
  transverse path from r_a to r_b is 2R [asin(r_b/2R) - asin(r_a/2R)]. R is updated shell by
  shell as the MCP loses momentum (the polar angle is kept: dE/dx acts along p).
* Multiple scattering (``Tracker.multiple_scattering``; ``docs/physics.md §12``): every material
  shell -- the beam pipe and each gas shell -- gives the direction a Gaussian kick at its middle
  (the sense wire for gas shells; lumping a shell's scattering at its middle gives the right
  angle and, to O(shell width), the right displacement downstream), with Highland's theta_0 for
  charge eps made step-size independent (:mod:`detsim.scattering`). The track then is a general
  helix -- position, direction (psi, theta), charge sign, R -- crossing cylinders
  (:func:`_helix_step`); it no longer passes through the IP. Energy loss and time follow the
  actual, kicked path. Off by default: the pure IP helix above, bit for bit. (The IP helix is
  re-drawn through the IP with the new R at every shell, so its direction jumps a little where
  R shrinks; the general helix keeps it continuous. Both agree at constant velocity; for an
  MCP slowing down from beta = 0.004 the hits differ by ~ 1 mm at half radius.)
* Energy loss: continuous slowing down with a :class:`detsim.eloss.RangeTable` per material
  (any model of :mod:`detsim.eloss`, e.g. ``bethe`` G eq. 4-5, ``bethe_frozen`` G eq. 6,
  ``lindhard``, ``icru49``; nuclear stopping added with ``Tracker.nuclear_stopping``). An MCP
  may stop in the pipe or the gas, leave through the outer radius or an endcap, or curl (2R
  below the radius; with scattering: turn back inward).
* Time (``docs/physics.md §13``): t = integral ds / (beta(s) c) since the collision [ns]. Per
  shell by the midpoint rule (beta at mid-path, as for the energy loss; relative error
  O((dT/T)^2) < 4e-4 for the < 2 % loss of these steps; < 4e-5 found against an independent
  integral of dE/dx for MCPs slowing down and stopping in the gas), and exactly from a tabulated
  time-of-flight integral tau(beta) (:func:`_add_time_of_flight`, error < 1e-4) where a shell
  costs more than 2 % of T. A hit carries the time at which its MCP crosses the sense wire (an
  MCP stopping before the wire: when it is halfway along its path in the shell); delta-electron
  hits carry their parent's time. ``Tracker.time_window_ns`` drops later hits before the finder
  (counted per MCP in ``n_hits_late``).
* Hits (per layer crossed): ionization clusters ~ Poisson(mu_c) with
  mu_c = (dE/dx x path / W) / n_e, n_e the mean electrons per cluster (the gas's MIP value
  (dE/dx)_MIP / (W n_p), but at most T_max/W and at least 1 for slow MCPs); a cell fires when
  it collects >= ``threshold_electrons`` electrons, the cluster sizes being geometric (Polya-
  Aeppli counts). delta-electrons above T_min ~ Poisson(G eq. 9 rate x path), each making a hit
  in its cell. Hits are smeared by the r-phi and z resolutions. Noise hits ~ Poisson(occupancy x
  cells) per layer, uniform in phi, z and time.

Randomness comes from fixed rows of uniforms per layer (a ``source(stage, rows, n)`` callable;
the keys are listed in :mod:`detsim.streams`), so results are reproducible and independent of
how events are chunked.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
from scipy.special import ndtri

from . import _kernels, _pass_kernels, streams
from .counting import poisson_quantile
from .eloss import (
    K_GEV_CM2_PER_MOL,
    M_E_GEV,
    RangeTable,
    dedx_gev_per_cm,
    delta_rate_per_cm,
    t_max_gev,
    validity_range,
)
from .geometry import Tracker
from .materials import Material
from .scattering import ALPHA_EM, effective_z, highland_variance, omega_per_cm, rotate_direction

__all__ = [
    "STATUS",
    "simulate_tracker",
    "poisson_from_uniform",
    "prob_at_least",
    "mip_dedx_gev_per_cm",
    "curvature_radius_cm",
    "numpy_source",
    "noise_hits",
    "build_tables",
    "C_CM_PER_NS",
    "NOISE_TIME_SPAN_NS",
]

#: MCP fate codes written to ``*_status``
STATUS = {"escaped": 0, "stopped_pipe": 1, "stopped_gas": 2, "endcap": 3, "curled": 4, "inside": 5}

STAGE_DETSIM = streams.DETSIM  # mcpgen.rng.Stage.DETSIM (all keys: detsim.streams)
C_CM_PER_NS = _kernels.C_CM_PER_NS  #: speed of light [cm/ns]
#: Noise hits are uniform in time over [0, T]: T = ``Tracker.time_window_ns`` when set, else this
#: [ns] (of the order of a drift chamber's readout window; MCP hits of interest, ~ 0.7 us per
#: metre at beta = 0.005, lie inside it).
NOISE_TIME_SPAN_NS = 1000.0
_U_EDGE = 2.0**-54
_NOISE_TRUNCATION = 1e-9  # probability of more noise hits per layer than slots


def curvature_radius_cm(p_t_gev, charge, field_t):
    """R[cm] = 100 p_T / (0.3 |q| B) (docs/physics.md §7); inf for B = 0 or q = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * np.asarray(p_t_gev) / (0.299792458 * np.abs(charge) * abs(field_t))


def mip_dedx_gev_per_cm(gas: Material, beta_gamma: float = 3.5) -> float:
    """Minimum-ionizing dE/dx [GeV/cm] of a unit charge (PDG Bethe, no density effect)."""
    g = np.sqrt(1 + beta_gamma**2)
    b2 = beta_gamma**2 / g**2
    tmax = 2 * M_E_GEV * beta_gamma**2  # heavy projectile
    log = 0.5 * np.log(2 * M_E_GEV * beta_gamma**2 * tmax / gas.mean_excitation_gev**2)
    return gas.density_g_cm3 * K_GEV_CM2_PER_MOL * gas.z_over_a / b2 * (log - b2)


def poisson_from_uniform(u, mu, max_k: int | None = None, conditional: bool = False):
    """Poisson(mu) counts by inverse CDF from uniforms ``u`` (vectorised; loops over k only).

    With ``conditional``, also return (u - CDF(k-1))/P(k): a uniform independent of k, reusable
    as a fresh random number.
    """
    u = np.asarray(u, dtype=float)
    mu = np.broadcast_to(np.asarray(mu, dtype=float), u.shape)
    term = np.exp(-mu)
    cdf = term.copy()
    k = np.zeros(u.shape, dtype=np.int32)
    active = u >= cdf
    j = 0
    lower = np.zeros(u.shape)
    width = term.copy()
    while active.any() and (max_k is None or j < max_k):
        j += 1
        term = term * mu / j
        lower = np.where(active, cdf, lower)
        width = np.where(active, term, width)
        cdf = cdf + term
        k += active
        active &= u >= cdf
    if conditional:
        return k, np.clip((u - lower) / np.maximum(width, 1e-300), 0.0, 1.0)
    return k


def prob_at_least(threshold: int, mu_clusters, mean_cluster_size):
    """P(N_e >= threshold) for Poisson(mu) clusters of geometric size (mean ``mean_cluster_size``).

    N_e is Polya-Aeppli distributed: P(0) = e^-mu and, for j >= 1,
    P(j) = e^-mu sum_i mu^i/i! C(j-1, i-1) q^(j-i) (1-q)^i with q = 1 - 1/mean.
    """
    mu = np.asarray(mu_clusters, dtype=float)
    if threshold <= 1:
        return -np.expm1(-mu)
    q = 1.0 - 1.0 / np.asarray(mean_cluster_size, dtype=float)
    e = np.exp(-mu)
    below = e.copy()
    from math import comb, factorial

    for j in range(1, threshold):
        pj = np.zeros_like(mu)
        for i in range(1, j + 1):
            pj += mu**i / factorial(i) * comb(j - 1, i - 1) * q ** (j - i) * (1 - q) ** i
        below += e * pj
    return np.clip(1.0 - below, 0.0, 1.0)


def numpy_source(seed=None):
    """A ``source(stage, rows, n)`` from one numpy Generator (handy interactively; the pipeline
    uses per-block streams instead, which do not depend on chunking)."""
    rng = np.random.default_rng(seed)

    def source(stage, rows, n):
        return rng.random((rows, n))

    return source


class BetaTable:
    """Functions of beta tabulated on a uniform grid in ln(beta), read by direct indexing.

    np.interp's binary search dominated the stepping; with a uniform grid the bin index is
    computed, and linear interpolation over 2e4 points is accurate to < 1e-6 for these smooth
    functions (the kink of ``lindhard`` at its matching point is smeared over one bin).
    """

    def __init__(self, functions: dict, beta_lo: float = 1e-5, beta_hi: float = 0.99, size: int = 20_000):
        self.lo = np.log(beta_lo)
        self.step = (np.log(beta_hi) - self.lo) / (size - 1)
        grid = np.exp(self.lo + self.step * np.arange(size))
        self.values = {name: np.asarray(fn(grid), dtype=float) for name, fn in functions.items()}
        self.size = size

    @property
    def grid(self) -> np.ndarray:
        return np.exp(self.lo + self.step * np.arange(self.size))

    def locate(self, beta):
        """(bin, fraction) of ``beta`` on the grid: compute once, read several functions."""
        x = (np.log(np.maximum(beta, 1e-300)) - self.lo) / self.step
        x = np.clip(x, 0.0, self.size - 1.000001)
        i = x.astype(np.int64)
        return i, x - i

    def read(self, name: str, where):
        i, f = where
        v = self.values[name]
        return v[i] * (1.0 - f) + v[i + 1] * f

    def __call__(self, name: str, beta):
        return self.read(name, self.locate(beta))


def _add_time_of_flight(table: BetaTable, mass: float) -> None:
    """Add ``tof`` [ns] to a table holding ``dedx``: tau(beta) = integral from beta to the top
    of the grid of dt = ds / (beta c), with ds = dT / (dE/dx) and dT = m gamma^3 beta^2 dln(beta):
    dtau/dln(beta) = m gamma^3 beta / (c dE/dx). The time between velocities beta_1 < beta_0 is
    tau(beta_1) - tau(beta_0) (trapezoid on the 2e4-point grid and linear reading: relative
    error < 1e-4 for the > 1 % velocity changes it is used for). +inf below a zero of dE/dx
    (the midpoint rule is used there instead)."""
    beta = table.grid
    gamma = 1.0 / np.sqrt(1.0 - beta**2)
    with np.errstate(divide="ignore"):
        rate = mass * gamma**3 * beta / (C_CM_PER_NS * table.values["dedx"])
    steps = 0.5 * (rate[1:] + rate[:-1]) * table.step
    table.values["tof"] = np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0]])


@dataclass
class _Mcp:
    """Flat per-MCP state (chi first, then chibar)."""

    event: np.ndarray
    which: np.ndarray  # 1 chi, 2 chibar
    mass: float
    eps: float
    kinetic: np.ndarray
    sin_theta: np.ndarray
    cot_theta: np.ndarray
    sign: np.ndarray  # sign(q B): +1 turns clockwise seen from +z
    phi: np.ndarray
    radius: np.ndarray
    z: np.ndarray
    alive: np.ndarray
    status: np.ndarray
    t: np.ndarray  # time since the collision [ns]
    frozen: np.ndarray | None = None  # constant velocity (energy loss over the whole gas < 1 %)
    # general helix (multiple scattering only): transverse position [cm] and direction cosines
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    cpsi: np.ndarray | None = None
    spsi: np.ndarray | None = None


def _momentum(kinetic, mass):
    return np.sqrt(np.clip(kinetic * (kinetic + 2 * mass), 0.0, None))


def _half_turn(radius_cm, r):
    """asin(r/2R), nan where the circle never reaches r."""
    with np.errstate(invalid="ignore", divide="ignore"):
        x = r / (2.0 * radius_cm)
    return np.where(x <= 1.0, np.arcsin(np.minimum(x, 1.0)), np.nan)


def _geometry_step(m: _Mcp, r_b: float, field_t: float):
    """Transverse path and (phi, z) at radius r_b for alive MCPs; curling ones are flagged."""
    p = _momentum(m.kinetic, m.mass)
    rad = curvature_radius_cm(p * m.sin_theta, m.eps, field_t)
    a_a = _half_turn(rad, m.radius)
    a_b = _half_turn(rad, r_b)
    straight = ~np.isfinite(rad)
    with np.errstate(invalid="ignore"):
        path_xy = np.where(straight, r_b - m.radius, 2.0 * rad * (a_b - a_a))
    phi_b = np.where(straight, m.phi, m.phi - m.sign * (a_b - a_a))
    curls = ~straight & np.isnan(a_b)
    return path_xy, phi_b, m.z + path_xy * m.cot_theta, curls, rad


def _kill(m: _Mcp, mask, status: str):
    hit = mask & m.alive
    m.status[hit] = STATUS[status]
    m.alive &= ~mask


def _beta_of(kinetic, mass):
    return _momentum(kinetic, mass) / (kinetic + mass)


@dataclass
class _Segment:
    """Slowing down over one step: entry and exit kinetic energy [GeV], path [cm] and the part
    travelled before stopping, beta at mid-path, and the MCPs (indices) that took the exact
    range-table branch."""

    kin: np.ndarray
    k_end: np.ndarray
    path: np.ndarray
    travelled: np.ndarray
    beta_mid: np.ndarray
    exact: np.ndarray


def _slow_down(m: _Mcp, path, table: RangeTable, dedx: BetaTable, strict: bool = False) -> _Segment:
    """Energy loss over ``path`` for alive MCPs.

    Midpoint rule, dT = dE/dx(beta at mid-step) x path, while dT < 2 % of T (error
    O((dT/T)^2) < 1e-3 of dT); otherwise, and for every MCP that may stop, exactly from the CSDA
    range table. ``strict`` (the multiple-scattering stepping) also takes the range table where
    the first estimate dE/dx(beta at the start) x path exceeds 2 % of T: a path longer than
    the range (a track running along a shell) otherwise clamps the mid-step T to 0, where a
    stopping power vanishing at beta = 0 gives no loss at all. (Without scattering this is
    left as it was, to keep those results unchanged.)
    """
    kin = m.kinetic
    d_start = dedx("dedx", _beta_of(kin, m.mass))
    k_half = np.maximum(kin - 0.5 * d_start * path, 0.0)
    beta_mid = _beta_of(k_half, m.mass)
    loss = dedx("dedx", beta_mid) * path
    if m.frozen is not None:  # constant velocity: negligible loss over the whole gas
        loss = np.where(m.frozen, 0.0, loss)
        beta_mid = np.where(m.frozen, _beta_of(kin, m.mass), beta_mid)
    k_end = kin - loss
    travelled = path.copy()
    large = loss > 0.02 * kin
    if strict:
        large |= d_start * path > 0.02 * kin
    exact = np.flatnonzero(m.alive & large)
    if exact.size:
        k0, s0 = kin[exact], path[exact]
        ke = table.kinetic_after_cm(k0, s0)
        stops = ~(ke > 0)
        rng = np.nan_to_num(table.range_cm(k0), posinf=np.inf)
        trav = np.where(stops, np.minimum(s0, rng), s0)
        k_end[exact] = np.where(stops, 0.0, ke)
        travelled[exact] = trav
        beta_mid[exact] = _beta_of(table.kinetic_after_cm(k0, 0.5 * trav), m.mass)
    return _Segment(kin, k_end, path, travelled, beta_mid, exact)


def _tof_between(dedx: BetaTable, k_from, k_to, mass):
    """tau(beta(k_to)) - tau(beta(k_from)) [ns] (:func:`_add_time_of_flight`)."""
    return dedx("tof", _beta_of(k_to, mass)) - dedx("tof", _beta_of(k_from, mass))


def _segment_time(seg: _Segment, dedx: BetaTable, mass) -> np.ndarray:
    """Time [ns] to cross the whole step: path / (beta_mid c) (midpoint rule), exactly from the
    time-of-flight table for the range-table branch."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dt = np.where(seg.path > 0, seg.path / (C_CM_PER_NS * seg.beta_mid), 0.0)
    if seg.exact.size:
        e = seg.exact
        with np.errstate(invalid="ignore"):
            exact = _tof_between(dedx, seg.kin[e], seg.k_end[e], mass)
        dt[e] = np.where(np.isfinite(exact), exact, dt[e])
    return dt


def _time_to(seg: _Segment, s, t_a, dedx: BetaTable, table: RangeTable, mass) -> np.ndarray:
    """Time [ns] at path ``s`` (<= travelled) into the step entered at ``t_a``: midpoint rule on
    [0, s] with T linear in the path (the compiled kernels' :func:`detsim._kernels.midpoint_hit_time`), exactly from
    the time-of-flight table for the range-table branch."""
    frac = np.divide(s, seg.path, out=np.zeros_like(seg.path), where=seg.path > 0)
    k_h = seg.kin - 0.5 * (seg.kin - seg.k_end) * frac
    with np.errstate(divide="ignore", invalid="ignore"):
        t = t_a + s / (C_CM_PER_NS * _beta_of(k_h, mass))
    if seg.exact.size:
        e = seg.exact
        k_s = table.kinetic_after_cm(seg.kin[e], s[e])
        with np.errstate(invalid="ignore"):
            exact = t_a[e] + _tof_between(dedx, seg.kin[e], k_s, mass)
        t[e] = np.where(np.isfinite(exact), exact, t[e])
    return t


def _cross_material(m: _Mcp, r_b: float, table: RangeTable, dedx: BetaTable, field_t: float, stop_status: str):
    """Move alive MCPs to r_b through a material (along the helix through the IP); returns
    (segment, reached_mask, t at entry) -- energy loss by :func:`_slow_down`."""
    path_xy, phi_b, z_b, curls, _ = _geometry_step(m, r_b, field_t)
    _kill(m, curls, "curled")
    path = np.nan_to_num(np.where(m.alive, path_xy / m.sin_theta, 0.0))
    seg = _slow_down(m, path, table, dedx)
    k_end, travelled = seg.k_end, seg.travelled
    stops = m.alive & ~(k_end > 0)
    frac = np.divide(travelled, path, out=np.zeros_like(path), where=path > 0)
    r_stop = m.radius + frac * (r_b - m.radius)
    reached = m.alive.copy()
    t_a = m.t.copy()
    m.t = np.where(m.alive, m.t + _segment_time(seg, dedx, m.mass), m.t)
    m.kinetic = np.where(m.alive, np.maximum(k_end, 0.0), m.kinetic)
    m.phi = np.where(m.alive, phi_b, m.phi)
    m.z = np.where(m.alive, z_b, m.z)
    m.radius = np.where(m.alive, np.where(stops, r_stop, r_b), m.radius)
    _kill(m, stops, stop_status)
    return seg, reached, t_a


def _advance_vacuum(m: _Mcp, r_b: float, field_t: float):
    if r_b <= 0:
        return
    path_xy, phi_b, z_b, curls, _ = _geometry_step(m, r_b, field_t)
    _kill(m, curls, "curled")
    with np.errstate(invalid="ignore", divide="ignore"):
        dt = path_xy / m.sin_theta / (C_CM_PER_NS * _beta_of(m.kinetic, m.mass))
    m.t = np.where(m.alive, m.t + dt, m.t)
    m.phi = np.where(m.alive, phi_b, m.phi)
    m.z = np.where(m.alive, z_b, m.z)
    m.radius = np.where(m.alive, r_b, m.radius)


# -------------------------------------------------------------- general helix (multiple scattering)
def _kappa(p, sin_theta, eps, field_t):
    """Transverse curvature 1/R [1/cm] = 0.3 |q| B / (100 p_T) (docs/physics.md §7); 0 if straight
    (the compiled kernels' ``transverse_curvature``, same arithmetic)."""
    pt = p * sin_theta
    if eps == 0 or field_t == 0:
        return np.zeros_like(pt)
    with np.errstate(divide="ignore"):
        return np.where(pt > 0, 0.299792458 * abs(eps) * abs(field_t) / (100.0 * pt), 0.0)


def _helix_step(x, y, c, s, kappa, sign, r_b):
    """First outward crossing of the cylinder r = r_b by a general helix.

    The transverse motion is a circle of curvature kappa = 1/R >= 0 (0: a line) from (x, y)
    with direction d = (c, s) = (cos psi, sin psi), turning clockwise seen from +z for
    sign = +1. After a turn by alpha (transverse path sigma = R alpha) the displacement is
    R sin(alpha) d + sign R (1 - cos(alpha)) n, n = (s, -c). With a_d = P.d, a_n = sign P.n and
    D = r_b^2 - r^2, |P + displacement|^2 = r_b^2 becomes a quadratic in w = tan(alpha/2):
    w^2 (4 + 4 kappa a_n - kappa^2 D) + 4 kappa a_d w - kappa^2 D = 0, whose root in (0, pi) is
    written without cancellation as w = kappa q,
    q = D / (2 a_d + sqrt(4 a_d^2 + (4 + 4 kappa a_n - kappa^2 D) D)). Then
    R sin(alpha) = 2 q / (1 + w^2), R (1 - cos(alpha)) = 2 q w / (1 + w^2) and
    sigma = 2 q atan(w) / w (-> 2 q, the straight line, as kappa -> 0); the direction turns by
    -sign alpha, with cos(alpha) = (1 - w^2)/(1 + w^2), sin(alpha) = 2 w/(1 + w^2). At the IP
    this is alpha = 2 asin(r_b / 2R), the helix through the IP. No crossing (negative
    discriminant: the circle stays inside r_b) or a direction pointing inward (a_d < 0: the
    track turns back) -> not reached.

    Returns (reached, sigma [cm], x_b, y_b, c_b, s_b): position and direction at r_b.
    """
    a_d = x * c + y * s
    a_n = sign * (x * s - y * c)
    dr2 = r_b * r_b - (x * x + y * y)
    big_a = 4.0 + 4.0 * kappa * a_n - kappa * kappa * dr2
    disc = 4.0 * a_d * a_d + big_a * dr2
    reached = (a_d >= 0.0) & (disc >= 0.0)
    den = 2.0 * a_d + np.sqrt(np.where(reached, disc, 0.0))
    q = np.divide(dr2, den, out=np.zeros_like(den), where=reached & (den > 0.0))
    w = kappa * q
    inv = 1.0 / (1.0 + w * w)
    nonzero = w != 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.where(nonzero, 2.0 * q * (np.arctan(w) / w), 2.0 * q)
    d_d = 2.0 * q * inv
    d_n = sign * (d_d * w)
    ca = (1.0 - w * w) * inv
    sa = sign * (2.0 * w * inv)
    return reached, sigma, x + d_d * c + d_n * s, y + d_d * s - d_n * c, c * ca + s * sa, s * ca - c * sa


def _helix_point(x, y, c, s, kappa, sign, sigma):
    """Position after a transverse path sigma along the helix of :func:`_helix_step`
    (w = tan(kappa sigma / 2), q = w / kappa)."""
    half = 0.5 * kappa * sigma
    w = np.tan(half)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(half != 0.0, 0.5 * sigma * (w / half), 0.5 * sigma)
    d_d = 2.0 * q / (1.0 + w * w)
    d_n = sign * (d_d * w)
    return x + d_d * c + d_n * s, y + d_d * s - d_n * c


def _advance_vacuum_ms(m: _Mcp, r_b: float, field_t: float):
    """:func:`_advance_vacuum` along the general helix."""
    if r_b <= 0:
        return
    p = _momentum(m.kinetic, m.mass)
    kappa = _kappa(p, m.sin_theta, m.eps, field_t)
    ok, sigma, x_b, y_b, c_b, s_b = _helix_step(m.x, m.y, m.cpsi, m.spsi, kappa, m.sign, r_b)
    _kill(m, ~ok, "curled")
    a = m.alive
    with np.errstate(invalid="ignore", divide="ignore"):
        dt = sigma / m.sin_theta / (C_CM_PER_NS * _beta_of(m.kinetic, m.mass))
    m.t = np.where(a, m.t + dt, m.t)
    m.x, m.y = np.where(a, x_b, m.x), np.where(a, y_b, m.y)
    m.cpsi, m.spsi = np.where(a, c_b, m.cpsi), np.where(a, s_b, m.spsi)
    m.z = np.where(a, m.z + sigma * m.cot_theta, m.z)
    m.radius = np.where(a, r_b, m.radius)


@dataclass
class _MsShell:
    """What :func:`_ms_shell` leaves for the hits: the step, who reached it, entry time, and the
    point (x, y, z, path s into the shell) where the hit is taken."""

    seg: _Segment
    reached: np.ndarray
    t_a: np.ndarray
    x_h: np.ndarray
    y_h: np.ndarray
    z_h: np.ndarray
    s_h: np.ndarray
    before_mid: np.ndarray  # stopped before the shell's middle


def _ms_constants(material: Material) -> tuple:
    """(X0 [cm], Omega per cm for z = beta = 1, effective Z) of a material (:mod:`detsim.scattering`)."""
    return material.radiation_length_cm, omega_per_cm(material), effective_z(material)


def _ms_shell(m: _Mcp, gi, r_mid, r_b, table, dedx, field_t, ms_const, u1, u2, stop_status, acc) -> _MsShell:
    """Cross a material shell with multiple scattering (numpy reference of
    :func:`detsim._kernels.stepped_layer_ms`): general helix to the shell's middle r_mid, a
    Highland kick there (variance increment over the shell's path at mid-shell beta p; space
    angle theta sqrt(-2 ln(1 - u1)), azimuth 2 pi u2 around the direction), general helix on to
    r_b; energy loss (:func:`_slow_down`) and time over the actual path. ``gi`` maps to the
    global MCP indices of the accumulators ``acc``."""
    x0_cm, omega_c, z_eff = ms_const
    st, ct = m.sin_theta.copy(), m.cot_theta.copy()
    p = _momentum(m.kinetic, m.mass)  # frozen MCPs: unchanged since the gas entry
    kappa = _kappa(p, st, m.eps, field_t)
    ok_b, sig_b, _, _, _, _ = _helix_step(m.x, m.y, m.cpsi, m.spsi, kappa, m.sign, r_b)
    _kill(m, ~ok_b, "curled")
    a = m.alive.copy()
    _, sig_k, x_k, y_k, c_k, s_k = _helix_step(m.x, m.y, m.cpsi, m.spsi, kappa, m.sign, r_mid)
    path_k = np.where(a, sig_k / st, 0.0)
    path_est = np.where(a, sig_b / st, 0.0)
    # kick at mid-shell, beta p at mid-path
    kin = m.kinetic
    d_start = dedx("dedx", _beta_of(kin, m.mass))
    k_half = np.maximum(kin - 0.5 * d_start * path_est, 0.0)
    b_k, p_k = _beta_of(k_half, m.mass), _momentum(k_half, m.mass)
    if m.frozen is not None:
        b_k = np.where(m.frozen, _beta_of(kin, m.mass), b_k)
        p_k = np.where(m.frozen, p, p_k)
    dx0 = path_est / x0_cm
    x0_before = acc.ms_x0[gi]
    with np.errstate(invalid="ignore"):  # beta p = 0 (stops before the middle): inf - inf
        var = highland_variance(x0_before + dx0, b_k, p_k, m.eps) - highland_variance(x0_before, b_k, p_k, m.eps)
    var = np.where(np.isfinite(var), var, 0.0)
    big = np.sqrt(np.maximum(var, 0.0)) * np.sqrt(-2.0 * np.log1p(-u1))
    ang = 2.0 * np.pi * u2
    ca, sa = np.cos(ang), np.sin(ang)
    c2, s2, st2, ct2 = rotate_direction(c_k, s_k, st, ct, np.cos(big), np.sin(big), ca, sa)
    kappa2 = _kappa(p, st2, m.eps, field_t)
    ok_2, sig_2, x_b, y_b, c_b, s_b = _helix_step(x_k, y_k, c2, s2, kappa2, m.sign, r_b)
    path_2 = np.where(ok_2, sig_2 / st2, (sig_b - sig_k) / st)
    path = np.where(a, path_k + path_2, 0.0)
    seg = _slow_down(m, path, table, dedx, strict=True)
    travelled = seg.travelled
    stops = a & ~(seg.k_end > 0)
    past_mid = a & (travelled >= path_k)  # reached the kick
    before_mid = a & ~past_mid
    # accumulators (MCPs that reached the middle)
    gk = gi[past_mid]
    acc.ms_x0[gk] += dx0[past_mid]
    acc.ms_var[gk] += var[past_mid]
    bk = b_k[past_mid]
    with np.errstate(divide="ignore", invalid="ignore"):  # beta = 0: stops right after the middle
        screening = 1.0 + 3.34 * (z_eff * abs(m.eps) * ALPHA_EM / bk) ** 2
        omega = omega_c * (abs(m.eps) * abs(m.eps)) * path_est[past_mid] / (bk * bk) / screening
    acc.ms_omega[gk] += np.where(np.isfinite(omega), omega, 0.0)
    acc.ms_kick_bend[gk] += (big * ca)[past_mid]
    acc.ms_kick_polar[gk] += (big * sa)[past_mid]
    # times
    t_a = m.t.copy()
    m.t = np.where(a, m.t + _segment_time(seg, dedx, m.mass), m.t)
    # hit point: the middle, or halfway along the path of an MCP stopping before it
    s_h = np.where(before_mid, 0.5 * travelled, path_k)
    xs, ys = _helix_point(m.x, m.y, m.cpsi, m.spsi, kappa, m.sign, s_h * st)
    x_h, y_h = np.where(before_mid, xs, x_k), np.where(before_mid, ys, y_k)
    z_k = m.z + sig_k * ct
    z_h = np.where(before_mid, m.z + s_h * st * ct, z_k)
    # end state: r_b, the middle (turned back after the kick), or the stopping point
    stop_1 = stops & before_mid
    stop_2 = stops & past_mid
    xe1, ye1 = _helix_point(m.x, m.y, m.cpsi, m.spsi, kappa, m.sign, travelled * st)
    rest = np.maximum(travelled - path_k, 0.0) * st2
    xe2, ye2 = _helix_point(x_k, y_k, c2, s2, kappa2, m.sign, rest)
    x_end = np.where(stop_1, xe1, np.where(stop_2, xe2, np.where(ok_2, x_b, x_k)))
    y_end = np.where(stop_1, ye1, np.where(stop_2, ye2, np.where(ok_2, y_b, y_k)))
    z_end = np.where(
        stop_1, m.z + travelled * st * ct, np.where(stop_2, z_k + rest * ct2, np.where(ok_2, z_k + sig_2 * ct2, z_k))
    )
    r_end = np.where(stops, np.hypot(x_end, y_end), np.where(ok_2, r_b, r_mid))
    through = past_mid & ok_2 & ~stops
    m.kinetic = np.where(a, np.maximum(seg.k_end, 0.0), m.kinetic)
    m.x, m.y, m.z = np.where(a, x_end, m.x), np.where(a, y_end, m.y), np.where(a, z_end, m.z)
    m.cpsi = np.where(through, c_b, np.where(past_mid, c2, m.cpsi))
    m.spsi = np.where(through, s_b, np.where(past_mid, s2, m.spsi))
    m.sin_theta = np.where(past_mid, st2, m.sin_theta)
    m.cot_theta = np.where(past_mid, ct2, m.cot_theta)
    m.radius = np.where(a, r_end, m.radius)
    _kill(m, stops, stop_status)
    _kill(m, a & ~ok_2, "curled")  # turns back after the kick
    return _MsShell(seg, a, t_a, x_h, y_h, z_h, s_h, before_mid)


def _make_state(events, n: int, eps: float | None = None, mass: float | None = None) -> _Mcp:
    chi, bar = events["chi"], events["chibar"]

    def col(name):
        return np.concatenate([ak.to_numpy(chi[name]), ak.to_numpy(bar[name])])

    px, py, pz, e, q = col("px"), col("py"), col("pz"), col("E"), col("charge")
    p = np.sqrt(px**2 + py**2 + pz**2)
    pt = np.hypot(px, py)
    if mass is None:
        mass = float(np.median(np.sqrt(np.clip(e**2 - p**2, 0, None)))) if len(e) else 1.0
    if eps is None:
        eps = float(np.abs(q).max()) if len(q) else 0.0
    two_n = 2 * n
    return _Mcp(
        event=np.concatenate([np.arange(n), np.arange(n)]),
        which=np.repeat(np.array([1, 2], dtype=np.int8), n),
        mass=float(mass),
        eps=float(eps),
        kinetic=e - mass,
        sin_theta=np.where(p > 0, pt / np.where(p > 0, p, 1.0), 1.0),
        cot_theta=np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0),
        sign=np.sign(q),
        phi=np.arctan2(py, px),
        radius=np.zeros(two_n),
        z=np.zeros(two_n),
        alive=np.ones(two_n, dtype=bool),
        status=np.full(two_n, STATUS["inside"], dtype=np.int8),
        t=np.zeros(two_n),
    )


#: Use the compiled stepping kernel (numba) when available; False forces the numpy reference.
USE_COMPILED_KERNEL = True


def simulate_tracker(
    events,
    tracker: Tracker,
    source,
    tables: dict | None = None,
    *,
    epsilon: float | None = None,
    mass_gev: float | None = None,
) -> dict:
    """Propagate the chi and chibar of ``events`` through ``tracker``; return hit and MCP arrays.

    ``source(stage, rows, n)`` returns uniforms of shape (rows, n) for the chunk's n events
    (``stage`` is a tuple naming the stream, :mod:`detsim.streams`). ``epsilon`` and ``mass_gev``
    (the MCP's charge [e] and mass [GeV]) are inferred from the events when not given. Returns
    a dict of flat numpy arrays: per hit (``hit_event``, ``hit_layer``, ``hit_x``, ``hit_y``,
    ``hit_z``, ``hit_phi``, ``hit_r``, ``hit_t`` [ns since the collision, float64],
    ``hit_source`` 0 noise / 1 chi / 2 chibar, ``hit_mech`` 0 noise / 1 ionization / 2 delta /
    3 both) and per MCP (``status``, ``r_end``, ``n_delta``, ``n_hits`` (inside the time
    window), ``n_hits_late`` (dropped by it), ``beta``, ``beta_min``, ``out_of_validity``,
    ``path_gas``, ``sagitta``, ``radius_of_curvature``, ``t_end`` [ns, at the last point
    reached], and with multiple scattering -- zeros without -- ``ms_omega`` (mean number of
    single scatterings along the path; < :data:`detsim.scattering.OMEGA_GAUSSIAN_MIN`: Gaussian
    kicks unreliable), ``ms_theta0`` (Highland theta_0 of all material crossed [rad]),
    ``ms_kick_bend`` and ``ms_kick_polar`` (sums of the projected kick angles theta_1, in the
    bending plane, and theta_2, towards the polar direction [rad]: the scattering deflection
    accumulated up to the last point)), MCP arrays of length 2n (chi then chibar).

    In the gas, MCPs whose energy loss stays small (see :func:`_compiled_mask`) are stepped by a
    compiled kernel that repeats the numpy stepping exactly; the others by the numpy code, which
    switches to the exact CSDA range tables where a shell costs more than 2 % of the energy or
    the MCP stops. Both use the same per-layer random numbers.
    """
    n = len(events)
    m = _make_state(events, n, epsilon, mass_gev)
    field_t = tracker.field_t
    ms_on = tracker.multiple_scattering
    tables = tables if tables is not None else build_tables(tracker, m.eps, m.mass)
    beta0 = _beta_of(m.kinetic, m.mass)
    acc = _Accumulators(n, beta0, tracker.n_layers)
    acc.rad0 = curvature_radius_cm(_momentum(m.kinetic, m.mass) * m.sin_theta, m.eps, field_t)
    if ms_on:
        m.x, m.y, m.cpsi, m.spsi = np.zeros(2 * n), np.zeros(2 * n), np.cos(m.phi), np.sin(m.phi)
    everyone = np.arange(2 * n)

    pipe = tracker.beam_pipe
    if pipe is not None:
        if ms_on:
            _advance_vacuum_ms(m, pipe.radius_cm, field_t)
            u = source(streams.SCATTER_PIPE, 4, n)
            shell = _ms_shell(
                m,
                everyone,
                pipe.radius_cm + 0.5 * pipe.thickness_cm,
                pipe.radius_cm + pipe.thickness_cm,
                tables["pipe"],
                tables["pipe_beta"],
                field_t,
                tables["pipe_ms"],
                np.concatenate([u[0], u[1]]),
                np.concatenate([u[2], u[3]]),
                "stopped_pipe",
                acc,
            )
            seg, reached = shell.seg, shell.reached
        else:
            _advance_vacuum(m, pipe.radius_cm, field_t)
            seg, reached, _ = _cross_material(
                m, pipe.radius_cm + pipe.thickness_cm, tables["pipe"], tables["pipe_beta"], field_t, "stopped_pipe"
            )
        b_mid = seg.beta_mid
        acc.invalid |= reached & (tables["pipe_beta"]("invalid", b_mid) > 0.5)
        acc.beta_min = np.where(reached, np.minimum(acc.beta_min, b_mid), acc.beta_min)
    if ms_on:
        _advance_vacuum_ms(m, tracker.inner_radius_cm, field_t)
    else:
        _advance_vacuum(m, tracker.inner_radius_cm, field_t)

    m.frozen = _frozen_mask(m, tracker, tables["gas_beta"])
    if _use_pass(tracker):
        return _compiled_pass(m, n, tracker, tables, source, acc, beta0)
    compiled = np.flatnonzero(_compiled_mask(m, tracker, tables)) if _use_kernel(tracker) else np.empty(0, int)
    mc = _subset(m, compiled)
    stepper = _CompiledStepper(mc, compiled, tracker, tables, acc) if compiled.size else None
    rest = np.setdiff1d(np.flatnonzero(m.alive), compiled)
    ms = _subset(m, rest)
    for k in range(tracker.n_layers):
        u = source((*streams.LAYER, k), 4, n)
        u_ion = np.concatenate([u[0], u[1]])
        u_delta = np.concatenate([u[2], u[3]])
        u_ms = source((*streams.SCATTER_GAS, k), 4, n) if ms_on else None
        if stepper is not None:
            stepper.layer(k, u_ion, u_delta, u_ms)
        if ms.alive.any():
            if ms_on:
                u1, u2 = np.concatenate([u_ms[0], u_ms[1]]), np.concatenate([u_ms[2], u_ms[3]])
                _slow_layer_ms(ms, rest, k, tracker, tables, u_ion, u_delta, u1[rest], u2[rest], acc)
            else:
                _slow_layer(ms, rest, k, tracker, tables, u_ion, u_delta, acc)
    _kill(ms, ms.alive, "escaped")
    _kill(mc, mc.alive, "escaped")
    status, r_end, t_end = m.status.copy(), m.radius.copy(), m.t.copy()
    status[rest], r_end[rest], t_end[rest] = ms.status, ms.radius, ms.t
    status[compiled], r_end[compiled], t_end[compiled] = mc.status, mc.radius, mc.t
    acc.hits.append(noise_hits(tracker, source, n))
    hit = _concat_hits(acc.hits, n)
    n_late = np.zeros(2 * n, dtype=np.int32)
    if tracker.time_window_ns is not None:
        hit, n_late = _apply_window(hit, tracker.time_window_ns, n)
    return _result(hit, acc, status, r_end, t_end, n_late, beta0, _sagitta(acc.phi_at_layer, tracker.radii))


def _result(hit, acc, status, r_end, t_end, n_late, beta0, sagitta) -> dict:
    """The dict of :func:`simulate_tracker` (hits and per-MCP arrays)."""
    return {
        **hit,
        "status": status,
        "r_end": r_end,
        "n_delta": acc.n_delta,
        "n_hits": acc.n_hits - n_late,
        "n_hits_late": n_late,
        "beta": beta0,
        "beta_min": acc.beta_min,
        "out_of_validity": acc.invalid,
        "path_gas": acc.path_gas,
        "sagitta": sagitta,
        "radius_of_curvature": acc.rad0,
        "t_end": t_end,
        "ms_omega": acc.ms_omega,
        "ms_theta0": np.sqrt(acc.ms_var),
        "ms_kick_bend": acc.ms_kick_bend,
        "ms_kick_polar": acc.ms_kick_polar,
    }


def _use_pass(tracker: Tracker) -> bool:
    """The whole-chunk compiled pass (:mod:`detsim._pass_kernels`) replaces the shell-by-shell
    driver when the compiled kernels are on and scipy's ndtri is reachable from compiled code."""
    return _use_kernel(tracker) and _pass_kernels.ndtri_available


def _compiled_pass(m: _Mcp, n: int, tracker: Tracker, tables: dict, source, acc: _Accumulators, beta0) -> dict:
    """The gas part of :func:`simulate_tracker` as one compiled pass per chunk.

    Every layer's uniforms are drawn first (the order of the source calls is that of the
    shell-by-shell driver: per layer LAYER + (k,), then SCATTER_GAS + (k,), then NOISE). MCPs
    that may lose much energy (not :func:`_compiled_mask`) are stepped by the numpy code with
    the exact CSDA range tables, shell by shell on that small subset; then
    :func:`detsim._pass_kernels.helix_pass` (``scatter_pass`` with multiple scattering) takes
    every other MCP through all shells and writes all hits -- its own, the numpy subset's and
    the noise -- in the output order, with the readout window applied."""
    ms_on = tracker.multiple_scattering
    n_l = tracker.n_layers
    compiled = _compiled_mask(m, tracker, tables)
    rest = np.flatnonzero(m.alive & ~compiled)
    ms = _subset(m, rest)
    acc.column = np.full(2 * n, -1, dtype=np.int64)
    acc.column[rest] = np.arange(rest.size)
    acc.phi_at_layer = np.full((n_l, rest.size), np.nan, dtype=np.float32)
    u_layer = np.empty((n_l, 4, n))
    u_scatter = np.empty((n_l, 4, n)) if ms_on else None
    for k in range(n_l):
        u = u_layer[k] = source((*streams.LAYER, k), 4, n)
        if ms_on:
            u_ms = u_scatter[k] = source((*streams.SCATTER_GAS, k), 4, n)
        if ms.alive.any():
            u_ion, u_delta = u[0:2].reshape(2 * n), u[2:4].reshape(2 * n)
            if ms_on:
                u1, u2 = u_ms[0:2].reshape(2 * n), u_ms[2:4].reshape(2 * n)
                _slow_layer_ms(ms, rest, k, tracker, tables, u_ion, u_delta, u1[rest], u2[rest], acc)
            else:
                _slow_layer(ms, rest, k, tracker, tables, u_ion, u_delta, acc)
    _kill(ms, ms.alive, "escaped")
    acc.hits.append(noise_hits(tracker, source, n))
    other = _concat_hits(acc.hits, n)  # numpy-stepped MCP hits and noise, grouped by event
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(other["hit_event"], minlength=n), out=offsets[1:])
    table = tables["gas_beta"]
    v = table.values
    mass, eps, field_t = m.mass, m.eps, tracker.field_t
    with np.errstate(divide="ignore", invalid="ignore"):
        f_beta = _beta_of(m.kinetic, mass)
        f_p = _momentum(m.kinetic, mass)
        rad = curvature_radius_cm(f_p * m.sin_theta, eps, field_t)
        f_rad = np.where(np.isfinite(rad), rad, 0.0)
        f_rates = _rates(f_beta, tracker, table)
    sag_mid = np.full(2 * n, -1, dtype=np.int64)
    sag_a, sag_b = np.full(2 * n, np.nan), np.full(2 * n, np.nan)
    n_late = np.zeros(2 * n, dtype=np.int32)
    window = np.inf if tracker.time_window_ns is None else float(tracker.time_window_ns)
    cap = len(other["hit_event"]) + 24 * int(np.count_nonzero(compiled)) + 1024
    common = (n, compiled, tracker.radii, tracker.shell_edges_cm, float(tracker.half_length_cm), float(mass))
    common += (abs(eps), abs(field_t), float(tracker.gas.w_value_gev))
    common += (float(tracker.resolution_rphi_cm), float(tracker.resolution_z_cm))
    tabs = (v["dedx"], v["dedx_ion"], v["delta_rate"], v["mean_e"], v["invalid"], table.lo, table.step, table.size)
    merge = (sag_mid, sag_a, sag_b, offsets)
    merge += tuple(other[k] for k in ("hit_layer", "hit_r", "hit_phi", "hit_z", "hit_source", "hit_mech", "hit_t"))
    merge += (window, n_late, cap)
    sign = m.sign.astype(float)
    if ms_on:
        x0_cm, omega_c, z_eff = tables["gas_ms"]
        cols = _pass_kernels.scatter_pass(
            *common,
            m.kinetic, m.x, m.y, m.z, m.radius, m.cpsi, m.spsi, m.sin_theta, m.cot_theta, sign, m.t,
            m.frozen, m.status, f_beta, f_p, f_rates[0], f_rates[1], f_rates[3],
            float(x0_cm), float(omega_c), float(z_eff), *tabs, u_layer, u_scatter,
            acc.path_gas, acc.n_delta, acc.n_hits, acc.invalid, acc.beta_min,
            acc.ms_x0, acc.ms_var, acc.ms_omega, acc.ms_kick_bend, acc.ms_kick_polar, *merge,
        )  # fmt: skip
    else:
        cols = _pass_kernels.helix_pass(
            *common,
            m.kinetic, m.phi, m.z, m.radius, m.sin_theta, m.cot_theta, sign, m.t, m.frozen, m.status,
            f_rad, f_beta, f_rates[0], f_rates[1], f_rates[3], *tabs, u_layer,
            acc.path_gas, acc.n_delta, acc.n_hits, acc.invalid, acc.beta_min, *merge,
        )  # fmt: skip
    del u_layer, u_scatter
    hit = dict(zip(_HIT_NAMES, cols, strict=True))
    hit["hit_x"] = hit["hit_r"] * np.cos(hit["hit_phi"])
    hit["hit_y"] = hit["hit_r"] * np.sin(hit["hit_phi"])
    status, r_end, t_end = m.status.copy(), m.radius.copy(), m.t.copy()
    status[rest], r_end[rest], t_end[rest] = ms.status, ms.radius, ms.t
    radii = tracker.radii
    with np.errstate(invalid="ignore"):
        dist = np.abs(radii[np.maximum(sag_mid, 0)] * np.sin(sag_a - sag_b))
    sagitta = np.where((sag_mid >= 0) & np.isfinite(dist), dist, 0.0)
    sagitta[rest] = _sagitta(acc.phi_at_layer, radii)
    return _result(hit, acc, status, r_end, t_end, n_late, beta0, sagitta)


def _apply_window(hit: dict, window_ns: float, n: int):
    """Drop hits later than ``window_ns``; count the dropped MCP hits per MCP (2n)."""
    late = hit["hit_t"] > window_ns
    src = hit["hit_source"][late].astype(np.int64)
    mcp = hit["hit_event"][late][src > 0] + n * (src[src > 0] - 1)
    n_late = np.bincount(mcp, minlength=2 * n).astype(np.int32)
    if late.any():
        hit = {k: v[~late] for k, v in hit.items()}
    return hit, n_late


class _Accumulators:
    """Per-MCP results filled by both paths (global MCP indexing) and the hit blocks."""

    def __init__(self, n, beta0, n_layers):
        self.beta_min = beta0.copy()
        self.invalid = np.zeros(2 * n, dtype=bool)
        self.n_delta = np.zeros(2 * n, dtype=np.int32)
        self.n_hits = np.zeros(2 * n, dtype=np.int32)
        self.path_gas = np.zeros(2 * n)
        self.phi_at_layer = np.full((n_layers, 2 * n), np.nan, dtype=np.float32)
        self.hits: list[dict] = []
        self.rad0 = None
        self.column = None  # MCP -> column of phi_at_layer (None: the MCP index)
        # multiple scattering: thickness crossed [X0], variance [rad^2], Omega, sums of the
        # projected kicks in the bending plane and towards the polar direction [rad]
        self.ms_x0 = np.zeros(2 * n)
        self.ms_var = np.zeros(2 * n)
        self.ms_omega = np.zeros(2 * n)
        self.ms_kick_bend = np.zeros(2 * n)
        self.ms_kick_polar = np.zeros(2 * n)


def _subset(m: _Mcp, idx) -> _Mcp:
    def part(a):
        return None if a is None else a[idx]

    return _Mcp(
        event=m.event[idx],
        which=m.which[idx],
        mass=m.mass,
        eps=m.eps,
        kinetic=m.kinetic[idx],
        sin_theta=m.sin_theta[idx],
        cot_theta=m.cot_theta[idx],
        sign=m.sign[idx],
        phi=m.phi[idx],
        radius=m.radius[idx],
        z=m.z[idx],
        alive=m.alive[idx].copy(),
        status=m.status[idx].copy(),
        t=m.t[idx],
        frozen=part(m.frozen),
        x=part(m.x),
        y=part(m.y),
        cpsi=part(m.cpsi),
        spsi=part(m.spsi),
    )


def _use_kernel(tracker: Tracker) -> bool:
    return _kernels.HAVE_NUMBA and USE_COMPILED_KERNEL and tracker.threshold_electrons == 1


#: MCPs losing less than this fraction of their kinetic energy over the longest gas path keep a
#: constant velocity in the gas (error on their hit rates below this fraction).
FROZEN_MAX_LOSS = 0.01


def _gas_loss_fraction(m: _Mcp, tracker: Tracker, gas_beta, width_cm: float) -> np.ndarray:
    """Energy lost over a gas path of radial width ``width_cm`` (x 1.1 for the helix), at the
    MCP's current velocity, as a fraction of its kinetic energy."""
    path = 1.1 * width_cm / np.maximum(m.sin_theta, 1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        return gas_beta("dedx", _beta_of(m.kinetic, m.mass)) * path / m.kinetic


def _frozen_mask(m: _Mcp, tracker: Tracker, gas_beta) -> np.ndarray:
    longest = tracker.outer_radius_cm - tracker.inner_radius_cm
    return m.alive & (_gas_loss_fraction(m, tracker, gas_beta, longest) < FROZEN_MAX_LOSS)


def _compiled_mask(m: _Mcp, tracker: Tracker, tables: dict) -> np.ndarray:
    """Alive MCPs whose energy loss stays small everywhere in the gas: the first shell costs
    < 1 % of T and the CSDA range exceeds 5 x the longest gas path (so < ~10 % is lost in all).
    These never take the exact range-table branch of :func:`_slow_down`, which the compiled
    stepper leaves out; the others are stepped by the numpy code."""
    widest = float(np.max(np.diff(tracker.shell_edges_cm)))
    first = _gas_loss_fraction(m, tracker, tables["gas_beta"], widest) < 0.01
    longest = 1.1 * (tracker.outer_radius_cm - tracker.inner_radius_cm) / np.maximum(m.sin_theta, 1e-6)
    reach = np.nan_to_num(tables["gas"].range_cm(m.kinetic), nan=0.0, posinf=np.inf) > 5.0 * longest
    return m.alive & first & reach


class _CompiledStepper:
    """Drives :func:`detsim._kernels.stepped_layer` (or ``stepped_layer_ms`` with multiple
    scattering) for a sub-state of MCPs, layer by layer."""

    def __init__(self, mc: _Mcp, idx, tracker: Tracker, tables: dict, acc: _Accumulators):
        self.mc, self.idx, self.tracker, self.acc = mc, idx, tracker, acc
        table = tables["gas_beta"]
        self.table = table
        self.ms_const = tables.get("gas_ms")
        self.buf = _kernels.buffers(len(idx))
        self.a_prev = np.full(len(idx), np.nan)  # asin(r/2R) at the last edge, for frozen MCPs
        self.sign = mc.sign.astype(float)
        # frozen MCPs: momentum, radius of curvature and rates at the gas entry (exactly what the
        # numpy stepping recomputes every shell from the unchanged kinetic energy)
        self.f_beta = _beta_of(mc.kinetic, mc.mass)
        self.f_p = _momentum(mc.kinetic, mc.mass)
        rad = curvature_radius_cm(_momentum(mc.kinetic, mc.mass) * mc.sin_theta, mc.eps, tracker.field_t)
        self.f_rad = np.where(np.isfinite(rad), rad, 0.0)
        self.f_rates = _rates(self.f_beta, tracker, table)

    def layer(self, k, u_ion, u_delta, u_ms=None):
        mc, t, acc, b, tab = self.mc, self.tracker, self.acc, self.buf, self.table
        if not mc.alive.any():
            return
        v = tab.values
        if t.multiple_scattering:
            n_out = _kernels.stepped_layer_ms(
                k,
                t.radii[k],
                t.shell_edges_cm[k + 1],
                t.half_length_cm,
                mc.mass,
                abs(mc.eps),
                abs(t.field_t),
                t.gas.w_value_gev,
                mc.alive,
                mc.status,
                mc.kinetic,
                mc.x,
                mc.y,
                mc.z,
                mc.radius,
                mc.cpsi,
                mc.spsi,
                mc.sin_theta,
                mc.cot_theta,
                self.sign,
                mc.t,
                mc.frozen,
                self.f_beta,
                self.f_p,
                self.f_rates[0],
                self.f_rates[1],
                self.f_rates[3],
                self.ms_const[0],
                self.ms_const[1],
                self.ms_const[2],
                v["dedx"],
                v["dedx_ion"],
                v["delta_rate"],
                v["mean_e"],
                v["invalid"],
                tab.lo,
                tab.step,
                tab.size,
                self.idx,
                u_ion,
                u_delta,
                np.concatenate([u_ms[0], u_ms[1]]),
                np.concatenate([u_ms[2], u_ms[3]]),
                acc.path_gas,
                acc.n_delta,
                acc.n_hits,
                acc.phi_at_layer,
                acc.invalid,
                acc.beta_min,
                acc.ms_x0,
                acc.ms_var,
                acc.ms_omega,
                acc.ms_kick_bend,
                acc.ms_kick_polar,
                b["local"],
                b["phi"],
                b["z"],
                b["mech"],
                b["u_rphi"],
                b["u_z"],
                b["t"],
            )
        else:
            n_out = _kernels.stepped_layer(
                k,
                t.shell_edges_cm[k + 1],
                t.radii[k],
                t.half_length_cm,
                mc.mass,
                abs(mc.eps),
                abs(t.field_t),
                t.gas.w_value_gev,
                mc.alive,
                mc.status,
                mc.kinetic,
                mc.phi,
                mc.z,
                mc.radius,
                mc.sin_theta,
                mc.cot_theta,
                self.sign,
                mc.t,
                mc.frozen,
                self.a_prev,
                self.f_rad,
                self.f_beta,
                self.f_rates[0],
                self.f_rates[1],
                self.f_rates[3],
                v["dedx"],
                v["dedx_ion"],
                v["delta_rate"],
                v["mean_e"],
                v["invalid"],
                tab.lo,
                tab.step,
                tab.size,
                self.idx,
                u_ion,
                u_delta,
                acc.path_gas,
                acc.n_delta,
                acc.n_hits,
                acc.phi_at_layer,
                acc.invalid,
                acc.beta_min,
                b["local"],
                b["phi"],
                b["z"],
                b["mech"],
                b["u_rphi"],
                b["u_z"],
                b["t"],
            )
        if n_out == 0:
            return
        loc = b["local"][:n_out]
        r_k = t.radii[k]
        phi = b["phi"][:n_out] + t.resolution_rphi_cm / r_k * ndtri(np.clip(b["u_rphi"][:n_out], _U_EDGE, 1 - _U_EDGE))
        z = b["z"][:n_out] + t.resolution_z_cm * ndtri(np.clip(b["u_z"][:n_out], _U_EDGE, 1 - _U_EDGE))
        acc.hits.append(
            _hit_block(mc.event[loc], k, r_k, phi, z, mc.which[loc], b["mech"][:n_out].copy(), b["t"][:n_out].copy())
        )


def _rates(bm, tracker, gas_beta):
    """Per-cm ionization-cluster and delta-electron means, mean cluster size, validity flag."""
    where = gas_beta.locate(bm)
    mean_e = gas_beta.read("mean_e", where)
    clusters = gas_beta.read("dedx_ion", where) / tracker.gas.w_value_gev / mean_e
    return clusters, gas_beta.read("delta_rate", where), mean_e, gas_beta.read("invalid", where) > 0.5


def _layer_hits(k, gidx, which, event, rates, trav, r_hit, phi_true, z_true, t_hit, ui, ud, tracker, acc):
    """Ionization and delta-electron hits of MCPs ``gidx`` (global indices) crossing shell k;
    ``rates`` = :func:`_rates` at their velocity in the shell."""
    clusters, delta_rate, mean_e, _ = rates
    acc.path_gas[gidx] += trav
    acc.phi_at_layer[k, gidx if acc.column is None else acc.column[gidx]] = phi_true
    p_ion = prob_at_least(tracker.threshold_electrons, clusters * trav, mean_e)
    ion = ui < p_ion
    # the conditional uniform of the ionization draw is a fresh uniform (r-phi smear)
    u_rphi = np.where(ion, ui / np.maximum(p_ion, 1e-300), (ui - p_ion) / np.maximum(1 - p_ion, 1e-300))
    nd, u_z = poisson_from_uniform(ud, delta_rate * trav, conditional=True)
    acc.n_delta[gidx] += nd
    fired = ion | (nd > 0)
    sel = gidx[fired]
    r = r_hit[fired]
    phi_meas = phi_true[fired] + tracker.resolution_rphi_cm / r * ndtri(np.clip(u_rphi[fired], _U_EDGE, 1 - _U_EDGE))
    z_meas = z_true[fired] + tracker.resolution_z_cm * ndtri(np.clip(u_z[fired], _U_EDGE, 1 - _U_EDGE))
    acc.n_hits[sel] += 1
    mech = ion[fired].astype(np.int8) + 2 * (nd[fired] > 0).astype(np.int8)
    acc.hits.append(_hit_block(event[fired], k, r, phi_meas, z_meas, which[fired], mech, t_hit[fired]))


def _slow_layer(ms: _Mcp, gi, k, tracker: Tracker, tables: dict, u_ion, u_delta, acc: _Accumulators):
    """One shell for the stepped MCPs (sub-state ``ms``; ``gi`` maps to global MCP indices)."""
    edges, field_t = tracker.shell_edges_cm, tracker.field_t
    r_start, phi_start, z_start, kin_start = ms.radius.copy(), ms.phi.copy(), ms.z.copy(), ms.kinetic.copy()
    seg, reached, t_a = _cross_material(ms, edges[k + 1], tables["gas"], tables["gas_beta"], field_t, "stopped_gas")
    travelled, b_mid = seg.travelled, seg.beta_mid
    out_z = reached & (np.abs(ms.z) > tracker.half_length_cm)  # leaves through an endcap
    _kill(ms, out_z, "endcap")
    loc = np.flatnonzero(reached & ~out_z & (travelled > 0))
    if loc.size == 0:
        return
    # true crossing of the sense wire (or the stopping point)
    r_k = tracker.radii[k]
    r_hit = np.minimum(r_k, ms.radius[loc])
    rad = curvature_radius_cm(_momentum(kin_start[loc], ms.mass) * ms.sin_theta[loc], ms.eps, field_t)
    a = np.nan_to_num(_half_turn(rad, r_hit) - _half_turn(rad, r_start[loc]))
    straight = ~np.isfinite(rad)
    phi_true = np.where(straight, phi_start[loc], phi_start[loc] - ms.sign[loc] * a)
    with np.errstate(invalid="ignore"):
        arc = np.where(straight, r_hit - r_start[loc], 2 * rad * a)
    z_true = z_start[loc] + arc * ms.cot_theta[loc]
    # time at the wire; an MCP stopping before it: halfway along its path in the shell
    s_hit = np.zeros_like(travelled)
    s_hit[loc] = np.where(ms.radius[loc] < r_k, 0.5 * travelled[loc], arc / ms.sin_theta[loc])
    t_hit = _time_to(seg, s_hit, t_a, tables["gas_beta"], tables["gas"], ms.mass)[loc]
    g = gi[loc]
    rates = _rates(b_mid[loc], tracker, tables["gas_beta"])
    acc.invalid[g] |= rates[3]
    acc.beta_min[g] = np.minimum(acc.beta_min[g], b_mid[loc])
    _layer_hits(
        k,
        g,
        ms.which[loc],
        ms.event[loc],
        rates,
        travelled[loc],
        r_hit,
        phi_true,
        z_true,
        t_hit,
        u_ion[g],
        u_delta[g],
        tracker,
        acc,
    )


def _slow_layer_ms(ms: _Mcp, gi, k, tracker: Tracker, tables: dict, u_ion, u_delta, u1, u2, acc: _Accumulators):
    """:func:`_slow_layer` with multiple scattering (general helix, kick at the sense wire)."""
    r_k = tracker.radii[k]
    shell = _ms_shell(
        ms,
        gi,
        r_k,
        tracker.shell_edges_cm[k + 1],
        tables["gas"],
        tables["gas_beta"],
        tracker.field_t,
        tables["gas_ms"],
        u1,
        u2,
        "stopped_gas",
        acc,
    )
    seg, reached = shell.seg, shell.reached
    travelled, b_mid = seg.travelled, seg.beta_mid
    out_z = reached & (np.abs(ms.z) > tracker.half_length_cm)  # leaves through an endcap
    _kill(ms, out_z, "endcap")
    loc = np.flatnonzero(reached & ~out_z & (travelled > 0))
    if loc.size == 0:
        return
    t_hit = _time_to(seg, shell.s_h, shell.t_a, tables["gas_beta"], tables["gas"], ms.mass)[loc]
    r_hit = np.where(shell.before_mid[loc], np.hypot(shell.x_h[loc], shell.y_h[loc]), r_k)
    phi_true = np.arctan2(shell.y_h[loc], shell.x_h[loc])
    g = gi[loc]
    rates = _rates(b_mid[loc], tracker, tables["gas_beta"])
    acc.invalid[g] |= rates[3]
    acc.beta_min[g] = np.minimum(acc.beta_min[g], b_mid[loc])
    _layer_hits(
        k,
        g,
        ms.which[loc],
        ms.event[loc],
        rates,
        travelled[loc],
        r_hit,
        phi_true,
        shell.z_h[loc],
        t_hit,
        u_ion[g],
        u_delta[g],
        tracker,
        acc,
    )


def build_tables(tracker: Tracker, eps: float, mass: float) -> dict:
    """Range tables and beta tables (dE/dx, its electronic part ``dedx_ion`` for the ionisation
    clusters, delta rate, cluster size, validity, time of flight)
    for one (eps, m); with multiple scattering also the materials' (X0, Omega constant, Z_eff)."""
    gas, model = tracker.gas, tracker.eloss_model
    n_e_mip = max(mip_dedx_gev_per_cm(gas) / (gas.w_value_gev * gas.primary_clusters_per_cm), 1.0)
    nuc = {"nuclear": tracker.nuclear_stopping}  # nuclear stopping added to the electronic

    def invalid(mat):
        lo, hi = validity_range(model, mat, mass)
        return lambda b: ~((b >= lo) & (b <= hi))

    tables = {
        "gas": RangeTable(eps, mass, gas, model, **nuc),
        "gas_beta": BetaTable(
            {
                "dedx": lambda b: dedx_gev_per_cm(b, eps, mass, gas, model, **nuc),
                # ionisation (clusters) comes from the electronic part only: recoiling nuclei
                # ionise little (docs/physics.md §11)
                "dedx_ion": lambda b: dedx_gev_per_cm(b, eps, mass, gas, model),
                "delta_rate": lambda b: delta_rate_per_cm(b, eps, mass, gas, tracker.delta_t_min_gev),
                "mean_e": lambda b: np.clip(t_max_gev(b, mass) / gas.w_value_gev, 1.0, n_e_mip),
                "invalid": invalid(gas),
            }
        ),
    }
    _add_time_of_flight(tables["gas_beta"], mass)
    if tracker.multiple_scattering:
        tables["gas_ms"] = _ms_constants(gas)
    if tracker.beam_pipe is not None:
        mat = tracker.beam_pipe.material
        tables["pipe"] = RangeTable(eps, mass, mat, model, **nuc)
        tables["pipe_beta"] = BetaTable(
            {"dedx": lambda b: dedx_gev_per_cm(b, eps, mass, mat, model, **nuc), "invalid": invalid(mat)}
        )
        _add_time_of_flight(tables["pipe_beta"], mass)
        if tracker.multiple_scattering:
            tables["pipe_ms"] = _ms_constants(mat)
    return tables


def _hit_block(event, layer, r, phi, z, source, mech, t):
    count = len(event)
    return {
        "hit_event": np.asarray(event, dtype=np.int64),
        "hit_layer": np.broadcast_to(np.asarray(layer, dtype=np.int16), (count,)),
        "hit_r": np.broadcast_to(np.asarray(r, dtype=np.float32), (count,)),
        "hit_phi": np.mod(phi, 2 * np.pi).astype(np.float32),
        "hit_z": np.asarray(z, dtype=np.float32),
        "hit_source": np.broadcast_to(np.asarray(source, dtype=np.int8), (count,)),
        "hit_mech": np.broadcast_to(np.asarray(mech, dtype=np.int8), (count,)),
        "hit_t": np.asarray(t, dtype=np.float64),
    }


def noise_hits(tracker: Tracker, source, n: int, stage=streams.NOISE) -> dict:
    """Noise hits of n events: N ~ Poisson(occupancy x cells) per event (truncated where the
    tail is below 1e-9), each in a layer drawn in proportion to its cells, uniform in phi and z,
    and uniform in time over [0, T] (T = ``tracker.time_window_ns``, else
    :data:`NOISE_TIME_SPAN_NS`) -- the time from the conditional uniform of the layer draw,
    independent of the layer. Uses 1 + 3 x slots uniforms per event from stream ``stage``."""
    cells = tracker.cells_per_layer
    mu = float(cells.sum() * tracker.noise_occupancy)
    if mu <= 0:
        empty = np.empty(0)
        return _hit_block(np.empty(0, np.int64), np.empty(0, np.int16), empty, empty, empty, 0, 0, empty)
    slots = poisson_quantile(1 - _NOISE_TRUNCATION, mu)
    u = source(stage, 1 + 3 * slots, n)
    counts = poisson_from_uniform(u[0], mu, max_k=slots)
    used = np.arange(slots)[:, None] < counts[None, :]
    event = np.broadcast_to(np.arange(n), (slots, n))[used]
    cumulative = np.cumsum(cells) / cells.sum()
    u_layer = u[1 : 1 + slots][used]
    layer = np.minimum(np.searchsorted(cumulative, u_layer, side="right"), len(cells) - 1)
    phi = 2 * np.pi * u[1 + slots : 1 + 2 * slots][used]
    z = tracker.half_length_cm * (2 * u[1 + 2 * slots :][used] - 1)
    lower = np.where(layer > 0, cumulative[np.maximum(layer - 1, 0)], 0.0)
    u_time = np.clip((u_layer - lower) / (cumulative[layer] - lower), 0.0, 1.0)
    span = tracker.time_window_ns if tracker.time_window_ns is not None else NOISE_TIME_SPAN_NS
    return _hit_block(event, layer.astype(np.int16), tracker.radii[layer], phi, z, 0, 0, span * u_time)


_HIT_NAMES = ("hit_event", "hit_layer", "hit_r", "hit_phi", "hit_z", "hit_source", "hit_mech", "hit_t")
_HIT_DTYPES = (np.int64, np.int16, np.float32, np.float32, np.float32, np.int8, np.int8, np.float64)


def _unique_runs(block):
    """Split a hit block into pieces whose event indices are unique (chi part, chibar part, ...)."""
    ev = block["hit_event"]
    if len(ev) < 2:
        return [block]
    cuts = np.flatnonzero(ev[1:] <= ev[:-1]) + 1
    if cuts.size == 0:
        return [block]
    edges = [0, *cuts.tolist(), len(ev)]
    return [{k: v[a:b] for k, v in block.items()} for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _concat_hits(blocks, n_events):
    """Hits grouped by event (in block order within an event) without a global sort: each piece
    of unique events gets its destinations from per-event offsets, then every field is
    concatenated and scattered once."""
    pieces = [piece for block in blocks for piece in _unique_runs(block)]
    if not pieces:
        out = {k: np.empty(0, dtype=d) for k, d in zip(_HIT_NAMES, _HIT_DTYPES, strict=True)}
    else:
        events = [piece["hit_event"] for piece in pieces]
        counts = np.bincount(np.concatenate(events), minlength=n_events)
        filled = np.concatenate([[0], np.cumsum(counts)[:-1]])
        dests = []
        for ev in events:
            dests.append(filled[ev])
            filled[ev] += 1
        dest = np.concatenate(dests)
        out = {}
        for k, d in zip(_HIT_NAMES, _HIT_DTYPES, strict=True):
            column = np.empty(len(dest), dtype=d)
            column[dest] = np.concatenate([piece[k] for piece in pieces])
            out[k] = column
    out["hit_x"] = out["hit_r"] * np.cos(out["hit_phi"])
    out["hit_y"] = out["hit_r"] * np.sin(out["hit_phi"])
    return out


def _sagitta(phi_at_layer, radii):
    """Distance [cm] of the true crossing near half the final radius from the chord IP -> last
    crossing: for a circle through the IP the arc's midpoint, i.e. the sagitta."""
    reached = np.isfinite(phi_at_layer)
    n = phi_at_layer.shape[1]
    if n == 0:
        return np.zeros(0)
    any_hit = reached.any(axis=0)
    last = phi_at_layer.shape[0] - 1 - np.argmax(reached[::-1], axis=0)
    cols = np.arange(n)
    r_last = radii[last]
    mid = np.clip(np.searchsorted(radii, 0.5 * r_last), 0, len(radii) - 1)
    phi_mid = phi_at_layer[mid, cols].astype(float)
    phi_last = phi_at_layer[last, cols].astype(float)
    dist = np.abs(radii[mid] * np.sin(phi_mid - phi_last))
    return np.where(any_hit & np.isfinite(dist) & (mid < last), dist, 0.0)
