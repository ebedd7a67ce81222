from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender
from pyg_mmrec.params import Dim, Weight
from pyg_mmrec.registry import register


@register('vbpr')
class VBPR(Recommender):
    r"""The VBPR model from the `"VBPR: Visual Bayesian Personalized Ranking from Implicit
    Feedback" <https://arxiv.org/abs/1510.01784>`_ paper, with every modality in place of the
    visual one (as MMRec does). An item is its ID embedding next to a linear projection of its
    features; a user has an ID part and a content-preference part:

    .. math::
        \mathbf{e}_i = \big[\boldsymbol{\gamma}_i \,\big\|\,
        \textstyle\sum_k \mathbf{M}^k_i \mathbf{W}_k\big], \qquad
        \mathbf{e}_u = \big[\boldsymbol{\gamma}_u \,\big\|\, \boldsymbol{\theta}_u\big], \qquad
        \hat y_{ui} = \mathbf{e}_u^\top \mathbf{e}_i,

    trained with BPR plus L2 on the batch's layer-0 representations, the items' content part
    included: :math:`\lambda\,(\|\mathbf{e}_u\|^2 + \|\mathbf{e}_i\|^2 + \|\mathbf{e}_j\|^2)
    / 2B`, as MMRec's VBPR regularises the whole item vector and as Eq. 29 of IBMRec
    (:math:`\Theta_1 = [\mathbf{P}, \mathbf{Q}, \mathbf{C},
    \mathbf{Z}]`) regularises the multimedia representations :math:`\mathbf{Z}` too. (Leaving
    the content part out lets it outgrow the ID part: on tiktok, whose raw features have row
    norms near 33, test Recall@20 then falls to half of BPR-MF's.) The hidden layer
    :math:`\mathbf{H}` is the fused projection :math:`\sum_k \mathbf{M}^k \mathbf{W}_k`
    (:class:`~pyg_mmrec.nn.ModalityEncoder`); the per-modality terms are the
    :math:`\mathbf{Z}^k`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (read from the data by
            :meth:`from_data`).
        embedding_dim (int): Size of the ID part and of the content part; representations
            have twice this size. (default: :obj:`64`)
        reg_weight (float): L2 weight. (default: :obj:`1e-4`)
    """
    requires_features = True
    scores_layer0 = True
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.MULTIMEDIA,
                              Capability.INDUCTIVE})

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: Dim = 64, reg_weight: Weight = 1e-4):
        super().__init__(num_users, num_items)
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight
        self.user_emb = torch.nn.Embedding(num_users, 2 * embedding_dim)
        self.item_emb = torch.nn.Embedding(num_items, embedding_dim)
        self.encoder = ModalityEncoder(feature_dims, embedding_dim)
        VBPR.reset_parameters(self)

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        self.encoder.reset_parameters()

    def encode(self, data: HeteroData) -> Encoded:
        return self.encode_projections(
            self.shared('reps', lambda: self.encoder(self.item_features(data))))

    def encode_features(self, features: dict[str, Tensor]) -> Encoded:
        r"""The states computed from the item features ``features`` (:math:`\mathbf{M}^k` by
        modality; :class:`~pyg_mmrec.nn.models.InvRL` passes masked ones, drawn anew in every
        forward pass, so they are not :meth:`shared`)."""
        return self.encode_projections(self.encoder(features))

    def encode_projections(self, reps: dict[str, Tensor]) -> Encoded:
        r"""The states computed from the modality projections :math:`\mathbf{Z}^k`."""
        h = self.hidden(ModalityEncoder.fuse(reps))
        item = torch.cat([self.item_emb.weight, h], dim=1)
        return Encoded(self.user_emb.weight, item, modality=reps, hidden=h,
                       id_channels=self.embedding_dim)

    def new_item_state(self, features: dict[str, Tensor]) -> Tensor:
        r"""The layer-0 state :math:`[\mathbf{0} \,\|\, \sum_k \mathbf{M}^k_i \mathbf{W}_k]` of
        items that training never saw: their projected features next to a zero ID part, the
        value towards which the L2 term pulls an ID embedding no BPR gradient reaches."""
        z = ModalityEncoder.fuse(self.encoder(features))
        return torch.cat([z.new_zeros(z.size(0), self.embedding_dim), z], dim=1)

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        r"""A new item is its :meth:`new_item_state`, scored by the users' content
        preferences :math:`\boldsymbol{\theta}_u` alone."""
        return self.new_item_state(features)

    def multimedia_parameters(self) -> list[torch.nn.Parameter]:
        r""":math:`\boldsymbol{\theta}_u` and the projections :math:`\mathbf{W}_k`: the
        users' table (only its multimedia half receives gradients through
        :attr:`Encoded.user_multimedia`) and the modality encoder."""
        return [self.user_emb.weight, *self.encoder.parameters()]

    def ego_embeddings(self, user: Tensor, pos: Tensor, neg: Tensor, out: Encoded
                       ) -> list[Tensor]:
        # The items' content part Z^0 (out.hidden, layer 0 in the subclasses too) is
        # regularised with their IDs, as [Q ‖ Z] is one layer-0 item vector.
        return [self.user_emb(user), self.item_emb(pos), self.item_emb(neg),
                out.hidden[pos], out.hidden[neg]]
