"""Trigger-level finder of MCP pairs: >= N hits on one road through the IP, >= 1 on each side.

Roads live in the transverse plane (axial wires; the z measurement is not used). The azimuth
ring is cut into H half-bins of width h (H even); a road is two neighbouring half-bins on one
side of the IP ("forward") together with the two opposite half-bins ("backward"). A straight
track through the IP whose hits scatter by less than h in azimuth always fits in one road, so
ideal lines are found with efficiency 1 (``Tracker.road_half_bin_rad`` sets h = 2 k sigma /
r_first).

Circle hypothesis: the chi and chibar of a pair lie on one circle through the IP (opposite
charge, opposite momentum; physics.md §7). A hit at radius r on a circle of signed curvature
kappa, tangent phi0 at the IP, sits at phi0 - asin(kappa r/2) (forward) or
phi0 + pi + asin(kappa r/2) (backward); undoing that shift maps the circle onto a straight road.
Curvatures are scanned on a grid fine enough that the residual shift at the outer radius stays
below h/2.

Noise-only events give the fake rate; :func:`fake_rate_analytic` is the exact probability that
Poisson noise fires at least one straight road (transfer matrix around the ring).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import poisson

from . import _kernels

#: Use the compiled per-event finder (numba) when available; False forces the numpy reference.
USE_COMPILED_KERNEL = True

_DENSE_CELLS = 4_000_000  # (event, half-bin) cells histogrammed at once

__all__ = ["find_roads", "find_pairs", "curvature_grid", "fake_rate_analytic", "n_half_bins"]


def n_half_bins(half_bin_rad: float) -> int:
    """Even number H of half-bins around 2 pi with width <= ``half_bin_rad``."""
    return 2 * int(np.ceil(np.pi / half_bin_rad))


def find_roads(hit_event, hit_r, hit_phi, n_events: int, half_bin_rad: float, min_hits: int = 4, kappa: float = 0.0):
    """Per event: (found, largest road count) for the road finder at curvature ``kappa`` [1/cm].

    Counts are histogrammed densely per (event, half-bin) in slices of events (bounded memory);
    a road's forward count is the sum of two neighbouring half-bins, its backward count that of
    the two opposite half-bins.
    """
    found = np.zeros(n_events, dtype=bool)
    best = np.zeros(n_events, dtype=np.int32)
    if len(hit_event) == 0:
        return found, best
    n_h = n_half_bins(half_bin_rad)
    if _kernels.HAVE_NUMBA and USE_COMPILED_KERNEL:
        events = np.asarray(hit_event, dtype=np.int64)
        order = None if np.all(events[1:] >= events[:-1]) else np.argsort(events, kind="stable")
        r = np.asarray(hit_r, dtype=float)
        phi = np.asarray(hit_phi, dtype=float)
        if order is not None:
            events, r, phi = events[order], r[order], phi[order]
        offsets = np.concatenate([[0], np.cumsum(np.bincount(events, minlength=n_events))])
        _kernels.roads_per_event(offsets, r, phi, n_h, min_hits, float(kappa), found, best)
        return found, best
    width = 2 * np.pi / n_h
    shift = np.arcsin(np.clip(0.5 * kappa * hit_r, -1.0, 1.0)) if kappa else 0.0
    fwd = (np.mod(hit_phi - shift, 2 * np.pi) // width).astype(np.int64) % n_h
    bwd = (np.mod(hit_phi + shift - np.pi, 2 * np.pi) // width).astype(np.int64) % n_h
    events = hit_event.astype(np.int64)
    order_ok = np.all(events[1:] >= events[:-1])
    if not order_ok:
        order = np.argsort(events, kind="stable")
        events, fwd, bwd = events[order], fwd[order], bwd[order]
    span = max(1, _DENSE_CELLS // n_h)
    first, last = int(events[0]), int(events[-1])
    for lo in range(first, last + 1, span):
        a, b = np.searchsorted(events, [lo, lo + span])
        if a == b:
            continue
        rows = min(span, last + 1 - lo)
        base = (events[a:b] - lo) * n_h
        road_f = _roads(np.bincount(base + fwd[a:b], minlength=rows * n_h), rows, n_h)
        road_b = _roads(np.bincount(base + bwd[a:b], minlength=rows * n_h), rows, n_h)
        both = (road_f > 0) & (road_b > 0)
        total = road_f + road_b
        total *= both
        top = total.max(axis=1)
        found[lo : lo + rows] = top >= min_hits
        best[lo : lo + rows] = top
    return found, best


def _roads(half_bin_counts, rows, n_h):
    """Road counts (two neighbouring half-bins, ring closed) from flat half-bin counts."""
    h = half_bin_counts.astype(np.int16).reshape(rows, n_h)
    road = np.empty_like(h)
    np.add(h[:, :-1], h[:, 1:], out=road[:, :-1])
    np.add(h[:, -1], h[:, 0], out=road[:, -1])
    return road


def curvature_grid(half_bin_rad: float, outer_radius_cm: float, min_radius_cm: float) -> np.ndarray:
    """Signed curvatures [1/cm] from -1/R_min to 1/R_min, step h / r_outer (0 included)."""
    step = half_bin_rad / outer_radius_cm
    n = int(np.floor((1.0 / min_radius_cm) / step))
    return step * np.arange(-n, n + 1)


def find_pairs(
    hit_event,
    hit_r,
    hit_phi,
    n_events: int,
    half_bin_rad: float,
    min_hits: int,
    outer_radius_cm: float,
    circle_min_radius_cm: float,
):
    """Both hypotheses: returns dict with ``found_line``, ``found_circle``, ``hits_line``,
    ``hits_circle`` (largest road counts), per event."""
    counts = np.bincount(hit_event, minlength=n_events)
    keep = counts[hit_event] >= min_hits
    ev, r, phi = hit_event[keep], hit_r[keep], hit_phi[keep]
    line, line_best = find_roads(ev, r, phi, n_events, half_bin_rad, min_hits)
    circle, circle_best = line.copy(), line_best.copy()
    # curved roads only for events with enough hits that the line missed
    kappas = curvature_grid(half_bin_rad, outer_radius_cm, circle_min_radius_cm)
    if _kernels.HAVE_NUMBA and USE_COMPILED_KERNEL and len(ev):
        offsets = np.concatenate([[0], np.cumsum(np.bincount(ev, minlength=n_events))])
        _kernels.circle_scan(
            offsets,
            np.asarray(r, float),
            np.asarray(phi, float),
            n_half_bins(half_bin_rad),
            min_hits,
            kappas,
            line,
            circle,
            circle_best,
        )
        return {"found_line": line, "found_circle": circle, "hits_line": line_best, "hits_circle": circle_best}
    todo = ~line[ev]
    ids, r2, phi2 = ev[todo], r[todo], phi[todo]
    for kappa in kappas:
        if len(ids) == 0:
            break
        if kappa == 0:
            continue
        # renumber the remaining events densely: each pass costs only what is left
        uniq, local = np.unique(ids, return_inverse=True)
        f, b = find_roads(local, r2, phi2, len(uniq), half_bin_rad, min_hits, kappa)
        circle[uniq[f]] = True
        circle_best[uniq] = np.maximum(circle_best[uniq], b)
        keep = ~f[local]
        ids, r2, phi2 = ids[keep], r2[keep], phi2[keep]
    return {"found_line": line, "found_circle": circle, "hits_line": line_best, "hits_circle": circle_best}


def fake_rate_analytic(mean_noise_hits: float, half_bin_rad: float, min_hits: int = 4) -> float:
    """Probability that Poisson noise (``mean_noise_hits`` per event, uniform in azimuth) fires
    at least one straight road of :func:`find_roads`.

    Each half-bin holds an independent Poisson(mu) count, mu = mean / H. The state of ring
    position r is (count in half-bin r, count in half-bin r + H/2); road r joins positions r and
    r + 1 (the last road closes the ring onto the swapped first state). P(no road fires) is a
    transfer-matrix trace; counts are capped at ``min_hits`` (enough to decide any road).
    """
    n_h = n_half_bins(half_bin_rad)
    mu = mean_noise_hits / n_h
    cap = min_hits
    p = poisson.pmf(np.arange(cap + 1), mu)
    p[cap] = poisson.sf(cap - 1, mu)
    a, b = np.meshgrid(np.arange(cap + 1), np.arange(cap + 1), indexing="ij")
    a, b = a.ravel(), b.ravel()
    weight = p[a] * p[b]
    fa, fb = a[:, None] + a[None, :], b[:, None] + b[None, :]
    quiet = ~((fa + fb >= min_hits) & (fa >= 1) & (fb >= 1))
    transfer = quiet * weight[None, :]
    power = np.linalg.matrix_power(transfer, n_h // 2 - 1)
    swap = b * (cap + 1) + a  # index of the swapped state (b, a)
    closing = quiet[:, swap]  # closing[s_last, s0] = road (s_last, swap(s0)) quiet
    p_quiet = float(np.einsum("i,ij,ji->", weight, power, closing))
    return 1.0 - p_quiet
