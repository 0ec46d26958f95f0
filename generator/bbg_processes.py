"""Beam-escape ("bBG") backgrounds e+e- -> gamma gamma gamma and e+e- -> e+e- gamma.

Physics: docs/physics.md section 6 (Liang et al. "L", bBG discussion).

* e+e- -> 3 gamma: massless Berends-Kleiss formula (Berends & Kleiss, Nucl. Phys. B186 (1981) 22),
  a_i = p+.k_i, a'_i = p-.k_i, 1/4 sum|M|^2 = e^6 s sum_i a_i a'_i (a_i^2 + a'_i^2) / prod_j(a_j a'_j),
  dsigma = (1/3!)(1/2s)|M|^2 dPhi_3.
* e+e- -> e+e- gamma: massless CALKUL formula (Berends et al., Nucl. Phys. B206 (1982) 61),
  1/4 sum|M|^2 = e^6 [A W (1 - W_m) - 8m^2/t^2 (x2/y2 + y2/x2) - 8m^2/t'^2 (x1/y1 + y1/x1)] with the
  electron-mass terms of TEEGG (Karlen, Nucl. Phys. B289 (1987) 23), exactly as in docs/physics.md §6.

Generation region (all angles in the e+e- CM frame, e- beam along +z): exactly one photon (the
"tagged" photon, ``gamma1`` / ``gamma``) with E > ``e_gamma_min_gev`` and polar angle in
[``theta_min_cm``, ``theta_max_cm``]; every other final-state particle escapes, i.e. has
theta < theta_a or theta > theta_b, ``escape_theta_cm = (theta_a, theta_b)`` (default: the tagged
window itself), and optionally an angle >= ``min_beam_angle`` from the beam axis. For an
asymmetric machine give CM-equivalent edges: the lab -> CM map of a polar angle is exact and
monotonic for massless particles (:func:`cm_edges_from_lab`), so a lab window for the photon is
exactly a CM window; for the escaping leptons (E >> m_e) the difference is O(m_e^2/E^2).

Collinear regularisation. Both matrix elements are evaluated with exact massive beam momenta
(p+- = (sqrt(s)/2, 0, 0, -+p), m = m_e) and, for e+e- gamma, exact massive final leptons, so every
invariant stays finite down to theta = 0 (a_i = E_b omega (1 - beta cos theta), t >= t_min ~
-m^2 (dE)^2/(E E')). For e+e- gamma this is the TEEGG prescription and the mass terms make the
t-channel peak behave as (1/|t|)(1 - t_min/t) (equivalent photon). For 3 gamma only the
propagator regularisation 1/(1 - beta cos theta) is included (the m^2/a^2 terms of the massive
matrix element are not): the escaping-photon collinear logarithm ln(s/m^2) is therefore not
reduced to ln(s/m^2) - 1, which overestimates the collinear-dominated part of sigma(3 gamma) by
O(1/ln(s/m^2)) ~ 5-10 %. ``min_beam_angle`` (default 0) adds a hard cut instead/in addition.

Phase space (exact, no approximation): dPhi_3 = [E dE dOmega_gamma / (16 pi^3)] [beta* dOmega* /
(32 pi^2)] with the tagged photon (E, Omega_gamma) in the CM frame and the escaping pair as the
two-body decay of the recoil Q = P - k (mass^2 s - 2 sqrt(s) E) in its rest frame (beta* the pair
velocity, 1 for photons). Normalisation: Phi_n = int prod d^3p/((2 pi)^3 2E) (2 pi)^4 delta^4, so
Phi_2 = 1/(8 pi) and Phi_3 = s/(256 pi^3) (massless). Importance sampling, 5 uniforms per event:

* u[0] -> cos theta_gamma with density ~ 1/(1 - c^2) on the window;
* u[1] -> E_gamma ~ 1/E on [E_min, E_hi(theta_gamma)], E_hi = min(E_kin, E_m(theta_gamma)), E_m
  the kinematic bBG bound (L eq. 1/2 for the escape edges, or sqrt(s)/2 when -k points into an
  escape cone), which is a strict upper bound inside the region (also for massive leptons). For
  3 gamma, where E_hi = E_kin, half of the trials use 1/(E_kin + eps - E) ~ 1/M^2 instead (soft
  escaping photon; see ``e_escape_min_gev``);
* u[2] -> phi_gamma uniform;
* u[3] -> channel index (split of the uniform) and the polar angle of the decay direction d
  around the channel axis, u[4] -> azimuth around that axis. Each channel c has the density
  g_c(d) ~ 1/(delta_c + beta_c (1 - sigma_c n_c.d)) on the sphere, sampled exactly (inverse CDF),
  and the weight uses the mixture sum_c alpha_c g_c (multichannel, no rejection). 3 gamma: four
  channels, photon 2 or 3 collinear with the e+ or e- beam (a_i peaks). e+e- gamma: the t and t'
  peaks (e+ along the e+ beam, e- along the e- beam, weight 0.4 each) with delta from the exact t_min,
  and the final-state collinear peaks y1, y2 (lepton along the tagged photon, 0.1 each), which
  matter when the escape edge equals the acceptance edge.

Soft escaping photons (3 gamma only): when the back-to-back image pi - theta of the tagged window
overlaps an escape cone (Belle II: tagged photon at 16.4-19.0 deg CM, partner in the backward cone)
the region contains e+e- -> gamma gamma plus a soft third photon, which is infrared divergent at
tree level. ``ThreePhoton`` therefore requires the escaping photons to have E > ``e_escape_min_gev``
(default ``e_gamma_min_gev``); sigma depends on it logarithmically there (and not at all for
symmetric set-ups with a gap, e.g. BESIII, where the escaping photons are hard by kinematics).

Gaps (3 gamma only, ``gaps_cm``: CM polar ranges of non-instrumented gaps, e.g. the Belle II
barrel-endcap gaps, docs/physics.md §8): an escaping photon may also lie inside a gap. The tagged
energy is then bounded by E_kin only, and the mixture gains GAP_CHANNEL_FRACTION of gap channels,
one per gap and escaping photon: that photon's CM direction uniform on the gap's ring (cos theta
and phi uniform), mapped into the recoil frame; its density on the sphere of d is the ring density
times dOmega_CM/dOmega_Q = (E_Q/E_CM)^2 (aberration of a massless particle). The beam channels
keep the rest (they cover "one photon in a gap, one along a beam" through the beam peak).

Two-body part (3 gamma, ``two_body=True``): e+e- -> gamma gamma at tree level with the partner of
the tagged photon escaping (gap or cone), i.e. the events whose third photon is softer than
``e_escape_min_gev`` (the 3 gamma region's infrared cut-off), counted at leading order: a share
TWO_BODY_FRACTION of the trials (u[3] < f) are gamma gamma events, weight dsigma/dOmega / (f x
proposal), the others 3 gamma trials weighted / (1 - f). ``gamma3`` is then a zero four-vector. The
split between the two parts depends logarithmically on ``e_escape_min_gev`` (no virtual
correction): an O(alpha/pi ln(s/m^2) ln(E_cut/E)) ~ 10 % uncertainty of the sum.

weight = (true density / proposal density) in pb per trial, zero outside the generation region;
mean(weight) over all trials is sigma inside the generation region. All angles above are CM angles
from the CM beam axis (the e- direction in the CM frame, ``docs/physics.md`` §10). Finally every
four-vector goes to the lab: a rotation about y by the CM beam-axis angle ``cm_axis_angle_rad``
(0 for head-on beams) and the boost by (``beta_x``, 0, ``beta_z``) (:func:`_boost`; for beta_x = 0
the former boost along +z by ``beta_z``, unchanged).
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import vector

from .constants import ALPHA, GEV2_TO_PB, M_E_GEV
from .kinematics import rotate_y
from .processes import checked_trials

vector.register_awkward()

__all__ = [
    "GAP_CHANNEL_FRACTION",
    "TWO_BODY_FRACTION",
    "matrix_element_3gamma",
    "matrix_element_eegamma",
    "e_gamma_bound",
    "cm_edges_from_lab",
    "ThreePhoton",
    "EEGamma",
]

_E2 = 4.0 * np.pi * ALPHA  # e^2

#: Share of the trials given to the gap channels when ``gaps_cm`` is set (the beam-collinear
#: channels keep the rest; any split is exact, this one only sets the variance).
GAP_CHANNEL_FRACTION = 0.2

#: Share of the trials that are tree-level e+e- -> gamma gamma when ``ThreePhoton(two_body=True)``.
TWO_BODY_FRACTION = 0.1


# --------------------------------------------------------------------------------------------
# Four-vector helpers: arrays with leading axis 4 = (E, px, py, pz)
# --------------------------------------------------------------------------------------------
def _dot(a, b):
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]


def _boost(p, bx, by, bz):
    """General boost of four-vectors p (4, n) by velocity (bx, by, bz) (rest -> moving frame)."""
    b2 = bx * bx + by * by + bz * bz
    gam = 1.0 / np.sqrt(1.0 - b2)
    bp = bx * p[1] + by * p[2] + bz * p[3]
    f = np.where(b2 > 0.0, (gam - 1.0) * bp / np.where(b2 > 0.0, b2, 1.0), 0.0) + gam * p[0]
    return np.stack([gam * (p[0] + bp), p[1] + f * bx, p[2] + f * by, p[3] + f * bz])


def _to_lab(p, bx, bz, axis_angle):
    """CM four-vectors p (4, n) in beam-axis coordinates -> lab: rotate the CM beam axis into place
    (about y by ``axis_angle``), then boost by (bx, 0, bz)."""
    x, z = rotate_y(p[1], p[3], axis_angle)
    return _boost(np.stack([p[0], x, p[2], z]), bx, 0.0 * bz, bz)


def _momentum4d(p):
    return ak.zip({"px": p[1], "py": p[2], "pz": p[3], "E": p[0]}, with_name="Momentum4D")


def _cos_theta(p):
    """cos(theta) of four-vectors p (4, n); 1 for a zero vector (the absent photon of a 2-body trial)."""
    r = np.sqrt(p[1] ** 2 + p[2] ** 2 + p[3] ** 2)
    return np.where(r > 0.0, p[3] / np.where(r > 0.0, r, 1.0), 1.0)


# --------------------------------------------------------------------------------------------
# Matrix elements (docs/physics.md §6), 1/4 sum |M|^2 in GeV^-2
# --------------------------------------------------------------------------------------------
def matrix_element_3gamma(p_plus, p_minus, k1, k2, k3):
    """Spin-averaged |M|^2 [GeV^-2] of e+(p_plus) e-(p_minus) -> gamma(k1) gamma(k2) gamma(k3).

    Massless Berends-Kleiss formula (docs/physics.md §6), s = (p+ + p-)^2; momenta (4, n) arrays
    (E, px, py, pz) in GeV. Evaluated with massive beams it carries the 1/(1 - beta cos) regulator.
    """
    s = _dot(p_plus + p_minus, p_plus + p_minus)
    a = [_dot(p_plus, k) for k in (k1, k2, k3)]
    b = [_dot(p_minus, k) for k in (k1, k2, k3)]
    num = sum(a[i] * b[i] * (a[i] ** 2 + b[i] ** 2) for i in range(3))
    den = a[0] * b[0] * a[1] * b[1] * a[2] * b[2]
    return _E2**3 * s * num / den


def matrix_element_eegamma(p_plus, p_minus, q_plus, q_minus, k, mass_gev=M_E_GEV, mass_terms=True):
    """Spin-averaged |M|^2 [GeV^-2] of e+(p_plus) e-(p_minus) -> e+(q_plus) e-(q_minus) gamma(k).

    CALKUL e^6 A W (Berends et al. 1982) with, if ``mass_terms``, the TEEGG electron-mass terms
    (Karlen 1987): A W -> A W (1 - W_m) - 8m^2/t^2 (x2/y2 + y2/x2) - 8m^2/t'^2 (x1/y1 + y1/x1);
    docs/physics.md §6. All invariants from the given (massive) four-vectors (4, n) in GeV.
    """
    s = _dot(p_plus + p_minus, p_plus + p_minus)
    sp = _dot(q_plus + q_minus, q_plus + q_minus)
    t = _dot(p_plus - q_plus, p_plus - q_plus)
    tp = _dot(p_minus - q_minus, p_minus - q_minus)
    u = _dot(p_plus - q_minus, p_plus - q_minus)
    up = _dot(p_minus - q_plus, p_minus - q_plus)
    x1, x2 = _dot(p_plus, k), _dot(p_minus, k)
    y1, y2 = _dot(q_plus, k), _dot(q_minus, k)
    a = (s * sp * (s * s + sp * sp) + t * tp * (t * t + tp * tp) + u * up * (u * u + up * up)) / (s * sp * t * tp)
    w = s / (x1 * x2) + sp / (y1 * y2) - t / (x1 * y1) - tp / (x2 * y2) + u / (x1 * y2) + up / (x2 * y1)
    if not mass_terms:
        return _E2**3 * a * w
    m2 = mass_gev * mass_gev
    wm = m2 * (s - sp) / (s * s + sp * sp) * (sp / x1 + sp / x2 + s / y1 + s / y2)
    extra = -8.0 * m2 / (t * t) * (x2 / y2 + y2 / x2) - 8.0 * m2 / (tp * tp) * (x1 / y1 + y1 / x1)
    return _E2**3 * (a * w * (1.0 - wm) + extra)


# --------------------------------------------------------------------------------------------
# Kinematic helpers
# --------------------------------------------------------------------------------------------
def cm_edges_from_lab(theta_lab, beta):
    """CM polar angle(s) [rad] of massless particles at lab angle(s) ``theta_lab`` [rad].

    The CM moves with velocity ``beta`` along +z (e- beam) in the lab; tan th_cm = sin th_lab /
    (gamma (cos th_lab - beta)) (L footnote 1). Belle II (beta = 3/11): 12.4 deg -> 16.35 deg,
    155.1 deg -> 161.05 deg.
    """
    th = np.asarray(theta_lab, dtype=float)
    gamma = 1.0 / np.sqrt(1.0 - beta * beta)
    return np.arctan2(np.sin(th), gamma * (np.cos(th) - beta))


def e_gamma_bound(theta_gamma, sqrt_s, theta_a, theta_b):
    """Upper bound [GeV] on the CM energy of a photon at CM angle ``theta_gamma`` whose recoil
    consists of particles with theta < theta_a or theta > theta_b (L eqs. 1, 2; docs/physics.md §6).

    If -k points into an escape cone the bound is sqrt(s)/2, otherwise the two-edge formula
    E_m = sqrt(s) sin(th_b - th_a)/(sin(th_b - th_a) + (sin th_a - sin th_b) cos th_g
    + (cos th_a - cos th_b) sin th_g), capped at sqrt(s)/2.
    """
    tg = np.asarray(theta_gamma, dtype=float)
    sa, ca, sb, cb = np.sin(theta_a), np.cos(theta_a), np.sin(theta_b), np.cos(theta_b)
    d = sb * ca - cb * sa
    em = sqrt_s * d / (d + (sa - sb) * np.cos(tg) + (ca - cb) * np.sin(tg))
    back = np.pi - tg  # polar angle of -k
    in_cone = (back < theta_a) | (back > theta_b)
    return np.where(in_cone, 0.5 * sqrt_s, np.minimum(em, 0.5 * sqrt_s))


def _perp_basis(n):
    """Two unit vectors orthogonal to the unit vectors n (3, m)."""
    use_x = np.abs(n[2]) > 0.9
    hx = np.where(use_x, 1.0, 0.0)
    hz = 1.0 - hx
    # e1 = normalize(h x n), h = x or z
    e1 = np.stack([-hz * n[1], hz * n[0] - hx * n[2], hx * n[1]])
    e1 /= np.sqrt(np.sum(e1 * e1, axis=0))
    e2 = np.stack([n[1] * e1[2] - n[2] * e1[1], n[2] * e1[0] - n[0] * e1[2], n[0] * e1[1] - n[1] * e1[0]])
    return e1, e2


class _BeamEscapeBase:
    """Shared sampling of the tagged photon and of the recoil decay (see module docstring)."""

    name = "bbg"
    n_uniforms = 5
    mass_gev = None  # Standard-Model backgrounds: no MCP
    epsilon = None
    _lepton_mass = 0.0  # mass of the two escaping particles [GeV]
    _symmetry = 1.0

    def __init__(
        self,
        e_gamma_min_gev: float,
        theta_min_cm: float,
        theta_max_cm: float,
        escape_theta_cm: tuple[float, float] | None = None,
        *,
        e_gamma_max_gev: float | None = None,
        min_beam_angle: float = 0.0,
        e_escape_min_gev: float = 0.0,
        gaps_cm: tuple[tuple[float, float], ...] = (),
    ):
        if not e_gamma_min_gev > 0.0:
            raise ValueError("e_gamma_min_gev must be > 0 (1/E importance sampling)")
        if not 0.0 < theta_min_cm < theta_max_cm < np.pi:
            raise ValueError("need 0 < theta_min_cm < theta_max_cm < pi [rad]")
        ta, tb = (theta_min_cm, theta_max_cm) if escape_theta_cm is None else map(float, escape_theta_cm)
        if not (0.0 < ta <= theta_min_cm and theta_max_cm <= tb < np.pi):
            raise ValueError("escape edges must satisfy 0 < theta_a <= theta_min_cm < theta_max_cm <= theta_b < pi")
        if not 0.0 <= min_beam_angle < min(ta, np.pi - tb):
            raise ValueError("min_beam_angle must be in [0, escape cone half-angle)")
        if e_gamma_max_gev is not None and not e_gamma_max_gev > e_gamma_min_gev:
            raise ValueError("e_gamma_max_gev must exceed e_gamma_min_gev")
        self.e_gamma_min_gev = float(e_gamma_min_gev)
        self.e_gamma_max_gev = None if e_gamma_max_gev is None else float(e_gamma_max_gev)
        self.theta_min_cm = float(theta_min_cm)
        self.theta_max_cm = float(theta_max_cm)
        self.escape_theta_cm = (ta, tb)
        self.min_beam_angle = float(min_beam_angle)
        if not e_escape_min_gev >= 0.0:
            raise ValueError("e_escape_min_gev must be >= 0")
        self.e_escape_min_gev = float(e_escape_min_gev)
        gaps = tuple(sorted((float(lo), float(hi)) for lo, hi in gaps_cm))
        for lo, hi in gaps:
            if not ta < lo < hi < tb:
                raise ValueError("gaps_cm: each gap (lo, hi) must satisfy theta_a < lo < hi < theta_b [rad]")
        if any(a[1] > b[0] for a, b in zip(gaps, gaps[1:], strict=False)):
            raise ValueError("gaps_cm: gaps must not overlap")
        if gaps and self._lepton_mass > 0.0:
            raise ValueError("gaps_cm: gap channels are for massless escaping particles (3 gamma) only")
        self.gaps_cm = gaps

    # -- to be provided by subclasses --------------------------------------------------------
    def _channels(self, pp_q, pm_q, k_q, e_q, p_q):
        """List of (alpha, axis (3, n), sign, delta, beta) in the recoil rest frame."""
        raise NotImplementedError

    def _matrix_element(self, pp, pm, k, q1, q2):
        raise NotImplementedError

    _endpoint_fraction = 0.0

    def _endpoint_eps(self):
        return 1.0

    def _ring_channels(self):
        """Gap channels: (alpha, cos_lo, cos_hi, sign) per gap and escaping particle (+1: q1,
        -1: q2), the particle's CM direction uniform in the gap's ring (module docstring)."""
        out = []
        for lo, hi in self.gaps_cm:
            for sign in (1.0, -1.0):
                out.append((1.0, float(np.cos(hi)), float(np.cos(lo)), sign))
        total = len(out)
        return [(GAP_CHANNEL_FRACTION / total, *r[1:]) for r in out]

    # ----------------------------------------------------------------------------------------
    def _check(self, u, sqrt_s_gev, beta_z, beta_x=0.0, cm_axis_angle_rad=0.0):
        """Validate ``u``; broadcast sqrt(s) and the CM frame (beta_z, beta_x, axis angle) to n."""
        return checked_trials(self, u, sqrt_s_gev, beta_z, beta_x, cm_axis_angle_rad)

    def describe(self) -> dict:
        """Generation region and model choices, for the run metadata."""
        return {
            "process": self.name,
            "e_gamma_min_gev": self.e_gamma_min_gev,
            "e_gamma_max_gev": self.e_gamma_max_gev,
            "theta_min_cm": self.theta_min_cm,
            "theta_max_cm": self.theta_max_cm,
            "escape_theta_cm": list(self.escape_theta_cm),
            "min_beam_angle": self.min_beam_angle,
            "e_escape_min_gev": self.e_escape_min_gev,
            "gaps_cm": [list(g) for g in self.gaps_cm],
            "cuts_frame": "CM, angles from the CM beam axis",
        }

    @staticmethod
    def _beams(rs):
        """The massive e+ (along -z) and e- (along +z) four-vectors [GeV], shape (4, n), at CM
        energies ``rs`` [GeV]."""
        eb = 0.5 * rs
        pb = np.sqrt(np.clip(eb * eb - M_E_GEV**2, 0.0, None))
        zero = np.zeros_like(rs)
        return np.stack([eb, zero, zero, -pb]), np.stack([eb, zero, zero, pb])

    def _tagged_cos(self, u):
        """The tagged photon's CM cos(theta) from uniforms ``u``, density ~ 1/(1 - c^2) inside the
        calorimeter, and 1 / q(c), the inverse of that normalised density."""
        c_lo, c_hi = np.cos(self.theta_max_cm), np.cos(self.theta_min_cm)
        at_lo, at_hi = np.arctanh(c_lo), np.arctanh(c_hi)
        cg = np.tanh(at_lo + u * (at_hi - at_lo))
        return cg, (1.0 - cg * cg) * (at_hi - at_lo)

    def _in_gap(self, c):
        """True where cos(theta_CM) ``c`` lies inside one of the non-instrumented ``gaps_cm``."""
        out = np.zeros(np.shape(c), dtype=bool)
        for lo, hi in self.gaps_cm:
            out |= (c < np.cos(lo)) & (c > np.cos(hi))
        return out

    def _escapes(self, p):
        """True where the particle p (4, n) (CM frame) is outside [theta_a, theta_b] or inside a
        gap of ``gaps_cm`` (and away from the beam axis by >= min_beam_angle)."""
        c = _cos_theta(p)
        ta, tb = self.escape_theta_cm
        ok = (c > np.cos(ta)) | (c < np.cos(tb)) | self._in_gap(c)
        if self.min_beam_angle > 0.0:
            ok &= np.abs(c) <= np.cos(self.min_beam_angle)
        if self.e_escape_min_gev > 0.0:
            ok &= p[0] > self.e_escape_min_gev
        return ok

    def _in_detector(self, p):
        c = _cos_theta(p)
        ta, tb = self.escape_theta_cm
        return (c <= np.cos(ta)) & (c >= np.cos(tb)) & ~self._in_gap(c)

    def phase_space(self, u, sqrt_s_gev, energy_cap=True):
        """CM kinematics and phase-space Jacobian for uniforms u (5, n).

        Returns a dict with beams ``p_plus``, ``p_minus``, tagged photon ``k`` and escaping
        particles ``q1``, ``q2`` ((4, n) arrays, GeV, CM frame), ``jacobian`` = dPhi_3/proposal
        [GeV^2] (mean = Phi_3 of the sampled domain: E in [E_min, E_hi], theta in the window),
        ``in_region`` (bool) and ``valid`` (non-empty energy range). ``energy_cap=False`` samples
        E up to E_kin instead of the bBG bound (for phase-space checks).
        """
        u = np.asarray(u, dtype=float)
        rs = np.broadcast_to(np.asarray(sqrt_s_gev, dtype=float), (u.shape[1],)).astype(float)
        m = self._lepton_mass
        s = rs * rs
        p_plus, p_minus = self._beams(rs)

        # tagged photon: cos ~ 1/(1 - c^2), E ~ 1/E, phi uniform
        cg, inv_qc = self._tagged_cos(u[0])
        e_kin = (s - 4.0 * m * m) / (2.0 * rs)
        e_hi = e_kin
        if energy_cap and not self.gaps_cm:  # with gaps the recoil may be anywhere: E_kin is the bound
            e_hi = np.minimum(e_hi, e_gamma_bound(np.arccos(cg), rs, *self.escape_theta_cm))
        if self.e_gamma_max_gev is not None:
            e_hi = np.minimum(e_hi, self.e_gamma_max_gev)
        e_lo = self.e_gamma_min_gev
        valid = e_hi > e_lo
        e_hi = np.where(valid, e_hi, 2.0 * e_lo)
        # E proposal: (1 - f)/(E r1) + f/(D r2), D = E_kin + eps - E (the 1/M^2 endpoint term,
        # only where the bound is E_kin, i.e. where the recoil may be soft; 3 gamma only)
        f = np.where(e_hi >= e_kin * (1.0 - 1e-12), self._endpoint_fraction, 0.0)
        eps = self._endpoint_eps()
        r1 = np.log(e_hi / e_lo)
        d_lo, d_hi = e_kin + eps - e_lo, e_kin + eps - e_hi
        r2 = np.log(d_lo / d_hi)
        first = u[1] < 1.0 - f
        v1 = u[1] / np.where(f < 1.0, 1.0 - f, 1.0)
        v2 = (u[1] - (1.0 - f)) / np.where(f > 0.0, f, 1.0)
        eg = np.where(first, e_lo * np.exp(v1 * r1), e_kin + eps - d_lo * np.exp(-v2 * r2))
        eg = np.clip(eg, e_lo, e_hi)
        inv_qe = 1.0 / ((1.0 - f) / (eg * r1) + f / ((e_kin + eps - eg) * r2))
        eg = np.where(valid, eg, 0.5 * np.minimum(e_lo, e_kin))
        phg = 2.0 * np.pi * u[2]
        sg = np.sqrt((1.0 - cg) * (1.0 + cg))
        k = eg * np.stack([np.ones_like(cg), sg * np.cos(phg), sg * np.sin(phg), cg])

        # recoil Q = P - k, rest frame reached by the boost -b, b = Q_vec/Q0
        q0 = rs - eg
        b = -k[1:] / q0
        mq = np.sqrt(s - 2.0 * rs * eg)
        e_q = 0.5 * mq
        p_q = np.sqrt(np.clip(e_q * e_q - m * m, 0.0, None))
        pp_q = _boost(p_plus, -b[0], -b[1], -b[2])
        pm_q = _boost(p_minus, -b[0], -b[1], -b[2])
        k_q = _boost(k, -b[0], -b[1], -b[2])
        chans = self._channels(pp_q, pm_q, k_q, e_q, p_q)
        rings = self._ring_channels()
        if rings:  # the gap channels take GAP_CHANNEL_FRACTION of the trials
            total = sum(ch[0] for ch in chans)
            chans = [((1.0 - GAP_CHANNEL_FRACTION) * ch[0] / total, *ch[1:]) for ch in chans]

        # choose the channel with u[3], rescale it for the polar variable
        raw = np.array([ch[0] for ch in chans] + [r[0] for r in rings])
        alphas = raw / np.sum(raw)
        edges = np.concatenate([[0.0], np.cumsum(raw)])
        edges /= edges[-1]
        n_chan = len(alphas)
        idx = np.clip(np.searchsorted(edges, u[3], side="right") - 1, 0, n_chan - 1)
        lo, hi = edges[idx], edges[idx + 1]
        v = np.clip((u[3] - lo) / (hi - lo), 0.0, 1.0)
        axis = np.zeros((3, rs.size))
        axis[2] = 1.0  # placeholder for the gap channels' trials (their d is set below)
        omc = np.zeros_like(rs)  # 1 - cos(angle to the channel axis)
        for j, (_, ax, sign, delta, beta) in enumerate(chans):
            sel = idx == j
            lj = np.log1p(2.0 * beta / delta)
            omc_j = delta * np.expm1(v * lj) / beta
            omc = np.where(sel, omc_j, omc)
            axis = np.where(sel, sign * ax, axis)
        omc = np.clip(omc, 0.0, 2.0)
        sin_a = np.sqrt(omc * (2.0 - omc))
        e1, e2 = _perp_basis(axis)
        ph = 2.0 * np.pi * u[4]
        d = (1.0 - omc) * axis + sin_a * (np.cos(ph) * e1 + np.sin(ph) * e2)
        for j, (_, c_lo, c_hi, sign) in enumerate(rings, start=len(chans)):
            # gap channel: the escaping particle (q1 for sign +1, q2 for -1) uniform in the CM ring
            # c_lo < cos(theta) < c_hi, phi uniform; d is its direction in the recoil frame
            sel = idx == j
            if not np.any(sel):
                continue
            c = c_lo + v[sel] * (c_hi - c_lo)
            s_ = np.sqrt((1.0 - c) * (1.0 + c))
            n_cm = np.stack([np.ones_like(c), s_ * np.cos(ph[sel]), s_ * np.sin(ph[sel]), c])
            n_q = _boost(n_cm, -b[0][sel], -b[1][sel], -b[2][sel])[1:]
            d[:, sel] = sign * n_q
        d /= np.sqrt(np.sum(d * d, axis=0))

        q1_q = np.concatenate([e_q[None], p_q * d])
        q2_q = np.concatenate([e_q[None], -p_q * d])
        q1 = _boost(q1_q, b[0], b[1], b[2])
        q2 = _boost(q2_q, b[0], b[1], b[2])
        # exact mass shell after the boost (round-off only)
        for q in (q1, q2):
            q[0] = np.sqrt(q[1] ** 2 + q[2] ** 2 + q[3] ** 2 + m * m)

        # mixture density on the sphere of d
        g = np.zeros_like(rs)
        for alpha, (_, ax, sign, delta, beta) in zip(alphas, chans, strict=False):
            diff = sign * ax - d
            om = 0.5 * np.sum(diff * diff, axis=0)
            g += alpha * beta / (2.0 * np.pi * np.log1p(2.0 * beta / delta)) / (delta + beta * om)
        for alpha, (_, c_lo, c_hi, sign) in zip(alphas[len(chans) :], rings, strict=True):
            # uniform density 1/(2 pi dcos) on the CM ring times dOmega_CM/dOmega_Q = (E_Q/E_CM)^2
            # (aberration of a massless particle)
            q = q1 if sign > 0 else q2
            cq = _cos_theta(q)
            inside = (cq > c_lo) & (cq < c_hi)
            jac = (e_q / q[0]) ** 2
            g += np.where(inside, alpha * jac / (2.0 * np.pi * (c_hi - c_lo)), 0.0)

        beta_pair = np.where(e_q > 0.0, p_q / np.where(e_q > 0.0, e_q, 1.0), 0.0)
        jac = eg / (16.0 * np.pi**3) * beta_pair / (32.0 * np.pi**2) * inv_qc * inv_qe * 2.0 * np.pi / g
        jac = np.where(valid, jac, 0.0)
        in_region = valid & self._escapes(q1) & self._escapes(q2)
        return {
            "p_plus": p_plus,
            "p_minus": p_minus,
            "k": k,
            "q1": q1,
            "q2": q2,
            "jacobian": jac,
            "in_region": in_region,
            "valid": valid,
        }

    def generate(self, u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0) -> ak.Array:
        """Generate u.shape[1] weighted trials; see the class docstring for the layout. The CM frame
        (``beta_z``, ``beta_x``, ``cm_axis_angle_rad``; scalars or per event) is the one drawn by
        :meth:`generator.beams.Beams.sample_frame`."""
        u, rs, bz, bx, axis = self._check(u, sqrt_s_gev, beta_z, beta_x, cm_axis_angle_rad)
        ps, weight = self._weighted(u, rs)
        region = ps["in_region"]
        n_other = self._in_detector(ps["q1"]).astype(np.int64) + self._in_detector(ps["q2"]).astype(np.int64)
        k = ps["k"]
        out = {}
        for key, p in self._particles(ps).items():
            out[key] = _momentum4d(_to_lab(p, bx, bz, axis))
        out.update(
            {
                "sqrt_s": rs,
                "e_gamma_cm": k[0],
                "cos_theta_gamma_cm": _cos_theta(k),
                "n_other_in_detector": n_other,
                "in_region": region,
                "weight": weight,
            }
        )
        return ak.zip(out, depth_limit=1)

    def _weighted(self, u, rs):
        """Phase space (:meth:`phase_space`) and weights [pb per trial] of the trials u (5, n)."""
        ps = self.phase_space(u, rs)
        me = self._matrix_element(ps["p_plus"], ps["p_minus"], ps["k"], ps["q1"], ps["q2"])
        weight = self._symmetry * me / (2.0 * rs * rs) * ps["jacobian"] * GEV2_TO_PB
        return ps, np.where(ps["in_region"], weight, 0.0)

    def _particles(self, ps):
        raise NotImplementedError


def _beam_channels(pp_q, pm_q, e_q, p_q, mass, alpha):
    """t-type channels: escaping particle 1 (+d) along the e+ beam, particle 2 (-d) along the e-
    beam (and, for massless particles, also the crossed assignments)."""
    out = []
    for beam, sign in ((pp_q, 1.0), (pm_q, -1.0)):
        pabs = np.sqrt(beam[1] ** 2 + beam[2] ** 2 + beam[3] ** 2)
        axis = beam[1:] / pabs
        eb = beam[0]
        if mass == 0.0:  # a = E_b omega (1 - beta_b cos): delta = 1 - beta_b
            delta = M_E_GEV**2 / (eb * (eb + pabs))
            out.append((alpha, axis, sign, delta, 1.0 - delta))
            out.append((alpha, axis, -sign, delta, 1.0 - delta))
        else:  # -t/2 = (E_b E_q - m^2) - P_b p_q cos; A - B = m^2 (E_b - E_q)^2/(D - m^2)
            big_a = eb * e_q - mass * mass
            dd = eb * e_q + pabs * p_q
            delta = mass * mass * (eb - e_q) ** 2 / ((dd - mass * mass) * big_a)
            out.append((alpha, axis, sign, delta, pabs * p_q / big_a))
    return out


class ThreePhoton(_BeamEscapeBase):
    """e+e- -> gamma gamma gamma with one tagged photon and two escaping photons (docs/physics.md §6).

    Parameters (CM frame, radians, GeV): ``e_gamma_min_gev`` (> 0), tagged window
    [``theta_min_cm``, ``theta_max_cm``], ``escape_theta_cm`` = (theta_a, theta_b) (the other photons
    need theta < theta_a or theta > theta_b; default: the tagged window), optional
    ``e_gamma_max_gev``, ``min_beam_angle`` (hard cut on the escaping photons' angle to the beam
    axis, default 0: mass-regularised propagators only) and ``e_escape_min_gev`` (minimum CM energy
    of the escaping photons, infrared cut-off; default ``e_gamma_min_gev``), ``gaps_cm`` (CM gaps
    the escaping photons may also go through) and ``two_body`` (add tree-level gamma gamma with
    the partner lost; module docstring).

    ``generate(u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0)``, u of shape (5, n).
    Fields: gamma1 (tagged), gamma2, gamma3 (escaping) as Momentum4D (lab frame, GeV), sqrt_s,
    e_gamma_cm, cos_theta_gamma_cm (of gamma1), n_other_in_detector (escaping photons inside
    [theta_a, theta_b]; 0 in the region), in_region, weight [pb per trial] (identical-particle factor
    1/3! x 3 x 2 = 1/2 included).
    """

    name = "threephoton_bbg"
    _symmetry = 0.5
    _endpoint_fraction = 0.5

    def __init__(self, *args, e_escape_min_gev: float | None = None, two_body: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.e_escape_min_gev = self.e_gamma_min_gev if e_escape_min_gev is None else float(e_escape_min_gev)
        if not self.e_escape_min_gev > 0.0:
            raise ValueError("e_escape_min_gev must be > 0 (soft escaping photon: IR divergence)")
        self.two_body = bool(two_body)

    def describe(self) -> dict:
        """Generation region and model choices, for the run metadata."""
        return {**super().describe(), "two_body": self.two_body}

    def _weighted(self, u, rs):
        """With ``two_body``: a share TWO_BODY_FRACTION of the trials (u[3] < f) are e+e- -> gamma
        gamma at tree level (module docstring), the rest the 3 gamma trials (u[3] rescaled), each
        part's weight divided by its share so that the mean stays sigma of the region."""
        if not self.two_body:
            return super()._weighted(u, rs)
        f = TWO_BODY_FRACTION
        two = u[3] < f
        u3 = u.copy()
        u3[3] = np.where(two, 0.0, (u[3] - f) / (1.0 - f))
        ps, weight = super()._weighted(u3, rs)
        ps2, weight2 = self._two_body(u, rs)
        ps = {key: np.where(two, ps2[key], val) for key, val in ps.items()}
        return ps, np.where(two, weight2 / f, weight / (1.0 - f))

    def _two_body(self, u, rs):
        """Tree-level e+e- -> gamma gamma trials: the tagged photon (cos theta from u[0] with the
        density ~ 1/(1 - c^2) of :meth:`phase_space`, phi from u[2]) at E = sqrt(s)/2, its partner
        back to back, the third photon absent (a zero four-vector). dsigma/dOmega = |M|^2/(64 pi^2 s)
        per tagged photon, 1/4 sum|M|^2 = 2 e^4 (a/a' + a'/a), a = p+.k, a' = p-.k (Berends &
        Kleiss 1981; docs/physics.md §6), with the massive beams of :meth:`phase_space`. In the
        region when the partner escapes (cone or gap, E > ``e_escape_min_gev``) and sqrt(s)/2 lies
        within the tagged energy range."""
        s = rs * rs
        p_plus, p_minus = self._beams(rs)
        eb = p_plus[0]
        cg, inv_qc = self._tagged_cos(u[0])
        phg = 2.0 * np.pi * u[2]
        sg = np.sqrt((1.0 - cg) * (1.0 + cg))
        n = np.stack([np.ones_like(cg), sg * np.cos(phg), sg * np.sin(phg), cg])
        k = eb * n
        partner = eb * np.stack([n[0], -n[1], -n[2], -n[3]])
        a, ap = _dot(p_plus, k), _dot(p_minus, k)
        me = 2.0 * _E2**2 * (a / ap + ap / a)
        e_ok = eb > self.e_gamma_min_gev
        if self.e_gamma_max_gev is not None:
            e_ok &= eb <= self.e_gamma_max_gev
        region = e_ok & self._escapes(partner)
        weight = me / (64.0 * np.pi**2 * s) * inv_qc * 2.0 * np.pi * GEV2_TO_PB
        ps = {
            "p_plus": p_plus,
            "p_minus": p_minus,
            "k": k,
            "q1": partner,
            "q2": np.zeros_like(k),
            "jacobian": np.where(region, inv_qc * 2.0 * np.pi, 0.0),
            "in_region": region,
            "valid": e_ok,
        }
        return ps, np.where(region, weight, 0.0)

    def _endpoint_eps(self):
        cone = max(self.escape_theta_cm[0], np.pi - self.escape_theta_cm[1])
        return 0.5 * self.e_escape_min_gev * (1.0 - np.cos(cone))

    def _channels(self, pp_q, pm_q, k_q, e_q, p_q):
        return _beam_channels(pp_q, pm_q, e_q, p_q, 0.0, 0.25)

    def _matrix_element(self, pp, pm, k, q1, q2):
        return matrix_element_3gamma(pp, pm, k, q1, q2)

    def _particles(self, ps):
        return {"gamma1": ps["k"], "gamma2": ps["q1"], "gamma3": ps["q2"]}


class EEGamma(_BeamEscapeBase):
    """e+e- -> e+e- gamma with the photon tagged and both leptons escaping (docs/physics.md §6).

    Parameters as for :class:`ThreePhoton`, plus ``mass_terms`` (TEEGG electron-mass terms,
    default True). Leptons are massive (m_e) in the kinematics; ``min_beam_angle`` (default 0)
    optionally cuts the leptons' angle to the beam axis.

    ``generate(u, sqrt_s_gev, beta_z=0.0, *, beta_x=0.0, cm_axis_angle_rad=0.0)``, u of shape (5, n).
    Fields: gamma, positron, electron (Momentum4D, lab frame, GeV), sqrt_s, e_gamma_cm,
    cos_theta_gamma_cm, n_other_in_detector, in_region, weight [pb per trial].
    """

    name = "eegamma_bbg"
    _lepton_mass = M_E_GEV

    def __init__(self, *args, mass_terms: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.mass_terms = bool(mass_terms)

    def describe(self) -> dict:
        """Generation region and model choices, for the run metadata."""
        return {**super().describe(), "mass_terms": self.mass_terms}

    def _channels(self, pp_q, pm_q, k_q, e_q, p_q):
        out = _beam_channels(pp_q, pm_q, e_q, p_q, M_E_GEV, 0.4)
        # final-state collinear peaks: y = q.k = E_q w (1 - beta_q cos)
        kabs = np.sqrt(k_q[1] ** 2 + k_q[2] ** 2 + k_q[3] ** 2)
        axis = k_q[1:] / kabs
        delta = M_E_GEV**2 / (e_q * (e_q + p_q))
        out.append((0.1, axis, 1.0, delta, 1.0 - delta))
        out.append((0.1, axis, -1.0, delta, 1.0 - delta))
        return out

    def _matrix_element(self, pp, pm, k, q1, q2):
        return matrix_element_eegamma(pp, pm, q1, q2, k, M_E_GEV, self.mass_terms)

    def _particles(self, ps):
        return {"gamma": ps["k"], "positron": ps["q1"], "electron": ps["q2"]}
