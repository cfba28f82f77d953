"""Validation of the Kalman refit on simulated TrackML events: pulls, resolution, cleaning, score gain.

1. Pulls: single muons (gun, pT 1-100 GeV uniform, |eta| < 2.5, vertex spread 15 um / 55 mm) through
   the TrackML detector with the project's simulator (helix in 2 T, Highland scattering at every
   module, Gaussian pitch/sqrt(12) smearing: ``digitisation="smear"``, 100 % efficiency). Truth is the
   perigee of (vx, vy, vz, px, py, pz, q) from particles.csv. Fits use the truth hit lists.
2. Resolution: fixed-pT muon guns (1 ... 100 GeV); robust RMS (1.4826 MAD) of the residuals of
   pT / pT, d0, z0 versus pT and versus eta, with the mean fitted sigma overlaid.
3. Cleaning: Pythia ttbar + pileup events; 5 % of the hits of reconstructible tracks (>= 3 hits)
   are moved into other, random true tracks. The outlier rejection alone (``attach_orphans=False``):
   efficiency = injected hits rejected / injected hits, purity = injected hits rejected / all
   rejected hits. The full refit (orphan hits re-attached by chi2 increment): fraction of injected
   hits back in their own particle's track, fraction of good hits still in theirs. TrackML score of
   the candidates, after rejection only, and after the full refit.
5. Real data (``real``): the real TrackML sample event (../shared/data), refit of the true tracks with
   the default settings (the real data's field ``trackml``: the solenoid with its axis off the beam line;
   measured material and hit errors; ``--real-field solenoid`` / ``segmented`` repeats it in another field,
   stored as ``real_<field>``); pulls of the five perigee
   parameters against the particles' vertex and momentum carried to the beam line in the field, for
   pT > 1 GeV and >= 7 hits; pulls and residuals versus eta and pT (PNG); the pT bias of forward tracks
   (|eta| > 2); the TrackML score of the truth submission after the refit; what widens the q/p pulls (the
   tracks beyond 5 sigma, central and forward tracks apart); the standard errors of the pull means, also for
   pT > 0.5 GeV (the sample event is the only real truth), and the momentum scale q * (q/p pull) per |eta|.
6. Solenoid muons (``solenoid``): muons of 1-100 GeV, |eta| < 2.5, from the tests' independent 1 mm
   Runge-Kutta generator in the solenoid (tests/tracking/fitting/field_generator.py), fitted in the solenoid.

4. Imperfect candidates: geometric graph (layer-pair cuts learned on a training event, pT > 1 GeV
   pairs) + connected components, on all graph edges and on the edges an imperfect classifier would
   keep (97 % of the true edges, fakes 3 % of the true ones), TrackML score before / after the refit.

Writes PNGs under benchmarks/results/kalman/ and benchmarks/results/kalman_validation.json.
Run: OMP_NUM_THREADS=1 python benchmarks/kalman_validation.py [--muons 10000] [--pileup 200] [--real-field segmented]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gnn4hep.tracking.fitting import FitConfig, refit  # noqa: E402
from gnn4hep.tracking.fitting.material import MUON_MASS_GEV  # noqa: E402
from gnn4hep.tracking.fitting.perigee import particles_to_perigee, wrap_angle  # noqa: E402
from gnn4hep.tracking.io import read_detector  # noqa: E402
from gnn4hep.tracking.scoring import score_event  # noqa: E402
from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event  # noqa: E402
from gnn4hep.utils.atomic import atomic_savefig, atomic_write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = RESULTS / "kalman"
NAMES = ("d0", "z0", "phi", "theta", "qop")
LABELS = {"d0": "d0", "z0": "z0", "phi": "phi", "theta": "theta", "qop": "q/p"}
#: fit settings matching the project simulator's events used in studies 1-4 (uniform 2 T, bare sensors,
#: pitch / sqrt(12) smearing); the fitter's defaults are the real detector's (study 5)
SIMULATED = dict(field="uniform", material_model="sensors", hit_errors="pitch")
SAMPLE_EVENT = Path(__file__).resolve().parents[2] / "shared" / "data" / "trackml" / "sample_event" / "event000000001"


@dataclass
class MuonGun(GunSource):
    """The simulator's gun with muons (PDG -13 q) instead of pions."""

    def generate(self, rng, event_index):
        particles = super().generate(rng, event_index)
        return particles.assign(particle_type=(-13 * particles["q"]).astype(np.int32))


def truth_candidates(event) -> pd.DataFrame:
    return pd.DataFrame({"hit_id": event.truth["hit_id"], "track_id": event.truth["particle_id"].astype(np.int64)})


def fit_muons(detector, n_events: int, per_event: int, pt, eta=(-2.5, 2.5), seed: int = 0) -> pd.DataFrame:
    """Fitted parameters joined with the true perigee of every muon track (>= 3 hits)."""
    frames = []
    for i in range(n_events):
        event = simulate_event(MuonGun(n_particles=per_event, pt_gev=pt, eta=eta), detector, seed=seed, event_index=i,
                               config=SimulationConfig(digitisation="smear", hit_efficiency=1.0, energy_loss=True))
        _, params = refit(event, truth_candidates(event), detector, FitConfig(mass_gev=MUON_MASS_GEV, max_outliers=0, split_bad=False, **SIMULATED))
        particles = event.particles.set_index(event.particles["particle_id"].astype(np.int64)).loc[params["track_id"]]
        truth = particles_to_perigee(particles[["vx", "vy", "vz"]].to_numpy(float), particles[["px", "py", "pz"]].to_numpy(float),
                                     particles["q"].to_numpy(float), detector.field_tesla)
        for j, name in enumerate(NAMES):
            params[f"true_{name}"] = truth[:, j]
        params["true_pt"] = np.hypot(particles["px"], particles["py"]).to_numpy()
        params["true_eta"] = -np.log(np.tan(0.5 * truth[:, 3]))
        frames.append(params)
    return pd.concat(frames, ignore_index=True)


def pulls_of(table: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name in NAMES:
        diff = table[name] - table[f"true_{name}"]
        if name == "phi":
            diff = wrap_angle(diff.to_numpy())
        out[name] = diff / table[f"sigma_{name}"]
    return pd.DataFrame(out)


def robust_rms(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) if len(values) > 5 else float("nan")


def study_pulls(detector, n_muons: int) -> dict:
    per_event = 2000
    table = fit_muons(detector, max(1, n_muons // per_event), per_event, (1.0, 100.0), seed=11)
    fitted = table[table["fitted"]]
    pulls = pulls_of(fitted)
    chi2_ndf = (fitted["chi2"] / fitted["ndf"]).to_numpy()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    grid = np.linspace(-5, 5, 101)
    result = {"n_tracks": int(len(table)), "n_fitted": int(len(fitted)), "pulls": {}}
    for ax, name in zip(axes.flat, NAMES):
        values = pulls[name].to_numpy()
        mean, std = float(np.mean(values)), float(np.std(values))
        result["pulls"][name] = {"mean": mean, "std": std, "robust_std": robust_rms(values),
                                 "fraction_beyond_5": float(np.mean(np.abs(values) > 5))}
        ax.hist(np.clip(values, -5, 5), bins=grid, density=True, histtype="step", lw=1.5, label="fit")
        ax.plot(grid, np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi), "k--", lw=1, label="N(0, 1)")
        ax.set_title(f"pull {LABELS[name]}: mean {mean:+.3f}, sigma {std:.3f}")
        ax.set_xlabel("(fit - true) / sigma")
        ax.legend(fontsize=8)
    ax = axes.flat[5]
    ax.hist(np.clip(chi2_ndf, 0, 4), bins=80, density=True, histtype="step", lw=1.5)
    ax.set_title(f"chi2/ndf: mean {np.mean(chi2_ndf):.3f}")
    ax.set_xlabel("chi2 / ndf")
    result["chi2_ndf_mean"] = float(np.mean(chi2_ndf))
    from scipy.stats import chi2 as chi2_dist

    probability = chi2_dist.sf(fitted["chi2"], fitted["ndf"])
    result["chi2_probability_mean"] = float(np.mean(probability))
    fig.suptitle(f"Kalman fit pulls: {len(fitted)} simulated muons, pT 1-100 GeV, |eta| < 2.5 (2 T, Highland MS, pitch/sqrt(12))")
    fig.tight_layout()
    atomic_savefig(fig, FIGURES / "pulls.png", dpi=90)
    plt.close(fig)
    return result


def study_resolution(detector, per_point: int) -> dict:
    pts = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
    tables = {pt: fit_muons(detector, 1, per_point, (pt, pt), seed=int(pt * 10)) for pt in pts}
    rows = []
    eta_edges = np.linspace(-2.5, 2.5, 11)
    for pt, table in tables.items():
        table = table[table["fitted"]]
        rel = ((table["pt"] - table["true_pt"]) / table["true_pt"]).to_numpy()
        qop, theta = table["qop"].to_numpy(), table["theta"].to_numpy()
        rel_sigma = np.sqrt(table["cov_44"] / qop**2 + table["cov_33"] / np.tan(theta) ** 2
                            - 2 * table["cov_34"] / (qop * np.tan(theta)))
        for lo, hi in [(-2.5, 2.5)] + list(zip(eta_edges[:-1], eta_edges[1:])):
            sel = ((table["true_eta"] >= lo) & (table["true_eta"] < hi)).to_numpy()
            rows.append({"pt": pt, "eta_lo": lo, "eta_hi": hi, "n": int(sel.sum()),
                         "pt_rel": robust_rms(rel[sel]), "pt_rel_fitted_sigma": float(np.nanmean(rel_sigma[sel])),
                         "d0_mm": robust_rms((table["d0"] - table["true_d0"]).to_numpy()[sel]),
                         "d0_fitted_sigma_mm": float(table["sigma_d0"].to_numpy()[sel].mean()),
                         "z0_mm": robust_rms((table["z0"] - table["true_z0"]).to_numpy()[sel]),
                         "z0_fitted_sigma_mm": float(table["sigma_z0"].to_numpy()[sel].mean())})
    frame = pd.DataFrame(rows)
    inclusive = frame[(frame["eta_lo"] == -2.5) & (frame["eta_hi"] == 2.5)]
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    for ax, (column, label) in zip(axes[0], (("pt_rel", "sigma(pT)/pT"), ("d0_mm", "sigma(d0) [mm]"), ("z0_mm", "sigma(z0) [mm]"))):
        sigma_col = {"pt_rel": "pt_rel_fitted_sigma", "d0_mm": "d0_fitted_sigma_mm", "z0_mm": "z0_fitted_sigma_mm"}[column]
        ax.loglog(inclusive["pt"], inclusive[column], "o-", label="residual RMS (robust)")
        ax.loglog(inclusive["pt"], inclusive[sigma_col], "x--", label="mean fitted sigma")
        ax.set_xlabel("pT [GeV]")
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs pT, |eta| < 2.5")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    binned = frame[~((frame["eta_lo"] == -2.5) & (frame["eta_hi"] == 2.5))]
    for ax, (column, label) in zip(axes[1], (("pt_rel", "sigma(pT)/pT"), ("d0_mm", "sigma(d0) [mm]"), ("z0_mm", "sigma(z0) [mm]"))):
        for pt in (1.0, 10.0, 100.0):
            sub = binned[binned["pt"] == pt]
            ax.semilogy(0.5 * (sub["eta_lo"] + sub["eta_hi"]), sub[column], "o-", label=f"pT = {pt:g} GeV")
        ax.set_xlabel("eta")
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs eta")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Kalman fit resolution, simulated muons on the TrackML detector")
    fig.tight_layout()
    atomic_savefig(fig, FIGURES / "resolution.png", dpi=90)
    plt.close(fig)
    return {"vs_pt": inclusive.drop(columns=["eta_lo", "eta_hi"]).to_dict("records"), "vs_eta": binned.to_dict("records")}


def inject_wrong_hits(truth: pd.DataFrame, fraction: float, rng: np.random.Generator):
    """Truth submission with ``fraction`` of the hits of >=3-hit tracks moved into other random tracks."""
    pid = truth["particle_id"].to_numpy().astype(np.int64)
    size = pd.Series(pid).map(pd.Series(pid).value_counts()).to_numpy()
    reconstructible = (pid != 0) & (size >= 3)
    track = np.where(pid != 0, pid, -np.arange(1, len(pid) + 1))  # noise hits: singletons
    targets = np.unique(pid[reconstructible])
    candidates = np.flatnonzero(reconstructible)
    moved = rng.choice(candidates, int(round(fraction * len(candidates))), replace=False)
    new = rng.choice(targets, len(moved))
    clash = new == track[moved]
    new[clash] = rng.choice(targets, int(clash.sum()))
    keep = new != track[moved]
    moved, new = moved[keep], new[keep]
    track = track.copy()
    track[moved] = new
    return pd.DataFrame({"hit_id": truth["hit_id"].to_numpy(), "track_id": track}), moved


def rejected_hits(before: pd.DataFrame, after: pd.DataFrame) -> np.ndarray:
    """Row mask (in ``before`` order) of hits whose track changed to a new singleton id in ``after``."""
    mapping = after.set_index("hit_id")["track_id"]
    return mapping.loc[before["hit_id"]].to_numpy() != before["track_id"].to_numpy()


def study_cleaning(detector, pileup: float, n_events: int, fraction: float = 0.05) -> dict:
    from gnn4hep.tracking.simulation.pythia_source import PythiaSource

    rng = np.random.default_rng(7)
    rows = []
    events = []
    for i in range(n_events + 1):  # event 0 trains the graph cuts of the candidates study
        start = time.perf_counter()
        event = simulate_event(PythiaSource(pileup=pileup), detector, seed=5, event_index=i)
        events.append(event)
        print(f"  simulated mu={pileup:g} event {i}: {len(event.hits)} hits in {time.perf_counter() - start:.1f} s", flush=True)
    for event in events[1:]:
        candidates, moved = inject_wrong_hits(event.truth, fraction, rng)
        # the outlier rejection alone (no re-attachment), then the full refit (re-attachment on)
        rejection_only, params = refit(event, candidates, detector, FitConfig(mass_gev=0.13957, attach_orphans=False, **SIMULATED))
        start = time.perf_counter()
        cleaned, full_params = refit(event, candidates, detector, FitConfig(mass_gev=0.13957, **SIMULATED))
        seconds = time.perf_counter() - start
        rejected = rejected_hits(candidates, rejection_only)
        true_track = event.truth.set_index("hit_id").loc[candidates["hit_id"], "particle_id"].to_numpy().astype(np.int64)
        final_track = cleaned.set_index("hit_id").loc[candidates["hit_id"], "track_id"].to_numpy()
        injected = np.zeros(len(candidates), bool)
        injected[moved] = True
        particles = event.particles.set_index(event.particles["particle_id"].astype(np.int64))
        dest_pt = np.hypot(particles["px"], particles["py"]).reindex(candidates["track_id"].to_numpy()).to_numpy()
        row = {"n_hits": len(candidates), "n_injected": int(injected.sum()), "n_rejected": int(rejected.sum()),
               "efficiency": float(rejected[injected].mean()), "purity": float(injected[rejected].mean()) if rejected.any() else float("nan"),
               "fraction_tracks_fitted": float(params.loc[params["n_hits"] + params["n_outliers"] >= 3, "fitted"].mean()),
               "refit_seconds": seconds, "n_tracks": int(len(params))}
        high = dest_pt > 1.0
        row["efficiency_pt_gt_1"] = float(rejected[injected & high].mean())
        row["purity_pt_gt_1"] = float(injected[rejected & high].mean())
        edges = np.array([0.0, 0.3, 0.5, 0.7, 1.0, 2.0, 5.0, np.inf])
        row["by_pt"] = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            sel = (dest_pt >= lo) & (dest_pt < hi)
            row["by_pt"].append({"pt_lo": lo, "pt_hi": hi, "n_injected": int((injected & sel).sum()),
                                 "efficiency": float(rejected[injected & sel].mean()) if (injected & sel).any() else float("nan"),
                                 "purity": float(injected[rejected & sel].mean()) if (rejected & sel).any() else float("nan"),
                                 "false_rejection_rate": float(rejected[~injected & sel].mean()) if (~injected & sel).any() else float("nan")})
        row["score_injected"] = score_event(event.truth, candidates)
        row["score_rejection_only"] = score_event(event.truth, rejection_only)
        row["score_refit"] = score_event(event.truth, cleaned)
        row["injected_back_home"] = float((final_track[injected] == true_track[injected]).mean())
        row["good_hits_kept_home"] = float((final_track[~injected] == candidates["track_id"].to_numpy()[~injected]).mean())
        row["n_attached"] = int(full_params["n_attached"].sum())
        row["score_truth"] = score_event(event.truth, truth_candidates(event).assign(
            track_id=np.where(event.truth["particle_id"].to_numpy() != 0, event.truth["particle_id"].to_numpy().astype(np.int64),
                              -np.arange(1, len(event.truth) + 1))))
        row.update(candidates_study(events[0], event, detector))
        rows.append(row)
        print("  " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    plot_cleaning(rows[0], pileup)
    return {"pileup": pileup, "injected_fraction": fraction, "events": rows}


def plot_cleaning(row: dict, pileup: float) -> None:
    """Efficiency / purity of the outlier rejection vs pT, and TrackML scores before / after."""
    bins = pd.DataFrame(row["by_pt"])
    centre = np.arange(len(bins))
    labels = [f"{lo:g}-{hi:g}" for lo, hi in zip(bins["pt_lo"], bins["pt_hi"])]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    ax = axes[0]
    ax.plot(centre, bins["efficiency"], "o-", label="efficiency (injected hits rejected)")
    ax.plot(centre, bins["purity"], "s-", label="purity (rejected hits that were injected)")
    ax.plot(centre, 1 - bins["false_rejection_rate"], "^-", label="1 - false rejection rate (good hits)")
    ax.set_xticks(centre, labels)
    ax.set_xlabel("pT of the track the hit was injected into [GeV]")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"outlier rejection, mu = {pileup:g}, 5 % wrong hits")
    ax = axes[1]
    names, before, after = [], [], []
    for label, key_b, key_a in (("truth + 5 % wrong\n(rejection only)", "score_injected", "score_rejection_only"),
                                ("truth + 5 % wrong\n(full refit)", "score_injected", "score_refit"),
                                ("geometric + CC\n(all edges)", "all_edges_score_before", "all_edges_score_after"),
                                ("geometric + CC\n(imperfect edges)", "imperfect_edges_score_before", "imperfect_edges_score_after")):
        if key_b in row:
            names.append(label)
            before.append(row[key_b])
            after.append(row[key_a])
    x = np.arange(len(names))
    ax.bar(x - 0.2, before, 0.4, label="candidates")
    ax.bar(x + 0.2, after, 0.4, label="after Kalman refit")
    for xi, b, a in zip(x, before, after):
        ax.text(xi, max(a, b) + 0.01, f"{b:.3f} -> {a:.3f}", ha="center", fontsize=8)
    ax.set_xticks(x, names)
    ax.set_ylabel("TrackML score")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("TrackML score before / after the refit")
    fig.tight_layout()
    atomic_savefig(fig, FIGURES / "cleaning.png", dpi=90)
    plt.close(fig)


def candidates_study(train_event, event, detector, keep_true: float = 0.97, fake_ratio: float = 0.03) -> dict:
    """Geometric graph + CC candidates before and after the refit.

    The graph: layer-pair cuts learned on the true pairs of pT > 1 GeV particles of ``train_event``.
    Two edge selections: every graph edge (the bare geometric baseline), and an imperfect edge
    classifier that keeps each true edge with probability ``keep_true`` and as many random fake
    edges as ``fake_ratio`` times the true ones (merges and splits, as a GNN would leave).
    """
    from gnn4hep.graphs.features import hit_table
    from gnn4hep.graphs.geometric import build_geometric_edges, fit_layer_pair_cuts
    from gnn4hep.tracking.building import components_tracks

    rng = np.random.default_rng(3)
    cuts = fit_layer_pair_cuts([hit_table(train_event)], pt_min=1.0)
    table = hit_table(event)
    edges = build_geometric_edges(table, cuts)
    pid = event.truth.set_index("hit_id").loc[table["hit_id"], "particle_id"].to_numpy()
    true_edge = (pid[edges[0]] == pid[edges[1]]) & (pid[edges[0]] != 0)
    n_true, n_fake = int(true_edge.sum()), int((~true_edge).sum())
    keep_fake = min(1.0, fake_ratio * keep_true * n_true / max(n_fake, 1))
    out = {"graph_edges": int(edges.shape[1]), "graph_true_edge_fraction": float(true_edge.mean()),
           "classifier_keep_true": keep_true, "classifier_keep_fake": keep_fake}
    draws = rng.random(edges.shape[1])
    for label, scores in (("all_edges", np.ones(edges.shape[1])),
                          ("imperfect_edges", np.where(true_edge, draws < keep_true, draws < keep_fake).astype(float))):
        candidates = components_tracks(table["hit_id"].to_numpy(), edges, scores, score_cut=0.5, min_hits=1)
        start = time.perf_counter()
        cleaned, params = refit(event, candidates, detector, FitConfig(mass_gev=0.13957, **SIMULATED))
        out[f"{label}_refit_seconds"] = time.perf_counter() - start
        out[f"{label}_score_before"] = score_event(event.truth, candidates)
        out[f"{label}_score_after"] = score_event(event.truth, cleaned)
        out[f"{label}_n_outliers"] = int(params["n_outliers"].sum())
        out[f"{label}_n_fitted"] = int(params["fitted"].sum())
    return out


def pull_significance(pulls: pd.DataFrame, charge: np.ndarray, eta: np.ndarray) -> dict:
    """Pull means with their standard errors (all, and within 5 sigma), and the momentum scale: the mean of
    q * (q/p pull) (> 0: fitted |p| too low) within 5 sigma, per |eta| range."""
    out = {"n_tracks": int(len(pulls))}
    for name in NAMES:
        values = pulls[name].to_numpy()
        core = np.abs(values) < 5.0
        out[name] = {"mean": float(values.mean()), "mean_error": float(values.std() / np.sqrt(len(values))),
                     "std": float(values.std()), "n_beyond_5": int((~core).sum()),
                     "mean_within_5": float(values[core].mean()),
                     "mean_within_5_error": float(values[core].std() / np.sqrt(core.sum())),
                     "std_within_5": float(values[core].std())}
    scaled = charge * pulls["qop"].to_numpy()
    out["q_times_qop_pull_within_5"] = {}
    for lo, hi in ((0.0, 1.0), (1.0, 2.0), (2.0, 5.0)):
        rows = (np.abs(eta) >= lo) & (np.abs(eta) < hi) & (np.abs(scaled) < 5.0)
        out["q_times_qop_pull_within_5"][f"{lo:g}-{hi:g}"] = {
            "n": int(rows.sum()), "mean": float(scaled[rows].mean()),
            "mean_error": float(scaled[rows].std() / np.sqrt(max(rows.sum(), 1)))}
    return out


def study_real(min_pt: float = 1.0, min_hits: int = 7, field: str | None = None, loose_pt: float = 0.5) -> dict:
    """Refit of the real sample event's true tracks with the default FitConfig (see the module docstring);
    ``field`` replaces the default field (truth perigee and fit in it). The significance of the pull means is
    also given for the looser selection pT > ``loose_pt`` (the sample event holds no other truth)."""
    from gnn4hep.tracking.field import field_from_name
    from gnn4hep.tracking.io import read_event

    if not Path(f"{SAMPLE_EVENT}-truth.csv.gz").exists():
        return {"skipped": f"the real sample event is missing ({SAMPLE_EVENT})"}
    event = read_event(SAMPLE_EVENT)
    detector = read_detector()
    config = FitConfig() if field is None else FitConfig(field=field)
    true_hits = event.truth[event.truth["particle_id"] != 0]
    candidates = pd.DataFrame({"hit_id": true_hits["hit_id"], "track_id": true_hits["particle_id"].astype(np.int64)})
    start = time.process_time()
    cleaned, params = refit(event, candidates, detector, config)
    seconds = time.process_time() - start
    score = score_event(event.truth, cleaned)
    particles = event.particles.set_index(event.particles["particle_id"].astype(np.int64))
    params = params[params["track_id"].isin(particles.index)].reset_index(drop=True)
    part = particles.loc[params["track_id"]]
    truth = particles_to_perigee(part[["vx", "vy", "vz"]].to_numpy(float), part[["px", "py", "pz"]].to_numpy(float),
                                 part["q"].to_numpy(float), field_from_name(config.field))
    for j, name in enumerate(NAMES):
        params[f"true_{name}"] = truth[:, j]
    params["true_pt"] = np.hypot(part["px"], part["py"]).to_numpy()
    params["true_eta"] = -np.log(np.tan(0.5 * truth[:, 3]))
    params["true_q"] = part["q"].to_numpy(float)
    long_enough = params["fitted"] & (params["n_hits"] + params["n_outliers"] >= min_hits)
    loose = params[long_enough & (params["true_pt"] > loose_pt)]
    significance = {f"pt_above_{min_pt:g}": None, f"pt_above_{loose_pt:g}": pull_significance(
        pulls_of(loose), loose["true_q"].to_numpy(), loose["true_eta"].to_numpy())}
    selected = params[long_enough & (params["true_pt"] > min_pt)]
    pulls = pulls_of(selected)
    significance[f"pt_above_{min_pt:g}"] = pull_significance(pulls, selected["true_q"].to_numpy(),
                                                             selected["true_eta"].to_numpy())
    result = {"field": config.field, "n_tracks": int(len(selected)), "score_after_refit": float(score), "refit_cpu_seconds": seconds,
              "n_outliers": int(params["n_outliers"].sum()), "n_attached": int(params["n_attached"].sum()),
              "chi2_ndf_mean": float((selected["chi2"] / selected["ndf"]).mean()), "pulls": {}}
    for name in NAMES:
        values = pulls[name].to_numpy()
        result["pulls"][name] = {"mean": float(np.mean(values)), "std": float(np.std(values)),
                                 "robust_std": robust_rms(values)}
    # what makes the q/p pulls wide: a few tracks far out (a catastrophic energy loss, the field model's
    # error at |z| > 1.8 m), or the bulk; central and forward tracks apart
    qop_pull = pulls["qop"].to_numpy()
    eta = selected["true_eta"].to_numpy()
    core = np.abs(qop_pull) < 5.0
    result["qop_pull"] = {"n_beyond_5": int((~core).sum()), "std_within_5": float(np.std(qop_pull[core])),
                          "mean_within_5": float(np.mean(qop_pull[core])),
                          "std_central": float(np.std(qop_pull[np.abs(eta) < 2.0])),
                          "std_central_within_5": float(np.std(qop_pull[(np.abs(eta) < 2.0) & core])),
                          "std_forward": float(np.std(qop_pull[np.abs(eta) > 2.0])),
                          "robust_std_forward": robust_rms(qop_pull[np.abs(eta) > 2.0])}
    forward = selected[np.abs(selected["true_eta"]) > 2.0]
    ratio = forward["pt"] / forward["true_pt"] - 1.0
    inverse = (np.abs(forward["qop"]) / np.sin(forward["theta"])) / (1.0 / forward["true_pt"]) - 1.0
    result["forward"] = {"n_tracks": int(len(forward)), "pt_bias_median": float(np.median(ratio)),
                         "pt_bias_mean": float(np.mean(ratio)), "inverse_pt_bias_mean": float(np.mean(inverse))}
    central = selected[np.abs(selected["true_eta"]) < 1.0]
    result["central_pt_bias_median"] = float(np.median(central["pt"] / central["true_pt"] - 1.0))
    result["significance"] = significance
    residual = pd.DataFrame({name: (selected[name] - selected[f"true_{name}"]).to_numpy() for name in NAMES})
    residual["phi"] = wrap_angle(residual["phi"].to_numpy())
    for kind, values in (("pulls", pulls), ("residuals", residual)):
        fig, axes = plt.subplots(2, 5, figsize=(20, 7.5))
        for column, name in enumerate(NAMES):
            for row, (variable, label) in enumerate((("true_eta", "eta"), ("true_pt", "pT (GeV)"))):
                ax = axes[row, column]
                x = selected[variable].to_numpy()
                ax.scatter(x, values[name].to_numpy(), s=8, alpha=0.7)
                if kind == "pulls":
                    for level in (-1, 0, 1):
                        ax.axhline(level, color="k", lw=0.6, ls="--" if level else "-")
                    ax.set_ylim(-6, 6)
                if variable == "true_pt":
                    ax.set_xscale("log")
                ax.set_xlabel(label)
                ax.set_ylabel(f"{kind[:-1]} {LABELS[name]}" + ("" if kind == "pulls" else " (mm, rad, e/GeV)"))
        fig.suptitle(f"Real TrackML sample event: {kind} of the refitted true tracks (pT > {min_pt} GeV, >= {min_hits} hits, "
                     f"{len(selected)} tracks) against the true perigee in the solenoid; TrackML score after the refit {score:.4f}")
        fig.tight_layout()
        atomic_savefig(fig, FIGURES / (f"real_{kind}.png" if field is None else f"real_{kind}_{field}.png"), dpi=80)
        plt.close(fig)
    return result


def study_solenoid(n_muons: int = 3000) -> dict:
    """Muons of the tests' independent Runge-Kutta generator in the solenoid, fitted in the solenoid."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from gnn4hep.tracking.field import TRACKML_SOLENOID
    from gnn4hep.tracking.fitting import fit_surfaces
    from tests.tracking.fitting.field_generator import generate_in_field

    truth, surfaces, n_hits = generate_in_field(n_muons, TRACKML_SOLENOID, seed=5)
    keep = np.flatnonzero(n_hits >= 7)
    fit = fit_surfaces(surfaces.take(keep), TRACKML_SOLENOID)
    diff = fit.perigee - truth[keep]
    diff[:, 2] = wrap_angle(diff[:, 2])
    pulls = diff / np.sqrt(np.diagonal(fit.perigee_cov, axis1=1, axis2=2))
    return {"n_tracks": int(len(keep)), "fitted": float(fit.ok.mean()),
            "pulls": {name: {"mean": float(pulls[:, j].mean()), "std": float(pulls[:, j].std())} for j, name in enumerate(NAMES)},
            "chi2_ndf_mean": float(np.mean(fit.chi2 / fit.ndf))}


def main() -> int:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--muons", type=int, default=10000, help="muons of the pull study")
    parser.add_argument("--per-point", type=int, default=1500, help="muons per pT point of the resolution study")
    parser.add_argument("--pileup", type=float, default=200.0)
    parser.add_argument("--events", type=int, default=1, help="pileup events of the cleaning study")
    parser.add_argument("--skip", nargs="*", default=[], choices=["pulls", "resolution", "cleaning", "real", "solenoid"])
    parser.add_argument("--real-field", default=None, choices=["trackml", "solenoid", "segmented"],
                        help="field of the real-data study (default: the fitter's); other than the default, its "
                             "result goes under 'real_<field>' and its plots to real_*_<field>.png")
    args = parser.parse_args()
    detector = read_detector()
    result = {}
    path = RESULTS / "kalman_validation.json"
    if path.exists():
        import json

        result = json.loads(path.read_text())
    for name, func, call in (("pulls", study_pulls, lambda: study_pulls(detector, args.muons)),
                             ("resolution", study_resolution, lambda: study_resolution(detector, args.per_point)),
                             ("cleaning", study_cleaning, lambda: study_cleaning(detector, args.pileup, args.events)),
                             ("real", study_real, lambda: study_real(field=args.real_field)),
                             ("solenoid", study_solenoid, study_solenoid)):
        if name in args.skip:
            continue
        if name == "real" and args.real_field not in (None, FitConfig().field):
            name = f"real_{args.real_field}"
        start = time.perf_counter()
        result[name] = call()
        result[name]["seconds"] = time.perf_counter() - start
        atomic_write_json(path, result)
        print(f"{name}: done in {result[name]['seconds']:.0f} s", flush=True)
    if "pulls" in result:
        print(f"{'param':>6} {'mean':>8} {'sigma':>7}")
        for name, values in result["pulls"]["pulls"].items():
            print(f"{name:>6} {values['mean']:>8.3f} {values['std']:>7.3f}")
        print(f"chi2/ndf mean {result['pulls']['chi2_ndf_mean']:.3f}")
    for study in [k for k in result if k.startswith("real")] + ["solenoid"]:
        if study in result and "pulls" in result[study]:
            print(f"{study}: {result[study]['n_tracks']} tracks, chi2/ndf mean {result[study]['chi2_ndf_mean']:.3f}")
            for name, values in result[study]["pulls"].items():
                print(f"  pull {name:>6} mean {values['mean']:+.3f} sigma {values['std']:.3f}")
    if "real" in result and "qop_pull" in result["real"]:
        q = result["real"]["qop_pull"]
        print(f"real: q/p pulls: {q['n_beyond_5']} beyond 5 sigma; the others: mean {q['mean_within_5']:+.3f} sigma "
              f"{q['std_within_5']:.3f}; |eta| < 2: sigma {q['std_central']:.3f} ({q['std_central_within_5']:.3f} within "
              f"5); |eta| > 2: sigma {q['std_forward']:.3f} (robust {q['robust_std_forward']:.3f})")
    for key, sig in result.get("real", {}).get("significance", {}).items():
        print(f"real, {key.replace('_', ' ')} GeV: {sig['n_tracks']} tracks; pull means within 5 sigma (+- standard error), "
              f"tracks beyond: " + ", ".join(f"{n} {sig[n]['mean_within_5']:+.2f}+-{sig[n]['mean_within_5_error']:.2f} "
                                             f"({sig[n]['n_beyond_5']})" for n in NAMES))
        print("  q * (q/p pull) mean by |eta|: " + ", ".join(f"{k}: {v['mean']:+.2f}+-{v['mean_error']:.2f} (n {v['n']})"
                                                      for k, v in sig["q_times_qop_pull_within_5"].items()))
    if "real" in result and "forward" in result["real"]:
        real = result["real"]
        print(f"real: TrackML score after the refit {real['score_after_refit']:.4f}; forward pT bias median "
              f"{real['forward']['pt_bias_median']:+.4f} (mean {real['forward']['pt_bias_mean']:+.4f}); central "
              f"{real['central_pt_bias_median']:+.4f}")
    print(f"wrote {path} and {FIGURES}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
