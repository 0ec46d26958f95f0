"""The errors mcpgen reports to its user.

Only these (and ``OSError`` at the file boundaries) become a one-paragraph message with exit
code 2 on the command line; anything else is a bug and keeps its traceback.

Interruptions: :func:`signal_exits` turns SIGTERM (and SIGHUP) into :class:`Terminated`, which
unwinds a command like KeyboardInterrupt does for SIGINT, so every temporary file is removed on
the way out; the command line then exits with 128 + the signal number (:func:`exit_code`: 130
for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = [
    "McpgenError",
    "CardError",
    "UsageError",
    "OutputError",
    "ResultError",
    "Terminated",
    "exit_code",
    "signal_exits",
]


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


class Terminated(BaseException):
    """A termination signal arrived (``signum``); raised in the main thread by :func:`signal_exits`."""

    def __init__(self, signum: int):
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


def exit_code(exc: BaseException) -> int:
    """The shell's exit code for an interruption: 128 + signal number."""
    if isinstance(exc, Terminated):
        return 128 + exc.signum
    return 128 + signal.SIGINT


def _raise_terminated(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def signal_exits() -> Iterator[None]:
    """SIGTERM / SIGHUP raise :class:`Terminated` in the main thread inside the block (SIGINT
    keeps raising KeyboardInterrupt); the previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, _raise_terminated)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
