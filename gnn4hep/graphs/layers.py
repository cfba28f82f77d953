"""The global layer table of the TrackML detector: (volume_id, layer_id) -> layer index, and the
layer pairs a track can cross one after the other.

TrackML volumes (arXiv:1904.06778, fig. 2): 7/8/9 = pixel endcap(-z)/barrel/endcap(+z), 12/13/14 = short
strips, 16/17/18 = long strips; ``layer_id`` = 2, 4, ... In the barrel layer ids grow with r; in the
-z endcaps they grow towards the interaction point (disk 2 of volume 7 is the farthest), in the +z
endcaps they grow away from it.

Each layer gets

- ``layer``: a unique index 0..47 (the row of :data:`LAYER_TABLE`);
- ``rank``: its position along a track's flight from the beam line (pixel barrel 0-3, pixel disks
  4-10 counted outwards from z = 0 on both sides, short-strip barrel 11-14, short-strip disks
  15-20, long-strip barrel 21-22, long-strip disks 23-28). Edges are directed from lower to higher
  rank ("inner to outer"); equal ranks (hits on the same layer, from overlapping modules) are
  directed by the hit's distance from the origin.

:func:`default_layer_pairs` is the hand-written adjacency (used when no training events are given);
:func:`gnn4hep.graphs.geometric.fit_layer_pair_cuts` learns the pairs and their cuts from the true
consecutive hits of training events instead, which is what the pipeline uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gnn4hep.errors import InputFileError

#: volume -> (layer ids in flight order, first rank, subdetector, kind)
_VOLUMES: dict[int, tuple[tuple[int, ...], int, str, str]] = {
    8: ((2, 4, 6, 8), 0, "pixel", "barrel"),
    7: ((14, 12, 10, 8, 6, 4, 2), 4, "pixel", "endcap-"),
    9: ((2, 4, 6, 8, 10, 12, 14), 4, "pixel", "endcap+"),
    13: ((2, 4, 6, 8), 11, "short_strip", "barrel"),
    12: ((12, 10, 8, 6, 4, 2), 15, "short_strip", "endcap-"),
    14: ((2, 4, 6, 8, 10, 12), 15, "short_strip", "endcap+"),
    17: ((2, 4), 21, "long_strip", "barrel"),
    16: ((12, 10, 8, 6, 4, 2), 23, "long_strip", "endcap-"),
    18: ((2, 4, 6, 8, 10, 12), 23, "long_strip", "endcap+"),
}


def _layer_table() -> pd.DataFrame:
    rows = []
    for volume, (layer_ids, first_rank, subdetector, kind) in _VOLUMES.items():
        for position, layer_id in enumerate(layer_ids):
            rows.append((volume, layer_id, first_rank + position, subdetector, kind, position))
    table = pd.DataFrame(rows, columns=["volume_id", "layer_id", "rank", "subdetector", "kind", "position"])
    table = table.sort_values(["rank", "volume_id"]).reset_index(drop=True)
    table.insert(0, "layer", np.arange(len(table), dtype=np.int64))
    return table


#: One row per layer: layer, volume_id, layer_id, rank, subdetector, kind, position (within volume).
LAYER_TABLE: pd.DataFrame = _layer_table()
N_LAYERS: int = len(LAYER_TABLE)
_KEY = LAYER_TABLE["volume_id"].to_numpy() * 100 + LAYER_TABLE["layer_id"].to_numpy()
_LOOKUP = np.full(2000, -1, dtype=np.int64)
_LOOKUP[_KEY] = LAYER_TABLE["layer"].to_numpy()
LAYER_RANK: np.ndarray = LAYER_TABLE["rank"].to_numpy(np.int64)


def layer_index(volume_id: np.ndarray, layer_id: np.ndarray) -> np.ndarray:
    """Global layer index (0..47) of each hit; InputFileError for an unknown (volume, layer)."""
    volume_id = np.asarray(volume_id, dtype=np.int64)
    layer_id = np.asarray(layer_id, dtype=np.int64)
    key = volume_id * 100 + layer_id
    valid = (key >= 0) & (key < len(_LOOKUP))
    index = np.where(valid, _LOOKUP[np.clip(key, 0, len(_LOOKUP) - 1)], -1)
    if (index < 0).any():
        bad = np.flatnonzero(index < 0)[0]
        raise InputFileError(
            "hits", f"unknown TrackML layer (volume_id={volume_id[bad]}, layer_id={layer_id[bad]})", "volume_id"
        )
    return index


def _volume_layers(volume: int) -> list[int]:
    rows = LAYER_TABLE[LAYER_TABLE["volume_id"] == volume].sort_values("position")
    return rows["layer"].tolist()


def default_layer_pairs(skip: int = 1) -> pd.DataFrame:
    """Hand-written layer adjacency: (layer_a, layer_b) with rank(a) <= rank(b).

    Rules: within a volume each layer connects to itself (module overlaps) and to the next
    ``skip + 1`` layers; every barrel layer connects to the first two disks of each endcap of its
    subdetector; the last barrel layer and every disk of a subdetector connect to the first layer
    of the next barrel and to the first two disks of the next endcap on the same side.
    """
    pairs: set[tuple[int, int]] = set()
    for volume in _VOLUMES:
        layers = _volume_layers(volume)
        for i, a in enumerate(layers):
            for b in layers[i : i + skip + 2]:
                pairs.add((a, b))
    chains = [((8, 7, 9), (13, 12, 14)), ((13, 12, 14), (17, 16, 18))]
    for barrel, minus, plus in [(8, 7, 9), (13, 12, 14), (17, 16, 18)]:
        for a in _volume_layers(barrel):
            for side in (minus, plus):
                for b in _volume_layers(side)[:2]:
                    pairs.add((a, b))
    for (b_in, m_in, p_in), (b_out, m_out, p_out) in chains:
        for source_volume, side_out in ((b_in, None), (m_in, m_out), (p_in, p_out)):
            sources = _volume_layers(source_volume)
            if source_volume == b_in:
                sources = sources[-1:]
            for a in sources:
                pairs.add((a, _volume_layers(b_out)[0]))
                for target_side in (side_out,) if side_out else (m_out, p_out):
                    for b in _volume_layers(target_side)[:2]:
                        pairs.add((a, b))
    table = pd.DataFrame(sorted(pairs), columns=["layer_a", "layer_b"])
    return table.astype(np.int64)


def barrel_layer_pairs(volumes: tuple[int, ...] = (8, 13, 17)) -> pd.DataFrame:
    """Adjacent barrel layers only (the HEP.TrkX recipe): (8,2)->(8,4)->...->(17,4)."""
    layers = [layer for volume in volumes for layer in _volume_layers(volume)]
    return pd.DataFrame({"layer_a": layers[:-1], "layer_b": layers[1:]}, dtype=np.int64)
