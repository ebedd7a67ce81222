"""DVIB's training and inference cost against the bare backbone, measured side by side.

For each backbone (at its ``--tuned`` configuration from ``backbones.py`` when that cell exists,
else its defaults), three trainers are built on the same data: the bare backbone, DVIB_c
(σ = 1e-3) and DVIB_a, both with γ_d = 0.1. They take turns: each round trains one epoch of
each and ranks the validation split once with each, so all three see the same machine load,
and the report gives the median seconds and the ratios to the bare backbone. The paper claims
10–20 % more training time and no inference cost; DVIB runs the backbone twice per training
step (the clean and the perturbed pass), and ranking uses the backbone alone.

Writes ``<out>/dvib_cost.{md,json}``.

Usage::

    python benchmarks/dvib_cost.py                       # tiktok, the seven DVIB backbones
    python benchmarks/dvib_cost.py --data synthetic --rounds 2 --out /tmp/cost
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from backbones import CELL_FILE, cell_dir, read_cell
from dvib import BACKBONES, CELL_NAMES, load
from foundation import DATA, RESULTS

VARIANTS = {'bare': None, 'DVIB_c': {'variant': 'constant', 'sigma': 1e-3, 'gamma_d': 0.1},
            'DVIB_a': {'variant': 'adaptive', 'gamma_d': 0.1}}


def backbone_config(dataset: str, backbone: str) -> dict:
    """The backbone's tuned configuration (without the epoch budget), or its defaults (empty)."""
    name = CELL_NAMES.get(dataset, dataset)
    return (read_cell(name, backbone)['selected']
            if (cell_dir(name, backbone) / CELL_FILE).is_file() else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default=str(DATA / 'tiktok'),
                        help="a dataset folder, or 'synthetic' (default: tiktok)")
    parser.add_argument('--backbones', nargs='+', default=BACKBONES)
    parser.add_argument('--rounds', type=int, default=3, help='epochs per trainer')
    parser.add_argument('--out', type=Path, default=RESULTS)
    args = parser.parse_args()

    from pyg_mmrec.train import make_trainer
    from pyg_mmrec.train.checkpoint import write_json

    name = Path(args.data).name
    splits = load(args.data)
    rows = []
    for backbone in args.backbones:
        config = {**backbone_config(name, backbone), 'progress': False}
        trainers = {v: make_trainer('dvib' if extra else backbone, splits,
                                    {**config, **({'backbone': backbone, **extra} if extra
                                                  else {})})
                    for v, extra in VARIANTS.items()}
        train = {v: [] for v in VARIANTS}
        rank = {v: [] for v in VARIANTS}
        for epoch in range(args.rounds):
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
    report = {'data': name, 'rounds': args.rounds, 'variants': VARIANTS, 'rows': rows}
    write_json(args.out / 'dvib_cost.json', report)
    lines = [f'# DVIB cost ({name})', '',
             f'Median seconds over {args.rounds} interleaved rounds (one training epoch and one '
             'validation ranking of each trainer per round; torch threads as set by the '
             'environment). Ratios are to the bare backbone in the same rounds.', '',
             '| backbone | train bare | train DVIB_c | train DVIB_a | rank bare | rank DVIB_c '
             '| rank DVIB_a |', '|---|---|---|---|---|---|---|']
    for row in rows:
        cells = []
        for key in ('train_seconds', 'rank_seconds'):
            bare = row[key]['bare']
            cells += [f'{bare:.2f}'] + [f'{row[key][v]:.2f} ({row[key][v] / bare:.2f}×)'
                                        for v in VARIANTS if v != 'bare']
        lines.append(f"| {row['backbone']} | " + ' | '.join(cells) + ' |')
    table = '\n'.join(lines) + '\n'
    (args.out / 'dvib_cost.md').write_text(table)
    print(table)


if __name__ == '__main__':
    main()
