"""Neural-network building blocks: message-passing layers and recommendation models."""
from pyg_mmrec.nn import conv, models

__all__ = ['conv', 'models']
