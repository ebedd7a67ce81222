"""A local HTTP server for the dataset tests: no test needs an outside host."""
import hashlib
import pickle
import threading
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import scipy.sparse as sp


class Handler(SimpleHTTPRequestHandler):
    """Serves a folder; names in ``server.truncate`` are cut off after half their body."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        name = self.path.lstrip('/')
        self.server.requests.append(name)
        if name not in self.server.truncate:
            return super().do_GET()
        body = (self.server.folder / name).read_bytes()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def server(tmp_path):
    """``(url, folder, httpd)``: files written into ``folder`` are served at ``url/<name>``."""
    folder = tmp_path / 'served'
    folder.mkdir()
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), partial(Handler, directory=str(folder)))
    httpd.folder, httpd.truncate, httpd.requests = folder, set(), []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}', folder, httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def served_class(cls, folder, url, checksums=True, base=None):
    """A subclass of ``cls`` whose raw files are the ones in ``folder``, served at ``url``,
    with their real sizes and SHA-256 (like the source's class, with the fixture's files), or
    with none known if not ``checksums``. With ``base`` (the source's address), each file keeps
    its path below it, as the source lays its files out (``folder`` then mirrors that
    layout); without, every file is served at ``url/<name>``."""
    raws = []
    for raw in cls.raw_files:
        relative = raw.url.removeprefix(base) if base else raw.name
        path = folder / relative
        known = dict(sha256=None, size=None, md5=None)
        if checksums and path.is_file():
            known.update(sha256=sha256(path), size=path.stat().st_size)
        raws.append(replace(raw, url=f'{url}/{relative}', **known))
    return type(cls.__name__, (cls, ), {'raw_files': tuple(raws)})


@pytest.fixture(name='served_class')
def served_class_fixture():
    """:func:`served_class`, for the test modules."""
    return served_class


NUM_USERS, NUM_ITEMS = 12, 9  # of the TikTok fixture


def write_tiktok_files(folder, seed=0, legacy_names=False):
    """The five files of the release, small: users x items COO matrices of ones (float64, as
    the release has them) and float16 feature matrices. Returns the (user, item, label) rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(NUM_USERS):
        items = rng.permutation(NUM_ITEMS)[:5]
        rows += [(u, int(i), label) for i, label in zip(items, (0, 0, 0, 1, 2), strict=True)]
    for label, name in enumerate(('trnMat.pkl', 'valMat.pkl', 'tstMat.pkl')):
        part = [(u, i) for u, i, lab in rows if lab == label]
        u, i = np.array(part).T
        mat = sp.coo_matrix((np.ones(len(u)), (u, i)), shape=(NUM_USERS, NUM_ITEMS))
        data = pickle.dumps(mat, protocol=3)
        if legacy_names:  # the names a numpy 1 / scipy 1.8 pickle uses, as in the release
            data = data.replace(b'scipy.sparse._coo\n', b'scipy.sparse.coo\n').replace(
                b'numpy._core.multiarray\n', b'numpy.core.multiarray\n')
        (folder / name).write_bytes(data)
    for m, dim in (('image', 6), ('audio', 4)):
        np.save(folder / f'{m}_feat.npy', rng.normal(size=(NUM_ITEMS, dim)).astype(np.float16))
    return rows


@pytest.fixture(name='write_tiktok')
def write_tiktok_fixture():
    """:func:`write_tiktok_files`, for the test modules."""
    return write_tiktok_files
