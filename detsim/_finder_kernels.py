"""Compiled (numba) kernels of the boosted-pair hypothesis of :mod:`detsim.finder`.

:func:`two_rays_per_event` does, event by event and in one pass over the hits, what the numpy
reference :func:`detsim.finder.find_two_rays` does with dense (event, half-bin) histograms; the
tests compare the two exactly.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import HAVE_NUMBA, njit

__all__ = ["HAVE_NUMBA", "two_rays_per_event", "ring_distance", "close_pair_best"]


@njit(cache=True, nogil=True, inline="always")
def _ray(c, ci, j, n_h, min_per_ray):  # pragma: no cover - compiled
    """Hits on ray j (half-bins j, j + 1, ring closed) if it qualifies (>= ``min_per_ray`` hits,
    >= 1 of them inner), else 0."""
    nxt = j + 1 if j + 1 < n_h else 0
    count = c[j] + c[nxt]
    if count >= min_per_ray and ci[j] + ci[nxt] > 0:
        return count
    return 0


@njit(cache=True, nogil=True, inline="always")
def close_pair_best(c, ci, star, n_h, min_per_ray, separation, total):  # pragma: no cover - compiled
    """``total`` or, if larger, the best pair of qualifying rays both within ``separation``
    half-bins of the fullest ray ``star`` and ``separation`` apart (neither of them ``star``)."""
    for s in range(1 - separation, separation):
        for t in range(s + separation, separation):
            if s == 0 or t == 0:
                continue
            ra = _ray(c, ci, (star + s) % n_h, n_h, min_per_ray)
            rb = _ray(c, ci, (star + t) % n_h, n_h, min_per_ray)
            if ra > 0 and rb > 0 and ra + rb > total:
                total = ra + rb
    return total


@njit(cache=True, nogil=True, inline="always")
def ring_distance(a, b, n_h):  # pragma: no cover - compiled
    d = abs(a - b)
    return min(d, n_h - d)


@njit(cache=True, nogil=True)
def two_rays_per_event(
    offsets, hit_phi, hit_inner, n_h, min_hits, min_per_ray, separation, found, best
):  # pragma: no cover - compiled
    """Two rays from the IP with free directions, per event (hits grouped by event, ``offsets``
    of length n_events + 1; ``hit_inner`` true for hits in the inner layers).

    A ray is a single-sided road (half-bins j, j + 1) that qualifies with >= ``min_per_ray``
    hits, at least one inner; two rays are compatible when their first half-bins are at ring
    distance >= ``separation``. The largest E_a + E_b over compatible qualifying rays is written
    to ``best`` (0 if none); ``found`` when it reaches ``min_hits``. With j* the fullest
    qualifying ray, the optimum is (j*, its fullest compatible ray) or a compatible pair of rays
    both within ``separation`` - 1 of j*: a pair compatible with j* on either side cannot beat
    the first by swapping in j*. Only the half-bins touched by the event's hits are counted and
    reset (cost proportional to the number of hits).
    """
    width = 2.0 * math.pi / n_h
    two_pi = 2.0 * math.pi
    n_hits = hit_phi.shape[0]
    hbin = np.empty(n_hits, dtype=np.int64)
    for j in range(n_hits):
        hbin[j] = int((hit_phi[j] % two_pi) // width) % n_h
    c = np.zeros(n_h, dtype=np.int32)
    ci = np.zeros(n_h, dtype=np.int32)
    for e in range(offsets.shape[0] - 1):
        a, b = offsets[e], offsets[e + 1]
        if a == b:
            continue
        for j in range(a, b):
            c[hbin[j]] += 1
            if hit_inner[j]:
                ci[hbin[j]] += 1
        # fullest qualifying ray j* (rays containing a hit start at its half-bin or the one before)
        top, star = 0, -1
        for j in range(a, b):
            h = hbin[j]
            for road in (h - 1 if h > 0 else n_h - 1, h):
                nr = _ray(c, ci, road, n_h, min_per_ray)
                if nr > top or (nr == top and nr > 0 and road < star):
                    top, star = nr, road
        total = 0
        if star >= 0:
            partner = 0
            for j in range(a, b):
                h = hbin[j]
                for road in (h - 1 if h > 0 else n_h - 1, h):
                    if ring_distance(road, star, n_h) >= separation:
                        nr = _ray(c, ci, road, n_h, min_per_ray)
                        if nr > partner:
                            partner = nr
            if partner > 0:
                total = top + partner
            total = close_pair_best(c, ci, star, n_h, min_per_ray, separation, total)
        for j in range(a, b):
            c[hbin[j]] = 0
            ci[hbin[j]] = 0
        best[e] = total
        if total >= min_hits:
            found[e] = True
