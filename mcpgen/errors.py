"""The errors mcpgen reports to its user.

Only these (and ``OSError`` at the file boundaries) become a one-paragraph message with exit
code 2 on the command line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["McpgenError", "CardError", "UsageError", "OutputError", "ResultError"]


class McpgenError(Exception):
    """Base of every error caused by what the user asked for (a card, an option, a name)."""


class CardError(McpgenError, ValueError):
    """A card (or a ``--set`` override) is invalid; the message names the card, field and value.

    ``source`` (card file), ``field`` (dotted path) and ``value`` are kept as attributes when
    known, for programs that want them without parsing the message.
    """

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None, value=None):
        super().__init__(message)
        self.source = source
        self.field = field
        self.value = value


class UsageError(McpgenError, ValueError):
    """A command-line value or a request that cannot be served (e.g. an unknown figure name)."""


class OutputError(McpgenError, OSError):
    """An output file or directory cannot be written (the message names the directory and why)."""


class ResultError(McpgenError, ArithmeticError):
    """A run's result cannot be meaningful (weights not finite): the run stops, nothing is written."""
