"""Object-condensation loss (Kieseler, arXiv:2002.03605; as used for tracking by Lieret & DeZoort,
arXiv:2309.16754) and a small training loop for :class:`~gnn4hep.models.condensation_net.CondensationNet`.

For hits i = 1..N with cluster coordinates x_i and beta_i in (0, 1), charge

    q_i = arctanh(beta_i)^2 + q_min.

Each object alpha (a particle that counts: pT > pt_min and at least ``min_hits`` hits; every other
hit is *noise*) has its condensation point alpha' = argmax_{i in alpha} beta_i, with x_alpha, q_alpha.
With M_{i alpha} = 1 when hit i belongs to alpha:

    V_att(i, alpha) = ||x_i - x_alpha||^2 q_alpha
    V_rep(i, alpha) = max(0, 1 - ||x_i - x_alpha||) q_alpha
    L_att = 1/N sum_i q_i sum_alpha M_{i alpha} V_att(i, alpha)
    L_rep = 1/N sum_i q_i sum_alpha (1 - M_{i alpha}) V_rep(i, alpha)
    L_beta = 1/K sum_alpha (1 - beta_alpha)  +  s_B / N_B sum_{i noise} beta_i

(K objects, N_B noise hits). Noise hits are not attracted anywhere; they are repelled from every
condensation point and their beta is pushed to 0, so they can be dropped before clustering
(beta < beta_noise). Total: L = L_att + w_rep L_rep + w_beta L_beta.

The repulsive sum over (hit, object) pairs is evaluated only where ||x_i - x_alpha|| < 1 (the
hinge is zero elsewhere), found with k-d trees per step (:func:`hits_near_points`): memory O(N + pairs within 1).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import Tensor



def hits_near_points(hits: Tensor, points: Tensor, radius: float = 1.0) -> tuple[Tensor, Tensor]:
    """All (hit i, point alpha) with ||hits_i - points_alpha|| < radius: two k-d trees
    (``scipy.spatial.cKDTree.sparse_distance_matrix``), never the hit-hit pairs."""
    from scipy.spatial import cKDTree

    if len(hits) == 0 or len(points) == 0:
        empty = torch.empty(0, dtype=torch.long)
        return empty, empty
    pairs = cKDTree(hits.cpu().numpy()).sparse_distance_matrix(cKDTree(points.cpu().numpy()), radius, output_type="ndarray")
    return torch.from_numpy(pairs["i"].astype(np.int64)), torch.from_numpy(pairs["j"].astype(np.int64))


def condensation_targets(particle_id: Tensor, pt: Tensor, pt_min: float, min_hits: int) -> Tensor:
    """(N,) long object index of each hit (0..K-1), -1 for noise / objects that do not count."""
    pid = particle_id.long()
    unique, inverse, counts = torch.unique(pid, return_inverse=True, return_counts=True)
    counts_per_hit = counts[inverse]
    good = (pid != 0) & (pt > pt_min) & (counts_per_hit >= min_hits)
    kept = torch.unique(inverse[good])
    remap = torch.full((len(unique),), -1, dtype=torch.long)
    remap[kept] = torch.arange(len(kept))
    return torch.where(good, remap[inverse], torch.full_like(inverse, -1))


def condensation_loss(
    coordinates: Tensor,
    beta: Tensor,
    object_id: Tensor,
    q_min: float = 0.01,
    noise_weight: float = 1.0,
    repulsion_weight: float = 1.0,
    beta_weight: float = 1.0,
) -> dict[str, Tensor]:
    """The loss terms of the module docstring: {"attractive", "repulsive", "beta", "total"}.

    Args:
        coordinates: (N, D) cluster coordinates.
        beta: (N,) in (0, 1).
        object_id: (N,) from :func:`condensation_targets` (-1 = noise).
        q_min: minimal charge; noise_weight: s_B; repulsion_weight, beta_weight: term weights.
    """
    n = coordinates.shape[0]
    q = torch.atanh(beta) ** 2 + q_min
    is_object = object_id >= 0
    n_objects = int(object_id.max()) + 1 if bool(is_object.any()) else 0
    zero = coordinates.new_zeros(())
    if n_objects == 0:
        noise_term = beta.mean() * noise_weight if n else zero
        return {"attractive": zero, "repulsive": zero, "beta": noise_term, "total": beta_weight * noise_term}
    # condensation point of each object: its hit of largest beta
    hits = torch.nonzero(is_object).squeeze(1)
    best_beta = torch.full((n_objects,), -1.0, dtype=beta.dtype).scatter_reduce(0, object_id[hits], beta[hits].detach(), reduce="amax")
    is_best = is_object & (beta.detach() == best_beta[object_id.clamp(min=0)])
    condensation_hit = torch.zeros(n_objects, dtype=torch.long)
    condensation_hit[object_id[is_best]] = torch.nonzero(is_best).squeeze(1)
    x_alpha, q_alpha, beta_alpha = coordinates[condensation_hit], q[condensation_hit], beta[condensation_hit]
    # attraction of each object's hits to its condensation point
    sq = (coordinates[hits] - x_alpha[object_id[hits]]).pow(2).sum(dim=1)
    attractive = (q[hits] * sq * q_alpha[object_id[hits]]).sum() / n
    # repulsion of every hit from the other objects' condensation points within distance 1
    i, alpha = hits_near_points(coordinates.detach(), x_alpha.detach(), radius=1.0)
    other = object_id[i] != alpha
    i, alpha = i[other], alpha[other]
    distance = (coordinates[i] - x_alpha[alpha]).pow(2).sum(dim=1).add(1e-12).sqrt()
    repulsive = (q[i] * torch.relu(1.0 - distance) * q_alpha[alpha]).sum() / n
    beta_term = (1.0 - beta_alpha).mean()
    noise = ~is_object
    if bool(noise.any()):
        beta_term = beta_term + noise_weight * beta[noise].mean()
    total = attractive + repulsion_weight * repulsive + beta_weight * beta_term
    return {"attractive": attractive, "repulsive": repulsive, "beta": beta_term, "total": total}


def train_condensation(
    model: torch.nn.Module,
    graphs: list,
    epochs: int = 20,
    learning_rate: float = 1e-3,
    pt_min: float = 0.0,
    min_hits: int = 3,
    q_min: float = 0.01,
    noise_weight: float = 1.0,
    repulsion_weight: float = 1.0,
    seed: int = 0,
    logger: logging.Logger | None = None,
) -> list[float]:
    """Train in place on hit graphs (``x``, ``edge_index``, ``particle_id``, ``pt``); mean loss per epoch.

    A plain Adam loop over whole events (one graph per step), like the metric-learning stage.
    """
    if not graphs:
        raise ValueError("train_condensation needs at least one training graph")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    targets = [condensation_targets(g.particle_id, g.pt, pt_min, min_hits) for g in graphs]
    history = []
    for epoch in range(epochs):
        model.train()
        losses = []
        for index in torch.randperm(len(graphs), generator=generator).tolist():
            graph = graphs[index]
            coordinates, beta = model(graph.x, graph.edge_index)
            loss = condensation_loss(coordinates, beta, targets[index], q_min=q_min, noise_weight=noise_weight, repulsion_weight=repulsion_weight)["total"]
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(float(loss))
        scheduler.step()
        history.append(float(np.mean(losses)))
        if logger is not None:
            logger.info(f"  condensation epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f}")
    model.eval()
    return history
