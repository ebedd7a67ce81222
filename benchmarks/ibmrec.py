"""IBMRec benchmark: the plug-in on its four backbones, its ablation, and its central claim.

Parts (``--parts``, all by default):

* ``backbones``: VBPR, VLightGCN, LATTICE and VLATTICE, bare and with IBMRec (Table 3 of the
  paper: FIB on the first two, GIB on LATTICE, both on VLATTICE), on ``--data`` (a dataset
  folder or name under ``../shared/data``; default tiktok, whose image and audio features FIB
  needs).
* ``ablation``: IBMRec on VLATTICE without FIB and without GIB, on the same data (Table 4;
  "without any IB" is the bare VLATTICE run of ``backbones``, which it equals exactly).
* ``sweep``: on the synthetic dataset with ``irrelevant_share`` in ``--shares``, the sweep
  backbone (default VLATTICE) bare and with IBMRec, and the dependence between the trained
  per-modality representations Z^k and the planted task-irrelevant features
  (:func:`pyg_mmrec.ib.feature_dependence`, RBF CKA with the median bandwidth), next to their
  dependence on the relevant content (the planted item factors). The paper's claim: lower
  irrelevant dependence with FIB.
* ``fib-parts``: FIB's two parts alone on VBPR and VLightGCN (the HSIC term without the
  second stage, ``second_stage=false``; the InfoNCE stage without the HSIC term, ``alpha=0``),
  to tell which of them moves the score.
* ``baby``: LATTICE with and without GIB on amazon-baby (item-item graphs only, no features).
* ``sensitivity``: the paper's Fig. 5-6 as a small one-factor-at-a-time grid on ``--data``
  with the first seed: α on IBMRec-VBPR (FIB alone), β on IBMRec-LATTICE (GIB alone) and the
  HSIC bandwidth σ² on IBMRec-VBPR (default: the median heuristic on the raw rows; the fixed
  values on unit-norm rows, the paper's parametrisation), each around the defaults of the
  ``backbones`` part; the report gives validation Recall@20 and marks the point that
  validation selects (test scores are not used).
* ``modalities``: the paper's Table 5 (its Fig. 4) on ``--data``: VLATTICE and IBMRec on it
  with each single modality (:class:`~pyg_mmrec.transforms.SelectModalities`, through the
  cell's ``modalities``) against both (the ``backbones`` part's runs), next to LightGCN (no
  content).
* ``table2``: the paper's Table 2 on ``--data``, composed (no training here) from the tuned
  cells of the backbones benchmark (``<out>/backbones.json``; run ``backbones.py`` on the
  dataset first): the CF group (BPR-MF, LightGCN, SGL), the multimedia group (VBPR, MMGCN,
  GRCN, LATTICE), the denoising group (MICRO; InvRL, the library's on VBPR; SGFD on LATTICE,
  as the paper deploys the denoisers) and IBMRec on VLATTICE, every one with the same
  validation-selected search, with IBMRec's relative improvement over the best baseline. The
  cells' summaries are copied into ``ibmrec.json`` (the report rebuilds from it alone).

Every run is a one-seed harness cell (:func:`pyg_mmrec.train.run_cell`) under
``<out>/runs/ibmrec/``: real-data runs in processes of their own, synthetic runs in-process (on
generator settings that are no dataset recipe); finished runs are not repeated. The report
(``ibmrec.json``, the retained record, committed) lists every run it has summarised, each added
as it finishes, so seeds and parts can be added later, by several processes at once (e.g. one
per seed). Writes
``benchmarks/results/ibmrec.{md,json}`` and ``docs/_static/ibmrec_{backbones,curves,sweep}.png``
(mean test Recall@20 with the seeds' spread; validation curves of the first seed; the
synthetic sweep).

Usage::

    python benchmarks/ibmrec.py --seeds 2024 2025 2026
    python benchmarks/ibmrec.py --parts sweep --shares 0.2 0.5 0.8 --ib-set alpha=2.0
    python benchmarks/ibmrec.py --parts sweep --shares 0.5 --set epochs=2   # smoke test
    python benchmarks/ibmrec.py --parts modalities --seeds 2024 2025 2026
    python benchmarks/ibmrec.py --parts table2          # after backbones.py on tiktok
    python benchmarks/ibmrec.py --data synthetic --parts modalities table2 --set epochs=2 \
        --out runs/bench21-smoke                        # a smoke run
    python benchmarks/ibmrec.py --report-only
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

BACKBONES = ['vbpr', 'vlightgcn', 'lattice', 'vlattice']
FIB_ONLY = ['vbpr', 'vlightgcn']
# Run name -> (model, --set overrides); IBMRec's variants are named after their backbone.
VARIANTS: dict[str, tuple[str, list[str]]] = {
    **{b: (b, []) for b in BACKBONES},
    'lightgcn': ('lightgcn', []),  # the content-free reference of the modalities part
    **{f'ibmrec-{b}': ('ibmrec', [f'backbone={b}']) for b in BACKBONES},
    'ibmrec-vlattice-nofib': ('ibmrec', ['backbone=vlattice', 'fib=false']),
    'ibmrec-vlattice-nogib': ('ibmrec', ['backbone=vlattice', 'gib=false']),
    # FIB's two parts alone, on the FIB-only backbones
    **{f'ibmrec-{b}-hsic': ('ibmrec', [f'backbone={b}', 'second_stage=false'])
       for b in FIB_ONLY},
    **{f'ibmrec-{b}-infonce': ('ibmrec', [f'backbone={b}', 'alpha=0'])
       for b in FIB_ONLY},
}
# (variant, IBMRec setting, values besides the default, settings fixed at those values) of
# the sensitivity part. A fixed bandwidth is only meaningful on unit-norm rows (the paper's
# parametrisation; raw tiktok features have norms near 33, where any such sigma2 makes the
# kernel the identity), so the sigma2 points use hsic_normalize=true; the default is the
# median heuristic on the raw rows.
SENSITIVITY = [('ibmrec-vbpr', 'alpha', [0.1, 10.0], []),
               ('ibmrec-lattice', 'beta', [0.1, 2.0], []),
               ('ibmrec-vbpr', 'sigma2', [0.2, 1.0, 5.0], ['hsic_normalize=true'])]
DEFAULTS = {'alpha': 1.0, 'beta': 0.5, 'sigma2': 'median'}
# The modalities part: the models run on each single modality (and on all, as the backbones
# part runs them).
MODALITY_VARIANTS = ['vlattice', 'ibmrec-vlattice']
# Table 2: (group, [(model of the backbones benchmark, as the table names it)]).
TABLE2 = [('CF', [('bprmf', 'BPR-MF'), ('lightgcn', 'LightGCN'), ('sgl', 'SGL')]),
          ('multimedia', [('vbpr', 'VBPR'), ('mmgcn', 'MMGCN'), ('grcn', 'GRCN'),
                          ('lattice', 'LATTICE')]),
          ('denoising', [('micro', 'MICRO'), ('invrl', 'InvRL (VBPR)'),
                         ('sgfd', 'SGFD (LATTICE)')]),
          ('ours', [('ibmrec', 'IBMRec (VLATTICE)')])]
TABLE2_METRICS = ['Recall@20', 'Precision@20', 'NDCG@20']
ABLATION = [('IBMRec (FIB + GIB)', 'ibmrec-vlattice'), ('w/o FIB', 'ibmrec-vlattice-nofib'),
            ('w/o GIB', 'ibmrec-vlattice-nogib'), ('w/o IB (= VLATTICE)', 'vlattice')]


def run_name(r: dict) -> str:
    """The folder name of a run of the report under ``<out>/runs/ibmrec/``."""
    name = (f"{r['variant']}@{r['knob']}={r['value']:g}" if r['part'] == 'sensitivity'
            else f"{r['variant']}@{'+'.join(r['modalities'])}" if r['part'] == 'modalities'
            else r['variant'])
    return f"{r['dataset']}_{name}_{r['seed']}"


def read(out: Path) -> dict:
    """The report's data (``runs``, and ``table2`` once composed)."""
    return read_report(out, 'ibmrec') if (out / 'ibmrec.json').is_file() else {'runs': []}


def finished_runs(out: Path) -> list[dict]:
    """The runs the report lists."""
    return read(out)['runs']


def record(out: Path, entry: dict) -> None:
    """Adds (or replaces) a finished run in the report, read again just before, so that
    processes running other runs at the same time keep theirs."""
    report = read(out)
    runs = {run_name(r): r for r in report['runs']}
    runs[run_name(entry)] = entry
    report['runs'] = [runs[name] for name in sorted(runs)]
    write_report(out, 'ibmrec', report, format_report(report))


def compose_table2(out: Path, dataset: str) -> None:
    """Copies the tuned cells of Table 2's systems on ``dataset`` from the backbones
    benchmark's report into this one (replacing the dataset's earlier copy)."""
    models = [m for _, systems in TABLE2 for m, _ in systems]
    report = read(out)
    report['table2'] = {**report.get('table2', {}),
                        dataset: tuned_summaries(out / 'backbones.json', dataset, models)}
    write_report(out, 'ibmrec', report, format_report(report))


def train(out: Path, entry: dict, model: str, config: list[str], args, splits=None) -> dict:
    """Runs ``entry``'s run (isolated unless ``splits`` is given; a finished one is not
    repeated) on the entry's ``modalities`` (all where it has none); returns its harness
    record."""
    from pyg_mmrec.train import Cell, run_cell
    from pyg_mmrec.train.config import parse_overrides

    print(f'== {run_name(entry)}', flush=True)
    cell = Cell(model, entry['dataset'], [entry['seed']], config=parse_overrides(config),
                modalities=entry.get('modalities'))
    return run_cell(cell, out / 'runs' / 'ibmrec' / run_name(entry), splits=splits,
                    data_root=args.data_root, isolate=splits is None)


def results_of(record: dict) -> dict:
    """The report's fields of a one-seed cell's run."""
    run = {k: v for k, v in record['runs'][0].items() if k != 'dir'}
    return {'model': record['cell']['model'], 'data': record['data'], **run,
            'wall_seconds': record['wall_seconds']}


def real_run(out: Path, dataset: str, variant: str, seed: int, args,
             knob: tuple[str, float, list[str]] | None = None,
             modalities: list[str] | None = None) -> None:
    """One run on a real dataset, in a process of its own, recorded in the report; ``knob``
    (setting, value, other fixed settings) overrides one IBMRec setting (the sensitivity
    part); ``modalities`` keeps only those (the modalities part). A run the report lists with
    the same settings is not repeated (the report is the retained record; the run's folder
    may be gone)."""
    from pyg_mmrec.train.config import parse_overrides

    model, extra = VARIANTS[variant]
    ib = args.ib_set if model == 'ibmrec' else []
    part = ({'part': 'sensitivity', 'knob': knob[0], 'value': knob[1], 'fixed': knob[2]}
            if knob else {'part': 'modalities', 'modalities': modalities} if modalities
            else {'part': 'real'})
    entry = {**part, 'dataset': dataset, 'variant': variant, 'seed': seed}
    config = [*extra, *args.set, *ib, *([f'{knob[0]}={knob[1]}', *knob[2]] if knob else [])]
    listed = next((r for r in finished_runs(out) if run_name(r) == run_name(entry)), None)
    if listed is not None and all(listed['config'].get(k, object()) == v
                                  for k, v in parse_overrides(config).items()):
        print(f'== {run_name(entry)}: in the report', flush=True)
        return
    record(out, {**entry, **results_of(train(out, entry, model, config, args))})


def data_modalities(args) -> list[str]:
    """The modalities with features of ``--data``."""
    from pyg_mmrec.data import load_recipe, modalities
    return sorted(modalities(load_recipe(args.data, root=args.data_root).train))


def sweep_run(out: Path, share: float, variant: str, seed: int, args) -> None:
    """One in-process run on the synthetic data with ``irrelevant_share=share``, followed by
    the dependence diagnostic of its selected state."""
    from pyg_mmrec.data import make_synthetic
    from pyg_mmrec.ib import feature_dependence
    from pyg_mmrec.train import load_model

    splits = make_synthetic(irrelevant_share=share)
    model, extra = VARIANTS[variant]
    entry = {'part': 'sweep', 'dataset': f'synthetic-s{share:g}', 'share': share,
             'variant': variant, 'seed': seed}
    done = train(out, entry, model, [*extra, *args.set,
                                     *(args.ib_set if model == 'ibmrec' else [])], args, splits)
    folder = out / 'runs' / 'ibmrec' / run_name(entry) / done['runs'][0]['dir']
    trained, _ = load_model(folder / 'checkpoint.pt', splits)
    results = results_of(done)
    record(out, {**entry, 'dependence': feature_dependence(trained, splits.train),
                 'wall_seconds': results.pop('wall_seconds'), **results})


def cell(runs: list[dict], key) -> str:
    values = [key(r) for r in runs]
    return mean_std(values) if values else '—'


def seconds_cell(runs: list[dict]) -> str:
    return f"{statistics.mean(seconds(r) for r in runs):.2f}" if runs else '—'


def epochs_cell(runs: list[dict]) -> str:
    return ', '.join(str(r['best_epoch']) for r in sorted(runs, key=lambda r: r['seed'])) or '—'


def improved(base: list[dict], ib: list[dict]) -> str:
    """In how many of the seeds run both ways the IBMRec run beats the bare one (the two
    start from the same backbone weights)."""
    bare = {r['seed']: recall(r) for r in base}
    pairs = [recall(r) > bare[r['seed']] for r in ib if r['seed'] in bare]
    return f'{sum(pairs)} of {len(pairs)}' if pairs else '—'


def gain(base: list[dict], ib: list[dict]) -> str:
    if not base or not ib:
        return '—'
    b = statistics.mean(r['test']['Recall@20'] for r in base)
    i = statistics.mean(r['test']['Recall@20'] for r in ib)
    return f'{100 * (i / b - 1):+.1f}%'


def recall(r: dict) -> float:
    return r['test']['Recall@20']


def ndcg(r: dict) -> float:
    return r['test']['NDCG@20']


def seconds(r: dict) -> float:
    return r['train_seconds_per_epoch']


def mean_dependence(r: dict, part: str) -> float:
    return statistics.mean(d[part] for d in r['dependence'].values())


def settings_of(runs: list[dict]) -> str:
    """Each dataset's epoch cap and early-stopping patience (every setting of a run is in its
    entry of ``ibmrec.json``)."""
    datasets: dict[tuple, list[str]] = {}
    for d in sorted({r['dataset'] for r in runs}):
        caps = tuple(sorted({(r['config']['epochs'], r['config']['patience'])
                             for r in runs if r['dataset'] == d}))
        datasets.setdefault(caps, []).append(d)
    return '; '.join(f"{', '.join(ds)}: at most {'/'.join(str(e) for e, _ in caps)} epochs, "
                     f"patience {'/'.join(str(p) for _, p in caps)}"
                     for caps, ds in datasets.items()
                     ) + '; every setting of a run is in ``ibmrec.json``'


def sensitivity_points(runs: list[dict], dataset: str, variant: str, knob: str, seed: int
                       ) -> list[tuple[object, dict]]:
    """(value, run) of every finished point of one sensitivity knob with ``seed``, the default
    (a ``backbones`` run) first."""
    runs = [r for r in runs if r['dataset'] == dataset and r['variant'] == variant
            and r['seed'] == seed]
    default = [(DEFAULTS[knob], r) for r in runs if r['part'] == 'real']
    return default + sorted(((r['value'], r) for r in runs
                             if r['part'] == 'sensitivity' and r['knob'] == knob),
                            key=lambda point: point[0])


def selected_value(points: list[tuple[object, dict]]):
    """The value with the best validation Recall@20 (test scores are not looked at)."""
    return max(points, key=lambda point: point[1]['valid']['Recall@20'])[0]


def table2_lines(dataset: str, cells: dict[str, dict]) -> list[str]:
    """The paper's Table 2 on ``dataset`` from the backbones benchmark's cells."""
    rows = [(group, name, [s['test'] for s in cells[m]['seeds']] if m in cells else None)
            for group, systems in TABLE2 for m, name in systems]
    budgets = sorted({(c['search_runs'], c['max_epochs'], c.get('patience', 20))
                      for c in cells.values()})
    return [f'## {dataset}: comparison with the baselines (Table 2)', '',
            'Every system as the backbones benchmark tuned it: the same search (learning rate, '
            'L2 weight and its own main knob) selected on validation Recall@20 with the first '
            'seed, then retrained with the other seeds; test metrics at the best validation '
            'epoch, mean ± std over seeds (budgets: '
            + '; '.join(f'{n} search runs, ≤{e} epochs, patience {p}' for n, e, p in budgets)
            + '). Best in bold, second underlined; "—": not run.', '',
            *comparison_table(rows, TABLE2_METRICS, TABLE2[-1][1][0][1]), '',
            'Selected points: ' + '; '.join(
                f"{name}: {', '.join(f'{k}={v}' for k, v in cells[m]['selected'].items())}"
                for _, systems in TABLE2 for m, name in systems if m in cells) + '.', '']


def modalities_lines(runs: list[dict], by: dict, dataset: str) -> list[str]:
    """The paper's Table 5 on ``dataset``: each model on each single modality and on all."""
    singles = sorted({r['modalities'][0] for r in runs
                      if r['part'] == 'modalities' and r['dataset'] == dataset})
    columns = ['none (IDs)', *singles, 'all']

    def runs_of(variant: str, column: str) -> list[dict]:
        if column == columns[-1]:
            return by.get((dataset, variant), [])
        return [r for r in runs if r['part'] == 'modalities' and r['dataset'] == dataset
                and r['variant'] == variant and r['modalities'] == [column]]
    lines = [f'## {dataset}: single modality against all (Table 5)', '',
             'Test Recall@20 / NDCG@20 of each model on the content it is given; every other '
             'setting as in the backbones part (whose runs the last column shows).', '',
             '| model | ' + ' | '.join(columns) + ' |', '|---|' + '---|' * len(columns),
             f"| lightgcn | {cell(by.get((dataset, 'lightgcn'), []), recall)} / "
             f"{cell(by.get((dataset, 'lightgcn'), []), ndcg)} |" + ' |' * (len(columns) - 1)]
    for variant in MODALITY_VARIANTS:
        lines.append(f'| {variant} | |' + ''.join(
            f' {cell(runs_of(variant, c), recall)} / {cell(runs_of(variant, c), ndcg)} |'
            for c in columns[1:]))
    return [*lines, '']


def format_report(report: dict) -> str:
    """The Markdown report of the runs (and of Table 2, once composed)."""
    runs = report['runs']
    seeds, settings = sorted({r['seed'] for r in runs}), settings_of(runs)
    by: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        if r['part'] not in ('sensitivity', 'modalities'):  # reported on their own
            by.setdefault((r['dataset'], r['variant']), []).append(r)
    lines = ['# IBMRec benchmark', '',
             f'Seeds: {seeds} (mean ± std where a cell has several). Test metrics at the epoch '
             'with the best validation Recall@20 (full ranking). s/epoch: median training '
             f'seconds per epoch (mean over seeds). Settings: {settings}.', '']
    for dataset, cells in sorted(report.get('table2', {}).items()):
        lines += table2_lines(dataset, cells)
    for dataset in sorted({r['dataset'] for r in runs if r['part'] == 'modalities'}):
        lines += modalities_lines(runs, by, dataset)
    real = sorted({r['dataset'] for r in runs if r['part'] == 'real'})
    for dataset in real:
        lines += [f'## {dataset}: backbones with and without IBMRec', '',
                  '| backbone | IB modules | R@20 bare | R@20 IBMRec | gain | seeds improved '
                  '| N@20 bare | N@20 IBMRec | s/epoch bare | s/epoch IBMRec '
                  '| best epochs bare / IBMRec |', '|---|---|---|---|---|---|---|---|---|---|---|']
        modules = {'vbpr': 'FIB', 'vlightgcn': 'FIB', 'lattice': 'GIB', 'vlattice': 'FIB + GIB'}
        for b in BACKBONES:
            base, ib = by.get((dataset, b), []), by.get((dataset, f'ibmrec-{b}'), [])
            if base or ib:
                lines.append(f'| {b} | {modules[b]} | {cell(base, recall)} | {cell(ib, recall)} '
                             f'| {gain(base, ib)} | {improved(base, ib)} '
                             f'| {cell(base, ndcg)} | {cell(ib, ndcg)} '
                             f'| {seconds_cell(base)} | {seconds_cell(ib)} '
                             f'| {epochs_cell(base)} / {epochs_cell(ib)} |')
        if any((dataset, v) in by for _, v in ABLATION[1:3]):
            lines += ['', f'### {dataset}: ablation on VLATTICE', '',
                      '| variant | Recall@20 | NDCG@20 | s/epoch |', '|---|---|---|---|']
            lines += [f'| {name} | {cell(by.get((dataset, v), []), recall)} '
                      f'| {cell(by.get((dataset, v), []), ndcg)} '
                      f'| {seconds_cell(by.get((dataset, v), []))} |' for name, v in ABLATION]
        lines.append('')
    parts = [(d, b) for d in real for b in FIB_ONLY
             if (d, f'ibmrec-{b}-hsic') in by or (d, f'ibmrec-{b}-infonce') in by]
    for dataset in dict.fromkeys(d for d, _ in parts):
        lines += [f"## {dataset}: FIB's two parts", '',
                  'Test Recall@20 of the backbone bare, with the HSIC term alone (no second '
                  'stage), with the InfoNCE stage alone (α = 0) and with both (IBMRec).', '',
                  '| backbone | bare | HSIC only | InfoNCE stage only | both |',
                  '|---|---|---|---|---|']
        lines += [f'| {b} | ' + ' | '.join(cell(by.get((dataset, v), []), recall) for v in (
            b, f'ibmrec-{b}-hsic', f'ibmrec-{b}-infonce', f'ibmrec-{b}')) + ' |'
            for d, b in parts if d == dataset]
        lines.append('')
    sensitivity = [r for r in runs if r['part'] == 'sensitivity']
    for variant, knob, _, fixed in SENSITIVITY if sensitivity else []:
        dataset = sensitivity[0]['dataset']
        first = min((r['seed'] for r in sensitivity if r['knob'] == knob), default=None)
        rows = sensitivity_points(runs, dataset, variant, knob, first)
        if len(rows) < 2:
            continue
        best = selected_value(rows)
        lines += [f'## {dataset}: sensitivity of {knob} ({variant}, seed {first})', '',
                  *([f"Every point but the default with {', '.join(fixed)}.", '']
                    if fixed else []),
                  f'| {knob} | valid Recall@20 | valid NDCG@20 | best epoch |',
                  '|---|---|---|---|']
        lines += [f"| {value}{' (default)' if value == DEFAULTS[knob] else ''}"
                  f"{' ← selected' if value == best else ''} "
                  f"| {r['valid']['Recall@20']:.4f} | {r['valid']['NDCG@20']:.4f} "
                  f"| {r['best_epoch']} |" for value, r in rows]
        # The selected point retrained with the other seeds, against the default on them all.
        retrained = [r for r in sensitivity if r['variant'] == variant and r['knob'] == knob
                     and r['value'] == best]
        if best != DEFAULTS[knob] and len(retrained) > 1:
            seeds_of = sorted(r['seed'] for r in retrained)
            defaults, bare = ([r for r in by.get((dataset, v), []) if r['seed'] in seeds_of]
                              for v in (variant, variant.removeprefix('ibmrec-')))
            lines += ['', f'Test Recall@20 over seeds {seeds_of}: {knob} = {best} '
                      f'{cell(retrained, recall)} against the default {cell(defaults, recall)} '
                      f'(bare backbone {cell(bare, recall)}).']
        lines.append('')
    sweep = sorted({(r['share'], r['variant']) for r in runs if r['part'] == 'sweep'})
    if sweep:
        lines += ['## Synthetic: dependence of Z^k on irrelevant vs relevant content', '',
                  'RBF CKA (median bandwidth) between each modality\'s trained representation '
                  'and its planted task-irrelevant block, and with the planted item factors '
                  '(relevant content), averaged over modalities. FIB should lower the first.',
                  '', '| irrelevant share | model | CKA(Z, irrelevant) | CKA(Z, relevant) '
                  '| Recall@20 | s/epoch |', '|---|---|---|---|---|---|']
        for share, variant in sweep:
            rs = by[(f'synthetic-s{share:g}', variant)]
            lines.append(f'| {share:g} | {variant} '
                         f'| {cell(rs, lambda r: mean_dependence(r, "irrelevant"))} '
                         f'| {cell(rs, lambda r: mean_dependence(r, "relevant"))} '
                         f'| {cell(rs, recall)} | {seconds_cell(rs)} |')
    return '\n'.join(lines) + '\n'


def log_of(out: Path, r: dict) -> Path:
    """The per-epoch log of a run (kept only on the machine that ran it)."""
    return out / 'runs' / 'ibmrec' / run_name(r) / f"seed{r['seed']}" / 'log.jsonl'


def validation_curve(out: Path, r: dict) -> list[float]:
    """Validation Recall@20 per epoch of a real-data run, from its ``log.jsonl``."""
    return [json.loads(line)['valid']['Recall@20']
            for line in log_of(out, r).read_text().splitlines()]


def plot(runs: list[dict], static: Path, out: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    static.mkdir(parents=True, exist_ok=True)
    runs = [r for r in runs if r['part'] not in ('sensitivity', 'modalities')]
    real = sorted({r['dataset'] for r in runs if r['part'] == 'real'})
    if real:
        fig, axes = plt.subplots(1, len(real), figsize=(4.8 * len(real), 3.4), squeeze=False)
        for ax, dataset in zip(axes[0], real, strict=True):
            names = [b for b in BACKBONES
                     if any(r['dataset'] == dataset and r['variant'] in (b, f'ibmrec-{b}')
                            for r in runs)]
            for offset, (prefix, label) in enumerate([('', 'bare'), ('ibmrec-', 'IBMRec')]):
                values = [[recall(r) for r in runs if r['dataset'] == dataset
                           and r['variant'] == prefix + b] for b in names]
                ax.bar([i + 0.4 * offset for i in range(len(names))],
                       [statistics.mean(v) if v else 0.0 for v in values], width=0.4,
                       yerr=[statistics.stdev(v) if len(v) > 1 else 0.0 for v in values],
                       capsize=3, label=label)
            ax.set_xticks([i + 0.2 for i in range(len(names))], names)
            middle, half = (len(names) - 1) / 2 + 0.2, max(len(names), 2) / 2
            ax.set_xlim(middle - half, middle + half)  # a lone pair keeps a bar's width
            ax.set_title(dataset)
            ax.set_ylabel('test Recall@20')
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(static / 'ibmrec_backbones.png', dpi=110)
        plt.close(fig)
    firsts = [r for r in runs if r['part'] == 'real' and r['seed'] == min(
        q['seed'] for q in runs if q['dataset'] == r['dataset'])]
    if real and all(log_of(out, r).is_file() for r in firsts):  # else the figure stays
        # Validation curves of the first seed: each backbone bare (dashed) and with IBMRec.
        fig, axes = plt.subplots(1, len(real), figsize=(4.8 * len(real), 3.4), squeeze=False)
        for ax, dataset in zip(axes[0], real, strict=True):
            first = min(r['seed'] for r in runs if r['dataset'] == dataset)
            for i, b in enumerate(BACKBONES):
                for prefix, style in (('', '--'), ('ibmrec-', '-')):
                    r = next((r for r in runs if r['dataset'] == dataset and r['seed'] == first
                              and r['variant'] == prefix + b), None)
                    if r:
                        curve = validation_curve(out, r)
                        ax.plot(range(1, len(curve) + 1), curve, style, color=f'C{i}',
                                label=prefix + b, linewidth=1)
            ax.set_title(f'{dataset} (seed {first})')
            ax.set_xlabel('epoch')
            ax.set_ylabel('validation Recall@20')
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(static / 'ibmrec_curves.png', dpi=110)
        plt.close(fig)
    sweep = [r for r in runs if r['part'] == 'sweep']
    if sweep:
        fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.4))
        for i, variant in enumerate(sorted({r['variant'] for r in sweep})):
            shares = sorted({r['share'] for r in sweep if r['variant'] == variant})

            def mean_at(share, fn, variant=variant):
                return statistics.mean(fn(r) for r in sweep
                                       if r['share'] == share and r['variant'] == variant)
            for part, style in (('irrelevant', '-o'), ('relevant', ':s')):
                axes[0].plot(shares, [mean_at(s, lambda r, p=part: mean_dependence(r, p))
                                      for s in shares], style, color=f'C{i}',
                             label=f'{variant}: {part}')
            axes[1].plot(shares, [mean_at(s, recall) for s in shares], '-o', color=f'C{i}',
                         label=variant)
        axes[0].set_ylabel('CKA(Z, content)')
        axes[1].set_ylabel('test Recall@20')
        for ax in axes:
            ax.set_xlabel('irrelevant share of the feature variance')
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(static / 'ibmrec_sweep.png', dpi=110)
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parts = ['backbones', 'ablation', 'fib-parts', 'sweep', 'baby', 'sensitivity',
             'modalities', 'table2']
    parser.add_argument('--parts', nargs='+', default=parts, choices=parts)
    parser.add_argument('--data', default='tiktok',
                        help='a dataset recipe (needs features; default: tiktok)')
    parser.add_argument('--backbones', nargs='+', default=BACKBONES, choices=BACKBONES)
    parser.add_argument('--shares', nargs='+', type=float, default=[0.25, 0.5, 0.75])
    parser.add_argument('--sweep-backbone', default='vlattice', choices=BACKBONES)
    parser.add_argument('--seeds', nargs='+', type=int, default=[2024])
    parser.add_argument('--set', nargs='*', default=[], help='config overrides for every run')
    parser.add_argument('--ib-set', nargs='*', default=[],
                        help='config overrides for the IBMRec runs only (alpha=..., beta=...)')
    parser.add_argument('--static', type=Path, default=ROOT / 'docs' / '_static')
    add_benchmark_arguments(parser, RESULTS)
    args = parser.parse_args()
    if 'table2' in args.parts and not args.report_only and not (
            args.out / 'backbones.json').is_file():  # fail before training anything
        parser.error(f"--parts table2 composes {args.out / 'backbones.json'}: run "
                     'benchmarks/backbones.py first (or leave table2 out)')

    for seed in [] if args.report_only else args.seeds:
        if 'backbones' in args.parts:
            for b in args.backbones:
                for variant in (b, f'ibmrec-{b}'):
                    real_run(args.out, args.data, variant, seed, args)
        if 'ablation' in args.parts:
            for variant in ('ibmrec-vlattice-nofib', 'ibmrec-vlattice-nogib'):
                real_run(args.out, args.data, variant, seed, args)
        if 'fib-parts' in args.parts:
            for b in FIB_ONLY:
                for variant in (f'ibmrec-{b}-hsic', f'ibmrec-{b}-infonce'):
                    real_run(args.out, args.data, variant, seed, args)
        if 'baby' in args.parts:
            for variant in ('lattice', 'ibmrec-lattice'):
                real_run(args.out, 'amazon-baby', variant, seed, args)
        if 'sensitivity' in args.parts:
            for variant, knob, values, fixed in SENSITIVITY:
                if seed == args.seeds[0]:  # the grid
                    real_run(args.out, args.data, variant, seed, args)  # the default point
                    for value in values:
                        real_run(args.out, args.data, variant, seed, args, (knob, value, fixed))
                    continue
                # the other seeds retrain the point the first seed's validation selected
                value = selected_value(sensitivity_points(
                    finished_runs(args.out), args.data, variant, knob, args.seeds[0]))
                if value != DEFAULTS[knob]:
                    real_run(args.out, args.data, variant, seed, args, (knob, value, fixed))
        if 'modalities' in args.parts:
            for variant in MODALITY_VARIANTS:  # on all modalities: the backbones part's runs
                real_run(args.out, args.data, variant, seed, args)
            real_run(args.out, args.data, 'lightgcn', seed, args)
            for modality in data_modalities(args):
                for variant in MODALITY_VARIANTS:
                    real_run(args.out, args.data, variant, seed, args, modalities=[modality])
        if 'sweep' in args.parts:
            for share in args.shares:
                for variant in (args.sweep_backbone, f'ibmrec-{args.sweep_backbone}'):
                    sweep_run(args.out, share, variant, seed, args)
    if 'table2' in args.parts and not args.report_only:
        compose_table2(args.out, args.data)
    report = read(args.out)
    table = format_report(report)
    write_report(args.out, 'ibmrec', report, table)
    plot(report['runs'], args.static, args.out)
    print(table)


if __name__ == '__main__':
    main()
