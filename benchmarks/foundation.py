"""Foundation benchmark: BPR-MF and LightGCN on the Amazon datasets, next to published numbers.

Each run is a harness cell (:func:`pyg_mmrec.train.run_cell`) in a process of its own (so that
its peak memory is its own), with the models' default hyper-parameters. Results go to
``benchmarks/results/foundation.{json,md}`` and the validation curves to
``docs/_static/foundation_curves.png``.

Also measures the propagation kernel: one forward + backward of 2-layer LightGCN propagation on
each dataset's training graph with :class:`pyg_mmrec.nn.conv.LightGCNConv` (cached normalised
CSR adjacency, symmetric backward) against PyG's own :class:`torch_geometric.nn.LGConv` on the
edge list (normalising every call), in the same process; the ratio is what to read, as these
machines are shared.

Finished runs (``<out>/runs/foundation/<dataset>_<model>_<seed>/cell.json``) are not repeated,
and the report (``foundation.json``, the retained record) keeps every run and kernel it has
summarised, a run adding or replacing its own, so seeds and datasets can be added in later
invocations; ``--report-only`` rebuilds the Markdown (and the figure, where the runs' logs are
still there) from it.

Usage::

    python benchmarks/foundation.py                      # every dataset and model, seed 2024
    python benchmarks/foundation.py --datasets amazon-baby --seeds 2024 2025 2026
    python benchmarks/foundation.py --report-only
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from pyg_mmrec.train.harness import add_benchmark_arguments, mean_std, read_report, write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'

# Recall@20 / NDCG@20 published for these splits (the data root's README gives the protocols
# behind them).
PUBLISHED = {
    ('amazon-sports', 'bprmf'): (0.0430, 0.0202, 'MMSSL/DiffMM tables, same split, epoch on test'),
    ('amazon-sports', 'lightgcn'): (0.0782, 0.0369,
                                    'MMSSL/DiffMM tables, same split, epoch on test'),
    ('amazon-baby', 'bprmf'): (0.0575, 0.0249, "MMRec, MMRec's own split"),
    ('amazon-baby', 'lightgcn'): (0.0754, 0.0328, "MMRec, MMRec's own split"),
}


def train_once(dataset: str, model: str, seed: int, config: dict, out: Path,
               data_root: Path | None) -> dict:
    """One run in a process of its own; returns the report's entry (its results and the
    process's wall-clock seconds)."""
    from pyg_mmrec.train import Cell, run_cell

    record = run_cell(Cell(model, dataset, [seed], config=config), out, data_root=data_root,
                      isolate=True)
    run = {k: v for k, v in record['runs'][0].items() if k != 'dir'}
    return {'dataset': dataset, 'model': model, 'seed': seed, 'data': dataset, **run,
            'wall_seconds': record['wall_seconds']}


def propagation_ratio(dataset: str, data_root: Path | None, repeats: int = 20) -> dict:
    """Milliseconds per forward+backward of 2-layer propagation: ours vs PyG's LGConv."""
    from torch_geometric.nn import LGConv

    from pyg_mmrec.data import INTERACTS, load_recipe
    from pyg_mmrec.nn.conv import LightGCNConv, user_item_adjacency, user_item_edge_index

    splits = load_recipe(dataset, root=data_root)
    edge_index = splits.train[INTERACTS].edge_index
    num_users, num_items = splits.num_users, splits.num_items
    x = torch.randn(num_users + num_items, 64, requires_grad=True)
    adj = user_item_adjacency(edge_index, num_users, num_items)
    hom = user_item_edge_index(edge_index, num_users)
    ours, lgconv = LightGCNConv(2, normalize=False), LGConv()

    def reference():
        h1 = lgconv(x, hom)
        return (x + h1 + lgconv(h1, hom)) / 3

    def timed(fn) -> float:
        fn().sum().backward()  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            fn().sum().backward()
        return (time.perf_counter() - start) / repeats * 1000

    ms_ours, ms_ref = timed(lambda: ours(x, adj)), timed(reference)
    same = torch.allclose(ours(x, adj), reference(), atol=1e-5)
    return {'dataset': dataset, 'ms_ours': ms_ours, 'ms_lgconv': ms_ref,
            'speedup': ms_ref / ms_ours, 'same_output': bool(same)}


def format_report(report: dict) -> str:
    """The Markdown report of the recorded runs and kernel measurements."""
    runs, kernels = report['runs'], report['kernels']
    seeds = sorted({r['seed'] for r in runs})
    lines = [
        '# Foundation benchmark', '',
        f'Seeds: {seeds} (mean ± std where a cell has several). Test metrics at the epoch '
        'with the best validation Recall@20 (full ranking; training and validation items '
        'excluded at test). Defaults: embedding 64, batch 2048, Adam lr 1e-3, L2 1e-4, '
        'LightGCN 2 layers, patience 20. Seconds are medians over epochs; "total" is '
        'training to early stop plus the final test.', '',
        '| dataset | model | Recall@20 | NDCG@20 | best epoch | s/epoch | s/val pass | total min '
        '| peak MiB | published R@20 / N@20 |',
        '|---|---|---|---|---|---|---|---|---|---|',
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r['dataset'], r['model']), []).append(r)
    for (dataset, model), rs in groups.items():
        pub = PUBLISHED.get((dataset, model))
        pub_text = f'{pub[0]:.4f} / {pub[1]:.4f} ({pub[2]})' if pub else '—'
        lines.append(
            f"| {dataset} | {model} | {mean_std([r['test']['Recall@20'] for r in rs])} "
            f"| {mean_std([r['test']['NDCG@20'] for r in rs])} "
            f"| {', '.join(str(r['best_epoch']) for r in rs)} "
            f"| {statistics.mean(r['train_seconds_per_epoch'] for r in rs):.2f} "
            f"| {statistics.mean(r['eval_seconds'] for r in rs):.2f} "
            f"| {statistics.mean(r['wall_seconds'] for r in rs) / 60:.1f} "
            f"| {max(r['peak_rss_mb'] for r in rs):.0f} | {pub_text} |")
    if kernels:
        lines += ['', '## Propagation kernel', '',
                  'One forward + backward of 2-layer LightGCN propagation (64-d) on the training '
                  'graph, same process.', '',
                  '| dataset | LightGCNConv ms | PyG LGConv ms | speed-up | same output |',
                  '|---|---|---|---|---|']
        lines += [f"| {k['dataset']} | {k['ms_ours']:.1f} | {k['ms_lgconv']:.1f} "
                  f"| {k['speedup']:.2f}× | {k['same_output']} |" for k in kernels]
    return '\n'.join(lines) + '\n'


def plot_curves(runs: list[dict], path: Path, logs: dict[tuple, Path]) -> None:
    """Validation curves of every run, read from ``logs`` (dataset, model, seed) -> log."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    datasets = sorted({r['dataset'] for r in runs})
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.5 * len(datasets), 3.4), squeeze=False)
    colors = {m: f'C{i}' for i, m in enumerate(sorted({r['model'] for r in runs}))}
    for ax, dataset in zip(axes[0], datasets, strict=True):
        labelled = set()
        for r in sorted(runs, key=lambda r: (r['model'], r['seed'])):
            if r['dataset'] != dataset:
                continue
            lines = logs[r['dataset'], r['model'], r['seed']].read_text().splitlines()
            log = [json.loads(line) for line in lines]
            color = colors[r['model']]
            ax.plot([e['epoch'] for e in log], [e['valid']['Recall@20'] for e in log],
                    color=color, lw=1, label=None if r['model'] in labelled else r['model'])
            ax.axvline(r['best_epoch'], ls=':', lw=0.8, color=color)
            labelled.add(r['model'])
        ax.set_title(dataset)
        ax.set_xlabel('epoch')
        ax.set_ylabel('validation Recall@20')
        ax.legend(fontsize=8, title='dotted: selected epoch', title_fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+',
                        default=['amazon-baby', 'amazon-sports', 'amazon-clothing'])
    parser.add_argument('--models', nargs='+', default=['bprmf', 'lightgcn'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024])
    parser.add_argument('--set', nargs='*', default=[], help='extra config overrides')
    parser.add_argument('--skip-kernel', action='store_true')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    from pyg_mmrec.train.config import parse_overrides

    report = (read_report(args.out, 'foundation') if (args.out / 'foundation.json').is_file()
              else {'runs': [], 'kernels': []})
    runs = {(r['dataset'], r['model'], r['seed']): r for r in report['runs']}
    kernels = {k['dataset']: k for k in report['kernels']}

    def folder(dataset: str, model: str, seed: int) -> Path:
        return args.out / 'runs' / 'foundation' / f'{dataset}_{model}_{seed}'
    for dataset in [] if args.report_only else args.datasets:
        for model in args.models:
            for seed in args.seeds:
                print(f'== {dataset} {model} seed {seed}', flush=True)
                runs[dataset, model, seed] = train_once(
                    dataset, model, seed, parse_overrides(args.set), folder(dataset, model, seed),
                    args.data_root)
        if not args.skip_kernel and dataset not in kernels:
            kernels[dataset] = propagation_ratio(dataset, args.data_root)
    report = {'runs': [runs[key] for key in sorted(runs, key=lambda k: f'{k[0]}_{k[1]}_{k[2]}')],
              'kernels': [kernels[d] for d in sorted(kernels)]}
    table = format_report(report)
    write_report(args.out, 'foundation', report, table)
    logs = {(r['dataset'], r['model'], r['seed']): folder(r['dataset'], r['model'], r['seed'])
            / f"seed{r['seed']}" / 'log.jsonl' for r in report['runs']}
    if all(log.is_file() for log in logs.values()):  # else the figure stays as it is
        plot_curves(report['runs'], ROOT / 'docs' / '_static' / 'foundation_curves.png', logs)
    print(table)


if __name__ == '__main__':
    main()
