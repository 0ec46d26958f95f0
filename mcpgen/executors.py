"""Executors: how chunk tasks are run. The chains never know which one is used.

The protocol the engine (:class:`mcpgen.engine.Engine`) relies on:

* a context manager (``__enter__`` starts workers, ``__exit__`` stops them; on an exception it
  cancels what is still queued);
* ``map(fn, tasks)``: an iterator over ``fn(task)`` *in task order*, pulling tasks lazily and
  keeping at most a bounded number in flight, so memory stays flat for any number of chunks.

``fn`` is a picklable callable (a module-level function or a frozen dataclass) and tasks are
picklable frozen dataclasses. :class:`SerialExecutor` runs in-process; :class:`PoolExecutor`
uses local processes with at most 2 x workers tasks in flight;
:class:`mcpgen.dask_executor.DaskExecutor` runs them on a dask.distributed cluster the same way.
Results do not depend on the executor: randomness is keyed by event index (:mod:`mcpgen.rng`).

Where the work runs is chosen once, around a command (:func:`mcpgen.dask_executor.executor_scope`,
from the card's ``run.executor`` and ``run.scheduler``), through :func:`executor_factory`: inside
such a block every :func:`make_executor` returns the block's executor (e.g. one on a dask client
opened once for the block); outside, the local executors. This module imports nothing of mcpgen.

Worker lifetime of the local pool (:func:`die_with_parent`, :func:`terminate_workers`): on Linux
the kernel sends a worker SIGKILL when the process that started it dies
(``prctl(PR_SET_PDEATHSIG)``), even after a SIGKILL of the parent; elsewhere a daemon thread
polls the parent pid each second. Workers ignore SIGINT (a Ctrl-C reaches the whole process
group; the parent decides), and an interrupted or failed run kills them at once instead of
letting them finish their chunks.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar

__all__ = [
    "SerialExecutor",
    "PoolExecutor",
    "make_executor",
    "executor_factory",
    "current_factory",
    "die_with_parent",
    "terminate_workers",
]

_FACTORY: ContextVar[Callable | None] = ContextVar("mcpgen_executor_factory", default=None)


# --- worker lifetime of the local pool ---------------------------------------------------------

_PR_SET_PDEATHSIG = 1


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


class SerialExecutor:
    """Run tasks one after the other in this process."""

    workers = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def map(self, fn: Callable, tasks: Iterable) -> Iterator:
        for task in tasks:
            yield fn(task)


class PoolExecutor:
    """Run tasks on ``workers`` local processes, at most ``2 x workers`` in flight."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: cf.ProcessPoolExecutor | None = None

    def __enter__(self):
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers, initializer=die_with_parent)
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:  # interrupted or failed: stop the workers now, not after their chunks
            terminate_workers(self._pool)
        self._pool.shutdown(wait=exc_type is None, cancel_futures=exc_type is not None)

    def map(self, fn: Callable, tasks: Iterable) -> Iterator:
        pending: collections.deque = collections.deque()
        for task in tasks:
            pending.append(self._pool.submit(fn, task))
            if len(pending) >= 2 * self.workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def make_executor(workers: int = 1):
    """Inside an :func:`executor_factory` block: that block's executor. Otherwise serial for one
    worker, a local process pool for more."""
    factory = _FACTORY.get()
    if factory is not None:
        return factory(workers)
    return SerialExecutor() if workers <= 1 else PoolExecutor(workers)


def current_factory() -> Callable | None:
    """The factory of the innermost :func:`executor_factory` block (None outside any)."""
    return _FACTORY.get()


@contextlib.contextmanager
def executor_factory(factory: Callable | None):
    """Inside the ``with`` block, :func:`make_executor` (``workers``) returns ``factory(workers)``;
    None restores the local executors (e.g. inside a task that already runs on a cluster)."""
    token = _FACTORY.set(factory)
    try:
        yield factory
    finally:
        _FACTORY.reset(token)
