import argparse
import json
import os
from pathlib import Path

import pytest

import pyg_mmrec.train.trainer as trainer_module
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.train import Cell, read_cell, run_cell, run_isolated
from pyg_mmrec.train.harness import (
    FORMAT,
    add_benchmark_arguments,
    comparison_table,
    mean_std,
    merge_rows,
    summarize,
    tuned_config,
    tuned_summaries,
    write_report,
)

BASE = {'batch_size': 256, 'epochs': 2, 'embedding_dim': 8}
GRID = {'lr': [1e-4, 1e-2]}


def test_selects_on_validation_then_retrains_and_tests_each_seed_once(tiny_splits, tmp_path,
                                                                       evaluated_splits):
    cell = Cell('bprmf', 'synthetic', [1, 2, 3], GRID, BASE)
    record = run_cell(cell, tmp_path, splits=tiny_splits)
    # The search's runs are never tested: one test per seed, each after its run's validations.
    assert evaluated_splits.count('test') == 3
    first_test = evaluated_splits.index('test')
    assert evaluated_splits[:first_test].count('val') == 2 * len(GRID['lr'])  # 2 epochs, 2 points
    recalls = [r['valid']['Recall@20'] for r in record['search']]
    best = record['search'][recalls.index(max(recalls))]
    assert record['selected'] == {'lr': best['lr']}
    assert [r['seed'] for r in record['runs']] == [1, 2, 3]
    assert all(r['config']['lr'] == best['lr'] for r in record['runs'])
    assert all(r['test'] is not None for r in record['runs'])
    assert record['runs'][0]['valid'] == best['valid']


def test_record_is_as_documented(tiny_splits, tmp_path):
    cell = Cell('bprmf', 'synthetic', [1, 2], GRID, BASE)
    record = run_cell(cell, tmp_path, splits=tiny_splits)
    assert read_cell(tmp_path) == record
    assert set(record) == {'format', 'cell', 'data', 'metric', 'grid', 'selected', 'search',
                           'runs', 'wall_seconds', 'peak_rss_mb', 'torch_threads'}
    assert record['format'] == FORMAT and record['cell'] == cell.spec()
    assert record['metric'] == 'Recall@20' and record['grid'] == {'lr': [1e-4, 1e-2]}
    selected_run = next(r['run'] for r in record['search'] if r['lr'] == record['selected']['lr'])
    assert [r['dir'] for r in record['runs']] == [f'tune/run{selected_run}', 'seed2']
    for run in record['runs']:  # the runs' own results, minus the model and data names
        stored = json.loads((tmp_path / run['dir'] / 'results.json').read_text())
        assert {k: v for k, v in stored.items() if k not in ('model', 'data', 'test')} == {
            k: v for k, v in run.items() if k not in ('dir', 'test')}
        assert (tmp_path / run['dir'] / 'log.jsonl').is_file()
    assert 'tmp' not in json.dumps(record['runs'])  # no absolute paths
    summary = summarize(record)
    assert summary['search_runs'] == 2 and [s['seed'] for s in summary['seeds']] == [1, 2]
    assert tuned_config(summary) == {**record['selected'], 'epochs': 2, 'patience': 20}


def test_resuming_repeats_nothing(tiny_splits, tmp_path, monkeypatch):
    cell = Cell('bprmf', 'synthetic', [1, 2], GRID, BASE)
    record = run_cell(cell, tmp_path, splits=tiny_splits)
    epochs = []
    real = trainer_module.Trainer.train_epoch
    monkeypatch.setattr(trainer_module.Trainer, 'train_epoch',
                        lambda self: epochs.append(self.epoch) or real(self))
    assert run_cell(cell, tmp_path, splits=tiny_splits) == record  # finished: returned as is
    (tmp_path / 'cell.json').unlink()  # an interrupted cell: every run had finished
    again = run_cell(cell, tmp_path, splits=tiny_splits)
    assert epochs == []
    assert [r['test'] for r in again['runs']] == [r['test'] for r in record['runs']]
    (tmp_path / 'cell.json').unlink()
    (tmp_path / 'seed2' / 'results.json').unlink()  # its results lost, its checkpoint kept
    run_cell(cell, tmp_path, splits=tiny_splits)
    assert epochs == []  # its checkpoint was final: resumed, nothing retrained


def test_another_cell_in_the_folder_is_refused(tiny_splits, tmp_path):
    run_cell(Cell('bprmf', 'synthetic', [1], config=BASE), tmp_path, splits=tiny_splits)
    with pytest.raises(ConfigError, match='holds another cell'):
        run_cell(Cell('bprmf', 'synthetic', [2], config=BASE), tmp_path, splits=tiny_splits)
    (tmp_path / 'old').mkdir()
    (tmp_path / 'old' / 'cell.json').write_text('{"dataset": "synthetic", "model": "bprmf"}')
    with pytest.raises(ConfigError, match='not a cell record'):
        run_cell(Cell('bprmf', 'synthetic', [1], config=BASE), tmp_path / 'old',
                 splits=tiny_splits)


def test_without_grid_every_seed_trains_the_config(tiny_splits, tmp_path):
    record = run_cell(Cell('bprmf', 'synthetic', [5, 6], config={**BASE, 'lr': 1e-2}),
                      tmp_path, splits=tiny_splits)
    assert record['selected'] == {} and record['search'] == [] and record['grid'] == {}
    assert [(r['seed'], r['config']['lr'], r['dir']) for r in record['runs']] == [
        (5, 1e-2, 'seed5'), (6, 1e-2, 'seed6')]


def test_cell_checks():
    with pytest.raises(ConfigError, match='distinct seeds'):
        Cell('bprmf', 'synthetic', [1, 1])
    with pytest.raises(ConfigError, match="must not set 'seed'"):
        Cell('bprmf', 'synthetic', [1], config={'seed': 3})
    with pytest.raises(ConfigError, match='unknown data condition'):
        Cell('bprmf', 'synthetic', [1], condition='blurry')
    assert Cell.from_spec(Cell('vbpr', 'tiktok', [1], GRID, condition='vr').spec()) == Cell(
        'vbpr', 'tiktok', [1], GRID, condition='vr')
    with pytest.raises(ConfigError, match='one modality or more'):
        Cell('vbpr', 'synthetic', [1], modalities=[])


def test_modalities_of_a_cell(tmp_path):
    # Unset, the spec is as before the field existed (finished records still match).
    assert 'modalities' not in Cell('vbpr', 'synthetic', [1]).spec()
    cell = Cell('vbpr', 'synthetic', [1], config={**BASE, 'epochs': 1}, modalities=['image'])
    assert Cell.from_spec(cell.spec()) == cell
    record = run_cell(cell, tmp_path / 'image')
    assert record['cell']['modalities'] == ['image']
    both = run_cell(Cell('vbpr', 'synthetic', [1], config=cell.config), tmp_path / 'both')
    # VBPR has one projection per modality: fewer parameters on one modality.
    assert record['runs'][0]['num_parameters'] < both['runs'][0]['num_parameters']


def test_isolated_cell_matches_in_process(tmp_path):
    cell = Cell('bprmf', 'synthetic', [1], config={**BASE, 'epochs': 1})
    isolated = run_cell(cell, tmp_path / 'child', isolate=True)
    local = run_cell(cell, tmp_path / 'here')
    assert isolated['runs'][0]['test'] == local['runs'][0]['test']
    assert read_cell(tmp_path / 'child') == isolated
    with pytest.raises(ConfigError, match='loads its data itself'):
        run_cell(cell, tmp_path / 'other', splits=object(), isolate=True)


def test_run_isolated_calls_a_file_function(tmp_path):
    script = tmp_path / 'measure.py'
    script.write_text('import os\n\ndef measure(x):\n    return {"x": x, "pid": os.getpid()}\n')
    result = run_isolated(f'{script}:measure', {'x': [1, 2]})
    assert result['x'] == [1, 2] and result['pid'] != os.getpid()
    with pytest.raises(ConfigError, match='no function'):
        run_isolated(f'{script}:missing', {})


def test_mean_std():
    assert mean_std([0.5]) == '0.5000'
    assert mean_std([1.0, 3.0]) == '2.0000 ± 1.4142'


def test_benchmark_arguments(tmp_path):
    parser = argparse.ArgumentParser()
    add_benchmark_arguments(parser, tmp_path)
    args = parser.parse_args(['--report-only'])
    assert (args.out, args.report_only, args.data_root) == (tmp_path, True, None)
    assert parser.parse_args(['--data-root', 'd']).data_root == Path('d')
    without = argparse.ArgumentParser()
    add_benchmark_arguments(without, tmp_path, data_root=False)
    assert not hasattr(without.parse_args([]), 'data_root')


def test_comparison_table():
    rows = [('CF', 'a', [{'R': 0.1}, {'R': 0.3}]), ('CF', 'b', [{'R': 0.1}]),
            ('MM', 'c', None), ('ours', 'd', [{'R': 0.25}])]
    lines = comparison_table(rows, ['R'], 'd')
    assert lines[2] == '| CF | a | <u>0.2000 ± 0.1414</u> |'
    assert lines[3] == '| CF | b | 0.1000 |'
    assert lines[4] == '| MM | c | — |'
    assert lines[5] == '| ours | d | **0.2500** |'
    assert lines[6] == '| | improvement of d | +25.00% (vs a) |'
    assert len(comparison_table(rows[:2], ['R'], 'd')) == 4  # no improvement row without d


def test_tuned_summaries(tmp_path):
    cells = [{'dataset': 'x', 'model': 'a', 'applicable': True},
             {'dataset': 'x', 'model': 'b', 'applicable': False},
             {'dataset': 'y', 'model': 'c', 'applicable': True}]
    write_report(tmp_path, 'tuning', {'cells': cells}, '')
    assert tuned_summaries(tmp_path / 'tuning.json', 'x', ['c', 'b', 'a']) == {'a': cells[0]}
    with pytest.raises(ConfigError, match='no such report'):
        tuned_summaries(tmp_path / 'other.json', 'x', ['a'])


def test_merge_rows_replaces_rows_with_the_same_key_in_place_and_appends_the_others():
    recorded = [{'a': 1, 'b': 'x', 'v': 0}, {'a': 2, 'b': 'x', 'v': 0}]
    rows = [{'a': 3, 'b': 'x', 'v': 1}, {'a': 1, 'b': 'x', 'v': 1}]
    assert merge_rows(recorded, rows, ('a', 'b')) == [
        {'a': 1, 'b': 'x', 'v': 1}, {'a': 2, 'b': 'x', 'v': 0}, {'a': 3, 'b': 'x', 'v': 1}]
