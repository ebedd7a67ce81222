"""Training, evaluation, checkpoints, configs and the model registry."""
from pyg_mmrec.registry import MODELS, get_model_class, register
from pyg_mmrec.train.checkpoint import load_checkpoint, save_checkpoint
from pyg_mmrec.train.config import (
    ModelSpec,
    TrainConfig,
    load_yaml,
    parse_overrides,
    resolve,
    split_config,
)
from pyg_mmrec.train.evaluation import evaluate
from pyg_mmrec.train.harness import Cell, read_cell, run_cell, run_isolated
from pyg_mmrec.train.robust import AMR, MirrorGradient, TrainingMethod, training_method
from pyg_mmrec.train.search import half_fraction, tune
from pyg_mmrec.train.serving import Recommendations, RecommendIndex, recommend
from pyg_mmrec.train.trainer import Trainer, load_model, make_trainer, resume_run, run

__all__ = [
    'AMR',
    'Cell',
    'MODELS',
    'MirrorGradient',
    'ModelSpec',
    'RecommendIndex',
    'Recommendations',
    'TrainConfig',
    'Trainer',
    'TrainingMethod',
    'evaluate',
    'get_model_class',
    'half_fraction',
    'load_checkpoint',
    'load_model',
    'load_yaml',
    'make_trainer',
    'parse_overrides',
    'read_cell',
    'recommend',
    'register',
    'resolve',
    'resume_run',
    'run',
    'run_cell',
    'run_isolated',
    'save_checkpoint',
    'split_config',
    'training_method',
    'tune',
]
