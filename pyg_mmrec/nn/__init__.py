"""Neural-network building blocks: message-passing layers, encoders and models."""
from pyg_mmrec.nn import conv, models
from pyg_mmrec.nn.modality_encoder import ModalityEncoder

__all__ = ['ModalityEncoder', 'conv', 'models']
