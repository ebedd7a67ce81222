"""``pyg-mmrec data list``, ``data download NAME`` and ``--data NAME``, against a local server."""
import json

import pytest

from pyg_mmrec.cli import main
from pyg_mmrec.datasets import DATASETS, TikTok


@pytest.fixture
def home(server, served_class, write_tiktok, tmp_path, monkeypatch):
    """A data home, with 'tiktok' registered as the class of the locally served fixture."""
    url, folder, httpd = server
    write_tiktok(folder)
    monkeypatch.setenv('PYG_MMREC_HOME', str(tmp_path / 'home'))
    monkeypatch.setitem(DATASETS, 'tiktok', served_class(TikTok, folder, url))
    return tmp_path / 'home', httpd


def rows_of(printed):
    return {line.split()[0]: line.split() for line in printed.splitlines()[2:]}


def test_list_download_and_train_by_name(home, capsys, tmp_path):
    root, httpd = home
    assert main(['data', 'list']) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0] == f'data home: {root} (set PYG_MMREC_HOME to change it)'
    rows = rows_of(printed)
    assert set(rows) == set(DATASETS)
    assert rows['tiktok'][-1] == 'absent' and rows['ml-100k'][2] == 'unknown'

    assert main(['data', 'download', 'tiktok']) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary['root'] == str(root / 'tiktok') and summary['users'] == 12
    assert main(['data', 'list']) == 0
    assert rows_of(capsys.readouterr().out)['tiktok'][-1] == 'processed'

    httpd.requests.clear()
    assert main(['train', '--model', 'lightgcn', '--data', 'tiktok', '--out', str(tmp_path / 'r'),
                 '--set', 'epochs=1', 'progress=false', 'embedding_dim=8']) == 0
    assert httpd.requests == []  # cached
    assert 'lightgcn on tiktok' in capsys.readouterr().out
    assert json.loads((tmp_path / 'r' / 'results.json').read_text())['data'] == 'tiktok'
    assert main(['data', 'info', 'tiktok']) == 0
    assert json.loads(capsys.readouterr().out)['items'] == 9


def test_unknown_name_and_unreachable_source(home, capsys, monkeypatch, served_class):
    root, httpd = home
    assert main(['data', 'download', 'nope']) == 2
    assert "unknown dataset 'nope'; registered: [" in capsys.readouterr().err
    httpd.shutdown()
    httpd.server_close()  # the source is gone
    assert main(['data', 'download', 'tiktok']) == 2
    err = capsys.readouterr().err
    assert err.startswith("pyg-mmrec: error: dataset 'tiktok': cannot reach the source")
    assert f"Place these files in {root / 'tiktok' / 'raw'}" in err and 'trnMat.pkl' in err
