"""The executor interface: every back-end gives the serial reference's results, in order."""

import pytest

from gnn4hep.errors import Gnn4hepError, InputFileError
from gnn4hep.executor import ExecutorConfig, SerialExecutor, make_executor

BACKENDS = [("serial", 1), ("processes", 1), ("processes", 2), ("dask", 2)]
_STATE: dict = {}


def _square(x: int) -> int:
    return x * x


def _set_offset(offset: int) -> None:
    calls = _STATE.setdefault("calls", {})
    calls[offset] = calls.get(offset, 0) + 1
    _STATE["offset"] = offset


def _add_offset(x: int) -> tuple[int, int]:
    """x plus the offset the initializer set, and how often it ran in this process with that offset."""
    return x + _STATE["offset"], _STATE["calls"][_STATE["offset"]]


def _bad_file(x: int) -> int:
    raise InputFileError(f"event{x}-hits.csv", "no such file", column="hit_id")


def _backend(kind: str):
    if kind == "dask":
        pytest.importorskip("dask.distributed", reason="dask is an optional extra (pip install 'gnn4hep[dask]')")


@pytest.mark.parametrize("kind, workers", BACKENDS)
def test_backends_match_reference(kind, workers):
    _backend(kind)
    items = list(range(7))
    expected = SerialExecutor().map(_square, items)
    assert make_executor(ExecutorConfig(kind=kind, workers=workers)).map(_square, items) == expected == [x * x for x in items]


@pytest.mark.parametrize("kind, workers", BACKENDS)
def test_initializer_runs_once_per_process_before_the_items(kind, workers):
    _backend(kind)
    _STATE.clear()
    executor = make_executor(kind=kind, workers=workers)
    for offset in (100, 200):  # a second map call runs its own initializer (dask reuses its workers)
        results = executor.map(_add_offset, list(range(6)), initializer=_set_offset, initargs=(offset,))
        assert [value for value, _ in results] == [x + offset for x in range(6)]
        assert {calls for _, calls in results} == {1}


@pytest.mark.parametrize("kind, workers", [("processes", 2), ("dask", 2)])
def test_worker_errors_reach_the_caller_with_their_message(kind, workers):
    """InputFileError has no pickle round trip: it comes back as a Gnn4hepError naming the file."""
    _backend(kind)
    with pytest.raises(Gnn4hepError, match=r"event\d-hits.csv, column 'hit_id': no such file"):
        make_executor(kind=kind, workers=workers).map(_bad_file, [1, 2])


def test_bad_executor_kind_is_a_config_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="kind"):
        ExecutorConfig(kind="slurm")


def test_input_file_error_pickles_whole():
    import pickle

    from gnn4hep.errors import InputFileError

    error = pickle.loads(pickle.dumps(InputFileError("a/hits.csv", "bad value", column="x")))
    assert type(error) is InputFileError and error.column == "x" and str(error) == "a/hits.csv, column 'x': bad value"
