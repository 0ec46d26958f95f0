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

Boosted-pair hypothesis (two rays; ``docs/physics.md`` §14). With a crossing angle the CM moves
sideways with beta_x = sin(theta_c/2) (``docs/physics.md`` §10), 0.030 at 60 mrad, which near
threshold exceeds the chi velocity beta* in the CM: the lab velocities beta_cm +- beta* point to
the same side and the pair is no longer one line through the IP. The hypothesis asks for two
rays from the IP with free directions -- single-sided roads of two half-bins (the line roads'
width), sharing no half-bin -- each with >= k hits (``min_hits_per_ray``, default 2), together
>= ``min_hits``. Why this design:

* Hit times would restore back-to-back (r_i - beta_cm c t_i is back-to-back in the CM for an
  equal-mass pair), but a drift cell measures t_passage + t_drift against the bunch-crossing
  clock; per hit the two are not separable at trigger level (drift times of a few hundred ns in
  a cm-size cell, while a beta = 0.01 chi needs 330 ns per metre): an offline fit of one time
  per track is needed.
* The known boost without times: the ray directions n1, n2 with unknown speeds s1, s2 obey
  s1 n1 + s2 n2 = 2 beta_cm,T (equal masses, non-relativistic): two equations, two unknowns, so
  its only content is s1, s2 > 0, i.e. beta_cm lies inside the angle of the two rays. For random
  rays this keeps 1/4 of the noise pairs (mean opening pi/2 over 2 pi); it is left out because
  the rays' measured directions are off by curvature (asin(r/2R), 0.09 rad at the outer layer for
  R = 5.6 m) and beam-pipe kicks exactly in the pairs it matters for (beta* parallel to beta_cm).
* k = 2: the line hypothesis accepts one backward hit because the forward hits predict where it
  must be; a free ray has no prediction and one hit is no direction. With k = 1 a single MCP
  (its partner stopped in the beam pipe) plus any one noise hit would pass as a pair
  (probability 1 - exp(-mu), 0.55 at the sct_3gev noise of mu = 0.8 hits per event); with k = 2
  only when noise puts two hits on one ray (~ 0.3 %).
* Multiple scattering: a kick theta in the beam pipe (radius r_p) leaves the track on a line
  through the pipe point, at azimuth phi0 + theta (1 - r_p/r) on layer r; a free ray absorbs the
  common theta (residual spread (r_p/r_in - r_p/r_out) theta = 0.57 theta in sct_3gev), the
  back-to-back line needs the two MCPs' kicks to agree (spread sqrt(2) theta).
* Straight rays only: arcs with an independent curvature per ray would multiply the
  combinatorics by the square of the curvature grid and have no closed-form fake rate.

Noise-only events give the fake rate; :func:`fake_rate_analytic` is the exact probability that
Poisson noise fires at least one straight road (transfer matrix around the ring);
:func:`fake_rate_boosted_analytic` the exact probability for the two-ray hypothesis (a dynamic
programme around the ring; see its docstring).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import poisson

from . import _finder_kernels, _kernels

#: Use the compiled per-event finder (numba) when available; False forces the numpy reference.
USE_COMPILED_KERNEL = True

_DENSE_CELLS = 4_000_000  # (event, half-bin) cells histogrammed at once

__all__ = [
    "find_roads",
    "find_two_rays",
    "find_pairs",
    "curvature_grid",
    "fake_rate_analytic",
    "fake_rate_boosted_analytic",
    "n_half_bins",
    "HYPOTHESES",
]

#: Finder hypotheses, in the order of the ``found_*`` / ``hits_*`` fields of :func:`find_pairs`
HYPOTHESES = ("line", "circle", "boosted")

MIN_HITS_PER_RAY = 2  #: default hits per ray of the boosted hypothesis (module docstring)


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


def _ordered(hit_event, hit_phi, n_events):
    """Hits sorted by event (stable) and the event offsets (length n_events + 1)."""
    events = np.asarray(hit_event, dtype=np.int64)
    phi = np.asarray(hit_phi, dtype=float)
    if not np.all(events[1:] >= events[:-1]):
        order = np.argsort(events, kind="stable")
        events, phi = events[order], phi[order]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(events, minlength=n_events))])
    return events, phi, offsets


def find_two_rays(
    hit_event, hit_phi, n_events: int, half_bin_rad: float, min_hits: int = 4, min_per_ray: int = MIN_HITS_PER_RAY
):
    """Per event: (found, best total) for the boosted-pair hypothesis (module docstring).

    A ray is a single-sided road (half-bins j, j + 1 of width h = ``half_bin_rad`` rounded as in
    :func:`n_half_bins`); two rays are disjoint when they share no half-bin. ``best`` is the
    largest R_a + R_b over disjoint rays with R_a, R_b >= ``min_per_ray`` (0 if there is no such
    pair), ``found`` is ``best >= min_hits``. Hit radii are not needed (straight rays).
    """
    if min_per_ray < 1:
        raise ValueError("min_per_ray must be >= 1")
    found = np.zeros(n_events, dtype=bool)
    best = np.zeros(n_events, dtype=np.int32)
    if len(hit_event) == 0:
        return found, best
    n_h = n_half_bins(half_bin_rad)
    events, phi, offsets = _ordered(hit_event, hit_phi, n_events)
    if _kernels.HAVE_NUMBA and USE_COMPILED_KERNEL:
        _finder_kernels.two_rays_per_event(offsets, phi, n_h, min_hits, min_per_ray, found, best)
        return found, best
    width = 2 * np.pi / n_h
    hbin = (np.mod(phi, 2 * np.pi) // width).astype(np.int64) % n_h
    span = max(1, _DENSE_CELLS // n_h)
    first, last = int(events[0]), int(events[-1])
    for lo in range(first, last + 1, span):
        a, b = np.searchsorted(events, [lo, lo + span])
        if a == b:
            continue
        rows = min(span, last + 1 - lo)
        road = _roads(np.bincount((events[a:b] - lo) * n_h + hbin[a:b], minlength=rows * n_h), rows, n_h)
        road = road.astype(np.int32)
        idx = np.arange(rows)
        star = np.argmax(road, axis=1)  # first of the fullest roads
        top = road[idx, star]
        left, right = road[idx, (star - 1) % n_h], road[idx, (star + 1) % n_h]
        others = road.copy()
        for d in (-1, 0, 1):
            others[idx, (star + d) % n_h] = 0
        partner = others.max(axis=1)
        total = np.where(partner >= min_per_ray, top + partner, 0)
        adjacent = (left >= min_per_ray) & (right >= min_per_ray)
        total = np.maximum(total, np.where(adjacent, left + right, 0))
        found[lo : lo + rows] = total >= min_hits
        best[lo : lo + rows] = total
    return found, best


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
    *,
    min_hits_per_ray: int = MIN_HITS_PER_RAY,
):
    """Every hypothesis of :data:`HYPOTHESES` on every event: returns a dict with ``found_<h>``
    (bool) and ``hits_<h>`` (int32: largest road count; for ``boosted`` the largest two-ray
    total) per event, keys in the order ``found_line``, ``found_circle``, ``hits_line``,
    ``hits_circle``, ``found_boosted``, ``hits_boosted``."""
    counts = np.bincount(hit_event, minlength=n_events)
    keep = counts[hit_event] >= min_hits
    ev, r, phi = hit_event[keep], hit_r[keep], hit_phi[keep]
    boosted, boosted_best = find_two_rays(ev, phi, n_events, half_bin_rad, min_hits, min_hits_per_ray)
    extra = {"found_boosted": boosted, "hits_boosted": boosted_best}
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
        return {"found_line": line, "found_circle": circle, "hits_line": line_best, "hits_circle": circle_best} | extra
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
    return {"found_line": line, "found_circle": circle, "hits_line": line_best, "hits_circle": circle_best} | extra


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


def fake_rate_boosted_analytic(
    mean_noise_hits: float, half_bin_rad: float, min_hits: int = 4, min_per_ray: int = MIN_HITS_PER_RAY
) -> float:
    """Probability that Poisson noise (``mean_noise_hits`` per event, uniform in azimuth) fires
    the boosted-pair hypothesis of :func:`find_two_rays`.

    The H half-bins hold independent Poisson(mu) counts c_j, mu = mean / H (Poisson splitting);
    road j has R_j = c_j + c_(j+1) and roads j, l are disjoint at ring distance >= 2. The event
    fires if some disjoint pair has R_j, R_l >= k and R_j + R_l >= n (k = ``min_per_ray``,
    n = ``min_hits``). Going round the ring road by road, the best partner of road l among the
    earlier disjoint roads is max(R_0, M), M = max(R_1 .. R_(l-2)), so P(quiet) follows from a
    dynamic programme over the state (c_0, R_0, c_l, R_(l-1), M), counts capped at max(n, k)
    (enough to decide every test exactly). R_0 is kept apart from M because the last road
    (half-bins H-1 and 0) overlaps road 0. Exact for the finder's definition; leading order for
    small mu: P ~ C(H, 2) P(R >= 2)^2 ~ H^2 (2 mu)^4 / 8 (two 2-hit rays, k = 2, n = 4).
    """
    n_h = n_half_bins(half_bin_rad)
    k, n = int(min_per_ray), int(min_hits)
    if mean_noise_hits <= 0:
        return 0.0
    cap = max(n, k)
    size = cap + 1
    mu = mean_noise_hits / n_h
    p = poisson.pmf(np.arange(size), mu)
    p[cap] = poisson.sf(cap - 1, mu)
    # state axes: c0, r0, last count, pending road R_(l-1), M
    c0, r0, last, pend, m = np.meshgrid(*(np.arange(size),) * 5, indexing="ij")
    c0, r0, last, pend, m = (x.ravel() for x in (c0, r0, last, pend, m))

    def flat(a, b, c, d, e):
        return (((a * size + b) * size + c) * size + d) * size + e

    def fires(road, partner):
        return (road >= k) & (partner >= k) & (road + partner >= n)

    # roads 0 and 1 (no disjoint partner yet): reading c_0, c_1, c_2
    prob = np.zeros(size**5)
    for a in range(size):
        for b in range(size):
            for c in range(size):
                r_1 = min(b + c, cap)
                prob[flat(a, min(a + b, cap), c, r_1, 0)] += p[a] * p[b] * p[c]
    # roads 2 .. H-2: reading c_3 .. c_(H-1); partner = max(R_0, M)
    partner = np.maximum(r0, m)
    new_m = np.maximum(m, pend)
    target, source, weight = [], [], []
    for v in range(size):
        road = np.minimum(last + v, cap)
        quiet = ~fires(road, partner)
        target.append(flat(c0, r0, v, road, new_m)[quiet])
        source.append(np.flatnonzero(quiet))
        weight.append(np.full(quiet.sum(), p[v]))
    target, source, weight = (np.concatenate(x) for x in (target, source, weight))
    for _ in range(n_h - 3):
        prob = np.bincount(target, weights=weight * prob[source], minlength=size**5)
    # road H-1 (half-bins H-1 and 0): partners are roads 1 .. H-3, i.e. M (road H-2 overlaps)
    last_road = np.minimum(last + c0, cap)
    quiet = ~fires(last_road, m)
    return float(np.clip(1.0 - prob[quiet].sum(), 0.0, 1.0))
