"""DVIB's training and inference cost against the bare backbone, measured side by side.

For each backbone (at the configuration ``backbones.py`` selected for it on this dataset when
its report holds that cell, else its defaults), three trainers are built on the same data: the
bare backbone, DVIB_c (σ = 1e-3) and DVIB_a, both with γ_d = 0.1. They take turns: each round
trains one epoch of each and ranks the validation split once with each, so all three see the
same machine load, and the report gives the median seconds and the ratios to the bare
backbone. The paper claims 10–20 % more training time and no inference cost; DVIB runs the
backbone twice per training step (the clean and the perturbed pass), and ranking uses the
backbone alone.

Writes ``<out>/dvib_cost.{md,json}``; ``--report-only`` rebuilds the Markdown from the JSON.

Usage::

    python benchmarks/dvib_cost.py                       # tiktok, the seven DVIB backbones
    python benchmarks/dvib_cost.py --data synthetic --rounds 2 --out runs/cost
    python benchmarks/dvib_cost.py --report-only
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from pyg_mmrec.train.harness import add_benchmark_arguments, find_summary, read_report, write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
BACKBONES = ['vbpr', 'mmgcn', 'grcn', 'bm3', 'freedom', 'layergcn', 'selfcf']
VARIANTS = {'bare': None, 'DVIB_c': {'variant': 'constant', 'sigma': 1e-3, 'gamma_d': 0.1},
            'DVIB_a': {'variant': 'adaptive', 'gamma_d': 0.1}}


def backbone_config(dataset: str, backbone: str) -> dict:
    """The configuration ``backbones.py`` selected for ``backbone`` on ``dataset`` (without
    the epoch budget), or its defaults (empty) where its report holds no such cell."""
    from pyg_mmrec.errors import ConfigError
    try:
        return find_summary(RESULTS / 'backbones.json', dataset, backbone)['selected']
    except ConfigError:
        return {}


def measure(data: str, backbones: list[str], rounds: int, data_root: Path | None) -> dict:
    """Trains the three trainers of each backbone in turns; returns the report's data."""
    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.train import make_trainer

    splits = load_recipe(data, root=data_root, text_cache=ROOT / 'runs' / 'text-cache')
    rows = []
    for backbone in backbones:
        config = {**backbone_config(data, backbone), 'progress': False}
        trainers = {v: make_trainer('dvib' if extra else backbone, splits,
                                    {**config, **({'backbone': backbone, **extra} if extra
                                                  else {})})
                    for v, extra in VARIANTS.items()}
        train = {v: [] for v in VARIANTS}
        rank = {v: [] for v in VARIANTS}
        for epoch in range(rounds):
            for variant, trainer in trainers.items():
                trainer.epoch = epoch
                start = time.perf_counter()
                trainer.train_epoch()
                train[variant].append(time.perf_counter() - start)
                start = time.perf_counter()
                trainer.evaluate('val')
                rank[variant].append(time.perf_counter() - start)
        row = {'backbone': backbone, 'config': config,
               'train_seconds': {v: statistics.median(s) for v, s in train.items()},
               'rank_seconds': {v: statistics.median(s) for v, s in rank.items()}}
        rows.append(row)
        print(f"{backbone}: {json.dumps(row['train_seconds'])}", flush=True)
    return {'data': data, 'rounds': rounds, 'variants': VARIANTS, 'rows': rows}


def format_report(report: dict) -> str:
    """The Markdown report of the measured ``rows``."""
    lines = [f"# DVIB cost ({report['data']})", '',
             f"Median seconds over {report['rounds']} interleaved rounds (one training epoch "
             'and one validation ranking of each trainer per round; torch threads as set by the '
             'environment). Ratios are to the bare backbone in the same rounds.', '',
             '| backbone | train bare | train DVIB_c | train DVIB_a | rank bare | rank DVIB_c '
             '| rank DVIB_a |', '|---|---|---|---|---|---|---|']
    for row in report['rows']:
        cells = []
        for key in ('train_seconds', 'rank_seconds'):
            bare = row[key]['bare']
            cells += [f'{bare:.2f}'] + [f'{row[key][v]:.2f} ({row[key][v] / bare:.2f}×)'
                                        for v in VARIANTS if v != 'bare']
        lines.append(f"| {row['backbone']} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='tiktok', help='a dataset recipe (default: tiktok)')
    parser.add_argument('--backbones', nargs='+', default=BACKBONES)
    parser.add_argument('--rounds', type=int, default=3, help='epochs per trainer')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    report = (read_report(args.out, 'dvib_cost') if args.report_only
              else measure(args.data, args.backbones, args.rounds, args.data_root))
    table = format_report(report)
    write_report(args.out, 'dvib_cost', report, table)
    print(table)


if __name__ == '__main__':
    main()
