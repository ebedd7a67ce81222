"""PyG transforms for multimodal recommendation data."""

from pyg_mmrec.graph import item_graph_of, knn_graph_from_features, modality_graph

from .cold_start import ColdStartSplit
from .encode_text import EncodeText, minilm_encoder
from .feature_noise import FeatureNoise
from .feature_perturbation import FeaturePerturbation
from .feature_redundancy import FeatureRedundancy
from .mask_features import MaskFeatures
from .modality_knn_graph import ModalityKNNGraph
from .select_modalities import SelectModalities
from .text_redundancy import TextRedundancy

__all__ = [
    'ColdStartSplit',
    'EncodeText',
    'FeatureNoise',
    'FeaturePerturbation',
    'FeatureRedundancy',
    'MaskFeatures',
    'ModalityKNNGraph',
    'SelectModalities',
    'TextRedundancy',
    'item_graph_of',
    'knn_graph_from_features',
    'minilm_encoder',
    'modality_graph',
]
