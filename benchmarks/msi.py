"""MSI benchmark: MSI against BM3 and its ablations, the interaction-preserving check, and cost.

On each dataset (``--data``: the synthetic planted-noise dataset and tiktok by default):

* **selection**: MSI's α and β (the weights of L_ssd and of the AKL inside it) are searched on
  validation Recall@20 by :func:`pyg_mmrec.tune` with the first seed over a 2 × 2 grid taken
  from the paper's range {1e-1, ..., 1e-4}; every other setting is BM3's default, for MSI and
  for BM3 alike. Only the selected point is tested.
* **ablations** (the paper's Tables 4-5): MSI, without superfluous-semantics discarding (w/o S),
  without interaction preserving (w/o I), without L_align, without L_mask, and without both
  modules, which is BM3 itself; each with every seed at the selected α, β. Test Recall and
  NDCG at 10 and 20 (full ranking, training and validation items excluded) at the epoch with
  the best validation Recall@20.
* **interaction-preserving check** (the paper's Fig. 3): test Recall@20 when users are scored
  against one view of the items only (:func:`pyg_mmrec.ib.view_embeddings`: the item IDs, or
  a modality's predicted representations) for BM3, MSI w/o I and MSI.
* **cost**: median training seconds per epoch of each variant and its ratio to BM3's (same
  process, same thread count).
* **comparison** (the paper's Table 2): MSI and its BM3 next to the baselines BPR, LightGCN,
  BUIR, VBPR, MMGCN, GRCN, DualGNN, LATTICE and BM3 as the backbones benchmark tuned them
  (``<out>/backbones.json``: each searched on validation over the same grid; run
  ``backbones.py`` on the dataset first, else the baselines are listed as not run), with MSI's
  relative improvement over the best baseline. Their summaries are copied into ``msi.json``
  (``--baselines-only`` copies them into the recorded summaries without training).

Each variant is a harness cell (:func:`pyg_mmrec.train.run_cell`; MSI's own is the search)
under ``<out>/runs/msi/<dataset>/``: finished cells are not repeated, so the benchmark can be
interrupted, resumed, and split over processes (``--variants``, or one per dataset); the report
(``msi.json``, the retained record) keeps every dataset it has summarised, a run adding or
replacing its own. Writes ``<out>/msi.{md,json}`` and, for the default ``--out``,
``docs/_static/msi_ablation.png``.

Usage::

    python benchmarks/msi.py                                          # synthetic and tiktok
    python benchmarks/msi.py --data tiktok --max-epochs 60 --patience 10
    python benchmarks/msi.py --data synthetic --seeds 2024 2025 --max-epochs 2 --out runs/msi-smoke
    python benchmarks/msi.py --data tiktok --baselines-only   # the comparison, once composed
    python benchmarks/msi.py --data synthetic --seeds 2024 --max-epochs 2 \
        --out runs/bench21-smoke      # with the backbones smoke cells there: the comparison
    python benchmarks/msi.py --report-only
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from pyg_mmrec.train.harness import (
    add_benchmark_arguments,
    comparison_table,
    mean_std,
    read_report,
    tuned_summaries,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'

ALPHAS = [1e-1, 1e-2]
BETAS = [1e-2, 1e-3]
# Variant -> MSI switches; None is BM3 itself.
VARIANTS: dict[str, dict | None] = {
    'MSI': {},
    'w/o S': {'use_ssd': False},
    'w/o I': {'use_ip': False},
    'w/o L_align': {'use_align': False},
    'w/o L_mask': {'use_mask': False},
    'w/o S & I (= BM3)': None,
}
FIG3_VARIANTS = ['w/o S & I (= BM3)', 'w/o I', 'MSI']
METRICS = ['Recall@10', 'NDCG@10', 'Recall@20', 'NDCG@20']
# The paper's Table 2: (type, [(model of the backbones benchmark, as the table names it)]).
BASELINES = [('uni-modal', [('bprmf', 'BPR'), ('lightgcn', 'LightGCN'), ('buir', 'BUIR')]),
             ('multi-modal', [('vbpr', 'VBPR'), ('mmgcn', 'MMGCN'), ('grcn', 'GRCN'),
                              ('dualgnn', 'DualGNN'), ('lattice', 'LATTICE'),
                              ('bm3', 'BM3')])]
TABLE2_METRICS = ['Recall@10', 'Recall@20', 'NDCG@10', 'NDCG@20']


def slug(variant: str) -> str:
    return ''.join(c if c.isalnum() else '-' for c in variant.lower()).strip('-')


def view_recalls(run: Path, splits) -> dict[str, float]:
    """Test Recall@20 of the run's best checkpoint when users are scored against one view of
    the items only (the Fig. 3 check)."""
    from pyg_mmrec.data import modalities
    from pyg_mmrec.ib import view_embeddings
    from pyg_mmrec.metrics import RankingEvaluator
    from pyg_mmrec.train import load_model
    from pyg_mmrec.train.evaluation import excluded_graphs

    model, _ = load_model(run / 'checkpoint.pt', splits)
    test = splits.view('test')['user', 'interacts', 'item'].edge_label_index
    exclude = excluded_graphs(splits, 'test')
    out = {}
    for view in ['id', *sorted(modalities(splits.train))]:
        user, item = view_embeddings(model, splits.train, view)
        scores = RankingEvaluator([20]).evaluate(
            lambda users, u=user, i=item: model.score(u[users], i), test,
            splits.num_users, splits.num_items, exclude)
        out[view] = scores['Recall@20']
    return out


def run_dataset(data: str, seeds: list[int], base: dict, out: Path, variants: list[str],
                data_root: Path | None) -> dict | None:
    """Runs the variants in ``variants`` on ``data``; returns the dataset's summary once every
    variant's cell has finished (else :obj:`None`: other processes are still running some)."""
    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.train import Cell, read_cell, run_cell

    splits = load_recipe(data, root=data_root)
    root = out / 'runs' / 'msi' / data
    grid = {'alpha': ALPHAS, 'beta': BETAS}
    search = run_cell(Cell('msi', data, seeds, grid, base), root / slug('MSI'), splits=splits)
    chosen = search['selected']
    runs: dict[str, list[dict]] = {}
    for variant, switches in VARIANTS.items():
        folder = root / slug(variant)
        if variant == 'MSI':
            record = search
        else:
            cell = (Cell('bm3', data, seeds, config=base) if switches is None
                    else Cell('msi', data, seeds, config={**base, **chosen, **switches}))
            record = (run_cell(cell, folder, splits=splits) if variant in variants
                      else read_cell(folder))
        if record is None:
            continue  # another process runs it
        runs[variant] = []
        for run in record['runs']:
            entry = {'seed': run['seed'], 'test': run['test'], 'best_epoch': run['best_epoch'],
                     'train_seconds_per_epoch': run['train_seconds_per_epoch']}
            if variant in FIG3_VARIANTS:
                entry['view_recall'] = view_recalls(folder / run['dir'], splits)
            runs[variant].append(entry)
            print(f"{data} {variant} seed {run['seed']}: test Recall@20 "
                  f"{run['test']['Recall@20']:.4f}", flush=True)
    if len(runs) < len(VARIANTS):
        return None
    summary = json.loads((root / slug('MSI') / 'tune' / 'tune.json').read_text())
    return {'data': data, 'search': summary, 'selected': chosen, 'base': base, 'runs': runs,
            'baselines': baselines_of(out, data)}


def baselines_of(out: Path, data: str) -> dict[str, dict]:
    """The tuned cells of the comparison's baselines on ``data`` in the backbones benchmark's
    report in ``out`` (none without that report)."""
    tuned = out / 'backbones.json'
    return (tuned_summaries(tuned, data, [m for _, ms in BASELINES for m, _ in ms])
            if tuned.is_file() else {})


def comparison_lines(r: dict) -> list[str]:
    """The paper's Table 2 on one dataset: the tuned baselines, BM3 at MSI's settings, MSI."""
    cells = r['baselines']
    rows = [(kind, name, [s['test'] for s in cells[m]['seeds']] if m in cells else None)
            for kind, models in BASELINES for m, name in models]
    rows += [('multi-modal', "BM3 (MSI's settings)",
              [s['test'] for s in r['runs']['w/o S & I (= BM3)']]),
             ('multi-modal', 'MSI', [s['test'] for s in r['runs']['MSI']])]
    budgets = sorted({(c['search_runs'], c['max_epochs'], c.get('patience', 20))
                      for c in cells.values()})
    return ['Comparison (Table 2): the baselines as the backbones benchmark tuned them (each '
            'searched over learning rate, L2 weight and its own main knob on validation '
            'Recall@20 with the first seed: '
            + ('; '.join(f'{n} runs, ≤{e} epochs, patience {p}' for n, e, p in budgets)
               or 'none run yet')
            + "), BM3 at its defaults and MSI searched as above; mean ± std over seeds, best "
            'in bold, second underlined, "—": not run.', '',
            *comparison_table(rows, TABLE2_METRICS, 'MSI'), '']


def format_report(results: list[dict]) -> str:
    """The Markdown report of every dataset's summary."""
    lines = ['# MSI benchmark', '',
             'MSI\'s α and β searched on validation Recall@20 with the first seed over '
             f'α ∈ {ALPHAS}, β ∈ {BETAS}; every other setting BM3\'s default for all variants. '
             'Test metrics at the best validation epoch, mean ± std over seeds; s/epoch: '
             'median training seconds per epoch (ratio to BM3 in the same process).', '']
    for r in results:
        bm3_speed = statistics.median(s['train_seconds_per_epoch']
                                      for s in r['runs']['w/o S & I (= BM3)'])
        seeds = len(r['runs']['MSI'])
        lines += [f"## {r['data']} ({seeds} seeds; selected α={r['selected']['alpha']}, "
                  f"β={r['selected']['beta']}; at most {r['base']['epochs']} epochs, patience "
                  f"{r['base']['patience']})", '',
                  f"| variant | {' | '.join(METRICS)} | best epochs | s/epoch (× BM3) |",
                  '|---|' + '---|' * (len(METRICS) + 2)]
        for variant, runs in r['runs'].items():
            speed = statistics.median(s['train_seconds_per_epoch'] for s in runs)
            lines.append(
                f"| {variant} | "
                + ' | '.join(mean_std([s['test'][m] for s in runs]) for m in METRICS)
                + f" | {', '.join(str(s['best_epoch']) for s in runs)} "
                f"| {speed:.2f} ({speed / bm3_speed:.2f}×) |")
        views = list(r['runs']['MSI'][0]['view_recall'])
        lines += ['', 'Interaction-preserving check (Fig. 3): test Recall@20 scoring users '
                  'against one view of the items only.', '',
                  f"| variant | {' | '.join(views)} |", '|---|' + '---|' * len(views)]
        for variant in FIG3_VARIANTS:
            runs = r['runs'][variant]
            lines.append(f"| {variant} | "
                         + ' | '.join(mean_std([s['view_recall'][v] for s in runs])
                                      for v in views) + ' |')
        lines.append('')
        if 'baselines' in r:  # summaries from before the comparison existed have none
            lines += comparison_lines(r)
    return '\n'.join(lines)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results), 3.4), squeeze=False)
    for ax, r in zip(axes[0], results, strict=True):
        names = list(r['runs'])
        values = [[s['test']['Recall@20'] for s in r['runs'][n]] for n in names]
        ax.barh(names, [statistics.mean(v) for v in values],
                xerr=[statistics.stdev(v) if len(v) > 1 else 0.0 for v in values],
                color=['C1' if n == 'MSI' else 'C0' for n in names], capsize=3)
        ax.invert_yaxis()
        ax.set_xlim(0, None)
        ax.set_title(r['data'])
        ax.set_xlabel('test Recall@20 (mean ± std)')
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', nargs='+', default=['synthetic', 'tiktok'],
                        help='dataset recipes')
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024, 2025, 2026])
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS),
                        help='variants this process trains (several processes can share a '
                        'dataset; the summary is written once every variant has finished)')
    parser.add_argument('--max-epochs', type=int, default=1000)
    parser.add_argument('--patience', type=int, default=20)
    parser.add_argument('--baselines-only', action='store_true',
                        help="attach the baselines of <out>/backbones.json to the recorded "
                             "summaries of --data, without training (their cells' folders "
                             'may be gone)')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    report = (read_report(args.out, 'msi') if (args.out / 'msi.json').is_file()
              else {'datasets': []})
    base = {'progress': False, 'epochs': args.max_epochs, 'patience': args.patience,
            'ks': [10, 20]}
    if args.baselines_only:
        report['datasets'] = [{**r, 'baselines': baselines_of(args.out, r['data'])}
                              if r['data'] in args.data else r for r in report['datasets']]
    for data in [] if args.report_only or args.baselines_only else args.data:
        result = run_dataset(data, args.seeds, base, args.out, args.variants, args.data_root)
        if result is not None:  # this run's dataset replaces its recorded summary
            others = [r for r in report['datasets'] if r['data'] != data]
            report = {'datasets': sorted([*others, result], key=lambda r: r['data'])}
    table = format_report(report['datasets'])
    write_report(args.out, 'msi', report, table)
    if args.out == RESULTS and report['datasets']:
        plot(report['datasets'], ROOT / 'docs' / '_static' / 'msi_ablation.png')
    print(table)


if __name__ == '__main__':
    main()
