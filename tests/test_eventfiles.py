"""LHE and HepMC event files (mcpgen.eventfiles): round trips through pylhe and pyhepmc."""

from __future__ import annotations

import gzip
import json
import os
import stat

import numpy as np
import pyhepmc
import pylhe
import pytest

from generator import Beams, ChiPair, EEGamma, NuNuGamma
from generator.constants import M_E_GEV
from generator.final_state import final_state
from mcpgen.eventfiles import (
    HEPMC_STATUS_BEAM,
    HEPMC_STATUS_ISR_LEPTON,
    convert_root,
    event_format,
    open_event_file,
    unweight,
)

N = 3000
META = {"card": "name: test\nmcp: {mass: 1.4 GeV, epsilon: 0.003}  # <&>", "seed": 12345, "versions": {"x": "1"}}


def _chi_pair_table(n=N, seed=1, normalise=True):
    process = ChiPair(Beams.symmetric(3.0, 2.1e-3), 1.4, 3e-3)
    events = process.generate(np.random.default_rng(seed).random((6, n)))
    table = final_state(events, process)
    return table.with_weight(table.weight / n) if normalise else table


def _eeg_table(seed=2):
    process = EEGamma(0.5, 0.3, np.pi - 0.3)
    rng = np.random.default_rng(seed)
    events = process.generate(rng.random((5, N)), 10.58, 3.0 / 11.0)
    table = final_state(events, process)
    return table.with_weight(table.weight / N)


def _write(path, tables, **kwargs):
    with open_event_file(path, metadata=kwargs.pop("metadata", META), **kwargs) as out:
        for table in tables:
            out.write(table)
    return out


def _lhe_arrays(path):
    lhe = pylhe.LHEFile.fromfile(path)
    events = list(lhe.events)
    return lhe, events


def _check_lhe_event(event, rel=1e-9):
    """Four-momentum conservation (beams = outgoing) and masses of one LHE event."""
    p_in = np.zeros(4)
    p_out = np.zeros(4)
    for p in event.particles:
        v = np.array([p.e, p.px, p.py, p.pz])
        if p.status == -1:
            p_in += v
        else:
            assert p.status == 1
            p_out += v
        assert abs(p.e**2 - p.px**2 - p.py**2 - p.pz**2 - p.m**2) < 1e-9 * p.e**2
    assert np.all(np.abs(p_in - p_out) <= rel * p_in[0])


@pytest.mark.parametrize("name", ["events.lhe", "events.lhe.gz"])
def test_lhe_round_trip(tmp_path, name):
    table = _chi_pair_table()
    path = tmp_path / name
    out = _write(path, [table[:1000], table[1000:]])
    assert event_format(path) == "lhe"
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as f:
            assert f.readline().startswith("<LesHouchesEvents")
    lhe, events = _lhe_arrays(path)
    assert len(events) == N == out.n_events
    init = lhe.init.initInfo
    assert (init.beamA, init.beamB, init.weightingStrategy, init.numProcesses) == (11, -11, 4, 1)
    np.testing.assert_allclose([init.energyA, init.energyB], 1.5, rtol=1e-4)
    sigma = lhe.init.procInfo[0].xSection
    weights = np.array([e.eventinfo.weight for e in events])
    np.testing.assert_allclose(weights, table.weight, rtol=0)  # exact round trip
    np.testing.assert_allclose(weights.sum(), sigma, rtol=1e-12)
    np.testing.assert_allclose(lhe.init.procInfo[0].error, np.sqrt(np.sum(weights**2)), rtol=1e-12)
    for event, n in zip(events, table.n_particles, strict=True):
        ids = [p.id for p in event.particles]
        assert ids[:4] == [11, -11, 52, -52] and ids[4:] in ([], [22]) and len(ids) == n
        assert [p.status for p in event.particles][:2] == [-1, -1]
        assert [(p.mother1, p.mother2) for p in event.particles][2:4] == [(1, 2), (1, 2)]
        if len(ids) == 5:
            photon = event.particles[4]
            assert photon.mother2 == 0 and photon.mother1 == (1 if photon.pz > 0 else 2)
        masses = [p.m for p in event.particles]
        assert masses[:4] == [M_E_GEV, M_E_GEV, 1.4, 1.4]
        _check_lhe_event(event)
    mcpgen = lhe.header.extra_elements[0]
    assert mcpgen.tag == "mcpgen"
    assert mcpgen.find("card").text == META["card"] and mcpgen.find("seed").text == "12345"
    assert json.loads(mcpgen.find("versions").text) == META["versions"]
    mcp = mcpgen.find("mcp").attrib
    assert mcp["chi_pdg"] == "52" and float(mcp["epsilon"]) == 3e-3 and float(mcp["chi_charge_e"]) == -3e-3
    assert float(mcp["mass_gev"]) == 1.4 and mcp["spin"] == "dirac"


def test_lhe_unweighted_strategy_and_given_cross_section(tmp_path):
    table = _eeg_table()
    w_max = np.quantile(table.weight[table.weight > 0], 0.99)
    kept, n_over = unweight(table, np.random.default_rng(7).random(len(table)), w_max)
    path = tmp_path / "eeg.lhe"
    with open_event_file(path, metadata=META, unweighted=True, beam_energies_gev=(7.0, 4.0)) as out:
        out.write(kept)
        out.set_cross_section(2.5, 0.1)
    lhe, events = _lhe_arrays(path)
    assert lhe.init.initInfo.weightingStrategy == 3
    assert (lhe.init.initInfo.energyA, lhe.init.initInfo.energyB) == (7.0, 4.0)
    assert (lhe.init.procInfo[0].xSection, lhe.init.procInfo[0].error) == (2.5, 0.1)
    assert len(events) == len(kept) > 0 and n_over > 0
    weights = np.array([e.eventinfo.weight for e in events])
    assert np.mean(weights == w_max) > 0.9 and weights.min() == w_max
    for event in events[:500]:
        assert [p.id for p in event.particles] == [11, -11, 22, -11, 11]
        _check_lhe_event(event)


def test_unweight_is_unbiased_and_counts_overweight():
    rng = np.random.default_rng(11)
    w = rng.exponential(1.0, 200_000)
    w_max = 3.0
    table = _chi_pair_table(n=len(w))
    kept, n_over = unweight(table.with_weight(w), rng.random(len(w)), w_max)
    assert n_over == np.count_nonzero(w > w_max)
    np.testing.assert_array_equal(kept.weight, np.maximum(kept.weight, w_max))
    # E[sum of kept weights] = sum of w; error from the binomial acceptance
    err = np.sqrt(np.sum(np.minimum(w, w_max) * (w_max - np.minimum(w, w_max)) * np.maximum(w, w_max) / w_max))
    assert abs(kept.weight.sum() - w.sum()) < 5 * err
    with pytest.raises(ValueError):
        unweight(table, np.zeros(3), w_max)


def _hepmc_events(path, fmt=None):
    with pyhepmc.open(path, format=fmt) as f:
        return list(f)


def _check_hepmc_event(event, rel=1e-9):
    for v in event.vertices:
        p_in = sum(np.array([p.momentum.e, p.momentum.px, p.momentum.py, p.momentum.pz]) for p in v.particles_in)
        p_out = sum(np.array([p.momentum.e, p.momentum.px, p.momentum.py, p.momentum.pz]) for p in v.particles_out)
        assert np.all(np.abs(p_in - p_out) <= rel * p_in[0])
    beams = [p for p in event.particles if p.status == HEPMC_STATUS_BEAM]
    final = [p for p in event.particles if p.status == 1]
    assert [p.pid for p in beams] == [11, -11]
    total_in = sum(np.array([p.momentum.e, p.momentum.px, p.momentum.py, p.momentum.pz]) for p in beams)
    total_out = sum(np.array([p.momentum.e, p.momentum.px, p.momentum.py, p.momentum.pz]) for p in final)
    assert np.all(np.abs(total_in - total_out) <= rel * total_in[0])
    return beams, final


@pytest.mark.parametrize("name", ["events.hepmc", "events.hepmc.gz"])
def test_hepmc3_round_trip(tmp_path, name):
    table = _chi_pair_table()
    path = tmp_path / name
    _write(path, [table[:1200], table[1200:]])
    events = _hepmc_events(path)
    assert len(events) == N
    run = events[0].run_info
    assert str(run.attributes["card"]) == META["card"] and str(run.attributes["seed"]) == "12345"
    assert str(run.attributes["mcp_chi_pdg"]) == "52" and float(str(run.attributes["mcp_chi_charge_e"])) == -3e-3
    assert run.tools[0].name == "mcpgen"
    weights = np.array([e.weights[0] for e in events])
    np.testing.assert_allclose(weights, table.weight, rtol=0)
    last = events[-1].cross_section
    # final sigma on the last event (HepMC3 ASCII writes it with 9 significant digits)
    np.testing.assert_allclose(last.xsec(), weights.sum(), rtol=1e-8)
    np.testing.assert_allclose(last.xsec_err(), np.sqrt(np.sum(weights**2)), rtol=1e-8)
    for event, n in zip(events, table.n_particles, strict=True):
        assert event.momentum_unit == pyhepmc.Units.GEV and event.length_unit == pyhepmc.Units.MM
        beams, final = _check_hepmc_event(event)
        assert sorted(p.pid for p in final) == sorted([52, -52] + [22] * (n - 4))
        chi = [p for p in final if p.pid == 52][0]
        assert {q.pid for q in chi.parents} == {11, -11} and chi.generated_mass == 1.4
        photons = [p for p in final if p.pid == 22]
        if photons:  # radiated by one beam, which continues off shell into the hard vertex
            (radiator,) = photons[0].parents
            assert radiator.status == HEPMC_STATUS_BEAM and radiator.pid == (11 if photons[0].momentum.pz > 0 else -11)
            lepton = [p for p in radiator.end_vertex.particles_out if p.pid != 22][0]
            assert lepton.status == HEPMC_STATUS_ISR_LEPTON and 0 < lepton.generated_mass <= M_E_GEV
            assert lepton.end_vertex is chi.production_vertex
        else:
            assert len(event.vertices) == 1


def test_hepmc2_round_trip(tmp_path):
    table = _eeg_table()
    table = table[table.weight > 0]
    path = tmp_path / "eeg.hepmc2"
    _write(path, [table])
    with open(path) as f:
        assert "IO_GenEvent" in f.readline() + f.readline()
    events = _hepmc_events(path, "hepmc2")
    assert len(events) == len(table)
    weights = np.array([e.weights[0] for e in events])
    np.testing.assert_allclose(weights, table.weight, rtol=0)
    np.testing.assert_allclose(events[-1].cross_section.xsec(), weights.sum(), rtol=1e-12)
    for event in events[:500]:
        _, final = _check_hepmc_event(event)
        assert sorted(p.pid for p in final) == [-11, 11, 22]


@pytest.mark.parametrize("name", ["a.lhe.gz", "a.hepmc.gz"])
def test_same_events_same_bytes(tmp_path, name):
    table = _chi_pair_table(n=300)
    _write(tmp_path / "one" / name, [table])
    _write(tmp_path / "two" / name, [table[:100], table[100:]])
    assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_hepmc_vertex(tmp_path):
    process = ChiPair(Beams.symmetric(3.0, 2.1e-3), 1.4, 3e-3, isr="off")
    events = process.generate(np.random.default_rng(3).random((6, 50)))
    vertex = np.array([0.1, -0.02, 3.0, 0.5])  # x, y, z, c t [mm]
    _write(tmp_path / "v.hepmc", [final_state(events, process, vertex_mm=vertex)])
    for event in _hepmc_events(tmp_path / "v.hepmc"):
        (v,) = event.vertices
        np.testing.assert_array_equal([v.position.x, v.position.y, v.position.z, v.position.t], vertex)


def test_zero_weight_events_are_skipped(tmp_path):
    table = _eeg_table()
    assert (table.weight == 0).any()
    out = _write(tmp_path / "e.hepmc", [table])
    assert out.n_events == np.count_nonzero(table.weight) == len(_hepmc_events(tmp_path / "e.hepmc"))


def test_nunu_gamma_files(tmp_path):
    process = NuNuGamma(e_gamma_min_gev=0.1, cos_theta_max=0.95)
    rng = np.random.default_rng(4)
    events = process.generate(rng.random((3, N)), 4.0, 0.0)
    table = final_state(events, process, u=rng.random((3, N)))
    _write(tmp_path / "nn.lhe", [table])
    _, lhe_events = _lhe_arrays(tmp_path / "nn.lhe")
    for event in lhe_events[:300]:
        ids = [p.id for p in event.particles]
        assert ids[:3] == [11, -11, 22] and ids[3] in (12, 14, 16) and ids[4] == -ids[3]
        _check_lhe_event(event)


@pytest.mark.parametrize("name", ["events.lhe", "events.lhe.gz", "events.hepmc", "events.hepmc2"])
def test_exception_mid_write_leaves_no_file(tmp_path, name):
    table = _chi_pair_table(n=500)
    with pytest.raises(RuntimeError), open_event_file(tmp_path / name, metadata=META) as out:
        out.write(table)
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_file_mode_follows_umask(tmp_path, mask, mode):
    table = _chi_pair_table(n=200)
    old = os.umask(mask)
    try:
        for name in ("a.lhe", "b.hepmc.gz"):
            _write(tmp_path / name, [table])
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.lhe", "b.hepmc.gz"]


def test_format_from_name():
    assert [event_format(n) for n in ("a.lhe.gz", "b.HEPMC", "c.hepmc3.gz", "d.hepmc2")] == [
        "lhe",
        "hepmc3",
        "hepmc3",
        "hepmc2",
    ]
    assert event_format("x.dat", "HepMC2") == "hepmc2"
    with pytest.raises(ValueError, match="cannot tell"):
        event_format("events.root")


def _root_file(path, n=N):
    """A tracker-chain events.root in the layout of the README (branches and metadata strings)."""
    import uproot

    process = ChiPair(Beams.symmetric(3.0, 2.1e-3), 1.4, 3e-3)
    events = process.generate(np.random.default_rng(9).random((6, n)))
    branches = {name: np.asarray(events[name]) for name in ("sqrt_s0", "sqrt_s", "sqrt_s_prime", "x", "beta_z")}
    for record in ("isr", "chi", "chibar"):
        for c in ("px", "py", "pz", "E"):
            branches[f"{record}_{c}"] = np.asarray(events[record][c])
    branches["chi_charge"] = np.asarray(events["chi"]["charge"])
    branches["weight"] = np.asarray(events["weight"]) / n
    summary = {
        "cross_section_pb": float(branches["weight"].sum()),
        "cross_section_err_pb": 1e-4,
        "seed": 77,
        "unweighted": False,
        "physics": process.describe(),
        "versions": {"mcpgen": "test"},
    }
    with uproot.recreate(path) as f:
        f.mktree("events", {k: v.dtype for k, v in branches.items()})
        f["events"].extend(branches)
        f["mcpgen_summary"] = json.dumps(summary)
        f["mcpgen_card"] = "name: converted\n"
        f.mktree("sct_nunu_gamma", {"gamma_E_lab": np.float64, "weight": np.float64})
        f["sct_nunu_gamma"].extend({"gamma_E_lab": np.ones(3), "weight": np.ones(3)})
    return branches, summary


@pytest.mark.parametrize("name", ["converted.lhe", "converted.hepmc"])
def test_convert_events_root(tmp_path, name):
    branches, summary = _root_file(tmp_path / "events.root")
    result = convert_root(tmp_path / "events.root", tmp_path / name, step_size=700)
    assert result["n_events"] == N and result["process"] == "chi_pair"
    if name.endswith(".lhe"):
        lhe, events = _lhe_arrays(tmp_path / name)
        assert lhe.init.procInfo[0].xSection == summary["cross_section_pb"]
        assert lhe.init.procInfo[0].error == 1e-4
        np.testing.assert_allclose([lhe.init.initInfo.energyA, lhe.init.initInfo.energyB], 1.5, rtol=1e-12)
        header = lhe.header.extra_elements[0]
        assert header.find("card").text == "name: converted\n" and header.find("seed").text == "77"
        chi_pz = np.array([e.particles[2].pz for e in events])
        for event in events[:500]:
            _check_lhe_event(event)
    else:
        events = _hepmc_events(tmp_path / name)
        assert str(events[0].run_info.attributes["seed"]) == "77"
        np.testing.assert_allclose(events[-1].cross_section.xsec(), summary["cross_section_pb"], rtol=1e-8)
        chi_pz = np.array([[p.momentum.pz for p in e.particles if p.pid == 52][0] for e in events])
    np.testing.assert_array_equal(chi_pz, branches["chi_pz"])


def test_convert_photon_only_tree_says_what_is_missing(tmp_path):
    _root_file(tmp_path / "events.root", n=10)
    with pytest.raises(ValueError, match="does not store a full final state"):
        convert_root(tmp_path / "events.root", tmp_path / "x.lhe", tree="sct_nunu_gamma")
    assert not (tmp_path / "x.lhe").exists()


def test_convert_a_real_run(tmp_path):
    """events.root of the tracker chain written by the generator itself (no detector)."""
    from conftest import CARDS

    from mcpgen import load_card, run

    card = load_card(CARDS / "sct_3gev.yaml", ["detector={}"])
    summary = run(card, 2000, tmp_path, seed=5, progress=False)
    result = convert_root(tmp_path / "events.root", tmp_path / "run.hepmc.gz")
    assert result["n_events"] == summary["n_events"] == 2000
    np.testing.assert_allclose(result["cross_section_pb"], summary["cross_section_pb"], rtol=1e-15)
    events = _hepmc_events(tmp_path / "run.hepmc.gz")
    assert len(events) == 2000
    np.testing.assert_allclose(events[-1].cross_section.xsec(), summary["cross_section_pb"], rtol=1e-8)
    for event in events[:200]:
        _check_hepmc_event(event)
