from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import degree, softmax

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.nn.conv.sparse import csr, transposed, weighted_spmm

ATTENTIONS = ('mean', 'dot')


class _SampledDot(torch.autograd.Function):
    r"""The products :math:`\mathbf{x}_i^\top \mathbf{x}_j` on the stored entries
    :math:`(i, j)` of the CSR pattern ``(ptr, col)``, whose :math:`T` rows are the first
    :math:`T` nodes: a sampled dense-dense product, which, unlike gathering both ends of every
    edge, never forms :math:`|\mathcal{E}| \times F` tensors."""
    @staticmethod
    def forward(ctx, ptr: Tensor, col: Tensor, x: Tensor) -> Tensor:
        ctx.save_for_backward(ptr, col, x)
        t = ptr.numel() - 1
        pattern = csr(ptr, col, x.new_zeros(col.numel()), (t, x.size(0)))
        return torch.sparse.sampled_addmm(pattern, x[:t], x.t(), beta=0.0).values()

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        ptr, col, x = ctx.saved_tensors
        t = ptr.numel() - 1
        g = csr(ptr, col, grad, (t, x.size(0)))
        grad_x = torch.sparse.mm(transposed(g), x[:t])  # through x_j
        grad_x[:t] += torch.sparse.mm(g, x)  # through x_i
        return None, None, grad_x


class ContentConv(MessagePassing):
    r"""Aggregation of the neighbours' content states over the user-item graph, with weights
    normalised over each node's neighbourhood: the modality-wise graph convolution shared by the
    `"MMGCN: Multi-modal Graph Convolution Network for Personalized Recommendation of
    Micro-video" <https://doi.org/10.1145/3343031.3351034>`_ (MMGCN) and `"Graph-Refined
    Convolutional Network for Multimedia Recommendation with Implicit Feedback"
    <https://arxiv.org/abs/2111.02036>`_ (GRCN) papers,

    .. math::
        \mathbf{x}'_i = \sum_{j \in \mathcal{N}(i)} \alpha_{ji} \mathbf{x}_j, \qquad
        \alpha_{ji} = \begin{cases}
        1 / |\mathcal{N}(i)| & \text{``mean''} \\
        \dfrac{\exp(\mathbf{x}_i^\top \mathbf{x}_j)}
        {\sum_{k \in \mathcal{N}(i)} \exp(\mathbf{x}_i^\top \mathbf{x}_k)} & \text{``dot''}
        \end{cases}

    MMGCN's aggregation is the ``'mean'`` pooling; GRCN's prototypical routing and graph
    refining use the ``'dot'`` softmax, whose :math:`\alpha_{ji}` score how well a neighbour's
    content fits a node (on unit-norm states, a softmax over cosine similarities).

    The graph (users ``0..U-1``, then items, see
    :func:`~pyg_mmrec.graph.user_item_edge_index`) is an edge list, whose messages are
    gathered and summed, or a sparse adjacency (row = target), whose weights are computed on its
    stored entries and applied with one sparse-dense product (:func:`torch_geometric.utils.spmm`);
    both give the same result. Only the graph's structure is used: edge weights and the
    adjacency's values are ignored, since the layer computes its own weights (so the cached
    normalised adjacency of :meth:`~pyg_mmrec.nn.models.Recommender.adjacency` can be passed
    as it is). A sparse adjacency may keep only its first rows (e.g. the users'), of shape
    :math:`(T, |\mathcal{V}|)`: only those :math:`T` nodes' outputs are then computed.

    Args:
        attention (str): How neighbours are weighted, ``'mean'`` or ``'dot'``.
            (default: :obj:`'mean'`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F)`, edge indices
          :math:`(2, |\mathcal{E}|)` or a sparse adjacency
          :math:`(|\mathcal{V}|, |\mathcal{V}|)`
        - **output:** node features :math:`(|\mathcal{V}|, F)` (or :math:`(T, F)`), and with
          ``return_attention_weights=True`` also the weights :math:`\alpha_{ji}`
          :math:`(|\mathcal{E}|)`, in the order of the edge list or of the adjacency's stored
          entries (row-major)
    """
    def __init__(self, attention: str = 'mean', **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(**kwargs)
        if attention not in ATTENTIONS:
            raise ConfigError(f"{self.__class__.__name__}: attention must be one of "
                              f"{list(ATTENTIONS)}, got {attention!r}")
        self.attention = attention
        self._alpha: OptTensor = None

    def forward(self, x: Tensor, edge_index: Adj, return_attention_weights: bool = False
                ) -> Tensor | tuple[Tensor, Tensor]:
        out = self.propagate(edge_index, x=x)
        alpha, self._alpha = self._alpha, None
        return (out, alpha) if return_attention_weights else out

    def weights(self, index: Tensor, num_nodes: int, ptr: OptTensor = None,
                score: OptTensor = None) -> Tensor:
        r"""The weights :math:`\alpha_{ji}` of the edges ``j -> i``, grouped by their target
        ``index`` (sorted, with row pointers ``ptr``, for a sparse adjacency); ``score`` holds
        the products :math:`\mathbf{x}_i^\top \mathbf{x}_j` (``'dot'`` only)."""
        if self.attention == 'mean':
            deg = degree(index, num_nodes) if ptr is None else ptr.diff()
            return deg.double().reciprocal()[index]  # the callers cast to the states' dtype
        return softmax(score, index, ptr, num_nodes)

    def message(self, x_i: Tensor, x_j: Tensor, index: Tensor, size_i: int) -> Tensor:
        score = (x_i * x_j).sum(-1) if self.attention == 'dot' else None
        self._alpha = self.weights(index, size_i, score=score).to(x_j.dtype)
        return self._alpha.view(-1, 1) * x_j

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        if adj_t.layout != torch.sparse_csr:
            adj_t = adj_t.to_sparse_csr()
        ptr, col = adj_t.crow_indices(), adj_t.col_indices()
        row = torch.repeat_interleave(torch.arange(adj_t.size(0), device=x.device), ptr.diff())
        score = _SampledDot.apply(ptr, col, x) if self.attention == 'dot' else None
        self._alpha = self.weights(row, adj_t.size(0), ptr, score).to(x.dtype)
        return weighted_spmm(ptr, col, self._alpha, x)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(attention={self.attention!r})'
