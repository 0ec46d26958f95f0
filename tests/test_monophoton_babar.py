"""BaBar single-photon backgrounds: e+e- -> gamma gamma against QED, the lost-photon weight, the
m^2 = 0 peak of the High-E data set; L's optimised window against a brute-force search."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import CARDS

from analysis.scan import optimised_window, window_edges
from generator.two_photon import TwoPhoton
from mcpgen import load_card
from mcpgen.monophoton_run import M2_EDGES_GEV2, run_monophoton

ALPHA = 1 / 137.035999084  # CODATA 2018
GEV2_TO_PB = 0.3893794e9  # PDG: (hbar c)^2 = 0.3893794 GeV^2 mb


def qed_dsigma_dcos_pb(c, s):
    """Massless QED, per photon: dsigma/dcos = (2 pi alpha^2/s)(1 + c^2)/(1 - c^2) (Peskin &
    Schroeder eq. 5.105, before the factor 1/2 for identical photons)."""
    return 2 * math.pi * ALPHA**2 / s * (1 + c * c) / (1 - c * c) * GEV2_TO_PB


def test_two_photon_cross_section_and_angle_against_qed():
    rs, cmax, n = 10.355, 0.7, 200_000
    u = np.random.default_rng(11).random((3, n))
    ev = TwoPhoton(2.0, cmax).generate(u, rs, 0.4676)
    w = np.asarray(ev.weight)
    sigma, err = w.mean(), w.std() / math.sqrt(n)
    # independent integral of the analytic distribution (trapezoid on a fine grid)
    grid = np.linspace(-cmax, cmax, 200_001)
    reference = np.trapezoid(qed_dsigma_dcos_pb(grid, rs * rs), grid)
    assert abs(sigma - reference) < 4 * err + 1e-5 * reference, (sigma, err, reference)
    # angular shape: per bin of cos theta*, the MC sum against the analytic integral
    edges = np.linspace(-cmax, cmax, 15)
    c = np.asarray(ev.cos_theta_gamma_cm)
    h = np.histogram(c, edges, weights=w)[0] / n
    e = np.sqrt(np.histogram(c, edges, weights=w * w)[0]) / n
    ref = np.array(
        [np.trapezoid(qed_dsigma_dcos_pb(g, rs * rs), g) for g in np.linspace(edges[:-1], edges[1:], 2001).T]
    )
    assert np.all(np.abs(h - ref) < 4 * e), (h, ref)
    # the pair is back to back in the CM: E* = sqrt(s)/2 for both photons, balanced momenta in the lab
    assert np.allclose(ev.e_gamma_cm, rs / 2)
    p1, p2 = ev.gamma1, ev.gamma2
    assert np.allclose(np.asarray(p1.px + p2.px), 0, atol=1e-9)
    assert np.allclose(np.asarray(p1.E + p2.E), rs / math.sqrt(1 - 0.4676**2), rtol=1e-9)


def test_babar_two_photon_peak_and_loss_weight(tmp_path):
    """The High-E spectrum of gamma gamma peaks at m^2 = 0 and its yield scales with the declared
    loss probability (the partner is inside the EMC acceptance for every High-E tag)."""
    over = ["processes=[{name: gg, photon_loss: 1.0e-4}]"]
    a = run_monophoton(load_card(CARDS / "babar.yaml", over), 20_000, tmp_path / "a", progress=False)
    over[0] = "processes=[{name: gg, photon_loss: 1.0e-3}]"
    b = run_monophoton(load_card(CARDS / "babar.yaml", over), 20_000, tmp_path / "b", progress=False)
    ya = a.to_dict()["datasets"][0]["cutflow"]["high_e"][-1]["events"]
    yb = b.to_dict()["datasets"][0]["cutflow"]["high_e"][-1]["events"]
    assert yb == pytest.approx(10 * ya, rel=1e-9)
    # expected High-E yield: sigma_tag in the window x L x loss x fiducial fraction, bounded by the window alone
    grid = np.linspace(-0.31, 0.6, 100_001)
    in_window = np.trapezoid(qed_dsigma_dcos_pb(grid, 10.355**2), grid) * 28e3 * 1e-4
    assert 0.5 * in_window < ya < in_window, (ya, in_window)
    h = np.asarray(a.m2_spectra["high_e"]["gg"])
    centre = 0.5 * (M2_EDGES_GEV2[1:] + M2_EDGES_GEV2[:-1])
    assert abs(centre[np.argmax(h)]) < 2.0  # the peak at m^2_chichi = 0 (resolution ~ 1 GeV^2)


def _brute_force(edges, sig, bkg, e_max, sigma_e, floor, d=2.71):
    centre = 0.5 * (edges[1:] + edges[:-1])
    best = (np.inf, None)
    hi = e_max - sigma_e if e_max > floor + sigma_e else e_max
    for lo in edges[:-1]:
        if lo < floor or lo > hi:
            continue
        inside = (edges[:-1] >= lo) & (centre < e_max)
        s, b = sig[inside].sum(), bkg[inside].sum()
        if s <= 0:
            continue
        need = (d + math.sqrt(d * d + 4 * d * b)) / 2
        if need / s < best[0]:
            best = (need / s, lo)
    return best[1]


@pytest.mark.parametrize(("e_max", "sigma_e"), [(1.95, 0.038), (1.0, 0.038), (0.97, 0.038), (0.9, 0.038)])
def test_optimised_window_against_brute_force(e_max, sigma_e):
    edges = window_edges(4.0, 0.004)
    centre = 0.5 * (edges[1:] + edges[:-1])
    sig = 1e3 * np.exp(-0.5 * ((centre - e_max) / sigma_e) ** 2)  # a smeared edge at E_max
    bkg = 50.0 * np.exp(-centre)
    floor = 0.95
    got = optimised_window(edges, sig, bkg, e_max, sigma_e, floor)
    expect = _brute_force(edges, sig, bkg, e_max, sigma_e, floor)
    if expect is None:
        assert got is None
        return
    assert got["e_min_gev"] == pytest.approx(expect)
    if e_max > floor + sigma_e:  # L: Delta E >= sigma_E
        assert got["e_max_gev"] - got["e_min_gev"] >= sigma_e - 1e-12
