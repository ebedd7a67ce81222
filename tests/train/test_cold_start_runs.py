import json

import pytest
import torch

import pyg_mmrec
from pyg_mmrec.errors import CheckpointError, ConfigError, DataError, NotInductiveError
from pyg_mmrec.nn.models import VBPR, LightGCN
from pyg_mmrec.schema import COLD_ITEM, INTERACTS
from pyg_mmrec.train import load_model, resolve
from pyg_mmrec.train.checkpoint import load_checkpoint
from pyg_mmrec.train.evaluation import catalogue, evaluate
from pyg_mmrec.train.trainer import checkpoint_splits
from pyg_mmrec.transforms import ColdStartSplit

FAST = {'epochs': 2, 'progress': False, 'embedding_dim': 16, 'seed': 3}


def _users_with_targets(splits, split, lo, hi):
    target = splits.view(split)[INTERACTS].edge_label_index
    return int(target[0, (target[1] >= lo) & (target[1] < hi)].unique().numel())


@pytest.fixture(scope='module')
def cold_run(tiny_splits, tmp_path_factory):
    out = tmp_path_factory.mktemp('cold')
    results = pyg_mmrec.run('vbpr', tiny_splits, {**FAST, 'cold_items': 0.25}, out_dir=out)
    return results, out


def test_a_cold_start_run_reports_cold_warm_and_all(cold_run, tiny_splits):
    results, _ = cold_run
    assert results['config']['cold_items'] == 0.25
    splits = ColdStartSplit(0.25, seed=3)(tiny_splits)
    warm, n = splits.num_warm_items, splits.num_items
    for split, metrics in (('val', results['valid']), ('test', results['test'])):
        for key in ('Recall@20', 'NDCG@20'):
            assert {key, f'cold/{key}', f'warm/{key}'} <= set(metrics)
        assert metrics['num_users'] == _users_with_targets(splits, split, 0, n)
        assert metrics['cold/num_users'] == _users_with_targets(splits, split, warm, n)
        assert metrics['warm/num_users'] == _users_with_targets(splits, split, 0, warm)


def test_the_checkpoint_reproduces_the_columns_on_its_split(cold_run, tiny_splits):
    results, out = cold_run
    with pytest.raises(CheckpointError, match='was trained on'):
        load_model(out / 'checkpoint.pt', tiny_splits)  # the full dataset is not its data
    ckpt = load_checkpoint(out / 'checkpoint.pt')
    splits = checkpoint_splits(ckpt, tiny_splits)
    model, _ = load_model(out / 'checkpoint.pt', splits)
    again = evaluate(model, splits, 'test')
    assert again == pytest.approx(results['test'])


def test_recommendations_include_cold_items_by_their_original_ids(cold_run, tiny_splits):
    _, out = cold_run
    splits = ColdStartSplit(0.25, seed=3)(tiny_splits)
    cold_ids = set(splits.train[COLD_ITEM].raw_id)
    stored = pyg_mmrec.recommend(out / 'checkpoint.pt', k=tiny_splits.num_items, users=[0, 1])
    rebuilt = pyg_mmrec.recommend(out / 'checkpoint.pt', tiny_splits, k=tiny_splits.num_items,
                                  users=[0, 1])
    assert stored.items == rebuilt.items
    assert cold_ids <= set(stored.items[0])  # never interacted with in training: all ranked
    model, _ = load_model(out / 'checkpoint.pt', splits)
    _, items = catalogue(model, splits)
    assert items.size(0) == tiny_splits.num_items


def test_models_with_nothing_to_fit_are_evaluated_once(tiny_splits, tmp_path):
    results = pyg_mmrec.run('pop', tiny_splits, {'progress': False, 'cold_items': 0.25},
                            out_dir=tmp_path)
    assert results['epochs_run'] == 1 and results['best_epoch'] == 0
    assert 'cold/Recall@20' in results['test']
    model, ckpt = load_model(tmp_path / 'checkpoint.pt', checkpoint_splits(
        load_checkpoint(tmp_path / 'checkpoint.pt'), tiny_splits))
    assert ckpt['optimizer'] is None and list(model.parameters()) == []


def test_without_cold_items_there_is_one_column(tiny_splits):
    results = pyg_mmrec.run('itemknn_cbf', tiny_splits, {'progress': False})
    assert not any('/' in key for key in results['test'])


@pytest.mark.parametrize('value', [1.0, -0.1, 'some'])
def test_cold_items_is_validated(value):
    with pytest.raises(ConfigError, match="'cold_items'"):
        resolve('vbpr', {'cold_items': value})


def test_recommend_ranks_new_items_given_by_their_features(tiny_splits, cold_run):
    torch.manual_seed(0)
    model = VBPR.from_data(tiny_splits.train, embedding_dim=8).eval()
    features = {m: tiny_splits.train['item'][f'x_{m}'][[3, 4, 9]] + 0.5 for m in ('image',
                                                                                  'text')}
    recs = pyg_mmrec.recommend(model, tiny_splits, k=3, users=[0, 1], new_items=features,
                               new_item_ids=['a', 'b', 'c'], only_new=True)
    with torch.no_grad():
        user, _ = catalogue(model, tiny_splits)
        new = model.encode_new_items(tiny_splits.train, features)
    for u, ranked in zip([0, 1], recs.items, strict=True):
        order = (user[u] @ new.t()).argsort(descending=True).tolist()
        assert ranked == [['a', 'b', 'c'][i] for i in order]
    everything = pyg_mmrec.recommend(model, tiny_splits, k=tiny_splits.num_items + 3,
                                     users=[0], new_items=features)
    assert {'new0', 'new1', 'new2'} <= set(everything.items[0])
    with pytest.raises(DataError, match="'7' is repeated or already an item"):
        pyg_mmrec.recommend(model, tiny_splits, new_items=features, new_item_ids=['a', '7', 'c'])
    with pytest.raises(NotInductiveError):
        pyg_mmrec.recommend(LightGCN.from_data(tiny_splits.train), tiny_splits,
                            new_items=features)
    _, out = cold_run
    with pytest.raises(ConfigError, match='pass the dataset'):
        pyg_mmrec.recommend(out / 'checkpoint.pt', new_items=features)
    # a checkpoint with its data: its cold-start split, the new items after its catalogue
    from_ckpt = pyg_mmrec.recommend(out / 'checkpoint.pt', tiny_splits, k=3, users=[0],
                                    new_items=features, only_new=True)
    assert sorted(from_ckpt.items[0]) == ['new0', 'new1', 'new2']


def test_a_search_tests_its_selected_run_on_the_run_s_cold_start_split(tiny_splits, tmp_path):
    summary = pyg_mmrec.tune('vbpr', tiny_splits, {'lr': [1e-3, 1e-2]},
                             {**FAST, 'epochs': 1, 'cold_items': 0.25}, out_dir=tmp_path)
    selected = summary['selected']
    assert 'cold/Recall@20' in selected['test']
    ckpt = load_checkpoint(tmp_path / f"run{selected['run']}" / 'checkpoint.pt')
    splits = checkpoint_splits(ckpt, tiny_splits)
    model, _ = load_model(tmp_path / f"run{selected['run']}" / 'checkpoint.pt', splits)
    assert evaluate(model, splits, 'test') == pytest.approx(selected['test'])


def test_model_selection_may_look_at_the_cold_items_alone(tiny_splits, tmp_path):
    results = pyg_mmrec.run('vbpr', tiny_splits, {**FAST, 'epochs': 6, 'cold_items': 0.25,
                                                  'metric': 'cold/NDCG@5'}, out_dir=tmp_path)
    log = [json.loads(line) for line in (tmp_path / 'log.jsonl').read_text().splitlines()]
    cold = [r['valid']['cold/NDCG@5'] for r in log]
    assert results['best_epoch'] == cold.index(max(cold))
    for config, match in (({'metric': 'cold/Recall@20'}, 'needs cold_items > 0'),
                          ({'metric': 'new/Recall@20', 'cold_items': 0.2}, "'cold/' or"),
                          ({'metric': 'cold/Recall@7', 'cold_items': 0.2}, 'cut-off')):
        with pytest.raises(ConfigError, match=match):
            resolve('vbpr', config)
