"""Command-line options shared by the commands, declared once, and their parsing.

Only click is imported here: ``mcpgen --help`` builds its text from this module and
:mod:`mcpgen.cli` without loading the numerical stack.
"""

from __future__ import annotations

import math

import click

from .errors import UsageError

__all__ = [
    "card_option",
    "events_option",
    "seed_option",
    "out_option",
    "set_option",
    "workers_option",
    "chunk_option",
    "progress_option",
    "run_options",
    "parse_count",
    "parse_seed",
]

card_option = click.option(
    "--card",
    "card_path",
    metavar="CARD",
    help="A card file, or the name of a card shipped with mcpgen (e.g. sct_3gev).",
)
events_option = click.option("-n", "--events", "n_text", metavar="N", help="Number of events (trials), e.g. 1e6.")
seed_option = click.option(
    "--seed", "seed_text", metavar="S", help="Master seed, a non-negative integer [card: run.seed]."
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a card field, e.g. --set mcp.epsilon=1e-3 (repeatable).",
)
workers_option = click.option(
    "--workers", "workers_text", metavar="K", help="Local worker processes [card: run.workers]."
)
chunk_option = click.option("--chunk-size", "chunk_text", metavar="C", help="Events per chunk [card: run.chunk_size].")
progress_option = click.option(
    "--progress/--no-progress", default=None, help="Progress bar on stderr (default: only on a terminal)."
)


def out_option(default: str | None, help_text: str = "Output directory."):
    """``--out DIR`` with a command's own default (None: the card's ``output.dir``)."""
    return click.option("--out", "out_dir", default=default, metavar="DIR", help=help_text)


def run_options(fn):
    """The options of ``mcpgen run`` (and of the bare ``mcpgen --card ...``)."""
    for option in reversed(
        (
            card_option,
            events_option,
            seed_option,
            out_option(None, "Output directory [card: output.dir]."),
            set_option,
            workers_option,
            chunk_option,
            progress_option,
        )
    ):
        fn = option(fn)
    return fn


def parse_count(text: str, option: str = "-n") -> int:
    """Parse an event count such as ``1e6`` or ``250000``: a whole number >= 1."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(
            f"{option} {text!r} is not a number; give a whole number of events >= 1, e.g. {option} 1e6."
        ) from None
    if not math.isfinite(value) or value != int(value):
        raise UsageError(
            f"{option} {text!r} is not a whole number; give a whole number of events >= 1, e.g. {option} 1e6."
        )
    if value < 1:
        raise UsageError(f"{option} {text!r} must be at least 1 (a whole number of events, e.g. {option} 1e6).")
    return int(value)


def parse_seed(text: str | None) -> int | None:
    """Parse ``--seed``: None (take the card's) or a non-negative integer."""
    if text is None:
        return None
    try:
        seed = int(text)
    except ValueError:
        raise UsageError(f"--seed {text!r} is not an integer; give a non-negative integer, e.g. --seed 1.") from None
    if seed < 0:
        raise UsageError(f"--seed {text!r} is negative; give a non-negative integer, e.g. --seed 1.")
    return seed
