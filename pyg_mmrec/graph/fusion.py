"""Fusion of weighted item-item graphs."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce


def fuse_item_graphs(graphs: list[tuple[Tensor, Tensor]], weights: Tensor,
                     num_items: int) -> tuple[Tensor, Tensor]:
    r"""Fuses per-modality item-item graphs into one weighted graph,

    .. math::
        \mathbf{S} = \sum_m w_m \mathbf{S}^m,

    as an edge list over the union of the edges (weights of shared edges are summed).
    Differentiable with respect to ``weights`` (e.g. LATTICE's learnable
    :math:`\mathrm{softmax}` modality weights) and to the edge weights.

    Args:
        graphs (list): ``(edge_index, edge_weight)`` of each modality.
        weights (Tensor): One weight :math:`w_m` per graph.
        num_items (int): Number of items.
    """
    edge_index = torch.cat([ei for ei, _ in graphs], dim=1)
    edge_weight = torch.cat([w * ew for w, (_, ew) in zip(weights, graphs, strict=True)])
    return coalesce(edge_index, edge_weight, num_nodes=num_items, reduce='sum')
