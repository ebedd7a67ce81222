"""Sparse-dense products shared by the propagation layers."""
from __future__ import annotations

import dataclasses
import weakref
from collections import OrderedDict

import torch
from torch import Tensor
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import index_sort, scatter, spmm
from torch_geometric.utils.sparse import index2ptr

from pyg_mmrec.utils import quiet_sparse_csr


def csr(ptr: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    """A sparse CSR tensor, without PyTorch's beta warning."""
    with quiet_sparse_csr():
        return torch.sparse_csr_tensor(ptr, col, values, size)


#: The transposes of recently used CSR patterns (see :func:`transposed`), least recent first.
_TRANSPOSES: OrderedDict[tuple, tuple[Tensor, ...]] = OrderedDict()
#: How many patterns :data:`_TRANSPOSES` keeps (a model uses a handful).
TRANSPOSE_CACHE_SIZE = 16


def transposed(adj: Tensor) -> Tensor:
    r"""``adj.t()`` of a CSR matrix as a CSR matrix: the same matrix, entry for entry and in
    the same order, as ``adj.t().to_sparse_csr()``, which PyTorch forms (sorting every entry)
    whenever it multiplies by a transposed CSR matrix, as in the backward pass of ``adj @ x``.
    The transposed pattern and the permutation of the entries are computed once per pattern
    (the graphs of a model keep theirs from batch to batch, only their values change) and
    kept for the :data:`TRANSPOSE_CACHE_SIZE` most recent patterns; the cache holds the
    pattern's index tensors, so their memory cannot be reused by another pattern while it is
    cached."""
    ptr, col = adj.crow_indices(), adj.col_indices()
    key = (ptr.data_ptr(), col.data_ptr(), ptr.numel(), col.numel(), adj.size(1), ptr.device)
    hit = _TRANSPOSES.get(key)
    if hit is None:
        order = csr(ptr, col, torch.arange(col.numel(), device=col.device), adj.shape)
        order = order.t().to_sparse_csr()
        hit = (ptr, col, order.crow_indices(), order.col_indices(), order.values())
        _TRANSPOSES[key] = hit
        if len(_TRANSPOSES) > TRANSPOSE_CACHE_SIZE:
            _TRANSPOSES.popitem(last=False)
    else:
        _TRANSPOSES.move_to_end(key)
    _, _, ptr_t, col_t, perm = hit
    return csr(ptr_t, col_t, adj.values()[perm], (adj.size(1), adj.size(0)))


class _SpMM(torch.autograd.Function):
    r"""``adj @ x`` for a sparse ``adj`` with constant values, whose backward multiplies by
    the cached :func:`transposed` ``adj`` (the product PyTorch's own backward computes,
    without sorting the entries again on every call), or, when ``symmetric`` (e.g. the
    symmetric-normalised user-item graph, :math:`\mathbf{A}^\top = \mathbf{A}`), by ``adj``
    itself."""
    @staticmethod
    def forward(ctx, adj: Tensor, x: Tensor, symmetric: bool = False) -> Tensor:
        ctx.adj, ctx.symmetric = adj, symmetric
        return spmm(adj, x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor, None]:
        if ctx.symmetric:
            return None, spmm(ctx.adj, grad), None
        return None, torch.sparse.mm(transposed(ctx.adj), grad), None


def constant_spmm(adj: Tensor, x: Tensor, symmetric: bool = False) -> Tensor:
    """``adj @ x`` for a sparse ``adj`` with constant values, differentiable in ``x`` with a
    backward that never re-sorts ``adj`` (see :class:`_SpMM`)."""
    return _SpMM.apply(adj, x, symmetric)


@dataclasses.dataclass
class _Pattern:
    """How the edges of an edge list map onto the entries of its CSR adjacency ``adj_t``."""
    version: int  # the edge list's version counter when the pattern was computed
    num_nodes: int
    ptr: Tensor
    col: Tensor
    perm: Tensor  # entry order: edge_weight[perm] lists the weights row by row
    merge: Tensor | None  # for each sorted edge, its entry (None: no duplicate edges)


#: The CSR patterns of the live edge lists given to :func:`adjacency_of`, by ``id``; an
#: entry is dropped when its edge list is freed.
_PATTERNS: dict[int, _Pattern] = {}


def _pattern(edge_index: Tensor, num_nodes: int) -> _Pattern:
    # The steps of torch_geometric.utils.coalesce on the flipped edge list, kept so that later
    # calls only gather (and, with duplicates, sum) the weights: the same operations on the
    # same values, hence the same entries bit for bit.
    hit = _PATTERNS.get(id(edge_index))
    if hit is not None and hit.version == edge_index._version and hit.num_nodes == num_nodes:
        return hit
    index = edge_index.flip(0)
    key, perm = index_sort(index[0] * num_nodes + index[1], max_value=num_nodes * num_nodes)
    index = index[:, perm]
    first = torch.ones_like(key, dtype=torch.bool)
    first[1:] = key[1:] > key[:-1]
    merge = None
    if not first.all():
        index = index[:, first]
        merge = torch.arange(key.numel(), device=key.device) - (~first).cumsum(0)
    pattern = _Pattern(edge_index._version, num_nodes, index2ptr(index[0], num_nodes),
                       index[1], perm, merge)
    if hit is None:
        weakref.finalize(edge_index, _PATTERNS.pop, id(edge_index), None)
    _PATTERNS[id(edge_index)] = pattern
    return pattern


def adjacency_of(edge_index: Tensor, edge_weight: OptTensor, num_nodes: int
                 ) -> tuple[Tensor, OptTensor]:
    r"""The sparse CSR adjacency ``adj_t`` of an edge list (``adj_t[i, j]`` is the weight of
    the edge :math:`j \to i`, duplicates summed), and, when ``edge_weight`` requires gradients,
    its values in the adjacency's order as a separate differentiable tensor (``None``
    otherwise) to pass to :func:`adjacency_spmm`. The adjacency itself holds detached values:
    PyTorch's backward through the values of a CSR tensor forms a dense
    :math:`N \times N` gradient.

    The sorting of the edges into the adjacency's order is done once per edge list (kept
    while the tensor lives and is not modified in place): a learned or masked graph keeps its
    edges from batch to batch and only its weights change. The adjacency's index tensors are
    then the same from call to call, so its :func:`transposed` pattern is also reused."""
    pattern = _pattern(edge_index, num_nodes)
    if edge_weight is None:  # as coalesce: a duplicated edge without weights weighs 1
        values = torch.ones(pattern.col.numel(), device=edge_index.device)
    else:
        values = edge_weight[pattern.perm]
        if pattern.merge is not None:
            values = scatter(values, pattern.merge, 0, pattern.col.numel(), reduce='sum')
    adj_t = csr(pattern.ptr, pattern.col, values.detach(), (num_nodes, num_nodes))
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
            grad_x = torch.sparse.mm(transposed(adj), grad)
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
    if (reduce in ('sum', 'add') and x.requires_grad and isinstance(adj_t, Tensor)
            and adj_t.layout == torch.sparse_csr and not adj_t.requires_grad):
        return constant_spmm(adj_t, x)
    return spmm(adj_t, x, reduce=reduce)
