"""Small synthetic jets and the path to the shared real jet data."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pytest

from gnn4hep.jets.constituents import Jets, from_pt_y_phi, sort_by_pt

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "jets"


def make_jets(n: int = 20, m: int = 30, seed: int = 0, with_pid: bool = True) -> Jets:
    """Random jets around (y, φ) = (0.3, 1.0): half 'signal' with two prongs, half one prong."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    counts = rng.integers(3, m + 1, size=n)
    mask = np.arange(m)[None, :] < counts[:, None]
    prong = np.where(rng.random((n, m)) < 0.5, 1.0, -1.0) * labels[:, None] * 0.15
    y = 0.3 + prong + rng.normal(0, 0.08, (n, m))
    phi = 1.0 + rng.normal(0, 0.08, (n, m))
    pt = rng.exponential(20.0, (n, m)) + 1.0
    pid = rng.choice([211, -211, 22, 130, 11, -13, 2212], size=(n, m)) if with_pid else None
    p4 = from_pt_y_phi(pt, y, phi, pid)
    p4 = np.where(mask[..., None], p4, 0.0)
    others = [np.where(mask, pid, 0)] if with_pid else []
    p4, mask, *others = sort_by_pt(p4, mask, *others)
    pid = others[0] if with_pid else None
    from gnn4hep.jets.constituents import charge_from_pid

    return Jets(p4, mask, labels, pid, charge_from_pid(pid) if with_pid else None, source="synthetic")


@pytest.fixture
def jets() -> Jets:
    return make_jets()


@pytest.fixture(scope="session")
def qg_dir(tmp_path_factory) -> Path:
    archive = SHARED / "quark_gluon_2k.tar.gz"
    if not archive.is_file():
        pytest.skip(f"real quark/gluon jets not found at {archive}")
    out = tmp_path_factory.mktemp("qg")
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    return out / "qg_data"
