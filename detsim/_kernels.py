"""Compiled (numba) kernel of the tracker's fast path: one layer for all fast MCPs in one loop.

It does exactly what the numpy code of :class:`detsim.tracker._FastPath` does for a
one-electron threshold (same formulas, same random numbers, same order of hits): helix geometry
to the shell's outer edge (curling, endcap), path in the shell, P(>= 1 ionization cluster)
= 1 - exp(-mu), Poisson delta-electrons by inverse CDF, and the conditional uniforms reused for
the r-phi and z smearing. The numpy version is kept as the reference (tests compare them).
"""

from __future__ import annotations

import math

import numpy as np

try:
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency; keep working without it
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        def wrap(fn):
            return fn

        return wrap


__all__ = ["HAVE_NUMBA", "fast_layer"]

CURLED, ENDCAP = 4, 3


@njit(cache=True, nogil=True)
def fast_layer(
    k,
    r_a,
    r_b,
    r_k,
    r_in,
    half_length,
    alive,
    status,
    r_end,
    a_prev,
    rad,
    straight,
    sin_t,
    cot_t,
    sign,
    phi_in,
    z_in,
    a_in,
    clusters,
    delta_rate,
    gidx,
    u_ion,
    u_delta,
    path_gas,
    n_delta,
    n_hits,
    phi_at_layer,
    out_local,
    out_phi,
    out_z,
    out_mech,
    out_u_rphi,
    out_u_z,
):  # pragma: no cover - compiled; checked against the numpy path in the tests
    """Advance the fast MCPs through shell k; fill the hit buffers; return the number of hits."""
    n_out = 0
    for i in range(alive.shape[0]):
        if not alive[i]:
            continue
        if straight[i]:
            a_out = 0.0
            arc_out = r_b - r_in
        else:
            x = r_b / (2.0 * rad[i])
            if x > 1.0:
                status[i] = CURLED
                alive[i] = False
                continue
            a_out = math.asin(x)
            arc_out = 2.0 * rad[i] * (a_out - a_in[i])
        if abs(z_in[i] + arc_out * cot_t[i]) > half_length:
            status[i] = ENDCAP
            r_end[i] = r_b
            alive[i] = False
            continue
        if straight[i]:
            path_xy = r_b - r_a
        else:
            path_xy = 2.0 * rad[i] * (a_out - a_prev[i])
        a_prev[i] = a_out
        r_end[i] = r_b
        trav = path_xy / sin_t[i]
        g = gidx[i]
        path_gas[g] += trav
        if straight[i]:
            phi_t = phi_in[i]
            arc_k = r_k - r_in
        else:
            a_k = math.asin(r_k / (2.0 * rad[i]))
            phi_t = phi_in[i] - sign[i] * (a_k - a_in[i])
            arc_k = 2.0 * rad[i] * (a_k - a_in[i])
        z_t = z_in[i] + arc_k * cot_t[i]
        phi_at_layer[k, g] = phi_t
        p = -math.expm1(-clusters[i] * trav)
        ui = u_ion[g]
        ion = ui < p
        if ion:
            u_rphi = ui / max(p, 1e-300)
        else:
            u_rphi = (ui - p) / max(1.0 - p, 1e-300)
        mu = delta_rate[i] * trav
        ud = u_delta[g]
        term = math.exp(-mu)
        cdf = term
        lower = 0.0
        width = term
        nd = 0
        while ud >= cdf and nd < 10_000:
            nd += 1
            term = term * mu / nd
            lower = cdf
            width = term
            cdf += term
        u_z = min(max((ud - lower) / max(width, 1e-300), 0.0), 1.0)
        n_delta[g] += nd
        if ion or nd > 0:
            n_hits[g] += 1
            out_local[n_out] = i
            out_phi[n_out] = phi_t
            out_z[n_out] = z_t
            out_mech[n_out] = (1 if ion else 0) + (2 if nd > 0 else 0)
            out_u_rphi[n_out] = u_rphi
            out_u_z[n_out] = u_z
            n_out += 1
    return n_out


def buffers(n: int) -> dict:
    """Hit buffers for :func:`fast_layer` (at most one hit per MCP and layer)."""
    return {
        "local": np.empty(n, dtype=np.int64),
        "phi": np.empty(n),
        "z": np.empty(n),
        "mech": np.empty(n, dtype=np.int8),
        "u_rphi": np.empty(n),
        "u_z": np.empty(n),
    }


@njit(cache=True, nogil=True)
def roads_per_event(offsets, hit_r, hit_phi, n_h, min_hits, kappa, found, best):  # pragma: no cover - compiled
    """Road finder of :func:`detsim.finder.find_roads`, event by event (hits grouped by event,
    ``offsets`` of length n_events + 1). Only the half-bins touched by an event's hits are
    counted and reset, so the cost is proportional to the number of hits."""
    two_pi = 2.0 * math.pi
    width = two_pi / n_h
    n_hits = hit_phi.shape[0]
    fbin = np.empty(n_hits, dtype=np.int64)
    bbin = np.empty(n_hits, dtype=np.int64)
    for j in range(n_hits):
        shift = math.asin(min(max(0.5 * kappa * hit_r[j], -1.0), 1.0)) if kappa != 0.0 else 0.0
        fbin[j] = int(((hit_phi[j] - shift) % two_pi) // width) % n_h
        bbin[j] = int(((hit_phi[j] + shift - math.pi) % two_pi) // width) % n_h
    cf = np.zeros(n_h, dtype=np.int32)
    cb = np.zeros(n_h, dtype=np.int32)
    for e in range(offsets.shape[0] - 1):
        a, b = offsets[e], offsets[e + 1]
        if a == b:
            continue
        for j in range(a, b):
            cf[fbin[j]] += 1
            cb[bbin[j]] += 1
        top = 0
        for j in range(a, b):
            for h in (fbin[j], bbin[j]):
                for road in (h, (h - 1) % n_h):
                    nxt = (road + 1) % n_h
                    nf = cf[road] + cf[nxt]
                    nb = cb[road] + cb[nxt]
                    if nf > 0 and nb > 0 and nf + nb > top:
                        top = nf + nb
        for j in range(a, b):
            cf[fbin[j]] = 0
            cb[bbin[j]] = 0
        if top > best[e]:
            best[e] = top
        if top >= min_hits:
            found[e] = True


@njit(cache=True, nogil=True)
def circle_scan(offsets, hit_r, hit_phi, n_h, min_hits, kappas, skip, found, best):  # pragma: no cover - compiled
    """Circle hypothesis of :func:`detsim.finder.find_pairs`: for every event not in ``skip``
    with enough hits, try the curvatures in order until one road fires (same road definition
    as :func:`roads_per_event`, hits shifted by asin(kappa r / 2))."""
    two_pi = 2.0 * math.pi
    width = two_pi / n_h
    cf = np.zeros(n_h, dtype=np.int32)
    cb = np.zeros(n_h, dtype=np.int32)
    max_hits = 0
    for e in range(offsets.shape[0] - 1):
        max_hits = max(max_hits, offsets[e + 1] - offsets[e])
    fbin = np.empty(max_hits, dtype=np.int64)
    bbin = np.empty(max_hits, dtype=np.int64)
    for e in range(offsets.shape[0] - 1):
        a, b = offsets[e], offsets[e + 1]
        if skip[e] or b - a < min_hits:
            continue
        for kappa in kappas:
            if kappa == 0.0:
                continue
            for j in range(a, b):
                shift = math.asin(min(max(0.5 * kappa * hit_r[j], -1.0), 1.0))
                fbin[j - a] = int(((hit_phi[j] - shift) % two_pi) // width) % n_h
                bbin[j - a] = int(((hit_phi[j] + shift - math.pi) % two_pi) // width) % n_h
                cf[fbin[j - a]] += 1
                cb[bbin[j - a]] += 1
            top = 0
            for j in range(b - a):
                for h in (fbin[j], bbin[j]):
                    for road in (h, (h - 1) % n_h):
                        nxt = (road + 1) % n_h
                        nf = cf[road] + cf[nxt]
                        nb = cb[road] + cb[nxt]
                        if nf > 0 and nb > 0 and nf + nb > top:
                            top = nf + nb
            for j in range(b - a):
                cf[fbin[j]] = 0
                cb[bbin[j]] = 0
            if top > best[e]:
                best[e] = top
            if top >= min_hits:
                found[e] = True
                break
