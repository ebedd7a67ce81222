"""What each bottleneck costs on top of its backbone, measured side by side in one process.

For each plug-in (DVIB, IBMRec, SGFD: every backbone it supports that applies to the dataset;
MSI: on BM3, the model it extends), trainers are built on the same data for the bare backbone
and for each variant of the plug-in on it (DVIB_c with σ = 1e-3 and DVIB_a, both γ_d = 0.1;
IBMRec, SGFD and MSI at their defaults), all at the backbone's configuration that
``backbones.py`` selected on this dataset where its report holds that cell, else its defaults.
Each trains one untimed epoch first (caches, the kNN graphs); then they take turns, so all
see the same machine load: each round trains one epoch of each and ranks the validation
split once with each. The report gives the median seconds and the medians of the per-round
ratios plug-in ÷ bare, against the cost each paper states or the bound the library holds it
to (``LIMITS``: DVIB +10–20 % by its paper, held to 1.3×; IBMRec and MSI, which run further
passes by their algorithms, to 2×). One intra-op thread, so that the ratios do not depend on
how another job on the machine takes CPUs.

Writes ``<out>/plugin_cost.{md,json}`` (keeping the rows of plug-ins and backbones not run
now) and ``docs/_static/plugin_cost_ratios.png``; ``--report-only`` rebuilds them from the JSON.

Usage::

    python benchmarks/plugin_cost.py                              # tiktok, every pair
    python benchmarks/plugin_cost.py --plugins ibmrec msi --rounds 3
    python benchmarks/plugin_cost.py --plugins dvib --backbones vbpr lightgcn
    python benchmarks/plugin_cost.py --data synthetic --rounds 1 --out runs/cost
    python benchmarks/plugin_cost.py --report-only
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tqdm.auto import tqdm

from pyg_mmrec.train.harness import add_benchmark_arguments, find_summary, read_report, write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'
STATIC = ROOT / 'docs' / '_static'
#: Plug-in -> its variants (label -> settings).
VARIANTS = {
    'dvib': {'DVIB_c': {'variant': 'constant', 'sigma': 1e-3, 'gamma_d': 0.1},
             'DVIB_a': {'variant': 'adaptive', 'gamma_d': 0.1}},
    'ibmrec': {'IBMRec': {}},
    'sgfd': {'SGFD': {}},
    'msi': {'MSI': {}},
}
#: The epoch-time ratio each plug-in is held to (its paper's claim, or the library's bound).
LIMITS = {'dvib': 1.3, 'ibmrec': 2.0, 'msi': 2.0}
#: MSI is a model of its own that extends BM3, not a plug-in with a choice of backbone.
OWN_BACKBONE = {'msi': 'bm3'}


def backbone_config(dataset: str, backbone: str) -> dict:
    """The configuration ``backbones.py`` selected for ``backbone`` on ``dataset`` (without
    the epoch budget), or its defaults (empty) where its report holds no such cell."""
    from pyg_mmrec.errors import ConfigError
    try:
        return find_summary(RESULTS / 'backbones.json', dataset, backbone)['selected']
    except ConfigError:
        return {}


def pairs(plugins: list[str], backbones: list[str] | None) -> list[tuple[str, str]]:
    """The (plug-in, backbone) pairs to measure: each plug-in on every backbone it supports
    (among ``backbones`` where given)."""
    from pyg_mmrec.registry import get_model_class
    found = []
    for plugin in plugins:
        supported = ([OWN_BACKBONE[plugin]] if plugin in OWN_BACKBONE
                     else get_model_class(plugin).supported_backbones())
        found += [(plugin, b) for b in supported if backbones is None or b in backbones]
    return found


def measure_pair(splits, data: str, plugin: str, backbone: str, rounds: int) -> dict:
    """One row: the bare backbone and the plug-in's variants on it, trained in turns."""
    from pyg_mmrec.errors import ConfigError
    from pyg_mmrec.train import make_trainer

    config = {**backbone_config(data, backbone), 'progress': False, 'threads': 1}
    row = {'plugin': plugin, 'backbone': backbone, 'config': config}
    try:
        trainers = {'bare': make_trainer(backbone, splits, config)}
        for label, extra in VARIANTS[plugin].items():
            settings = {**config, **extra}
            if plugin not in OWN_BACKBONE:
                settings['backbone'] = backbone
            trainers[label] = make_trainer(plugin, splits, settings)
    except ConfigError as e:  # e.g. a feature model on a dataset with item graphs only
        return {**row, 'skipped': str(e)}
    train = {label: [] for label in trainers}
    rank = {label: [] for label in trainers}
    for trainer in trainers.values():  # untimed: caches and graphs built on first use
        trainer.train_epoch()
        trainer.epoch += 1
    for round_ in range(rounds):
        order = list(trainers) if round_ % 2 == 0 else list(trainers)[::-1]
        for label in order:
            trainer = trainers[label]
            start = time.perf_counter()
            trainer.train_epoch()
            train[label].append(time.perf_counter() - start)
            trainer.epoch += 1
            start = time.perf_counter()
            trainer.evaluate('val')
            rank[label].append(time.perf_counter() - start)
    variants = [label for label in trainers if label != 'bare']
    return {**row, 'rounds': rounds,
            'train_seconds': {k: statistics.median(v) for k, v in train.items()},
            'rank_seconds': {k: statistics.median(v) for k, v in rank.items()},
            'train_ratio': {v: statistics.median(a / b for a, b in zip(train[v], train['bare'],
                                                                       strict=True))
                            for v in variants},
            'rank_ratio': {v: statistics.median(a / b for a, b in zip(rank[v], rank['bare'],
                                                                      strict=True))
                           for v in variants}}


def format_report(report: dict) -> str:
    """The Markdown report of the measured rows."""
    lines = [f"# What the bottlenecks cost ({report['data']})", '',
             'Median seconds over the interleaved rounds of each row ("rounds") after an '
             'untimed first epoch (one training epoch and one validation ranking of each '
             'trainer per round, one intra-op thread); ratios are the medians of the per-round '
             'ratios to the bare backbone. "bound": the ratio the plug-in is held to (DVIB\'s '
             'paper claims +10–20 %; IBMRec and MSI 2×).', '',
             '| plug-in | backbone | variant | rounds | train bare (s) | train (s) | train ratio '
             '| bound | rank bare (s) | rank ratio |', '|---|---|---|---|---|---|---|---|---|---|']
    for row in sorted(report['rows'], key=lambda r: (r['plugin'], r['backbone'])):
        if 'skipped' in row:
            lines.append(f"| {row['plugin']} | {row['backbone']} | – | – | – | – | – | – | – "
                         f"| does not apply: {row['skipped']} |")
            continue
        limit = LIMITS.get(row['plugin'])
        for variant, ratio in row['train_ratio'].items():
            verdict = ('–' if limit is None
                       else f"{limit:.1f}× ({'met' if ratio <= limit else 'above'})")
            lines.append(
                f"| {row['plugin']} | {row['backbone']} | {variant} | {row['rounds']} | "
                f"{row['train_seconds']['bare']:.3f} | {row['train_seconds'][variant]:.3f} | "
                f"{ratio:.2f}× | {verdict} | {row['rank_seconds']['bare']:.3f} | "
                f"{row['rank_ratio'][variant]:.2f}× |")
    return '\n'.join(lines) + '\n'


def plot(report: dict, static: Path) -> None:
    """Training-epoch ratio to the bare backbone of every measured pair, with the bounds."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = [r for r in sorted(report['rows'], key=lambda r: (r['plugin'], r['backbone']))
            if 'skipped' not in r]
    bars = [(f"{r['plugin']}/{r['backbone']} {v}", ratio, r['plugin'])
            for r in rows for v, ratio in r['train_ratio'].items()]
    if not bars:
        return
    colors = {p: f'C{i}' for i, p in enumerate(VARIANTS)}
    fig, ax = plt.subplots(figsize=(7, 0.22 * len(bars) + 1.2))
    y = range(len(bars))
    ax.barh(list(y), [b[1] for b in bars], color=[colors.get(b[2], 'C9') for b in bars])
    for plugin, limit in LIMITS.items():
        ax.axvline(limit, color=colors[plugin], linestyle='--', linewidth=1,
                   label=f'{plugin} bound {limit}×')
    ax.axvline(1.0, color='black', linewidth=0.8)
    ax.set_yticks(list(y), [b[0] for b in bars], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel('training epoch ÷ bare backbone (same process, interleaved)')
    ax.set_title(f"Cost of the bottlenecks on {report['data']}")
    ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    static.mkdir(parents=True, exist_ok=True)
    fig.savefig(static / 'plugin_cost_ratios.png', dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='tiktok', help='a dataset recipe (default: tiktok)')
    parser.add_argument('--plugins', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument('--backbones', nargs='+', help='only these backbones (default: all '
                                                       'each plug-in supports)')
    parser.add_argument('--rounds', type=int, default=3, help='timed epochs per trainer')
    parser.add_argument('--static', type=Path, default=STATIC, help='where the figure goes')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()

    report_path = args.out / 'plugin_cost.json'
    if args.report_only:
        report = read_report(args.out, 'plugin_cost')
    else:
        import torch

        from pyg_mmrec.data import load_recipe
        torch.set_num_threads(1)
        splits = load_recipe(args.data, root=args.data_root,
                             text_cache=ROOT / 'runs' / 'text-cache')
        report = (read_report(args.out, 'plugin_cost') if report_path.is_file()
                  else {'data': args.data, 'rows': []})
        if report['data'] != args.data:  # one dataset per report: start a new one
            report = {'data': args.data, 'rows': []}
        for plugin, backbone in tqdm(pairs(args.plugins, args.backbones), desc='pairs'):
            row = measure_pair(splits, args.data, plugin, backbone, args.rounds)
            report['rows'] = [r for r in report['rows']
                              if (r['plugin'], r['backbone']) != (plugin, backbone)] + [row]
            write_report(args.out, 'plugin_cost', report, format_report(report))
            tqdm.write(f"{plugin} on {backbone}: {row.get('train_ratio', row.get('skipped'))}")
    table = format_report(report)
    write_report(args.out, 'plugin_cost', report, table)
    plot(report, args.static)
    print(table)


if __name__ == '__main__':
    main()
