"""Benchmark: fit the TrackML solenoid (radius, half-length, B at its centre, centre z, axis x, y) to the real sample event's truth.

Between two consecutive true hits of a charged particle the Lorentz force changes the momentum by

    dp = K q  int dl x B  ~=  K q  dx x <B>_chord,      K = 0.299792458e-3 GeV / (T mm e),

exact for a constant B whatever the curvature (int dl = dx); <B> is the model's mean along the chord. The truth file gives the true position
(tx, ty, tz, mm) and momentum (tpx, tpy, tpz, GeV) at every hit. Multiple scattering adds a random dp
perpendicular to p of about 13.6 MeV sqrt(x / X0) (nearly independent of p), and energy loss a dp
along p: so only the two components of dp perpendicular to the mean momentum are fitted, with equal
weights and a robust (soft-L1) loss against the rare hadronic interactions. The full vector equation
is fitted (B_r and B_z), not a table of the transverse rotation rate, which is B_z - B_r cot(theta) cos(psi)
and understates B_z in the end-caps.

Two fits:

1. the ideal thin finite solenoid (:class:`gnn4hep.tracking.field.SolenoidField`, closed form) with
   free (radius, half-length, B at the centre, centre z, and the (x, y) where its axis, parallel to z,
   crosses the transverse plane), by ``scipy.optimize.least_squares``; uncertainties from the Jacobian,
   scaled by the residual spread, and from a bootstrap over particles (the larger is quoted). Writes
   field_fit.json (:data:`gnn4hep.tracking.field.TRACKML_FIELD`, the fitter's field for real data).
   ``--on-axis`` fixes the axis on the z axis (the four-parameter fit of the simulator's
   :data:`~gnn4hep.tracking.field.TRACKML_SOLENOID`, field_fit_on_axis.json); ``--centered`` also fixes the
   centre at z = 0 (three parameters, field_fit_centered.json);
2. per bin of the segment midpoint's z (signed: the field is not symmetric about z = 0), a free
   constant (B_r sign(z - z_c), B_z), z_c the fitted centre, B_r away from the fitted axis: linear least
   squares, compared with the fitted model averaged over the same segments.

``--profile`` checks the scale of the axis-free solenoid along z: B = f(z) B_solenoid with f piecewise linear
between knots (every 300 mm over |z| < 1.65 m, then 2.0 and 2.4 m, constant beyond), fitted by linear least
squares on the same residuals (soft-L1 re-weighted); f = 1 within its errors means the solenoid's magnitude is
right there (benchmarks/results/field_fit_profile.json).

``--segments K`` instead fits a thin current sheet of the solenoid's radius with a piecewise-constant
current along z (K equal segments over |z| < ``SHEET_HALF_LENGTH_MM``,
:class:`gnn4hep.tracking.field.SegmentedSolenoidField`): the field is linear in the K currents, so it is a
linear least-squares fit (re-weighted with the same soft-L1 loss) on the same residuals. Both models are
compared by a two-fold cross-validation over particles (fit on one half, soft-L1 cost on the other) and by
the per-bin table above; writes benchmarks/results/field_fit_segments.json.

Hits are ordered by their distance from the production vertex (monotonic within half a turn, the
real data's path limit); segments whose displacement points against the mean momentum, with p_T <
0.1 GeV, shorter than 20 mm (two
modules of one layer: no field signal, only scattering) or longer than 400 mm, or from noise are dropped. Prints a table and writes
benchmarks/results/field_fit.json. Run: OMP_NUM_THREADS=1 python benchmarks/field_fit.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from gnn4hep.tracking.field import SegmentedSolenoidField, SolenoidField, sheet_segment_rho_z, solenoid_rho_z
from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM
from gnn4hep.utils.atomic import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"
OUT = ROOT / "benchmarks" / "results" / "field_fit.json"
Z_BINS_MM = (-3000, -2200, -1800, -1500, -1200, -900, -600, -300, 0, 300, 600, 900, 1200, 1500, 1800, 2200, 3000)
N_BOOTSTRAP = 30
#: start of the fit: radius, half-length (mm), B at the centre (T), centre z, axis x, axis y (mm)
START = (1200.0, 2600.0, 2.0, 0.0, 0.0, 0.0)
PARAMETER_NAMES = ("radius_mm", "half_length_mm", "b_center_tesla", "center_z_mm", "axis_x_mm", "axis_y_mm")
#: the segmented sheet spans |z| < this (mm): the segment currents beyond the data (|z| > 3 m) are unconstrained
SHEET_HALF_LENGTH_MM = 2700.0
SOFT_L1_SCALE_GEV = 0.01


def segments(prefix: Path = DATA) -> dict[str, np.ndarray]:
    """Consecutive true-hit pairs: midpoint (n, 3), dx (n, 3), dp (n, 3), mean p (n, 3), q (n,), particle (n,)."""
    truth = pd.read_csv(f"{prefix}-truth.csv.gz")
    particles = pd.read_csv(f"{prefix}-particles.csv.gz")
    truth = truth[truth["particle_id"] != 0].merge(particles[["particle_id", "vx", "vy", "vz", "q"]], on="particle_id")
    truth = truth[truth["q"] != 0]
    truth["dist"] = np.sqrt((truth["tx"] - truth["vx"]) ** 2 + (truth["ty"] - truth["vy"]) ** 2
                            + (truth["tz"] - truth["vz"]) ** 2)
    truth = truth.sort_values(["particle_id", "dist"]).reset_index(drop=True)
    x = truth[["tx", "ty", "tz"]].to_numpy(np.float64)
    p = truth[["tpx", "tpy", "tpz"]].to_numpy(np.float64)
    pid = truth["particle_id"].to_numpy()
    same = pid[1:] == pid[:-1]
    dx, dp = x[1:] - x[:-1], p[1:] - p[:-1]
    p_mean = 0.5 * (p[1:] + p[:-1])
    pt = np.hypot(p_mean[:, 0], p_mean[:, 1])
    length = np.linalg.norm(dx, axis=1)
    forward = np.einsum("ij,ij->i", dx, p_mean) > 0.5 * length * np.linalg.norm(p_mean, axis=1)
    keep = same & forward & (pt > 0.1) & (length > 20.0) & (length < 400.0)
    return {"mid": 0.5 * (x[1:] + x[:-1])[keep], "dx": dx[keep], "dp": dp[keep], "p": p_mean[keep],
            "q": truth["q"].to_numpy(np.float64)[1:][keep], "particle": pid[1:][keep]}


def perpendicular_basis(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (n, 3) perpendicular to ``p`` (n, 3) and to each other."""
    t = p / np.linalg.norm(p, axis=1, keepdims=True)
    e1 = np.cross(t, np.array([0.0, 0.0, 1.0]))
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(t, e1)


def model_b(mid: np.ndarray, params) -> np.ndarray:
    """Cartesian B (n, 3) tesla of the closed-form solenoid (radius, half-length, B0[, centre z[, axis x, y]]) at ``mid``."""
    return SolenoidField(*map(float, params)).exact(mid)


def chord_mean_b(seg, params) -> np.ndarray:
    """Mean B (n, 3) of the closed-form solenoid along each segment's chord (Simpson, 8 intervals).

    int dl x B = dx x <B> along the path; the chord stands in for the arc (their distance is the
    sagitta, a few mm), while B changes by up to 40% along a 400 mm segment in the end-caps, where
    the midpoint rule would bias the fit.
    """
    fractions = np.linspace(-0.5, 0.5, 9)
    weights = np.array([1, 4, 2, 4, 2, 4, 2, 4, 1], dtype=np.float64) / 24.0
    points = seg["mid"][:, None, :] + fractions[None, :, None] * seg["dx"][:, None, :]
    field = model_b(points.reshape(-1, 3), params).reshape(points.shape)
    return np.einsum("k,nki->ni", weights, field)


def residuals(params, seg, e1, e2):
    """Measured minus predicted dp, projected on the two directions perpendicular to p (GeV), (2n,)."""
    predicted = C_GEV_PER_T_MM * seg["q"][:, None] * np.cross(seg["dx"], chord_mean_b(seg, params))
    diff = seg["dp"] - predicted
    return np.concatenate([np.einsum("ij,ij->i", diff, e1), np.einsum("ij,ij->i", diff, e2)])


def fit_solenoid(seg, start=START):
    """(params, jacobian-based sigmas, robust residual scale) of the closed-form solenoid fit: ``start`` of
    length 6 fits (radius, half-length, B0, centre z, axis x, axis y), of length 4 the solenoid on the z axis,
    of length 3 the solenoid on the z axis centred at z = 0."""
    e1, e2 = perpendicular_basis(seg["p"])
    scale = np.array([100.0, 100.0, 0.1, 10.0, 10.0, 10.0])[: len(start)]
    # the offsets start 1 mm off 0: diff_step is relative, and a parameter at exactly 0 gets no step
    start = np.array(start, dtype=np.float64)
    start[3:] = np.where(start[3:] == 0.0, 1.0, start[3:])
    result = least_squares(residuals, start, args=(seg, e1, e2), loss="soft_l1", f_scale=0.01,
                           x_scale=scale, diff_step=1e-5)
    res = residuals(result.x, seg, e1, e2)
    scale = 1.4826 * np.median(np.abs(res - np.median(res)))
    jac = result.jac
    cov = np.linalg.inv(jac.T @ jac) * scale**2
    return result.x, np.sqrt(np.diag(cov)), scale


def bin_fit(seg, rows, center_z_mm: float = 0.0, axis_xy_mm=(0.0, 0.0)):
    """Constant (B_r sign(z - center_z_mm), B_z) with its sigmas from the segments ``rows`` (linear least squares);
    B_r points away from the axis through ``axis_xy_mm``, parallel to z."""
    mid, dx, q = seg["mid"][rows], seg["dx"][rows], seg["q"][rows]
    e1, e2 = perpendicular_basis(seg["p"][rows])
    from_axis = mid[:, :2] - np.asarray(axis_xy_mm, dtype=np.float64)
    rho = np.hypot(from_axis[:, 0], from_axis[:, 1])
    radial = (np.stack([from_axis[:, 0] / rho, from_axis[:, 1] / rho, np.zeros(len(rho))], -1)
              * np.sign(mid[:, 2] - center_z_mm)[:, None])
    columns = []
    for unit in (radial, np.broadcast_to([0.0, 0.0, 1.0], radial.shape)):
        force = C_GEV_PER_T_MM * q[:, None] * np.cross(dx, unit)
        columns.append(np.concatenate([np.einsum("ij,ij->i", force, e1), np.einsum("ij,ij->i", force, e2)]))
    design = np.stack(columns, -1)
    target = np.concatenate([np.einsum("ij,ij->i", seg["dp"][rows], e1), np.einsum("ij,ij->i", seg["dp"][rows], e2)])
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    for _ in range(3):  # re-weighted: drop > 5 robust sigma (hadronic interactions)
        res = target - design @ solution
        scale = 1.4826 * np.median(np.abs(res))
        good = np.abs(res) < 5 * scale
        solution = np.linalg.lstsq(design[good], target[good], rcond=None)[0]
    res = target[good] - design[good] @ solution
    cov = np.linalg.inv(design[good].T @ design[good]) * np.var(res)
    return solution, np.sqrt(np.diag(cov))


def soft_l1_cost(res: np.ndarray) -> float:
    """sum of 2 f^2 (sqrt(1 + (r / f)^2) - 1), f = SOFT_L1_SCALE_GEV: scipy's soft-L1 cost, times 2."""
    return float(np.sum(2 * SOFT_L1_SCALE_GEV**2 * (np.sqrt(1 + (res / SOFT_L1_SCALE_GEV) ** 2) - 1)))


def segment_design(seg, radius_mm: float, edges_mm) -> tuple[np.ndarray, np.ndarray]:
    """(design (2n, K), target (2n,)): column k is the predicted dp (projected as in :func:`residuals`) of
    segment k of the sheet at unit strength (mu0 K = 1 T), chord-averaged like :func:`chord_mean_b`."""
    e1, e2 = perpendicular_basis(seg["p"])
    fractions = np.linspace(-0.5, 0.5, 9)
    weights = np.array([1, 4, 2, 4, 2, 4, 2, 4, 1], dtype=np.float64) / 24.0
    points = (seg["mid"][:, None, :] + fractions[None, :, None] * seg["dx"][:, None, :]).reshape(-1, 3)
    rho = np.hypot(points[:, 0], points[:, 1])
    safe = np.where(rho > 0, rho, 1.0)
    columns = []
    for lo, hi in zip(edges_mm[:-1], edges_mm[1:]):
        b_rho, b_z = sheet_segment_rho_z(rho, points[:, 2], radius_mm, lo, hi, 1.0)
        field = np.stack([b_rho * points[:, 0] / safe, b_rho * points[:, 1] / safe, b_z], -1)
        mean = np.einsum("k,nki->ni", weights, field.reshape(-1, 9, 3))
        force = C_GEV_PER_T_MM * seg["q"][:, None] * np.cross(seg["dx"], mean)
        columns.append(np.concatenate([np.einsum("ij,ij->i", force, e1), np.einsum("ij,ij->i", force, e2)]))
    target = np.concatenate([np.einsum("ij,ij->i", seg["dp"], e1), np.einsum("ij,ij->i", seg["dp"], e2)])
    return np.stack(columns, -1), target


def fit_linear_soft_l1(design: np.ndarray, target: np.ndarray, rounds: int = 30) -> np.ndarray:
    """Minimum of the soft-L1 cost of ``target - design @ x`` by iteratively re-weighted least squares
    (weights 1 / sqrt(1 + (r / f)^2), the soft-L1 loss's)."""
    weight = np.ones(len(target))
    for _ in range(rounds):
        root = np.sqrt(weight)
        solution = np.linalg.lstsq(design * root[:, None], target * root, rcond=None)[0]
        weight = 1.0 / np.sqrt(1.0 + ((target - design @ solution) / SOFT_L1_SCALE_GEV) ** 2)
    return solution


def segmented_study(seg, n_segments: int, solenoid_params) -> dict:
    """The segmented sheet against the 4-parameter solenoid: fit, two-fold cross-validation, per-bin table."""
    radius = float(solenoid_params[0])
    edges = np.linspace(-SHEET_HALF_LENGTH_MM, SHEET_HALF_LENGTH_MM, n_segments + 1)
    design, target = segment_design(seg, radius, edges)
    currents = fit_linear_soft_l1(design, target)
    e1, e2 = perpendicular_basis(seg["p"])
    rng = np.random.default_rng(3)
    ids = np.unique(seg["particle"])
    fold_of = dict(zip(ids, rng.integers(0, 2, len(ids))))
    fold = np.array([fold_of[p] for p in seg["particle"]])
    cv = {"solenoid": 0.0, "segmented": 0.0}
    for k in (0, 1):
        train = {key: value[fold != k] for key, value in seg.items()}
        test = {key: value[fold == k] for key, value in seg.items()}
        params = fit_solenoid(train, solenoid_params)[0]
        cv["solenoid"] += soft_l1_cost(residuals(params, test, *perpendicular_basis(test["p"])))
        rows = np.concatenate([fold != k, fold != k])
        x = fit_linear_soft_l1(design[rows], target[rows])
        cv["segmented"] += soft_l1_cost(target[~rows] - design[~rows] @ x)
    field = SegmentedSolenoidField(radius, tuple(map(float, edges)), tuple(map(float, currents)))
    solenoid_b = chord_mean_b(seg, solenoid_params)
    fractions = np.linspace(-0.5, 0.5, 9)
    weights = np.array([1, 4, 2, 4, 2, 4, 2, 4, 1], dtype=np.float64) / 24.0
    points = seg["mid"][:, None, :] + fractions[None, :, None] * seg["dx"][:, None, :]
    segmented_b = np.einsum("k,nki->ni", weights, field.exact(points.reshape(-1, 3)).reshape(points.shape))
    center = float(solenoid_params[3])
    z = seg["mid"][:, 2]
    bins = []
    print(f"\n{'z bin (mm)':14s} {'n':>5s} {'B_z meas':>14s} {'solenoid':>9s} {'segmented':>9s}   (tesla; pulls of the models)")
    for lo, hi in zip(Z_BINS_MM[:-1], Z_BINS_MM[1:]):
        rows = np.flatnonzero((z >= lo) & (z < hi))
        if len(rows) < 20:
            continue
        (_, b_z), (_, s_z) = bin_fit(seg, rows, center)
        m_sol, m_seg = float(solenoid_b[rows, 2].mean()), float(segmented_b[rows, 2].mean())
        print(f"{lo:6d} {hi:<7d} {len(rows):5d} {b_z:7.3f}±{s_z:5.3f} {m_sol:9.3f} {m_seg:9.3f}   "
              f"{(m_sol - b_z) / s_z:+5.1f} {(m_seg - b_z) / s_z:+5.1f}")
        bins.append({"z_lo_mm": lo, "z_hi_mm": hi, "n": int(len(rows)), "bz_measured": float(b_z), "bz_sigma": float(s_z),
                     "bz_solenoid": m_sol, "bz_segmented": m_seg})
    cost_solenoid = soft_l1_cost(residuals(solenoid_params, seg, e1, e2))
    cost_segmented = soft_l1_cost(target - design @ currents)
    chi2 = {name: float(sum(((b[f"bz_{name}"] - b["bz_measured"]) / b["bz_sigma"]) ** 2 for b in bins))
            for name in ("solenoid", "segmented")}
    print(f"\nsoft-L1 cost (x 1e4 GeV^2), all segments: solenoid (4 parameters) {1e4 * cost_solenoid:.2f}, segmented "
          f"({n_segments} currents) {1e4 * cost_segmented:.2f}; two-fold cross-validation: solenoid "
          f"{1e4 * cv['solenoid']:.2f}, segmented {1e4 * cv['segmented']:.2f}; chi2 of the {len(bins)} B_z bins: "
          f"solenoid {chi2['solenoid']:.1f}, segmented {chi2['segmented']:.1f}")
    print("sheet strengths mu0 K (T) per segment:", np.round(currents, 3).tolist())
    return {"n_segments": n_segments, "radius_mm": radius, "edges_mm": edges.tolist(), "sheet_tesla": currents.tolist(),
            "cost_x1e4": {"solenoid": 1e4 * cost_solenoid, "segmented": 1e4 * cost_segmented},
            "cross_validation_cost_x1e4": {k: 1e4 * v for k, v in cv.items()}, "bin_chi2": chi2, "bins": bins}


PROFILE_KNOTS_MM = (-2400.0, -2000.0, -1650.0, -1350.0, -1050.0, -750.0, -450.0, -150.0, 150.0, 450.0, 750.0, 1050.0,
                    1350.0, 1650.0, 2000.0, 2400.0)


def hat_basis(z: np.ndarray, knots) -> np.ndarray:
    """(n, K) piecewise-linear interpolation weights of the knots at ``z`` (constant beyond the end knots)."""
    knots = np.asarray(knots, dtype=np.float64)
    z = np.clip(z, knots[0], knots[-1])
    i = np.clip(np.searchsorted(knots, z) - 1, 0, len(knots) - 2)
    t = (z - knots[i]) / (knots[i + 1] - knots[i])
    out = np.zeros((len(z), len(knots)))
    out[np.arange(len(z)), i] = 1.0 - t
    out[np.arange(len(z)), i + 1] = t
    return out


def profile_study(seg, params, knots=PROFILE_KNOTS_MM) -> dict:
    """Scale factors f(knot) of the solenoid ``params`` along z, B = f(z) B_solenoid (chord-averaged like
    :func:`chord_mean_b`), by soft-L1 re-weighted linear least squares; sigmas from the robust residual scale."""
    e1, e2 = perpendicular_basis(seg["p"])
    fractions = np.linspace(-0.5, 0.5, 9)
    weights = np.array([1, 4, 2, 4, 2, 4, 2, 4, 1], dtype=np.float64) / 24.0
    points = seg["mid"][:, None, :] + fractions[None, :, None] * seg["dx"][:, None, :]
    field = model_b(points.reshape(-1, 3), params).reshape(points.shape)
    basis = hat_basis(points[..., 2].ravel(), knots).reshape(len(points), 9, -1)
    columns = []
    for k in range(len(knots)):
        mean = np.einsum("j,nji->ni", weights, field * basis[:, :, k:k + 1])
        force = C_GEV_PER_T_MM * seg["q"][:, None] * np.cross(seg["dx"], mean)
        columns.append(np.concatenate([np.einsum("ij,ij->i", force, e1), np.einsum("ij,ij->i", force, e2)]))
    design = np.stack(columns, -1)
    target = np.concatenate([np.einsum("ij,ij->i", seg["dp"], e1), np.einsum("ij,ij->i", seg["dp"], e2)])
    factors = fit_linear_soft_l1(design, target)
    res = target - design @ factors
    scale = 1.4826 * np.median(np.abs(res))
    sigma = np.sqrt(np.diag(np.linalg.inv(design.T @ design))) * scale
    cost = {"solenoid": 1e4 * soft_l1_cost(target - design.sum(axis=1)), "profiled": 1e4 * soft_l1_cost(res)}
    print(f"scale of the solenoid along z (B = f(z) B_solenoid); soft-L1 cost x 1e4: solenoid {cost['solenoid']:.2f}, "
          f"with f(z) {cost['profiled']:.2f}")
    for knot, value, s in zip(knots, factors, sigma):
        print(f"  z = {knot:7.0f} mm: f = {value:.4f} +- {s:.4f}")
    return {"knots_mm": list(knots), "factors": factors.tolist(), "sigma": sigma.tolist(), "cost_x1e4": cost}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n_segments = None
    if "--segments" in argv:
        at = argv.index("--segments")
        value = argv[at + 1] if at + 1 < len(argv) else ""
        if not value.isdigit() or int(value) < 1:
            print(f"field_fit: --segments needs a positive integer, got {value!r}", file=sys.stderr)
            return 2
        n_segments = int(value)
        argv = argv[:at] + argv[at + 2:]
    unknown = [a for a in argv if a not in ("--centered", "--on-axis", "--profile")]
    if unknown:
        print(f"field_fit: unknown option {unknown[0]!r} (only --on-axis, --centered, --profile, --segments K)",
              file=sys.stderr)
        return 2
    if "--profile" in argv:
        if len(argv) > 1 or n_segments is not None:
            print("field_fit: --profile takes no other option", file=sys.stderr)
            return 2
        if not Path(f"{DATA}-truth.csv.gz").exists():
            print(f"field_fit: the real sample event is missing ({DATA}-truth.csv.gz); nothing to fit", file=sys.stderr)
            return 2
        from gnn4hep.tracking.field import TRACKML_FIELD

        params = (TRACKML_FIELD.radius_mm, TRACKML_FIELD.half_length_mm, TRACKML_FIELD.b_center_tesla,
                  TRACKML_FIELD.center_z_mm, TRACKML_FIELD.axis_x_mm, TRACKML_FIELD.axis_y_mm)
        out = OUT.with_name("field_fit_profile.json")
        atomic_write_json(out, {"solenoid": [float(v) for v in params], **profile_study(segments(), params),
                                "command": "OMP_NUM_THREADS=1 python benchmarks/field_fit.py --profile"})
        print(f"\nwrote {out}")
        return 0
    centered, on_axis = "--centered" in argv, "--on-axis" in argv
    if (n_segments is not None) + centered + on_axis > 1:
        print("field_fit: --on-axis, --centered and --segments exclude each other", file=sys.stderr)
        return 2
    if not Path(f"{DATA}-truth.csv.gz").exists():
        print(f"field_fit: the real sample event is missing ({DATA}-truth.csv.gz); nothing to fit", file=sys.stderr)
        return 2
    seg = segments()
    if n_segments is not None:
        params = fit_solenoid(seg, START[:4])[0]
        result = segmented_study(seg, n_segments, params)
        out = OUT.with_name("field_fit_segments.json")
        atomic_write_json(out, {"segments": int(len(seg["q"])), "solenoid_fit": [float(v) for v in params], **result,
                                "command": f"OMP_NUM_THREADS=1 python benchmarks/field_fit.py --segments {n_segments}"})
        print(f"\nwrote {out}")
        return 0
    params, sigma_jac, scale = fit_solenoid(seg, START[:3] if centered else START[:4] if on_axis else START)
    rng = np.random.default_rng(12)
    ids = np.unique(seg["particle"])
    boot = []
    for _ in range(N_BOOTSTRAP):  # resample particles (their segments are correlated by scattering)
        pick = rng.choice(ids, len(ids))
        counts = pd.Series(pick).value_counts()
        weight = pd.Series(seg["particle"]).map(counts).fillna(0).to_numpy(int)
        rows = np.repeat(np.arange(len(weight)), weight)
        boot.append(fit_solenoid({k: v[rows] for k, v in seg.items()}, params)[0])
    sigma_boot = np.std(boot, axis=0, ddof=1)
    sigma = np.maximum(sigma_jac, sigma_boot)
    names = PARAMETER_NAMES[: len(params)]
    print(f"segments: {len(seg['q'])} from {len(ids)} particles; robust residual scale {1e3 * scale:.2f} MeV")
    print(f"{'parameter':16s} {'fit':>10s} {'sigma':>8s} {'(jacobian, bootstrap)':>22s}")
    for name, value, s, sj, sb in zip(names, params, sigma, sigma_jac, sigma_boot):
        print(f"{name:16s} {value:10.4g} {s:8.2g}   ({sj:.2g}, {sb:.2g})")
    z = seg["mid"][:, 2]
    center = float(params[3]) if len(params) >= 4 else 0.0
    axis = np.array([*params[4:6], 0.0]) if len(params) == 6 else np.zeros(3)
    fitted = chord_mean_b(seg, params)
    from_axis = seg["mid"] - axis
    rho = np.hypot(from_axis[:, 0], from_axis[:, 1])
    model_br = (fitted[:, 0] * from_axis[:, 0] + fitted[:, 1] * from_axis[:, 1]) / rho * np.sign(z - center)
    print(f"\n{'z bin (mm)':14s} {'n':>5s} {'B_z meas':>14s} {'B_z model':>9s} {'B_r meas':>14s} {'B_r model':>9s}"
          f"   (B_r: outwards from the axis, times sign(z - {center:.0f} mm))")
    bins = []
    for lo, hi in zip(Z_BINS_MM[:-1], Z_BINS_MM[1:]):
        rows = np.flatnonzero((z >= lo) & (z < hi))
        if len(rows) < 20:  # too few segments to separate B_r from B_z (|z| > 2.2 m: 10 segments)
            continue
        (b_r, b_z), (s_r, s_z) = bin_fit(seg, rows, center, axis[:2])
        m_z, m_r = float(fitted[rows, 2].mean()), float(model_br[rows].mean())
        print(f"{lo:6d} {hi:<7d} {len(rows):5d} {b_z:7.3f}±{s_z:5.3f} {m_z:9.3f} {b_r:7.3f}±{s_r:5.3f} {m_r:9.3f}")
        bins.append({"z_lo_mm": lo, "z_hi_mm": hi, "n": int(len(rows)), "bz_measured": float(b_z), "bz_sigma": float(s_z),
                     "bz_model": m_z, "br_measured": float(b_r), "br_sigma": float(s_r), "br_model": m_r})
    out = (OUT.with_name("field_fit_centered.json") if centered else OUT.with_name("field_fit_on_axis.json") if on_axis
           else OUT)
    e1, e2 = perpendicular_basis(seg["p"])
    cost = soft_l1_cost(residuals(params, seg, e1, e2))
    print(f"soft-L1 cost {1e4 * cost:.2f} x 1e-4 GeV^2")
    atomic_write_json(out, {"segments": int(len(seg["q"])), "particles": int(len(ids)),
                            "fit": {n: float(v) for n, v in zip(names, params)},
                            "sigma": {n: float(v) for n, v in zip(names, sigma)},
                            "robust_residual_scale_gev": float(scale), "soft_l1_cost_x1e4": 1e4 * cost,
                            "bins": bins, "command": "OMP_NUM_THREADS=1 python benchmarks/field_fit.py"
                            + (" --centered" if centered else " --on-axis" if on_axis else "")})
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
