"""Benchmark: fit the TrackML solenoid (radius, half-length, B at its centre, centre z) to the real sample event's truth.

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
   free (radius, half-length, B at the centre, centre z), by ``scipy.optimize.least_squares``; uncertainties
   from the Jacobian, scaled by the residual spread, and from a bootstrap over particles (the larger is
   quoted). ``--centered`` fixes the centre at z = 0 (the three-parameter fit);
2. per bin of the segment midpoint's z (signed: the field is not symmetric about z = 0), a free
   constant (B_r sign(z - z_c), B_z), z_c the fitted centre: linear least squares, compared with the
   fitted model averaged over the same segments.

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

from gnn4hep.tracking.field import SolenoidField, solenoid_rho_z
from gnn4hep.tracking.simulation.helix import C_GEV_PER_T_MM
from gnn4hep.utils.atomic import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "trackml" / "sample_event" / "event000000001"
OUT = ROOT / "benchmarks" / "results" / "field_fit.json"
Z_BINS_MM = (-3000, -2200, -1800, -1500, -1200, -900, -600, -300, 0, 300, 600, 900, 1200, 1500, 1800, 2200, 3000)
N_BOOTSTRAP = 30


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
    """Cartesian B (n, 3) tesla of the closed-form solenoid (radius, half-length, B0[, centre z]) at ``mid``."""
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


def fit_solenoid(seg, start=(1200.0, 2600.0, 2.0, 0.0)):
    """(params, jacobian-based sigmas, robust residual scale) of the closed-form solenoid fit: ``start`` of
    length 4 fits (radius, half-length, B0, centre z), of length 3 the solenoid centred at z = 0."""
    e1, e2 = perpendicular_basis(seg["p"])
    scale = np.array([100.0, 100.0, 0.1, 10.0])[: len(start)]
    # the centre starts 1 mm off 0: diff_step is relative, and a parameter at exactly 0 gets no step
    start = np.array(start, dtype=np.float64)
    if len(start) == 4 and start[3] == 0.0:
        start[3] = 1.0
    result = least_squares(residuals, start, args=(seg, e1, e2), loss="soft_l1", f_scale=0.01,
                           x_scale=scale, diff_step=1e-5)
    res = residuals(result.x, seg, e1, e2)
    scale = 1.4826 * np.median(np.abs(res - np.median(res)))
    jac = result.jac
    cov = np.linalg.inv(jac.T @ jac) * scale**2
    return result.x, np.sqrt(np.diag(cov)), scale


def bin_fit(seg, rows, center_z_mm: float = 0.0):
    """Constant (B_r sign(z - center_z_mm), B_z) with its sigmas from the segments ``rows`` (linear least squares)."""
    mid, dx, q = seg["mid"][rows], seg["dx"][rows], seg["q"][rows]
    e1, e2 = perpendicular_basis(seg["p"][rows])
    rho = np.hypot(mid[:, 0], mid[:, 1])
    radial = np.stack([mid[:, 0] / rho, mid[:, 1] / rho, np.zeros(len(rho))], -1) * np.sign(mid[:, 2] - center_z_mm)[:, None]
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    unknown = [a for a in argv if a != "--centered"]
    if unknown:
        print(f"field_fit: unknown option {unknown[0]!r} (only --centered)", file=sys.stderr)
        return 2
    centered = "--centered" in argv
    if not Path(f"{DATA}-truth.csv.gz").exists():
        print(f"field_fit: the real sample event is missing ({DATA}-truth.csv.gz); nothing to fit", file=sys.stderr)
        return 2
    seg = segments()
    params, sigma_jac, scale = fit_solenoid(seg, (1200.0, 2600.0, 2.0) if centered else (1200.0, 2600.0, 2.0, 0.0))
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
    names = ("radius_mm", "half_length_mm", "b_center_tesla", "center_z_mm")[: len(params)]
    print(f"segments: {len(seg['q'])} from {len(ids)} particles; robust residual scale {1e3 * scale:.2f} MeV")
    print(f"{'parameter':16s} {'fit':>10s} {'sigma':>8s} {'(jacobian, bootstrap)':>22s}")
    for name, value, s, sj, sb in zip(names, params, sigma, sigma_jac, sigma_boot):
        print(f"{name:16s} {value:10.4g} {s:8.2g}   ({sj:.2g}, {sb:.2g})")
    z = seg["mid"][:, 2]
    center = float(params[3]) if len(params) == 4 else 0.0
    fitted = chord_mean_b(seg, params)
    rho = np.hypot(seg["mid"][:, 0], seg["mid"][:, 1])
    model_br = (fitted[:, 0] * seg["mid"][:, 0] + fitted[:, 1] * seg["mid"][:, 1]) / rho * np.sign(z - center)
    print(f"\n{'z bin (mm)':14s} {'n':>5s} {'B_z meas':>14s} {'B_z model':>9s} {'B_r meas':>14s} {'B_r model':>9s}"
          f"   (B_r: outwards from the centre, times sign(z - {center:.0f} mm))")
    bins = []
    for lo, hi in zip(Z_BINS_MM[:-1], Z_BINS_MM[1:]):
        rows = np.flatnonzero((z >= lo) & (z < hi))
        if len(rows) < 20:  # too few segments to separate B_r from B_z (|z| > 2.2 m: 10 segments)
            continue
        (b_r, b_z), (s_r, s_z) = bin_fit(seg, rows, center)
        m_z, m_r = float(fitted[rows, 2].mean()), float(model_br[rows].mean())
        print(f"{lo:6d} {hi:<7d} {len(rows):5d} {b_z:7.3f}±{s_z:5.3f} {m_z:9.3f} {b_r:7.3f}±{s_r:5.3f} {m_r:9.3f}")
        bins.append({"z_lo_mm": lo, "z_hi_mm": hi, "n": int(len(rows)), "bz_measured": float(b_z), "bz_sigma": float(s_z),
                     "bz_model": m_z, "br_measured": float(b_r), "br_sigma": float(s_r), "br_model": m_r})
    out = OUT.with_name("field_fit_centered.json") if centered else OUT
    atomic_write_json(out, {"segments": int(len(seg["q"])), "particles": int(len(ids)),
                            "fit": {n: float(v) for n, v in zip(names, params)},
                            "sigma": {n: float(v) for n, v in zip(names, sigma)},
                            "bins": bins, "command": "OMP_NUM_THREADS=1 python benchmarks/field_fit.py"
                            + (" --centered" if centered else "")})
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
