from __future__ import annotations

from torch import Tensor
from torch_geometric.typing import Adj, OptTensor

from pyg_mmrec.graph import neighbour_mean
from pyg_mmrec.nn.conv.propagation import Propagation


class ItemItemConv(Propagation):
    r"""Propagation over a weighted item-item graph, from the `"Mining Latent Structures for
    Multimedia Recommendation" <https://arxiv.org/abs/2104.09036>`_ paper (LATTICE, eq. 11 of
    IBMRec): ``L`` rounds of symmetric-normalised weighted aggregation, returning the last
    layer:

    .. math::
        \mathbf{Y}'^{(l)} = \mathbf{D}_S^{-1/2} \mathbf{S} \mathbf{D}_S^{-1/2}
        \mathbf{Y}'^{(l-1)}, \qquad \mathbf{Y}' = \mathbf{Y}'^{(L)},

    with :math:`\mathbf{D}_S` the weighted degree matrix of :math:`\mathbf{S}`. The graph is an
    edge list with weights, which may require gradients (e.g. LATTICE's learned graph), or a
    sparse adjacency; both give the same result, with one sparse-dense product per layer (see
    :class:`~pyg_mmrec.nn.conv.propagation.Propagation`).

    Args:
        num_layers (int): Number of propagation layers :math:`L`. (default: :obj:`1`)
        normalize (bool): If :obj:`False`, the graph is taken as already normalised.
            (default: :obj:`True`)
        **kwargs (optional): Additional arguments of
            :class:`torch_geometric.nn.conv.MessagePassing`.
    """
    def __init__(self, num_layers: int = 1, normalize: bool = True, **kwargs):
        super().__init__(num_layers, normalize, **kwargs)

    def forward(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor = None) -> Tensor:
        *_, last = self.layers(x, edge_index, edge_weight)
        return last

    def new_nodes(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor,
                  new_graph: tuple[Tensor, Tensor], x_new: Tensor) -> Tensor:
        r"""The outputs of nodes added to the graph with edges *from* the existing nodes only
        (``new_graph``: row 0 an existing node, row 1 a new one, with weights; e.g. new items
        and their content neighbours, :meth:`~pyg_mmrec.nn.models.Recommender.new_item_graph`):
        the mean of their neighbours' states after :math:`L-1` layers weighted by the new
        rows' weights normalised to sum 1 (:func:`~pyg_mmrec.graph.neighbour_mean`), or their
        own layer-0 states ``x_new`` for :math:`L = 0`. No edge leads from a new node, so the
        existing nodes' outputs are unchanged.

        Args:
            x (Tensor): Layer-0 states of the existing nodes.
            edge_index (Tensor): The graph of the existing nodes, as for :meth:`forward`.
            edge_weight (Tensor, optional): Its weights.
            new_graph (tuple): ``(edge_index, edge_weight)`` into the new nodes.
            x_new (Tensor): Layer-0 states ``[C, d]`` of the new nodes.
        """
        if self.num_layers == 0:
            return x_new
        for layer, states in enumerate(self.layers(x, edge_index, edge_weight)):
            if layer == self.num_layers - 1:
                return neighbour_mean(states, *new_graph, x_new.size(0))

