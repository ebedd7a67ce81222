"""split_per_user and DataSplits."""
import numpy as np
import pytest

from pyg_mmrec.data import INTERACTS, from_arrays, split_per_user
from pyg_mmrec.errors import DataError, PygMMRecError


def interleaved_users(sizes, seed=0):
    """User ids with ``sizes[u]`` interactions for user ``u``, in a shuffled order."""
    user = np.repeat(np.arange(len(sizes)), sizes)
    return user[np.random.default_rng(seed).permutation(len(user))]


SIZES = list(range(1, 61))  # users with 1 .. 60 interactions


def counts(user, labels, num_users):
    return np.stack([np.bincount(user[labels == k], minlength=num_users) for k in range(3)], 1)


def test_split_counts_per_user():
    user = interleaved_users(SIZES)
    labels = split_per_user(user, len(SIZES), seed=1)
    assert labels.dtype == np.int64 and labels.shape == user.shape
    assert set(np.unique(labels)) == {0, 1, 2}
    for u, (train, val, test) in enumerate(counts(user, labels, len(SIZES))):
        n = SIZES[u]
        if n < 3:
            assert (train, val, test) == (n, 0, 0)
        else:
            assert val == test == max(1, int(np.floor(0.1 * n))), n
            assert train == n - val - test


def test_mmrec_rule_counts():
    # MMRec's 1splitting.ipynb, by hand: fewer than 10 -> one each; else int(0.2 n) held out,
    # half (rounded down) to validation, the rest to test.
    expected = {3: (1, 1, 1), 9: (7, 1, 1), 10: (8, 1, 1), 14: (12, 1, 1), 15: (12, 1, 2),
                20: (16, 2, 2), 25: (20, 2, 3), 59: (48, 5, 6)}
    sizes = list(expected) + [1, 2]
    user = interleaved_users(sizes)
    labels = split_per_user(user, len(sizes), seed=4, rule='mmrec')
    got = {n: tuple(c) for n, c in zip(sizes, counts(user, labels, len(sizes)).tolist(),
                                         strict=True)}
    assert got == {**expected, 1: (1, 0, 0), 2: (2, 0, 0)}
    with pytest.raises(DataError, match="split rule 'x'"):
        split_per_user(user, len(sizes), rule='x')


@pytest.mark.parametrize('ratios', [(0.6, 0.3, 0.1), (0.5, 0.25, 0.25), (1.0, 0.0, 0.0)])
def test_split_counts_follow_ratios(ratios):
    user = interleaved_users(SIZES)
    c = counts(user, split_per_user(user, len(SIZES), ratios=ratios), len(SIZES))
    n = np.array(SIZES)
    big = n >= 3
    assert np.array_equal(c[big, 1], np.maximum(1, np.floor(ratios[1] * n[big])))
    assert np.array_equal(c[big, 2], np.maximum(1, np.floor(ratios[2] * n[big])))
    assert np.array_equal(c.sum(1), n)


def test_split_is_seeded():
    user = interleaved_users(SIZES)
    a = split_per_user(user, len(SIZES), seed=11)
    assert np.array_equal(a, split_per_user(user, len(SIZES), seed=11))
    b = split_per_user(user, len(SIZES), seed=12)
    assert not np.array_equal(a, b)
    assert np.array_equal(counts(user, a, len(SIZES)), counts(user, b, len(SIZES)))


def test_split_is_random_within_user():
    # Over many seeds, each position of a 10-item user lands in test about equally often.
    user = np.zeros(10, dtype=np.int64)
    hits = sum(split_per_user(user, 1, seed=s) == 2 for s in range(400))
    assert hits.sum() == 400
    assert hits.min() > 15 and hits.max() < 70  # expected 40 each


def test_temporal_split_puts_latest_in_test():
    rng = np.random.default_rng(0)
    user = interleaved_users(SIZES, seed=3)
    time = rng.permutation(len(user)).astype(np.float64)  # distinct timestamps
    labels = split_per_user(user, len(SIZES), order=time, seed=0)
    assert np.array_equal(labels, split_per_user(user, len(SIZES), order=time, seed=99))
    for u in range(len(SIZES)):
        mask = user == u
        t, lab = time[mask], labels[mask]
        ranked = lab[np.argsort(t)]  # labels in chronological order
        assert np.array_equal(ranked, np.sort(ranked)), u  # train < val < test in time
        if SIZES[u] >= 3:
            assert ranked[-1] == 2 and t[lab == 2].min() > t[lab != 2].max()


@pytest.mark.parametrize('ratios', [(0.8, 0.1), (0.9, 0.1, 0.1), (1.2, -0.1, -0.1),
                                    (0.5, 0.2, 0.2, 0.1)])
def test_split_invalid_ratios(ratios):
    with pytest.raises(PygMMRecError, match='ratios'):
        split_per_user(np.zeros(5, dtype=np.int64), 1, ratios=ratios)


def small_splits():
    user = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2])
    item = np.array([0, 1, 2, 0, 3, 4, 1, 2, 3])
    split = np.array([0, 1, 2, 0, 0, 2, 1, 0, 2])
    features = {'image': np.zeros((6, 4), np.float32), 'text': np.ones((6, 3), np.float32)}
    graphs = {'image': {'edge_index': np.array([[0, 1, 2], [1, 2, 0]])}}
    return from_arrays(user, item, split, features=features, graphs=graphs, name='small')


def test_summary():
    splits = small_splits()
    assert splits.summary() == {
        'name': 'small', 'users': 3, 'items': 6,
        'train_interactions': 4, 'val_interactions': 2, 'test_interactions': 3,
        'modalities': {'image': 4, 'text': 3}, 'graphs': {'image': 3},
        'eval_users_dropped': 0,
    }


def test_views_by_name_and_unpacking():
    splits = small_splits()
    train, val, test = splits
    assert splits.view('train') is train and splits.view('val') is val
    assert splits.view('test') is test
    assert val[INTERACTS].edge_label_index.tolist() == [[0, 1], [1, 1]]
    with pytest.raises(DataError, match='bogus'):
        splits.view('bogus')
    # features are shared, not copied, between views
    assert train['item'].x_image.data_ptr() == test['item'].x_image.data_ptr()
