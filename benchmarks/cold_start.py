"""Cold-start benchmark: new items from their content alone, cold / warm / all columns.

Every inductive model (the ``inductive`` capability), the content-only references
``itemknn_cbf`` and ``pop``, trained under the cold-start protocol (``cold_items``, default
0.2: LATTICE's; :class:`pyg_mmrec.transforms.ColdStartSplit`), each as a harness cell
(:func:`pyg_mmrec.train.run_cell`, selected on validation Recall@20 of all items, the test split
evaluated once). The report lists test Recall@20 and NDCG@20 of the cold items ranked among
the cold items, of the warm items among the warm items, and of all items among all; the figure
plots cold against warm Recall@20 per model. On the synthetic data the report also states the
generator's planted task-irrelevant share of the features (``irrelevant_share``).

This is the one-seed smoke version of issue 22's benchmark (no grid; defaults of every model)::

    python benchmarks/cold_start.py                             # synthetic, one seed
    python benchmarks/cold_start.py --models vbpr lattice --epochs 50 --seeds 2024 2025
    python benchmarks/cold_start.py --report-only

Writes ``benchmarks/results/cold_start.{md,json}`` and ``docs/_static/cold_start_recall.png``.
"""
from __future__ import annotations

import argparse
import inspect
import statistics
from pathlib import Path

from pyg_mmrec.train.harness import (
    Cell,
    add_benchmark_arguments,
    mean_std,
    read_report,
    run_cell,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
FIGURE = ROOT / 'docs' / '_static' / 'cold_start_recall.png'
COLUMNS = ('cold', 'warm', 'all')


def metric(test: dict, column: str, key: str) -> float:
    return test[key] if column == 'all' else test[f'{column}/{key}']


def format_report(report: dict) -> str:
    lines = [
        '# Cold start: new items from their content alone', '',
        f"Dataset {report['data']} (planted task-irrelevant share of the features: "
        f"{report['irrelevant_share']}), {report['cold_items']:.0%} of the items held out with "
        f"all their interactions (half validation, half test); at most {report['epochs']} "
        f"epochs, every model with its defaults, seeds {report['seeds']}. Test metrics at the "
        'epoch of the best validation Recall@20 (all items). *cold*: the held-out interactions '
        'with cold items, the cold items ranked among themselves; *warm*: the warm items among '
        'themselves; *all*: every item among all. The catalogues differ in size, so columns are '
        'compared across models, not with each other.', '',
        '| model | cold R@20 | warm R@20 | all R@20 | cold N@20 | warm N@20 | all N@20 |',
        '|---|---|---|---|---|---|---|',
    ]
    for row in report['rows']:
        cells = [mean_std([metric(t, c, f'{m}@20') for t in row['test']])
                 for m in ('Recall', 'NDCG') for c in COLUMNS]
        lines.append(f"| {row['model']} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for i, row in enumerate(report['rows']):
        cold = statistics.mean(metric(t, 'cold', 'Recall@20') for t in row['test'])
        warm = statistics.mean(metric(t, 'warm', 'Recall@20') for t in row['test'])
        ax.scatter(warm, cold, color=f'C{i % 10}')
        ax.annotate(row['model'], (warm, cold), textcoords='offset points', xytext=(4, 3),
                    fontsize=8)
    ax.set_xlabel('warm items: test Recall@20')
    ax.set_ylabel('cold items: test Recall@20')
    ax.set_title(f"cold start on {report['data']} ({report['cold_items']:.0%} cold items)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    from pyg_mmrec.data import make_synthetic
    from pyg_mmrec.data.recipes import load_recipe
    from pyg_mmrec.ib import PlugIn
    from pyg_mmrec.nn.models import Capability
    from pyg_mmrec.registry import MODELS

    inductive = sorted(name for name, cls in MODELS.items()
                       if not issubclass(cls, PlugIn) and Capability.INDUCTIVE in cls.capabilities)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=inductive, choices=inductive)
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024])
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument('--cold-items', type=float, default=0.2)
    parser.add_argument('--static', type=Path, default=FIGURE.parent, help='figure folder')
    add_benchmark_arguments(parser, RESULTS, data_root=False)
    args = parser.parse_args()

    if args.report_only:
        report = read_report(args.out, 'cold_start')
    else:
        splits = load_recipe('synthetic')
        config = {'cold_items': args.cold_items, 'epochs': args.epochs, 'progress': False}
        rows = []
        for model in args.models:
            print(f'== {model}', flush=True)
            record = run_cell(Cell(model, 'synthetic', args.seeds, config=config),
                              args.out / 'runs' / 'cold_start' / model, splits=splits)
            rows.append({'model': model, 'test': [r['test'] for r in record['runs']],
                         'best_epoch': [r['best_epoch'] for r in record['runs']]})
        # The recipe is make_synthetic with its defaults: the planted share is the default's.
        share = inspect.signature(make_synthetic).parameters['irrelevant_share'].default
        report = {'data': 'synthetic', 'cold_items': args.cold_items, 'epochs': args.epochs,
                  'seeds': args.seeds, 'irrelevant_share': share, 'rows': rows}
    table = format_report(report)
    write_report(args.out, 'cold_start', report, table)
    plot(report, args.static / FIGURE.name)
    print(table)


if __name__ == '__main__':
    main()
