"""Graph builders shared by the data, transforms, layers and models: item-item kNN graphs of
modality features, the normalised user-item adjacency, the user-user co-occurrence graph and
the fusion of weighted item-item graphs. They depend only on :mod:`pyg_mmrec.schema`,
:mod:`pyg_mmrec.errors`, :mod:`pyg_mmrec.utils` (its sparse-tensor warning filter), PyTorch
and PyG."""
from pyg_mmrec.graph.adjacency import user_item_adjacency, user_item_edge_index
from pyg_mmrec.graph.cooccurrence import user_cooccurrence_graph
from pyg_mmrec.graph.fusion import fuse_item_graphs
from pyg_mmrec.graph.knn import (
    add_modality_graphs,
    check_knn_config,
    content_profile,
    ensure_modality_graphs,
    item_graph_of,
    knn_graph_from_features,
    knn_to_features,
    modality_graph,
    neighbour_mean,
)

__all__ = [
    'add_modality_graphs',
    'check_knn_config',
    'content_profile',
    'ensure_modality_graphs',
    'fuse_item_graphs',
    'item_graph_of',
    'knn_graph_from_features',
    'knn_to_features',
    'modality_graph',
    'neighbour_mean',
    'user_cooccurrence_graph',
    'user_item_adjacency',
    'user_item_edge_index',
]
