"""The D-Wave API token never reaches the console, the run's log or any file of the run folder.

The qubo experiment runs through ``gnn4hep run`` with a fake token in the environment and the QPU
sampler asked for (its connection fails: the endpoint is a closed local port), with the D-Wave
client's DEBUG logging switched on, which prints the client config, token field included.
Then the stopped run is resumed with simulated annealing only and finishes.
(tests/quantum/test_cli_stages.py checks the same for ``gnn4hep qubo solve --sampler qpu``.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "DEV-fake-token-0123456789abcdef"  # not in Leap's hex format, so the client's own log filter misses it
TINY = ["qubo_data.toy_particles=80", "qubo_data.densities=[0.5]", "qubo_solve.num_reads=2"]


def _gnn4hep(home: Path, *args) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "DWAVE_API_TOKEN": TOKEN,
        "DWAVE_API_ENDPOINT": "http://127.0.0.1:9/sapi/v2/",  # closed port: no network, no region look-up
        "DWAVE_LOG_LEVEL": "DEBUG",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run([sys.executable, "-m", "gnn4hep.cli.main", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def _files_with_token(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]


def test_token_never_in_output_log_or_run_folder(tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "dwave").mkdir(parents=True)  # no retries, short timeout (no token in this file)
    (home / ".config" / "dwave" / "dwave.conf").write_text("[defaults]\nhttp_retry_total = 0\nrequest_timeout = 2\n")
    overrides = [item for o in [*TINY, "qubo_solve.samplers=[sa,qpu]"] for item in ("-o", o)]
    failed = _gnn4hep(home, "run", REPO / "experiments" / "trackml_qubo.yaml", *overrides, "--out", tmp_path / "run")
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert "sampler 'qpu': could not connect to D-Wave Leap" in failed.stderr
    assert "dwave.cloud" in failed.stderr and "'token': '***'" in failed.stderr  # the client did log its config
    assert TOKEN not in failed.stdout + failed.stderr
    staging = tmp_path / ".run.partial"
    assert "run failed" in (staging / "log.txt").read_text()
    assert _files_with_token(tmp_path) == []

    resumed = _gnn4hep(home, "run", "--resume", staging, "-o", "qubo_solve.samplers=[sa]")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert TOKEN not in resumed.stdout + resumed.stderr
    assert (tmp_path / "run" / "metrics.json").is_file() and not staging.exists()
    assert _files_with_token(tmp_path) == []
