from __future__ import annotations

import dataclasses

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.nn.bootstrap import Bootstrap
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.params import Count0, Dim, Rate, Weight
from pyg_mmrec.registry import register


@register('selfcf')
class SelfCF(LightGCN):
    r"""The SelfCF model from the `"SelfCF: A Simple Framework for Self-supervised
    Collaborative Filtering" <https://arxiv.org/abs/2107.03019>`_ paper (ACM TORS 2023), in its
    embedding-dropout variant SelfCF\ :sub:`ed` on a LightGCN backbone (``SELFCFED_LGN`` in the
    authors' code).

    LightGCN's output representations :math:`\mathbf{z}_u, \mathbf{z}_i` feed the shared
    :class:`~pyg_mmrec.nn.bootstrap.Bootstrap` mechanism: a linear predictor gives the online
    views :math:`\tilde{\mathbf{z}}`, dropout on the stopped gradient the target views
    :math:`\hat{\mathbf{z}}`, and each side of an observed interaction is pulled towards the
    other's target view, without negative items:

    .. math::
        \mathcal{L} = \tfrac{1}{2}\big[C(\tilde{\mathbf{z}}_u, \hat{\mathbf{z}}_i)
        + C(\tilde{\mathbf{z}}_i, \hat{\mathbf{z}}_u)\big], \qquad
        \hat y_{ui} = \tilde{\mathbf{z}}_u^\top \mathbf{z}_i
        + \mathbf{z}_u^\top \tilde{\mathbf{z}}_i,

    with :math:`C` the :func:`~pyg_mmrec.functional.cosine_loss` (the authors minimise the
    negative cosine similarity, which differs by a constant). The representations returned by
    :meth:`forward` are :math:`[\tilde{\mathbf{z}}_u \,\|\, \mathbf{z}_u]` and
    :math:`[\mathbf{z}_i \,\|\, \tilde{\mathbf{z}}_i]`, so their inner product is exactly that
    score. The batch's negatives are ignored. The hidden layer :math:`\mathbf{H}` is the
    layer-0 ID embeddings, as for LightGCN.

    Of the paper's three output augmentations, embedding dropout is the one implemented: it
    needs neither a momentum copy of the embeddings (historical embeddings, SelfCF\ :sub:`he`)
    nor a resampled graph per batch (edge pruning, SelfCF\ :sub:`ep`), and it is the view
    generator that BM3 (by the same authors) inherits. The authors
    search ``dropout`` in :math:`\{0.05, 0.1, 0.15, 0.2\}` and ``num_layers`` in
    :math:`\{1, 2, 3, 4\}`; the defaults take the middle of those grids. Their loss has no
    regulariser, so ``reg_weight`` (L2 on the batch's layer-0 user and item embeddings, as
    LightGCN's) is 0 by default.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int): Embedding size :math:`d`; representations have size
            :math:`2d`. (default: :obj:`64`)
        num_layers (int): LightGCN layers. (default: :obj:`2`)
        dropout (float): Dropout ratio of the target views. (default: :obj:`0.1`)
        reg_weight (float): L2 weight. (default: :obj:`0.0`)
    """
    def __init__(self, num_users: int, num_items: int, embedding_dim: Dim = 64,
                 num_layers: Count0 = 2, dropout: Rate = 0.1, reg_weight: Weight = 0.0):
        super().__init__(num_users, num_items, embedding_dim, num_layers, reg_weight)
        self.dropout = dropout
        self.bootstrap = Bootstrap(embedding_dim, dropout)
        SelfCF.reset_parameters(self)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.bootstrap.reset_parameters()

    def encode(self, data: HeteroData) -> Encoded:
        return self.with_predictions(super().encode(data))

    def with_predictions(self, out: Encoded) -> Encoded:
        r"""``out`` with the representations :math:`[\tilde{\mathbf{z}}_u \,\|\,
        \mathbf{z}_u]` and :math:`[\mathbf{z}_i \,\|\, \tilde{\mathbf{z}}_i]` in place of
        the online :math:`\mathbf{z}_u, \mathbf{z}_i` it holds."""
        user = torch.cat([self.bootstrap(out.user), out.user], dim=1)
        item = torch.cat([out.item, self.bootstrap(out.item)], dim=1)
        return dataclasses.replace(out, user=user, item=item)

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        d = self.embedding_dim
        user_pred, user_online = out.user[user].split(d, dim=1)
        item_online, item_pred = out.item[pos].split(d, dim=1)
        rec = self.bootstrap.rec_loss(user_pred, item_pred, self.bootstrap.target(user_online),
                                      self.bootstrap.target(item_online)) / 2
        l2 = self.reg_weight * MF.l2_reg(*self.ego_embeddings(user, pos, neg, out)[:2])
        return {'loss': rec + l2, 'rec': rec, 'l2': l2}
