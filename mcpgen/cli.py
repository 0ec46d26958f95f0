"""Command line: ``mcpgen run | scan | validate | figure | convert``; ``mcpgen --card CARD ...`` is ``run``.

The commands live in :mod:`mcpgen.commands` and are loaded by name when one is invoked (click's
lazy-loading pattern), so ``mcpgen --help`` and ``mcpgen --version`` load click alone. Errors
of the user's making (:class:`mcpgen.errors.McpgenError`: a bad card, option or name, an
unwritable output directory) are one paragraph on stderr with exit code 2; anything else is a
bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from .errors import McpgenError, Terminated, exit_code, signal_exits
from .options import run_options

__all__ = ["COMMANDS", "main"]

#: Command name -> (attribute of mcpgen.commands, one-line help shown by ``mcpgen --help``).
COMMANDS = {
    "run": ("run_command", "Generate events from a card: events.root and summary.json."),
    "scan": ("scan_command", "(m, eps) scan with eps reweighting: scan.json, scan.root and a plot."),
    "validate": ("validate_command", "MC vs every analytic approximation of the papers: table, JSON, plots."),
    "figure": ("figure_command", "Regenerate a figure of the papers: g1 g2 g3 l3 l5 l6 l8."),
    "convert": ("convert_command", "Convert an events.root tree into LHE or HepMC for a full simulation."),
}


class _Commands(click.Group):
    """A group whose subcommands are imported only when one of them runs."""

    def list_commands(self, ctx) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx, name: str):
        if name not in COMMANDS:
            return None
        return getattr(importlib.import_module("mcpgen.commands"), COMMANDS[name][0])

    def format_commands(self, ctx, formatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])

    def invoke(self, ctx):
        try:
            with signal_exits():
                return super().invoke(ctx)
        except McpgenError as exc:
            click.echo(f"mcpgen: error: {' '.join(str(exc).split())}", err=True)
            ctx.exit(2)
        except (KeyboardInterrupt, Terminated) as exc:  # temporary files are gone by now
            click.echo(f"mcpgen: interrupted ({type(exc).__name__}); no partial file left.", err=True)
            ctx.exit(exit_code(exc))


@click.group(cls=_Commands, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@run_options
@click.version_option(package_name="mcpgen")
@click.pass_context
def main(ctx, **options):
    """mcpgen: millicharged-particle events at e+e- colliders, from a card to a ROOT file.

    Without a command, the options are those of 'mcpgen run'.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(ctx.command.get_command(ctx, "run"), **options)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
