"""Statistical upper limits on the MCP charge epsilon: zero-background Poisson, chi^2 and CLs.

Sources: docs/physics.md §9 ("PM"); Gorbunov et al. section 4 ("G": zero background,
>= 3 signal events <-> 95 % CL); Liang et al. ("L": chi^2(eps) = sum_i S_i^2/(S_i + B_i),
chi^2(eps95) - chi^2(0) = 2.71, summed over energy points); Cowan, Cranmer, Gross, Vitells,
Eur. Phys. J. C71 (2011) 1554 ("CCGV", asymptotic CLs); Read, J. Phys. G28 (2002) 2693 (CLs).

Conventions
-----------
* Event counts are expected numbers of selected events (already multiplied by luminosity and
  efficiency). ``s`` and ``b`` are per bin; a "bin" is any independent counting channel: an energy bin,
  a signal region, a collider energy point or a run. Everything is combined over the last axis.
* The signal is given as a function of epsilon returning per-bin counts. Accepted forms (``as_signal``):

  - ``PowerLawSignal(s_ref, eps_ref, power=2)``: S_i(eps) = s_ref_i (eps/eps_ref)**power
    (monophoton: sigma ~ eps^2, power 2; a tuple ``(s_ref, eps_ref)`` is a shortcut for power 2);
  - ``TabulatedSignal(eps_grid, s_grid)``: log-log interpolation of a table (tracker channel, where the
    detection probability depends on eps, so S is not a pure power; G section 4);
  - any callable ``f(eps) -> per-bin counts`` (called once per scalar eps).

* epsilon limits are the *smallest* eps at which the criterion is reached (lower edge of the excluded
  region). If S(eps) is not monotonic (tracker channel: slow MCPs stop at large eps) the exclusion can be
  an island; ``zero_background_intervals`` returns all excluded intervals.
* Methods (``method`` names in ``LimitResult``):

  - ``zero_background`` (G): total S(eps) = n_required (3 by default; classical 95 % CL for n_obs = 0,
    b = 0 is -ln 0.05 = 2.996). Background is ignored by construction.
  - ``chi2`` (L): Delta chi^2 = 2.71 = 1.645^2, i.e. one-sided 1.645 sigma. For B >> S this gives
    S_up = 1.645 sqrt(B).
  - ``cls_expected`` / ``cls_observed``: CLs on the signal strength mu with a Poisson likelihood
    (pyhf, profile-likelihood test statistic q~_mu, asymptotic formulae of CCGV), 95 % CL. The expected
    limit uses background-only Asimov data (n = B), which in the asymptotic approximation is the median
    expected limit: CLs = 2 [1 - Phi(sqrt(q_mu,A))] = 0.05, i.e. sqrt(q_mu,A) = Phi^-1(0.975) = 1.960;
    for one bin q_mu,A = 2 [S - B ln(1 + S/B)], so S_up -> 1.960 sqrt(B) for B >> S. Hence at large B
    CLs(expected)/chi2 = 1.960/1.645 = 1.191 in S, i.e. 1.191**(1/2) = 1.091 in eps for S ~ eps^2.

* Low counts: the asymptotic formulae fail for B -> 0 (they give S_up = 1.96^2/2 = 1.92 instead of 3).
  ``calctype="auto"`` therefore uses the *exact* Poisson CLs of the total count,
  CLs = P(N <= n | S + B) / P(N <= n | B) (Read 2002; equals the likelihood-ratio ordering for one bin,
  conservative for several bins because they are merged), when no background uncertainty is given and
  the total background is below ``AUTO_EXACT_MAX_BACKGROUND`` (10 events). Its expected limit uses the
  median of Poisson(B_total) as the observed count. For n = 0 this gives S_up = -ln 0.05 = 2.996 for any
  B. At B = 10 the two calculators differ by 7 % (8.08 vs 7.54 events; discontinuity at the switch).
* pyhf needs strictly positive expectations: background bins are floored at ``B_FLOOR`` = 1e-9 events
  (harmless: a bin with 1e-9 expected background behaves as background-free). Optional background
  uncertainties are absolute, per bin, uncorrelated (pyhf ``shapesys``, Poisson constraint, as in
  ``pyhf.simplemodels.uncorrelated_background``). Relative uncertainties below 10^-3.5 (constraint
  tau = (B/sigma)^2 > 1e7, where the pyhf fit was found to fail: S_up off by up to 60 %) are set to 0,
  i.e. B known exactly in that bin (pyhf then fixes its gamma); a warning is issued if such a
  neglected sigma exceeds 10 % of sqrt(B) (possible only for B > 1e5).
* pyhf is imported lazily (only the CLs functions need it) and always run with its numpy backend.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq
from scipy.special import gammaincc, gammaincinv
from scipy.stats import norm, poisson

__all__ = [
    "B_FLOOR",
    "AUTO_EXACT_MAX_BACKGROUND",
    "PowerLawSignal",
    "TabulatedSignal",
    "CallableSignal",
    "as_signal",
    "poisson_upper_limit",
    "eps_limit_zero_background",
    "zero_background_intervals",
    "chi2_stat",
    "eps_limit_chi2",
    "cls_mu_upper_limit",
    "eps_limit_cls",
    "LimitResult",
    "compare_methods",
    "CL_CHOICES",
    "check_cl",
    "delta_chi2_for",
    "zero_background_events",
    "cls_workspace",
    "workspace_cls",
]

#: Confidence levels offered: 95 % (the papers, G and L) and 90 % (the e+e- experiments' custom)
CL_CHOICES = (0.90, 0.95)

B_FLOOR = 1e-9
AUTO_EXACT_MAX_BACKGROUND = 10.0
_REL_UNC_MIN = 10**-3.5


# --------------------------------------------------------------------------------------------------
# signal models S(eps)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerLawSignal:
    """S_i(eps) = s_ref_i (eps/eps_ref)**power; power 2 for sigma ~ eps^2 (monophoton, L)."""

    s_ref: np.ndarray
    eps_ref: float
    power: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "s_ref", np.atleast_1d(np.asarray(self.s_ref, dtype=float)))

    @property
    def eps_range(self) -> tuple[float, float]:
        """Default search range: eps_ref x 10^(-+12/power) (24 orders of magnitude in S)."""
        f = 10.0 ** (12.0 / self.power)
        return self.eps_ref / f, self.eps_ref * f

    def __call__(self, eps: ArrayLike) -> np.ndarray:
        """Per-bin counts, shape ``np.shape(eps) + (n_bins,)``."""
        e = np.asarray(eps, dtype=float)[..., None]
        return self.s_ref * (e / self.eps_ref) ** self.power


@dataclass(frozen=True)
class TabulatedSignal:
    """S(eps) from a table, interpolated linearly in (log eps, log S); ``s_grid`` is (n_eps,) or (n_eps, n_bins).

    Zero entries are floored at 1e-300 before taking the log (values below 1e-250 are returned as 0);
    outside the grid the result is nan, so searches are confined to ``eps_range`` = grid ends.
    """

    eps_grid: np.ndarray
    s_grid: np.ndarray

    def __post_init__(self) -> None:
        e = np.asarray(self.eps_grid, dtype=float)
        s = np.asarray(self.s_grid, dtype=float)
        s = s[:, None] if s.ndim == 1 else s
        if e.ndim != 1 or s.shape[0] != e.size or e.size < 2:
            raise ValueError("eps_grid must be 1-D (n >= 2) and s_grid (n,) or (n, n_bins)")
        if np.any(e <= 0) or np.any(np.diff(e) <= 0) or np.any(s < 0):
            raise ValueError("eps_grid must be positive and increasing, s_grid non-negative")
        object.__setattr__(self, "eps_grid", e)
        object.__setattr__(self, "s_grid", s)

    @property
    def eps_range(self) -> tuple[float, float]:
        return float(self.eps_grid[0]), float(self.eps_grid[-1])

    def __call__(self, eps: ArrayLike) -> np.ndarray:
        e = np.asarray(eps, dtype=float)
        le = np.log(e).ravel()
        lx = np.log(self.eps_grid)
        ls = np.log(np.maximum(self.s_grid, 1e-300))
        out = np.stack(
            [np.exp(np.interp(le, lx, ls[:, j], left=np.nan, right=np.nan)) for j in range(ls.shape[1])], axis=-1
        )
        out[out < 1e-250] = 0.0
        return out.reshape(e.shape + (ls.shape[1],))


@dataclass(frozen=True)
class CallableSignal:
    """Wraps a user function ``f(eps) -> per-bin counts`` (called once per scalar eps)."""

    fn: Callable[[float], ArrayLike]
    eps_range: tuple[float, float] = (1e-8, 1.0)

    def __call__(self, eps: ArrayLike) -> np.ndarray:
        e = np.asarray(eps, dtype=float)
        vals = [np.atleast_1d(np.asarray(self.fn(float(x)), dtype=float)) for x in e.ravel()]
        return np.stack(vals).reshape(e.shape + (vals[0].size,))


Signal = PowerLawSignal | TabulatedSignal | CallableSignal


def as_signal(signal: Any, eps_range: tuple[float, float] | None = None) -> Signal:
    """Coerce ``signal`` to a signal model: model instance, ``(s_ref, eps_ref)`` tuple (power 2) or callable."""
    if isinstance(signal, PowerLawSignal | TabulatedSignal | CallableSignal):
        return signal
    if isinstance(signal, tuple) and len(signal) == 2:
        return PowerLawSignal(signal[0], float(signal[1]))
    if callable(signal):
        return CallableSignal(signal) if eps_range is None else CallableSignal(signal, tuple(eps_range))
    raise TypeError(f"cannot interpret {type(signal).__name__} as a signal model")


def _total(sig: Signal, eps: ArrayLike) -> np.ndarray:
    return sig(eps).sum(axis=-1)


def _crossings(g: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, n_scan: int = 241) -> list[tuple]:
    """Sign changes of g on a log grid in [lo, hi], refined with brentq (relative precision 1e-12).

    Returns a list of (eps, direction) with direction +1 for g going from < 0 to >= 0.
    """
    grid = np.geomspace(lo, hi, n_scan)
    vals = np.asarray(g(grid), dtype=float)
    pos = vals >= 0
    good = np.isfinite(vals)
    out = []
    for i in np.flatnonzero((pos[1:] != pos[:-1]) & good[1:] & good[:-1]):
        a, c = float(grid[i]), float(grid[i + 1])
        fa, fc = float(g(np.array(a))), float(g(np.array(c)))
        if fa * fc < 0:
            x = brentq(lambda e: float(g(np.array(e))), a, c, xtol=a * 1e-13, rtol=1e-12)
        else:  # root on a grid point (scalar and vectorised evaluations differ in the last bit)
            x = a if abs(fa) <= abs(fc) else c
        out.append((x, 1 if pos[i + 1] else -1))
    if good[0] and pos[0]:
        out.insert(0, (float(grid[0]), 0))  # criterion already met at the lower end of the range
    return out


def _first_up_crossing(g, lo, hi, what: str) -> float:
    cr = _crossings(g, lo, hi)
    if cr and cr[0][1] == 0:
        warnings.warn(
            f"{what}: criterion already met at eps = {lo:g} (lower end of eps_range); returning nan",
            RuntimeWarning,
            stacklevel=3,
        )
        return math.nan
    ups = [e for e, d in cr if d == 1]
    return ups[0] if ups else math.nan


def _range(sig: Signal, eps_range: tuple[float, float] | None) -> tuple[float, float]:
    lo, hi = eps_range if eps_range is not None else sig.eps_range
    if not 0 < lo < hi:
        raise ValueError("eps_range must satisfy 0 < lo < hi")
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------------------
# 1. zero-background Poisson (G)
# --------------------------------------------------------------------------------------------------
def poisson_upper_limit(
    n_obs: ArrayLike = 0, cl: float = 0.95, background: ArrayLike = 0.0, method: str = "classical"
) -> np.ndarray | float:
    """Upper limit on the Poisson signal mean s for ``n_obs`` observed events over ``background`` (vectorised).

    ``method="classical"`` (Neyman): P(N <= n | s_up + b) = 1 - cl, clipped at 0; for n = 0 this is
    -ln(1 - cl) - b (2.996 - b at 95 %), i.e. it *does* depend on b and can vanish.
    ``method="cls"`` (Read 2002 / Helene): P(N <= n | s_up + b) / P(N <= n | b) = 1 - cl; for n = 0 this is
    -ln(1 - cl) = 2.996 independently of b; it is never empty (no unphysical zero limit for n << b).
    Non-integer n_obs is allowed via P(N <= n | m) = Q(n + 1, m) (regularised upper incomplete gamma).
    For b = 0 both methods agree (G: 3 events <-> 95 % CL).
    """
    n = np.asarray(n_obs, dtype=float)
    b = np.asarray(background, dtype=float)
    alpha = 1.0 - cl
    if np.any(n < 0) or np.any(b < 0):
        raise ValueError("n_obs and background must be non-negative")
    n, b = np.broadcast_arrays(n, b)
    s0 = gammaincinv(n + 1.0, cl)  # b = 0 limit: Q(n+1, s0) = alpha
    if method == "classical":
        out = np.maximum(s0 - b, 0.0)
    elif method == "cls":
        # CLs(s) = Q(n+1, s+b)/Q(n+1, b) decreases monotonically from 1; the root lies in [0, s0].
        target = alpha * gammaincc(n + 1.0, b)
        lo, hi = np.zeros_like(s0), s0.copy()
        for _ in range(100):  # vectorised bisection, 2^-100 relative precision
            mid = 0.5 * (lo + hi)
            above = gammaincc(n + 1.0, mid + b) > target
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        out = 0.5 * (lo + hi)
    else:
        raise ValueError("method must be 'classical' or 'cls'")
    return float(out) if out.ndim == 0 else out


def eps_limit_zero_background(
    signal: Any, n_required: float = 3.0, eps_range: tuple[float, float] | None = None
) -> float:
    """Smallest eps with total S(eps) = n_required (G section 4: 3 events, zero background, 95 % CL).

    Combination over bins/points uses the total S. Root-finding in log eps; nan if never reached in
    ``eps_range`` (default: the signal model's range). Power law: eps_ref (n_required/S_ref)^(1/power).
    """
    sig = as_signal(signal, eps_range)
    lo, hi = _range(sig, eps_range)
    return _first_up_crossing(lambda e: _total(sig, e) - n_required, lo, hi, "eps_limit_zero_background")


def zero_background_intervals(
    signal: Any, n_required: float = 3.0, eps_range: tuple[float, float] | None = None
) -> list[tuple[float, float]]:
    """All eps intervals with total S(eps) >= n_required (islands for non-monotonic S, e.g. tracker channel).

    An interval still open at the upper end of ``eps_range`` has upper edge ``inf``.
    """
    sig = as_signal(signal, eps_range)
    lo, hi = _range(sig, eps_range)
    out, start = [], None
    for e, d in _crossings(lambda x: _total(sig, x) - n_required, lo, hi):
        if d in (0, 1):
            start = e
        elif start is not None:
            out.append((start, e))
            start = None
    if start is not None:
        out.append((start, math.inf))
    return out


# --------------------------------------------------------------------------------------------------
# 2. chi^2 (L)
# --------------------------------------------------------------------------------------------------
def chi2_stat(s: ArrayLike, b: ArrayLike) -> np.ndarray | float:
    """L's chi^2 = sum_i S_i^2/(S_i + B_i) over the last axis (bins/energy points/runs); 0/0 bins count 0."""
    s, b = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(b, dtype=float))
    den = s + b
    terms = np.divide(s * s, den, out=np.zeros(den.shape), where=den > 0)
    out = terms.sum(axis=-1) if terms.ndim else terms
    return float(out) if np.ndim(out) == 0 else out


def eps_limit_chi2(
    signal: Any, b: ArrayLike, delta_chi2: float = 2.71, eps_range: tuple[float, float] | None = None
) -> float:
    """Smallest eps with chi^2(eps) - chi^2(0) = delta_chi2 (L; 2.71 = 1.645^2, one-sided 95 %), summed over bins.

    ``b`` broadcasts against the per-bin signal. For one bin with S = a eps^2 the closed form is
    eps^2 = [delta + sqrt(delta^2 + 4 delta B)] / (2a); for B = 0 it is S = delta (= 2.71, cf. 3 for G).
    """
    sig = as_signal(signal, eps_range)
    lo, hi = _range(sig, eps_range)
    bb = np.asarray(b, dtype=float)
    chi0 = chi2_stat(np.zeros_like(sig(lo)), bb)
    return _first_up_crossing(lambda e: chi2_stat(sig(e), bb) - chi0 - delta_chi2, lo, hi, "eps_limit_chi2")


# --------------------------------------------------------------------------------------------------
# 3. CLs (pyhf, or exact Poisson at low counts)
# --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _pyhf_numpy() -> Iterator[Any]:
    import pyhf

    old = pyhf.get_backend()
    if old[0].name != "numpy":
        pyhf.set_backend("numpy")
    try:
        yield pyhf
    finally:
        if old[0].name != "numpy":
            pyhf.set_backend(*old)


def _pyhf_model(pyhf, s: np.ndarray, b: np.ndarray, b_unc: np.ndarray | None):
    bkg = {"name": "background", "data": b.tolist(), "modifiers": []}
    if b_unc is not None:
        bkg["modifiers"].append({"name": "uncorr_bkguncrt", "type": "shapesys", "data": b_unc.tolist()})
    spec = {
        "channels": [
            {
                "name": "sr",
                "samples": [
                    {
                        "name": "signal",
                        "data": s.tolist(),
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    bkg,
                ],
            }
        ]
    }
    return pyhf.Model(spec, poi_name="mu", validate=False)


def _resolve_calctype(calctype: str, b_tot: float, b_uncertainty) -> str:
    if calctype == "auto":
        return "exact" if (b_uncertainty is None and b_tot < AUTO_EXACT_MAX_BACKGROUND) else "asymptotics"
    if calctype not in ("exact", "asymptotics", "toybased"):
        raise ValueError("calctype must be 'auto', 'exact', 'asymptotics' or 'toybased'")
    if calctype == "exact" and b_uncertainty is not None:
        raise ValueError("calctype='exact' does not support background uncertainties")
    return calctype


def _exact_s_up(b_tot: float, observed, cl: float) -> float:
    n = float(np.sum(observed)) if observed is not None else float(poisson.median(b_tot)) if b_tot > 0 else 0.0
    return float(poisson_upper_limit(n, cl, b_tot, method="cls"))


def cls_mu_upper_limit(
    s: ArrayLike,
    b: ArrayLike,
    observed: ArrayLike | None = None,
    b_uncertainty: ArrayLike | None = None,
    cl: float = 0.95,
    calctype: str = "auto",
    **hypotest_kwargs: Any,
) -> float:
    """CLs upper limit on the signal strength mu (signal mu * s) for a multi-bin counting model.

    ``observed=None``: expected (median) limit from background-only Asimov data n = B (asymptotics) or the
    median count of Poisson(B_total) (exact). Otherwise the observed limit on ``observed`` counts per bin.
    ``b_uncertainty``: absolute, per-bin, uncorrelated background uncertainty (pyhf shapesys).
    ``calctype``: 'asymptotics' (pyhf, q~_mu, CCGV), 'toybased' (pyhf toys; slow, pass ``ntoys``),
    'exact' (Poisson CLs of the total count; no uncertainties) or 'auto' (see module docstring).
    Solved by brentq in log mu on CLs(mu) = 1 - cl.
    """
    s = np.atleast_1d(np.asarray(s, dtype=float))
    s, b = (np.array(x, dtype=float) for x in np.broadcast_arrays(s, np.asarray(b, dtype=float)))
    if s.ndim != 1 or np.any(s < 0) or np.any(b < 0) or s.sum() <= 0:
        raise ValueError("s, b must be 1-D, non-negative, with total s > 0")
    kind = _resolve_calctype(calctype, float(b.sum()), b_uncertainty)
    if kind == "exact":
        return _exact_s_up(float(b.sum()), observed, cl) / float(s.sum())

    b = np.maximum(b, B_FLOOR)
    unc = None
    if b_uncertainty is not None:
        unc = np.array(np.broadcast_to(np.asarray(b_uncertainty, dtype=float), b.shape))
        tiny = unc < _REL_UNC_MIN * b  # tau = (B/sigma)^2 > 1e7: the pyhf fit becomes unstable
        if np.any(tiny & (unc**2 > 0.01 * b)):
            warnings.warn(
                "background uncertainties below 3e-4 relative are neglected, but they exceed 10 % of "
                "sqrt(B) in some bins",
                RuntimeWarning,
                stacklevel=2,
            )
        unc[tiny] = 0.0  # pyhf fixes gamma = 1 in bins with zero uncertainty
        if not np.any(unc > 0):
            unc = None
    # rescale the template so that mu_up = O(1): guess S_up ~ 3 + 2 sqrt(B + sigma_B^2)
    var = b.sum() + (0.0 if unc is None else float(np.sum(unc**2)))
    scale = (3.0 + 2.0 * math.sqrt(var)) / s.sum()
    if observed is not None:
        obs = np.broadcast_to(np.asarray(observed, dtype=float), b.shape)
        scale = (3.0 + 2.0 * math.sqrt(var) + max(0.0, float(obs.sum() - b.sum()))) / s.sum()
    with _pyhf_numpy() as pyhf:
        model = _pyhf_model(pyhf, s * scale, b, unc)
        data = (b if observed is None else obs).tolist() + model.config.auxdata
        bounds = model.config.suggested_bounds()
        bounds[model.config.poi_index] = (0.0, 1e4)
        hypotest_kwargs.setdefault("test_stat", "qtilde")
        if observed is None:
            # background-only Asimov data: the unconditional fit's mu-hat is 0; starting there keeps
            # the minimiser from stopping at the default mu = 1 when the likelihood is flat relative
            # to its size (B ~ 1e7 and more: CLs stuck at 1 below mu = 1, limits 1.4x too weak)
            init = model.config.suggested_init()
            init[model.config.poi_index] = 0.0
            hypotest_kwargs.setdefault("init_pars", init)
        alpha = 1.0 - cl

        def f(lmu: float) -> float:
            return (
                float(
                    pyhf.infer.hypotest(math.exp(lmu), data, model, par_bounds=bounds, calctype=kind, **hypotest_kwargs)
                )
                - alpha
            )

        lo, hi = math.log(1e-2), math.log(1e2)
        while f(lo) < 0 and lo > math.log(1e-8):
            lo -= math.log(10.0)
        while f(hi) > 0 and hi < math.log(1e3):
            hi += math.log(10.0)
        mu = math.exp(brentq(f, lo, hi, xtol=1e-8, rtol=1e-6))
    return mu * scale


def eps_limit_cls(
    signal: Any,
    b: ArrayLike,
    observed: ArrayLike | None = None,
    b_uncertainty: ArrayLike | None = None,
    cl: float = 0.95,
    calctype: str = "auto",
    eps_range: tuple[float, float] | None = None,
    **hypotest_kwargs: Any,
) -> float:
    """CLs (expected if ``observed`` is None, else observed) upper limit on eps.

    Power law: eps_up = eps_ref * mu_up^(1/power) with mu_up for the template s_ref (S ~ eps^2:
    eps_ref sqrt(mu_up)). Exact calculator: total S(eps) = S_up. General S(eps) with asymptotics:
    fixed-point iteration eps_{k+1}: S_tot(eps_{k+1}) = mu_up[S(eps_k)] S_tot(eps_k), converging to
    mu_up[S(eps)] = 1 (one step if the bin shape does not depend on eps), started at the chi^2 limit.
    """
    sig = as_signal(signal, eps_range)
    lo, hi = _range(sig, eps_range)
    bb = np.asarray(b, dtype=float)
    kw = dict(observed=observed, b_uncertainty=b_uncertainty, cl=cl, calctype=calctype, **hypotest_kwargs)
    if isinstance(sig, PowerLawSignal):
        s_ref = np.broadcast_arrays(sig.s_ref, bb)[0]
        return sig.eps_ref * cls_mu_upper_limit(s_ref, bb, **kw) ** (1.0 / sig.power)
    b_tot = float(np.sum(np.broadcast_arrays(sig(lo), bb)[1]))
    if _resolve_calctype(calctype, b_tot, b_uncertainty) == "exact":
        s_up = _exact_s_up(b_tot, observed, cl)
        return _first_up_crossing(lambda e: _total(sig, e) - s_up, lo, hi, "eps_limit_cls")
    eps = eps_limit_chi2(sig, bb, eps_range=(lo, hi))
    for _ in range(30):
        if not math.isfinite(eps):
            return math.nan
        s_eps = sig(eps)
        target = cls_mu_upper_limit(s_eps, bb, **kw) * float(s_eps.sum())
        new = _first_up_crossing(lambda e, t=target: _total(sig, e) - t, lo, hi, "eps_limit_cls")
        if not math.isfinite(new) or abs(new / eps - 1.0) < 1e-6:
            return new
        eps = new
    warnings.warn("eps_limit_cls: fixed-point iteration did not converge", RuntimeWarning, stacklevel=2)
    return eps


# --------------------------------------------------------------------------------------------------
# 4. tidy results
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LimitResult:
    """One limit: method name, eps upper limit, total signal events at the limit, CL and the inputs."""

    method: str
    eps: float
    s_at_limit: float
    cl: float
    inputs: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "eps": self.eps,
            "s_at_limit": self.s_at_limit,
            "cl": self.cl,
            **{f"input_{k}": v for k, v in self.inputs.items()},
        }


def compare_methods(
    signal: Any,
    b: ArrayLike,
    observed: ArrayLike | None = None,
    b_uncertainty: ArrayLike | None = None,
    cl: float = 0.95,
    n_required: float = 3.0,
    delta_chi2: float = 2.71,
    calctype: str = "auto",
    eps_range: tuple[float, float] | None = None,
) -> dict[str, LimitResult]:
    """All methods side by side: 'zero_background' (G), 'chi2' (L), 'cls_expected' and, if data, 'cls_observed'.

    Bins/energy points are combined in every method (total S; chi^2 sum; multi-bin CLs).
    """
    sig = as_signal(signal, eps_range)
    bb = np.asarray(b, dtype=float)
    inputs = {"b": bb, "observed": observed, "b_uncertainty": b_uncertainty, "calctype": calctype, "signal": sig}

    def res(method: str, eps: float, **extra: Any) -> LimitResult:
        s_tot = float(_total(sig, eps)) if math.isfinite(eps) else math.nan
        return LimitResult(method, eps, s_tot, cl, {**inputs, **extra})

    out = {
        "zero_background": res(
            "zero_background", eps_limit_zero_background(sig, n_required, eps_range), n_required=n_required
        ),
        "chi2": res("chi2", eps_limit_chi2(sig, bb, delta_chi2, eps_range), delta_chi2=delta_chi2),
        "cls_expected": res("cls_expected", eps_limit_cls(sig, bb, None, b_uncertainty, cl, calctype, eps_range)),
    }
    if observed is not None:
        out["cls_observed"] = res(
            "cls_observed", eps_limit_cls(sig, bb, observed, b_uncertainty, cl, calctype, eps_range)
        )
    return out


# --------------------------------------------------------------------------------------------------
# confidence level and HistFactory workspaces
# --------------------------------------------------------------------------------------------------
def check_cl(cl: float) -> float:
    """``cl`` as a fraction (0.90 or 0.95; 90 and 95 are read as percent); ValueError otherwise."""
    value = float(cl)
    if value > 1.0:
        value /= 100.0
    for choice in CL_CHOICES:
        if abs(value - choice) < 1e-12:
            return choice
    raise ValueError(f"confidence level must be 90 or 95 %, got {cl!r}")


def delta_chi2_for(cl: float = 0.95) -> float:
    """L's chi^2 threshold at confidence level ``cl``: one-sided Phi^-1(cl)^2 -- 2.71 at 95 % (L, as
    printed; 1.645^2 = 2.706), 1.642 at 90 % (1.2816^2; docs/physics.md §9)."""
    cl = check_cl(cl)
    return 2.71 if cl == 0.95 else float(norm.ppf(cl) ** 2)


def zero_background_events(cl: float = 0.95) -> float:
    """Signal events required without background at ``cl``: G's N >= 3 at 95 % (section 4;
    -ln 0.05 = 2.996 rounded) and -ln(1 - cl) = 2.303 at 90 % (classical Poisson, n_obs = 0)."""
    cl = check_cl(cl)
    return 3.0 if cl == 0.95 else -math.log(1.0 - cl)


def cls_workspace(
    s: ArrayLike,
    b: ArrayLike,
    observed: ArrayLike | None = None,
    b_uncertainty: ArrayLike | None = None,
    *,
    cl: float = 0.95,
    bin_names: list[str] | None = None,
    channel: str = "sr",
) -> dict:
    """The HistFactory workspace (pyhf JSON schema 1.0.0) of the CLs model of :func:`cls_mu_upper_limit`.

    ``s``: signal per bin at the limit (so that the limit is mu = 1 of the normfactor ``mu``);
    ``b``: background per bin (floored at :data:`B_FLOOR` like the fit); ``observed``: observed
    counts, default background-only Asimov data n = B (the expected limit); ``b_uncertainty``:
    absolute per-bin uncertainty (``shapesys``). One channel whose bins are the counting channels
    (``bin_names`` only name them in the measurement). The measurement's name records the
    confidence level (``expected_cls_95cl``); a JSON workspace cannot carry other metadata, so the
    caller records the rest beside it. Anyone can refit it: ``pyhf cls workspace.json`` or
    :func:`workspace_cls`.
    """
    cl = check_cl(cl)
    s = np.atleast_1d(np.asarray(s, dtype=float))
    s, b = (np.array(x, dtype=float) for x in np.broadcast_arrays(s, np.asarray(b, dtype=float)))
    b = np.maximum(b, B_FLOOR)
    bkg = {"name": "background", "data": b.tolist(), "modifiers": []}
    if b_uncertainty is not None:
        unc = np.array(np.broadcast_to(np.asarray(b_uncertainty, dtype=float), b.shape))
        bkg["modifiers"].append({"name": "uncorr_bkguncrt", "type": "shapesys", "data": unc.tolist()})
    signal = {"name": "signal", "data": s.tolist(), "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]}
    data = b if observed is None else np.broadcast_to(np.asarray(observed, dtype=float), b.shape)
    kind = "expected" if observed is None else "observed"
    mu_init = 0.0 if observed is None else 1.0  # Asimov background-only data: mu-hat = 0 (cls_mu_upper_limit)
    name = f"{kind}_cls_{round(100 * cl)}cl"
    if bin_names:
        name += "_bins_" + "_".join(str(n) for n in bin_names)
    return {
        "channels": [{"name": channel, "samples": [signal, bkg]}],
        "observations": [{"name": channel, "data": [float(x) for x in data]}],
        "measurements": [
            {
                "name": name,
                "config": {"poi": "mu", "parameters": [{"name": "mu", "bounds": [[0.0, 1e4]], "inits": [mu_init]}]},
            }
        ],
        "version": "1.0.0",
    }


def workspace_cls(workspace: Mapping, mu: float = 1.0, test_stat: str = "qtilde") -> float:
    """CLs at signal strength ``mu`` of a workspace (pyhf asymptotics, ``test_stat`` q~_mu), validated
    against pyhf's schema: what ``pyhf cls`` prints as CLs_obs."""
    with _pyhf_numpy() as pyhf:
        ws = pyhf.Workspace(dict(workspace), validate=True)
        model = ws.model()
        data = ws.data(model)
        bounds = model.config.suggested_bounds()
        return float(pyhf.infer.hypotest(mu, data, model, par_bounds=bounds, test_stat=test_stat))
