from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.conv import ItemItemConv
from pyg_mmrec.nn.latent_item_graph import LatentItemGraph
from pyg_mmrec.nn.models.recommender import Capability, Encoded
from pyg_mmrec.nn.models.vlightgcn import VLightGCN
from pyg_mmrec.params import Count, Count0, Dim, Fraction, Weight
from pyg_mmrec.registry import register


@register('vlattice')
class VLATTICE(VLightGCN):
    r"""LATTICE with VLightGCN's feature-enhanced node states: the graph-based multimodal
    representation of §4.1 of the `"Less is More: Information Bottleneck Denoised Multimedia
    Recommendation" <https://arxiv.org/abs/2501.12175>`_ paper (IBMRec, Yang et al.), the backbone
    that IBMRec denoises with both its feature- and graph-level IB.

    Users start from an ID embedding next to a free multimedia embedding, items from an ID
    embedding next to the projection of their features, and both are propagated over the
    user-item graph as in :class:`~pyg_mmrec.nn.models.VLightGCN` (Eqs. 5–7):

    .. math::
        \mathbf{X}^0 = [\mathbf{P}^0 \,\|\, \mathbf{C}^0], \quad
        \mathbf{Y}^0 = [\mathbf{Q}^0 \,\|\, \mathbf{Z}^0], \quad
        \begin{bmatrix}\mathbf{X} \\ \mathbf{Y}\end{bmatrix} = \frac{1}{L+1} \sum_{l=0}^{L}
        \hat{\mathbf{A}}^l \begin{bmatrix}\mathbf{X}^0 \\ \mathbf{Y}^0\end{bmatrix}.

    The layer-0 item states are also propagated :math:`L'` times over LATTICE's latent
    item-item graph :math:`\mathbf{S}` (:class:`~pyg_mmrec.nn.latent_item_graph.LatentItemGraph`,
    learned from the per-modality projections :math:`\mathbf{Z}^m` and mixed with the frozen
    graphs of the raw features; Eqs. 8–11), and added row-normalised (Eq. 12, as in LATTICE):

    .. math::
        \mathbf{Y}' = \big(\mathbf{D}_S^{-1/2} \mathbf{S} \mathbf{D}_S^{-1/2}\big)^{L'}
        \mathbf{Y}^0, \qquad
        \mathbf{y}_i \leftarrow \mathbf{y}_i + \frac{\mathbf{y}'_i}{\|\mathbf{y}'_i\|}, \qquad
        \hat y_{ui} = \mathbf{x}_u^\top \mathbf{y}_i .

    The item graph's weights pass through :meth:`~Recommender.item_graph_weight`
    (collaborative states :math:`\mathbf{Q}^0`, multimedia states :math:`\mathbf{Z}^0`), so that
    IBMRec's GIB can mask it. As in VLightGCN, the hidden layer :math:`\mathbf{H}` is the fused
    projection :math:`\mathbf{Z}^0` (it feeds both propagations), the per-modality projections
    are the :math:`\mathbf{Z}^m`, and :attr:`Encoded.item_graph` is the graph propagated over.
    The paper leaves :math:`L'`, :math:`k` and :math:`\lambda` to LATTICE's defaults, which are
    used here.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (from the data).
        graph_modalities (list): Modalities with a precomputed item graph (from the data).
        embedding_dim (int): Size of the ID part and of the multimedia part.
            (default: :obj:`64`)
        num_layers (int): User-item propagation layers :math:`L`. (default: :obj:`2`)
        item_layers (int): Item-item propagation layers :math:`L'`. (default: :obj:`1`)
        knn_k (int): Neighbours per item in the kNN graphs. (default: :obj:`10`)
        lambda_coeff (float): Weight :math:`\lambda` of the frozen graphs. (default: :obj:`0.9`)
        reg_weight (float): L2 weight on the batch's layer-0 states, :math:`\mathbf{Z}^0`
            included (see :class:`~pyg_mmrec.nn.models.VBPR`). (default: :obj:`1e-4`)
    """
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.MULTIMEDIA,
                              Capability.ITEM_GRAPH, Capability.INDUCTIVE})
    frozen_item_graphs = True

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 graph_modalities: list[str], embedding_dim: Dim = 64, num_layers: Count0 = 2,
                 item_layers: Count0 = 1, knn_k: Count = 10, lambda_coeff: Fraction = 0.9,
                 reg_weight: Weight = 1e-4):
        super().__init__(num_users, num_items, feature_dims, embedding_dim, num_layers,
                         reg_weight)
        self.item_layers = item_layers
        self.knn_k = knn_k
        self.lambda_coeff = lambda_coeff
        self.latent_graph = LatentItemGraph(sorted(set(feature_dims) | set(graph_modalities)),
                                            knn_k, lambda_coeff)
        self.item_conv = ItemItemConv(item_layers, normalize=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self.latent_graph.reset_parameters()

    def on_epoch_start(self, epoch: int) -> None:
        self.latent_graph.new_epoch()

    def encode(self, data: HeteroData) -> Encoded:
        out = super().encode(data)  # X, Y over the user-item graph; Z^m; H = Z^0
        ids = self.item_emb.weight
        edge_index, edge_weight = self.latent_graph(data, out.modality)
        edge_weight = self.item_graph_weight(edge_index, edge_weight, ids, out.hidden)
        h = self.item_conv(torch.cat([ids, out.hidden], dim=1), edge_index, edge_weight)
        return dataclasses.replace(out, item=out.item + F.normalize(h, dim=1),
                                   item_graph=(edge_index, edge_weight))

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        r"""A new item is VLightGCN's (its layer-0 state :math:`[\mathbf{0} \,\|\,
        \mathbf{Z}^0_i]` over :math:`L+1`) plus the row-normalised item-item part, with the
        item joined to the graph :math:`\mathbf{S}` by edges from its content neighbours
        (:meth:`~Recommender.new_item_graph`; :meth:`ItemItemConv.new_nodes
        <pyg_mmrec.nn.conv.ItemItemConv.new_nodes>`)."""
        state = self.new_item_state(features)
        x = torch.cat([self.item_emb.weight, out.hidden], dim=1)
        h = self.item_conv.new_nodes(x, *out.item_graph, self.new_item_graph(data, features),
                                     state)
        return state / (self.num_layers + 1) + F.normalize(h, dim=1)
