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

Writes ``<out>/speed.{md,json}`` (``speed_reference.{md,json}`` with ``--reference``), keeping
the rows of other models and datasets; ``--report-only`` rebuilds the Markdown from the JSON.

Usage::

    python benchmarks/speed.py --data tiktok amazon-baby             # every model
    python benchmarks/speed.py --models vbpr freedom --rounds 3
    git worktree add --detach ../before <commit>
    python benchmarks/speed.py --reference ../before --models vbpr freedom --rounds 3
    python benchmarks/speed.py --report-only [--reference ../before]
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
        self.error = self._read().get('error')  # why the model cannot run here, if it cannot

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
            root: Path | None) -> list[dict]:
    """Times each model on ``data`` (in turns with the reference, if given); returns the rows."""
    rows = []
    trees = {'new': ROOT, **({'before': reference} if reference else {})}
    for label in tqdm(labels, desc=data):
        model, config = model_of(label)
        row = {'data': data, 'label': label, 'model': model, 'config': config}
        root_arg = None if root is None else str(root.resolve())
        workers = {side: Worker(tree, model, config, data, root_arg)
                   for side, tree in trees.items()}
        if workers['new'].error:
            for w in workers.values():
                w.close()
            rows.append({**row, 'skipped': workers['new'].error})
            tqdm.write(f'{label}: skipped ({workers["new"].error})')
            continue
        runs = {side: {'train': [], 'eval': [], 'loss': [], 'recall': []} for side in workers}
        for r in range(rounds + 1):  # round 0: the first epoch, reported apart
            order = list(workers) if r % 2 == 0 else list(workers)[::-1]
            for command, key in (('train', 'loss'), ('eval', 'recall')):
                for side in order:
                    answer = workers[side].ask(command)
                    runs[side][command].append(answer['seconds'])
                    runs[side][key].append(answer[key])
        row['profile'] = workers['new'].ask('profile')
        row['peak_mib'] = {side: w.ask('peak')['peak_mib'] for side, w in workers.items()}
        for w in workers.values():
            w.close()
        row['seconds'] = {side: {'first_epoch': runs[side]['train'][0],
                                 'train': statistics.median(runs[side]['train'][1:]),
                                 'eval': statistics.median(runs[side]['eval'])}
                          for side in workers}
        row['recall'] = runs['new']['recall']
        if reference:
            row['ratio'] = {'first_epoch': runs['new']['train'][0] / runs['before']['train'][0],
                            'train': median_ratio(runs, 'train', 1),
                            'eval': median_ratio(runs, 'eval', 0)}
            row['same_results'] = all(runs['new'][k] == runs['before'][k]
                                      for k in ('loss', 'recall'))
            tqdm.write(f"{label}: train ×{row['ratio']['train']:.2f}, "
                       f"eval ×{row['ratio']['eval']:.2f}")
        else:
            tqdm.write(f"{label}: {row['seconds']['new']['train']:.3f} s/epoch")
        rows.append(row)
    return rows


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


def main() -> None:
    from pyg_mmrec.registry import registered

    if len(sys.argv) == 3 and sys.argv[1] == '--worker':
        worker(*json.loads(sys.argv[2]))
        return
    labels = sorted(registered()) + list(VARIANTS)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reference', type=Path,
                        help='a checkout of the earlier commit to compare with')
    parser.add_argument('--data', nargs='+', default=['tiktok'],
                        help='dataset recipes (default: tiktok)')
    parser.add_argument('--models', nargs='+', default=labels, choices=labels)
    parser.add_argument('--rounds', type=int, default=3,
                        help='timed epochs and validation passes per model, after the first')
    parser.add_argument('--static', type=Path, default=STATIC, help='figure folder')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()
    stem = 'speed' if args.reference is None else 'speed_reference'
    report = (read_report(args.out, stem) if (args.out / f'{stem}.json').is_file()
              else {'rows': []})
    if not args.report_only:
        if args.rounds < 1:
            parser.error('--rounds must be at least 1')
        report['rounds'] = args.rounds
        if args.reference is None:
            for row in report['rows']:  # the rows kept from earlier runs keep their commit
                row.setdefault('commit', report.get('commit'))
            report['commit'] = commit_of(ROOT)
        else:
            for row in report['rows']:  # the rows kept from earlier runs keep their commits
                row.setdefault('commits', report.get('commits'))
            report['commits'] = {'new': commit_of(ROOT), 'before': commit_of(args.reference)}
        for data in args.data:
            for row in measure(args.models, data, args.reference and args.reference.resolve(),
                               args.rounds, args.data_root):
                row['commit'] = commit_of(ROOT)
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
    if args.reference is None:
        plot(report, args.static)
    print(table)


if __name__ == '__main__':
    main()
