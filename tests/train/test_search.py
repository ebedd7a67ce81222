import json

import pytest

import pyg_mmrec.train.trainer as trainer_module
from pyg_mmrec.cli import main
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.train import half_fraction, tune

BASE = {'progress': False, 'batch_size': 256, 'epochs': 3, 'embedding_dim': 8}


def test_selects_on_validation_and_tests_only_the_selected_run(tiny_splits, tmp_path,
                                                                evaluated_splits):
    splits_seen = evaluated_splits
    grid = {'lr': [1e-4, 1e-2], 'reg_weight': [1e-4, 1e-2]}
    summary = tune('lightgcn', tiny_splits, grid, BASE, out_dir=tmp_path)
    assert splits_seen.count('test') == 1 and splits_seen[-1] == 'test'
    assert len(summary['runs']) == 4
    assert [(r['lr'], r['reg_weight']) for r in summary['runs']] == [
        (1e-4, 1e-4), (1e-4, 1e-2), (1e-2, 1e-4), (1e-2, 1e-2)]
    recalls = [r['valid']['Recall@20'] for r in summary['runs']]
    assert summary['selected']['run'] == recalls.index(max(recalls))
    for i in range(4):  # no run's own results carry a test score
        assert json.loads((tmp_path / f'run{i}' / 'results.json').read_text())['test'] is None
    # The reported test score is that of the selected run's best state.
    selected = summary['selected']
    from pyg_mmrec.train import evaluate, load_model
    model, _ = load_model(tmp_path / f"run{selected['run']}" / 'checkpoint.pt', tiny_splits)
    assert evaluate(model, tiny_splits, 'test') == selected['test']
    table = (tmp_path / 'tune.md').read_text()
    assert f"| {selected['run']} (selected) |" in table


def test_without_out_dir(tiny_splits):
    summary = tune('bprmf', tiny_splits, {'lr': [1e-3, 1e-2]}, BASE)
    assert 'Recall@20' in summary['selected']['test'] and len(summary['runs']) == 2


def test_half_fraction_balances_every_factor_and_pair():
    grid = {'lr': [1e-3, 5e-3], 'reg_weight': [0.0, 1e-4], 'num_layers': [2, 3]}
    points = half_fraction(grid)
    assert len(points) == 4
    assert len({tuple(p.values()) for p in points}) == 4
    for key, values in grid.items():  # each level of each factor twice
        assert sorted(p[key] for p in points) == sorted(values * 2)
    for a, b in [('lr', 'reg_weight'), ('lr', 'num_layers'), ('reg_weight', 'num_layers')]:
        assert {(p[a], p[b]) for p in points} == {(x, y) for x in grid[a] for y in grid[b]}
    with pytest.raises(ConfigError, match="two values per grid key; 'lr'"):
        half_fraction({'lr': [1e-3, 5e-3, 1e-2]})


def test_tune_runs_a_list_of_configurations(tiny_splits):
    points = [{'lr': 1e-2, 'reg_weight': 1e-4}, {'lr': 1e-3, 'reg_weight': 1e-2}]
    summary = tune('bprmf', tiny_splits, points, BASE)
    assert [(r['lr'], r['reg_weight']) for r in summary['runs']] == [(1e-2, 1e-4), (1e-3, 1e-2)]
    assert summary['grid'] == {'lr': [1e-2, 1e-3], 'reg_weight': [1e-4, 1e-2]}
    with pytest.raises(ConfigError, match='same keys'):
        tune('bprmf', tiny_splits, [{'lr': 1e-2}, {'reg_weight': 1e-4}], BASE)


def test_bad_grids_fail_before_training(tiny_splits):
    with pytest.raises(ConfigError, match='non-empty list'):
        tune('bprmf', tiny_splits, {'lr': 0.1}, BASE)
    with pytest.raises(ConfigError, match="unknown config key 'lrate'"):
        tune('bprmf', tiny_splits, {'lrate': [0.1]}, BASE)
    with pytest.raises(ConfigError, match="'lr' expects a number"):
        tune('bprmf', tiny_splits, {'lr': [0.1, 'x']}, BASE)


def test_cli_tune(tmp_path, capsys):
    out = tmp_path / 'search'
    assert main(['tune', '--model', 'bprmf', '--data', 'synthetic', '--grid', 'lr=[0.001,0.01]',
                 '--set', 'epochs=1', 'progress=false', '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / 'tune.json').read_text())
    assert '(selected)' in printed and len(summary['runs']) == 2
    assert f"{summary['selected']['test']['Recall@20']:.4f}" in printed


def test_resume_keeps_finished_runs_and_continues_checkpoints(tiny_splits, tmp_path,
                                                              monkeypatch):
    grid = {'lr': [1e-3, 1e-2]}
    first = tune('bprmf', tiny_splits, grid, BASE, out_dir=tmp_path)
    # run1 "interrupted" after its last checkpoint: its results are gone, the checkpoint stays.
    (tmp_path / 'run1' / 'results.json').unlink()
    fits = []
    real_fit = trainer_module.Trainer.fit

    def spy(self, resume=False, test=True):
        fits.append(resume)
        return real_fit(self, resume=resume, test=test)

    monkeypatch.setattr(trainer_module.Trainer, 'fit', spy)
    again = tune('bprmf', tiny_splits, grid, BASE, out_dir=tmp_path, resume=True)
    assert fits == [True]  # run0 reused as it was, run1 continued from its checkpoint
    assert again['runs'] == first['runs'] and again['selected'] == first['selected']


def test_resume_refuses_a_folder_with_other_settings(tiny_splits, tmp_path):
    tune('bprmf', tiny_splits, {'lr': [1e-3]}, BASE, out_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"run0.*other settings.*'epochs': \(3, 4\)"):
        tune('bprmf', tiny_splits, {'lr': [1e-3]}, {**BASE, 'epochs': 4}, out_dir=tmp_path,
             resume=True)
    with pytest.raises(ConfigError, match='out_dir'):
        tune('bprmf', tiny_splits, {'lr': [1e-3]}, BASE, resume=True)
