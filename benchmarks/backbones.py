"""Backbones benchmark: every registered backbone, equally tuned on validation, on four datasets.

Each (dataset, model) cell is a harness cell (:func:`pyg_mmrec.train.run_cell`) searching the
same small grid for every model: the learning rate, the L2 weight and the model's main knob (two
values each, see ``KNOBS``), selected on validation Recall@20 with seed 2024, the selected point
alone tested, then retrained with the other seeds, each tested once. Each cell runs in its own
process, so its peak memory (resident set, MiB) is its own. The plug-ins among them run on the
backbone IBMRec's Table 2 gives them (``PLUGIN_BACKBONES``: SGFD on LATTICE, IBMRec on
VLATTICE), whose settings the grid's learning rate and L2 weight are; their knob is their own,
and the backbone's main knob is the value its own cell selected on the dataset (run the
backbone's cell first; the details table names it after the selected point).
These cells are the baselines (and IBMRec) of the papers' comparison tables that
``ibmrec.py --parts table2`` and ``msi.py`` compose.

Datasets: ``synthetic`` (the embedded default), ``ml-100k-text`` (MovieLens-100K with the
titles, years and genres encoded by all-MiniLM-L6-v2, cached, and a 10-NN text graph),
``tiktok`` (image + audio features) and ``amazon-baby`` (only item-item graphs: models that need
feature matrices are listed as not applicable).

Finished cells (``<out>/runs/backbones/<dataset>_<model>/cell.json``; ``--out`` defaults to
``benchmarks/results``) are not repeated, an interrupted cell continues where it stopped, and
the report (``backbones.json``, the retained record) keeps every cell it has summarised, a run
adding or replacing its own, so the benchmark can be run in parts::

    python benchmarks/backbones.py                                 # everything
    python benchmarks/backbones.py --datasets tiktok --models lattice lightgcn
    python benchmarks/backbones.py --report-only                   # table + figure only
    python benchmarks/backbones.py --datasets tiktok --design half --max-epochs 100 \
        --models sgl micro invrl sgfd ibmrec buir dualgnn       # the papers' tables' new cells
    python benchmarks/backbones.py --datasets synthetic --design half --max-epochs 2 \
        --seeds 2024 --models lattice vlattice sgfd ibmrec --out runs/bench21-smoke  # smoke

Writes ``benchmarks/results/backbones.{md,json}`` and ``docs/_static/backbones_recall.png``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pyg_mmrec.train import half_fraction
from pyg_mmrec.train.harness import (
    add_benchmark_arguments,
    find_summary,
    mean_std,
    read_report,
    summarize,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
TEXT_CACHE = ROOT / 'runs' / 'text-cache'

DATASETS = ['synthetic', 'ml-100k-text', 'tiktok', 'amazon-baby']

# Every model gets two values of the learning rate, two of its L2 weight (its default and
# ten times it) and two of its main knob: 8 validation runs per cell.
LEARNING_RATES = [1e-3, 5e-3]
KNOBS: dict[str, dict[str, list]] = {
    'bprmf': {'embedding_dim': [64, 128]},
    'lightgcn': {'num_layers': [2, 3]},
    'vbpr': {'embedding_dim': [64, 128]},
    'vlightgcn': {'num_layers': [2, 3]},
    'lattice': {'knn_k': [10, 20]},
    'vlattice': {'knn_k': [10, 20]},
    'micro': {'knn_k': [10, 20]},  # as LATTICE's: MICRO is LATTICE's structure per modality
    'sgl': {'ssl_weight': [0.05, 0.1]},  # the paper's best value and below
    # BUIR's augmentation strength: the paper's r ~ U(0, 1) and its authors' code's U(0, 0.2)
    # (on tiktok 0.2 lifts validation from 0.0775 to 0.0811, benchmarks/baseline_diagnosis.py).
    'buir': {'drop_ratio': [0.2, 1.0]},
    # DualGNN peaked within 1-3 epochs at both default learning rates on tiktok and scored
    # 0.66 of LightGCN; at 1e-4 (in MMRec's DualGNN grid) it learns for 30 epochs and more
    # (benchmarks/baseline_diagnosis.py), so its grid moves one step down (same 8 runs).
    'dualgnn': {'lr': [1e-4, 1e-3], 'knn_k': [10, 40]},  # neighbours: the authors' 40, fewer
    # The denoisers of IBMRec's Table 2 and IBMRec itself: each one's own main weight.
    'invrl': {'irm_weight': [10.0, 100.0]},  # the default and where it closes spurious gates
    'sgfd': {'kd_weight': [0.1, 1.0]},  # the authors' most frequent value and their maximum
    'ibmrec': {'alpha': [1.0, 3.0]},  # the paper's best values on its three datasets
    'bm3': {'dropout': [0.3, 0.5]},
    'selfcf': {'dropout': [0.1, 0.2]},
    'freedom': {'dropout': [0.8, 0.9]},
    'layergcn': {'num_layers': [2, 4]},
    'mmgcn': {'num_layers': [1, 2]},
    'grcn': {'num_layers': [1, 2]},
}
# The plug-ins run on the backbone IBMRec's Table 2 gives them: SGFD on LATTICE (the paper's
# denoisers are deployed on LATTICE), IBMRec in full (FIB + GIB) on VLATTICE.
PLUGIN_BACKBONES = {'sgfd': 'lattice', 'ibmrec': 'vlattice'}
# The models that use no item content: the references of the expected-shape checks.
ID_ONLY = ['bprmf', 'lightgcn', 'layergcn', 'selfcf', 'sgl', 'buir']
# Recall@20 / NDCG@20 on amazon-baby from ../shared/data/README.md (MMRec's own split,
# validation-selected; the split here differs, so the numbers are indicative).
PUBLISHED_BABY = {'bprmf': (0.0575, 0.0249), 'lightgcn': (0.0754, 0.0328),
                  'vbpr': (0.0663, 0.0284), 'mmgcn': (0.0615, 0.0261),
                  'grcn': (0.0833, 0.0363), 'lattice': (0.0850, 0.0370),
                  'bm3': (0.0883, 0.0383), 'freedom': (0.0992, 0.0424)}
# A dense-similarity LATTICE on this CPU, tiktok (issue 3): seconds per epoch / val pass.
LATTICE_REFERENCE = (29.0, 9.0)


def grid_for(model: str, hparams: dict) -> dict[str, list]:
    """The search grid of ``model``: learning rate, L2 weight, main knob (:data:`KNOBS`, which
    may also replace the learning rates)."""
    grid: dict[str, list] = {'lr': LEARNING_RATES}
    if 'reg_weight' in hparams:  # models whose authors use no L2 try a small one
        default = hparams['reg_weight']
        grid['reg_weight'] = [default, 10 * default] if default > 0 else [0.0, 1e-4]
    grid.update(KNOBS.get(model, {}))
    return grid


def fixed_config(model: str, dataset: str, out: Path) -> dict:
    """Settings of ``model``'s cells on ``dataset`` outside the search: a plug-in's backbone,
    at the main knob that the backbone's own cell selected there (a plug-in is deployed on a
    tuned backbone, as in the DVIB and robust benchmarks, and searches the rest). The
    selection is read from the backbone's finished cell under ``out`` or, failing that, from
    the report ``out/backbones.json``.

    Raises:
        ConfigError: If neither holds the backbone's cell on ``dataset`` (run it first).
    """
    if model not in PLUGIN_BACKBONES:
        return {}
    backbone = PLUGIN_BACKBONES[model]
    cell = out / 'runs' / 'backbones' / f'{dataset}_{backbone}' / 'cell.json'
    selected = (json.loads(cell.read_text(encoding='utf-8'))['selected'] if cell.is_file()
                else find_summary(out / 'backbones.json', dataset, backbone)['selected'])
    knobs = [k for k in KNOBS.get(backbone, {}) if k != 'lr']
    return {'backbone': backbone, **{k: selected[k] for k in knobs}}


def needs_features(model: str) -> bool:
    """Whether ``model`` (or, for a plug-in, its backbone) needs item feature matrices."""
    from pyg_mmrec.registry import get_model_class
    return any(get_model_class(name).requires_features
               for name in (model, PLUGIN_BACKBONES.get(model, model)))


def label(cell: dict) -> str:
    """A cell's model as the tables show it (a plug-in with its backbone)."""
    return f"{cell['model']} on {cell['backbone']}" if 'backbone' in cell else cell['model']


def run_cells(datasets: list[str], models: list[str], seeds: list[int], max_epochs: int,
              patience: int, design: str, out: Path, jobs: int,
              data_root: Path | None) -> list[dict]:
    """Runs every unfinished (dataset, model) cell in its own process (``jobs`` at a time, one
    torch thread each when above 1) into ``<out>/runs/backbones/<dataset>_<model>``; returns
    the report's entry of each (:func:`pyg_mmrec.train.harness.summarize`)."""
    from pyg_mmrec.data import load_recipe, modalities
    from pyg_mmrec.registry import get_model_class
    from pyg_mmrec.train import Cell, run_cell

    todo = []
    for dataset in datasets:
        features = bool(modalities(load_recipe(dataset, root=data_root,
                                               text_cache=TEXT_CACHE).train))
        todo += [(dataset, model, features or not needs_features(model)) for model in models]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'} if jobs > 1 else None

    def work(item: tuple) -> dict:
        dataset, model, applicable = item
        if not applicable:  # the model needs feature matrices the dataset lacks
            return {'dataset': dataset, 'model': model, 'applicable': False,
                    **({'backbone': PLUGIN_BACKBONES[model]} if model in PLUGIN_BACKBONES
                       else {})}
        fixed = fixed_config(model, dataset, out)
        grid = grid_for(model, get_model_class(model).hparam_defaults(fixed))
        cell = Cell(model, dataset, seeds, grid if design == 'full' else half_fraction(grid),
                    {'epochs': max_epochs, 'patience': patience, **fixed})
        print(f'== {dataset} {model}', flush=True)
        record = run_cell(cell, out / 'runs' / 'backbones' / f'{dataset}_{model}',
                          data_root=data_root, text_cache=TEXT_CACHE, isolate=True, env=env)
        entry = {**summarize(record), 'design': design}
        if fixed:  # a plug-in: its backbone, at the knob from the backbone's own cell
            entry['backbone'] = fixed.pop('backbone')
            if fixed:
                entry['backbone_settings'] = fixed
        return entry

    # The plug-ins start from their backbones' selections: backbones first.
    plugins = [item for item in todo if item[1] in PLUGIN_BACKBONES]
    with ThreadPoolExecutor(jobs) as pool:
        done = list(pool.map(work, [item for item in todo if item not in plugins]))
    with ThreadPoolExecutor(jobs) as pool:
        return done + list(pool.map(work, plugins))


def backbone_settings(cell: dict) -> str:
    """The fixed settings of a plug-in cell's backbone, as the details table shows them."""
    settings = cell.get('backbone_settings')
    return ('; ' + cell['backbone'] + ': ' + ', '.join(f'{k}={v}' for k, v in settings.items())
            if settings else '')


def summary(cells: list[dict]) -> list[str]:
    """A models × datasets table of mean test Recall@20 (the best of each dataset in bold;
    "n/a": the model needs feature matrices the dataset lacks; "—": not run) and the checks
    of the expected shape: multimodal models against BPR-MF and against LightGCN."""
    means = {(c['dataset'], c['model']): statistics.mean(s['test']['Recall@20'] for s in c['seeds'])
             for c in cells if c['applicable']}
    absent = {(c['dataset'], c['model']) for c in cells if not c['applicable']}
    datasets = [d for d in DATASETS if any(c['dataset'] == d for c in cells)]
    models = sorted({c['model'] for c in cells}, key=lambda m: (m not in ID_ONLY, m))
    names = {c['model']: label(c) for c in cells}
    best = {d: max((v for (dd, _), v in means.items() if dd == d), default=None)
            for d in datasets}
    lines = ['| model | ' + ' | '.join(datasets) + ' |', '|---|' + '---|' * len(datasets)]
    for m in models:
        row = []
        for d in datasets:
            if (d, m) in means:
                value = f'{means[d, m]:.4f}'
                row.append(f'**{value}**' if means[d, m] == best[d] else value)
            else:
                row.append('n/a' if (d, m) in absent else '—')
        lines.append(f'| {names[m]} | ' + ' | '.join(row) + ' |')
    lines.append('')
    for d in datasets:
        checks = []
        for reference in ('bprmf', 'lightgcn'):
            if (d, reference) not in means:
                continue
            below = [m for m in models if m not in ID_ONLY and (d, m) in means
                     and means[d, m] < means[d, reference]]
            checks.append(f"below {reference}: {', '.join(below) if below else 'none'}")
        if checks:
            lines.append(f"- {d}, multimodal models {'; '.join(checks)}.")
    return lines


def write_table(cells: list[dict]) -> str:
    own_rates = '; '.join(f'{m}: {k["lr"]}' for m, k in KNOBS.items() if 'lr' in k)
    own_rates = f' ({own_rates})' if own_rates else ''
    lines = [
        '# Backbones benchmark', '',
        'Every model searched the same grid on validation Recall@20 with the first seed: learning '
        f'rate {LEARNING_RATES}{own_rates}, L2 weight (default, 10× default) and its main '
        'knob (two values); the selected point alone was tested, then retrained and tested with '
        'the other seeds (mean ± std over seeds). Full ranking, training and validation items '
        'excluded at test. Seconds per epoch are medians; peak memory is the resident set of '
        "the cell's process (the data, the 8 searches and the seeds). \"thr\": torch threads "
        'of the cell (cells run two at a time with one thread each under ``--jobs 2``).', '',
        'Budget: search runs, epoch cap and early-stopping patience of the cell (the larger '
        'datasets use the 4-point half-fraction of the grid, ``--design half``, which tries '
        'every value of every factor and every pair of values of any two factors).', '',
        'Mean test Recall@20 (details below):', '', *summary(cells), '',
        '| dataset | model | Recall@20 | NDCG@20 | seeds | selected | best epochs | s/epoch '
        '| s/val pass | peak MiB | budget | published (baby) |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    order = {d: i for i, d in enumerate(DATASETS)}
    for c in sorted(cells, key=lambda c: (order.get(c['dataset'], 99), c['model'])):
        if not c['applicable']:
            lines.append(f"| {c['dataset']} | {label(c)} | n/a (needs feature matrices) "
                         '| | | | | | | | | |')
            continue
        tests = [s['test'] for s in c['seeds']]
        pub = PUBLISHED_BABY.get(c['model']) if c['dataset'] == 'amazon-baby' else None
        lines.append(
            f"| {c['dataset']} | {label(c)} | {mean_std([t['Recall@20'] for t in tests])} "
            f"| {mean_std([t['NDCG@20'] for t in tests])} | {len(tests)} "
            f"| {', '.join(f'{k}={v}' for k, v in c['selected'].items())}"
            f"{backbone_settings(c)} "
            f"| {', '.join(str(s['best_epoch']) for s in c['seeds'])} "
            f"| {statistics.median(s['train_seconds_per_epoch'] for s in c['seeds']):.2f}"
            f" ({c.get('torch_threads', '?')} thr) "
            f"| {c['eval_seconds'] if c['eval_seconds'] is None else round(c['eval_seconds'], 2)}"
            f" | {c['peak_rss_mb']:.0f} | {c.get('search_runs', 8)} runs, ≤{c['max_epochs']} ep, "
            f"pat. {c.get('patience', 20)} | {f'{pub[0]:.4f} / {pub[1]:.4f}' if pub else '—'} |")
    lattice = next((c for c in cells if c['dataset'] == 'tiktok' and c['model'] == 'lattice'
                    and c['applicable']), None)
    if lattice is not None:
        epoch = statistics.median(s['train_seconds_per_epoch'] for s in lattice['seeds'])
        lines += ['', f'LATTICE on tiktok: {epoch:.2f} s per training epoch and '
                  f"{lattice['eval_seconds'] or float('nan'):.2f} s per validation pass, against "
                  f'{LATTICE_REFERENCE[0]:.0f} s and {LATTICE_REFERENCE[1]:.0f} s for a reference '
                  'that rebuilds a dense item-item similarity every batch '
                  f'({LATTICE_REFERENCE[0] / epoch:.1f}× faster per epoch).']
    return '\n'.join(lines) + '\n'


def plot(cells: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    done = [c for c in cells if c['applicable']]
    datasets = [d for d in DATASETS if any(c['dataset'] == d for c in done)]
    if not datasets:
        return
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.2 * len(datasets), 3.6), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        rows = sorted((c for c in done if c['dataset'] == dataset), key=lambda c: c['model'])
        values = [[s['test']['Recall@20'] for s in c['seeds']] for c in rows]
        means = [statistics.mean(v) for v in values]
        errors = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
        ax.barh([c['model'] for c in rows], means, xerr=errors, color='C0', capsize=3)
        ax.set_title(dataset)
        ax.set_xlabel('test Recall@20 (mean ± std)')
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    from pyg_mmrec.registry import MODELS

    backbones = sorted(KNOBS)
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+', default=DATASETS, choices=DATASETS)
    parser.add_argument('--models', nargs='+', default=[m for m in backbones if m in MODELS])
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024, 2025, 2026])
    parser.add_argument('--max-epochs', type=int, default=1000,
                        help='cap on epochs per run (early stopping usually ends them first)')
    parser.add_argument('--patience', type=int, default=20,
                        help='epochs without a better validation Recall@20 before stopping')
    parser.add_argument('--design', choices=['full', 'half'], default='full',
                        help='search the full 8-point grid or its 4-point half-fraction')
    parser.add_argument('--jobs', type=int, default=1,
                        help='cells run in parallel, one torch thread each when above 1')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    ran = [] if args.report_only else run_cells(
        args.datasets, args.models, args.seeds, args.max_epochs, args.patience, args.design,
        args.out, args.jobs, args.data_root)
    # Read after the cells ran, so that a run started meanwhile keeps the cells it recorded.
    report = (read_report(args.out, 'backbones') if (args.out / 'backbones.json').is_file()
              else {'cells': []})
    if ran:  # this run's cells replace the recorded ones
        cells = {(c['dataset'], c['model']): c for c in report['cells']}
        cells.update({(c['dataset'], c['model']): c for c in ran})
        report = {'cells': [cells[key] for key in sorted(cells, key='_'.join)]}
    table = write_table(report['cells'])
    write_report(args.out, 'backbones', report, table)
    if args.out == RESULTS:  # the docs show the real benchmark only
        plot(report['cells'], ROOT / 'docs' / '_static' / 'backbones_recall.png')
    print(table)


if __name__ == '__main__':
    main()
