"""Refit track candidates with the Kalman filter, reject outliers, report perigee track parameters.

:func:`refit` takes any TrackML submission table (``hit_id, track_id``): the output of every track
builder and of the QUBO decoder. For each candidate with at least 3 hits:

1. hits are ordered along the track: by z for candidates longer in z than in r (z is monotonic on a
   helix along B; endcap loopers come back inwards in r), by r = sqrt(x^2 + y^2) otherwise;
2. measurements are local (u, v) = first two rows of R^T (x - c) on the hit's module
   (``detectors.csv``), less the measured cluster offset, with the errors measured on real TrackML
   clusters (:mod:`~gnn4hep.tracking.fitting.hit_errors`; ``hit_errors="pitch"``: pitch / sqrt(12));
3. the batched Kalman filter + RTS smoother fits all candidates at once
   (:func:`~gnn4hep.tracking.fitting.track_fit.fit_surfaces`) in the field of ``FitConfig.field``
   (the solenoid by default: Runge-Kutta propagation, :mod:`~gnn4hep.tracking.fitting.stepper`), with
   the measured material (scattering and mean energy loss);
4. outlier rejection: while a track's worst hit has smoothed chi2 (2 dof) above ``chi2_cut``, lies more
   than ``outlier_min_mm`` off the smoothed track (waived on tracks with chi2/ndf above ``drag_chi2_ndf``)
   and the track keeps >= ``min_hits`` hits, that hit is dropped and the changed tracks are refitted
   (at most ``max_outliers`` rounds); a track whose cleaned fit stays bad gets its hits back;
5. candidates no helix fits are split in two when both parts then fit (``FitConfig.split_bad``);
6. optionally, fitted tracks that continue each other are joined (``FitConfig.merge_fragments``), and
   orphan hits join the tracks whose fit accepts them (``FitConfig.attach_orphans``).

Returns ``(cleaned_candidates, track_params)``. ``cleaned_candidates`` holds every hit of the event:
rejected outliers, and hits absent from ``candidates``, get new singleton track ids, so the table
stays a valid submission. ``track_params`` has one row per input track (see ``PARAM_COLUMNS``);
tracks with fewer than 3 hits or 3 distinct modules (or more than ``max_hits`` hits) are passed through
with ``fitted = False`` and NaN parameters, as are tracks whose fit fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gnn4hep.errors import SubmissionError
from gnn4hep.tracking.detector import Detector
from gnn4hep.tracking.field import FIELD_NAMES, field_from_name
from gnn4hep.tracking.fitting.beam_pipe import beam_pipe_covariance
from gnn4hep.tracking.fitting.material import MUON_MASS_GEV
from gnn4hep.tracking.fitting.perigee import PERIGEE_NAMES as PERIGEE
from gnn4hep.tracking.fitting.extension import attach_orphan_hits
from gnn4hep.tracking.fitting.fragment_merge import merge_fragment_tracks
from gnn4hep.tracking.fitting.hit_errors import HIT_ERROR_MODELS
from gnn4hep.tracking.fitting.measurements import hit_table, track_surfaces
from gnn4hep.tracking.fitting.track_fit import fit_surfaces

MATERIAL_MODELS = ("trackml", "simulator", "sensors")
COV_COLUMNS = tuple(f"cov_{i}{j}" for i in range(5) for j in range(i, 5))
PARAM_COLUMNS = (("track_id", "n_hits", "fitted") + PERIGEE + ("pt", "eta", "chi2", "ndf", "n_outliers", "n_attached")
                 + tuple(f"sigma_{p}" for p in PERIGEE) + COV_COLUMNS)


@dataclass
class FitConfig:
    """Settings of :func:`refit`.

    chi2_cut: smoothed-residual chi2 (2 dof) above which a hit is an outlier (15: p = 5.5e-4), if it also
        lies off the smoothed track by more than outlier_min_mm in u (or outlier_min_mm + 3 sigma_v in v).
    outlier_min_mm: 0.3 mm: on the real sample event 4.7% of the true hits have chi2 > 15 (hadronic
        interactions, the field model's error in the end-caps), 97% of them within 0.3 mm of the track in
        u (median 5 um); hits of other particles lie farther. 0 restores the pure chi2 cut.
    drag_chi2_ndf: on a track with chi2/ndf above this the distance condition is waived (a wrong hit metres
        away drags the smoothed track onto itself: injected wrong hits give chi2/ndf of 10^3-10^5; 99% of
        the real sample event's true tracks stay below 70).
    max_outliers: rounds of outlier removal (one hit per track per round).
    min_hits: a track never drops below this many hits. iterations: Kalman passes per fit.
    max_hits: candidates with more hits are not one particle (merged components): passed through
    unfitted, like tracks with fewer than 3 hits.
    mass_gev: scattering mass hypothesis. material: multiple scattering on/off.
    material_model: "trackml" (the default, for real data: scattering and energy loss from the materials measured
        on the real truth, :data:`~gnn4hep.tracking.fitting.material.TRACKML_SCATTERING_MATERIAL_MM` and
        :data:`~gnn4hep.tracking.fitting.material.TRACKML_LOSS_MATERIAL_MM`, with the barrel's path transverse
        (:func:`~gnn4hep.tracking.fitting.material.crossing_cos`), and the beam pipe's scattering in the perigee
        covariance, :mod:`~gnn4hep.tracking.fitting.beam_pipe`),
        "simulator" (the simulator's measured layer material for both: events simulated with it) or
        "sensors" (each module's bare silicon), see :func:`~gnn4hep.tracking.fitting.measurements.crossed_material_mm`.
    field: "trackml" (the default, for real data: :data:`~gnn4hep.tracking.field.TRACKML_FIELD`, the solenoid
        fitted to the real data with its axis free, Runge-Kutta propagation), "solenoid" (the simulator's
        :data:`~gnn4hep.tracking.field.TRACKML_SOLENOID`, axis on the z axis: events simulated in it),
        "segmented" (:data:`~gnn4hep.tracking.field.TRACKML_SEGMENTED`, for comparisons) or "uniform" (B_z =
        the detector's ``field_tesla``, exact helices).
    hit_errors: "trackml" (the default: errors measured on real TrackML clusters, per volume and cluster
        size with cells, per volume without; :mod:`~gnn4hep.tracking.fitting.hit_errors`), "simulated" (the
        same measured on the simulator's clusters, for simulated events) or "pitch" (pitch / sqrt(12)). error_scale: multiplies sigma_u, sigma_v. cluster_errors: with
        ``hit_errors="pitch"``, the legacy pitch times the cluster extent.
    restore_chi2_ndf: a track whose cleaned fit still has chi2/ndf above this (or fails) gets its
        outliers back and its first fit (cleaning a merged candidate only scatters its hits).
    outlier_ids: "singletons" gives each rejected hit its own new track; "split" puts the rejected
        hits of one candidate together in one new track (a merged second particle stays whole).
    split_bad: candidates of >= 6 hits whose fit fails or keeps chi2/ndf > restore_chi2_ndf are split
        (:mod:`~gnn4hep.tracking.fitting.splitting`): hits off the best seed helix by more than
        split_tolerance_mm (transverse, z) form a new candidate; both parts are refitted and the split
        is kept when both then fit (>= 4 hits, chi2/ndf <= restore_chi2_ndf).
    reject_chi2_ndf: track-quality cut (None: off). A fitted track of at most ``reject_max_hits`` hits whose
        final chi2/ndf stays above it is no track: its hits become singletons (orphans for ``attach_orphans``)
        and its parameter row is marked unfitted with all its hits as outliers. Measured on the 10 simulated
        mu = 200 test events of the issue-13 run (kink-walk candidates): wrong tracks have a median chi2/ndf
        of about 300, right ones about 1.1.
    attach_orphans: hits left alone (rejected outliers, unassigned hits) join the fitted track of
        >= attach_min_hits hits whose fit accepts them (chi2 increment < chi2_cut), tried on the
        attach_neighbours helices crossing the hit's layer nearest to it within attach_window_mm
        (:mod:`~gnn4hep.tracking.fitting.extension`; on mu = 200 geometric + CC candidates 10 mm and 2
        neighbours score 0.525 in 5.8 s, 20 mm and 4 neighbours 0.523 in 12.9 s).
    attach_rounds: orphan-attachment passes (1: one). Each pass starts from the tracks the previous one
        extended and refitted, whose helices reach orphans the first pass missed; passes stop early when
        one attaches nothing. ``n_attached`` counts the hits of all passes. (issue-13 run, kink-walk
        candidates on its three tuning events: 2 passes score 0.7255 against 0.7232, a third 0.7257.)
    merge_fragments: before the orphan attachment, well-fitted tracks of >= attach_min_hits hits that continue
        each other are joined (:mod:`~gnn4hep.tracking.fitting.fragment_merge`): at least half of one track's hits
        near the other's helix (attach_window_mm), no shared module, and the joint fit's chi2 increment (5 dof)
        below merge_chi2_cut (20.5: p = 0.001) with chi2/ndf <= restore_chi2_ndf.
    workers: threads of the batched fit (see :func:`~gnn4hep.tracking.fitting.track_fit.fit_surfaces`).
    """

    chi2_cut: float = 15.0
    outlier_min_mm: float = 0.3
    drag_chi2_ndf: float = 100.0
    max_hits: int = 60
    max_outliers: int = 5
    min_hits: int = 3
    iterations: int = 1
    mass_gev: float = MUON_MASS_GEV
    material: bool = True
    material_model: str = "trackml"
    field: str = "trackml"
    error_scale: float = 1.0
    hit_errors: str = "trackml"
    cluster_errors: bool = False
    chunk: int = 3000
    restore_chi2_ndf: float | None = 3.0
    outlier_ids: str = "singletons"
    split_bad: bool = True
    split_tolerance_mm: tuple[float, float] = (3.0, 20.0)
    reject_chi2_ndf: float | None = None
    reject_max_hits: int = 7
    attach_orphans: bool = True
    workers: int = 1
    attach_window_mm: float = 10.0
    attach_neighbours: int = 2
    attach_min_hits: int = 4
    attach_rounds: int = 1
    merge_fragments: bool = False
    merge_chi2_cut: float = 20.5

    def __post_init__(self) -> None:
        if self.material_model not in MATERIAL_MODELS:
            raise ValueError(f"FitConfig.material_model: {self.material_model!r} is not one of {', '.join(MATERIAL_MODELS)}")
        if self.hit_errors not in HIT_ERROR_MODELS:
            raise ValueError(f"FitConfig.hit_errors: {self.hit_errors!r} is not one of {', '.join(HIT_ERROR_MODELS)}")
        if self.field not in FIELD_NAMES:
            raise ValueError(f"FitConfig.field: {self.field!r} is not one of {', '.join(FIELD_NAMES)}")
        if self.outlier_ids not in ("singletons", "split"):
            raise ValueError(f"FitConfig.outlier_ids: {self.outlier_ids!r} is not 'singletons' or 'split'")
        if self.attach_rounds < 1:
            raise ValueError(f"FitConfig.attach_rounds: {self.attach_rounds} is not >= 1")


def simulated_physics(simulation: dict | None) -> dict[str, str]:
    """The fit settings that match how events were made: ``field``, ``material_model`` and ``hit_errors``.

    ``simulation`` is the events' ``simulation.json`` record
    (:func:`gnn4hep.tracking.simulation.batch.read_settings`): the field they were simulated in, the
    simulator's layer material when they had it (else bare sensors), and the errors measured on the
    simulator's geometric ``clusters`` (``"simulated"``; ``"pitch"`` for the Gaussian ``smear`` digitisation;
    ``"trackml"`` for the ``trackml`` response, whose clusters and offsets reproduce the real ones). None means
    real TrackML data: the field, material and hit errors measured on the real truth.
    """
    if simulation is None:
        return {"field": "trackml", "material_model": "trackml", "hit_errors": "trackml"}
    config = simulation.get("config", {})
    layer_material = bool(config.get("trackml_material", False))
    # records without the key predate the trackml response: their clusters are the geometric ones
    digitised = config.get("digitisation", "clusters")
    errors = {"smear": "pitch", "trackml": "trackml"}.get(digitised, "simulated")
    return {"field": simulation["field"]["field"], "material_model": "simulator" if layer_material else "sensors",
            "hit_errors": errors}


def fit_field(config: FitConfig, detector: Detector):
    """The fitter's field: B_z (T) of the detector for ``field="uniform"``, else the field object."""
    return detector.field_tesla if config.field == "uniform" else field_from_name(config.field)


def approximate_bz(config: FitConfig, detector: Detector) -> float:
    """One B_z (T) for the quick helix look-ups (splitting, orphan search): the field at the origin."""
    field = fit_field(config, detector)
    return float(field) if np.isscalar(field) else float(field(np.zeros((1, 3)))[0, 2])


def _check_candidates(candidates: pd.DataFrame, hit_ids: np.ndarray, name: str) -> pd.DataFrame:
    for column in ("hit_id", "track_id"):
        if column not in candidates.columns:
            raise SubmissionError(f"{name}: missing column '{column}'")
        if candidates[column].isna().any():
            raise SubmissionError(f"{name}: column '{column}' has missing values")
    out = candidates[["hit_id", "track_id"]].astype(np.int64)
    if out["hit_id"].duplicated().any():
        dup = int(out.loc[out["hit_id"].duplicated(), "hit_id"].iloc[0])
        raise SubmissionError(f"{name}: column 'hit_id': hit {dup} appears more than once")
    unknown = ~np.isin(out["hit_id"].to_numpy(), hit_ids)
    if unknown.any():
        raise SubmissionError(f"{name}: column 'hit_id': {int(unknown.sum())} hits are not in the event "
                              f"(first: {int(out['hit_id'].to_numpy()[unknown][0])})")
    return out


def refit(event, candidates: pd.DataFrame, detector: Detector | None = None, config: FitConfig | None = None,
          name: str = "candidates") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kalman refit of track candidates with outlier rejection.

    Args:
        event: a :class:`~gnn4hep.tracking.event.Event` with hits (cells optional).
        candidates: ``hit_id, track_id`` table (any track builder, the QUBO decoder).
        detector: geometry (default: the packaged TrackML detector); its ``field_tesla`` is the B_z of
            ``FitConfig(field="uniform")``.
        config: :class:`FitConfig`. name: how errors name ``candidates``.

    Returns:
        (cleaned_candidates, track_params): the submission with outliers and unassigned hits moved to
        new singleton tracks, and one row of perigee parameters per input track (``PARAM_COLUMNS``:
        perigee at x = y = 0, mm / rad / e/GeV, pt GeV, 15 upper-triangle covariance entries).
    """
    if detector is None:
        from gnn4hep.tracking.io import read_detector

        detector = read_detector()
    config = config or FitConfig()
    b_tesla = fit_field(config, detector)
    candidates = _check_candidates(candidates, event.hits["hit_id"].to_numpy(), name)
    table = hit_table(event, candidates, detector, config)
    track_ids, track_code = np.unique(table["track_id"].to_numpy(), return_inverse=True)
    n_per_track = np.bincount(track_code, minlength=len(track_ids))
    active = np.ones(len(table), dtype=bool)
    params = pd.DataFrame({"track_id": track_ids, "n_hits": n_per_track, "fitted": False,
                           "chi2": np.nan, "ndf": 0, "n_outliers": 0})
    perigee = np.full((len(track_ids), 5), np.nan)
    cov = np.full((len(track_ids), 5, 5), np.nan)
    chi2 = np.full(len(track_ids), np.nan)
    ndf = np.zeros(len(track_ids), np.int64)
    ok = np.zeros(len(track_ids), bool)
    # a particle crosses a module once (no true track of the real sample event has two hits on one module):
    # hits on fewer than 3 distinct modules are no track, and no helix is defined through them (three hits
    # of one module give a seed in the module's plane)
    pairs = pd.DataFrame({"track": track_code, "module": table["module_row"].to_numpy()}).drop_duplicates()
    n_modules = np.bincount(pairs["track"].to_numpy(), minlength=len(track_ids))
    to_fit = np.flatnonzero((n_per_track >= 3) & (n_modules >= 3) & (n_per_track <= config.max_hits))
    first_fit = None
    for round_ in range(config.max_outliers + 1):
        if len(to_fit) == 0:
            break
        sel = active & np.isin(track_code, to_fit)
        rows = np.flatnonzero(sel)
        lengths = np.bincount(track_code[rows], minlength=len(track_ids))[to_fit]
        surfaces = track_surfaces(table, rows, lengths, detector)
        fit = fit_surfaces(surfaces, b_tesla, config.mass_gev, config.material, config.iterations, config.chunk,
                           workers=config.workers)
        perigee[to_fit], cov[to_fit], chi2[to_fit], ndf[to_fit], ok[to_fit] = (
            fit.perigee, fit.perigee_cov, fit.chi2, fit.ndf, fit.ok)
        if first_fit is None:
            first_fit = tuple(a.copy() for a in (perigee, cov, chi2, ndf, ok))
        if round_ == config.max_outliers:
            break
        # a hit is an outlier if its chi2 is above the cut AND it lies off the smoothed track by more than
        # outlier_min_mm (u) or outlier_min_mm + 3 sigma_v (v), or its track fits very badly (chi2/ndf above
        # drag_chi2_ndf: a wrong hit far away drags the smoothed track onto itself): true hits the
        # model misdescribes stay
        with np.errstate(divide="ignore", invalid="ignore"):
            dragged = ~(fit.chi2 / np.maximum(fit.ndf, 1) <= config.drag_chi2_ndf)
        far = ((np.abs(fit.hit_residual[:, :, 0]) > config.outlier_min_mm)
               | (np.abs(fit.hit_residual[:, :, 1]) > config.outlier_min_mm + 3.0 * np.sqrt(surfaces.variances[:, :, 1]))
               | dragged[:, None])
        candidate_chi2 = np.where(far | ~np.isfinite(fit.hit_chi2), fit.hit_chi2, 0.0)
        worst = np.argmax(candidate_chi2, axis=1)
        worst_chi2 = candidate_chi2[np.arange(len(to_fit)), worst]
        drop = fit.ok & (worst_chi2 > config.chi2_cut) & (lengths > config.min_hits)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        active[rows[starts[drop] + worst[drop]]] = False
        to_fit = to_fit[drop]
    if config.restore_chi2_ndf is not None and first_fit is not None:
        n_left = np.bincount(track_code[active], minlength=len(track_ids))
        with np.errstate(divide="ignore", invalid="ignore"):
            bad = (n_left < n_per_track) & (~ok | (chi2 / np.maximum(ndf, 1) > config.restore_chi2_ndf))
        active |= bad[track_code]
        perigee, cov, chi2, ndf, ok = (np.where(bad.reshape((-1,) + (1,) * (a.ndim - 1)), b, a)
                                       for a, b in zip((perigee, cov, chi2, ndf, ok), first_fit))
    if config.material and config.material_model == "trackml":  # the beam pipe, between the perigee and hit 1
        cov = cov + beam_pipe_covariance(perigee, b_tesla, config.mass_gev)
    n_active = np.bincount(track_code[active], minlength=len(track_ids))
    params["n_hits"] = n_active
    params["n_outliers"] = n_per_track - n_active
    params["n_attached"] = 0
    params["fitted"] = ok
    params["chi2"] = np.where(ok, chi2, np.nan)
    params["ndf"] = np.where(ok, ndf, 0)
    good = ok[:, None]
    perigee = np.where(good, perigee, np.nan)
    cov = np.where(good[:, :, None], cov, np.nan)
    for i, column in enumerate(PERIGEE):
        params[column] = perigee[:, i]
    theta, qop = perigee[:, 3], perigee[:, 4]
    with np.errstate(divide="ignore", invalid="ignore"):
        params["pt"] = np.sin(theta) / np.abs(qop)
        params["eta"] = -np.log(np.tan(0.5 * theta))
        for i, column in enumerate(PERIGEE):
            params[f"sigma_{column}"] = np.sqrt(cov[:, i, i])
    iu, ju = np.triu_indices(5)
    for column, i, j in zip(COV_COLUMNS, iu, ju):
        params[column] = cov[:, i, j]
    params = params[list(PARAM_COLUMNS)]
    cleaned = _cleaned_candidates(event, table, active, track_code, candidates, config.outlier_ids == "split")
    if config.split_bad:
        cleaned, params = _split_bad_candidates(event, table, cleaned, params, detector, config)
    if config.reject_chi2_ndf is not None:
        cleaned, params = _dissolve_bad_tracks(cleaned, params, config.reject_chi2_ndf, config.reject_max_hits)
    if config.merge_fragments:
        cleaned, params = merge_fragment_tracks(event, cleaned, params, detector, config)
    if config.attach_orphans:
        attached = np.zeros(len(params), dtype=np.int64)
        for _ in range(config.attach_rounds):
            cleaned, params = attach_orphan_hits(event, cleaned, params.assign(n_attached=0), detector, config)
            new = params["n_attached"].to_numpy(np.int64)
            attached = attached + new
            if not new.any():
                break
        params["n_attached"] = attached
    return cleaned, params


def _dissolve_bad_tracks(cleaned: pd.DataFrame, params: pd.DataFrame, max_chi2_ndf: float,
                         max_hits: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fitted tracks of <= ``max_hits`` hits with chi2/ndf > ``max_chi2_ndf``: hits to new singleton ids,
    parameter rows unfitted (see ``FitConfig.reject_chi2_ndf``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = (params["fitted"].to_numpy() & (params["n_hits"].to_numpy() <= max_hits)
               & (params["chi2"].to_numpy() / params["ndf"].to_numpy() > max_chi2_ndf))
    if not bad.any():
        return cleaned, params
    bad_ids = params["track_id"].to_numpy()[bad]
    rows = np.flatnonzero(np.isin(cleaned["track_id"].to_numpy(), bad_ids))
    cleaned = cleaned.copy()
    start = int(max(cleaned["track_id"].max(), params["track_id"].max())) + 1
    cleaned.iloc[rows, cleaned.columns.get_loc("track_id")] = start + np.arange(len(rows))
    params = params.copy()
    params.loc[bad, "n_outliers"] += params.loc[bad, "n_hits"]
    params.loc[bad, "n_hits"] = 0
    params.loc[bad, "fitted"] = False
    numeric = [c for c in PARAM_COLUMNS if c not in ("track_id", "n_hits", "fitted", "ndf", "n_outliers", "n_attached")]
    params.loc[bad, numeric] = np.nan
    params.loc[bad, "ndf"] = 0
    return cleaned, params


def _split_bad_candidates(event, table, cleaned, params, detector, config):
    """Split and refit the candidates no helix fits (see ``FitConfig.split_bad``)."""
    from dataclasses import replace

    from gnn4hep.tracking.fitting.splitting import seed_members

    limit = config.restore_chi2_ndf if config.restore_chi2_ndf is not None else 3.0
    total = params["n_hits"] + params["n_outliers"]
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = (total >= 6) & (total <= config.max_hits) & (~params["fitted"] | (params["chi2"] / params["ndf"] > limit))
    bad_ids = params.loc[bad, "track_id"].to_numpy()
    if len(bad_ids) == 0:
        return cleaned, params
    sub = table[np.isin(table["track_id"].to_numpy(), bad_ids)]
    member = seed_members(sub, approximate_bz(config, detector), *config.split_tolerance_mm)
    codes, uniques = pd.factorize(sub["track_id"])
    n_main = np.bincount(codes[member], minlength=len(uniques))
    n_all = np.bincount(codes, minlength=len(uniques))
    accept = (n_main >= 4) & (n_main < n_all)
    if not accept.any():
        return cleaned, params
    base = int(cleaned["track_id"].max()) + 1
    new_track = np.where(member | ~accept[codes], sub["track_id"].to_numpy(), base + codes)
    keep = accept[codes]
    parts = pd.DataFrame({"hit_id": sub["hit_id"].to_numpy()[keep], "track_id": new_track[keep]})
    sub_event = type(event)(event_id=event.event_id, hits=event.hits[event.hits["hit_id"].isin(parts["hit_id"])])
    sub_cleaned, sub_params = refit(sub_event, parts, detector, replace(config, split_bad=False))
    main_ids = uniques[accept]
    second_ids = base + np.flatnonzero(accept)
    by_id = sub_params.set_index("track_id")

    def fits(ids, min_hits):
        rows = by_id.reindex(ids)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (rows["fitted"].fillna(False).astype(bool) & (rows["chi2"] / rows["ndf"] <= limit)
                    & (rows["n_hits"] >= min_hits)).to_numpy()

    good = fits(main_ids, 4) & fits(second_ids, 4)  # both parts must be tracks on their own
    taken = main_ids[good]
    taken_parts = np.isin(codes, np.flatnonzero(accept)[good])
    taken_ids = set(new_track[taken_parts])
    # new ids of the sub-refit's outliers must not collide with the event's other tracks
    shift = int(cleaned["track_id"].max()) + 1 + len(uniques)
    sub_cleaned = sub_cleaned.set_index("hit_id")["track_id"]
    sub_hits = sub["hit_id"].to_numpy()[taken_parts]
    assigned = sub_cleaned.loc[sub_hits].to_numpy()
    assigned = np.where(np.isin(assigned, list(taken_ids)), assigned, assigned + shift)
    out = cleaned.set_index("hit_id")
    out.loc[sub_hits, "track_id"] = assigned
    new_params = sub_params[sub_params["track_id"].isin(taken_ids)]
    params = pd.concat([params[~params["track_id"].isin(taken)], new_params], ignore_index=True)
    return out.reset_index(), params


def _cleaned_candidates(event, table: pd.DataFrame, active: np.ndarray, track_code: np.ndarray,
                        candidates: pd.DataFrame, split: bool) -> pd.DataFrame:
    """Every event hit: its track, or a new id for outliers (singletons, or one per candidate with
    ``split``) and unassigned hits (singletons)."""
    hit_ids = event.hits["hit_id"].to_numpy()
    next_id = int(max(candidates["track_id"].max() if len(candidates) else 0, 0)) + 1
    assigned = np.where(active, table["track_id"].to_numpy(), -1)
    if split:
        assigned = np.where(active, assigned, next_id + track_code)
        next_id += int(track_code.max(initial=-1)) + 1
    else:
        outliers = ~active
        assigned[outliers] = next_id + np.arange(int(outliers.sum()))
        next_id += int(outliers.sum())
    # positions, not a reindex: a NaN-filled float column would round TrackML's 64-bit ids (2^53)
    position = pd.Index(table["hit_id"].to_numpy()).get_indexer(hit_ids)
    orphan = position < 0
    values = np.asarray(assigned, dtype=np.int64)[np.maximum(position, 0)]
    values[orphan] = next_id + np.arange(int(orphan.sum()))
    return pd.DataFrame({"hit_id": hit_ids, "track_id": values})
