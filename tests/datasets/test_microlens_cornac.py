"""MicroLens-100k and Cornac's Amazon Clothing against fixture files in each source's published
layout (paths included), served locally: neither real host is reachable from here."""
import io
import zipfile

import numpy as np
import pytest

import pyg_mmrec
from pyg_mmrec.data import INTERACTS
from pyg_mmrec.datasets import CornacAmazonClothing, MicroLens100K
from pyg_mmrec.datasets.microlens import FEATURE_FILES
from pyg_mmrec.errors import DataError

MICROLENS = 'https://recsys.westlake.edu.cn/MicroLens-100k-Dataset/'
CORNAC = 'https://static.preferred.ai/cornac/datasets/amazon_clothing/'


def microlens_pairs():
    """(user, video, timestamp): 6 users with 4 or 12 videos of ids 1..15 (3 and 9 unused)."""
    rng = np.random.default_rng(0)
    videos = [v for v in range(1, 16) if v not in (3, 9)]
    rows = []
    for u in (11, 25, 3, 40, 7, 90):
        for v in rng.choice(videos, 12 if u == 25 else 4, replace=False):
            rows.append((u, int(v), 1_600_000_000_000 + len(rows)))
    return rows


def write_microlens(folder, header='user,item,timestamp', extra_row=''):
    rows = microlens_pairs()
    (folder / 'MicroLens-100k_pairs.csv').write_text(
        header + '\n' + ''.join(f'{u},{v},{t}\n' for u, v, t in rows) + extra_row)
    (folder / 'MicroLens-100k_title_en.csv').write_text(
        ''.join(f'{v},"Video {v}, part one"\n' for v in range(1, 16)))
    (folder / 'extracted_modality_features').mkdir()
    for m, fname in FEATURE_FILES.items():
        dim = {'image': 6, 'text': 5, 'video': 4}[m]
        x = np.arange(15 * dim, dtype=np.float32).reshape(15, dim) + 100 * len(m)
        np.save(folder / 'extracted_modality_features' / fname, x)  # row r = video r + 1
    return rows


@pytest.mark.parametrize('header', ['user,item,timestamp', 'userID,videoID,timestamp'])
def test_microlens_download_process_load_train(server, served_class, tmp_path, header):
    url, folder, httpd = server
    rows = write_microlens(folder, header)
    cls = served_class(MicroLens100K, folder, url, base=MICROLENS)
    splits = cls(root=tmp_path / 'ml', progress=False).splits
    assert sorted(httpd.requests) == sorted(
        ['MicroLens-100k_pairs.csv', 'MicroLens-100k_title_en.csv']
        + [f'extracted_modality_features/{f}' for f in FEATURE_FILES.values()])
    train = splits.train
    assert train['user'].raw_id == ['3', '7', '11', '25', '40', '90']
    videos = [int(v) for v in train['item'].raw_id]
    assert videos == sorted({v for _, v, _ in rows})
    for m, fname in FEATURE_FILES.items():  # each item's row is its video's (id - 1)
        x = np.load(folder / 'extracted_modality_features' / fname)
        np.testing.assert_array_equal(train['item'][f'x_{m}'].numpy(), x[np.array(videos) - 1])
    assert train['item'].text[0] == f'Video {videos[0]}, part one'
    got = {(int(train['user'].raw_id[u]), videos[i]) for view in splits
           for u, i in view[INTERACTS].edge_label_index.t().tolist()}
    assert got == {(u, v) for u, v, _ in rows}
    # MMRec's rule: 12 interactions -> int(0.2 * 12) = 2 held out, 1 + 1; 4 -> 1 + 1.
    assert splits.test[INTERACTS].edge_label_index[0].bincount().tolist() == [1] * 6
    run = tmp_path / 'run'
    pyg_mmrec.run('vbpr', splits, {'epochs': 1, 'progress': False, 'embedding_dim': 4},
                  out_dir=run)
    assert len(pyg_mmrec.recommend(run / 'checkpoint.pt', k=2, users=['25']).items[0]) == 2


def test_microlens_bad_rows(server, served_class, tmp_path):
    url, folder, httpd = server
    write_microlens(folder, extra_row="7,x,1\n")  # line 34: a header and 32 rows before it
    cls = served_class(MicroLens100K, folder, url, base=MICROLENS)
    with pytest.raises(DataError, match=r'MicroLens-100k_pairs\.csv, line 34: expected 3 '
                                        r"comma-separated fields .* got '7,x,1'"):
        cls(root=tmp_path / 'ml', progress=False)


def zip_bytes(name, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as z:
        z.writestr(f'amazon_clothing/{name}', data)
    return buffer.getvalue()


def write_cornac(folder, with_image=lambda a: a != 'B004'):
    ratings = [('UA', 'B002', 5.0), ('UB', 'B001', 4.0), ('UA', 'B001', 3.0), ('UA', 'B003', 2.0),
               ('UA', 'B004', 5.0), ('UB', 'B003', 1.0), ('UB', 'B002', 2.0), ('UC', 'B004', 4.0),
               ('UA', 'B002', 1.0)]  # the last repeats a pair
    (folder / 'rating.zip').write_bytes(zip_bytes('rating.txt', ''.join(
        f'{u}\t{i}\t{r}\n' for u, i, r in ratings)))
    (folder / 'text.zip').write_bytes(zip_bytes('text.txt', ''.join(
        f'{a}::A shirt :: size {a}\n' for a in ('B001', 'B002', 'B003', 'B004', 'B999'))))
    ids = [a for a in ('B999', 'B003', 'B001', 'B002', 'B004') if with_image(a)]
    image = np.stack([np.full(4096, float(a[1:]), np.float32) for a in ids])
    buffer = io.BytesIO()
    np.save(buffer, image)
    (folder / 'image.zip').write_bytes(zip_bytes('image_features.npy', buffer.getvalue()))
    (folder / 'item_ids.zip').write_bytes(zip_bytes('item_ids.txt', '\n'.join(ids) + '\n'))


def test_cornac_clothing_download_process_load_train(server, served_class, tmp_path):
    url, folder, httpd = server
    write_cornac(folder)
    cls = served_class(CornacAmazonClothing, folder, url, base=CORNAC)
    splits = cls(root=tmp_path / 'c', progress=False).splits
    train = splits.train
    assert train['user'].raw_id == ['UA', 'UB', 'UC']  # order of first appearance
    assert train['item'].raw_id == ['B002', 'B001', 'B003', 'B004']
    assert train['item'].text == [f'A shirt :: size B00{k}' for k in (2, 1, 3, 4)]
    x = train['item'].x_image
    assert x.shape == (4, 4096) and x[:3, 0].tolist() == [2.0, 1.0, 3.0]
    assert x[3, 0].item() == pytest.approx(2.0)  # B004 has no row: the mean of 2, 1, 3
    pairs = {(train['user'].raw_id[u], train['item'].raw_id[i]) for view in splits
             for u, i in view[INTERACTS].edge_label_index.t().tolist()}
    assert len(pairs) == 8 and ('UA', 'B002') in pairs
    # UA has 4 -> one validation, one test; UB has 3 -> the same; UC has 1 -> training only.
    assert splits.val[INTERACTS].edge_label_index[0].tolist() == [0, 1]
    results = pyg_mmrec.run('vbpr', splits, {'epochs': 1, 'progress': False,
                                             'embedding_dim': 4}, out_dir=tmp_path / 'run')
    assert results['epochs_run'] == 1


def test_cornac_wrong_archive(server, served_class, tmp_path):
    url, folder, httpd = server
    write_cornac(folder)
    (folder / 'rating.zip').write_bytes(zip_bytes('ratings.csv', 'UA,B001,1\n'))
    cls = served_class(CornacAmazonClothing, folder, url, base=CORNAC)
    with pytest.raises(DataError, match=r"rating\.zip: no member 'amazon_clothing/rating\.txt'"):
        cls(root=tmp_path / 'c', progress=False)
