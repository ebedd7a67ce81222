"""Sparse-dense products shared by the propagation layers."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import coalesce, spmm, to_torch_csr_tensor

from pyg_mmrec.utils import quiet_sparse_csr


def csr(ptr: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A sparse CSR tensor, without PyTorch's beta warning."""
    with quiet_sparse_csr():
        return torch.sparse_csr_tensor(ptr, col, values, size)


def adjacency_of(edge_index: Tensor, edge_weight: OptTensor, num_nodes: int
                 ) -> tuple[Tensor, OptTensor]:
    r"""The sparse CSR adjacency ``adj_t`` of an edge list (``adj_t[i, j]`` is the weight of
    the edge :math:`j \to i`, duplicates summed), and, when ``edge_weight`` requires gradients,
    its values in the adjacency's order as a separate differentiable tensor (``None``
    otherwise) to pass to :func:`adjacency_spmm`. The adjacency itself holds detached values:
    PyTorch's backward through the values of a CSR tensor forms a dense
    :math:`N \times N` gradient."""
    index, values = coalesce(edge_index.flip(0), edge_weight, num_nodes)
    if values is None:
        values = torch.ones(index.size(1), device=index.device)
    with quiet_sparse_csr():
        adj_t = to_torch_csr_tensor(index, values.detach(), size=(num_nodes, num_nodes),
                                    is_coalesced=True)
    return adj_t, values if values.requires_grad else None


class _WeightedSpMM(torch.autograd.Function):
    r"""``A @ x`` for the sparse ``A`` of CSR structure ``(ptr, col)`` and entries ``values``,
    differentiable in ``values`` and ``x``.

    PyTorch's backward of a CSR product with respect to its values forms the dense
    :math:`N \times N` gradient before masking it; here it is the sampled product
    :math:`\partial a_{ij} = \mathbf{g}_i^\top \mathbf{x}_j` on the stored entries only.
    """
    @staticmethod
    def forward(ctx, ptr: Tensor, col: Tensor, values: Tensor, x: Tensor) -> Tensor:
        adj = csr(ptr, col, values, (ptr.numel() - 1, x.size(0)))
        ctx.save_for_backward(adj, x)
        return spmm(adj, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        adj, x = ctx.saved_tensors
        grad_values = grad_x = None
        if ctx.needs_input_grad[2]:
            grad_values = torch.sparse.sampled_addmm(adj, grad, x.t(), beta=0.0).values()
        if ctx.needs_input_grad[3]:
            grad_x = torch.sparse.mm(adj.t(), grad)
        return None, None, grad_values, grad_x


def weighted_spmm(ptr: Tensor, col: Tensor, values: Tensor, x: Tensor) -> Tensor:
    """``A @ x`` for the CSR matrix ``(ptr, col, values)``, differentiable in ``values`` and
    ``x`` in :math:`O(|\\mathcal{E}| F)` memory (see :class:`_WeightedSpMM`)."""
    return _WeightedSpMM.apply(ptr, col, values, x)


def adjacency_spmm(adj_t: Adj, x: Tensor, values: OptTensor = None, reduce: str = 'sum'
                   ) -> Tensor:
    """``adj_t @ x``; with ``values`` (the entries of the CSR ``adj_t`` in its order, from
    :func:`adjacency_of`) it is differentiable in them through :func:`weighted_spmm`
    (``reduce='sum'``)."""
    if values is not None:
        return weighted_spmm(adj_t.crow_indices(), adj_t.col_indices(), values, x)
    return spmm(adj_t, x, reduce=reduce)
