"""The user-user co-occurrence graph of the interactions."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import to_torch_coo_tensor

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.utils import quiet_sparse_csr


def user_cooccurrence_graph(edge_index: Tensor, num_users: int, num_items: int, k: int,
                            max_block: int = 2**24) -> tuple[Tensor, Tensor]:
    r"""The top-:math:`k` user co-occurrence graph of `"Dual Graph Neural Network for
    Multimedia Recommendation" <https://doi.org/10.1109/TMM.2021.3138298>`_ (DualGNN): each
    user's neighbours are the :math:`k` other users with whom it shares the most interacted
    items,

    .. math::
        c_{uv} = |\mathcal{N}(u) \cap \mathcal{N}(v)| = (\mathbf{R}\mathbf{R}^\top)_{uv},
        \qquad \mathcal{N}_k(u) = \operatorname{top-}k_{\, v \neq u,\ c_{uv} > 0} \; c_{uv},

    a user with fewer than :math:`k` co-interacting users keeping all of them, ties broken
    towards the smaller user index. The counts are computed for blocks of users at a time
    (the sparse product :math:`\mathbf{R}_B \mathbf{R}^\top`, densified as ``[B, U]`` with at
    most ``max_block`` entries), so the dense :math:`U \times U` matrix is never built
    (memory :math:`O(U k + \text{max\_block})` besides the sparse products).

    Args:
        edge_index (Tensor): User-item interactions ``[2, E]`` (duplicates count once).
        num_users (int): Number of users :math:`U`.
        num_items (int): Number of items.
        k (int): Neighbours per user.
        max_block (int): Largest number of counts held at once. (default: :obj:`2**24`)

    Returns:
        (edge_index, count): ``edge_index`` ``[2, E']`` holds an edge from each neighbour
        ``v`` (row 0) to its user ``u`` (row 1), grouped by ``u`` in ascending order and by
        decreasing count within a group; ``count`` ``[E']`` holds the :math:`c_{uv}` (float).
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"user_cooccurrence_graph: k must be a positive integer, got {k!r}")
    with quiet_sparse_csr():
        return _top_k_cooccurrence(edge_index, num_users, num_items, k, max_block)


def _top_k_cooccurrence(edge_index: Tensor, num_users: int, num_items: int, k: int,
                        max_block: int) -> tuple[Tensor, Tensor]:
    ones = torch.ones(edge_index.size(1), device=edge_index.device)
    # R as a sparse [U, I] matrix with 0/1 entries (coalescing sums duplicates: clamp).
    r = to_torch_coo_tensor(edge_index, ones, size=(num_users, num_items)).coalesce()
    r = torch.sparse_coo_tensor(r.indices(), r.values().clamp(max=1), r.shape).coalesce()
    r_t = r.t().coalesce()
    block = max(1, max_block // max(num_users, 1))
    keep = min(k, num_users - 1)
    sources, targets, counts = [], [], []
    users = torch.arange(num_users, device=edge_index.device)
    # Secondary key: the smaller user index wins a tie in count.
    tie = (num_users - 1 - users).to(torch.float64) / num_users
    for start in range(0, num_users, block):
        rows = users[start:start + block]
        count = torch.sparse.mm(r.index_select(0, rows), r_t).to_dense()  # [B, U]
        count[torch.arange(rows.numel()), rows] = 0  # no self-loops
        if keep <= 0:
            continue
        key = count.to(torch.float64) + tie.unsqueeze(0)
        _, nbr = key.topk(keep, dim=1)
        val = count.gather(1, nbr)
        mask = val > 0
        sources.append(nbr[mask])
        targets.append(rows.unsqueeze(1).expand_as(nbr)[mask])
        counts.append(val[mask])
    if not counts:
        empty = torch.empty(2, 0, dtype=torch.long, device=edge_index.device)
        return empty, ones.new_empty(0)
    return torch.stack([torch.cat(sources), torch.cat(targets)]), torch.cat(counts)
