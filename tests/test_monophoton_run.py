"""Monophoton runs end to end: cards -> datasets -> ECL -> selections -> cut flows, against
the formula sheet's numbers (docs/physics.md §5) and L's Belle II yields."""

from __future__ import annotations

import math

import numpy as np
import pytest
import uproot
from conftest import CARDS

from analysis.selections import bbg_asymmetric, bbg_symmetric
from generator.monophoton import sigma_nunu_pb
from mcpgen import load_card, run
from mcpgen.errors import CardError

NUNU_ONLY = "processes=[{name: nunu_gamma}]"


def _last(rows, cut):
    return next(r for r in rows if r["cut"] == cut)


def test_stcf_4gev_nunu_gamma_matches_formula_sheet(tmp_path):
    """docs/physics.md §5 at 4 GeV: 37.7 fb total, 1.38 fb after pre-selection, 0.030 fb after the bBG cut."""
    card = load_card(CARDS / "stcf_4gev.yaml", [NUNU_ONLY])
    summary = run(card, 400_000, tmp_path, seed=3, progress=False)
    (ds,) = summary["datasets"]
    assert ds["sigma_nunu_total_fb"] == pytest.approx(37.7, rel=0.005)
    # independent: G_F^2 s Sigma / 12 pi with Sigma = 1.679 (docs/physics.md §5)
    gf, sigma_sum = 1.1663787e-5, 1.679
    assert ds["sigma_nunu_total_fb"] == pytest.approx(
        gf**2 * 16 * sigma_sum / (12 * math.pi) * 3.893794e8 * 1e3, rel=0.01
    )
    rows = ds["cutflow"]["bbg"]
    pre, bbg = _last(rows, "preselection"), _last(rows, "bbg_cut")
    print(f"pre-selection {pre['sigma_fb']:.4f} +- {pre['sigma_err_fb']:.4f} fb;", end=" ")
    print(f"+ bBG {bbg['sigma_fb']:.5f} +- {bbg['sigma_err_fb']:.5f} fb")
    assert abs(pre["sigma_fb"] - 1.38) < 0.03 * 1.38 + 2 * pre["sigma_err_fb"]
    assert abs(bbg["sigma_fb"] - 0.030) < 0.03 * 0.030 + 2 * bbg["sigma_err_fb"]
    sigmas = [r["sigma_fb"] for r in rows]
    assert all(a >= b for a, b in zip(sigmas, sigmas[1:], strict=False))  # cumulative cut flow


def test_belle2_irreducible_yields(tmp_path):
    """L: 10900 nu nubar gamma events after the asymmetric bBG cut (50 ab^-1, 95 %), within 10 %;
    the calibrated low-/high-mass regions give L's 2280 / 15230 within 5 %."""
    card = load_card(CARDS / "belle2.yaml", [NUNU_ONLY])
    summary = run(card, 300_000, tmp_path, seed=4, progress=False)
    (ds,) = summary["datasets"]
    flows = ds["cutflow"]
    bbg = flows["bbg"][-1]["events"]
    low, high = flows["low_mass"][-1]["events"], flows["high_mass"][-1]["events"]
    print(f"Belle II nu nubar gamma, 50 ab^-1: bBG {bbg:.0f}, low-mass {low:.0f}, high-mass {high:.0f}")
    assert bbg == pytest.approx(10900, rel=0.10)
    assert low == pytest.approx(2280, rel=0.05)
    assert high == pytest.approx(15230, rel=0.05)


@pytest.mark.parametrize("card_name", ["stcf_4gev.yaml", "belle2.yaml"])
def test_beam_escape_events_fail_the_bbg_cut(tmp_path, card_name):
    """Generated ggg and eeg events: the weighted fraction passing the bBG cut is reported, is
    small (resolution only), and no event passes with its true photon energy and angle."""
    card = load_card(CARDS / card_name, ["processes=[{name: ggg}, {name: eeg}]"])
    summary = run(card, 60_000, tmp_path, seed=5, progress=False)
    with uproot.open(tmp_path / "events.root") as f:
        for ds in summary["datasets"]:
            frac = ds["bbg_survivor_fraction"]["fraction"]
            print(f"{card_name} {ds['dataset']}: bBG survivors {frac:.2e} of detected")
            assert frac < 5e-3
            assert (tmp_path / "plots" / f"bbg_{ds['dataset']}.png").stat().st_size > 10_000
            a = f[ds["dataset"]].arrays(library="np")
            passed = a["pass_bbg_bbg_cut"]
            e_true = a["gamma_E_cm_true"][passed]
            th_true = np.arccos(a["gamma_cos_theta_cm_true"][passed])
            rs, bz = a["sqrt_s"][passed], a["beta_z"][passed]
            if card.experiment == "belle2":
                cal = card.calorimeter
                true_pass = bbg_asymmetric(e_true, th_true, rs, cal.theta_min, cal.theta_max, bz)
            else:
                true_pass = bbg_symmetric(e_true, th_true, rs, 0.95)
            assert not np.any(true_pass)


def test_every_experiment_card_runs(tmp_path):
    for name in ("bes3", "stcf_2gev", "stcf_7gev", "babar"):
        card = load_card(CARDS / f"{name}.yaml")
        summary = run(card, 5_000, tmp_path / name, seed=1, progress=False)
        assert (
            len(summary["datasets"])
            == len(card.datasets)
            == len(card.data["beams"]["points"]) * len(card.data["processes"])
        )
        with uproot.open(tmp_path / name / "events.root") as f:
            for ds in summary["datasets"]:
                assert f[ds["dataset"]].num_entries == 5_000


def test_nunu_formula_function_independent():
    """sigma_nunu_pb reproduces docs/physics.md §5 at 10.58 GeV (264 fb)."""
    assert 1e3 * sigma_nunu_pb(10.58**2) == pytest.approx(264, rel=0.01)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("experiment=lep", "experiment"),
        ("processes=[{name: zz}]", "processes.0.name"),
        ("beams.points=[{label: a, sqrt_s: 4 GeV}]", "luminosity"),
        ("beams.points=[{label: a b, sqrt_s: 4 GeV, luminosity: 1 fb^-1}]", "label"),
        ("process={name: chi_pair}", "'processes'"),
    ],
)
def test_bad_monophoton_cards(override, fragment):
    with pytest.raises(CardError) as info:
        load_card(CARDS / "stcf_4gev.yaml", [override])
    assert fragment in str(info.value)


def test_optimised_cut_respects_l_conditions(tmp_path):
    """L "optimized cut": E_min >= the bBG-curve minimum, Delta E >= sigma_E, and S and B inside the
    window do not exceed those after the bBG cut alone (the window is applied on top of it)."""
    card = load_card(CARDS / "stcf_4gev.yaml", ["processes=[{name: chi_pair_gamma}, {name: nunu_gamma}]"])
    summary = run(card, 100_000, tmp_path, seed=6, progress=False)
    opt = summary["optimised_cut"]["stcf4"]
    assert opt["e_min_gev"] >= opt["bbg_floor_gev"] - 1e-12
    assert opt["e_max_gev"] - opt["e_min_gev"] >= opt["sigma_e_gev"] - 1e-12
    flows = {d["process"]: d["cutflow"]["bbg"][-1]["events"] for d in summary["datasets"]}
    s, b = flows["chi_pair_gamma"], flows["nunu_gamma"]
    assert 0 < opt["signal_events"] <= s + 1e-9 and opt["background_events"] <= b + 1e-9
    assert opt["s_over_sqrt_s_plus_b"] == pytest.approx(
        opt["signal_events"] / math.sqrt(opt["signal_events"] + opt["background_events"])
    )
