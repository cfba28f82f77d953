"""The analytic toy event with its 10 cylinders relabelled as the TrackML barrel layers they mimic
(pixel 8/2..8, short strips 13/2..8, long strips 17/2..4), so graph code sees real layer ids."""

from __future__ import annotations

import numpy as np

from gnn4hep.tracking.toy import make_toy_event

_VOLUME = np.array([8, 8, 8, 8, 13, 13, 13, 13, 17, 17])
_LAYER = np.array([2, 4, 6, 8, 2, 4, 6, 8, 2, 4])


def trackml_toy_event(n_particles: int = 150, seed: int = 0):
    event = make_toy_event(n_particles=n_particles, seed=seed)
    index = event.hits["layer_id"].to_numpy() // 2 - 1
    event.hits["volume_id"] = _VOLUME[index].astype(np.int32)
    event.hits["layer_id"] = _LAYER[index].astype(np.int32)
    return event
