"""Degree-sensitive pruning of the user-item graph (FREEDOM, LayerGCN)."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import degree

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.graph import user_item_adjacency


def _check_p(p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p < 1.0:
        raise ConfigError(f"the edge dropout ratio must be a number in [0, 1) (got {p!r})")


def degree_sensitive_dropout_edge(edge_index: Tensor, num_users: int, num_items: int,
                                  p: float = 0.5, generator: torch.Generator | None = None
                                  ) -> tuple[Tensor, Tensor]:
    r"""Drops a fraction :math:`p` of the user-item interactions, keeping
    :math:`K = \lfloor (1-p)\,|\mathcal{E}| \rfloor` of them sampled without replacement with
    probability proportional to

    .. math::
        w_{ui} = \frac{1}{\sqrt{d_u\, d_i}},

    where :math:`d_u` and :math:`d_i` are the degrees in the given graph, as in the
    degree-sensitive edge pruning of the `"A Tale of Two Graphs: Freezing and Denoising Graph
    Structures for Multimodal Recommendation" <https://arxiv.org/abs/2211.06924>`_ (FREEDOM) and
    `"Layer-refined Graph Convolutional Networks for Recommendation"
    <https://arxiv.org/abs/2207.11088>`_ (LayerGCN) papers: edges between popular users and
    items, the likelier to be noise, are dropped more often. The sample is drawn with
    exponential keys :math:`k_e = \epsilon_e / w_e`, :math:`\epsilon_e \sim \mathrm{Exp}(1)`,
    keeping the :math:`K` smallest (Efraimidis and Spirakis), which is exactly sequential
    weighted sampling without replacement (as :func:`torch.multinomial` does) but has no limit
    on the number of edges.

    Args:
        edge_index (Tensor): User-item interactions ``[2, E]`` (row 0 users, row 1 items).
        num_users (int): Number of users.
        num_items (int): Number of items.
        p (float): Fraction of edges to drop, in :math:`[0, 1)`. (default: :obj:`0.5`)
        generator (torch.Generator, optional): Random generator (default: the global one).

    Returns:
        (edge_index, edge_mask): the kept interactions ``[2, K]`` (in their original order)
        and the boolean mask ``[E]`` that selects them.
    """
    _check_p(p)
    num_edges = edge_index.size(1)
    keep = int(num_edges * (1.0 - p))
    user, item = edge_index
    weight = (degree(user, num_users)[user] * degree(item, num_items)[item]).rsqrt()
    keys = torch.empty_like(weight).exponential_(generator=generator) / weight
    mask = torch.zeros(num_edges, dtype=torch.bool, device=edge_index.device)
    mask[keys.topk(keep, largest=False).indices] = True
    return edge_index[:, mask], mask


class DegreeSensitivePruning:
    r"""The pruned user-item graph that FREEDOM and LayerGCN propagate over in training: the
    symmetric-normalised adjacency (:func:`~pyg_mmrec.graph.user_item_adjacency`, degrees
    recomputed on the kept edges) of a :func:`degree_sensitive_dropout_edge` sample of the
    training interactions. The sample is drawn on first use and kept until :meth:`resample`
    (which models call from :meth:`~pyg_mmrec.nn.models.Recommender.on_epoch_start`, so it
    changes once per epoch) or until the interactions change. Evaluation uses the full graph:
    models ask for this one only in training mode.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        p (float): Fraction of edges to drop, in :math:`[0, 1)`; :obj:`0` keeps the full graph.
    """
    def __init__(self, num_users: int, num_items: int, p: float):
        _check_p(p)
        self.num_users = num_users
        self.num_items = num_items
        self.p = p
        self._key: tuple | None = None
        self._adj: Tensor | None = None

    def resample(self) -> None:
        """Makes the next call draw a new sample (with :math:`p = 0` nothing changes)."""
        if self.p > 0:
            self._key = None

    def __call__(self, edge_index: Tensor) -> Tensor:
        """The normalised adjacency of the current sample of ``edge_index``."""
        key = (edge_index.data_ptr(), edge_index.size(1))
        if key != self._key:
            kept, _ = degree_sensitive_dropout_edge(edge_index, self.num_users, self.num_items,
                                                    self.p)
            self._adj = user_item_adjacency(kept, self.num_users, self.num_items)
            self._key = key
        return self._adj

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(p={self.p})'
