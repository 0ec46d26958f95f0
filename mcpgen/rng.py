"""Reproducible random streams: one master seed, a ``SeedSequence`` child per stream and block.

Uniforms are drawn in fixed blocks of :data:`BLOCK_SIZE` events; block ``b`` of a stream with key
``k = (k0, k1, ...)`` uses ``SeedSequence(seed, spawn_key=(*k, b))``. Every event therefore sees
the same random numbers whatever the chunk size or the number of workers: chunks only decide how
many blocks are evaluated together.

The blocks are seeded without building objects (:func:`block_states`): numpy's ``SeedSequence``
hash (the stream's own words hashed once and cached, the block's word mixed in last) and PCG64's
seeding step in Python integers, then one reused generator per thread is set to each block's
state -- bit for bit the generator
``Generator(PCG64(SeedSequence(seed, spawn_key=(*k, b))))`` (checked in
``tests/test_reproducibility.py``), at a fraction of the cost of building three objects per block.
Uniforms are written straight into the returned array.

Every stream of the program has its key here (:class:`Streams`); nothing else derives seeds.
The detector simulation's own keys (one per layer, noise, scattering, random trigger, the
calorimeter of a dataset) are listed in :mod:`detsim.streams`, which this registry uses; detsim
hands them to the ``source`` callables built by :func:`block_source`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from detsim import streams as detsim_streams

__all__ = ["BLOCK_SIZE", "Stage", "Stream", "Streams", "resolve_seed", "uniforms", "block_source", "block_states"]

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


# numpy's SeedSequence constants (numpy/random/bit_generator.pyx, after M. E. O'Neill's seed_seq_fe)
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_M32 = 0xFFFFFFFF
# PCG64: 128-bit LCG multiplier of pcg_setseq_128 (pcg-random.org, numpy/random/src/pcg64)
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_M128 = (1 << 128) - 1


def _words(value: int) -> list[int]:
    """A non-negative int as little-endian 32-bit words ([0] for 0), as SeedSequence splits it."""
    out = [value & _M32]
    value >>= 32
    while value:
        out.append(value & _M32)
        value >>= 32
    return out


def _hashmix(value: int, const: int) -> tuple[int, int]:
    """SeedSequence ``hashmix``: (hashed value, next hash constant)."""
    value ^= const
    const = (const * _MULT_A) & _M32
    value = (value * const) & _M32
    return value ^ (value >> 16), const


def _mix(x: int, y: int) -> int:
    result = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _M32
    return result ^ (result >> 16)


@functools.lru_cache(maxsize=1024)
def _pool_head(seed: int, key: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """SeedSequence(seed, spawn_key=(*key, b)) entropy pool after every word but the block's
    (the same for all blocks of a stream) and the hash constant at that point."""
    run = _words(seed)
    run += [0] * max(0, _POOL_SIZE - len(run))  # a spawn key pads the run entropy to the pool size
    entropy = run + [w for k in key for w in _words(k)]  # the block word follows: >= 5 words in all
    const = _INIT_A
    pool = []
    for i in range(_POOL_SIZE):
        value, const = _hashmix(entropy[i], const)
        pool.append(value)
    for i_src in range(_POOL_SIZE):
        for i_dst in range(_POOL_SIZE):
            if i_src != i_dst:
                value, const = _hashmix(pool[i_src], const)
                pool[i_dst] = _mix(pool[i_dst], value)
    for word in entropy[_POOL_SIZE:]:
        for i_dst in range(_POOL_SIZE):
            value, const = _hashmix(word, const)
            pool[i_dst] = _mix(pool[i_dst], value)
    return tuple(pool), const


def block_states(seed: int, key: tuple[int, ...], blocks) -> list[tuple[int, int]]:
    """PCG64 (state, inc) of ``PCG64(SeedSequence(seed, spawn_key=(*key, b)))`` for every block
    ``b`` of ``blocks`` (0 <= b < 2**32): numpy's SeedSequence hash (the pool of the stream's own
    words is cached, the block's word is mixed in last), its ``generate_state(4, uint64)``, then
    PCG64's seeding step ``pcg_setseq_128_srandom``."""
    head, head_const = _pool_head(int(seed), tuple(int(k) for k in key))
    states = []
    for b in blocks:
        b = int(b)
        if not 0 <= b < 1 << 32:
            raise ValueError(f"block numbers must be in [0, 2**32), got {b}")
        pool, const = list(head), head_const
        for i_dst in range(_POOL_SIZE):
            value, const = _hashmix(b, const)
            pool[i_dst] = _mix(pool[i_dst], value)
        hash_const, words = _INIT_B, []
        for i in range(8):  # generate_state(4, uint64): 8 uint32 words, paired little-endian
            value = pool[i % _POOL_SIZE] ^ hash_const
            hash_const = (hash_const * _MULT_B) & _M32
            value = (value * hash_const) & _M32
            words.append(value ^ (value >> 16))
        v = [words[2 * j] | (words[2 * j + 1] << 32) for j in range(4)]
        initstate, initseq = (v[0] << 64) | v[1], (v[2] << 64) | v[3]
        inc = ((initseq << 1) | 1) & _M128
        states.append((((inc + initstate) * _PCG_MULT + inc) & _M128, inc))  # state 0 -> step, += initstate, step
    return states


_LOCAL = threading.local()


def _generator() -> np.random.Generator:
    """This thread's reusable generator (its PCG64 state is set per block)."""
    gen = getattr(_LOCAL, "generator", None)
    if gen is None:
        gen = _LOCAL.generator = np.random.Generator(np.random.PCG64())
    return gen


def _set_state(gen: np.random.Generator, state: int, inc: int) -> None:
    gen.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": inc},
        "has_uint32": 0,
        "uinteger": 0,
    }


def uniforms(seed: int, stream, start: int, stop: int, rows: int) -> np.ndarray:
    """Uniforms in [0, 1) for events ``start`` .. ``stop - 1`` of ``stream``: shape (rows, n).

    ``stream`` is a :class:`Stream`, an int or a tuple of ints heading the spawn key (e.g.
    ``(Stage.DETSIM, 1, layer)``). Block ``b`` holds the (rows, BLOCK_SIZE) array drawn row by row
    from its generator; a block cut by ``start`` or ``stop`` is drawn whole and sliced.
    """
    if stop <= start:
        return np.empty((rows, 0))
    key = _key(stream)
    first, last = start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE
    out = np.empty((rows, stop - start))
    gen = _generator()
    for b, (state, inc) in zip(range(first, last + 1), block_states(seed, key, range(first, last + 1)), strict=True):
        _set_state(gen, state, inc)
        lo = b * BLOCK_SIZE
        a, z = max(lo, start), min(lo + BLOCK_SIZE, stop)
        if z - a == BLOCK_SIZE:
            for r in range(rows):  # the rows of a C-ordered (rows, BLOCK_SIZE) draw, one after the other
                gen.random(out=out[r, a - start : z - start])
        else:
            out[:, a - start : z - start] = gen.random((rows, BLOCK_SIZE))[:, a - lo : z - lo]
    return out


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
