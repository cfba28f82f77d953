"""Hit-graph schema checks: each problem is reported with the attribute's name."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from gnn4hep.graphs.schema import validate_graph


def _graph(**overrides):
    values = dict(x=torch.rand(4, 3), edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]), y=torch.tensor([1.0, 0.0, 1.0]))
    values.update(overrides)
    return Data(**{k: v for k, v in values.items() if v is not None})


def test_valid_graph_with_optional_attributes_passes():
    validate_graph(
        _graph(
            edge_attr=torch.rand(3, 4), hit_id=torch.arange(4), particle_id=torch.tensor([0, 5, 5, 7]),
            pt=torch.rand(4), edge_scores=torch.rand(3), feature_names=["r", "phi", "z"],
        )
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(y=None), "no 'y'"),
        (dict(x=torch.rand(4, 2)), "'x' must have shape"),
        (dict(x=torch.rand(4, 3, dtype=torch.float64)), "'x' must be float32"),
        (dict(x=torch.tensor([[0.1, 0.2, float("nan")]] * 4)), "'x' has NaN"),
        (dict(edge_index=torch.tensor([[0, 1, 2], [1, 2, 4]])), "'edge_index' has indices outside"),
        (dict(edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]], dtype=torch.int32)), "'edge_index' must be int64"),
        (dict(y=torch.ones(2)), "'y' must have shape"),
        (dict(edge_attr=torch.rand(3)), "'edge_attr' must have shape"),
        (dict(particle_id=torch.arange(3)), "'particle_id' must have shape"),
        (dict(hit_id=torch.arange(4, dtype=torch.int32)), "'hit_id' must be torch.int64"),
        (dict(feature_names=["r", "phi"]), "'feature_names' has 2 names"),
    ],
)
def test_problems_name_the_attribute(overrides, message):
    with pytest.raises(ValueError, match=message):
        validate_graph(_graph(**overrides))
