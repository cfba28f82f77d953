"""A plain multilayer perceptron with optional LayerNorm, the building block of the message-passing layers.

Written by hand rather than with ``torch_geometric.nn.MLP`` because PyG's ``layer_norm`` defaults to
graph-wise normalisation (it needs a ``batch`` vector); here every row (node or edge) is normalised
on its own, as in the Exa.TrkX interaction network.
"""

from __future__ import annotations

from torch import nn


def make_mlp(
    in_features: int,
    hidden: int,
    out_features: int,
    n_layers: int = 2,
    layer_norm: bool = True,
    activation: type[nn.Module] = nn.ReLU,
    output_activation: bool = False,
) -> nn.Sequential:
    """``n_layers`` Linear layers: in -> hidden -> ... -> out, each hidden layer followed by
    (LayerNorm) + activation.

    Args:
        in_features, hidden, out_features: widths.
        n_layers: number of Linear layers (>= 1).
        layer_norm: put a LayerNorm before each hidden activation (and the output one, if any).
        activation: activation class.
        output_activation: also apply (LayerNorm +) activation after the last Linear.

    Shapes: (..., in_features) -> (..., out_features).
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    widths = [in_features] + [hidden] * (n_layers - 1) + [out_features]
    return mlp_from_widths(widths, layer_norm, activation, output_activation)


def mlp_from_widths(
    widths: list[int],
    layer_norm: bool = False,
    activation: type[nn.Module] = nn.ReLU,
    output_activation: bool = True,
    dropout: float = 0.0,
) -> nn.Sequential:
    """Linear layers between consecutive ``widths`` (input first), each hidden layer followed by
    (LayerNorm) + activation (+ Dropout); the last one too with ``output_activation``.

    Shapes: (..., widths[0]) -> (..., widths[-1]).
    """
    layers: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(width_in, width_out))
        if index < len(widths) - 2 or output_activation:
            if layer_norm:
                layers.append(nn.LayerNorm(width_out))
            layers.append(activation())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)
