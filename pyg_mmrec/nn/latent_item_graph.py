from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import scatter

from pyg_mmrec.graph import fuse_item_graphs, item_graph_of, knn_graph_from_features


def safe_sym_norm(edge_index: Tensor, weight: Tensor, num_nodes: int) -> Tensor:
    r"""The symmetric normalisation :math:`D^{-1/2} S D^{-1/2}` of the weights (as
    :func:`~torch_geometric.nn.conv.gcn_conv.gcn_norm` without self-loops, bit for bit where
    every degree is positive), with items of degree :math:`\le 0` (a zero-norm row, or
    negative similarities outweighing the positive ones) left without edges and with finite
    gradients, instead of the NaN of :math:`0^{-1/2}` and of a negative degree."""
    row, col = edge_index[0], edge_index[1]
    deg = scatter(weight, col, dim=0, dim_size=num_nodes, reduce='sum')
    positive = deg > 0
    inv_sqrt = torch.where(positive, deg.clamp_min(torch.finfo(deg.dtype).tiny).pow(-0.5),
                           torch.zeros_like(deg))
    return inv_sqrt[row] * weight * inv_sqrt[col]

class LatentItemGraph(torch.nn.Module):
    r"""The latent item-item structure of the `"Mining Latent Structures for Multimedia
    Recommendation" <https://arxiv.org/abs/2104.09036>`_ paper (LATTICE; §4.1.2 of IBMRec),
    shared by :class:`~pyg_mmrec.nn.models.LATTICE` and
    :class:`~pyg_mmrec.nn.models.VLATTICE`.

    For each modality :math:`m`, a kNN graph :math:`\hat{\mathbf{S}}^m` is learned from the
    projected features :math:`\mathbf{Z}^m` (cosine top-:math:`k`, symmetric-normalised) and
    mixed with the frozen graph :math:`\tilde{\mathbf{S}}^m` of the raw features; the
    modalities are fused with learnable softmax weights:

    .. math::
        \mathbf{S} = \sum_m \mathrm{softmax}(\mathbf{w})_m \big[(1-\lambda)
        \hat{\mathbf{S}}^m + \lambda \tilde{\mathbf{S}}^m\big].

    A modality known only by a precomputed graph (``('item', 'knn_<m>', 'item')``, e.g.
    amazon-baby's) uses that graph frozen. As in the LATTICE authors' code, the learned graphs
    are rebuilt once per epoch (:meth:`new_epoch`; the first batch backpropagates through them,
    later batches use them detached); they are built from the top-:math:`k` indices with the
    similarities recomputed for those edges only, so memory is :math:`O(N k)`, never
    :math:`O(N^2)`.

    Args:
        graph_names (list): The modalities, each with features or a precomputed graph.
        knn_k (int): Neighbours per item in the kNN graphs. (default: :obj:`10`)
        lambda_coeff (float): Weight :math:`\lambda` of the frozen graphs. (default: :obj:`0.9`)
    """
    def __init__(self, graph_names: list[str], knn_k: int = 10, lambda_coeff: float = 0.9):
        super().__init__()
        self.graph_names = list(graph_names)
        self.knn_k = knn_k
        self.lambda_coeff = lambda_coeff
        self.modal_weight = torch.nn.Parameter(torch.zeros(len(self.graph_names)))
        self._graph: tuple[Tensor, Tensor] | None = None
        self._rebuild = True
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.zeros_(self.modal_weight)
        self._graph = None

    def new_epoch(self) -> None:
        """Marks the learned graphs for a rebuild at the next training forward pass."""
        self._rebuild = True

    def frozen_graph(self, data: HeteroData, m: str) -> tuple[Tensor, Tensor]:
        r"""The frozen graph :math:`\tilde{\mathbf{S}}^m` in ``data``: the dataset's own, or the
        kNN graph of the raw features that the model's ``from_data`` computed into it (see
        :func:`~pyg_mmrec.graph.item_graph_of`, which raises a :class:`~pyg_mmrec.errors.DataError`
        if it is absent)."""
        return item_graph_of(data, m, self.knn_k)

    def learned_graph(self, z: Tensor) -> tuple[Tensor, Tensor]:
        r""":math:`\hat{\mathbf{S}}^m`: top-k cosine graph of ``z``, differentiable in ``z``."""
        edge_index, _ = knn_graph_from_features(z.detach(), self.knn_k)
        zn = F.normalize(z, dim=1)
        sim = (zn[edge_index[0]] * zn[edge_index[1]]).sum(-1)
        return edge_index, safe_sym_norm(edge_index, sim, z.size(0))

    def forward(self, data: HeteroData, reps: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        r"""The fused graph :math:`\mathbf{S}` ``(edge_index, edge_weight)`` for the
        per-modality projections ``reps`` (:math:`\mathbf{Z}^m`), rebuilt when an epoch starts
        (or when none is cached), else the cached one detached."""
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
        self._graph = fuse_item_graphs(graphs, torch.stack(weights), data['item'].num_nodes)
        self._rebuild = False
        return self._graph

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.graph_names}, knn_k={self.knn_k}, '
                f'lambda_coeff={self.lambda_coeff})')
