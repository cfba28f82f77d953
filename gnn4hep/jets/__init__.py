"""Jet tagging on particle-flow constituents.

Data flow: source (Pythia 8 + FastJet generation, or public arrays) -> :class:`~gnn4hep.jets.constituents.Jets`
-> per-constituent features / point clouds / kNN graphs / jet images / substructure observables
-> tagger (ParticleNet, PFN, EFN, MPNN, CNN, BDT) -> scores -> ROC, AUC, 1/eps_B.

Sub-modules are imported on demand (``from gnn4hep.jets.io import read_jets``), not here.
"""
