"""Jet-substructure observables computed from the constituents (the inputs of the BDT baseline).

* jet mass m = sqrt(E² − |p|²) of the constituent sum;
* N-subjettiness (Thaler & Van Tilburg, arXiv:1011.2268)

      τ_N = (1/d₀) Σ_k pT_k min(ΔR_1k, …, ΔR_Nk),   d₀ = Σ_k pT_k R,

  with the N axes from exclusive kT clustering of the constituents (``exclusive_jets(N)`` of
  FastJet, E-scheme) and ΔR in (rapidity, φ); jets with ≤ N constituents have τ_N = 0;
* soft-drop mass (Larkoski, Marzani, Soyez, Thaler, arXiv:1402.2657) with β = 0, z_cut = 0.1,
  R₀ = R, on a Cambridge/Aachen reclustering (FastJet's SoftDrop through the scikit-hep bindings);
* constituent multiplicity.

FastJet clusters all jets of a set in one vectorised call on awkward arrays.
"""

from __future__ import annotations

import warnings

import numpy as np

from gnn4hep.jets.constituents import Jets, invariant_mass, jet_p4
from gnn4hep.utils.angles import wrap_phi

OBSERVABLES = ("mass", "tau1", "tau2", "tau3", "tau21", "tau32", "softdrop_mass", "multiplicity")


def _awkward_constituents(jets: Jets):
    import awkward as ak
    import vector

    vector.register_awkward()
    flat = jets.p4[jets.mask].astype(np.float64)
    records = ak.zip({"px": flat[:, 0], "py": flat[:, 1], "pz": flat[:, 2], "E": flat[:, 3]}, with_name="Momentum4D")
    return ak.unflatten(records, jets.multiplicity)


def _rapidity_phi(px, py, pz, e):
    with np.errstate(divide="ignore", invalid="ignore"):
        y = 0.5 * np.log(np.maximum(e + pz, 1e-300) / np.maximum(e - pz, 1e-300))
    return y, np.arctan2(py, px)


def quiet_fastjet_banner() -> None:
    """Stop FastJet's one-time banner when ``GNN4HEP_FASTJET_QUIET=1`` (``--json`` output must stay pure JSON)."""
    import os

    if os.environ.get("GNN4HEP_FASTJET_QUIET") == "1":
        import fastjet._swig

        fastjet._swig.ClusterSequence.set_fastjet_banner_stream(None)


def _cluster(jets: Jets, algorithm: str):
    import fastjet

    quiet_fastjet_banner()

    algo = {"kt": fastjet.kt_algorithm, "ca": fastjet.cambridge_algorithm}[algorithm]
    with warnings.catch_warnings():
        # the bindings warn about exclusive jets for every algorithm, kt and C/A included
        warnings.filterwarnings("ignore", message="dcut and exclusive jets")
        return fastjet.ClusterSequence(_awkward_constituents(jets), fastjet.JetDefinition(algo, 10.0))


def nsubjettiness(jets: Jets, radius: float, n_max: int = 3) -> np.ndarray:
    """(N_jets, n_max) τ_1 … τ_{n_max} with exclusive-kT axes."""
    import awkward as ak

    cluster = _cluster(jets, "kt")
    pt = np.hypot(jets.p4[..., 0], jets.p4[..., 1]).astype(np.float64) * jets.mask
    y, phi = _rapidity_phi(*(jets.p4[..., i].astype(np.float64) for i in range(4)))
    d0 = pt.sum(axis=1) * radius
    taus = np.zeros((len(jets), n_max))
    multiplicity = jets.multiplicity
    for n in range(1, n_max + 1):
        enough = multiplicity > n
        if not enough.any():
            continue
        source = cluster if enough.all() else _cluster(jets.subset(enough), "kt")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="dcut and exclusive jets")
            axes = source.exclusive_jets(n_jets=n)
        a = {k: ak.to_numpy(axes[k]).astype(np.float64) for k in ("px", "py", "pz", "E")}
        ay, aphi = _rapidity_phi(a["px"], a["py"], a["pz"], a["E"])  # (n_enough, n)
        dy = y[enough][:, :, None] - ay[:, None, :]
        dphi = wrap_phi(phi[enough][:, :, None] - aphi[:, None, :])
        min_dr = np.sqrt(dy**2 + dphi**2).min(axis=2)
        taus[enough, n - 1] = (pt[enough] * min_dr).sum(axis=1) / d0[enough]
    return taus


def softdrop_mass(jets: Jets, radius: float, beta: float = 0.0, z_cut: float = 0.1) -> np.ndarray:
    """(N,) soft-drop groomed mass (GeV) on a C/A reclustering; jets of one constituent keep m = 0."""
    import awkward as ak

    masses = np.zeros(len(jets))
    several = jets.multiplicity > 1
    if not several.any():
        return masses
    cluster = _cluster(jets.subset(several), "ca")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="dcut and exclusive jets")
        groomed = cluster.exclusive_jets_softdrop_grooming(njets=1, beta=beta, symmetry_cut=z_cut, R0=radius)
    masses[several] = np.nan_to_num(ak.to_numpy(groomed["msoftdrop"]).astype(np.float64))
    return masses


def substructure_observables(jets: Jets, radius: float) -> dict[str, np.ndarray]:
    """Every observable of :data:`OBSERVABLES`, each (N,) float64."""
    taus = nsubjettiness(jets, radius)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau21 = np.where(taus[:, 0] > 0, taus[:, 1] / taus[:, 0], 0.0)
        tau32 = np.where(taus[:, 1] > 0, taus[:, 2] / taus[:, 1], 0.0)
    return {
        "mass": invariant_mass(jet_p4(jets)),
        "tau1": taus[:, 0], "tau2": taus[:, 1], "tau3": taus[:, 2],
        "tau21": tau21, "tau32": tau32,
        "softdrop_mass": softdrop_mass(jets, radius),
        "multiplicity": jets.multiplicity.astype(np.float64),
    }
