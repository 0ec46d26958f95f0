"""Event files through the command line: 'mcpgen run --format ...' and 'mcpgen convert'.

The LHE files are read back with pylhe and the HepMC files with pyhepmc (HepMC3 and its HepMC2
reader) -- readers independent of the writers -- and compared entry by entry with events.root:
four-momenta (LHE writes the shortest repr of each double, HepMC3 ASCII 16 significant digits),
PDG ids, weights and the cross section of summary.json. Every event conserves four-momentum
(beams in = particles out) to 1e-9 relative.
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pyhepmc
import pylhe
import pytest
import uproot
from click.testing import CliRunner

from mcpgen.cli import main
from mcpgen.rng import Streams

N_CHI = 800
N_MONO = 1500
SEED = 4
COMPONENTS = ("E", "px", "py", "pz")


def _cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def chi_run(tmp_path_factory):
    """The tracker card (sct_3gev), weighted event files in every format."""
    out = tmp_path_factory.mktemp("chi")
    _cli("run", "--card", "sct_3gev", "-n", N_CHI, "--seed", SEED, "--out", out, "--no-progress")
    _cli(
        *("run", "--card", "sct_3gev", "-n", N_CHI, "--seed", SEED, "--out", out / "files", "--no-progress"),
        *("--format", "lhe", "--format", "hepmc3", "--format", "hepmc2.gz", "--event-weights", "weighted"),
    )
    return out


@pytest.fixture(scope="module")
def mono_run(tmp_path_factory):
    """Belle II monophoton card with the signal and e+e-gamma: one file per dataset."""
    out = tmp_path_factory.mktemp("mono")
    _cli(
        *("run", "--card", "belle2", "-n", N_MONO, "--seed", SEED, "--out", out, "--no-progress"),
        *("--set", "processes=[{name: chi_pair_gamma}, {name: eeg}]"),
        *("--format", "lhe", "--format", "hepmc3", "--event-weights", "weighted"),
    )
    return out


def _tree(path, tree):
    return uproot.open(path)[tree].arrays(library="np")


def _lhe(path):
    lhe = pylhe.LHEFile.fromfile(path)
    return lhe, list(lhe.events)


def _hepmc(path, fmt=None):
    with pyhepmc.open(path, format=fmt) as f:
        return list(f)


def _lhe_particles(event):
    """(pdg, status, (E, px, py, pz)) of each particle of an LHE event."""
    return [(int(p.id), int(p.status), np.array([p.e, p.px, p.py, p.pz])) for p in event.particles]


def _hepmc_particles(event):
    return [
        (p.pid, 1 if p.status == 1 else -1, np.array([p.momentum.e, p.momentum.px, p.momentum.py, p.momentum.pz]))
        for p in event.particles
        if p.status in (1, 4)
    ]


def _conserves(particles, rel=1e-9):
    p_in = sum(p for _, s, p in particles if s == -1)
    p_out = sum(p for _, s, p in particles if s == 1)
    assert np.all(np.abs(p_in - p_out) <= rel * p_in[0])


def _check_against_tree(particles_per_event, weights, tree, ids, rtol):
    """Every event: outgoing particles by PDG id = the tree's four-momenta; beams conserve."""
    keep = np.flatnonzero(tree["weight"] != 0)
    assert len(particles_per_event) == len(keep) == len(weights)
    np.testing.assert_array_equal(np.asarray(weights), tree["weight"][keep])
    for particles, entry in zip(particles_per_event, keep, strict=True):
        _conserves(particles)
        final = [(pid, p) for pid, s, p in particles if s == 1]
        beams = [pid for pid, s, _ in particles if s == -1]
        assert sorted(beams) == [-11, 11]
        for pid, record in ids.items():
            got = [p for q, p in final if q == pid]
            if record == "isr":  # written only where the ISR photon carries energy
                assert len(got) == (tree["isr_E"][entry] > 0)
                if not got:
                    continue
            assert len(got) == 1, (pid, final)
            want = np.array([tree[f"{record}_{c}"][entry] for c in COMPONENTS])
            np.testing.assert_allclose(got[0], want, rtol=rtol, atol=0)
        assert len(final) == sum(1 for pid in ids if pid in [q for q, _ in final])


CHI_IDS = {52: "chi", -52: "chibar", 22: "isr"}


def test_chi_pair_files_match_events_root(chi_run):
    files = chi_run / "files"
    tree = _tree(files / "events.root", "events")
    summary = json.loads((files / "summary.json").read_text())
    # the event files do not change the events: same tree as the run without them
    plain = _tree(chi_run / "events.root", "events")
    for key in ("chi_px", "chibar_E", "weight", "n_hits"):
        np.testing.assert_array_equal(tree[key], plain[key])
    sigma = summary["cross_section_pb"]
    assert summary["event_files"]["weighting"] == "weighted"

    lhe, events = _lhe(files / "events.lhe")
    assert lhe.init.procInfo[0].xSection == sigma
    assert lhe.init.initInfo.weightingStrategy == 4
    particles = [_lhe_particles(e) for e in events]
    _check_against_tree(particles, [e.eventinfo.weight for e in events], tree, CHI_IDS, rtol=0)

    events = _hepmc(files / "events.hepmc")
    particles = [_hepmc_particles(e) for e in events]
    _check_against_tree(particles, [e.weights[0] for e in events], tree, CHI_IDS, rtol=1e-15)
    np.testing.assert_allclose(events[-1].cross_section.xsec(), sigma, rtol=1e-8)
    assert str(events[0].run_info.attributes["seed"]) == str(SEED)

    events = _hepmc(files / "events.hepmc2.gz", "hepmc2")
    particles = [_hepmc_particles(e) for e in events]
    _check_against_tree(particles, [e.weights[0] for e in events], tree, CHI_IDS, rtol=1e-15)


@pytest.mark.parametrize(
    ("dataset", "ids"),
    [
        ("y4s_chi_pair_gamma", {22: "gamma", 52: "chi", -52: "chibar"}),
        ("y4s_eeg", {22: "gamma", -11: "positron", 11: "electron"}),
    ],
)
def test_monophoton_files_match_events_root(mono_run, dataset, ids):
    tree = _tree(mono_run / "events.root", dataset)
    summary = json.loads((mono_run / "summary.json").read_text())
    (entry,) = [d for d in summary["datasets"] if d["dataset"] == dataset]
    sigma = entry["cross_section_pb"]

    lhe, events = _lhe(mono_run / f"events_{dataset}.lhe")
    np.testing.assert_allclose(lhe.init.procInfo[0].xSection, sigma, rtol=1e-15)
    np.testing.assert_allclose([lhe.init.initInfo.energyA, lhe.init.initInfo.energyB], [7.0, 4.0], rtol=1e-15)
    particles = [_lhe_particles(e) for e in events]
    _check_against_tree(particles, [e.eventinfo.weight for e in events], tree, ids, rtol=0)

    events = _hepmc(mono_run / f"events_{dataset}.hepmc")
    particles = [_hepmc_particles(e) for e in events]
    _check_against_tree(particles, [e.weights[0] for e in events], tree, ids, rtol=1e-15)
    np.testing.assert_allclose(events[-1].cross_section.xsec(), sigma, rtol=1e-8)


def test_convert_command_matches_the_run(mono_run, tmp_path):
    """'mcpgen convert' of a monophoton tree gives the event file the run wrote (weighted)."""
    out = _cli("convert", mono_run / "events.root", tmp_path / "eeg.lhe", "--tree", "y4s_eeg")
    assert "eeg" in out
    _, converted = _lhe(tmp_path / "eeg.lhe")
    _, written = _lhe(mono_run / "events_y4s_eeg.lhe")
    assert len(converted) == len(written)
    for a, b in zip(converted, written, strict=True):
        assert a.eventinfo.weight == b.eventinfo.weight
        assert [(p.id, p.px, p.pz, p.e) for p in a.particles] == [(p.id, p.px, p.pz, p.e) for p in b.particles]


def test_unweighted_by_default_against_the_pilot_maximum(tmp_path):
    """Default event files are unweighted: entry i is kept iff u_i w_max < w_i with u_i from the
    registered unweighting stream, with weight max(w_i, w_max); the summary reports the overweight
    fraction; files written under umask 022 are world-readable."""
    old = os.umask(0o022)
    try:
        _cli(
            *("run", "--card", "sct_3gev", "-n", 3000, "--seed", 7, "--out", tmp_path, "--no-progress"),
            *("--set", "detector={}", "--format", "lhe.gz", "--format", "hepmc3"),
        )
    finally:
        os.umask(old)
    summary = json.loads((tmp_path / "summary.json").read_text())
    info = summary["event_files"]
    assert info["weighting"] == "unweighted" and info["n_overweight"] == 0 and info["overweight_fraction"] == 0.0
    w = _tree(tmp_path / "events.root", "events")["weight"]
    w_max = info["max_weight_pb"]
    assert w_max >= w.max()  # pilot maximum x 1.1 covers the run: no overweight events here
    u = Streams.event_unweighting.uniforms(7, 0, len(w), 1)[0]
    kept = np.flatnonzero(u * w_max < w)
    lhe, events = _lhe(tmp_path / "events.lhe.gz")
    assert lhe.init.initInfo.weightingStrategy == 3
    assert len(events) == len(kept) == info["n_events"]
    np.testing.assert_array_equal([e.eventinfo.weight for e in events], np.maximum(w[kept], w_max))
    # sigma of the file is the run's, not the sum of the kept weights
    assert lhe.init.procInfo[0].xSection == summary["cross_section_pb"]
    chi_pz = _tree(tmp_path / "events.root", "events")["chi_pz"][kept]
    np.testing.assert_array_equal([[p.pz for p in e.particles if p.id == 52][0] for e in events], chi_pz)
    for name in ("events.root", "summary.json", "events.lhe.gz", "events.hepmc"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))


def test_format_option_is_checked():
    result = CliRunner().invoke(main, ["run", "--card", "sct_3gev", "--format", "stdhep"])
    assert result.exit_code == 2 and "stdhep" in result.output


def test_cut_flows_as_labelled_histograms(mono_run):
    """Beside the text cut flow, one TH1D per chain: bins labelled by cut, sigma [fb] and its MC error
    as in summary.json."""
    summary = json.loads((mono_run / "summary.json").read_text())
    with uproot.open(mono_run / "events.root") as f:
        for dataset in summary["datasets"]:
            for chain, rows in dataset["cutflow"].items():
                h = f[f"cutflow_{dataset['dataset']}_{chain}"]
                assert h.classname == "TH1D" and chain in h.member("fTitle")
                assert list(h.axis().labels()) == [r["cut"] for r in rows]
                np.testing.assert_allclose(h.values(), [r["sigma_fb"] for r in rows], rtol=1e-12)
                np.testing.assert_allclose(h.errors(), [r["sigma_err_fb"] for r in rows], rtol=1e-12)
