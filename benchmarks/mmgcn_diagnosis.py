"""MMGCN's early validation Recall@20 on tiktok, per variant (issue "MMGCN accuracy").

MMRec's MMGCN reaches validation Recall@20 of about 0.09 after its first epoch on tiktok with
its default seed, ours about 0.05. This trains MMGCN for a few epochs under each variant and
seed and prints the validation Recall@20 after every epoch, one row per variant and seed, and
the mean over the seeds of each epoch:

* ``default``: our defaults (learning rate 1e-3, L2 weight 1e-4, two layers, trained ID
  embeddings and preferences);
* ``frozen``: ``train_embeddings=False``, the ID embeddings and preferences left at their
  initialisation, as in the authors' and MMRec's code;
* ``frozen_id`` / ``frozen_pref``: only the ID embeddings / only the preferences frozen;
* ``layers3``: three layers, as MMRec's code stacks whatever ``n_layers`` says.

``--set key=value`` adds settings to every variant (e.g. ``lr=0.005``). Nothing is written;
an epoch takes about 15 s on one thread.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/mmgcn_diagnosis.py --data-root /path/to/data
    OMP_NUM_THREADS=1 python benchmarks/mmgcn_diagnosis.py --variants frozen --epochs 12 \\
        --seeds 2024 --set lr=0.005
"""
from __future__ import annotations

import argparse
import statistics

import yaml

VARIANTS = {
    'default': {},
    'frozen': {'train_embeddings': False},
    'frozen_id': {},
    'frozen_pref': {},
    'layers3': {'num_layers': 3},
}


def run(splits, variant: str, seed: int, epochs: int, extra: dict) -> list[float]:
    from pyg_mmrec.train import make_trainer

    config = {'threads': 1, 'progress': False, 'epochs': epochs, 'seed': seed,
              **VARIANTS[variant], **extra}
    trainer = make_trainer('mmgcn', splits, config)
    model = trainer.model
    if variant == 'frozen_id':
        model.id_embedding.weight.requires_grad_(False)
    if variant == 'frozen_pref':
        for p in model.preference.values():
            p.requires_grad_(False)
    recalls = []
    for _ in range(epochs):
        trainer.train_epoch()
        recalls.append(float(trainer.evaluate('val')['Recall@20']))
    return recalls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default=None,
                        help='folder that holds tiktok/ (default: the library default)')
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=['default', 'frozen', 'frozen_id', 'frozen_pref', 'layers3'])
    parser.add_argument('--seeds', type=int, nargs='+', default=[2024, 2025, 2026])
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='settings added to every variant (YAML values)')
    args = parser.parse_args(argv)
    extra = {k: yaml.safe_load(v) for k, v in (kv.split('=', 1) for kv in args.set)}

    from pyg_mmrec.data import load_recipe
    splits = load_recipe('tiktok', root=args.data_root)

    header = ['variant', 'seed', *(f'ep{e + 1}' for e in range(args.epochs))]
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '---|' * len(header))
    for variant in args.variants:
        rows = []
        for seed in args.seeds:
            rows.append(run(splits, variant, seed, args.epochs, extra))
            print(f'| {variant} | {seed} | ' + ' | '.join(f'{r:.4f}' for r in rows[-1]) + ' |',
                  flush=True)
        if len(rows) > 1:
            means = [statistics.mean(col) for col in zip(*rows, strict=True)]
            print(f'| {variant} | mean | ' + ' | '.join(f'{r:.4f}' for r in means) + ' |',
                  flush=True)


if __name__ == '__main__':
    main()
