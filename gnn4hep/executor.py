"""One small interface for per-event parallel work: ``executor.map(func, items)``.

Back-ends:
- ``SerialExecutor``: the reference implementation (a plain loop in this process), for tests and
  ``workers=1``;
- ``ProcessExecutor``: local worker processes (``concurrent.futures.ProcessPoolExecutor``, spawn
  context so torch/pythia state is never forked);
- ``DaskExecutor``: a ``dask.distributed`` cluster (``pip install gnn4hep[dask]``): a local cluster
  by default, or an existing scheduler address.

All return results in the order of ``items`` and show a rich progress bar when asked. ``func`` and
the items must be picklable (module-level functions). ``initializer(*initargs)`` (optional) runs once
in each process that runs items of a ``map`` call, before its first item (e.g. per-worker detector or
Pythia set-up). Worker processes (a local pool, a local Dask cluster) are started once per process
and reused by later ``map`` calls, so a pipeline pays their start-up (and imports) once; they are
closed at exit, or by :func:`close_workers`.
"""

from __future__ import annotations

import atexit
import multiprocessing
import pickle
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal, Optional

from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.errors import Gnn4hepError


class ExecutorConfig(Section):
    """The ``executor:`` config section."""

    kind: Literal["serial", "processes", "dask"] = "processes"
    workers: int = Field(1, ge=1, description="worker processes (dask: workers of a local cluster)")
    scheduler_address: Optional[str] = Field(None, description="dask: connect to this scheduler")


def _progress(total: int, description: str, enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        disable=not enabled, transient=False,
    )  # fmt: skip
    return progress, progress.add_task(description, total=total)


class _Remote:
    """``func`` as run in a worker: the initializer once per process (per ``map`` call), and an
    exception that cannot cross a process boundary (no pickle round trip) re-raised as one that can,
    with the same message."""

    _done: set = set()
    _lock = threading.Lock()

    def __init__(self, func: Callable, initializer: Callable | None = None, initargs: tuple = ()):
        self.func, self.initializer, self.initargs = func, initializer, initargs
        self.token = uuid.uuid4().hex

    def __call__(self, item):
        if self.initializer is not None:
            with _Remote._lock:
                if self.token not in _Remote._done:
                    self.initializer(*self.initargs)
                    _Remote._done.add(self.token)
        try:
            return self.func(item)
        except Exception as exc:
            try:
                pickle.loads(pickle.dumps(exc))
            except Exception:
                kind = Gnn4hepError if isinstance(exc, Gnn4hepError) else RuntimeError
                raise kind(f"{type(exc).__name__}: {exc}") from None
            raise


class SerialExecutor:
    """Runs every item in this process, in order (the reference implementation)."""

    def map(self, func: Callable, items: Iterable, progress: bool = False, description: str = "",
            initializer: Callable | None = None, initargs: tuple = ()) -> list:
        items = list(items)
        if initializer is not None and items:
            initializer(*initargs)
        bar, task = _progress(len(items), description, progress)
        results = []
        with bar:
            for item in items:
                results.append(func(item))
                bar.advance(task)
        return results


_POOLS: dict[int, ProcessPoolExecutor] = {}
_DASK: dict[tuple, Any] = {}


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, started once per process and kept."""
    if workers not in _POOLS:
        _POOLS[workers] = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    return _POOLS[workers]


def close_workers() -> None:
    """Shut down the process pools, Dask clients and local Dask clusters this process started."""
    while _POOLS:
        _POOLS.popitem()[1].shutdown(cancel_futures=True)
    while _DASK:
        _, (client, cluster) = _DASK.popitem()
        client.close()
        if cluster is not None:
            cluster.close()


atexit.register(close_workers)


class ProcessExecutor:
    """Local worker processes; falls back to the serial loop for one worker or one item."""

    def __init__(self, workers: int = 1):
        self.workers = workers

    def map(self, func: Callable, items: Iterable, progress: bool = False, description: str = "",
            initializer: Callable | None = None, initargs: tuple = ()) -> list:
        items = list(items)
        if self.workers <= 1 or len(items) <= 1:
            return SerialExecutor().map(func, items, progress, description, initializer, initargs)
        bar, task = _progress(len(items), description, progress)
        results: list[Any] = [None] * len(items)
        remote, pool = _Remote(func, initializer, initargs), _process_pool(self.workers)
        futures = {pool.submit(remote, item): index for index, item in enumerate(items)}
        try:
            with bar:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.advance(task)
        except BrokenProcessPool:
            _POOLS.pop(self.workers, None)  # a worker died (e.g. out of memory): the next map starts a new pool
            raise
        finally:
            for future in futures:
                future.cancel()
        return results


def _dask_client(workers: int, scheduler_address: str | None):
    """The client of ``scheduler_address``, or of a local cluster of ``workers`` processes (one
    thread each); started once per process and kept for later ``map`` calls."""
    from dask.distributed import Client, LocalCluster

    key = (workers, scheduler_address)
    if key not in _DASK or _DASK[key][0].status != "running":
        if scheduler_address:
            client, cluster = Client(scheduler_address), None
        else:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        _DASK[key] = (client, cluster)
    return _DASK[key][0]


class DaskExecutor:
    """A dask.distributed cluster: a local one with ``workers`` processes, or ``scheduler_address``."""

    def __init__(self, workers: int = 1, scheduler_address: str | None = None):
        try:
            import dask.distributed  # noqa: F401  (checked here, used in map)
        except ImportError as exc:
            raise ImportError("the dask executor needs dask.distributed: pip install 'gnn4hep[dask]'") from exc
        self.workers = workers
        self.scheduler_address = scheduler_address

    def map(self, func: Callable, items: Iterable, progress: bool = False, description: str = "",
            initializer: Callable | None = None, initargs: tuple = ()) -> list:
        from dask.distributed import as_completed as dask_completed

        items = list(items)
        if not items:
            return []
        bar, task = _progress(len(items), description, progress)
        client = _dask_client(self.workers, self.scheduler_address)
        futures = client.map(_Remote(func, initializer, initargs), items, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        try:
            with bar:
                for future in dask_completed(futures):
                    results[index[future.key]] = future.result()
                    bar.advance(task)
        finally:
            client.cancel(futures)
        return results


def make_executor(config: ExecutorConfig | None = None, **overrides):
    """The executor an ``ExecutorConfig`` (or keyword overrides such as ``workers=4``) asks for."""
    config = (config or ExecutorConfig()).model_copy(update=overrides)
    if config.kind == "serial":
        return SerialExecutor()
    if config.kind == "dask":
        return DaskExecutor(config.workers, config.scheduler_address)
    return ProcessExecutor(config.workers)


def parallel_map(func: Callable, items: Sequence, workers: int = 1, progress: bool = False, description: str = "") -> list:
    """Shortcut: ``make_executor(workers=workers).map(...)`` (local processes)."""
    return make_executor(workers=workers).map(func, items, progress=progress, description=description)
