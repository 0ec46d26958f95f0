"""Process lifetime: local workers die with their parent, signals end a command cleanly.

* :func:`die_with_parent` is the initializer of the local worker pool: on Linux the kernel sends
  the worker SIGKILL when the process that started it dies (``prctl(PR_SET_PDEATHSIG)``), even
  after a SIGKILL of the parent; elsewhere a daemon thread polls the parent pid each second.
  Workers ignore SIGINT (a Ctrl-C reaches the whole process group; the parent decides).
* :func:`terminate_workers` kills the pool's processes at once when a run is interrupted,
  instead of letting them finish their chunks.
* :func:`signal_exits` turns SIGTERM (and SIGHUP) into :class:`Terminated`, an exception that
  unwinds the command like KeyboardInterrupt does for SIGINT, so every temporary file is removed
  on the way out; the command line then exits with 128 + the signal number (130 for SIGINT, 143
  for SIGTERM).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

__all__ = ["Terminated", "die_with_parent", "exit_code", "signal_exits", "terminate_workers"]

_PR_SET_PDEATHSIG = 1


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


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(1.0)


def die_with_parent(parent: int | None = None) -> None:
    """Make this (worker) process exit when its parent dies; ignore SIGINT (module docstring)."""
    parent = os.getppid() if parent is None else parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if os.getppid() != parent:  # the parent died before the guard was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def terminate_workers(pool) -> None:
    """Kill the processes of a :class:`concurrent.futures.ProcessPoolExecutor` now."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.kill()


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
