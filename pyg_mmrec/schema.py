r"""The names under which a dataset's parts live in a :class:`~torch_geometric.data.HeteroData`.

* ``data['user', 'interacts', 'item']`` (:data:`INTERACTS`) holds the user-item interactions;
* ``data['item'].x_<modality>`` (:func:`feature_key`) holds one float feature matrix per
  modality;
* ``data['item', 'knn_<modality>', 'item']`` (:func:`graph_type`) holds one item-item graph per
  modality, with ``edge_index`` and ``edge_weight``. A graph the dataset ships (read from its
  files, or added by :class:`~pyg_mmrec.transforms.ModalityKNNGraph`) is used as given. A graph
  that the library computed from the features for a model (see
  :func:`~pyg_mmrec.graph.ensure_modality_graphs`) records the :math:`k` it was computed with
  under :data:`COMPUTED_K` on its edge store: it is a cache of the features, not part of the
  dataset, so :func:`graph_modalities` leaves it out and :func:`set_features` drops it.

This module imports nothing else from :mod:`pyg_mmrec` but its exceptions, so that every part
of the library can use it.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import DataError

INTERACTS = ('user', 'interacts', 'item')
SPLIT_NAMES = ('train', 'val', 'test')
#: The node type of the items held out of training by the cold-start protocol
#: (:class:`~pyg_mmrec.transforms.ColdStartSplit`): their features ``x_<modality>`` and the
#: split (1 validation, 2 test) whose targets hold their interactions.
COLD_ITEM = 'cold_item'
#: The edge-store attribute holding the :math:`k` of an item-item graph the library computed.
COMPUTED_K = 'computed_k'

_FEATURE_PREFIX = 'x_'
_GRAPH_PREFIX = 'knn_'


def feature_key(modality: str) -> str:
    """The item attribute holding a modality's features, e.g. ``'x_image'``."""
    return f'{_FEATURE_PREFIX}{modality}'


def graph_type(modality: str) -> tuple[str, str, str]:
    """The edge type of a modality's item-item graph, e.g. ``('item', 'knn_image', 'item')``."""
    return ('item', f'{_GRAPH_PREFIX}{modality}', 'item')


def modalities(data: HeteroData) -> list[str]:
    """Names of the modalities with feature matrices (``x_<modality>`` tensors) on
    ``data['item']``, sorted."""
    if 'item' not in data.node_types:
        return []
    store = data['item']
    return sorted(key[len(_FEATURE_PREFIX):] for key in store.keys()
                  if key.startswith(_FEATURE_PREFIX) and len(key) > len(_FEATURE_PREFIX)
                  and isinstance(store[key], Tensor))


def check_modalities(data: HeteroData, wanted: Sequence[str], owner: str) -> None:
    """Raises a :class:`~pyg_mmrec.errors.DataError` naming ``owner`` (e.g. a transform) if
    ``data`` lacks a feature matrix for one of the modalities ``wanted``."""
    available = modalities(data)
    if missing := [m for m in wanted if m not in available]:
        raise DataError(f"{owner}: dataset {getattr(data, 'name', '?')!r} has no feature "
                        f"matrix for modalities {missing}; it has {available}")


def graph_modalities(data: HeteroData) -> list[str]:
    """Names of the modalities with an item-item graph that the dataset ships, sorted; graphs
    the library computed from the features (marked with :data:`COMPUTED_K`) are left out."""
    return sorted(rel[len(_GRAPH_PREFIX):] for src, rel, dst in data.edge_types
                  if src == dst == 'item' and rel.startswith(_GRAPH_PREFIX)
                  and COMPUTED_K not in data[src, rel, dst])


def computed_k(data: HeteroData, modality: str) -> int | None:
    """The :math:`k` with which the library computed ``modality``'s item-item graph in
    ``data``, or :obj:`None` if ``data`` has no such graph or ships its own."""
    if graph_type(modality) not in data.edge_types:
        return None
    return data[graph_type(modality)].get(COMPUTED_K)


def cold_features(data: HeteroData) -> dict[str, Tensor]:
    """The feature matrices of the cold items of ``data`` (:data:`COLD_ITEM`) by modality;
    empty for a dataset without cold items."""
    if COLD_ITEM not in data.node_types:
        return {}
    store = data[COLD_ITEM]
    return {m: store[feature_key(m)] for m in modalities(data)}


def set_features(data: HeteroData, modality: str, x: Tensor) -> None:
    """Stores ``x`` as ``modality``'s feature matrix on ``data['item']``, dropping the
    item-item graph the library computed from the previous features, if any (a graph the
    dataset ships stays)."""
    data['item'][feature_key(modality)] = x
    if computed_k(data, modality) is not None:
        del data[graph_type(modality)]
