"""Hadronic interactions in the layer material: where a charged particle ends, and its secondaries.

Real TrackML events list about 1,360 secondary vertices per event (generation > 0 in particle_id,
events 1000-1019), all at the radii (barrel) and z (end-caps) of the layers, the beam pipe and the
pixel support tube, never in between: interactions with the material, not decays in flight. Their
products are charged pions and protons (the sample event event000000001, the only file with
particle_type: of its 118 secondaries 51 are protons, 33 pi+, 34 pi-; there is one electron in the
whole file, so photon conversions are not in the listing and are not modelled). Of the particles with
hits, 7.8% end at a daughter vertex that lies on their helix (within 3 mm); at |eta| = 2.3-2.7 it is
14%, and these make most of the short-track tail (10.3 of the 12.6% with <= 6 hits there).

Model (Monte Carlo, per particle): each particle draws an interaction budget ``b ~ Exp(1)`` (in
nuclear interaction lengths). Each module crossing consumes ``x / (cos(incidence) * lambda_eff)``,
with ``x`` the layer's silicon-equivalent material (the first module of a layer crossing,
:func:`~.material.layer_material_mm`) or the module's own silicon (overlap modules), as in the
propagation's material effects. The particle ends in the material of the crossing where the budget
runs out, before its module (no hit there), and its secondaries start at that crossing (and, being
produced inside that layer, make no hit on it). ``lambda_eff = NUCLEAR_INTERACTION_LENGTH_SI_MM /
scale`` with a scale MEASURED per layer (:data:`TRACKML_INTERACTION_SCALE`): the material was measured
through dE/dx in silicon equivalent, and the real interaction rates do not follow it. Neutral hadrons
(n, anti-n, K0_L from the source, never listed) interact the same way on straight lines
(:func:`neutral_interactions`).

Secondaries (only the listed ones: pT > 0.1 GeV, as in particles.csv) are drawn from distributions
MEASURED on the 18,741 vertices of events 1000-1019 whose parent is unambiguous (on-helix match):
the number of listed daughters, their momenta and their angles to the parent (see the constants).
They do not depend on the parent's momentum except through the leading particle (the top 5% of
daughter momenta, emitted forward), and are nearly isotropic otherwise (nuclear break-up).

Units: mm, GeV, rad.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.particle_id import decode_particle_id, encode_particle_id

#: Nuclear interaction length of silicon (PDG, Atomic and nuclear properties: 465.2 mm).
NUCLEAR_INTERACTION_LENGTH_SI_MM = 465.2
#: lambda_I(Si) / lambda_eff of each layer (volume_id, layer_id). MEASURED on the real particles files
#: 1000-1019 by benchmarks/interaction_rates.py (replay propagation with max_turns = 0.5, uniform 2 T):
#: the on-helix daughter vertices within 10 mm of each layer (13,434; 4,594 more, in the beam pipe at
#: r = 19 mm, the pixel support tube at r = 200 mm and other supports, are given to the next layer
#: out; 712 lie beyond every layer) over the interaction lengths the real particles crossed in that
#: layer before ending, over the share of model interactions that list a daughter (0.947). The
#: pixel layers interact 2-14 times more than their dE/dx-equivalent silicon says, the strips 0.2-2
#: times, the long strips (volumes 16-18) hardly at all: the challenge simulation's interactions are
#: concentrated in the inner detector.
TRACKML_INTERACTION_SCALE = {
    (7, 2): 2.24, (7, 4): 10.31, (7, 6): 7.86, (7, 8): 5.83, (7, 10): 7.70, (7, 12): 10.43, (7, 14): 4.77,
    (8, 2): 13.92, (8, 4): 3.01, (8, 6): 2.64, (8, 8): 1.98,
    (9, 2): 4.93, (9, 4): 10.92, (9, 6): 11.85, (9, 8): 2.48, (9, 10): 2.32, (9, 12): 2.45, (9, 14): 1.98,
    (12, 2): 0.36, (12, 4): 0.52, (12, 6): 0.79, (12, 8): 1.11, (12, 10): 1.47, (12, 12): 2.07,
    (13, 2): 2.19, (13, 4): 1.37, (13, 6): 0.78, (13, 8): 0.47,
    (14, 2): 1.68, (14, 4): 0.77, (14, 6): 0.58, (14, 8): 0.51, (14, 10): 0.31, (14, 12): 0.20,
    (16, 2): 0.00, (16, 4): 0.00, (16, 6): 0.04, (16, 8): 0.18, (16, 10): 0.13, (16, 12): 0.38,
    (17, 2): 0.28, (17, 4): 0.00,
    (18, 2): 0.45, (18, 4): 0.06, (18, 6): 0.00, (18, 8): 0.03, (18, 10): 0.03, (18, 12): 0.00,
}  # fmt: skip
#: Scale of layers missing from the table: all layers together (same measurement).
INTERACTION_SCALE = 2.39
#: Probability of 1..6 listed (pT > 0.1 GeV) charged daughters at a vertex (events 1000-1019,
#: 18,741 on-helix vertices; the same within 0.03 for parents of 0-0.5, 0.5-1, 1-2, 2-5, > 5 GeV).
DAUGHTER_MULTIPLICITY = (0.397, 0.388, 0.167, 0.0355, 0.0085, 0.0038)
#: Quantiles (GeV) of the listed daughters' momentum at the probabilities :data:`MOMENTUM_LEVELS`.
MOMENTUM_LEVELS = (0, .05, .1, .15, .2, .25, .3, .35, .4, .45, .5, .55, .6, .65, .7, .75, .8, .85, .9, .95, .975, .99, 1)
MOMENTUM_QUANTILES = (0.1, 0.125, 0.142, 0.158, 0.173, 0.188, 0.204, 0.221, 0.238, 0.255, 0.274, 0.294, 0.315,
                      0.337, 0.36, 0.387, 0.414, 0.445, 0.479, 0.739, 1.391, 2.424, 27.98)  # fmt: skip
#: Deciles (rad) of the angle between daughter and parent momentum, per daughter momentum bin
#: (edges :data:`ANGLE_MOMENTUM_EDGES` GeV: the quartiles and the 95% quantile of the momenta).
ANGLE_MOMENTUM_EDGES = (0.188, 0.274, 0.387, 0.739)
ANGLE_DECILES = (
    (0.001, 0.88, 1.091, 1.263, 1.406, 1.552, 1.69, 1.845, 2.012, 2.225, 3.092),
    (0.0, 0.704, 0.944, 1.153, 1.355, 1.536, 1.733, 1.932, 2.152, 2.389, 3.059),
    (0.001, 0.618, 0.88, 1.1, 1.305, 1.506, 1.716, 1.922, 2.153, 2.424, 3.086),
    (0.0, 0.437, 0.692, 0.937, 1.144, 1.375, 1.592, 1.817, 2.075, 2.387, 3.1),
    (0.0, 0.014, 0.055, 0.105, 0.16, 0.212, 0.276, 0.349, 0.443, 0.58, 1.074),
)
#: Share of positive daughters (events 1000-1019: 73.5%); of these, protons (sample event: 51 of 84).
POSITIVE_FRACTION = 0.735
PROTON_FRACTION_OF_POSITIVE = 51 / 84
LISTED_MIN_PT_GEV = 0.1
STRAIGHT_SCALE = 1e4


def crossing_lengths(index, particle, module, momentum, layer_material, layer_scale=None) -> np.ndarray:
    """Nuclear interaction lengths of each crossing (n,): x / (cos * lambda_I(Si)), times the
    crossing's layer scale ``layer_scale`` (n_layers,) when given (:func:`layer_interaction_scale`).

    ``particle``, ``module`` (n,), ``momentum`` (n, 3) GeV: the crossings, sorted by (particle, path).
    ``layer_material`` (n_layers,) mm or None (bare sensors).
    """
    layer = index.module_layer[module]
    normal = index.rotations[module][:, :, 2]
    cos_incidence = np.abs(np.sum(normal * momentum, axis=1)) / np.linalg.norm(momentum, axis=1)
    thickness = 2.0 * index.half_thickness[module]
    if layer_material is not None and len(particle):
        first = np.ones(len(particle), bool)
        first[1:] = (particle[1:] != particle[:-1]) | (layer[1:] != layer[:-1])
        thickness = np.where(first, np.asarray(layer_material)[layer], thickness)
    lengths = thickness / np.maximum(cos_incidence, 1e-3) / NUCLEAR_INTERACTION_LENGTH_SI_MM
    return lengths if layer_scale is None else lengths * np.asarray(layer_scale)[layer]


def layer_interaction_scale(layer_volume, layer_id) -> np.ndarray:
    """:data:`TRACKML_INTERACTION_SCALE` of each (volume, layer) pair given as two arrays; unknown
    layers get :data:`INTERACTION_SCALE`."""
    keys = pd.MultiIndex.from_arrays([np.asarray(layer_volume, dtype=np.int64), np.asarray(layer_id, dtype=np.int64)])
    table = pd.Series(TRACKML_INTERACTION_SCALE, dtype=np.float64)
    return table.reindex(keys).fillna(INTERACTION_SCALE).to_numpy()


def find_interactions(particle, lengths, budget, scale=1.0):
    """Crossings at which particles interact.

    ``particle`` (n,) sorted, ``lengths`` (n,) from :func:`crossing_lengths`, ``budget`` (n_particles,)
    interaction lengths each particle may cross (inf: never interacts), ``scale`` a number or (n,)
    (per crossing, e.g. its layer's :data:`TRACKML_INTERACTION_SCALE`). Returns (keep (n,) bool: the
    hit is made, i.e. the crossing comes before the interaction; interacting (n,) bool: the particle
    interacts in the material of this crossing, before its module, and makes no hit there).
    """
    n = len(particle)
    if n == 0:
        return np.ones(0, bool), np.zeros(0, bool)
    consumed = np.cumsum(lengths * scale)
    first = np.ones(n, bool)
    first[1:] = particle[1:] != particle[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    before = np.concatenate([[0.0], consumed[:-1]])
    total = consumed - before[start]  # cumulative per particle, this crossing included
    over = total > budget[particle]
    over_before = np.concatenate([[False], over[:-1]]) & ~first
    return ~over, over & ~over_before


def neutral_interactions(index, neutral: pd.DataFrame, b_tesla: float, layer_material, layer_scale,
                         scale: float, rng: np.random.Generator):
    """Interactions of neutral hadrons (a particles table with q = 0) on straight lines through the
    modules: (parent particle_id (m,), point (m, 3) mm, momentum (m, 3) GeV) of those that interact.

    The straight line is the propagator's helix of a unit charge with the momentum scaled by
    :data:`STRAIGHT_SCALE` (in 2 T a radius of 16.7 km per GeV: a sagitta below 0.1 mm over 1 m
    for p > 0.1 GeV), without material effects. Draws one exponential budget per neutral hadron.
    """
    from gnn4hep.tracking.simulation.propagation import PropagationSettings, propagate

    empty = (np.zeros(0, np.uint64), np.zeros((0, 3)), np.zeros((0, 3)))
    if len(neutral) == 0:
        return empty
    momentum = neutral[["px", "py", "pz"]].to_numpy(np.float64)
    settings = PropagationSettings(multiple_scattering=False, energy_loss=False, stop_turning_in_barrel=False)
    result = propagate(index, neutral[["vx", "vy", "vz"]].to_numpy(np.float64), momentum * STRAIGHT_SCALE,
                       np.ones(len(neutral)), np.full(len(neutral), 1.0), b_tesla, rng, settings)
    order = np.lexsort((result.path, result.particle))
    particle, module, position = result.particle[order], result.module[order], result.position[order]
    lengths = crossing_lengths(index, particle, module, momentum[particle], layer_material, layer_scale)
    _, interacting = find_interactions(particle, lengths, rng.exponential(size=len(neutral)), scale)
    rows = particle[interacting]
    return neutral["particle_id"].to_numpy(np.uint64)[rows], position[interacting], momentum[rows]


def _rotate_to(direction, cos_angle, azimuth):
    """Unit vectors (n, 3) at ``cos_angle`` from unit ``direction`` (n, 3), at ``azimuth`` around it."""
    helper = np.where(np.abs(direction[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(direction, e1)
    sin_angle = np.sqrt(np.maximum(1.0 - cos_angle**2, 0.0))
    return (cos_angle[:, None] * direction + sin_angle[:, None] * (np.cos(azimuth)[:, None] * e1
                                                                   + np.sin(azimuth)[:, None] * e2))


def secondaries(parent_id, position, momentum, rng: np.random.Generator) -> pd.DataFrame:
    """Listed secondaries of interactions of parents ``parent_id`` (m,) at ``position`` (m, 3) mm with
    incoming ``momentum`` (m, 3) GeV: a particles table (particle_id, particle_type, vx.., px.., q).

    particle_id keeps the parent's vertex_id and primary_id, with generation + 1 and secondary_id
    1, 2, ... per (vertex_id, primary_id, generation) (unique when all daughters of one generation
    are made in one call, as in the simulator). A daughter's momentum never exceeds its
    parent's; daughters with pT < 0.1 GeV (not listed in real particles files) are dropped.
    """
    m = len(parent_id)
    k = rng.choice(np.arange(1, len(DAUGHTER_MULTIPLICITY) + 1), size=m,
                   p=np.asarray(DAUGHTER_MULTIPLICITY) / np.sum(DAUGHTER_MULTIPLICITY))
    parent = np.repeat(np.arange(m), k)
    n = len(parent)
    p = np.interp(rng.random(n), MOMENTUM_LEVELS, MOMENTUM_QUANTILES)
    bin_ = np.searchsorted(ANGLE_MOMENTUM_EDGES, p)
    deciles = np.asarray(ANGLE_DECILES)[bin_]
    u = rng.random(n) * 10.0
    low = np.minimum(u.astype(np.int64), 9)
    angle = np.take_along_axis(deciles, low[:, None], 1)[:, 0] * (1 - (u - low)) + \
        np.take_along_axis(deciles, low[:, None] + 1, 1)[:, 0] * (u - low)
    azimuth = rng.uniform(0.0, 2 * np.pi, n)
    positive = rng.random(n) < POSITIVE_FRACTION
    proton = positive & (rng.random(n) < PROTON_FRACTION_OF_POSITIVE)
    p_parent = np.linalg.norm(momentum, axis=1)[parent]
    p = np.minimum(p, p_parent)
    direction = _rotate_to(momentum[parent] / p_parent[:, None], np.cos(angle), azimuth)
    mom = direction * p[:, None]
    listed = np.hypot(mom[:, 0], mom[:, 1]) >= LISTED_MIN_PT_GEV
    parent, mom, positive, proton = parent[listed], mom[listed], positive[listed], proton[listed]
    fields = decode_particle_id(np.asarray(parent_id, dtype=np.uint64)[parent])
    vertex_id = fields["vertex_id"].to_numpy(np.int64)
    primary_id = fields["primary_id"].to_numpy(np.int64)
    generation = fields["generation"].to_numpy(np.int64) + 1
    family = pd.Series((vertex_id << 32) | (primary_id << 12) | generation)
    secondary_id = family.groupby(family).cumcount().to_numpy() + 1
    charge = np.where(positive, 1, -1)
    pdg = np.where(proton, 2212, 211 * charge)
    vertex = np.asarray(position, dtype=np.float64)[parent]
    return pd.DataFrame({
        "particle_id": encode_particle_id(vertex_id, primary_id, generation, np.minimum(secondary_id, 4095)),
        "particle_type": pdg.astype(np.int32),
        "vx": vertex[:, 0], "vy": vertex[:, 1], "vz": vertex[:, 2],
        "px": mom[:, 0], "py": mom[:, 1], "pz": mom[:, 2],
        "q": charge.astype(np.int32),
    })  # fmt: skip
