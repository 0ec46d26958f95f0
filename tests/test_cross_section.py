"""MC cross sections against an independent quadrature of G eq. (3) (+ ISR, G eq. 12)."""

from __future__ import annotations

import dataclasses

import pytest
import reference as ref
from conftest import CARDS

from mcpgen import generate_events, load_card

N_EVENTS = 400_000


def _sigma(events):
    w = events.weight.to_numpy()
    n = len(w)
    mean = w.sum()
    err = (w @ w - mean**2 / n) ** 0.5
    return mean, err


@pytest.mark.parametrize("kernel", ["off", "gorbunov", "kuraev_fadin"])
@pytest.mark.parametrize("card", ["sct_3gev.yaml", "sct_3gev_4mev.yaml"])
def test_cross_section_matches_quadrature(card, kernel):
    c = load_card(CARDS / card, [f"isr.kernel={kernel}"])
    events = generate_events(c.process, N_EVENTS, seed=11)
    mc, err = _sigma(events)
    b = c.beams
    expected = ref.sigma_spread_pb(
        b.sqrt_s0_gev, b.sigma_sqrt_s_gev, c.process.mass_gev, c.process.epsilon, "dirac", kernel
    )
    pull = (mc - expected) / err
    print(f"{card} {kernel}: MC {mc:.6e} +- {err:.1e} pb, quadrature {expected:.6e} pb, pull {pull:+.2f}")
    assert abs(pull) < 3


def test_isr_off_orientation_value():
    """The issue's orientation: sigma ~ 2.0e-3 pb for the bundled card with ISR off."""
    c = load_card(CARDS / "sct_3gev.yaml", ["isr.kernel=off"])
    mc, _ = _sigma(generate_events(c.process, 100_000, seed=3))
    assert mc == pytest.approx(2.0e-3, rel=0.05)


@pytest.mark.parametrize("spin", ["dirac", "scalar"])
def test_far_above_threshold_with_x_max(spin):
    """Relativistic pairs (beta ~ 0.9) and a G-style x_max = (25 MeV)^2/s cut-off."""
    c = load_card(
        CARDS / "sct_3gev.yaml",
        ["mcp.mass=0.6 GeV", f"mcp.spin={spin}", "isr.x_max=0.05", "beams.spread.sigma_sqrt_s=20 MeV"],
    )
    mc, err = _sigma(generate_events(c.process, 200_000, seed=5))
    expected = ref.sigma_spread_pb(3.0, 0.02, 0.6, 3e-3, spin, "kuraev_fadin", x_max=0.05)
    assert abs(mc - expected) < 3 * err


def test_per_beam_spread_asymmetric_threshold():
    """Per-beam spread (Belle II-like 7 x 4 GeV) near threshold, ISR off: against a 2-D quadrature."""
    from scipy import integrate

    c = load_card(
        CARDS / "sct_3gev.yaml",
        [
            "beams={electron_energy: 7 GeV, positron_energy: 4 GeV, "
            "spread: {model: gaussian_per_beam, relative: 1.0e-3}}",
            "mcp.mass=5.29 GeV",
            "isr.kernel=off",
        ],
    )
    mc, err = _sigma(generate_events(c.process, 200_000, seed=9))
    s1, s2 = 7e-3, 4e-3

    def integrand(e2, e1):
        g = ref.math.exp(-0.5 * ((e1 - 7) / s1) ** 2 - 0.5 * ((e2 - 4) / s2) ** 2) / (2 * ref.math.pi * s1 * s2)
        return g * ref.born_pb(4 * e1 * e2, 5.29, 3e-3)

    expected, _ = integrate.dblquad(integrand, 7 - 8 * s1, 7 + 8 * s1, 4 - 8 * s2, 4 + 8 * s2, epsrel=1e-7)
    assert abs(mc - expected) < 3 * err


def test_unweighted_events_reproduce_cross_section():
    c = load_card(CARDS / "sct_3gev.yaml", ["run.unweighted=true"])
    from mcpgen.pipeline import ChunkTask, generate_chunk, max_weight

    w_max = max_weight(c.process, 7, 65536)
    events, stats = generate_chunk(ChunkTask(c.process, 7, 0, 300_000, 300_000, True, w_max))
    sigma_hm = events.weight.to_numpy().sum()
    weighted = dataclasses.replace(c.process)
    expected = ref.sigma_spread_pb(3.0, 2.1e-3, 1.5, 3e-3, "dirac", "kuraev_fadin")
    n_acc = stats.n_written
    err = sigma_hm / n_acc**0.5  # binomial-dominated error of hit-or-miss
    assert weighted == c.process
    assert abs(sigma_hm - expected) < 3 * err
    assert stats.n_overweight < 1e-3 * stats.n_trials
    assert (events.weight.to_numpy() == w_max / 300_000).mean() > 0.999
