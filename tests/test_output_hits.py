"""Card ``output.hits`` / ``--hits``: the tracker hits written to events.root (all, found, none)."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest
import uproot
from conftest import CARDS

from mcpgen import load_card, run
from mcpgen.errors import CardError
from mcpgen.options import output_overrides

N = 4000
#: eps = 1e-3: a sample with found and missed events (at the card's 3e-3 nearly all are found)
SETTINGS = ("mcp.epsilon=1e-3", "detector.finder.random_trigger_events=0", "run.seed=7")
FLAGS = ("found_line", "found_circle", "found_boosted", "paper_ionization", "paper_delta")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for mode in ("all", "found", "none"):
        card = load_card(CARDS / "sct_3gev.yaml", (*SETTINGS, *output_overrides((), None, mode)))
        path = tmp_path_factory.mktemp(f"hits_{mode}")
        run(card, N, path, workers=1, chunk_size=1500, progress=False)
        out[mode] = path
    return out


def _tree(path):
    return uproot.open(path / "events.root")["events"]


def test_all_writes_every_hit_as_before(runs):
    tree = _tree(runs["all"])
    assert {"hit_layer", "hit_x", "hit_y", "hit_z", "hit_source", "hit_mech"} <= set(tree.keys())
    events = tree.arrays(["hit_x", "n_hits"])
    assert np.array_equal(ak.to_numpy(ak.num(events.hit_x)), ak.to_numpy(events.n_hits))
    assert json.loads((runs["all"] / "summary.json").read_text())["hits"] == "all"


def test_found_keeps_exactly_the_hits_of_found_events(runs):
    every, found_file = _tree(runs["all"]), _tree(runs["found"])
    assert found_file.num_entries == every.num_entries == N
    flags = every.arrays(FLAGS, library="np")
    found = np.logical_or.reduce([flags[f] for f in FLAGS])
    assert 0 < found.sum() < N  # both kinds of event in the sample
    hit_branches = [k for k in every.keys() if k.startswith("hit_")]
    a, f = every.arrays(hit_branches), found_file.arrays(hit_branches)
    with_hits = np.flatnonzero(ak.to_numpy(ak.num(f.hit_x)) > 0)
    assert np.array_equal(with_hits, np.flatnonzero(found & (ak.to_numpy(ak.num(a.hit_x)) > 0)))
    for name in hit_branches:
        assert ak.all(f[name][found] == a[name][found]), name
    assert ak.sum(ak.num(f.hit_x[~found])) == 0
    # every other branch is the same
    others = [k for k in every.keys() if not k.startswith(("hit_", "nhit_"))]
    for name in others:
        assert np.array_equal(every[name].array(library="np"), found_file[name].array(library="np")), name
    summary = json.loads((runs["found"] / "summary.json").read_text())
    assert summary["hits"] == "found"
    root_summary = uproot.open(runs["found"] / "events.root")["mcpgen_summary"]
    assert json.loads(str(root_summary))["hits"] == "found"


def test_none_writes_no_hit_branches(runs, tmp_path):
    every, none = _tree(runs["all"]), _tree(runs["none"])
    assert not [k for k in none.keys() if k.startswith(("hit_", "nhit_"))]
    assert set(none.keys()) == {k for k in every.keys() if not k.startswith(("hit_", "nhit_"))}
    for name in ("weight", "chi_px", "n_hits", "found_line", "chi_n_hits"):
        assert np.array_equal(every[name].array(library="np"), none[name].array(library="np")), name
    assert json.loads((runs["none"] / "summary.json").read_text())["hits"] == "none"
    from mcpgen.eventfiles import convert_root

    result = convert_root(runs["none"] / "events.root", tmp_path / "events.lhe")
    assert result["n_events"] > 0 and (tmp_path / "events.lhe").stat().st_size > 0


def test_hits_option_and_card_checks():
    assert output_overrides((), None, "none") == ("output.hits=none",)
    assert output_overrides((), None) == ()
    card = load_card(CARDS / "sct_3gev.yaml")
    assert card.output.hits == "all" and card.data["output"]["hits"] == "all"
    with pytest.raises(CardError, match="output.hits"):
        load_card(CARDS / "sct_3gev.yaml", ("output.hits=some",))
    with pytest.raises(CardError, match="output.hits"):
        load_card(CARDS / "stcf_2gev.yaml", ("output.hits=found",))  # no tracker: nothing found
