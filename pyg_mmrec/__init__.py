"""pyg_mmrec: multimodal recommendation with information-bottleneck denoising, on PyG."""
from pyg_mmrec import data, functional, ib, metrics, nn, train, transforms
from pyg_mmrec.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    PygMMRecError,
    TrainingError,
)
from pyg_mmrec.train import evaluate, load_model, recommend, run, tune

__version__ = '0.1.0'

__all__ = [
    'CheckpointError',
    'ConfigError',
    'DataError',
    'PygMMRecError',
    'TrainingError',
    'data',
    'evaluate',
    'functional',
    'ib',
    'load_model',
    'metrics',
    'nn',
    'recommend',
    'run',
    'train',
    'transforms',
    'tune',
]
