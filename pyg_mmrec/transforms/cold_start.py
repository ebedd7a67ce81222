"""The cold-start split: items held out of training with all their interactions."""
from __future__ import annotations

import logging

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from pyg_mmrec.data.splits import TEST, TRAIN, VALID, DataSplits
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.schema import COLD_ITEM, COMPUTED_K, INTERACTS, modalities

log = logging.getLogger(__name__)


class ColdStartSplit(BaseTransform):
    r"""The cold-start protocol of the `"Mining Latent Structures for Multimedia
    Recommendation" <https://arxiv.org/abs/2104.09036>`_ paper (LATTICE's public cold-start
    setting): a share of the items, drawn with ``seed``, is held out of training with **all**
    its interactions; half of these *cold* items go to validation (every interaction of theirs
    becomes a validation target) and the other half to test. The other (*warm*) items keep
    their interactions' splits.

    The result is a new :class:`~pyg_mmrec.data.DataSplits` whose catalogue is reordered: the
    warm items first (ids ``0 .. W-1``, in their original order), then the validation cold
    items, then the test cold items. The training view holds the warm items only: its
    ``data['item']`` has :math:`W` nodes and their feature rows, its interaction graph the warm
    items' training interactions, and an item-item graph the dataset ships keeps only its
    warm-warm edges (graphs the library computed from the features are dropped, to be
    recomputed from the warm items' features), so no structure built from training data, no
    degree and no negative sample involves a cold item. The cold items' features are kept
    apart in ``data['cold_item']`` (:data:`~pyg_mmrec.schema.COLD_ITEM`) with their ``split``;
    an inductive model represents them from these rows alone
    (:meth:`~pyg_mmrec.nn.models.Recommender.encode_new_items`). Users left without a training
    interaction are dropped from evaluation (counted in ``eval_users_dropped``). Raw ids (and
    every other per-item attribute) move with their items; an item without a raw id gets its
    original id as one, so that recommendations name items as the original dataset does. See
    :doc:`/cold_start` for the metrics of this protocol.

    Args:
        share (float): The share of the items held out, in :math:`(0, 1)`.
            (default: :obj:`0.2`, LATTICE's)
        seed (int): Seed of the draw. (default: :obj:`0`)

    Raises:
        ConfigError: If ``share`` is out of range or leaves fewer than two cold items or no
            warm item.
        DataError: If the dataset has no item features or is a cold-start split already.
    """
    def __init__(self, share: float = 0.2, seed: int = 0):
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
            raise ConfigError(f"config key 'cold_items' = {share!r}: the share of items held "
                              f"out must be in (0, 1)")
        self.share = float(share)
        self.seed = int(seed)

    def forward(self, splits: DataSplits) -> DataSplits:
        train = splits.train
        if not modalities(train):
            raise DataError(f"the cold-start split needs item features (new items are known "
                            f"by them alone); dataset {splits.name!r} has none")
        if splits.num_cold_items:
            raise DataError(f"dataset {splits.name!r} is a cold-start split already")
        num_items = splits.num_items
        num_cold = round(self.share * num_items)
        if num_cold < 2 or num_cold >= num_items:
            raise ConfigError(f"config key 'cold_items' = {self.share}: holds out {num_cold} "
                              f"of {num_items} items; the protocol needs at least 2 cold items "
                              f"(one per evaluation split) and one warm item")
        perm = torch.randperm(num_items, generator=torch.Generator().manual_seed(self.seed))
        num_val = num_cold // 2
        role = torch.full((num_items,), TRAIN)  # by original id: 0 warm, 1 val / 2 test cold
        role[perm[:num_val]] = VALID
        role[perm[num_val:num_cold]] = TEST
        order = torch.cat([(role == r).nonzero().view(-1) for r in (TRAIN, VALID, TEST)])
        new_id = torch.empty_like(order)
        new_id[order] = torch.arange(num_items)
        num_warm = num_items - num_cold

        edges, labels = [], []
        for label, view in ((TRAIN, train), (VALID, splits.val), (TEST, splits.test)):
            index = view[INTERACTS].edge_label_index if label != TRAIN else \
                view[INTERACTS].edge_index
            edges.append(index)
            labels.append(torch.full((index.size(1),), label))
        edges, labels = torch.cat(edges, 1), torch.cat(labels)
        # A cold item's interactions all go to its own split, whatever split they had.
        item_role = role[edges[1]]
        labels = torch.where(item_role == TRAIN, labels, item_role)
        edges = torch.stack([edges[0], new_id[edges[1]]])
        train_index = edges[:, labels == TRAIN]
        has_train = torch.zeros(splits.num_users, dtype=torch.bool)
        has_train[train_index[0]] = True
        held_out = edges[0, labels != TRAIN].unique()
        dropped = int((~has_train[held_out]).sum())
        if dropped:
            log.warning("%s: cold-start split: %d users have no training interaction left; "
                        "they are dropped from evaluation", splits.name, dropped)

        views = []
        for label in (TRAIN, VALID, TEST):
            data = self._view(train, order, num_warm, role)
            data.eval_users_dropped = int(train.eval_users_dropped) + dropped
            data[INTERACTS].edge_index = train_index
            target = edges[:, labels == label]
            data[INTERACTS].edge_label_index = (target if label == TRAIN
                                                else target[:, has_train[target[0]]])
            views.append(data)
        return DataSplits(*views)

    @staticmethod
    def _view(train: HeteroData, order: Tensor, num_warm: int, role: Tensor) -> HeteroData:
        """A view's nodes, features and item-item graphs (the interactions are set apart)."""
        data = HeteroData()
        data.name = train.name
        data['user'].num_nodes = train['user'].num_nodes
        if 'raw_id' in train['user']:
            data['user'].raw_id = train['user'].raw_id
        warm, cold = order[:num_warm], order[num_warm:]
        data['item'].num_nodes = num_warm
        data[COLD_ITEM].num_nodes = cold.numel()
        data[COLD_ITEM].split = role[cold]
        num_items = order.numel()
        attributes = dict(train['item'].items())
        # The catalogue is reordered: an item keeps its id as its raw id.
        attributes.setdefault('raw_id', [str(i) for i in range(num_items)])
        for key, value in attributes.items():
            # Features, raw ids, texts: every per-item attribute moves with its items.
            if isinstance(value, Tensor) and value.dim() and value.size(0) == num_items:
                data['item'][key], data[COLD_ITEM][key] = value[warm], value[cold]
            elif isinstance(value, list) and len(value) == num_items:
                data['item'][key] = [value[i] for i in warm.tolist()]
                data[COLD_ITEM][key] = [value[i] for i in cold.tolist()]
        position = torch.full((num_items,), -1)
        position[warm] = torch.arange(num_warm)
        for edge_type in train.edge_types:
            src, _, dst = edge_type
            store = train[edge_type]
            if src != 'item' or dst != 'item' or COMPUTED_K in store:
                continue  # graphs computed from all items' features are recomputed later
            ends = position[store.edge_index]
            keep = (ends >= 0).all(0)  # the warm-warm edges of a graph the dataset ships
            data[edge_type].edge_index = ends[:, keep]
            data[edge_type].edge_weight = store.edge_weight[keep]
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(share={self.share}, seed={self.seed})'
