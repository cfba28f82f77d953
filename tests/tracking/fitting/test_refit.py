"""Public refit API on simulated TrackML events: columns, pass-through, outliers, errors."""

import numpy as np
import pandas as pd
import pytest

from gnn4hep.errors import SubmissionError
from gnn4hep.tracking.event import Event
from gnn4hep.tracking.fitting import COV_COLUMNS, PARAM_COLUMNS, FitConfig, refit
from gnn4hep.tracking.fitting.perigee import particles_to_perigee, wrap_angle
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.scoring import score_event
from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event


@pytest.fixture(scope="module")
def detector():
    return read_detector()


@pytest.fixture(scope="module")
def event(detector):
    source = GunSource(n_particles=300, pt_gev=(1.0, 50.0), eta=(-2.5, 2.5))
    return simulate_event(source, detector, seed=21, config=SimulationConfig(digitisation="smear", hit_efficiency=1.0,
                                                                          energy_loss=True))


#: the fit settings that match the events above: the simulator's uniform 2 T field, bare sensors and
#: pitch / sqrt(12) smearing (the fitter's defaults are the real detector's)
SIMULATED = dict(field="uniform", material_model="sensors", hit_errors="pitch")


def _truth_candidates(event):
    return pd.DataFrame({"hit_id": event.truth["hit_id"], "track_id": event.truth["particle_id"].astype(np.int64)})


def test_refit_truth_tracks_recovers_particles(event, detector):
    cleaned, params = refit(event, _truth_candidates(event), detector, FitConfig(mass_gev=0.13957, **SIMULATED))
    assert list(params.columns) == list(PARAM_COLUMNS) and len(COV_COLUMNS) == 15
    assert params["fitted"].all()
    assert (params["n_outliers"] == 0).mean() > 0.95
    assert sorted(cleaned["hit_id"]) == sorted(event.hits["hit_id"])
    particles = event.particles.set_index(event.particles["particle_id"].astype(np.int64)).loc[params["track_id"]]
    truth = particles_to_perigee(particles[["vx", "vy", "vz"]].to_numpy(float), particles[["px", "py", "pz"]].to_numpy(float),
                                 particles["q"].to_numpy(float), 2.0)
    diff = params[["d0", "z0", "phi", "theta", "qop"]].to_numpy() - truth
    diff[:, 2] = wrap_angle(diff[:, 2])
    pulls = diff / params[[f"sigma_{c}" for c in ("d0", "z0", "phi", "theta", "qop")]].to_numpy()
    assert np.all(np.abs(np.median(pulls, axis=0)) < 0.3)
    assert np.all(np.abs(pulls).max(axis=0) < 8)
    assert np.allclose(params["pt"], np.hypot(particles["px"], particles["py"]), rtol=0.1)
    assert np.allclose(params["sigma_d0"] ** 2, params["cov_00"])


def test_short_tracks_pass_through_and_unassigned_hits_get_singletons(event, detector):
    candidates = _truth_candidates(event)
    first = candidates["track_id"].iloc[0]
    rows = np.flatnonzero(candidates["track_id"].to_numpy() == first)
    candidates.loc[rows[2:], "track_id"] = -1  # keep two hits in `first`
    candidates = candidates[candidates["track_id"] != -1]  # and drop the rest of them
    cleaned, params = refit(event, candidates, detector, FitConfig(**SIMULATED))
    row = params.set_index("track_id").loc[first]
    assert not row["fitted"] and np.isnan(row["d0"]) and row["n_hits"] == 2
    assert len(cleaned) == len(event.hits) and cleaned["hit_id"].is_unique
    new_ids = cleaned.set_index("hit_id").loc[event.truth["hit_id"].to_numpy()[rows[2:]], "track_id"]
    assert new_ids.is_unique and not set(new_ids) & set(candidates["track_id"])


def _inject_wrong_hits(candidates, n, seed=3):
    """Candidates with ``n`` random hits moved into other, random tracks; returns (moved table, rows)."""
    tracks = candidates["track_id"].to_numpy().copy()
    rng = np.random.default_rng(seed)
    ids = np.unique(tracks)
    victims = rng.choice(len(tracks), n, replace=False)
    for i in victims:
        tracks[i] = rng.choice(ids[ids != tracks[i]])
    return candidates.assign(track_id=tracks), victims


def test_injected_wrong_hits_are_rejected(event, detector):
    candidates = _truth_candidates(event)
    injected, victims = _inject_wrong_hits(candidates, 20)
    config = FitConfig(mass_gev=0.13957, attach_orphans=False, **SIMULATED)
    cleaned, params = refit(event, injected, detector, config)
    moved = cleaned.set_index("hit_id").loc[candidates["hit_id"].to_numpy()[victims], "track_id"].to_numpy()
    rejected = ~np.isin(moved, np.unique(candidates["track_id"]))
    assert rejected.mean() >= 0.9, rejected.mean()
    assert params["n_outliers"].sum() <= 20 + 5


def test_rejected_hits_go_back_to_their_own_track(event, detector):
    candidates = _truth_candidates(event)
    injected, victims = _inject_wrong_hits(candidates, 20)
    cleaned, params = refit(event, injected, detector, FitConfig(mass_gev=0.13957, **SIMULATED))
    final = cleaned.set_index("hit_id")["track_id"]
    victim_hits = candidates["hit_id"].to_numpy()[victims]
    home = final.loc[victim_hits].to_numpy() == candidates["track_id"].to_numpy()[victims]
    assert home.mean() >= 0.9, home.mean()
    # no other hit left its true track
    others = ~np.isin(candidates["hit_id"].to_numpy(), victim_hits)
    stayed = final.loc[candidates["hit_id"].to_numpy()[others]].to_numpy() == candidates["track_id"].to_numpy()[others]
    assert stayed.mean() >= 0.995, stayed.mean()
    assert params["n_attached"].sum() >= home.sum()  # every hit back home was attached by the refit
    assert score_event(event.truth, cleaned) > score_event(event.truth, injected)


@pytest.mark.parametrize(
    "table, message",
    [
        (pd.DataFrame({"hit_id": [1, 2]}), "missing column 'track_id'"),
        (pd.DataFrame({"hit_id": [1, 1], "track_id": [0, 0]}), "more than once"),
        (pd.DataFrame({"hit_id": [10**9], "track_id": [0]}), "not in the event"),
        (pd.DataFrame({"hit_id": [1.0, np.nan], "track_id": [0, 0]}), "missing values"),
    ],
)
def test_bad_candidates_are_named(event, detector, table, message):
    with pytest.raises(SubmissionError, match=message) as info:
        refit(event, table, detector, name="my.csv")
    assert "my.csv" in str(info.value)


def test_split_keeps_the_outliers_of_a_candidate_together(event, detector):
    candidates = _truth_candidates(event)
    particles = event.particles.assign(track_id=event.particles["particle_id"].astype(np.int64))
    particles = particles[particles["track_id"].isin(candidates["track_id"])]
    phi = np.arctan2(particles["py"], particles["px"]).to_numpy()
    eta = np.arcsinh(particles["pz"] / np.hypot(particles["px"], particles["py"])).to_numpy()
    distance = np.hypot(np.angle(np.exp(1j * (phi[:, None] - phi[None, :]))), eta[:, None] - eta[None, :])
    np.fill_diagonal(distance, np.inf)
    i, j = np.unravel_index(np.argmin(distance), distance.shape)  # the two closest particles
    a, b = particles["track_id"].to_numpy()[[i, j]]
    merged = candidates["track_id"].replace({b: a})
    n_b = int((candidates["track_id"] == b).sum())
    config = FitConfig(mass_gev=0.13957, outlier_ids="split", max_outliers=3, restore_chi2_ndf=None, **SIMULATED)
    cleaned, params = refit(event, candidates.assign(track_id=merged), detector, config)
    row = params.set_index("track_id").loc[a]
    assert row["n_outliers"] == 3
    was_a = cleaned.set_index("hit_id").loc[candidates["hit_id"][merged.to_numpy() == a], "track_id"]
    rejected = was_a[was_a != a]
    assert len(rejected) == 3 and rejected.nunique() == 1  # the merged candidate's outliers share one new id
    assert not set(rejected) & set(merged)
    with pytest.raises(ValueError, match="outlier_ids"):
        FitConfig(outlier_ids="nope")
    assert n_b >= 3


def test_merged_candidates_are_split_into_two_fitted_tracks(event, detector):
    candidates = _truth_candidates(event)
    sizes = candidates["track_id"].value_counts()
    ids = sizes[sizes >= 8].index.to_numpy()[:20]
    merged = candidates["track_id"].to_numpy().copy()
    pairs = ids.reshape(-1, 2)
    for a, b in pairs:  # merge 10 pairs of unrelated particles
        merged[merged == b] = a
    cleaned, params = refit(event, candidates.assign(track_id=merged), detector, FitConfig(mass_gev=0.13957, **SIMULATED))
    assert cleaned["hit_id"].is_unique and len(cleaned) == len(event.hits)
    assert params["track_id"].is_unique
    # a split candidate's hits end in two tracks, each made of one particle's hits
    pid = event.truth.set_index("hit_id")["particle_id"]
    split = 0
    for a, b in pairs:
        hits = candidates["hit_id"][np.isin(candidates["track_id"], [a, b])]
        tracks = cleaned.set_index("hit_id").loc[hits, "track_id"]
        big = tracks.value_counts()
        if (big >= 4).sum() == 2:
            split += 1
            for track in big.index[:2]:
                assert pid.loc[tracks.index[tracks == track]].nunique() == 1
    assert split >= 7
    unsplit = refit(event, candidates.assign(track_id=merged), detector, FitConfig(mass_gev=0.13957, split_bad=False, **SIMULATED))[0]
    assert unsplit["track_id"].nunique() < cleaned["track_id"].nunique()


def test_candidates_of_one_module_are_rejected_not_a_crash(detector):
    """Hits of one module as a candidate (as a GNN can connect at mu = 200): the seed helix through three
    coplanar hits lies in the module's plane, and carrying it to the next hit of that module in the
    solenoid raised ZeroDivisionError. The refit must finish: such candidates are not fitted tracks, and
    every hit stays in the cleaned table. The refit with the splitting and the orphan attachment too."""
    rng = np.random.default_rng(5)
    modules = detector.modules
    n_mod, n_per = 300, 4  # of 300 such candidates several hit an exact w . t = 0 (1 in 200 at this seed)
    rows = rng.choice(np.flatnonzero(modules["volume_id"].isin([8, 13]).to_numpy()), n_mod, replace=False)
    local = np.stack([rng.uniform(-8, 8, (n_mod, n_per)), rng.uniform(-20, 20, (n_mod, n_per)), np.zeros((n_mod, n_per))], -1)
    xyz = detector.centers[rows][:, None, :] + np.einsum("mij,mkj->mki", detector.rotations[rows], local)
    hits = pd.DataFrame({"hit_id": np.arange(1, n_mod * n_per + 1), "x": xyz[..., 0].ravel(), "y": xyz[..., 1].ravel(),
                         "z": xyz[..., 2].ravel(), "volume_id": np.repeat(modules["volume_id"].to_numpy()[rows], n_per),
                         "layer_id": np.repeat(modules["layer_id"].to_numpy()[rows], n_per),
                         "module_id": np.repeat(modules["module_id"].to_numpy()[rows], n_per)})
    event = Event(event_id=1, hits=hits)
    candidates = pd.DataFrame({"hit_id": hits["hit_id"], "track_id": np.repeat(np.arange(n_mod), n_per)})
    for config in (FitConfig(field="solenoid"), FitConfig(field="solenoid", split_bad=False, attach_orphans=False)):
        cleaned, params = refit(event, candidates, detector, config)
        assert sorted(cleaned["hit_id"]) == sorted(hits["hit_id"]) and cleaned["hit_id"].is_unique
        assert len(params) >= n_mod


def test_hits_on_fewer_than_three_modules_are_not_fitted_and_tracks_take_no_second_hit_on_a_module(event, detector):
    """A particle crosses a module once: a candidate whose hits lie on < 3 distinct modules passes through
    unfitted (like a 2-hit track), and an orphan on a module its track already crosses is not attached."""
    candidates = _truth_candidates(event)
    hits = event.hits.set_index("hit_id")
    module = (hits["volume_id"].astype(np.int64) * 10**6 + hits["layer_id"] * 10**4 + hits["module_id"]).loc[candidates["hit_id"]]
    # a candidate of two modules' hits: all hits of the two most populated modules (several particles)
    top = module.value_counts().index[:2]
    two_modules = candidates["hit_id"].to_numpy()[np.isin(module.to_numpy(), top)]
    assert len(two_modules) >= 3
    rest = candidates[~candidates["hit_id"].isin(two_modules)]
    bad = pd.concat([rest, pd.DataFrame({"hit_id": two_modules, "track_id": -5})], ignore_index=True)
    cleaned, params = refit(event, bad, detector, FitConfig(mass_gev=0.13957, split_bad=False, attach_orphans=False, **SIMULATED))
    row = params.set_index("track_id").loc[-5]
    assert not row["fitted"] and row["n_hits"] == len(two_modules) and np.isnan(row["qop"])
    # orphan attachment: a duplicate of one of a track's hits, 10 um away on the same module (a split cluster),
    # fits the track perfectly but is not taken: the track already crosses that module
    from gnn4hep.tracking.event import Event

    sizes = candidates["track_id"].value_counts()
    host = sizes.index[sizes >= 8][0]
    original = candidates.loc[candidates["track_id"] == host, "hit_id"].iloc[3]
    hit = event.hits.loc[event.hits["hit_id"] == original].copy()
    row = detector.module_index(hit["volume_id"], hit["layer_id"], hit["module_id"])[0]
    hit[["x", "y", "z"]] = hit[["x", "y", "z"]].to_numpy() + 0.01 * detector.rotations[row][:, 1]
    hit["hit_id"] = event.hits["hit_id"].max() + 1
    extended = Event(event_id=event.event_id, hits=pd.concat([event.hits, hit], ignore_index=True))
    with_duplicate = pd.concat([candidates, pd.DataFrame({"hit_id": hit["hit_id"], "track_id": -7})], ignore_index=True)
    cleaned, params = refit(extended, with_duplicate, detector, FitConfig(mass_gev=0.13957, split_bad=False, **SIMULATED))
    assert cleaned.set_index("hit_id").loc[int(hit["hit_id"].iloc[0]), "track_id"] == -7
    assert params.set_index("track_id").loc[host, "n_attached"] == 0


def test_quality_cut_dissolves_short_wrong_tracks_and_keeps_true_ones(event, detector):
    """Short candidates made of two particles' hits (2 + 3) fit with chi2/ndf far above any true track's; with
    reject_chi2_ndf their hits become singletons, exactly the tracks the same fit without the cut finds above it."""
    candidates = _truth_candidates(event)
    sizes = candidates["track_id"].value_counts()
    ids = sizes[sizes >= 8].index.to_numpy()[:20]
    track = candidates["track_id"].to_numpy().copy()
    hit_rank = candidates.groupby("track_id").cumcount().to_numpy()
    next_id = int(track.max()) + 1
    wrong = []
    for a, b in ids.reshape(-1, 2):  # a 5-hit fake from the first hits of two unrelated particles
        rows = np.flatnonzero(((track == a) & (hit_rank < 2)) | ((track == b) & (hit_rank < 3)))
        track[rows] = next_id
        wrong.append(next_id)
        next_id += 1
    candidates = candidates.assign(track_id=track)
    settings = dict(mass_gev=0.13957, attach_orphans=False, split_bad=False, **SIMULATED)
    plain_cleaned, plain = refit(event, candidates, detector, FitConfig(**settings))
    cut_cleaned, cut = refit(event, candidates, detector, FitConfig(reject_chi2_ndf=10.0, reject_max_hits=7, **settings))
    ratio = plain["chi2"] / plain["ndf"]
    expected = set(plain["track_id"][plain["fitted"] & (plain["n_hits"] <= 7) & (ratio > 10.0)])
    pid = event.truth.set_index("hit_id")["particle_id"]
    for track_id in set(wrong) - expected:  # a fake the cut keeps was cleaned down to one particle's hits
        assert pid.loc[plain_cleaned["hit_id"][plain_cleaned["track_id"] == track_id]].nunique() == 1
    assert len(set(wrong) & expected) >= len(wrong) // 2
    dissolved = set(cut["track_id"][~cut["fitted"] & plain["fitted"].to_numpy()])
    assert dissolved == expected
    assert len(expected) < len(wrong) + 5  # and (almost) no true track is
    assert cut_cleaned["hit_id"].is_unique and len(cut_cleaned) == len(event.hits)
    sizes_after = cut_cleaned["track_id"].value_counts()
    for track_id in expected:
        hits = plain_cleaned["hit_id"][plain_cleaned["track_id"] == track_id]
        assert (sizes_after.loc[cut_cleaned.set_index("hit_id").loc[hits, "track_id"]] == 1).all()
    kept = plain[~plain["track_id"].isin(expected)]
    pd.testing.assert_frame_equal(cut[cut["track_id"].isin(kept["track_id"])].reset_index(drop=True),
                                  kept.reset_index(drop=True))


@pytest.fixture(scope="module")
def low_pt_event(detector):
    source = GunSource(n_particles=200, pt_gev=(0.5, 2.0), eta=(-2.5, 2.5))
    return simulate_event(source, detector, seed=5, config=SimulationConfig(digitisation="smear", hit_efficiency=1.0,
                                                                         energy_loss=True))


def _inner_hits_only(event, keep=4):
    """Truth tracks cut to their ``keep`` hits nearest the vertex; the other hits become singletons."""
    truth = event.truth.merge(event.particles[["particle_id", "vx", "vy", "vz"]], on="particle_id")
    truth["d"] = np.sqrt((truth["tx"] - truth["vx"]) ** 2 + (truth["ty"] - truth["vy"]) ** 2 + (truth["tz"] - truth["vz"]) ** 2)
    order = truth.sort_values(["particle_id", "d"]).groupby("particle_id").cumcount()
    inner = order.reindex(truth.index).to_numpy() < keep
    track = np.where(inner, truth["particle_id"].to_numpy().astype(np.int64), -1 - np.arange(len(truth)))
    return pd.DataFrame({"hit_id": truth["hit_id"].to_numpy(), "track_id": track})


def test_second_attachment_pass_is_one_more_pass_on_the_first_ones_output(low_pt_event, detector):
    """attach_rounds=2 equals attach_orphan_hits applied once more to the attach_rounds=1 refit, and the
    second pass, starting from the extended helices, attaches hits the first could not reach."""
    from dataclasses import replace

    from gnn4hep.tracking.fitting.extension import attach_orphan_hits

    candidates = _inner_hits_only(low_pt_event)
    one = FitConfig(mass_gev=0.13957, split_bad=False, **SIMULATED)
    cleaned1, params1 = refit(low_pt_event, candidates, detector, one)
    cleaned2, params2 = refit(low_pt_event, candidates, detector, replace(one, attach_rounds=2))
    again, again_params = attach_orphan_hits(low_pt_event, cleaned1, params1.assign(n_attached=0), detector, one)
    pd.testing.assert_frame_equal(cleaned2.sort_values("hit_id").reset_index(drop=True),
                                  again.sort_values("hit_id").reset_index(drop=True))
    second = again_params["n_attached"].to_numpy()
    assert second.sum() > 0  # the second pass found more
    assert np.array_equal(params2["n_attached"].to_numpy(), params1["n_attached"].to_numpy() + second)
    assert score_event(low_pt_event.truth, cleaned2) > score_event(low_pt_event.truth, cleaned1)
    with pytest.raises(ValueError, match="attach_rounds"):
        FitConfig(attach_rounds=0)
