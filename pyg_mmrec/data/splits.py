"""Train / validation / test views of a recommendation dataset as :class:`HeteroData`.

Every reader of :mod:`pyg_mmrec.data` ends in :func:`from_arrays`, which validates the arrays
and builds three views that follow PyG's link-prediction convention:

* ``data['user', 'interacts', 'item'].edge_index`` holds the **training** interactions in
  every view (the message-passing graph), row 0 = user id, row 1 = item id;
* ``data['user', 'interacts', 'item'].edge_label_index`` holds the interactions to predict
  in that view (training edges in ``train``, validation edges in ``val``, test edges in
  ``test``);
* modality features are ``data['item'].x_<modality>`` (one float matrix per modality);
* item-item graphs are edge types ``('item', 'knn_<modality>', 'item')`` with
  ``edge_index`` and ``edge_weight``.

These names are defined in :mod:`pyg_mmrec.schema` (and re-exported by :mod:`pyg_mmrec.data`).

The feature matrices and graphs are shared (not copied) between the three views.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import DataError
from pyg_mmrec.schema import (
    COLD_ITEM,
    INTERACTS,
    SPLIT_NAMES,
    feature_key,
    graph_modalities,
    graph_type,
    modalities,
)

log = logging.getLogger(__name__)

TRAIN, VALID, TEST = 0, 1, 2


class DataSplits(NamedTuple):
    """The three views of a dataset; unpacks as ``train, val, test = splits``."""
    train: HeteroData
    val: HeteroData
    test: HeteroData

    @property
    def num_users(self) -> int:
        return self.train['user'].num_nodes

    @property
    def num_items(self) -> int:
        """The catalogue's size: the training items, then the cold items, if any."""
        return self.num_warm_items + self.num_cold_items

    @property
    def num_warm_items(self) -> int:
        """The items training sees (ids ``0 .. num_warm_items - 1`` of the catalogue)."""
        return self.train['item'].num_nodes

    @property
    def num_cold_items(self) -> int:
        """The items held out of training by the cold-start protocol (the catalogue's last
        ids; see :class:`~pyg_mmrec.transforms.ColdStartSplit`); 0 without it."""
        return self.train[COLD_ITEM].num_nodes if COLD_ITEM in self.train.node_types else 0

    @property
    def name(self) -> str:
        return self.train.name

    def view(self, split: str) -> HeteroData:
        """The view called ``split`` (``'train'``, ``'val'`` or ``'test'``)."""
        if split not in SPLIT_NAMES:
            raise DataError(f"unknown split {split!r}; expected one of {SPLIT_NAMES}")
        return getattr(self, split)

    def summary(self) -> dict:
        """Users, items, interactions per split, modalities and graphs, as a dict."""
        out = {
            'name': self.name,
            'users': self.num_users,
            'items': self.num_items,
        }
        for split in SPLIT_NAMES:
            out[f'{split}_interactions'] = int(self.view(split)[INTERACTS].edge_label_index.size(1))
        item = self.train['item']
        out['modalities'] = {m: int(item[feature_key(m)].size(1)) for m in modalities(self.train)}
        out['graphs'] = {m: int(self.train[graph_type(m)].edge_index.size(1))
                         for m in graph_modalities(self.train)}
        out['eval_users_dropped'] = int(self.train.eval_users_dropped)
        if self.num_cold_items:
            out['cold_items'] = self.num_cold_items
        return out


#: How many times more ids than distinct ids interact :func:`from_arrays` accepts (plus
#: 2**20): beyond it the ids are taken for raw ids that need remapping, not row numbers.
SPARSE_IDS = 16


def _as_index_array(values, field: str, source: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise DataError(f"{source}: {field} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == 'f':
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{source}: {field}[{i}] = {arr[i].item()!r} is not an integer id")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in 'iu':
        raise DataError(f"{source}: {field} must hold integer ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        i = int(np.flatnonzero(arr < 0)[0])
        raise DataError(f"{source}: {field}[{i}] = {arr[i]} is negative; ids start at 0")
    return arr


def _check_features(name: str, feat, num_items: int, source: str) -> Tensor:
    if not isinstance(feat, Tensor):
        feat = np.asarray(feat)
        if feat.dtype.kind not in 'biuf':
            raise DataError(f"{source}: features of modality {name!r} must be real numbers, "
                            f"got dtype {feat.dtype}")
    feat = torch.as_tensor(feat)
    if feat.is_complex():
        raise DataError(f"{source}: features of modality {name!r} must be real numbers, "
                        f"got dtype {feat.dtype}")
    if feat.dim() != 2:
        raise DataError(f"{source}: features of modality {name!r} must be a 2-D "
                        f"[num_items, dim] matrix, got shape {tuple(feat.shape)}")
    if feat.size(0) != num_items:
        raise DataError(f"{source}: features of modality {name!r} have {feat.size(0)} rows, "
                        f"expected one per item ({num_items})")
    if feat.size(1) == 0:
        raise DataError(f"{source}: features of modality {name!r} have 0 columns; expected "
                        f"a [num_items, dim] matrix with dim >= 1 (or leave the modality out)")
    feat = feat.float()  # checked after the cast: float64 1e300 becomes inf in float32
    finite = torch.isfinite(feat)
    if not bool(finite.all()):
        row = int((~finite).any(dim=1).nonzero()[0])
        raise DataError(f"{source}: features of modality {name!r} contain NaN or inf, or "
                        f"values beyond the float32 range (first at item {row})")
    return feat


def _check_graph(name: str, graph, num_items: int, source: str) -> tuple[Tensor, Tensor]:
    if not isinstance(graph, Mapping) or 'edge_index' not in graph:
        raise DataError(f"{source}: graph of modality {name!r} must provide 'edge_index' "
                        f"(and optionally 'edge_weight')")
    edge_index = torch.as_tensor(np.asarray(graph['edge_index']))
    if edge_index.dim() != 2 or edge_index.size(0) != 2 or edge_index.is_floating_point():
        raise DataError(f"{source}: graph {name!r} edge_index must be an integer [2, E] array, "
                        f"got {edge_index.dtype} of shape {tuple(edge_index.shape)}")
    edge_index = edge_index.long()
    if edge_index.numel() and (edge_index.min() < 0 or edge_index.max() >= num_items):
        raise DataError(f"{source}: graph {name!r} has item ids outside [0, {num_items}) "
                        f"(min {int(edge_index.min())}, max {int(edge_index.max())})")
    weight = graph.get('edge_weight')
    if weight is None:
        weight = torch.ones(edge_index.size(1))
    weight = torch.as_tensor(np.asarray(weight))
    if weight.is_complex() or weight.dtype == torch.bool:
        raise DataError(f"{source}: graph {name!r} edge_weight must be real numbers, got "
                        f"{weight.dtype}")
    weight = weight.float()
    if weight.shape != (edge_index.size(1), ):
        raise DataError(f"{source}: graph {name!r} edge_weight has shape {tuple(weight.shape)}, "
                        f"expected ({edge_index.size(1)},)")
    if not bool(torch.isfinite(weight).all()):
        raise DataError(f"{source}: graph {name!r} edge_weight contains NaN or inf, or values "
                        f"beyond the float32 range")
    degree = torch.zeros(num_items).index_add_(0, edge_index[0], weight.abs())
    if not bool(torch.isfinite(degree).all()):
        i = int((~torch.isfinite(degree)).nonzero()[0])
        raise DataError(f"{source}: graph {name!r}: the edge weights of item {i} sum beyond "
                        f"the float32 range; rescale the weights (e.g. to [0, 1])")
    return edge_index, weight


def from_arrays(
    user: np.ndarray,
    item: np.ndarray,
    split: np.ndarray,
    num_users: int | None = None,
    num_items: int | None = None,
    features: Mapping[str, np.ndarray | Tensor] | None = None,
    graphs: Mapping[str, Mapping] | None = None,
    name: str = 'in-memory',
    source: str | None = None,
    line_offset: int | None = None,
    sources: Mapping[str, str] | None = None,
) -> DataSplits:
    r"""Builds the train / validation / test views from interaction arrays.

    Args:
        user (array): User id of each interaction (integers from 0).
        item (array): Item id of each interaction (integers from 0).
        split (array): Split of each interaction: 0 = train, 1 = validation, 2 = test
            (MMRec's ``x_label``).
        num_users (int, optional): Number of users; defaults to ``max(user) + 1``.
        num_items (int, optional): Number of items; defaults to the number of feature rows or
            graph nodes when given, else ``max(item) + 1``.
        features (dict, optional): Modality name to ``[num_items, dim]`` feature matrix.
        graphs (dict, optional): Modality name to a precomputed item-item graph, a mapping
            with ``edge_index`` ``[2, E]`` and optional ``edge_weight`` ``[E]``.
        name (str): Dataset name stored as ``data.name``.
        source (str, optional): What to name in error messages (a file path); defaults to
            ``name``.
        line_offset (int, optional): When the arrays come from a text file, the line number of
            the first interaction; errors then name file lines instead of array positions.
        sources (dict, optional): Where each feature matrix or graph came from, keyed
            ``'x_<m>'`` or ``'knn_<m>'`` (e.g. a file path), to name in errors about it.

    Raises:
        DataError: On negative or non-integer ids, ids beyond ``num_users`` / ``num_items``,
            NaN or inf features, wrongly shaped features or graphs, duplicate interactions,
            unknown split labels or an empty split.
    """
    source = source or name
    features = dict(features or {})
    graphs = dict(graphs or {})

    def where(i: int) -> str:
        return f"line {i + line_offset}" if line_offset is not None else f"interaction {i}"

    user = _as_index_array(user, 'user', source)
    item = _as_index_array(item, 'item', source)
    split = _as_index_array(split, 'split label', source)
    if not (len(user) == len(item) == len(split)):
        raise DataError(f"{source}: user, item and split arrays differ in length "
                        f"({len(user)}, {len(item)}, {len(split)})")
    if len(user) == 0:
        raise DataError(f"{source}: no interactions")
    bad = np.flatnonzero(split > TEST)
    if bad.size:
        raise DataError(f"{source}: {where(int(bad[0]))}: split label {split[bad[0]]} is not "
                        f"0 (train), 1 (validation) or 2 (test)")

    sources = dict(sources or {})
    graph_sizes = {}
    for m, g in graphs.items():
        if isinstance(g, Mapping) and 'num_items' in g:
            n = np.asarray(g['num_items'])
            if n.ndim != 0 or n.dtype.kind not in 'iu':
                raise DataError(f"{sources.get(f'knn_{m}', source)}: num_items of graph {m!r} "
                                f"must be a single integer, got {g['num_items']!r}")
            graph_sizes[m] = int(n)
    if num_items is None:
        sizes = [len(f) for f in features.values()] + list(graph_sizes.values())
        num_items = max(sizes) if sizes else int(item.max()) + 1
    for field, size in (('num_users', num_users), ('num_items', num_items)):
        if size is not None and (isinstance(size, bool) or not isinstance(size, int | np.integer)
                                 or size < 1):
            raise DataError(f"{source}: {field} must be a positive integer, got {size!r}")
    num_users = int(user.max()) + 1 if num_users is None else int(num_users)
    for field, ids, bound in (('user', user, num_users), ('item', item, num_items)):
        over = np.flatnonzero(ids >= bound)
        if over.size:
            i = int(over[0])
            what = 'feature rows / graph nodes' if field == 'item' and (
                features or graphs) else f'{field}s'
            raise DataError(f"{source}: {where(i)}: {field} id {ids[i]} is out of range; "
                            f"there are {bound} {what}")
    for field, ids in (('user', user), ('item', item)):
        if field == 'item' and (features or graph_sizes):
            continue  # the catalogue is the feature rows / graph nodes, held in memory already
        distinct = len(np.unique(ids))
        if int(ids.max()) >= SPARSE_IDS * distinct + 2**20:  # a row per id would not fit
            raise DataError(f"{source}: {field} ids go up to {int(ids.max())} but only "
                            f"{distinct} distinct {field}s interact; remap the ids to "
                            f"0..{distinct - 1} (every id up to the largest gets an embedding "
                            f"row)")

    key = user * num_items + item
    order = np.argsort(key, kind='stable')
    dup = np.flatnonzero(key[order][1:] == key[order][:-1])
    if dup.size:
        first, second = int(order[dup[0]]), int(order[dup[0] + 1])
        raise DataError(f"{source}: duplicate interaction (user {user[second]}, item "
                        f"{item[second]}) at {where(second)}, first seen at {where(first)}")
    for label, split_name in enumerate(SPLIT_NAMES):
        if not (split == label).any():
            raise DataError(f"{source}: the {split_name} split is empty")

    feats = {m: _check_features(m, f, num_items, sources.get(feature_key(m), source))
             for m, f in features.items()}
    knn = {}
    for m, g in graphs.items():
        where = sources.get(f'knn_{m}', source)
        if graph_sizes.get(m, num_items) != num_items:
            raise DataError(f"{where}: graph {m!r} has num_items={graph_sizes[m]}, expected "
                            f"{num_items} (the most feature rows / graph nodes)")
        knn[m] = _check_graph(m, g, num_items, where)

    edges = torch.from_numpy(np.stack([user, item]))
    split_t = torch.from_numpy(split)
    train_index = edges[:, split_t == TRAIN]
    has_train = torch.zeros(num_users, dtype=torch.bool)
    has_train[train_index[0]] = True
    held_out_users = edges[0, split_t != TRAIN].unique()
    dropped = int((~has_train[held_out_users]).sum())
    if dropped:
        log.warning("%s: %d users have validation/test interactions but no training "
                    "interaction; they are dropped from evaluation", source, dropped)

    views = []
    for label in (TRAIN, VALID, TEST):
        data = HeteroData()
        data.name = name
        data.eval_users_dropped = dropped
        data['user'].num_nodes = num_users
        data['item'].num_nodes = num_items
        for m, f in feats.items():
            data['item'][feature_key(m)] = f
        for m, (ei, ew) in knn.items():
            data[graph_type(m)].edge_index = ei
            data[graph_type(m)].edge_weight = ew
        data[INTERACTS].edge_index = train_index
        label_index = edges[:, split_t == label]
        if label != TRAIN:
            # Users without training history cannot be ranked meaningfully: drop them.
            label_index = label_index[:, has_train[label_index[0]]]
        data[INTERACTS].edge_label_index = label_index
        views.append(data)
    return DataSplits(*views)


def split_per_user(
    user: np.ndarray,
    num_users: int,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    order: np.ndarray | None = None,
    rule: str = 'floor',
) -> np.ndarray:
    r"""Assigns each interaction a split label (0 train, 1 validation, 2 test) per user.

    Each user's interactions are shuffled with ``seed`` (or sorted by ``order``, e.g. a
    timestamp, for a temporal split), and the last ones of a user's :math:`n_u` go to
    validation, then test. Users with :math:`n_u < 3` keep them all in training; otherwise,
    with the ``rule``

    * ``'floor'``: validation and test each take
      :math:`\max(1, \lfloor r \cdot n_u \rfloor)` (:math:`r` their ratio);
    * ``'mmrec'``, MMRec's (``preprocessing/1splitting.ipynb``): a user with
      :math:`n_u < 10` gives one interaction to each; otherwise validation and test together
      take :math:`m = \lfloor (r_v + r_t)\, n_u \rfloor`, validation
      :math:`\lfloor m\, r_v / (r_v + r_t) \rfloor` of them (with 8:1:1,
      :math:`\lfloor m / 2 \rfloor`) and test the rest.

    Args:
        user (array): User id of each interaction.
        num_users (int): Number of users.
        ratios (tuple): Train, validation and test ratios (must sum to 1).
        seed (int): Seed of the shuffle.
        order (array, optional): Sort key per interaction; the latest go to test.
        rule (str): ``'floor'`` or ``'mmrec'`` (see above).
    """
    if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1) > 1e-6:
        raise DataError(f"split ratios must be three non-negative numbers summing to 1, "
                        f"got {ratios}")
    if rule not in ('floor', 'mmrec'):
        raise DataError(f"split rule {rule!r}: expected 'floor' or 'mmrec'")
    rng = np.random.default_rng(seed)
    key = rng.random(len(user)) if order is None else np.asarray(order, dtype=np.float64)
    perm = np.lexsort((key, user))  # grouped by user, then by key
    counts = np.bincount(user, minlength=num_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(user)) - np.repeat(starts, counts)  # position within the user
    n = counts[user[perm]]
    if rule == 'floor':
        n_val = np.maximum(1, np.floor(ratios[1] * n))
        n_test = np.maximum(1, np.floor(ratios[2] * n))
    else:
        held = ratios[1] + ratios[2]
        n_held = np.floor(held * n)
        n_val = np.where(n < 10, 1, np.floor(n_held * (ratios[1] / held if held else 0)))
        n_test = np.where(n < 10, 1, n_held - n_val)
    n_val = np.where(n >= 3, n_val, 0).astype(np.int64)
    n_test = np.where(n >= 3, n_test, 0).astype(np.int64)
    labels = np.zeros(len(user), dtype=np.int64)
    labels[perm] = np.where(rank >= n - n_test, TEST,
                            np.where(rank >= n - n_test - n_val, VALID, TRAIN))
    return labels
