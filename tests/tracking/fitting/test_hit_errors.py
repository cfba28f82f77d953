"""Hit errors measured on real TrackML clusters: the model's look-ups, and the refit of the real sample event."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gnn4hep.tracking.fitting import FitConfig, refit
from gnn4hep.tracking.fitting.hit_errors import CLUSTER_SIGMAS_MM, OFFSETS_MM, VOLUME_SIGMAS_MM, hit_offsets, hit_sigmas

SAMPLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"


def test_cluster_size_selects_the_measured_sigma_and_unknown_volumes_fall_back_to_the_pitch():
    volume = np.array([8, 8, 8, 13, 99])
    pitch_u, pitch_v = np.array([0.05, 0.05, 0.05, 0.08, 0.12]), np.array([0.0563, 0.0563, 0.0563, 1.2, 10.4])
    n_u, n_v = np.array([1, 2, 9, 1, 1]), np.array([1, 3, 9, np.nan, 1])
    sigma_u, sigma_v = hit_sigmas(volume, pitch_u, pitch_v, n_u, n_v)
    assert sigma_u[0] == CLUSTER_SIGMAS_MM[8][0][0] and sigma_v[1] == CLUSTER_SIGMAS_MM[8][1][2]
    assert sigma_u[2] == CLUSTER_SIGMAS_MM[8][0][3] and sigma_v[2] == CLUSTER_SIGMAS_MM[8][1][5]  # clipped sizes
    assert (sigma_u[3], sigma_v[3]) == VOLUME_SIGMAS_MM[13]  # a hit without cells: the volume's figure
    assert np.isclose(sigma_u[4], 0.12 / np.sqrt(12)) and np.isclose(sigma_v[4], 10.4 / np.sqrt(12))
    no_cells = hit_sigmas(volume, pitch_u, pitch_v)
    assert no_cells[0][0] == VOLUME_SIGMAS_MM[8][0]
    pitch = hit_sigmas(volume, pitch_u, pitch_v, n_u, n_v, model="pitch")
    assert np.allclose(pitch[0], pitch_u / np.sqrt(12)) and np.allclose(pitch[1], pitch_v / np.sqrt(12))
    assert np.array_equal(hit_offsets(volume)[:, 0], [OFFSETS_MM[8][0]] * 3 + [OFFSETS_MM[13][0], 0.0])
    with pytest.raises(ValueError, match="hit error model"):
        hit_sigmas(volume, pitch_u, pitch_v, model="nope")


@pytest.fixture(scope="module")
def sample_event():
    if not Path(f"{SAMPLE}-truth.csv.gz").exists():
        pytest.skip(f"real TrackML sample event not found at {SAMPLE} (../shared/data)")
    from gnn4hep.tracking.io import read_event

    return read_event(SAMPLE)


def test_measured_errors_describe_the_real_residuals(sample_event):
    """True-hit residuals (hit minus truth crossing, local u), offset-corrected, over the model's sigma: unit width
    per volume; pitch / sqrt(12) misdescribes the pixel barrel by more than 2x."""
    from gnn4hep.tracking.fitting.measurements import cluster_extent
    from gnn4hep.tracking.io import read_detector

    detector = read_detector()
    hits = sample_event.hits.merge(sample_event.truth, on="hit_id")
    hits = hits[hits["particle_id"] != 0]
    row = detector.module_index(hits["volume_id"], hits["layer_id"], hits["module_id"])
    delta = hits[["x", "y", "z"]].to_numpy(float) - hits[["tx", "ty", "tz"]].to_numpy(float)
    du = np.einsum("ni,ni->n", detector.rotations[row][:, :, 0], delta) - hit_offsets(hits["volume_id"].to_numpy())[:, 0]
    extent = cluster_extent(sample_event.cells).reindex(hits["hit_id"]).to_numpy(float)
    pitch = detector.modules[["pitch_u", "pitch_v"]].to_numpy(float)[row]
    sigma_u, _ = hit_sigmas(hits["volume_id"].to_numpy(), pitch[:, 0], pitch[:, 1], extent[:, 0], extent[:, 1])
    pull = pd.Series(du / sigma_u).groupby(hits["volume_id"].to_numpy())
    width = pull.agg(lambda x: 1.4826 * np.median(np.abs(x - np.median(x))))
    assert np.all((width > 0.7) & (width < 1.3)), width.to_dict()
    barrel = hits["volume_id"].to_numpy() == 8
    assert np.std(du[barrel]) < 0.5 * 0.05 / np.sqrt(12)


def test_refit_of_the_real_truth_keeps_its_hits_and_score(sample_event):
    from gnn4hep.tracking.scoring import score_event

    true_hits = sample_event.truth[sample_event.truth["particle_id"] != 0]
    candidates = pd.DataFrame({"hit_id": true_hits["hit_id"], "track_id": true_hits["particle_id"].astype(np.int64)})
    cleaned, params = refit(sample_event, candidates, config=FitConfig())
    assert score_event(sample_event.truth, cleaned) >= 0.995
    # exact 64-bit ids: every true hit that stayed is still in its particle's track
    merged = cleaned.merge(true_hits[["hit_id", "particle_id"]], on="hit_id")
    assert (merged["track_id"] == merged["particle_id"]).mean() > 0.99
    assert params["n_outliers"].sum() < 0.005 * len(true_hits)


def test_simulated_model_matches_the_residuals_of_freshly_simulated_clusters():
    """The ``simulated`` tables (measured on a Pythia event) against the true residuals of another event of the
    simulator (a particle gun, other seed): pulls of width ~1 in the pixels (narrower at the 5 um floor), where
    pitch / sqrt(12) is 2-4x too wide for multi-cell clusters."""
    from gnn4hep.tracking.fitting.hit_errors import (SIMULATED_CLUSTER_SIGMAS_MM, SIMULATED_FLOOR_MM,
                                                     SIMULATED_VOLUME_SIGMAS_MM)
    from gnn4hep.tracking.fitting.measurements import cluster_extent
    from gnn4hep.tracking.io import read_detector
    from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event

    for table in (SIMULATED_CLUSTER_SIGMAS_MM, SIMULATED_VOLUME_SIGMAS_MM):
        assert min(np.min(np.ravel(np.concatenate([np.ravel(x) for x in row]))) for row in table.values()) >= SIMULATED_FLOOR_MM
    assert np.all(hit_offsets(np.array([8, 13, 17]), model="simulated") == 0.0)
    detector = read_detector()
    event = simulate_event(GunSource(n_particles=400, pt_gev=(0.5, 10.0), eta=(-2.5, 2.5)), detector, seed=31,
                           config=SimulationConfig(hit_efficiency=1.0, digitisation="clusters"))
    hits = event.hits.merge(event.truth, on="hit_id")
    hits = hits[(hits["particle_id"] != 0) & hits["volume_id"].isin([7, 8, 9])]
    row = detector.module_index(hits["volume_id"], hits["layer_id"], hits["module_id"])
    delta = hits[["x", "y", "z"]].to_numpy(np.float64) - hits[["tx", "ty", "tz"]].to_numpy(np.float64)
    local = np.einsum("nji,nj->ni", detector.rotations[row], delta)[:, :2]
    extent = cluster_extent(event.cells).reindex(hits["hit_id"]).to_numpy(np.float64)
    pitch_u, pitch_v = (detector.modules[c].to_numpy()[row] for c in ("pitch_u", "pitch_v"))
    widths = {}
    for model in ("simulated", "pitch"):
        sigma = np.stack(hit_sigmas(hits["volume_id"].to_numpy(), pitch_u, pitch_v, extent[:, 0], extent[:, 1], model), -1)
        pulls = np.clip(local / sigma, -5, 5)  # 5-sigma tails clipped
        for axis in (0, 1):
            single = extent[:, axis] == 1
            widths[model, axis, "single"] = np.sqrt(np.mean(pulls[single, axis] ** 2))
            widths[model, axis, "multi"] = np.sqrt(np.mean(pulls[~single, axis] ** 2))
    for axis in (0, 1):
        # one cell along the axis (measured 10-12 um in the pixel barrel, below pitch / sqrt(12) = 14-16 um)
        assert 0.8 < widths["simulated", axis, "single"] < 1.2, widths
        # several cells: the measured errors, floored at 5 um (narrower pulls where the residuals are smaller);
        # pitch / sqrt(12) is several times too wide
        assert 0.4 < widths["simulated", axis, "multi"] < 1.2, widths
        assert widths["pitch", axis, "multi"] < 0.4, widths
