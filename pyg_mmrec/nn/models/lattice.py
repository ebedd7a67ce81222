from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import DataError
from pyg_mmrec.nn.conv import ItemItemConv
from pyg_mmrec.nn.latent_item_graph import LatentItemGraph
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Capability, Encoded
from pyg_mmrec.params import Count, Count0, Dim, Fraction, Weight
from pyg_mmrec.registry import register


@register('lattice')
class LATTICE(LightGCN):
    r"""The LATTICE model from the `"Mining Latent Structures for Multimedia Recommendation"
    <https://arxiv.org/abs/2104.09036>`_ paper: LightGCN on the user-item graph, plus item
    representations propagated over a learned, fused item-item graph.

    For each modality :math:`m`, a kNN graph :math:`\hat{\mathbf{S}}^m` is learned from the
    projected features :math:`\mathbf{Z}^m = \mathbf{M}^m \mathbf{W}_m` (cosine top-:math:`k`,
    symmetric-normalised) and mixed with the frozen graph :math:`\tilde{\mathbf{S}}^m` of the
    raw features; the modalities are fused with learnable softmax weights:

    .. math::
        \mathbf{S} = \sum_m \mathrm{softmax}(\mathbf{w})_m \big[(1-\lambda)
        \hat{\mathbf{S}}^m + \lambda \tilde{\mathbf{S}}^m\big], \qquad
        \mathbf{H} = \mathbf{S}^{L'} \mathbf{E}_\text{item}, \qquad
        \mathbf{e}_i = \mathbf{e}^\text{LightGCN}_i + \frac{\mathbf{h}_i}{\|\mathbf{h}_i\|}.

    The graph is :class:`~pyg_mmrec.nn.latent_item_graph.LatentItemGraph` (a modality known
    only by a precomputed graph uses it frozen; the learned graphs are rebuilt once per epoch,
    in :math:`O(N k)` memory). Its weights pass through
    :meth:`~Recommender.item_graph_weight` (collaborative states: the item ID embeddings;
    multimedia states: :math:`\sum_m \mathbf{Z}^m`), so that a plug-in can refine it.
    :attr:`Encoded.hidden` is :math:`\mathbf{H}`, :attr:`Encoded.modality` the
    :math:`\mathbf{Z}^m`, and :attr:`Encoded.item_graph` the graph propagated over.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (from the data).
        graph_modalities (list): Modalities with a precomputed item graph (from the data).
        embedding_dim (int): Embedding size. (default: :obj:`64`)
        num_layers (int): LightGCN layers. (default: :obj:`2`)
        item_layers (int): Item-item propagation layers :math:`L'`. (default: :obj:`1`)
        knn_k (int): Neighbours per item in the kNN graphs. (default: :obj:`10`)
        lambda_coeff (float): Weight :math:`\lambda` of the frozen graphs. (default: :obj:`0.9`)
        reg_weight (float): L2 weight. (default: :obj:`1e-4`)
    """
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.ITEM_GRAPH,
                              Capability.INDUCTIVE})
    frozen_item_graphs = True

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 graph_modalities: list[str], embedding_dim: Dim = 64, num_layers: Count0 = 2,
                 item_layers: Count0 = 1, knn_k: Count = 10, lambda_coeff: Fraction = 0.9,
                 reg_weight: Weight = 1e-4):
        graph_names = sorted(set(feature_dims) | set(graph_modalities))
        if not graph_names:
            raise DataError("LATTICE needs item feature matrices or precomputed item-item "
                            "graphs; the dataset has neither")
        super().__init__(num_users, num_items, embedding_dim, num_layers, reg_weight)
        self.item_layers = item_layers
        self.knn_k = knn_k
        self.lambda_coeff = lambda_coeff
        self.encoder = ModalityEncoder(feature_dims, embedding_dim) if feature_dims else None
        self.latent_graph = LatentItemGraph(graph_names, knn_k, lambda_coeff)
        self.item_conv = ItemItemConv(item_layers, normalize=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.encoder is not None:
            self.encoder.reset_parameters()
        self.latent_graph.reset_parameters()

    def on_epoch_start(self, epoch: int) -> None:
        self.latent_graph.new_epoch()

    def encode(self, data: HeteroData) -> Encoded:
        reps = self.shared('reps', lambda: self.encoder(self.item_features(data))
                           if self.encoder is not None else {})
        # Not shared: the pass that rebuilds the latent graph (the first of an epoch)
        # differentiates through it, later passes get it detached.
        edge_index, edge_weight = self.latent_graph(data, reps)
        ids = self.embedding.weight[self.num_users:]
        edge_weight = self.item_graph_weight(edge_index, edge_weight, ids,
                                             ModalityEncoder.fuse(reps) if reps else None)
        h = self.hidden(self.item_conv(ids, edge_index, edge_weight))
        # The user-item path never reads H.
        out = self.shared('conv', lambda: self.conv(self.embedding.weight, self.adjacency(data)))
        user, item = self.split_nodes(out)
        return Encoded(user, item + F.normalize(h, dim=1), modality=reps, hidden=h,
                       item_graph=(edge_index, edge_weight))

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        r"""A new item has no ID embedding (zero) and no interaction, so its LightGCN part
        is zero; its item-item part joins it to the graph :math:`\mathbf{S}` by edges from
        its content neighbours among the training items (:meth:`~Recommender.new_item_graph`,
        :meth:`ItemItemConv.new_nodes <pyg_mmrec.nn.conv.ItemItemConv.new_nodes>`), then is
        row-normalised as every item's is."""
        ids = self.embedding.weight[self.num_users:]
        h = self.item_conv.new_nodes(ids, *out.item_graph, self.new_item_graph(data, features),
                                     ids.new_zeros(next(iter(features.values())).size(0),
                                                   ids.size(1)))
        return F.normalize(h, dim=1)
