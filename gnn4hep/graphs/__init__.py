"""Hit graphs for track finding.

A hit graph is a ``torch_geometric.data.Data`` whose schema is documented (and checked) in
:mod:`gnn4hep.graphs.schema`. Submodules are imported on demand (``from gnn4hep.graphs.heptrkx import
load_heptrkx_graph``); this package does not import them eagerly.
"""
