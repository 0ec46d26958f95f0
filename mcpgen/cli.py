"""Command line: ``mcpgen --card CARD -n N [--seed S] [--out DIR] [--set a.b=v] [--workers K]``.

Bad input (card, overrides, -n, --seed) is reported in one paragraph on stderr with exit
code 2, never with a traceback.
"""

from __future__ import annotations

import contextlib
import math
import sys

import click
import numpy as np

from .card import CardError, load_card

__all__ = ["main", "parse_count"]


class InputError(click.ClickException):
    exit_code = 2

    def show(self, file=None):
        click.echo(f"mcpgen: error: {self.message}", err=True)


def parse_count(text: str, option: str = "-n") -> int:
    """Parse an event count such as ``1e6`` or ``250000``: a whole number >= 1."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(
            f"{option} {text!r} is not a number; give a whole number of events >= 1, e.g. {option} 1e6."
        ) from None
    if not math.isfinite(value) or value != int(value):
        raise InputError(
            f"{option} {text!r} is not a whole number; give a whole number of events >= 1, e.g. {option} 1e6."
        )
    if value < 1:
        raise InputError(f"{option} {text!r} must be at least 1 (a whole number of events, e.g. {option} 1e6).")
    return int(value)


def _parse_seed(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        seed = int(text)
    except ValueError:
        raise InputError(f"--seed {text!r} is not an integer; give a non-negative integer, e.g. --seed 1.") from None
    if seed < 0:
        raise InputError(f"--seed {text!r} is negative; give a non-negative integer, e.g. --seed 1.")
    return seed


def _load(card_path: str, overrides) -> object:
    """Load a card; a bad card becomes a one-line CLI error."""
    try:
        return load_card(card_path, overrides)
    except CardError as exc:
        raise InputError(str(exc)) from None


@contextlib.contextmanager
def _user_errors(out_dir):
    """Bad input (ValueError) and unwritable output (OSError) as one-line CLI errors."""
    try:
        yield
    except ValueError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"cannot write output to {str(out_dir)!r}: {exc.strerror or exc}.") from None


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--card", "card_path", metavar="CARD", help="YAML run card, e.g. cards/sct_3gev.yaml.")
@click.option("-n", "--events", "n_text", metavar="N", help="Number of events (trials), e.g. 1e6 [card: run.n_events].")
@click.option("--seed", "seed_text", metavar="S", help="Master seed, a non-negative integer [card: run.seed].")
@click.option("--out", "out_dir", metavar="DIR", help="Output directory [card: output.dir].")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a card field, e.g. --set mcp.epsilon=1e-3 (repeatable).",
)
@click.option("--workers", "workers_text", metavar="K", help="Local worker processes [card: run.workers].")
@click.option("--chunk-size", "chunk_text", metavar="C", help="Events per chunk [card: run.chunk_size].")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: only on a terminal).")
@click.version_option(package_name="mcpgen")
@click.pass_context
def main(ctx, card_path, n_text, seed_text, out_dir, overrides, workers_text, chunk_text, progress):
    """mcpgen: millicharged-particle events at e+e- colliders, from a card to a ROOT file."""
    if ctx.invoked_subcommand is not None:
        return
    if card_path is None:
        raise InputError("no card given; run e.g. 'mcpgen --card cards/sct_3gev.yaml -n 1e6'.")
    card = _load(card_path, overrides)
    n_events = parse_count(n_text) if n_text is not None else card.run["n_events"]
    seed = _parse_seed(seed_text)
    workers = parse_count(workers_text, "--workers") if workers_text else card.run["workers"]
    chunk = parse_count(chunk_text, "--chunk-size") if chunk_text else None
    out = out_dir or card.output["dir"]

    from .pipeline import run

    with _user_errors(out):
        summary = run(card, n_events, out, seed=seed, workers=workers, chunk_size=chunk, progress=progress)
    if "datasets" in summary:
        for ds in summary["datasets"]:
            flows = "; ".join(
                f"{chain}: {rows[-1]['events']:.4g} events ({rows[-1]['sigma_fb']:.4g} fb)"
                for chain, rows in ds["cutflow"].items()
            )
            click.echo(f"{ds['dataset']}: sigma(gen) = {ds['cross_section_pb'] * 1e3:.5g} fb; after cuts {flows}")
        click.echo(f"{len(summary['datasets'])} datasets -> {out}/events.root, {out}/summary.json")
        return
    if "signal_events_expected" in summary:
        found = summary["signal_events_expected"]
        click.echo(
            "detected pairs expected: "
            + ", ".join(f"{k} {v['events']:.4g} +- {v['err']:.2g}" for k, v in found.items())
        )
        if "random_trigger" in summary:
            rt = summary["random_trigger"]
            click.echo(
                f"random trigger: {rt['fake_line']} fakes in {rt['n_events']} noise-only events "
                f"(analytic {rt['fake_rate_line_analytic_per_1e6']:.3g} per 1e6)"
            )
    click.echo(
        f"{summary['process']}: sigma = {summary['cross_section_pb']:.6g} +- "
        f"{summary['cross_section_err_pb']:.2g} pb; expected pairs at "
        f"{card.luminosity_pb / 1e3:g} fb^-1: {summary['expected_events']:.4g}; "
        f"{summary['n_events']} events -> {out}/events.root, {out}/summary.json "
        f"({summary['timing']['events_per_second']:.3g} events/s)"
    )


@main.command("scan")
@click.option("--card", "card_path", required=True, metavar="CARD", help="Card with a 'scan' section.")
@click.option("--out", "out_dir", default="scan_out", metavar="DIR", help="Output directory.")
@click.option("-n", "--events", "n_text", metavar="N", help="Events per mass point [card: scan.events_per_mass].")
@click.option("--seed", "seed_text", default="1", metavar="S", help="Master seed.")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a card field (repeatable).")
def scan_command(card_path, out_dir, n_text, seed_text, overrides):
    """(m, eps) scan with eps reweighting: scan.json, scan.root and a contour plot."""
    from .scan_cmd import run_scan

    card = _load(card_path, overrides)
    n = parse_count(n_text) if n_text else None
    with _user_errors(out_dir):
        result = run_scan(card, out_dir, n, _parse_seed(seed_text) or 0)
    if result["channel"] == "tracker":
        for mode, reach in result["eps_reach_3_events"].items():
            best = [np.nanmin(r) if np.any(np.isfinite(r)) else float("nan") for r in reach]
            click.echo(f"{mode}: smallest eps with N >= 3: " + ", ".join(f"{b:.3g}" for b in best))
    else:
        for method, best in result["best"].items():
            i = int(np.nanargmin(best)) if np.any(np.isfinite(best)) else 0
            click.echo(f"{method}: best eps {best[i]:.3g} at m = {result['masses_gev'][i]:.4g} GeV")
    click.echo(f"scan written to {result['files']}")


@main.command("validate")
@click.option("--card", "card_path", required=True, metavar="CARD", help="Card to validate.")
@click.option("--out", "out_dir", default="validation", metavar="DIR", help="Output directory.")
@click.option("-n", "--events", "n_text", metavar="N", help="Events per MC estimate.")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a card field (repeatable).")
def validate_command(card_path, out_dir, n_text, overrides):
    """MC vs every analytic approximation of the papers: table, JSON and plots."""
    from .validate_cmd import run_validate

    card = _load(card_path, overrides)
    with _user_errors(out_dir):
        result = run_validate(card, out_dir, parse_count(n_text) if n_text else None)
    click.echo(result["table"])
    if "almost_unbent" in result:
        frac = result["almost_unbent"]["fraction_bent_beyond_3_sigma"]
        click.echo(f"'almost unbent': sagitta > 3 sigma_rphi on {100 * frac:.0f} % of the (m, eps) grid")
    click.echo(f"written: {result['files']}")


@main.command("figure")
@click.argument("name")
@click.option("--out", "out_dir", default="figures", metavar="DIR", help="Output directory.")
@click.option("-n", "--events", "n_text", metavar="N", help="Events per mass point (default: the cards').")
def figure_command(name, out_dir, n_text):
    """Regenerate a paper figure: g1 g2 g3 (Gorbunov et al.), l3 l5 l6 l8 (Liang et al.)."""
    import warnings

    from .figures import make_figure

    warnings.filterwarnings("ignore", category=RuntimeWarning)
    with _user_errors(out_dir):
        files = make_figure(name, out_dir, parse_count(n_text) if n_text else None)
    click.echo(f"figure {name}: {files}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
