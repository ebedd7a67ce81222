from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.graph import fuse_item_graphs
from pyg_mmrec.nn.modality_item_graphs import Graph, ModalityItemGraphs


class LatentItemGraph(ModalityItemGraphs):
    r"""The latent item-item structure of the `"Mining Latent Structures for Multimedia
    Recommendation" <https://arxiv.org/abs/2104.09036>`_ paper (LATTICE; §4.1.2 of IBMRec),
    shared by :class:`~pyg_mmrec.nn.models.LATTICE` and
    :class:`~pyg_mmrec.nn.models.VLATTICE`.

    The per-modality graphs of :class:`~pyg_mmrec.nn.ModalityItemGraphs` (for each modality
    :math:`m`, a kNN graph :math:`\hat{\mathbf{S}}^m` learned from the projected features
    :math:`\mathbf{Z}^m`, cosine top-:math:`k` and symmetric-normalised, mixed with the frozen
    graph :math:`\tilde{\mathbf{S}}^m` of the raw features) are fused with learnable softmax
    weights:

    .. math::
        \mathbf{S} = \sum_m \mathrm{softmax}(\mathbf{w})_m \big[(1-\lambda)
        \hat{\mathbf{S}}^m + \lambda \tilde{\mathbf{S}}^m\big].

    Like the per-modality graphs, the fused graph is rebuilt once per epoch (the first batch
    backpropagates through it, later batches use it detached), in :math:`O(N k)` memory.

    Args:
        graph_names (list): The modalities, each with features or a precomputed graph.
        knn_k (int): Neighbours per item in the kNN graphs. (default: :obj:`10`)
        lambda_coeff (float): Weight :math:`\lambda` of the frozen graphs. (default: :obj:`0.9`)
    """
    def __init__(self, graph_names: list[str], knn_k: int = 10, lambda_coeff: float = 0.9):
        super().__init__(graph_names, knn_k, lambda_coeff)
        self.modal_weight = torch.nn.Parameter(torch.zeros(len(self.graph_names)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.zeros_(self.modal_weight)
        super().reset_parameters()

    def build(self, data: HeteroData, reps: dict[str, Tensor]) -> Graph:
        r"""The fused graph :math:`\mathbf{S}` ``(edge_index, edge_weight)``, freshly built
        (:meth:`forward` returns it, rebuilt once per epoch)."""
        graphs, weights = [], []
        modal = torch.softmax(self.modal_weight, dim=0)
        for w, parts in zip(modal, self.parts(data, reps), strict=True):
            for graph, coeff in parts:
                graphs.append(graph)
                weights.append(w * coeff)
        return fuse_item_graphs(graphs, torch.stack(weights), data['item'].num_nodes)
