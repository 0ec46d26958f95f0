"""Weighted cut flows: cumulative masks, weight sums that add over chunks, tables.

Weights are per-trial estimators in pb (their mean over the trials of a sample is its cross
section), so after a cut sigma = sum(w [passing]) / n_trials and its MC error is
sqrt((sum w^2 / n - sigma^2) / n). Expected events are sigma x L (L in pb^-1); sigma is
reported in fb. A cut flow is a set of named *chains*, each an ordered list of cuts applied
cumulatively (every cut on top of the previous ones).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

__all__ = [
    "EXACT_SHIFT",
    "exact_float",
    "exact_sum",
    "WeightSum",
    "CutFlow",
    "CutFlowRow",
    "cumulative",
    "cut_flow",
    "format_cut_flow",
]


#: Exact sums are integers in units of 2^-EXACT_SHIFT: every double (subnormals included) is an
#: integer multiple of 2^-1074 and its 53-bit integer mantissa is taken at exponent >= -1126.
EXACT_SHIFT = 1126


def exact_sum(values) -> int:
    """The exact sum of finite doubles ``values`` as an integer in units of 2^-EXACT_SHIFT.

    Each value is m 2^e with a 53-bit integer mantissa m (``np.frexp``); m is split into 27 and
    26-bit halves whose sums per exponent, taken with ``np.bincount`` in float64, are exact
    integers below 2^53 for up to 2^26 values. No rounding anywhere, so sums of parts add up to
    the sum of the whole in any grouping: totals do not depend on how events are chunked.
    """
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0:
        return 0
    if x.size > 1 << 26:
        return sum(exact_sum(x[i : i + (1 << 26)]) for i in range(0, x.size, 1 << 26))
    mant, expo = np.frexp(x)
    m = (mant * 2.0**53).astype(np.int64)
    shift = np.maximum(expo.astype(np.int64) - 53 + EXACT_SHIFT, 0)  # < 0 only for zero mantissas
    hi = np.bincount(shift, weights=(m >> 26).astype(float))
    lo = np.bincount(shift, weights=(m & ((1 << 26) - 1)).astype(float))
    total = 0
    for key in np.flatnonzero((hi != 0) | (lo != 0)).tolist():
        total += ((int(hi[key]) << 26) + int(lo[key])) << key
    return total


def exact_float(total: int) -> float:
    """The double nearest to ``total`` x 2^-EXACT_SHIFT (correctly rounded)."""
    try:
        return float(Fraction(total, 1 << EXACT_SHIFT)) if total else 0.0
    except OverflowError:
        return math.inf if total > 0 else -math.inf


@dataclass(frozen=True)
class WeightSum:
    """Sum of weights, of squared weights [pb, pb^2] and the number of entries summed.

    Sums made by :meth:`of` also carry their exact values (``exact``, :func:`exact_sum`): adding
    such sums is exact, so a total is bit-identical however the entries were split into chunks.
    """

    sum_w: float = 0.0
    sum_w2: float = 0.0
    count: int = 0
    exact: tuple[int, int] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.exact is None and self.sum_w == 0.0 and self.sum_w2 == 0.0:
            object.__setattr__(self, "exact", (0, 0))

    @classmethod
    def of(cls, weights, mask=None, *, count_nonzero: bool = False) -> WeightSum:
        """Sums over ``weights[mask]`` (all entries without a mask); ``count_nonzero`` counts only
        entries with a non-zero weight."""
        w = np.asarray(weights, dtype=float)
        wp = w if mask is None else w[np.asarray(mask, dtype=bool)]
        count = int(np.count_nonzero(wp)) if count_nonzero else int(wp.size)
        with np.errstate(over="ignore", invalid="ignore"):
            squares = wp * wp
        if not np.all(np.isfinite(squares)):
            return cls(float(wp.sum()), float(wp @ wp), count)
        s1, s2 = exact_sum(wp), exact_sum(squares)
        return cls(exact_float(s1), exact_float(s2), count, (s1, s2))

    def __add__(self, other: WeightSum) -> WeightSum:
        count = self.count + other.count
        if self.exact is not None and other.exact is not None:
            s1, s2 = self.exact[0] + other.exact[0], self.exact[1] + other.exact[1]
            return WeightSum(exact_float(s1), exact_float(s2), count, (s1, s2))
        return WeightSum(self.sum_w + other.sum_w, self.sum_w2 + other.sum_w2, count)

    def sigma_pb(self, n_trials: int) -> tuple[float, float]:
        """(sigma, its MC error) [pb] for a sample of ``n_trials`` trials."""
        if n_trials <= 0:
            return 0.0, 0.0
        mean = self.sum_w / n_trials
        return mean, float(math.sqrt(max(self.sum_w2 / n_trials - mean**2, 0.0) / n_trials))


def cumulative(cuts: Iterable[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]]:
    """Cumulative masks: each cut ANDed with all the cuts before it (order kept)."""
    out = []
    current = None
    for name, mask in cuts:
        mask = np.asarray(mask, dtype=bool)
        current = mask.copy() if current is None else current & mask
        out.append((str(name), current))
    return out


@dataclass(frozen=True)
class CutFlowRow:
    """One cumulative cut-flow row: sigma [fb] and its MC error, expected events and error, MC
    count, efficiency relative to the previous row and to the first row."""

    cut: str
    sigma_fb: float
    sigma_err_fb: float
    events: float
    events_err: float
    mc_count: int
    rel_eff: float = 1.0
    cum_eff: float = 1.0

    def to_dict(self) -> dict:
        return {
            "cut": self.cut,
            "sigma_fb": self.sigma_fb,
            "sigma_err_fb": self.sigma_err_fb,
            "events": self.events,
            "events_err": self.events_err,
            "mc_count": self.mc_count,
        }


def _rows(first: tuple[str, WeightSum], cuts: Sequence[tuple[str, WeightSum]], n: int, luminosity_pb: float):
    rows = []
    total = prev = None
    for name, ws in (first, *cuts):
        sigma, err = ws.sigma_pb(n)
        total = sigma if total is None else total
        rel = 1.0 if prev is None else (sigma / prev if prev != 0 else 0.0)
        cum = sigma / total if total != 0 else (1.0 if prev is None else 0.0)
        events, events_err = sigma * luminosity_pb, err * luminosity_pb
        rows.append(CutFlowRow(name, 1e3 * sigma, 1e3 * err, events, events_err, ws.count, rel, cum))
        prev = sigma
    return rows


@dataclass(frozen=True)
class CutFlow:
    """Weight sums after every cut of every chain; chunks add (``a + b``)."""

    chains: Mapping[str, tuple[tuple[str, WeightSum], ...]] = field(default_factory=dict)

    @classmethod
    def from_masks(cls, chains: Mapping[str, Sequence[tuple[str, np.ndarray]]], weights) -> CutFlow:
        """Cut flow of one sample: ``chains`` maps a chain name to its (cut, mask) list, applied
        cumulatively (see :func:`cumulative`)."""
        w = np.asarray(weights, dtype=float)
        return cls(
            {chain: tuple((name, WeightSum.of(w, m)) for name, m in cumulative(cuts)) for chain, cuts in chains.items()}
        )

    def __add__(self, other: CutFlow) -> CutFlow:
        if not self.chains:
            return CutFlow({c: tuple((n, WeightSum() + ws) for n, ws in rows) for c, rows in other.chains.items()})
        if not other.chains:
            return self
        if list(self.chains) != list(other.chains):
            raise ValueError(f"cut flows of different chains: {list(self.chains)} and {list(other.chains)}")
        out = {}
        for chain, rows in self.chains.items():
            theirs = other.chains[chain]
            if [n for n, _ in rows] != [n for n, _ in theirs]:
                raise ValueError(f"chain {chain!r} has different cuts in the two cut flows")
            out[chain] = tuple((n, a + b) for (n, a), (_, b) in zip(rows, theirs, strict=True))
        return CutFlow(out)

    def final(self, chain: str) -> WeightSum:
        """Weight sums after the last cut of ``chain``."""
        return self.chains[chain][-1][1]

    def rows(self, total: WeightSum, n_trials: int, luminosity_pb: float, first: str = "generated") -> dict:
        """Per chain the list of :class:`CutFlowRow`: ``first`` (the whole sample, ``total``)
        followed by every cut."""
        return {chain: _rows((first, total), cuts, n_trials, luminosity_pb) for chain, cuts in self.chains.items()}


def cut_flow(
    masks: Mapping[str, np.ndarray] | Sequence[tuple[str, np.ndarray]],
    weights,
    luminosity_pb: float,
    *,
    n_trials: int | None = None,
    total_name: str = "total",
) -> list[CutFlowRow]:
    """Cumulative cut flow of one sample: first row = no cut, then each mask ANDed in the given
    order. ``mc_count`` counts entries with a non-zero weight; ``n_trials`` defaults to
    ``len(weights)``."""
    w = np.asarray(weights, dtype=float)
    n = w.size if n_trials is None else int(n_trials)
    items = list(masks.items()) if isinstance(masks, Mapping) else list(masks)
    for name, m in items:
        if np.shape(m) != w.shape:
            raise ValueError(f"mask {name!r} has shape {np.shape(m)}, weights {w.shape}")
    cuts = [(name, WeightSum.of(w, m, count_nonzero=True)) for name, m in cumulative(items)]
    return _rows((total_name, WeightSum.of(w, count_nonzero=True)), cuts, n, luminosity_pb)


def format_cut_flow(rows: Sequence[CutFlowRow]) -> str:
    """Plain-text table of cut-flow rows."""
    head = f"{'cut':<28}{'sigma [fb]':>14}{'+-':>11}{'events':>14}{'MC':>10}{'rel':>8}{'cum':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.cut:<28}{r.sigma_fb:>14.6g}{r.sigma_err_fb:>11.2g}{r.events:>14.6g}{r.mc_count:>10d}"
            f"{r.rel_eff:>8.3f}{r.cum_eff:>8.3f}"
        )
    return "\n".join(lines)
