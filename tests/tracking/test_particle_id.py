"""TrackML particle_id bit fields."""

import numpy as np
import pytest

from gnn4hep.tracking.particle_id import decode_particle_id, encode_particle_id, is_primary


def test_round_trip_of_all_fields():
    ids = encode_particle_id([1, 4095, 17], [1, 65535, 3], [0, 4095, 2], [0, 4095, 5], [0, 4095, 1])
    decoded = decode_particle_id(ids)
    assert decoded["vertex_id"].tolist() == [1, 4095, 17]
    assert decoded["primary_id"].tolist() == [1, 65535, 3]
    assert decoded["generation"].tolist() == [0, 4095, 2]
    assert decoded["secondary_id"].tolist() == [0, 4095, 5]
    assert decoded["process"].tolist() == [0, 4095, 1]
    assert ids.dtype == np.uint64 and ids[1] == np.iinfo(np.uint64).max


def test_real_id_decodes_as_primary_of_vertex_one():
    # 4503668346847232 = 2**52 + 2**36: vertex 1, primary 1 (event 1001's first particle)
    decoded = decode_particle_id([4503668346847232])
    assert decoded.loc[0, "vertex_id"] == 1 and decoded.loc[0, "primary_id"] == 1
    assert decoded.loc[0, "generation"] == 0
    assert is_primary([4503668346847232, 0, int(encode_particle_id(1, 1, generation=1))]).tolist() == [True, False, False]


def test_field_overflow_is_an_error():
    with pytest.raises(ValueError, match="primary_id"):
        encode_particle_id(1, 70000)
    with pytest.raises(ValueError, match="non-negative"):
        decode_particle_id(np.array([-5]))
