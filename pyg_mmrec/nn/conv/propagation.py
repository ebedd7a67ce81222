from __future__ import annotations

from collections.abc import Callable, Iterator

from torch import Tensor
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.typing import Adj, OptTensor
from torch_geometric.utils import is_sparse

from pyg_mmrec.nn.conv.sparse import adjacency_of, adjacency_spmm


class Propagation(MessagePassing):
    r"""Base of the parameter-free propagation layers: ``num_layers`` rounds of

    .. math::
        \mathbf{x}^{(l+1)}_i = \sum_{j \in \mathcal{N}(i)}
        \frac{e_{ji}}{\sqrt{\deg(i)\deg(j)}} \mathbf{x}^{(l)}_j

    over a graph given as an edge list with optional weights or as a sparse adjacency. Either
    way each layer is one sparse-dense product (:func:`torch_geometric.utils.spmm`): an edge
    list is turned into a CSR adjacency once per call, which on CPU is several times faster
    than gathering and summing :math:`|\mathcal{E}| \times F` messages. The weights of an edge
    list may require gradients (learned graphs and masks); their gradient is computed on the
    edges only (:func:`~pyg_mmrec.nn.conv.sparse.weighted_spmm`), never as a dense
    :math:`N \times N` matrix, so pass learned weights as an edge list rather than as the
    values of a sparse tensor. Subclasses decide how the
    layer outputs :math:`\mathbf{x}^{(0)}, \dots, \mathbf{x}^{(L)}` (see :meth:`layers`) are
    combined.

    Args:
        num_layers (int): Number of propagation layers :math:`L`.
        normalize (bool): If :obj:`False`, the graph is taken as already normalised.
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.
    """
    def __init__(self, num_layers: int, normalize: bool = True, **kwargs):
        kwargs.setdefault('aggr', 'add')
        super().__init__(**kwargs)
        if num_layers < 0:
            raise ValueError(f"num_layers must be non-negative, got {num_layers}")
        self.num_layers = num_layers
        self.normalize = normalize

    def layers(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None,
               transform: Callable[[Tensor], Tensor] | None = None) -> Iterator[Tensor]:
        """Yields the layer outputs :math:`\\mathbf{x}^{(0)}, \\dots, \\mathbf{x}^{(L)}`;
        ``transform``, if given, maps each propagated output before it is yielded and propagated
        further (e.g. LayerGCN's layer refinement)."""
        if self.normalize:
            out = gcn_norm(edge_index, edge_weight, x.size(0), add_self_loops=False,
                           dtype=x.dtype)
            # gcn_norm returns a bare matrix for a torch_sparse.SparseTensor, else a pair.
            edge_index, edge_weight = out if isinstance(out, tuple) else (out, None)
        if is_sparse(edge_index):  # the adjacency's own values are the weights
            edge_weight = None
        else:  # weights that need gradients stay in edge_weight, in the adjacency's order
            edge_index, edge_weight = adjacency_of(edge_index, edge_weight, x.size(0))
        yield x
        for _ in range(self.num_layers):
            x = self.propagate(edge_index, x=x, edge_weight=edge_weight)
            if transform is not None:
                x = transform(x)
            yield x

    def message_and_aggregate(self, adj_t: Adj, x: Tensor, edge_weight: OptTensor) -> Tensor:
        return adjacency_spmm(adj_t, x, edge_weight, reduce=self.aggr)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(num_layers={self.num_layers})'
