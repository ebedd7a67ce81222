"""PyG transforms for multimodal recommendation data."""

from .modality_knn_graph import ModalityKNNGraph, knn_graph_from_features

__all__ = [
    'ModalityKNNGraph',
    'knn_graph_from_features',
]
