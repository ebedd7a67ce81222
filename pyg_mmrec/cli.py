"""The ``pyg-mmrec`` command.

::

    pyg-mmrec train --model NAME --data PATH_OR_NAME [--config FILE.yaml] [--set key=value ...]
                    --out DIR [--resume]
    pyg-mmrec tune --model NAME --data PATH_OR_NAME --grid KEY=[V1,V2] ... --out DIR [--resume]
    pyg-mmrec evaluate --checkpoint DIR/checkpoint.pt --data PATH [--split test]
    pyg-mmrec recommend --checkpoint DIR/checkpoint.pt [--data PATH_OR_NAME] --k K
                        [--users RAW_ID,... | --split test] [--internal-ids] [--out FILE.tsv]
    pyg-mmrec data info PATH_OR_NAME
    pyg-mmrec data list
    pyg-mmrec data download NAME [--force-reload]
    pyg-mmrec data prepare --out DIR (--ratings CSV | --reviews JSONL) [--meta META]
                           [--images FILE.b] [--user-core 5] [--item-core 5] [--seed 2024]
    pyg-mmrec models

Every error caused by input is reported in one line on stderr with exit status 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pyg_mmrec.errors import ConfigError, DataError, PygMMRecError
from pyg_mmrec.params import Param

# torch and the models are imported after the arguments are parsed, so that --help and
# argument errors answer at once.


def format_metrics(columns: dict[str, dict[str, float]], ks: Sequence[int]) -> str:
    """A plain-text table: one row per metric@K, one column per named metrics dict."""
    from pyg_mmrec.metrics import METRIC_NAMES
    names = list(columns)
    width = max([10] + [len(n) for n in names])
    lines = [f"{'metric':<14}" + ''.join(f'{n:>{width + 2}}' for n in names)]
    for metric in METRIC_NAMES:
        for k in ks:
            key = f'{metric}@{k}'
            lines.append(f'{key:<14}' + ''.join(
                f'{columns[n].get(key, float("nan")):>{width + 2}.4f}' for n in names))
    return '\n'.join(lines)


def metric_columns(name: str, metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """The column ``name`` of :func:`format_metrics`, or on a cold-start split its three
    columns: cold items only, warm items only, and all."""
    from pyg_mmrec.train.evaluation import COLD, WARM
    if f'{COLD}/num_users' not in metrics:
        return {name: metrics}
    out = {f'{name} {part}': {k.partition('/')[2]: v for k, v in metrics.items()
                              if k.startswith(f'{part}/')} for part in (COLD, WARM)}
    return {**out, f'{name} all': metrics}


def _config(args: argparse.Namespace) -> dict:
    """The flat config of ``--config FILE`` updated by ``--set key=value`` pairs."""
    from pyg_mmrec.train import load_yaml, parse_overrides
    config = load_yaml(args.config) if args.config else {}
    config.update(parse_overrides(args.set or []))
    if args.threads is not None:
        config['threads'] = args.threads
    return config


def check_out_dir(out: str, resume: bool, overwrite: bool) -> None:
    """Refuses an output folder that cannot hold a run, before any data is read: an empty
    name, an existing file, a folder that cannot be created or written, or a folder holding
    a run already (unless resuming or overwriting it)."""
    if not out.strip():
        raise ConfigError("--out is empty; name the output folder")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {out}: is an existing file, not a folder")
    existing = next((p for p in path.parents if p.exists()), Path('.'))
    if not (path if path.is_dir() else existing).is_dir() or not os.access(
            path if path.is_dir() else existing, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: cannot write there (no write permission on "
                          f"{path if path.is_dir() else existing})")
    holds_run = path.is_dir() and any((path / f).exists()
                                      for f in ('checkpoint.pt', 'results.json', 'tune.json'))
    if holds_run and not (resume or overwrite):
        raise ConfigError(f"--out {out}: holds a run already; add --resume to continue it or "
                          f"--overwrite to replace it")


def check_out_file(out: str) -> None:
    """Refuses an output file that cannot be written, before any data is read."""
    if not out.strip():
        raise ConfigError("--out is empty; name the file to write")
    path = Path(out)
    if path.is_dir():
        raise ConfigError(f"--out {out}: is a folder; name a file")
    parent = next((p for p in path.parents if p.exists()), Path('.'))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {out}: cannot write there (no write permission on {parent})")


def _train(args: argparse.Namespace) -> None:
    check_out_dir(args.out, args.resume, args.overwrite)
    config = _config(args)
    from pyg_mmrec.data import load_dataset
    from pyg_mmrec.ib import PlugIn
    from pyg_mmrec.train import MODELS, get_model_class, run
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
    columns = {**metric_columns('valid', results['valid']),
               **metric_columns('test', results['test'])}
    if args.with_backbone:
        # The same settings without the plug-in's own: the same seed gives the backbone the
        # same initial weights, so the two columns differ by the plug-in alone.
        name = results['config']['backbone']
        base = run(name, data, plugin.backbone_config(config), out_dir=f'{args.out}/backbone',
                   resume=args.resume)
        print(f"{name} (bare backbone): best epoch {base['best_epoch']} of "
              f"{base['epochs_run']}, {base['train_seconds_per_epoch']:.2f} s/epoch")
        columns = {**metric_columns(f'{args.model} test', results['test']),
                   **metric_columns(f'{name} test', base['test'])}
    print(format_metrics(columns, results['config']['ks']))
    print(f"\nwrote {args.out}/results.json, checkpoint.pt, log.jsonl"
          + (f" (and the backbone's in {args.out}/backbone)" if args.with_backbone else ''))


def _tune(args: argparse.Namespace) -> None:
    check_out_dir(args.out, args.resume, args.overwrite)
    from pyg_mmrec.train import parse_overrides, tune
    from pyg_mmrec.train.search import format_table
    grid = parse_overrides(args.grid)
    summary = tune(args.model, args.data, grid, _config(args), out_dir=args.out,
                   resume=args.resume)
    print(format_table(summary))
    selected = summary['selected']
    ks = sorted({int(key.split('@')[1]) for key in selected['valid'] if '@' in key})
    print(format_metrics({'valid': selected['valid'], 'test': selected['test']}, ks))
    print(f"\nwrote {args.out}/tune.json, tune.md and run<i>/ folders")


def _evaluate(args: argparse.Namespace) -> None:
    from pyg_mmrec.data import load_dataset
    from pyg_mmrec.metrics import RankingEvaluator
    from pyg_mmrec.train import evaluate, load_model
    from pyg_mmrec.train.checkpoint import load_checkpoint
    from pyg_mmrec.train.trainer import checkpoint_splits
    splits = checkpoint_splits(load_checkpoint(args.checkpoint), load_dataset(args.data))
    model, ckpt = load_model(args.checkpoint, splits)
    cfg = ckpt['config']
    metrics = evaluate(model, splits, args.split, RankingEvaluator(cfg['ks'], cfg['max_scores']),
                       cfg['exclude_val_at_test'])
    print(f"{ckpt['model']} (best epoch {ckpt['best_epoch']}) on {splits.name}, "
          f"{args.split} split, {metrics['num_users']} users")
    print(format_metrics(metric_columns(args.split, metrics), cfg['ks']))


def _parse_users(text: str, internal: bool) -> list:
    users = [u.strip() for u in text.split(',') if u.strip()]
    if not internal:
        return users
    try:
        return [int(u) for u in users]
    except ValueError:
        raise ConfigError(f"--users with --internal-ids expects comma-separated integer ids, "
                          f"got {text!r}") from None


def _new_items(path: str) -> tuple[dict, list | None]:
    """The feature rows by modality and the ids (or :obj:`None`) of a ``--new-items`` file."""
    import numpy as np
    try:
        with np.load(path, allow_pickle=False) as arrays:
            content = {key: arrays[key] for key in arrays.files}
    except (OSError, ValueError) as e:
        raise DataError(f"--new-items {path}: not a readable .npz file of arrays: {e}") from e
    ids = content.pop('ids', None)
    return content, None if ids is None else [str(i) for i in ids.tolist()]


def _recommend(args: argparse.Namespace) -> None:
    if args.k < 1:
        raise ConfigError(f"--k must be a positive integer, got {args.k}")
    if args.out is not None:
        check_out_file(args.out)
    users = _parse_users(args.users, args.internal_ids) if args.users else None
    from pyg_mmrec.train import recommend
    from pyg_mmrec.utils import atomic_write
    splits = None
    if args.data is not None:
        from pyg_mmrec.data import load_dataset
        splits = load_dataset(args.data)
    # Validation items are never recommended for the test split, whatever the checkpoint's
    # evaluation protocol: they are known interactions of the user.
    new_items, new_ids = _new_items(args.new_items) if args.new_items else (None, None)
    recs = recommend(args.checkpoint, splits, k=args.k, users=users, split=args.split,
                     exclude_val_at_test=True, internal_ids=args.internal_ids,
                     new_items=new_items, new_item_ids=new_ids, only_new=args.only_new)
    lines = ['userID\titemID\trank\tscore' if args.internal_ids else
             'user_id\titem_id\trank\tscore']
    short = 0
    for u, row, row_scores in zip(recs.users.tolist() if args.internal_ids else recs.users,
                                  recs.items.tolist() if args.internal_ids else recs.items,
                                  recs.scores.tolist() if args.internal_ids else recs.scores,
                                  strict=True):
        ranked = [(i, s) for i, s in zip(row, row_scores, strict=True) if s != float('-inf')]
        short += len(ranked) < args.k
        lines += [f'{u}\t{i}\t{r}\t{s:.6g}' for r, (i, s) in enumerate(ranked, start=1)]
    if short:
        print(f"pyg-mmrec: note: {short} of {len(recs.users)} users have fewer than {args.k} "
              f"items they have not interacted with; they get fewer than {args.k} "
              f"recommendations", file=sys.stderr)
    text = '\n'.join(lines) + '\n'
    if args.out:
        atomic_write(args.out, lambda f: f.write(text.encode('utf-8')))
        print(f"wrote {len(lines) - 1} recommendations to {args.out}")
    else:
        sys.stdout.write(text)


def _data_info(args: argparse.Namespace) -> None:
    from pyg_mmrec.data import load_dataset
    info = load_dataset(args.path).summary()
    print(json.dumps(info, indent=2))


def format_keys(specs: dict[str, Param], indent: str = '  ') -> str:
    """One line per settable key: its default and what is allowed."""
    return '\n'.join(f'{indent}{key}={param.default!r}  ({param.describe()})'
                     for key, param in specs.items())


def _data_list(args: argparse.Namespace) -> None:
    from pyg_mmrec.datasets import DATASETS, data_home

    print(f"data home: {data_home()} (set PYG_MMREC_HOME to change it)")
    width = max(len(name) for name in DATASETS)
    cls_width = max(len(cls.__name__) for cls in DATASETS.values())
    print(f"{'name':<{width}}  {'class':<{cls_width}}  {'raw size':>10}  {'on disk':>10}  state")
    for name, cls in sorted(DATASETS.items()):
        st = cls.status()
        raw = 'unknown' if st['raw_bytes'] is None else f"{st['raw_bytes'] / 2**20:.1f} MiB"
        print(f"{name:<{width}}  {cls.__name__:<{cls_width}}  {raw:>10}  "
              f"{st['disk_bytes'] / 2**20:>6.1f} MiB  {st['state']}")


def _data_download(args: argparse.Namespace) -> None:
    from pyg_mmrec.datasets import get_dataset_class

    dataset = get_dataset_class(args.name)(force_reload=args.force_reload)
    print(json.dumps({'root': str(dataset.root), **dataset.splits.summary()}, indent=2))


def _data_prepare(args: argparse.Namespace) -> None:
    from pyg_mmrec.datasets import prepare_amazon

    record = prepare_amazon(args.out, ratings=args.ratings, reviews=args.reviews,
                            meta=args.meta, images=args.images, name=args.name,
                            user_core=args.user_core, item_core=args.item_core, seed=args.seed,
                            ratings_columns=args.ratings_columns, overwrite=args.overwrite)
    print(json.dumps(record, indent=2))
    print(f"wrote {args.out}; train on it with --data {args.out}")


def _models(args: argparse.Namespace) -> None:
    from pyg_mmrec.params import declared, from_default
    from pyg_mmrec.registry import registered
    from pyg_mmrec.train import TrainConfig
    for name, cls in sorted(registered().items()):
        offered = ', '.join(sorted(cls.offered_capabilities())) or 'none'
        print(f'{name} ({cls.__name__}; capabilities: {offered}):')
        specs = cls.hparam_specs()
        untyped = {k: from_default(v) or Param(object, default=v)
                   for k, v in cls.hparam_defaults().items() if k not in specs}
        print(format_keys({**specs, **untyped}))
    print('trainer keys (every model):')
    print(format_keys(declared(TrainConfig)))


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (exit status 2) and whose epilog may be
    computed only when the help is shown (so that ``--help`` imports nothing heavy)."""
    def __init__(self, *args, lazy_epilog: Callable[[], str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_epilog = lazy_epilog

    def format_help(self) -> str:
        if self.lazy_epilog is not None:
            self.epilog, self.lazy_epilog = self.lazy_epilog(), None
        return super().format_help()

    def error(self, message: str):
        self.exit(2, f"pyg-mmrec: error: {self.prog.removeprefix('pyg-mmrec ')}: {message} "
                     f"(see {self.prog} --help)\n")


def _train_epilog() -> str:
    from pyg_mmrec.params import declared
    from pyg_mmrec.train.config import TrainConfig
    return ('trainer keys for --set and --config (KEY=DEFAULT, allowed):\n'
            + format_keys(declared(TrainConfig))
            + "\n\nmodel keys, with defaults and ranges: 'pyg-mmrec models'. "
              "A short run: --set epochs=3")


THREADS_HELP = ('intra-op threads (the config key threads; default 0: chosen before '
                'every epoch from the CPUs this process may use that other processes '
                'leave free); N fixes the count')
MODEL_HELP = "a registered model name (list them with 'pyg-mmrec models')"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog='pyg-mmrec', description=__doc__.split('\n')[0])
    parser.add_argument('-v', '--verbose', action='store_true', help='log at INFO level')
    sub = parser.add_subparsers(dest='command', required=True, parser_class=Parser)

    p = sub.add_parser('train', help='train a model, validate, test once at the best epoch',
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       lazy_epilog=_train_epilog)
    p.add_argument('--model', required=True, help=MODEL_HELP)
    p.add_argument('--data', required=True, help="a dataset folder, or 'synthetic'")
    p.add_argument('--config', help='YAML file with a flat mapping of config keys')
    p.add_argument('--set', nargs='+', action='extend', metavar='KEY=VALUE',
                   help='override config keys (may be given several times; they accumulate)')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--resume', action='store_true',
                   help="continue from OUT/checkpoint.pt with the checkpoint's settings")
    p.add_argument('--threads', type=int, metavar='N',
                   help=THREADS_HELP)
    p.add_argument('--overwrite', action='store_true',
                   help='replace the run that OUT holds already')
    p.add_argument('--with-backbone', action='store_true',
                   help="for a plug-in (ibmrec, dvib, msi): also train its bare backbone with "
                        "the same settings and print the two test columns side by side")
    p.set_defaults(func=_train)

    p = sub.add_parser('tune', help='grid search selected on validation; tests the choice only')
    p.add_argument('--model', required=True, help=MODEL_HELP)
    p.add_argument('--data', required=True, help="a dataset folder, or 'synthetic'")
    p.add_argument('--grid', nargs='+', action='extend', required=True, metavar='KEY=[V1,V2]',
                   help="values to try, e.g. lr=[1e-3,1e-2] reg_weight=[1e-4,1e-3]")
    p.add_argument('--config', help='YAML file with settings shared by every run')
    p.add_argument('--set', nargs='+', action='extend', metavar='KEY=VALUE',
                   help='override shared config keys (may be given several times)')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--resume', action='store_true',
                   help='continue an interrupted search in OUT (finished runs are kept)')
    p.add_argument('--threads', type=int, metavar='N',
                   help=THREADS_HELP)
    p.add_argument('--overwrite', action='store_true',
                   help='replace the search that OUT holds already')
    p.set_defaults(func=_tune)

    p = sub.add_parser('evaluate', help="print a checkpoint's metrics on a split")
    p.add_argument('--checkpoint', required=True, help='a checkpoint.pt written by train')
    p.add_argument('--data', required=True, help='the dataset it was trained on')
    p.add_argument('--split', default='test', choices=['val', 'test'])
    p.set_defaults(func=_evaluate)

    p = sub.add_parser('recommend', help='top-K items per user as TSV')
    p.add_argument('--checkpoint', required=True, help='a checkpoint.pt written by train')
    p.add_argument('--data', help="the dataset it was trained on (default: the checkpoint's "
                                   "own index of a finished run, no data read)")
    p.add_argument('--k', type=int, default=10,
                   help='items per user (fewer when fewer are left unseen) (default: 10)')
    group = p.add_mutually_exclusive_group()
    group.add_argument('--users', help='comma-separated user ids as in the source, e.g. '
                                       'reviewer ids (default: all users)')
    group.add_argument('--split', choices=['val', 'test'],
                       help="the split's users, excluding what precedes it")
    p.add_argument('--internal-ids', action='store_true',
                   help="take and write the dataset's internal (contiguous) ids instead of "
                        "the source's")
    p.add_argument('--new-items', metavar='NPZ',
                   help="items the model has never seen, by their feature rows: a .npz file "
                        "with one [C, d] array per modality, named as the modality, and "
                        "optionally their ids in 'ids' (needs --data and an inductive model)")
    p.add_argument('--only-new', action='store_true',
                   help='rank the new items only, not the catalogue')
    p.add_argument('--out', help='TSV file to write (default: stdout)')
    p.set_defaults(func=_recommend)

    p = sub.add_parser('data', help='dataset tools')
    data_sub = p.add_subparsers(dest='data_command', required=True, parser_class=Parser)
    q = data_sub.add_parser('info', help='users, items, interactions, modalities, graphs')
    q.add_argument('path', help="a dataset folder, a registered dataset name or 'synthetic'")
    q.set_defaults(func=_data_info)
    q = data_sub.add_parser('list', help='the registered datasets, their sizes, whether present')
    q.set_defaults(func=_data_list)
    q = data_sub.add_parser('download', help='download, verify and process a registered dataset')
    q.add_argument('name')
    q.add_argument('--force-reload', action='store_true', help='process the raw files again')
    q.set_defaults(func=_data_download)
    q = data_sub.add_parser('prepare', help="an MMRec folder from raw Amazon review files, as "
                                            "MMRec's preprocessing does (k-core, id maps, "
                                            "8:1:1 split, text and image features)")
    q.add_argument('--out', required=True, help='the folder to write')
    source = q.add_mutually_exclusive_group(required=True)
    source.add_argument('--ratings', help='ratings CSV without header (.csv or .csv.gz)')
    source.add_argument('--reviews', help='reviews, one JSON object per line (.json[.gz])')
    q.add_argument('--meta', help='meta_<Category>.json.gz: item text, encoded with '
                                  'all-MiniLM-L6-v2 (needs the text extra)')
    q.add_argument('--images', help='image_features_<Category>.b: 4096-d CNN features')
    q.add_argument('--name', help="the dataset name (default: the folder's name)")
    q.add_argument('--user-core', type=int, default=5, help='(default: 5)')
    q.add_argument('--item-core', type=int, default=5, help='(default: 5)')
    q.add_argument('--seed', type=int, default=2024, help='seed of the split (default: 2024)')
    q.add_argument('--ratings-columns', default='user,item,rating,timestamp',
                   choices=['user,item,rating,timestamp', 'item,user,rating,timestamp'],
                   help='column order of --ratings: 2014 files (default) or 2018 ones')
    q.add_argument('--overwrite', action='store_true', help='replace a dataset prepared in OUT')
    q.set_defaults(func=_data_prepare)

    p = sub.add_parser('models', help='list the registered models and every settable key '
                                      'with its default and range')
    p.set_defaults(func=_models)
    return parser


def _interrupted(args: argparse.Namespace) -> str:
    out = getattr(args, 'out', None)
    if args.command in ('train', 'tune') and out:
        ckpt = Path(out) / 'checkpoint.pt'
        state = (f"{ckpt} is intact" if ckpt.is_file() or args.command == 'tune'
                 else "no checkpoint was written yet")
        return (f"interrupted; {state} (checkpoints are written atomically); resume with "
                f"the same command and --resume")
    return "interrupted"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        args.func(args)
    except PygMMRecError as e:
        print(f"pyg-mmrec: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except OSError as e:  # a file that cannot be written, a full disk
        print(f"pyg-mmrec: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\npyg-mmrec: {_interrupted(args)}", file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
