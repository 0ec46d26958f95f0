"""The process protocol and the beam wrapper; monophoton and beam-escape processes with a crossing
angle (docs/physics.md §10): four-momentum conservation, CM quantities recovered from the lab with
``vector`` boosts, and CM photon spectra that do not depend on the angle."""

from __future__ import annotations

import json
import math

import awkward as ak
import numpy as np
import pytest
import vector
from scipy import stats

from generator import (
    BeamProcess,
    Beams,
    ChiChiGamma,
    ChiPair,
    EEGamma,
    FixedEnergyProcess,
    NuNuGamma,
    Process,
    ThreePhoton,
    machine_beams,
)

vector.register_awkward()

P_MIN = 1e-3  # fixed seeds: a p-value below this means a wrong shape, not bad luck


def _u(seed, rows, n):
    return np.random.default_rng(seed).random((rows, n))


def _inners():
    """(name, inner process, lab particle fields) of every fixed-energy process, BESIII-like cuts."""
    tb = math.acos(0.95)
    return [
        (
            "chi_pair_gamma",
            ChiChiGamma(0.3, 1e-3, e_gamma_min_gev=0.025, cos_theta_max=0.95),
            ("gamma", "chi", "chibar"),
        ),
        ("nunu_gamma", NuNuGamma(e_gamma_min_gev=0.025, cos_theta_max=0.95), ("gamma", "missing")),
        ("ggg", ThreePhoton(0.1, tb, math.pi - tb), ("gamma1", "gamma2", "gamma3")),
        ("eeg", EEGamma(0.1, tb, math.pi - tb), ("gamma", "positron", "electron")),
    ]


def _is_momentum4d(array) -> bool:
    return ak.parameters(array).get("__record__") == "Momentum4D"


# ---------------------------------------------------------------------------------------------
# protocol
# ---------------------------------------------------------------------------------------------
def test_every_process_follows_the_protocol():
    beams = machine_beams("stcf", 4.0)
    processes = [ChiPair(beams, 1.9, 1e-3), beams] + [BeamProcess(beams, inner, n) for n, inner, _ in _inners()]
    for proc in processes:
        assert isinstance(proc, Process), proc
        ev = proc.generate(_u(1, proc.n_uniforms, 500))
        assert isinstance(ev, ak.Array) and len(ev) == 500
        for name in ("weight", "beta_x", "beta_z", "sqrt_s"):
            assert name in ev.fields, (proc.name, name)
        assert np.all(ev.beta_x.to_numpy() == beams.beta_x0)
        assert any(_is_momentum4d(ev[f]) for f in ev.fields)
        info = proc.describe()
        json.dumps(info, default=float)
        assert info["process"] == proc.name
    for _, inner, _ in _inners():
        assert isinstance(inner, FixedEnergyProcess)
        json.dumps(inner.describe(), default=float)
    chi, chi_gamma, nunu = processes[0], processes[2], processes[3]
    assert (chi.mass_gev, chi.epsilon) == (1.9, 1e-3)
    assert (chi_gamma.mass_gev, chi_gamma.epsilon) == (0.3, 1e-3)
    assert (nunu.mass_gev, nunu.epsilon) == (None, None)
    assert (beams.mass_gev, beams.epsilon) == (None, None)
    assert chi_gamma.n_uniforms == 2 + 5


@pytest.mark.parametrize("index", range(4))
def test_beam_process_layout_and_chunking(index):
    """2 beam uniforms first, then the inner process's; chunks give the same events."""
    name, inner, _ = _inners()[index]
    beams = machine_beams("superkekb", spread_model="gaussian_per_beam")
    proc = BeamProcess(beams, inner, name)
    u = _u(2, proc.n_uniforms, 3000)
    ev = proc.generate(u)
    frame = beams.sample_frame(u[:2], 0.0)
    ref_ev = inner.generate(
        u[2:], frame.sqrt_s_gev, frame.beta_z, beta_x=frame.beta_x, cm_axis_angle_rad=frame.cm_axis_angle_rad
    )
    for field in ref_ev.fields:
        if field != "weight":
            assert ak.to_list(ev[field]) == ak.to_list(ref_ev[field]), field
    np.testing.assert_array_equal(ev.weight.to_numpy(), ref_ev.weight.to_numpy() * frame.weight)
    np.testing.assert_array_equal(ev.beta_z.to_numpy(), frame.beta_z)
    parts = ak.concatenate([proc.generate(u[:, :1234]), proc.generate(u[:, 1234:])])
    assert ak.to_list(parts) == ak.to_list(ev)


def test_beam_process_threshold_is_importance_sampling():
    """Beams drawn only above 2m (weight = probability mass) give the same cross section, with a
    smaller error (half of the luminosity lies below threshold here)."""
    beams = Beams.for_sqrt_s(3.0, crossing_angle_rad=60e-3, spread_model="gaussian_per_beam", relative_spread=1e-3)
    inner = ChiChiGamma(1.5, 1e-3, e_gamma_min_gev=0.001, cos_theta_max=0.95)
    n = 100_000
    sigmas = []
    for seed, s_min in ((3, 0.0), (4, 3.0)):
        w = BeamProcess(beams, inner, "chi_pair_gamma", s_min).generate(_u(seed, 7, n)).weight.to_numpy()
        sigmas.append((w.mean(), w.std() / math.sqrt(n)))
    (a, ea), (b, eb) = sigmas
    print(f"sigma: all draws {a:.4e} +- {ea:.1e} pb, above threshold only {b:.4e} +- {eb:.1e} pb")
    assert abs(a - b) < 3 * math.hypot(ea, eb)
    assert eb < ea


# ---------------------------------------------------------------------------------------------
# monophoton and beam-escape processes with a crossing angle
# ---------------------------------------------------------------------------------------------
def _lab_beams(ev, theta_c):
    """Lab four-vectors (E, px, py, pz) of the beams, rebuilt from sqrt(s), beta_x and beta_z."""
    rs, bx, bz = (ev[f].to_numpy() for f in ("sqrt_s", "beta_x", "beta_z"))
    total = rs / np.sqrt(1.0 - bx**2 - bz**2)
    diff = bz * total / math.cos(0.5 * theta_c)
    e1, e2 = 0.5 * (total + diff), 0.5 * (total - diff)
    h = 0.5 * theta_c
    zero = 0.0 * e1
    return np.stack([e1, e1 * math.sin(h), zero, e1 * math.cos(h)]), np.stack(
        [e2, e2 * math.sin(h), zero, -e2 * math.cos(h)]
    )


def _crossing_beams(machine_name):
    """(crossing beams, head-on beams with the same sqrt(s0), energies ratio and relative spreads)."""
    crossing = machine_beams(machine_name)
    head_on = Beams.from_beam_energies(
        crossing.electron_energy_gev,
        crossing.positron_energy_gev,
        spread_model="gaussian_per_beam",
        relative_spread=(
            crossing.sigma_electron_gev / crossing.electron_energy_gev,
            crossing.sigma_positron_gev / crossing.positron_energy_gev,
        ),
        sqrt_s0_gev=crossing.sqrt_s0_gev,
    )
    return crossing, head_on


@pytest.mark.parametrize("machine_name", ["stcf", "superkekb"])
@pytest.mark.parametrize("index", range(4))
def test_monophoton_kinematics_with_crossing_angle(machine_name, index):
    """Sum of the final state = p(e-) + p(e+); the lab photon boosted back by -beta (``vector``)
    has the recorded CM energy, and its angle to the CM beam axis the recorded cos theta."""
    name, inner, particles = _inners()[index]
    beams, _ = _crossing_beams(machine_name)
    theta_c = beams.crossing_angle_rad
    ev = BeamProcess(beams, inner, name).generate(_u(5, 2 + inner.n_uniforms, 20_000))
    w = ev.weight.to_numpy()
    keep = w > 0
    ev = ev[keep]
    p1, p2 = _lab_beams(ev, theta_c)
    total = sum(np.stack([ev[p][c].to_numpy() for c in ("E", "px", "py", "pz")]) for p in particles)
    scale = ev.sqrt_s.to_numpy().max()
    np.testing.assert_allclose(total, p1 + p2, rtol=0, atol=1e-11 * scale)

    beta = vector.array({"x": -ev.beta_x.to_numpy(), "y": 0.0 * ev.beta_x.to_numpy(), "z": -ev.beta_z.to_numpy()})
    photon = ev[particles[0]]
    photon_cm = vector.array({c: photon[c].to_numpy() for c in ("px", "py", "pz", "E")}).boost_beta3(beta)
    axis_cm = vector.array({"px": p1[1], "py": p1[2], "pz": p1[3], "E": p1[0]}).boost_beta3(beta)
    np.testing.assert_allclose(photon_cm.E, ev.e_gamma_cm.to_numpy(), rtol=1e-10)
    cos_axis = (photon_cm.px * axis_cm.px + photon_cm.py * axis_cm.py + photon_cm.pz * axis_cm.pz) / (
        photon_cm.mag * axis_cm.mag
    )
    np.testing.assert_allclose(cos_axis, ev.cos_theta_gamma_cm.to_numpy(), rtol=0, atol=1e-10)
    if machine_name == "superkekb":  # the CM beam axis is not the lab z axis there (a = 5.8 mrad)
        cos_z = photon_cm.pz / photon_cm.mag
        assert np.max(np.abs(cos_z - cos_axis)) > 1e-3


@pytest.mark.parametrize("machine_name", ["stcf", "superkekb"])
@pytest.mark.parametrize("index", range(4))
def test_monophoton_cm_spectrum_does_not_depend_on_crossing_angle(machine_name, index):
    """Weighted E_gamma^CM spectra with and without the crossing angle (sqrt(s0) and the relative
    beam spreads held, independent seeds) agree (two-sample chi^2); so do the cross sections."""
    name, inner, _ = _inners()[index]
    crossing, head_on = _crossing_beams(machine_name)
    n = 40_000
    hists = []
    for seed, beams in ((7, head_on), (8, crossing)):
        ev = BeamProcess(beams, inner, name).generate(_u(seed, 2 + inner.n_uniforms, n))
        x = 2 * ev.e_gamma_cm.to_numpy() / ev.sqrt_s.to_numpy()
        w = ev.weight.to_numpy() / n
        edges = np.quantile(x[w > 0], np.linspace(0, 1, 16)) if not hists else hists[0][2]
        edges[0], edges[-1] = 0.0, 1.0
        h, _ = np.histogram(x, edges, weights=w)
        v, _ = np.histogram(x, edges, weights=w * w)
        hists.append((h, v, edges))
    (h0, v0, _), (h1, v1, _) = hists
    chi2 = float(np.sum((h1 - h0) ** 2 / (v0 + v1)))
    p = stats.chi2.sf(chi2, len(h0))
    pull = (h1.sum() - h0.sum()) / math.sqrt(v0.sum() + v1.sum())
    print(f"{machine_name} {name}: chi2/ndf = {chi2:.1f}/{len(h0)}, p = {p:.3f}; sigma pull {pull:+.2f}")
    assert p > P_MIN
    assert abs(pull) < 3
