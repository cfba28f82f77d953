"""Pythia 8 particle source: a hard process plus Poisson pileup of soft QCD collisions.

Uses pythia8mc's ``Pythia.nextBatch`` (events as awkward arrays), which is about 50 times faster
than looping over particles in Python. Two generators are kept per process: one for the hard
process (default ttbar at 14 TeV) and one for pileup (``SoftQCD:all``, see :data:`MINBIAS`). Each event
re-seeds both from the event's random generator (``Rndm::init``), so an event depends only on the
(seed, event index) pair, never on which worker made it or which event came before.

Each collision gets a beam-spot vertex (Gaussian, sigma_xy = 15 um, sigma_z = 5.5 mm by default)
added to Pythia's production vertices (mm). MEASURED on the real particles files of events 1000-1019: the
3,004 collision vertices (median vertex of each vertex_id's particles starting within 1 mm of the beam line)
have standard deviations 15.1, 14.9 um in x, y and 5.48 mm in z, Gaussian (excess kurtosis 0.00 in z). Other real
TrackML events differ: the reduced sample event's particles starting within 1 mm of the beam line have a vz spread of
49 mm, like the LHC's luminous region (about 45 mm). ``beam_sigma_z_mm`` may therefore be a tuple: event i then uses
its element i mod its length, so one set of events mixes run conditions (GNN training, issue 13). Kept: final-state (status > 0) charged particles, and
(``neutral_hadrons``) the long-lived neutral hadrons :data:`NEUTRAL_HADRONS` with q = 0, whose
interactions in the material make charged secondaries (the simulator never lists them), with
pT above ``min_pt_gev`` (0.1 GeV: the real particles files start there) and |eta| below ``max_abs_eta``. vertex_id is 1 for the hard collision and
2.. for pileup collisions; primary_id counts kept particles 1.. per collision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gnn4hep.tracking.particle_id import encode_particle_id
from gnn4hep.utils.seeds import PYTHIA_MAX_SEED

TTBAR = ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on")
#: Pileup collisions: all soft QCD processes (non-diffractive, diffractive and elastic), as in the
#: ACTS Pythia 8 generator that made the TrackML data. MEASURED: with ttbar + Poisson(200) of these,
#: 8,628 +- 757 generator particles (charged, pT > 0.1 GeV, |eta| < 4; 12 events) against 8,811 per
#: real event (generation 0 in events 1000-1019); non-diffractive collisions alone give 13,000. Over 44
#: more events (the 20 of benchmarks/simulation_realism.py and 24 generated alone): 8,214 +- 189 and
#: 8,095 +- 196 against 8,811 +- 224, in 142.2 +- 3.4 and 141.4 +- 2.6 collisions with at least one listed
#: particle against 150.2 +- 2.9 real ones, with 56.4 listed particles per pile-up collision against 57.7.
#: The shapes agree (the same multiplicity distribution per collision, within 2-3% in every eta and pT
#: bin), so the -7% lies in the share of collisions that leave nothing in the acceptance (elastic and
#: low-mass diffractive ones: 30% in this Pythia, 25% in the challenge if its mu was 200 too) and in a 2% lower
#: multiplicity: most likely the generator version or tune, not a missing process or a fixed pile-up count (the
#: real count of collisions varies by 13.1 per event, as Poisson(150) does).
MINBIAS = ("SoftQCD:all = on",)
#: Final-state neutral hadrons that interact in the detector material (n, anti-n, K0_L).
NEUTRAL_HADRONS = (2112, -2112, 130)

_GENERATORS: dict[tuple, object] = {}


def _generator(settings: tuple[str, ...]):
    """A quiet, initialised Pythia for ``settings`` (cached per process)."""
    pythia = _GENERATORS.get(settings)
    if pythia is None:
        import pythia8mc

        pythia = pythia8mc.Pythia("", False)
        for line in ("Print:quiet = on", "Random:setSeed = on", "Next:numberCount = 0", *settings):
            if not pythia.readString(line):
                raise ValueError(f"Pythia rejected the setting {line!r}")
        if not pythia.init():
            raise RuntimeError(f"Pythia failed to initialise with {settings}")
        _GENERATORS[settings] = pythia
    return pythia


def _charges(pythia, pdg: np.ndarray) -> np.ndarray:
    """Charge (e) of each PDG id, looked up once per distinct id."""
    ids, inverse = np.unique(pdg, return_inverse=True)
    charge = np.array([pythia.particleData.charge(int(i)) for i in ids], dtype=np.float64)
    return charge[inverse]


@dataclass
class PythiaSource:
    """Hard process + Poisson(``pileup``) soft-QCD collisions at ``ecm_gev``."""

    pileup: float = 200.0
    hard_process: tuple[str, ...] = TTBAR
    pileup_process: tuple[str, ...] = MINBIAS
    ecm_gev: float = 14_000.0
    min_pt_gev: float = 0.1
    max_abs_eta: float = 4.0
    beam_sigma_xy_mm: float = 0.015
    beam_sigma_z_mm: float | tuple[float, ...] = 5.5
    neutral_hadrons: bool = True

    def _collisions(self, settings: tuple[str, ...], n: int, seed: int):
        """Kept particles of ``n`` collisions: (collision index, pdg, production vertex, momentum)."""
        import awkward as ak

        pythia = _generator((f"Beams:eCM = {self.ecm_gev}", *settings))
        pythia.rndm.init(int(seed))
        batch = pythia.nextBatch(n)
        prt = batch["prt"]
        final = prt[prt["status"] > 0]
        counts = ak.to_numpy(ak.num(final, axis=1))
        flat = ak.flatten(final)
        pdg = ak.to_numpy(flat["id"]).astype(np.int64)
        momentum = np.stack([ak.to_numpy(flat["p"][c]) for c in ("px", "py", "pz")], axis=1)
        vprod = ak.fill_none(flat["vProd"], {"px": 0.0, "py": 0.0, "pz": 0.0, "e": 0.0})
        vertex = np.stack([ak.to_numpy(vprod[c]) for c in ("px", "py", "pz")], axis=1)
        collision = np.repeat(np.arange(len(counts)), counts)
        pt = np.hypot(momentum[:, 0], momentum[:, 1])
        eta = np.arcsinh(momentum[:, 2] / np.maximum(pt, 1e-12))
        keep = (pt >= self.min_pt_gev) & (np.abs(eta) <= self.max_abs_eta)
        charge = np.zeros(len(pdg))
        charge[keep] = _charges(pythia, pdg[keep])
        neutral = np.isin(pdg, NEUTRAL_HADRONS) if self.neutral_hadrons else np.zeros(len(pdg), bool)
        keep &= (charge != 0) | neutral
        return collision[keep], pdg[keep], vertex[keep], momentum[keep], charge[keep]

    def sigma_z_mm(self, event_index: int) -> float:
        """Beam-spot sigma_z [mm] of event ``event_index`` (a tuple ``beam_sigma_z_mm`` is cycled through)."""
        values = np.atleast_1d(np.asarray(self.beam_sigma_z_mm, dtype=float))
        return float(values[event_index % len(values)])

    def generate(self, rng: np.random.Generator, event_index: int) -> pd.DataFrame:
        seeds = rng.integers(1, PYTHIA_MAX_SEED, size=2)  # never 0 (the clock)
        n_pileup = int(rng.poisson(self.pileup)) if self.pileup > 0 else 0
        parts = []
        if self.hard_process:
            parts.append(self._collisions(self.hard_process, 1, seeds[0]))
        if n_pileup:
            c, *rest = self._collisions(self.pileup_process, n_pileup, seeds[1])
            parts.append((c + len(parts), *rest))
        collision, pdg, vertex, momentum, charge = (np.concatenate(x) for x in zip(*parts))
        n_collisions = int(collision.max()) + 1 if len(collision) else 0
        sigma = [self.beam_sigma_xy_mm, self.beam_sigma_xy_mm, self.sigma_z_mm(event_index)]
        beam_spot = rng.normal(0.0, sigma, size=(n_collisions, 3))
        vertex = vertex + beam_spot[collision]
        order = np.argsort(collision, kind="stable")
        collision, pdg, vertex, momentum, charge = (a[order] for a in (collision, pdg, vertex, momentum, charge))
        starts = np.searchsorted(collision, np.arange(n_collisions))
        primary = np.arange(len(collision)) - starts[collision] + 1
        return pd.DataFrame({
            "particle_id": encode_particle_id(collision + 1, primary),
            "particle_type": pdg.astype(np.int32),
            "vx": vertex[:, 0], "vy": vertex[:, 1], "vz": vertex[:, 2],
            "px": momentum[:, 0], "py": momentum[:, 1], "pz": momentum[:, 2],
            "q": charge.astype(np.int32),
            "stop_path_mm": np.inf,
        })  # fmt: skip
