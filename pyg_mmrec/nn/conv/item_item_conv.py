from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import coalesce

from pyg_mmrec.nn.conv.propagation import Propagation


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


class ItemItemConv(Propagation):
    r"""Propagation over a weighted item-item graph, from the `"Mining Latent Structures for
    Multimedia Recommendation" <https://arxiv.org/abs/2104.09036>`_ paper (LATTICE, eq. 11 of
    IBMRec): ``L`` rounds of symmetric-normalised weighted aggregation, returning the last
    layer:

    .. math::
        \mathbf{Y}'^{(l)} = \mathbf{D}_S^{-1/2} \mathbf{S} \mathbf{D}_S^{-1/2}
        \mathbf{Y}'^{(l-1)}, \qquad \mathbf{Y}' = \mathbf{Y}'^{(L)},

    with :math:`\mathbf{D}_S` the weighted degree matrix of :math:`\mathbf{S}`. The graph is an
    edge list with weights, which may require gradients (e.g. LATTICE's learned graph), or a
    sparse adjacency; both give the same result, with one sparse-dense product per layer (see
    :class:`~pyg_mmrec.nn.conv.propagation.Propagation`).

    Args:
        num_layers (int): Number of propagation layers :math:`L`. (default: :obj:`1`)
        normalize (bool): If :obj:`False`, the graph is taken as already normalised.
            (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.
    """
    def __init__(self, num_layers: int = 1, normalize: bool = True, **kwargs):
        super().__init__(num_layers, normalize, **kwargs)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None) -> Tensor:
        *_, last = self.layers(x, edge_index, edge_weight)
        return last

