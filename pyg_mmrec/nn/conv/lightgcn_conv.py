from __future__ import annotations

from torch import Tensor
from torch_geometric.typing import Adj, OptTensor

from pyg_mmrec.nn.conv.propagation import Propagation
from pyg_mmrec.nn.conv.sparse import constant_spmm


class LightGCNConv(Propagation):
    r"""The LightGCN propagation from the `"LightGCN: Simplifying and Powering Graph
    Convolution Network for Recommendation" <https://arxiv.org/abs/2002.02126>`_ paper: ``L``
    rounds of symmetric-normalised neighbourhood aggregation without weights or
    non-linearities, averaged over the layer outputs :math:`0..L`:

    .. math::
        \mathbf{x}^{(l+1)}_i = \sum_{j \in \mathcal{N}(i)}
        \frac{e_{ji}}{\sqrt{\deg(i)\deg(j)}} \mathbf{x}^{(l)}_j,
        \qquad
        \mathbf{x}^{\prime}_i = \frac{1}{L+1} \sum_{l=0}^{L} \mathbf{x}^{(l)}_i.

    It runs on the homogeneous user-item graph (users first, then items; see
    :func:`~pyg_mmrec.graph.user_item_edge_index` and
    :func:`~pyg_mmrec.graph.user_item_adjacency`) given either as an edge list or as a sparse
    adjacency, with one sparse-dense product per layer either way (see
    :class:`~pyg_mmrec.nn.conv.propagation.Propagation`); both give the same result. The graph
    is assumed symmetric, as the user-item graph is, which makes the backward pass with respect
    to the node states one product.

    Args:
        num_layers (int): Number of propagation layers :math:`L`. (default: :obj:`2`)
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
    def __init__(self, num_layers: int = 2, normalize: bool = True, **kwargs):
        super().__init__(num_layers, normalize, **kwargs)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None) -> Tensor:
        return sum(self.layers(x, edge_index, edge_weight)) / (self.num_layers + 1)

    def message_and_aggregate(self, adj_t: Adj, x: Tensor, edge_weight: OptTensor) -> Tensor:
        if isinstance(adj_t, Tensor) and x.requires_grad and edge_weight is None:
            return constant_spmm(adj_t, x, symmetric=True)
        return super().message_and_aggregate(adj_t, x, edge_weight)
