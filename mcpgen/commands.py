"""The bodies of the ``mcpgen`` commands: load the card -> compute (files are written on the way)
-> print. Loaded by :mod:`mcpgen.cli` when a command runs."""

from __future__ import annotations

import warnings

import click

from .build import load_card
from .errors import UsageError
from .figures import FIGURES, make_figure
from .options import (
    card_option,
    events_option,
    out_option,
    parse_count,
    parse_seed,
    run_options,
    seed_option,
    set_option,
)
from .output import prepare_dir
from .pipeline import run
from .scan import run_scan
from .validate import run_validate

__all__ = ["run_command", "scan_command", "validate_command", "figure_command"]


def _card(card_path: str | None, overrides):
    if card_path is None:
        raise UsageError(
            "no card given; run e.g. 'mcpgen --card sct_3gev -n 1e6' (a card file or a bundled card name)."
        )
    return load_card(card_path, overrides)


@click.command("run")
@run_options
def run_command(card_path, n_text, seed_text, out_dir, overrides, workers_text, chunk_text, progress):
    """Generate events from a card: events.root and summary.json."""
    card = _card(card_path, overrides)
    n_events = parse_count(n_text) if n_text is not None else card.run.n_events
    seed = parse_seed(seed_text)
    workers = parse_count(workers_text, "--workers") if workers_text else card.run.workers
    chunk = parse_count(chunk_text, "--chunk-size") if chunk_text else None
    out = prepare_dir(out_dir or card.output.dir)
    summary = run(card, n_events, out, seed=seed, workers=workers, chunk_size=chunk, progress=progress)
    click.echo(summary.format())


@click.command("scan")
@card_option
@out_option("scan_out")
@events_option
@seed_option
@set_option
def scan_command(card_path, out_dir, n_text, seed_text, overrides):
    """(m, eps) scan with eps reweighting: scan.json, scan.root and a contour plot."""
    card = _card(card_path, overrides)
    n = parse_count(n_text) if n_text else None
    seed = parse_seed(seed_text)
    if card.scan is None:
        raise UsageError(f"card {card.source} has no 'scan' section (mass and epsilon grids)")
    click.echo(run_scan(card, prepare_dir(out_dir), n, seed).format())


@click.command("validate")
@card_option
@out_option("validation")
@events_option
@seed_option
@set_option
def validate_command(card_path, out_dir, n_text, seed_text, overrides):
    """MC vs every analytic approximation of the papers: table, JSON and plots."""
    card = _card(card_path, overrides)
    n = parse_count(n_text) if n_text else None
    click.echo(run_validate(card, prepare_dir(out_dir), n, parse_seed(seed_text)).format())


@click.command("figure")
@click.argument("name")
@out_option("figures")
@events_option
def figure_command(name, out_dir, n_text):
    """Regenerate a paper figure: g1 g2 g3 (Gorbunov et al.), l3 l5 l6 l8 (Liang et al.)."""
    n = parse_count(n_text) if n_text else None
    if name not in FIGURES:
        raise UsageError(f"unknown figure {name!r}; allowed: {', '.join(FIGURES)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty contours / all-nan masses
        files = make_figure(name, prepare_dir(out_dir), n)
    click.echo(f"figure {name}: {files}")
