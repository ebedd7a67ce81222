"""PyG transforms for multimodal recommendation data."""

from .encode_text import EncodeText, minilm_encoder
from .modality_knn_graph import ModalityKNNGraph, knn_graph_from_features, modality_graph

__all__ = [
    'EncodeText',
    'ModalityKNNGraph',
    'knn_graph_from_features',
    'minilm_encoder',
    'modality_graph',
]
