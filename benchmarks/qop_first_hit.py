"""Where the real refit's q/p pull bias comes from: pulls at the FIRST HIT against the truth there (issue 12).

The real sample event's true tracks (>= 7 hits, pT above the first argument, default 0.5 GeV) are fitted with the
default FitConfig physics (field ``trackml``, measured material and hit errors; all hits, no outlier rejection), and
the smoothed state on each track's first surface is compared with the truth momentum at that hit (``tpx, tpy, tpz``
of the truth file): no perigee extrapolation, no beam pipe, no vertex. Variants isolate one ingredient each:

- ``true positions``: the measurements replaced by the true hit positions (``tx, ty, tz``) on the same modules;
- ``true loss``: the energy lost at each surface replaced by the truth's |p| change to the next hit;
- ``no loss``: the fitter's energy loss off; ``B x 1.003``: the field's central value raised by 0.3 %.

Then, for the default fit, the forward tracks by the sign of eta with their charges (a charge-even scale error of
opposite sign at -z and +z shows up as a charge-odd mean where the charges are unevenly shared), and with
``--simulated`` the same refit chain on the project's simulator (pion gun, pT 0.5-10 GeV, |eta| < 3, solenoid,
measured layer material with energy loss, Gaussian smearing; ``FitConfig(field="solenoid",
material_model="simulator", hit_errors="pitch")``), pulls at the perigee against the generated particles: the
fitter's own bias where the world matches its model.

Per |eta| range it prints the mean of q * (q/p pull) (charge-even: > 0 means |p| too low) and of the q/p pull
itself (what the issue's target measures; with equal charges its charge-odd part), with standard errors, within 5
sigma, and the pull width. Skips with a message when ../shared/data is absent.
Run: OMP_NUM_THREADS=1 python benchmarks/qop_first_hit.py [MIN_PT] [--simulated]
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE_EVENT = Path(__file__).resolve().parents[2] / "shared" / "data" / "trackml" / "sample_event" / "event000000001"


def main() -> int:
    import gnn4hep.tracking.fitting.kalman as kalman_module
    import gnn4hep.tracking.fitting.track_fit as track_fit_module
    from gnn4hep.tracking.field import TRACKML_FIELD
    from gnn4hep.tracking.fitting import FitConfig, fit_surfaces
    from gnn4hep.tracking.fitting.measurements import hit_table, track_surfaces
    from gnn4hep.tracking.fitting.propagation import global_to_local
    from gnn4hep.tracking.io import read_detector, read_event
    from gnn4hep.tracking.simulation.material import SILICON_DEDX_GEV_PER_MM

    if not Path(f"{SAMPLE_EVENT}-truth.csv.gz").exists():
        print(f"skipped: the real sample event is missing ({SAMPLE_EVENT})")
        return 0
    args = [a for a in sys.argv[1:] if a != "--simulated"]
    min_pt = float(args[0]) if args else 0.5
    event, detector, config = read_event(SAMPLE_EVENT), read_detector(), FitConfig()
    truth = event.truth[event.truth["particle_id"] != 0]
    particles = event.particles.set_index(event.particles["particle_id"].astype(np.int64))
    pt = np.hypot(particles["px"], particles["py"])
    n_hits = truth.groupby("particle_id").size()
    chosen = [p for p in n_hits.index if n_hits[p] >= 7 and pt.get(int(p), 0.0) > min_pt]
    candidates = pd.DataFrame({"hit_id": truth["hit_id"], "track_id": truth["particle_id"].astype(np.int64)})
    table = hit_table(event, candidates[candidates["track_id"].isin(chosen)], detector, config)
    ids, code = np.unique(table["track_id"], return_inverse=True)
    lengths = np.bincount(code)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    index = starts[:, None] + np.minimum(np.arange(lengths.max())[None, :], lengths[:, None] - 1)
    hit_truth = event.truth.set_index("hit_id").loc[table["hit_id"]]
    p_hit = np.sqrt(hit_truth["tpx"] ** 2 + hit_truth["tpy"] ** 2 + hit_truth["tpz"] ** 2).to_numpy()
    first = hit_truth.iloc[starts]
    p_first = p_hit[starts]
    q = particles.loc[ids, "q"].to_numpy(float)
    eta = -np.log(np.tan(0.5 * np.arctan2(np.hypot(first["tpx"], first["tpy"]), first["tpz"]))).to_numpy()
    base = track_surfaces(table, np.arange(len(table)), lengths, detector)
    module = table["module_row"].to_numpy()
    true_local = global_to_local(hit_truth[["tx", "ty", "tz"]].to_numpy(), detector.centers[module], detector.rotations[module])
    true_pos = dataclasses.replace(base, measurements=true_local[index])
    energy = np.hypot(p_hit[index], config.mass_gev)
    lost = np.zeros_like(energy)
    lost[:, :-1] = energy[:, :-1] - energy[:, 1:]
    lost = np.where(np.arange(index.shape[1])[None, :] < lengths[:, None] - 1, lost, 0.0)
    print(f"real sample event, {len(ids)} true tracks with pT > {min_pt:g} GeV and >= 7 hits; pulls at the first hit "
          f"against its truth momentum, within 5 sigma (mean +- standard error)")

    def run(name, surfaces, field=TRACKML_FIELD, energy_loss=True, true_loss=False, by_sign=False):
        original_smoother, original_path = track_fit_module.kalman_smoother, kalman_module.crossing_path_mm
        if not energy_loss:
            track_fit_module.kalman_smoother = lambda *a, **k: original_smoother(*a, energy_loss=False, **k)
        if true_loss:  # the loss "thickness" is the truth's energy change itself: no crossing-angle factor
            kalman_module.crossing_path_mm = lambda direction, normals, thickness, transverse=None: thickness
            surfaces = dataclasses.replace(surfaces, loss_thickness=lost / SILICON_DEDX_GEV_PER_MM)
        try:
            fit = fit_surfaces(surfaces, field, config.mass_gev, config.material, config.iterations, keep_states=True)
        finally:
            track_fit_module.kalman_smoother, kalman_module.crossing_path_mm = original_smoother, original_path
        state, cov = fit.kalman.smoothed[:, 0], fit.kalman.smoothed_cov[:, 0]
        with np.errstate(invalid="ignore"):
            pull = (state[:, 4] - q / p_first) / np.sqrt(cov[:, 4, 4])
        even = q * pull
        parts = []
        for lo, hi in ((0.0, 1.0), (1.0, 2.0), (2.0, 5.0), (0.0, 5.0)):
            rows = fit.ok & (np.abs(pull) < 5) & (np.abs(eta) >= lo) & (np.abs(eta) < hi)
            n = int(rows.sum())
            parts.append(f"|eta| {lo:g}-{hi:g} (n {n}): q*pull {even[rows].mean():+.2f}+-{even[rows].std() / np.sqrt(n):.2f}, "
                         f"pull {pull[rows].mean():+.2f}+-{pull[rows].std() / np.sqrt(n):.2f} width {pull[rows].std():.2f}")
        print(f"{name:>22}: " + "; ".join(parts), flush=True)
        if by_sign:
            for lo, hi in ((-5.0, -2.0), (2.0, 5.0)):
                rows = fit.ok & (np.abs(pull) < 5) & (eta >= lo) & (eta < hi)
                n = int(rows.sum())
                print(f"{'':>22}  eta {lo:+g}..{hi:+g} (n {n}, {int((q[rows] > 0).sum())} positive): q*pull "
                      f"{even[rows].mean():+.2f}+-{even[rows].std() / np.sqrt(n):.2f}, pull {pull[rows].mean():+.2f}+-"
                      f"{pull[rows].std() / np.sqrt(n):.2f}")

    run("default", base, by_sign=True)
    run("true positions", true_pos)
    run("true pos., true loss", true_pos, true_loss=True)
    run("true pos., no loss", true_pos, energy_loss=False)
    run("true pos., B x 1.003", true_pos, field=dataclasses.replace(TRACKML_FIELD, b_center_tesla=TRACKML_FIELD.b_center_tesla * 1.003))
    if "--simulated" in sys.argv:
        simulated_check(detector)
    return 0


def simulated_check(detector, n_events: int = 2, per_event: int = 1500) -> None:
    """The refit chain on the project's simulator (see the module docstring): q/p pulls at the perigee per |eta|."""
    from gnn4hep.tracking.field import TRACKML_SOLENOID
    from gnn4hep.tracking.fitting import FitConfig, refit
    from gnn4hep.tracking.fitting.perigee import particles_to_perigee
    from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event

    frames = []
    config = FitConfig(field="solenoid", material_model="simulator", hit_errors="pitch", max_outliers=0,
                       split_bad=False, attach_orphans=False, mass_gev=0.13957)
    for i in range(n_events):
        event = simulate_event(GunSource(n_particles=per_event, pt_gev=(0.5, 10.0), eta=(-3.0, 3.0)), detector, seed=3,
                               event_index=i, config=SimulationConfig(field="solenoid", digitisation="smear",
                                                                      hit_efficiency=1.0, energy_loss=True,
                                                                      trackml_material=True))
        candidates = pd.DataFrame({"hit_id": event.truth["hit_id"], "track_id": event.truth["particle_id"].astype(np.int64)})
        _, params = refit(event, candidates, detector, config)
        part = event.particles.set_index(event.particles["particle_id"].astype(np.int64)).loc[params["track_id"]]
        truth = particles_to_perigee(part[["vx", "vy", "vz"]].to_numpy(float), part[["px", "py", "pz"]].to_numpy(float),
                                     part["q"].to_numpy(float), TRACKML_SOLENOID)
        params = params.assign(true_qop=truth[:, 4], q=part["q"].to_numpy(float), true_eta=-np.log(np.tan(0.5 * truth[:, 3])))
        frames.append(params[params["fitted"] & (params["n_hits"] >= 7)])
    table = pd.concat(frames)
    pull = ((table["qop"] - table["true_qop"]) / table["sigma_qop"]).to_numpy()
    eta, q = table["true_eta"].to_numpy(), table["q"].to_numpy()
    parts = []
    for lo, hi in ((0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (0.0, 3.0)):
        rows = (np.abs(pull) < 5) & (np.abs(eta) >= lo) & (np.abs(eta) < hi)
        n = int(rows.sum())
        parts.append(f"|eta| {lo:g}-{hi:g} (n {n}): q*pull {(q * pull)[rows].mean():+.3f}+-{(q * pull)[rows].std() / np.sqrt(n):.3f}, "
                     f"pull {pull[rows].mean():+.3f}+-{pull[rows].std() / np.sqrt(n):.3f} width {pull[rows].std():.3f}")
    print("simulated pions, refit at the perigee: " + "; ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
