from __future__ import annotations

import torch
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender
from pyg_mmrec.registry import register


@register('pop')
class Pop(Recommender):
    r"""The popularity ranking, the reference every recommender is expected to beat: every
    user gets the items with the most training interactions,

    .. math::
        \hat y_{ui} = n_i = |\{u' : (u', i) \in \mathcal{E}_\text{train}\}|,

    written as an inner product of :math:`\mathbf{e}_u = [1]` and :math:`\mathbf{e}_i =
    [n_i]`. It has nothing to fit: the trainer validates and tests it once. A new item (the
    cold-start protocol of :doc:`/cold_start`) has no interaction to count; its popularity is
    estimated from its content, as the similarity-weighted mean popularity of its most similar
    training items (:meth:`~Recommender.represent_new_items`), so that cold items are ranked by
    a content signal rather than all tied at zero.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
    """
    trainable = False
    capabilities = frozenset({Capability.INDUCTIVE})

    def __init__(self, num_users: int, num_items: int):
        super().__init__(num_users, num_items)

    def reset_parameters(self) -> None:
        """Nothing to initialise: the counts are read from the data."""

    def encode(self, data: HeteroData) -> Encoded:
        count = torch.bincount(self.train_edge_index(data)[1], minlength=self.num_items)
        return Encoded(count.new_ones(self.num_users, 1, dtype=torch.float),
                       count.float().view(-1, 1))
