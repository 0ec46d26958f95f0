"""The bodies of the ``mcpgen`` commands: load the card -> compute (files are written on the way)
-> print. Loaded by :mod:`mcpgen.cli` when a command runs."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import click

from .errors import UsageError
from .options import (
    card_option,
    cl_option,
    events_option,
    executor_option,
    executor_overrides,
    out_option,
    output_overrides,
    parse_cl,
    parse_count,
    parse_seed,
    run_options,
    scheduler_option,
    seed_option,
    set_option,
    workers_option,
)

# Each command loads what it needs when it runs (importlib; a run never loads the limits, plots or
# event-file writers of the other commands, and 'mcpgen run --help' loads click alone): the
# start-up of 'mcpgen run' is the cost of its chain.

__all__ = ["run_command", "scan_command", "validate_command", "figure_command", "convert_command"]


def _card(card_path: str | None, overrides):
    if card_path is None:
        raise UsageError(
            "no card given; run e.g. 'mcpgen --card sct_3gev -n 1e6' (a card file or a bundled card name)."
        )
    return importlib.import_module("mcpgen.build").load_card(card_path, overrides)


def _output():
    """:mod:`mcpgen.output` (uproot, awkward), loaded when a command writes, not for its help."""
    return importlib.import_module("mcpgen.output")


@click.command("run")
@run_options
def run_command(
    card_path,
    n_text,
    seed_text,
    out_dir,
    overrides,
    workers_text,
    chunk_text,
    progress,
    formats=(),
    event_weights=None,
    executor=None,
    scheduler=None,
    hits=None,
):
    """Generate events from a card: events.root and summary.json (and LHE / HepMC files with --format)."""
    card = _card(
        card_path,
        (*overrides, *output_overrides(formats, event_weights, hits), *executor_overrides(executor, scheduler)),
    )
    n_events = parse_count(n_text) if n_text is not None else card.run.n_events
    seed = parse_seed(seed_text)
    workers = parse_count(workers_text, "--workers") if workers_text else card.run.workers
    chunk = parse_count(chunk_text, "--chunk-size") if chunk_text else None
    run = importlib.import_module("mcpgen.pipeline").run
    with _output().run_directory(out_dir or card.output.dir, "run") as out:
        summary = run(card, n_events, out, seed=seed, workers=workers, chunk_size=chunk, progress=progress)
    click.echo(summary.format())


@click.command("scan")
@card_option
@out_option("scan_out")
@events_option
@seed_option
@set_option
@workers_option
@executor_option
@scheduler_option
@cl_option
def scan_command(
    card_path, out_dir, n_text, seed_text, overrides, workers_text=None, executor=None, scheduler=None, cl_text=None
):
    """(m, eps) scan with eps reweighting: scan.json, scan.root, pyhf workspaces and a contour plot."""
    workers = [f"run.workers={parse_count(workers_text, '--workers')}"] if workers_text else []
    cl = parse_cl(cl_text)
    cl_set = [] if cl is None else [f"scan.cl={round(100 * cl)}"]
    card = _card(card_path, (*overrides, *workers, *executor_overrides(executor, scheduler), *cl_set))
    n = parse_count(n_text) if n_text else None
    seed = parse_seed(seed_text)
    if card.scan is None:
        raise UsageError(f"card {card.source} has no 'scan' section (mass and epsilon grids)")
    run_scan = importlib.import_module("mcpgen.scan").run_scan
    with _output().run_directory(out_dir, "scan") as out:
        result = run_scan(card, out, n, seed)
    click.echo(result.format())


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
    run_validate = importlib.import_module("mcpgen.validate").run_validate
    with _output().run_directory(out_dir, "validate") as out:
        result = run_validate(card, out, n, parse_seed(seed_text))
    click.echo(result.format())


@click.command("figure")
@click.argument("name")
@out_option("figures")
@events_option
@click.option(
    "--workers",
    "workers_text",
    metavar="K",
    help="Worker processes of the local dask cluster (with --executor dask and no --scheduler).",
)
@executor_option
@scheduler_option
def figure_command(name, out_dir, n_text, workers_text=None, executor=None, scheduler=None):
    """Regenerate a paper figure: g1 g2 g3 (Gorbunov et al.), l3 l5 l6 l8 (Liang et al.)."""
    figures = importlib.import_module("mcpgen.figures")
    n = parse_count(n_text) if n_text else None
    workers = parse_count(workers_text, "--workers") if workers_text else 1
    executor = "dask" if scheduler is not None else (executor or "local")
    if name not in figures.FIGURES:
        raise UsageError(f"unknown figure {name!r}; allowed: {', '.join(figures.FIGURES)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty contours / all-nan masses
        files = figures.make_figure(
            name, _output().prepare_dir(out_dir), n, executor=executor, scheduler=scheduler, workers=workers
        )
    click.echo(f"figure {name}: {files}")


@click.command("convert")
@click.argument("source", metavar="EVENTS_ROOT")
@click.argument("destination", metavar="OUTPUT")
@click.option(
    "--tree", default=None, help="Tree to convert (default: events, or the only tree; monophoton: a dataset)."
)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(("lhe", "hepmc3", "hepmc2"), case_sensitive=False),
    default=None,
    help="Output format (default: from the name: .lhe, .hepmc/.hepmc3, .hepmc2, each optionally .gz).",
)
@click.option("--chi-pdg", "chi_pdg", type=int, default=None, help="PDG id of chi (default 52 spin 1/2, 51 spin 0).")
def convert_command(source, destination, tree, format_name, chi_pdg):
    """Convert a tree of an mcpgen events.root into LHE or HepMC (weights as in the tree)."""
    if not Path(source).is_file():
        raise UsageError(f"no such file {source!r}; give an events.root written by 'mcpgen run'.")
    convert_root = importlib.import_module("mcpgen.eventfiles").convert_root
    _output().prepare_dir(Path(destination).parent)
    try:
        result = convert_root(source, destination, format=format_name, tree=tree, chi_pdg=chi_pdg)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    click.echo(
        f"{result['process']} ({result['tree']}): {result['n_events']} events, sigma = "
        f"{result['cross_section_pb']:.6g} +- {result['cross_section_err_pb']:.2g} pb -> {result['path']}"
    )
