"""The README's result tables, generated from the benchmark reports in ``benchmarks/results/``.

Each table sits in ``README.md`` between ``<!-- results:NAME -->`` and ``<!-- /results:NAME -->``
and is rebuilt from the reports (never typed by hand): columns taken from a report's Markdown
table, or a summary of its JSON. ``--check`` rewrites nothing and exits with status 1 if the
README is stale (the test suite runs it). The ``summary`` table (each IB method against its
bare backbone on tiktok) also leads the docs' Benchmarks page, which includes it from the
README, with its figure ``docs/_static/summary_gains.png`` drawn here.

Usage::

    python benchmarks/readme_tables.py            # rewrite the tables and the summary figure
    python benchmarks/readme_tables.py --check    # fail if README.md is stale
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

from pyg_mmrec.train.harness import mean_std
from pyg_mmrec.utils import atomic_write

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
README = ROOT / 'README.md'
MARKER = re.compile(r'(<!-- results:(?P<name>[\w-]+) -->\n)(?P<body>.*?)'
                    r'(<!-- /results:(?P=name) -->)', re.DOTALL)


def report_table(name: str, heading: str | None, columns: list[str]) -> list[str]:
    """The ``columns`` of the first table after ``heading`` (or the first table) in
    ``<name>.md``."""
    lines = (RESULTS / f'{name}.md').read_text(encoding='utf-8').splitlines()
    start = lines.index(heading) if heading is not None else 0
    first = next(i for i in range(start, len(lines)) if lines[i].startswith('|'))
    rows = []
    for line in lines[first:]:
        if not line.startswith('|'):
            break
        rows.append([cell.strip() for cell in line.strip('|').split('|')])
    keep = [rows[0].index(c) for c in columns]
    return ['| ' + ' | '.join(row[i] for i in keep) + ' |' if n != 1 else '|' + '---|' * len(keep)
            for n, row in enumerate(rows)]


def recall(runs: list[dict]) -> list[float]:
    """The test Recall@20 of each run."""
    return [r['test']['Recall@20'] for r in runs]


def msi_table() -> list[str]:
    """Per dataset: MSI, BM3 and the best ablation by mean test Recall@20."""
    report = json.loads((RESULTS / 'msi.json').read_text(encoding='utf-8'))
    lines = ['| dataset | MSI | BM3 | best ablation |', '|---|---|---|---|']
    for r in report['datasets']:
        runs = r['runs']
        ablations = [v for v in runs if v.startswith('w/o') and v != 'w/o S & I (= BM3)']
        best = max(ablations, key=lambda v: statistics.mean(recall(runs[v])))
        lines.append(f"| {r['data']} | {mean_std(recall(runs['MSI']))} "
                     f"| {mean_std(recall(runs['w/o S & I (= BM3)']))} "
                     f"| {best} {mean_std(recall(runs[best]))} |")
    return lines


def dvib_table() -> list[str]:
    """Per backbone: test Recall@20 bare and with each DVIB variant (tiktok)."""
    report = json.loads((RESULTS / 'dvib.json').read_text(encoding='utf-8'))
    variants = list(dict.fromkeys(row['variant'] for row in report['main']))
    cells: dict[str, dict[str, str]] = {}
    for row in report['main']:
        cells.setdefault(row['backbone'], {})[row['variant']] = mean_std(recall(row['records']))
    return (['| backbone | ' + ' | '.join(variants) + ' |', '|---|' + '---|' * len(variants)]
            + [f'| {b} | ' + ' | '.join(c.get(v, '—') for v in variants) + ' |'
               for b, c in cells.items()])


#: IBMRec's backbones in its paper's order.
IBMREC_ORDER = ('vbpr', 'vlightgcn', 'lattice', 'vlattice')


def tiktok_comparisons() -> list[tuple[str, str, list[float], list[float]]]:
    """Each IB method against its bare backbone on tiktok, as (method, backbone, bare test
    Recall@20 per seed, the method's per seed), in the order of the reports."""
    rows = []
    ibmrec = json.loads((RESULTS / 'ibmrec.json').read_text(encoding='utf-8'))['runs']
    real = [r for r in ibmrec if r['part'] == 'real' and r['dataset'] == 'tiktok']
    backbones = {r['config']['backbone'] for r in real if r['variant'].startswith('ibmrec-')}
    for backbone in sorted(backbones, key=IBMREC_ORDER.index):
        rows.append(('IBMRec', backbone,
                     recall([r for r in real if r['variant'] == backbone]),
                     recall([r for r in real if r['variant'] == f'ibmrec-{backbone}'])))
    dvib = json.loads((RESULTS / 'dvib.json').read_text(encoding='utf-8'))['main']
    for variant in ('DVIB_c', 'DVIB_a'):
        for row in dvib:
            if row['variant'] == variant:
                bare = next(r for r in dvib
                            if r['backbone'] == row['backbone'] and r['variant'] == 'bare')
                rows.append((variant, row['backbone'], recall(bare['records']),
                             recall(row['records'])))
    msi = json.loads((RESULTS / 'msi.json').read_text(encoding='utf-8'))['datasets']
    runs = next(r['runs'] for r in msi if r['data'] == 'tiktok')
    rows.append(('MSI', 'bm3', recall(runs['w/o S & I (= BM3)']), recall(runs['MSI'])))
    return rows


def summary_table() -> list[str]:
    """Each IB method against its bare backbone on tiktok (test Recall@20, 3 seeds)."""
    lines = ['| method | backbone | bare | with the method | gain | seeds improved |',
             '|---|---|---|---|---|---|']
    for method, backbone, bare, ib in tiktok_comparisons():
        gain = statistics.mean(ib) / statistics.mean(bare) - 1
        # The reports list runs in seed order, and a method's run i has its bare run i's seed.
        improved = sum(b < i for b, i in zip(bare, ib, strict=True))
        lines.append(f'| {method} | {backbone} | {mean_std(bare)} | {mean_std(ib)} '
                     f'| {gain:+.1%} | {improved} of {len(ib)} |')
    return lines


def draw_summary(path: Path) -> None:
    """The summary table as a figure: each method's relative change of mean test Recall@20
    over its bare backbone, with the seeds' spread."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = tiktok_comparisons()
    methods = list(dict.fromkeys(method for method, *_ in rows))
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.2))
    for y, (method, backbone, bare, ib) in enumerate(rows):
        base = statistics.mean(bare)
        change = [100 * (v / base - 1) for v in ib]
        ax.barh(y, statistics.mean(change), color=f'C{methods.index(method)}',
                xerr=statistics.stdev(change) if len(change) > 1 else 0.0, capsize=2,
                label=method if (method, backbone) == next(
                    (m, b) for m, b, *_ in rows if m == method) else None)
    ax.set_yticks(range(len(rows)), [f'{m} on {b}' for m, b, *_ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color='black', lw=0.8)
    ax.set_xlabel('change of test Recall@20 over the bare backbone (%, mean ± std of seeds)')
    ax.set_title('tiktok: the IB methods against their bare backbones')
    ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def per_dataset_table(report: str, unit: str, measured) -> list[str]:
    """One line per model label of the report ``<report>.json``, with a column pair (training
    epoch, validation pass) per dataset: ``measured(row)`` for a measured row, dashes for a
    model that was skipped or not run there."""
    rows = json.loads((RESULTS / f'{report}.json').read_text(encoding='utf-8'))['rows']
    datasets = list(dict.fromkeys(r['data'] for r in rows))
    by = {(r['data'], r['label']): r for r in rows}

    def cells(data: str, label: str) -> str:
        row = by.get((data, label))
        return '– | –' if row is None or 'skipped' in row else measured(row)
    lines = ['| model | ' + ' | '.join(f'{d} epoch{unit} | {d} validation{unit}'
                                       for d in datasets) + ' |',
             '|---|' + '---|---|' * len(datasets)]
    for label in dict.fromkeys(r['label'] for r in rows):
        lines.append(f'| {label} | ' + ' | '.join(cells(d, label) for d in datasets) + ' |')
    return lines


def speed_table() -> list[str]:
    """Seconds per training epoch and validation pass of every model (one thread), one column
    pair per dataset of the speed report."""
    def measured(row: dict) -> str:
        seconds = row['seconds']['new']
        epoch = f"{seconds['train']:.2f}" if row['profile'] else '–'  # nothing to train
        return f"{epoch} | {seconds['eval']:.2f}"
    return per_dataset_table('speed', ' (s)', measured)


def speed_mmrec_table() -> list[str]:
    """Ours ÷ MMRec per training epoch and validation pass of every model MMRec also
    implements, one column pair per dataset of the speed_mmrec report."""
    def measured(row: dict) -> str:
        epoch = f"{row['ratio']['train']:.2f}" if row['profile'] else '–'  # nothing to train
        return f"{epoch} | {row['ratio']['eval']:.2f}"
    return per_dataset_table('speed_mmrec', '', measured)


def concurrency_table() -> list[str]:
    """The slowest of N concurrent jobs against the ideal, per model and thread policy."""
    report = json.loads((RESULTS / 'concurrency.json').read_text(encoding='utf-8'))
    jobs = sorted({r['jobs'] for r in report['rows']})
    by = {(r['model'], r['policy'], r['jobs']): r for r in report['rows']}
    lines = ['| model | threads | ' + ' | '.join(f'{n} job{"s" * (n > 1)}' for n in jobs) + ' |',
             '|---|---|' + '---|' * len(jobs)]
    for model, policy in dict.fromkeys((r['model'], r['policy']) for r in report['rows']):
        ratios = [max(by[model, policy, n]['seconds']) / by[model, policy, n]['ideal']
                  for n in jobs]
        lines.append(f'| {model} | {policy} | ' + ' | '.join(f'{r:.2f}×' for r in ratios) + ' |')
    return lines


TABLES = {
    'summary': summary_table,
    'foundation': lambda: report_table('foundation', None, [
        'dataset', 'model', 'Recall@20', 'NDCG@20', 's/epoch', 's/val pass']),
    'msi': msi_table,
    'ibmrec': lambda: report_table('ibmrec', '## tiktok: backbones with and without IBMRec', [
        'backbone', 'IB modules', 'R@20 bare', 'R@20 IBMRec', 'gain', 'seeds improved']),
    'backbones': lambda: report_table('backbones', None, [
        'model', 'synthetic', 'ml-100k-text', 'tiktok', 'amazon-baby']),
    'dvib': dvib_table,
    'speed': speed_table,
    'speed_mmrec': speed_mmrec_table,
    'concurrency': concurrency_table,
}


def render(readme: str) -> str:
    """``readme`` with every marked table rebuilt.

    Raises:
        KeyError: If a marker names no known table, or a table has no marker.
    """
    found = [m.group('name') for m in MARKER.finditer(readme)]
    missing = sorted(set(TABLES) - set(found))
    if missing:
        raise KeyError(f'README.md has no markers for the tables {missing}')
    return MARKER.sub(lambda m: m.group(1) + '\n'.join(TABLES[m.group('name')]()) + '\n'
                      + m.group(4), readme)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='exit with status 1 if README.md is stale, rewriting nothing')
    args = parser.parse_args()
    current = README.read_text(encoding='utf-8')
    fresh = render(current)
    if args.check:
        if fresh != current:
            sys.exit('README.md is stale: run python benchmarks/readme_tables.py')
        return
    atomic_write(README, lambda f: f.write(fresh.encode('utf-8')))
    draw_summary(ROOT / 'docs' / '_static' / 'summary_gains.png')


if __name__ == '__main__':
    main()
