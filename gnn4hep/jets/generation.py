"""Jet generation with Pythia 8 (``pythia8mc``, events in batches with ``nextBatch``) and FastJet.

Processes (pp at 14 TeV; signal label 1, background label 0):

* ``top``: hadronic tt̄ vs QCD dijets; anti-kT R = 0.8, jet pT 550–650 GeV, |η| < 2, as in the
  top-tagging reference set (arXiv:1902.09914). A top jet must lie within ΔR < 0.6 of a top quark
  of the hard process and contain its three decay quarks (b, q, q̄') within ΔR < R.
* ``w``: W(→ qq̄')+jet vs QCD dijets; R = 0.8, pT 550–650 GeV, |η| < 2; the W jet contains the W
  (ΔR < 0.6) and both decay quarks.
* ``qg``: Z(→ νν̄)+q vs Z(→ νν̄)+g (Komiske, Metodiev, Thaler's quark/gluon set); R = 0.4, pT
  500–550 GeV, |y| < 1.7; the hardest jet of the event.

Every visible final-state particle (neutrinos removed) is clustered; with ``smear`` energies get a
Gaussian resolution σ_E/E = a/sqrt(E) ⊕ b and directions Gaussian σ in η and φ. Jets keep up to
``max_constituents`` constituents (pT-ordered) with four-momentum, PDG id and charge.

Work is split into chunks of ``chunk_jets`` jets with seeds ``seed·10⁴ + 2·chunk + signal``, run on
``workers`` processes (:func:`gnn4hep.executor.parallel_map`); chunks are joined in order, so a
dataset depends only on (config, n, seed). A chunk seed reaches Pythia through
:func:`gnn4hep.utils.seeds.pythia_seed`, never as 0 (Pythia's "seed from the clock"), so seed 0
reproduces like any other.

Large sets (:func:`generate_resumable`, used by :func:`generate_jets` and the ``jets_generate``
stage) write each chunk to its own file as soon as it is done (``<out>/chunks/``, next to a
``generation.json`` recording the config and seed); a run that is interrupted and started again
generates only the missing chunks, and the result equals one uninterrupted run.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gnn4hep.jets.constituents import Jets, concatenate
from gnn4hep.utils.angles import wrap_phi

NEUTRINOS = (12, 14, 16)


@dataclass
class GenerationConfig:
    """Settings of one generated data set (both classes)."""

    process: str = "top"
    radius: float = 0.8
    pt_min: float = 550.0
    pt_max: float = 650.0
    eta_max: float = 2.0
    use_rapidity: bool = False
    pt_hat_min: float = 470.0
    pt_hat_max: float = 750.0
    ecm: float = 14000.0
    max_constituents: int = 200
    smear: bool = False
    energy_stochastic: float = 0.5
    energy_constant: float = 0.05
    angle_sigma: float = 0.005
    batch_events: int = 50
    chunk_jets: int = 500
    extra_settings: list[str] = field(default_factory=list)

    @classmethod
    def for_process(cls, process: str, **changes) -> "GenerationConfig":
        """Defaults for ``top``, ``w`` or ``qg``."""
        if process in ("top", "w"):
            base = cls(process=process)
        elif process == "qg":
            base = cls(process="qg", radius=0.4, pt_min=500.0, pt_max=550.0, eta_max=1.7, use_rapidity=True,
                       pt_hat_min=450.0, pt_hat_max=650.0)
        else:
            raise ValueError(f"unknown process '{process}'; choose top, w or qg")
        for key, value in changes.items():
            setattr(base, key, value)
        return base

    def pythia_settings(self, signal: bool) -> list[str]:
        """Pythia settings of the signal (True) or background (False) sample."""
        common = ["Print:quiet = on", f"Beams:eCM = {self.ecm}", f"PhaseSpace:pTHatMin = {self.pt_hat_min}",
                  f"PhaseSpace:pTHatMax = {self.pt_hat_max}", "Next:numberCount = 0"]
        if self.process == "top":
            process = (["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
                       if signal else ["HardQCD:all = on"])
        elif self.process == "w":
            process = (["WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on", "24:onMode = off",
                        "24:onIfAny = 1 2 3 4 5"] if signal else ["HardQCD:all = on"])
        else:
            process = ["WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 12 14 16",
                       "WeakBosonAndParton:qg2gmZq = on" if signal else "WeakBosonAndParton:qqbar2gmZg = on"]
        return common + process + list(self.extra_settings)


def _delta_r(eta1, phi1, eta2, phi2):
    return np.sqrt((eta1 - eta2) ** 2 + wrap_phi(phi1 - phi2) ** 2)


def _eta(px, py, pz, e, rapidity: bool):
    pt = np.hypot(px, py)
    if rapidity:
        return 0.5 * np.log(np.maximum(e + pz, 1e-12) / np.maximum(e - pz, 1e-12))
    return np.arcsinh(pz / np.maximum(pt, 1e-12))


def _smear(px, py, pz, e, config: GenerationConfig, rng: np.random.Generator):
    """Gaussian energy and angular smearing of massless-treated momenta (mass kept where possible)."""
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    phi = np.arctan2(py, px)
    resolution = np.hypot(config.energy_stochastic / np.sqrt(np.maximum(e, 1e-6)), config.energy_constant)
    scale = np.clip(1 + resolution * rng.standard_normal(e.shape), 0.05, None)
    e_new = e * scale
    mass2 = np.clip(e**2 - px**2 - py**2 - pz**2, 0, None)
    p_new = np.sqrt(np.clip(e_new**2 - mass2, 0, None))
    eta = eta + config.angle_sigma * rng.standard_normal(e.shape)
    phi = phi + config.angle_sigma * rng.standard_normal(e.shape)
    pt_new = p_new / np.cosh(eta)
    return pt_new * np.cos(phi), pt_new * np.sin(phi), pt_new * np.sinh(eta), e_new


def generate_chunk(config: GenerationConfig, signal: bool, n_jets: int, seed: int) -> Jets:
    """``n_jets`` jets of one class from one Pythia instance seeded with ``seed``."""
    import awkward as ak
    import fastjet
    import pythia8mc
    import vector

    from gnn4hep.jets.substructure import quiet_fastjet_banner
    from gnn4hep.utils.seeds import pythia_seed

    vector.register_awkward()
    quiet_fastjet_banner()
    pythia = pythia8mc.Pythia("", False)
    for setting in config.pythia_settings(signal) + ["Random:setSeed = on", f"Random:seed = {pythia_seed(seed)}"]:
        if not pythia.readString(setting):
            raise ValueError(f"Pythia rejected the setting '{setting}'")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise with {config.pythia_settings(signal)}")
    charges: dict[int, float] = {}
    rng = np.random.default_rng(seed)
    jetdef = fastjet.JetDefinition(fastjet.antikt_algorithm, config.radius)
    m = config.max_constituents
    p4s, pids, chs = [], [], []
    while len(p4s) < n_jets:
        events = pythia.nextBatch(config.batch_events, errorMode="skip")
        prt = events["prt"]
        visible = prt.status > 0
        for code in NEUTRINOS:
            visible = visible & (abs(prt.id) != code)
        final = prt[visible]
        counts = ak.to_numpy(ak.num(final, axis=1))
        flat = {k: ak.to_numpy(ak.flatten(final.p[k])) for k in ("px", "py", "pz", "e")}
        flat_id = ak.to_numpy(ak.flatten(final.id))
        if config.smear:
            flat["px"], flat["py"], flat["pz"], flat["e"] = _smear(flat["px"], flat["py"], flat["pz"], flat["e"],
                                                                   config, rng)
        particles = ak.unflatten(ak.zip({"px": flat["px"], "py": flat["py"], "pz": flat["pz"], "E": flat["e"]},
                                        with_name="Momentum4D"), counts)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="dcut and exclusive jets")
            cluster = fastjet.ClusterSequence(particles, jetdef)
            jets = cluster.inclusive_jets(min_pt=config.pt_min)
            index = cluster.constituent_index(min_pt=config.pt_min)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        hard = prt[abs(prt.status) == 22]
        outgoing = prt[(abs(prt.status) == 23) & (abs(prt.id) <= 5)]
        for event in range(len(counts)):
            ev_jets = jets[event]
            if len(ev_jets) == 0:
                continue
            jx, jy, jz, je = (ak.to_numpy(ev_jets[k]) for k in ("px", "py", "pz", "E"))
            jpt = np.hypot(jx, jy)
            jeta = _eta(jx, jy, jz, je, config.use_rapidity)
            jphi = np.arctan2(jy, jx)
            order = np.argsort(-jpt)
            candidates = order[:1] if config.process == "qg" else order[:2]
            for j in candidates:
                if not (config.pt_min <= jpt[j] <= config.pt_max and abs(jeta[j]) < config.eta_max):
                    continue
                if signal and config.process in ("top", "w"):
                    if not _matched(hard[event], outgoing[event], jeta[j], jphi[j], config):
                        continue
                members = offsets[event] + ak.to_numpy(index[event][j])
                px, py, pz, e = (flat[k][members] for k in ("px", "py", "pz", "e"))
                keep = np.argsort(-np.hypot(px, py))[:m]
                p4 = np.zeros((m, 4))
                p4[: len(keep)] = np.stack([px[keep], py[keep], pz[keep], e[keep]], axis=1)
                pid = np.zeros(m, np.int32)
                pid[: len(keep)] = flat_id[members][keep]
                for code in np.unique(pid[: len(keep)]):
                    if int(code) not in charges:
                        charges[int(code)] = float(pythia.particleData.charge(int(code)))
                ch = np.zeros(m, np.float32)
                ch[: len(keep)] = [charges[int(c)] for c in pid[: len(keep)]]
                p4s.append(p4), pids.append(pid), chs.append(ch)
    p4 = np.stack(p4s[:n_jets])
    pid = np.stack(pids[:n_jets])
    return Jets(p4, pid != 0, np.full(n_jets, int(signal)), pid, np.stack(chs[:n_jets]),
                source=f"pythia8:{config.process}:{'signal' if signal else 'background'}:seed{seed}")


def _matched(hard, outgoing, jet_eta, jet_phi, config: GenerationConfig) -> bool:
    """Signal truth matching: the resonance within ΔR < 0.6 and its decay quarks within ΔR < R."""
    import awkward as ak

    resonance = 6 if config.process == "top" else 24
    res = hard[abs(hard.id) == resonance]
    if len(res) == 0:
        return False
    rp = {k: ak.to_numpy(res.p[k]) for k in ("px", "py", "pz", "e")}
    r_eta, r_phi = _eta(rp["px"], rp["py"], rp["pz"], rp["e"], False), np.arctan2(rp["py"], rp["px"])
    if _delta_r(r_eta, r_phi, jet_eta, jet_phi).min() >= 0.6:
        return False
    op = {k: ak.to_numpy(outgoing.p[k]) for k in ("px", "py", "pz", "e")}
    q_eta, q_phi = _eta(op["px"], op["py"], op["pz"], op["e"], False), np.arctan2(op["py"], op["px"])
    needed = 3 if config.process == "top" else 2
    return int((_delta_r(q_eta, q_phi, jet_eta, jet_phi) < config.radius).sum()) >= needed


def _chunk_worker(args) -> Jets:
    return generate_chunk(*args)


#: chunks per class below which the chunk seeds of consecutive run seeds cannot collide
MAX_CHUNKS_PER_CLASS = 5000


def chunk_tasks(config: GenerationConfig, n_jets_per_class: int, seed: int) -> list[tuple]:
    """(config, signal, jets, chunk seed) of every chunk, signal chunks first, each class in chunk order."""
    chunks = -(-n_jets_per_class // config.chunk_jets)
    if chunks >= MAX_CHUNKS_PER_CLASS:
        raise ValueError(f"{n_jets_per_class} jets per class in chunks of {config.chunk_jets} make {chunks} chunks; "
                         f"at most {MAX_CHUNKS_PER_CLASS - 1} (raise chunk_jets)")
    tasks = []
    for signal in (True, False):
        remaining, chunk = n_jets_per_class, 0
        while remaining > 0:
            n = min(config.chunk_jets, remaining)
            tasks.append((config, signal, n, seed * 10_000 + chunk * 2 + int(signal)))
            remaining -= n
            chunk += 1
    return tasks


def generate(config: GenerationConfig, n_jets_per_class: int, seed: int = 0, workers: int = 1,
             progress: bool = True) -> Jets:
    """Both classes, ``n_jets_per_class`` each, in parallel chunks; reproducible for a given seed."""
    from gnn4hep.executor import parallel_map

    return concatenate(parallel_map(_chunk_worker, chunk_tasks(config, n_jets_per_class, seed), workers=workers,
                                    progress=progress, description=f"generating {config.process} jets (chunks)"))


def chunk_file(folder: Path, task: tuple) -> Path:
    """File of one chunk: ``{signal|background}_{chunk index}_{jets}.npz``. The names do not carry the run
    seed (``generation.json`` does, and a folder of another seed is refused), so two seeds give the same files."""
    _, signal, n, chunk_seed = task
    index = (chunk_seed % 10_000) // 2  # chunk seed = seed * 10^4 + 2 * index + signal (chunk_tasks)
    return folder / f"{'signal' if signal else 'background'}_{index}_{n}.npz"


def _save_chunk(jets: Jets, path: Path) -> None:
    import io

    from gnn4hep.utils.atomic import atomic_write_bytes

    buffer = io.BytesIO()
    np.savez_compressed(buffer, p4=jets.p4, mask=jets.mask, labels=jets.labels, pid=jets.pid, charge=jets.charge)
    atomic_write_bytes(path, buffer.getvalue())  # a chunk file is complete or absent


def _load_chunk(path: Path) -> Jets:
    from gnn4hep.errors import InputFileError

    try:
        with np.load(path) as data:
            return Jets(data["p4"], data["mask"], data["labels"], data["pid"], data["charge"], source=str(path))
    except (OSError, ValueError, KeyError) as error:
        raise InputFileError(path, f"unreadable chunk ({error}); delete it to generate it again") from error


def _chunk_file_worker(args) -> str:
    task, path = args
    _save_chunk(generate_chunk(*task), path)
    return str(path)


def generate_resumable(config: GenerationConfig, n_jets_per_class: int, folder: str | Path, seed: int = 0,
                       workers: int = 1, progress: bool = True) -> tuple[Jets, int]:
    """:func:`generate`, with every chunk saved in ``folder`` as soon as it is done; chunks already there
    are read, not generated again. Returns (jets, chunks generated by this call); the jets equal those of
    :func:`generate` with the same arguments, however often the work was interrupted.

    ``folder/generation.json`` records the config and seed; a folder holding chunks of another config or
    seed is an error (one line naming the file and the first differing key), never mixed in.
    """
    import json

    from gnn4hep.errors import InputFileError
    from gnn4hep.executor import parallel_map
    from gnn4hep.utils.atomic import atomic_write_json

    folder = Path(folder)
    record = {"config": asdict(config), "seed": seed}
    manifest = folder / "generation.json"
    if manifest.is_file():
        try:
            found = json.loads(manifest.read_text())
        except (OSError, ValueError) as error:
            raise InputFileError(manifest, f"unreadable ({error})") from error
        expected = {**{f"config.{k}": v for k, v in record["config"].items()}, "seed": seed}
        seen = {**{f"config.{k}": v for k, v in found.get("config", {}).items()}, "seed": found.get("seed")}
        differing = [k for k in expected if json.dumps(expected[k]) != json.dumps(seen.get(k))]
        if differing:
            raise InputFileError(manifest, f"chunks of another generation ({differing[0]} = {seen.get(differing[0])!r}, "
                                           f"asked {expected[differing[0]]!r}); use another folder or empty this one")
    else:
        atomic_write_json(manifest, record)
    tasks = chunk_tasks(config, n_jets_per_class, seed)
    paths = [chunk_file(folder, task) for task in tasks]
    missing = [(task, path) for task, path in zip(tasks, paths) if not path.is_file()]
    if missing:
        parallel_map(_chunk_file_worker, missing, workers=workers, progress=progress,
                     description=f"generating {config.process} jets ({len(missing)} of {len(tasks)} chunks missing)")
    return concatenate([_load_chunk(path) for path in paths]), len(missing)


def write_generated(jets: Jets, out: str | Path, config: GenerationConfig, seed: int) -> list[Path]:
    """``out/jets.h5`` (p4, mask, pid, charge, labels + settings) and the ParT arrays ``out/jets_*.npy``."""
    import io
    import json

    import h5py

    from gnn4hep.jets.io import write_particle_transformer
    from gnn4hep.utils.atomic import atomic_write_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("p4", data=jets.p4, compression="gzip")
        handle.create_dataset("mask", data=jets.mask, compression="gzip")
        handle.create_dataset("pid", data=jets.pid, compression="gzip")
        handle.create_dataset("charge", data=jets.charge, compression="gzip")
        handle.create_dataset("labels", data=jets.labels)
        handle.attrs["config"] = json.dumps(asdict(config))
        handle.attrs["seed"] = seed
    written = [atomic_write_bytes(out / "jets.h5", buffer.getvalue())]
    return written + write_particle_transformer(jets, out / "jets")


def read_generated(path: str | Path) -> Jets:
    """Read ``jets.h5`` written by :func:`write_generated`."""
    import h5py

    from gnn4hep.errors import InputFileError

    with h5py.File(path, "r") as handle:
        missing = [k for k in ("p4", "mask", "labels") if k not in handle]
        if missing:
            raise InputFileError(path, "missing dataset", missing[0])
        get = (lambda k: handle[k][()] if k in handle else None)
        return Jets(get("p4"), get("mask"), get("labels"), get("pid"), get("charge"), source=str(path))


#: sub-folder of a generation's output folder holding its chunks (see :func:`generate_resumable`)
CHUNKS_DIR = "chunks"


def generate_jets(config: GenerationConfig, n_jets_per_class: int, out: str | Path, workers: int = 1, seed: int = 0,
                  progress: bool = True) -> dict:
    """Generate (resumably, chunks in ``out/chunks``), write, and return a summary (jets, seconds, jets/s of
    the chunks generated by this call, files)."""
    start = time.perf_counter()
    jets, generated = generate_resumable(config, n_jets_per_class, Path(out) / CHUNKS_DIR, seed, workers, progress)
    seconds = time.perf_counter() - start
    files = write_generated(jets, out, config, seed)
    chunks = len(chunk_tasks(config, n_jets_per_class, seed))
    new_jets = len(jets) * generated / chunks
    return {"process": config.process, "n_jets": len(jets), "n_signal": int(jets.labels.sum()), "seconds": seconds,
            "chunks": chunks, "chunks_generated": generated, "jets_per_s": new_jets / seconds, "workers": workers,
            "seed": seed, "files": [str(f) for f in files], "mean_multiplicity": float(jets.multiplicity.mean())}
