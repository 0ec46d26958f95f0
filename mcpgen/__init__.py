"""mcpgen: Monte Carlo generator and toy detector simulation for millicharged particles.

Stages (each importable on its own): :mod:`generator` (physics processes, beams, ISR),
:mod:`detsim` (tracker, calorimeter), :mod:`analysis` (selections, yields, limits);
this package holds the CLI, cards, RNG seeding, the chunked pipeline and the output.
"""

from __future__ import annotations

from .card import Card, CardError, load_card
from .pipeline import generate_events, run

__all__ = ["Card", "CardError", "load_card", "generate_events", "run", "__version__"]

__version__ = "0.1.0"
