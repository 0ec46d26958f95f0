"""The dask executor: chunk tasks, scan points and figure programmes on a dask.distributed cluster.

A :class:`DaskSession` owns one ``dask.distributed.Client``: without an address it starts a
``LocalCluster`` of ``workers`` single-threaded worker processes (a laptop), with one it connects
to a running scheduler (``tcp://host:8786``, e.g. started by dask-jobqueue on HTCondor or
Slurm). :func:`executor_scope` (the card's ``run.executor`` / ``run.scheduler``) opens it for a
``with`` block: every executor built meanwhile by :func:`mcpgen.executors.make_executor` is a
:class:`DaskExecutor` on that one client, so a scan or a figure programme starts its cluster once.

:class:`DaskExecutor` keeps the executor protocol of :mod:`mcpgen.executors`: ``map(fn, tasks)``
yields ``fn(task)`` in task order with at most ``in_flight`` futures alive (default: twice the
cluster's worker threads), submitting the next task only when the oldest result has been handed
on -- the client never holds more than that many results, whatever the number of chunks. Results
travel back to the client, which writes every file. A worker that dies loses its running tasks;
the scheduler reruns them on the remaining workers (``distributed.scheduler.allowed-failures``
times), and since a task is a pure function of its seed and event range (:mod:`mcpgen.rng`), the
rerun gives the same numbers: the output does not depend on where or how often a task ran.

dask is imported only when a session opens, so mcpgen runs without it (``pip install
'mcpgen[dask]'`` adds it).
"""

from __future__ import annotations

import collections
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .errors import UsageError
from .executors import current_factory, executor_factory

__all__ = ["EXECUTORS", "CONNECT_TIMEOUT_S", "DaskSession", "DaskExecutor", "executor_scope"]

#: Values of the card's ``run.executor`` (and of ``--executor``).
EXECUTORS = ("local", "dask")

#: Seconds to wait for a scheduler before giving up with a clear message.
CONNECT_TIMEOUT_S = 10.0


def _import_distributed():
    try:
        import dask.distributed as distributed
    except ImportError:
        raise UsageError(
            "the dask executor needs dask.distributed, which is not installed here; install it with "
            "pip install 'mcpgen[dask]' (on the client and on every worker), or use --executor local."
        ) from None
    return distributed


class DaskSession:
    """One dask client: a fresh ``LocalCluster`` of ``workers`` processes (``scheduler`` None) or a
    connection to the scheduler at ``scheduler`` (given up after ``timeout_s``, default
    :data:`CONNECT_TIMEOUT_S`). Use as a context manager (or :meth:`open` / :meth:`close`)."""

    def __init__(self, scheduler: str | None = None, workers: int = 1, timeout_s: float | None = None):
        self.scheduler = scheduler
        self.workers = max(1, int(workers))
        self.timeout_s = float(CONNECT_TIMEOUT_S if timeout_s is None else timeout_s)
        self.client = None
        self._cluster = None

    def open(self) -> DaskSession:
        distributed = _import_distributed()
        if self.scheduler is None:
            self._cluster = distributed.LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: several clusters may run side by side
                silence_logs=logging.ERROR,
            )
            self.client = distributed.Client(self._cluster)
            return self
        try:
            self.client = distributed.Client(self.scheduler, timeout=self.timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(
                f"cannot reach the dask scheduler at {self.scheduler!r} within {self.timeout_s:g} s ({exc}). "
                "Check that the scheduler is running and that this machine can open its address and port "
                "(e.g. 'dask scheduler' prints 'tcp://host:8786'; a dask-jobqueue cluster shows it as "
                "cluster.scheduler_address), or leave --scheduler out to start a local cluster."
            ) from None
        return self

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskSession:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def threads(self) -> int:
        """Worker threads the cluster has now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))


@contextlib.contextmanager
def executor_scope(kind: str = "local", scheduler: str | None = None, workers: int = 1) -> Iterator:
    """Run the ``with`` block's engines on ``kind``: 'local' (nothing to start: serial or a local
    process pool) or 'dask' (a LocalCluster of ``workers`` processes, or the scheduler at
    ``scheduler``, opened once for the block and closed after it). Inside a block that already
    chose its executor, an inner scope keeps the outer choice (the outermost block decides).
    Yields the :class:`DaskSession` or None."""
    if kind not in EXECUTORS:
        raise UsageError(f"unknown executor {kind!r}; allowed: {', '.join(EXECUTORS)}")
    if current_factory() is not None:
        yield getattr(current_factory(), "session", None)
        return
    if kind == "local":
        if scheduler is not None:
            raise UsageError(f"a scheduler address ({scheduler!r}) needs the dask executor (--executor dask)")
        yield None
        return
    with DaskSession(scheduler, workers) as session, executor_factory(_OnSession(session)):
        yield session


@dataclass(frozen=True)
class _OnSession:
    """The executor factory of a dask scope: every engine's executor uses the scope's client."""

    session: DaskSession

    def __call__(self, workers: int) -> DaskExecutor:
        return DaskExecutor(self.session)


@dataclass(frozen=True)
class _Detached:
    """``fn(task)`` on a worker, outside any session (an engine built inside the task runs its
    chunks in the worker's own process, never back on the cluster)."""

    fn: Callable

    def __call__(self, task):
        with executor_factory(None):
            return self.fn(task)


class DaskExecutor:
    """Run tasks on the client of ``session``; results in task order, at most ``in_flight``
    futures alive (default: 2 x the cluster's worker threads when ``map`` starts)."""

    def __init__(self, session: DaskSession, in_flight: int | None = None):
        self.session = session
        self.in_flight = in_flight
        self.workers = session.workers
        self._pending: collections.deque = collections.deque()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self._pending:  # an error or an abandoned iterator: drop what is still queued
            self.session.client.cancel(list(self._pending))
            self._pending.clear()

    def map(self, fn: Callable, tasks: Iterable) -> Iterator:
        client = self.session.client
        limit = self.in_flight or 2 * self.session.threads()
        call = _Detached(fn)
        pending = self._pending
        for task in tasks:
            pending.append(client.submit(call, task, pure=False))
            if len(pending) >= limit:
                yield _take(pending)
        while pending:
            yield _take(pending)


def _take(pending: collections.deque):
    """The oldest future's result; the future is released (its result leaves the cluster)."""
    future = pending[0]
    result = future.result()
    pending.popleft()
    future.release()
    return result
