"""Selections (vectorised boolean masks): monophoton cuts and signal regions, the experiments'
selection chains, L's optimised energy window, and the tracker channel's signal flags.

Units: energies in GeV, angles in radians, cross sections in pb (``sigma_fb`` in fb), luminosity
in pb^-1. Sources: docs/physics.md §5, §6, §8 ("PM"); Liang et al. ("L").

Weights convention: arrays of per-trial weights in pb as produced by the generator, so that
sigma(cut) = sum(w * mask) / n_trials. ``n_trials`` defaults to ``len(weights)``; pass it
explicitly if the arrays were pre-filtered.

Frames:

* BESIII/STCF pre-selection (PM section 8, L ref. [50]) is a detector cut; the machines are
  symmetric (lab = CM up to the 11 mrad crossing angle, neglected), so it is applied to the CM
  (= lab) photon, as in the PM section 5 check (1.38 fb at 4 GeV).
* bBG cut: CM photon energy and CM polar angle (L eqs. 1, 2). For an asymmetric machine the
  lab edges of the acceptance are converted to the CM with L footnote 1 (``bbg_asymmetric``).
* Belle II low/high-mass regions: (E_gamma^CM, theta_gamma^lab) as in L Fig. 2.
* BaBar windows: CM (L BaBar section).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .bbg import e_max_asymmetric, e_max_symmetric, lab_to_cm_theta, passes_bbg_cut

__all__ = [
    "besiii_preselection",
    "bbg_symmetric",
    "bbg_asymmetric",
    "bbg_minimum_energy",
    "bbg_resolution_margin",
    "outside_gap_images",
    "Polygon",
    "belle2_low_mass_polygon",
    "belle2_high_mass_polygon",
    "in_polygon_region",
    "point_in_polygon",
    "weighted_yield",
    "CalibrationResult",
    "calibrate_polygon",
    "babar_high_e",
    "babar_low_e",
    "OptimisedWindow",
    "optimise_energy_window",
    "EXPERIMENTS",
    "MonophotonSelection",
    "tracker_flags",
]


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


# --------------------------------------------------------------------------------------------
# BESIII / STCF
# --------------------------------------------------------------------------------------------
def besiii_preselection(e_gamma, cos_theta, *, e_barrel=0.025, cos_barrel=0.8, e_endcap=0.05, endcap=(0.86, 0.92)):
    """BESIII photon pre-selection (PM section 8; L BESIII section, ref. [50]).

    E > 25 MeV with |cos theta| < 0.8, or E > 50 MeV with 0.86 < |cos theta| < 0.92. Apply it
    to the CM (= lab) photon of a symmetric machine; e_gamma [GeV].
    """
    e = _arr(e_gamma)
    ac = np.abs(_arr(cos_theta))
    barrel = (e > e_barrel) & (ac < cos_barrel)
    endc = (e > e_endcap) & (ac > endcap[0]) & (ac < endcap[1])
    return barrel | endc


# --------------------------------------------------------------------------------------------
# bBG cut (analysis/bbg.py)
# --------------------------------------------------------------------------------------------
def bbg_symmetric(e_gamma_cm, theta_gamma_cm, sqrt_s, cos_theta_b=0.95):
    """bBG cut for a symmetric detector (L eq. 1): E_cm > sqrt(s)/(1 + sin theta/sin theta_b).

    cos_theta_b: acceptance edge (BESIII/STCF 0.95, L). Returns a numpy bool mask.
    """
    return np.asarray(passes_bbg_cut(_arr(e_gamma_cm), _arr(theta_gamma_cm), sqrt_s, float(np.arccos(cos_theta_b))))


def bbg_asymmetric(e_gamma_cm, theta_gamma_cm, sqrt_s, theta1_lab, theta2_lab, beta_z):
    """bBG cut for an asymmetric detector (L eq. 2) with *lab* acceptance edges.

    The edges theta1_lab, theta2_lab [rad] (Belle II: 12.4 and 155.1 deg) are converted to the
    CM with L footnote 1 (boost beta_z along +z, scalar or per event), then the CM photon
    (e_gamma_cm [GeV], theta_gamma_cm [rad]) is tested against E_m of L eq. 2 (capped at
    sqrt(s)/2).
    """
    t1 = lab_to_cm_theta(_arr(theta1_lab), _arr(beta_z))
    t2 = lab_to_cm_theta(_arr(theta2_lab), _arr(beta_z))
    return np.asarray(passes_bbg_cut(_arr(e_gamma_cm), _arr(theta_gamma_cm), sqrt_s, theta1_cm=t1, theta2_cm=t2))


def bbg_minimum_energy(sqrt_s, theta1_cm, theta2_cm):
    """Minimum over theta_gamma of the bBG curve E_m (L eq. 2; eq. 1 for theta2 = pi - theta1) [GeV].

    With d = sin(theta2 - theta1), E_m = sqrt(s) d / (d + (sin th1 - sin th2) cos th_g
    + (cos th1 - cos th2) sin th_g) (analysis/bbg.py), so the minimum is
    sqrt(s) d / (d + hypot(sin th1 - sin th2, cos th1 - cos th2)). This is L's lower limit of
    E_min in the "optimized cut" (``e_floor`` of :func:`optimise_energy_window`).
    Symmetric edges give sqrt(s)/(1 + 1/sin theta_b).
    """
    t1, t2 = _arr(theta1_cm), _arr(theta2_cm)
    d = np.abs(np.sin(t2 - t1))
    r = np.hypot(np.sin(t1) - np.sin(t2), np.cos(t1) - np.cos(t2))
    return sqrt_s * d / (d + r)


def bbg_resolution_margin(e_gamma_cm, e_m_cm, e_gamma_lab, sqrt_s, n_sigma, rel_resolution):
    """The bBG cut made robust against the energy response (docs/physics.md §8, "beam-escape
    survivors"): E_gamma^CM > E_m (1 + n_sigma sigma_E/E) where E_m < sqrt(s)/2, and nothing where
    E_m is capped at sqrt(s)/2.

    L's cut E > E_m is exact for the true energy; beam-escape photons pile up at E = E_m (the
    two-photon peak at sqrt(s)/2 where the partner escapes into the opposite cone), and an upward
    fluctuation of the measured energy carries them across. sigma_E/E = ``rel_resolution(E_lab)``
    at the measured lab energy [GeV] (the relative resolution is frame-independent for a photon);
    ``e_m_cm``: the bBG curve at the measured CM angle (:func:`analysis.bbg.e_max_symmetric` or
    :func:`analysis.bbg.e_max_asymmetric`). Where E_m reaches sqrt(s)/2 no photon is kinematically
    separable from beam escape, and a signal photon (E <= (s - 4 m^2)/(2 sqrt s)) could only pass by
    an upward fluctuation, so the region is dropped. Returns a numpy bool mask.
    """
    e_cm, e_m = _arr(e_gamma_cm), _arr(e_m_cm)
    rel = _arr(rel_resolution(np.maximum(_arr(e_gamma_lab), 1e-6)))
    uncapped = e_m < 0.5 * _arr(sqrt_s) * (1.0 - 1e-12)
    return np.asarray(uncapped & (e_cm > e_m * (1.0 + n_sigma * rel)), dtype=bool)


def outside_gap_images(theta_gamma_cm, beta_z, gaps_lab, margin_rad=0.0):
    """Mask of photons whose back-to-back CM direction does NOT point into a calorimeter gap
    (docs/physics.md §8, "gap background"): keep unless pi - theta_gamma^CM lies in
    [theta_lo^CM - margin, theta_hi^CM + margin] of a gap.

    e+e- -> gamma gamma with one photon lost in a gap leaves the other at E = sqrt(s)/2 exactly at
    the gap's CM image; this cut removes that topology. ``gaps_lab``: (theta_lo, theta_hi) lab
    edges [rad] (``detsim.ecl.Calorimeter.gaps``, Belle II 31.4-32.2 and 128.7-130.7 deg),
    converted to the CM with the event's ``beta_z`` (L footnote 1, massless); ``margin_rad``
    widens each image (angular resolution, soft radiation). Returns a numpy bool mask.
    """
    back = np.pi - _arr(theta_gamma_cm)
    keep = np.ones(back.shape, dtype=bool)
    for lo, hi in gaps_lab:
        lo_cm = lab_to_cm_theta(_arr(lo), _arr(beta_z))
        hi_cm = lab_to_cm_theta(_arr(hi), _arr(beta_z))
        keep &= ~((back >= lo_cm - margin_rad) & (back <= hi_cm + margin_rad))
    return keep


# --------------------------------------------------------------------------------------------
# Polygon regions (Belle II low-mass / high-mass, L Fig. 2)
# --------------------------------------------------------------------------------------------
def point_in_polygon(x, y, vertices) -> np.ndarray:
    """Mask of the points (x, y) inside the closed polygon ``vertices`` ((m, 2) array, implicitly
    closed), by the even-odd crossing rule: a ray from the point towards +x crosses the boundary
    an odd number of times iff the point is inside. Points exactly on the boundary may fall on
    either side. Vectorised over points; one pass per edge.
    """
    xs, ys = np.broadcast_arrays(_arr(x), _arr(y))
    v = np.asarray(vertices, dtype=float)
    inside = np.zeros(xs.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(v, np.roll(v, -1, axis=0), strict=True):
        straddles = (y0 > ys) != (y1 > ys)
        if not straddles.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x0 + (ys - y0) * (x1 - x0) / (y1 - y0)
        inside ^= straddles & (xs < x_cross)
    return inside


@dataclass(frozen=True, eq=False)
class Polygon:
    """Closed polygon in the (E_gamma^CM [GeV], theta_gamma^lab [rad]) plane.

    ``vertices``: (m, 2) array of (E, theta), implicitly closed. ``movable``: boolean (m,) mask
    of the vertices forming the *energy boundary* moved by :meth:`shift_energy` /
    :meth:`scale_energy` (and hence by :func:`calibrate_polygon`); default all False.
    """

    vertices: np.ndarray
    movable: np.ndarray = field(default=None)
    name: str = ""

    def __post_init__(self):
        v = np.array(self.vertices, dtype=float)
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
            raise ValueError("vertices must have shape (m >= 3, 2)")
        mv = np.zeros(v.shape[0], dtype=bool) if self.movable is None else np.array(self.movable, dtype=bool)
        if mv.shape != (v.shape[0],):
            raise ValueError("movable must have one flag per vertex")
        v.setflags(write=False)
        mv.setflags(write=False)
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "movable", mv)

    @classmethod
    def from_degrees(cls, points_e_theta_deg, movable=None, name: str = "") -> Polygon:
        """Build from (E [GeV], theta [deg]) pairs."""
        p = np.array(points_e_theta_deg, dtype=float)
        return cls(np.column_stack([p[:, 0], np.radians(p[:, 1])]), movable, name)

    @property
    def vertices_deg(self) -> np.ndarray:
        """Vertices as (E [GeV], theta [deg])."""
        return np.column_stack([self.vertices[:, 0], np.degrees(self.vertices[:, 1])])

    def contains(self, e_cm, theta_lab) -> np.ndarray:
        """Vectorised point-in-polygon test (:func:`point_in_polygon`; boundary points ambiguous)."""
        return point_in_polygon(e_cm, theta_lab, self.vertices)

    def _with_energies(self, e_new) -> Polygon:
        v = self.vertices.copy()
        v[:, 0] = e_new
        return Polygon(v, self.movable, self.name)

    def shift_energy(self, delta_gev: float) -> Polygon:
        """Copy with E -> E + delta on the movable vertices."""
        return self._with_energies(np.where(self.movable, self.vertices[:, 0] + delta_gev, self.vertices[:, 0]))

    def scale_energy(self, k: float) -> Polygon:
        """Copy with E -> k E on the movable vertices."""
        return self._with_energies(np.where(self.movable, self.vertices[:, 0] * k, self.vertices[:, 0]))


# Default Belle II regions. APPROXIMATIONS of L Fig. 2 (curves of the Belle II physics book,
# L ref. [42], not public as numbers), to be calibrated with calibrate_polygon against L's
# irreducible nu nubar gamma yields. Coordinates (E_gamma^CM [GeV], theta_gamma^lab [deg]).
# With 1e6 nu nubar gamma events at 10.58 GeV (beta_z = 3/11), true lab angle inside the ECL
# regions, efficiency 0.95, 50 ab^-1, the defaults give 1659 (low) / 14503 (high) events; the
# calibration shifts of the lower boundaries are -0.176 GeV (-> 2280) and -0.042 GeV (-> 15230).
# Low-mass: everything ABOVE a lower energy boundary ("above the blue solid line"), highest
# near the acceptance edges, over the lab range 22-128 deg; the upper edge 5.6 GeV lies above
# sqrt(s)/2 = 5.29 GeV (no upper cut). Movable: the lower boundary.
_LOW_MASS_LOWER = [
    (5.0, 22.0),
    (4.6, 30.0),
    (4.1, 45.0),
    (3.8, 60.0),
    (3.7, 75.0),
    (3.75, 90.0),
    (3.9, 105.0),
    (4.3, 120.0),
    (4.7, 128.0),
]
# High-mass: closed region at lower E ("enclosed by the red dashed line"), 40-120 deg lab,
# roughly 2-4 GeV (E_gamma = (s - m^2)/(2 sqrt s) for m = 6-8 GeV is 3.6-2.3 GeV). Movable: the
# lower boundary; the upper boundary is fixed.
_HIGH_MASS_LOWER = [(2.4, 40.0), (2.1, 55.0), (1.95, 75.0), (1.95, 95.0), (2.1, 110.0), (2.4, 120.0)]
_HIGH_MASS_UPPER = [(3.6, 120.0), (3.9, 105.0), (4.05, 80.0), (4.0, 55.0), (3.8, 40.0)]


def belle2_low_mass_polygon() -> Polygon:
    """Default Belle II "low-mass" region (approximation of L Fig. 2; calibrate before use)."""
    top = [(5.6, 128.0), (5.6, 22.0)]
    pts = _LOW_MASS_LOWER + top
    movable = [True] * len(_LOW_MASS_LOWER) + [False] * len(top)
    return Polygon.from_degrees(pts, movable, "belle2_low_mass")


def belle2_high_mass_polygon() -> Polygon:
    """Default Belle II "high-mass" region (approximation of L Fig. 2; calibrate before use)."""
    pts = _HIGH_MASS_LOWER + _HIGH_MASS_UPPER
    movable = [True] * len(_HIGH_MASS_LOWER) + [False] * len(_HIGH_MASS_UPPER)
    return Polygon.from_degrees(pts, movable, "belle2_high_mass")


def in_polygon_region(polygon: Polygon, e_gamma_cm, theta_gamma_lab) -> np.ndarray:
    """Mask of photons inside ``polygon`` (E^CM [GeV], theta^lab [rad])."""
    return polygon.contains(e_gamma_cm, theta_gamma_lab)


def weighted_yield(weights, mask=None, luminosity_pb=1.0, efficiency=1.0, n_trials=None) -> float:
    """Expected events L * eff * sum(w * mask)/n_trials (weights in pb per trial)."""
    w = _arr(weights)
    n = w.size if n_trials is None else int(n_trials)
    if n <= 0:
        return 0.0
    s = w.sum() if mask is None else w[np.asarray(mask, dtype=bool)].sum()
    return float(luminosity_pb * efficiency * s / n)


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`calibrate_polygon`: calibrated polygon, parameter, yields."""

    polygon: Polygon
    parameter: float
    mode: str
    achieved_yield: float
    target_yield: float
    initial_yield: float


def calibrate_polygon(
    polygon: Polygon,
    e_gamma_cm,
    theta_gamma_lab,
    weights,
    luminosity_pb: float,
    target_yield: float,
    *,
    efficiency: float = 1.0,
    mask=None,
    n_trials: int | None = None,
    mode: str = "shift",
    bracket: tuple[float, float] | None = None,
    xtol: float = 1e-6,
) -> CalibrationResult:
    """Move the polygon's energy boundary so that the background yield equals ``target_yield``.

    The yield is L * efficiency * sum(w [inside & mask]) / n_trials (e.g. nu nubar gamma with
    weights in pb, L = 5e7 pb^-1 = 50 ab^-1, efficiency 0.95 for L's 2280 / 15230). One
    parameter moves the ``movable`` vertices: ``mode="shift"`` (E + delta [GeV], default bracket
    (-1.5, 1.5)) or ``"scale"`` (k E, default bracket (0.6, 1.5)); the root is found with
    scipy.optimize.brentq. The MC yield is a step function of the parameter, so the achieved
    yield matches the target to within about one event weight. ``mask``: extra event mask
    (acceptance, detection, ...). Raises ValueError if the target is not bracketed. Keep the
    bracket small enough that the moved boundary does not cross a fixed one (the default
    high-mass polygon self-intersects for shifts above about +1.2 GeV).
    """
    if not polygon.movable.any():
        raise ValueError("polygon has no movable vertices")
    e = _arr(e_gamma_cm)
    t = _arr(theta_gamma_lab)
    w = _arr(weights)
    n = w.size if n_trials is None else int(n_trials)
    keep = np.ones(w.size, bool) if mask is None else np.asarray(mask, dtype=bool)
    keep &= w != 0
    e, t, w = e[keep], t[keep], w[keep]
    if mode == "shift":
        move = polygon.shift_energy
        lo, hi = bracket if bracket is not None else (-1.5, 1.5)
        neutral = 0.0
    elif mode == "scale":
        move = polygon.scale_energy
        lo, hi = bracket if bracket is not None else (0.6, 1.5)
        neutral = 1.0
    else:
        raise ValueError("mode must be 'shift' or 'scale'")

    def yld(par):
        return weighted_yield(w, move(par).contains(e, t), luminosity_pb, efficiency, n)

    f_lo, f_hi = yld(lo) - target_yield, yld(hi) - target_yield
    if f_lo * f_hi > 0:
        raise ValueError(
            f"target {target_yield} not bracketed: yields {f_lo + target_yield:.4g} .. {f_hi + target_yield:.4g}"
        )
    from scipy.optimize import brentq  # here: scipy.optimize costs 0.3 s of every run's start-up

    par = brentq(lambda p: yld(p) - target_yield, lo, hi, xtol=xtol)
    return CalibrationResult(move(par), float(par), mode, yld(par), float(target_yield), yld(neutral))


# --------------------------------------------------------------------------------------------
# BaBar windows (L BaBar section, CM frame)
# --------------------------------------------------------------------------------------------
def babar_high_e(e_gamma_cm, cos_theta_cm, phi_cm=None):
    """BaBar "High-E": 3.2 < E* < 5.5 GeV, -0.31 < cos theta* < 0.6 (L, ref. [51]).

    With ``phi_cm`` [rad] also the IFR fiducial cut cos(6 phi) < 0.96 (L); with it the geometric
    efficiency for a 1 + cos^2 law is L's ~34 %.
    """
    e, c = _arr(e_gamma_cm), _arr(cos_theta_cm)
    m = (e > 3.2) & (e < 5.5) & (c > -0.31) & (c < 0.6)
    if phi_cm is not None:
        m &= np.cos(6.0 * _arr(phi_cm)) < 0.96
    return m


def babar_low_e(e_gamma_cm, cos_theta_cm):
    """BaBar "Low-E": 2.2 < E* < 3.7 GeV, |cos theta*| < 0.46 (L, ref. [51])."""
    e, c = _arr(e_gamma_cm), _arr(cos_theta_cm)
    return (e > 2.2) & (e < 3.7) & (np.abs(c) < 0.46)


# --------------------------------------------------------------------------------------------
# L "optimized cut": E_min < E < E_max scan
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimisedWindow:
    """Best window E_min < E <= E_max [GeV] and the scan table (dict of equal-length arrays:
    e_min, delta_e, s, b, fom)."""

    e_min: float
    e_max: float
    s: float
    b: float
    fom: float
    figure: str
    table: dict


def _cum_above(e, w, edges):
    """sum of w over e > edge, for each edge (sorted cumulative sums)."""
    order = np.argsort(e)
    es, ws = e[order], w[order]
    tail = np.concatenate([np.cumsum(ws[::-1])[::-1], [0.0]])
    return tail[np.searchsorted(es, edges, side="right")]


def optimise_energy_window(
    e_signal,
    w_signal,
    e_background,
    w_background,
    *,
    e_max: float,
    sigma_e: float,
    e_floor: float = 0.0,
    luminosity_pb: float = 1.0,
    efficiency: float = 1.0,
    n_trials_signal: int | None = None,
    n_trials_background: int | None = None,
    step: float | None = None,
    figure: str = "s_over_sqrt_sb",
) -> OptimisedWindow:
    """Scan E_min for the window E_min < E <= E_max maximising the figure of merit (L "Optimized cut").

    Inputs are the CM photon energies [GeV] and per-trial weights [pb] of signal and background
    events that already pass the other cuts (e.g. the bBG cut). E_max = (s - 4 m^2)/(2 sqrt s)
    (L). e_floor: the lowest allowed E_min (L: the minimum of the bBG-cut curve). L's condition:
    Delta E = E_max - E_min >= sigma_E when E_max > e_floor + sigma_E; otherwise E_min may go up
    to E_max. The scan grid is e_floor, e_floor + step, ... (default step sigma_E/10).
    S = L eff sum(w_s [window])/n_s, likewise B; figure "s_over_sqrt_sb" = S/sqrt(S + B) or
    "s2_over_sb" = S^2/(S + B) (same maximiser; the latter is L's chi^2).
    """
    if figure not in ("s_over_sqrt_sb", "s2_over_sb"):
        raise ValueError("figure must be 's_over_sqrt_sb' or 's2_over_sb'")
    if not sigma_e > 0:
        raise ValueError("sigma_e must be > 0")
    es, ws = _arr(e_signal), _arr(w_signal)
    eb, wb = _arr(e_background), _arr(w_background)
    ns = es.size if n_trials_signal is None else int(n_trials_signal)
    nb = eb.size if n_trials_background is None else int(n_trials_background)
    step = sigma_e / 10.0 if step is None else float(step)
    e_hi = e_max - sigma_e if e_max > e_floor + sigma_e else e_max - 0.5 * step
    if e_hi < e_floor:
        raise ValueError("empty scan range: e_max <= e_floor")
    grid = e_floor + step * np.arange(int(np.floor((e_hi - e_floor) / step + 1e-9)) + 1)
    norm_s = luminosity_pb * efficiency / max(ns, 1)
    norm_b = luminosity_pb * efficiency / max(nb, 1)
    s = norm_s * (_cum_above(es, ws, grid) - _cum_above(es, ws, np.array([e_max]))[0])
    b = norm_b * (_cum_above(eb, wb, grid) - _cum_above(eb, wb, np.array([e_max]))[0])
    tot = s + b
    with np.errstate(divide="ignore", invalid="ignore"):
        fom = np.where(tot > 0, s * s / tot, 0.0)
        if figure == "s_over_sqrt_sb":
            fom = np.sqrt(fom)
    i = int(np.argmax(fom))
    table = {"e_min": grid, "delta_e": e_max - grid, "s": s, "b": b, "fom": fom}
    return OptimisedWindow(float(grid[i]), float(e_max), float(s[i]), float(b[i]), float(fom[i]), figure, table)


# --------------------------------------------------------------------------------------------
# Selection chains of the monophoton experiments
# --------------------------------------------------------------------------------------------
EXPERIMENTS = ("bes3", "stcf", "belle2", "babar")


@dataclass(frozen=True)
class MonophotonSelection:
    """The selection chains of one experiment, applied to the measured photon (L; PM §8).

    * ``bes3`` / ``stcf``: chain ``bbg`` = detected -> BESIII pre-selection -> bBG cut (L eq. 1,
      ``cos_theta_b``).
    * ``belle2``: chain ``bbg`` = detected -> bBG cut (L eq. 2 with the ECL's outer lab edges
      ``theta_edges_lab``, converted to the CM with the event's beta_z), and chains ``low_mass``,
      ``high_mass`` = detected -> (E_gamma^CM, theta_gamma^lab) inside ``regions[name]``.
    * ``babar``: chains ``high_e`` and ``low_e`` = detected -> the CM window.

    "detected" is the calorimeter's detection without a veto. Pure: arrays in, masks out.

    ``bbg_margin_sigma`` > 0 appends the cut ``bbg_margin`` (:func:`bbg_resolution_margin`, with
    ``resolution`` the calorimeter's sigma_E/E callable) to every ``bbg`` chain; 0 (default) leaves
    L's cut alone. ``gap_images`` (lab gap edges, rad; default none) puts the cut ``gap_image``
    (:func:`outside_gap_images`, margin ``gap_image_margin_rad``) after ``detected`` in every
    Belle II chain.
    """

    experiment: str
    cos_theta_b: float = 0.95
    theta_edges_lab: tuple[float, float] = (0.0, np.pi)
    regions: Mapping[str, Polygon] = field(default_factory=dict)
    bbg_margin_sigma: float = 0.0
    resolution: object = None
    gap_images: tuple[tuple[float, float], ...] = ()
    gap_image_margin_rad: float = 0.0

    def __post_init__(self):
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"unknown experiment {self.experiment!r}; allowed: {', '.join(EXPERIMENTS)}")
        if self.bbg_margin_sigma < 0 or (self.bbg_margin_sigma > 0 and self.resolution is None):
            raise ValueError("bbg_margin_sigma must be >= 0 and needs the calorimeter's resolution")

    @property
    def chain_names(self) -> tuple[str, ...]:
        return {"belle2": ("bbg", "low_mass", "high_mass"), "babar": ("high_e", "low_e")}.get(self.experiment, ("bbg",))

    def chains(self, photon_cm, photon_lab, detected, sqrt_s, beta_z) -> dict[str, list[tuple[str, np.ndarray]]]:
        """Named chains, each an ordered list of (cut, mask) to be applied cumulatively.

        ``photon_cm``, ``photon_lab``: measured photon (records with ``E``, ``theta``, ``phi``:
        GeV, rad); ``detected``: detected and not vetoed; ``sqrt_s`` [GeV], ``beta_z``: per event.
        """
        detected = np.asarray(detected, dtype=bool)
        e_cm = np.asarray(photon_cm.E)
        th_cm = np.asarray(photon_cm.theta)
        cos_cm = np.cos(th_cm)
        exp = self.experiment
        if exp in ("bes3", "stcf"):
            return {
                "bbg": [
                    ("detected", detected),
                    ("preselection", besiii_preselection(e_cm, cos_cm)),
                    ("bbg_cut", bbg_symmetric(e_cm, th_cm, sqrt_s, self.cos_theta_b)),
                    *self._margin(photon_lab, e_cm, th_cm, sqrt_s, beta_z),
                ]
            }
        if exp == "belle2":
            th_lab = np.asarray(photon_lab.theta)
            t1, t2 = self.theta_edges_lab
            first = [("detected", detected)]
            if self.gap_images:
                keep = outside_gap_images(th_cm, beta_z, self.gap_images, self.gap_image_margin_rad)
                first.append(("gap_image", keep))
            bbg = [*first, ("bbg_cut", bbg_asymmetric(e_cm, th_cm, sqrt_s, t1, t2, beta_z))]
            return {
                "bbg": bbg + self._margin(photon_lab, e_cm, th_cm, sqrt_s, beta_z),
                "low_mass": [*first, ("low_mass", self.regions["low_mass"].contains(e_cm, th_lab))],
                "high_mass": [*first, ("high_mass", self.regions["high_mass"].contains(e_cm, th_lab))],
            }
        phi_cm = np.asarray(photon_cm.phi)
        return {
            "high_e": [("detected", detected), ("high_e", babar_high_e(e_cm, cos_cm, phi_cm))],
            "low_e": [("detected", detected), ("low_e", babar_low_e(e_cm, cos_cm))],
        }

    def _margin(self, photon_lab, e_cm, th_cm, sqrt_s, beta_z) -> list[tuple[str, np.ndarray]]:
        """The ``bbg_margin`` cut (empty list when ``bbg_margin_sigma`` is 0)."""
        if self.bbg_margin_sigma <= 0:
            return []
        if self.experiment == "belle2":
            t1, t2 = (lab_to_cm_theta(_arr(t), _arr(beta_z)) for t in self.theta_edges_lab)
            e_m = e_max_asymmetric(th_cm, sqrt_s, t1, t2)
        else:
            e_m = e_max_symmetric(th_cm, sqrt_s, float(np.arccos(self.cos_theta_b)))
        e_lab = np.asarray(photon_lab.E)
        cut = bbg_resolution_margin(e_cm, e_m, e_lab, sqrt_s, self.bbg_margin_sigma, self.resolution)
        return [("bbg_margin", cut)]


# --------------------------------------------------------------------------------------------
# Tracker channel
# --------------------------------------------------------------------------------------------
def tracker_flags(detector) -> dict[str, np.ndarray]:
    """Signal flags of the tracker channel from a detector record: every finder hypothesis
    (fields ``found_*``, in the record's order), the paper criteria ``paper_ionization`` and
    ``paper_delta`` (G §4), and ``paper_either`` (either signature)."""
    flags = {name: np.asarray(detector[name], dtype=bool) for name in detector.fields if name.startswith("found_")}
    ion = np.asarray(detector["paper_ionization"], dtype=bool)
    delta = np.asarray(detector["paper_delta"], dtype=bool)
    flags.update({"paper_ionization": ion, "paper_delta": delta, "paper_either": ion | delta})
    return flags
