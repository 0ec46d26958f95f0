"""Reproducible random streams: one master seed, a ``SeedSequence`` child per stage and block.

Uniforms are drawn in fixed blocks of :data:`BLOCK_SIZE` events; block ``b`` of stage ``k``
uses ``SeedSequence(seed, spawn_key=(k, b))`` -- exactly the child that
``SeedSequence(seed).spawn`` would give at that position. Every event therefore sees the
same random numbers whatever the chunk size or the number of workers: chunks only decide how
many blocks are evaluated together.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BLOCK_SIZE", "Stage", "resolve_seed", "uniforms"]

BLOCK_SIZE = 4096


class Stage:
    """Stage identifiers: the first element of every spawn key."""

    GENERATOR = 0
    PILOT = 1
    UNWEIGHTING = 2
    DETSIM = 3
    ANALYSIS = 4


def resolve_seed(seed: None | int | np.random.SeedSequence) -> int:
    """Turn ``seed`` (None, an int or a SeedSequence) into the int entropy that is recorded.

    ``None`` draws fresh OS entropy; the returned number reproduces the run.
    """
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.entropy)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
    return int(seed)


def _block(seed: int, stage, block: int, rows: int) -> np.ndarray:
    key = (*stage, block) if isinstance(stage, tuple) else (stage, block)
    sequence = np.random.SeedSequence(seed, spawn_key=key)
    return np.random.Generator(np.random.PCG64(sequence)).random((rows, BLOCK_SIZE))


def uniforms(seed: int, stage, start: int, stop: int, rows: int) -> np.ndarray:
    """Uniforms in [0, 1) for events ``start`` .. ``stop - 1`` of ``stage``: shape (rows, n).

    ``stage`` is an int or a tuple of ints (e.g. ``(Stage.DETSIM, layer)``) heading the spawn key.
    """
    if stop <= start:
        return np.empty((rows, 0))
    first, last = start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE
    blocks = [_block(seed, stage, b, rows) for b in range(first, last + 1)]
    joined = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
    offset = first * BLOCK_SIZE
    return joined[:, start - offset : stop - offset]
