"""Command-line options shared by the commands, declared once, and their parsing.

Only click is imported here: ``mcpgen --help`` builds its text from this module and
:mod:`mcpgen.cli` without loading the numerical stack.
"""

from __future__ import annotations

import math
import os

import click

from .errors import UsageError

__all__ = [
    "MAX_EVENTS",
    "max_local_workers",
    "card_option",
    "events_option",
    "seed_option",
    "out_option",
    "set_option",
    "workers_option",
    "chunk_option",
    "progress_option",
    "executor_option",
    "scheduler_option",
    "run_options",
    "executor_overrides",
    "format_option",
    "event_weights_option",
    "hits_option",
    "HITS_CHOICES",
    "cl_option",
    "FORMAT_CHOICES",
    "output_overrides",
    "parse_cl",
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
#: Event-file formats of ``mcpgen run`` (card ``output.formats``); 'root' is always written
FORMAT_CHOICES = ("root", "lhe", "lhe.gz", "hepmc3", "hepmc3.gz", "hepmc2", "hepmc2.gz")
format_option = click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(FORMAT_CHOICES, case_sensitive=False),
    help="Also write event files: lhe, hepmc3, hepmc2 (+ .gz), repeatable [card: output.formats].",
)
event_weights_option = click.option(
    "--event-weights",
    "event_weights",
    type=click.Choice(("unweighted", "weighted")),
    default=None,
    help="Event files unweighted against the pilot maximum or weighted [card: output.event_weights].",
)
#: Tracker hits written to events.root (card ``output.hits``)
HITS_CHOICES = ("all", "found", "none")
hits_option = click.option(
    "--hits",
    "hits",
    type=click.Choice(HITS_CHOICES),
    default=None,
    help="Tracker hits in events.root: of every event, of events with a found pair, or none [card: output.hits].",
)
cl_option = click.option(
    "--cl",
    "cl_text",
    metavar="CL",
    help="Confidence level of the limits: 90 or 95 (percent) [card: scan.cl].",
)

executor_option = click.option(
    "--executor",
    "executor",
    type=click.Choice(["local", "dask"]),
    default=None,
    help="Where the chunks run: local processes or a dask cluster [card: run.executor].",
)
scheduler_option = click.option(
    "--scheduler",
    "scheduler",
    metavar="ADDRESS",
    default=None,
    help="dask scheduler to connect to, e.g. tcp://host:8786 (implies --executor dask; without it a "
    "local dask cluster of --workers processes starts) [card: run.scheduler].",
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
            format_option,
            event_weights_option,
            hits_option,
            executor_option,
            scheduler_option,
        )
    ):
        fn = option(fn)
    return fn


#: Events of one run or sample: 1e10 events are about a day at 10^5 events/s on one core.
MAX_EVENTS = 10**10


def max_local_workers() -> int:
    """Local worker processes a run may start: 4 per core of this machine (at least 8); more
    only multiply the memory of the chunks in flight."""
    return max(8, 4 * (os.cpu_count() or 1))


def _count_limit(option: str) -> int:
    if option == "--workers":
        return max_local_workers()
    if option == "--chunk-size":
        return 100_000_000
    return MAX_EVENTS


def parse_count(text: str, option: str = "-n") -> int:
    """Parse an event count such as ``1e6`` or ``250000``: a whole number >= 1 (and at most
    :data:`MAX_EVENTS`, :func:`max_local_workers` for ``--workers``, 1e8 for ``--chunk-size``)."""
    if isinstance(text, str) and len(text) > 40:
        raise UsageError(f"{option} {text[:20]!r}... is not a count; give a whole number >= 1, e.g. {option} 1e6.")
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
    limit = _count_limit(option)
    if value > limit:
        raise UsageError(f"{option} {text!r} is too large; at most {limit:.4g} on this machine.")
    return int(value)


def parse_seed(text: str | None) -> int | None:
    """Parse ``--seed``: None (take the card's) or a non-negative integer."""
    if text is None:
        return None
    if len(text) > 40:
        raise UsageError(f"--seed {text[:20]!r}... is too long; give a non-negative integer below 2**128.")
    try:
        seed = int(text)
    except ValueError:
        raise UsageError(f"--seed {text!r} is not an integer; give a non-negative integer, e.g. --seed 1.") from None
    if seed < 0:
        raise UsageError(f"--seed {text!r} is negative; give a non-negative integer, e.g. --seed 1.")
    return seed


def output_overrides(formats, event_weights, hits=None) -> tuple[str, ...]:
    """Card overrides of ``--format`` (repeatable), ``--event-weights`` and ``--hits``."""
    out = [] if hits is None else [f"output.hits={hits}"]
    if formats:
        out.append("output.formats=[" + ", ".join(dict.fromkeys(f.lower() for f in formats)) + "]")
    if event_weights:
        out.append(f"output.event_weights={event_weights}")
    return tuple(out)


def parse_cl(text: str | None) -> float | None:
    """Parse ``--cl``: None (the card's), 90 or 95 (percent; 0.90 and 0.95 are accepted too)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--cl {text!r} is not a number; give 90 or 95 (percent).") from None
    if value < 1:
        value *= 100
    if value not in (90.0, 95.0):
        raise UsageError(f"--cl {text!r}: the confidence level must be 90 or 95 (percent).")
    return value / 100


def executor_overrides(executor: str | None, scheduler: str | None) -> list[str]:
    """``--executor`` / ``--scheduler`` as card overrides (``run.executor``, ``run.scheduler``);
    a scheduler address implies the dask executor."""
    out = []
    if scheduler is not None:
        if executor == "local":
            raise UsageError(f"--scheduler {scheduler!r} needs the dask executor; drop --executor local.")
        executor = "dask"
        out.append(f"run.scheduler={scheduler}")
    if executor is not None:
        out.append(f"run.executor={executor}")
    return out
