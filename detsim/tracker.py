"""Slow-MCP propagation through the beam pipe and the gas tracker, and the hits it leaves.

Vectorised over all MCPs of a chunk and stepped shell by shell (one gas shell per sense layer):

* Trajectory: a helix of charge q = +-eps e in the solenoid field B along +z. In the transverse
  plane the track is a circle through the IP with radius R[cm] = 100 p_T[GeV]/(0.3 |q| B[T])
  (physics.md §7); the point at radius r has azimuth phi0 - s asin(r/2R), s = sign(q B), and the
  transverse path from r_a to r_b is 2R [asin(r_b/2R) - asin(r_a/2R)]. R is updated shell by
  shell as the MCP loses momentum (the polar angle is kept: dE/dx acts along p).
* Energy loss: continuous slowing down with a :class:`detsim.eloss.RangeTable` per material
  (models ``bethe`` G eq. 4-5, ``bethe_frozen`` G eq. 6, ``lindhard``). An MCP may stop in the
  pipe or the gas, leave through the outer radius or an endcap, or curl (2R below the radius).
* Hits (per layer crossed): ionization clusters ~ Poisson(mu_c) with
  mu_c = (dE/dx x path / W) / n_e, n_e the mean electrons per cluster (the gas's MIP value
  (dE/dx)_MIP / (W n_p), but at most T_max/W and at least 1 for slow MCPs); a cell fires when
  it collects >= ``threshold_electrons`` electrons, the cluster sizes being geometric (Polya-
  Aeppli counts). delta-electrons above T_min ~ Poisson(G eq. 9 rate x path), each making a hit
  in its cell. Hits are smeared by the r-phi and z resolutions. Noise hits ~ Poisson(occupancy x
  cells) per layer, uniform in phi and z.

Randomness comes from fixed rows of uniforms per layer (a ``source(stage, rows)`` callable), so
results are reproducible and independent of how events are chunked.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np
from scipy.special import ndtri
from scipy.stats import poisson

from . import _kernels
from .eloss import (
    K_GEV_CM2_PER_MOL,
    M_E_GEV,
    RangeTable,
    dedx_gev_per_cm,
    delta_rate_per_cm,
    t_max_gev,
)
from .geometry import Tracker
from .materials import Material

__all__ = [
    "STATUS",
    "simulate_tracker",
    "poisson_from_uniform",
    "prob_at_least",
    "mip_dedx_gev_per_cm",
    "curvature_radius_cm",
    "numpy_source",
]

#: MCP fate codes written to ``*_status``
STATUS = {"escaped": 0, "stopped_pipe": 1, "stopped_gas": 2, "endcap": 3, "curled": 4, "inside": 5}

STAGE_DETSIM = 3  # mcpgen.rng.Stage.DETSIM
_U_EDGE = 2.0**-54
_NOISE_TRUNCATION = 1e-9  # probability of more noise hits per layer than slots


def curvature_radius_cm(p_t_gev, charge, field_t):
    """R[cm] = 100 p_T / (0.3 |q| B) (physics.md §7); inf for B = 0 or q = 0."""
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
    frozen: np.ndarray | None = None  # constant velocity (energy loss over the whole gas < 1 %)


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


def _cross_material(m: _Mcp, r_b: float, table: RangeTable, dedx: BetaTable, field_t: float, stop_status: str):
    """Move alive MCPs to r_b through a material; returns (path_cm, beta_mid, reached_mask).

    Energy loss by the midpoint rule, dT = dE/dx(beta at mid-step) x path, while dT < 2 % of
    T (error O((dT/T)^2) < 1e-3 of dT); otherwise, and for every MCP that may stop, exactly
    from the CSDA range table.
    """
    path_xy, phi_b, z_b, curls, _ = _geometry_step(m, r_b, field_t)
    _kill(m, curls, "curled")
    path = np.nan_to_num(np.where(m.alive, path_xy / m.sin_theta, 0.0))
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
    exact = np.flatnonzero(m.alive & (loss > 0.02 * kin))
    if exact.size:
        k0, s0 = kin[exact], path[exact]
        ke = table.kinetic_after_cm(k0, s0)
        stops = ~(ke > 0)
        rng = np.nan_to_num(table.range_cm(k0), posinf=np.inf)
        trav = np.where(stops, np.minimum(s0, rng), s0)
        k_end[exact] = np.where(stops, 0.0, ke)
        travelled[exact] = trav
        beta_mid[exact] = _beta_of(table.kinetic_after_cm(k0, 0.5 * trav), m.mass)
    stops = m.alive & ~(k_end > 0)
    frac = np.divide(travelled, path, out=np.zeros_like(path), where=path > 0)
    r_stop = m.radius + frac * (r_b - m.radius)
    reached = m.alive.copy()
    m.kinetic = np.where(m.alive, np.maximum(k_end, 0.0), m.kinetic)
    m.phi = np.where(m.alive, phi_b, m.phi)
    m.z = np.where(m.alive, z_b, m.z)
    m.radius = np.where(m.alive, np.where(stops, r_stop, r_b), m.radius)
    _kill(m, stops, stop_status)
    return travelled, beta_mid, reached


def _advance_vacuum(m: _Mcp, r_b: float, field_t: float):
    if r_b <= 0:
        return
    path_xy, phi_b, z_b, curls, _ = _geometry_step(m, r_b, field_t)
    _kill(m, curls, "curled")
    m.phi = np.where(m.alive, phi_b, m.phi)
    m.z = np.where(m.alive, z_b, m.z)
    m.radius = np.where(m.alive, r_b, m.radius)


def _make_state(events, n: int) -> _Mcp:
    chi, bar = events["chi"], events["chibar"]

    def col(name):
        return np.concatenate([ak.to_numpy(chi[name]), ak.to_numpy(bar[name])])

    px, py, pz, e, q = col("px"), col("py"), col("pz"), col("E"), col("charge")
    p = np.sqrt(px**2 + py**2 + pz**2)
    pt = np.hypot(px, py)
    mass = float(np.median(np.sqrt(np.clip(e**2 - p**2, 0, None)))) if len(e) else 1.0
    two_n = 2 * n
    return _Mcp(
        event=np.concatenate([np.arange(n), np.arange(n)]),
        which=np.repeat(np.array([1, 2], dtype=np.int8), n),
        mass=mass,
        eps=float(np.abs(q).max()) if len(q) else 0.0,
        kinetic=e - mass,
        sin_theta=np.where(p > 0, pt / np.where(p > 0, p, 1.0), 1.0),
        cot_theta=np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0),
        sign=np.sign(q),
        phi=np.arctan2(py, px),
        radius=np.zeros(two_n),
        z=np.zeros(two_n),
        alive=np.ones(two_n, dtype=bool),
        status=np.full(two_n, STATUS["inside"], dtype=np.int8),
    )


#: Use the compiled stepping kernel (numba) when available; False forces the numpy reference.
USE_COMPILED_KERNEL = True


def simulate_tracker(events, tracker: Tracker, source, tables: dict | None = None) -> dict:
    """Propagate the chi and chibar of ``events`` through ``tracker``; return hit and MCP arrays.

    ``source(stage, rows, n)`` returns uniforms of shape (rows, n) for the chunk's n events
    (``stage`` is a tuple naming the stream). Returns a dict of flat numpy arrays: per hit
    (``hit_event``, ``hit_layer``, ``hit_x``, ``hit_y``, ``hit_z``, ``hit_phi``, ``hit_r``,
    ``hit_source`` 0 noise / 1 chi / 2 chibar, ``hit_mech`` 0 noise / 1 ionization / 2 delta /
    3 both) and per MCP (``status``, ``r_end``, ``n_delta``, ``n_hits``, ``beta``, ``beta_min``,
    ``out_of_validity``, ``path_gas``, ``sagitta``, ``radius_of_curvature``), MCP arrays of
    length 2n (chi then chibar).

    In the gas, MCPs whose energy loss stays small (see :func:`_compiled_mask`) are stepped by a
    compiled kernel that repeats the numpy stepping exactly; the others by the numpy code, which
    switches to the exact CSDA range tables where a shell costs more than 2 % of the energy or
    the MCP stops. Both use the same per-layer random numbers.
    """
    n = len(events)
    m = _make_state(events, n)
    field_t = tracker.field_t
    tables = tables if tables is not None else build_tables(tracker, m.eps, m.mass)
    beta0 = _beta_of(m.kinetic, m.mass)
    acc = _Accumulators(n, beta0, tracker.n_layers)
    acc.rad0 = curvature_radius_cm(_momentum(m.kinetic, m.mass) * m.sin_theta, m.eps, field_t)

    pipe = tracker.beam_pipe
    if pipe is not None:
        _advance_vacuum(m, pipe.radius_cm, field_t)
        _, b_mid, reached = _cross_material(
            m, pipe.radius_cm + pipe.thickness_cm, tables["pipe"], tables["pipe_beta"], field_t, "stopped_pipe"
        )
        acc.invalid |= reached & (tables["pipe_beta"]("invalid", b_mid) > 0.5)
        acc.beta_min = np.where(reached, np.minimum(acc.beta_min, b_mid), acc.beta_min)
    _advance_vacuum(m, tracker.inner_radius_cm, field_t)

    m.frozen = _frozen_mask(m, tracker, tables["gas_beta"])
    compiled = np.flatnonzero(_compiled_mask(m, tracker, tables)) if _use_kernel(tracker) else np.empty(0, int)
    mc = _subset(m, compiled)
    stepper = _CompiledStepper(mc, compiled, tracker, tables, acc) if compiled.size else None
    rest = np.setdiff1d(np.flatnonzero(m.alive), compiled)
    ms = _subset(m, rest)
    for k in range(tracker.n_layers):
        u = source((STAGE_DETSIM, 1, k), 4, n)
        u_ion = np.concatenate([u[0], u[1]])
        u_delta = np.concatenate([u[2], u[3]])
        if stepper is not None:
            stepper.layer(k, u_ion, u_delta)
        if ms.alive.any():
            _slow_layer(ms, rest, k, tracker, tables, u_ion, u_delta, acc)
    _kill(ms, ms.alive, "escaped")
    _kill(mc, mc.alive, "escaped")
    status, r_end = m.status.copy(), m.radius.copy()
    status[rest], r_end[rest] = ms.status, ms.radius
    status[compiled], r_end[compiled] = mc.status, mc.radius
    acc.hits.append(noise_hits(tracker, source, n))
    hit = _concat_hits(acc.hits, n)
    return {
        **hit,
        "status": status,
        "r_end": r_end,
        "n_delta": acc.n_delta,
        "n_hits": acc.n_hits,
        "beta": beta0,
        "beta_min": acc.beta_min,
        "out_of_validity": acc.invalid,
        "path_gas": acc.path_gas,
        "sagitta": _sagitta(acc.phi_at_layer, tracker.radii),
        "radius_of_curvature": acc.rad0,
    }


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


def _subset(m: _Mcp, idx) -> _Mcp:
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
        frozen=None if m.frozen is None else m.frozen[idx],
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
    These never take the exact range-table branch of :func:`_cross_material`, which the
    compiled stepper leaves out; the others are stepped by the numpy code."""
    widest = float(np.max(np.diff(tracker.shell_edges_cm)))
    first = _gas_loss_fraction(m, tracker, tables["gas_beta"], widest) < 0.01
    longest = 1.1 * (tracker.outer_radius_cm - tracker.inner_radius_cm) / np.maximum(m.sin_theta, 1e-6)
    reach = np.nan_to_num(tables["gas"].range_cm(m.kinetic), nan=0.0, posinf=np.inf) > 5.0 * longest
    return m.alive & first & reach


class _CompiledStepper:
    """Drives :func:`detsim._kernels.stepped_layer` for a sub-state of MCPs, layer by layer."""

    def __init__(self, mc: _Mcp, idx, tracker: Tracker, tables: dict, acc: _Accumulators):
        self.mc, self.idx, self.tracker, self.acc = mc, idx, tracker, acc
        table = tables["gas_beta"]
        self.table = table
        self.buf = _kernels.buffers(len(idx))
        self.a_prev = np.full(len(idx), np.nan)  # asin(r/2R) at the last edge, for frozen MCPs
        self.sign = mc.sign.astype(float)
        # frozen MCPs: momentum, radius of curvature and rates at the gas entry (exactly what the
        # numpy stepping recomputes every shell from the unchanged kinetic energy)
        self.f_beta = _beta_of(mc.kinetic, mc.mass)
        rad = curvature_radius_cm(_momentum(mc.kinetic, mc.mass) * mc.sin_theta, mc.eps, tracker.field_t)
        self.f_rad = np.where(np.isfinite(rad), rad, 0.0)
        self.f_rates = _rates(self.f_beta, tracker, table)

    def layer(self, k, u_ion, u_delta):
        mc, t, acc, b, tab = self.mc, self.tracker, self.acc, self.buf, self.table
        if not mc.alive.any():
            return
        v = tab.values
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
            mc.frozen,
            self.a_prev,
            self.f_rad,
            self.f_beta,
            self.f_rates[0],
            self.f_rates[1],
            self.f_rates[3],
            v["dedx"],
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
        )
        if n_out == 0:
            return
        loc = b["local"][:n_out]
        r_k = t.radii[k]
        phi = b["phi"][:n_out] + t.resolution_rphi_cm / r_k * ndtri(np.clip(b["u_rphi"][:n_out], _U_EDGE, 1 - _U_EDGE))
        z = b["z"][:n_out] + t.resolution_z_cm * ndtri(np.clip(b["u_z"][:n_out], _U_EDGE, 1 - _U_EDGE))
        acc.hits.append(_hit_block(mc.event[loc], k, r_k, phi, z, mc.which[loc], b["mech"][:n_out].copy()))


def _rates(bm, tracker, gas_beta):
    """Per-cm ionization-cluster and delta-electron means, mean cluster size, validity flag."""
    where = gas_beta.locate(bm)
    mean_e = gas_beta.read("mean_e", where)
    clusters = gas_beta.read("dedx", where) / tracker.gas.w_value_gev / mean_e
    return clusters, gas_beta.read("delta_rate", where), mean_e, gas_beta.read("invalid", where) > 0.5


def _layer_hits(k, gidx, which, event, rates, trav, r_hit, phi_true, z_true, ui, ud, tracker, acc):
    """Ionization and delta-electron hits of MCPs ``gidx`` (global indices) crossing shell k;
    ``rates`` = :func:`_rates` at their velocity in the shell."""
    clusters, delta_rate, mean_e, _ = rates
    acc.path_gas[gidx] += trav
    acc.phi_at_layer[k, gidx] = phi_true
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
    acc.hits.append(_hit_block(event[fired], k, r, phi_meas, z_meas, which[fired], mech))


def _slow_layer(ms: _Mcp, gi, k, tracker: Tracker, tables: dict, u_ion, u_delta, acc: _Accumulators):
    """One shell for the stepped MCPs (sub-state ``ms``; ``gi`` maps to global MCP indices)."""
    edges, field_t = tracker.shell_edges_cm, tracker.field_t
    r_start, phi_start, z_start, kin_start = ms.radius.copy(), ms.phi.copy(), ms.z.copy(), ms.kinetic.copy()
    travelled, b_mid, reached = _cross_material(
        ms, edges[k + 1], tables["gas"], tables["gas_beta"], field_t, "stopped_gas"
    )
    out_z = reached & (np.abs(ms.z) > tracker.half_length_cm)  # leaves through an endcap
    _kill(ms, out_z, "endcap")
    loc = np.flatnonzero(reached & ~out_z & (travelled > 0))
    if loc.size == 0:
        return
    # true crossing of the sense wire (or the stopping point)
    r_hit = np.minimum(tracker.radii[k], ms.radius[loc])
    rad = curvature_radius_cm(_momentum(kin_start[loc], ms.mass) * ms.sin_theta[loc], ms.eps, field_t)
    a = np.nan_to_num(_half_turn(rad, r_hit) - _half_turn(rad, r_start[loc]))
    straight = ~np.isfinite(rad)
    phi_true = np.where(straight, phi_start[loc], phi_start[loc] - ms.sign[loc] * a)
    with np.errstate(invalid="ignore"):
        arc = np.where(straight, r_hit - r_start[loc], 2 * rad * a)
    z_true = z_start[loc] + arc * ms.cot_theta[loc]
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
        u_ion[g],
        u_delta[g],
        tracker,
        acc,
    )


def build_tables(tracker: Tracker, eps: float, mass: float) -> dict:
    """Range tables and beta tables (dE/dx, delta rate, cluster size, validity) for one (eps, m)."""
    from .eloss import validity_range

    gas, model = tracker.gas, tracker.eloss_model
    n_e_mip = max(mip_dedx_gev_per_cm(gas) / (gas.w_value_gev * gas.primary_clusters_per_cm), 1.0)

    def invalid(mat):
        lo, hi = validity_range(model, mat, mass)
        return lambda b: ~((b >= lo) & (b <= hi))

    tables = {
        "gas": RangeTable(eps, mass, gas, model),
        "gas_beta": BetaTable(
            {
                "dedx": lambda b: dedx_gev_per_cm(b, eps, mass, gas, model),
                "delta_rate": lambda b: delta_rate_per_cm(b, eps, mass, gas, tracker.delta_t_min_gev),
                "mean_e": lambda b: np.clip(t_max_gev(b, mass) / gas.w_value_gev, 1.0, n_e_mip),
                "invalid": invalid(gas),
            }
        ),
    }
    if tracker.beam_pipe is not None:
        mat = tracker.beam_pipe.material
        tables["pipe"] = RangeTable(eps, mass, mat, model)
        tables["pipe_beta"] = BetaTable(
            {"dedx": lambda b: dedx_gev_per_cm(b, eps, mass, mat, model), "invalid": invalid(mat)}
        )
    return tables


def _hit_block(event, layer, r, phi, z, source, mech):
    count = len(event)
    return {
        "hit_event": np.asarray(event, dtype=np.int64),
        "hit_layer": np.broadcast_to(np.asarray(layer, dtype=np.int16), (count,)),
        "hit_r": np.broadcast_to(np.asarray(r, dtype=np.float32), (count,)),
        "hit_phi": np.mod(phi, 2 * np.pi).astype(np.float32),
        "hit_z": np.asarray(z, dtype=np.float32),
        "hit_source": np.broadcast_to(np.asarray(source, dtype=np.int8), (count,)),
        "hit_mech": np.broadcast_to(np.asarray(mech, dtype=np.int8), (count,)),
    }


def noise_hits(tracker: Tracker, source, n: int, stage=(STAGE_DETSIM, 2)) -> dict:
    """Noise hits of n events: N ~ Poisson(occupancy x cells) per event (truncated where the
    tail is below 1e-9), each in a layer drawn in proportion to its cells, uniform in phi and z.
    Uses 1 + 3 x slots uniforms per event from stream ``stage``."""
    cells = tracker.cells_per_layer
    mu = float(cells.sum() * tracker.noise_occupancy)
    if mu <= 0:
        return _hit_block(np.empty(0, np.int64), np.empty(0, np.int16), np.empty(0), np.empty(0), np.empty(0), 0, 0)
    slots = int(poisson.ppf(1 - _NOISE_TRUNCATION, mu))
    u = source(stage, 1 + 3 * slots, n)
    counts = poisson_from_uniform(u[0], mu, max_k=slots)
    used = np.arange(slots)[:, None] < counts[None, :]
    event = np.broadcast_to(np.arange(n), (slots, n))[used]
    cumulative = np.cumsum(cells) / cells.sum()
    layer = np.minimum(np.searchsorted(cumulative, u[1 : 1 + slots][used], side="right"), len(cells) - 1)
    phi = 2 * np.pi * u[1 + slots : 1 + 2 * slots][used]
    z = tracker.half_length_cm * (2 * u[1 + 2 * slots :][used] - 1)
    return _hit_block(event, layer.astype(np.int16), tracker.radii[layer], phi, z, 0, 0)


_HIT_NAMES = ("hit_event", "hit_layer", "hit_r", "hit_phi", "hit_z", "hit_source", "hit_mech")
_HIT_DTYPES = (np.int64, np.int16, np.float32, np.float32, np.float32, np.int8, np.int8)


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
