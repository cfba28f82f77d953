"""The executor interface: every back-end gives the serial reference's results, in order."""

import pytest

from gnn4hep.executor import ExecutorConfig, SerialExecutor, make_executor


def _square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("kind, workers", [("serial", 1), ("processes", 1), ("processes", 2)])
def test_backends_match_reference(kind, workers):
    items = list(range(7))
    expected = SerialExecutor().map(_square, items)
    assert make_executor(ExecutorConfig(kind=kind, workers=workers)).map(_square, items) == expected == [x * x for x in items]


def test_dask_local_cluster_matches_reference():
    pytest.importorskip("dask.distributed", reason="dask is an optional extra (pip install 'gnn4hep[dask]')")
    items = list(range(5))
    assert make_executor(kind="dask", workers=2).map(_square, items) == [x * x for x in items]


def test_bad_executor_kind_is_a_config_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="kind"):
        ExecutorConfig(kind="slurm")
