from __future__ import annotations

import dataclasses

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.conv import LightGCNConv
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.nn.models.vbpr import VBPR
from pyg_mmrec.params import Count0, Dim, Weight
from pyg_mmrec.registry import register


@register('vlightgcn')
class VLightGCN(VBPR):
    r"""LightGCN with multimedia-enhanced node states, as defined in §4.1.1 of the
    `"Less is More: Information Bottleneck Denoised Multimedia Recommendation"
    <https://arxiv.org/abs/2501.12175>`_ paper (IBMRec, Yang et al.): users start from an ID
    embedding next to a free multimedia embedding, items from an ID embedding next to the
    projection of their features, and both are propagated over the user-item graph:

    .. math::
        \mathbf{X}^0 = [\mathbf{P}^0 \,\|\, \mathbf{C}^0], \qquad
        \mathbf{Y}^0 = [\mathbf{Q}^0 \,\|\, \mathbf{Z}^0], \qquad
        \mathbf{Z}^0 = \textstyle\sum_k \mathbf{M}^k \mathbf{W}_k,

    .. math::
        \begin{bmatrix}\mathbf{X} \\ \mathbf{Y}\end{bmatrix} = \frac{1}{L+1} \sum_{l=0}^{L}
        \hat{\mathbf{A}}^l \begin{bmatrix}\mathbf{X}^0 \\ \mathbf{Y}^0\end{bmatrix}, \qquad
        \hat y_{ui} = \mathbf{x}_u^\top \mathbf{y}_i .

    The layer-0 states are exactly :class:`~pyg_mmrec.nn.models.VBPR`'s representations
    (VLightGCN extends it with the propagation). The hidden layer :math:`\mathbf{H}` is the
    fused projection :math:`\mathbf{Z}^0`; the per-modality projections are the
    :math:`\mathbf{Z}^k`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (read from the data by
            :meth:`from_data`).
        embedding_dim (int): Size of the ID part and of the multimedia part.
            (default: :obj:`64`)
        num_layers (int): Number of propagation layers :math:`L`. (default: :obj:`2`)
        reg_weight (float): L2 weight on the batch's layer-0 states, :math:`\mathbf{Z}^0`
            included (see :class:`~pyg_mmrec.nn.models.VBPR`). (default: :obj:`1e-4`)
    """
    scores_layer0 = False  # the scores read the propagated states

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: Dim = 64, num_layers: Count0 = 2, reg_weight: Weight = 1e-4):
        super().__init__(num_users, num_items, feature_dims, embedding_dim, reg_weight)
        self.num_layers = num_layers
        self.conv = LightGCNConv(num_layers, normalize=False)

    def encode(self, data: HeteroData) -> Encoded:
        return self.shared('propagated', lambda: self._propagate(data), reads_hidden=True)

    def _propagate(self, data: HeteroData) -> Encoded:
        ego = super().encode(data)  # VBPR's [P ‖ C] and [Q ‖ Z] are the layer-0 states
        out = self.conv(torch.cat([ego.user, ego.item]), self.adjacency(data))
        user, item = self.split_nodes(out)
        return dataclasses.replace(ego, user=user, item=item)

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        r"""A new item is a node without interactions: its layers :math:`1..L` are zero, so
        its representation is its layer-0 state :math:`[\mathbf{0} \,\|\, \mathbf{Z}^0_i]`
        (:meth:`~VBPR.new_item_state`) divided by :math:`L+1`."""
        return self.new_item_state(features) / (self.num_layers + 1)
