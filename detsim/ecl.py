"""Toy electromagnetic calorimeter: acceptance, energy response, efficiency and veto.

Units: energies in GeV, angles in radians (polar angle theta from the +z axis = e- beam, lab
frame unless a name says ``_cm``). Sources: docs/physics.md §8 ("PM") and Liang et al. ("L":
Belle II, BESIII/STCF and BaBar sections, appendix eq. 5).

What the toy does to one photon (``Calorimeter.detect``), with a fixed number of uniforms per
photon (``N_UNIFORMS`` = 4, rows of ``u``; rows 2, 3 are consumed only if an angular resolution
is set, so the random-number layout does not depend on the options):

* ``u[0]``: energy response. E_meas = E_true + sigma_E(E_true) * t with t a standard normal
  deviate (``response="gaussian"``, t = ndtri(u)) or a standard crystal-ball deviate
  (``response="crystal_ball"``, inverse CDF, see :func:`crystal_ball_ppf`). sigma_E/E is a
  :class:`StochasticResolution`, :class:`PowerResolution` or :class:`TableResolution`,
  evaluated at the *true* energy. Measured energies <= ``e_threshold_gev`` (and all negative
  ones, which the crystal-ball tail can produce) are not detected.
* ``u[1]``: efficiency. Detected if u[1] < ``efficiency`` (and in the acceptance).
* ``u[2]``, ``u[3]``: optional Gaussian smearing of theta and phi (``theta_resolution_rad``,
  ``phi_resolution_rad``, default 0 = angles unsmeared; theta is reflected back into [0, pi]).
* Acceptance: the *true* lab polar angle must lie strictly inside one of the ``regions``
  (theta_lo, theta_hi, name); gaps between regions are not instrumented.
* CM quantities: the measured lab photon (massless) is transformed into the CM frame, which
  moves with (beta_x, 0, beta_z) in the lab (:func:`photon_to_cm`); head-on (beta_x = 0):
  E_cm = gamma (E - beta E cos theta), tan theta_cm = sin theta / (gamma (cos theta - beta))
  (L footnote 1), phi unchanged.

Veto (beam-escape / reducible backgrounds, PM section 6): another particle is *visible* if its
lab polar angle lies inside ``veto_regions`` (default: the photon regions) and it is charged
(any energy) or a neutral with true energy > ``veto_e_min_gev``. :meth:`Calorimeter.event_veto`
works on jagged awkward arrays (one list of other particles per event). Truth-level angles and
energies are used for the veto (no smearing, 100 % efficiency).

Presets (:func:`bes3`, :func:`stcf`, :func:`belle2`, :func:`babar`) document their numbers and
sources. Only the numbers marked "choice" are not from L / PM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import awkward as ak
import numpy as np
import vector
from scipy.special import erf, ndtr, ndtri

__all__ = [
    "N_UNIFORMS",
    "Region",
    "StochasticResolution",
    "PowerResolution",
    "TableResolution",
    "crystal_ball_pdf",
    "crystal_ball_cdf",
    "crystal_ball_ppf",
    "boost_photon_to_cm",
    "photon_to_cm",
    "Calorimeter",
    "bes3",
    "stcf",
    "belle2",
    "babar",
    "PRESETS",
]

vector.register_awkward()  # photons in and out are Momentum4D records

N_UNIFORMS = 4
"""Uniforms per photon consumed by :meth:`Calorimeter.detect` (energy, efficiency, theta, phi)."""

_EPS_U = 1e-300  # keeps uniforms inside (0, 1) for ndtri / the power-law inverse


# --------------------------------------------------------------------------------------------
# Acceptance regions
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Region:
    """Instrumented polar-angle interval theta_lo < theta < theta_hi [rad, lab]."""

    theta_lo: float
    theta_hi: float
    name: str = ""

    def __post_init__(self):
        if not 0.0 <= self.theta_lo < self.theta_hi <= np.pi:
            raise ValueError(f"region {self.name!r}: need 0 <= theta_lo < theta_hi <= pi")

    @classmethod
    def from_degrees(cls, lo_deg: float, hi_deg: float, name: str = "") -> Region:
        return cls(float(np.radians(lo_deg)), float(np.radians(hi_deg)), name)

    @classmethod
    def from_cos(cls, cos_hi: float, cos_lo: float, name: str = "") -> Region:
        """Region cos_lo < cos(theta) < cos_hi, i.e. arccos(cos_hi) < theta < arccos(cos_lo)."""
        return cls(float(np.arccos(cos_hi)), float(np.arccos(cos_lo)), name)

    def contains(self, theta):
        """Elementwise theta_lo < theta < theta_hi (numpy or awkward)."""
        return (theta > self.theta_lo) & (theta < self.theta_hi)


def _regions_tuple(regions) -> tuple[Region, ...]:
    out = []
    for r in regions:
        out.append(r if isinstance(r, Region) else Region(float(r[0]), float(r[1]), str(r[2]) if len(r) > 2 else ""))
    return tuple(out)


def _in_any(regions: Sequence[Region], theta):
    mask = None
    for r in regions:
        m = r.contains(theta)
        mask = m if mask is None else (mask | m)
    if mask is None:
        return theta != theta  # all False, same type/shape
    return mask


# --------------------------------------------------------------------------------------------
# Energy resolutions: callables returning sigma_E / E at energy E [GeV]
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StochasticResolution:
    """sigma_E/E = a/sqrt(E/GeV) (+) b (+) c/(E/GeV), terms added in quadrature.

    BESIII EMC (PM section 8, L "optimized cut"): a = 0.023, b = 0.01.
    """

    a: float
    b: float = 0.0
    c: float = 0.0

    def __call__(self, e_gev):
        e = np.maximum(np.asarray(e_gev, dtype=float), 1e-12)
        return np.sqrt((self.a / np.sqrt(e)) ** 2 + self.b**2 + (self.c / e) ** 2)


@dataclass(frozen=True)
class PowerResolution:
    """sigma_E/E = a (E/GeV)^p (+) b (quadrature).

    BaBar EMC (PM section 8; L below eq. 3 with the minus sign restored): a = 0.015,
    p = -1/4, b = 0.01.
    """

    a: float
    p: float
    b: float = 0.0

    def __call__(self, e_gev):
        e = np.maximum(np.asarray(e_gev, dtype=float), 1e-12)
        return np.sqrt((self.a * e**self.p) ** 2 + self.b**2)


@dataclass(frozen=True)
class TableResolution:
    """sigma_E/E tabulated at energies E_i [GeV], interpolated linearly in (ln E, ln sigma/E).

    Between two nodes this is the power law through them; outside the table the end values are
    held constant (clamped). Belle II (PM section 8, L "optimized cut"): 4 % at 0.1 GeV and
    1.6 % at 8 GeV, i.e. sigma_E/E = 4 % (E/0.1 GeV)^(-0.209) for 0.1 <= E <= 8 GeV.
    """

    energies_gev: tuple[float, ...]
    rel_sigma: tuple[float, ...]

    def __post_init__(self):
        e = np.asarray(self.energies_gev, dtype=float)
        r = np.asarray(self.rel_sigma, dtype=float)
        if e.ndim != 1 or e.shape != r.shape or e.size < 1:
            raise ValueError("energies_gev and rel_sigma must be 1-d of equal, non-zero length")
        if np.any(e <= 0) or np.any(r <= 0) or np.any(np.diff(e) <= 0):
            raise ValueError("energies must be > 0 and increasing, rel_sigma > 0")
        object.__setattr__(self, "energies_gev", tuple(float(x) for x in e))
        object.__setattr__(self, "rel_sigma", tuple(float(x) for x in r))

    def __call__(self, e_gev):
        e = np.maximum(np.asarray(e_gev, dtype=float), 1e-12)
        le = np.log(np.asarray(self.energies_gev))
        lr = np.log(np.asarray(self.rel_sigma))
        return np.exp(np.interp(np.log(e), le, lr))


# --------------------------------------------------------------------------------------------
# Crystal ball (L appendix eq. 5): Gaussian core, power-law tail on the LOW side
# --------------------------------------------------------------------------------------------
def _cb_constants(alpha: float, n: float):
    a = abs(alpha)
    if not n > 1.0:
        raise ValueError("crystal ball needs n > 1 (normalisable tail)")
    big_a = (n / a) ** n * np.exp(-0.5 * a * a)
    big_b = n / a - a
    c = n / a / (n - 1.0) * np.exp(-0.5 * a * a)
    d = np.sqrt(np.pi / 2.0) * (1.0 + erf(a / np.sqrt(2.0)))
    return a, big_a, big_b, c, d


def crystal_ball_pdf(x, mean=0.0, sigma=1.0, alpha=0.811, n=1.79):
    """Normalised crystal-ball density (L appendix eq. 5); t = (x - mean)/sigma.

    f = N exp(-t^2/2) for t > -alpha, N A (B - t)^(-n) for t <= -alpha, N = 1/(sigma (C + D)).
    Defaults alpha = 0.811, n = 1.79: BaBar (L, ref. [52]).
    """
    a, big_a, big_b, c, d = _cb_constants(alpha, n)
    t = (np.asarray(x, dtype=float) - mean) / sigma
    core = np.exp(-0.5 * t * t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tail = big_a * np.maximum(big_b - t, 1e-300) ** (-n)
    return np.where(t > -a, core, tail) / (sigma * (c + d))


def crystal_ball_cdf(x, mean=0.0, sigma=1.0, alpha=0.811, n=1.79):
    """CDF of :func:`crystal_ball_pdf` (closed form: power-law tail + normal CDF core)."""
    a, big_a, big_b, c, d = _cb_constants(alpha, n)
    t = (np.asarray(x, dtype=float) - mean) / sigma
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tail = big_a * np.maximum(big_b - t, 1e-300) ** (1.0 - n) / (n - 1.0)
    core = c + np.sqrt(2.0 * np.pi) * (ndtr(t) - ndtr(-a))
    return np.where(t > -a, core, tail) / (c + d)


def crystal_ball_ppf(u, alpha=0.811, n=1.79):
    """Standard crystal-ball deviate t (mean 0, sigma 1) from uniforms u, by inverse CDF.

    Tail (u (C + D) <= C): t = B - (u (C + D)(n - 1)/A)^(-1/(n - 1)) (closed form).
    Core: 1 - Phi(t) = (1 - u)(C + D)/sqrt(2 pi), t = -ndtri(.) (complement for precision in
    the upper Gaussian tail). u is clipped into (0, 1).
    """
    a, big_a, big_b, c, d = _cb_constants(alpha, n)
    u = np.clip(np.asarray(u, dtype=float), _EPS_U, 1.0 - 1e-16)
    p = u * (c + d)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_tail = big_b - (np.maximum(p, _EPS_U) * (n - 1.0) / big_a) ** (-1.0 / (n - 1.0))
        q = np.clip((1.0 - u) * (c + d) / np.sqrt(2.0 * np.pi), _EPS_U, 1.0)
        t_core = -ndtri(q)
    return np.where(p <= c, t_tail, t_core)


# --------------------------------------------------------------------------------------------
# Kinematics
# --------------------------------------------------------------------------------------------
def boost_photon_to_cm(e_lab, theta_lab, beta_z):
    """Massless particle (E, theta) in the lab -> (E_cm, theta_cm); CM moves with +beta_z along z.

    E_cm = gamma E (1 - beta cos theta); theta_cm = arctan2(sin theta, gamma (cos theta - beta))
    (L footnote 1).
    """
    e = np.asarray(e_lab, dtype=float)
    th = np.asarray(theta_lab, dtype=float)
    b = np.asarray(beta_z, dtype=float)
    gam = 1.0 / np.sqrt(1.0 - b * b)
    ct, st = np.cos(th), np.sin(th)
    e_cm = gam * e * (1.0 - b * ct)
    theta_cm = np.arctan2(st, gam * (ct - b))
    return e_cm, theta_cm


def photon_to_cm(e_lab, theta_lab, phi_lab, *, beta_x=0.0, beta_z=0.0):
    """Massless particle (E, theta, phi) in the lab -> (E_cm, theta_cm, phi_cm) in the frame moving
    with velocity (beta_x, 0, beta_z) (CM of colliding beams; docs/physics.md §10).

    Lorentz transformation of p = E n: E' = gamma E (1 - beta.n), and the direction of
    p' = E [n + ((gamma - 1)(beta.n)/beta^2 - gamma) beta] (Jackson eq. 11.19). Where beta_x = 0
    this is :func:`boost_photon_to_cm` (the closed form is used there, phi unchanged).
    """
    e = np.asarray(e_lab, dtype=float)
    th = np.asarray(theta_lab, dtype=float)
    ph = np.asarray(phi_lab, dtype=float)
    bx = np.asarray(beta_x, dtype=float)
    bz = np.asarray(beta_z, dtype=float)
    e_cm, th_cm = boost_photon_to_cm(e, th, bz)
    if not np.any(bx != 0.0):
        return e_cm, th_cm, np.broadcast_to(ph, np.shape(e_cm)).copy()
    st, ct = np.sin(th), np.cos(th)
    nx, ny, nz = st * np.cos(ph), st * np.sin(ph), ct
    b2 = bx * bx + bz * bz
    gam = 1.0 / np.sqrt(1.0 - b2)
    bn = bx * nx + bz * nz
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(b2 > 0, (gam - 1.0) * bn / b2 - gam, 0.0)
    dx, dy, dz = nx + k * bx, ny, nz + k * bz
    general = gam * e * (1.0 - bn), np.arctan2(np.hypot(dx, dy), dz), np.arctan2(dy, dx)
    head_on = bx == 0.0
    return (
        np.where(head_on, e_cm, general[0]),
        np.where(head_on, th_cm, general[1]),
        np.where(head_on, ph, general[2]),
    )


def _photon(e, e_pos, theta, phi) -> ak.Array:
    """Massless photon records (pt, phi, theta, E) with name Momentum4D; pt = max(E, 0) sin(theta)."""
    return ak.zip({"pt": e_pos * np.sin(theta), "phi": phi, "theta": theta, "E": e}, with_name="Momentum4D")


# --------------------------------------------------------------------------------------------
# Calorimeter
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calorimeter:
    """Toy calorimeter; see the module docstring for what is smeared and in which frame.

    Fields: ``name``; ``regions`` (tuple of :class:`Region`, lab, rad); ``resolution`` (callable
    sigma_E/E(E [GeV])); ``response`` ('gaussian' or 'crystal_ball'); ``cb_alpha``, ``cb_n``;
    ``efficiency`` (photon detection efficiency in the acceptance); ``e_threshold_gev``
    (minimum measured energy); ``theta_resolution_rad``, ``phi_resolution_rad`` (0 = off);
    ``veto_regions`` (lab acceptance for the veto; empty tuple = same as ``regions``);
    ``veto_e_min_gev`` (neutral particles above it veto the event); ``gap_veto_efficiency``
    (probability that a neutral above ``veto_e_min_gev`` escaping through a gap between two
    regions is seen by the structures behind it, e.g. the Belle II KLM; 0 = no gap veto);
    ``source`` (documentation).
    """

    name: str
    regions: tuple[Region, ...]
    resolution: object
    response: str = "gaussian"
    cb_alpha: float = 0.811
    cb_n: float = 1.79
    efficiency: float = 1.0
    e_threshold_gev: float = 0.0
    theta_resolution_rad: float = 0.0
    phi_resolution_rad: float = 0.0
    veto_regions: tuple[Region, ...] = field(default_factory=tuple)
    veto_e_min_gev: float = 0.0
    gap_veto_efficiency: float = 0.0
    source: str = ""

    def __post_init__(self):
        object.__setattr__(self, "regions", _regions_tuple(self.regions))
        object.__setattr__(self, "veto_regions", _regions_tuple(self.veto_regions))
        if not self.regions:
            raise ValueError("a calorimeter needs at least one region")
        if self.response not in ("gaussian", "crystal_ball"):
            raise ValueError(f"response must be 'gaussian' or 'crystal_ball', got {self.response!r}")
        if not 0.0 <= self.efficiency <= 1.0:
            raise ValueError("efficiency must be in [0, 1]")
        if self.response == "crystal_ball":
            _cb_constants(self.cb_alpha, self.cb_n)
        if self.theta_resolution_rad < 0 or self.phi_resolution_rad < 0:
            raise ValueError("angular resolutions must be >= 0")
        if not 0.0 <= self.gap_veto_efficiency <= 1.0:
            raise ValueError("gap_veto_efficiency must be in [0, 1]")

    # -- acceptance ----------------------------------------------------------------------------
    @property
    def theta_min(self) -> float:
        """Outer lab edge of the photon acceptance, forward side [rad]."""
        return min(r.theta_lo for r in self.regions)

    @property
    def theta_max(self) -> float:
        """Outer lab edge of the photon acceptance, backward side [rad]."""
        return max(r.theta_hi for r in self.regions)

    @property
    def veto_acceptance(self) -> tuple[Region, ...]:
        return self.veto_regions if self.veto_regions else self.regions

    @property
    def veto_theta_edges(self) -> tuple[float, float]:
        """Outer lab edges (forward, backward) [rad] of the veto acceptance (the bBG-cut edges)."""
        va = self.veto_acceptance
        return min(r.theta_lo for r in va), max(r.theta_hi for r in va)

    @property
    def gaps(self) -> tuple[Region, ...]:
        """Non-instrumented polar ranges between neighbouring photon regions (lab, rad), e.g. the
        Belle II barrel-endcap gaps 31.4-32.2 and 128.7-130.7 deg; empty for a contiguous ECL."""
        rs = sorted(self.regions, key=lambda r: r.theta_lo)
        return tuple(
            Region(a.theta_hi, b.theta_lo, f"gap_{a.name}_{b.name}")
            for a, b in zip(rs, rs[1:], strict=False)
            if b.theta_lo > a.theta_hi
        )

    def in_gap(self, theta_lab):
        """True where the lab polar angle lies strictly inside a gap (:attr:`gaps`)."""
        return _in_any(self.gaps, theta_lab)

    def gap_veto_weight(self, theta_lab, energy, charged=None) -> np.ndarray:
        """Per event: probability that no *other* particle is seen behind a gap, the product of
        (1 - ``gap_veto_efficiency``) over the neutrals with lab theta in a gap and true energy >
        ``veto_e_min_gev`` (charged particles leave tracks and are not counted here). Jagged
        awkward inputs as for :meth:`event_veto`; all ones when ``gap_veto_efficiency`` is 0.

        Used as an event weight (exact expectation, no random numbers), docs/physics.md §8.
        """
        theta = ak.Array(theta_lab)
        n_events = len(theta)
        if self.gap_veto_efficiency <= 0.0 or not self.gaps:
            return np.ones(n_events)
        hit = self.in_gap(theta) & (ak.Array(energy) > self.veto_e_min_gev)
        if charged is not None:
            hit = hit & ~ak.Array(charged)
        n_hit = np.asarray(ak.fill_none(ak.sum(hit, axis=-1), 0), dtype=float)
        return (1.0 - self.gap_veto_efficiency) ** n_hit

    def in_acceptance(self, theta_lab):
        """True where the lab polar angle lies strictly inside a photon region."""
        return _in_any(self.regions, theta_lab)

    def region_index(self, theta_lab) -> np.ndarray:
        """Index into ``regions`` (int), -1 outside the acceptance."""
        th = np.asarray(theta_lab, dtype=float)
        idx = np.full(th.shape, -1, dtype=np.int64)
        for i, r in enumerate(self.regions):
            idx[np.asarray(r.contains(th))] = i
        return idx

    # -- response ------------------------------------------------------------------------------
    def rel_sigma(self, e_gev):
        """sigma_E/E at energy E [GeV]."""
        return self.resolution(e_gev)

    def sigma_e(self, e_gev):
        """Absolute energy resolution sigma_E [GeV] at energy E [GeV]."""
        e = np.asarray(e_gev, dtype=float)
        return e * self.resolution(e)

    def response_deviate(self, u):
        """Standard response deviate t from uniforms (normal or crystal ball)."""
        u = np.clip(np.asarray(u, dtype=float), _EPS_U, 1.0 - 1e-16)
        if self.response == "gaussian":
            return ndtri(u)
        return crystal_ball_ppf(u, self.cb_alpha, self.cb_n)

    def smear_energy(self, e_true, u):
        """Measured energy E + sigma_E(E) t [GeV] (may be <= 0 in the crystal-ball tail)."""
        e = np.asarray(e_true, dtype=float)
        return e + self.sigma_e(e) * self.response_deviate(u)

    def detect(self, photon, u, *, beta_x=0.0, beta_z=0.0) -> ak.Array:
        """Detector response for one photon per entry.

        ``photon``: the true photon (lab), an array of ``vector`` Momentum4D records (any
        coordinates with ``E``, ``theta``, ``phi``); ``u`` of shape (N_UNIFORMS, n); ``beta_x``,
        ``beta_z``: velocity of the CM frame in the lab (scalars or per event; Belle II
        beta_z = 3/11, a crossing angle gives beta_x). Returns an awkward record array:

        * ``photon``: the measured photon in the lab, Momentum4D with coordinates
          (pt, phi, theta, E); ``E`` is the smeared energy (may be <= 0 for undetected
          entries in the crystal-ball tail; pt uses max(E, 0));
        * ``photon_cm``: the measured photon (E >= 0, massless) in the CM frame
          (:func:`photon_to_cm`), same coordinates;
        * ``region`` (index into ``regions``, -1 outside), ``in_acceptance``, ``detected``.

        Undetected entries keep their (smeared) values: mask with ``detected``.
        """
        e = np.asarray(photon.E, dtype=float).ravel()
        th = np.asarray(photon.theta, dtype=float).ravel()
        ph = np.asarray(photon.phi, dtype=float).ravel()
        n = e.size
        u = np.asarray(u, dtype=float)
        if u.shape != (N_UNIFORMS, n):
            raise ValueError(f"u must have shape ({N_UNIFORMS}, {n}), got {u.shape}")
        bx = np.broadcast_to(np.asarray(beta_x, dtype=float), (n,))
        bz = np.broadcast_to(np.asarray(beta_z, dtype=float), (n,))

        in_acc = np.asarray(self.in_acceptance(th), dtype=bool)
        region = self.region_index(th)
        e_meas = self.smear_energy(e, u[0])
        eff_ok = u[1] < self.efficiency
        th_meas, ph_meas = th, ph
        if self.theta_resolution_rad > 0:
            t = th + self.theta_resolution_rad * ndtri(np.clip(u[2], _EPS_U, 1.0 - 1e-16))
            t = np.abs(t)  # reflect at 0 ...
            th_meas = np.where(t > np.pi, 2.0 * np.pi - t, t)  # ... and at pi
        if self.phi_resolution_rad > 0:
            p = ph + self.phi_resolution_rad * ndtri(np.clip(u[3], _EPS_U, 1.0 - 1e-16))
            ph_meas = np.mod(p + np.pi, 2.0 * np.pi) - np.pi
        detected = in_acc & eff_ok & (e_meas > max(self.e_threshold_gev, 0.0))
        e_pos = np.maximum(e_meas, 0.0)
        e_cm, th_cm, ph_cm = photon_to_cm(e_pos, th_meas, ph_meas, beta_x=bx, beta_z=bz)
        return ak.zip(
            {
                "photon": _photon(e_meas, e_pos, th_meas, ph_meas),
                "photon_cm": _photon(e_cm, e_cm, th_cm, ph_cm),
                "region": region,
                "in_acceptance": in_acc,
                "detected": detected,
            },
            depth_limit=1,
        )

    # -- veto ----------------------------------------------------------------------------------
    def visible(self, theta_lab, energy, charged=None):
        """Elementwise: is this (other) particle seen? Works on numpy and (jagged) awkward arrays.

        Visible = lab theta inside the veto acceptance and (charged, or energy > veto_e_min_gev).
        ``charged``: bool array like ``theta_lab`` or None (all neutral). Truth-level inputs.
        """
        inside = _in_any(self.veto_acceptance, theta_lab)
        seen = energy > self.veto_e_min_gev
        if charged is not None:
            seen = seen | charged
        return inside & seen

    def event_veto(self, theta_lab, energy, charged=None) -> np.ndarray:
        """Per event: True if any *other* particle of the event is visible (event rejected).

        theta_lab, energy (and optional charged): jagged awkward arrays, one list of the other
        final-state particles per event (lab, rad, GeV). Returns a numpy bool array.
        """
        vis = self.visible(ak.Array(theta_lab), ak.Array(energy), None if charged is None else ak.Array(charged))
        return np.asarray(ak.fill_none(ak.any(vis, axis=-1), False), dtype=bool)

    def event_veto_p4(self, particles, charged=None) -> np.ndarray:
        """:meth:`event_veto` for a jagged Momentum4D array (lab frame) of the other particles."""
        return self.event_veto(particles.theta, particles.E, charged)


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------
def bes3(**overrides) -> Calorimeter:
    """BESIII EMC.

    Regions: barrel |cos theta| < 0.83, end caps 0.85 < |cos theta| < 0.93 (BESIII detector
    paper, NIM A 614 (2010) 345; PM section 8 only gives
    the pre-selection |cos| < 0.8 / 0.86-0.92, which lies inside these). Resolution
    2.3 %/sqrt(E/GeV) (+) 1 % (PM section 8, L), Gaussian. Efficiency 1 (L gives none).
    Veto acceptance |cos theta| < 0.95 (L: cos theta_b = 0.95 from MDC + EMC + TOF coverage);
    veto_e_min_gev = 0.025 (choice: the pre-selection photon threshold). Symmetric machine:
    lab = CM (the 11 mrad crossing angle is neglected).
    """
    kw = {
        "name": "bes3",
        "regions": (
            Region.from_cos(0.93, 0.85, "endcap_fwd"),
            Region.from_cos(0.83, -0.83, "barrel"),
            Region.from_cos(-0.85, -0.93, "endcap_bwd"),
        ),
        "resolution": StochasticResolution(a=0.023, b=0.01),
        "response": "gaussian",
        "efficiency": 1.0,
        "veto_regions": (Region.from_cos(0.95, -0.95, "mdc_emc_tof"),),
        "veto_e_min_gev": 0.025,
        "source": "PM sec. 8; L BESIII section; BESIII NIM A 614 (2010) 345 (EMC coverage)",
    }
    kw.update(overrides)
    return Calorimeter(**kw)


def stcf(**overrides) -> Calorimeter:
    """STCF: the BESIII detector numbers (L, STCF section; PM section 8)."""
    kw = {"name": "stcf", "source": "L: STCF analysed with BESIII detector parameters"}
    kw.update(overrides)
    return bes3(**kw)


def belle2(**overrides) -> Calorimeter:
    """Belle II ECL (L Belle II section, PM section 8).

    Regions (lab): forward 12.4-31.4 deg, barrel 32.2-128.7 deg, backward 130.7-155.1 deg
    (gaps not instrumented). sigma_E/E: 4 % at 0.1 GeV, 1.6 % at 8 GeV, log-log interpolation
    (:class:`TableResolution`), Gaussian. Photon efficiency 95 %. Veto acceptance = the ECL
    regions (a particle in a gap escapes: that is the gBG of L); veto_e_min_gev = 0.1 (choice).
    """
    kw = {
        "name": "belle2",
        "regions": (
            Region.from_degrees(12.4, 31.4, "forward"),
            Region.from_degrees(32.2, 128.7, "barrel"),
            Region.from_degrees(130.7, 155.1, "backward"),
        ),
        "resolution": TableResolution((0.1, 8.0), (0.04, 0.016)),
        "response": "gaussian",
        "efficiency": 0.95,
        "veto_e_min_gev": 0.1,
        "source": "PM sec. 8; L Belle II section (ECL from Belle II physics book, L ref. [42])",
    }
    kw.update(overrides)
    return Calorimeter(**kw)


def babar(**overrides) -> Calorimeter:
    """BaBar EMC.

    Acceptance 15.8 deg < theta_lab < 141.8 deg (forward end cap + barrel, contiguous; BaBar
    detector paper NIM A 479 (2002) 1 -- not given in L, whose analysis works with the published
    CM windows and geometric efficiencies). sigma_E/E = 1.5 % (E/GeV)^(-1/4) (+) 1 % (PM section
    8), crystal-ball response alpha = 0.811, n = 1.79 (L appendix eq. 5, ref. [52]). Efficiency
    1 (L folds non-geometric losses into f_NG). veto_e_min_gev = 0.1 (choice).
    """
    kw = {
        "name": "babar",
        "regions": (Region.from_degrees(15.8, 141.8, "emc"),),
        "resolution": PowerResolution(a=0.015, p=-0.25, b=0.01),
        "response": "crystal_ball",
        "cb_alpha": 0.811,
        "cb_n": 1.79,
        "efficiency": 1.0,
        "veto_e_min_gev": 0.1,
        "source": "PM sec. 8; L BaBar section + appendix eq. 5; BaBar NIM A 479 (2002) 1 (EMC coverage)",
    }
    kw.update(overrides)
    return Calorimeter(**kw)


PRESETS = {"bes3": bes3, "besiii": bes3, "stcf": stcf, "belle2": belle2, "belleii": belle2, "babar": babar}
"""Preset factories by (lower-case) name."""
