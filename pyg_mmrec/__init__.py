"""pyg_mmrec: multimodal recommendation with information-bottleneck denoising, on PyG.

The subpackages and the names below are imported on first use (PEP 562), so that importing
:mod:`pyg_mmrec` (and answering ``pyg-mmrec --help``) does not import torch.
"""
import importlib

from pyg_mmrec.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    PygMMRecError,
    TrainingError,
)

__version__ = '0.1.0'

_SUBPACKAGES = ('data', 'functional', 'ib', 'metrics', 'nn', 'train', 'transforms')
_FROM_TRAIN = ('evaluate', 'load_model', 'recommend', 'run', 'tune')

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


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f'pyg_mmrec.{name}')
    if name in _FROM_TRAIN:
        return getattr(importlib.import_module('pyg_mmrec.train'), name)
    raise AttributeError(f"module 'pyg_mmrec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
