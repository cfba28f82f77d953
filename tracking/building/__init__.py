"""Track building: edge scores or node embeddings -> track candidates (``hit_id, track_id``).

Every builder returns the TrackML submission table, with every hit exactly once (hits that end up
in no candidate get a track of their own):

- :func:`~gnn4hep.tracking.building.components.components_tracks`: edge-score cut + connected
  components (scipy.sparse.csgraph);
- :func:`~gnn4hep.tracking.building.walkthrough.walkthrough_tracks`: Exa.TrkX's CC-and-walk;
- :func:`~gnn4hep.tracking.building.kink_walk.kink_walk_tracks`: a walk that takes the straightest
  well-scored edge and joins fragments that continue each other (the default of trackml_gnn);
- :func:`~gnn4hep.tracking.building.hdbscan_builder.hdbscan_tracks`: HDBSCAN on learned node
  embeddings (object condensation, Lieret & DeZoort arXiv:2309.16754).
"""

from gnn4hep.tracking.building.components import components_tracks
from gnn4hep.tracking.building.hdbscan_builder import hdbscan_tracks
from gnn4hep.tracking.building.kink_walk import kink_walk_tracks
from gnn4hep.tracking.building.labels import labels_to_submission
from gnn4hep.tracking.building.walkthrough import walkthrough_tracks

__all__ = ["components_tracks", "hdbscan_tracks", "kink_walk_tracks", "labels_to_submission", "walkthrough_tracks"]
