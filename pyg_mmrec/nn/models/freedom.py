from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import to_torch_csr_tensor

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import DataError
from pyg_mmrec.graph import fuse_item_graphs, item_graph_of
from pyg_mmrec.nn.conv import ItemItemConv
from pyg_mmrec.nn.edge_pruning import DegreeSensitivePruning
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Capability, Encoded
from pyg_mmrec.params import Count, Count0, Dim, Fraction, Rate, Weight
from pyg_mmrec.registry import register
from pyg_mmrec.utils import quiet_sparse_csr


@register('freedom')
class FREEDOM(LightGCN):
    r"""The FREEDOM model from the `"A Tale of Two Graphs: Freezing and Denoising Graph
    Structures for Multimodal Recommendation" <https://arxiv.org/abs/2211.06924>`_ paper (Zhou
    and Shen, ACM MM 2023): LATTICE's item-item graph *frozen* before training, and LightGCN on
    a *denoised* (degree-sensitively pruned) user-item graph.

    The item-item graph is the fixed-weight fusion of one symmetric-normalised kNN graph
    :math:`\mathbf{S}^m` per modality, computed into the data from the raw features by
    :meth:`from_data` (:func:`~pyg_mmrec.graph.modality_graph`) or taken from the
    dataset's own ``('item', 'knn_<m>', 'item')`` graph when it has one. Item ID embeddings are
    propagated over it by :class:`~pyg_mmrec.nn.conv.ItemItemConv`, and added to the LightGCN
    item representations:

    .. math::
        \mathbf{S} = \sum_m w_m \mathbf{S}^m, \qquad
        \mathbf{H} = \mathbf{S}^{L'} \mathbf{E}_\text{item}, \qquad
        \mathbf{e}_u = \mathbf{e}^\text{LightGCN}_u, \qquad
        \mathbf{e}_i = \mathbf{e}^\text{LightGCN}_i + \mathbf{h}_i .

    As in the authors' code, :math:`w_\text{image}` is ``mm_image_weight`` and the other
    modalities share :math:`1 - w_\text{image}` equally (image + text gives 0.1 / 0.9); without
    an image modality all weigh the same. In training, LightGCN propagates over the normalised
    adjacency of a degree-sensitive sample of the interactions
    (:class:`~pyg_mmrec.nn.edge_pruning.DegreeSensitivePruning`, a fraction ``dropout`` of the
    edges dropped, drawn anew every epoch); evaluation uses the full graph.

    The objective is BPR, plus the BPR loss of the user representations against each
    modality's projected features :math:`\mathbf{Z}^m = \mathbf{M}^m \mathbf{W}_m +
    \mathbf{b}_m` (:class:`~pyg_mmrec.nn.ModalityEncoder`), plus L2 on the batch's ID
    embeddings:

    .. math::
        \mathcal{L} = \mathcal{L}_\text{BPR}(\mathbf{e}_u, \mathbf{e}_i, \mathbf{e}_j)
        + \lambda_m \sum_m \mathcal{L}_\text{BPR}(\mathbf{e}_u, \mathbf{z}^m_i, \mathbf{z}^m_j)
        + \lambda\, \mathcal{L}_\text{L2} .

    The projections enter only this loss, never the representations. On graph-only data (e.g.
    amazon-baby, whose modalities are given as kNN graphs without feature matrices) there is
    nothing to project: the :math:`\lambda_m` term is absent and :attr:`Encoded.modality` is
    empty. :attr:`Encoded.hidden` (DVIB's :math:`\mathbf{H}`, appendix D: the embeddings fused
    by the multimodal graph) is the item-item representation :math:`\mathbf{H}`;
    :attr:`Encoded.item_graph` is :math:`\mathbf{S}`, whose weights pass through
    :meth:`~Recommender.item_graph_weight` (collaborative states: the item ID embeddings;
    multimedia states: the fused projections, :obj:`None` on graph-only data), so that a
    plug-in can mask it (IBMRec's GIB). Memory is :math:`O(Nk)` for the graphs:
    the kNN search is chunked and no dense :math:`N \times N` matrix is built.

    Differences from the authors' code, where the paper is silent: the raw features stay fixed
    (the code fine-tunes them as embedding tables, which adds no information to a loss-only
    term and would let the features drift from the frozen graph built from them); the kNN
    graphs are symmetrised and exclude self-matches (the library's shared
    :func:`~pyg_mmrec.graph.modality_graph`; the code keeps each item's
    top-:math:`k` including itself, unsymmetrised). MMRec's ``reg_weight`` for FREEDOM is
    :math:`\lambda_m` here (``mm_loss_weight``), tuned there over
    :math:`\{0, 10^{-5}, 10^{-4}, 10^{-3}\}` with ``dropout`` in :math:`\{0.8, 0.9\}`; the code
    has no L2 term, hence ``reg_weight`` (:math:`\lambda`) defaults to :obj:`0`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (from the data).
        graph_modalities (list): Modalities with a precomputed item graph (from the data).
        embedding_dim (int): Size of the ID embeddings and feature projections.
            (default: :obj:`64`)
        num_layers (int): LightGCN layers on the user-item graph. (default: :obj:`2`)
        item_layers (int): Item-item propagation layers :math:`L'`. (default: :obj:`1`)
        knn_k (int): Neighbours per item in kNN graphs built from features (a dataset's own
            graphs are used as given). (default: :obj:`10`)
        mm_image_weight (float): Weight of the image graph in the fusion, in :math:`[0, 1]`.
            (default: :obj:`0.1`)
        dropout (float): Fraction of training interactions pruned every epoch, in
            :math:`[0, 1)`. (default: :obj:`0.8`)
        mm_loss_weight (float): Weight :math:`\lambda_m` of the feature BPR terms.
            (default: :obj:`1e-4`)
        reg_weight (float): L2 weight :math:`\lambda`. (default: :obj:`0.0`)
    """
    capabilities = frozenset({Capability.HIDDEN, Capability.MODALITY, Capability.ITEM_GRAPH,
                              Capability.INDUCTIVE})
    frozen_item_graphs = True

    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 graph_modalities: list[str], embedding_dim: Dim = 64, num_layers: Count0 = 2,
                 item_layers: Count0 = 1, knn_k: Count = 10, mm_image_weight: Fraction = 0.1,
                 dropout: Rate = 0.8, mm_loss_weight: Weight = 1e-4, reg_weight: Weight = 0.0):
        self.graph_names = sorted(set(feature_dims) | set(graph_modalities))
        if not self.graph_names:
            raise DataError("FREEDOM needs item feature matrices or precomputed item-item "
                            "graphs; the dataset has neither")
        super().__init__(num_users, num_items, embedding_dim, num_layers, reg_weight)
        self.item_layers = item_layers
        self.knn_k = knn_k
        self.mm_image_weight = mm_image_weight
        self.dropout = dropout
        self.mm_loss_weight = mm_loss_weight
        self.encoder = ModalityEncoder(feature_dims, embedding_dim) if feature_dims else None
        self.item_conv = ItemItemConv(item_layers, normalize=False)
        self.pruning = DegreeSensitivePruning(num_users, num_items, dropout)
        self._graph: tuple[Tensor, Tensor] | None = None
        self._graph_adj: Tensor | None = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.encoder is not None:
            self.encoder.reset_parameters()

    def on_epoch_start(self, epoch: int) -> None:
        self.pruning.resample()

    def modality_weights(self) -> Tensor:
        """The fixed fusion weights :math:`w_m`, in the order of :attr:`graph_names`."""
        names = self.graph_names
        if 'image' not in names or len(names) == 1:
            return torch.full((len(names),), 1.0 / len(names))
        rest = (1.0 - self.mm_image_weight) / (len(names) - 1)
        return torch.tensor([self.mm_image_weight if m == 'image' else rest for m in names])

    def frozen_graph(self, data: HeteroData, m: str) -> tuple[Tensor, Tensor]:
        """The graph :math:`\\mathbf{S}^m` in ``data``: the dataset's own, or the kNN graph of
        the raw features that :meth:`from_data` computed into it (see
        :func:`~pyg_mmrec.graph.item_graph_of`)."""
        return item_graph_of(data, m, self.knn_k)

    def item_graph(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """The frozen fused graph :math:`\\mathbf{S}`, built on first use."""
        if self._graph is None:
            graphs = [self.frozen_graph(data, m) for m in self.graph_names]
            edge_index, edge_weight = fuse_item_graphs(graphs, self.modality_weights(),
                                                       self.num_items)
            self._graph = edge_index, edge_weight
            # Propagation runs on a sparse copy (target rows): one sparse-dense product per
            # layer is several times faster than gathering and scattering every edge.
            with quiet_sparse_csr():
                self._graph_adj = to_torch_csr_tensor(edge_index.flip(0), edge_weight,
                                                      size=(self.num_items, self.num_items))
        return self._graph

    def encode(self, data: HeteroData) -> Encoded:
        reps, graph, h = self._item_path(data)
        h = self.hidden(h)
        # The user-item path never reads H, and the pruned graph is drawn once per epoch.
        out = self.shared('conv', lambda: self.conv(
            self.embedding.weight, self.pruning(self.train_edge_index(data)) if self.training
            else self.adjacency(data)))
        user, item = self.split_nodes(out)
        return Encoded(user, item + h, modality=reps, hidden=h, item_graph=graph)

    def _item_path(self, data: HeteroData) -> tuple[dict[str, Tensor], tuple[Tensor, Tensor],
                                                    Tensor]:
        """The modality projections, the item-item graph with its (hooked) weights and the
        item-item convolution of the ID embeddings (the hidden layer before its hook). Shared
        by the passes of :meth:`share_passes` where no hook changes the graph's weights."""
        reps = self.shared('reps', lambda: self.encoder(self.item_features(data))
                           if self.encoder is not None else {})
        graph = self.item_graph(data)
        ids = self.embedding.weight[self.num_users:]
        weight = self.item_graph_weight(*graph, ids, ModalityEncoder.fuse(reps) if reps else None)
        if weight is graph[1]:  # no hook: the cached sparse copy of the frozen graph
            return reps, graph, self.shared('item_conv',
                                            lambda: self.item_conv(ids, self._graph_adj))
        graph = graph[0], weight
        return reps, graph, self.item_conv(ids, *graph)

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        r"""A new item has no ID embedding (zero) and no interaction, so its LightGCN part
        is zero; its item-item part :math:`\mathbf{h}_i` joins it to the frozen graph
        :math:`\mathbf{S}` by edges from its content neighbours among the training items
        (:meth:`~Recommender.new_item_graph`, :meth:`ItemItemConv.new_nodes
        <pyg_mmrec.nn.conv.ItemItemConv.new_nodes>`)."""
        ids = self.embedding.weight[self.num_users:]
        return self.item_conv.new_nodes(ids, *out.item_graph,
                                        self.new_item_graph(data, features),
                                        ids.new_zeros(next(iter(features.values())).size(0),
                                                      ids.size(1)))

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        losses = super().batch_loss(out, user, pos, neg)
        u = out.user[user]
        for m, z in out.modality.items():
            term = self.mm_loss_weight * MF.bpr_loss((u * z[pos]).sum(-1), (u * z[neg]).sum(-1))
            losses[f'bpr_{m}'] = term
            losses['loss'] = losses['loss'] + term
        return losses
