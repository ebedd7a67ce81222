"""Amazon categories in MMRec's Drive layout, through a stand-in for gdown (no network).

The stand-in writes the files MMRec's configs read into the folder layout ``<category>/``;
this tests what the class does with gdown's answer, not the real Drive folder.
"""
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import pyg_mmrec
from pyg_mmrec.data import INTERACTS
from pyg_mmrec.datasets import DRIVE_FOLDER, AmazonBaby, AmazonSports
from pyg_mmrec.errors import DataError

ROWS = [(0, 0, 0), (0, 1, 0), (0, 2, 1), (0, 3, 2), (1, 1, 0), (1, 4, 0), (1, 0, 1),
        (1, 2, 2), (2, 2, 0), (2, 3, 0), (2, 4, 2)]
NUM_ITEMS = 6


def write_category(folder, category, with_maps=True):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f'{category}.inter').write_text(
        'userID\titemID\tx_label\n' + ''.join(f'{u}\t{i}\t{s}\n' for u, i, s in ROWS))
    rng = np.random.default_rng(0)
    np.save(folder / 'image_feat.npy', rng.normal(size=(NUM_ITEMS, 8)).astype(np.float32))
    np.save(folder / 'text_feat.npy', rng.normal(size=(NUM_ITEMS, 5)).astype(np.float32))
    if with_maps:
        (folder / 'i_id_mapping.csv').write_text(
            'asin\titemID\n' + ''.join(f'B00{i:04d}\t{i}\n' for i in reversed(range(NUM_ITEMS))))
        (folder / 'u_id_mapping.csv').write_text(
            'user_id\tuserID\n' + ''.join(f'A{u}X\t{u}\n' for u in range(3)))
    return sorted(str(p) for p in folder.iterdir())


@pytest.fixture
def fake_gdown(monkeypatch):
    """A stand-in ``gdown`` module: ``calls`` records its arguments, ``behaviour`` says what
    ``download_folder`` does ('ok', 'fail' or 'none')."""
    module = types.SimpleNamespace(calls=[], behaviour='ok')

    def download_folder(url, output, quiet):
        module.calls.append((url, quiet))
        if module.behaviour == 'fail':
            raise OSError('Failed to retrieve folder contents')
        if module.behaviour == 'none':
            return None
        files = []
        for category in ('baby', 'sports'):
            files += write_category(Path(output) / category, category)
        return files
    module.download_folder = download_folder
    monkeypatch.setitem(sys.modules, 'gdown', module)
    return module


def test_download_process_load_train(fake_gdown, tmp_path):
    dataset = AmazonBaby(root=tmp_path / 'amazon-baby', progress=False)
    assert fake_gdown.calls == [(DRIVE_FOLDER, True)]
    assert sorted(p.name for p in dataset.raw_dir.iterdir()) == [
        'baby.inter', 'i_id_mapping.csv', 'image_feat.npy', 'text_feat.npy', 'u_id_mapping.csv']
    assert not [p for p in dataset.root.iterdir() if p.name.startswith('.download-')]
    splits = dataset.splits
    assert (splits.num_users, splits.num_items) == (3, NUM_ITEMS)
    assert splits.train['item'].raw_id == [f'B00{i:04d}' for i in range(NUM_ITEMS)]
    assert splits.train['user'].raw_id == ['A0X', 'A1X', 'A2X']
    for label, view in enumerate(splits):
        assert sorted(map(tuple, view[INTERACTS].edge_label_index.t().tolist())) == \
            sorted((u, i) for u, i, s in ROWS if s == label)
    assert splits.train['item'].x_text.shape == (NUM_ITEMS, 5)
    results = pyg_mmrec.run('vbpr', splits, {'epochs': 1, 'progress': False,
                                             'embedding_dim': 4}, out_dir=tmp_path / 'run')
    assert results['epochs_run'] == 1


@pytest.mark.parametrize('behaviour, why', [
    ('fail', r'cannot fetch .*13cBy1EA_saTUuXxVllKgtfci2A09jyaG \(OSError: Failed to retrieve'),
    ('none', r'\(gdown fetched nothing\)')])
def test_unreachable_drive_lists_the_files(fake_gdown, tmp_path, behaviour, why):
    fake_gdown.behaviour = behaviour
    root = tmp_path / 'amazon-sports'
    with pytest.raises(DataError, match=why) as info:
        AmazonSports(root=root, progress=False)
    message = str(info.value)
    assert f'Place these files in {root / "raw"}' in message
    for name in ('sports.inter (checksum unknown)', 'image_feat.npy (checksum unknown)',
                 'text_feat.npy (checksum unknown)'):
        assert name in message
    assert 'i_id_mapping.csv' not in message  # optional


def test_without_gdown_the_error_says_how(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'gdown', None)  # import gdown raises ImportError
    with pytest.raises(DataError, match=r"needs gdown \(pip install 'pyg_mmrec\[download\]'\)"
                                        r"\. Place these files in .*baby\.inter"):
        AmazonBaby(root=tmp_path / 'b', progress=False)


def test_placed_files_without_id_maps(tmp_path):
    write_category(tmp_path / 'b' / 'raw', 'baby', with_maps=False)
    splits = AmazonBaby(root=tmp_path / 'b', download=False, progress=False).splits
    assert splits.num_items == NUM_ITEMS and not hasattr(splits.train['item'], 'raw_id')
    (tmp_path / 'c' / 'raw').mkdir(parents=True)
    write_category(tmp_path / 'c' / 'raw', 'baby')
    (tmp_path / 'c' / 'raw' / 'u_id_mapping.csv').write_text('user_id\tuserID\nA0X\t0\n')
    with pytest.raises(DataError, match=r'u_id_mapping\.csv: no raw id for userID 1'):
        AmazonBaby(root=tmp_path / 'c', download=False, progress=False)
