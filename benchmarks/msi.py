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

Runs whose ``results.json`` (the search: ``tune.json``) exists under
``<out>/runs/msi/<dataset>/`` are not repeated, so the benchmark can be interrupted, resumed,
and split over processes (one per dataset); the report covers every dataset found there.
Writes ``<out>/msi.{md,json}`` and, for the default ``--out``, ``docs/_static/msi_ablation.png``.

Usage::

    python benchmarks/msi.py                                          # synthetic and tiktok
    python benchmarks/msi.py --data tiktok --max-epochs 60 --patience 10
    python benchmarks/msi.py --data synthetic --seeds 2024 --max-epochs 2 --out /tmp/msi-smoke
    python benchmarks/msi.py --report-only
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from foundation import DATA, RESULTS, ROOT, mean_std

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


def load(data: str):
    from pyg_mmrec.data import load_dataset
    return load_dataset(data if data == 'synthetic' else DATA / data)


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


def run_dataset(data: str, seeds: list[int], base: dict, out: Path, variants: list[str]
                ) -> dict:
    import pyg_mmrec

    splits = load(data)
    root = out / 'runs' / 'msi' / data
    search_dir = root / 'tune'
    if (search_dir / 'tune.json').is_file():
        search = json.loads((search_dir / 'tune.json').read_text())
    else:
        search = pyg_mmrec.tune('msi', splits, {'alpha': ALPHAS, 'beta': BETAS},
                                {**base, 'seed': seeds[0]}, out_dir=search_dir)
    chosen = {'alpha': search['selected']['alpha'], 'beta': search['selected']['beta']}
    runs: dict[str, list[dict]] = {}
    for variant, switches in VARIANTS.items():
        runs[variant] = []
        for seed in seeds:
            from_search = variant == 'MSI' and seed == seeds[0]
            if variant not in variants and not from_search and not (
                    root / f'{slug(variant)}_{seed}' / 'results.json').is_file():
                continue  # another process runs it
            if from_search:  # the search's selected run
                run = search_dir / f"run{search['selected']['run']}"
                selected = search['runs'][search['selected']['run']]
                result = {'test': search['selected']['test'], 'valid': selected['valid'],
                          'best_epoch': selected['best_epoch'],
                          'train_seconds_per_epoch': selected['train_seconds_per_epoch']}
            else:
                run = root / f'{slug(variant)}_{seed}'
                if (run / 'results.json').is_file():
                    result = json.loads((run / 'results.json').read_text())
                else:
                    model = 'bm3' if switches is None else 'msi'
                    config = {**base, 'seed': seed, **({} if switches is None
                                                       else {**chosen, **switches})}
                    result = pyg_mmrec.run(model, splits, config, out_dir=run)
            entry = {'seed': seed, 'test': result['test'], 'best_epoch': result['best_epoch'],
                     'train_seconds_per_epoch': result['train_seconds_per_epoch']}
            if variant in FIG3_VARIANTS:
                entry['view_recall'] = view_recalls(run, splits)
            runs[variant].append(entry)
            print(f"{data} {variant} seed {seed}: test Recall@20 "
                  f"{result['test']['Recall@20']:.4f}", flush=True)
    return {'data': data, 'search': search, 'selected': chosen, 'base': base,
            'runs': {v: r for v, r in runs.items() if len(r) == len(seeds)}}


def write_report(results: list[dict]) -> str:
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
        lo = min(min(v) for v in values)
        ax.set_xlim(lo * 0.9, None)
        ax.set_title(r['data'])
        ax.set_xlabel('test Recall@20 (mean ± std)')
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', nargs='+', default=['synthetic', 'tiktok'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024, 2025, 2026])
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS),
                        help='variants this process trains (several processes can share a '
                        'dataset; each summary includes the runs already finished)')
    parser.add_argument('--max-epochs', type=int, default=1000)
    parser.add_argument('--patience', type=int, default=20)
    parser.add_argument('--out', type=Path, default=RESULTS)
    parser.add_argument('--report-only', action='store_true')
    args = parser.parse_args()

    from pyg_mmrec.train.checkpoint import write_json

    base = {'progress': False, 'epochs': args.max_epochs, 'patience': args.patience,
            'ks': [10, 20]}
    for data in [] if args.report_only else args.data:
        result = run_dataset(data, args.seeds, base, args.out, args.variants)
        if len(result['runs']) == len(VARIANTS):  # else other processes are still running
            write_json(args.out / 'runs' / 'msi' / data / 'summary.json', result)
    results = [json.loads(p.read_text())
               for p in sorted((args.out / 'runs' / 'msi').glob('*/summary.json'))]
    write_json(args.out / 'msi.json', {'datasets': results})
    report = write_report(results)
    (args.out / 'msi.md').write_text(report)
    if args.out == RESULTS and results:
        plot(results, ROOT / 'docs' / '_static' / 'msi_ablation.png')
    print(report)


if __name__ == '__main__':
    main()
