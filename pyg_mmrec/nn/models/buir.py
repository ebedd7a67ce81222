from __future__ import annotations

import dataclasses

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_torch_csr_tensor

import pyg_mmrec.functional as MF
from pyg_mmrec.graph import user_item_edge_index
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.nn.models.selfcf import SelfCF
from pyg_mmrec.params import Count0, Dim, Fraction, Weight
from pyg_mmrec.registry import register
from pyg_mmrec.utils import quiet_sparse_csr


@dataclasses.dataclass
class BUIREncoded(Encoded):
    r"""The forward pass of :class:`BUIR`: :class:`Encoded`, plus the target encoder's
    representations (computed without gradient).

    Args:
        target_user (Tensor, optional): :math:`f_\xi(u)` ``[U, d]``.
        target_item (Tensor, optional): :math:`f_\xi(i)` ``[I, d]``.
    """
    target_user: Tensor | None = None
    target_item: Tensor | None = None


@register('buir')
class BUIR(SelfCF):
    r"""The BUIR model from the `"Bootstrapping User and Item Representations for One-Class
    Collaborative Filtering" <https://arxiv.org/abs/2105.06323>`_ paper (SIGIR 2021), in its
    neighbour-based variant BUIR\ :sub:`nb` (a LightGCN encoder).

    Two encoders of the same architecture, an *online* one :math:`f_\theta` and a *target*
    one :math:`f_\xi`, map each user and item to a representation; a linear predictor
    :math:`q_\theta` on the online side (the :class:`~pyg_mmrec.nn.bootstrap.Bootstrap`
    predictor) is trained to predict the target representation of the other side of each
    observed interaction, without negative items:

    .. math::
        \mathcal{L} = \big\| \overline{q_\theta(f_\theta(u))} - \overline{f_\xi(i)}
        \big\|_2^2 + \big\| \overline{q_\theta(f_\theta(i))} - \overline{f_\xi(u)}
        \big\|_2^2 = 2\,C\big(q_\theta(f_\theta(u)), f_\xi(i)\big)
        + 2\,C\big(q_\theta(f_\theta(i)), f_\xi(u)\big),

    with :math:`\overline{\mathbf{x}}` the unit-normalised vector and :math:`C` the
    :func:`~pyg_mmrec.functional.cosine_loss`, averaged over the batch's observed pairs (its
    negatives are ignored). Only :math:`\theta` receives gradients; the target is a momentum
    moving average of the online encoder, updated once per optimisation step
    (:meth:`on_step_end`, which the trainer calls after each step):

    .. math::
        \xi \leftarrow \tau \xi + (1 - \tau) \theta, \qquad
        \hat y_{ui} = q_\theta(f_\theta(u))^\top f_\theta(i)
        + f_\theta(u)^\top q_\theta(f_\theta(i)).

    The encoders are LightGCN (:class:`~pyg_mmrec.nn.conv.LightGCNConv`, parameter-free) over
    an ID embedding table each, so :math:`\theta` and :math:`\xi` are those tables; the target
    table is a buffer (in the state dict and checkpoints, never in :meth:`parameters`), set to
    a copy of the online table by :meth:`reset_parameters`. As for :class:`SelfCF`,
    :meth:`forward` returns :math:`[q_\theta(f_\theta(u)) \,\|\, f_\theta(u)]` and
    :math:`[f_\theta(i) \,\|\, q_\theta(f_\theta(i))]`, whose inner product is the score.

    Stochastic augmentation (the paper's §3.3 for the neighbour-based encoder): in training,
    each encoder propagates, at every step, over its own view of the user-item graph in which
    every interaction is dropped with a ratio :math:`r \sim U(0, \rho)` drawn per view, the
    kept weights of :math:`\hat{\mathbf{A}}` rescaled by :math:`1/(1-r)` (not re-normalised),
    as in the authors' code; inference propagates over the full graph. Differences from the
    authors' code: an interaction is dropped with both its directions (they drop the entries
    of :math:`\hat{\mathbf{A}}` independently), which keeps the adjacency symmetric as
    :class:`~pyg_mmrec.nn.conv.LightGCNConv` requires; the embeddings are one
    Xavier-initialised table of users and items as :class:`LightGCN`'s, and the predictor is
    initialised as :class:`~pyg_mmrec.nn.bootstrap.Bootstrap`'s (Xavier-normal weight).
    Defaults are the paper's (:math:`\tau = 0.995`, three layers, :math:`\rho = 1`); the paper
    has no L2 term, so ``reg_weight`` is 0. The hidden layer :math:`\mathbf{H}` is the online
    layer-0 embeddings.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        embedding_dim (int): Embedding size :math:`d`; representations have size
            :math:`2d`. (default: :obj:`64`)
        num_layers (int): LightGCN layers. (default: :obj:`3`)
        momentum (float): Momentum :math:`\tau` of the target. (default: :obj:`0.995`)
        drop_ratio (float): Largest edge-dropout ratio :math:`\rho` of the augmentation
            (:obj:`0` disables it; the authors' code uses 0.2, and on tiktok 0.2 validates
            higher than 1). (default: :obj:`1.0`)
        reg_weight (float): L2 weight on the batch's layer-0 online embeddings.
            (default: :obj:`0.0`)
    """
    def __init__(self, num_users: int, num_items: int, embedding_dim: Dim = 64,
                 num_layers: Count0 = 3, momentum: Fraction = 0.995, drop_ratio: Fraction = 1.0,
                 reg_weight: Weight = 0.0):
        super().__init__(num_users, num_items, embedding_dim, num_layers, 0.0, reg_weight)
        self.momentum = momentum
        self.drop_ratio = drop_ratio
        self.register_buffer('target_embedding', torch.empty_like(self.embedding.weight))
        BUIR.reset_parameters(self)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.target_embedding.copy_(self.embedding.weight.detach())

    def on_step_end(self) -> None:
        r"""The momentum update :math:`\xi \leftarrow \tau \xi + (1 - \tau) \theta`."""
        self.target_embedding.mul_(self.momentum).add_(self.embedding.weight.detach(),
                                                       alpha=1 - self.momentum)

    def augmented_adjacency(self, data: HeteroData) -> Tensor:
        r"""One augmented view of :math:`\hat{\mathbf{A}}`: each interaction dropped with a
        ratio :math:`r \sim U(0, \rho)`, the kept weights scaled by :math:`1/(1-r)`."""
        edge_index = self.train_edge_index(data)
        n = self.num_users + self.num_items
        hom, weight = gcn_norm(user_item_edge_index(edge_index, self.num_users), None, n,
                               add_self_loops=False)
        ratio = float(torch.rand(())) * self.drop_ratio
        keep = (torch.rand(edge_index.size(1), device=edge_index.device) >= ratio).repeat(2)
        with quiet_sparse_csr():
            return to_torch_csr_tensor(hom[:, keep], weight[keep] / (1 - ratio), size=(n, n))

    def _propagate(self, data: HeteroData, embedding: Tensor) -> Tensor:
        augment = self.training and self.drop_ratio > 0
        adj = self.augmented_adjacency(data) if augment else self.adjacency(data)
        return self.conv(embedding, adj)

    def encode(self, data: HeteroData) -> BUIREncoded:
        ego = self.hidden(self.embedding.weight)
        online = self._propagate(data, ego)
        with torch.no_grad():
            target = self._propagate(data, self.target_embedding)
        target_user, target_item = self.split_nodes(target)
        out = BUIREncoded(*self.split_nodes(online), hidden=ego, target_user=target_user,
                          target_item=target_item)
        return self.with_predictions(out)

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        d = self.embedding_dim
        user_pred = out.user[user, :d]
        item_pred = out.item[pos, d:]
        rec = 2 * self.bootstrap.rec_loss(user_pred, item_pred, out.target_user[user],
                                          out.target_item[pos])
        l2 = self.reg_weight * MF.l2_reg(*self.ego_embeddings(user, pos, neg, out)[:2])
        return {'loss': rec + l2, 'rec': rec, 'l2': l2}
