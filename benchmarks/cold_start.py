"""Cold-start benchmark: new items from their content alone, cold / warm / all columns.

Every inductive model (the ``inductive`` capability), the content-only references
``itemknn_cbf`` and ``pop``, trained under the cold-start protocol (``cold_items``, default
0.2: LATTICE's; :class:`pyg_mmrec.transforms.ColdStartSplit`), each as a harness cell
(:func:`pyg_mmrec.train.run_cell`, selected on validation Recall@20 of all items, the test split
evaluated once). The report lists test Recall@20 and NDCG@20 of the cold items ranked among
the cold items, of the warm items among the warm items, and of all items among all; the figure
plots cold against warm Recall@20 per model. The synthetic generator plants a known
task-irrelevant share of the feature variance (``irrelevant_share``, 0.5 by default); with
``--shares`` the cells run on synthetic data generated with each share, and a second figure
relates cold-item Recall@20 to it. Plug-ins run on their default backbone (``--models
ibmrec``: IBMRec on VLATTICE).

This is the one-seed smoke version of issue 22's benchmark (no grid; defaults of every model).
The report keeps every row it has, a run adding or replacing its own (model, share)::

    python benchmarks/cold_start.py                             # every inductive backbone
    python benchmarks/cold_start.py --models vlattice ibmrec --shares 0.2 0.5 0.8
    python benchmarks/cold_start.py --report-only

Writes ``benchmarks/results/cold_start.{md,json}``, ``docs/_static/cold_start_recall.png`` and
``docs/_static/cold_start_shares.png``.
"""
from __future__ import annotations

import argparse
import inspect
import statistics
from pathlib import Path

from pyg_mmrec.data import make_synthetic
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
STATIC = ROOT / 'docs' / '_static'
COLUMNS = ('cold', 'warm', 'all')
#: make_synthetic's planted share, that of the data every other benchmark uses.
DEFAULT_SHARE = inspect.signature(make_synthetic).parameters['irrelevant_share'].default


def metric(test: dict, column: str, key: str) -> float:
    return test[key] if column == 'all' else test[f'{column}/{key}']


def format_report(report: dict) -> str:
    lines = [
        '# Cold start: new items from their content alone', '',
        f"Synthetic data generated with the planted task-irrelevant share of the features in "
        f"the *share* column, {report['cold_items']:.0%} of the items held out with all their "
        f"interactions (half validation, half test); at most {report['epochs']} epochs, every "
        f"model with its defaults (a plug-in on its default backbone), seeds {report['seeds']}. "
        'Test metrics at the epoch of the best validation Recall@20 (all items). *cold*: the '
        'held-out interactions with cold items, the cold items ranked among themselves; '
        '*warm*: the warm items among themselves; *all*: every item among all. The catalogues '
        'differ in size, so columns are compared across models, not with each other.', '',
        '| model | share | cold R@20 | warm R@20 | all R@20 | cold N@20 | warm N@20 '
        '| all N@20 |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for row in sorted(report['rows'], key=lambda r: (r['model'], r['share'])):
        cells = [mean_std([metric(t, c, f'{m}@20') for t in row['test']])
                 for m in ('Recall', 'NDCG') for c in COLUMNS]
        lines.append(f"| {row['model']} | {row['share']} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def mean_recall(row: dict, column: str) -> float:
    return statistics.mean(metric(t, column, 'Recall@20') for t in row['test'])


def plot(report: dict, static: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = [r for r in report['rows'] if r['share'] == DEFAULT_SHARE]
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for i, row in enumerate(sorted(rows, key=lambda r: r['model'])):
        warm, cold = mean_recall(row, 'warm'), mean_recall(row, 'cold')
        ax.scatter(warm, cold, color=f'C{i % 10}')
        ax.annotate(row['model'], (warm, cold), textcoords='offset points',
                    xytext=(4, 3 if i % 2 else -9), fontsize=8)
    ax.set_xlabel('warm items: test Recall@20')
    ax.set_ylabel('cold items: test Recall@20')
    ax.set_title(f"cold start on synthetic ({report['cold_items']:.0%} cold items)")
    fig.tight_layout()
    static.mkdir(parents=True, exist_ok=True)
    fig.savefig(static / 'cold_start_recall.png', dpi=110)

    swept = sorted({r['model'] for r in report['rows']
                    if sum(o['model'] == r['model'] for o in report['rows']) > 1})
    if not swept:
        return
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for model in swept:
        points = sorted((r['share'], mean_recall(r, 'cold')) for r in report['rows']
                        if r['model'] == model)
        ax.plot(*zip(*points, strict=True), marker='o', label=model)
    ax.set_xlabel('planted task-irrelevant share of the features')
    ax.set_ylabel('cold items: test Recall@20')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(static / 'cold_start_shares.png', dpi=110)


def main() -> None:
    from pyg_mmrec.ib import PlugIn
    from pyg_mmrec.nn.models import Capability
    from pyg_mmrec.registry import MODELS

    inductive = sorted(name for name, cls in MODELS.items()
                       if Capability.INDUCTIVE in cls.offered_capabilities())
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', choices=inductive,
                        default=[m for m in inductive if not issubclass(MODELS[m], PlugIn)])
    parser.add_argument('--shares', nargs='+', type=float, default=[DEFAULT_SHARE],
                        help='planted task-irrelevant shares of the synthetic features')
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024])
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument('--cold-items', type=float, default=0.2)
    parser.add_argument('--static', type=Path, default=STATIC, help='figure folder')
    add_benchmark_arguments(parser, RESULTS, data_root=False)
    args = parser.parse_args()

    if args.report_only:
        report = read_report(args.out, 'cold_start')
    else:
        settings = {'cold_items': args.cold_items, 'epochs': args.epochs, 'seeds': args.seeds}
        report = {**settings, 'rows': []}
        if (args.out / 'cold_start.json').is_file():
            report = read_report(args.out, 'cold_start')
            if {k: report[k] for k in settings} != settings:
                raise SystemExit(f"{args.out / 'cold_start.json'} holds rows of other settings "
                                 f"({ {k: report[k] for k in settings} }); use another --out")
        config = {'cold_items': args.cold_items, 'epochs': args.epochs, 'progress': False}
        for share in args.shares:
            splits = make_synthetic(irrelevant_share=share)
            for model in args.models:
                print(f'== {model}, irrelevant share {share}', flush=True)
                folder = args.out / 'runs' / 'cold_start' / f'share{share}' / model
                record = run_cell(Cell(model, 'synthetic', args.seeds, config=config), folder,
                                  splits=splits)
                report['rows'] = [r for r in report['rows']
                                  if (r['model'], r['share']) != (model, share)]
                report['rows'].append({'model': model, 'share': share,
                                       'test': [r['test'] for r in record['runs']],
                                       'best_epoch': [r['best_epoch'] for r in record['runs']]})
    table = format_report(report)
    write_report(args.out, 'cold_start', report, table)
    plot(report, args.static)
    print(table)


if __name__ == '__main__':
    main()
