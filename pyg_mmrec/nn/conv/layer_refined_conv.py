from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor

from pyg_mmrec.nn.conv.lightgcn_conv import LightGCNConv


class LayerRefinedConv(LightGCNConv):
    r"""The layer-refined propagation from the `"Layer-refined Graph Convolutional Networks for
    Recommendation" <https://arxiv.org/abs/2207.11088>`_ paper (LayerGCN, ICDE 2023): each
    layer's output is re-weighted, node by node, by its cosine similarity to the ego (layer-0)
    representation before it is propagated further, and the refined layers
    :math:`1..L` are summed (the ego layer itself is left out):

    .. math::
        \mathbf{x}^{(l)}_i = \cos\big(\tilde{\mathbf{x}}^{(l)}_i, \mathbf{x}^{(0)}_i\big)\,
        \tilde{\mathbf{x}}^{(l)}_i, \qquad
        \tilde{\mathbf{x}}^{(l)}_i = \sum_{j \in \mathcal{N}(i)}
        \frac{e_{ji}}{\sqrt{\deg(i)\deg(j)}} \mathbf{x}^{(l-1)}_j, \qquad
        \mathbf{x}^{\prime}_i = \sum_{l=1}^{L} \mathbf{x}^{(l)}_i .

    Like :class:`LightGCNConv` (whose aggregation it reuses), it runs on the homogeneous
    user-item graph given as an edge list or as a sparse adjacency, assumed symmetric; both give
    the same result. The similarity weights are part of the computation graph, so gradients flow
    through them, as in the authors' code.

    Args:
        num_layers (int): Number of propagation layers :math:`L`. (default: :obj:`4`)
        normalize (bool): If :obj:`False`, the input graph is taken as already normalised
            (e.g. from :func:`~pyg_mmrec.graph.user_item_adjacency`). (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F)`, edge indices
          :math:`(2, |\mathcal{E}|)` or a sparse adjacency
          :math:`(|\mathcal{V}|, |\mathcal{V}|)`, edge weights :math:`(|\mathcal{E}|)`
          *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, F)`
    """
    def __init__(self, num_layers: int = 4, normalize: bool = True, **kwargs):
        super().__init__(num_layers, normalize, **kwargs)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None) -> Tensor:
        def refine(h: Tensor) -> Tensor:
            return F.cosine_similarity(h, x, dim=-1).unsqueeze(-1) * h

        _, *refined = self.layers(x, edge_index, edge_weight, transform=refine)
        return sum(refined, x.new_zeros(x.shape))
