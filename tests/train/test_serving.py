"""Recommendations in the source's ids, with the data or from the checkpoint alone."""
import shutil

import numpy as np
import pytest
import torch

import pyg_mmrec
from pyg_mmrec.cli import main
from pyg_mmrec.data import INTERACTS, load_dataset, read_id_map
from pyg_mmrec.errors import CheckpointError, DataError
from pyg_mmrec.train import load_checkpoint, load_model, save_checkpoint
from pyg_mmrec.train.serving import INDEX_KEY


def raw_user(u):
    return f'A{u * 7 % 1000:04d}Z'


def raw_item(i):
    return f'B{(i * 31) % 997:09d}'


@pytest.fixture
def raw_folder(tmp_path, tiny_splits):
    """The tiny synthetic dataset as an MMRec folder with MMRec's id maps (headers as MMRec
    writes them; rows in reverse order, so that row order cannot stand in for the id)."""
    folder = tmp_path / 'toy'
    folder.mkdir()
    rows = ['userID\titemID\tx_label']
    for label, view in enumerate(tiny_splits):
        for u, i in view[INTERACTS].edge_label_index.t().tolist():
            rows.append(f'{u}\t{i}\t{label}')
    (folder / 'toy.inter').write_text('\n'.join(rows) + '\n')
    np.save(folder / 'image_feat.npy', tiny_splits.train['item'].x_image.numpy())
    (folder / 'u_id_mapping.csv').write_text('user_id\tuserID\n' + ''.join(
        f'{raw_user(u)}\t{u}\n' for u in reversed(range(tiny_splits.num_users))))
    (folder / 'i_id_mapping.csv').write_text('asin\titemID\n' + ''.join(
        f'{raw_item(i)}\t{i}\n' for i in reversed(range(tiny_splits.num_items))))
    return folder


@pytest.fixture
def trained(raw_folder, tmp_path):
    out = tmp_path / 'run'
    pyg_mmrec.run('lightgcn', str(raw_folder), {'epochs': 2, 'progress': False,
                                                'embedding_dim': 8}, out_dir=out)
    return out / 'checkpoint.pt'


def test_reader_keeps_the_id_maps(raw_folder, tiny_splits):
    splits = load_dataset(raw_folder)
    assert splits.train['user'].raw_id == [raw_user(u) for u in range(tiny_splits.num_users)]
    assert splits.test['item'].raw_id == [raw_item(i) for i in range(tiny_splits.num_items)]


def test_checkpoint_alone_answers_as_the_model_with_its_data(raw_folder, trained):
    splits = load_dataset(raw_folder)
    model, _ = load_model(trained, splits)
    internal = pyg_mmrec.recommend(model, splits, k=7, split='test', internal_ids=True)
    shutil.rmtree(raw_folder)  # the checkpoint must not need the data
    raw = pyg_mmrec.recommend(trained, k=7, split='test')
    assert raw.users == [raw_user(u) for u in internal.users.tolist()]
    assert raw.items == [[raw_item(i) for i in row if i >= 0] for row in internal.items.tolist()]
    np.testing.assert_allclose([s for row in raw.scores for s in row],
                               internal.scores[internal.items >= 0].tolist(), rtol=1e-6)


def test_raw_users_in_raw_items_out_never_seen(raw_folder, trained):
    splits = load_dataset(raw_folder)
    train = splits.train[INTERACTS].edge_index.t().tolist()
    users = [raw_user(5), raw_user(0), raw_user(17)]
    recs = pyg_mmrec.recommend(trained, k=10, users=users)
    assert recs.users == users
    for u, items, scores in zip((5, 0, 17), recs.items, recs.scores, strict=True):
        seen = {raw_item(i) for uu, i in train if uu == u}
        assert len(items) == 10 and not set(items) & seen
        assert set(items) <= {raw_item(i) for i in range(splits.num_items)}
        assert scores == sorted(scores, reverse=True)
    # The same users by internal id give the same items, by internal id.
    internal = pyg_mmrec.recommend(trained, k=10, users=[5, 0, 17], internal_ids=True)
    assert [[raw_item(i) for i in row] for row in internal.items.tolist()] == recs.items


def test_fewer_than_k_without_padding(trained, raw_folder):
    splits = load_dataset(raw_folder)
    recs = pyg_mmrec.recommend(trained, k=1000, users=[raw_user(3)])
    seen = (splits.train[INTERACTS].edge_index[0] == 3).sum().item()
    assert len(recs.items[0]) == splits.num_items - seen
    assert all(s != float('-inf') for s in recs.scores[0])


def test_unknown_user_is_a_one_line_library_error(trained):
    with pytest.raises(DataError, match=r"unknown user id 'NOPE': not one of the 120 users"):
        pyg_mmrec.recommend(trained, users=[raw_user(1), 'NOPE'])
    with pytest.raises(DataError, match='user id 120 is out of range'):
        pyg_mmrec.recommend(trained, users=[120], internal_ids=True)


def test_checkpoint_without_index(trained, tmp_path):
    ckpt = load_checkpoint(trained)
    del ckpt[INDEX_KEY]
    old = tmp_path / 'old.pt'
    save_checkpoint(old, ckpt)
    with pytest.raises(CheckpointError, match=r'holds no recommendation index .*--data'):
        pyg_mmrec.recommend(old, users=[raw_user(1)])


def test_index_holds_plain_tensors_and_the_maps(trained):
    index = load_checkpoint(trained)[INDEX_KEY]  # loaded with weights_only=True
    assert index['user_ids'][3] == raw_user(3) and index['item_ids'][4] == raw_item(4)
    assert index['user_emb'].shape == (120, 8) and index['item_emb'].shape == (80, 8)
    assert {k: v.dtype for k, v in index['edges'].items()} == dict.fromkeys(
        ('train', 'val', 'test'), torch.int64)


def test_cli_raw_ids_without_data(trained, raw_folder, capsys):
    shutil.rmtree(raw_folder)
    users = f'{raw_user(2)},{raw_user(9)}'
    assert main(['recommend', '--checkpoint', str(trained), '--k', '3', '--users', users]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'user_id\titem_id\trank\tscore'
    rows = [line.split('\t') for line in lines[1:]]
    assert [r[0] for r in rows] == [raw_user(2)] * 3 + [raw_user(9)] * 3
    expected = pyg_mmrec.recommend(trained, k=3, users=[raw_user(2), raw_user(9)])
    assert [r[1] for r in rows] == expected.items[0] + expected.items[1]
    assert main(['recommend', '--checkpoint', str(trained), '--users', 'A9999Q']) == 2
    err = capsys.readouterr().err
    assert "unknown user id 'A9999Q'" in err and err.count('\n') == 1


@pytest.mark.parametrize('text, message', [
    ('asin\titemID\nB1\t0\nB2\t0\n', r'm\.csv, line 3: repeats itemID 0 of line 2'),
    ('asin\titemID\nB1\t0\nB1\t1\n', r"m\.csv, line 3: raw id 'B1' is given to itemID 1 and 0"),
    ('asin\titemID\nB1\t0\n', r'm\.csv: no raw id for itemID 1'),
    ('asin\titemID\nB1\t0\nB2\t5\n', r'm\.csv, line 3: itemID 5 is beyond the 2 ids'),
    ('asin\tx\titemID\nB1\t1\t0\n', r'm\.csv, line 1: header .* expected two'),
    ('asin\titemID\nB1\tzero\n', r"m\.csv, line 2, field 'itemID': 'zero' is not"),
])
def test_bad_id_maps(tmp_path, text, message):
    path = tmp_path / 'm.csv'
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_id_map(path, 'itemID', 2)
