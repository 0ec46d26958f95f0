"""Compiled (numba) kernel of the e+e- -> chi chibar (gamma_ISR) sampler.

:func:`chipair_events` does what the numpy path of :meth:`generator.chipair.ChiPair.generate` does
after the beams are drawn -- ISR x (``docs/physics.md`` §3), Born weight (§1), angular law (§1),
four-vectors in the lab (§10) -- in one loop over the events, from the same uniforms in the same
order, writing flat output columns (no temporaries). The numpy path stays the reference; the
two agree to ~1e-12 relative (tests/test_distributions.py). The last bits differ because

* the boosts use gamma and gamma beta directly instead of cosh and sinh of rapidities from
  artanh: the pair in the CM has gamma = (sqrt(s) - E_gamma)/sqrt(s'), gamma beta = |p_gamma|/sqrt(s')
  (exact: (sqrt(s) - E_gamma)^2 - E_gamma^2 = s (1 - x) = s'), the CM in the lab
  gamma = 1/sqrt(1 - beta_z^2), and collinear boosts compose as
  cosh(y1 + y2) = ch1 ch2 + sh1 sh2, sinh(y1 + y2) = sh1 ch2 + ch1 sh2;
* x = x_lim u^(1/beta_e) is taken through exp and log, x^(1 - beta_e) as x / (x_lim^beta_e u);
* cos and sin of phi* come from one sine (:func:`_cos_sin_two_pi`), sinh(asinh(z)/3) of the
  angular law from Newton steps (:func:`_sinh_asinh_third`);
* |p| is sqrt(px^2 + py^2 + pz^2) (no hypot), and libm replaces numpy's vectorised functions.
"""

from __future__ import annotations

import math

import numpy as np

from .constants import ALPHA, GEV2_TO_PB, M_E_GEV

try:
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - numba is a dependency; keep working without it
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        def wrap(fn):
            return fn

        return wrap


__all__ = ["HAVE_NUMBA", "ISR_CODES", "CAP_CODES", "OUT_ROWS", "chipair_events"]

#: ISR kernel codes of :func:`chipair_events` (names of :data:`generator.isr.KERNELS`)
ISR_CODES = {"kuraev_fadin": 0, "gorbunov": 1, "off": 2}
#: ISR cut-off codes: kinematic only, a fraction x_max of s, an energy E (x_max = E^2/s)
CAP_CODES = {"kinematic": 0, "fraction": 1, "energy": 2}
#: rows of the output array of :func:`chipair_events`
OUT_ROWS = (
    "sqrt_s_prime",
    "x",
    "isr_px",
    "isr_py",
    "isr_pz",
    "isr_E",
    "chi_px",
    "chi_py",
    "chi_pz",
    "chi_E",
    "chibar_px",
    "chibar_py",
    "chibar_pz",
    "chibar_E",
    "chi_beta",
    "chibar_beta",
    "weight",
)

_X_FLOOR = 1e-300  # as generator.isr: u = 0 gives x = 0 exactly; the kernel ratio is finite there
_LOG_X_FLOOR = math.log(_X_FLOOR)
#: LLVM flags allowed: fused multiply-add and reciprocal multiplication (last bits only; no
#: assumption on infinities or NaN, no reassociation)
_FASTMATH = {"contract", "arcp"}
_LOG_ME2 = math.log(M_E_GEV**2)
_SOFT_CONST = ALPHA / math.pi * (math.pi**2 / 3.0 - 0.5)
_BORN_DIRAC = 4.0 * math.pi * ALPHA**2 / 3.0 * GEV2_TO_PB  # docs/physics.md §1, times beta (3 - beta^2)/2 eps^2/s
_BORN_SCALAR = math.pi * ALPHA**2 / 3.0 * GEV2_TO_PB  # docs/physics.md §1, times beta^3 eps^2/s


@njit(cache=True, nogil=True, inline="always", error_model="numpy", fastmath=_FASTMATH)
def _sinh_asinh_third(z):  # pragma: no cover - compiled
    """sinh(asinh(z)/3) for |z| <= 2, without sinh and asinh: the real root t of 4 t^3 + 3 t = z
    (sinh 3a = 3 sinh a + 4 sinh^3 a). Start t = z R(z^2), R a (2, 1) rational fitted to t/z on
    |z| <= 2 (relative error < 3.2e-4), then two Newton steps t <- (8 t^3 + z)/(12 t^2 + 3):
    < 1e-15 relative on the whole range (checked against numpy's sinh(arcsinh(z)/3) on a dense
    grid and down to |z| = 1e-300). In the Dirac angular law p = 3(2 - beta^2)/beta^2 >= 3, so
    |z| = 1.5 |q|/p^1.5 sqrt(3) <= 2."""
    w = z * z
    t = z * (0.3332284 + w * (0.09089033 - 0.00188561 * w)) / (1.0 + 0.41679223 * w)
    t = (8.0 * t * t * t + z) / (12.0 * t * t + 3.0)
    return (8.0 * t * t * t + z) / (12.0 * t * t + 3.0)


@njit(cache=True, nogil=True, inline="always", error_model="numpy", fastmath=_FASTMATH)
def _cos_sin_two_pi(u):  # pragma: no cover - compiled
    """(cos, sin) of phi = 2 pi u, u in [0, 1), with one sine: octant k = floor(8u) and the angle
    a in [0, pi/4] to the nearest multiple of pi/2 (8u and its fraction are exact); sin a, then
    cos a = sqrt(1 - sin^2 a) (>= 1/sqrt(2): no loss), placed by the octant's symmetry."""
    v = 8.0 * u
    k = int(v)
    f = v - k
    if k & 1:
        f = 1.0 - f
    sa = math.sin(0.25 * math.pi * f)
    ca = math.sqrt(1.0 - sa * sa)
    if ((k + 1) >> 1) & 1:  # octants 1, 2, 5, 6: phi = k' pi/2 -+ a with odd k'
        ca, sa = sa, ca
    if ((k + 2) >> 2) & 1:  # octants 2-5: cos < 0
        ca = -ca
    if (k >> 2) & 1:  # octants 4-7: sin < 0
        sa = -sa
    return ca, sa


@njit(cache=True, nogil=True, error_model="numpy", fastmath=_FASTMATH)
def chipair_events(
    u,
    sqrt_s,
    beta_z,
    beta_x,
    axis_angle,
    w_beam,
    mass_gev,
    epsilon,
    scalar,
    isr_code,
    cap_code,
    cap_value,
    head_on,
    out,
):  # pragma: no cover - compiled
    """Fill ``out`` (len(:data:`OUT_ROWS`), n) with the events of uniforms ``u`` (6, n) (rows 2-5:
    ISR x, ISR side, cos(theta*), phi*) and the drawn beams (arrays of n: ``sqrt_s`` [GeV], CM
    velocity ``beta_z``, ``beta_x``, CM beam-axis angle ``axis_angle`` [rad], beam weight
    ``w_beam``). ``scalar``: spin 0 (else Dirac); ``isr_code`` / ``cap_code`` from
    :data:`ISR_CODES` / :data:`CAP_CODES`, ``cap_value`` the x_max fraction or energy [GeV];
    ``head_on``: one combined z boost (beta_x = 0 and axis angle 0), else rotation + general boost.
    Momenta [GeV], weight [pb] (per-trial estimator), formulas of :mod:`generator.chipair`."""
    n = u.shape[1]
    four_m2 = 4.0 * mass_gev * mass_gev
    eps2 = epsilon * epsilon
    rs_prev = math.nan  # quantities of sqrt(s) alone are recomputed only when it changes
    s = x_lim = log_s = b = inv_b = soft = log_xlim = xlim_b = 0.0
    bz_prev = math.nan
    g_lab = gb_lab = 0.0
    for i in range(n):
        rs = sqrt_s[i]
        if rs != rs_prev:
            rs_prev = rs
            s = rs * rs
            # ISR x range (ChiPair.x_limit)
            x_lim = max(1.0 - four_m2 / s, 0.0)
            if cap_code == 1:
                x_lim = min(x_lim, cap_value)
            elif cap_code == 2:
                x_lim = min(x_lim, cap_value * cap_value / s)
            log_s = math.log(s) - _LOG_ME2
            b = 2.0 * ALPHA / math.pi * (log_s - 1.0)  # beta_e, docs/physics.md §3
            inv_b = 1.0 / b
            soft = 1.0 + _SOFT_CONST + 0.75 * b - b * b / 24.0 * (log_s / 3.0 + 2.0 * math.pi**2 - 37.0 / 4.0)
            log_xlim = math.log(x_lim) if x_lim > 0.0 else -math.inf
            xlim_b = math.exp(b * log_xlim) if x_lim > 0.0 else 0.0  # x_lim^beta_e
        # ISR x (generator.isr.sample_isr_x, docs/physics.md §3): x = x_lim u^(1/beta_e)
        if isr_code == 2:
            x = 0.0
            w_isr = 1.0
        else:
            u_x = u[2, i]
            log_x = log_xlim + math.log(u_x) * inv_b if u_x > 0.0 else -math.inf
            x = math.exp(log_x)
            if x < _X_FLOOR:
                x = _X_FLOOR
                log_x = _LOG_X_FLOOR
                x1mb = math.exp((1.0 - b) * log_x)  # x^(1 - beta_e)
            else:  # x^(1 - beta_e) = x_lim^(1 - beta_e) u^(1/beta_e - 1) = x / (x_lim^beta_e u)
                x1mb = x / (xlim_b * u_x)
            if isr_code == 0:  # Kuraev-Fadin: F / (beta x^(beta - 1)), generator.isr._kf_ratio
                log_one_minus = -math.log1p(-x)
                hard = (
                    4.0 * (2.0 - x) * (-log_x) * x + (1.0 + 3.0 * (1.0 - x) * (1.0 - x)) * log_one_minus - (6.0 - x) * x
                )
                ratio = soft - x1mb * (1.0 - x / 2.0) + b / 8.0 * (x1mb / x) * hard
            else:  # Gorbunov G eq. (12)
                ratio = 1.0 - x1mb * (1.0 - x / 2.0)
            w_isr = xlim_b * ratio
        s_prime = s * (1.0 - x)
        rs_prime = math.sqrt(s_prime)
        beta_star = math.sqrt(max(1.0 - four_m2 / s_prime, 0.0))
        if scalar:
            sigma = _BORN_SCALAR * eps2 * beta_star * beta_star * beta_star / s_prime
        else:
            sigma = _BORN_DIRAC * eps2 / s_prime * beta_star * (3.0 - beta_star * beta_star) / 2.0
        out[16, i] = w_beam[i] * w_isr * sigma

        # collinear ISR photon in the CM, the pair's boost along z' (gamma, gamma beta)
        e_gamma = 0.5 * x * rs
        pz_gamma = e_gamma if u[3, i] < 0.5 else -e_gamma
        ch_pair = (rs - e_gamma) / rs_prime
        sh_pair = -pz_gamma / rs_prime

        # chi in the pair rest frame: generator.born.sample_cos_theta, docs/physics.md §1
        if scalar:
            cos_t = 2.0 * math.cos((math.acos(1.0 - 2.0 * u[4, i]) + 4.0 * math.pi) / 3.0)
        else:
            bb = max(beta_star * beta_star, 1e-12)
            p = 3.0 * (2.0 - bb) / bb
            q = (p + 1.0) * (1.0 - 2.0 * u[4, i])
            root_p3 = math.sqrt(p / 3.0)
            cos_t = -2.0 * root_p3 * _sinh_asinh_third(1.5 * q / (p * root_p3))
        sin_t = math.sqrt(max(1.0 - cos_t * cos_t, 0.0))
        cos_phi, sin_phi = _cos_sin_two_pi(u[5, i])
        p_star = 0.5 * rs_prime * beta_star
        e_star = 0.5 * rs_prime
        px = p_star * sin_t * cos_phi
        py = p_star * sin_t * sin_phi
        pz = p_star * cos_t

        bz = beta_z[i]
        if bz != bz_prev:
            bz_prev = bz
            g_lab = 1.0 / math.sqrt((1.0 - bz) * (1.0 + bz))  # gamma of the CM in the lab
            gb_lab = g_lab * bz
        if head_on:
            ch = ch_pair * g_lab + sh_pair * gb_lab
            sh = sh_pair * g_lab + ch_pair * gb_lab
            e_cosh, pz_sinh, pz_cosh, e_sinh = e_star * ch, pz * sh, pz * ch, e_star * sh
            e_chi, pz_chi = e_cosh + pz_sinh, pz_cosh + e_sinh
            e_bar, pz_bar = e_cosh - pz_sinh, e_sinh - pz_cosh
            out[2, i] = 0.0
            out[3, i] = 0.0
            out[4, i] = pz_gamma * g_lab + e_gamma * gb_lab
            out[5, i] = e_gamma * g_lab + pz_gamma * gb_lab
            out[6, i] = px
            out[7, i] = py
            out[8, i] = pz_chi
            out[9, i] = e_chi
            out[10, i] = -px
            out[11, i] = -py
            out[12, i] = pz_bar
            out[13, i] = e_bar
        else:
            # pair -> CM along z', then generator.kinematics.cm_to_lab: rotate about y, boost
            e_c, z_c = e_star * ch_pair + pz * sh_pair, pz * ch_pair + e_star * sh_pair
            e_b, z_b = e_star * ch_pair - pz * sh_pair, e_star * sh_pair - pz * ch_pair
            ca, sa = math.cos(axis_angle[i]), math.sin(axis_angle[i])
            bx = beta_x[i]
            sign = 1.0 if bz >= 0.0 else -1.0
            bs = sign * math.hypot(bx, bz)
            if bs != 0.0:
                cos_psi, sin_psi = bz / bs, bx / bs
            else:
                cos_psi, sin_psi = 1.0, 0.0
            gamma = 1.0 / math.sqrt(1.0 - bs * bs)
            for k in range(3):
                if k == 0:
                    e0, x0, y0, z0 = e_c, px, py, z_c
                elif k == 1:
                    e0, x0, y0, z0 = e_b, -px, -py, z_b
                else:
                    e0, x0, y0, z0 = e_gamma, 0.0, 0.0, pz_gamma
                xr, zr = x0 * ca + z0 * sa, z0 * ca - x0 * sa
                x1 = xr * cos_psi - zr * sin_psi
                z1 = xr * sin_psi + zr * cos_psi
                e2 = gamma * (e0 + bs * z1)
                z2 = gamma * (z1 + bs * e0)
                row = 6 + 4 * k if k < 2 else 2
                out[row, i] = x1 * cos_psi + z2 * sin_psi
                out[row + 1, i] = y0
                out[row + 2, i] = z2 * cos_psi - x1 * sin_psi
                out[row + 3, i] = e2
        for k in range(2):
            row = 6 + 4 * k
            qx, qy, qz = out[row, i], out[row + 1, i], out[row + 2, i]
            out[14 + k, i] = math.sqrt(qx * qx + qy * qy + qz * qz) / out[row + 3, i]
        out[0, i] = rs_prime
        out[1, i] = x


def empty_output(n: int) -> np.ndarray:
    """The output array of :func:`chipair_events` for n events."""
    return np.empty((len(OUT_ROWS), n))
