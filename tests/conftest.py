"""Shared fixtures: paths of the real data in ../shared/data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
SAMPLE_EVENT = SHARED_DATA / "trackml" / "sample_event" / "event000000001"


@pytest.fixture
def sample_event_prefix() -> Path:
    """The real reduced TrackML event (5,527 hits with truth)."""
    if not Path(f"{SAMPLE_EVENT}-hits.csv.gz").exists():
        pytest.skip(f"real TrackML sample event not found at {SAMPLE_EVENT} (../shared/data is absent)")
    return SAMPLE_EVENT


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared real data not found at {SHARED_DATA}")
    return SHARED_DATA
