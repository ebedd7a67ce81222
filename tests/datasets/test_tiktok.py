"""TikTok in the MMSSL / DiffMM layout: pickled scipy matrices and .npy features over HTTP."""
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import pyg_mmrec
from pyg_mmrec.data import INTERACTS, data_root, load_mmrec
from pyg_mmrec.datasets import TikTok
from pyg_mmrec.errors import DataError


def test_download_process_load_train(server, tmp_path, served_class, write_tiktok):
    url, folder, httpd = server
    rows = write_tiktok(folder, legacy_names=True)
    assert b'scipy.sparse.coo\n' in (folder / 'trnMat.pkl').read_bytes()
    cls = served_class(TikTok, folder, url)
    dataset = cls(root=tmp_path / 'home' / 'tiktok', progress=False)
    assert sorted(httpd.requests) == sorted(r.name for r in TikTok.raw_files)  # text: 404
    assert not (dataset.raw_dir / 'text_feat.npy').exists()
    splits = dataset.splits
    assert (splits.num_users, splits.num_items) == (12, 9)
    for label, view in enumerate(splits):
        expected = sorted((u, i) for u, i, lab in rows if lab == label)
        assert sorted(map(tuple, view[INTERACTS].edge_label_index.t().tolist())) == expected
    image = np.load(folder / 'image_feat.npy').astype(np.float32)
    assert torch.equal(splits.train['item'].x_image, torch.from_numpy(image))
    assert splits.train['item'].x_audio.shape == (9, 4)
    # the processed folder is an MMRec folder the reader loads alike
    assert load_mmrec(dataset.processed_dir).summary() == splits.summary()

    results = pyg_mmrec.run('lightgcn', splits, {'epochs': 1, 'progress': False,
                                                 'embedding_dim': 8}, out_dir=tmp_path / 'run')
    assert results['epochs_run'] == 1 and 0 <= results['test']['Recall@20'] <= 1

    # cached: a second construction neither downloads nor processes
    httpd.requests.clear()
    stamp = (dataset.processed_dir / 'tiktok.inter').stat().st_mtime_ns
    again = cls(root=dataset.root, progress=False)
    assert httpd.requests == []
    assert (dataset.processed_dir / 'tiktok.inter').stat().st_mtime_ns == stamp
    assert again.splits.summary() == splits.summary()


def test_shape_mismatch_is_reported(tmp_path, served_class, write_tiktok):
    raw = tmp_path / 'tiktok' / 'raw'
    raw.mkdir(parents=True)
    write_tiktok(raw)
    mat = sp.coo_matrix((np.ones(1), ([0], [0])), shape=(12, 10))
    (raw / 'tstMat.pkl').write_bytes(pickle.dumps(mat))
    cls = served_class(TikTok, raw, 'http://unused', checksums=False)
    with pytest.raises(DataError, match=r'tstMat\.pkl: shape \(12, 10\), but trnMat\.pkl has '
                                        r'\(12, 9\)'):
        cls(root=tmp_path / 'tiktok', progress=False)


RELEASE = os.environ.get('PYG_MMREC_TIKTOK_RAW')  # a folder with the release's five files
SHARED = data_root() / 'tiktok'


@pytest.mark.skipif(not (RELEASE and SHARED.is_dir()),
                    reason='needs the DiffMM release files (PYG_MMREC_TIKTOK_RAW) and the '
                           'shared tiktok folder')
def test_release_gives_the_shared_split(server, tmp_path):
    """The real release, served locally and verified against the class's own checksums,
    processes into exactly the split and features of ../shared/data/tiktok."""
    url, folder, httpd = server
    for raw in TikTok.raw_files:
        if (Path(RELEASE) / raw.name).is_file():
            shutil.copy(Path(RELEASE) / raw.name, folder / raw.name)
    dataset = TikTok(root=tmp_path / 'tiktok', base_url=url, progress=False)
    splits, shared = dataset.splits, load_mmrec(SHARED)
    for name in ('tiktok.inter', 'image_feat.npy', 'audio_feat.npy'):  # byte for byte
        assert (dataset.processed_dir / name).read_bytes() == (SHARED / name).read_bytes()
    for ours, theirs in zip(splits, shared, strict=True):
        a, b = ours[INTERACTS].edge_label_index, theirs[INTERACTS].edge_label_index
        assert sorted(map(tuple, a.t().tolist())) == sorted(map(tuple, b.t().tolist()))
    for m in ('image', 'audio'):
        assert torch.equal(splits.train['item'][f'x_{m}'], shared.train['item'][f'x_{m}'])
