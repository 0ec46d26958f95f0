"""Same seed -> identical events, whatever the chunk size or the number of workers."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
from conftest import CARDS

from mcpgen import generate_events, load_card, run
from mcpgen.rng import BLOCK_SIZE, block_states, uniforms


def test_uniforms_do_not_depend_on_slicing():
    whole = uniforms(5, 0, 0, 3 * BLOCK_SIZE + 17, 3)
    pieces = [
        uniforms(5, 0, a, b, 3) for a, b in [(0, 1000), (1000, BLOCK_SIZE + 1), (BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 17)]
    ]
    np.testing.assert_array_equal(whole, np.concatenate(pieces, axis=1))
    assert not np.array_equal(uniforms(5, 0, 0, 100, 1), uniforms(6, 0, 0, 100, 1))
    assert not np.array_equal(uniforms(5, 0, 0, 100, 1), uniforms(5, 1, 0, 100, 1))


@pytest.mark.parametrize(
    "seed, key",
    [
        (0, (0,)),
        (1, (3, 1, 5)),
        (2**32 + 7, (2, 900)),
        (123456789012345678901234567890, (3, 200, 4, 7)),
        (5, (3, 2**40)),
    ],
)
def test_block_seeding_is_numpys_seedsequence(seed, key):
    """The cheap per-block seeding reproduces Generator(PCG64(SeedSequence(seed, spawn_key=(*key, b))))
    bit for bit: the state, and the uniforms of whole and cut blocks."""
    blocks = [0, 1, 2, 4095, 2**31 + 3, 2**32 - 1]
    for b, (state, inc) in zip(blocks, block_states(seed, key, blocks), strict=True):
        reference = np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(*key, b))).state["state"]
        assert (state, inc) == (reference["state"], reference["inc"])
    for start, stop, rows in ((0, 3 * BLOCK_SIZE, 1), (5, 2 * BLOCK_SIZE + 17, 3)):
        first, last = start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE
        expected = np.concatenate(
            [
                np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(*key, b)))).random(
                    (rows, BLOCK_SIZE)
                )
                for b in range(first, last + 1)
            ],
            axis=1,
        )[:, start - first * BLOCK_SIZE : stop - first * BLOCK_SIZE]
        assert np.array_equal(uniforms(seed, key, start, stop, rows), expected)


def test_chunk_size_does_not_change_events():
    card = load_card(CARDS / "sct_3gev.yaml")
    a = generate_events(card.process, 200_000, seed=1, chunk_size=10_000)
    b = generate_events(card.process, 200_000, seed=1, chunk_size=100_000)
    assert ak.array_equal(a, b)
    c = generate_events(card.process, 200_000, seed=2, chunk_size=100_000)
    assert not ak.array_equal(a, c)


def _read(path):
    with uproot.open(path) as f:
        return f["events"].arrays()


def test_root_output_identical_for_chunks_and_workers(tmp_path):
    card = load_card(CARDS / "sct_3gev.yaml", ["run.unweighted=true"])
    run(card, 120_000, tmp_path / "a", seed=4, chunk_size=10_000, progress=False)
    run(card, 120_000, tmp_path / "b", seed=4, chunk_size=100_000, progress=False)
    run(card, 120_000, tmp_path / "c", seed=4, chunk_size=7_777, workers=2, progress=False)
    a, b, c = (_read(tmp_path / d / "events.root") for d in "abc")
    assert set(a.fields) == set(b.fields) == set(c.fields)
    assert "hit_x" in a.fields  # the detector stage ran (hits are jagged branches)
    assert ak.sum(ak.num(a.hit_x)) > 0
    for name in a.fields:
        assert ak.array_equal(a[name], b[name]), name
        assert ak.array_equal(a[name], c[name]), name


def test_monophoton_trees_identical_for_chunks_and_workers(tmp_path):
    """The monophoton chain through the same engine: every tree identical for any chunking."""
    card = load_card(CARDS / "belle2.yaml", ["processes=[{name: nunu_gamma}, {name: eeg}]"])
    run(card, 9_000, tmp_path / "a", seed=2, chunk_size=9_000, progress=False)
    run(card, 9_000, tmp_path / "b", seed=2, chunk_size=2_500, workers=2, progress=False)
    with uproot.open(tmp_path / "a" / "events.root") as fa, uproot.open(tmp_path / "b" / "events.root") as fb:
        for tree in ("y4s_nunu_gamma", "y4s_eeg"):
            a, b = fa[tree].arrays(), fb[tree].arrays()
            assert a.fields == b.fields and "pass_low_mass_low_mass" in a.fields
            for name in a.fields:
                assert ak.array_equal(a[name], b[name]), (tree, name)


def test_chunk_statistics_add_up():
    """ChunkStats of two halves add to those of the whole (weight sums, cut flows, counts)."""
    from analysis.cutflow import CutFlow, WeightSum
    from mcpgen.engine import ChunkStats

    rng = np.random.default_rng(1)
    w = rng.exponential(size=1000)
    masks = {"c": [("a", w > 0.5), ("b", w < 2.0)]}

    def stats(sl):
        flow = CutFlow.from_masks({c: [(n, m[sl]) for n, m in cuts] for c, cuts in masks.items()}, w[sl])
        return ChunkStats(len(w[sl]), len(w[sl]), 0, WeightSum.of(w[sl]), flow)

    whole, halves = stats(slice(None)), ChunkStats() + stats(slice(0, 400)) + stats(slice(400, None))
    assert halves.n_trials == whole.n_trials == 1000
    assert halves.total.sum_w == pytest.approx(whole.total.sum_w, rel=1e-14)
    for (name, a), (_, b) in zip(halves.cutflow.chains["c"], whole.cutflow.chains["c"], strict=True):
        assert a.count == b.count and a.sum_w == pytest.approx(b.sum_w, rel=1e-14), name
    rows = whole.cutflow.rows(whole.total, 1000, 1e3)["c"]
    assert [r.cut for r in rows] == ["generated", "a", "b"]
    assert rows[-1].sigma_fb == pytest.approx(1e3 * w[(w > 0.5) & (w < 2.0)].sum() / 1000, rel=1e-12)


def test_flatten_names_and_layouts():
    """One flattening for both chains: nested records joined with '_', the detector level
    transparent, vector properties and renamed columns, optional fields left out."""
    from generator.kinematics import momentum4d
    from mcpgen.output import BranchLayout, flatten

    n = 3
    p = momentum4d(np.ones(n), np.zeros(n), np.ones(n), np.full(n, 2.0))
    hits = ak.unflatten(ak.zip({"x": np.arange(4.0), "layer": np.arange(4, dtype=np.int8)}), [2, 0, 2])
    det = ak.zip({"hit": hits, "found_line": np.array([True, False, True])}, depth_limit=1)
    flags = ak.zip({"bbg": ak.zip({"detected": np.ones(n, bool)})}, depth_limit=1)
    chunk = ak.zip({"gamma": p, "weight": np.ones(n), "detector": det, "pass": flags}, depth_limit=1)
    everything = flatten(chunk)
    assert list(everything) == ["gamma_px", "gamma_py", "gamma_pz", "gamma_E", "weight", "hit_x", "hit_layer"] + [
        "found_line",
        "pass_bbg_detected",
    ]
    assert isinstance(everything["weight"], np.ndarray) and not isinstance(everything["hit_x"], np.ndarray)
    chosen = flatten(
        chunk,
        BranchLayout(columns=(("g_theta", "gamma.theta"), ("beta_x", "beta_x"), ("w", "weight")), expand=("pass",)),
    )
    assert list(chosen) == ["g_theta", "w", "pass_bbg_detected"]
    np.testing.assert_allclose(chosen["g_theta"], np.pi / 4)
    assert "pass_bbg_detected" not in flatten(chunk, BranchLayout(skip=("pass",)))
