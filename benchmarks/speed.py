"""Training and validation speed and peak memory of every model, where a training epoch's
time goes, and the speed of this checkout against an earlier one.

For each model (every registered model at its defaults, a plug-in on its default backbone,
and the plug-in variants of :data:`VARIANTS`) and each dataset, a worker process builds the
trainer (one intra-op thread) and answers commands: a first training epoch (reported apart:
it may build caches), then ``--rounds`` further epochs and validation passes, timed; the
report gives their medians and the worker's peak resident memory. A model that cannot run on
a dataset (e.g. a feature model on amazon-baby, whose modalities here are item graphs only)
gets a row saying why. The profile splits one further epoch into its phases: drawing the
triplets (sampling), the forward pass (for models with the default objective, split into the
propagation, :meth:`~pyg_mmrec.nn.models.Recommender.encode`, and the loss on it), the
backward pass, the optimiser step, further stages (IBMRec's second stage) and the trainer's
checks of finite losses and gradients; the report shows it for the ten slowest models.

With ``--reference`` (a checkout of an earlier commit), a second worker imports ``pyg_mmrec``
from there ("before") and the two take turns, one at a time: each round trains one epoch in
each worker and then ranks the validation split once in each, the order swapped every round,
so that both see the same machine load (on a shared machine only such ratios mean anything,
not the seconds themselves); the report adds the medians of the per-round ratios new ÷ before
and whether the two checkouts computed the same losses and validation scores epoch by epoch
(faster, not different).

With ``--mmrec`` (a checkout of `MMRec <https://github.com/enoche/MMRec>`_, the field's
reference toolbox, run from its ``src`` folder on the same data files), the second worker
trains MMRec's own implementation of the model instead (:data:`MMREC_MODELS`; at the first
point of MMRec's grid, as its ``main.py`` runs first, with the layers, dropout, neighbours and
learning rate of our defaults, so that both do the same work; seed 999): an epoch is
what MMRec's ``Trainer.fit`` does per epoch (``pre_epoch_processing``, ``_train_epoch``, the
learning-rate scheduler, ``post_epoch_processing``), a validation pass its ``_valid_epoch``.
The report gives ours ÷ MMRec's and each side's validation Recall@20 after the last round
(their learning rates and regularisation differ: a check that both train, not a comparison of
accuracy). MMRec needs
``pandas``; its modules for end-to-end image training (``torchvision``, ``lmdb``) are replaced
by empty stand-ins when missing, and the worker restores the NumPy and SciPy names its code
predates (``np.float``, ``dok_matrix._update``) and, without a GPU, makes ``Tensor.cuda()``
return the tensor itself (GRCN's and LATTICE's code call it). MMRec knows image and text
features only: tiktok's audio features are given to it as its text features.

Writes ``<out>/speed.{md,json}`` (``speed_reference.{md,json}`` with ``--reference``;
``speed_mmrec.{md,json}`` and the figure ``docs/_static/speed_mmrec_ratios.png`` with
``--mmrec``), keeping the rows of other models and datasets; ``--report-only`` rebuilds the
Markdown from the JSON.

Usage::

    python benchmarks/speed.py --data tiktok amazon-baby             # every model
    python benchmarks/speed.py --models vbpr freedom --rounds 3
    git worktree add --detach ../before <commit>
    python benchmarks/speed.py --reference ../before --models vbpr freedom --rounds 3
    python benchmarks/speed.py --report-only [--reference ../before]
    git clone https://github.com/enoche/MMRec ../MMRec && pip install pandas
    python benchmarks/speed.py --mmrec ../MMRec --models lightgcn vbpr mmgcn --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tqdm.auto import tqdm

from pyg_mmrec.registry import registered
from pyg_mmrec.train import TrainConfig
from pyg_mmrec.train.harness import add_benchmark_arguments, read_report, write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
STATIC = ROOT / 'docs' / '_static'
#: Plug-in variants beyond the registered defaults: label -> (registered model, settings).
VARIANTS = {
    'dvib-lightgcn': ('dvib', {'backbone': 'lightgcn'}),
    'dvib-bm3': ('dvib', {'backbone': 'bm3'}),
    'dvib-freedom': ('dvib', {'backbone': 'freedom'}),
    'dvib-selfcf': ('dvib', {'backbone': 'selfcf'}),
    'ibmrec-vbpr': ('ibmrec', {'backbone': 'vbpr'}),
    'ibmrec-vlightgcn': ('ibmrec', {'backbone': 'vlightgcn'}),
}
#: Our model -> (MMRec's name for it, our hyper-parameters -> MMRec's settings of the same
#: structure): MMRec runs at those of our defaults (layers, dropout, neighbours), so that both
#: sides do the same work, and at our learning rate (the first point of some of its grids, 1
#: for GRCN, makes its loss NaN in the first epoch). DualGNN is left out: MMRec reads a user
#: graph that its preprocessing scripts write.
MMREC_MODELS = {
    'bprmf': ('BPR', {}),
    'lightgcn': ('LightGCN', {'num_layers': 'n_layers'}),
    'selfcf': ('SELFCFED_LGN', {'num_layers': 'n_layers', 'dropout': 'dropout'}),
    'layergcn': ('LayerGCN', {'num_layers': 'n_layers', 'dropout': 'dropout'}),
    'vbpr': ('VBPR', {}),
    'mmgcn': ('MMGCN', {'num_layers': 'n_layers'}),
    'grcn': ('GRCN', {'num_layers': 'n_layers'}),
    'lattice': ('LATTICE', {'item_layers': 'n_layers', 'knn_k': 'knn_k'}),
    'freedom': ('FREEDOM', {'num_layers': 'n_ui_layers', 'item_layers': 'n_mm_layers',
                            'knn_k': 'knn_k', 'dropout': 'dropout'}),
    'bm3': ('BM3', {'num_layers': 'n_layers', 'dropout': 'dropout'}),
    'itemknn_cbf': ('ItemKNNCBF', {}),
}
#: Our dataset -> (its folder under the data root, MMRec's settings for its files).
MMREC_DATA = {
    'tiktok': ('tiktok', {'inter_file_name': 'tiktok.inter',
                          'vision_feature_file': 'image_feat.npy',
                          'text_feature_file': 'audio_feat.npy'}),
    'amazon-baby': ('amazon-baby', {'inter_file_name': 'baby.inter'}),
}
SLOWEST = 10  # models whose profile the report shows, per dataset
PHASES = ('sampling', 'propagation', 'loss', 'forward', 'backward', 'optimiser', 'stages',
          'checks')


def worker(model: str, config: dict, data: str, root: str | None) -> None:
    """The worker process: builds the trainer, then answers one JSON command per line of
    stdin (``train``, ``eval``, ``profile``, ``peak``) with one JSON line on stdout."""
    import resource

    import torch

    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.errors import PygMMRecError
    from pyg_mmrec.train import make_trainer

    torch.set_num_threads(1)
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but the answers on the pipe
    try:
        splits = load_recipe(data, root=root, text_cache=ROOT / 'runs' / 'text-cache')
        trainer = make_trainer(model, splits, {**config, 'progress': False})
    except PygMMRecError as error:  # the model does not apply to these data
        print(json.dumps({'error': str(error)}), file=out, flush=True)
        return
    trainable = getattr(trainer.model, 'trainable', True)  # False: evaluate-only (pop, kNN)
    print(json.dumps({'ready': True}), file=out, flush=True)
    for line in sys.stdin:
        command = json.loads(line)['command']
        start = time.perf_counter()
        if command == 'train' and not trainable:
            answer = {'seconds': 0.0, 'loss': None}
        elif command == 'train':
            losses = trainer.train_epoch()
            answer = {'seconds': time.perf_counter() - start, 'loss': losses['loss']}
            trainer.epoch += 1
        elif command == 'eval':
            recall = trainer.evaluate('val')['Recall@20']
            answer = {'seconds': time.perf_counter() - start, 'recall': recall}
        elif command == 'profile':
            answer = profile_epoch(trainer) if trainable else {}
            trainer.epoch += 1
        else:
            answer = {'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        print(json.dumps(answer), file=out, flush=True)


def mmrec_worker(src: str, model: str, aligned: dict, data: str, root: str | None) -> None:
    """The worker process of MMRec's ``model`` with the settings ``aligned`` (see
    :data:`MMREC_MODELS`), answering the commands ``train``, ``eval`` and ``peak`` like
    :func:`worker`."""
    import importlib.machinery
    import logging
    import resource
    import types

    import numpy as np
    import scipy.sparse as sp
    import torch

    from pyg_mmrec.data import data_root

    for name in ('torchvision', 'torchvision.transforms', 'torchvision.transforms.functional',
                 'lmdb'):
        try:
            importlib.import_module(name)
        except ImportError:
            stand_in = types.ModuleType(name)
            stand_in.__spec__ = importlib.machinery.ModuleSpec(name, None)
            sys.modules[name] = stand_in
    sys.modules['torchvision'].transforms = sys.modules['torchvision.transforms']
    functional = sys.modules['torchvision.transforms'].functional = \
        sys.modules['torchvision.transforms.functional']
    functional.pad = getattr(functional, 'pad', None)
    functional.resize = getattr(functional, 'resize', None)
    if not hasattr(np, 'float'):  # removed in NumPy 1.24
        np.float = float  # noqa: NPY001 (the alias MMRec's metrics read)
    if not hasattr(sp.dok_matrix, '_update'):  # removed in SciPy 1.12
        sp.dok_matrix._update = lambda self, entries: [self.__setitem__(k, v)
                                                       for k, v in entries.items()]
    if not torch.cuda.is_available():  # GRCN's and LATTICE's code call .cuda() on tensors
        torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.set_num_threads(1)
    logging.disable(logging.INFO)
    out = sys.stdout
    sys.stdout = sys.stderr
    folder, settings = MMREC_DATA[data]
    sys.path.insert(0, src)
    from utils.configurator import Config
    from utils.dataloader import EvalDataLoader, TrainDataLoader
    from utils.dataset import RecDataset
    from utils.utils import get_model, get_trainer, init_seed

    def fails(error: Exception) -> dict:  # MMRec's own failure, answered as the row's reason
        return {'error': f'{type(error).__name__}: {error}'.splitlines()[0]}

    try:
        config = Config(model, folder, {'use_gpu': False, 'seed': 999,
                                        'data_path': f'{data_root(root)}/',
                                        'USER_ID_FIELD': 'userID', 'ITEM_ID_FIELD': 'itemID',
                                        **settings})
        for name in config['hyper_parameters']:  # the first point of its grid, as main.py runs
            if isinstance(config[name], list):
                config[name] = config[name][0]
        for name, value in aligned.items():
            config[name] = value
        dataset = RecDataset(config)
        train, valid, _ = dataset.split()
        for part in (dataset, train, valid):
            str(part)  # its quick_start logs them, which sets their interaction counts
        train_data = TrainDataLoader(config, train, batch_size=config['train_batch_size'],
                                     shuffle=True)
        valid_data = EvalDataLoader(config, valid, additional_dataset=train,
                                    batch_size=config['eval_batch_size'])
        init_seed(config['seed'])
        train_data.pretrain_setup()
        recommender = get_model(config['model'])(config, train_data).to(config['device'])
        trainer = get_trainer()(config, recommender)
    except Exception as error:  # e.g. a model that fails to import, or finds no feature files
        print(json.dumps(fails(error)), file=out, flush=True)
        return
    print(json.dumps({'ready': True}), file=out, flush=True)
    epoch = 0
    for line in sys.stdin:
        command = json.loads(line)['command']
        start = time.perf_counter()
        try:
            if command == 'train':  # what Trainer.fit does per epoch, before its evaluation
                recommender.pre_epoch_processing()
                loss, _ = trainer._train_epoch(train_data, epoch)
                if torch.is_tensor(loss):  # its way of saying the loss became NaN
                    raise FloatingPointError(f"its training loss became NaN in epoch {epoch} "
                                             f"(its trainer stops there)")
                trainer.lr_scheduler.step()
                recommender.post_epoch_processing()
                answer = {'seconds': time.perf_counter() - start,
                          'loss': float(sum(loss) if isinstance(loss, tuple) else loss)}
                epoch += 1
            elif command == 'eval':
                _, result = trainer._valid_epoch(valid_data)
                answer = {'seconds': time.perf_counter() - start,
                          'recall': result['recall@20']}
            else:
                answer = {'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        except Exception as error:  # e.g. its loss turning NaN
            answer = fails(error)
        print(json.dumps(answer), file=out, flush=True)


def profile_epoch(trainer) -> dict:
    """Seconds of each phase of one training epoch of ``trainer`` (the steps of
    :meth:`~pyg_mmrec.train.Trainer.train_epoch`, timed one by one)."""
    import torch

    from pyg_mmrec.nn.models import Recommender

    model, data = trainer.model, trainer.splits.train
    split_forward = type(model).loss is Recommender.loss
    seconds = dict.fromkeys(PHASES, 0.0)
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] += now - clock
        clock = now

    model.train()
    model.on_epoch_start(trainer.epoch)
    trainer.loader.set_epoch(trainer.epoch)
    batches = iter(trainer.loader)
    for batch, (user, pos, neg) in enumerate(batches):
        lap('sampling')
        if split_forward:
            out = model.encode(data)
            lap('propagation')
            losses = model.batch_loss(out, user, pos, neg)
            lap('loss')
        else:
            losses = model.loss(data, user, pos, neg)
            lap('forward')
        trainer._check_finite(batch, losses)
        lap('checks')
        trainer.optimizer.zero_grad()
        losses['loss'].backward()
        lap('backward')
        trainer._check_gradients(batch, 'loss', model.named_parameters())
        lap('checks')
        trainer.optimizer.step()
        lap('optimiser')
        for stage, optimizer in zip(trainer.stages, trainer.stage_optimizers, strict=True):
            loss = stage.loss(data, user, pos, neg)
            grads = torch.autograd.grad(loss, stage.parameters, allow_unused=True)
            for p, grad in zip(stage.parameters, grads, strict=True):
                p.grad = grad
            optimizer.step()
        with torch.no_grad():
            model.on_step_end()
        for value in losses.values():
            value.item()
        lap('stages')
    return seconds


class WorkerError(RuntimeError):
    """A worker's answer that its model failed (the message says how)."""


class Worker:
    """A worker process: of ``pyg_mmrec`` imported from the checkout ``tree``
    (:func:`worker`), or with ``mmrec`` (an MMRec checkout) of MMRec's model ``mmrec_model``
    (its name and settings; :func:`mmrec_worker`, run in MMRec's ``src`` folder, where its
    configuration files are read from)."""
    def __init__(self, tree: Path, model: str, config: dict, data: str, root: str | None,
                 mmrec: Path | None = None, mmrec_model: tuple[str, dict] | None = None):
        env = {**os.environ, 'PYTHONPATH': str(tree), 'OMP_NUM_THREADS': '1',
               'MKL_NUM_THREADS': '1'}
        if mmrec is None:
            args, cwd = ['--worker', json.dumps([model, config, data, root])], tree
        else:
            cwd = mmrec / 'src'
            args = ['--mmrec-worker', json.dumps([str(cwd), *mmrec_model, data, root])]
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
        self.error = self._read().get('error')  # why the model cannot run here, if it cannot

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"a speed worker died (exit code {self.process.wait()})")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        """The answer to ``command``; raises :class:`WorkerError` if the model failed."""
        self.process.stdin.write(json.dumps({'command': command}) + '\n')
        self.process.stdin.flush()
        answer = self._read()
        if 'error' in answer:
            raise WorkerError(answer['error'])
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def commit_of(tree: Path) -> str:
    """The checkout's commit, with ``-dirty`` when its tracked files differ from it."""
    return subprocess.run(['git', '-C', str(tree), 'describe', '--always', '--dirty',
                           '--abbrev=7'], capture_output=True, text=True, check=True
                          ).stdout.strip()


def median_ratio(runs: dict, command: str, start: int) -> float:
    """The median over rounds ``start..`` of the ratios new ÷ before of ``command``."""
    return statistics.median(n / b for n, b in zip(runs['new'][command][start:],
                                                   runs['before'][command][start:], strict=True))


def model_of(label: str) -> tuple[str, dict]:
    """The registered model and settings of a row label (a model name or a variant)."""
    return VARIANTS.get(label, (label, {}))


def measure(labels: list[str], data: str, reference: Path | None, rounds: int,
            root: Path | None, mmrec: Path | None = None) -> Iterator[dict]:
    """Times each model on ``data`` (in turns with the reference checkout or MMRec, if
    given); yields the rows as they are measured (the caller writes each at once)."""
    trees = {'new': ROOT, **({'before': reference} if reference else {})}
    for label in tqdm(labels, desc=data):
        model, config = model_of(label)
        row = {'data': data, 'label': label, 'model': model, 'config': config}
        root_arg = None if root is None else str(root.resolve())
        workers = {side: Worker(tree, model, config, data, root_arg)
                   for side, tree in trees.items()}
        skipped = workers['new'].error  # why ours does not apply here, if it does not
        if mmrec is not None and not skipped:
            name, knobs = MMREC_MODELS[model]
            defaults = registered()[model].hparam_defaults(config)
            row['mmrec_model'] = name
            row['mmrec_settings'] = {'learning_rate': config.get('lr', TrainConfig().lr),
                                     **{theirs: defaults[ours] for ours, theirs in knobs.items()}}
            try:
                workers['before'] = Worker(ROOT, model, config, data, root_arg, mmrec,
                                           (name, row['mmrec_settings']))
            except RuntimeError as error:  # it crashed; its traceback is on stderr
                skipped = row['mmrec_error'] = f"MMRec's {name} did not start ({error})"
            else:
                if workers['before'].error:
                    skipped = row['mmrec_error'] = (f"MMRec's {name} fails: "
                                                    f"{workers['before'].error}")
        runs = {side: {'train': [], 'eval': [], 'loss': [], 'recall': []} for side in workers}
        if not skipped:
            try:
                for r in range(rounds + 1):  # round 0: the first epoch, reported apart
                    order = list(workers) if r % 2 == 0 else list(workers)[::-1]
                    for command, key in (('train', 'loss'), ('eval', 'recall')):
                        for side in order:
                            answer = workers[side].ask(command)
                            runs[side][command].append(answer['seconds'])
                            runs[side][key].append(answer[key])
            except WorkerError as error:  # only MMRec's worker answers so
                row['mmrec_error'] = str(error)
                skipped = f"MMRec's {row['mmrec_model']} fails: {error}"
        if skipped:
            for w in workers.values():
                w.close()
            tqdm.write(f'{label}: skipped ({skipped})')
            yield {**row, 'skipped': skipped}
            continue
        row['profile'] = workers['new'].ask('profile')
        row['peak_mib'] = {side: w.ask('peak')['peak_mib'] for side, w in workers.items()}
        for w in workers.values():
            w.close()
        row['seconds'] = {side: {'first_epoch': runs[side]['train'][0],
                                 'train': statistics.median(runs[side]['train'][1:]),
                                 'eval': statistics.median(runs[side]['eval'])}
                          for side in workers}
        row['recall'] = runs['new']['recall']
        if 'before' in workers:  # an earlier checkout or MMRec: ratios new ÷ before
            row['ratio'] = {'first_epoch': runs['new']['train'][0] / runs['before']['train'][0],
                            'train': median_ratio(runs, 'train', 1),
                            'eval': median_ratio(runs, 'eval', 0)}
            if mmrec is not None:
                row['last_recall'] = {side: runs[side]['recall'][-1] for side in workers}
            else:
                row['same_results'] = all(runs['new'][k] == runs['before'][k]
                                          for k in ('loss', 'recall'))
            tqdm.write(f"{label}: train ×{row['ratio']['train']:.2f}, "
                       f"eval ×{row['ratio']['eval']:.2f}")
        else:
            tqdm.write(f"{label}: {row['seconds']['new']['train']:.3f} s/epoch")
        yield row


def profile_lines(rows: list[dict]) -> list[str]:
    """The profile table of the ``SLOWEST`` slowest rows of each dataset."""
    lines = ['', '## Where a training epoch goes', '',
             f'The {SLOWEST} slowest models per dataset: share of one profiled epoch per phase; '
             '"forward" is propagation and loss together, for models with their own '
             'objective (plug-ins, BM3).', '',
             '| data | model | epoch (s) | ' + ' | '.join(PHASES) + ' |',
             '|---|---|---|' + '---|' * len(PHASES)]
    for data in dict.fromkeys(r['data'] for r in rows):
        timed = [r for r in rows if r['data'] == data and r.get('profile')]
        for row in sorted(timed, key=lambda r: -sum(r['profile'].values()))[:SLOWEST]:
            total = sum(row['profile'].values())
            lines.append(f"| {data} | {row['label']} | {total:.3f} | " + ' | '.join(
                f"{100 * row['profile'][p] / total:.0f} %" if row['profile'][p] else '–'
                for p in PHASES) + ' |')
    return lines


def commits_line(report: dict) -> str:
    """The commit that measured the rows: the most frequent, and the rows of any other."""
    commits = [r.get('commit') or report['commit'] for r in report['rows']]
    main = max(dict.fromkeys(commits), key=commits.count) if commits else report['commit']
    others = {c: [f"{r['data']} {r['label']}" for r, rc in zip(report['rows'], commits,
                                                              strict=True) if rc == c]
              for c in dict.fromkeys(commits) if c != main}
    return f'Commit {main}' + ''.join(f" ({', '.join(rows)}: {c})" for c, rows in others.items())


def format_report(report: dict) -> str:
    """The Markdown report: the timing table and the profile table."""
    rows = report['rows']
    if 'mmrec' in report:
        lines = ['# Speed against MMRec', '',
                 f"This library ({report['commit']}) against MMRec's own implementations "
                 f"(commit {report['mmrec']}; MMRec's model name in the third column), on the "
                 'same data files: ours at its defaults, MMRec at the first point of its grid '
                 'with the structure and learning rate of ours (the settings in the third '
                 'column), one intra-op thread each, '
                 f"interleaved over {report['rounds']} rounds (one training epoch, then one "
                 'validation pass, of each per round) after a first epoch (shown apart). '
                 'Seconds are medians; ratios are the medians of the per-round ratios ours ÷ '
                 'MMRec (lower is faster). The last column is each side\'s validation '
                 'Recall@20 after the last round, at its own settings: both train, not an '
                 'accuracy comparison.', '',
                 '| data | model | MMRec | epoch ours (s) | epoch MMRec (s) | ratio '
                 '| first epoch ratio | validation ours (s) | validation MMRec (s) | ratio '
                 '| peak MiB ours / MMRec | Recall@20 ours / MMRec |',
                 '|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in rows:
            if 'skipped' in row:
                lines.append(f"| {row['data']} | {row['label']} | "
                             f"{row.get('mmrec_model', '–')} | – | – | – | – | – | – | – | – | "
                             + ('' if 'mmrec_error' in row else 'does not apply: ')
                             + f"{row['skipped'].splitlines()[0]} |")
                continue
            ours, theirs, ratio = row['seconds']['new'], row['seconds']['before'], row['ratio']
            settings = ''.join(f', {k}={v}' for k, v in row.get('mmrec_settings', {}).items())
            epochs = (f"{ours['train']:.3f} | {theirs['train']:.3f} | {ratio['train']:.2f} | "
                      f"{ratio['first_epoch']:.2f}" if row['profile']
                      else '– | – | – | –')  # ours has nothing to train (ItemKNN-CBF)
            lines.append(
                f"| {row['data']} | {row['label']} | {row['mmrec_model']}{settings} | {epochs} "
                f"| {ours['eval']:.3f} | {theirs['eval']:.3f} | {ratio['eval']:.2f} | "
                f"{row['peak_mib']['new']:.0f} / {row['peak_mib']['before']:.0f} | "
                f"{row['last_recall']['new']:.4f} / {row['last_recall']['before']:.4f} |")
        return '\n'.join(lines) + '\n'
    if 'commits' in report:
        commits = report['commits']
        lines = [f"# Speed against {commits['before']}", '',
                 f"This checkout ({commits['new']}) against {commits['before']} (rows kept "
                 'from an earlier comparison name theirs in the last column), one intra-op '
                 f"thread each, interleaved over {report['rounds']} rounds (one training "
                 'epoch, then one validation pass, of each per round) after a first epoch '
                 '(shown apart). Seconds are medians; ratios are the medians of the per-round '
                 'ratios new ÷ before (lower is faster). "Same results": every epoch\'s mean '
                 'loss and validation Recall@20 are equal in the two checkouts.', '',
                 '| data | model | epoch new (s) | epoch before (s) | ratio | first epoch ratio '
                 '| validation new (s) | validation before (s) | ratio | peak MiB new / before '
                 '| same results | new vs before |',
                 '|---|---|---|---|---|---|---|---|---|---|---|---|']
        for row in rows:
            if 'skipped' in row:
                continue
            new, before, ratio = row['seconds']['new'], row['seconds']['before'], row['ratio']
            lines.append(
                f"| {row['data']} | {row['label']} | {new['train']:.3f} | {before['train']:.3f} "
                f"| {ratio['train']:.2f} | {ratio['first_epoch']:.2f} | {new['eval']:.3f} | "
                f"{before['eval']:.3f} | {ratio['eval']:.2f} | {row['peak_mib']['new']:.0f} / "
                f"{row['peak_mib']['before']:.0f} | {'yes' if row['same_results'] else 'NO'} | "
                f"{row['commits']['new']} vs {row['commits']['before']} |")
    else:
        lines = ['# Speed and memory of every model', '',
                 f"{commits_line(report)}, one intra-op thread, every model at its defaults "
                 f"(a plug-in on its default backbone unless the label names one): the first "
                 f"training epoch apart (it may build caches), then the medians of "
                 f"{report['rounds']} training epochs and validation passes (all users ranked "
                 'against all items), and the peak resident memory of the process (data, '
                 'model, optimiser and evaluation together).', '',
                 '| data | model | epoch (s) | first epoch (s) | validation (s) | peak MiB |',
                 '|---|---|---|---|---|---|']
        for row in rows:
            if 'skipped' in row:
                lines.append(f"| {row['data']} | {row['label']} | – | – | – | "
                             f"does not apply: {row['skipped'].splitlines()[0]} |")
                continue
            new = row['seconds']['new']
            epochs = (f"{new['train']:.3f} | {new['first_epoch']:.3f}" if row['profile']
                      else '– | –')  # nothing to train
            lines.append(f"| {row['data']} | {row['label']} | {epochs} | {new['eval']:.3f} | "
                         f"{row['peak_mib']['new']:.0f} |")
    return '\n'.join(lines + profile_lines(rows)) + '\n'


def plot(report: dict, static: Path) -> None:
    """Seconds per training epoch of every model, one panel per dataset."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r['data'] for r in report['rows']))
    fig, axes = plt.subplots(len(datasets), 1, figsize=(9, 3.4 * len(datasets)), squeeze=False)
    for ax, data in zip(axes[:, 0], datasets, strict=True):
        rows = sorted((r for r in report['rows'] if r['data'] == data and r.get('profile')),
                      key=lambda r: r['seconds']['new']['train'])
        ax.bar([r['label'] for r in rows], [r['seconds']['new']['train'] for r in rows],
               label='training epoch')
        ax.bar([r['label'] for r in rows], [r['seconds']['new']['eval'] for r in rows],
               width=0.4, label='validation pass')
        ax.set_yscale('log')
        ax.set_ylabel('seconds (1 thread)')
        ax.set_title(data)
        ax.tick_params(axis='x', rotation=60, labelsize=8)
        ax.legend(fontsize=8)
    fig.tight_layout()
    static.mkdir(parents=True, exist_ok=True)
    fig.savefig(static / 'speed_epochs.png', dpi=110)


def plot_mmrec(report: dict, static: Path) -> None:
    """Ours ÷ MMRec per training epoch and validation pass of every model, one panel per
    dataset."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r['data'] for r in report['rows'] if 'ratio' in r))
    if not datasets:  # every model was skipped
        return
    fig, axes = plt.subplots(len(datasets), 1, figsize=(8, 3.2 * len(datasets)), squeeze=False)
    for ax, data in zip(axes[:, 0], datasets, strict=True):
        rows = sorted((r for r in report['rows'] if r['data'] == data and 'ratio' in r),
                      key=lambda r: r['ratio']['train'] if r['profile'] else r['ratio']['eval'])
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r['ratio']['train'] if r['profile'] else float('nan')
                                       for r in rows], width=0.4, label='training epoch')
        ax.bar([i + 0.2 for i in x], [r['ratio']['eval'] for r in rows], width=0.4,
               label='validation pass')
        ax.axhline(1.0, color='black', linewidth=0.8)
        ax.axhline(0.5, color='grey', linewidth=0.8, linestyle='--')
        ax.set_xticks(list(x), [r['label'] for r in rows], rotation=30, fontsize=8)
        ax.set_yscale('log')
        ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks([0.01, 0.03, 0.1, 0.3, 0.5, 1, 3, 10])
        ax.set_ylabel('ours ÷ MMRec (1 thread)')
        ax.set_title(f'{data}: below 1, faster than MMRec (dashed: the 0.5 target)')
        ax.legend(fontsize=8)
    fig.tight_layout()
    static.mkdir(parents=True, exist_ok=True)
    fig.savefig(static / 'speed_mmrec_ratios.png', dpi=120)
    plt.close(fig)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == '--worker':
        worker(*json.loads(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == '--mmrec-worker':
        mmrec_worker(*json.loads(sys.argv[2]))
        return
    labels = sorted(registered()) + list(VARIANTS)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    against = parser.add_mutually_exclusive_group()
    against.add_argument('--reference', type=Path,
                         help='a checkout of the earlier commit to compare with')
    against.add_argument('--mmrec', type=Path,
                         help="a checkout of MMRec, whose implementations to compare with")
    parser.add_argument('--data', nargs='+', default=['tiktok'],
                        help='dataset recipes (default: tiktok)')
    parser.add_argument('--models', nargs='+', default=labels, choices=labels)
    parser.add_argument('--rounds', type=int, default=3,
                        help='timed epochs and validation passes per model, after the first')
    parser.add_argument('--static', type=Path, default=STATIC, help='figure folder')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()
    stem = ('speed_mmrec' if args.mmrec else 'speed' if args.reference is None
            else 'speed_reference')
    report = (read_report(args.out, stem) if (args.out / f'{stem}.json').is_file()
              else {'rows': []})
    if not args.report_only:
        if args.rounds < 1:
            parser.error('--rounds must be at least 1')
        report['rounds'] = args.rounds
        # Read once, before this run writes its own reports (which would mark it dirty).
        ours = commit_of(ROOT)
        if args.mmrec is not None:
            if not (args.mmrec / 'src' / 'configs' / 'overall.yaml').is_file():
                parser.error(f"--mmrec {args.mmrec}: not an MMRec checkout (no "
                             "src/configs/overall.yaml)")
            if unknown := [m for m in args.models if model_of(m)[0] not in MMREC_MODELS]:
                parser.error(f"--mmrec: MMRec has no implementation of {', '.join(unknown)}; "
                             f"choose among {', '.join(MMREC_MODELS)}")
            report['commit'] = ours
            try:
                report['mmrec'] = commit_of(args.mmrec)
            except subprocess.CalledProcessError:  # e.g. an unpacked archive
                report['mmrec'] = 'unknown (not a git checkout)'
        elif args.reference is None:
            for row in report['rows']:  # the rows kept from earlier runs keep their commit
                row.setdefault('commit', report.get('commit'))
            report['commit'] = ours
        else:
            for row in report['rows']:  # the rows kept from earlier runs keep their commits
                row.setdefault('commits', report.get('commits'))
            report['commits'] = {'new': ours, 'before': commit_of(args.reference)}
        for data in args.data:
            for row in measure(args.models, data, args.reference and args.reference.resolve(),
                               args.rounds, args.data_root,
                               args.mmrec and args.mmrec.resolve()):
                row['commit'] = ours
                if args.reference is not None:
                    row['commits'] = report['commits']
                keys = [(r['data'], r['label']) for r in report['rows']]
                if (row['data'], row['label']) in keys:  # in place: the table keeps its order
                    report['rows'][keys.index((row['data'], row['label']))] = row
                else:
                    report['rows'].append(row)
                write_report(args.out, stem, report, format_report(report))
    table = format_report(report)
    write_report(args.out, stem, report, table)
    if args.mmrec is not None:
        plot_mmrec(report, args.static)
    elif args.reference is None:
        plot(report, args.static)
    print(table)


if __name__ == '__main__':
    main()
