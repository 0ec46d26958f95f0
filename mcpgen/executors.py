"""Executors: how chunk tasks are run. The chains never know which one is used.

The protocol the engine (:class:`mcpgen.engine.Engine`) relies on:

* a context manager (``__enter__`` starts workers, ``__exit__`` stops them; on an exception it
  cancels what is still queued);
* ``map(fn, tasks)``: an iterator over ``fn(task)`` *in task order*, pulling tasks lazily and
  keeping at most a bounded number in flight, so memory stays flat for any number of chunks.

``fn`` is a picklable callable (a module-level function or a frozen dataclass) and tasks are
picklable frozen dataclasses. :class:`SerialExecutor` runs in-process; :class:`PoolExecutor`
uses local processes with at most 2 x workers tasks in flight. A distributed executor fits the
same shape, e.g. with dask.distributed: ``client.submit(fn, task)`` for the first k tasks, then
yield ``futures.popleft().result()`` and submit the next one (ordered results, bounded in-flight
futures), ``client.close()`` in ``__exit__``. Results do not depend on the executor: randomness
is keyed by event index (:mod:`mcpgen.rng`).
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
