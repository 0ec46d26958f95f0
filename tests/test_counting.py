"""detsim.counting against scipy.stats.poisson (the reference implementation of the same law)."""

import numpy as np
import pytest
from scipy.stats import poisson

from detsim.counting import poisson_pmf, poisson_quantile, poisson_sf


@pytest.mark.parametrize("mu", [0.0, 1e-3, 0.37, 4.2, 19.0, 120.0])
def test_pmf_sf_quantile_equal_scipy_stats(mu):
    k = np.arange(0, 200)
    np.testing.assert_array_equal(poisson_pmf(k, mu), poisson.pmf(k, mu))
    np.testing.assert_array_equal(poisson_sf(k, mu), poisson.sf(k, mu))
    for q in (0.5, 0.9, 1 - 1e-6, 1 - 1e-9):
        assert poisson_quantile(q, mu) == int(poisson.ppf(q, mu))


def test_pmf_sums_to_one():
    k = np.arange(0, 400)
    assert abs(poisson_pmf(k, 50.0).sum() - 1.0) < 1e-12
