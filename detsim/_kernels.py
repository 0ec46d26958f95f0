"""Compiled (numba) kernels of the tracker and the finder.

Each does what a numpy function of :mod:`detsim.tracker` / :mod:`detsim.finder` does (same
formulas, same random numbers, same order of hits) in one loop without temporaries: the
stepping of MCPs through a gas shell with hits (one-electron threshold) -- along the helix
through the IP (:func:`stepped_layer`) or, with multiple scattering, along a general helix
kicked at every sense wire (:func:`stepped_layer_ms`) -- and the road finder per event. The
numpy versions are kept as the reference (tests compare them).
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


__all__ = [
    "HAVE_NUMBA",
    "C_CM_PER_NS",
    "table_locate",
    "table_read",
    "beta_of_kinetic",
    "midpoint_hit_time",
    "transverse_curvature",
    "helix_crossing",
    "highland_at",
    "stepped_layer",
    "stepped_layer_ms",
    "roads_per_event",
    "circle_scan",
    "buffers",
]

CURLED, ENDCAP = 4, 3
C_CM_PER_NS = 29.9792458  #: speed of light [cm/ns]
_ALPHA_EM = 1.0 / 137.035999084


@njit(cache=True, nogil=True, inline="always")
def table_locate(lo, step, size, beta):  # pragma: no cover - compiled
    """:meth:`detsim.tracker.BetaTable.locate` at one beta (same arithmetic)."""
    x = (math.log(max(beta, 1e-300)) - lo) / step
    x = min(max(x, 0.0), size - 1.000001)
    i = int(x)
    return i, x - i


@njit(cache=True, nogil=True, inline="always")
def table_read(values, i, f):  # pragma: no cover - compiled
    return values[i] * (1.0 - f) + values[i + 1] * f


@njit(cache=True, nogil=True, inline="always")
def beta_of_kinetic(kinetic, mass):  # pragma: no cover - compiled
    return math.sqrt(max(kinetic * (kinetic + 2.0 * mass), 0.0)) / (kinetic + mass)


@njit(cache=True, nogil=True, inline="always")
def midpoint_hit_time(t_a, kin, k_end, path, s, mass):  # pragma: no cover - compiled
    """Time [ns] at path s into a shell entered at t_a with kinetic energy kin and left with
    k_end after ``path``: midpoint rule on [0, s] with T linear in the path
    (:func:`detsim.tracker._time_to`, same arithmetic)."""
    frac = s / path if path > 0.0 else 0.0
    return t_a + s / (C_CM_PER_NS * beta_of_kinetic(kin - 0.5 * (kin - k_end) * frac, mass))


@njit(cache=True, nogil=True)
def stepped_layer(
    k,
    r_b,
    r_k,
    half_length,
    mass,
    abs_eps,
    abs_field,
    w_value,
    alive,
    status,
    kinetic,
    phi,
    z,
    radius,
    sin_t,
    cot_t,
    sign,
    t_now,
    frozen,
    a_prev,
    f_rad,
    f_beta,
    f_clusters,
    f_delta,
    f_invalid,
    t_dedx,
    t_dedx_ion,
    t_delta,
    t_mean_e,
    t_invalid,
    lo,
    step,
    size,
    gidx,
    u_ion,
    u_delta,
    path_gas,
    n_delta,
    n_hits,
    phi_at_layer,
    invalid,
    beta_min,
    out_local,
    out_phi,
    out_z,
    out_mech,
    out_u_rphi,
    out_u_z,
    out_t,
):  # pragma: no cover - compiled; checked against the numpy path in the tests
    """One gas shell for MCPs whose loss per shell stays small: the numpy stepping of
    :func:`detsim.tracker._slow_layer` (helix with the current momentum, midpoint-rule energy
    loss and time, endcap, hits) in one loop. Returns the number of hits written to the buffers.

    The hit draws are written out here and in :func:`stepped_layer_ms` rather than shared
    through a helper: passing the dozen output arrays to a function per MCP (even inlined)
    made the loop ~ 2x slower (array reference counting)."""
    n_out = 0
    for i in range(alive.shape[0]):
        if not alive[i]:
            continue
        kin = kinetic[i]
        r_a = radius[i]
        if frozen[i]:  # constant velocity: momentum, radius and rates fixed at the gas entry
            rad = f_rad[i]
            straight = not rad > 0.0
        else:
            p = math.sqrt(max(kin * (kin + 2.0 * mass), 0.0))
            straight = abs_eps == 0.0 or abs_field == 0.0 or p * sin_t[i] == 0.0
            rad = 0.0 if straight else 100.0 * p * sin_t[i] / (0.299792458 * abs_eps * abs_field)
        if straight:
            a_a = 0.0
            path_xy = r_b - r_a
            dphi = 0.0
        else:
            xb = r_b / (2.0 * rad)
            if xb > 1.0:
                status[i] = 4  # curled
                alive[i] = False
                continue
            if frozen[i] and a_prev[i] == a_prev[i]:
                a_a = a_prev[i]  # constant radius: asin(r_a/2R) from the previous shell
            else:
                a_a = math.asin(min(r_a / (2.0 * rad), 1.0))
            a_b = math.asin(xb)
            a_prev[i] = a_b
            path_xy = 2.0 * rad * (a_b - a_a)
            dphi = sign[i] * (a_b - a_a)
        path = path_xy / sin_t[i]
        if frozen[i]:
            b_mid = f_beta[i]
            k_end = kin
        else:
            i0, f0 = table_locate(lo, step, size, p / (kin + mass))
            k_half = max(kin - 0.5 * table_read(t_dedx, i0, f0) * path, 0.0)
            b_mid = beta_of_kinetic(k_half, mass)
            im, fm = table_locate(lo, step, size, b_mid)
            k_end = kin - table_read(t_dedx, im, fm) * path
        phi_a, z_a = phi[i], z[i]
        t_a = t_now[i]
        t_now[i] = t_a + path / (C_CM_PER_NS * b_mid)
        kinetic[i] = max(k_end, 0.0)
        phi[i] = phi_a - dphi
        z[i] = z_a + path_xy * cot_t[i]
        radius[i] = r_b
        if not k_end > 0.0:
            status[i] = 2  # stopped in the gas (not expected for this class)
            alive[i] = False
            continue
        if abs(z[i]) > half_length:
            status[i] = 3  # endcap
            alive[i] = False
            continue
        if path <= 0.0:
            continue
        g = gidx[i]
        if straight:
            phi_t = phi_a
            arc = r_k - r_a
        else:
            a_k = math.asin(min(r_k / (2.0 * rad), 1.0))
            phi_t = phi_a - sign[i] * (a_k - a_a)
            arc = 2.0 * rad * (a_k - a_a)
        z_t = z_a + arc * cot_t[i]
        t_hit = midpoint_hit_time(t_a, kin, k_end, path, arc / sin_t[i], mass)
        if frozen[i]:
            clusters, delta_rate, bad = f_clusters[i], f_delta[i], f_invalid[i]
        else:
            clusters = table_read(t_dedx_ion, im, fm) / w_value / table_read(t_mean_e, im, fm)
            delta_rate = table_read(t_delta, im, fm)
            bad = table_read(t_invalid, im, fm) > 0.5
        if bad:
            invalid[g] = True
        if b_mid < beta_min[g]:
            beta_min[g] = b_mid
        path_gas[g] += path
        phi_at_layer[k, g] = phi_t
        pr = -math.expm1(-clusters * path)
        ui = u_ion[g]
        ion = ui < pr
        if ion:
            u_rphi = ui / max(pr, 1e-300)
        else:
            u_rphi = (ui - pr) / max(1.0 - pr, 1e-300)
        mu = delta_rate * path
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
            out_t[n_out] = t_hit
            n_out += 1
    return n_out


@njit(cache=True, nogil=True, inline="always")
def transverse_curvature(p, sin_t, abs_eps, abs_field):  # pragma: no cover - compiled
    """Transverse curvature 1/R [1/cm] = 0.3 |q| B / (100 p_T) (docs/physics.md §7); 0 if straight."""
    pt = p * sin_t
    if abs_eps == 0.0 or abs_field == 0.0 or not pt > 0.0:
        return 0.0
    return 0.299792458 * abs_eps * abs_field / (100.0 * pt)


@njit(cache=True, nogil=True, inline="always")
def helix_crossing(x, y, c, s, kappa, sgn, r_b):  # pragma: no cover - compiled
    """:func:`detsim.tracker._helix_step` for one MCP: (reaches, sigma, x_b, y_b, c_b, s_b)."""
    a_d = x * c + y * s
    a_n = sgn * (x * s - y * c)
    dr2 = r_b * r_b - (x * x + y * y)
    big_a = 4.0 + 4.0 * kappa * a_n - kappa * kappa * dr2
    disc = 4.0 * a_d * a_d + big_a * dr2
    if a_d < 0.0 or disc < 0.0:
        return False, 0.0, x, y, c, s
    den = 2.0 * a_d + math.sqrt(disc)
    q = dr2 / den if den > 0.0 else 0.0
    w = kappa * q
    inv = 1.0 / (1.0 + w * w)
    sigma = 2.0 * q * (math.atan(w) / w) if w != 0.0 else 2.0 * q
    d_d = 2.0 * q * inv
    d_n = sgn * (d_d * w)
    ca = (1.0 - w * w) * inv
    sa = sgn * (2.0 * w * inv)
    return True, sigma, x + d_d * c + d_n * s, y + d_d * s - d_n * c, c * ca + s * sa, s * ca - c * sa


@njit(cache=True, nogil=True, inline="always")
def highland_at(t, beta, p, abs_eps):  # pragma: no cover - compiled
    """:func:`detsim.scattering.highland_variance` at one point (same arithmetic)."""
    if not t > 0.0:
        return 0.0
    z2 = abs_eps * abs_eps
    bracket = max(1.0 + 0.038 * math.log(t * z2 / (beta * beta)), 0.0)
    scale = 0.0136 / (beta * p)
    return scale * scale * z2 * t * (bracket * bracket)


@njit(cache=True, nogil=True)
def stepped_layer_ms(
    k,
    r_k,
    r_b,
    half_length,
    mass,
    abs_eps,
    abs_field,
    w_value,
    alive,
    status,
    kinetic,
    x,
    y,
    z,
    radius,
    cpsi,
    spsi,
    sin_t,
    cot_t,
    sign,
    t_now,
    frozen,
    f_beta,
    f_p,
    f_clusters,
    f_delta,
    f_invalid,
    x0_cm,
    omega_c,
    z_eff,
    t_dedx,
    t_dedx_ion,
    t_delta,
    t_mean_e,
    t_invalid,
    lo,
    step,
    size,
    gidx,
    u_ion,
    u_delta,
    u_ms1,
    u_ms2,
    path_gas,
    n_delta,
    n_hits,
    phi_at_layer,
    invalid,
    beta_min,
    ms_x0,
    ms_var,
    ms_omega,
    ms_kick_bend,
    ms_kick_polar,
    out_local,
    out_phi,
    out_z,
    out_mech,
    out_u_rphi,
    out_u_z,
    out_t,
):  # pragma: no cover - compiled; checked against the numpy path in the tests
    """One gas shell with multiple scattering for MCPs whose loss per shell stays small: the
    numpy stepping of :func:`detsim.tracker._ms_shell` and :func:`detsim.tracker._slow_layer_ms`
    (general helix to the sense wire r_k, Highland kick there, general helix to r_b, midpoint
    energy loss and time over the actual path, endcap, hits) in one loop. Returns the number
    of hits written to the buffers."""
    n_out = 0
    e2 = abs_eps * abs_eps
    for i in range(alive.shape[0]):
        if not alive[i]:
            continue
        g = gidx[i]
        kin = kinetic[i]
        st, ct = sin_t[i], cot_t[i]
        sgn = sign[i]
        if frozen[i]:
            p = f_p[i]
        else:
            p = math.sqrt(max(kin * (kin + 2.0 * mass), 0.0))
        kappa = transverse_curvature(p, st, abs_eps, abs_field)
        ok_b, sig_b, _, _, _, _ = helix_crossing(x[i], y[i], cpsi[i], spsi[i], kappa, sgn, r_b)
        if not ok_b:
            status[i] = 4  # curled (turns back before r_b)
            alive[i] = False
            continue
        _, sig_k, x_k, y_k, c_k, s_k = helix_crossing(x[i], y[i], cpsi[i], spsi[i], kappa, sgn, r_k)
        path_k = sig_k / st
        path_est = sig_b / st
        # Highland kick at the sense wire, with beta p at mid-shell
        if frozen[i]:
            b_k = f_beta[i]
            p_k = p
        else:
            i0, f0 = table_locate(lo, step, size, p / (kin + mass))
            d_start = table_read(t_dedx, i0, f0)
            k_half = max(kin - 0.5 * d_start * path_est, 0.0)
            b_k = beta_of_kinetic(k_half, mass)
            p_k = math.sqrt(max(k_half * (k_half + 2.0 * mass), 0.0))
        dx0 = path_est / x0_cm
        var = highland_at(ms_x0[g] + dx0, b_k, p_k, abs_eps) - highland_at(ms_x0[g], b_k, p_k, abs_eps)
        big = math.sqrt(max(var, 0.0)) * math.sqrt(-2.0 * math.log1p(-u_ms1[g]))
        ang = 2.0 * math.pi * u_ms2[g]
        ca, sa = math.cos(ang), math.sin(ang)
        cb, sb = math.cos(big), math.sin(big)
        cz = ct * st
        dxv = cb * st * c_k + sb * (-ca * s_k + sa * cz * c_k)
        dyv = cb * st * s_k + sb * (ca * c_k + sa * cz * s_k)
        dzv = cb * cz - sb * sa * st
        st2 = max(math.sqrt(dxv * dxv + dyv * dyv), 1e-12)
        c2, s2, ct2 = dxv / st2, dyv / st2, dzv / st2
        kappa2 = transverse_curvature(p, st2, abs_eps, abs_field)
        ok_2, sig_2, x_b, y_b, c_b, s_b = helix_crossing(x_k, y_k, c2, s2, kappa2, sgn, r_b)
        if ok_2:
            path_2 = sig_2 / st2
        else:
            path_2 = (sig_b - sig_k) / st
        path = path_k + path_2
        if frozen[i]:
            b_mid = f_beta[i]
            k_end = kin
        else:
            k_half = max(kin - 0.5 * d_start * path, 0.0)
            b_mid = beta_of_kinetic(k_half, mass)
            im, fm = table_locate(lo, step, size, b_mid)
            k_end = kin - table_read(t_dedx, im, fm) * path
        t_a = t_now[i]
        t_now[i] = t_a + path / (C_CM_PER_NS * b_mid)
        kinetic[i] = max(k_end, 0.0)
        ms_x0[g] += dx0
        ms_var[g] += var
        ms_omega[g] += omega_c * e2 * path_est / (b_k * b_k) / (1.0 + 3.34 * (z_eff * abs_eps * _ALPHA_EM / b_k) ** 2)
        ms_kick_bend[g] += big * ca
        ms_kick_polar[g] += big * sa
        z_k = z[i] + sig_k * ct
        sin_t[i] = st2
        cot_t[i] = ct2
        if ok_2:
            x[i], y[i], cpsi[i], spsi[i] = x_b, y_b, c_b, s_b
            z[i] = z_k + sig_2 * ct2
            radius[i] = r_b
        else:
            x[i], y[i], cpsi[i], spsi[i] = x_k, y_k, c2, s2
            z[i] = z_k
            radius[i] = r_k
        if not k_end > 0.0:
            status[i] = 2  # stopped in the gas (not expected for this class)
            alive[i] = False
            continue
        if not ok_2:
            status[i] = 4  # curled: turns back after the kick (the layer's hit is kept)
            alive[i] = False
        if abs(z[i]) > half_length:
            if alive[i]:
                status[i] = 3  # endcap
                alive[i] = False
            continue
        if path <= 0.0:
            continue
        t_hit = midpoint_hit_time(t_a, kin, k_end, path, path_k, mass)
        if frozen[i]:
            clusters, delta_rate, bad = f_clusters[i], f_delta[i], f_invalid[i]
        else:
            clusters = table_read(t_dedx_ion, im, fm) / w_value / table_read(t_mean_e, im, fm)
            delta_rate = table_read(t_delta, im, fm)
            bad = table_read(t_invalid, im, fm) > 0.5
        if bad:
            invalid[g] = True
        if b_mid < beta_min[g]:
            beta_min[g] = b_mid
        path_gas[g] += path
        phi_t = math.atan2(y_k, x_k)
        phi_at_layer[k, g] = phi_t
        pr = -math.expm1(-clusters * path)
        ui = u_ion[g]
        ion = ui < pr
        if ion:
            u_rphi = ui / max(pr, 1e-300)
        else:
            u_rphi = (ui - pr) / max(1.0 - pr, 1e-300)
        mu = delta_rate * path
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
            out_z[n_out] = z_k
            out_mech[n_out] = (1 if ion else 0) + (2 if nd > 0 else 0)
            out_u_rphi[n_out] = u_rphi
            out_u_z[n_out] = u_z
            out_t[n_out] = t_hit
            n_out += 1
    return n_out


def buffers(n: int) -> dict:
    """Hit buffers for :func:`stepped_layer` / :func:`stepped_layer_ms` (at most one hit per
    MCP and layer)."""
    return {
        "local": np.empty(n, dtype=np.int64),
        "phi": np.empty(n),
        "z": np.empty(n),
        "mech": np.empty(n, dtype=np.int8),
        "u_rphi": np.empty(n),
        "u_z": np.empty(n),
        "t": np.empty(n),
    }


@njit(cache=True, nogil=True, inline="always")
def _best_road(cf, cb, h, n_h, top):  # pragma: no cover - compiled
    """Largest forward + backward count (both > 0) of the two roads containing half-bin h."""
    prev = h - 1 if h > 0 else n_h - 1
    nxt = h + 1 if h + 1 < n_h else 0
    for road, other in ((prev, h), (h, nxt)):
        nf = cf[road] + cf[other]
        nb = cb[road] + cb[other]
        if nf > 0 and nb > 0 and nf + nb > top:
            top = nf + nb
    return top


@njit(cache=True, nogil=True, inline="always")
def _bins(phi, r, kappa, width, n_h):  # pragma: no cover - compiled
    """Forward and backward half-bins of a hit on a circle of curvature kappa through the IP."""
    two_pi = 2.0 * math.pi
    shift = math.asin(min(max(0.5 * kappa * r, -1.0), 1.0)) if kappa != 0.0 else 0.0
    f = int(((phi - shift) % two_pi) // width) % n_h
    g = int(((phi + shift - math.pi) % two_pi) // width) % n_h
    return f, g


@njit(cache=True, nogil=True, inline="always")
def _event_top(fbin, bbin, a, b, cf, cb, n_h):  # pragma: no cover - compiled
    """Largest road count of the hits fbin/bbin[a:b]; the counters are left at zero."""
    for j in range(a, b):
        cf[fbin[j]] += 1
        cb[bbin[j]] += 1
    top = 0
    for j in range(a, b):
        for h in (fbin[j], bbin[j]):
            top = _best_road(cf, cb, h, n_h, top)
    for j in range(a, b):
        cf[fbin[j]] = 0
        cb[bbin[j]] = 0
    return top


@njit(cache=True, nogil=True)
def roads_per_event(offsets, hit_r, hit_phi, n_h, min_hits, kappa, found, best):  # pragma: no cover - compiled
    """Road finder of :func:`detsim.finder.find_roads`, event by event (hits grouped by event,
    ``offsets`` of length n_events + 1). Only the half-bins touched by an event's hits are
    counted and reset, so the cost is proportional to the number of hits."""
    width = 2.0 * math.pi / n_h
    n_hits = hit_phi.shape[0]
    fbin = np.empty(n_hits, dtype=np.int64)
    bbin = np.empty(n_hits, dtype=np.int64)
    for j in range(n_hits):
        fbin[j], bbin[j] = _bins(hit_phi[j], hit_r[j], kappa, width, n_h)
    cf = np.zeros(n_h, dtype=np.int32)
    cb = np.zeros(n_h, dtype=np.int32)
    for e in range(offsets.shape[0] - 1):
        a, b = offsets[e], offsets[e + 1]
        if a == b:
            continue
        top = _event_top(fbin, bbin, a, b, cf, cb, n_h)
        if top > best[e]:
            best[e] = top
        if top >= min_hits:
            found[e] = True


@njit(cache=True, nogil=True)
def circle_scan(offsets, hit_r, hit_phi, n_h, min_hits, kappas, skip, found, best):  # pragma: no cover - compiled
    """Circle hypothesis of :func:`detsim.finder.find_pairs`: for every event not in ``skip``
    with enough hits, try the curvatures in order until one road fires (same road definition
    as :func:`roads_per_event`, hits shifted by asin(kappa r / 2))."""
    width = 2.0 * math.pi / n_h
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
                fbin[j - a], bbin[j - a] = _bins(hit_phi[j], hit_r[j], kappa, width, n_h)
            top = _event_top(fbin, bbin, 0, b - a, cf, cb, n_h)
            if top > best[e]:
                best[e] = top
            if top >= min_hits:
                found[e] = True
                break
