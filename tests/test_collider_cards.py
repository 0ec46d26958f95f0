"""The realistic collider in the cards: crossing angle and machine presets, stopping, multiple
scattering and the readout window reach the physics objects; the readout-window cost in the
summary; the full-simulation reach against the ε-reweighting scan (an independent method)."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from analysis.scan import ScanGrid
from generator.machines import machine
from mcpgen.build import load_card
from mcpgen.errors import CardError
from mcpgen.pipeline import generate_events, run
from mcpgen.reach import COLLIDER_EFFECTS, simulated_reach
from mcpgen.scan import tracker_scan


def test_realistic_card_builds_the_realistic_collider():
    card = load_card("sct_3gev_realistic")
    b = card.beams
    assert b.crossing_angle_rad == pytest.approx(0.060, abs=0)
    # sqrt(s0) held at 3 GeV: each beam at 3 / (2 cos 30 mrad) GeV (docs/physics.md §10)
    assert b.sqrt_s0_gev == pytest.approx(3.0, rel=1e-14)
    assert b.electron_energy_gev == pytest.approx(1.5 / math.cos(0.030), rel=1e-14)
    assert b.spread_model == "gaussian_per_beam"
    assert b.sigma_electron_gev == pytest.approx(1e-3 * b.electron_energy_gev, rel=1e-14)
    assert b.beta_x0 == pytest.approx(math.sin(0.030), rel=1e-14)
    t = card.tracker
    assert (t.eloss_model, t.nuclear_stopping, t.multiple_scattering) == ("icru49", True, True)
    assert t.time_window_ns == pytest.approx(500.0)
    assert t.gas.mean_excitation_gev == pytest.approx(47.1e-9)


def test_paper_card_stays_head_on():
    b = load_card("sct_3gev").beams
    assert (b.crossing_angle_rad, b.electron_energy_gev, b.positron_energy_gev) == (0.0, 1.5, 1.5)
    assert b.spread_model == "gaussian_sqrt_s"


def test_machine_preset_alone_and_overridden():
    card = load_card("sct_3gev", ["beams={machine: superkekb, spread: {model: gaussian_per_beam}}", "mcp.mass=1 GeV"])
    kekb = machine("superkekb")
    assert (card.beams.electron_energy_gev, card.beams.positron_energy_gev) == (7.0, 4.0)
    assert card.beams.crossing_angle_rad == kekb.crossing_angle_rad
    assert card.beams.sigma_positron_gev == pytest.approx(kekb.relative_spread_positron * 4.0)
    card = load_card("sct_3gev_realistic", ["beams.crossing_angle=22 mrad"])
    assert card.beams.crossing_angle_rad == pytest.approx(0.022)
    assert card.beams.sqrt_s0_gev == pytest.approx(3.0, rel=1e-14)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("beams.crossing_angle=1 rad", "beams.crossing_angle"),
        ("beams.crossing_angle=60", "beams.crossing_angle"),
        ("beams.machine=lep", "beams.machine"),
        ("detector.tracker.time_window=0 ns", "detector.tracker.time_window"),
        ("detector.tracker.multiple_scattering=maybe", "detector.tracker.multiple_scattering"),
    ],
)
def test_bad_collider_fields_name_the_field(override, field):
    with pytest.raises(CardError) as err:
        load_card("sct_3gev_realistic", [override])
    assert field in str(err.value)


def test_window_cost_equals_the_late_hits_of_an_unwindowed_run(tmp_path):
    """Same seed with and without a 100 ns window: the window drops exactly the MCP hits with
    t > 100 ns of the unwindowed run (the window draws no random numbers)."""
    common = ["detector.finder.random_trigger_events=0", "detector.tracker.noise_occupancy=0"]
    windowed = load_card("sct_3gev_realistic", [*common, "detector.tracker.time_window=100 ns"])
    open_card = load_card("sct_3gev_realistic", [*common, "detector.tracker.time_window=null"])
    cost = run(windowed, 3000, tmp_path / "w", seed=5).to_dict()["readout_window"]
    events = generate_events(open_card.process, 3000, seed=5, tracker=open_card.tracker)
    t = _flat(events.detector.hit.t)
    source = _flat(events.detector.hit.source)
    mcp = source > 0
    late = np.count_nonzero(t[mcp] > 100.0) / np.count_nonzero(mcp)
    assert cost["window_ns"] == 100.0
    assert 0.0 < late < 1.0
    assert cost["mcp_hits_late_fraction"] == pytest.approx(late, rel=2e-3)


def _flat(jagged):
    return ak.to_numpy(ak.flatten(jagged))


def test_full_simulation_agrees_with_the_reweighting_scan_for_the_paper():
    """Paper idealisation: the paper criteria depend on the velocities only, so the full simulation
    and the ε-reweighting scan see the same events (same stream) and must give the same N(ε); the
    line finder (with noise and real roads) and the Poisson-hit model agree within a few per cent
    where both are efficient and the tracks are straight: above eps ~ 1e-2 the full simulation
    curls (R = 100 p_T / (0.3 eps B) ~ 1 m at eps = 3e-2) and stops pairs that the Poisson model,
    which has no curvature, still counts."""
    card = load_card("sct_3gev")
    eps = np.array([1e-3, 3e-3, 5e-3, 1e-2])
    n = 2000
    full = simulated_reach(card, eps, n_events=n, random_trigger_events=0)
    grid = ScanGrid(np.array([card.process.mass_gev]), eps)
    scan = tracker_scan(card, grid, n_events=n, seed=card.run.seed)
    for mode in ("paper_ionization", "paper_delta"):
        np.testing.assert_allclose(full.expected[mode], scan.expected[mode][0][0], rtol=1e-12)
    poisson = scan.expected["poisson"][0][0]
    efficient = (eps >= 3e-3) & (eps <= 6e-3)
    np.testing.assert_allclose(full.expected["found_line"][efficient], poisson[efficient], rtol=0.03)


def test_crossing_angle_moves_pairs_from_the_line_to_the_boosted_finder():
    head_on = load_card("sct_3gev", ["detector.finder.random_trigger_events=0"])
    crossed = load_card("sct_3gev", ["detector.finder.random_trigger_events=0", *COLLIDER_EFFECTS[1][1]])
    eps = np.array([3e-3])
    a = simulated_reach(head_on, eps, n_events=2000).efficiency
    b = simulated_reach(crossed, eps, n_events=2000).efficiency
    assert a["found_line"] > 0.95 and a["found_boosted"] > 0.95
    # beta_x = 0.030 exceeds the chi velocities: both chi fly to +x, no back-to-back road
    assert b["found_line"] < 0.05
    assert b["found_boosted"] > 0.95


def test_nuclear_stopping_slows_but_does_not_ionise():
    """With nuclear stopping the range tables lose energy faster, while the ionisation clusters
    still come from the electronic stopping alone (docs/physics.md §11)."""
    from detsim.eloss import dedx_gev_per_cm
    from detsim.simulate import build_tables

    card = load_card("sct_3gev_realistic")
    gas = card.tracker.gas
    tables = build_tables(card.tracker, 3e-3, 1.5)
    beta = np.array([0.003, 0.005, 0.01])
    electronic = dedx_gev_per_cm(beta, 3e-3, 1.5, gas, "icru49")
    total = dedx_gev_per_cm(beta, 3e-3, 1.5, gas, "icru49", nuclear=True)
    assert np.all(total > electronic)
    np.testing.assert_allclose(tables["gas_beta"]("dedx_ion", beta), electronic, rtol=1e-3)
    np.testing.assert_allclose(tables["gas_beta"]("dedx", beta), total, rtol=1e-3)


@pytest.mark.parametrize("name", ["sct_3gev_realistic", "stcf_dc_3gev"])
def test_validation_rows_of_the_cm_motion(name):
    """mcpgen validate's beam rows: mean beta_x = sin(theta_c/2) exactly (massless beams), and the
    weighted sigma(beta_z) against the first-order formula of docs/physics.md §10 within 3 sigma."""
    from mcpgen.validate import beam_rows

    rows = {r.quantity: r for r in beam_rows(load_card(name), 100_000, 7)}
    assert rows["mean CM beta_x"].mc == pytest.approx(math.sin(0.030), rel=1e-12)
    assert abs(rows["sigma(beta_z) of the CM"].pull) < 3.0
