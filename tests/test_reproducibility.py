"""Same seed -> identical events, whatever the chunk size or the number of workers."""

from __future__ import annotations

import awkward as ak
import numpy as np
import uproot
from conftest import CARDS

from mcpgen import generate_events, load_card, run
from mcpgen.rng import BLOCK_SIZE, uniforms


def test_uniforms_do_not_depend_on_slicing():
    whole = uniforms(5, 0, 0, 3 * BLOCK_SIZE + 17, 3)
    pieces = [
        uniforms(5, 0, a, b, 3) for a, b in [(0, 1000), (1000, BLOCK_SIZE + 1), (BLOCK_SIZE + 1, 3 * BLOCK_SIZE + 17)]
    ]
    np.testing.assert_array_equal(whole, np.concatenate(pieces, axis=1))
    assert not np.array_equal(uniforms(5, 0, 0, 100, 1), uniforms(6, 0, 0, 100, 1))
    assert not np.array_equal(uniforms(5, 0, 0, 100, 1), uniforms(5, 1, 0, 100, 1))


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
