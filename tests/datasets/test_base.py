"""Download, verification and caching of the dataset base class, against a local server."""
import logging
import socket

import pytest

from pyg_mmrec.data import load_dataset
from pyg_mmrec.datasets import DATASETS, Dataset, RawFile, TikTok, data_home, get_dataset_class
from pyg_mmrec.errors import DataError

FILES = [r.name for r in TikTok.raw_files if not r.optional]


@pytest.fixture
def served(server, served_class, write_tiktok):
    """(dataset class with the fixture's checksums, url, served folder, server)."""
    url, folder, httpd = server
    write_tiktok(folder)
    return served_class(TikTok, folder, url), url, folder, httpd


def no_part_files(folder):
    return not list(folder.glob('.*.part'))


def test_corrupted_download_is_deleted_and_reported(served, tmp_path):
    cls, url, folder, httpd = served
    data = bytearray((folder / 'valMat.pkl').read_bytes())
    data[-3] ^= 0xFF  # same length, one byte flipped
    (folder / 'valMat.pkl').write_bytes(bytes(data))
    root = tmp_path / 'tiktok'
    with pytest.raises(DataError, match=r'valMat\.pkl has sha256 [0-9a-f]{64}, expected '
                                        r'[0-9a-f]{64}; it was deleted'):
        cls(root=root, progress=False)
    assert not (root / 'raw' / 'valMat.pkl').exists() and no_part_files(root / 'raw')
    assert (root / 'raw' / 'trnMat.pkl').is_file()  # the files before it are whole and kept
    assert not (root / 'processed').exists()


def test_interrupted_download_never_passes_as_complete(served, tmp_path):
    cls, url, folder, httpd = served
    httpd.truncate.add('tstMat.pkl')
    root = tmp_path / 'tiktok'
    size = (folder / 'tstMat.pkl').stat().st_size
    with pytest.raises(DataError, match=rf'download of tstMat\.pkl was interrupted after '
                                        rf'{size // 2} bytes'):
        cls(root=root, progress=False)
    assert not (root / 'raw' / 'tstMat.pkl').exists() and no_part_files(root / 'raw')
    # the same, without any checksum known: the length alone catches it
    httpd.truncate.add('audio_feat.npy')
    unchecked = type('TikTok', (TikTok, ), {'raw_files': tuple(
        RawFile(r.name, r.url, optional=r.optional) for r in cls.raw_files)})
    with pytest.raises(DataError, match='interrupted'):
        unchecked(root=tmp_path / 'unchecked', progress=False)
    # a rerun fetches only what is missing, and a stale .part is not taken for the file
    httpd.truncate.clear()
    httpd.requests.clear()
    (root / 'raw' / '.tstMat.pkl.part').write_bytes(b'stale')
    splits = cls(root=root, progress=False).splits
    assert sorted(httpd.requests) == ['audio_feat.npy', 'image_feat.npy', 'text_feat.npy',
                                      'tstMat.pkl']
    assert splits.test['user', 'interacts', 'item'].edge_label_index.size(1) == 12
    assert no_part_files(root / 'raw')


def test_offline_error_lists_the_files_and_the_folder(tmp_path, served_class):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    root = tmp_path / 'tiktok'
    with pytest.raises(DataError) as info:
        TikTok(root=root, base_url=f'http://127.0.0.1:{port}', progress=False)
    message = str(info.value)
    assert 'cannot reach the source' in message and f'Place these files in {root / "raw"}' \
        in message
    for raw in TikTok.raw_files:
        if not raw.optional:
            # the source's own address, where a user can fetch it by hand
            assert f'{raw.name} from {raw.url} (sha256 {raw.sha256})' in message
    assert 'text_feat.npy' not in message  # optional
    with pytest.raises(DataError, match='downloading is turned off. Place these files in'):
        TikTok(root=root, download=False)


def test_placed_file_with_wrong_checksum_is_reported_not_deleted(served, tmp_path,
                                                                write_tiktok):
    cls, url, folder, httpd = served
    raw = tmp_path / 'tiktok' / 'raw'
    raw.mkdir(parents=True)
    write_tiktok(raw, seed=1)  # other content, same names
    with pytest.raises(DataError, match=r'raw/trnMat\.pkl: (size|sha256) .* replace it with '
                                        r"the source's file"):
        cls(root=tmp_path / 'tiktok', progress=False)
    assert (raw / 'trnMat.pkl').is_file() and httpd.requests == []


def test_unknown_checksum_is_said(served, tmp_path, caplog):
    cls, url, folder, httpd = served
    unchecked = type('TikTok', (TikTok, ), {'raw_files': tuple(
        RawFile(r.name, r.url, optional=r.optional) for r in cls.raw_files)})
    with caplog.at_level(logging.WARNING, logger='pyg_mmrec.datasets.base'):
        unchecked(root=tmp_path / 'tiktok', progress=False)
    said = [r.getMessage() for r in caplog.records]
    assert any('no checksum is known for trnMat.pkl; only its length was checked' in m
               for m in said)
    assert any('trnMat.pkl: no size or checksum is known; the file is not verified' in m
               for m in said)


def test_force_reload_processes_again(served, tmp_path):
    cls, url, folder, httpd = served
    dataset = cls(root=tmp_path / 'tiktok', progress=False)
    inter = dataset.processed_dir / 'tiktok.inter'
    good = inter.read_text()
    inter.write_text(good.replace('\t2\n', '\t1\n', 1))  # one test edge relabelled
    assert cls(root=dataset.root, progress=False).splits.test[
        'user', 'interacts', 'item'].edge_label_index.size(1) == 11  # the cache is read
    httpd.requests.clear()
    assert cls(root=dataset.root, force_reload=True, progress=False).splits.summary() == \
        dataset.splits.summary()
    assert inter.read_text() == good and httpd.requests == []


def test_data_home(monkeypatch, tmp_path):
    monkeypatch.delenv('PYG_MMREC_HOME', raising=False)
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert data_home() == tmp_path / 'xdg' / 'pyg_mmrec'
    monkeypatch.delenv('XDG_CACHE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'me'))
    assert data_home() == tmp_path / 'me' / '.cache' / 'pyg_mmrec'
    monkeypatch.setenv('PYG_MMREC_HOME', str(tmp_path / 'env'))
    assert data_home() == tmp_path / 'env'
    assert data_home(tmp_path / 'given') == tmp_path / 'given'
    assert TikTok.status()['root'] == str(tmp_path / 'env' / 'tiktok')


def test_names_resolve_under_the_data_home(served, tmp_path, monkeypatch):
    cls, url, folder, httpd = served
    monkeypatch.setenv('PYG_MMREC_HOME', str(tmp_path / 'home'))
    monkeypatch.setitem(DATASETS, 'tiktok', cls)
    assert TikTok.status()['state'] == 'absent'
    splits = load_dataset('TikTok', progress=False)  # downloads on first use
    assert splits.num_users == 12 and (tmp_path / 'home' / 'tiktok' / 'processed').is_dir()
    status = cls.status()
    assert status['state'] == 'processed' and status['disk_bytes'] > 0
    assert status['raw_bytes'] == sum((folder / f).stat().st_size for f in FILES)
    assert get_dataset_class('tiktok') is cls
    # a folder of that name takes precedence over the name
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'tiktok').mkdir()
    with pytest.raises(DataError, match='expected exactly one'):
        load_dataset('tiktok')
    with pytest.raises(DataError, match=r"not a registered dataset name \(registered: "
                                        r"\['amazon-baby'"):
        load_dataset('no-such-name')
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        get_dataset_class('nope')


def test_every_registered_class_documents_its_source():
    assert set(DATASETS) >= {'tiktok', 'ml-100k', 'ml-1m', 'amazon-baby', 'amazon-sports',
                             'amazon-clothing', 'amazon-elec'}
    for name, cls in DATASETS.items():
        assert issubclass(cls, Dataset) and cls.name == name and cls.homepage
        assert cls.raw_files and 'Licence' in cls.__doc__ + (cls.__mro__[1].__doc__ or '')
