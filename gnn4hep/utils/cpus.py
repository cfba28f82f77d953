"""How many CPU cores a setting of ``auto`` means (torch threads, generation processes)."""

from __future__ import annotations

import os
from typing import Annotated, Literal, Union

from pydantic import AfterValidator


def _at_least_one(value: int | str) -> int | str:
    if isinstance(value, int) and value < 1:
        raise ValueError("must be 'auto' or a number >= 1")
    return value


#: A config value for a number of cores or processes: ``'auto'`` (:func:`resolve_count`) or a number >= 1.
CoreCount = Annotated[Union[Literal["auto"], int], AfterValidator(_at_least_one)]


def usable_cpus() -> int:
    """Cores this process may run on: ``OMP_NUM_THREADS`` when set (shared machines and tests set it
    to keep a job to its share), else the CPU affinity mask (``os.sched_getaffinity``; a container's or
    ``taskset``'s limit), else ``os.cpu_count()``."""
    from_env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if from_env.isdigit() and int(from_env) >= 1:
        return int(from_env)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_count(value: int | str | None) -> int | None:
    """``'auto'`` -> :func:`usable_cpus`; a number or None is returned as it is."""
    return usable_cpus() if value == "auto" else value
