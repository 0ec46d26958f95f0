"""Reproducible random streams: one master seed, a ``SeedSequence`` child per stream and block.

Uniforms are drawn in fixed blocks of :data:`BLOCK_SIZE` events; block ``b`` of a stream with key
``k = (k0, k1, ...)`` uses ``SeedSequence(seed, spawn_key=(*k, b))``. Every event therefore sees
the same random numbers whatever the chunk size or the number of workers: chunks only decide how
many blocks are evaluated together.

Every stream of the program has its key here (:class:`Streams`); nothing else derives seeds.
The detector simulation's own keys (one per layer, noise, scattering, random trigger, the
calorimeter of a dataset) are listed in :mod:`detsim.streams`, which this registry uses; detsim
hands them to the ``source`` callables built by :func:`block_source`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from detsim import streams as detsim_streams

__all__ = ["BLOCK_SIZE", "Stage", "Stream", "Streams", "resolve_seed", "uniforms", "block_source"]

BLOCK_SIZE = 4096


class Stage(IntEnum):
    """The first element of every spawn key."""

    GENERATOR = 0
    PILOT = 1
    UNWEIGHTING = 2
    DETSIM = 3
    ANALYSIS = 4


assert Stage.DETSIM == detsim_streams.DETSIM  # one numbering of the stages


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


def _key(stream) -> tuple[int, ...]:
    if isinstance(stream, Stream):
        return stream.key
    return tuple(int(k) for k in stream) if isinstance(stream, tuple) else (int(stream),)


def _block(seed: int, key: tuple[int, ...], block: int, rows: int) -> np.ndarray:
    sequence = np.random.SeedSequence(seed, spawn_key=(*key, block))
    return np.random.Generator(np.random.PCG64(sequence)).random((rows, BLOCK_SIZE))


def uniforms(seed: int, stream, start: int, stop: int, rows: int) -> np.ndarray:
    """Uniforms in [0, 1) for events ``start`` .. ``stop - 1`` of ``stream``: shape (rows, n).

    ``stream`` is a :class:`Stream`, an int or a tuple of ints heading the spawn key (e.g.
    ``(Stage.DETSIM, 1, layer)``).
    """
    if stop <= start:
        return np.empty((rows, 0))
    key = _key(stream)
    first, last = start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE
    blocks = [_block(seed, key, b, rows) for b in range(first, last + 1)]
    joined = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
    offset = first * BLOCK_SIZE
    return joined[:, start - offset : stop - offset]


@dataclass(frozen=True)
class Stream:
    """A named random stream: the head of the spawn key of its blocks."""

    key: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "key", tuple(int(k) for k in self.key))

    def uniforms(self, seed: int, start: int, stop: int, rows: int) -> np.ndarray:
        """Uniforms of events ``start`` .. ``stop - 1``: shape (rows, stop - start)."""
        return uniforms(seed, self.key, start, stop, rows)


def block_source(seed: int, start: int, stop: int, *, keep=None, prefix: tuple[int, ...] = ()) -> Callable:
    """A detector-stage ``source(stage, rows, n)`` for events ``start`` .. ``stop - 1``.

    ``stage`` is the key the detector asks for (e.g. ``(Stage.DETSIM, 1, layer)``); ``prefix``
    moves the whole detector stage into a separate stream family (validation samples); ``keep``
    (indices into the chunk) selects the events that survived unweighting, so each event keeps the
    uniforms of its trial index.
    """

    def source(stage, rows, n):
        u = uniforms(seed, (*prefix, *_key(stage)), start, stop, rows)
        return u if keep is None else u[:, keep]

    return source


#: Sub-stream codes (second element of a key) of the stream families below.
_DATASET = detsim_streams.ECL_FIRST  # monophoton datasets: (stage, 100 + point, process)
_SCAN = 200  # scans: (stage, 200, point, mass)
_VALIDATE = 300  # validation samples: (stage, 300, sample)
_EVENT_FILES = 900  # event files (LHE / HepMC): (stage, 900[, point, process])


class Streams:
    """The registry of every random stream mcpgen draws from (keys are part of the output
    format: changing one changes the events of a given seed).

    * ``generator`` / ``pilot`` / ``unweighting``: the chi_pair run (keys ``(0,)``, ``(1,)``,
      ``(2,)``); its detector stage draws from the ``(3, ...)`` keys of :mod:`detsim.streams`
      (the random trigger from ``detsim.streams.RANDOM_TRIGGER``).
    * :meth:`dataset`: monophoton dataset ``(point, process)`` -- generator ``(0, 100 + point,
      process)`` and calorimeter ``(3, 100 + point, process)``.
    * :meth:`scan`: a scan sample of collider point ``point`` and mass index ``mass``.
    * :meth:`validation`: an independent sample of the validation table, numbered by ``sample``.
    * ``final_state`` / ``event_unweighting``: the event files (LHE / HepMC) of a chi_pair run or
      of a converted ``events.root`` tree -- the uniforms of the full final state (νν̄ flavour and
      angles, ``generator.final_state``) and of the hit-or-miss unweighting against the pilot
      maximum, keyed by entry number (keys ``(0, 900)``, ``(2, 900)``); :meth:`event_files` gives
      the same three streams (pilot too) for monophoton dataset ``(point, process)``.

    Detector stages with their own key families (:meth:`dataset`, :meth:`scan`, :meth:`validation`)
    hand :func:`block_source` the detector stream's key as ``prefix``.
    """

    generator = Stream((Stage.GENERATOR,))
    pilot = Stream((Stage.PILOT,))
    unweighting = Stream((Stage.UNWEIGHTING,))
    final_state = Stream((Stage.GENERATOR, _EVENT_FILES))
    event_unweighting = Stream((Stage.UNWEIGHTING, _EVENT_FILES))

    @staticmethod
    def dataset(point: int, process: int) -> tuple[Stream, Stream]:
        """(generator, calorimeter) streams of monophoton dataset (point, process)."""
        return Stream((Stage.GENERATOR, _DATASET + point, process)), Stream(detsim_streams.ecl(point, process))

    @staticmethod
    def scan(point: int, mass: int) -> tuple[Stream, Stream]:
        """(generator, detector) streams of the scan sample at collider point ``point``, mass ``mass``."""
        return Stream((Stage.GENERATOR, _SCAN, point, mass)), Stream((Stage.DETSIM, _SCAN, point, mass))

    @staticmethod
    def validation(sample: int) -> tuple[Stream, Stream]:
        """(generator, detector) streams of validation sample ``sample``; the detector stream's key
        also prefixes the tracker's own keys (``block_source(prefix=...)``)."""
        return Stream((Stage.GENERATOR, _VALIDATE, sample)), Stream((Stage.DETSIM, _VALIDATE, sample))

    @staticmethod
    def event_files(point: int, process: int) -> tuple[Stream, Stream, Stream]:
        """(final state, unweighting, pilot) streams of the event files of monophoton dataset
        (point, process)."""
        key = (_EVENT_FILES, point, process)
        return (
            Stream((Stage.GENERATOR, *key)),
            Stream((Stage.UNWEIGHTING, *key)),
            Stream((Stage.PILOT, *key)),
        )
