"""One small interface for per-event parallel work: ``executor.map(func, items)``.

Back-ends:
- ``SerialExecutor``: the reference implementation (a plain loop in this process), for tests and
  ``workers=1``;
- ``ProcessExecutor``: local worker processes (``concurrent.futures.ProcessPoolExecutor``, spawn
  context so torch/pythia state is never forked);
- ``DaskExecutor``: a ``dask.distributed`` cluster (``pip install gnn4hep[dask]``): a local cluster
  by default, or an existing scheduler address.

All return results in the order of ``items`` and show a rich progress bar when asked. ``func`` and
the items must be picklable (module-level functions).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Literal, Optional

from pydantic import Field

from gnn4hep.config.schema import Section


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


class SerialExecutor:
    """Runs every item in this process, in order (the reference implementation)."""

    def map(self, func: Callable, items: Iterable, progress: bool = False, description: str = "") -> list:
        items = list(items)
        bar, task = _progress(len(items), description, progress)
        results = []
        with bar:
            for item in items:
                results.append(func(item))
                bar.advance(task)
        return results


class ProcessExecutor:
    """Local worker processes; falls back to the serial loop for one worker or one item."""

    def __init__(self, workers: int = 1):
        self.workers = workers

    def map(self, func: Callable, items: Iterable, progress: bool = False, description: str = "") -> list:
        items = list(items)
        if self.workers <= 1 or len(items) <= 1:
            return SerialExecutor().map(func, items, progress, description)
        bar, task = _progress(len(items), description, progress)
        results: list[Any] = [None] * len(items)
        context = multiprocessing.get_context("spawn")
        with bar, ProcessPoolExecutor(max_workers=min(self.workers, len(items)), mp_context=context) as pool:
            futures = {pool.submit(func, item): index for index, item in enumerate(items)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.advance(task)
        return results


class DaskExecutor:
    """A dask.distributed cluster: a local one with ``workers`` processes, or ``scheduler_address``."""

    def __init__(self, workers: int = 1, scheduler_address: str | None = None):
        try:
            import dask.distributed  # noqa: F401
        except ImportError as exc:
            raise ImportError("the dask executor needs dask.distributed: pip install 'gnn4hep[dask]'") from exc
        self.workers = workers
        self.scheduler_address = scheduler_address

    def map(self, func: Callable, items: Iterable, progress: bool = False, description: str = "") -> list:
        from dask.distributed import Client, LocalCluster, as_completed as dask_completed

        items = list(items)
        bar, task = _progress(len(items), description, progress)
        if self.scheduler_address:
            client, cluster = Client(self.scheduler_address), None
        else:
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        try:
            futures = client.map(func, items, pure=False)
            index = {future.key: i for i, future in enumerate(futures)}
            results: list[Any] = [None] * len(items)
            with bar:
                for future in dask_completed(futures):
                    results[index[future.key]] = future.result()
                    bar.advance(task)
            return results
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(config: ExecutorConfig | None = None, **overrides):
    """The executor an ``ExecutorConfig`` (or keyword overrides such as ``workers=4``) asks for."""
    config = (config or ExecutorConfig()).model_copy(update=overrides)
    if config.kind == "serial":
        return SerialExecutor()
    if config.kind == "dask":
        return DaskExecutor(config.workers, config.scheduler_address)
    return ProcessExecutor(config.workers)


def parallel_map(func: Callable, items: Sequence, workers: int = 1, progress: bool = False, description: str = "") -> list:
    """Shortcut: ``make_executor(workers=workers).map(...)``."""
    return make_executor(workers=workers).map(func, items, progress=progress, description=description)
