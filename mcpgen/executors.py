"""Executors: how chunk tasks are run. Stages never know which one is used.

An executor has ``map(fn, tasks)`` returning results *in task order* as an iterator, and is
a context manager. :class:`SerialExecutor` runs in-process; :class:`PoolExecutor` uses local
processes with a bounded number of tasks in flight (memory stays flat). A distributed engine
(e.g. dask.distributed: ``client.submit`` + ordered ``result()``) fits the same two methods.
Results do not depend on the executor: randomness is keyed by event index (:mod:`mcpgen.rng`).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator

__all__ = ["SerialExecutor", "PoolExecutor", "make_executor"]


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
        self._pool = cf.ProcessPoolExecutor(max_workers=self.workers)
        return self

    def __exit__(self, exc_type, *exc):
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
    """Serial for one worker, a local process pool otherwise."""
    return SerialExecutor() if workers <= 1 else PoolExecutor(workers)
