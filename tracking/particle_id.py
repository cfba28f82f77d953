"""The TrackML ``particle_id`` encoding.

A TrackML particle_id is an unsigned 64-bit integer made of bit fields (from the reference
``trackml-library``'s ``decode_particle_id``, and the ACTS barcode the challenge data was made with):

=============  ======================  =====  ==========================================
field          mask                    bits   meaning
=============  ======================  =====  ==========================================
vertex_id      0xfff0000000000000      12     index of the collision vertex (1 = first)
primary_id     0x000ffff000000000      16     index of the primary particle at the vertex
generation     0x0000000fff000000      12     0 = primary (from the generator), >0 secondary
secondary_id   0x0000000000fff000      12     index of the secondary
process        0x0000000000000fff      12     simulation process that made it
=============  ======================  =====  ==========================================

``particle_id == 0`` marks noise hits in ``truth.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NOISE_PARTICLE_ID = 0

#: (name, mask, shift) of each field, most significant first.
FIELDS: tuple[tuple[str, int, int], ...] = (
    ("vertex_id", 0xFFF0000000000000, 52),
    ("primary_id", 0x000FFFF000000000, 36),
    ("generation", 0x0000000FFF000000, 24),
    ("secondary_id", 0x0000000000FFF000, 12),
    ("process", 0x0000000000000FFF, 0),
)


def _as_uint64(particle_id) -> np.ndarray:
    values = np.asarray(particle_id)
    if values.dtype.kind == "i" and (values < 0).any():
        raise ValueError("particle_id must be non-negative (it is an unsigned 64-bit integer)")
    return values.astype(np.uint64)


def decode_particle_id(particle_id) -> pd.DataFrame:
    """Split particle ids into their fields.

    Args:
        particle_id: array-like of shape (n,), integer ids.

    Returns:
        DataFrame with columns ``vertex_id, primary_id, generation, secondary_id, process``
        (uint64), one row per id.
    """
    pid = _as_uint64(particle_id)
    return pd.DataFrame(
        {name: (pid & np.uint64(mask)) >> np.uint64(shift) for name, mask, shift in FIELDS}
    )


def encode_particle_id(
    vertex_id, primary_id, generation=0, secondary_id=0, process=0
) -> np.ndarray:
    """Build particle ids from their fields (array-likes broadcast together).

    Raises:
        ValueError: a field is negative or does not fit its bit width.
    """
    values = dict(
        vertex_id=vertex_id,
        primary_id=primary_id,
        generation=generation,
        secondary_id=secondary_id,
        process=process,
    )
    out = np.zeros(np.broadcast(*[np.asarray(v) for v in values.values()]).shape, dtype=np.uint64)
    for name, mask, shift in FIELDS:
        field = np.asarray(values[name])
        limit = mask >> shift
        if (field < 0).any() or (field > limit).any():
            raise ValueError(f"particle_id field '{name}' must be in [0, {limit}]")
        out |= field.astype(np.uint64) << np.uint64(shift)
    return out


def is_primary(particle_id) -> np.ndarray:
    """True for particles of generation 0 (made by the event generator), False for noise (id 0)."""
    pid = _as_uint64(particle_id)
    generation = (pid & np.uint64(0x0000000FFF000000)) >> np.uint64(24)
    return (generation == 0) & (pid != 0)
