"""A tiny analytic event: helices from the beam line crossing ideal barrel cylinders.

Not the detector simulation (see ``gnn4hep.tracking.simulation``): no modules, no material, no
smearing. It exists for unit tests and demos that need an exact, fast, self-contained event in the
TrackML format. Each particle starts at (0, 0, vz) in a uniform field B along +z; a particle of
charge q and transverse momentum pT (GeV) moves on a circle of radius R = pT / (0.2998 |q| B) m
through the origin, and crosses a cylinder of radius r (< 2R) after turning by 2 asin(r / 2R).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.tracking.event import Event, coerce_table
from gnn4hep.tracking.particle_id import encode_particle_id
from gnn4hep.tracking.scoring import weight_hits
from gnn4hep.tracking.simulation.helix import radius_mm

#: Cylinder radii (mm) roughly those of the TrackML barrel layers (pixel, short and long strips).
TOY_RADII_MM = (32.0, 72.0, 116.0, 172.0, 260.0, 360.0, 500.0, 660.0, 820.0, 1020.0)
TOY_HALF_LENGTH_MM = 1100.0


def make_toy_event(
    n_particles: int = 200,
    noise_fraction: float = 0.05,
    field_tesla: float = 2.0,
    seed: int = 0,
    event_id: int = 0,
) -> Event:
    """An event with hits, particles and truth (weights from the phase-1 definition).

    Args:
        n_particles: charged particles from the beam line, pT in [0.3, 20] GeV (falling),
            |eta| < 2, vz ~ N(0, 55 mm).
        noise_fraction: noise hits added, as a fraction of the particle hits.
        field_tesla: B_z.
        seed: random seed (the same seed gives the same event).
    """
    rng = np.random.default_rng(seed)
    pt = np.exp(rng.uniform(np.log(0.3), np.log(20.0), n_particles))
    eta = rng.uniform(-2.0, 2.0, n_particles)
    phi0 = rng.uniform(-np.pi, np.pi, n_particles)
    q = rng.choice([-1, 1], n_particles)
    vz = rng.normal(0.0, 55.0, n_particles)
    pz = pt * np.sinh(eta)
    radius = radius_mm(pt, 1, field_tesla)

    r = np.asarray(TOY_RADII_MM)[None, :]
    reach = r < 2 * radius[:, None]
    half_turn = np.arcsin(np.clip(r / (2 * radius[:, None]), -1, 1))
    arc = 2 * radius[:, None] * half_turn
    z = vz[:, None] + pz[:, None] / pt[:, None] * arc
    inside = reach & (np.abs(z) < TOY_HALF_LENGTH_MM)
    phi_hit = phi0[:, None] - q[:, None] * half_turn
    phi_mom = phi0[:, None] - q[:, None] * 2 * half_turn

    p_idx, layer = np.nonzero(inside)
    n_hits = len(p_idx)
    x = r[0, layer] * np.cos(phi_hit[p_idx, layer])
    y = r[0, layer] * np.sin(phi_hit[p_idx, layer])
    particle_id = encode_particle_id(1, np.arange(1, n_particles + 1))
    nhits = inside.sum(axis=1)

    n_noise = int(round(noise_fraction * n_hits))
    noise_layer = rng.integers(0, len(TOY_RADII_MM), n_noise)
    noise_phi = rng.uniform(-np.pi, np.pi, n_noise)
    noise_z = rng.uniform(-TOY_HALF_LENGTH_MM, TOY_HALF_LENGTH_MM, n_noise)
    all_layer = np.concatenate([layer, noise_layer])
    all_x = np.concatenate([x, r[0, noise_layer] * np.cos(noise_phi)])
    all_y = np.concatenate([y, r[0, noise_layer] * np.sin(noise_phi)])
    all_z = np.concatenate([z[p_idx, layer], noise_z])
    all_pid = np.concatenate([particle_id[p_idx], np.zeros(n_noise, np.uint64)])
    shuffle = rng.permutation(n_hits + n_noise)
    hit_id = np.arange(1, n_hits + n_noise + 1)
    module_phi = np.concatenate([phi_hit[p_idx, layer], noise_phi])

    zero = np.zeros(n_noise)
    tpx = np.concatenate([pt[p_idx] * np.cos(phi_mom[p_idx, layer]), zero])
    tpy = np.concatenate([pt[p_idx] * np.sin(phi_mom[p_idx, layer]), zero])
    tpz = np.concatenate([pz[p_idx], zero])
    hits = pd.DataFrame(
        {
            "hit_id": hit_id,
            "x": all_x[shuffle],
            "y": all_y[shuffle],
            "z": all_z[shuffle],
            "volume_id": 8,
            "layer_id": 2 * (all_layer[shuffle] + 1),
            "module_id": ((module_phi[shuffle] + np.pi) / (2 * np.pi) * 64).astype(int) + 1,
        }
    )
    truth = pd.DataFrame(
        {
            "hit_id": hit_id,
            "particle_id": all_pid[shuffle],
            "tx": all_x[shuffle],
            "ty": all_y[shuffle],
            "tz": all_z[shuffle],
            "tpx": tpx[shuffle],
            "tpy": tpy[shuffle],
            "tpz": tpz[shuffle],
            "weight": 0.0,
        }
    )
    particles = pd.DataFrame(
        {
            "particle_id": particle_id,
            "vx": 0.0, "vy": 0.0, "vz": vz,
            "px": pt * np.cos(phi0), "py": pt * np.sin(phi0), "pz": pz,
            "q": q, "nhits": nhits,
        }
    )  # fmt: skip
    particles = coerce_table("particles", particles)
    truth = coerce_table("truth", truth)
    truth["weight"] = weight_hits(truth, particles).astype(np.float32)
    return Event(
        event_id=event_id,
        hits=coerce_table("hits", hits),
        particles=particles,
        truth=truth,
        meta={"source": "toy", "seed": seed, "field_tesla": field_tesla},
    )
