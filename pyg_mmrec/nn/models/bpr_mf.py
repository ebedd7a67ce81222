from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender
from pyg_mmrec.params import Dim, Weight
from pyg_mmrec.registry import register


@register('bprmf')
class BPRMF(Recommender):
    r"""Matrix factorisation trained with the BPR loss, from the `"BPR: Bayesian Personalized
    Ranking from Implicit Feedback" <https://arxiv.org/abs/1205.2618>`_ paper:

    .. math::
        \hat y_{ui} = \mathbf{e}_u^\top \mathbf{e}_i,
        \qquad
        \mathcal{L} = \mathcal{L}_\text{BPR} + \lambda \frac{1}{2B}
        \left(\|\mathbf{e}_u\|^2 + \|\mathbf{e}_i\|^2 + \|\mathbf{e}_j\|^2\right).

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int): Embedding size. (default: :obj:`64`)
        reg_weight (float): L2 weight :math:`\lambda`. (default: :obj:`1e-4`)
    """
    capabilities = frozenset({Capability.HIDDEN})

    def __init__(self, num_users: int, num_items: int, embedding_dim: Dim = 64,
                 reg_weight: Weight = 1e-4):
        super().__init__(num_users, num_items)
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight
        self.user_emb = torch.nn.Embedding(num_users, embedding_dim)
        self.item_emb = torch.nn.Embedding(num_items, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)

    def encode(self, data: HeteroData) -> Encoded:
        ego = self.hidden(torch.cat([self.user_emb.weight, self.item_emb.weight]))
        return Encoded(*self.split_nodes(ego), hidden=ego)

    def ego_embeddings(self, user: Tensor, pos: Tensor, neg: Tensor, out: Encoded
                       ) -> list[Tensor]:
        return [self.user_emb(user), self.item_emb(pos), self.item_emb(neg)]
