"""Training and validation speed of this checkout against an earlier one, interleaved, and
where a training epoch's time goes.

For each model, two worker processes build the same trainer on the same data (same settings
and seed, one intra-op thread each): one imports ``pyg_mmrec`` from this checkout ("new"), the
other from ``--reference`` (a checkout of an earlier commit, "before"). They take turns, one
at a time: each round trains one epoch in each worker and then ranks the validation split once
in each, the order of the two swapped every round, so that both see the same machine load
(on a shared machine only such ratios mean anything, not the seconds themselves). The report
gives the median seconds per training epoch (the first epoch, which may build caches, apart),
per validation pass, the median of the per-round ratios new ÷ before, and the peak resident
memory of each worker. Each worker also returns every epoch's mean loss and validation
Recall@20, and the report says whether the two checkouts computed the same values (faster,
not different).

The profile splits one further epoch of the new checkout's trainer into its phases: drawing
the triplets (sampling), the forward pass (for models with the default objective, split into
the propagation, :meth:`~pyg_mmrec.nn.models.Recommender.encode`, and the loss on it), the
backward pass, the optimiser step, further stages (IBMRec's second stage) and the trainer's
checks of finite losses and gradients.

Writes ``<out>/speed.{md,json}``; ``--report-only`` rebuilds the Markdown from the JSON.

Usage::

    git worktree add --detach ../before <commit>
    python benchmarks/speed.py --reference ../before                 # tiktok, every model
    python benchmarks/speed.py --reference ../before --models vbpr freedom --rounds 3
    python benchmarks/speed.py --report-only
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from pyg_mmrec.train.harness import add_benchmark_arguments, read_report, write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
#: label -> (registered model, settings beyond the defaults)
MODELS = {
    'vbpr': ('vbpr', {}),
    'freedom': ('freedom', {}),
    'mmgcn': ('mmgcn', {}),
    'grcn': ('grcn', {}),
    'bm3': ('bm3', {}),
    'lightgcn': ('lightgcn', {}),
    'dvib-vbpr': ('dvib', {'backbone': 'vbpr'}),
    'dvib-lightgcn': ('dvib', {'backbone': 'lightgcn'}),
    'dvib-bm3': ('dvib', {'backbone': 'bm3'}),
    'dvib-freedom': ('dvib', {'backbone': 'freedom'}),
    'dvib-selfcf': ('dvib', {'backbone': 'selfcf'}),
    'ibmrec-vbpr': ('ibmrec', {'backbone': 'vbpr'}),
    'ibmrec-vlightgcn': ('ibmrec', {'backbone': 'vlightgcn'}),
    'msi': ('msi', {}),
}
PHASES = ('sampling', 'propagation', 'loss', 'forward', 'backward', 'optimiser', 'stages',
          'checks')


def worker(model: str, config: dict, data: str, root: str | None) -> None:
    """The worker process: builds the trainer, then answers one JSON command per line of
    stdin (``train``, ``eval``, ``profile``, ``peak``) with one JSON line on stdout."""
    import resource

    import torch

    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.train import make_trainer

    torch.set_num_threads(1)
    splits = load_recipe(data, root=root)
    trainer = make_trainer(model, splits, {**config, 'progress': False})
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but the answers on the pipe
    print(json.dumps({'ready': True}), file=out, flush=True)
    for line in sys.stdin:
        command = json.loads(line)['command']
        start = time.perf_counter()
        if command == 'train':
            losses = trainer.train_epoch()
            answer = {'seconds': time.perf_counter() - start, 'loss': losses['loss']}
            trainer.epoch += 1
        elif command == 'eval':
            recall = trainer.evaluate('val')['Recall@20']
            answer = {'seconds': time.perf_counter() - start, 'recall': recall}
        elif command == 'profile':
            answer = profile_epoch(trainer)
            trainer.epoch += 1
        else:
            answer = {'peak_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
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


class Worker:
    """A worker process importing ``pyg_mmrec`` from ``tree``."""
    def __init__(self, tree: Path, model: str, config: dict, data: str, root: str | None):
        env = {**os.environ, 'PYTHONPATH': str(tree), 'OMP_NUM_THREADS': '1',
               'MKL_NUM_THREADS': '1'}
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), '--worker',
             json.dumps([model, config, data, root])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
        self._read()

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"a speed worker died (exit code {self.process.wait()})")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.process.stdin.write(json.dumps({'command': command}) + '\n')
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def commit_of(tree: Path) -> str:
    return subprocess.run(['git', '-C', str(tree), 'rev-parse', '--short', 'HEAD'],
                          capture_output=True, text=True, check=True).stdout.strip()


def median_ratio(runs: dict, command: str, start: int) -> float:
    """The median over rounds ``start..`` of the ratios new ÷ before of ``command``."""
    return statistics.median(n / b for n, b in zip(runs['new'][command][start:],
                                                   runs['before'][command][start:], strict=True))


def measure(labels: list[str], data: str, reference: Path, rounds: int,
            root: Path | None) -> dict:
    """Runs the interleaved rounds of each model; returns the report's data."""
    rows = []
    for label in tqdm(labels, desc='models'):
        model, config = MODELS[label]
        root_arg = None if root is None else str(root.resolve())
        workers = {'new': Worker(ROOT, model, config, data, root_arg),
                   'before': Worker(reference, model, config, data, root_arg)}
        runs = {side: {'train': [], 'eval': [], 'loss': [], 'recall': []} for side in workers}
        for r in range(rounds):
            order = list(workers) if r % 2 == 0 else list(workers)[::-1]
            for command, key in (('train', 'loss'), ('eval', 'recall')):
                for side in order:
                    answer = workers[side].ask(command)
                    runs[side][command].append(answer['seconds'])
                    runs[side][key].append(answer[key])
        profile = workers['new'].ask('profile')
        peaks = {side: w.ask('peak')['peak_mib'] for side, w in workers.items()}
        for w in workers.values():
            w.close()
        rows.append({
            'label': label, 'model': model, 'config': config,
            'seconds': {side: {'first_epoch': runs[side]['train'][0],
                               'train': statistics.median(runs[side]['train'][1:]),
                               'eval': statistics.median(runs[side]['eval'])}
                        for side in workers},
            'ratio': {'first_epoch': runs['new']['train'][0] / runs['before']['train'][0],
                      'train': median_ratio(runs, 'train', 1),
                      'eval': median_ratio(runs, 'eval', 0)},
            'peak_mib': peaks,
            'same_results': all(runs['new'][k] == runs['before'][k] for k in ('loss', 'recall')),
            'recall': runs['new']['recall'], 'profile': profile})
        tqdm.write(f"{label}: train ×{rows[-1]['ratio']['train']:.2f}, "
                   f"eval ×{rows[-1]['ratio']['eval']:.2f}")
    return {'data': data, 'rounds': rounds, 'commits': {'new': commit_of(ROOT),
                                                        'before': commit_of(reference)},
            'rows': rows}


def format_report(report: dict) -> str:
    """The Markdown report: the timing table and the profile table."""
    commits = report['commits']
    lines = [f"# Speed ({report['data']})", '',
             f"This checkout ({commits['new']}) against {commits['before']}, one intra-op "
             f"thread each, interleaved over {report['rounds']} rounds (one training epoch, "
             'then one validation pass, of each per round). Seconds are medians (training: '
             'without the first epoch, shown apart); ratios are the medians of the per-round '
             'ratios new ÷ before (lower is faster). "Same results": every epoch\'s mean loss '
             'and validation Recall@20 are equal in the two checkouts.', '',
             '| model | epoch new (s) | epoch before (s) | ratio | first epoch ratio '
             '| validation new (s) | validation before (s) | ratio | peak MiB new / before '
             '| same results |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for row in report['rows']:
        new, before, ratio = row['seconds']['new'], row['seconds']['before'], row['ratio']
        lines.append(
            f"| {row['label']} | {new['train']:.3f} | {before['train']:.3f} | "
            f"{ratio['train']:.2f} | {ratio['first_epoch']:.2f} | {new['eval']:.3f} | "
            f"{before['eval']:.3f} | {ratio['eval']:.2f} | {row['peak_mib']['new']:.0f} / "
            f"{row['peak_mib']['before']:.0f} | {'yes' if row['same_results'] else 'NO'} |")
    lines += ['', '## Where a training epoch goes (new)', '',
              'Share of one profiled epoch per phase; "forward" is propagation and loss '
              'together, for models with their own objective (plug-ins, BM3).', '',
              '| model | epoch (s) | ' + ' | '.join(PHASES) + ' |',
              '|---|---|' + '---|' * len(PHASES)]
    for row in report['rows']:
        total = sum(row['profile'].values())
        lines.append(f"| {row['label']} | {total:.3f} | " + ' | '.join(
            f"{100 * row['profile'][p] / total:.0f} %" if row['profile'][p] else '–'
            for p in PHASES) + ' |')
    return '\n'.join(lines) + '\n'


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == '--worker':
        worker(*json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reference', type=Path,
                        help='a checkout of the earlier commit to compare with')
    parser.add_argument('--data', default='tiktok',
                        help='a dataset recipe (default: tiktok)')
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS))
    parser.add_argument('--rounds', type=int, default=4,
                        help='interleaved rounds (epochs) per model; the first is reported apart')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()
    if args.report_only:
        report = read_report(args.out, 'speed')
    else:
        if args.reference is None:
            parser.error('--reference is required unless --report-only')
        if args.rounds < 2:
            parser.error('--rounds must be at least 2 (the first epoch is reported apart)')
        report = measure(args.models, args.data, args.reference.resolve(), args.rounds,
                         args.data_root)
    table = format_report(report)
    write_report(args.out, 'speed', report, table)
    print(table)


if __name__ == '__main__':
    main()
