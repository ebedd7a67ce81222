"""The ``pyg-mmrec`` command.

::

    pyg-mmrec train --model NAME --data PATH_OR_NAME [--config FILE.yaml] [--set key=value ...]
                    --out DIR [--resume]
    pyg-mmrec tune --model NAME --data PATH_OR_NAME --grid KEY=[V1,V2] ... --out DIR [--resume]
    pyg-mmrec evaluate --checkpoint DIR/checkpoint.pt --data PATH [--split test]
    pyg-mmrec recommend --checkpoint DIR/checkpoint.pt --data PATH --k K
                        [--users 0,5,9 | --split test] [--out FILE.tsv]
    pyg-mmrec data info PATH_OR_NAME
    pyg-mmrec data list
    pyg-mmrec data download NAME [--force-reload]
    pyg-mmrec models

Every error caused by input is reported in one line on stderr with exit status 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

import torch

from pyg_mmrec.data import load_dataset
from pyg_mmrec.errors import ConfigError, PygMMRecError
from pyg_mmrec.ib import PlugIn
from pyg_mmrec.metrics import METRIC_NAMES, RankingEvaluator
from pyg_mmrec.train import (
    MODELS,
    evaluate,
    get_model_class,
    load_model,
    load_yaml,
    parse_overrides,
    recommend,
    run,
    tune,
)
from pyg_mmrec.train.search import format_table
from pyg_mmrec.utils import atomic_write


def format_metrics(columns: dict[str, dict[str, float]], ks: Sequence[int]) -> str:
    """A plain-text table: one row per metric@K, one column per named metrics dict."""
    names = list(columns)
    width = max([10] + [len(n) for n in names])
    lines = [f"{'metric':<14}" + ''.join(f'{n:>{width + 2}}' for n in names)]
    for metric in METRIC_NAMES:
        for k in ks:
            key = f'{metric}@{k}'
            lines.append(f'{key:<14}' + ''.join(
                f'{columns[n].get(key, float("nan")):>{width + 2}.4f}' for n in names))
    return '\n'.join(lines)


def _config(args: argparse.Namespace) -> dict:
    """The flat config of ``--config FILE`` updated by ``--set key=value`` pairs."""
    config = load_yaml(args.config) if args.config else {}
    config.update(parse_overrides(args.set or []))
    return config


def _train(args: argparse.Namespace) -> None:
    config = _config(args)
    plugin = get_model_class(args.model)  # an unknown name fails before the data is read
    if args.with_backbone:
        if not issubclass(plugin, PlugIn):
            raise ConfigError(f"--with-backbone compares a plug-in with its bare backbone; "
                              f"{args.model!r} is not a plug-in (plug-ins: "
                              f"{sorted(n for n, c in MODELS.items() if issubclass(c, PlugIn))})")
    data = load_dataset(args.data)
    results = run(args.model, data, config, out_dir=args.out, resume=args.resume)
    print(f"\n{results['model']} on {results['data']}: best epoch {results['best_epoch']} "
          f"of {results['epochs_run']}, {results['train_seconds_per_epoch']:.2f} s/epoch, "
          f"validation pass {results['eval_seconds']:.2f} s, "
          f"peak memory {results['peak_rss_mb']:.0f} MiB")
    columns = {'valid': results['valid'], 'test': results['test']}
    if args.with_backbone:
        # The same settings without the plug-in's own: the same seed gives the backbone the
        # same initial weights, so the two columns differ by the plug-in alone.
        name = results['config']['backbone']
        base = run(name, data, plugin.backbone_config(config), out_dir=f'{args.out}/backbone',
                   resume=args.resume)
        print(f"{name} (bare backbone): best epoch {base['best_epoch']} of "
              f"{base['epochs_run']}, {base['train_seconds_per_epoch']:.2f} s/epoch")
        columns = {f'{args.model} test': results['test'], f'{name} test': base['test']}
    print(format_metrics(columns, results['config']['ks']))
    print(f"\nwrote {args.out}/results.json, checkpoint.pt, log.jsonl"
          + (f" (and the backbone's in {args.out}/backbone)" if args.with_backbone else ''))


def _tune(args: argparse.Namespace) -> None:
    grid = parse_overrides(args.grid)
    summary = tune(args.model, args.data, grid, _config(args), out_dir=args.out,
                   resume=args.resume)
    print(format_table(summary))
    selected = summary['selected']
    ks = sorted({int(key.split('@')[1]) for key in selected['valid'] if '@' in key})
    print(format_metrics({'valid': selected['valid'], 'test': selected['test']}, ks))
    print(f"\nwrote {args.out}/tune.json, tune.md and run<i>/ folders")


def _evaluate(args: argparse.Namespace) -> None:
    splits = load_dataset(args.data)
    model, ckpt = load_model(args.checkpoint, splits)
    cfg = ckpt['config']
    metrics = evaluate(model, splits, args.split, RankingEvaluator(cfg['ks'], cfg['max_scores']),
                       cfg['exclude_val_at_test'])
    print(f"{ckpt['model']} (best epoch {ckpt['best_epoch']}) on {splits.name}, "
          f"{args.split} split, {metrics['num_users']} users")
    print(format_metrics({args.split: metrics}, cfg['ks']))


def _parse_users(text: str) -> torch.Tensor:
    try:
        return torch.tensor([int(u) for u in text.split(',') if u.strip()])
    except ValueError:
        raise ConfigError(f"--users expects comma-separated integer ids, got {text!r}") from None


def _recommend(args: argparse.Namespace) -> None:
    splits = load_dataset(args.data)
    model, ckpt = load_model(args.checkpoint, splits)
    users = _parse_users(args.users) if args.users else None
    users, items, scores = recommend(model, splits, k=args.k, users=users, split=args.split,
                                     exclude_val_at_test=ckpt['config']['exclude_val_at_test'])
    lines = ['userID\titemID\trank\tscore']
    for u, row, row_scores in zip(users.tolist(), items.tolist(), scores.tolist(), strict=True):
        lines += [f'{u}\t{i}\t{r}\t{s:.6g}'
                  for r, (i, s) in enumerate(zip(row, row_scores, strict=True), start=1)]
    text = '\n'.join(lines) + '\n'
    if args.out:
        atomic_write(args.out, lambda f: f.write(text.encode('utf-8')))
        print(f"wrote {len(lines) - 1} recommendations to {args.out}")
    else:
        sys.stdout.write(text)


def _data_info(args: argparse.Namespace) -> None:
    info = load_dataset(args.path).summary()
    print(json.dumps(info, indent=2))


def _data_list(args: argparse.Namespace) -> None:
    from pyg_mmrec.datasets import DATASETS, data_home

    print(f"data home: {data_home()} (set PYG_MMREC_HOME to change it)")
    print(f"{'name':<16} {'class':<15} {'raw size':>10} {'on disk':>10}  state")
    for name, cls in sorted(DATASETS.items()):
        st = cls.status()
        raw = 'unknown' if st['raw_bytes'] is None else f"{st['raw_bytes'] / 2**20:.1f} MiB"
        print(f"{name:<16} {cls.__name__:<15} {raw:>10} {st['disk_bytes'] / 2**20:>6.1f} MiB"
              f"  {st['state']}")


def _data_download(args: argparse.Namespace) -> None:
    from pyg_mmrec.datasets import get_dataset_class

    dataset = get_dataset_class(args.name)(force_reload=args.force_reload)
    print(json.dumps({'root': str(dataset.root), **dataset.splits.summary()}, indent=2))


def _models(args: argparse.Namespace) -> None:
    for name, cls in sorted(MODELS.items()):
        defaults = ', '.join(f'{k}={v!r}' for k, v in cls.hparam_defaults().items())
        print(f'{name:<12} {cls.__name__}({defaults})')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='pyg-mmrec', description=__doc__.split('\n')[0])
    parser.add_argument('-v', '--verbose', action='store_true', help='log at INFO level')
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('train', help='train a model, validate, test once at the best epoch')
    p.add_argument('--model', required=True, help=f'one of {sorted(MODELS)}')
    p.add_argument('--data', required=True, help="a dataset folder, or 'synthetic'")
    p.add_argument('--config', help='YAML file with a flat mapping of config keys')
    p.add_argument('--set', nargs='*', metavar='KEY=VALUE', help='override config keys')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--resume', action='store_true', help='continue from OUT/checkpoint.pt')
    p.add_argument('--with-backbone', action='store_true',
                   help="for a plug-in (ibmrec, dvib, msi): also train its bare backbone with "
                        "the same settings and print the two test columns side by side")
    p.set_defaults(func=_train)

    p = sub.add_parser('tune', help='grid search selected on validation; tests the choice only')
    p.add_argument('--model', required=True, help=f'one of {sorted(MODELS)}')
    p.add_argument('--data', required=True, help="a dataset folder, or 'synthetic'")
    p.add_argument('--grid', nargs='+', required=True, metavar='KEY=[V1,V2]',
                   help="values to try, e.g. lr=[1e-3,1e-2] reg_weight=[1e-4,1e-3]")
    p.add_argument('--config', help='YAML file with settings shared by every run')
    p.add_argument('--set', nargs='*', metavar='KEY=VALUE', help='override shared config keys')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--resume', action='store_true',
                   help='continue an interrupted search in OUT (finished runs are kept)')
    p.set_defaults(func=_tune)

    p = sub.add_parser('evaluate', help="print a checkpoint's metrics on a split")
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--data', required=True)
    p.add_argument('--split', default='test', choices=['val', 'test'])
    p.set_defaults(func=_evaluate)

    p = sub.add_parser('recommend', help='top-K items per user as TSV')
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--data', required=True)
    p.add_argument('--k', type=int, default=10)
    group = p.add_mutually_exclusive_group()
    group.add_argument('--users', help='comma-separated user ids (default: all users)')
    group.add_argument('--split', choices=['val', 'test'],
                       help="the split's users, excluding what precedes it")
    p.add_argument('--out', help='TSV file to write (default: stdout)')
    p.set_defaults(func=_recommend)

    p = sub.add_parser('data', help='dataset tools')
    data_sub = p.add_subparsers(dest='data_command', required=True)
    q = data_sub.add_parser('info', help='users, items, interactions, modalities, graphs')
    q.add_argument('path', help="a dataset folder, a registered dataset name or 'synthetic'")
    q.set_defaults(func=_data_info)
    q = data_sub.add_parser('list', help='the registered datasets, their sizes, whether present')
    q.set_defaults(func=_data_list)
    q = data_sub.add_parser('download', help='download, verify and process a registered dataset')
    q.add_argument('name')
    q.add_argument('--force-reload', action='store_true', help='process the raw files again')
    q.set_defaults(func=_data_download)

    p = sub.add_parser('models', help='list the registered models and their defaults')
    p.set_defaults(func=_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        args.func(args)
    except PygMMRecError as e:
        print(f"pyg-mmrec: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
