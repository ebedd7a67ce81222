"""Training epochs when several jobs share the machine, against the ideal.

Research users run many jobs at once. For each model and each thread policy, N training
processes (``--jobs``, default 1, 2 and 4) start together, each the command a user would type,
``pyg-mmrec train --model M --data synthetic --set epochs=E ...``, differing only in the
thread setting:

* ``auto``: the default (``threads=0``): the library's choice, made again before every epoch
  from the CPUs this process may use less those other processes keep busy
  (:func:`pyg_mmrec.utils.auto_threads`);
* ``all-cpus``: every CPU the process may use (``--threads <cpus>``): PyTorch's own default,
  and the library's before it looked at the load. It is the reference this benchmark runs
  beside the default.

Each job's epoch log gives its seconds per training epoch; a job's time is the median over its
epochs after the first (which builds caches). The *ideal* for N jobs is one job alone with its
share of the CPUs: alone with ``cpus // N`` threads where that is one or more, else alone with
one thread, slowed by the share (``N / cpus``). The single-job times are measured in the same
run (alone with every CPU and alone with one thread). The report gives, per model, policy and
N, the slowest and the median job against the ideal; the library's promise is at most 1.5×.

The jobs must have the machine to themselves: run nothing else meanwhile (the ``all-cpus``
policy is the one that suffers, at up to 10× its ideal and more).

Writes ``<out>/concurrency.{md,json}`` and ``docs/_static/concurrency_epochs.png``;
``--report-only`` rebuilds them from the JSON.

Usage::

    python benchmarks/concurrency.py                                # lightgcn and ibmrec
    python benchmarks/concurrency.py --models lightgcn --jobs 1 2 --epochs 20
    python benchmarks/concurrency.py --report-only
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pyg_mmrec.train.harness import add_benchmark_arguments, read_report, write_report
from pyg_mmrec.utils import available_cpus

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
STATIC = ROOT / 'docs' / '_static'
#: Epochs per job: enough for the jobs to overlap for most of their run (a LightGCN epoch on
#: the synthetic data takes about 0.1 s, an IBMRec one about 2 s).
EPOCHS = {'lightgcn': 40, 'ibmrec': 6}
POLICIES = ('auto', 'all-cpus')


def run_jobs(model: str, jobs: int, threads: int, epochs: int) -> list[dict]:
    """Starts ``jobs`` training processes together and waits for them; returns each one's
    median seconds per training epoch (after the first) and its thread counts."""
    env = {k: v for k, v in os.environ.items() if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS')}
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f'job{i}' for i in range(jobs)]
        processes = [subprocess.Popen(
            [sys.executable, '-m', 'pyg_mmrec.cli', 'train', '--model', model, '--data',
             'synthetic', '--out', str(out), '--threads', str(threads), '--set',
             f'epochs={epochs}', f'patience={epochs}', f'eval_every={epochs}', 'progress=false'],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for out in outs]
        for process in processes:
            _, err = process.communicate()
            if process.returncode:
                raise RuntimeError(f'a {model} job failed (exit {process.returncode}): {err}')
        logs = [[json.loads(line) for line in (out / 'log.jsonl').read_text().splitlines()]
                for out in outs]
    return [{'seconds': statistics.median(r['train_seconds'] for r in log[1:]),
             'threads': [r['threads'] for r in log]} for log in logs]


def measure(models: list[str], job_counts: list[int], epochs: dict[str, int]) -> dict:
    cpus = available_cpus()
    rows = []
    for model in models:
        alone = {n: run_jobs(model, 1, n, epochs[model])[0]['seconds'] for n in {cpus, 1}}
        print(f'{model}: alone {alone}', flush=True)
        for policy in POLICIES:
            for jobs in job_counts:
                share = cpus // jobs
                ideal = alone[share] if share >= 1 else alone[1] * jobs / cpus
                started = time.perf_counter()
                result = run_jobs(model, jobs, 0 if policy == 'auto' else cpus, epochs[model])
                seconds = [r['seconds'] for r in result]
                rows.append({'model': model, 'policy': policy, 'jobs': jobs, 'ideal': ideal,
                             'seconds': seconds, 'threads': [r['threads'] for r in result],
                             'wall': time.perf_counter() - started})
                print(f'{model} {policy} x{jobs}: {max(seconds) / ideal:.2f}x ideal', flush=True)
    return {'cpus': cpus, 'epochs': epochs, 'rows': rows}


def thread_counts(row: dict) -> str:
    """The distinct thread counts the jobs' epochs ran with, e.g. ``'1'`` or ``'1–2'``."""
    counts = sorted({n for job in row['threads'] for n in job})
    return str(counts[0]) if len(counts) == 1 else f'{counts[0]}–{counts[-1]}'


def format_report(report: dict) -> str:
    lines = [
        '# Jobs sharing the machine', '',
        f"N training jobs started together on {report['cpus']} CPUs (`pyg-mmrec train` on the "
        'synthetic data, epochs per job: '
        + ', '.join(f'{m} {e}' for m, e in report['epochs'].items()) + '); a job\'s time is '
        'its median seconds per training epoch after the first. *ideal*: one job alone with '
        'its share of the CPUs (measured in the same run). *auto*: the default thread choice, '
        'made again every epoch from the CPUs other processes leave free; *all-cpus*: every '
        'CPU the process may use (PyTorch\'s default). *threads*: the counts the jobs\' epochs '
        'ran with.', '',
        '| model | policy | jobs | ideal s/epoch | median job s/epoch | slowest job s/epoch '
        '| median ÷ ideal | slowest ÷ ideal | threads |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for row in report['rows']:
        median, slowest = statistics.median(row['seconds']), max(row['seconds'])
        lines.append(f"| {row['model']} | {row['policy']} | {row['jobs']} | {row['ideal']:.3f} "
                     f"| {median:.3f} | {slowest:.3f} | {median / row['ideal']:.2f} "
                     f"| {slowest / row['ideal']:.2f} | {thread_counts(row)} |")
    return '\n'.join(lines) + '\n'


def plot(report: dict, static: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r['model'] for r in report['rows']))
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for i, policy in enumerate(POLICIES):
            rows = [r for r in report['rows'] if r['model'] == model and r['policy'] == policy]
            jobs = [r['jobs'] for r in rows]
            ax.plot(jobs, [max(r['seconds']) / r['ideal'] for r in rows], marker='o',
                    color=f'C{i}', label=f'{policy}: slowest job')
            ax.plot(jobs, [statistics.median(r['seconds']) / r['ideal'] for r in rows],
                    marker='.', linestyle=':', color=f'C{i}', label=f'{policy}: median job')
        ax.axhline(1.5, color='grey', linestyle='--', linewidth=0.8, label='1.5× ideal')
        ax.set_yscale('log')
        ax.set_xticks(sorted({r['jobs'] for r in report['rows']}))
        ax.set_xlabel(f"concurrent jobs on {report['cpus']} CPUs")
        ax.set_ylabel('epoch time ÷ ideal')
        ax.set_title(model)
        ax.legend(fontsize=7)
    fig.tight_layout()
    static.mkdir(parents=True, exist_ok=True)
    fig.savefig(static / 'concurrency_epochs.png', dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list(EPOCHS))
    parser.add_argument('--jobs', nargs='+', type=int, default=[1, 2, 4])
    parser.add_argument('--epochs', type=int, help='epochs per job (default: per model)')
    parser.add_argument('--static', type=Path, default=STATIC, help='figure folder')
    add_benchmark_arguments(parser, RESULTS, data_root=False)
    args = parser.parse_args()
    if not args.report_only:
        epochs = {m: args.epochs or EPOCHS.get(m, 10) for m in args.models}
        report = measure(args.models, args.jobs, epochs)
        write_report(args.out, 'concurrency', report, format_report(report))
    report = read_report(args.out, 'concurrency')
    write_report(args.out, 'concurrency', report, format_report(report))
    plot(report, args.static)
    print(format_report(report))


if __name__ == '__main__':
    main()
