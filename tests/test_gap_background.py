"""The Belle II gap background (docs/physics.md §8): e+e- -> 3 gamma with escaping photons through
the barrel-endcap gaps, the gap channels of the multichannel sampler, and the gap veto behind the
gaps (KLM) as an event weight.

References: a flat RAMBO MC of the massless Berends-Kleiss formula (tests/test_bbg_processes.py,
written independently of the generator's recoil-frame channels) for the part of the region with an
escaping photon in a gap; the same generator with the gap channels switched off (a different
proposal density, the same integrand). Tolerances: 3 sigma of the combined MC errors, fixed seeds.
"""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
from test_bbg_processes import PB, _beams, _me3_ref, _rambo3

import generator.bbg_processes as bbg_processes
from analysis.selections import outside_gap_images
from detsim import ecl
from generator.bbg_processes import ThreePhoton, cm_edges_from_lab

BETA = 3.0 / 11.0
RS = 2.0 * math.sqrt(7.0 * 4.0)  # Belle II: 7 GeV e- on 4 GeV e+
#: Lab edges of the Belle II ECL (L, Belle II section): outer edges and the two gaps [deg].
LAB_DEG = (12.4, 31.4, 32.2, 128.7, 130.7, 155.1)
TH = cm_edges_from_lab(np.radians(LAB_DEG), BETA)
GAPS = ((TH[1], TH[2]), (TH[3], TH[4]))


def _u(seed, n):
    return np.random.default_rng(seed).random((5, n))


def _mc(w):
    w = np.asarray(w, dtype=float)
    return w.mean(), w.std() / np.sqrt(w.size)


def _in_gap(theta):
    return np.any([(theta > lo) & (theta < hi) for lo, hi in GAPS], axis=0)


def _gap_part(events):
    """Weights of the generated events with at least one escaping photon in a gap (CM = lab here)."""
    w = ak.to_numpy(events.weight)
    gap = _in_gap(np.asarray(events.gamma2.theta)) | _in_gap(np.asarray(events.gamma3.theta))
    return w * gap


def test_gap_edges_cm():
    """Lab -> CM of the gap edges (L footnote 1, massless): 31.4-32.2 deg -> 40.79-41.80 deg and
    128.7-130.7 deg -> 140.10-141.74 deg (computed by hand from tan th* = sin th/(gamma(cos th - beta)))."""
    np.testing.assert_allclose(np.degrees(np.ravel(GAPS)), [40.79, 41.80, 140.10, 141.74], atol=0.01)


def test_gap_channels_leave_the_cross_section_unchanged(monkeypatch):
    """The gap channels change the proposal density only: sigma of the whole region and of its gap
    part agree with and without them (here E_gamma > 1 GeV, escaping photons > 0.5 GeV)."""
    out = {}
    for fraction, seed in ((bbg_processes.GAP_CHANNEL_FRACTION, 51), (0.0, 52)):
        monkeypatch.setattr(bbg_processes, "GAP_CHANNEL_FRACTION", fraction)
        gen = ThreePhoton(1.0, TH[0], TH[5], gaps_cm=GAPS, e_escape_min_gev=0.5)
        ev = gen.generate(_u(seed, 200_000), RS)
        out[fraction] = (_mc(ev.weight), _mc(_gap_part(ev)))
    (a_all, a_gap), (b_all, b_gap) = out.values()
    for (ma, ea), (mb, eb), what in ((a_all, b_all, "region"), (a_gap, b_gap, "gap part")):
        pull = (ma - mb) / math.hypot(ea, eb)
        print(f"3 gamma {what}: with gap channels {ma:.4g} +- {ea:.2g} pb, without {mb:.4g} +- {eb:.2g} pb")
        assert abs(pull) < 3


def test_no_gaps_is_the_former_region():
    """Without gaps the generator is what it was: the gap part is empty and the same uniforms give
    identical weights whether ``gaps_cm`` is omitted or empty."""
    u = _u(43, 20_000)
    a = ThreePhoton(1.0, TH[0], TH[5]).generate(u, RS)
    b = ThreePhoton(1.0, TH[0], TH[5], gaps_cm=()).generate(u, RS)
    np.testing.assert_array_equal(ak.to_numpy(a.weight), ak.to_numpy(b.weight))
    assert not np.any(_gap_part(a))


def test_gap_part_vs_rambo():
    """sigma(3 gamma, tagged photon in the ECL window with E > 1 GeV, both others escaping with
    E > 0.5 GeV and at least one of them in a gap, escaping photons >= 50 mrad from the beams): the
    generator vs a flat RAMBO MC of the massless Berends-Kleiss formula (CM frame, head-on)."""
    tmin = 0.05
    gen = ThreePhoton(1.0, TH[0], TH[5], gaps_cm=GAPS, e_escape_min_gev=0.5, min_beam_angle=tmin)
    mean, err = _mc(_gap_part(gen.generate(_u(44, 150_000), RS)))
    rng = np.random.default_rng(45)
    vals = []
    for _ in range(2):
        p, wt = _rambo3(RS, rng, 1_000_000)
        th = np.arccos(p[:, 3] / np.sqrt(np.sum(p[:, 1:] ** 2, axis=1)))
        e = p[:, 0]
        tagged = (e > 1.0) & (th >= TH[0]) & (th <= TH[5])
        cone = ((th < TH[0]) | (th > TH[5])) & (th >= tmin) & (th <= np.pi - tmin)
        gap = _in_gap(th)
        esc = (cone | gap) & (e > 0.5)
        hit = np.zeros(p.shape[2], dtype=bool)
        for i, j, k in ((0, 1, 2), (1, 0, 2), (2, 0, 1)):
            hit |= tagged[i] & esc[j] & esc[k] & (gap[j] | gap[k])
        pp, pm = _beams(RS, p.shape[2])
        me = np.where(hit, _me3_ref(pp, pm, p), 0.0)
        vals.append(wt * me / (2 * RS**2) / 6.0 * PB)
    ref, rerr = _mc(np.concatenate(vals))
    pull = (mean - ref) / math.hypot(err, rerr)
    print(f"3 gamma gap part: generator {mean:.4g} +- {err:.2g} pb, RAMBO {ref:.4g} +- {rerr:.2g} pb, pull {pull:+.2f}")
    assert abs(pull) < 3


def test_two_body_part_vs_quadrature():
    """Tree-level e+e- -> gamma gamma trials (``two_body=True``): tagged photon in the ECL window,
    partner in a gap or an escape cone. Reference: dsigma/dOmega = alpha^2/s (1 + c^2)/(1 - c^2)
    (massless, per photon; PDG cross-section formulae) integrated in closed form,
    2 pi [2 artanh(c) - c], over the tagged angles whose back-to-back partner escapes."""
    gen = ThreePhoton(1.0, TH[0], TH[5], gaps_cm=GAPS, two_body=True)
    ev = gen.generate(_u(46, 200_000), RS)
    two = ak.to_numpy(ev.gamma3.E) == 0.0
    mean, err = _mc(ak.to_numpy(ev.weight) * two)
    alpha = 1.0 / 137.035999
    intervals = [(np.pi - hi, np.pi - lo) for lo, hi in GAPS] + [(TH[0], np.pi - TH[5])]  # tagged angles

    def f(c):
        return 2.0 * np.arctanh(c) - c

    ref = alpha**2 / RS**2 * PB * sum(2.0 * np.pi * (f(np.cos(lo)) - f(np.cos(hi))) for lo, hi in intervals)
    pull = (mean - ref) / err
    print(f"gamma gamma, partner lost: generator {mean:.4g} +- {err:.2g} pb, quadrature {ref:.4g} pb, pull {pull:+.2f}")
    assert abs(pull) < 3
    k, q = ev.gamma1[two], ev.gamma2[two]
    np.testing.assert_allclose(ak.to_numpy(k.px + q.px), 0.0, atol=1e-9)
    np.testing.assert_allclose(ak.to_numpy(k.E + q.E), RS, rtol=1e-12)


def test_gap_image_cut_removes_gamma_gamma_into_a_gap():
    """Every tree-level gamma gamma event with the partner in a gap fails the gap-image cut (margin
    0, the event's own boost); of isotropic photons it removes the CM solid-angle fraction of the
    two gap images, sum (cos lo - cos hi)/2 over the CM gaps (2.49 %)."""
    lab = np.radians([[31.4, 32.2], [128.7, 130.7]])
    gen = ThreePhoton(1.0, TH[0], TH[5], gaps_cm=GAPS, two_body=True)
    ev = gen.generate(_u(47, 50_000), RS, BETA)
    theta_cm = np.arccos(ak.to_numpy(ev.cos_theta_gamma_cm))
    two_body = (ak.to_numpy(ev.gamma3.E) == 0.0) & (ak.to_numpy(ev.weight) > 0)
    partner_gap = two_body & (theta_cm > np.pi - TH[5])  # not the partner in the backward cone
    assert partner_gap.sum() > 50
    assert not np.any(outside_gap_images(theta_cm, BETA, lab)[partner_gap])
    c = np.random.default_rng(48).uniform(-1.0, 1.0, 400_000)
    removed = 1.0 - outside_gap_images(np.arccos(c), BETA, lab).mean()
    expected = sum(np.cos(lo) - np.cos(hi) for lo, hi in GAPS) / 2.0
    assert removed == pytest.approx(expected, abs=3 * np.sqrt(expected / c.size))
    wider = 1.0 - outside_gap_images(np.arccos(c), BETA, lab, np.radians(1.0)).mean()
    assert wider > removed


def test_gap_options_checked():
    with pytest.raises(ValueError):
        ThreePhoton(1.0, TH[0], TH[5], gaps_cm=((0.1, 0.2),))  # inside the escape cone
    with pytest.raises(ValueError):
        bbg_processes.EEGamma(1.0, TH[0], TH[5], gaps_cm=GAPS)  # leptons in a gap leave tracks


def test_calorimeter_gaps_and_gap_veto_weight():
    """Belle II: two gaps at the lab edges of L; the gap veto weight is (1 - eff)^n over neutrals
    above veto_e_min_gev in a gap, charged particles and soft photons do not count, eff 0 -> 1."""
    cal = ecl.belle2(gap_veto_efficiency=0.9)
    np.testing.assert_allclose(np.degrees([(g.theta_lo, g.theta_hi) for g in cal.gaps]), [[31.4, 32.2], [128.7, 130.7]])
    assert ecl.bes3().gaps and not ecl.babar().gaps
    gap_f, gap_b, barrel, beam = np.radians([31.8, 129.5, 90.0, 5.0])
    theta = ak.Array([[gap_f, beam], [gap_f, gap_b], [barrel, beam], [gap_f, beam], [gap_b, gap_f]])
    energy = ak.Array([[2.0, 3.0], [2.0, 1.0], [2.0, 3.0], [0.05, 3.0], [2.0, 2.0]])
    charged = ak.Array([[False, False]] * 4 + [[True, False]])
    np.testing.assert_allclose(cal.gap_veto_weight(theta, energy, charged), [0.1, 0.01, 1.0, 1.0, 0.1])
    np.testing.assert_array_equal(ecl.belle2().gap_veto_weight(theta, energy, charged), np.ones(5))
    with pytest.raises(ValueError):
        ecl.belle2(gap_veto_efficiency=1.5)
