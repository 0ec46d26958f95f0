"""Every modelled monophoton background in the limits: the beam-escape survivors of the bBG cut
with and without the resolution margin, the computed Belle II gap background beside the physics
book's numbers (L), and limits over all backgrounds never stronger than with nu nubar gamma alone."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CARDS

from analysis.scan import monophoton_limits
from mcpgen import load_card, run
from mcpgen.scan import background_by_process, monophoton_scan
from mcpgen.validate import run_validate

BEAM_ESCAPE = "processes=[{name: ggg}, {name: eeg}, {name: nunu_gamma}]"
#: L (Belle II section, from the Belle II physics book): gBG events per 20 fb^-1.
BOOK_GBG_PER_20_FB = {"low_mass": 300.0, "high_mass": 25_000.0}


def _events(summary, process, chain):
    ds = next(d for d in summary["datasets"] if d["process"] == process)
    return ds["cutflow"][chain][-1]["events"]


@pytest.mark.parametrize("card_name", ["belle2.yaml", "stcf_4gev.yaml"])
def test_beam_escape_survivors_before_and_after_the_margin(tmp_path, card_name):
    """L's exact bBG cut lets the energy response carry ~1e-3 of the detected beam-escape photons
    across (they pile up at E = E_m); with the margin E > E_m (1 + sigma_E/E) and the capped region
    dropped none of 150 000 trials per process survives, while nu nubar gamma keeps >= 85 %."""
    card = load_card(CARDS / card_name, [BEAM_ESCAPE])
    before = run(
        load_card(CARDS / card_name, [BEAM_ESCAPE, "analysis.bbg_margin_sigma=0"]), 150_000, tmp_path / "a", seed=21
    )
    after = run(card, 150_000, tmp_path / "b", seed=21)
    for process in ("ggg", "eeg", "nunu_gamma"):
        b, a = _events(before, process, "bbg"), _events(after, process, "bbg")
        print(f"{card_name} {process}: after the bBG cut {b:.3g} events, with the margin {a:.3g}")
    nunu_b, nunu_a = _events(before, "nunu_gamma", "bbg"), _events(after, "nunu_gamma", "bbg")
    if card_name == "belle2.yaml":  # at STCF the artefact is rarer (a few survivors per 1e6 trials)
        assert _events(before, "ggg", "bbg") + _events(before, "eeg", "bbg") > 10 * nunu_b
    assert _events(after, "ggg", "bbg") == 0 and _events(after, "eeg", "bbg") == 0
    assert 0.85 * nunu_b < nunu_a <= nunu_b


def _gap_two_body_pb(beta=3.0 / 11.0):
    """Tree-level sigma [pb] of e+e- -> gamma gamma with one photon in a Belle II barrel-endcap gap
    (lab 31.4-32.2 and 128.7-130.7 deg), the other in the ECL: dsigma/dOmega = alpha^2/s (1 + c^2)/
    (1 - c^2) (massless, per photon), integral 2 pi [2 artanh(c) - c] over the CM gap rings."""
    alpha, pb, s = 1.0 / 137.035999, 3.893794e8, 4.0 * 7.0 * 4.0
    gamma = 1.0 / np.sqrt(1.0 - beta * beta)
    total = 0.0
    for lo, hi in ((31.4, 32.2), (128.7, 130.7)):
        t = np.radians([lo, hi])
        c = np.cos(np.arctan2(np.sin(t), gamma * (np.cos(t) - beta)))  # L footnote 1
        f = 2.0 * np.arctanh(c) - c
        total += 2.0 * np.pi * (f[0] - f[1])
    return alpha**2 / s * total * pb


def _events_err(summary, process, chain):
    ds = next(d for d in summary["datasets"] if d["process"] == process)
    row = ds["cutflow"][chain][-1]
    return row["events"], row["events"] * row["sigma_err_fb"] / row["sigma_fb"] if row["sigma_fb"] > 0 else 0.0


def test_belle2_gap_background_computed_beside_the_book(tmp_path):
    """The computed gap background (analysis.gbg: computed: ggg with the gaps and the tree-level
    gamma gamma part, KLM gap veto of the card) through the low-/high-mass regions per 20 fb^-1,
    printed beside the book's 300 and 25 000 that L rescales (docs/physics.md §8).

    Asserted: high-mass within a factor 3 of the book (a toy against a full simulation, L Fig. 2
    regions read by eye); low-mass, whose computed yield is ~90x the book's with the card's KLM
    efficiency 0.99, against its own physics: the gamma gamma events with one photon in a gap
    (independent quadrature x 95 % efficiency x (1 - KLM efficiency)) plus a 3 gamma part below
    15 % of them, within the MC error."""
    card = load_card(CARDS / "belle2.yaml", ["processes=[{name: ggg}, {name: eeg}]", "analysis.gbg=computed"])
    summary = run(card, 150_000, tmp_path, seed=22)
    scale = 20e3 / card.datasets[0].luminosity_pb  # 20 fb^-1 over the card's 50 ab^-1
    klm = card.calorimeter.gap_veto_efficiency
    for chain, book in BOOK_GBG_PER_20_FB.items():
        ggg, eeg = (_events(summary, p, chain) * scale for p in ("ggg", "eeg"))
        print(
            f"Belle II gBG {chain} per 20 fb^-1 (KLM gap veto {klm:g}): computed ggg {ggg:.4g} + eeg {eeg:.4g}",
            f"= {ggg + eeg:.4g}; book {book:g}; ratio {(ggg + eeg) / book:.3g}",
        )
    high = sum(_events(summary, p, "high_mass") for p in ("ggg", "eeg")) * scale
    assert BOOK_GBG_PER_20_FB["high_mass"] / 3 < high < 3 * BOOK_GBG_PER_20_FB["high_mass"]
    low, err = (x * scale for x in _events_err(summary, "ggg", "low_mass"))
    two_body = _gap_two_body_pb() * 1e3 * 20.0 * card.calorimeter.efficiency * (1.0 - klm)
    print(f"low-mass: computed {low:.4g} +- {err:.2g}; gamma gamma into a gap (quadrature) {two_body:.4g}")
    assert two_body - 3 * err < low < 1.15 * two_body + 3 * err
    assert _events(summary, "eeg", "low_mass") == 0


def test_gbg_switch_rescaled_or_computed():
    """rescaled: the book's number replaces the generated ggg/eeg in a chain with gbg_events;
    computed: the generated yields stand; chains without a book number always keep them."""
    yields = [{"bbg": 1.0, "low_mass": 2.0}, {"bbg": 3.0, "low_mass": 5.0}, {"bbg": 7.0, "low_mass": 11.0}]

    class _D:
        def __init__(self, name):
            self.process_name, self.point = name, "y4s"

    datasets = [_D("nunu_gamma"), _D("ggg"), _D("eeg")]
    for mode, low in (("rescaled", {"nunu_gamma", "gbg_rescaled"}), ("computed", {"nunu_gamma", "ggg", "eeg"})):
        card = load_card(CARDS / "belle2.yaml", [f"analysis.gbg={mode}"])
        out = background_by_process(card, datasets, yields, lambda c, p: True)
        assert set(out["low_mass"]) == low
        assert set(out["bbg"]) == {"nunu_gamma", "ggg", "eeg"}
        if mode == "rescaled":
            assert out["low_mass"]["gbg_rescaled"]["y4s"] == card.gbg_events["low_mass"]


@pytest.mark.parametrize(
    ("card_name", "overrides"),
    [("babar.yaml", []), ("belle2.yaml", []), ("belle2.yaml", ["analysis.gbg=computed"])],
)
def test_limits_with_all_backgrounds_never_stronger_than_nunu_alone(card_name, overrides):
    card = load_card(CARDS / card_name, overrides)
    res = monophoton_scan(card, [0.1, 1.0], n_signal=4_000, n_background=40_000, seed=23)
    for chain, procs in res.background_processes.items():
        print(card_name, chain, {p: {k: f"{v:.3g}" for k, v in pp.items()} for p, pp in procs.items()})
    nunu = {c: dict(procs["nunu_gamma"]) for c, procs in res.background_processes.items()}
    alone, _ = monophoton_limits(res.signal_points, nunu)
    for method, chains in res.limits.items():
        for chain, lim in chains.items():
            ok = np.isfinite(alone[method][chain])
            assert np.all(np.asarray(lim)[ok] >= np.asarray(alone[method][chain])[ok] * (1 - 1e-9)), (method, chain)
    assert "background_events_by_process" in res.payload()
    assert "nunu_gamma" in res.background_table()


@pytest.mark.parametrize("card_name", ["babar", "belle2"])
def test_validate_monophoton_cards_without_traceback(tmp_path, card_name):
    """BaBar selects with CM windows and has no bBG chain: its validation skips the bBG rows."""
    card = load_card(CARDS / f"{card_name}.yaml")
    result = run_validate(card, tmp_path, 2_000, seed=3)
    assert (tmp_path / "validation.json").exists()
    assert any("bBG" in r.quantity for r in result.rows) == (card_name == "belle2")
