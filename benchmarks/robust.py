"""Robust training methods benchmark (DVIB's Table 4): backbones trained plainly, with AMR and with
Mirror Gradient, each without and with DVIB.

For each backbone (its default hyper-parameters or, with ``--tuned``, the configuration and
epoch budget that ``backbones.py`` selected for it on this dataset on validation), on one
dataset, every pair of

* a training method, the trainer setting ``robust`` (:mod:`pyg_mmrec.train.robust`): ``none``
  (plain training), ``amr`` (:class:`~pyg_mmrec.train.AMR`, ε = 0.1, λ = 1) or ``mg``
  (:class:`~pyg_mmrec.train.MirrorGradient`, α_1 = 1, α_2 = 0.2, β = 3), and
* a variant: the backbone alone (``bare``), or :class:`~pyg_mmrec.ib.DVIB` around it
  (``DVIB_c``, ``DVIB_a``),

is one harness cell (:func:`pyg_mmrec.train.run_cell`) under ``<out>/runs/robust/<dataset>/``,
one run per seed, no search of its own (``--set`` for all runs, ``--method-set`` for the AMR
or MG runs only). With ``--tuned`` every setting follows the one selection rule of the other
benchmarks: the backbone's point is the one ``backbones.py`` selected on validation, and a
DVIB variant's γ_d (and σ) the one ``dvib.py --tuned`` selected on validation for that
backbone on this dataset (its report, ``dvib[_<dataset>].json``, must hold the pair); AMR and
MG keep their papers' defaults. Without ``--tuned`` everything is at its defaults (DVIB:
γ_d = 0.1, σ = 1e-3). Test metrics at the epoch with the best validation Recall@20 (full
ranking; training and validation items excluded at test); the paper's table reports Recall,
NDCG, Precision and MAP at 5.

Finished cells are not repeated and interrupted ones continue from their checkpoints. Writes
``<out>/robust.{md,json}`` (``robust_<dataset>`` for datasets other than tiktok) as each cell
finishes, keeping the rows that earlier or concurrent runs with the same seeds and settings
wrote there (so backbones and variants can run in separate processes); ``--report-only``
rebuilds the Markdown from the JSON.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/robust.py --tuned --backbones vbpr --set epochs=30 \\
        patience=10                                       # the short VBPR run reported
    python benchmarks/robust.py --tuned          # DVIB's Table 4: VBPR, MMGCN, BM3, 3 seeds
    python benchmarks/robust.py --data synthetic --backbones vbpr --set epochs=2 \\
        --out runs/robust-smoke                                  # a smoke run
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from pyg_mmrec.train.harness import (
    add_benchmark_arguments,
    find_summary,
    mean_std,
    merge_rows,
    read_report,
    tuned_config,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
BACKBONES = ['vbpr', 'mmgcn', 'bm3']
METHODS = ['none', 'amr', 'mg']
VARIANTS = {'bare': None, 'DVIB_c': 'constant', 'DVIB_a': 'adaptive'}
METRICS = [f'{m}@{k}' for k in (5, 20) for m in ('Recall', 'NDCG', 'Precision', 'MAP')]


def run_pair(backbone: str, method: str, variant: str, data: str, splits, seeds: list[int],
             config: dict, out: Path) -> list[dict]:
    """Runs ``backbone`` with the training ``method`` and the ``variant`` on every seed as one
    harness cell in ``out``; returns one record per seed."""
    from pyg_mmrec.train import Cell, run_cell
    model = 'dvib' if VARIANTS[variant] else backbone
    config = {**config, 'robust': method,
              **({'backbone': backbone, 'variant': VARIANTS[variant]} if VARIANTS[variant]
                 else {})}
    record = run_cell(Cell(model, data, seeds, None, config), out, splits=splits)
    return [{'seed': r['seed'], 'test': r['test'], 'valid': r['valid'],
             'best_epoch': r['best_epoch'], 'epochs_run': r['epochs_run'],
             'train_seconds_per_epoch': r['train_seconds_per_epoch']}
            for r in record['runs']]


def dvib_points(out: Path, data: str, backbones: list[str], variants: list[str]
                ) -> dict[str, dict[str, dict]]:
    """The point (γ_d, and σ for DVIB_c) that ``dvib.py --tuned`` selected on validation for
    each DVIB variant of each backbone on ``data``, from its report in ``out``.

    Raises:
        ConfigError: If the report is missing, not tuned, or lacks a (backbone, variant).
    """
    from pyg_mmrec.errors import ConfigError

    stem = 'dvib' + ('' if data == 'tiktok' else f'_{data}')
    report = read_report(out, stem)
    if not report.get('tuned'):
        raise ConfigError(f"{out / stem}.json: not a --tuned DVIB report; run "
                          f"'dvib.py --tuned --data {data}' first")
    selected = {(r['backbone'], r['variant']): r['selected'] for r in report['main']}
    points: dict[str, dict[str, dict]] = {}
    for backbone in backbones:
        for variant in [v for v in variants if VARIANTS[v]]:
            if (backbone, variant) not in selected:
                raise ConfigError(f"{out / stem}.json: holds no {variant} run of {backbone}; "
                                  f"run 'dvib.py --tuned --data {data} --backbones {backbone}' "
                                  'first')
            points.setdefault(backbone, {})[variant] = selected[backbone, variant]
    return points


def means(records: list[dict], metric: str) -> float:
    return statistics.mean(r['test'][metric] for r in records)


def format_report(report: dict) -> str:
    """The Markdown report: one row per (backbone, method, variant)."""
    rows = report['rows']
    lines = [
        f"# Robust training methods ({report['data']})", '',
        f"Seeds: {report['seeds']} (mean ± std where a cell has several). Backbones with "
        + ('the configuration and epoch budget the backbones benchmark selected on validation'
           if report.get('tuned') else 'their default hyper-parameters')
        + (f", then {', '.join(f'{k}={v}' for k, v in report['config'].items() if k != 'progress')}"
           if any(k != 'progress' for k in report['config']) else '') + ' ('
        + '; '.join(f"{b}: {', '.join(f'{k}={v}' for k, v in c.items() if k != 'progress')}"
                    for b, c in report['backbone_configs'].items()) + '). '
        'Methods at their defaults (AMR: ε = 0.1, λ = 1; MG: α_1 = 1, α_2 = 0.2, β = 3)'
        + (f", then {', '.join(f'{k}={v}' for k, v in report['method_config'].items())}"
           if report.get('method_config') else '')
        + ('; DVIB at the point the DVIB benchmark selected on validation ('
           + '; '.join(f"{b} {v}: {', '.join(f'{k}={x}' for k, x in point.items())}"
                       for b, vs in report['dvib_points'].items() for v, point in vs.items())
           + '), no search here' if report.get('dvib_points')
           else '; DVIB at its defaults (γ_d = 0.1, σ = 1e-3), no search')
        + '. Test metrics at the epoch '
        'with the best validation Recall@20 (full ranking; training and validation items '
        'excluded at test). "vs plain": Recall@5 and Recall@20 against the same variant '
        'trained plainly; seconds are medians over epochs.', '',
        '| backbone | method | variant | ' + ' | '.join(METRICS)
        + ' | R@5 vs plain | R@20 vs plain | best epoch | s/epoch |',
        '|' + '---|' * (len(METRICS) + 7),
    ]
    for row in rows:
        plain = next((r for r in rows if r['backbone'] == row['backbone']
                      and r['variant'] == row['variant'] and r['method'] == 'none'), None)
        gains = ['—' if row['method'] == 'none' or plain is None else
                 f"{means(row['records'], m) / means(plain['records'], m) - 1:+.1%}"
                 for m in ('Recall@5', 'Recall@20')]
        lines.append(
            f"| {row['backbone']} | {row['method']} | {row['variant']} | "
            + ' | '.join(mean_std([r['test'][m] for r in row['records']]) for m in METRICS)
            + f" | {' | '.join(gains)} "
            f"| {', '.join(str(r['best_epoch']) for r in row['records'])} "
            f"| {statistics.median(r['train_seconds_per_epoch'] for r in row['records']):.2f} |")
    return '\n'.join(lines) + '\n'


def merge_reports(recorded: dict | None, report: dict, path: Path) -> dict:
    """``report`` with the rows of ``recorded`` (the report an earlier or a concurrent run
    wrote to ``path``) that it does not hold, so a run of some backbones keeps the others'.

    Raises:
        ConfigError: If ``recorded`` was run with other seeds or settings (its rows would not
            be comparable); pass another ``--out`` or remove the report.
    """
    from pyg_mmrec.errors import ConfigError
    if recorded is None:
        return report
    for field in ('data', 'seeds', 'config', 'tuned', 'method_config'):
        if recorded.get(field) != report[field]:
            raise ConfigError(f"{path}: its runs have {field}={recorded.get(field)!r}, this run "
                              f"{report[field]!r}; pass another --out or remove the report")
    rows = merge_rows(recorded['rows'], report['rows'], ('backbone', 'method', 'variant'))
    merged = {**report, 'rows': rows,
              'backbone_configs': {**recorded['backbone_configs'], **report['backbone_configs']}}
    points = {**recorded.get('dvib_points', {}), **report.get('dvib_points', {})}
    if points:
        merged['dvib_points'] = points
    return merged


def report_stem(args) -> str:
    """The report's file name: ``robust``, with the dataset and the methods' settings."""
    from pyg_mmrec.train.config import parse_overrides
    tag = ''.join(f'_{k}={v}' for k, v in parse_overrides(args.method_set).items())
    return 'robust' + ('' if args.data == 'tiktok' else f'_{args.data}') + tag


def run_all(args) -> dict:
    """Runs every cell the arguments ask for, writing the report as each finishes (a long
    run shows its finished rows; a rerun resumes the cells from their folders); returns the
    report's data."""
    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.train.config import parse_overrides

    name = args.data
    base = {'progress': False, **parse_overrides(args.set)}
    method_config = parse_overrides(args.method_set)
    configs = {b: {**(tuned_config(find_summary(args.out / 'backbones.json', name, b))
                      if args.tuned else {}), **base} for b in args.backbones}
    points = (dvib_points(args.out, name, args.backbones, args.variants) if args.tuned
              else {})
    runs = args.out / 'runs' / 'robust' / (f'{name}_tuned' if args.tuned else name)
    tag = ''.join(f'_{k}={v}' for k, v in method_config.items())
    splits = load_recipe(name, 'clean', args.data_root)
    report = {'data': name, 'seeds': args.seeds, 'config': base, 'tuned': args.tuned,
              'method_config': method_config, 'backbone_configs': configs, 'rows': []}
    if points:
        report['dvib_points'] = points
    stem = report_stem(args)
    path = args.out / f'{stem}.json'

    def recorded() -> dict | None:
        return read_report(args.out, stem) if path.is_file() else None

    merged = merge_reports(recorded(), report, path)  # fails now, not after hours of training
    for backbone in args.backbones:
        for variant in args.variants:
            for method in args.methods:
                print(f'== {name} {backbone} {method} {variant}', flush=True)
                extra = method_config if method != 'none' else {}
                point = points.get(backbone, {}).get(variant, {})
                # The selected DVIB point names its folders (runs at the defaults keep theirs).
                folder = runs / (f"{backbone}_{method}_{variant}{tag if extra else ''}"
                                 + ''.join(f'_{k}={v}' for k, v in point.items()))
                records = run_pair(backbone, method, variant, name, splits, args.seeds,
                                   {**configs[backbone], **extra, **point}, folder)
                report['rows'].append({'backbone': backbone, 'method': method,
                                       'variant': variant, 'records': records})
                # Re-read at every write: another process may have added rows meanwhile.
                merged = merge_reports(recorded(), report, path)
                write_report(args.out, stem, merged, format_report(merged))
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='tiktok', help='a dataset recipe (default: tiktok)')
    parser.add_argument('--backbones', nargs='+', default=BACKBONES)
    parser.add_argument('--methods', nargs='+', choices=METHODS, default=METHODS,
                        help="training methods (none is needed for the 'vs plain' columns)")
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=['bare', 'DVIB_a'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024, 2025, 2026])
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config shared by every run, e.g. epochs=30')
    parser.add_argument('--method-set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config of the AMR and MG runs only, e.g. amr_epsilon=1.0 (their '
                             'folders and the report carry it)')
    parser.add_argument('--tuned', action='store_true',
                        help="start every backbone from backbones.py's validation-selected "
                             "configuration and epoch budget on this dataset, and DVIB from "
                             "dvib.py's validation-selected point")
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    stem = report_stem(args)
    report = read_report(args.out, stem) if args.report_only else run_all(args)
    table = format_report(report)
    write_report(args.out, stem, report, table)
    print(table)


if __name__ == '__main__':
    main()
