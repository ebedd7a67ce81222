"""The normalised user-item adjacency of the interaction graph."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.typing import OptTensor
from torch_geometric.utils import to_torch_csr_tensor

from pyg_mmrec.utils import quiet_sparse_csr


def user_item_edge_index(edge_index: Tensor, num_users: int) -> Tensor:
    r"""Turns user-item interactions ``[2, E]`` into the undirected edge list ``[2, 2E]`` of the
    homogeneous graph whose nodes are the users ``0..U-1`` followed by the items
    ``U..U+I-1``."""
    user, item = edge_index[0], edge_index[1] + num_users
    return torch.stack([torch.cat([user, item]), torch.cat([item, user])])


def user_item_adjacency(edge_index: Tensor, num_users: int, num_items: int,
                        edge_weight: OptTensor = None) -> Tensor:
    r"""The symmetric-normalised adjacency of the user-item graph as a sparse CSR tensor,

    .. math::
        \hat{\mathbf{A}} = \mathbf{D}^{-1/2} \begin{pmatrix} \mathbf{0} & \mathbf{R} \\
        \mathbf{R}^\top & \mathbf{0} \end{pmatrix} \mathbf{D}^{-1/2},

    ready to be passed to :class:`~pyg_mmrec.nn.conv.LightGCNConv` with ``normalize=False``.

    Args:
        edge_index (Tensor): User-item interactions ``[2, E]``.
        num_users (int): Number of users :math:`U`.
        num_items (int): Number of items :math:`I`.
        edge_weight (Tensor, optional): Interaction weights ``[E]`` (e.g. FREEDOM's pruned
            graph keeps a subset with weight 1).
    """
    n = num_users + num_items
    hom = user_item_edge_index(edge_index, num_users)
    weight = None if edge_weight is None else edge_weight.repeat(2)
    hom, weight = gcn_norm(hom, weight, n, add_self_loops=False)
    with quiet_sparse_csr():
        return to_torch_csr_tensor(hom, weight, size=(n, n))
