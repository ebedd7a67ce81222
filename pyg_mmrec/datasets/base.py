"""The dataset base class: raw files fetched and verified once, processed once, then cached.

A dataset lives in one folder, its ``root`` (by default ``<data home>/<name>``, see
:func:`data_home`)::

    root/raw/         the source's files, exactly as published (verified against their checksums)
    root/processed/   an MMRec folder (``<name>.inter``, ``<m>_feat.npy``, where the source has
                      raw ids MMRec's id maps ``u_id_mapping.csv`` / ``i_id_mapping.csv``)
                      plus an optional ``item_text.txt``, read back with
                      :func:`~pyg_mmrec.data.load_mmrec`

A download is written to ``raw/.<file>.part`` and renamed onto its name only once it is complete
and its checksum matches, so a file under its own name in ``raw/`` is always whole; a leftover
``.part`` file is discarded by the next download. ``processed/`` is complete only once its
marker ``done.json`` (written last) exists.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pyg_mmrec.data.readers import ID_MAPS, id_map_text, load_mmrec
from pyg_mmrec.data.splits import DataSplits
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.utils import atomic_write

log = logging.getLogger(__name__)

HOME_ENV = 'PYG_MMREC_HOME'
#: The layout of ``processed/`` (in ``done.json``): a folder of another layout is processed
#: again. 2: MMRec's id maps ``u_id_mapping.csv`` / ``i_id_mapping.csv``.
PROCESSED_FORMAT = 2
#: Registered dataset name to dataset class (see :func:`register_dataset`).
DATASETS: dict[str, type[Dataset]] = {}


def data_home(home: str | Path | None = None) -> Path:
    """The folder under which named datasets are downloaded: ``home`` if given, else the
    environment variable ``PYG_MMREC_HOME``, else ``$XDG_CACHE_HOME/pyg_mmrec`` (by default
    ``~/.cache/pyg_mmrec``).

    This is distinct from the benchmarks' data root (:func:`pyg_mmrec.data.data_root`,
    ``PYG_MMREC_DATA``), which holds prepared dataset folders read by path.
    """
    if home is not None:
        return Path(home).expanduser()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(cache) / 'pyg_mmrec'


def register_dataset(cls: type[Dataset]) -> type[Dataset]:
    """A class decorator that registers a dataset class under its ``name``.

    Raises:
        ConfigError: If another class is registered under that name already.
    """
    key = cls.name.lower()
    if DATASETS.get(key, cls) is not cls:
        raise ConfigError(f"dataset name {cls.name!r} is taken by {DATASETS[key].__qualname__}")
    DATASETS[key] = cls
    return cls


def get_dataset_class(name: str) -> type[Dataset]:
    """The dataset class registered as ``name`` (case-insensitive).

    Raises:
        DataError: If no dataset is registered under ``name``.
    """
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; registered: {sorted(DATASETS)} "
                        f"(or pass a dataset folder, or 'synthetic')") from None


@dataclass(frozen=True)
class RawFile:
    """One file of a source, as published.

    Args:
        name (str): The file name in ``raw/``.
        url (str, optional): Where to download it from (:obj:`None`: the class's own
            downloader, e.g. Google Drive, knows).
        sha256 (str, optional): Its SHA-256, :obj:`None` where it is not known.
        md5 (str, optional): An MD5 the source publishes, checked when ``sha256`` is unknown.
        size (int, optional): Its size in bytes, where known.
        optional (bool): Whether the dataset loads without it (e.g. a modality that is not
            always published); an optional file the source does not serve is skipped.
    """
    name: str
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    optional: bool = False

    def describe(self) -> str:
        """The file with its source and checksum, for messages."""
        check = (f'sha256 {self.sha256}' if self.sha256 else
                 f'md5 {self.md5}' if self.md5 else 'checksum unknown')
        where = f' from {self.url}' if self.url else ''
        return f"{self.name}{where} ({check}{', optional' if self.optional else ''})"


class Digests:
    """SHA-256 and MD5 of a byte stream, computed as it is written."""

    def __init__(self):
        self.sha256, self.md5, self.size = hashlib.sha256(), hashlib.md5(), 0

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        self.md5.update(chunk)
        self.size += len(chunk)

    @classmethod
    def of_file(cls, path: Path) -> Digests:
        digests = cls()
        with open(path, 'rb') as f:
            while chunk := f.read(1 << 20):
                digests.update(chunk)
        return digests

    def mismatch(self, raw: RawFile) -> str | None:
        """What does not match ``raw``'s known size and checksums, or :obj:`None`."""
        if raw.size is not None and self.size != raw.size:
            return f"size {self.size} bytes, expected {raw.size}"
        if raw.sha256 and self.sha256.hexdigest() != raw.sha256:
            return f"sha256 {self.sha256.hexdigest()}, expected {raw.sha256}"
        if not raw.sha256 and raw.md5 and self.md5.hexdigest() != raw.md5:
            return f"md5 {self.md5.hexdigest()}, expected {raw.md5}"
        return None


class Unreachable(Exception):
    """The source of a file could not be reached (no network, host down, not found)."""


def download_url(url: str, path: Path, raw: RawFile, progress: bool = True,
                 timeout: float = 30) -> None:
    """Downloads ``url`` to ``path`` through ``.<name>.part``, verifying ``raw``'s checksum.

    Raises:
        Unreachable: If the host cannot be reached or does not serve the file.
        DataError: If the transfer ends early, or the file fails its checksum (the partial or
            corrupt file is deleted).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f'.{path.name}.part')
    part.unlink(missing_ok=True)
    digests = Digests()
    try:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)
        except (urllib.error.URLError, OSError) as e:
            raise Unreachable(f"{url}: {getattr(e, 'reason', e)}") from e
        with response, open(part, 'wb') as f:
            length = response.headers.get('Content-Length')
            total = int(length) if length else raw.size
            with tqdm(total=total, unit='B', unit_scale=True, desc=f'downloading {path.name}',
                      disable=not progress) as bar:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
                    digests.update(chunk)
                    bar.update(len(chunk))
            f.flush()
            os.fsync(f.fileno())
        if total is not None and digests.size != total:
            raise http.client.IncompleteRead(b'', total - digests.size)
    except (http.client.IncompleteRead, TimeoutError, ConnectionError) as e:
        part.unlink(missing_ok=True)
        raise DataError(f"{url}: the download of {path.name} was interrupted after "
                        f"{digests.size} bytes ({type(e).__name__}); nothing was kept, run "
                        f"again to restart it") from e
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    wrong = digests.mismatch(raw)
    if wrong:
        part.unlink(missing_ok=True)
        raise DataError(f"{url}: the downloaded {path.name} has {wrong}; it was deleted. The "
                        f"source may have changed or the transfer was corrupted")
    if not (raw.sha256 or raw.md5):
        log.warning("%s: no checksum is known for %s; only its length was checked "
                    "(sha256 %s)", url, path.name, digests.sha256.hexdigest())
    os.replace(part, path)


def check_count(values, n: int, what: str) -> list:
    """``values`` as a list, checked to hold one entry per id (``n``)."""
    values = list(values)
    if len(values) != n:
        raise DataError(f"{len(values)} {what} for {n} ids; expected one per id")
    return values


def check_raw_ids(values, n: int, what: str) -> list[str]:
    """``values`` as strings, one per id (``n``), none holding a tab or a line break (they are
    written one per row of a tab-separated file)."""
    values = [str(v) for v in check_count(values, n, what)]
    bad = next((i for i, v in enumerate(values) if any(c in v for c in '\t\n\r')), None)
    if bad is not None:
        raise DataError(f"{what}: entry {bad} ({values[bad]!r}) holds a tab or a line break; "
                        f"raw ids are written one per row of a tab-separated file")
    return values


class Dataset:
    r"""Base class of the named datasets, in the style of PyG's datasets.

    On construction, the raw files missing from ``root/raw`` are downloaded (:meth:`download`)
    and verified, :meth:`process` writes ``root/processed`` unless it is complete already (or
    ``force_reload``), and the processed folder is loaded into :attr:`splits`. A subclass sets
    :attr:`name`, :attr:`raw_files` (the source's files with their checksums) and implements
    :meth:`process`; it overrides :meth:`download` only when its source is not plain HTTP.

    Args:
        root (str or Path, optional): The dataset's folder; defaults to
            ``data_home() / name`` (:func:`data_home`).
        force_reload (bool): Process the raw files again even if ``processed/`` is complete.
        download (bool): Whether missing raw files may be downloaded; if :obj:`False`, a
            missing file raises the error that lists the files to place.
        progress (bool): Show progress bars for download and processing.
        base_url (str, optional): A mirror serving the raw files by name (``<base_url>/<file
            name>``), instead of the source.
    """
    #: The registered name, also the folder name under the data home.
    name: str = ''
    #: The source's files.
    raw_files: tuple[RawFile, ...] = ()
    #: Where the source is documented, for messages.
    homepage: str = ''

    def __init__(self, root: str | Path | None = None, force_reload: bool = False,
                 download: bool = True, progress: bool = True, base_url: str | None = None):
        self.root = Path(root) if root is not None else data_home() / self.name
        self.progress = progress
        self.base_url = base_url.rstrip('/') if base_url else None
        missing = self.missing_raw_files()
        if missing:
            if not download:
                raise DataError(self.place_message(missing, 'downloading is turned off'))
            self.download()
        if force_reload and self.processed_dir.exists():
            shutil.rmtree(self.processed_dir)
        if not self.is_processed():
            self.verify()
            self._process()
        self.splits = self.load()

    # -- folders and files -------------------------------------------------------------------
    @property
    def raw_dir(self) -> Path:
        return self.root / 'raw'

    @property
    def processed_dir(self) -> Path:
        return self.root / 'processed'

    @property
    def raw_file_names(self) -> list[str]:
        return [r.name for r in self.raw_files]

    def is_processed(self) -> bool:
        """Whether ``processed/`` is complete and in this version's layout."""
        marker = self.processed_dir / 'done.json'
        return marker.is_file() and json.loads(marker.read_text()).get(
            'format') == PROCESSED_FORMAT

    def raw_path(self, name: str) -> Path:
        return self.raw_dir / name

    def url_of(self, raw: RawFile) -> str | None:
        return f'{self.base_url}/{raw.name}' if self.base_url else raw.url

    def missing_raw_files(self, optional: bool = False) -> list[RawFile]:
        """The raw files not in ``raw/`` (the optional ones too if ``optional``)."""
        return [r for r in self.raw_files if (optional or not r.optional)
                and not self.raw_path(r.name).is_file()]

    def place_message(self, missing: Iterable[RawFile], why: str) -> str:
        files = '; '.join(r.describe() for r in missing)
        home = f" (see {self.homepage})" if self.homepage else ''
        return (f"dataset {self.name!r}: {why}. Place these files in {self.raw_dir}{home}: "
                f"{files}; then run again")

    # -- the three steps ---------------------------------------------------------------------
    def download(self) -> None:
        """Downloads every missing raw file over HTTP (optional ones where served).

        Raises:
            DataError: If the source cannot be reached (the message lists the files to place
                and the folder), a transfer is interrupted, or a file fails its checksum.
        """
        for raw in self.missing_raw_files(optional=True):
            url = self.url_of(raw)
            try:
                download_url(url, self.raw_path(raw.name), raw, self.progress)
            except Unreachable as e:
                if raw.optional:
                    log.warning("%s: optional file %s not fetched (%s)", self.name, raw.name, e)
                    continue
                raise DataError(self.place_message(self.missing_raw_files(),
                                                   f"cannot reach the source ({e})")) from e

    def verify(self) -> None:
        """Checks every raw file present against its known size and checksum.

        Raises:
            DataError: Naming the file, what it has and what was expected.
        """
        for raw in self.raw_files:
            path = self.raw_path(raw.name)
            if not path.is_file():
                continue
            wrong = Digests.of_file(path).mismatch(raw)
            if wrong:
                raise DataError(f"{path}: {wrong}; replace it with the source's file "
                                f"({raw.describe()}), or delete it to download it again")
            if not (raw.sha256 or raw.md5 or raw.size):
                log.warning("%s: no size or checksum is known; the file is not verified", path)

    def process(self) -> dict:
        """Reads the raw files and returns what :meth:`write_processed` writes: a dict with
        ``user``, ``item``, ``split`` (arrays), ``num_users``, ``num_items``, ``features``
        (modality to matrix), ``user_ids`` / ``item_ids`` (raw ids in internal id order) and
        optionally ``item_text``."""
        raise NotImplementedError

    def _process(self) -> None:
        self.write_processed(**self.process())

    def write_processed(self, user, item, split, num_users: int, num_items: int,
                        features: dict | None = None, user_ids=None, item_ids=None,
                        item_text=None) -> None:
        """Writes ``processed/`` (each file atomically, the marker last)."""
        out = self.processed_dir
        if out.exists():
            shutil.rmtree(out)
        features = features or {}
        steps: list[tuple[str, Callable]] = [(f'{self.name}.inter', lambda f: f.write(
            ('userID\titemID\tx_label\n' + ''.join(
                f'{u}\t{i}\t{s}\n' for u, i, s in zip(user.tolist(), item.tolist(),
                                                     split.tolist(), strict=True))
             ).encode('utf-8')))]
        for m, feat in features.items():
            steps.append((f'{m}_feat.npy', lambda f, x=feat: np.save(
                f, np.asarray(x, dtype=np.float32), allow_pickle=False)))
        for store, ids, n in (('user', user_ids, num_users), ('item', item_ids, num_items)):
            if ids is not None:
                fname, column, raw_column = ID_MAPS[store]
                text = id_map_text(check_raw_ids(ids, n, f'{store} ids'), column, raw_column)
                steps.append((fname, lambda f, t=text: f.write(t.encode('utf-8'))))
        if item_text is not None:
            steps.append(('item_text.txt', lambda f, v=item_text: f.write(''.join(
                f'{" ".join(str(x).split())}\n' for x in check_count(v, num_items, 'item texts')
            ).encode('utf-8'))))
        for fname, write in tqdm(steps, desc=f'processing {self.name}',
                                 disable=not self.progress):
            atomic_write(out / fname, write)
        marker = {'format': PROCESSED_FORMAT, 'name': self.name, 'num_users': int(num_users),
                  'num_items': int(num_items),
                  'raw_files': {r.name: r.sha256 for r in self.raw_files}}
        atomic_write(out / 'done.json', lambda f: f.write(json.dumps(marker).encode()))

    def load(self) -> DataSplits:
        """The train / validation / test views from ``processed/``; the id maps become
        ``data['user'].raw_id`` and ``data['item'].raw_id`` (see
        :func:`~pyg_mmrec.data.load_mmrec`), the item texts ``data['item'].text``, lists in
        internal id order."""
        marker = json.loads((self.processed_dir / 'done.json').read_text())
        splits = load_mmrec(self.processed_dir, name=self.name)
        if splits.num_users != marker['num_users'] or splits.num_items != marker['num_items']:
            # Users or items without interactions are not in the .inter file.
            raise DataError(f"{self.processed_dir}: holds {splits.num_users} users and "
                            f"{splits.num_items} items, done.json says {marker['num_users']} "
                            f"and {marker['num_items']}; rerun with force_reload=True")
        texts = self.processed_dir / 'item_text.txt'
        if texts.is_file():
            lines = texts.read_text(encoding='utf-8').splitlines()
            for view in splits:
                view['item'].text = lines
        return splits

    @classmethod
    def status(cls, root: str | Path | None = None) -> dict:
        """Whether the dataset is on disk under ``root`` (default ``data_home() / name``),
        without downloading: ``state`` is ``'processed'``, ``'raw'`` (the required raw files
        are present), ``'partial'`` or ``'absent'``; ``raw_bytes`` is the sum of the raw files'
        published sizes (:obj:`None` if any is unknown) and ``disk_bytes`` what the folder
        takes now."""
        root = Path(root) if root is not None else data_home() / cls.name
        required = [r for r in cls.raw_files if not r.optional]
        present = [r for r in required if (root / 'raw' / r.name).is_file()]
        state = ('processed' if (root / 'processed' / 'done.json').is_file() else
                 'raw' if len(present) == len(required) else
                 'partial' if present else 'absent')
        sizes = [r.size for r in required]
        disk = sum(p.stat().st_size for p in root.rglob('*') if p.is_file()) if root.is_dir() else 0
        return {'name': cls.name, 'root': str(root), 'state': state, 'disk_bytes': disk,
                'raw_bytes': None if None in sizes else sum(sizes)}

    def __repr__(self) -> str:
        return f'{type(self).__name__}(root={str(self.root)!r})'
