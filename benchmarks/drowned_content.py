"""Drowned-content check: how much of a backbone's score comes from its item content?

Each finished cell of ``backbones.py`` is retrained at its selected configuration with its first
seed on the same data whose modality features are drowned in Gaussian noise (the data condition
``noise<χ>`` of :func:`pyg_mmrec.data.load_recipe`, χ = 10, about 200 times the size of a
unit-norm text embedding's entries; on ml-100k-text before the text graph is built), and
compared with the cell's own run on the clean data and with BPR-MF's cell. A model that scores
the same either way does not use its content; one that stays below BPR-MF with or without
content is held back by its collaborative part, not by the content.

Drowned runs are harness cells (:func:`pyg_mmrec.train.run_cell`) under
``<out>/runs/drowned/<dataset>_<model>``, resumed if interrupted. Writes
``<out>/drowned_content.{md,json}``; ``--report-only`` rebuilds the Markdown from the JSON.

Usage::

    python benchmarks/drowned_content.py --dataset ml-100k-text --models grcn mmgcn vbpr bm3
    python benchmarks/drowned_content.py --report-only
"""
from __future__ import annotations

import argparse
from pathlib import Path

from pyg_mmrec.train.harness import (
    add_benchmark_arguments,
    find_summary,
    read_report,
    tuned_config,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'benchmarks' / 'results'


def measure(dataset: str, models: list[str], chi: float, out: Path,
            data_root: Path | None) -> dict:
    """Trains every model drowned; returns the report's data."""
    from pyg_mmrec.data import load_recipe
    from pyg_mmrec.train import Cell, run_cell

    def cell(model: str) -> dict:
        return find_summary(out / 'backbones.json', dataset, model)

    condition = f'noise{chi:g}'
    splits = load_recipe(dataset, condition, data_root, ROOT / 'runs' / 'text-cache')
    rows = []
    for model in models:
        clean = cell(model)
        seed = clean['seeds'][0]['seed']
        print(f'== {dataset} {model} drowned (χ={chi})', flush=True)
        record = run_cell(Cell(model, dataset, [seed], config=tuned_config(clean),
                               condition=condition),
                          out / 'runs' / 'drowned' / f'{dataset}_{model}', splits=splits)
        drowned = record['runs'][0]
        rows.append({'model': model, 'seed': seed, 'selected': clean['selected'],
                     'clean': {'valid': clean['valid']['Recall@20'],
                               'test': clean['seeds'][0]['test']['Recall@20']},
                     'drowned': {'valid': drowned['valid']['Recall@20'],
                                 'test': drowned['test']['Recall@20'],
                                 'best_epoch': drowned['best_epoch']}})
    reference = cell('bprmf')
    bpr = {'valid': reference['valid']['Recall@20'],
           'test': reference['seeds'][0]['test']['Recall@20']}
    return {'dataset': dataset, 'chi': chi, 'bprmf': bpr, 'rows': rows}


def format_report(report: dict) -> str:
    """The Markdown report: clean against drowned, per model."""
    bpr = report['bprmf']
    lines = [
        f"# Drowned-content check ({report['dataset']})", '',
        f'Recall@20 of each backbone at its selected configuration, first seed, on the clean '
        f"data and with every modality drowned in Gaussian noise (χ = {report['chi']}); BPR-MF "
        f"(no content, same seed): validation {bpr['valid']:.4f}, test {bpr['test']:.4f}.", '',
        '| model | valid clean | valid drowned | test clean | test drowned | drowned best epoch |',
        '|---|---|---|---|---|---|']
    for r in report['rows']:
        lines.append(f"| {r['model']} | {r['clean']['valid']:.4f} | {r['drowned']['valid']:.4f} "
                     f"| {r['clean']['test']:.4f} | {r['drowned']['test']:.4f} "
                     f"| {r['drowned']['best_epoch']} |")
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', default='ml-100k-text')
    parser.add_argument('--models', nargs='+', default=['grcn', 'mmgcn', 'vbpr', 'bm3'])
    parser.add_argument('--chi', type=float, default=10.0, help='std of the drowning noise')
    add_benchmark_arguments(parser, RESULTS)  # --out: it holds backbones.py's report
    args = parser.parse_args()

    report = (read_report(args.out, 'drowned_content') if args.report_only
              else measure(args.dataset, args.models, args.chi, args.out, args.data_root))
    table = format_report(report)
    write_report(args.out, 'drowned_content', report, table)
    print(table)


if __name__ == '__main__':
    main()
