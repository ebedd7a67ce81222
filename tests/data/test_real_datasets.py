"""Integration: the real datasets under the data root (``--data-root`` / ``PYG_MMREC_DATA`` /
``../shared/data``; skipped when absent)."""
import logging

import numpy as np
import pytest
import torch

from pyg_mmrec.data import INTERACTS, data_root, graph_type, load_mmrec, load_movielens100k

DATA = data_root()


def needs(folder: str):
    return pytest.mark.skipif(not (DATA / folder).is_dir(), reason=f'{DATA / folder} missing')


def pairs(edge_index: torch.Tensor) -> set:
    return set(map(tuple, edge_index.t().tolist()))


@needs('tiktok')
def test_tiktok(caplog):
    raw = np.loadtxt(DATA / 'tiktok' / 'tiktok.inter', dtype=np.int64, skiprows=1, delimiter='\t')
    user, item, label = raw.T
    with caplog.at_level(logging.WARNING, logger='pyg_mmrec.data'):
        splits = load_mmrec(DATA / 'tiktok')
    summary = splits.summary()
    assert summary['name'] == 'tiktok'
    assert summary['users'] == 9308 and summary['items'] == 6710
    assert summary['train_interactions'] == 59541 == int((label == 0).sum())
    assert summary['modalities'] == {'audio': 128, 'image': 128}
    assert summary['graphs'] == {}
    for m in ('audio', 'image'):
        x = splits.train['item'][f'x_{m}']
        assert x.dtype == torch.float32 and bool(torch.isfinite(x).all())
        expected = np.load(DATA / 'tiktok' / f'{m}_feat.npy')
        assert torch.equal(x, torch.from_numpy(expected))

    # Users with held-out interactions but none in training, computed from the raw file.
    with_train = np.zeros(user.max() + 1, dtype=bool)
    with_train[user[label == 0]] = True
    cold = np.setdiff1d(np.unique(user[label != 0]), np.flatnonzero(with_train))
    assert cold.size > 0
    assert summary['eval_users_dropped'] == cold.size
    assert any(f'{cold.size} users' in r.getMessage() for r in caplog.records)
    for split_label, view in ((1, splits.val), (2, splits.test)):
        keep = (label == split_label) & with_train[user]
        got = view[INTERACTS].edge_label_index
        assert got.size(1) == int(keep.sum())
        assert not np.isin(got[0].numpy(), cold).any()
        assert pairs(got) == set(zip(user[keep].tolist(), item[keep].tolist(), strict=True))
        assert torch.equal(view[INTERACTS].edge_index, splits.train[INTERACTS].edge_index)


@needs('amazon-baby')
def test_amazon_baby_graphs():
    splits = load_mmrec(DATA / 'amazon-baby')
    summary = splits.summary()
    assert summary['items'] == 7050 and summary['users'] == 19445
    assert summary['graphs'] == {'image': 70500, 'text': 70500}
    assert summary['modalities'] == {}
    assert summary['train_interactions'] == 119674
    assert summary['val_interactions'] == summary['test_interactions'] == 20559
    for m in ('image', 'text'):
        store = splits.train[graph_type(m)]
        assert store.edge_index.shape == (2, 70500) and store.edge_index.dtype == torch.long
        assert int(store.edge_index.min()) >= 0 and int(store.edge_index.max()) < 7050
        assert store.edge_weight.shape == (70500, ) and store.edge_weight.dtype == torch.float32
        # 10 neighbours per item
        assert torch.equal(torch.bincount(store.edge_index[0], minlength=7050).unique(),
                           torch.tensor([10]))


@needs('ml-100k')
def test_movielens100k_real():
    splits = load_movielens100k(DATA / 'ml-100k', seed=0)
    assert (splits.num_users, splits.num_items) == (943, 1682)
    counts = [view[INTERACTS].edge_label_index.size(1) for view in splits]
    assert sum(counts) == 100000
    assert 0.78 < counts[0] / 100000 < 0.82
    assert splits.train['item'].text[0] == "Toy Story (1995): Animation Children's Comedy"
