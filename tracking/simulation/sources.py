"""Particle sources: one small interface, three implementations (gun, TrackML replay, Pythia 8).

A source turns (random generator, event index) into a particles table with the TrackML columns
``particle_id, particle_type, vx, vy, vz`` (mm), ``px, py, pz`` (GeV), ``q`` (e), plus an optional
``stop_path_mm`` column: the path length after which the particle no longer exists (it decayed or
interacted), ``inf`` otherwise. ``nhits`` is filled in by the simulator.

particle_id follows the TrackML encoding (:func:`gnn4hep.tracking.particle_id.encode_particle_id`):
vertex_id 1.. per collision, primary_id 1.. per particle of that collision, generation 0 for
particles from the generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from gnn4hep.errors import InputFileError
from gnn4hep.tracking.particle_id import decode_particle_id, encode_particle_id
from gnn4hep.tracking.simulation.helix import radius_mm

PARTICLE_COLUMNS = ("particle_id", "particle_type", "vx", "vy", "vz", "px", "py", "pz", "q")


@runtime_checkable
class ParticleSource(Protocol):
    """Anything that makes the particles of one event."""

    def generate(self, rng: np.random.Generator, event_index: int) -> pd.DataFrame:
        """Particles of event ``event_index`` (columns :data:`PARTICLE_COLUMNS`, optional stop_path_mm)."""
        ...


def _table(vertex_id, primary_id, pdg, vertex, momentum, charge) -> pd.DataFrame:
    return pd.DataFrame({
        "particle_id": encode_particle_id(vertex_id, primary_id),
        "particle_type": np.asarray(pdg, dtype=np.int32),
        "vx": vertex[:, 0], "vy": vertex[:, 1], "vz": vertex[:, 2],
        "px": momentum[:, 0], "py": momentum[:, 1], "pz": momentum[:, 2],
        "q": np.asarray(charge, dtype=np.int32),
    })  # fmt: skip


@dataclass
class GunSource:
    """Single-vertex particle gun: pT uniform in ``pt_gev``, eta uniform in ``eta``, phi uniform.

    ``charge`` 0 draws +-1 at random (pdg +-211). The vertex is Gaussian (sigma in mm).
    """

    n_particles: int = 200
    pt_gev: tuple[float, float] = (0.5, 10.0)
    eta: tuple[float, float] = (-3.0, 3.0)
    phi: tuple[float, float] = (-np.pi, np.pi)
    charge: int = 0
    vertex_sigma_xy_mm: float = 0.015
    vertex_sigma_z_mm: float = 55.0

    def generate(self, rng: np.random.Generator, event_index: int) -> pd.DataFrame:
        n = self.n_particles
        pt = rng.uniform(*self.pt_gev, n)
        eta = rng.uniform(*self.eta, n)
        phi = rng.uniform(*self.phi, n)
        charge = rng.choice([-1, 1], n) if self.charge == 0 else np.full(n, self.charge)
        sigma = [self.vertex_sigma_xy_mm, self.vertex_sigma_xy_mm, self.vertex_sigma_z_mm]
        vertex = np.broadcast_to(rng.normal(0.0, sigma), (n, 3))
        momentum = np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=1)
        return _table(1, np.arange(1, n + 1), 211 * charge, vertex, momentum, charge).assign(
            stop_path_mm=np.inf
        )


def _family_stop_paths(particles: pd.DataFrame, b_tesla: float) -> np.ndarray:
    """Path length (mm) from each particle's vertex to its first daughter vertex, inf if none.

    Daughters share (vertex_id, primary_id) and have generation + 1. The chord to the daughter
    vertex is turned into a helix path length. Where several particles of one generation could be
    the parent (the file does not say which), each ends at the nearest such daughter vertex; a
    stricter on-helix match was tried and agreed worse with the real nhits.
    """
    fields = decode_particle_id(particles["particle_id"].to_numpy())
    family = fields["vertex_id"].to_numpy(np.int64) * (1 << 20) + fields["primary_id"].to_numpy(np.int64)
    table = pd.DataFrame({"family": family, "generation": fields["generation"].to_numpy(np.int64),
                          "vx": particles["vx"].to_numpy(float), "vy": particles["vy"].to_numpy(float),
                          "vz": particles["vz"].to_numpy(float)})  # fmt: skip
    children = table[table.generation > 0][["family", "generation", "vx", "vy", "vz"]]
    children = children.assign(generation=children.generation - 1)
    pairs = table.reset_index().merge(children, on=["family", "generation"], suffixes=("", "_d"))
    stop = np.full(len(particles), np.inf)
    if pairs.empty:
        return stop
    row = pairs["index"].to_numpy()
    delta = pairs[["vx_d", "vy_d", "vz_d"]].to_numpy() - pairs[["vx", "vy", "vz"]].to_numpy()
    px, py, pz = (particles[c].to_numpy(float)[row] for c in ("px", "py", "pz"))
    pt = np.hypot(px, py)
    p = np.sqrt(pt**2 + pz**2)
    radius = radius_mm(pt, 1.0, max(abs(b_tesla), 1e-9))
    chord = np.hypot(delta[:, 0], delta[:, 1])
    path = 2 * radius * np.arcsin(np.minimum(chord / (2 * radius), 1.0)) * p / np.maximum(pt, 1e-12)
    on_track = np.linalg.norm(delta, axis=1) > 1e-3  # daughters made at the vertex do not end it
    np.minimum.at(stop, row[on_track], path[on_track])
    return stop


@dataclass
class ReplaySource:
    """Replays real TrackML ``particles.csv`` files (one per event, cycled), keeping particle_id.

    A particle ends where its first daughter is produced (decay or interaction), as in the
    real simulation. ``path`` is one file or a folder of ``event*-particles.csv[.gz]`` files.
    """

    path: str | Path
    field_tesla: float = 2.0
    files: list[Path] = field(init=False)

    def __post_init__(self):
        path = Path(self.path)
        if path.is_dir():
            self.files = sorted(p for p in path.iterdir() if re.search(r"-particles\.csv(\.gz)?$", p.name))
            if not self.files:
                raise InputFileError(path, "no *-particles.csv(.gz) files in this folder")
        elif path.exists():
            self.files = [path]
        else:
            raise InputFileError(path, "replay particles file not found")

    def event_id(self, event_index: int) -> int | None:
        """The TrackML event number of the file replayed for ``event_index`` (None if unknown)."""
        match = re.search(r"event(\d+)-particles", self.files[event_index % len(self.files)].name)
        return int(match.group(1)) if match else None

    def generate(self, rng: np.random.Generator, event_index: int) -> pd.DataFrame:
        from gnn4hep.tracking.io import read_table

        table = read_table(self.files[event_index % len(self.files)], "particles")
        if "particle_type" not in table.columns:
            table.insert(1, "particle_type", np.int32(0))
        out = table[list(PARTICLE_COLUMNS)].copy()
        out["stop_path_mm"] = _family_stop_paths(table, self.field_tesla)
        return out
