"""Readers: MMRec folders, MovieLens-100K atomic files, in-memory arrays, and bad input."""
import logging
import re
import zipfile

import numpy as np
import pytest
import torch

from pyg_mmrec.data import (
    INTERACTS,
    from_arrays,
    graph_modalities,
    graph_type,
    load_dataset,
    load_mmrec,
    load_movielens100k,
    modalities,
)
from pyg_mmrec.errors import DataError

HEADER = 'userID\titemID\tx_label'

# (user, item, x_label); line numbers in the file are index + 2 (the header is line 1).
ROWS = [
    (0, 0, 0), (0, 1, 0), (0, 2, 1), (0, 3, 2),
    (1, 1, 0), (1, 4, 0), (1, 0, 1), (1, 2, 2),
    (2, 2, 0), (2, 3, 0), (2, 4, 2),
    (3, 0, 0), (3, 4, 0),
]
NUM_FEATURE_ROWS = 6  # more rows than max item id + 1 = 5: item 5 has no interaction
GRAPH_EDGES = np.array([[0, 1, 2, 5, 3], [1, 0, 5, 2, 4]], dtype=np.int64)


def pairs(edge_index):
    return sorted(map(tuple, edge_index.t().tolist()))


def write_inter(folder, rows=ROWS, header=HEADER, name='toy'):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [header] + ['\t'.join(str(v) for v in r) for r in rows]
    path = folder / f'{name}.inter'
    path.write_text('\n'.join(lines) + '\n')
    return path


def features(rows=NUM_FEATURE_ROWS, dim=3, seed=0):
    return np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)


def write_graph(folder, modality='image', **overrides):
    arrays = dict(edge_index=GRAPH_EDGES, edge_weight=np.linspace(0.1, 0.5, 5, dtype=np.float32),
                  num_items=np.int64(NUM_FEATURE_ROWS))
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = folder / f'{modality}_knn5.npz'
    np.savez(path, **arrays)
    return path


@pytest.fixture
def toy(tmp_path):
    """A valid MMRec folder: interactions, two feature files and one graph."""
    folder = tmp_path / 'toy'
    write_inter(folder)
    np.save(folder / 'image_feat.npy', features(dim=3, seed=0))
    np.save(folder / 'audio_feat.npy', features(dim=2, seed=1))
    write_graph(folder)
    return folder


def load_error(folder) -> str:
    with pytest.raises(DataError) as info:
        load_mmrec(folder)
    return str(info.value)


def assert_line(message: str, line: int):
    assert re.search(rf'\bline {line}\b', message), f"line {line} not named in: {message}"


# --------------------------------------------------------------------------- load_mmrec


def test_load_mmrec_views(toy):
    splits = load_mmrec(toy)
    assert splits.name == 'toy'
    assert splits.num_users == 4
    assert splits.num_items == NUM_FEATURE_ROWS  # from the feature rows, not max item id + 1
    rows = np.array(ROWS)
    train_pairs = sorted(map(tuple, rows[rows[:, 2] == 0, :2].tolist()))
    for label, view in enumerate(splits):
        assert view['user'].num_nodes == 4
        assert view['item'].num_nodes == NUM_FEATURE_ROWS
        store = view[INTERACTS]
        assert store.edge_index.shape == (2, len(train_pairs))
        assert store.edge_index.dtype == torch.long
        assert pairs(store.edge_index) == train_pairs
        assert torch.equal(store.edge_index, splits.train[INTERACTS].edge_index)
        expected = sorted(map(tuple, rows[rows[:, 2] == label, :2].tolist()))
        assert pairs(store.edge_label_index) == expected
        assert view.eval_users_dropped == 0


def test_load_mmrec_features_and_graphs(toy):
    splits = load_mmrec(toy)
    image, audio = np.load(toy / 'image_feat.npy'), np.load(toy / 'audio_feat.npy')
    for view in splits:
        assert modalities(view) == ['audio', 'image']
        assert view['item'].x_image.dtype == torch.float32
        assert view['item'].x_image.shape == (NUM_FEATURE_ROWS, 3)
        assert view['item'].x_audio.shape == (NUM_FEATURE_ROWS, 2)
        assert torch.equal(view['item'].x_image, torch.from_numpy(image))
        assert torch.equal(view['item'].x_audio, torch.from_numpy(audio))
        assert graph_modalities(view) == ['image']
        store = view[graph_type('image')]
        assert store.edge_index.dtype == torch.long
        assert torch.equal(store.edge_index, torch.from_numpy(GRAPH_EDGES))
        assert torch.allclose(store.edge_weight, torch.linspace(0.1, 0.5, 5))
    assert graph_type('image') == ('item', 'knn_image', 'item')


def test_load_mmrec_name_argument_and_num_items_without_features(tmp_path):
    folder = tmp_path / 'plain'
    write_inter(folder, name='plain')
    splits = load_mmrec(folder, name='renamed')
    assert splits.name == 'renamed'
    assert splits.num_items == 5  # max item id + 1 when nothing else says otherwise
    assert modalities(splits.train) == [] and graph_modalities(splits.train) == []


def test_load_mmrec_tolerates_trailing_blank_lines_and_crlf(tmp_path):
    folder = tmp_path / 'crlf'
    folder.mkdir()
    text = '\r\n'.join([HEADER] + ['\t'.join(map(str, r)) for r in ROWS]) + '\r\n\r\n\n'
    (folder / 'crlf.inter').write_text(text, newline='')
    splits = load_mmrec(folder)
    assert splits.train[INTERACTS].edge_index.size(1) == 8


def test_load_dataset_dispatches(toy):
    splits = load_dataset(toy)
    assert splits.num_items == NUM_FEATURE_ROWS
    with pytest.raises(DataError, match='no such dataset'):
        load_dataset(toy / 'missing')


# ----------------------------------------------------------------- load_mmrec: bad input


def test_error_malformed_header(toy):
    write_inter(toy, header='userID\titem\tx_label')
    message = load_error(toy)
    assert 'toy.inter' in message and 'header' in message and 'itemID' in message
    assert_line(message, 1)
    write_inter(toy, header='userID itemID x_label')  # spaces instead of tabs
    message = load_error(toy)
    assert 'toy.inter' in message and 'header' in message
    assert_line(message, 1)


def test_error_wrong_field_count(toy):
    rows = list(ROWS)
    rows[2] = (0, 2)  # file line 4
    write_inter(toy, rows)
    message = load_error(toy)
    assert 'toy.inter' in message and 'expected 3' in message and 'got 2' in message
    assert_line(message, 4)


@pytest.mark.parametrize('column, value', [(1, '3.5'), (0, 'abc'), (1, '-1'), (2, '1e0'),
                                           (1, '99999999999999999999')])
def test_error_bad_id(toy, column, value):
    rows = [list(r) for r in ROWS]
    rows[5][column] = value  # file line 7
    write_inter(toy, rows)
    message = load_error(toy)
    assert 'toy.inter' in message
    assert repr(value) in message
    assert repr(['userID', 'itemID', 'x_label'][column]) in message
    assert_line(message, 7)


def test_error_item_beyond_feature_rows(toy):
    rows = ROWS + [(3, NUM_FEATURE_ROWS, 0)]  # file line 15
    write_inter(toy, rows)
    message = load_error(toy)
    assert 'toy.inter' in message and f'item id {NUM_FEATURE_ROWS}' in message
    assert_line(message, len(ROWS) + 2)


@pytest.mark.parametrize('value', [np.nan, np.inf, -np.inf])
def test_error_non_finite_features(toy, value):
    image = features(dim=3)
    image[4, 1] = value
    np.save(toy / 'image_feat.npy', image)
    message = load_error(toy)
    assert 'image_feat.npy' in message and 'NaN or inf' in message and 'item 4' in message


@pytest.mark.parametrize('shape', [(NUM_FEATURE_ROWS, ), (NUM_FEATURE_ROWS, 2, 2)])
def test_error_features_not_2d(toy, shape):
    np.save(toy / 'image_feat.npy', np.zeros(shape, dtype=np.float32))
    message = load_error(toy)
    assert 'image_feat.npy' in message and str(shape) in message


def test_error_features_wrong_rows(toy):
    np.save(toy / 'image_feat.npy', features(rows=NUM_FEATURE_ROWS - 1))
    message = load_error(toy)
    assert 'image_feat.npy' in message
    assert f'{NUM_FEATURE_ROWS - 1} rows' in message and f'({NUM_FEATURE_ROWS})' in message


@pytest.mark.parametrize('array', [np.ones((NUM_FEATURE_ROWS, 2), dtype=complex),
                                   np.full((NUM_FEATURE_ROWS, 2), 'a')])
def test_error_features_not_real_numbers(toy, array):
    np.save(toy / 'image_feat.npy', array)
    message = load_error(toy)
    assert 'image_feat.npy' in message and str(array.dtype) in message


def test_error_duplicate_interaction(toy):
    rows = list(ROWS)
    rows.insert(9, (0, 1, 2))  # (0, 1) first at line 3, again at line 11
    write_inter(toy, rows)
    message = load_error(toy)
    assert 'toy.inter' in message and 'duplicate' in message
    assert 'user 0, item 1' in message
    assert_line(message, 3)
    assert_line(message, 11)


@pytest.mark.parametrize('label, name', [(1, 'val'), (2, 'test')])
def test_error_empty_split(toy, label, name):
    write_inter(toy, [r for r in ROWS if r[2] != label])
    message = load_error(toy)
    assert 'toy.inter' in message and f'{name} split is empty' in message


def test_error_header_only_and_empty_file(toy):
    write_inter(toy, rows=[])
    message = load_error(toy)
    assert 'toy.inter' in message and 'no interactions' in message
    (toy / 'toy.inter').write_text('')
    message = load_error(toy)
    assert 'toy.inter' in message and 'empty' in message


def test_error_unknown_split_label(toy):
    rows = list(ROWS)
    rows[6] = (1, 0, 3)  # file line 8
    write_inter(toy, rows)
    message = load_error(toy)
    assert 'toy.inter' in message and 'split label 3' in message
    assert_line(message, 8)


def test_error_corrupt_npy(toy):
    (toy / 'image_feat.npy').write_bytes(b'this is not a numpy file at all')
    assert 'image_feat.npy' in load_error(toy)
    # A valid header with truncated data.
    np.save(toy / 'image_feat.npy', features())
    data = (toy / 'image_feat.npy').read_bytes()
    (toy / 'image_feat.npy').write_bytes(data[:-7])
    assert 'image_feat.npy' in load_error(toy)
    # Object arrays would need pickle, which must stay disabled.
    np.save(toy / 'image_feat.npy', np.array([[1, 'a']], dtype=object), allow_pickle=True)
    assert 'image_feat.npy' in load_error(toy)


def test_error_corrupt_npz(toy):
    path = toy / 'image_knn5.npz'
    path.write_bytes(b'garbage, not a zip archive')
    assert 'image_knn5.npz' in load_error(toy)
    data = write_graph(toy).read_bytes()
    path.write_bytes(data[:len(data) // 2])  # truncated archive
    assert 'image_knn5.npz' in load_error(toy)
    # A well-formed zip whose compressed member is damaged.
    np.savez_compressed(path, edge_index=GRAPH_EDGES, edge_weight=np.ones(5, np.float32),
                        num_items=np.int64(NUM_FEATURE_ROWS))
    with zipfile.ZipFile(path) as z:
        info = z.getinfo('edge_index.npy')
    raw = bytearray(path.read_bytes())
    offset = info.header_offset  # the local header: name and extra lengths at bytes 26..29
    start = (offset + 30 + int.from_bytes(raw[offset + 26:offset + 28], 'little')
             + int.from_bytes(raw[offset + 28:offset + 30], 'little'))
    for k in range(start, start + info.compress_size):
        raw[k] ^= 0x5A
    path.write_bytes(bytes(raw))
    assert 'image_knn5.npz' in load_error(toy)


@pytest.mark.parametrize('key', ['edge_index', 'edge_weight', 'num_items'])
def test_error_npz_missing_key(toy, key):
    write_graph(toy, **{key: None})
    message = load_error(toy)
    assert 'image_knn5.npz' in message and repr(key) in message


@pytest.mark.parametrize('edge_index, bad', [([[0, 1], [NUM_FEATURE_ROWS, 0]], 'max 6'),
                                             ([[-1, 1], [1, 0]], 'min -1')])
def test_error_graph_ids_out_of_range(toy, edge_index, bad):
    write_graph(toy, edge_index=np.array(edge_index), edge_weight=np.ones(2, np.float32))
    message = load_error(toy)
    assert 'image_knn5.npz' in message and 'outside [0, 6)' in message and bad in message


def test_error_graph_bad_num_items_or_weights(toy):
    write_graph(toy, num_items=np.int64(NUM_FEATURE_ROWS - 1))
    message = load_error(toy)
    assert 'image_knn5.npz' in message and f'num_items={NUM_FEATURE_ROWS - 1}' in message
    write_graph(toy, num_items=np.int64(NUM_FEATURE_ROWS + 3))  # now the features are short
    message = load_error(toy)
    assert 'feat.npy' in message and f'expected one per item ({NUM_FEATURE_ROWS + 3})' in message
    write_graph(toy, num_items=np.array([6, 6]))
    assert 'image_knn5.npz' in load_error(toy)
    write_graph(toy, edge_weight=np.ones(4, np.float32))
    message = load_error(toy)
    assert 'image_knn5.npz' in message and 'edge_weight' in message
    write_graph(toy, edge_weight=np.array([1, np.nan, 1, 1, 1], np.float32))
    message = load_error(toy)
    assert 'image_knn5.npz' in message and 'NaN' in message


def test_error_inter_file_count(tmp_path, toy):
    empty = tmp_path / 'empty'
    empty.mkdir()
    assert 'none' in load_error(empty)
    write_inter(toy, name='second')
    message = load_error(toy)
    assert 'toy.inter' in message and 'second.inter' in message
    assert 'not a directory' in load_error(tmp_path / 'missing')


# ----------------------------------------------------------------- load_movielens100k

ML_INTER_HEADER = 'user_id:token\titem_id:token\trating:float\ttimestamp:float'
ML_ITEM_HEADER = 'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq'
ML_USERS = [1, 2, 5, 7, 8, 11, 12, 20, 21, 30, 33, 40, 41, 42, 50, 51]
ML_ITEMS = list(range(1, 61))


def ml_rows(seed=0):
    """Ratings of users with 1 to 40 items; original user and item ids from 1, with gaps."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, u in enumerate(ML_USERS):
        n = [1, 2, 3][k] if k < 3 else int(rng.integers(4, 41))
        for i in rng.choice(ML_ITEMS[:-2], size=n, replace=False):  # last 2 items: no rating
            rows.append((u, int(i), int(rng.integers(1, 6)), int(rng.integers(8e8, 9e8))))
    order = rng.permutation(len(rows))
    return [rows[j] for j in order]


def write_ml(folder, rows=None, items=ML_ITEMS):
    folder.mkdir(parents=True, exist_ok=True)
    rows = ml_rows() if rows is None else rows
    (folder / 'ml-100k.inter').write_text(
        '\n'.join([ML_INTER_HEADER] + ['\t'.join(map(str, r)) for r in rows]) + '\n')
    shuffled = np.random.default_rng(1).permutation(items)  # listed out of order
    (folder / 'ml-100k.item').write_text('\n'.join(
        [ML_ITEM_HEADER] + [f'{i}\tMovie {i}\t{1900 + i}\tDrama Genre{i % 3}' for i in shuffled]
    ) + '\n')
    return rows


def all_pairs(splits):
    return sorted(p for view in splits for p in pairs(view[INTERACTS].edge_label_index))


def test_movielens_remaps_ids_and_reads_texts(tmp_path):
    rows = write_ml(tmp_path)
    splits = load_movielens100k(tmp_path)
    assert splits.name == 'ml-100k'
    assert splits.num_users == len(ML_USERS)
    assert splits.num_items == len(ML_ITEMS)  # every listed item, rated or not
    user_map = {u: k for k, u in enumerate(sorted(ML_USERS))}
    item_map = {i: k for k, i in enumerate(sorted(ML_ITEMS))}
    expected = sorted((user_map[u], item_map[i]) for u, i, _, _ in rows)
    assert all_pairs(splits) == expected
    for view in splits:
        text = view['item'].text
        assert len(text) == len(ML_ITEMS)
        assert text[0] == 'Movie 1 (1901): Drama Genre1'
        assert text[item_map[42]] == 'Movie 42 (1942): Drama Genre0'


def per_user_counts(splits):
    counts = np.zeros((splits.num_users, 3), dtype=np.int64)
    for label, view in enumerate(splits):
        counts[:, label] = np.bincount(view[INTERACTS].edge_label_index[0].numpy(),
                                       minlength=splits.num_users)
    return counts


def test_movielens_split_per_user(tmp_path):
    write_ml(tmp_path)
    counts = per_user_counts(load_movielens100k(tmp_path, seed=3))
    n = counts.sum(1)
    assert sorted(n[:3].tolist()) == [1, 2, 3]
    for (train, val, test), total in zip(counts, n, strict=True):
        if total >= 3:
            assert val == test == max(1, total // 10)
            assert train == total - val - test
        else:
            assert (val, test) == (0, 0)
    big = n >= 10
    shares = counts[big].sum(0) / n[big].sum()
    assert 0.75 <= shares[0] <= 0.85 and 0.07 <= shares[1] <= 0.125


def test_movielens_split_is_seeded(tmp_path):
    write_ml(tmp_path)
    first, again = load_movielens100k(tmp_path, seed=5), load_movielens100k(tmp_path, seed=5)
    other = load_movielens100k(tmp_path, seed=6)
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a[INTERACTS].edge_label_index, b[INTERACTS].edge_label_index)
    assert pairs(first.test[INTERACTS].edge_label_index) != pairs(
        other.test[INTERACTS].edge_label_index)
    assert all_pairs(first) == all_pairs(other)  # the same interactions, split differently


def test_movielens_via_load_dataset_and_custom_ratios(tmp_path):
    write_ml(tmp_path)
    splits = load_dataset(tmp_path, seed=1, ratios=(0.6, 0.2, 0.2))
    counts = per_user_counts(splits)
    n = counts.sum(1)
    assert np.array_equal(counts[n >= 3, 1], np.maximum(1, np.floor(0.2 * n[n >= 3])))


def test_movielens_unknown_item(tmp_path):
    rows = ml_rows() + [(1, 99, 4, 881250949)]
    write_ml(tmp_path, rows)
    with pytest.raises(DataError) as info:
        load_movielens100k(tmp_path)
    assert 'item id 99' in str(info.value) and 'ml-100k.item' in str(info.value)


def test_movielens_duplicate_item_listing(tmp_path):
    write_ml(tmp_path, items=ML_ITEMS + [7])
    with pytest.raises(DataError) as info:
        load_movielens100k(tmp_path)
    assert 'ml-100k.item' in str(info.value) and 'item id 7' in str(info.value)


def test_movielens_duplicate_rating_and_missing_files(tmp_path):
    rows = ml_rows()
    write_ml(tmp_path, rows + [rows[4]])
    with pytest.raises(DataError) as info:
        load_movielens100k(tmp_path)
    message = str(info.value)
    assert 'ml-100k.inter' in message and 'duplicate' in message
    assert_line(message, 6)
    assert_line(message, len(rows) + 2)
    with pytest.raises(DataError, match='ml-100k.inter'):
        load_movielens100k(tmp_path / 'nowhere')


# ----------------------------------------------------------------------- from_arrays


def test_from_arrays_in_memory():
    rows = np.array(ROWS)
    image = torch.from_numpy(features(dim=4))
    graph = {'edge_index': torch.from_numpy(GRAPH_EDGES)}  # no edge_weight: ones
    splits = from_arrays(rows[:, 0], rows[:, 1].tolist(), rows[:, 2].astype(np.float64),
                         features={'image': image, 'text': features(dim=2).astype(np.float64)},
                         graphs={'text': graph}, name='mem')
    assert splits.name == 'mem'
    assert splits.num_users == 4 and splits.num_items == NUM_FEATURE_ROWS
    assert pairs(splits.val[INTERACTS].edge_label_index) == [(0, 2), (1, 0)]
    assert torch.equal(splits.test['item'].x_image, image)
    assert splits.train['item'].x_text.dtype == torch.float32
    assert torch.equal(splits.train[graph_type('text')].edge_weight, torch.ones(5))
    # num_items / num_users given explicitly, and from a graph's num_items.
    splits = from_arrays(rows[:, 0], rows[:, 1], rows[:, 2], num_users=10, num_items=20)
    assert (splits.num_users, splits.num_items) == (10, 20)
    splits = from_arrays(rows[:, 0], rows[:, 1], rows[:, 2],
                         graphs={'g': {'edge_index': GRAPH_EDGES, 'num_items': 9}})
    assert splits.num_items == 9


@pytest.mark.parametrize('change, fragment', [
    (lambda u, i, s: (u, i.astype(float) + 0.5, s), 'item[0] = 0.5'),
    (lambda u, i, s: (u - 1, i, s), 'negative'),
    (lambda u, i, s: (u, i[:-1], s), 'differ in length'),
    (lambda u, i, s: (u, i.astype(str), s), 'dtype'),
    (lambda u, i, s: (u[:0], i[:0], s[:0]), 'no interactions'),
])
def test_from_arrays_bad_arrays(change, fragment):
    rows = np.array(ROWS)
    with pytest.raises(DataError, match=re.escape(fragment)):
        from_arrays(*change(rows[:, 0], rows[:, 1], rows[:, 2]), name='mem')


def test_from_arrays_errors_name_positions_without_line_offset():
    rows = np.array(ROWS + [(0, 1, 0)])
    with pytest.raises(DataError, match=r'interaction 13, first seen at interaction 1\b'):
        from_arrays(rows[:, 0], rows[:, 1], rows[:, 2], name='mem')
    rows = np.array(ROWS)
    with pytest.raises(DataError, match='user id 3 is out of range; there are 3 users'):
        from_arrays(rows[:, 0], rows[:, 1], rows[:, 2], num_users=3)
    with pytest.raises(DataError, match='edge_index'):
        from_arrays(rows[:, 0], rows[:, 1], rows[:, 2], graphs={'g': {'edge_weight': [1.0]}})
    with pytest.raises(DataError, match='integer'):
        from_arrays(rows[:, 0], rows[:, 1], rows[:, 2],
                    graphs={'g': {'edge_index': GRAPH_EDGES.astype(float)}})


# --------------------------------------------------------------- users without training


def test_users_without_training_are_dropped(tmp_path, caplog):
    rows = ROWS + [(4, 0, 1), (4, 2, 2), (5, 3, 2), (6, 1, 0)]  # users 4, 5: no training
    write_inter(tmp_path / 'toy', rows)
    with caplog.at_level(logging.WARNING, logger='pyg_mmrec.data'):
        splits = load_mmrec(tmp_path / 'toy')
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert '2 users' in warnings[0].getMessage() and 'toy.inter' in warnings[0].getMessage()
    assert splits.num_users == 7  # the users still exist as nodes
    for view in splits:
        assert view.eval_users_dropped == 2
    assert splits.summary()['eval_users_dropped'] == 2
    assert pairs(splits.val[INTERACTS].edge_label_index) == [(0, 2), (1, 0)]
    assert pairs(splits.test[INTERACTS].edge_label_index) == [(0, 3), (1, 2), (2, 4)]
    assert (6, 1) in pairs(splits.train[INTERACTS].edge_label_index)


def test_no_warning_when_no_user_is_dropped(toy, caplog):
    with caplog.at_level(logging.WARNING, logger='pyg_mmrec.data'):
        splits = load_mmrec(toy)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert splits.train.eval_users_dropped == 0
