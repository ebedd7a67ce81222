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

Ablations (``--ablations``, none by default; the paper's section 6 and appendix E, on the
backbones the paper uses, ``--ablation-backbones`` to restrict them): each row is a DVIB run on
every seed at the point its main-table variant selected on validation, with one switch of
:class:`~pyg_mmrec.ib.DVIB` changed (the switch is the experiment's factor: reported, never
selected), next to that main-table run (the paper's setting):

* ``table6``: the self-distillation divergence, JS against KL(Z‖Z_d) (``divergence=kl``) and
  KL(Z_d‖Z) (``reverse_kl``), VBPR and BM3, DVIB_c and DVIB_a;
* ``table7``: the perturbation, Gaussian against uniform and dropout noise, BM3 and MMGCN
  (Tables 7 and 11), DVIB_c and DVIB_a. DVIB_c's dropout rate is σ; the selected σ (≤ 1e-3)
  would drop almost nothing and the paper gives no rate, so its dropout rows use 0.1;
* ``fig4``: without L_0^DVIB (``gamma_0=0``) and without L_0 (``clean_loss=false``), BM3,
  DVIB_c and DVIB_a;
* ``table9`` / ``table10`` (Fig. 6): a ∈ {0.3, 0.7, 1.0} and γ_r ∈ {0, 1e-4, 1e-2, 0.1}
  around the defaults a = 0.5, γ_r = 1e-3, VBPR and BM3, DVIB_a (the only variant that
  reads them).

With ``--ablations-only`` the ablations are added to the recorded report (its seeds, backbone
configurations and selected points) without its main-table cells, whose folders may be gone,
each row as soon as it has run (so several such processes may run side by side).

Every (backbone, variant, condition) is a harness cell (:func:`pyg_mmrec.train.run_cell`) under
``<out>/runs/dvib/<dataset>[_tuned]/``: finished cells are not repeated and interrupted ones
continue from their checkpoints, so the benchmark can be interrupted and resumed, and
variants (``--variants``) added later. ``--dvib-set`` configures the DVIB runs only (e.g.
``relative=true``); those runs, the report and the figure then carry the settings in their
names, and the bare runs are shared. Writes ``<out>/dvib.{md,json}`` and, for the default
``--out``, the figures ``docs/_static/dvib_recall.png`` (results and robustness),
``dvib_ablations.png`` (the ablations, where run) and ``dvib_curves.png`` (validation
curves) (``dvib_<dataset>...`` for datasets other than tiktok,
e.g. ``dvib_ml-100k-text.md``). ``--report-only`` rebuilds the Markdown of ``--data`` (and
``--dvib-set``) and the results figure from its JSON, and the curves where the runs' logs are
still there. (``dvib_ml-100k.md`` is the report of the ml-100k-text data under its earlier name,
``--data ml-100k --report-only``; it was loaded without the text graph, which neither MMGCN nor
BM3 reads.)

Usage::

    python benchmarks/dvib.py                                   # tiktok, seed 2024
    python benchmarks/dvib.py --seeds 2024 2025 2026
    python benchmarks/dvib.py --tuned --backbones bm3 --robust --seeds 2024 2025 2026
    python benchmarks/dvib.py --data ml-100k-text --backbones mmgcn bm3
    python benchmarks/dvib.py --tuned --backbones mmgcn --robust --variants DVIB_a
    python benchmarks/dvib.py --data ml-100k-text --tuned --backbones mmgcn \\
        --robust mmgcn --variants DVIB_a --conditions tr vr   # the redundancy runs first
    python benchmarks/dvib.py --backbones layergcn selfcf --robust --dvib-set relative=true
    python benchmarks/dvib.py --data synthetic --backbones vbpr --robust vbpr \\
        --set epochs=2 --out runs/dvib-smoke                    # a smoke run
    python benchmarks/dvib.py --data ml-100k --report-only     # rebuild dvib_ml-100k.md
    python benchmarks/dvib.py --ablations-only --ablations table6 table7 fig4 table9 \
        table10                              # the ablations, on the recorded tiktok report
    python benchmarks/dvib.py --data synthetic --tuned --backbones vbpr --robust \
        --seeds 2024 --ablations table6 table7 fig4 table9 table10 --ablation-backbones vbpr \
        --set epochs=2 --gamma-d 0.1 --sigma 1e-3 --out runs/bench21-smoke   # a smoke run
"""
from __future__ import annotations

import argparse
import json
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
BACKBONES = ['vbpr', 'mmgcn', 'grcn', 'bm3', 'freedom', 'layergcn', 'selfcf']
ROBUST = ['mmgcn', 'bm3']
GAMMA_D = [0.5, 0.1, 0.01]
SIGMA = [1e-3, 5e-4, 1e-4]
VARIANTS = {'bare': None, 'DVIB_c': 'constant', 'DVIB_a': 'adaptive'}
METRICS = [f'{m}@{k}' for k in (5, 20) for m in ('Recall', 'NDCG', 'Precision', 'MAP')]
# Ablation -> (title, the paper's backbones, variants, the main-table setting's name,
# [(row name, DVIB settings)]).
ABLATIONS: dict[str, tuple[str, list[str], list[str], str, list[tuple[str, dict]]]] = {
    'table6': ('self-distillation divergence (Table 6)', ['vbpr', 'bm3'], ['DVIB_c', 'DVIB_a'],
               'JS', [('KL(Z‖Z_d)', {'divergence': 'kl'}),
                      ('KL(Z_d‖Z)', {'divergence': 'reverse_kl'})]),
    'table7': ('perturbation (Tables 7 and 11)', ['bm3', 'mmgcn'], ['DVIB_c', 'DVIB_a'],
               'Gaussian', [('uniform', {'noise': 'uniform'}),
                            ('dropout', {'noise': 'dropout', 'sigma': 0.1})]),
    'fig4': ('general losses (Fig. 4)', ['bm3'], ['DVIB_c', 'DVIB_a'], 'both',
             [('w/o L_0^DVIB', {'gamma_0': 0.0}), ('w/o L_0', {'clean_loss': False})]),
    'table9': ('prior variance a (Fig. 6, Table 9)', ['vbpr', 'bm3'], ['DVIB_a'], 'a=0.5',
               [(f'a={a}', {'a': a}) for a in (0.3, 0.7, 1.0)]),
    'table10': ('regulariser weight γ_r (Fig. 6, Table 10)', ['vbpr', 'bm3'], ['DVIB_a'],
                'γ_r=0.001', [(f'γ_r={g:g}', {'gamma_r': g}) for g in (0.0, 1e-4, 1e-2, 0.1)]),
}
ABLATION_METRICS = ['Recall@5', 'NDCG@5', 'Precision@5', 'MAP@5', 'Recall@20', 'NDCG@20']


def run_variant(backbone: str, variant: str, data: str, splits, seeds: list[int], base: dict,
                out: Path, results: Path, grids: dict[str, dict], condition: str = 'clean',
                selected: dict | None = None, dvib: dict | None = None
                ) -> tuple[dict, list[dict]]:
    """Runs ``backbone`` bare or with a DVIB variant on every seed as a harness cell in
    ``out``; with DVIB and no ``selected`` point, the first seed searches the grid on
    validation; ``dvib`` is extra configuration of the DVIB runs. Returns the selected point
    and one record per seed (its ``log`` relative to ``results``)."""
    from pyg_mmrec.train import Cell, run_cell
    model = 'dvib' if VARIANTS[variant] else backbone
    config = {**base, **({'backbone': backbone, 'variant': VARIANTS[variant], **(dvib or {})}
                         if VARIANTS[variant] else {}), **(selected or {})}
    grid = grids[variant] if VARIANTS[variant] and selected is None else None
    record = run_cell(Cell(model, data, seeds, grid, config, condition), out, splits=splits)
    return record['selected'] or selected or {}, [
        {'test': r['test'], 'valid': r['valid'], 'best_epoch': r['best_epoch'],
         'train_seconds_per_epoch': r['train_seconds_per_epoch'],
         'log': (out / r['dir'] / 'log.jsonl').relative_to(results).as_posix()}
        for r in record['runs']]


def means(records: list[dict], metric: str) -> float:
    return statistics.mean(r['test'][metric] for r in records)


def format_report(report: dict) -> str:
    """The Markdown report: the main table, robustness and training cost."""
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
    for key in dict.fromkeys(r['ablation'] for r in report.get('ablations', [])):
        title, _, _, default, _ = ABLATIONS[key]
        rows = [r for r in report['ablations'] if r['ablation'] == key]
        lines += ['', f'## Ablation: {title}', '',
                  'Each variant at the point its main-table run selected; "vs main": Recall@5 '
                  'against that run (the first row of each pair).', '',
                  '| backbone | variant | setting | ' + ' | '.join(ABLATION_METRICS)
                  + ' | R@5 vs main |', '|' + '---|' * (len(ABLATION_METRICS) + 4)]
        for backbone, variant in dict.fromkeys((r['backbone'], r['variant']) for r in rows):
            main = next(r for r in report['main']
                        if r['backbone'] == backbone and r['variant'] == variant)
            for name, records in [(f'{default} (main)', main['records'])] + [
                    (r['label'], r['records']) for r in rows
                    if (r['backbone'], r['variant']) == (backbone, variant)]:
                change = (means(records, 'Recall@5') / means(main['records'], 'Recall@5') - 1
                          if means(main['records'], 'Recall@5') else 0.0)
                lines.append(f'| {backbone} | {variant} | {name} | '
                             + ' | '.join(mean_std([r['test'][m] for r in records])
                                          for m in ABLATION_METRICS)
                             + f" | {'—' if records is main['records'] else f'{change:+.1%}'} |")
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


#: How the figures name the robustness conditions.
CONDITION_NAMES = {'noise0.01': 'noise χ=0.01', 'noise0.05': 'noise χ=0.05',
                   'vr': 'visual redundancy', 'tr': 'textual redundancy'}


def plot(report: dict, path: Path) -> None:
    """The report's figure, from its JSON alone: test Recall@20 per backbone and variant, and
    (where the report has robustness runs) the decrease of Recall@5 per condition."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    robust = report['robustness']
    fig, axes = plt.subplots(1, 2 if robust else 1, figsize=(11 if robust else 5.5, 3.8),
                             squeeze=False)
    axes = axes[0]
    backbones = list(dict.fromkeys(r['backbone'] for r in report['main']))
    variants = [v for v in VARIANTS if any(r['variant'] == v for r in report['main'])]
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        rows = [next((r for r in report['main']
                      if r['backbone'] == b and r['variant'] == variant), None)
                for b in backbones]
        values = [[r['test']['Recall@20'] for r in row['records']] if row else [0.0]
                  for row in rows]
        axes[0].bar([x + i * width for x in range(len(backbones))],
                    [statistics.mean(v) for v in values], width, label=variant,
                    color=f'C{list(VARIANTS).index(variant)}',
                    yerr=[statistics.stdev(v) if len(v) > 1 else 0.0 for v in values],
                    capsize=2)
    axes[0].set_xticks([x + width * (len(variants) - 1) / 2 for x in range(len(backbones))],
                       backbones)
    axes[0].tick_params(axis='x', labelrotation=30)
    axes[0].set_ylabel('test Recall@20 (mean ± std over seeds)')
    axes[0].set_title(f"{report['data']}: test Recall@20")
    axes[0].legend(fontsize=8)

    if robust:
        # One group of bars per backbone and condition, one bar per variant.
        groups = list(dict.fromkeys((r['backbone'], r['condition']) for r in robust))
        shown = [v for v in VARIANTS if any(r['variant'] == v for r in robust)]
        height = 0.8 / len(shown)
        for i, variant in enumerate(shown):
            ys, decreases = [], []
            for g, (backbone, condition) in enumerate(groups):
                row = next((r for r in robust if (r['backbone'], r['condition'], r['variant'])
                            == (backbone, condition, variant)), None)
                if row is None:
                    continue
                clean = next(r for r in report['main']
                             if r['backbone'] == backbone and r['variant'] == variant)
                before = means(clean['records'], 'Recall@5')
                ys.append(g + i * height)
                decreases.append(100 * (before - means(row['records'], 'Recall@5')) / before
                                 if before else 0.0)
            axes[1].barh(ys, decreases, height, label=variant,
                         color=f'C{list(VARIANTS).index(variant)}')
        axes[1].set_yticks([g + height * (len(shown) - 1) / 2 for g in range(len(groups))],
                           [f'{b}, {CONDITION_NAMES.get(c, c)}' for b, c in groups])
        axes[1].invert_yaxis()
        axes[1].axvline(0, color='black', lw=0.8)
        axes[1].tick_params(axis='y', labelsize=8)
        axes[1].set_xlabel('decrease of test Recall@5 on perturbed data (%; < 0: it rose)')
        axes[1].set_title('robustness')
        axes[1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def plot_ablations(report: dict, path: Path) -> None:
    """The ablations' figure (the paper's Fig. 4 and Fig. 6 as bars), from the JSON alone:
    one panel per ablation, a group of bars per backbone and variant, one bar per setting
    (the main-table setting first), test Recall@20 mean ± std over seeds."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    keys = list(dict.fromkeys(r['ablation'] for r in report['ablations']))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        title, _, _, default, settings = ABLATIONS[key]
        rows = [r for r in report['ablations'] if r['ablation'] == key]
        groups = list(dict.fromkeys((r['backbone'], r['variant']) for r in rows))
        labels = [default] + [label for label, _ in settings]
        width = 0.8 / len(labels)
        for i, label in enumerate(labels):
            xs, values = [], []
            for g, (backbone, variant) in enumerate(groups):
                found = (next(r for r in report['main'] if (r['backbone'], r['variant'])
                              == (backbone, variant)) if i == 0 else
                         next((r for r in rows if (r['backbone'], r['variant'], r['label'])
                               == (backbone, variant, label)), None))
                if found is not None:
                    xs.append(g + i * width)
                    values.append([r['test']['Recall@20'] for r in found['records']])
            ax.bar(xs, [statistics.mean(v) for v in values], width, label=label,
                   yerr=[statistics.stdev(v) if len(v) > 1 else 0.0 for v in values],
                   capsize=2, color=f'C{i}')
        ax.set_xticks([g + width * (len(labels) - 1) / 2 for g in range(len(groups))],
                      [f'{b} {v}' for b, v in groups], fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel('test Recall@20')
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(report: dict, path: Path, out: Path) -> None:
    """Validation Recall@20 per epoch (first seed), read from the runs' logs in ``out``: of
    the robustness backbones, or of every backbone without them."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    backbones = list(dict.fromkeys(r['backbone'] for r in report['main']))
    curves = ([b for b in backbones if b in {r['backbone'] for r in report['robustness']}]
              or backbones)
    for row in report['main']:
        if row['backbone'] not in curves:
            continue
        lines = (out / row['records'][0]['log']).read_text().splitlines()
        log = [json.loads(line) for line in lines]
        ax.plot([e['epoch'] for e in log if 'valid' in e],
                [e['valid']['Recall@20'] for e in log if 'valid' in e], lw=1,
                ls=['-', '--', ':', '-.'][curves.index(row['backbone']) % 4],
                color=f"C{list(VARIANTS).index(row['variant'])}",
                label=f"{row['backbone']} {row['variant']}")
    ax.set_xlabel('epoch')
    ax.set_ylabel('validation Recall@20 (first seed)')
    ax.set_title(f"{report['data']}: validation curves")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def runs_folder(out: Path, data: str, tuned: bool) -> Path:
    """The folder of the cells of a report."""
    return out / 'runs' / 'dvib' / (f'{data}_tuned' if tuned else data)


def cell_folder(runs: Path, tag: str, backbone: str, variant: str, condition: str = 'clean',
                setting: dict | None = None) -> Path:
    """The folder of one cell: ``tag`` (the ``--dvib-set`` settings) and an ablation's
    ``setting`` name the DVIB runs' folders."""
    return runs / (f'{backbone}_{variant}{tag if VARIANTS[variant] else ""}'
                   + ''.join(f'_{k}={v}' for k, v in (setting or {}).items())
                   + ('' if condition == 'clean' else f'_{condition}'))


def ablation_rows(args) -> list[tuple[str, str, str, str, dict]]:
    """(ablation, backbone, variant, row name, DVIB settings) of every ablation run asked."""
    return [(key, backbone, variant, label, setting)
            for key in args.ablations
            for backbone in (args.ablation_backbones or ABLATIONS[key][1])
            for variant in ABLATIONS[key][2] if variant in args.variants
            for label, setting in ABLATIONS[key][4]]


def run_ablations(args, report: dict, rows: list[tuple], splits, tag: str,
                  stem: str | None = None) -> None:
    """Runs the ablation ``rows`` on every seed of ``report``, each at the point and with the
    backbone configuration of its main-table run there, and adds them to its ``ablations``
    (replacing earlier runs of the same rows). With ``stem``, the recorded report of that
    name gets each row as it finishes (read again just before, so that ablations another
    process added meanwhile stay).

    Raises:
        ConfigError: If the report has no main-table run of a row's backbone and variant.
    """
    from pyg_mmrec.errors import ConfigError

    main = {(r['backbone'], r['variant']): r for r in report['main']}
    runs = runs_folder(args.out, report['data'], report['tuned'])
    done = {(r['ablation'], r['backbone'], r['variant'], r['label']): r
            for r in report.get('ablations', [])}
    for key, backbone, variant, label, setting in rows:
        if (backbone, variant) not in main:
            raise ConfigError(f"the {key} ablation needs the main-table {variant} run of "
                              f"{backbone}: add it to --backbones (and --variants)")
        print(f"== {report['data']} {backbone} {variant} {key}: {label}", flush=True)
        # The switch comes last: it overrides the selected point where they share a key.
        _, records = run_variant(backbone, variant, report['data'], splits, report['seeds'],
                                 report['backbone_configs'][backbone],
                                 cell_folder(runs, tag, backbone, variant, setting=setting),
                                 args.out, report['grids'],
                                 selected={**main[backbone, variant]['selected'], **setting},
                                 dvib=report['dvib'])
        done[key, backbone, variant, label] = {
            'ablation': key, 'backbone': backbone, 'variant': variant, 'label': label,
            'setting': setting, 'records': records}
        if stem is not None:
            recorded = read_report(args.out, stem)
            recorded['ablations'] = merge_rows(recorded.get('ablations', []),
                                               list(done.values()),
                                               ('ablation', 'backbone', 'variant', 'label'))
            write_report(args.out, stem, recorded, format_report(recorded))
    report['ablations'] = list(done.values())


def run_all(args, dvib: dict, tag: str) -> dict:
    """Runs every cell the arguments ask for; returns the report's data."""
    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.data.recipes import conditions
    from pyg_mmrec.errors import ConfigError
    from pyg_mmrec.train.config import parse_overrides

    name = args.data
    base = {'progress': False, **parse_overrides(args.set)}
    grids = {'DVIB_c': {'gamma_d': args.gamma_d, 'sigma': args.sigma},
             'DVIB_a': {'gamma_d': args.gamma_d}}
    ablations = ablation_rows(args)
    # Backbone configurations: the defaults, or the backbones benchmark's selection; --set wins.
    backbones = list(dict.fromkeys([*args.backbones, *args.robust,
                                    *(b for _, b, *_ in ablations)]))
    configs = {b: {**(tuned_config(find_summary(args.out / 'backbones.json', name, b))
                      if args.tuned else {}), **base} for b in backbones}
    runs = runs_folder(args.out, name, args.tuned)

    def folder(backbone: str, variant: str, condition: str = 'clean') -> Path:
        return cell_folder(runs, tag, backbone, variant, condition)

    def load(condition: str = 'clean'):
        return load_recipe(name, condition, args.data_root, ROOT / 'runs' / 'text-cache')
    clean = load()
    available = conditions(clean)[1:]
    chosen = args.conditions or available
    unknown = [c for c in chosen if c not in available]
    if unknown:
        raise ConfigError(f"--conditions {' '.join(unknown)}: not available on {name}; "
                          f"choose from {' '.join(available)}")
    report = {'data': name, 'seeds': args.seeds, 'grids': grids, 'config': base, 'dvib': dvib,
              'tuned': args.tuned, 'backbone_configs': configs, 'main': [], 'robustness': []}
    selected = {}
    # The robustness runs compare with the clean runs of the same backbones.
    variants = [v for v in VARIANTS if v == 'bare' or v in args.variants]
    for backbone in backbones:
        for variant in variants:
            print(f'== {name} {backbone} {variant}', flush=True)
            point, records = run_variant(backbone, variant, name, clean, args.seeds,
                                         configs[backbone], folder(backbone, variant),
                                         args.out, grids, dvib=dvib)
            selected[backbone, variant] = point
            report['main'].append({'backbone': backbone, 'variant': variant,
                                   'selected': point, 'records': records})
    for condition in chosen:
        splits = load(condition)
        for backbone in args.robust:
            for variant in [v for v in ('bare', 'DVIB_a') if v in variants]:
                print(f'== {name} {backbone} {variant} {condition}', flush=True)
                _, records = run_variant(backbone, variant, name, splits, args.seeds,
                                         configs[backbone],
                                         folder(backbone, variant, condition), args.out, grids,
                                         condition, selected[backbone, variant], dvib)
                report['robustness'].append({'backbone': backbone, 'variant': variant,
                                             'condition': condition, 'records': records})
    if ablations:  # (the key only where asked: the reports of other runs stay as they were)
        report['ablations'] = []
        run_ablations(args, report, ablations, clean, tag)
    return report


def main() -> None:
    from pyg_mmrec.registry import MODELS

    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='tiktok', help='a dataset recipe (default: tiktok)')
    parser.add_argument('--backbones', nargs='+', default=[b for b in BACKBONES if b in MODELS])
    parser.add_argument('--robust', nargs='*', default=[b for b in ROBUST if b in MODELS],
                        help='backbones of the robustness runs')
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS),
                        help='the variants of the main table to run (bare is always run: '
                             'the gains and the robustness runs compare with it)')
    parser.add_argument('--conditions', nargs='+', metavar='CONDITION',
                        help='robustness conditions to run, in this order (default: every one '
                             'the data allows: noise0.01 noise0.05 vr, and tr with item texts)')
    parser.add_argument('--ablations', nargs='*', default=[], choices=list(ABLATIONS),
                        help="the paper's ablations to run (see above)")
    parser.add_argument('--ablation-backbones', nargs='+',
                        help="backbones of the ablations (default: each one's paper's)")
    parser.add_argument('--ablations-only', action='store_true',
                        help='run only --ablations, at the points and on the seeds of the '
                             'recorded report (its main-table cells are not needed again)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024])
    parser.add_argument('--gamma-d', nargs='+', type=float, default=GAMMA_D)
    parser.add_argument('--sigma', nargs='+', type=float, default=SIGMA)
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config shared by every run, e.g. epochs=2')
    parser.add_argument('--dvib-set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config of the DVIB runs only, e.g. relative=true')
    parser.add_argument('--threads', type=int,
                        help='torch threads (on a shared CPU, 1 gives steadier timings)')
    parser.add_argument('--tuned', action='store_true',
                        help="start every backbone from backbones.py's validation-selected "
                             'configuration and epoch budget on this dataset')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)

    from pyg_mmrec.train.config import parse_overrides

    dvib = parse_overrides(args.dvib_set)
    name = args.data
    # DVIB runs with other settings go to their own folders (the bare ones are shared).
    tag = ''.join(f'_{k}={v}' for k, v in dvib.items())
    # Reports of datasets other than tiktok carry the dataset's name.
    stem = 'dvib' + ('' if name == 'tiktok' else f'_{name}') + tag
    if args.report_only:
        report = read_report(args.out, stem)
    elif args.ablations_only:
        from pyg_mmrec.data import load_recipe
        report = read_report(args.out, stem)
        run_ablations(args, report, ablation_rows(args),
                      load_recipe(name, 'clean', args.data_root, ROOT / 'runs' / 'text-cache'),
                      tag, stem)
        report = read_report(args.out, stem)  # with the rows of other processes
    else:
        report = run_all(args, dvib, tag)
    table = format_report(report)
    write_report(args.out, stem, report, table)
    figures = ROOT / 'docs' / '_static' if args.out == RESULTS else args.out
    plot(report, figures / f'{stem}_recall.png')
    if report.get('ablations'):
        plot_ablations(report, figures / f'{stem}_ablations.png')
    if all((args.out / row['records'][0]['log']).is_file() for row in report['main']):
        # Else the logs are gone (they stay on the machine that ran them): kept as it is.
        plot_curves(report, figures / f'{stem}_curves.png', args.out)
    print(table)


if __name__ == '__main__':
    main()
