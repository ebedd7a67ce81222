from __future__ import annotations

import dataclasses

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.nn.bootstrap import Bootstrap
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Capability, Encoded
from pyg_mmrec.params import Count0, Dim, Rate, Weight
from pyg_mmrec.registry import register


@dataclasses.dataclass
class BM3Encoded(Encoded):
    r"""A forward pass of :class:`BM3` (or of a variant of it): :attr:`user` and
    :attr:`item` are the online views :math:`\tilde{\mathbf{z}}` (the predictor's outputs,
    whose inner product is the score), :attr:`modality` the modality representations the
    alignment and masking losses act on, and the two extra fields the representations before
    the predictor, from which the target views are drawn.

    Args:
        online_user (Tensor): User representations :math:`\mathbf{z}_u` ``[U, d]``.
        online_item (Tensor): Item representations :math:`\mathbf{z}_i` ``[I, d]``.
    """
    online_user: Tensor | None = None
    online_item: Tensor | None = None


@register('bm3')
class BM3(LightGCN):
    r"""The BM3 model from the `"Bootstrap Latent Representations for Multi-modal
    Recommendation" <https://arxiv.org/abs/2207.05969>`_ paper (WWW 2023).

    ID embeddings are propagated by LightGCN, with a residual on the items; each modality's
    features are projected linearly (:class:`~pyg_mmrec.nn.ModalityEncoder`):

    .. math::
        \begin{bmatrix}\mathbf{Z}_u \\ \mathbf{Z}_i\end{bmatrix} = \frac{1}{L+1}
        \sum_{l=0}^{L} \hat{\mathbf{A}}^l \begin{bmatrix}\mathbf{E}_u \\
        \mathbf{E}_i\end{bmatrix} + \begin{bmatrix}\mathbf{0} \\ \mathbf{E}_i\end{bmatrix},
        \qquad \mathbf{Z}^m = \mathbf{M}^m \mathbf{W}_m + \mathbf{b}_m .

    The shared :class:`~pyg_mmrec.nn.bootstrap.Bootstrap` mechanism (a linear predictor for
    the online views :math:`\tilde{\mathbf{z}}`, dropout on the stopped gradient for the
    target views :math:`\hat{\mathbf{z}}`) gives a loss without negative items (the batch's
    negatives are ignored):

    .. math::
        \mathcal{L} = \underbrace{C(\tilde{\mathbf{z}}_u, \hat{\mathbf{z}}_i)
        + C(\tilde{\mathbf{z}}_i, \hat{\mathbf{z}}_u)}_{\mathcal{L}_\text{rec}}
        + \lambda_c \sum_m \Big[\underbrace{C(\tilde{\mathbf{z}}^m_i,
        \hat{\mathbf{z}}_i)}_{\mathcal{L}_\text{align}} + \underbrace{C(\tilde{\mathbf{z}}^m_i,
        \hat{\mathbf{z}}^m_i)}_{\mathcal{L}_\text{mask}}\Big]
        + \lambda_r \frac{\|\mathbf{Z}_u\|_F + \|\mathbf{Z}_i\|_F}{I},
        \qquad \hat y_{ui} = \tilde{\mathbf{z}}_u^\top \tilde{\mathbf{z}}_i,

    with :math:`C` the :func:`~pyg_mmrec.functional.cosine_loss` over the batch's observed
    pairs :math:`(u, i)`, the alignment (inter-modality) term pulling each modality's online
    view towards the item's ID target view, the masking (intra-modality) term towards the
    modality's own dropout view, and the regulariser
    (:func:`~pyg_mmrec.functional.norm_reg`) on the full online representations, all as in the
    authors' code. :attr:`Encoded.modality` holds the :math:`\mathbf{Z}^m`. BM3 fuses no
    modalities, so, as in appendix D of the DVIB paper, its hidden layer :math:`\mathbf{H}` is
    each :math:`\mathbf{Z}^m` separately: each passes through :meth:`hidden` on its own, and
    :attr:`Encoded.hidden` is their concatenation ``[I, M·d]``; perturbing it changes the
    alignment and masking terms, not the scores.

    Defaults are the authors' (their configuration and best Baby setting: one layer, dropout
    0.5, :math:`\lambda_r = 0.1`, :math:`\lambda_c = 2`). Differences from their code: the
    raw features are data here, not trainable tables; the ID embeddings, like
    :class:`LightGCN`'s, are one Xavier-initialised table of users and items, and the
    projections are initialised as :class:`~pyg_mmrec.nn.ModalityEncoder` does; the predictor
    is applied to the batch's rows only (same values); each target view draws its own dropout
    mask per row of the batch rather than per row of the full matrix.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (read from the data by
            :meth:`from_data`).
        embedding_dim (int): Size :math:`d` of every representation. (default: :obj:`64`)
        num_layers (int): LightGCN layers :math:`L`. (default: :obj:`1`)
        dropout (float): Dropout ratio of the target views. (default: :obj:`0.5`)
        reg_weight (float): Weight :math:`\lambda_r` of the norm regulariser.
            (default: :obj:`0.1`)
        cl_weight (float): Weight :math:`\lambda_c` of the alignment and masking terms.
            (default: :obj:`2.0`)
    """
    requires_features = True
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.INDUCTIVE})

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: Dim = 64, num_layers: Count0 = 1, dropout: Rate = 0.5,
                 reg_weight: Weight = 0.1, cl_weight: Weight = 2.0):
        super().__init__(num_users, num_items, embedding_dim, num_layers, reg_weight)
        self.dropout = dropout
        self.cl_weight = cl_weight
        self.encoder = ModalityEncoder(feature_dims, embedding_dim)
        self.bootstrap = Bootstrap(embedding_dim, dropout)
        BM3.reset_parameters(self)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.encoder.reset_parameters()
        self.bootstrap.reset_parameters()

    def modality_reps(self, data: HeteroData) -> dict[str, Tensor]:
        r"""The modality projections :math:`\mathbf{Z}^m`, each passed through the hidden-layer
        hook on its own."""
        reps = self.shared('reps', lambda: self.encoder(self.item_features(data)))
        return {m: self.hidden(z) for m, z in reps.items()}

    def propagate(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        r"""LightGCN over ``data``'s training graph from the ID embeddings, plus the item
        residual; returns :math:`\mathbf{Z}_u` ``[U, d]`` and :math:`\mathbf{Z}_i` ``[I, d]``."""
        user, item = self.split_nodes(self.conv(self.embedding.weight, self.adjacency(data)))
        return user, item + self.embedding.weight[self.num_users:]

    def encode(self, data: HeteroData) -> BM3Encoded:
        reps = self.modality_reps(data)
        # The ID path never reads H: computed once per step when the passes are shared.
        user, item, pred_user, pred_item = self.shared('ids', lambda: self._id_path(data))
        return BM3Encoded(pred_user, pred_item, modality=reps,
                          hidden=torch.cat(list(reps.values()), dim=1), online_user=user,
                          online_item=item)

    def _id_path(self, data: HeteroData) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The online states of users and items and their predictor outputs."""
        user, item = self.propagate(data)
        return user, item, self.bootstrap(user), self.bootstrap(item)

    def loss_terms(self, out: BM3Encoded, user: Tensor, pos: Tensor) -> dict[str, Tensor]:
        r"""The unweighted :math:`\mathcal{L}_\text{rec}`, :math:`\mathcal{L}_\text{align}` and
        :math:`\mathcal{L}_\text{mask}` (summed over :attr:`Encoded.modality`) of the observed
        pairs ``(user, pos)``."""
        user_target = self.bootstrap.target(out.online_user[user])
        item_target = self.bootstrap.target(out.online_item[pos])
        rec = self.bootstrap.rec_loss(out.user[user], out.item[pos], user_target, item_target)
        align = mask = rec.new_zeros(())
        for z in out.modality.values():
            z = z[pos]
            pred = self.bootstrap(z)
            align = align + MF.cosine_loss(pred, item_target)
            mask = mask + MF.cosine_loss(pred, self.bootstrap.target(z))
        return {'rec': rec, 'align': align, 'mask': mask}

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        terms = self.loss_terms(out, user, pos)
        align, mask = self.cl_weight * terms['align'], self.cl_weight * terms['mask']
        reg = self.reg_weight * MF.norm_reg(out.online_user, out.online_item)
        return {'loss': terms['rec'] + align + mask + reg, 'rec': terms['rec'],
                'align': align, 'mask': mask, 'reg': reg}
