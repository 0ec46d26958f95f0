"""Compiled (numba) pass over a whole chunk: every MCP through all gas shells, hits emitted in
the output order, then every finder hypothesis per event.

:func:`helix_pass` (helix through the IP) and :func:`scatter_pass` (general helix with a
multiple-scattering kick at every sense wire, ``docs/physics.md`` §12) take each MCP of the
compiled class (energy loss small everywhere in the gas, :func:`detsim.tracker._compiled_mask`)
through all shells in one loop -- the stepping, energy loss, hit times (``docs/physics.md``
§13) and hit draws of :func:`detsim._kernels.stepped_layer` / ``stepped_layer_ms``, same
formulas in the same order -- and write the chunk's hits straight into flat arrays grouped by
event: per event, layer by layer, the chi hit then the chibar hit of compiled MCPs, then those of
MCPs stepped by the numpy range-table path, then the noise hits (the order of
:func:`detsim.tracker._concat_hits`), later hits than the readout window dropped and counted per
MCP. The Gaussian smearing uses scipy's own ``ndtri`` (called through its C entry point), so
the hits are those of the numpy reference bit for bit.

:func:`pairs_pass` runs the line roads, the circle scan and the boosted two-ray hypothesis of
:mod:`detsim.finder` on every event of the flat, event-grouped hits (``docs/physics.md`` §14).
"""

from __future__ import annotations

import math

import numpy as np

from ._finder_kernels import close_pair_best, ring_distance
from ._kernels import (
    C_CM_PER_NS,
    HAVE_NUMBA,
    beta_of_kinetic,
    helix_crossing,
    highland_at,
    midpoint_hit_time,
    njit,
    table_locate,
    table_read,
    transverse_curvature,
)

__all__ = ["HAVE_NUMBA", "helix_pass", "scatter_pass", "pairs_pass", "ndtri_available"]

_ALPHA_EM = 1.0 / 137.035999084
_U_EDGE = 2.0**-54
_TWO_PI = 2.0 * math.pi

ndtri_available = False
if HAVE_NUMBA:  # scipy's ndtri (the numpy reference's smearing) from compiled code
    try:
        import llvmlite.binding as _llvm
        from numba import types as _types
        from numba.extending import get_cython_function_address

        _llvm.add_symbol("mcpgen_detsim_ndtri", get_cython_function_address("scipy.special.cython_special", "ndtri"))
        _ndtri_c = _types.ExternalFunction("mcpgen_detsim_ndtri", _types.float64(_types.float64, _types.intc))
        ndtri_available = True
    except Exception:  # pragma: no cover - scipy without its C entry point: the numpy path is used
        ndtri_available = False
if not ndtri_available:  # pragma: no cover

    def _ndtri_c(u, flag):
        raise RuntimeError("scipy ndtri entry point unavailable")


@njit(cache=True, nogil=True, inline="always")
def _gauss(u):  # pragma: no cover - compiled
    """scipy.special.ndtri(clip(u, 2^-54, 1 - 2^-54)) (:func:`detsim.tracker._layer_hits`)."""
    return _ndtri_c(min(max(u, _U_EDGE), 1.0 - _U_EDGE), 0)


@njit(cache=True, nogil=True)
def _fmod_exact(x, y):  # pragma: no cover - compiled
    """C's fmod(x, y) for y > 0 (exact: the remainder is representable) by shift and subtract:
    r - t with t <= r < 2 t is exact (Sterbenz), doubling t is exact. Kept free of LLVM's
    ``frem`` -- an instruction the optimiser speculates, so a rarely taken ``x % y`` branch would
    cost a library call on every pass through a hot loop. NaN for x = +-inf or NaN."""
    if not abs(x) < math.inf or not y > 0.0:
        return math.nan
    r = abs(x)
    while r >= y:
        t = y
        while t + t <= r:  # exact doubling (0.5 r would round for subnormal r)
            t += t
        r -= t
    return math.copysign(r, x)


@njit(cache=True, nogil=True)
def _py_divmod(x, y):  # pragma: no cover - compiled
    """Python's float divmod(x, y) for y > 0 (CPython ``float_divmod``), on :func:`_fmod_exact`."""
    mod = _fmod_exact(x, y)
    div = (x - mod) / y
    if mod != 0.0:
        if mod < 0.0:
            mod += y
            div -= 1.0
    else:
        mod = math.copysign(0.0, y)
    if div != 0.0:
        floordiv = np.floor(div)
        if div - floordiv > 0.5:
            floordiv += 1.0
    else:
        floordiv = math.copysign(0.0, x / y)
    return floordiv, mod


@njit(cache=True, nogil=True, inline="always")
def _pymod(x, y):  # pragma: no cover - compiled
    """Python's (and numpy's) float x % y for y > 0 without the library call where |x| < y
    (fmod(x, y) = x there; a negative remainder takes + y, as in CPython)."""
    if 0.0 <= x < y:
        return x + 0.0  # -0.0 % y is +0.0
    if -y < x < 0.0:
        return x + y
    return _py_divmod(x, y)[1]


@njit(cache=True, nogil=True, inline="always")
def _pyfloordiv(x, y, inv_y):  # pragma: no cover - compiled
    """Python's float x // y for x >= 0, y > 0 (``inv_y`` = 1/y): floor(x inv_y) unless that
    lies within 1e-9 of an integer, where rounding could cross it and Python's rule is taken."""
    q = x * inv_y
    f = math.floor(q)
    if q - f < 1e-9 or f + 1.0 - q < 1e-9:
        return _py_divmod(x, y)[0]
    return f


@njit(cache=True, nogil=True, inline="always")
def _half_bin(x, width, inv_width, n_h):  # pragma: no cover - compiled
    """int((x % 2 pi) // width) % n_h (:func:`detsim._kernels._bins`); the quotient lies in
    [0, n_h], so the integer remainder is a subtraction."""
    v = int(_pyfloordiv(_pymod(x, _TWO_PI), width, inv_width))
    if v >= n_h:
        v -= n_h
    return v if 0 <= v < n_h else v % n_h


#: Distance [half-bins] from a bin edge within which :func:`_bin_estimate` declines.
_EDGE_GUARD = 1e-8


@njit(cache=True, nogil=True, inline="always")
def _bin_estimate(q, n_h):  # pragma: no cover - compiled
    """:func:`_half_bin` of an azimuth x from q ~ x / width computed as phi / width - shift /
    width (one subtraction instead of the remainder and the division), or -1 where that may
    differ. q is within ~1e-12 half-bins of x / width (and of the quotient :func:`_half_bin`
    floors, 2 pi / width = n_h to 1e-16 relative), so the floors agree wherever q lies farther
    than 1e-8 from an integer -- which also keeps x off 0 and 2 pi, where the remainder's
    branches change, and off the 1e-9 band in which :func:`_pyfloordiv` takes Python's rule.
    |q| >= n_h (x outside (-2 pi, 2 pi)) declines too."""
    f = math.floor(q)
    if q - f < _EDGE_GUARD or f + 1.0 - q < _EDGE_GUARD or not -n_h < q < n_h:
        return -1
    v = np.int64(f)
    if v < 0:
        v += n_h
    return v - n_h if v >= n_h else v


@njit(cache=True, nogil=True, inline="always")
def _poisson_delta(ud, mu):  # pragma: no cover - compiled
    """Inverse-CDF Poisson count and its conditional uniform (:func:`detsim.tracker.poisson_from_uniform`)."""
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
    return nd, min(max((ud - lower) / max(width, 1e-300), 0.0), 1.0)


@njit(cache=True, nogil=True, inline="always")
def _surely_quiet(ui, ud, x_ion, mu_delta):  # pragma: no cover - compiled
    """True when the shell's hit draws certainly give no ionisation and no delta ray, decided
    without the exponentials: ui >= x_ion >= 1 - exp(-x_ion) (no ionisation) and
    ud < 1 - mu_delta <= exp(-mu_delta) (no delta ray), each with a 1e-12 relative margin far
    above the rounding of expm1 and exp. Such a shell leaves nothing behind (no hit, no delta
    count), so skipping the draws changes no result; any other shell takes the full draws.
    NaN inputs give False."""
    return ui >= x_ion * (1.0 + 1e-12) and ud < (1.0 - mu_delta) * (1.0 - 1e-12)


@njit(cache=True, nogil=True, inline="always")
def _smear(count, radii, res_rphi, res_z, h_layer, h_phi, h_z, h_urphi, h_uz):  # pragma: no cover - compiled
    """Measured phi (mod 2 pi) and z of an MCP's ``count`` hits: the true crossing smeared by
    the r-phi and z resolutions with the conditional uniforms of the hit draws
    (:func:`detsim.tracker._layer_hits`; float32 as the hit arrays hold them)."""
    for j in range(count):
        r_k = radii[h_layer[j]]
        h_phi[j] = np.float32(_pymod(h_phi[j] + res_rphi / r_k * _gauss(h_urphi[j]), _TWO_PI))
        h_z[j] = np.float32(h_z[j] + res_z * _gauss(h_uz[j]))


@njit(cache=True, nogil=True, inline="always")
def _sagitta_inputs(phi_layer, radii, g, sag_mid, sag_a, sag_b):  # pragma: no cover - compiled
    """Layer index and float32 azimuths of :func:`detsim.tracker._sagitta` for MCP g: the last
    layer reached, the one at half its radius (``sag_mid`` stays -1 when there is no sagitta)."""
    n_l = radii.shape[0]
    last = -1
    for k in range(n_l - 1, -1, -1):
        if phi_layer[k] == phi_layer[k]:
            last = k
            break
    if last < 0:
        return
    mid = np.searchsorted(radii, 0.5 * radii[last])
    mid = min(max(mid, 0), n_l - 1)
    if mid < last:
        sag_mid[g] = mid
        sag_a[g] = np.float64(phi_layer[mid])
        sag_b[g] = np.float64(phi_layer[last])


@njit(cache=True, nogil=True)
def _walk_helix(
    g,
    e,
    w,
    radii,
    edges,
    half_length,
    mass,
    abs_eps,
    abs_field,
    w_value,
    res_rphi,
    res_z,
    kinetic,
    phi,
    z,
    radius,
    sin_t,
    cot_t,
    sign,
    t_now,
    frozen,
    status,
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
    u_layer,
    path_gas,
    n_delta,
    n_hits,
    invalid,
    beta_min,
    phi_layer,
    h_layer,
    h_phi,
    h_z,
    h_mech,
    h_t,
    h_urphi,
    h_uz,
):  # pragma: no cover - compiled; checked against the numpy path in the tests
    """MCP g (w = 0 chi / 1 chibar; its event's uniforms ``u_layer[e, k, row]``, an
    :func:`_event_major` block) through every gas shell along the helix through the IP:
    :func:`detsim._kernels.stepped_layer` shell after shell with the state in registers.
    Writes its hits (layer order) to the h_* buffers and returns their number."""
    kin = kinetic[g]
    r_a = radius[g]
    phi_c = phi[g]
    z_c = z[g]
    t_c = t_now[g]
    st = sin_t[g]
    ct = cot_t[g]
    sgn = sign[g]
    fz = frozen[g]
    a_prev = np.nan
    n_out = 0
    alive = True
    stat = status[g]
    p = 0.0
    for k in range(radii.shape[0]):
        phi_layer[k] = np.nan
    for k in range(radii.shape[0]):
        r_b = edges[k + 1]
        r_k = radii[k]
        if fz:
            rad = f_rad[g]
            straight = not rad > 0.0
        else:
            p = math.sqrt(max(kin * (kin + 2.0 * mass), 0.0))
            straight = abs_eps == 0.0 or abs_field == 0.0 or p * st == 0.0
            rad = 0.0 if straight else 100.0 * p * st / (0.299792458 * abs_eps * abs_field)
        if straight:
            a_a = 0.0
            path_xy = r_b - r_a
            dphi = 0.0
        else:
            xb = r_b / (2.0 * rad)
            if xb > 1.0:
                stat = 4  # curled
                alive = False
                break
            if fz and a_prev == a_prev:
                a_a = a_prev
            else:
                a_a = math.asin(min(r_a / (2.0 * rad), 1.0))
            a_b = math.asin(xb)
            a_prev = a_b
            path_xy = 2.0 * rad * (a_b - a_a)
            dphi = sgn * (a_b - a_a)
        path = path_xy / st
        im = 0
        fm = 0.0
        if fz:
            b_mid = f_beta[g]
            k_end = kin
        else:
            i0, f0 = table_locate(lo, step, size, p / (kin + mass))
            k_half = max(kin - 0.5 * table_read(t_dedx, i0, f0) * path, 0.0)
            b_mid = beta_of_kinetic(k_half, mass)
            im, fm = table_locate(lo, step, size, b_mid)
            k_end = kin - table_read(t_dedx, im, fm) * path
        phi_a, z_a, r_s = phi_c, z_c, r_a
        t_a = t_c
        t_c = t_a + path / (C_CM_PER_NS * b_mid)
        kin_a = kin
        kin = max(k_end, 0.0)
        phi_c = phi_a - dphi
        z_c = z_a + path_xy * ct
        r_a = r_b
        if not k_end > 0.0:
            stat = 2  # stopped in the gas (not expected for this class)
            alive = False
            break
        if abs(z_c) > half_length:
            stat = 3  # endcap
            alive = False
            break
        if path <= 0.0:
            continue
        if straight:
            phi_t = phi_a
            arc = r_k - r_s
        else:
            a_k = math.asin(min(r_k / (2.0 * rad), 1.0))
            phi_t = phi_a - sgn * (a_k - a_a)
            arc = 2.0 * rad * (a_k - a_a)
        z_t = z_a + arc * ct
        t_hit = midpoint_hit_time(t_a, kin_a, k_end, path, arc / st, mass)
        if fz:
            clusters, delta_rate, bad = f_clusters[g], f_delta[g], f_invalid[g]
        else:
            clusters = table_read(t_dedx_ion, im, fm) / w_value / table_read(t_mean_e, im, fm)
            delta_rate = table_read(t_delta, im, fm)
            bad = table_read(t_invalid, im, fm) > 0.5
        if bad:
            invalid[g] = True
        if b_mid < beta_min[g]:
            beta_min[g] = b_mid
        path_gas[g] += path
        phi_layer[k] = np.float32(phi_t)
        ui = u_layer[e, k, w]
        ud = u_layer[e, k, 2 + w]
        if _surely_quiet(ui, ud, clusters * path, delta_rate * path):
            continue
        pr = -math.expm1(-clusters * path)
        ion = ui < pr
        # the conditional uniform of the ionisation draw (both quotients, then a select: the
        # hit pattern is random, a branch on it is mispredicted half the time)
        u_fired = ui / max(pr, 1e-300)
        u_quiet = (ui - pr) / max(1.0 - pr, 1e-300)
        nd, u_z = _poisson_delta(ud, delta_rate * path)
        n_delta[g] += nd
        # written every layer, kept (n_out advanced) only for a hit; smeared after the walk
        h_layer[n_out] = k
        h_phi[n_out] = phi_t
        h_z[n_out] = z_t
        h_mech[n_out] = np.int8(ion) + 2 * np.int8(nd > 0)
        h_t[n_out] = t_hit
        h_urphi[n_out] = u_fired if ion else u_quiet
        h_uz[n_out] = u_z
        n_out += ion | (nd > 0)
    if alive:
        stat = 0  # escaped
    status[g] = stat
    kinetic[g] = kin
    phi[g] = phi_c
    z[g] = z_c
    radius[g] = r_a
    t_now[g] = t_c
    n_hits[g] += n_out
    _smear(n_out, radii, res_rphi, res_z, h_layer, h_phi, h_z, h_urphi, h_uz)
    return n_out


@njit(cache=True, nogil=True)
def _walk_scatter(
    g,
    e,
    w,
    radii,
    edges,
    half_length,
    mass,
    abs_eps,
    abs_field,
    w_value,
    res_rphi,
    res_z,
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
    status,
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
    u_layer,
    u_scatter,
    path_gas,
    n_delta,
    n_hits,
    invalid,
    beta_min,
    ms_x0,
    ms_var,
    ms_omega,
    ms_kick_bend,
    ms_kick_polar,
    phi_layer,
    h_layer,
    h_phi,
    h_z,
    h_mech,
    h_t,
    h_urphi,
    h_uz,
):  # pragma: no cover - compiled; checked against the numpy path in the tests
    """MCP g (w = 0 chi / 1 chibar; its event's uniforms ``u_layer[e, k, row]`` and
    ``u_scatter[e, k, row]``, :func:`_event_major` blocks) through every gas shell with multiple
    scattering: :func:`detsim._kernels.stepped_layer_ms` shell after shell with the state in registers.
    Writes its hits (layer order) to the h_* buffers and returns their number."""
    e2 = abs_eps * abs_eps
    kin = kinetic[g]
    xc, yc, zc = x[g], y[g], z[g]
    rc = radius[g]
    cc, sc = cpsi[g], spsi[g]
    st, ct = sin_t[g], cot_t[g]
    tc = t_now[g]
    sgn = sign[g]
    fz = frozen[g]
    acc_x0, acc_var, acc_om = ms_x0[g], ms_var[g], ms_omega[g]
    acc_kb, acc_kp = ms_kick_bend[g], ms_kick_polar[g]
    stat = status[g]
    alive = True
    n_out = 0
    d_start = 0.0
    for k in range(radii.shape[0]):
        phi_layer[k] = np.nan
    for k in range(radii.shape[0]):
        r_b = edges[k + 1]
        r_k = radii[k]
        if fz:
            p = f_p[g]
        else:
            p = math.sqrt(max(kin * (kin + 2.0 * mass), 0.0))
        kappa = transverse_curvature(p, st, abs_eps, abs_field)
        ok_b, sig_b, _, _, _, _ = helix_crossing(xc, yc, cc, sc, kappa, sgn, r_b)
        if not ok_b:
            stat = 4  # curled (turns back before r_b)
            alive = False
            break
        _, sig_k, x_k, y_k, c_k, s_k = helix_crossing(xc, yc, cc, sc, kappa, sgn, r_k)
        path_k = sig_k / st
        path_est = sig_b / st
        if fz:
            b_k = f_beta[g]
            p_k = p
        else:
            i0, f0 = table_locate(lo, step, size, p / (kin + mass))
            d_start = table_read(t_dedx, i0, f0)
            k_half = max(kin - 0.5 * d_start * path_est, 0.0)
            b_k = beta_of_kinetic(k_half, mass)
            p_k = math.sqrt(max(k_half * (k_half + 2.0 * mass), 0.0))
        dx0 = path_est / x0_cm
        var = highland_at(acc_x0 + dx0, b_k, p_k, abs_eps) - highland_at(acc_x0, b_k, p_k, abs_eps)
        big = math.sqrt(max(var, 0.0)) * math.sqrt(-2.0 * math.log1p(-u_scatter[e, k, w]))
        ang = 2.0 * math.pi * u_scatter[e, k, 2 + w]
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
        im = 0
        fm = 0.0
        if fz:
            b_mid = f_beta[g]
            k_end = kin
        else:
            k_half = max(kin - 0.5 * d_start * path, 0.0)
            b_mid = beta_of_kinetic(k_half, mass)
            im, fm = table_locate(lo, step, size, b_mid)
            k_end = kin - table_read(t_dedx, im, fm) * path
        t_a = tc
        tc = t_a + path / (C_CM_PER_NS * b_mid)
        kin_a = kin
        kin = max(k_end, 0.0)
        acc_x0 += dx0
        acc_var += var
        acc_om += omega_c * e2 * path_est / (b_k * b_k) / (1.0 + 3.34 * (z_eff * abs_eps * _ALPHA_EM / b_k) ** 2)
        acc_kb += big * ca
        acc_kp += big * sa
        z_k = zc + sig_k * ct
        st = st2
        ct = ct2
        if ok_2:
            xc, yc, cc, sc = x_b, y_b, c_b, s_b
            zc = z_k + sig_2 * ct2
            rc = r_b
        else:
            xc, yc, cc, sc = x_k, y_k, c2, s2
            zc = z_k
            rc = r_k
        if not k_end > 0.0:
            stat = 2  # stopped in the gas (not expected for this class)
            alive = False
            break
        if not ok_2:
            stat = 4  # curled: turns back after the kick (the layer's hit is kept)
            alive = False
        if abs(zc) > half_length:
            if alive:
                stat = 3  # endcap
                alive = False
            break
        if path > 0.0:
            t_hit = midpoint_hit_time(t_a, kin_a, k_end, path, path_k, mass)
            if fz:
                clusters, delta_rate, bad = f_clusters[g], f_delta[g], f_invalid[g]
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
            phi_layer[k] = np.float32(phi_t)
            ui = u_layer[e, k, w]
            ud = u_layer[e, k, 2 + w]
            if not _surely_quiet(ui, ud, clusters * path, delta_rate * path):
                pr = -math.expm1(-clusters * path)
                ion = ui < pr
                u_fired = ui / max(pr, 1e-300)
                u_quiet = (ui - pr) / max(1.0 - pr, 1e-300)
                nd, u_z = _poisson_delta(ud, delta_rate * path)
                n_delta[g] += nd
                h_layer[n_out] = k  # as in _walk_helix: kept only for a hit, smeared after the walk
                h_phi[n_out] = phi_t
                h_z[n_out] = z_k
                h_mech[n_out] = np.int8(ion) + 2 * np.int8(nd > 0)
                h_t[n_out] = t_hit
                h_urphi[n_out] = u_fired if ion else u_quiet
                h_uz[n_out] = u_z
                n_out += ion | (nd > 0)
        if not alive:
            break
    if alive:
        stat = 0  # escaped
    status[g] = stat
    kinetic[g] = kin
    x[g], y[g], z[g] = xc, yc, zc
    radius[g] = rc
    cpsi[g], spsi[g] = cc, sc
    sin_t[g], cot_t[g] = st, ct
    t_now[g] = tc
    ms_x0[g], ms_var[g], ms_omega[g] = acc_x0, acc_var, acc_om
    ms_kick_bend[g], ms_kick_polar[g] = acc_kb, acc_kp
    n_hits[g] += n_out
    _smear(n_out, radii, res_rphi, res_z, h_layer, h_phi, h_z, h_urphi, h_uz)
    return n_out


@njit(cache=True, nogil=True)
def _resized(a, cap, used):  # pragma: no cover - compiled
    out = np.empty(cap, dtype=a.dtype)
    out[:used] = a[:used]
    return out


@njit(cache=True, nogil=True)
def _mcp_buffers(n_layers):  # pragma: no cover - compiled
    """One event's compiled chi (row 0) and chibar (row 1) hits before they are merged: layer,
    azimuth, z, the two smearing uniforms, mechanism, time; and the per-layer azimuths of the
    MCP being walked (for the sagitta)."""
    return (
        np.empty((2, n_layers), dtype=np.int16),
        np.empty((2, n_layers)),
        np.empty((2, n_layers)),
        np.empty((2, n_layers)),
        np.empty((2, n_layers)),
        np.empty((2, n_layers), dtype=np.int8),
        np.empty((2, n_layers)),
        np.empty(n_layers, dtype=np.float32),
    )


@njit(cache=True, nogil=True)
def _hit_columns(cap):  # pragma: no cover - compiled
    """The output hit columns (event, layer, r, phi, z, source, mech, t) with room for ``cap``."""
    return (
        np.empty(cap, dtype=np.int64),
        np.empty(cap, dtype=np.int16),
        np.empty(cap, dtype=np.float32),
        np.empty(cap, dtype=np.float32),
        np.empty(cap, dtype=np.float32),
        np.empty(cap, dtype=np.int8),
        np.empty(cap, dtype=np.int8),
        np.empty(cap),
    )


@njit(cache=True, nogil=True)
def _grown(out, cap, used):  # pragma: no cover - compiled
    """The hit columns ``out`` copied into room for ``cap`` hits (the first ``used`` kept)."""
    ev, layer, r, phi, z, source, mech, t = out
    return (
        _resized(ev, cap, used),
        _resized(layer, cap, used),
        _resized(r, cap, used),
        _resized(phi, cap, used),
        _resized(z, cap, used),
        _resized(source, cap, used),
        _resized(mech, cap, used),
        _resized(t, cap, used),
    )


@njit(cache=True, nogil=True)
def _trimmed(out, used):  # pragma: no cover - compiled
    ev, layer, r, phi, z, source, mech, t = out
    return ev[:used], layer[:used], r[:used], phi[:used], z[:used], source[:used], mech[:used], t[:used]


@njit(cache=True, nogil=True)
def _emit(
    e,
    n,
    n_layers,
    na,
    nb,
    h_layer,
    h_phi,
    h_z,
    h_mech,
    h_t,
    radii32,
    a0,
    a1,
    s_layer,
    s_r,
    s_phi,
    s_z,
    s_source,
    s_mech,
    s_t,
    window,
    n_late,
    out,
    pos,
):  # pragma: no cover - compiled
    """Write event e's hits in the output order: layer by layer the compiled chi (buffer row 0)
    and chibar (row 1) hits, then the other MCP hits (``s_*[a0:a1]``, already in layer order),
    then the noise hits (source 0, last in ``s_*``); hits later than ``window`` [ns] are
    dropped and counted per MCP in ``n_late`` (:func:`detsim.tracker._apply_window`). Returns
    the new fill position. ``out``: the hit columns of :func:`_hit_columns`."""
    o_ev, o_layer, o_r, o_phi, o_z, o_source, o_mech, o_t = out
    big = 4 * n_layers + 8
    ia = 0
    ib = 0
    j = a0
    while True:
        ka = 4 * np.int64(h_layer[0, ia]) if ia < na else big
        kb = 4 * np.int64(h_layer[1, ib]) + 1 if ib < nb else big
        if j < a1:
            src = s_source[j]
            kj = 4 * np.int64(s_layer[j]) + 1 + src if src > 0 else 4 * n_layers
        else:
            kj = big
        if ka == big and kb == big and kj == big:
            return pos
        if ka < kb and ka < kj:
            row, idx = 0, ia
            ia += 1
        elif kb < kj:
            row, idx = 1, ib
            ib += 1
        else:
            t = s_t[j]
            src = s_source[j]
            if t > window:
                if src > 0:
                    n_late[e + n * (src - 1)] += 1
            else:
                o_ev[pos] = e
                o_layer[pos] = s_layer[j]
                o_r[pos] = s_r[j]
                o_phi[pos] = s_phi[j]
                o_z[pos] = s_z[j]
                o_source[pos] = src
                o_mech[pos] = s_mech[j]
                o_t[pos] = t
                pos += 1
            j += 1
            continue
        t = h_t[row, idx]
        if t > window:
            n_late[e + n * row] += 1
            continue
        layer = h_layer[row, idx]
        o_ev[pos] = e
        o_layer[pos] = layer
        o_r[pos] = radii32[layer]
        o_phi[pos] = h_phi[row, idx]
        o_z[pos] = h_z[row, idx]
        o_source[pos] = row + 1
        o_mech[pos] = h_mech[row, idx]
        o_t[pos] = t
        pos += 1


#: Events whose layer uniforms are copied event-major at a time (192 kB per kind at 48 layers).
_EVENT_BLOCK = 128


@njit(cache=True, nogil=True)
def _event_major(u, first, block):  # pragma: no cover - compiled
    """``block[i, k, row] = u[k, row, first + i]`` for the events of the block starting at
    ``first``: each stream is read sequentially, and the walk then finds one event's uniforms
    of every shell together (read straight from ``u``, they lie a stream apart)."""
    n = u.shape[2]
    stop = min(first + block.shape[0], n)
    for k in range(u.shape[0]):
        for row in range(u.shape[1]):
            for e in range(first, stop):
                block[e - first, k, row] = u[k, row, e]


@njit(cache=True, nogil=True)
def helix_pass(
    n,
    compiled,
    radii,
    edges,
    half_length,
    mass,
    abs_eps,
    abs_field,
    w_value,
    res_rphi,
    res_z,
    kinetic,
    phi,
    z,
    radius,
    sin_t,
    cot_t,
    sign,
    t_now,
    frozen,
    status,
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
    u_layer,
    path_gas,
    n_delta,
    n_hits,
    invalid,
    beta_min,
    sag_mid,
    sag_a,
    sag_b,
    s_off,
    s_layer,
    s_r,
    s_phi,
    s_z,
    s_source,
    s_mech,
    s_t,
    window,
    n_late,
    cap,
):  # pragma: no cover - compiled; checked against the numpy path in the tests
    """The chunk's gas tracker along helices through the IP (module docstring): MCPs
    ``compiled`` (global index, chi 0..n-1 then chibar) walked through every shell with the
    uniforms ``u_layer[k, row, event]`` of stream LAYER + (k,); the other hits (``s_*``,
    grouped by event with offsets ``s_off``) merged in. Returns the hit columns (event, layer,
    r, phi, z, source, mech, t) in output order."""
    n_l = radii.shape[0]
    radii32 = radii.astype(np.float32)
    h_layer, h_phi, h_z, h_urphi, h_uz, h_mech, h_t, phi_layer = _mcp_buffers(n_l)
    cap = max(cap, 16)
    out = _hit_columns(cap)
    pos = 0
    block = np.empty((_EVENT_BLOCK, n_l, 4))
    for e in range(n):
        if e % _EVENT_BLOCK == 0:
            _event_major(u_layer, e, block)
        na = 0
        nb = 0
        for w in range(2):
            g = e + w * n
            if not compiled[g]:
                continue
            count = _walk_helix(
                g, e % _EVENT_BLOCK, w, radii, edges, half_length, mass, abs_eps, abs_field, w_value, res_rphi, res_z,
                kinetic, phi, z, radius, sin_t, cot_t, sign, t_now, frozen, status,
                f_rad, f_beta, f_clusters, f_delta, f_invalid,
                t_dedx, t_dedx_ion, t_delta, t_mean_e, t_invalid, lo, step, size,
                block, path_gas, n_delta, n_hits, invalid, beta_min, phi_layer,
                h_layer[w], h_phi[w], h_z[w], h_mech[w], h_t[w], h_urphi[w], h_uz[w],
            )  # fmt: skip
            _sagitta_inputs(phi_layer, radii, g, sag_mid, sag_a, sag_b)
            if w == 0:
                na = count
            else:
                nb = count
        need = pos + na + nb + s_off[e + 1] - s_off[e]
        if need > cap:
            cap = max(2 * cap, need)
            out = _grown(out, cap, pos)
        pos = _emit(
            e, n, n_l, na, nb, h_layer, h_phi, h_z, h_mech, h_t, radii32,
            s_off[e], s_off[e + 1], s_layer, s_r, s_phi, s_z, s_source, s_mech, s_t, window, n_late,
            out, pos,
        )  # fmt: skip
    return _trimmed(out, pos)


@njit(cache=True, nogil=True)
def scatter_pass(
    n,
    compiled,
    radii,
    edges,
    half_length,
    mass,
    abs_eps,
    abs_field,
    w_value,
    res_rphi,
    res_z,
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
    status,
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
    u_layer,
    u_scatter,
    path_gas,
    n_delta,
    n_hits,
    invalid,
    beta_min,
    ms_x0,
    ms_var,
    ms_omega,
    ms_kick_bend,
    ms_kick_polar,
    sag_mid,
    sag_a,
    sag_b,
    s_off,
    s_layer,
    s_r,
    s_phi,
    s_z,
    s_source,
    s_mech,
    s_t,
    window,
    n_late,
    cap,
):  # pragma: no cover - compiled; checked against the numpy path in the tests
    """:func:`helix_pass` with multiple scattering (general helix, kick at every sense wire,
    uniforms ``u_scatter[k, row, event]`` of stream SCATTER_GAS + (k,))."""
    n_l = radii.shape[0]
    radii32 = radii.astype(np.float32)
    h_layer, h_phi, h_z, h_urphi, h_uz, h_mech, h_t, phi_layer = _mcp_buffers(n_l)
    cap = max(cap, 16)
    out = _hit_columns(cap)
    pos = 0
    block = np.empty((_EVENT_BLOCK, n_l, 4))
    block_ms = np.empty((_EVENT_BLOCK, n_l, 4))
    for e in range(n):
        if e % _EVENT_BLOCK == 0:
            _event_major(u_layer, e, block)
            _event_major(u_scatter, e, block_ms)
        na = 0
        nb = 0
        for w in range(2):
            g = e + w * n
            if not compiled[g]:
                continue
            count = _walk_scatter(
                g, e % _EVENT_BLOCK, w, radii, edges, half_length, mass, abs_eps, abs_field, w_value, res_rphi, res_z,
                kinetic, x, y, z, radius, cpsi, spsi, sin_t, cot_t, sign, t_now, frozen, status,
                f_beta, f_p, f_clusters, f_delta, f_invalid, x0_cm, omega_c, z_eff,
                t_dedx, t_dedx_ion, t_delta, t_mean_e, t_invalid, lo, step, size,
                block, block_ms, path_gas, n_delta, n_hits, invalid, beta_min,
                ms_x0, ms_var, ms_omega, ms_kick_bend, ms_kick_polar, phi_layer,
                h_layer[w], h_phi[w], h_z[w], h_mech[w], h_t[w], h_urphi[w], h_uz[w],
            )  # fmt: skip
            _sagitta_inputs(phi_layer, radii, g, sag_mid, sag_a, sag_b)
            if w == 0:
                na = count
            else:
                nb = count
        need = pos + na + nb + s_off[e + 1] - s_off[e]
        if need > cap:
            cap = max(2 * cap, need)
            out = _grown(out, cap, pos)
        pos = _emit(
            e, n, n_l, na, nb, h_layer, h_phi, h_z, h_mech, h_t, radii32,
            s_off[e], s_off[e + 1], s_layer, s_r, s_phi, s_z, s_source, s_mech, s_t, window, n_late,
            out, pos,
        )  # fmt: skip
    return _trimmed(out, pos)


@njit(cache=True, nogil=True, inline="always")
def _ray_fast(c, ci, j, n_h, min_per_ray):  # pragma: no cover - compiled
    """:func:`detsim._finder_kernels._ray` as selects rather than branches."""
    nxt = j + 1 if j + 1 < n_h else 0
    count = c[j] + c[nxt]
    return count if (count >= min_per_ray) & (ci[j] + ci[nxt] > 0) else 0


@njit(cache=True, nogil=True, inline="always")
def _two_rays(hbin, inner, m, c, ci, n_h, min_per_ray, separation):  # pragma: no cover - compiled
    """Best two-ray total of one event's hits (half-bins ``hbin[:m]``, inner flags): what
    :func:`detsim._finder_kernels.two_rays_per_event` finds for the event, with maxima taken by
    selects (the data-dependent branches there cost more than the counting). The fullest ray
    j* with the smallest index among equals is the largest key E (H + 1) + (H - j)."""
    for j in range(m):
        c[hbin[j]] += 1
        ci[hbin[j]] += inner[j]
    key = 0
    for j in range(m):
        h = hbin[j]
        prev = h - 1 if h > 0 else n_h - 1
        e0 = _ray_fast(c, ci, prev, n_h, min_per_ray)
        e1 = _ray_fast(c, ci, h, n_h, min_per_ray)
        k0 = e0 * (n_h + 1) + (n_h - prev) if e0 > 0 else 0
        k1 = e1 * (n_h + 1) + (n_h - h) if e1 > 0 else 0
        key = max(key, max(k0, k1))
    total = 0
    if key > 0:
        top = key // (n_h + 1)
        star = n_h - key % (n_h + 1)
        partner = 0
        for j in range(m):
            h = hbin[j]
            prev = h - 1 if h > 0 else n_h - 1
            e0 = _ray_fast(c, ci, prev, n_h, min_per_ray)
            e1 = _ray_fast(c, ci, h, n_h, min_per_ray)
            e0 = e0 if ring_distance(prev, star, n_h) >= separation else 0
            e1 = e1 if ring_distance(h, star, n_h) >= separation else 0
            partner = max(partner, max(e0, e1))
        if partner > 0:
            total = top + partner
        total = close_pair_best(c, ci, star, n_h, min_per_ray, separation, total)
    for j in range(m):
        c[hbin[j]] = 0
        ci[hbin[j]] = 0
    return total


@njit(cache=True, nogil=True, inline="always")
def _event_top_fast(fbin, bbin, m, cf, cb, n_h):  # pragma: no cover - compiled
    """:func:`detsim._kernels._event_top` (largest road count, both sides hit) with selects;
    the counters are left at zero."""
    for j in range(m):
        cf[fbin[j]] += 1
        cb[bbin[j]] += 1
    top = 0
    for j in range(m):  # a road with both sides hit has a forward hit: its forward bins suffice
        h = fbin[j]
        prev = h - 1 if h > 0 else n_h - 1
        nxt = h + 1 if h + 1 < n_h else 0
        nf0, nb0 = cf[prev] + cf[h], cb[prev] + cb[h]
        nf1, nb1 = cf[h] + cf[nxt], cb[h] + cb[nxt]
        v0 = nf0 + nb0 if (nf0 > 0) & (nb0 > 0) else 0
        v1 = nf1 + nb1 if (nf1 > 0) & (nb1 > 0) else 0
        top = max(top, max(v0, v1))
    for j in range(m):
        cf[fbin[j]] = 0
        cb[bbin[j]] = 0
    return top


@njit(cache=True, nogil=True)
def pairs_pass(
    offsets,
    hit_r,
    hit_phi,
    n_h,
    min_hits,
    kappas,
    min_per_ray,
    separation,
    inner_radius,
    use_inner,
    hit_layer,
    layer_r,
    found_line,
    found_circle,
    hits_line,
    hits_circle,
    found_boosted,
    hits_boosted,
):  # pragma: no cover - compiled; checked against the numpy path in the tests
    """Every hypothesis of :func:`detsim.finder.find_pairs` on event-grouped hits (``offsets``
    of length n_events + 1; float32 ``hit_r``, ``hit_phi`` as the hit arrays hold them): events
    with fewer than ``min_hits`` hits are left out; line roads; the circle scan over ``kappas``
    for events the line missed; the two rays (a hit is inner when ``hit_r < inner_radius``,
    compared in float32, if ``use_inner``). With ``hit_layer`` (and float32 ``layer_r``, the
    layer radii) the circle scan takes a hit's shift asin(kappa r / 2) from a table per
    curvature and layer wherever the hit sits at its layer's radius (every hit but those of an
    MCP stopping before the wire); pass an empty ``hit_layer`` to compute every shift."""
    width = 2.0 * math.pi / n_h
    inv_width = 1.0 / width
    n_ev = offsets.shape[0] - 1
    max_hits = 0
    for e in range(n_ev):
        max_hits = max(max_hits, offsets[e + 1] - offsets[e])
    fbin = np.empty(max_hits, dtype=np.int64)
    bbin = np.empty(max_hits, dtype=np.int64)
    hbin = np.empty(max_hits, dtype=np.int64)
    inner = np.ones(max_hits, dtype=np.bool_)
    cf = np.zeros(n_h, dtype=np.int32)
    cb = np.zeros(n_h, dtype=np.int32)
    c = np.zeros(n_h, dtype=np.int32)
    ci = np.zeros(n_h, dtype=np.int32)
    n_k, n_l = kappas.shape[0], layer_r.shape[0]
    shifts = np.zeros((n_k, n_l))
    for ik in range(n_k):
        for ll in range(n_l):
            shifts[ik, ll] = math.asin(min(max(0.5 * kappas[ik] * np.float64(layer_r[ll]), -1.0), 1.0))
    shift_bins = shifts * inv_width  # the shifts in half-bin units, for _bin_estimate
    pi_bins = math.pi * inv_width
    ubin = np.empty(max_hits)
    with_layers = hit_layer.shape[0] > 0
    ph = np.empty(max_hits)
    rr = np.empty(max_hits)
    lidx = np.full(max_hits, -1, dtype=np.int64)
    for e in range(n_ev):
        a, b = offsets[e], offsets[e + 1]
        m = b - a
        if m < min_hits:
            continue
        for j in range(m):
            phi = np.float64(hit_phi[a + j])
            ph[j] = phi
            ubin[j] = phi * inv_width
            rr[j] = np.float64(hit_r[a + j])
            if with_layers:
                ll = hit_layer[a + j]
                lidx[j] = ll if 0 <= ll < n_l and layer_r[ll] == hit_r[a + j] else -1
            hbin[j] = _half_bin(phi, width, inv_width, n_h)
            fbin[j] = hbin[j]  # the line's forward half-bin: phi - 0
            bbin[j] = _half_bin(phi - math.pi, width, inv_width, n_h)
            if use_inner:
                inner[j] = hit_r[a + j] < inner_radius
        total = _two_rays(hbin, inner, m, c, ci, n_h, min_per_ray, separation)
        hits_boosted[e] = total
        found_boosted[e] = total >= min_hits
        top = _event_top_fast(fbin, bbin, m, cf, cb, n_h)
        hits_line[e] = top
        hits_circle[e] = top
        if top >= min_hits:
            found_line[e] = True
            found_circle[e] = True
            continue
        best = top
        for ik in range(n_k):
            kappa = kappas[ik]
            if kappa == 0.0:
                continue
            for j in range(m):
                ll = lidx[j]
                if ll >= 0:
                    sb = shift_bins[ik, ll]
                    fb = _bin_estimate(ubin[j] - sb, n_h)
                    bb = _bin_estimate(ubin[j] + sb - pi_bins, n_h)
                    if fb >= 0 and bb >= 0:
                        fbin[j] = fb
                        bbin[j] = bb
                        continue
                    shift = shifts[ik, ll]
                else:
                    shift = math.asin(min(max(0.5 * kappa * rr[j], -1.0), 1.0))
                fbin[j] = _half_bin(ph[j] - shift, width, inv_width, n_h)
                bbin[j] = _half_bin(ph[j] + shift - math.pi, width, inv_width, n_h)
            top = _event_top_fast(fbin, bbin, m, cf, cb, n_h)
            if top > best:
                best = top
            if top >= min_hits:
                found_circle[e] = True
                break
        hits_circle[e] = best
