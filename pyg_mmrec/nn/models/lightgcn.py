from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.conv import LightGCNConv
from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender
from pyg_mmrec.params import Count0, Dim, Weight
from pyg_mmrec.registry import register


@register('lightgcn')
class LightGCN(Recommender):
    r"""The LightGCN model from the `"LightGCN: Simplifying and Powering Graph Convolution
    Network for Recommendation" <https://arxiv.org/abs/2002.02126>`_ paper.

    ID embeddings of users and items are propagated over the symmetric-normalised user-item
    graph by :class:`~pyg_mmrec.nn.conv.LightGCNConv` and averaged over layers:

    .. math::
        \mathbf{E}^{(l+1)} = \hat{\mathbf{A}} \mathbf{E}^{(l)}, \qquad
        \mathbf{E} = \frac{1}{L+1} \sum_{l=0}^{L} \mathbf{E}^{(l)}, \qquad
        \hat y_{ui} = \mathbf{e}_u^\top \mathbf{e}_i,

    trained with BPR plus :math:`\lambda`-weighted L2 on the batch's layer-0 embeddings. The
    normalised adjacency :math:`\hat{\mathbf{A}}` is built once per training graph and cached.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int): Embedding size. (default: :obj:`64`)
        num_layers (int): Number of propagation layers :math:`L`. (default: :obj:`2`)
        reg_weight (float): L2 weight :math:`\lambda`. (default: :obj:`1e-4`)
    """
    capabilities = frozenset({Capability.HIDDEN})

    def __init__(self, num_users: int, num_items: int, embedding_dim: Dim = 64,
                 num_layers: Count0 = 2, reg_weight: Weight = 1e-4):
        super().__init__(num_users, num_items)
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight
        self.embedding = torch.nn.Embedding(num_users + num_items, embedding_dim)
        self.num_layers = num_layers
        self.conv = LightGCNConv(num_layers, normalize=False)
        LightGCN.reset_parameters(self)

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.embedding.weight)

    def encode(self, data: HeteroData) -> Encoded:
        ego = self.hidden(self.embedding.weight)
        out = self.conv(ego, self.adjacency(data))
        return Encoded(*self.split_nodes(out), hidden=ego)

    def ego_embeddings(self, user: Tensor, pos: Tensor, neg: Tensor, out: Encoded
                       ) -> list[Tensor]:
        w = self.embedding.weight
        return [w[user], w[self.num_users + pos], w[self.num_users + neg]]
