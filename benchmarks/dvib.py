"""DVIB benchmark: backbones bare, with DVIB_c and with DVIB_a; robustness to noise and redundancy.

For each backbone (its default hyper-parameters or, with ``--tuned``, the configuration and
epoch budget that ``backbones.py`` selected for it on this dataset on validation), on one
dataset:

* **bare**: the backbone alone, one run per seed;
* **DVIB_c** / **DVIB_a**: :class:`pyg_mmrec.ib.DVIB` around it, with γ_d (and σ for DVIB_c)
  selected on validation Recall@20 by :func:`pyg_mmrec.tune` with the first seed (grids from the
  paper's appendix B: γ_d ∈ {0.5, 0.1, 0.01}, σ ∈ {1e-3, 5e-4, 1e-4}); the selected point alone
  is tested, then retrained and tested with the other seeds.

Test metrics: Recall, NDCG, Precision and MAP at 5 and 20 (full ranking, training and
validation items excluded), at the epoch with the best validation Recall@20.

Robustness (the paper's RQ1/RQ2), for MMGCN and BM3 bare and with DVIB_a (the point selected on
clean data): the same runs on perturbed data, every view perturbed alike by the library's
transforms: Gaussian noise on every modality's features with χ ∈ {0.01, 0.05}
(:class:`~pyg_mmrec.transforms.FeatureNoise`), visual redundancy (512 |N(1, 9)| and 512 zero
dimensions appended to the image features, or to every modality where there is no image one,
:class:`~pyg_mmrec.transforms.FeatureRedundancy`) and, on datasets with item texts (ml-100k),
textual redundancy (:class:`~pyg_mmrec.transforms.TextRedundancy` before the texts are encoded);
the table gives the relative decrease of Recall against the clean run of the same model.

Efficiency: median training seconds per epoch with and without DVIB, and epochs to the best
validation epoch.

Runs whose ``results.json`` (searches: ``tune.json``) exists under
``<out>/runs/dvib/<dataset>/`` are not repeated and interrupted ones continue from their
checkpoints (``--force`` repeats them), so the benchmark can be interrupted and resumed, and
seeds or variants (``--variants``) added later. ``--dvib-set`` configures the DVIB runs
only (e.g. ``relative=true``); those runs, the report and the figure then carry the settings in
their names, and the bare runs are shared. Writes ``<out>/dvib.{md,json}`` and, for the default
``--out``, the figure ``docs/_static/dvib_recall.png`` (``dvib_<dataset>...`` for datasets other
than tiktok, e.g. ``dvib_ml-100k.md``).

Usage::

    python benchmarks/dvib.py                                   # tiktok, seed 2024
    python benchmarks/dvib.py --seeds 2024 2025 2026
    python benchmarks/dvib.py --tuned --backbones bm3 --robust --seeds 2024 2025 2026
    python benchmarks/dvib.py --data ../shared/data/ml-100k --backbones mmgcn bm3
    python benchmarks/dvib.py --tuned --backbones mmgcn --robust --variants DVIB_a
    python benchmarks/dvib.py --data ../shared/data/ml-100k --tuned --backbones mmgcn \\
        --robust mmgcn --variants DVIB_a --conditions tr vr   # the redundancy runs first
    python benchmarks/dvib.py --backbones layergcn selfcf --robust --dvib-set relative=true
    python benchmarks/dvib.py --data synthetic --backbones vbpr --robust vbpr \\
        --set epochs=2 --out /tmp/dvib-smoke                    # a smoke run
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from backbones import read_cell, selected_config
from foundation import DATA, RESULTS, ROOT, mean_std

BACKBONES = ['vbpr', 'mmgcn', 'grcn', 'bm3', 'freedom', 'layergcn', 'selfcf']
ROBUST = ['mmgcn', 'bm3']
GAMMA_D = [0.5, 0.1, 0.01]
SIGMA = [1e-3, 5e-4, 1e-4]
CHIS = [0.01, 0.05]
VARIANTS = {'bare': None, 'DVIB_c': 'constant', 'DVIB_a': 'adaptive'}
METRICS = [f'{m}@{k}' for k in (5, 20) for m in ('Recall', 'NDCG', 'Precision', 'MAP')]
# The backbones benchmark's name of a dataset folder, where they differ.
CELL_NAMES = {'ml-100k': 'ml-100k-text'}


def tuned_config(dataset: str, backbone: str) -> dict:
    """The configuration and epoch budget ``backbones.py`` selected for ``backbone`` on
    ``dataset`` (a folder name) on validation."""
    return selected_config(read_cell(CELL_NAMES.get(dataset, dataset), backbone))


def conditions(splits) -> list[str]:
    """The data conditions of the robustness runs available on ``splits``."""
    out = ['clean', *(f'noise{chi}' for chi in CHIS), 'vr']
    return out + ['tr'] if hasattr(splits.train['item'], 'text') else out


def load(data: str, condition: str = 'clean'):
    """The dataset at ``data`` under ``condition`` (see :func:`conditions`); item texts, when
    there are any, are encoded into a text modality (cached)."""
    from torch_geometric.transforms import Compose

    from pyg_mmrec.data import DataSplits, load_dataset, modalities
    from pyg_mmrec.transforms import EncodeText, FeatureNoise, FeatureRedundancy, TextRedundancy
    splits = load_dataset(data)
    steps = []
    has_text = hasattr(splits.train['item'], 'text')
    if condition == 'tr':
        steps.append(TextRedundancy(seed=0))
    if has_text:
        steps.append(EncodeText(cache_dir=ROOT / 'runs' / 'text-cache'))
    if condition.startswith('noise'):
        steps.append(FeatureNoise(chi=float(condition[len('noise'):]), seed=0))
    if condition == 'vr':  # the image features, else every modality (ml-100k: the text)
        steps.append(FeatureRedundancy(
            modalities='image' if 'image' in modalities(splits.train) else None, seed=0))
    return DataSplits(*map(Compose(steps), splits))


def record(results: dict, out: Path) -> dict:
    """What the report keeps of one run."""
    return {'test': results['test'], 'valid': results['valid'],
            'best_epoch': results['best_epoch'],
            'train_seconds_per_epoch': results['train_seconds_per_epoch'],
            'log': str(out / 'log.jsonl')}


def run_variant(backbone: str, variant: str, splits, seeds: list[int], base: dict, out: Path,
                grids: dict[str, dict], force: bool, selected: dict | None = None,
                dvib: dict | None = None) -> tuple[dict, list[dict]]:
    """Runs ``backbone`` bare or with a DVIB variant on every seed; with DVIB and no
    ``selected`` point, the first seed searches the grid on validation; ``dvib`` is extra
    configuration of the DVIB runs. Returns the selected point and one record per seed."""
    import pyg_mmrec
    from pyg_mmrec.train import resume_run
    model = 'dvib' if VARIANTS[variant] else backbone
    config = {**base, **({'backbone': backbone, 'variant': VARIANTS[variant], **(dvib or {})}
                         if VARIANTS[variant] else {})}
    records = []
    if VARIANTS[variant] and selected is None:
        tune_dir, grid = out / 'tune', grids[variant]
        summary_path = tune_dir / 'tune.json'
        if summary_path.is_file() and not force:
            summary = json.loads(summary_path.read_text())
            if summary['grid'] != grid:
                raise SystemExit(f"{summary_path} searched {summary['grid']}, not {grid}: "
                                 f"repeat it with --force or pass another --out")
        else:
            summary = pyg_mmrec.tune(model, splits, grid, {**config, 'seed': seeds[0]},
                                     out_dir=tune_dir, resume=not force)
        selected = {k: summary['selected'][k] for k in grid}
        run_dir = tune_dir / f"run{summary['selected']['run']}"
        results = json.loads((run_dir / 'results.json').read_text())
        records.append(record({**results, 'test': summary['selected']['test']}, run_dir))
        seeds = seeds[1:]
    for seed in seeds:
        run_dir = out / f'seed{seed}'
        seed_config = {**config, **(selected or {}), 'seed': seed}
        results = (pyg_mmrec.run(model, splits, seed_config, out_dir=run_dir) if force
                   else resume_run(model, splits, seed_config, run_dir))
        records.append(record(results, run_dir))
    return selected or {}, records


def means(records: list[dict], metric: str) -> float:
    return statistics.mean(r['test'][metric] for r in records)


def write_report(report: dict) -> str:
    lines = [
        f"# DVIB benchmark ({report['data']}"
        + ''.join(f', {k}={v}' for k, v in report['dvib'].items()) + ')', '',
        f"Seeds: {report['seeds']} (mean ± std where a cell has several). Backbones with "
        + ('the configuration and epoch budget the backbones benchmark selected on validation'
           if report.get('tuned') else 'their default hyper-parameters') + ' ('
        + '; '.join(f"{b}: {', '.join(f'{k}={v}' for k, v in c.items() if k != 'progress')}"
                    for b, c in report.get('backbone_configs', {}).items()) + '); '
        'DVIB with γ_0 = 1, γ_r = 1e-3, a = 0.5 and γ_d (and σ for '
        'DVIB_c) selected on validation Recall@20 with the first seed, grids γ_d ∈ '
        f"{report['grids']['DVIB_a']['gamma_d']}, σ ∈ {report['grids']['DVIB_c']['sigma']}. "
        'Test metrics at the epoch with the best validation Recall@20 (full ranking; training '
        'and validation items excluded at test). Seconds are medians over epochs.', '',
        '| backbone | variant | selected | ' + ' | '.join(METRICS)
        + ' | R@20 vs bare | best epoch | s/epoch |',
        '|' + '---|' * (len(METRICS) + 6),
    ]
    for row in report['main']:
        bare = next(r for r in report['main']
                    if r['backbone'] == row['backbone'] and r['variant'] == 'bare')
        gain = means(row['records'], 'Recall@20') / means(bare['records'], 'Recall@20') - 1
        lines.append(
            f"| {row['backbone']} | {row['variant']} "
            f"| {', '.join(f'{k}={v}' for k, v in row['selected'].items()) or '—'} | "
            + ' | '.join(mean_std([r['test'][m] for r in row['records']]) for m in METRICS)
            + f" | {'—' if row['variant'] == 'bare' else f'{gain:+.1%}'} "
            f"| {', '.join(str(r['best_epoch']) for r in row['records'])} "
            f"| {statistics.median(r['train_seconds_per_epoch'] for r in row['records']):.2f} |")
    if report['robustness']:
        lines += ['', '## Robustness', '',
                  'Relative decrease of test Recall (mean over seeds) on perturbed data against '
                  'the clean run of the same model: noiseχ = Gaussian noise of std χ on every '
                  'modality; vr = 512 dimensions drawn from abs(N(1, 9)) and 512 zero dimensions '
                  'appended to the image features (every modality where there are none); '
                  'tr = a random 30-character string appended to half of the item texts '
                  'before encoding.', '',
                  '| backbone | variant | condition | R@5 clean | R@5 perturbed | decrease '
                  '| R@20 clean | R@20 perturbed | decrease |', '|' + '---|' * 9]
        for row in report['robustness']:
            clean = next(r for r in report['main'] if r['backbone'] == row['backbone']
                         and r['variant'] == row['variant'])
            cells = []
            for metric in ('Recall@5', 'Recall@20'):
                before, after = means(clean['records'], metric), means(row['records'], metric)
                cells += [f'{before:.4f}', f'{after:.4f}',
                          f'{(before - after) / before:.1%}' if before else '—']
            lines.append(f"| {row['backbone']} | {row['variant']} | {row['condition']} | "
                         + ' | '.join(cells) + ' |')
    lines += ['', '## Training cost', '',
              'Median training seconds per epoch (DVIB runs the backbone twice per step; '
              'inference is the backbone alone) and epochs to the best validation epoch.', '',
              '| backbone | bare s/epoch | DVIB_c s/epoch | DVIB_a s/epoch '
              '| best epoch bare / DVIB_c / DVIB_a |', '|---|---|---|---|---|']
    for backbone in dict.fromkeys(r['backbone'] for r in report['main']):
        rows = {r['variant']: r['records'] for r in report['main'] if r['backbone'] == backbone}
        secs = {v: statistics.median(r['train_seconds_per_epoch'] for r in recs)
                for v, recs in rows.items()}
        # Variants not run are '—'; the DVIB ones carry their ratio to bare.
        cost = [f'{secs[v]:.2f}' + (f" ({secs[v] / secs['bare']:.2f}×)" if v != 'bare' else '')
                if v in secs else '—' for v in VARIANTS]
        best = ' / '.join(str(statistics.median(r['best_epoch'] for r in rows[v]))
                          if v in rows else '—' for v in VARIANTS)
        lines.append(f"| {backbone} | {' | '.join(cost)} | {best} |")
    return '\n'.join(lines) + '\n'


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    robust = report['robustness']
    fig, axes = plt.subplots(1, 3 if robust else 2, figsize=(15 if robust else 10, 3.8))
    backbones = list(dict.fromkeys(r['backbone'] for r in report['main']))
    width = 0.8 / len(VARIANTS)
    for i, variant in enumerate(VARIANTS):
        rows = [next((r for r in report['main']
                      if r['backbone'] == b and r['variant'] == variant), None)
                for b in backbones]
        values = [[r['test']['Recall@20'] for r in row['records']] if row else [0.0]
                  for row in rows]
        axes[0].bar([x + i * width for x in range(len(backbones))],
                    [statistics.mean(v) for v in values], width, label=variant, color=f'C{i}',
                    yerr=[statistics.stdev(v) if len(v) > 1 else 0.0 for v in values],
                    capsize=2)
    axes[0].set_xticks([x + width for x in range(len(backbones))], backbones)
    axes[0].tick_params(axis='x', labelrotation=30)
    axes[0].set_ylabel('test Recall@20 (mean ± std over seeds)')
    axes[0].set_title(report['data'])
    axes[0].legend(fontsize=8)

    if robust:
        labels, decreases, colors = [], [], []
        for row in robust:
            clean = next(r for r in report['main'] if r['backbone'] == row['backbone']
                         and r['variant'] == row['variant'])
            before = means(clean['records'], 'Recall@5')
            labels.append(f"{row['backbone']} {row['variant']} {row['condition']}")
            decreases.append(100 * (before - means(row['records'], 'Recall@5')) / before
                             if before else 0.0)
            colors.append(f"C{list(VARIANTS).index(row['variant'])}")
        axes[1].barh(labels, decreases, color=colors)
        axes[1].invert_yaxis()
        axes[1].tick_params(axis='y', labelsize=7)
        axes[1].set_xlabel('decrease of test Recall@5 on perturbed data (%)')

    # Validation curves of the robustness backbones, or of every backbone without them.
    curves = [b for b in backbones if b in {r['backbone'] for r in robust}] or backbones
    for row in report['main']:
        if row['backbone'] not in curves:
            continue
        lines = Path(row['records'][0]['log']).read_text().splitlines()
        log = [json.loads(line) for line in lines]
        axes[-1].plot([e['epoch'] for e in log if 'valid' in e],
                      [e['valid']['Recall@20'] for e in log if 'valid' in e], lw=1,
                      ls=['-', '--', ':', '-.'][curves.index(row['backbone']) % 4],
                      color=f"C{list(VARIANTS).index(row['variant'])}",
                      label=f"{row['backbone']} {row['variant']}")
    axes[-1].set_xlabel('epoch')
    axes[-1].set_ylabel('validation Recall@20 (first seed)')
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    from pyg_mmrec.registry import MODELS

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default=str(DATA / 'tiktok'),
                        help="a dataset folder, or 'synthetic' (default: tiktok)")
    parser.add_argument('--backbones', nargs='+', default=[b for b in BACKBONES if b in MODELS])
    parser.add_argument('--robust', nargs='*', default=[b for b in ROBUST if b in MODELS],
                        help='backbones of the robustness runs')
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS),
                        help='the variants of the main table to run (bare is always run: '
                             'the gains and the robustness runs compare with it)')
    parser.add_argument('--conditions', nargs='+', metavar='CONDITION',
                        help='robustness conditions to run, in this order (default: every one '
                             'the data allows: noise0.01 noise0.05 vr, and tr with item texts)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024])
    parser.add_argument('--gamma-d', nargs='+', type=float, default=GAMMA_D)
    parser.add_argument('--sigma', nargs='+', type=float, default=SIGMA)
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config shared by every run, e.g. epochs=2')
    parser.add_argument('--dvib-set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config of the DVIB runs only, e.g. relative=true')
    parser.add_argument('--out', type=Path, default=RESULTS)
    parser.add_argument('--threads', type=int,
                        help='torch threads (on a shared CPU, 1 gives steadier timings)')
    parser.add_argument('--tuned', action='store_true',
                        help="start every backbone from backbones.py's validation-selected "
                             'configuration and epoch budget on this dataset')
    parser.add_argument('--force', action='store_true', help='repeat finished runs')
    args = parser.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)

    from pyg_mmrec.train.checkpoint import write_json
    from pyg_mmrec.train.config import parse_overrides

    base = {'progress': False, **parse_overrides(args.set)}
    dvib = parse_overrides(args.dvib_set)
    grids = {'DVIB_c': {'gamma_d': args.gamma_d, 'sigma': args.sigma},
             'DVIB_a': {'gamma_d': args.gamma_d}}
    name = Path(args.data).name
    # Backbone configurations: the defaults, or the backbones benchmark's selection; --set wins.
    backbones = list(dict.fromkeys([*args.backbones, *args.robust]))
    configs = {b: {**(tuned_config(name, b) if args.tuned else {}), **base} for b in backbones}
    runs = args.out / 'runs' / 'dvib' / (f'{name}_tuned' if args.tuned else name)
    # DVIB runs with other settings go to their own folders (the bare ones are shared).
    tag = ''.join(f'_{k}={v}' for k, v in dvib.items())

    def folder(backbone: str, variant: str, condition: str = 'clean') -> Path:
        return runs / (f'{backbone}_{variant}{tag if VARIANTS[variant] else ""}'
                       + ('' if condition == 'clean' else f'_{condition}'))
    clean = load(args.data)
    available = conditions(clean)[1:]
    chosen = args.conditions or available
    unknown = [c for c in chosen if c not in available]
    if unknown:
        raise SystemExit(f"--conditions {' '.join(unknown)}: not available on {name}; "
                         f"choose from {' '.join(available)}")
    report = {'data': name, 'seeds': args.seeds, 'grids': grids, 'config': base, 'dvib': dvib,
              'tuned': args.tuned, 'backbone_configs': configs, 'main': [], 'robustness': []}
    selected = {}
    # The robustness runs compare with the clean runs of the same backbones.
    variants = [v for v in VARIANTS if v == 'bare' or v in args.variants]
    for backbone in backbones:
        for variant in variants:
            print(f'== {name} {backbone} {variant}', flush=True)
            point, records = run_variant(backbone, variant, clean, args.seeds, configs[backbone],
                                         folder(backbone, variant), grids, args.force,
                                         dvib=dvib)
            selected[backbone, variant] = point
            report['main'].append({'backbone': backbone, 'variant': variant,
                                   'selected': point, 'records': records})
    for condition in chosen:
        splits = load(args.data, condition)
        for backbone in args.robust:
            for variant in [v for v in ('bare', 'DVIB_a') if v in variants]:
                print(f'== {name} {backbone} {variant} {condition}', flush=True)
                _, records = run_variant(backbone, variant, splits, args.seeds,
                                         configs[backbone],
                                         folder(backbone, variant, condition), grids,
                                         args.force, selected=selected[backbone, variant],
                                         dvib=dvib)
                report['robustness'].append({'backbone': backbone, 'variant': variant,
                                             'condition': condition, 'records': records})
    # Reports of datasets other than tiktok carry the dataset's name.
    stem = ('' if name == 'tiktok' else f'_{name}') + tag
    write_json(args.out / f'dvib{stem}.json', report)
    table = write_report(report)
    (args.out / f'dvib{stem}.md').write_text(table)
    figure = ((ROOT / 'docs' / '_static' if args.out == RESULTS else args.out)
              / f'dvib{stem}_recall.png')
    plot(report, figure)
    print(table)


if __name__ == '__main__':
    main()
