"""Run configuration: trainer settings plus the model's hyper-parameters, validated."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import torch
import yaml

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.params import (
    Choice,
    Param,
    Positive,
    Range,
    Rate,
    Weight,
    check,
    declared,
    from_default,
)
from pyg_mmrec.registry import get_model_class

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData

    from pyg_mmrec.nn.models import Recommender


@dataclasses.dataclass
class TrainConfig:
    r"""Settings of :class:`~pyg_mmrec.train.Trainer`.

    Args:
        lr (float): Adam learning rate. (default: :obj:`1e-3`)
        weight_decay (float): Adam weight decay (models carry their own L2 term, so this is
            usually 0). (default: :obj:`0.0`)
        epochs (int): Maximum number of epochs. (default: :obj:`1000`)
        batch_size (int): BPR triplets per step. (default: :obj:`2048`)
        patience (int): Stop after this many epochs without a better validation score.
            (default: :obj:`20`)
        min_epochs (int): Train at least this many epochs before ``patience`` may stop the
            run, for models that start slowly (e.g. SGL on a small dense graph, whose
            validation score falls for its first tens of epochs); the selected epoch is still
            the one with the best validation score. (default: :obj:`0`)
        eval_every (int): Validate every this many epochs. (default: :obj:`1`)
        metric (str): Validation metric that selects the epoch; with ``cold_items``, a column
            prefix selects on the cold or warm items alone (``'cold/Recall@20'``,
            :doc:`/cold_start`). (default: :obj:`'Recall@20'`)
        ks (list of int): Cut-offs of the reported metrics. (default: :obj:`[5, 10, 20, 50]`)
        exclude_val_at_test (bool): Remove validation items from the test rankings, as well as
            training items. :obj:`False` reproduces MMRec, which ranks them.
            (default: :obj:`True`)
        seed (int): Seed of initialisation, triplet order and negatives. (default: :obj:`2024`)
        max_scores (int): Largest user-item score matrix held during evaluation.
            (default: :obj:`2**20`)
        progress (bool): Show a progress bar. (default: :obj:`True`)
        deterministic (bool): Make the run bitwise reproducible: one intra-op thread and
            deterministic algorithms during training (see :doc:`/evaluation`).
            (default: :obj:`False`)
        threads (int): Intra-op threads of training and evaluation; ``0`` chooses them
            before every epoch (:func:`~pyg_mmrec.utils.auto_threads`: the environment's
            ``OMP_NUM_THREADS`` if set, else the affinity mask capped by the container's CPU
            quota, less the CPUs other processes keep busy), so that jobs sharing a machine
            do not oversubscribe it (see :ref:`threads`). ``deterministic`` overrides it with
            one thread. (default: :obj:`0`)
        fused_optimizer (bool): Step Adam with PyTorch's fused kernel, several times faster
            than the default multi-tensor step on models with large embedding tables, but
            its updates differ from the default's in the last bits, so a run with it does not
            reproduce one without it bitwise. (default: :obj:`False`)
        retain_memory (bool): Keep the memory that freed tensors leave in the process for
            the next allocations (:func:`~pyg_mmrec.utils.retain_freed_memory`; glibc only)
            rather than returning it to the system and faulting it back in page by page: the
            same results, up to a third faster on graph models (see :doc:`/performance`). Once
            a trainer sets it, it holds for the rest of the process. (default: :obj:`True`)
        robust (str): The robust training method (:mod:`pyg_mmrec.train.robust`):
            ``'none'``, ``'amr'`` (:class:`~pyg_mmrec.train.AMR`, adversarial perturbation of
            the item features; models with the ``modality`` capability) or ``'mg'``
            (:class:`~pyg_mmrec.train.MirrorGradient`; any model). Composes with every
            model, plug-ins included (``--model dvib --set robust=mg``).
            (default: :obj:`'none'`)
        amr_epsilon (float): AMR's perturbation size :math:`\epsilon` per item and
            modality. (default: :obj:`0.1`)
        amr_lambda (float): AMR's weight :math:`\lambda` of the adversarial term.
            (default: :obj:`1.0`)
        mg_alpha1 (float): MG's scale :math:`\alpha_1` of the step before a mirrored one.
            (default: :obj:`1.0`)
        mg_alpha2 (float): MG's scale :math:`\alpha_2` of the mirrored step.
            (default: :obj:`0.2`)
        mg_interval (int): MG's interval :math:`\beta`: a mirrored pair of steps every this
            many batches. (default: :obj:`3`)
        cold_items (float): The share of items held out of training with all their
            interactions, half for validation and half for test (the cold-start protocol,
            :class:`~pyg_mmrec.transforms.ColdStartSplit`, drawn with ``seed``); the metrics
            then have cold, warm and all columns (:doc:`/cold_start`). ``0`` keeps every item.
            LATTICE's cold-start setting is ``0.2``. (default: :obj:`0.0`)

    The keys of a method other than the one ``robust`` selects are ignored (so that one
    config can serve runs with different methods).

    Each field's annotation declares its type and range (:mod:`pyg_mmrec.params`); a value
    outside it raises a one-line :class:`~pyg_mmrec.errors.ConfigError`.
    """
    lr: Annotated[float, Range(0, 10, low_open=True)] = 1e-3
    weight_decay: Weight = 0.0
    epochs: Annotated[int, Range(1, 10**6)] = 1000
    batch_size: Annotated[int, Range(1, 2**24)] = 2048
    patience: Annotated[int, Range(1, 10**6)] = 20
    min_epochs: Annotated[int, Range(0, 10**6)] = 0
    eval_every: Annotated[int, Range(1, 10**6)] = 1
    metric: str = 'Recall@20'
    ks: Annotated[list[int], Range(1, 10**6)] = dataclasses.field(
        default_factory=lambda: [5, 10, 20, 50])
    exclude_val_at_test: bool = True
    seed: Annotated[int, Range(0, 2**63 - 1)] = 2024
    max_scores: Annotated[int, Range(1, 2**34)] = 2**20
    progress: bool = True
    deterministic: bool = False
    threads: Annotated[int, Range(0, 4096)] = 0
    fused_optimizer: bool = False
    retain_memory: bool = True
    robust: Choice('none', 'amr', 'mg') = 'none'
    amr_epsilon: Positive = 0.1
    amr_lambda: Weight = 1.0
    mg_alpha1: Positive = 1.0
    mg_alpha2: Weight = 0.2
    mg_interval: Annotated[int, Range(1, 10**6)] = 3
    cold_items: Rate = 0.0

    def __post_init__(self):
        for key, param in declared(TrainConfig).items():
            setattr(self, key, check(key, getattr(self, key), param))
        column, _, metric = self.metric.rpartition('/')
        name, _, k = metric.partition('@')
        from pyg_mmrec.metrics import METRIC_NAMES
        if name not in METRIC_NAMES or not k.isdigit() or int(k) not in self.ks:
            raise ConfigError(f"config key 'metric' must be one of {list(METRIC_NAMES)} at a "
                              f"cut-off in ks={self.ks}, e.g. 'Recall@20', got {self.metric!r}")
        if column and (column not in ('cold', 'warm') or not self.cold_items):
            raise ConfigError(f"config key 'metric' = {self.metric!r}: a column prefix is "
                              f"'cold/' or 'warm/', and needs cold_items > 0 (the cold-start "
                              f"protocol)")


TRAIN_KEYS = {key: param.default for key, param in declared(TrainConfig).items()}


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Parses ``key=value`` strings (values in YAML syntax: ``lr=1e-3``, ``ks=[10,20]``)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {pair!r}: the value is not valid YAML: {e}") from e
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Reads a YAML config file holding a flat mapping of config keys."""
    path = Path(path)
    try:
        content = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config file: {e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); expected a YAML "
                          f"mapping of config keys") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if content is None:
        return {}
    if not isinstance(content, Mapping):
        raise ConfigError(f"{path}: expected a mapping of config keys, got "
                          f"{type(content).__name__}")
    return dict(content)


def split_config(config: Mapping[str, Any], hparam_defaults: Mapping[str, Any],
                 model_name: str, hparam_specs: Mapping[str, Param] | None = None
                 ) -> tuple[TrainConfig, dict[str, Any]]:
    """Splits a flat config into trainer settings and model hyper-parameters, rejecting
    unknown keys and values outside their declarations (:mod:`pyg_mmrec.params`; those of
    the trainer from :class:`TrainConfig`, those of the model from ``hparam_specs``)."""
    hparam_specs = hparam_specs or {}
    train, hparams = {}, {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise ConfigError(f"config keys are names, got {key!r}")
        if key in TRAIN_KEYS:
            train[key] = value
        elif key in hparam_defaults:
            param = hparam_specs.get(key) or from_default(hparam_defaults[key])
            hparams[key] = value if param is None else check(key, value, param)
        else:
            raise ConfigError(
                f"unknown config key {key!r} for model {model_name!r}; trainer keys: "
                f"{sorted(TRAIN_KEYS)}; model keys: {sorted(hparam_defaults)}")
    return TrainConfig(**train), hparams


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    r"""A registered model name and a flat config, resolved once by :func:`resolve`.

    Args:
        name (str): The registered model name (lower case).
        model_class (type): The model class.
        train (TrainConfig): The trainer settings.
        hparams (dict): The model hyper-parameters the config sets (type-checked).
        defaults (dict): Every hyper-parameter of the model (and of a plug-in's backbone)
            with its default.
    """
    name: str
    model_class: type[Recommender]
    train: TrainConfig
    hparams: dict[str, Any]
    defaults: dict[str, Any]

    @property
    def settings(self) -> dict[str, Any]:
        """Every trainer setting and hyper-parameter of the run, in the JSON form in which
        results and checkpoints store them (tuples become lists)."""
        return json.loads(json.dumps({**dataclasses.asdict(self.train), **self.defaults,
                                      **self.hparams}))

    def build(self, data: HeteroData) -> Recommender:
        """The model for ``data``, initialised under the config's seed."""
        torch.manual_seed(self.train.seed)
        return self.model_class.from_data(data, **self.hparams)


def resolve(model: str, config: Mapping[str, Any] | None = None) -> ModelSpec:
    """Resolves a registered model name and a flat config (trainer settings and model
    hyper-parameters, a plug-in's ``backbone`` and the backbone's included) into the model
    class, the trainer settings and the hyper-parameters: the one place where a config is
    read, for :func:`~pyg_mmrec.train.run`, :func:`~pyg_mmrec.train.tune` and the CLI.

    Raises:
        ConfigError: For an unknown model, an unknown key, a value of the wrong type, or a
            model without what the training method ``robust`` needs.
    """
    from pyg_mmrec.train.robust import check_capabilities
    cls = get_model_class(model)
    defaults = cls.hparam_defaults(config)
    train, hparams = split_config(config or {}, defaults, model, cls.hparam_specs(config))
    check_capabilities(train.robust, cls, model, config)
    return ModelSpec(model.lower(), cls, train, hparams, defaults)
