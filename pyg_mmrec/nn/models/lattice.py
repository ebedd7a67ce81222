from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from pyg_mmrec.data.splits import graph_type
from pyg_mmrec.errors import DataError
from pyg_mmrec.nn.conv import ItemItemConv, fuse_item_graphs
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models.lightgcn import LightGCN
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.transforms.modality_knn_graph import knn_graph_from_features, modality_graph


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

    A modality known only by a precomputed graph (``('item', 'knn_<m>', 'item')``, e.g.
    amazon-baby's) uses that graph frozen. As in the authors' code, the learned graphs are
    rebuilt once per epoch (the first batch backpropagates through them, later batches use them
    detached); they are built from the top-:math:`k` indices with the similarities recomputed
    for those edges only, so memory is :math:`O(N k)`, never :math:`O(N^2)`.
    :attr:`Encoded.hidden` is :math:`\mathbf{H}`, :attr:`Encoded.modality` the
    :math:`\mathbf{Z}^m`, and :attr:`Encoded.item_graph` the fused graph.

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
    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 graph_modalities: list[str], embedding_dim: int = 64, num_layers: int = 2,
                 item_layers: int = 1, knn_k: int = 10, lambda_coeff: float = 0.9,
                 reg_weight: float = 1e-4):
        self.graph_names = sorted(set(feature_dims) | set(graph_modalities))
        if not self.graph_names:
            raise DataError("LATTICE needs item feature matrices or precomputed item-item "
                            "graphs; the dataset has neither")
        super().__init__(num_users, num_items, embedding_dim, num_layers, reg_weight)
        self.item_layers = item_layers
        self.knn_k = knn_k
        self.lambda_coeff = lambda_coeff
        self.encoder = ModalityEncoder(feature_dims, embedding_dim) if feature_dims else None
        self.modal_weight = torch.nn.Parameter(torch.zeros(len(self.graph_names)))
        self.item_conv = ItemItemConv(item_layers, normalize=False)
        self._frozen: dict[str, tuple[Tensor, Tensor]] = {}
        self._graph: tuple[Tensor, Tensor] | None = None
        self._rebuild = True
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if hasattr(self, 'modal_weight'):  # LightGCN.__init__ calls this before they exist
            if self.encoder is not None:
                self.encoder.reset_parameters()
            torch.nn.init.zeros_(self.modal_weight)
            self._graph = None

    def on_epoch_start(self, epoch: int) -> None:
        self._rebuild = True

    def frozen_graph(self, data: HeteroData, m: str) -> tuple[Tensor, Tensor]:
        """The frozen graph :math:`\\tilde{\\mathbf{S}}^m`: the dataset's own, or the kNN graph of
        the raw features (built once)."""
        if graph_type(m) in data.edge_types:
            store = data[graph_type(m)]
            return store.edge_index, store.edge_weight
        if m not in self._frozen:
            self._frozen[m] = modality_graph(self.item_features(data)[m], self.knn_k)
        return self._frozen[m]

    def learned_graph(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`\\hat{\\mathbf{S}}^m`: top-k cosine graph of ``z``, differentiable in ``z``."""
        edge_index, _ = knn_graph_from_features(z.detach(), self.knn_k)
        zn = F.normalize(z, dim=1)
        sim = (zn[edge_index[0]] * zn[edge_index[1]]).sum(-1)
        return gcn_norm(edge_index, sim, z.size(0), add_self_loops=False)

    def item_graph(self, data: HeteroData, reps: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """The fused graph :math:`\\mathbf{S}`, rebuilt when an epoch starts (or when none is
        cached), else the cached one detached."""
        if self._graph is not None and not (self.training and self._rebuild):
            return self._graph[0], self._graph[1].detach()
        graphs, weights = [], []
        modal = torch.softmax(self.modal_weight, dim=0)
        for w, m in zip(modal, self.graph_names, strict=True):
            frozen = self.frozen_graph(data, m)
            if m in reps:
                graphs += [self.learned_graph(reps[m]), frozen]
                weights += [w * (1 - self.lambda_coeff), w * self.lambda_coeff]
            else:
                graphs.append(frozen)
                weights.append(w)
        self._graph = fuse_item_graphs(graphs, torch.stack(weights), self.num_items)
        self._rebuild = False
        return self._graph

    def encode(self, data: HeteroData) -> Encoded:
        reps = self.encoder(self.item_features(data)) if self.encoder is not None else {}
        graph = self.item_graph(data, reps)
        h = self.hidden(self.item_conv(self.embedding.weight[self.num_users:], *graph))
        out = self.conv(self.embedding.weight, self.adjacency(data))
        item = out[self.num_users:] + F.normalize(h, dim=1)
        return Encoded(out[:self.num_users], item, modality=reps, hidden=h, item_graph=graph)
