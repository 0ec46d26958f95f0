"""Compiled (numba) kernels of the boosted-pair hypothesis of :mod:`detsim.finder`.

:func:`two_rays_per_event` does, event by event and in one pass over the hits, what the numpy
reference :func:`detsim.finder.find_two_rays` does with dense (event, half-bin) histograms; the
tests compare the two exactly.
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import HAVE_NUMBA, njit

__all__ = ["HAVE_NUMBA", "two_rays_per_event"]


@njit(cache=True, nogil=True, inline="always")
def _road(c, j, n_h):  # pragma: no cover - compiled
    """Count of road j (half-bins j and j + 1, ring closed)."""
    return c[j] + c[j + 1 if j + 1 < n_h else 0]


@njit(cache=True, nogil=True, inline="always")
def _ring_distance(a, b, n_h):  # pragma: no cover - compiled
    d = abs(a - b)
    return min(d, n_h - d)


@njit(cache=True, nogil=True)
def two_rays_per_event(offsets, hit_phi, n_h, min_hits, min_per_ray, found, best):  # pragma: no cover - compiled
    """Two rays from the IP with free directions, per event (hits grouped by event, ``offsets``
    of length n_events + 1).

    A ray is a single-sided road (half-bins j, j + 1); two rays are disjoint when they share no
    half-bin (ring distance of their first half-bins >= 2). The largest total R_a + R_b over
    disjoint pairs with R_a, R_b >= ``min_per_ray`` is written to ``best`` (0 if none);
    ``found`` when it reaches ``min_hits``. With j* the fullest road, the optimum is either
    (j*, fullest road disjoint from j*) or (j* - 1, j* + 1): a pair without j* must overlap j*
    on both sides, otherwise swapping in j* does not lower the total. Only the half-bins touched
    by the event's hits are counted and reset (cost proportional to the number of hits).
    """
    width = 2.0 * math.pi / n_h
    two_pi = 2.0 * math.pi
    n_hits = hit_phi.shape[0]
    hbin = np.empty(n_hits, dtype=np.int64)
    for j in range(n_hits):
        hbin[j] = int((hit_phi[j] % two_pi) // width) % n_h
    c = np.zeros(n_h, dtype=np.int32)
    for e in range(offsets.shape[0] - 1):
        a, b = offsets[e], offsets[e + 1]
        if a == b:
            continue
        for j in range(a, b):
            c[hbin[j]] += 1
        # fullest road j* (roads containing a hit start at its half-bin or the one before)
        top, star = -1, 0
        for j in range(a, b):
            h = hbin[j]
            for road in (h - 1 if h > 0 else n_h - 1, h):
                nr = _road(c, road, n_h)
                if nr > top or (nr == top and road < star):
                    top, star = nr, road
        total = 0
        partner = 0
        for j in range(a, b):
            h = hbin[j]
            for road in (h - 1 if h > 0 else n_h - 1, h):
                if _ring_distance(road, star, n_h) >= 2:
                    nr = _road(c, road, n_h)
                    if nr > partner:
                        partner = nr
        if partner >= min_per_ray:
            total = top + partner
        left = _road(c, star - 1 if star > 0 else n_h - 1, n_h)
        right = _road(c, star + 1 if star + 1 < n_h else 0, n_h)
        if left >= min_per_ray and right >= min_per_ray and left + right > total:
            total = left + right
        for j in range(a, b):
            c[hbin[j]] = 0
        best[e] = total
        if total >= min_hits:
            found[e] = True
