"""Poisson probabilities for the noise model and the analytic fake rates, from scipy.special's
ufuncs (the same ones scipy.stats.poisson evaluates, without loading scipy.stats at start-up).

pmf(k; mu) = mu^k e^-mu / k!, sf(k; mu) = P(K > k), quantile(q; mu) = min{k : P(K <= k) >= q}
(PDG Review of Particle Physics, "Probability", the Poisson distribution).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, pdtr, pdtrc, xlogy

__all__ = ["poisson_pmf", "poisson_sf", "poisson_quantile"]


def poisson_pmf(k, mu):
    """P(K = k) for K ~ Poisson(mu); ``k`` integer array-like >= 0, ``mu`` >= 0."""
    k = np.asarray(k)
    return np.exp(xlogy(k, mu) - gammaln(k + 1) - mu)


def poisson_sf(k, mu):
    """P(K > k) for K ~ Poisson(mu), ``k`` >= 0."""
    return pdtrc(k, mu)


def poisson_quantile(q: float, mu: float) -> int:
    """The smallest k with P(K <= k) >= ``q`` (0 < q < 1) for K ~ Poisson(``mu``), mu >= 0."""
    k = 0
    while pdtr(k, mu) < q:
        k += 1
    return k
