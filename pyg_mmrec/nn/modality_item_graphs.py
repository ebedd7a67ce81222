from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import scatter

from pyg_mmrec.graph import fuse_item_graphs, item_graph_of, knn_graph_from_features

Graph = tuple[Tensor, Tensor]


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


def _detached(graphs):
    """``graphs`` (one ``(edge_index, edge_weight)`` or a dict of them) with the weights
    detached."""
    if isinstance(graphs, dict):
        return {m: _detached(g) for m, g in graphs.items()}
    return graphs[0], graphs[1].detach()


class ModalityItemGraphs(torch.nn.Module):
    r"""The per-modality latent item-item structures of the `"Mining Latent Structures for
    Multimedia Recommendation" <https://arxiv.org/abs/2104.09036>`_ paper (LATTICE), kept
    apart per modality as in the `"Latent Structure Mining with Contrastive Modality Fusion for
    Multimedia Recommendation" <https://arxiv.org/abs/2111.00678>`_ paper (MICRO); the base of
    :class:`~pyg_mmrec.nn.LatentItemGraph`, which fuses them.

    For each modality :math:`m`, a kNN graph :math:`\hat{\mathbf{S}}^m` is learned from the
    projected features :math:`\mathbf{Z}^m` (cosine top-:math:`k`, symmetric-normalised) and
    mixed with the frozen graph :math:`\tilde{\mathbf{S}}^m` of the raw features:

    .. math::
        \mathbf{S}^m = (1-\lambda) \hat{\mathbf{S}}^m + \lambda \tilde{\mathbf{S}}^m .

    A modality known only by a precomputed graph (``('item', 'knn_<m>', 'item')``, e.g.
    amazon-baby's) uses that graph frozen. As in the LATTICE and MICRO authors' code, the
    learned graphs are rebuilt once per epoch (:meth:`new_epoch`; the first batch
    backpropagates through them, later batches use them detached); they are built from the
    top-:math:`k` indices with the similarities recomputed for those edges only, so memory is
    :math:`O(N k)`, never :math:`O(N^2)`.

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
        self._graph = None
        self._rebuild = True
        ModalityItemGraphs.reset_parameters(self)

    def reset_parameters(self) -> None:
        """Drops the cached graphs (they are rebuilt at the next forward pass)."""
        self._graph = None

    def new_epoch(self) -> None:
        """Marks the learned graphs for a rebuild at the next training forward pass."""
        self._rebuild = True

    def frozen_graph(self, data: HeteroData, m: str) -> Graph:
        r"""The frozen graph :math:`\tilde{\mathbf{S}}^m` in ``data``: the dataset's own, or the
        kNN graph of the raw features that the model's ``from_data`` computed into it (see
        :func:`~pyg_mmrec.graph.item_graph_of`, which raises a :class:`~pyg_mmrec.errors.DataError`
        if it is absent)."""
        return item_graph_of(data, m, self.knn_k)

    def learned_graph(self, z: Tensor) -> Graph:
        r""":math:`\hat{\mathbf{S}}^m`: top-k cosine graph of ``z``, differentiable in ``z``."""
        edge_index, _ = knn_graph_from_features(z.detach(), self.knn_k)
        zn = F.normalize(z, dim=1)
        sim = (zn[edge_index[0]] * zn[edge_index[1]]).sum(-1)
        return edge_index, safe_sym_norm(edge_index, sim, z.size(0))

    def parts(self, data: HeteroData, reps: dict[str, Tensor]
              ) -> list[list[tuple[Graph, float]]]:
        r"""For each modality of :attr:`graph_names`, the graphs that make up
        :math:`\mathbf{S}^m` with their coefficients: :math:`[(\hat{\mathbf{S}}^m, 1-\lambda),
        (\tilde{\mathbf{S}}^m, \lambda)]` for a modality in ``reps``, else
        :math:`[(\tilde{\mathbf{S}}^m, 1)]`."""
        out = []
        for m in self.graph_names:
            frozen = self.frozen_graph(data, m)
            if m in reps:
                out.append([(self.learned_graph(reps[m]), 1 - self.lambda_coeff),
                            (frozen, self.lambda_coeff)])
            else:
                out.append([(frozen, 1.0)])
        return out

    def build(self, data: HeteroData, reps: dict[str, Tensor]) -> dict[str, Graph]:
        r"""The graphs :math:`\mathbf{S}^m` by modality, freshly built."""
        num_items = data['item'].num_nodes
        graphs = {}
        for m, parts in zip(self.graph_names, self.parts(data, reps), strict=True):
            if len(parts) == 1:
                graphs[m] = parts[0][0]
            else:
                coeffs = torch.tensor([c for _, c in parts], device=parts[0][0][1].device)
                graphs[m] = fuse_item_graphs([g for g, _ in parts], coeffs, num_items)
        return graphs

    def forward(self, data: HeteroData, reps: dict[str, Tensor]) -> dict[str, Graph] | Graph:
        r"""The graphs of :meth:`build` for the per-modality projections ``reps``
        (:math:`\mathbf{Z}^m`), rebuilt when an epoch starts (or when none is cached), else the
        cached ones detached."""
        if self._graph is not None and not (self.training and self._rebuild):
            return _detached(self._graph)
        self._graph = self.build(data, reps)
        self._rebuild = False
        return self._graph

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.graph_names}, knn_k={self.knn_k}, '
                f'lambda_coeff={self.lambda_coeff})')
