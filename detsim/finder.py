"""Trigger-level finder of MCP pairs: >= N hits on one road through the IP, >= 1 on each side.

Roads live in the transverse plane (axial wires; the z measurement is not used). The azimuth
ring is cut into H half-bins of width h (H even); a road is two neighbouring half-bins on one
side of the IP ("forward") together with the two opposite half-bins ("backward"). A straight
track through the IP whose hits scatter by less than h in azimuth always fits in one road, so
ideal lines are found with efficiency 1 (``Tracker.road_half_bin_rad`` sets h = 2 k sigma /
r_first).

Circle hypothesis: the chi and chibar of a pair lie on one circle through the IP (opposite
charge, opposite momentum; docs/physics.md §7). A hit at radius r on a circle of signed curvature
kappa, tangent phi0 at the IP, sits at phi0 - asin(kappa r/2) (forward) or
phi0 + pi + asin(kappa r/2) (backward); undoing that shift maps the circle onto a straight road.
Curvatures are scanned on a grid fine enough that the residual shift at the outer radius stays
below h/2.

Boosted-pair hypothesis (two rays; ``docs/physics.md`` §14). With a crossing angle the CM moves
sideways with beta_x = sin(theta_c/2) (``docs/physics.md`` §10), 0.030 at 60 mrad, which near
threshold exceeds the chi velocity beta* in the CM: the lab velocities beta_cm +- beta* point to
the same side and the pair is no longer one line through the IP. The hypothesis asks for two
rays from the IP with free directions -- single-sided roads of two half-bins (the line roads'
width) with at least one half-bin between them -- each with >= k hits (``min_hits_per_ray``,
default 2), together >= ``min_hits``. Why this design:

* Hit times would restore back-to-back (r_i - beta_cm c t_i is back-to-back in the CM for an
  equal-mass pair), but a drift cell measures t_passage + t_drift against the bunch-crossing
  clock; per hit the two are not separable at trigger level (drift times of a few hundred ns in
  a cm-size cell, while a beta = 0.01 chi needs 330 ns per metre; ``docs/physics.md`` §13): an
  offline fit of one time per track is needed.
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
  only when noise puts two hits on one ray (3 mu^2 / (2 H) = 0.2 %).
* One half-bin between the rays (``RAY_SEPARATION``): the hits of one straight track lie in two
  neighbouring half-bins and may straddle their edge; rays sharing no half-bin could split such
  a track into two rays of >= 2 hits. A curved single track still splits when its azimuth drifts
  by more than about one half-bin over the tracker (asin(r_out/2R) > h, R < 40 m in sct_3gev):
  at eps = 3e-3 and 60 mrad, 7 of 116 events with hits from one MCP only pass (0.02 % of the
  pairs found). Pairs whose two rays lie within three half-bins look like one track and are lost
  (about 1 % at 60 mrad).
* Optional inner hit (``ray_inner_radius_cm``): each ray needs a hit below that radius, i.e. it
  starts at the IP. It vetoes split single tracks and cuts the noise rate (inner half of the
  sct_3gev layers: x 0.22), at a price in efficiency for sparse tracks (-2.4 % at eps = 3e-3,
  60 mrad; -28 % relative at eps = 1e-3), so it is off by default.
* Multiple scattering: a kick theta in the beam pipe (radius r_p) leaves the track on a line
  through the pipe point, at azimuth phi0 + theta (1 - r_p/r) on layer r; a free ray absorbs the
  common theta (residual spread (r_p/r_first - r_p/r_last) theta = 0.47 theta in sct_3gev), the
  back-to-back line needs the two MCPs' kicks to agree (spread sqrt(2) theta).
* Straight rays only: arcs with an independent curvature per ray would multiply the
  combinatorics by the square of the curvature grid and have no closed-form fake rate; with
  >= 2 hits per ray the inner part of a curved track suffices.

Noise-only events give the fake rate; :func:`fake_rate_analytic` is the exact probability that
Poisson noise fires at least one straight road (transfer matrix around the ring);
:func:`fake_rate_boosted_analytic` the exact probability for the two-ray hypothesis (a dynamic
programme around the ring; see its docstring).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _finder_kernels, _kernels, _pass_kernels
from .counting import poisson_pmf, poisson_sf

#: Use the compiled per-event finder (numba) when available; False forces the numpy reference.
USE_COMPILED_KERNEL = True

_DENSE_CELLS = 4_000_000  # (event, half-bin) cells histogrammed at once

__all__ = [
    "find_roads",
    "find_two_rays",
    "find_pairs",
    "find_pairs_grouped",
    "curvature_grid",
    "fake_rate_analytic",
    "fake_rate_boosted_analytic",
    "n_half_bins",
    "HYPOTHESES",
    "MIN_HITS_PER_RAY",
    "RAY_SEPARATION",
]

#: Finder hypotheses, in the order of the ``found_*`` / ``hits_*`` fields of :func:`find_pairs`
HYPOTHESES = ("line", "circle", "boosted")

MIN_HITS_PER_RAY = 2  #: default hits per ray of the boosted hypothesis (module docstring)
#: smallest ring distance (half-bins) between the first half-bins of the two rays: one half-bin
#: between them, so a single straight track (within two neighbouring half-bins) is never split
RAY_SEPARATION = 3


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
        _, offsets, (r, phi) = _ordered(hit_event, n_events, np.asarray(hit_r, float), np.asarray(hit_phi, float))
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
    for lo, a, b, rows in _event_slices(events, n_h):
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


def _event_slices(events, n_h: int):
    """Slices of event-sorted hits for dense (event, half-bin) histograms of bounded memory:
    yields (first event lo, hit range a:b, number of event rows) per slice."""
    span = max(1, _DENSE_CELLS // n_h)
    first, last = int(events[0]), int(events[-1])
    for lo in range(first, last + 1, span):
        a, b = np.searchsorted(events, [lo, lo + span])
        if a != b:
            yield lo, a, b, min(span, last + 1 - lo)


def _ordered(hit_event, n_events, *arrays):
    """Hits sorted by event (stable), the event offsets (length n_events + 1) and ``arrays``
    in the same order."""
    events = np.asarray(hit_event, dtype=np.int64)
    arrays = [np.asarray(a) for a in arrays]
    if not np.all(events[1:] >= events[:-1]):
        order = np.argsort(events, kind="stable")
        events, arrays = events[order], [a[order] for a in arrays]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(events, minlength=n_events))])
    return events, offsets, arrays


def find_two_rays(
    hit_event,
    hit_phi,
    n_events: int,
    half_bin_rad: float,
    min_hits: int = 4,
    min_per_ray: int = MIN_HITS_PER_RAY,
    separation: int = RAY_SEPARATION,
    hit_inner=None,
):
    """Per event: (found, best total) for the boosted-pair hypothesis (module docstring).

    A ray is a single-sided road (half-bins j, j + 1 of width h = ``half_bin_rad`` rounded as in
    :func:`n_half_bins`); it qualifies with >= ``min_per_ray`` hits of which >= 1 is inner
    (``hit_inner``, bool per hit; None: every hit counts as inner). Two rays are compatible when
    their first half-bins are at ring distance >= ``separation``. ``best`` is the largest hit
    total of two compatible qualifying rays (0 if there is no such pair), ``found`` is
    ``best >= min_hits``. Straight rays: only the azimuth (and the inner flag) of a hit is used.
    """
    if min_per_ray < 1 or separation < 2:
        raise ValueError("min_per_ray must be >= 1 and separation >= 2")
    found = np.zeros(n_events, dtype=bool)
    best = np.zeros(n_events, dtype=np.int32)
    if len(hit_event) == 0:
        return found, best
    n_h = n_half_bins(half_bin_rad)
    if n_h < 4 * separation:
        raise ValueError("too few half-bins for two separated rays")
    inner = np.ones(len(hit_event), dtype=bool) if hit_inner is None else np.asarray(hit_inner, dtype=bool)
    events, offsets, (phi, inner) = _ordered(hit_event, n_events, np.asarray(hit_phi, dtype=float), inner)
    if _kernels.HAVE_NUMBA and USE_COMPILED_KERNEL:
        _finder_kernels.two_rays_per_event(offsets, phi, inner, n_h, min_hits, min_per_ray, separation, found, best)
        return found, best
    width = 2 * np.pi / n_h
    hbin = (np.mod(phi, 2 * np.pi) // width).astype(np.int64) % n_h
    near = [(s, t) for s in range(1 - separation, separation) for t in range(s + separation, separation) if s and t]
    for lo, a, b, rows in _event_slices(events, n_h):
        cell = (events[a:b] - lo) * n_h + hbin[a:b]
        road = _roads(np.bincount(cell, minlength=rows * n_h), rows, n_h).astype(np.int32)
        road_inner = _roads(np.bincount(cell[inner[a:b]], minlength=rows * n_h), rows, n_h)
        ray = np.where((road >= min_per_ray) & (road_inner > 0), road, 0)  # qualifying rays
        idx = np.arange(rows)
        star = np.argmax(ray, axis=1)  # first of the fullest rays
        top = ray[idx, star]
        others = ray.copy()
        for d in range(1 - separation, separation):
            others[idx, (star + d) % n_h] = 0
        partner = others.max(axis=1)
        total = np.where(partner > 0, top + partner, 0)
        for s, t in near:  # compatible pairs next to j*
            ra, rb = ray[idx, (star + s) % n_h], ray[idx, (star + t) % n_h]
            total = np.maximum(total, np.where((ra > 0) & (rb > 0), ra + rb, 0))
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
    ray_inner_radius_cm: float | None = None,
):
    """Every hypothesis of :data:`HYPOTHESES` on every event: returns a dict with ``found_<h>``
    (bool) and ``hits_<h>`` (int32: largest road count; for ``boosted`` the largest two-ray
    total) per event, keys in the order ``found_line``, ``found_circle``, ``hits_line``,
    ``hits_circle``, ``found_boosted``, ``hits_boosted``. Each boosted ray needs >= 1 hit at
    radius < ``ray_inner_radius_cm`` (None: no such requirement)."""
    counts = np.bincount(hit_event, minlength=n_events)
    keep = counts[hit_event] >= min_hits
    ev, r, phi = hit_event[keep], hit_r[keep], hit_phi[keep]
    inner = None if ray_inner_radius_cm is None else np.asarray(r) < ray_inner_radius_cm
    boosted, boosted_best = find_two_rays(
        ev, phi, n_events, half_bin_rad, min_hits, min_hits_per_ray, RAY_SEPARATION, inner
    )
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


def find_pairs_grouped(
    counts,
    hit_r,
    hit_phi,
    half_bin_rad: float,
    min_hits: int,
    outer_radius_cm: float,
    circle_min_radius_cm: float,
    *,
    min_hits_per_ray: int = MIN_HITS_PER_RAY,
    ray_inner_radius_cm: float | None = None,
    hit_layer=None,
    layer_radii_cm=None,
):
    """:func:`find_pairs` for hits grouped by event (``counts`` hits per event, in event order;
    float32 ``hit_r`` and ``hit_phi`` as the tracker writes them): every hypothesis in one
    compiled pass over the events (:func:`detsim._pass_kernels.pairs_pass`), same results;
    the numpy reference when the compiled kernels are off. ``hit_layer`` with the tracker's
    ``layer_radii_cm`` lets the circle scan tabulate its shifts per layer (optional)."""
    counts = np.asarray(counts, dtype=np.int64)
    n_events = len(counts)
    if not (_kernels.HAVE_NUMBA and USE_COMPILED_KERNEL):
        event = np.repeat(np.arange(n_events), counts)
        return find_pairs(
            event,
            hit_r,
            hit_phi,
            n_events,
            half_bin_rad,
            min_hits,
            outer_radius_cm,
            circle_min_radius_cm,
            min_hits_per_ray=min_hits_per_ray,
            ray_inner_radius_cm=ray_inner_radius_cm,
        )
    n_h = n_half_bins(half_bin_rad)
    if min_hits_per_ray < 1:
        raise ValueError("min_hits_per_ray must be >= 1")
    if n_h < 4 * RAY_SEPARATION and np.any(counts >= min_hits):
        raise ValueError("too few half-bins for two separated rays")
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    out = {
        "found_line": np.zeros(n_events, dtype=bool),
        "found_circle": np.zeros(n_events, dtype=bool),
        "hits_line": np.zeros(n_events, dtype=np.int32),
        "hits_circle": np.zeros(n_events, dtype=np.int32),
        "found_boosted": np.zeros(n_events, dtype=bool),
        "hits_boosted": np.zeros(n_events, dtype=np.int32),
    }
    inner = np.float32(np.inf if ray_inner_radius_cm is None else ray_inner_radius_cm)
    _pass_kernels.pairs_pass(
        offsets,
        np.asarray(hit_r, dtype=np.float32),
        np.asarray(hit_phi, dtype=np.float32),
        n_h,
        int(min_hits),
        curvature_grid(half_bin_rad, outer_radius_cm, circle_min_radius_cm),
        int(min_hits_per_ray),
        RAY_SEPARATION,
        inner,
        ray_inner_radius_cm is not None,
        np.empty(0, dtype=np.int16) if hit_layer is None else np.asarray(hit_layer),
        np.asarray(np.zeros(0) if layer_radii_cm is None else layer_radii_cm, dtype=np.float32),
        *out.values(),
    )
    return out


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
    p = poisson_pmf(np.arange(cap + 1), mu)
    p[cap] = poisson_sf(cap - 1, mu)
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
    mean_noise_hits: float,
    half_bin_rad: float,
    min_hits: int = 4,
    min_per_ray: int = MIN_HITS_PER_RAY,
    separation: int = RAY_SEPARATION,
    inner_fraction: float = 1.0,
) -> float:
    """Probability that Poisson noise (``mean_noise_hits`` per event, uniform in azimuth, a
    fraction ``inner_fraction`` of it in the inner layers) fires the boosted-pair hypothesis of
    :func:`find_two_rays`.

    Each of the H half-bins holds independent Poisson counts of inner and outer hits, means
    f mu and (1 - f) mu, mu = mean / H (Poisson splitting); a half-bin is described by its
    count c (capped) and whether it has an inner hit. Ray j holds E_j = c_j + c_(j+1) hits if
    that is >= k (``min_per_ray``) with an inner hit among them, else E_j = 0; rays j < l are
    compatible when l - j >= d and j + H - l >= d (d = ``separation``). The event fires if a
    compatible pair has E_j, E_l > 0 and E_j + E_l >= n (``min_hits``). Going round the ring
    ray by ray, the best partner of ray l is the largest earlier compatible one, so P(quiet)
    follows from a dynamic programme over the state (half-bin 0; E_0 .. E_(d-2); half-bin l;
    E_(l-1) .. E_(l-d+1); M), M = max(E_(d-1) .. E_(l-d)), counts capped at max(n, k) (enough to
    decide every test exactly). The first d - 1 rays are kept apart from M because the last
    rays, which wrap onto half-bin 0, are too close to them. Exact for the finder's definition.
    Leading order for small mu (k = 2, n = 4): two pairs of hits, each within one ray and with
    an inner hit, P ~ 3 (mu^4/4!) (3/H)^2 (1 - (1 - f)^2)^2.
    """
    args = (float(mean_noise_hits), float(half_bin_rad), int(min_hits), int(min_per_ray), int(separation))
    return _fake_rate_boosted(*args, float(inner_fraction))


@lru_cache(maxsize=64)
def _fake_rate_boosted(mean_noise_hits, half_bin_rad, min_hits, min_per_ray, separation, inner_fraction) -> float:
    """:func:`fake_rate_boosted_analytic`, computed once per geometry and noise level."""
    n_h = n_half_bins(half_bin_rad)
    k, n, d = int(min_per_ray), int(min_hits), int(separation)
    f = float(inner_fraction)
    if mean_noise_hits <= 0 or f <= 0:
        return 0.0
    cap = max(n, k)
    mu = mean_noise_hits / n_h
    # half-bin levels: 0 = empty; then (count c >= 1, inner flag) -> 2 c - 1 + flag
    level_count = np.array([0] + [c for c in range(1, cap + 1) for _ in (0, 1)])
    level_inner = np.array([False] + [flag for _ in range(1, cap + 1) for flag in (False, True)])
    counts = np.arange(cap + 1)
    p_any = poisson_pmf(counts, mu)
    p_any[cap] = poisson_sf(cap - 1, mu)
    p_outer = poisson_pmf(counts, (1.0 - f) * mu) * np.exp(-f * mu)  # no inner hit, c outer ones
    p_outer[cap] = poisson_sf(cap - 1, (1.0 - f) * mu) * np.exp(-f * mu)
    p_level = np.where(level_inner, p_any[level_count] - p_outer[level_count], p_outer[level_count])
    n_hb = len(p_level)
    # ray levels: 0 = does not qualify; then E = k .. cap
    ray_value = np.concatenate([[0], np.arange(k, cap + 1)])
    n_ray = len(ray_value)

    def ray_level(a, b):
        count = np.minimum(level_count[a] + level_count[b], cap)
        ok = (count >= k) & (level_inner[a] | level_inner[b])
        return np.where(ok, count - k + 1, 0)

    # state axes: half-bin 0, rays E_0 .. E_(d-2), half-bin l, rays E_(l-1) .. E_(l-d+1), M
    shape = (n_hb,) + (n_ray,) * (d - 1) + (n_hb,) + (n_ray,) * (d - 1) + (n_ray,)
    all_states = np.indices(shape).reshape(len(shape), -1)
    first, last, m_ax = 0, d, 2 * d
    heads = list(range(1, d))
    pends = list(range(d + 1, 2 * d))

    def transition(ray_index, live):
        """(target, source, weight) of the step that completes ray ``ray_index``, from the
        states ``live`` only (the others have probability 0 and add nothing)."""
        state = all_states[:, live]
        eligible = [j for j in range(d - 1) if ray_index + d - n_h <= j <= ray_index - d]
        partner = state[m_ax].copy()
        for j in eligible:
            np.maximum(partner, state[heads[j]], out=partner)
        wrap = ray_index == n_h - 1  # ray H-1 closes the ring onto half-bin 0: nothing is read
        target, source, weight = [], [], []
        for v in [None] if wrap else range(n_hb):
            ray = ray_level(state[last], state[first] if wrap else v)
            fires = (ray > 0) & (partner > 0) & (ray_value[ray] + ray_value[partner] >= n)
            quiet = ~fires
            new = state.copy()
            if ray_index <= d - 2:
                new[heads[ray_index]] = ray
            if ray_index - d + 1 >= d - 1:
                new[m_ax] = np.maximum(state[m_ax], state[pends[-1]])
            new[pends[1:]] = state[pends[:-1]]
            new[pends[0]] = ray
            if not wrap:
                new[last] = v
            target.append(np.ravel_multi_index(tuple(new[:, quiet]), shape))
            source.append(live[quiet])
            weight.append(np.full(quiet.sum(), 1.0 if wrap else p_level[v]))
        return tuple(np.concatenate(x) for x in (target, source, weight))

    prob = np.zeros(all_states.shape[1])
    for v in range(n_hb):  # half-bin 0 read: it is also the first "last" half-bin
        start = np.zeros(len(shape), dtype=np.int64)
        start[[first, last]] = v
        prob[np.ravel_multi_index(tuple(start), shape)] = p_level[v]
    # Only a few hundred of the ~1e5 states ever carry probability (for small mu): each step
    # is taken from those (``live``), in the order of the full step, so that the sums are the
    # same to the last bit; the rule of the middle rays is reused while ``live`` is unchanged.
    steady, steady_live = None, None
    for ray_index in range(n_h):
        live = np.flatnonzero(prob)
        if 2 * d - 2 <= ray_index <= n_h - d:  # same rule for every ray in the middle
            if steady is None or not np.array_equal(live, steady_live):
                steady, steady_live = transition(ray_index, live), live
            target, source, weight = steady
        else:
            target, source, weight = transition(ray_index, live)
        prob = np.bincount(target, weights=weight * prob[source], minlength=prob.size)
    return float(np.clip(1.0 - prob.sum(), 0.0, 1.0))
