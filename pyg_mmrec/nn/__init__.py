"""Neural-network building blocks: message-passing layers, encoders, shared mechanisms and
models."""
from pyg_mmrec.nn import conv, models
from pyg_mmrec.nn.bootstrap import Bootstrap
from pyg_mmrec.nn.edge_pruning import DegreeSensitivePruning, degree_sensitive_dropout_edge
from pyg_mmrec.nn.latent_item_graph import LatentItemGraph
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.modality_item_graphs import ModalityItemGraphs

__all__ = ['Bootstrap', 'DegreeSensitivePruning', 'LatentItemGraph', 'ModalityEncoder',
           'ModalityItemGraphs', 'conv',
           'degree_sensitive_dropout_edge', 'models']
