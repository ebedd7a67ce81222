import numpy as np
import pytest
import torch

from pyg_mmrec.data import from_arrays, make_synthetic, split_per_user
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.graph import ensure_modality_graphs, knn_graph_from_features
from pyg_mmrec.nn.models import LATTICE
from pyg_mmrec.schema import COLD_ITEM, INTERACTS, graph_type
from pyg_mmrec.train import make_trainer
from pyg_mmrec.transforms import ColdStartSplit


@pytest.fixture(scope='module')
def shipped():
    """A dataset with raw ids, features and an item-item graph of its own."""
    rng = np.random.default_rng(0)
    num_users, num_items = 60, 40
    user = np.repeat(np.arange(num_users), 8)
    item = np.concatenate([rng.choice(num_items, 8, replace=False) for _ in range(num_users)])
    split = split_per_user(user, num_users, seed=0)
    graph = {'edge_index': np.stack([np.arange(num_items), (np.arange(num_items) + 1) % num_items]),
             'edge_weight': np.linspace(0.1, 1.0, num_items)}
    splits = from_arrays(user, item, split, num_items=num_items,
                         features={'image': rng.normal(size=(num_items, 6)),
                                   'text': rng.normal(size=(num_items, 4))},
                         graphs={'audio': graph}, name='shipped')
    for view in splits:
        view['item'].raw_id = [f'i{i}' for i in range(num_items)]
    return splits


def _interactions(splits):
    """Every (user, raw item, split) triple of a dataset, as a set."""
    raw = list(splits.train['item'].raw_id)
    if splits.num_cold_items:
        raw += list(splits.train[COLD_ITEM].raw_id)
    out = set()
    for label, view in enumerate(splits):
        index = view[INTERACTS].edge_index if label == 0 else view[INTERACTS].edge_label_index
        out |= {(u, raw[i], label) for u, i in index.t().tolist()}
    return out


def test_cold_items_leave_every_training_structure(shipped):
    cold = ColdStartSplit(0.25, seed=1)(shipped)
    warm, num_cold = cold.num_warm_items, cold.num_cold_items
    assert num_cold == 10 and warm == 30 and cold.num_items == shipped.num_items
    train = cold.train
    cold_raw = set(train[COLD_ITEM].raw_id)
    assert not cold_raw & set(train['item'].raw_id)
    # interaction graph: warm items only, none of a cold item's interactions
    assert int(train[INTERACTS].edge_index[1].max()) < warm
    # features: the warm rows in training, the cold rows apart, each with its own item
    for m in ('image', 'text'):
        x = shipped.train['item'][f'x_{m}']
        assert torch.equal(train['item'][f'x_{m}'],
                           x[[int(r[1:]) for r in train['item'].raw_id]])
        assert torch.equal(train[COLD_ITEM][f'x_{m}'],
                           x[[int(r[1:]) for r in train[COLD_ITEM].raw_id]])
    # the shipped item-item graph keeps its warm-warm edges, renumbered
    edges = train[graph_type('audio')].edge_index
    assert int(edges.max()) < warm
    raw = train['item'].raw_id
    kept = {(raw[a], raw[b]) for a, b in edges.t().tolist()}
    original = {(f'i{a}', f'i{b}') for a, b in
                shipped.train[graph_type('audio')].edge_index.t().tolist()}
    assert kept == {(a, b) for a, b in original if a not in cold_raw and b not in cold_raw}
    # a graph computed later (a model's frozen kNN graphs) is built over the warm items only
    ensure_modality_graphs(train, 3)
    for m in ('image', 'text'):
        assert int(train[graph_type(m)].edge_index.max()) < warm
    # negatives are drawn among the warm items; the adjacency has warm items only
    trainer = make_trainer('vlightgcn', shipped, {'cold_items': 0.25, 'seed': 1,
                                                  'progress': False})
    assert trainer.model.num_items == warm
    size = shipped.num_users + warm  # degrees are those of the warm items' graph
    assert trainer.model.adjacency(trainer.splits.train).shape == (size, size)
    assert trainer.loader.sampler.num_items == warm
    negatives = torch.cat([neg for _, _, neg in trainer.loader])
    assert int(negatives.max()) < warm


def test_every_interaction_of_a_cold_item_goes_to_its_split(shipped):
    cold = ColdStartSplit(0.25, seed=1)(shipped)
    role = dict(zip(cold.train[COLD_ITEM].raw_id, cold.train[COLD_ITEM].split.tolist(),
                    strict=True))
    assert sorted(role.values()).count(1) == 5 and sorted(role.values()).count(2) == 5
    before, after = _interactions(shipped), _interactions(cold)
    for u, i, label in before:
        if i in role:  # a cold item's interaction: in its split, whatever split it had
            assert (u, i, role[i]) in after
        else:  # a warm item's keeps its split (its user may have lost every training one)
            assert (u, i, label) in after or label > 0
    assert {(u, i) for u, i, _ in after} <= {(u, i) for u, i, _ in before}
    # a user without training interaction left is not evaluated
    trained = set(cold.train[INTERACTS].edge_index[0].tolist())
    for view in (cold.val, cold.test):
        assert set(view[INTERACTS].edge_label_index[0].tolist()) <= trained


def test_the_draw_follows_the_seed(shipped):
    a, b = ColdStartSplit(0.2, seed=3)(shipped), ColdStartSplit(0.2, seed=3)(shipped)
    c = ColdStartSplit(0.2, seed=4)(shipped)
    assert a.train[COLD_ITEM].raw_id == b.train[COLD_ITEM].raw_id
    assert a.train[COLD_ITEM].raw_id != c.train[COLD_ITEM].raw_id
    assert torch.equal(a.val[INTERACTS].edge_label_index, b.val[INTERACTS].edge_label_index)


def test_items_without_raw_ids_keep_their_original_ids():
    splits = make_synthetic(num_users=50, num_items=30, mean_interactions=6, seed=1)
    cold = ColdStartSplit(0.2, seed=0)(splits)
    ids = [int(r) for r in list(cold.train['item'].raw_id) + list(cold.train[COLD_ITEM].raw_id)]
    assert sorted(ids) == list(range(30))
    assert torch.equal(cold.train['item'].x_image, splits.train['item'].x_image[ids[:24]])


def test_frozen_graph_models_compute_their_graphs_from_warm_features(shipped):
    view = ColdStartSplit(0.25, seed=1)(shipped).train
    LATTICE.from_data(view, knn_k=3)
    graph = set(map(tuple, view[graph_type('image')].edge_index.t().tolist()))
    expected, _ = knn_graph_from_features(view['item'].x_image, 3)  # the warm rows only
    assert set(map(tuple, expected.t().tolist())) <= graph
    assert max(max(e) for e in graph) < view['item'].num_nodes


@pytest.mark.parametrize('share', [0.0, 1.0, -0.2, True, '0.2'])
def test_share_out_of_range_is_refused(share):
    with pytest.raises(ConfigError, match="'cold_items'"):
        ColdStartSplit(share)


def test_refuses_too_few_items_data_without_features_and_a_second_split(shipped,
                                                                        graph_only_splits):
    with pytest.raises(ConfigError, match='at least 2 cold items'):
        ColdStartSplit(0.01)(shipped)
    with pytest.raises(DataError, match='needs item features'):
        ColdStartSplit(0.2)(graph_only_splits)
    with pytest.raises(DataError, match='cold-start split already'):
        ColdStartSplit(0.2)(ColdStartSplit(0.2)(shipped))
