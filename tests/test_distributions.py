"""Angular and velocity distributions against the analytic shapes (chi^2, fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref
from conftest import CARDS
from scipy import integrate, stats

import generator._kernels as kernels_mod
import generator.chipair as chipair_mod
from generator import Beams, ChiPair
from mcpgen import generate_events, load_card

P_MIN = 1e-3  # fixed seeds: a p-value below this means a wrong shape, not bad luck


def _boost_to_pair_frame(chi, sqrt_s_prime, beta_z_pair_lab):
    """cos(theta*) of chi in the pair rest frame from lab momenta (boost along z)."""
    gamma = 1 / np.sqrt(1 - beta_z_pair_lab**2)
    pz = gamma * (chi.pz - beta_z_pair_lab * chi.E)
    p = np.sqrt(chi.px**2 + chi.py**2 + pz**2)
    return pz / p


@pytest.mark.parametrize(
    ("spin", "overrides"),
    [
        ("dirac", ["mcp.mass=0.4 GeV"]),  # beta* ~ 0.85: 1 + cos^2 + (1 - beta^2) sin^2 is far from flat
        ("scalar", ["mcp.mass=0.4 GeV"]),
        ("dirac", []),  # near threshold, KF ISR on: isotropic to O(beta^2)
    ],
)
def test_cos_theta_star_distribution(spin, overrides):
    card = load_card(CARDS / "sct_3gev.yaml", [f"mcp.spin={spin}", *overrides])
    ev = generate_events(card.process, 200_000, seed=21)
    pair = ev.chi + ev.chibar
    beta_pair = (pair.pz / pair.E).to_numpy()
    cos_star = _boost_to_pair_frame(ev.chi, ev.sqrt_s_prime, beta_pair).to_numpy()
    w = ev.weight.to_numpy()
    beta_star = np.sqrt(1 - 4 * card.process.mass_gev**2 / ev.sqrt_s_prime.to_numpy() ** 2)
    edges = np.linspace(-1, 1, 21)
    # expected: sum over events of the normalised analytic density integrated over each bin
    if spin == "scalar":
        cdf = lambda c, b: (3 * c - c**3 + 2) / 4  # noqa: E731
    else:
        cdf = lambda c, b: ((2 - b**2) * (c + 1) + b**2 * (c**3 + 1) / 3) / (2 * (2 - b**2) + 2 * b**2 / 3)  # noqa: E731
    expected = np.array(
        [np.sum(w * (cdf(hi, beta_star) - cdf(lo, beta_star))) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    )
    chi2, ndf = ref.weighted_chi2(cos_star, w, edges, expected)
    p = stats.chi2.sf(chi2, ndf)
    print(f"{spin} {overrides}: chi2/ndf = {chi2:.1f}/{ndf}, p = {p:.3f}")
    assert p > P_MIN


@pytest.mark.parametrize(("card_name", "beta_hi"), [("sct_3gev.yaml", 0.06), ("sct_3gev_4mev.yaml", 0.08)])
def test_beta_distribution_without_isr(card_name, beta_hi):
    """d sigma/d beta from the spread-averaged Born cross section (quadrature per bin)."""
    card = load_card(CARDS / card_name, ["isr.kernel=off"])
    ev = generate_events(card.process, 300_000, seed=33)
    beta = ev.chi_beta.to_numpy()
    w = ev.weight.to_numpy()
    b = card.beams
    edges = np.concatenate([[0.0], np.linspace(0.01, beta_hi, 17)])
    expected = np.array(
        [
            integrate.quad(
                ref.dsigma_dbeta_pb, lo, hi, args=(b.sqrt_s0_gev, b.sigma_sqrt_s_gev, 1.5, 3e-3), epsrel=1e-9
            )[0]
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
    )
    # the last bin also holds everything above its upper edge
    edges[-1] = 1.0
    expected[-1] += integrate.quad(
        ref.dsigma_dbeta_pb, beta_hi, 0.2, args=(b.sqrt_s0_gev, b.sigma_sqrt_s_gev, 1.5, 3e-3)
    )[0]
    chi2, ndf = ref.weighted_chi2(beta, w, edges, expected)
    p = stats.chi2.sf(chi2, ndf)
    print(f"{card_name}: chi2/ndf = {chi2:.1f}/{ndf}, p = {p:.3f}")
    assert p > P_MIN


def test_four_momentum_conservation_with_isr_and_boost():
    """chi + chibar + ISR photon = the beams' four-momentum; masses = m; charges opposite."""
    card = load_card(
        CARDS / "sct_3gev.yaml",
        [
            "beams={electron_energy: 1.8 GeV, positron_energy: 1.25 GeV, "
            "spread: {model: gaussian_per_beam, relative: 1.0e-3}}"
        ],
    )
    ev = generate_events(card.process, 50_000, seed=2)
    total = ev.chi + ev.chibar + ev.isr
    rs = ev.sqrt_s.to_numpy()
    bz = ev.beta_z.to_numpy()
    gamma = 1 / np.sqrt(1 - bz**2)
    np.testing.assert_allclose(total.E.to_numpy(), gamma * rs, rtol=1e-12)
    np.testing.assert_allclose(total.pz.to_numpy(), gamma * bz * rs, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(total.mass.to_numpy(), rs, rtol=1e-9)
    np.testing.assert_allclose((ev.chi + ev.chibar).mass.to_numpy(), ev.sqrt_s_prime.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(ev.chi.mass.to_numpy(), 1.5, rtol=1e-9)
    assert np.all(ev.chi.charge.to_numpy() == -ev.chibar.charge.to_numpy())
    assert np.all(ev.sqrt_s.to_numpy() >= 3.0)  # importance sampling: never below threshold
    assert abs(np.mean(bz) - (1.8 - 1.25) / 3.05) < 5e-3  # per-event boost scatters by ~1e-3


# ---------------------------------------------------------------------------------------------
# compiled generator kernel against the numpy reference
# ---------------------------------------------------------------------------------------------
_KERNEL_CASES = {
    "head_on_kf_threshold": lambda: ChiPair(Beams(1.5, 1.5), 0.1056583755, 1.0),
    "scalar_gorbunov": lambda: ChiPair(Beams(1.5, 1.5), 0.1056583755, 1e-3, "scalar", "gorbunov"),
    "per_beam_crossing": lambda: ChiPair(
        Beams.for_sqrt_s(
            3.77, energy_ratio=2.0, crossing_angle_rad=0.022, spread_model="gaussian_per_beam", relative_spread=5e-4
        ),
        0.5,
        0.1,
    ),
    "sqrt_s_spread_crossing_x_max": lambda: ChiPair(
        Beams.symmetric(3.77, 0.002, crossing_angle_rad=0.06), 0.001, 0.1, x_max=0.3
    ),
    "asymmetric_crossing_no_spread": lambda: ChiPair(
        Beams.for_sqrt_s(10.58, energy_ratio=7 / 4, crossing_angle_rad=0.083), 0.2, 0.01, "scalar"
    ),
    "asymmetric_isr_off": lambda: ChiPair(
        Beams.for_sqrt_s(10.58, energy_ratio=7 / 4, spread_model="gaussian_per_beam", relative_spread=6e-4),
        0.01,
        0.1,
        isr="off",
    ),
    "asymmetric_x_max_energy": lambda: ChiPair(
        Beams.for_sqrt_s(10.58, energy_ratio=7 / 4, spread_model="gaussian_sqrt_s", relative_spread=6e-4),
        5.0,
        0.1,
        x_max_energy_gev=2.0,
    ),
}


def _columns(ev) -> dict:
    out = {}
    for f in ev.fields:
        for g in ev[f].fields or [None]:
            out[f if g is None else f"{f}.{g}"] = np.asarray(ev[f] if g is None else ev[f][g])
    return out


@pytest.mark.parametrize("case", sorted(_KERNEL_CASES))
def test_compiled_kernel_equals_numpy_reference(case):
    """ChiPair.generate through the compiled kernel gives the numpy reference's events, same
    record type and fields, to 1e-12 relative (momentum components relative to their particle's
    energy): the last bits differ (gamma, gamma beta instead of cosh, sinh of artanh; exp/log
    powers; sqrt instead of hypot; libm instead of numpy's loops), nothing else. Uniforms at the
    edges (u = 0 and u -> 1) included, except where the result is ill-conditioned in both paths
    alike: cos(theta*) -> +-1, where sin = sqrt(1 - cos^2) turns a last-bit difference of cos
    (1e-16) into 1e-8 of sin, and ISR x -> x_lim (u -> 1), the pair at threshold, where
    p* = sqrt(s'/4 - m^2) does the same."""
    if not kernels_mod.HAVE_NUMBA:
        pytest.skip("numba not installed")
    proc = _KERNEL_CASES[case]()
    u = np.random.default_rng(5).random((6, 20_000))
    u[np.ix_([0, 1, 2, 3, 5], range(3))] = 0.0  # every row but cos(theta*)
    u[np.ix_([0, 1, 3, 5], range(3, 6))] = 1.0 - 2.0**-53  # nor ISR x
    saved = chipair_mod.USE_COMPILED_KERNEL
    try:
        chipair_mod.USE_COMPILED_KERNEL = False
        ref_ev, ref_empty = proc.generate(u), proc.generate(u[:, :0])
        chipair_mod.USE_COMPILED_KERNEL = True
        new_ev, new_empty = proc.generate(u), proc.generate(u[:, :0])
    finally:
        chipair_mod.USE_COMPILED_KERNEL = saved
    assert len(new_empty) == 0 and str(new_empty.type) == str(ref_empty.type)
    assert str(new_ev.type) == str(ref_ev.type)
    a, b = _columns(ref_ev), _columns(new_ev)
    assert list(a) == list(b)
    for name, ref_col in a.items():
        part, _, comp = name.partition(".")
        scale = np.abs(a[f"{part}.E"]) if comp in ("px", "py", "pz") else np.abs(ref_col)
        assert np.all(np.isfinite(b[name]) == np.isfinite(ref_col)), name
        np.testing.assert_array_less(np.abs(b[name] - ref_col), 1e-12 * scale + 1e-300, err_msg=name)
