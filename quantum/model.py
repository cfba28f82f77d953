"""The QUBO of track finding: ``QuboConfig`` and ``build_bqm`` (a ``dimod.BinaryQuadraticModel``).

Model of Bapst et al., "A pattern recognition algorithm for quantum annealers"
(arXiv:1902.08324, hepqpr-qallse), with quality-dependent linear weights as an extension:

    E(t) = Σ_i w_i t_i + Σ_{(i,j) ∈ quadruplets} S_ij t_i t_j + Σ_{(i,j) ∈ conflicts} C t_i t_j,

over binary variables t_i, one per triplet (see :mod:`gnn4hep.quantum.triplets` for triplets,
quadruplets and the strength S_ij < 0). The terms:

- linear weight  w_i = bias_weight
  + curvature_weight · |κ_i|/κ_max + drz_weight · δ_rz,i/δ_rz,max
  + score_weight · (1 − s(d1_i) · s(d2_i)),
  where κ_max = tplet_max_curv, δ_rz,max = tplet_max_drz and s(d) is the doublet's score (1 for
  geometric doublets; GNN edge scores otherwise). With curvature_weight = drz_weight =
  score_weight = 0 (the ``qallse`` preset) this is qallse's constant −0.01.
- conflict C = conflict_strength > 0 between triplets that use two *different* doublets starting at
  the same hit, or ending at the same hit (a track cannot branch), as in qallse.
- Only triplets that belong to at least one quadruplet become variables (as in qallse: a triplet
  without a continuation cannot lower the energy).

Defaults are qallse's "1 GeV" configuration (``Config1GeV``) with the two changes that measured best
(``QUBO_PRESETS["tuned"]``): a tighter r–z cut, tplet_max_drz = 0.05 rad (qallse: 0.1), and a linear
r–z penalty, drz_weight = 0.5 (qallse: 0); with chains of at least 5 hits at decoding
(``DEFAULT_MIN_HITS``). Measured with SA (10 reads): doublet purity / efficiency on the real
sample event at density 1.0: qallse 0.939 / 0.995 (min 3 hits), tuned 0.995 / 0.990 (min 5 hits);
density 0.5, 4 seeds: mean purity 0.986 → 0.994 at efficiency 1.000 → 0.994; simulated μ=200 at
density 0.1, 2 seeds: purity 0.80–0.85 → 0.994–0.997 at efficiency 0.992–0.994 → 0.989–0.991.
``QuboConfig.preset("qallse")`` (CLI ``--preset qallse``, and ``--min-hits 3`` at solving) gives
qallse's own settings. The model never calls a solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import dimod
import numpy as np
import pandas as pd
from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.errors import ConfigError
from gnn4hep.quantum.doublets import hit_geometry, ragged_pairs
from gnn4hep.quantum.triplets import build_quadruplets, build_triplets, filter_doublets


class QuboConfig(Section):
    """Cuts and coefficients of the QUBO (defaults: the ``tuned`` preset; see the module docstring)."""

    max_layer_span: int = Field(2, ge=1, description="doublets skip at most max_layer_span−1 layers; any xplet as well")
    tplet_max_curv: float = Field(8e-4, gt=0, description="cut on a triplet's |Menger curvature| (1/mm); 8e-4 ≈ pT 0.75 GeV at 2 T")
    tplet_max_drz: float = Field(0.05, gt=0, description="cut on the difference of the doublets' r–z angles (rad); qallse: 0.1")
    qplet_max_dcurv: float = Field(1e-4, gt=0, description="cut on the curvature difference of two triplets (1/mm)")
    qplet_max_strength: float = Field(-0.2, description="quadruplets with a strength above this (weaker) are cut")
    bias_weight: float = Field(-0.01, description="constant part of every linear weight (qallse: qubo_bias_weight)")
    conflict_strength: float = Field(0.5, gt=0, description="coupling of two conflicting triplets (qallse: qubo_conflict_strength)")
    num_multiplier: float = Field(-1.0, lt=0, description="factor m of the strength numerator (negative)")
    xy_relative_strength: float = Field(0.5, ge=0, le=1, description="weight α of the curvature term against the r–z term")
    xy_power: float = Field(1.0, ge=0, description="exponent of the normalised curvature difference")
    rz_power: float = Field(1.0, ge=0, description="exponent of the normalised r–z angle")
    volayer_power: float = Field(2.0, ge=0, description="exponent of (1 + skipped layers) in the strength denominator")
    strength_bounds: Optional[tuple[float, float]] = Field(None, description="clip strengths to [low, high]; None: no clipping")
    curvature_weight: float = Field(0.0, ge=0, description="extension: linear penalty per unit of |κ|/tplet_max_curv (0 = qallse)")
    drz_weight: float = Field(0.5, ge=0, description="extension: linear penalty per unit of δ_rz/tplet_max_drz (qallse: 0)")
    score_weight: float = Field(0.0, ge=0, description="extension: linear penalty 1 − s1·s2 from the doublet (GNN) scores (0 = qallse)")

    @classmethod
    def preset(cls, name: str, **overrides) -> "QuboConfig":
        """The config of a named preset (:data:`QUBO_PRESETS`), with ``overrides`` on top."""
        if name not in QUBO_PRESETS:
            raise ConfigError(f"QUBO preset '{name}' is not one of {', '.join(QUBO_PRESETS)}")
        return cls(**{**QUBO_PRESETS[name], **overrides})


#: Named settings: ``tuned`` (the defaults) and ``qallse`` (Bapst et al.'s 1 GeV configuration).
QUBO_PRESETS: dict[str, dict] = {"tuned": {}, "qallse": {"tplet_max_drz": 0.1, "drz_weight": 0.0}}
#: Shortest chain kept as a track by default (qallse keeps chains of 3 hits: ``--min-hits 3``).
DEFAULT_MIN_HITS = 5


@dataclass
class QuboModel:
    """A built QUBO plus what decoding and scoring need.

    Attributes:
        bqm: BINARY model over variables 0..T-1 (triplet rows).
        triplets: (T, 3) int64 hit ids of each variable's triplet, inner to outer.
        doublet_scores: (T, 2) scores of the triplet's two doublets.
        config: the QuboConfig used.
        stats: counts (doublets, triplets, quadruplets, conflicts) and ``build_seconds``.
    """

    bqm: dimod.BinaryQuadraticModel
    triplets: np.ndarray
    doublet_scores: np.ndarray
    config: QuboConfig
    stats: dict = field(default_factory=dict)

    @property
    def n_variables(self) -> int:
        return self.bqm.num_variables

    @property
    def n_couplings(self) -> int:
        return self.bqm.num_interactions


def conflict_pairs(triplet_doublets: np.ndarray, doublet_inner: np.ndarray, doublet_outer: np.ndarray) -> np.ndarray:
    """Pairs (i < j) of triplets using different doublets that share their inner or their outer hit.

    Vectorised: the (triplet, doublet) incidences are sorted by the shared hit, and every pair of
    incidences inside a group of equal hits is enumerated with a ragged range.

    Args:
        triplet_doublets: (T, 2) doublet rows of each triplet.
        doublet_inner, doublet_outer: hit of each doublet row.

    Returns:
        (K, 2) int64 unique pairs, sorted.
    """
    n = len(triplet_doublets)
    if n == 0:
        return np.zeros((0, 2), np.int64)
    triplet = np.repeat(np.arange(n, dtype=np.int64), 2)
    doublet = triplet_doublets.reshape(-1).astype(np.int64)
    keys = []
    for end in (doublet_inner, doublet_outer):
        hit = end[doublet]
        order = np.lexsort((doublet, hit))
        t, d, h = triplet[order], doublet[order], hit[order]
        group_end = np.searchsorted(h, h, side="right")  # one past the last row of each row's group
        first, second = ragged_pairs(np.arange(1, len(h) + 1), group_end - np.arange(1, len(h) + 1))
        keep = (d[first] != d[second]) & (t[first] != t[second])
        a, b = t[first[keep]], t[second[keep]]
        keys.append(np.minimum(a, b) * n + np.maximum(a, b))
    unique = np.unique(np.concatenate(keys))
    return np.stack([unique // n, unique % n], axis=1)


def build_bqm(hits: pd.DataFrame, doublets: pd.DataFrame, config: QuboConfig | None = None) -> QuboModel:
    """Build the QUBO of an event from its hits and input doublets.

    Args:
        hits: TrackML hits (``hit_id, x, y, z, volume_id, layer_id``).
        doublets: ``hit_id_in, hit_id_out[, score]`` (from :mod:`gnn4hep.quantum.doublets`).
        config: cuts and coefficients; defaults to qallse's 1 GeV configuration.

    Returns:
        QuboModel (``bqm`` over triplet rows, ``triplets`` as hit ids, ``stats``).
    """
    config = config or QuboConfig()
    start = time.perf_counter()
    for column in ("hit_id_in", "hit_id_out"):
        if column not in doublets.columns:
            raise ConfigError(f"doublet table lacks column '{column}'")
    frame = hit_geometry(hits)
    geo = {c: frame[c].to_numpy() for c in ("x", "y", "z", "r", "layer")}
    position = pd.Series(np.arange(len(frame)), index=frame["hit_id"].to_numpy())
    in_ids, out_ids = doublets["hit_id_in"].to_numpy(np.int64), doublets["hit_id_out"].to_numpy(np.int64)
    known = np.isin(in_ids, frame["hit_id"].to_numpy()) & np.isin(out_ids, frame["hit_id"].to_numpy())
    if not known.all():
        raise ConfigError(f"{int((~known).sum())} doublet(s) name hit ids absent from the hits table")
    inner, outer = position.loc[in_ids].to_numpy(), position.loc[out_ids].to_numpy()
    scores = doublets["score"].to_numpy(np.float64) if "score" in doublets.columns else np.ones(len(inner))
    keep = filter_doublets(geo["layer"], inner, outer, config.max_layer_span)
    inner, outer, scores = inner[keep], outer[keep], scores[keep]

    triplets = build_triplets(geo, inner, outer, config)
    quads = build_quadruplets(triplets, geo["layer"], config)
    used = np.unique(np.concatenate([quads["t1"], quads["t2"]]))
    new_index = np.full(len(triplets["d1"]), -1, np.int64)
    new_index[used] = np.arange(len(used))
    t_doublets = np.stack([triplets["d1"][used], triplets["d2"][used]], axis=1)
    curvature, drz = triplets["curvature"][used], triplets["drz"][used]
    pair_scores = scores[t_doublets]

    linear = (
        config.bias_weight
        + config.curvature_weight * np.abs(curvature) / config.tplet_max_curv
        + config.drz_weight * drz / config.tplet_max_drz
        + config.score_weight * (1 - pair_scores.prod(axis=1))
    )

    conflicts = conflict_pairs(t_doublets, inner, outer)
    rows = np.concatenate([conflicts[:, 0], new_index[quads["t1"]]])
    cols = np.concatenate([conflicts[:, 1], new_index[quads["t2"]]])
    values = np.concatenate([np.full(len(conflicts), config.conflict_strength), quads["strength"]])
    bqm = dimod.BinaryQuadraticModel.from_numpy_vectors(linear, (rows, cols, values), 0.0, dimod.BINARY)
    hit_id = frame["hit_id"].to_numpy()
    triplet_hits = hit_id[triplets["hits"][used]].reshape(-1, 3)
    stats = {
        "n_hits": int(len(frame)),
        "n_doublets_in": int(len(doublets)),
        "n_doublets": int(len(inner)),
        "n_triplets_built": int(len(triplets["d1"])),
        "n_quadruplets": int(len(quads["t1"])),
        "n_conflicts": int(len(conflicts)),
        "n_variables": int(bqm.num_variables),
        "n_couplings": int(bqm.num_interactions),
        "build_seconds": time.perf_counter() - start,
    }
    return QuboModel(bqm=bqm, triplets=triplet_hits, doublet_scores=pair_scores, config=config, stats=stats)
