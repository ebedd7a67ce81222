"""The benchmark scripts: independent of each other, and each report rebuilds from its record."""
import ast
import json
import runpy
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / 'benchmarks').glob('*.py'))
RESULTS = ROOT / 'benchmarks' / 'results'
# Report stem -> (script, extra arguments of its --report-only run).
REPORTS = {
    'backbones': ('backbones', []),
    'bm3_reference': ('bm3_reference', []),
    'cold_start': ('cold_start', []),
    'concurrency': ('concurrency', []),
    'drowned_content': ('drowned_content', []),
    'dvib': ('dvib', []),
    'dvib_ml-100k': ('dvib', ['--data', 'ml-100k']),
    'foundation': ('foundation', []),
    'hidden_scale': ('hidden_scale', []),
    'ibmrec': ('ibmrec', []),
    'knn_graph': ('knn_graph', []),
    'msi': ('msi', []),
    'plugin_cost': ('plugin_cost', []),
    'robust': ('robust', []),
    'speed': ('speed', []),
    'speed_reference': ('speed', ['--reference', 'unused-in-report-only']),
    'speed_mmrec': ('speed', ['--mmrec', 'unused-in-report-only']),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding='utf-8'))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    return {name.split('.')[0] for name in names}


def test_no_script_imports_another():
    stems = {p.stem for p in SCRIPTS}
    assert {p.name: imported_modules(p) & stems for p in SCRIPTS} == {p.name: set()
                                                                       for p in SCRIPTS}


def test_every_report_has_a_rebuild():
    assert set(REPORTS) == {p.stem for p in RESULTS.glob('*.json')}


@pytest.mark.parametrize('stem', sorted(REPORTS))
def test_report_rebuilds_from_its_record(stem, tmp_path, monkeypatch, capsys):
    script, extra = REPORTS[stem]
    if script in ('ibmrec', 'dvib', 'cold_start', 'concurrency', 'speed',
                  'plugin_cost'):  # their report-only runs redraw the figures that need no logs
        pytest.importorskip('matplotlib')
    if script in ('ibmrec', 'cold_start', 'concurrency', 'speed', 'plugin_cost'):
        extra = [*extra, '--static', str(tmp_path / 'static')]
    shutil.copy(RESULTS / f'{stem}.json', tmp_path)
    monkeypatch.setattr(sys, 'argv', [script, '--report-only', '--out', str(tmp_path), *extra])
    runpy.run_path(str(ROOT / 'benchmarks' / f'{script}.py'), run_name='__main__')
    for suffix in ('.md', '.json'):
        rebuilt = (tmp_path / f'{stem}{suffix}').read_bytes()
        assert rebuilt == (RESULTS / f'{stem}{suffix}').read_bytes(), f'{stem}{suffix}'
    assert not (tmp_path / 'runs').exists()  # nothing was trained


def cells_of(dataset: str, models: list[str]) -> dict:
    cells = json.loads((RESULTS / 'backbones.json').read_text(encoding='utf-8'))['cells']
    return {c['model']: c for c in cells if c['dataset'] == dataset and c['model'] in models}


def augment_ibmrec(report: dict) -> str:
    report['table2'] = {'tiktok': cells_of('tiktok', ['bprmf', 'lightgcn', 'vbpr', 'lattice'])}
    run = next(r for r in report['runs'] if r['variant'] == 'vlattice')
    report['runs'].append({**run, 'part': 'modalities', 'modalities': ['image']})
    return 'comparison with the baselines (Table 2)'


def augment_msi(report: dict) -> str:
    entry = next(d for d in report['datasets'] if d['data'] == 'tiktok')
    entry['baselines'] = cells_of('tiktok', ['bprmf', 'lightgcn', 'bm3'])
    return 'Comparison (Table 2)'


def augment_robust(report: dict) -> str:
    report['dvib_points'] = {'vbpr': {'DVIB_a': {'gamma_d': 0.5}}}
    return 'DVIB at the point the DVIB benchmark selected on validation'


def augment_dvib(report: dict) -> str:
    main = next(r for r in report['main'] if r['variant'] == 'DVIB_a')
    report['ablations'] = [{'ablation': 'table6', 'backbone': main['backbone'],
                            'variant': 'DVIB_a', 'label': 'KL(Z‖Z_d)',
                            'setting': {'divergence': 'kl'}, 'records': main['records']}]
    return '## Ablation: self-distillation divergence (Table 6)'


def augment_backbones(report: dict) -> str:
    lattice = cells_of('tiktok', ['lattice'])['lattice']
    report['cells'].append({**lattice, 'model': 'sgfd', 'backbone': 'lattice'})
    return '| tiktok | sgfd on lattice |'


# The sections no committed report has yet (they come with the real runs): each is added to
# a copy of a committed record and must rebuild from it alone, identically twice.
SECTIONS = {'ibmrec': augment_ibmrec, 'msi': augment_msi, 'robust': augment_robust,
            'dvib': augment_dvib, 'backbones': augment_backbones}


@pytest.mark.parametrize('stem', sorted(SECTIONS))
def test_new_sections_rebuild_from_their_record(stem, tmp_path, monkeypatch):
    script, extra = REPORTS[stem]
    if script in ('ibmrec', 'dvib'):
        pytest.importorskip('matplotlib')
    if script == 'ibmrec':
        extra = [*extra, '--static', str(tmp_path / 'static')]
    report = json.loads((RESULTS / f'{stem}.json').read_text(encoding='utf-8'))
    marker = SECTIONS[stem](report)
    first, second = tmp_path / 'first', tmp_path / 'second'
    for folder in (first, second):
        folder.mkdir()
    (first / f'{stem}.json').write_text(json.dumps(report), encoding='utf-8')

    def rebuild(folder: Path) -> list[bytes]:
        monkeypatch.setattr(sys, 'argv', [script, '--report-only', '--out', str(folder),
                                           *extra])
        runpy.run_path(str(ROOT / 'benchmarks' / f'{script}.py'), run_name='__main__')
        assert not (folder / 'runs').exists()  # nothing was trained
        return [(folder / f'{stem}{suffix}').read_bytes() for suffix in ('.md', '.json')]

    built = rebuild(first)
    shutil.copy(first / f'{stem}.json', second)
    assert marker in built[0].decode('utf-8')
    assert rebuild(second) == built


def test_a_model_may_search_learning_rates_of_its_own():
    script = runpy.run_path(str(ROOT / 'benchmarks' / 'backbones.py'))
    assert script['grid_for']('lightgcn', {'reg_weight': 1e-4})['lr'] == [1e-3, 5e-3]
    dualgnn = script['grid_for']('dualgnn', {'reg_weight': 1e-4})
    assert dualgnn == {'lr': [1e-4, 1e-3], 'reg_weight': [1e-4, 1e-3], 'knn_k': [10, 40]}
    header = (RESULTS / 'backbones.md').read_text(encoding='utf-8').splitlines()[2]
    assert '(dualgnn: [0.0001, 0.001])' in header


def test_plugin_cost_keeps_the_rows_of_other_runs(tmp_path, monkeypatch):
    pytest.importorskip('matplotlib')
    kept = {'plugin': 'dvib', 'backbone': 'vbpr', 'config': {}, 'rounds': 3,
            'train_seconds': {'bare': 1.0, 'DVIB_c': 2.0}, 'rank_seconds': {'bare': 1.0,
                                                                           'DVIB_c': 1.0},
            'train_ratio': {'DVIB_c': 2.0}, 'rank_ratio': {'DVIB_c': 1.0}}
    (tmp_path / 'plugin_cost.json').write_text(
        json.dumps({'data': 'synthetic', 'rows': [kept]}), encoding='utf-8')
    monkeypatch.setattr(sys, 'argv', ['plugin_cost', '--data', 'synthetic', '--plugins', 'msi',
                                      '--rounds', '1', '--out', str(tmp_path),
                                      '--static', str(tmp_path)])
    runpy.run_path(str(ROOT / 'benchmarks' / 'plugin_cost.py'), run_name='__main__')
    rows = json.loads((tmp_path / 'plugin_cost.json').read_text(encoding='utf-8'))['rows']
    assert rows[0] == kept  # measured with another round count, kept
    assert (rows[1]['plugin'], rows[1]['backbone'], rows[1]['rounds']) == ('msi', 'bm3', 1)
    assert rows[1]['train_seconds']['MSI'] > 0


def test_robust_keeps_the_rows_of_other_backbones_and_refuses_other_settings(tmp_path):
    from pyg_mmrec.errors import ConfigError
    merge = runpy.run_path(str(ROOT / 'benchmarks' / 'robust.py'))['merge_reports']
    recorded = json.loads((RESULTS / 'robust.json').read_text(encoding='utf-8'))
    row = {'backbone': 'freedom', 'method': 'mg', 'variant': 'bare', 'records': []}  # a new one
    rerun = {**recorded['rows'][0], 'records': []}  # the same cell, run again
    report = {**recorded, 'rows': [rerun, row], 'backbone_configs': {'freedom': {'lr': 1}}}
    report.pop('dvib_points')
    merged = merge(recorded, report, tmp_path / 'robust.json')
    assert merged['rows'] == [rerun, *recorded['rows'][1:], row]
    assert merged['backbone_configs'] == {**recorded['backbone_configs'], 'freedom': {'lr': 1}}
    assert merged['dvib_points'] == recorded['dvib_points']
    assert merge(None, report, tmp_path / 'robust.json') is report
    with pytest.raises(ConfigError, match=r'robust.json: its runs have seeds=\[2024, 2025, 2026\]'):
        merge(recorded, {**report, 'seeds': [1]}, tmp_path / 'robust.json')


def test_a_plugin_cell_starts_from_its_backbones_selected_knob(tmp_path):
    from pyg_mmrec.errors import ConfigError

    script = runpy.run_path(str(ROOT / 'benchmarks' / 'backbones.py'))
    fixed_config = script['fixed_config']
    lattice = script['find_summary'](RESULTS / 'backbones.json', 'tiktok',
                                     'lattice')['selected']['knn_k']
    assert fixed_config('sgfd', 'tiktok', RESULTS) == {'backbone': 'lattice', 'knn_k': lattice}
    assert fixed_config('lightgcn', 'tiktok', RESULTS) == {}
    (tmp_path / 'backbones.json').write_text('{"cells": []}', encoding='utf-8')
    with pytest.raises(ConfigError, match="'lattice' on 'tiktok'"):
        fixed_config('sgfd', 'tiktok', tmp_path)
    # a finished backbone cell is read before the report is written
    cell = tmp_path / 'runs' / 'backbones' / 'tiktok_lattice' / 'cell.json'
    cell.parent.mkdir(parents=True)
    cell.write_text(json.dumps({'selected': {'lr': 0.005, 'reg_weight': 0.0, 'knn_k': 7}}),
                    encoding='utf-8')
    assert fixed_config('sgfd', 'tiktok', tmp_path) == {'backbone': 'lattice', 'knn_k': 7}


def test_a_model_is_marked_not_applicable_exactly_where_the_library_refuses_the_data(
        graph_only_splits):
    # The backbones table marks "n/a (needs feature matrices)" without building the model:
    # that must agree with what building it on graph-only data (amazon-baby's kind) does.
    from pyg_mmrec.errors import DataError
    from pyg_mmrec.registry import registered
    from pyg_mmrec.train import make_trainer

    script = runpy.run_path(str(ROOT / 'benchmarks' / 'backbones.py'))
    plugin_backbones = script['PLUGIN_BACKBONES']
    for name, cls in sorted(registered().items()):
        if name in ('dvib', 'msi'):
            continue  # not backbones-table cells (DVIB has its own benchmark; MSI is BM3's)
        config = {'progress': False, **({'embedding_dim': 8} if cls.trainable else {})}
        if name in plugin_backbones:
            config['backbone'] = plugin_backbones[name]
        try:
            make_trainer(name, graph_only_splits, config)
            refused = False
        except DataError:
            refused = True
        assert script['needs_features'](name) == refused, name


def test_mmrec_counterparts_name_our_models_and_their_knobs():
    # The MMRec comparison sets MMRec's structure from our defaults: every model and knob it
    # names must exist here, or a rename would silently compare different work.
    from pyg_mmrec.registry import registered
    speed = runpy.run_path(str(ROOT / 'benchmarks' / 'speed.py'))
    for model, (_, knobs) in speed['MMREC_MODELS'].items():
        defaults = registered()[model].hparam_defaults()
        assert set(knobs) <= set(defaults), model


def test_table5_keeps_all_modalities_apart_from_a_single_one():
    # With one single modality run so far, the last column is still the runs on all of them.
    script = runpy.run_path(str(ROOT / 'benchmarks' / 'ibmrec.py'))

    def run(variant, recall, modalities=None):
        return {'part': 'modalities' if modalities else 'real', 'dataset': 'tiktok',
                'variant': variant, 'modalities': modalities,
                'test': {'Recall@20': recall, 'NDCG@20': recall / 2}}
    runs = [run('vlattice', 0.0500, ['audio']), run('vlattice', 0.0800)]
    by = {('tiktok', 'vlattice'): [runs[1]]}
    lines = script['modalities_lines'](runs, by, 'tiktok')
    header = next(line for line in lines if line.startswith('| model'))
    assert header == '| model | none (IDs) | audio | all |'
    row = next(line for line in lines if line.startswith('| vlattice'))
    assert row.split('|')[3].strip().startswith('0.0500')
    assert row.split('|')[4].strip().startswith('0.0800')
