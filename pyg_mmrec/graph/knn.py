"""Item-item kNN graphs of modality features (chunked cosine top-:math:`k`), and the item-item
graphs of a :class:`~torch_geometric.data.HeteroData` (see :mod:`pyg_mmrec.schema`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_undirected

from pyg_mmrec import schema
from pyg_mmrec.errors import ConfigError, DataError

_NORMALIZATIONS = ('sym', 'none')


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"'k' must be an integer >= 1 (got {k!r})")


def _check_chunk_size(chunk_size: int) -> None:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"'chunk_size' must be an integer >= 1 (got {chunk_size!r})")


def _check_normalization(normalization: str) -> None:
    if normalization not in _NORMALIZATIONS:
        raise ConfigError(f"'normalization' must be one of {list(_NORMALIZATIONS)} "
                          f'(got {normalization!r})')


def check_knn_config(k: int, chunk_size: int = 1024, normalization: str = 'sym') -> None:
    r"""Checks the arguments of :func:`modality_graph`.

    Args:
        k (int): Neighbours per item, an integer :math:`\geq 1`.
        chunk_size (int): Rows of the similarity matrix computed at once, :math:`\geq 1`.
        normalization (str): ``'sym'`` or ``'none'``.

    Raises:
        ConfigError: If an argument is out of range.
    """
    _check_k(k)
    _check_chunk_size(chunk_size)
    _check_normalization(normalization)


def _l2_normalize_rows(x: Tensor) -> Tensor:
    r"""Scales every row of :obj:`x` to unit L2 norm; all-zero rows stay zero
    (so they have cosine similarity :math:`0` with every item, never NaN)."""
    norm = x.norm(p=2, dim=1, keepdim=True)
    # A zero row divided by a positive clamp stays exactly zero.
    return x / norm.clamp_min(torch.finfo(x.dtype).tiny)


def _similarity_block(x_rows: Tensor, x_all: Tensor) -> Tensor:
    r"""Returns the ``[len(x_rows), len(x_all)]`` block of cosine similarities
    between row-normalised features. This is the only place where similarity
    values are materialised; its row count is bounded by ``chunk_size``."""
    return x_rows @ x_all.t()


def knn_graph_from_features(
    x: Tensor,
    k: int,
    chunk_size: int = 1024,
) -> tuple[Tensor, Tensor]:
    r"""Computes the directed top-:math:`k` cosine-similarity graph of the rows
    of :obj:`x`, excluding self-matches.

    .. math::
        s_{ij} = \frac{\mathbf{x}_i^{\top} \mathbf{x}_j}
        {\| \mathbf{x}_i \|_2 \, \| \mathbf{x}_j \|_2}, \qquad
        \mathcal{N}_k(i) = \operatorname{top-}k_{\, j \neq i} \; s_{ij}

    Rows with zero norm have similarity :math:`0` with every row. Similarities
    are computed :obj:`chunk_size` rows at a time, so peak memory is
    :math:`O(N \cdot k + \textrm{chunk\_size} \cdot N)` on top of the
    (normalised) features: the dense :math:`N \times N` matrix is never built.

    Args:
        x (torch.Tensor): Feature matrix of shape :obj:`[N, d]` (finite values).
        k (int): Number of neighbours per row. Clamped to :obj:`N - 1`; for
            :obj:`N <= 1` an empty graph is returned.
        chunk_size (int, optional): Number of rows whose similarities are
            computed at once. (default: :obj:`1024`)

    Returns:
        (edge_index, value): :obj:`edge_index` is a :obj:`[2, N * k']` int64
        tensor with :obj:`k' = min(k, N - 1)`; column :obj:`e` is an edge from
        neighbour :obj:`edge_index[0, e] = j` to item
        :obj:`edge_index[1, e] = i` (item :obj:`i` aggregates from its
        neighbours), grouped by :obj:`i` in ascending order and, within a
        group, sorted by decreasing similarity. :obj:`value` holds the cosine
        similarities :math:`s_{ij}` (shape :obj:`[N * k']`).
    """
    _check_k(k)
    _check_chunk_size(chunk_size)
    if not isinstance(x, Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise DataError(f'Expected a 2-D feature tensor [num_items, dim] (got {shape})')
    if not x.is_floating_point():
        x = x.float()
    if not bool(torch.isfinite(x).all()):
        raise DataError('Feature tensor contains NaN or infinite values; expected finite values')

    num_nodes = x.size(0)
    k = min(k, num_nodes - 1)
    if k <= 0:
        empty = torch.empty(2, 0, dtype=torch.long, device=x.device)
        return empty, x.new_empty(0)

    x = _l2_normalize_rows(x)
    nbr_chunks: list[Tensor] = []
    val_chunks: list[Tensor] = []
    for start in range(0, num_nodes, chunk_size):
        end = min(start + chunk_size, num_nodes)
        sim = _similarity_block(x[start:end], x)
        rows = torch.arange(end - start, device=x.device)
        sim[rows, rows + start] = float('-inf')  # Exclude self-matches.
        val, nbr = sim.topk(k, dim=1, largest=True, sorted=True)
        del sim
        nbr_chunks.append(nbr)
        val_chunks.append(val)

    nbr = torch.cat(nbr_chunks, dim=0)  # [N, k]
    val = torch.cat(val_chunks, dim=0)
    target = torch.arange(num_nodes, device=x.device).repeat_interleave(k)
    edge_index = torch.stack([nbr.reshape(-1), target], dim=0)
    return edge_index, val.reshape(-1)


def content_profile(features: Mapping[str, Tensor]) -> Tensor:
    r"""The items' content profiles ``[N, \sum_m d_m]``: each modality's features
    row-normalised, concatenated in modality order and scaled by :math:`1/\sqrt{M}`, so that
    the inner product of two profiles is the mean over the :math:`M` modalities of their
    cosine similarities (a zero feature row contributes 0).

    Args:
        features (dict): Modality name to feature matrix ``[N, d_m]`` (at least one).
    """
    if not features:
        raise DataError("a content profile needs at least one modality's features")
    rows = [_l2_normalize_rows(features[m].float()) for m in sorted(features)]
    return torch.cat(rows, dim=1) / len(rows) ** 0.5


def knn_to_features(query: Tensor, base: Tensor, k: int, chunk_size: int = 1024
                    ) -> tuple[Tensor, Tensor]:
    r"""The top-:math:`k` inner-product neighbours among the rows of ``base`` of each row of
    ``query`` (two different sets of items, e.g. new items and training items, so no
    self-match is excluded): the graph from the catalogue ``base`` to the items ``query``.

    Memory is :math:`O(\textrm{chunk\_size} \cdot N_\text{base})` for the similarities.

    Args:
        query (Tensor): ``[Q, d]`` rows that aggregate (e.g. :func:`content_profile` of new
            items).
        base (Tensor): ``[N, d]`` rows to find neighbours among.
        k (int): Neighbours per query row, clamped to :math:`N`.
        chunk_size (int): Query rows handled at once.

    Returns:
        (edge_index, value): ``edge_index[0]`` the neighbour in ``base``, ``edge_index[1]``
        the query row (``[2, Q * k']``, grouped by query row, neighbours by decreasing
        similarity), ``value`` the inner products.
    """
    _check_k(k)
    _check_chunk_size(chunk_size)
    k = min(k, base.size(0))
    nbrs, vals = [], []
    for start in range(0, query.size(0), chunk_size):
        val, nbr = _similarity_block(query[start:start + chunk_size], base).topk(k, dim=1)
        nbrs.append(nbr)
        vals.append(val)
    nbr = torch.cat(nbrs) if nbrs else base.new_empty(0, k, dtype=torch.long)
    val = torch.cat(vals) if vals else base.new_empty(0, k)
    target = torch.arange(query.size(0), device=query.device).repeat_interleave(k)
    return torch.stack([nbr.reshape(-1), target]), val.reshape(-1)


def neighbour_mean(states: Tensor, edge_index: Tensor, edge_weight: Tensor, num: int
                   ) -> Tensor:
    r"""The similarity-weighted mean :math:`\sum_j s_{ij} \mathbf{x}_j / \sum_j s_{ij}` of
    the ``states`` ``[N, d]`` of each of ``num`` items' neighbours, over the graph
    ``edge_index`` (row 0 the neighbour, row 1 the item) with weights ``edge_weight``;
    negative similarities count as 0, and an item without a positive one gets zeros."""
    weight = edge_weight.clamp_min(0)
    total = states.new_zeros(num).index_add_(0, edge_index[1], weight)
    out = states.new_zeros(num, states.size(1)).index_add_(
        0, edge_index[1], states[edge_index[0]] * weight.unsqueeze(1))
    return out / total.clamp_min(torch.finfo(states.dtype).tiny).unsqueeze(1)


def modality_graph(x: Tensor, k: int, chunk_size: int = 1024,
                   normalization: str = 'sym') -> tuple[Tensor, Tensor]:
    r"""The symmetrised top-:math:`k` cosine graph of the rows of :obj:`x` with its edge
    weights, as :func:`add_modality_graphs` builds it for one modality: the union of
    :func:`knn_graph_from_features` and its reverse, weighted by
    :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}` (``'sym'``) or 1 (``'none'``).

    Args:
        x (Tensor): Features ``[N, d]``.
        k (int): Neighbours per item.
        chunk_size (int): Rows of the similarity matrix computed at once.
        normalization (str): ``'sym'`` or ``'none'``.
    """
    _check_normalization(normalization)
    num_items = x.size(0)
    edge_index, _ = knn_graph_from_features(x, k, chunk_size)
    edge_index = to_undirected(edge_index, num_nodes=num_items)
    weight_dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    if normalization == 'sym':
        return gcn_norm(edge_index, None, num_items, add_self_loops=False, dtype=weight_dtype)
    return edge_index, torch.ones(edge_index.size(1), dtype=weight_dtype,
                                  device=edge_index.device)


def _store_graph(data: HeteroData, modality: str, edge_index: Tensor, edge_weight: Tensor
                 ) -> None:
    """Writes a modality's item-item graph into ``data``, replacing any graph it had."""
    edge_type = schema.graph_type(modality)
    if edge_type in data.edge_types:
        del data[edge_type]
    data[edge_type].edge_index = edge_index
    data[edge_type].edge_weight = edge_weight


def add_modality_graphs(data: HeteroData, k: int = 10, modalities: Sequence[str] | None = None,
                        chunk_size: int = 1024, normalization: str = 'sym') -> HeteroData:
    r"""Stores the :func:`modality_graph` of each modality's features
    ``data['item'].x_<m>`` in ``data`` as edge type ``('item', 'knn_<m>', 'item')``, in place
    (what :class:`~pyg_mmrec.transforms.ModalityKNNGraph` runs). The graphs replace any the
    data had for these modalities and count as the dataset's own (models use them whatever
    their ``knn_k``). If ``data['item'].num_nodes`` is not set, it is set to the number of
    feature rows.

    Args:
        data (HeteroData): The data, with ``'item'`` nodes.
        k (int): Neighbours per item. (default: :obj:`10`)
        modalities (list[str], optional): The modalities; :obj:`None` takes every modality
            with features. (default: :obj:`None`)
        chunk_size (int): Rows of the similarity matrix computed at once.
            (default: :obj:`1024`)
        normalization (str): ``'sym'`` or ``'none'`` (see :func:`modality_graph`).
            (default: :obj:`'sym'`)

    Returns:
        The same ``data``.

    Raises:
        ConfigError: On a bad ``k``, ``chunk_size`` or ``normalization``.
        DataError: If ``data`` is not a :class:`HeteroData` with ``'item'`` nodes, has no (or
            not the named) feature matrices, or a feature matrix is not 2-D, has a row count
            other than ``num_nodes``, or holds NaN or infinite values.
    """
    check_knn_config(k, chunk_size, normalization)
    if not isinstance(data, HeteroData):
        raise DataError(f'Expected a HeteroData object (got {type(data).__name__})')
    if 'item' not in data.node_types:
        raise DataError(f"Expected node type 'item' in the data "
                        f'(found node types {data.node_types})')

    available = schema.modalities(data)
    if modalities is None:
        if not available:
            raise DataError("No modality features found: expected at least one "
                            "'x_<modality>' tensor on data['item']")
        modalities = available
    for name in modalities:
        if name not in available:
            raise DataError(f"Unknown modality {name!r}: data['item'] has no attribute "
                            f"'{schema.feature_key(name)}' (available modalities: {available})")

    store = data['item']
    num_items = store['num_nodes'] if 'num_nodes' in store else None
    for name in modalities:
        attr = schema.feature_key(name)
        x = store[attr]
        if x.dim() != 2:
            raise DataError(f"data['item'].{attr} must be a 2-D tensor [num_items, dim] "
                            f'(got shape {tuple(x.shape)})')
        if num_items is None:
            num_items = x.size(0)
        elif x.size(0) != num_items:
            raise DataError(f"data['item'].{attr} has {x.size(0)} rows; expected "
                            f'{num_items} (the number of items)')
        if not bool(torch.isfinite(x).all()):
            raise DataError(f"data['item'].{attr} contains NaN or infinite values; "
                            'expected finite features')
        _store_graph(data, name, *modality_graph(x, k, chunk_size, normalization))

    if 'num_nodes' not in store:
        store.num_nodes = num_items
    return data


def ensure_modality_graphs(data: HeteroData, k: int) -> list[str]:
    r"""Makes sure that ``data`` holds the frozen item-item graph of every modality with
    features, as a model with ``k`` neighbours per item uses it (what
    :meth:`~pyg_mmrec.nn.models.Recommender.from_data` runs for LATTICE, VLATTICE and
    FREEDOM): a graph the dataset ships is kept as it is; otherwise the :func:`modality_graph`
    of the features with ``k`` (symmetric-normalised) is computed and stored, marked with
    ``k`` (:data:`~pyg_mmrec.schema.COMPUTED_K`), unless an earlier call already computed it
    with the same ``k``. Marked graphs are a cache of the features:
    :func:`~pyg_mmrec.schema.graph_modalities` does not list them, so models built later on
    the same data see the same dataset.

    Args:
        data (HeteroData): The data.
        k (int): Neighbours per item.

    Returns:
        The modalities whose graph was computed by this call.
    """
    shipped = schema.graph_modalities(data)
    missing = [m for m in schema.modalities(data)
               if m not in shipped and schema.computed_k(data, m) != k]
    if missing:
        add_modality_graphs(data, k, missing)
        for m in missing:
            data[schema.graph_type(m)][schema.COMPUTED_K] = k
    return missing


def item_graph_of(data: HeteroData, modality: str, k: int) -> tuple[Tensor, Tensor]:
    r"""The frozen item-item graph ``(edge_index, edge_weight)`` of ``modality`` that a model
    with ``k`` neighbours per item propagates over: ``data``'s
    ``('item', 'knn_<modality>', 'item')`` graph, either the dataset's own (whatever ``k``) or
    one that :func:`ensure_modality_graphs` computed with this ``k``. Nothing is computed here.

    Args:
        data (HeteroData): The data.
        modality (str): The modality.
        k (int): The model's neighbours per item (``knn_k``).

    Raises:
        DataError: If ``data`` has no such graph, or only one computed with another ``k``.
    """
    edge_type = schema.graph_type(modality)
    if edge_type not in data.edge_types:
        raise DataError(f"the data has no item-item graph {edge_type} of modality "
                        f"{modality!r}: build the model with from_data(data, ...), which "
                        f"computes it from the features, or apply ModalityKNNGraph(k={k}) "
                        f"to the data")
    computed = schema.computed_k(data, modality)
    if computed is not None and computed != k:
        raise DataError(f"the item-item graph {edge_type} in the data was computed with "
                        f"k={computed} (for another model built on this data), but this "
                        f"model has knn_k={k}: recompute it with "
                        f"pyg_mmrec.graph.ensure_modality_graphs(data, k={k}), or apply "
                        f"ModalityKNNGraph(k={k}) to the data")
    store = data[edge_type]
    return store.edge_index, store.edge_weight
