"""Every random-stream key of the detector simulation, in one place.

The detector stages draw uniforms through a ``source(stage, rows, n)`` callable; ``stage`` is a
spawn-key prefix and the engine appends the block number (``mcpgen.rng``: blocks of 4096 events,
so the numbers do not depend on chunking). A stream is fixed by its key AND its number of rows:
changing either changes the random numbers. Keys are tuples of non-negative ints headed by
:data:`DETSIM`; a key followed by ``+ (k,)`` takes the layer (shell) index k.

======================  =================  =====================================================
name                    key                rows (per event)
======================  =================  =====================================================
``LAYER + (k,)``        (3, 1, k)          4: ionization chi, chibar; delta-electrons chi, chibar
``NOISE``               (3, 2)             1 + 3 x slots: count, layer (+ time), phi, z
``SCATTER_GAS + (k,)``  (3, 3, k)          4: Box-Muller u1 chi, chibar; u2 chi, chibar (shell k)
``SCATTER_PIPE``        (3, 4)             4: as ``SCATTER_GAS``, for the beam pipe
``RANDOM_TRIGGER``      (3, 9)             as ``NOISE``, for noise-only (random-trigger) events
``ecl(i, j)``           (3, 100 + i, j)    calorimeter of the monophoton dataset (i, j)
======================  =================  =====================================================

``SCATTER_*`` are drawn only with multiple scattering on, so runs without it keep their numbers.
Noise-hit times reuse the layer draw's conditional uniform (no stream of their own).
"""

from __future__ import annotations

__all__ = ["DETSIM", "LAYER", "NOISE", "SCATTER_GAS", "SCATTER_PIPE", "RANDOM_TRIGGER", "ECL_FIRST", "ecl", "ALL"]

DETSIM = 3  #: = mcpgen.rng.Stage.DETSIM, the head of every detector-simulation key
LAYER = (DETSIM, 1)  #: + (k,): hits of gas layer k
NOISE = (DETSIM, 2)  #: noise hits of the physics events
SCATTER_GAS = (DETSIM, 3)  #: + (k,): multiple-scattering kick in gas shell k
SCATTER_PIPE = (DETSIM, 4)  #: multiple-scattering kick in the beam pipe
RANDOM_TRIGGER = (DETSIM, 9)  #: noise hits of random-trigger events
ECL_FIRST = 100  #: calorimeter streams are (DETSIM, ECL_FIRST + i, j)


def ecl(i: int, j: int) -> tuple:
    """Key of the calorimeter stream of monophoton dataset (i, j)."""
    return (DETSIM, ECL_FIRST + i, j)


#: name -> key prefix of every fixed detsim stream (per-layer ones take + (k,); ECL via :func:`ecl`)
ALL = {
    "LAYER": LAYER,
    "NOISE": NOISE,
    "SCATTER_GAS": SCATTER_GAS,
    "SCATTER_PIPE": SCATTER_PIPE,
    "RANDOM_TRIGGER": RANDOM_TRIGGER,
}
