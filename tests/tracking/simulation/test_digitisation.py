"""The ``trackml`` cluster response on synthetic straight tracks at known angles, against the closed form.

A straight segment whose projection on the readout plane has length L along one axis, placed at a uniformly
distributed offset, crosses on average exactly 1 + L / pitch cells along that axis (one cell plus one per
boundary crossed, and a boundary is crossed with probability L / pitch per pitch). With offsets on a regular
grid of N points over one pitch the mean is exact to 1 / N. The projected length is D |d_v / d_w| along v and
D |d_u / d_w + tan_L| along u, D = f * 2 * module_t, with f and tan_L from ``TRACKML_RESPONSE``.
"""

import numpy as np
import pytest

from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event
from gnn4hep.tracking.simulation.digitisation import TRACKML_RESPONSE, to_global, trackml_clusters
from gnn4hep.tracking.simulation.geometry_index import cached_index

N_OFFSETS = 400  # offsets per angle, a regular grid over one pitch


@pytest.fixture(scope="module")
def index():
    return cached_index(read_detector())


def _module_of(index, volume: int) -> int:
    """A module of ``volume`` near the middle of its list."""
    rows = np.flatnonzero(index.module_ids[:, 0] == volume)
    return int(rows[len(rows) // 2])


def _tracks(index, module: int, slope_u: float, slope_v: float):
    """N_OFFSETS crossings of ``module`` near its centre with local direction (slope_u, slope_v, 1); the
    offset runs over one pitch along u and v together (a regular grid)."""
    offset = (np.arange(N_OFFSETS) + 0.5) / N_OFFSETS
    local = np.zeros((N_OFFSETS, 3))
    local[:, 0] = (offset - 0.5) * index.pitch_u[module] + 0.1234 * index.pitch_u[module]
    local[:, 1] = (offset - 0.5) * index.pitch_v[module] + 0.3456 * index.pitch_v[module]
    modules = np.full(N_OFFSETS, module)
    position = to_global(index, modules, local)
    direction = np.tile([slope_u, slope_v, 1.0], (N_OFFSETS, 1))
    momentum = np.einsum("nij,nj->ni", index.rotations[modules], direction) * 3.0  # only the direction counts
    return modules, position, momentum


def _mean_extents(cells):
    grouped = cells.groupby("hit")
    return grouped["ch0"].nunique().mean(), grouped["ch1"].nunique().mean(), grouped["value"].sum().to_numpy()


@pytest.mark.parametrize("volume", [8, 7, 13])
def test_mean_extent_along_v_has_the_calibrated_slope(index, volume):
    """n_v against the straight-track extent through the full thickness, e_v = 2 t |d_v / d_w| / pitch_v: a line
    of slope f (0.5 in the barrels, 1 in the end-caps) and intercept 1, as the closed form says."""
    module = _module_of(index, volume)
    fraction = TRACKML_RESPONSE[volume][0]
    thickness, pitch_v = 2 * index.half_thickness[module], index.pitch_v[module]
    slopes = np.array([0.0, 0.3, 1.0, 2.5, 5.0, 10.0]) * pitch_v / thickness  # e_v = 0 ... 10 cells
    expected, measured = [], []
    for slope in slopes:
        _, cells = trackml_clusters(index, *_tracks(index, module, 0.0, slope))
        expected.append(thickness * slope / pitch_v)
        measured.append(_mean_extents(cells)[1])
    fit_slope, fit_intercept = np.polyfit(expected, measured, 1)
    assert fit_slope == pytest.approx(fraction, abs=0.01)
    assert fit_intercept == pytest.approx(1.0, abs=0.01)
    # each angle, not only the line: 1 + f e_v, exact to 1 / N_OFFSETS
    np.testing.assert_allclose(measured, 1 + fraction * np.array(expected), atol=2.0 / N_OFFSETS)


def test_lorentz_drift_widens_u_clusters_on_one_side_and_the_charge_is_the_path(index):
    """Pixel barrel along u: the projected length is D |d_u / d_w + tan_L|, so the cluster is narrowest where the
    track's slope cancels the drift; pixel values sum to the path length (mm) through the depth D."""
    volume = 8
    module = _module_of(index, volume)
    fraction, tan_lorentz, _, _ = TRACKML_RESPONSE[volume]
    depth, pitch_u = fraction * 2 * index.half_thickness[module], index.pitch_u[module]
    for slope_u in (-tan_lorentz, -tan_lorentz + 0.4, -tan_lorentz - 0.4, 0.0, 0.5):
        _, cells = trackml_clusters(index, *_tracks(index, module, slope_u, 0.2))
        n_u, _, charge = _mean_extents(cells)
        assert n_u == pytest.approx(1 + depth * abs(slope_u + tan_lorentz) / pitch_u, abs=2.0 / N_OFFSETS)
        # rtol: detectors.csv's rotations are orthonormal to ~1e-8 (printed digits), not to machine precision
        np.testing.assert_allclose(charge, depth * np.sqrt(1 + slope_u**2 + 0.2**2), rtol=1e-6)


def test_strip_cells_hold_one_and_measured_positions_carry_the_real_offset(index):
    """Strip values are 1 (as in the real cells); the measured position along u is off the truth by
    -s tan_L D / 2 on average (the real hits' Lorentz offsets: -14.4 um in volume 13, +9.1 um in volume 8)."""
    for volume, real_offset_um in ((13, -14.4), (8, 9.1)):
        module = _module_of(index, volume)
        fraction, tan_lorentz, side, binary = TRACKML_RESPONSE[volume]
        depth = fraction * 2 * index.half_thickness[module]
        modules, position, momentum = _tracks(index, module, 0.3, 0.1)
        measured, cells = trackml_clusters(index, modules, position, momentum)
        if binary:
            assert (cells["value"] == 1.0).all()
        local = np.einsum("nji,nj->ni", index.rotations[modules], measured - position)
        offset = local[:, 0].mean()
        assert offset == pytest.approx(-side * tan_lorentz * depth / 2, abs=2e-4)
        assert 1000 * offset == pytest.approx(real_offset_um, abs=1.5)
        assert np.abs(local[:, 2]).max() < 1e-9  # on the mid-plane


def test_simulated_cells_are_deterministic_for_a_seed():
    detector = read_detector()
    source = GunSource(n_particles=40, pt_gev=(0.5, 5.0), eta=(-2.5, 2.5))
    config = SimulationConfig(noise_hits=30)
    first = simulate_event(source, detector, seed=5, config=config)
    again = simulate_event(source, detector, seed=5, config=config)
    other = simulate_event(source, detector, seed=6, config=config)
    assert first.cells.equals(again.cells) and first.hits.equals(again.hits)
    assert not first.cells.equals(other.cells)
    assert set(first.cells["hit_id"]) == set(first.hits["hit_id"])  # every hit, noise included, has cells


def test_real_hit_errors_fit_the_simulated_clusters_of_the_real_particles(sample_event_prefix):
    """The hit errors measured on real clusters (``hit_errors`` model ``trackml``: offsets and per-size sigmas)
    give pulls of width ~1 on the ``trackml`` clusters of a replay of the real sample event's own particles, in
    every volume, as they do on the real hits (0.98-1.14); the old geometric clusters do not."""
    from gnn4hep.tracking.fitting.hit_errors import hit_offsets, hit_sigmas
    from gnn4hep.tracking.fitting.measurements import cluster_extent
    from gnn4hep.tracking.simulation import ReplaySource
    from gnn4hep.tracking.simulation.batch import default_config

    detector = read_detector()
    source = ReplaySource(f"{sample_event_prefix}-particles.csv.gz")
    widths = {}
    for model in ("trackml", "clusters"):
        event = simulate_event(source, detector, seed=31, config=default_config(source, digitisation=model))
        hits = event.hits.merge(event.truth, on="hit_id")
        hits = hits[hits["particle_id"] != 0]
        volume = hits["volume_id"].to_numpy()
        row = detector.module_index(volume, hits["layer_id"], hits["module_id"])
        delta = hits[["x", "y", "z"]].to_numpy(np.float64) - hits[["tx", "ty", "tz"]].to_numpy(np.float64)
        local = np.einsum("nji,nj->ni", detector.rotations[row], delta)[:, :2] - hit_offsets(volume)
        extent = cluster_extent(event.cells).reindex(hits["hit_id"]).to_numpy(np.float64)
        pitch_u, pitch_v = (detector.modules[c].to_numpy()[row] for c in ("pitch_u", "pitch_v"))
        sigma = np.stack(hit_sigmas(volume, pitch_u, pitch_v, extent[:, 0], extent[:, 1], "trackml"), -1)
        pulls = np.clip(local / sigma, -5, 5)
        for v in np.unique(volume):
            widths[model, int(v)] = np.sqrt(np.mean(pulls[volume == v] ** 2, axis=0))
    for v in (7, 8, 9, 12, 13, 14, 16, 17, 18):
        assert np.all((widths["trackml", v] > 0.85) & (widths["trackml", v] < 1.25)), (v, widths["trackml", v])
    # the geometric clusters miss the pixel barrel's 9 um Lorentz offset (measured: u pulls 2.6) and its
    # half-depth clusters (v pulls 0.63)
    assert widths["clusters", 8][0] > 1.5 and widths["clusters", 8][1] < 0.8, widths["clusters", 8]
