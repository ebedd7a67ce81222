"""Training with early stopping on validation, checkpoints and resumption."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import resource
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from pyg_mmrec.data import INTERACTS, DataSplits, TripletLoader, load_dataset
from pyg_mmrec.errors import CheckpointError, ConfigError, TrainingError
from pyg_mmrec.metrics import RankingEvaluator
from pyg_mmrec.nn.models import Recommender
from pyg_mmrec.registry import get_model_class, name_of
from pyg_mmrec.train.checkpoint import atomic_write, load_checkpoint, save_checkpoint, write_json
from pyg_mmrec.train.config import TrainConfig, resolve
from pyg_mmrec.train.evaluation import evaluate
from pyg_mmrec.train.robust import training_method
from pyg_mmrec.train.serving import INDEX_KEY, RecommendIndex
from pyg_mmrec.transforms import ColdStartSplit
from pyg_mmrec.utils import auto_threads, intra_op_threads, retain_freed_memory

log = logging.getLogger(__name__)

CHECKPOINT = 'checkpoint.pt'
RESULTS = 'results.json'
EPOCH_LOG = 'log.jsonl'


#: Settings that a resumed run may change (they affect neither the weights nor the order of
#: the batches already run): more epochs, another patience, the progress bar, the memory
#: bound of evaluation, the thread count, the allocator's setting. The results record the
#: values in effect.
RESUME_MAY_CHANGE = frozenset({'epochs', 'patience', 'min_epochs', 'progress', 'max_scores',
                               'threads', 'retain_memory'})
#: The largest cut-off allowed beyond the number of items (the defaults' 50 on a small test
#: catalogue); the ranked lists are padded to the largest cut-off.
MAX_K_BEYOND_CATALOGUE = 100
#: What a checkpoint must hold to be resumed from.
RESUME_KEYS = ('data_fingerprint', 'config', 'hparams', 'last_state', 'optimizer', 'rng',
               'epoch', 'history', 'best_epoch', 'valid', 'best_state', 'bad_epochs')


def check_contents(ckpt: dict[str, Any], path: Path, keys: tuple[str, ...]) -> None:
    """Refuses a checkpoint that lacks one of ``keys`` or holds a non-finite weight."""
    missing = [k for k in keys if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a complete checkpoint; missing {missing}")
    for kind, types in (('config', dict), ('hparams', dict), ('data_fingerprint', dict)):
        if kind in keys and not isinstance(ckpt[kind], types):
            raise CheckpointError(f"{path}: {kind!r} is a {type(ckpt[kind]).__name__}, "
                                  f"expected a mapping")
    for kind in ('best_state', 'last_state'):
        state = ckpt.get(kind)
        if state is None:
            continue
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                                  for v in state.values()):
            raise CheckpointError(f"{path}: {kind!r} is not a mapping of tensors")
        for name, value in state.items():
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise CheckpointError(f"{path}: {kind!r} weight {name!r} holds NaN or inf; "
                                      f"the checkpoint cannot be used")


def load_state(model: Recommender, state: dict[str, torch.Tensor], path: Path,
               kind: str) -> None:
    """``model.load_state_dict(state)``, a mismatch raised as a CheckpointError."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()
        raise CheckpointError(f"{path}: its {kind} does not fit {type(model).__name__} on this "
                              f"data (another model or size?): "
                              f"{' '.join(line.strip() for line in first)[:300]}") from e


def data_fingerprint(splits: DataSplits) -> dict[str, Any]:
    """What a checkpoint records of its dataset, to refuse a different one later."""
    return {'name': splits.name, 'num_users': splits.num_users, 'num_items': splits.num_items,
            'num_train': int(splits.train[INTERACTS].edge_index.size(1))}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def deterministic(enabled: bool = True):
    """Within the block, one intra-op thread and PyTorch's deterministic algorithms, so that
    a run is bitwise reproducible (with several threads, reductions may add in another order
    and weights drift in the last bits); a no-op unless ``enabled``."""
    if not enabled:
        yield
        return
    threads, algorithms = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(algorithms)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _average_gradients(parameters) -> None:
    """Averages the gradients over the ranks' shares of the batch (no-op on one process)."""
    if not _distributed():
        return
    for p in parameters:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= dist.get_world_size()


class Trainer:
    r"""Trains a :class:`~pyg_mmrec.nn.models.Recommender` with BPR triplets and Adam.

    Each epoch visits every training interaction once with a fresh uniform negative
    (:class:`~pyg_mmrec.data.TripletLoader`). Every ``eval_every`` epochs the model is ranked
    against the validation split; training stops after ``patience`` epochs without a better
    validation ``metric``, the best state is restored and the test split is evaluated
    **once**, at that epoch. Model selection never sees the test split.

    The trainer setting ``robust`` selects a training method
    (:mod:`pyg_mmrec.train.robust`), which gives the loss of a batch (the model's own, or
    :class:`~pyg_mmrec.train.AMR`'s adversarial objective around it) and the steps taken on it
    (one, or :class:`~pyg_mmrec.train.MirrorGradient`'s mirrored pair); it applies to any
    model, plug-ins included.

    A model may ask for further optimisation stages (its
    :meth:`~pyg_mmrec.nn.models.Recommender.stages`, e.g. IBMRec's second stage): after each
    step on the model's loss, each :class:`~pyg_mmrec.nn.models.Stage` computes its own loss on
    the same batch with the updated model and takes a step of its own Adam optimiser over its
    parameters only (gradients are taken with respect to those parameters alone, so no other
    parameter moves); the epoch's mean of that loss is logged under the stage's name.
    After all of a batch's steps, the trainer calls the model's
    :meth:`~pyg_mmrec.nn.models.Recommender.on_step_end` (under :func:`torch.no_grad`), where a
    model updates what it keeps outside the optimiser (e.g. BUIR's momentum target); before
    each epoch, its :meth:`~pyg_mmrec.nn.models.Recommender.on_epoch_start`.

    With an ``out_dir``, every validation writes ``checkpoint.pt`` (atomically: best and last
    states, optimizers, history) and appends a line to ``log.jsonl``; :meth:`fit` with
    ``resume=True`` continues from the checkpoint exactly where it stopped.

    Data parallelism: under an initialised :mod:`torch.distributed` process group, pass
    ``rank`` and ``world_size``; each rank draws its own share of the epoch's triplets, the
    gradients are averaged over the ranks after every step (so the replicas stay identical),
    rank 0 alone validates, checkpoints and tests, and its stop decision is broadcast.

    Args:
        model (Recommender): The model to train.
        splits (DataSplits): The dataset.
        config (TrainConfig, optional): Settings.
        out_dir (str or Path, optional): Where to write checkpoints, the log and results.
        run_info (dict, optional): Recorded in checkpoints and results (model name, data).
        rank (int): Rank of this process. (default: :obj:`0`)
        world_size (int): Number of processes. (default: :obj:`1`)
    """
    def __init__(self, model: Recommender, splits: DataSplits,
                 config: TrainConfig | None = None, out_dir: str | Path | None = None,
                 run_info: dict[str, Any] | None = None, rank: int = 0, world_size: int = 1):
        self.model = model
        self.splits = splits
        self.config = config or TrainConfig()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        # Checkpoints name the registered model class so that load_model can rebuild it.
        self.run_info = {'model': name_of(model), **(run_info or {})}
        self.rank = rank
        if max(self.config.ks) > max(splits.num_items, MAX_K_BEYOND_CATALOGUE):
            raise ConfigError(f"config key 'ks' = {self.config.ks}: a cut-off may exceed the "
                              f"{splits.num_items} items of {splits.name!r} only up to "
                              f"{MAX_K_BEYOND_CATALOGUE} (each ranked list is padded to it)")
        self.evaluator = RankingEvaluator(self.config.ks, self.config.max_scores)
        if self.config.retain_memory:
            retain_freed_memory()
        if splits.num_cold_items:
            model.check_inductive()  # before any training: the cold items need it at validation
        # Negatives are drawn among the training items only: a cold item is never seen.
        self.loader = TripletLoader(splits.train[INTERACTS].edge_index, splits.num_warm_items,
                                    self.config.batch_size, self.config.seed, rank, world_size)
        # A model without parameters (a popularity or content reference) is only evaluated.
        self.optimizer = self._adam(model.parameters(), self.config.lr) if model.trainable \
            else None
        self.method = training_method(self.config)
        self.method.check_data(splits.train)
        self.stages = model.stages()
        self.stage_optimizers = [self._adam(stage.parameters,
                                            self.config.lr if stage.lr is None else stage.lr)
                                 for stage in self.stages]
        self.history: list[dict[str, Any]] = []
        self.best_epoch = -1
        self.best_valid: dict[str, float] = {}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.epoch = 0  # the next epoch to run

    def _adam(self, parameters, lr: float) -> torch.optim.Adam:
        """Adam over ``parameters``: PyTorch's multi-tensor ("foreach") implementation, which
        on CPU takes half the time of the per-tensor loop and computes the same values bit for
        bit, or, with the setting ``fused_optimizer``, its fused kernel (faster still, but its
        updates differ in the last bits)."""
        kind = {'fused': True} if self.config.fused_optimizer else {'foreach': True}
        return torch.optim.Adam(parameters, lr=lr, weight_decay=self.config.weight_decay,
                                **kind)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def evaluate(self, split: str) -> dict[str, float]:
        """Metrics of the current model on ``split``."""
        return evaluate(self.model, self.splits, split, self.evaluator,
                        self.config.exclude_val_at_test)

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training triplets; returns the mean of each loss term."""
        self.model.train()
        self.model.on_epoch_start(self.epoch)
        self.loader.set_epoch(self.epoch)
        totals: dict[str, float] = {}
        for batch, (user, pos, neg) in enumerate(self.loader):
            steps = [self._step(batch, scale, user, pos, neg)
                     for scale in self.method.scales(batch)]
            losses = steps[0]  # the first step's terms are logged (MG's mirrored one follows)
            for stage, optimizer in zip(self.stages, self.stage_optimizers, strict=True):
                loss = stage.loss(self.splits.train, user, pos, neg)
                grads = torch.autograd.grad(loss, stage.parameters, allow_unused=True)
                for p, grad in zip(stage.parameters, grads, strict=True):
                    p.grad = grad
                _average_gradients(stage.parameters)
                self._check_finite(batch, {stage.name: loss})
                self._check_gradients(batch, stage.name,
                                      ((f'{stage.name}[{i}]', p)
                                       for i, p in enumerate(stage.parameters)))
                optimizer.step()
                losses[stage.name] = loss.detach()
            with torch.no_grad():
                self.model.on_step_end()
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + value.item()
        return {key: value / len(self.loader) for key, value in totals.items()}

    def _step(self, batch: int, scale: float, user: torch.Tensor, pos: torch.Tensor,
              neg: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step on ``scale`` times the training method's loss of the batch at
        the current parameters; returns the loss terms."""
        losses = self.method.loss(self.model, self.splits.train, user, pos, neg)
        self._check_finite(batch, losses)
        self.optimizer.zero_grad()
        (losses['loss'] if scale == 1.0 else scale * losses['loss']).backward()
        _average_gradients(self.model.parameters())
        self._check_gradients(batch, 'loss', self.model.named_parameters())
        self.optimizer.step()
        return losses

    def _stop_nonfinite(self, batch: int, what: str) -> None:
        kept = (f"the last good checkpoint ({self.out_dir / CHECKPOINT}) is kept"
                if self.out_dir is not None and (self.out_dir / CHECKPOINT).is_file()
                else "no checkpoint was written yet")
        raise TrainingError(f"epoch {self.epoch}, batch {batch}: {what} is not finite; "
                            f"training stopped, {kept}. Lower 'lr' (now {self.config.lr:g}) or "
                            f"the loss weights, or check the input values")

    def _check_finite(self, batch: int, losses: dict[str, torch.Tensor]) -> None:
        """Stops the run on a non-finite loss term, naming it."""
        values = torch.stack([v.detach().float().reshape(()) for v in losses.values()])
        if not bool(torch.isfinite(values).all()):
            key, value = next((k, v) for k, v in zip(losses, values.tolist(), strict=True)
                              if not math.isfinite(v))
            self._stop_nonfinite(batch, f"the loss term {key!r} ({value})")

    def _check_gradients(self, batch: int, term: str, named_parameters) -> None:
        """Stops the run on a non-finite gradient, naming the parameter."""
        named = [(n, p.grad) for n, p in named_parameters if p.grad is not None]
        if not named:
            return
        if bool(torch.isfinite(torch.stack([g.sum() for _, g in named])).all()):
            return
        for name, grad in named:
            if not bool(torch.isfinite(grad).all()):
                self._stop_nonfinite(batch, f"the gradient of {term!r} for parameter {name!r}")

    def fit(self, resume: bool = False, test: bool = True) -> dict[str, Any]:
        """Trains to early stop, restores the best state, tests it once (unless ``test`` is
        :obj:`False`, as in a hyper-parameter search, where only the selected configuration is
        tested); returns the results (also written to ``out_dir/results.json``).

        Raises:
            TrainingError: On a non-finite loss term or gradient (the last checkpoint is kept).
        """
        with intra_op_threads(self.config.threads), deterministic(self.config.deterministic):
            return self._fit(resume, test)

    def _fit(self, resume: bool, test: bool) -> dict[str, Any]:
        cfg = self.config
        if resume:
            self._restore()
        else:
            torch.manual_seed(cfg.seed)
            if self.out_dir is not None and self.is_main:
                atomic_write(self.out_dir / EPOCH_LOG, lambda f: None)
        if not self.model.trainable:
            return self._evaluate_only(test)
        bar = tqdm(total=cfg.epochs, initial=self.epoch, desc=self.run_info.get('model', 'train'),
                   unit='epoch', disable=not (cfg.progress and self.is_main), dynamic_ncols=True)
        stop = self._patience_spent()
        adapt_threads = cfg.threads == 0 and not cfg.deterministic
        while self.epoch < cfg.epochs and not stop:
            if adapt_threads:  # CPUs that other jobs took meanwhile, or gave back
                torch.set_num_threads(auto_threads())
            start = time.perf_counter()
            record: dict[str, Any] = {'epoch': self.epoch, **self.train_epoch(),
                                      'threads': torch.get_num_threads()}
            record['train_seconds'] = time.perf_counter() - start
            self.epoch += 1
            if self.epoch % cfg.eval_every == 0 or self.epoch == cfg.epochs:
                if self.is_main:
                    stop = self._validate(record)
                if _distributed():
                    flag = torch.tensor([int(stop)])
                    dist.broadcast(flag, src=0)
                    stop = bool(flag)
            self.history.append(record)
            if self.is_main:
                self._write_epoch(record)
            best = self.best_valid.get(cfg.metric, float('nan'))
            bar.set_postfix(loss=f"{record['loss']:.4f}", best=f"{best:.4f}@{self.best_epoch}",
                            refresh=False)
            bar.update(1)
        bar.close()
        return self._finish(test) if self.is_main else {}

    def _evaluate_only(self, test: bool) -> dict[str, Any]:
        """The run of a model with nothing to fit: one validation (its "epoch 0"), then the
        test."""
        if not self.is_main:
            return {}
        record: dict[str, Any] = {'epoch': self.epoch, 'train_seconds': 0.0}
        self.epoch += 1
        self._validate(record)
        self.history.append(record)
        self._write_epoch(record)
        return self._finish(test)

    def _validate(self, record: dict[str, Any]) -> bool:
        """Validates, tracks the best state; returns whether to stop."""
        cfg = self.config
        start = time.perf_counter()
        valid = self.evaluate('val')
        record['eval_seconds'] = time.perf_counter() - start
        record['valid'] = valid
        if valid[cfg.metric] > self.best_valid.get(cfg.metric, float('-inf')):
            self.best_epoch = record['epoch']
            self.best_valid = valid
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.bad_epochs = 0
        else:
            self.bad_epochs += cfg.eval_every
        return self._patience_spent()

    def _patience_spent(self) -> bool:
        """Whether early stopping ends the run: ``patience`` epochs without a better
        validation score, and at least ``min_epochs`` epochs run."""
        return (self.bad_epochs >= self.config.patience
                and self.epoch >= self.config.min_epochs)

    def _write_epoch(self, record: dict[str, Any]) -> None:
        if self.out_dir is None:
            return
        with open(self.out_dir / EPOCH_LOG, 'a', encoding='utf-8') as f:
            f.write(json.dumps(record) + '\n')
        if 'valid' in record:
            save_checkpoint(self.out_dir / CHECKPOINT, self._checkpoint())

    def _checkpoint(self, test: dict[str, float] | None = None,
                    last_state: dict[str, torch.Tensor] | None = None,
                    index: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            **self.run_info,
            'hparams': self.model.hparams,
            'config': dataclasses.asdict(self.config),
            'data_fingerprint': data_fingerprint(self.splits),
            'best_epoch': self.best_epoch,
            'best_state': self.best_state,
            'valid': self.best_valid,
            'test': test,
            'epoch': self.epoch,
            'last_state': self.model.state_dict() if last_state is None else last_state,
            'optimizer': None if self.optimizer is None else self.optimizer.state_dict(),
            'stage_optimizers': [o.state_dict() for o in self.stage_optimizers],
            'rng': torch.get_rng_state(),
            'history': self.history,
            'bad_epochs': self.bad_epochs,
            INDEX_KEY: index,
        }

    def _restore(self) -> None:
        if self.out_dir is None:
            raise CheckpointError("resuming needs the out_dir holding checkpoint.pt")
        path = self.out_dir / CHECKPOINT
        ckpt = load_checkpoint(path)
        check_contents(ckpt, path, RESUME_KEYS)
        if ckpt['data_fingerprint'] != data_fingerprint(self.splits):
            raise CheckpointError(f"{path}: was trained on {ckpt['data_fingerprint']}, not on "
                                  f"{data_fingerprint(self.splits)}")
        if ckpt.get('model') != self.run_info.get('model'):
            raise CheckpointError(f"{path}: holds a {ckpt.get('model')!r} run, not a "
                                  f"{self.run_info.get('model')!r} one; resume it with --model "
                                  f"{ckpt.get('model')} or use another folder")
        stored = json.loads(json.dumps({**ckpt['config'], **ckpt['hparams']}))
        current = json.loads(json.dumps({**dataclasses.asdict(self.config),
                                         **self.model.hparams}))
        diff = {k: (stored.get(k), current.get(k)) for k in sorted(stored.keys() & current.keys())
                if k not in RESUME_MAY_CHANGE and stored.get(k) != current.get(k)}
        if diff:
            raise ConfigError(f"{path}: resuming continues the checkpoint's settings, but these "
                              f"differ (checkpoint, requested): {diff}; drop them, or train "
                              f"into another folder")
        load_state(self.model, ckpt['last_state'], path, 'last_state')
        try:
            if self.optimizer is not None:
                self.optimizer.load_state_dict(ckpt['optimizer'])
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise CheckpointError(f"{path}: its optimizer state does not fit the model: "
                                  f"{e}") from e
        stage_states = ckpt.get('stage_optimizers', [])  # absent from older checkpoints
        if len(stage_states) != len(self.stage_optimizers):
            raise CheckpointError(f"{self.out_dir / CHECKPOINT}: holds {len(stage_states)} "
                                  f"stage optimizers, the model has {len(self.stages)} stages")
        for optimizer, state in zip(self.stage_optimizers, stage_states, strict=True):
            optimizer.load_state_dict(state)
        torch.set_rng_state(ckpt['rng'])
        self.epoch, self.history = ckpt['epoch'], ckpt['history']
        self.best_epoch, self.best_valid = ckpt['best_epoch'], ckpt['valid']
        self.best_state, self.bad_epochs = ckpt['best_state'], ckpt['bad_epochs']
        if self.is_main:  # the log may hold epochs run after the checkpoint: rewrite it
            lines = ''.join(json.dumps(r) + '\n' for r in self.history)
            atomic_write(self.out_dir / EPOCH_LOG, lambda f: f.write(lines.encode('utf-8')))

    def _finish(self, run_test: bool) -> dict[str, Any]:
        last_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        start = time.perf_counter()
        test = self.evaluate('test') if run_test else None
        test_seconds = time.perf_counter() - start
        train_times = [r['train_seconds'] for r in self.history]
        eval_times = [r['eval_seconds'] for r in self.history if 'eval_seconds' in r]
        results = {
            **self.run_info,
            'config': {**dataclasses.asdict(self.config), **self.model.hparams},
            'seed': self.config.seed,
            'best_epoch': self.best_epoch,
            'epochs_run': self.epoch,
            'valid': self.best_valid,
            'test': test,
            'train_seconds_per_epoch': statistics.median(train_times) if train_times else 0.0,
            'eval_seconds': statistics.median(eval_times) if eval_times else 0.0,
            'test_seconds': test_seconds,
            'total_train_seconds': sum(train_times) + sum(eval_times),
            'peak_rss_mb': peak_rss_mb(),
            'torch_threads': torch.get_num_threads(),
            'num_parameters': sum(p.numel() for p in self.model.parameters()),
        }
        if self.out_dir is not None:
            # The best model's representations, for recommend() without the dataset; the
            # forward pass must not move the random state that a resumed run continues from.
            index = None
            if self.best_state is not None:
                with torch.random.fork_rng(devices=[]):
                    index = RecommendIndex.from_model(self.model, self.splits).payload()
            save_checkpoint(self.out_dir / CHECKPOINT,
                            self._checkpoint(test, last_state, index))
            write_json(self.out_dir / RESULTS, results)
        return results


def run(model: str, data: str | Path | DataSplits = 'synthetic',
        config: dict[str, Any] | None = None, out_dir: str | Path | None = None,
        resume: bool = False, test: bool = True) -> dict[str, Any]:
    """Trains the registered model ``model`` on ``data`` and tests it: the Python equivalent of
    ``pyg-mmrec train``.

    Args:
        model (str): Registered model name, e.g. ``'lightgcn'``.
        data (str, Path or DataSplits): A dataset, a folder or ``'synthetic'``.
        config (dict, optional): Flat mapping of trainer settings
            (:class:`TrainConfig`) and model hyper-parameters.
        out_dir (str or Path, optional): Where to write checkpoint, log and results.
        resume (bool): Continue from ``out_dir/checkpoint.pt``, with the checkpoint's
            settings: ``config`` may repeat them, add epochs or change ``patience``,
            ``progress`` or ``max_scores``; another value of any other setting is refused.
        test (bool): Evaluate the test split at the end (see :meth:`Trainer.fit`).
    """
    if resume and out_dir is not None:
        config = {**checkpoint_settings(Path(out_dir) / CHECKPOINT, model), **(config or {})}
    splits = data if isinstance(data, DataSplits) else load_dataset(data)
    data_name = splits.name if isinstance(data, DataSplits) else str(data)
    return make_trainer(model, splits, config, out_dir, data_name).fit(resume=resume, test=test)


def checkpoint_settings(path: Path, model: str) -> dict[str, Any]:
    """The settings a checkpoint of ``model`` was trained with, that a resumed run continues
    with (a setting the caller gives again must equal it, see :meth:`Trainer.fit`); empty if
    there is no checkpoint or it holds another model (which resuming then refuses)."""
    if not path.is_file():
        return {}
    ckpt = load_checkpoint(path)
    check_contents(ckpt, path, ('config', 'hparams'))
    if ckpt.get('model') != model.lower():
        return {}
    stored = json.loads(json.dumps({**ckpt['config'], **ckpt['hparams']}))
    known = set(TrainConfig.__dataclass_fields__) | set(
        get_model_class(model).hparam_defaults(stored))
    return {k: v for k, v in stored.items() if k in known}


def protocol_splits(splits: DataSplits, config: TrainConfig) -> DataSplits:
    """``splits`` as a run with ``config`` trains and evaluates on them: with ``cold_items``
    set, their cold-start split (:class:`~pyg_mmrec.transforms.ColdStartSplit`, drawn with
    the run's ``seed``); else ``splits`` themselves."""
    if not config.cold_items:
        return splits
    return ColdStartSplit(config.cold_items, config.seed)(splits)


def checkpoint_splits(ckpt: dict[str, Any], splits: DataSplits) -> DataSplits:
    """The views of ``splits`` that the run of the checkpoint contents ``ckpt`` trained on:
    its cold-start split if it was trained with ``cold_items`` (see :func:`protocol_splits`),
    else ``splits`` themselves."""
    fields = TrainConfig.__dataclass_fields__
    config = TrainConfig(**{k: v for k, v in ckpt.get('config', {}).items() if k in fields})
    return splits if splits.num_cold_items else protocol_splits(splits, config)


def make_trainer(model: str, splits: DataSplits, config: dict[str, Any] | None = None,
                 out_dir: str | Path | None = None, data_name: str | None = None) -> Trainer:
    """The :class:`Trainer` of the registered model ``model`` on ``splits``, built from a flat
    ``config`` as :func:`run` builds it (model initialised under the config's seed), for callers
    that drive the epochs themselves.

    Args:
        model (str): Registered model name, e.g. ``'lightgcn'``.
        splits (DataSplits): The dataset.
        config (dict, optional): Flat mapping of trainer settings
            (:class:`TrainConfig`) and model hyper-parameters.
        out_dir (str or Path, optional): Where to write checkpoint, log and results.
        data_name (str, optional): The dataset's name in checkpoints and results.
            (default: :obj:`splits.name`)
    """
    spec = resolve(model, config)
    splits = protocol_splits(splits, spec.train)
    return Trainer(spec.build(splits.train), splits, spec.train, out_dir,
                   run_info={'model': spec.name, 'data': data_name or splits.name})


def resume_run(model: str, data: str | Path | DataSplits, config: dict[str, Any],
               out_dir: str | Path, test: bool = True) -> dict[str, Any]:
    """:func:`run` that picks up where an earlier call with the same settings
    left ``out_dir``: its finished results are returned as they are, its checkpoint is trained
    on from where it stopped, and an empty folder starts a fresh run. Long benchmarks built
    on it survive interruption without repeating finished work.

    Raises:
        ConfigError: If ``out_dir`` holds a run with other settings.
    """
    out_dir = Path(out_dir)
    expected = resolve(model, config).settings

    def check(path: Path, stored: dict[str, Any]) -> None:
        diff = {k: (stored[k], expected[k]) for k in sorted(stored.keys() & expected.keys())
                if stored[k] != expected[k]}
        if diff:
            raise ConfigError(f"{path}: holds a run with other settings (stored, requested: "
                              f"{diff}); resume it with those or use another folder")

    if (out_dir / RESULTS).is_file():
        results = json.loads((out_dir / RESULTS).read_text())
        check(out_dir / RESULTS, results['config'])
        if results['test'] is not None or not test:
            return results
    if (out_dir / CHECKPOINT).is_file():
        ckpt = load_checkpoint(out_dir / CHECKPOINT)
        check(out_dir / CHECKPOINT, json.loads(json.dumps({**ckpt['config'], **ckpt['hparams']})))
        return run(model, data, config, out_dir=out_dir, resume=True, test=test)
    return run(model, data, config, out_dir=out_dir, test=test)


def load_model(checkpoint: str | Path, splits: DataSplits) -> tuple[Recommender, dict[str, Any]]:
    """Rebuilds the best model of a checkpoint for ``splits`` (which must be the dataset it
    was trained on); returns the model and the checkpoint's contents."""
    ckpt = load_checkpoint(checkpoint)
    check_contents(ckpt, Path(checkpoint), ('data_fingerprint', 'best_state', 'model',
                                            'hparams', 'config'))
    if ckpt['data_fingerprint'] != data_fingerprint(splits):
        raise CheckpointError(f"{checkpoint}: was trained on {ckpt['data_fingerprint']}, "
                              f"not on {data_fingerprint(splits)}")
    if ckpt['best_state'] is None:
        raise CheckpointError(f"{checkpoint}: holds no validated state yet")
    if ckpt['model'] is None:
        raise CheckpointError(f"{checkpoint}: its model class is not registered; rebuild the "
                              f"model and load ckpt['best_state'] into it")
    try:
        model = get_model_class(ckpt['model']).from_data(splits.train, **ckpt['hparams'])
    except TypeError as e:
        raise CheckpointError(f"{checkpoint}: its hyper-parameters do not fit "
                              f"{ckpt['model']!r}: {e}") from e
    load_state(model, ckpt['best_state'], Path(checkpoint), 'best_state')
    return model, ckpt
