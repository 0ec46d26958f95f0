"""Full final states (generator.final_state): beams, ids, mothers, conservation, ν flavours."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import vector

from generator import Beams, ChiChiGamma, ChiPair, EEGamma, NuNuGamma, ThreePhoton
from generator.constants import M_E_GEV, SIN2_THETA_W
from generator.final_state import (
    DEFAULT_CHI_PDG,
    PDG_NEUTRINOS,
    STATUS_BEAM,
    STATUS_FINAL,
    final_state,
    final_state_uniforms,
    neutrino_flavour_weights,
    reconstruct_beams,
)
from generator.monophoton import nunu_sigma_factor

N = 4000
BELLE2_BETA = 3.0 / 11.0  # 7 GeV e- on 4 GeV e+


def _conservation(fs):
    """Max relative |sum(beams) - sum(outgoing)| per event, relative to the total energy."""
    mom = fs.momentum()
    incoming = (mom * (fs.status == STATUS_BEAM)).sum(axis=2)
    outgoing = (mom * ((fs.status == STATUS_FINAL) & fs.present)).sum(axis=2)
    return np.max(np.abs(incoming - outgoing) / incoming[0])


def _chi_pair(isr="kuraev_fadin", seed=1, spin="dirac"):
    beams = Beams(1.5, 1.5, "gaussian_per_beam", sigma_electron_gev=1.5e-3, sigma_positron_gev=1.5e-3)
    process = ChiPair(beams, 1.4, 3e-3, spin=spin, isr=isr)
    return process, process.generate(np.random.default_rng(seed).random((6, N)))


def _monophoton(process, seed=2):
    rng = np.random.default_rng(seed)
    sqrt_s = 10.58 + 5e-3 * rng.standard_normal(N)
    events = process.generate(rng.random((process.n_uniforms, N)), sqrt_s, BELLE2_BETA)
    return events[np.asarray(events["weight"]) > 0]


MONOPHOTON = {
    "chi_pair_gamma": (ChiChiGamma(0.2, 1e-3, e_gamma_min_gev=0.1, cos_theta_max=0.95), (22, 52, -52)),
    "nunu_gamma": (NuNuGamma(e_gamma_min_gev=0.1, cos_theta_max=0.95), (22, None, None)),
    "ggg": (ThreePhoton(0.5, 0.3, np.pi - 0.3), (22, 22, 22)),
    "eeg": (EEGamma(0.5, 0.3, np.pi - 0.3), (22, -11, 11)),
}


def test_standard_model_ids_from_the_pdg_tables():
    from generator.final_state import PDG_ELECTRON, PDG_PHOTON

    # PDG Monte Carlo numbering scheme: e- 11, gamma 22, nu_e/mu/tau 12/14/16
    assert (PDG_ELECTRON, PDG_PHOTON, PDG_NEUTRINOS) == (11, 22, (12, 14, 16))
    assert DEFAULT_CHI_PDG == {"dirac": 52, "scalar": 51}
    # the written numbers against the PDG tables of the ``particle`` package, looked up by name
    from particle import Particle

    assert PDG_ELECTRON == int(Particle.from_name("e-").pdgid)
    assert -PDG_ELECTRON == int(Particle.from_name("e+").pdgid)
    assert PDG_PHOTON == int(Particle.from_name("gamma").pdgid)
    assert PDG_NEUTRINOS == tuple(int(Particle.from_name(n).pdgid) for n in ("nu(e)", "nu(mu)", "nu(tau)"))


def test_chi_pair_layout_and_conservation():
    process, events = _chi_pair()
    fs = final_state(events, process)
    assert len(fs) == N and fs.n_slots == 5
    assert (fs.pdg[:, :4] == [11, -11, 52, -52]).all() and (fs.pdg[:, 4] == 22).all()
    assert (fs.status[:, :2] == STATUS_BEAM).all() and (fs.status[:, 2:] == STATUS_FINAL).all()
    assert (fs.mother1[:, 2:4] == 1).all() and (fs.mother2[:, 2:4] == 2).all()
    assert (fs.mother1[:, :2] == 0).all() and (fs.mother2[:, :2] == 0).all()
    assert _conservation(fs) < 1e-12
    np.testing.assert_array_equal(fs.weight, np.asarray(events["weight"]))
    # masses: model values, consistent with the four-vectors
    assert (fs.mass[:, :2] == M_E_GEV).all() and (fs.mass[:, 2:4] == 1.4).all() and (fs.mass[:, 4] == 0).all()
    chi = vector.array({"px": fs.px[:, 2], "py": fs.py[:, 2], "pz": fs.pz[:, 2], "E": fs.e[:, 2]})
    np.testing.assert_allclose(chi.mass, 1.4, rtol=1e-9)
    # the beams: invariant mass sqrt(s) and CM velocity of the event (head-on: along z only)
    beams = vector.array(
        {"px": fs.px[:, :2].sum(1), "py": fs.py[:, :2].sum(1), "pz": fs.pz[:, :2].sum(1), "E": fs.e[:, :2].sum(1)}
    )
    np.testing.assert_allclose(beams.mass, np.asarray(events["sqrt_s"]), rtol=1e-12)
    np.testing.assert_allclose(beams.pz / beams.E, np.asarray(events["beta_z"]), atol=1e-12)
    assert np.abs(fs.px[:, :2]).max() == 0.0 and np.abs(fs.py[:, :2]).max() == 0.0
    e_beam = vector.array({"px": fs.px[:, 0], "py": fs.py[:, 0], "pz": fs.pz[:, 0], "E": fs.e[:, 0]})
    np.testing.assert_allclose(e_beam.mass, M_E_GEV, rtol=1e-6)
    # hard scale = sqrt(s') of the chi pair
    np.testing.assert_allclose(fs.scale_gev, np.asarray(events["sqrt_s_prime"]), rtol=1e-10)
    assert fs.info["chi_charge_e"] == -3e-3 and fs.info["epsilon"] == 3e-3 and fs.info["chi_pdg"] == 52


def test_chi_pair_isr_photon_radiated_by_its_beam():
    process, events = _chi_pair()
    fs = final_state(events, process)
    pz_isr = np.asarray(events["isr"]["pz"])
    present = fs.present[:, 4]
    np.testing.assert_array_equal(present, np.asarray(events["x"]) > 0)
    # head-on beams: the collinear photon along +z comes from the e- (position 1), along -z from the e+
    np.testing.assert_array_equal(fs.mother1[present, 4], np.where(pz_isr[present] > 0, 1, 2))
    assert (fs.mother2[:, 4] == 0).all()
    assert 0.3 < np.mean(fs.mother1[present, 4] == 1) < 0.7


def test_chi_pair_without_isr_has_four_particles_and_custom_ids():
    process, events = _chi_pair(isr="off", spin="scalar")
    fs = final_state(events, process)
    assert (fs.n_particles == 4).all() and not fs.present[:, 4].any()
    assert (fs.pdg[:, 2:4] == [51, -51]).all()
    assert _conservation(fs) < 1e-12
    fs = final_state(events, process, chi_pdg=9000005)
    assert (fs.pdg[:, 2:4] == [9000005, -9000005]).all()
    awk = fs.to_awkward()
    assert len(awk) == N and (np.asarray(np.sum(awk.particles.status == 1, axis=1)) == 2).all()


@pytest.mark.parametrize("name", list(MONOPHOTON))
def test_monophoton_processes(name):
    process, ids = MONOPHOTON[name]
    events = _monophoton(process)
    n = len(events)
    u = np.random.default_rng(3).random((final_state_uniforms(name), n))
    fs = final_state(events, process, u=u if name == "nunu_gamma" else None)
    assert fs.info["process"] == name and (fs.n_particles == 5).all()
    assert (fs.pdg[:, :2] == [11, -11]).all()
    for slot, pdg in enumerate(ids, start=2):
        if pdg is not None:
            assert (fs.pdg[:, slot] == pdg).all()
    assert (fs.mother1[:, 2:] == 1).all() and (fs.mother2[:, 2:] == 2).all()
    assert _conservation(fs) < 1e-12
    # the beams carry the event's sqrt(s) and the Belle II boost along z
    beams = vector.array(
        {"px": fs.px[:, :2].sum(1), "py": fs.py[:, :2].sum(1), "pz": fs.pz[:, :2].sum(1), "E": fs.e[:, :2].sum(1)}
    )
    np.testing.assert_allclose(beams.mass, np.asarray(events["sqrt_s"]), rtol=1e-12)
    np.testing.assert_allclose(beams.pz / beams.E, BELLE2_BETA, rtol=1e-12)
    np.testing.assert_allclose(fs.e[:, 0] / fs.e[:, 1], 7.0 / 4.0, rtol=1e-3)  # asymmetric 7 x 4 GeV
    if name == "nunu_gamma":
        assert set(np.unique(fs.pdg[:, 3])) <= set(PDG_NEUTRINOS)
        np.testing.assert_array_equal(fs.pdg[:, 4], -fs.pdg[:, 3])
        assert fs.mass[:, 3:].max() == 0.0
        nu = vector.array({"px": fs.px[:, 3], "py": fs.py[:, 3], "pz": fs.pz[:, 3], "E": fs.e[:, 3]})
        assert np.abs(nu.tau).max() < 1e-6 * fs.e[:, 3].max()


def test_nunu_gamma_needs_uniforms():
    process, _ = MONOPHOTON["nunu_gamma"]
    events = _monophoton(process)
    with pytest.raises(ValueError, match="uniforms"):
        final_state(events, process)
    with pytest.raises(ValueError, match="shape"):
        final_state(events, process, u=np.zeros((2, len(events))))


def test_crossing_angle_beams_from_an_independent_boost():
    """Events boosted with beta = (sin(theta_c/2), 0, beta_z) by `vector` (not our boost): the
    reconstructed beams point along (sin h, 0, +-cos h), sum to the event, and give beta_x = sin h."""
    rng = np.random.default_rng(4)
    half = 0.030  # SCT / STCF: 60 mrad full crossing angle
    process = ChiChiGamma(0.2, 1e-3, e_gamma_min_gev=0.1, cos_theta_max=0.95)
    events = process.generate(rng.random((5, N)), 3.0 + 1e-3 * rng.standard_normal(N), 0.0)
    events = events[np.asarray(events["weight"]) > 0]
    # per-event beam energies E1, E2 (massless): beta = (sin h, 0, (E1 - E2) cos h / (E1 + E2))
    e1 = 1.5 * (1 + 1e-3 * rng.standard_normal(len(events)))
    e2 = 1.5 * (1 + 1e-3 * rng.standard_normal(len(events)))
    bx = np.full(len(events), np.sin(half))
    bz = (e1 - e2) * np.cos(half) / (e1 + e2)
    beta = ak.zip({"x": bx, "y": np.zeros_like(bx), "z": bz}, with_name="Vector3D")
    boosted = {f: events[f].boost_beta3(beta) for f in ("gamma", "chi", "chibar")}
    for f, v in boosted.items():
        events[f] = v
    fs = final_state(events, process)
    assert _conservation(fs) < 1e-12
    p_e = np.stack([fs.px[:, 0], fs.py[:, 0], fs.pz[:, 0]])
    p_p = np.stack([fs.px[:, 1], fs.py[:, 1], fs.pz[:, 1]])
    d_e = p_e / np.linalg.norm(p_e, axis=0)
    d_p = p_p / np.linalg.norm(p_p, axis=0)
    # direction to O(m_e^2/E^2) ~ 1e-7 of the massless convention
    np.testing.assert_allclose(d_e.T, np.broadcast_to([np.sin(half), 0, np.cos(half)], d_e.T.shape), atol=1e-6)
    np.testing.assert_allclose(d_p.T, np.broadcast_to([np.sin(half), 0, -np.cos(half)], d_p.T.shape), atol=1e-6)
    total_e = fs.e[:, 0] + fs.e[:, 1]
    np.testing.assert_allclose((fs.px[:, 0] + fs.px[:, 1]) / total_e, np.sin(half), rtol=1e-12)
    np.testing.assert_allclose(fs.e[:, 0] / fs.e[:, 1], e1 / e2, rtol=1e-6)


def test_reconstruct_beams_head_on():
    p = np.array([[3.0, 11.0], [0.0, 0.0], [0.0, 0.0], [0.0, 3.0]])  # (E, px, py, pz)
    p_e, p_p, axis = reconstruct_beams(p)
    np.testing.assert_allclose(p_e + p_p, p, atol=1e-15)
    np.testing.assert_allclose(axis, [[0, 0], [0, 0], [1, 1]], atol=1e-15)
    # Belle II: E- = 7, E+ = 4 GeV (massless: E1 E2 = s/4, E1 - E2 = P)
    np.testing.assert_allclose([p_e[0, 1], p_p[0, 1]], [7.0, 4.0], rtol=1e-7)


def test_neutrino_flavours_sum_to_the_generator_factor():
    s = np.array([4.0, 16.0, 112.0, 8000.0])
    for z in (False, True):
        np.testing.assert_allclose(neutrino_flavour_weights(s, z).sum(axis=0), nunu_sigma_factor(s, z), rtol=1e-14)
    # contact limit, written out: g_L = -1/2 + s_W^2, g_R = s_W^2; nu_e has g_L + 1 (W exchange)
    g_l, g_r = -0.5 + SIN2_THETA_W, SIN2_THETA_W
    expected = 2 * np.array([(g_l + 1) ** 2 + g_r**2, g_l**2 + g_r**2, g_l**2 + g_r**2])
    np.testing.assert_allclose(neutrino_flavour_weights(np.array([16.0]))[:, 0], expected, rtol=1e-14)


def test_neutrino_flavour_frequencies_and_angular_law():
    """Flavour frequencies against the coupling weights (binomial errors) and the nu angle in the
    nu nubar rest frame against |A_L|^2 (1 + c)^2 + |A_R|^2 (1 - c)^2 (chi^2), head-on beams."""
    process = NuNuGamma(e_gamma_min_gev=0.05, cos_theta_max=0.95)
    rng = np.random.default_rng(5)
    n = 40_000
    events = process.generate(rng.random((3, n)), 4.0, 0.0)
    events = events[np.asarray(events["weight"]) > 0]
    n = len(events)
    fs = final_state(events, process, u=rng.random((3, n)))
    g_l, g_r = -0.5 + SIN2_THETA_W, SIN2_THETA_W
    amps = {12: ((g_l + 1) ** 2, g_r**2), 14: (g_l**2, g_r**2), 16: (g_l**2, g_r**2)}
    total = sum(a + b for a, b in amps.values())
    flavour = fs.pdg[:, 3]
    for pdg, (a, b) in amps.items():
        p = (a + b) / total
        assert abs(np.mean(flavour == pdg) - p) < 5 * np.sqrt(p * (1 - p) / n)
    nu = vector.array({"px": fs.px[:, 3], "py": fs.py[:, 3], "pz": fs.pz[:, 3], "E": fs.e[:, 3]})
    missing = events["missing"]
    cos_rest = nu.boostCM_of_p4(missing).costheta  # pure boost: lab = CM for head-on symmetric beams
    edges = np.linspace(-1, 1, 21)
    counts = np.zeros(20)
    expected = np.zeros(20)
    for pdg, (a, b) in amps.items():
        sel = flavour == pdg
        counts += np.histogram(np.asarray(cos_rest[sel]), edges)[0]
        # integral of a (1 + c)^2 + b (1 - c)^2 over each bin, normalised to the flavour's count
        cdf = a * (1 + edges) ** 3 - b * (1 - edges) ** 3
        expected += sel.sum() * np.diff(cdf) / (cdf[-1] - cdf[0])
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 20 + 5 * np.sqrt(40), chi2
