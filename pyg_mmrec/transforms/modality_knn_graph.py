"""The PyG transform adding item-item kNN graphs of the modality features (built by
:func:`~pyg_mmrec.graph.add_modality_graphs`)."""

from __future__ import annotations

from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from pyg_mmrec import schema
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.graph import add_modality_graphs, check_knn_config


class ModalityKNNGraph(BaseTransform):
    r"""Builds one item-item :math:`k`-nearest-neighbour graph per modality
    from the item features, as in the `"Mining Latent Structures for
    Multimedia Recommendation" <https://arxiv.org/abs/2104.09036>`_ paper
    (LATTICE, Zhang et al., ACM MM 2021).

    For every modality :math:`m` with features ``data['item'].x_<m>``, the
    cosine similarity between items :math:`i` and :math:`j` and the
    neighbourhood of :math:`i` are

    .. math::
        s^m_{ij} = \frac{(\mathbf{x}^m_i)^{\top} \mathbf{x}^m_j}
        {\| \mathbf{x}^m_i \|_2 \, \| \mathbf{x}^m_j \|_2}, \qquad
        \mathcal{N}^m_k(i) = \operatorname{top-}k_{\, j \neq i} \; s^m_{ij}.

    The binary kNN adjacency is symmetrised (the union of both directions)

    .. math::
        \mathbf{A}^m_{ij} = \mathbb{1}\left[ j \in \mathcal{N}^m_k(i)
        \lor i \in \mathcal{N}^m_k(j) \right]

    and, with :obj:`normalization="sym"`, weighted by the symmetric
    normalisation

    .. math::
        \hat{\mathbf{A}}^m = \mathbf{D}^{-1/2} \mathbf{A}^m \mathbf{D}^{-1/2},
        \qquad \mathbf{D}_{ii} = \sum_j \mathbf{A}^m_{ij},

    without self-loops. Using the *binary* kNN adjacency before the
    normalisation (rather than the similarity values) follows the common
    public practice of LATTICE and FREEDOM. With :obj:`normalization="none"`
    every edge has weight :math:`1`.

    The result is stored as edge type :obj:`('item', 'knn_<m>', 'item')` with
    :obj:`edge_index` (int64, :obj:`[2, E]`, coalesced) and :obj:`edge_weight`.
    Edges run from neighbour :math:`j` (row 0, source) to item :math:`i`
    (row 1, target), so that item :math:`i` aggregates from its neighbours;
    since the graph is symmetric, every edge also appears reversed. Every item
    has at least :math:`\min(k, N - 1)` neighbours. If
    :obj:`data['item'].num_nodes` is not set, it is set to the number of
    feature rows.

    Similarities are computed :obj:`chunk_size` rows at a time (see
    :func:`~pyg_mmrec.graph.knn_graph_from_features`), so memory is
    :math:`O(N \cdot k + \textrm{chunk\_size} \cdot N)` and the dense
    :math:`N \times N` matrix is never built. Items whose features are all
    zero have similarity :math:`0` with every item (their neighbours are then
    an arbitrary tie-break), never NaN.

    Args:
        k (int, optional): Number of nearest neighbours per item. Clamped to
            :obj:`num_items - 1`; a single item yields an empty graph.
            (default: :obj:`10`)
        modalities (list[str], optional): Modality names :obj:`m` whose
            features ``data['item'].x_<m>`` are used. If :obj:`None`, every
            :obj:`x_*` attribute of :obj:`data['item']` is used.
            (default: :obj:`None`)
        chunk_size (int, optional): Number of items whose similarity rows are
            computed at once. (default: :obj:`1024`)
        normalization (str, optional): Edge weighting, :obj:`"sym"`
            (:math:`\mathbf{D}^{-1/2} \mathbf{A} \mathbf{D}^{-1/2}`) or
            :obj:`"none"` (all ones). (default: :obj:`"sym"`)
    """
    def __init__(
        self,
        k: int = 10,
        modalities: list[str] | None = None,
        chunk_size: int = 1024,
        normalization: str = 'sym',
    ) -> None:
        check_knn_config(k, chunk_size, normalization)
        if modalities is not None:
            if isinstance(modalities, str):
                modalities = [modalities]
            modalities = list(modalities)
            if len(modalities) == 0:
                raise ConfigError("'modalities' must be None or a non-empty list of names")
            for name in modalities:
                if not isinstance(name, str) or not name:
                    raise ConfigError(f"'modalities' must contain non-empty strings "
                                      f'(got {name!r})')
            modalities = list(dict.fromkeys(modalities))  # Drop duplicates, keep order.
        self.k = k
        self.modalities = modalities
        self.chunk_size = chunk_size
        self.normalization = normalization

    @staticmethod
    def available_modalities(data: HeteroData) -> list[str]:
        r"""Returns the names :obj:`m` of all ``x_<m>`` tensors on
        :obj:`data['item']` (see :func:`~pyg_mmrec.schema.modalities`)."""
        return schema.modalities(data)

    def forward(self, data: HeteroData) -> HeteroData:
        return add_modality_graphs(data, self.k, self.modalities, self.chunk_size,
                                   self.normalization)

    def __repr__(self) -> str:
        args = [f'k={self.k}']
        if self.modalities is not None:
            args.append(f'modalities={self.modalities}')
        if self.normalization != 'sym':
            args.append(f'normalization={self.normalization!r}')
        return f'{self.__class__.__name__}({", ".join(args)})'
