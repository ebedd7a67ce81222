"""Cold-start benchmark: new items from their content alone, cold / warm / all columns.

Every inductive model (the ``inductive`` capability), the content-only references
``itemknn_cbf`` and ``pop``, and the IB plug-ins on their default backbones or, named
``plugin+backbone`` (e.g. ``dvib+lattice``; ``--pairs`` adds every such pair), on each other
inductive backbone they support, trained under the
cold-start protocol (``cold_items``, default 0.2: LATTICE's;
:class:`pyg_mmrec.transforms.ColdStartSplit`), each as a harness cell
(:func:`pyg_mmrec.train.run_cell`: every model at its defaults, no grid; per seed, the epoch
selected on validation Recall@20 of all items, the test split evaluated once). The report lists
test Recall@20 and NDCG@20 of the cold items ranked among the cold items, of the warm items
among the warm items, and of all items among all (mean ± std over the seeds), and answers, per
information bottleneck, whether it helps cold items more than warm ones: the relative change of
cold and of warm Recall@20 against its own backbone (e.g. IBMRec against VLATTICE, DVIB
against VBPR, ``dvib+lattice`` against LATTICE, MSI against BM3) on the same seeds. The
figure plots cold against warm Recall@20 per model and dataset.

Datasets (``--data``): ``synthetic`` and the recipes of :func:`pyg_mmrec.data.load_recipe`
(``ml-100k-text``, ``tiktok``; amazon-baby has no feature matrices to represent new items
from). The synthetic generator plants a known task-irrelevant share of the feature variance
(``irrelevant_share``, 0.5 by default); with ``--shares`` the synthetic cells run on data
generated with each share, and a second figure relates cold-item Recall@20 to it.

The report keeps every row it has, a run adding or replacing its own (data, share, model); each
row records its seeds, epoch cap and cold share::

    python benchmarks/cold_start.py --seeds 2024 2025 2026         # every model, synthetic
    python benchmarks/cold_start.py --data tiktok ml-100k-text --seeds 2024 2025 2026 \
        --models vbpr vlattice ibmrec dvib bm3 msi itemknn_cbf pop
    python benchmarks/cold_start.py --data ml-100k-text --pairs --seeds 2024 2025 2026
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
from pyg_mmrec.errors import PygMMRecError
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


TEXT_CACHE = ROOT / 'runs' / 'text-cache'
#: The information bottlenecks compared with their backbones: plug-ins, and MSI (on BM3).
BOTTLENECKS = ('ibmrec', 'dvib', 'msi')


def split_model(model: str) -> tuple[str, str | None]:
    """``'dvib+lattice'`` -> ``('dvib', 'lattice')``; ``'dvib'`` -> ``('dvib', None)``."""
    name, _, backbone = model.partition('+')
    return name, backbone or None


def backbone_of(model: str) -> str | None:
    """The backbone a bottleneck row is compared with (:obj:`None` for other models)."""
    from pyg_mmrec.registry import registered

    name, backbone = split_model(model)
    if name not in BOTTLENECKS:
        return None
    return backbone or getattr(registered()[name], 'default_backbone', 'bm3')


def plugin_pairs(inductive: list[str]) -> list[str]:
    """``plugin+backbone`` for each IB plug-in and each inductive backbone it supports other
    than its default (the plain plug-in name runs that one)."""
    from pyg_mmrec.registry import registered

    plugins = {n: c for n, c in registered().items()
               if n in inductive and hasattr(c, 'supported_backbones')}
    return [f'{name}+{backbone}' for name, cls in sorted(plugins.items()) if name in BOTTLENECKS
            for backbone in cls.supported_backbones()
            if backbone in inductive and backbone not in plugins and backbone != 'msi'
            and backbone != cls.default_backbone]


def metric(test: dict, column: str, key: str) -> float:
    return test[key] if column == 'all' else test[f'{column}/{key}']


def row_key(row: dict) -> tuple:
    return row['data'], row['share'] if row['share'] is not None else -1.0, row['model']


def data_label(row: dict) -> str:
    return row['data'] if row['share'] is None else f"{row['data']} (share {row['share']})"


def recall_by_seed(row: dict, column: str) -> dict[int, float]:
    return {seed: metric(t, column, 'Recall@20')
            for seed, t in zip(row['seeds'], row['test'], strict=True)}


def mean_recall(row: dict, column: str, seeds: list[int] | None = None) -> float:
    recall = recall_by_seed(row, column)
    return statistics.mean(recall[s] for s in (row['seeds'] if seeds is None else seeds))


def bottleneck_lines(rows: list[dict]) -> list[str]:
    """The relative change of cold and warm Recall@20 of each bottleneck against its backbone
    on the same data and the seeds both ran."""
    by = {(data_label(r), r['model']): r for r in rows}
    lines, colder = [], {}  # colder: per bottleneck, whether each comparison favours cold items
    for label in dict.fromkeys(data_label(r) for r in rows):
        for ib, backbone in ((r['model'], backbone_of(r['model'])) for r in rows
                             if data_label(r) == label):
            if backbone is None or (label, backbone) not in by:
                continue
            seeds = sorted(set(by[label, ib]['seeds']) & set(by[label, backbone]['seeds']))
            pairs = {c: (mean_recall(by[label, ib], c, seeds),
                         mean_recall(by[label, backbone], c, seeds)) for c in COLUMNS[:2]}
            change = {c: f'{a - b:+.4f} ({a / b - 1:+.1%})' for c, (a, b) in pairs.items()}
            relative = {c: a / b - 1 for c, (a, b) in pairs.items()}
            cold_ib, cold_base = (recall_by_seed(by[label, m], 'cold') for m in (ib, backbone))
            wins = sum(cold_ib[s] > cold_base[s] for s in seeds)
            if relative['cold'] <= relative['warm']:
                verdict = 'not more on cold items'
            else:  # when both fall, "more" would read as a gain
                verdict = ('more on cold items' if relative['cold'] > 0
                           else 'less harm on cold items')
            lines.append(f"| {label} | {ib} vs {backbone} | {change['cold']} "
                         f"| {change['warm']} | {wins}/{len(seeds)} | {verdict} |")
            colder.setdefault(split_model(ib)[0], []).append(relative['cold'] > relative['warm'])
    if not lines:
        return []
    tally = '; '.join(f'{ib}: {sum(v)} of {len(v)}' for ib, v in sorted(colder.items()))
    return ['Does the bottleneck help cold items more than warm ones? Change of test Recall@20 '
            'against its own backbone, absolute (relative), means over the seeds both ran; '
            '"cold seeds up": the seeds on which its cold Recall@20 is higher; the answer '
            'compares the relative changes:', '',
            '| data | bottleneck | cold R@20 | warm R@20 | cold seeds up | answer |',
            '|---|---|---|---|---|---|', *lines, '',
            f'Comparisons in which the relative change is larger on cold items than on warm '
            f'ones: {tally}.', '']


def format_report(report: dict) -> str:
    rows = sorted(report['rows'], key=row_key)
    lines = [
        '# Cold start: new items from their content alone', '',
        'A share of the items (*cold*) held out with all their interactions (half validation, '
        'half test); every model with its defaults (a plug-in on its default backbone), at most '
        '*epochs* epochs; per seed, test metrics at the epoch of the best validation Recall@20 '
        '(all items), mean ± std over the seeds. *cold*: the held-out interactions with cold '
        'items, the cold items ranked among themselves; *warm*: the warm items among themselves; '
        '*all*: every item among all. The catalogues differ in size, so columns are compared '
        'across models, not with each other. On synthetic data, *share* is the planted '
        'task-irrelevant share of the features.', '',
        *bottleneck_lines(rows),
        '| data | model | cold | seeds | epochs | cold R@20 | warm R@20 | all R@20 | cold N@20 '
        '| warm N@20 | all N@20 |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for row in rows:
        cells = [mean_std([metric(t, c, f'{m}@20') for t in row['test']])
                 for m in ('Recall', 'NDCG') for c in COLUMNS]
        lines.append(f"| {data_label(row)} | {row['model']} | {row['cold_items']:.0%} "
                     f"| {len(row['seeds'])} | {row['epochs']} | " + ' | '.join(cells) + ' |')
    if report.get('skipped'):
        lines += ['', 'Not applicable:', '']
        lines += [f'- {cell}: {reason}' for cell, reason in sorted(report['skipped'].items())]
    return '\n'.join(lines) + '\n'


def plot(report: dict, static: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = [r for r in report['rows'] if r['share'] in (None, DEFAULT_SHARE)]
    labels = list(dict.fromkeys(data_label(r) for r in sorted(rows, key=row_key)))
    fig, axes = plt.subplots(1, len(labels), figsize=(6.4 * len(labels), 5.4), squeeze=False)
    colours = {ib: f'C{i + 1}' for i, ib in enumerate(BOTTLENECKS)}
    for ax, label in zip(axes[0], labels, strict=True):
        here = {r['model']: r for r in rows if data_label(r) == label}
        point = {m: (mean_recall(r, 'warm'), mean_recall(r, 'cold')) for m, r in here.items()}
        for i, model in enumerate(m for m in here if backbone_of(m) is None):
            ax.scatter(*point[model], color='C0', s=16)
            ax.annotate(model, point[model], textcoords='offset points',
                        xytext=(4, 3 if i % 2 else -9), fontsize=7)
        # each bottleneck: an arrow from its backbone's point to its own
        for model in (m for m in here if backbone_of(m) in here):
            ib = split_model(model)[0]
            ax.annotate('', point[model], point[backbone_of(model)],
                        arrowprops={'arrowstyle': '->', 'color': colours[ib], 'lw': 1.2})
        for ib, colour in colours.items():
            if any(split_model(m)[0] == ib and backbone_of(m) in here for m in here):
                ax.plot([], [], color=colour, label=f'{ib} on its backbone')
        ax.set_xlabel('warm items: test Recall@20')
        ax.set_ylabel('cold items: test Recall@20')
        ax.set_title(f'{label}, 20% cold items' if label else label)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc='best')
    fig.tight_layout()
    static.mkdir(parents=True, exist_ok=True)
    fig.savefig(static / 'cold_start_recall.png', dpi=110)

    synthetic = [r for r in report['rows'] if r['share'] is not None]
    swept = sorted({r['model'] for r in synthetic
                    if sum(o['model'] == r['model'] for o in synthetic) > 1})
    if not swept:
        return
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    for model in swept:
        points = sorted((r['share'], mean_recall(r, 'cold')) for r in synthetic
                        if r['model'] == model)
        ax.plot(*zip(*points, strict=True), marker='o', label=model)
    ax.set_xlabel('planted task-irrelevant share of the features')
    ax.set_ylabel('cold items: test Recall@20')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(static / 'cold_start_shares.png', dpi=110)


def load_report(out: Path) -> dict:
    """The recorded report in ``out``, or an empty one."""
    return read_report(out, 'cold_start') if (out / 'cold_start.json').is_file() else {'rows': []}


def main() -> None:
    from pyg_mmrec.nn.models import Capability
    from pyg_mmrec.registry import registered

    inductive = sorted(name for name, cls in registered().items()
                       if Capability.INDUCTIVE in cls.offered_capabilities())
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', nargs='+', default=['synthetic'],
                        help='synthetic and/or dataset recipes (ml-100k-text, tiktok)')
    pairs = plugin_pairs(inductive)
    parser.add_argument('--models', nargs='+', choices=inductive + pairs, default=inductive,
                        metavar='MODEL', help='inductive models, or plugin+backbone pairs: '
                        + ', '.join(inductive + pairs))
    parser.add_argument('--pairs', action='store_true',
                        help='also every IB plug-in on every other inductive backbone')
    parser.add_argument('--shares', nargs='+', type=float, default=[DEFAULT_SHARE],
                        help='planted task-irrelevant shares of the synthetic features')
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024])
    parser.add_argument('--epochs', type=int, default=40)
    parser.add_argument('--cold-items', type=float, default=0.2)
    parser.add_argument('--static', type=Path, default=STATIC, help='figure folder')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    report = read_report(args.out, 'cold_start') if args.report_only else load_report(args.out)
    config = {'cold_items': args.cold_items, 'epochs': args.epochs, 'progress': False}
    for data in [] if args.report_only else args.data:
        for share in args.shares if data == 'synthetic' else [None]:
            splits = make_synthetic(irrelevant_share=share) if data == 'synthetic' else None
            for model in args.models + (pairs if args.pairs else []):
                print(f'== {data}, {model}' + ('' if share is None else f', share {share}'),
                      flush=True)
                name = f'share{share}' if data == 'synthetic' else data
                settings = f"cold{args.cold_items}_ep{args.epochs}_{'-'.join(map(str, args.seeds))}"
                folder = args.out / 'runs' / 'cold_start' / name / model / settings
                registered_name, backbone = split_model(model)
                cell = Cell(registered_name, data, args.seeds,
                            config=config if backbone is None else {**config, 'backbone': backbone})
                try:
                    record = run_cell(cell, folder, splits=splits, data_root=args.data_root,
                                      text_cache=TEXT_CACHE)
                except PygMMRecError as error:  # the model does not apply to these data
                    print(f'   does not apply: {error}', flush=True)
                    report = load_report(args.out)
                    report.setdefault('skipped', {})[f'{data}: {model}'] = str(error)
                    write_report(args.out, 'cold_start', report, format_report(report))
                    continue
                row = {'data': data, 'share': share, 'model': model, 'seeds': args.seeds,
                       'epochs': args.epochs, 'cold_items': args.cold_items,
                       'test': [r['test'] for r in record['runs']],
                       'best_epoch': [r['best_epoch'] for r in record['runs']]}
                report = load_report(args.out)  # another run may have added rows meanwhile
                report['rows'] = [r for r in report['rows'] if row_key(r) != row_key(row)]
                report['rows'].append(row)
                write_report(args.out, 'cold_start', report, format_report(report))
    table = format_report(report)
    write_report(args.out, 'cold_start', report, table)
    plot(report, args.static)
    print(table)


if __name__ == '__main__':
    main()
