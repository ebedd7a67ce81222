"""Readers for the dataset formats of the field; each returns :class:`DataSplits`."""
from __future__ import annotations

import io
import math
import re
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from pyg_mmrec.data.splits import DataSplits, from_arrays, split_per_user
from pyg_mmrec.errors import DataError

MMREC_COLUMNS = ('userID', 'itemID', 'x_label')
#: MMRec's id maps (``0rating2inter.ipynb``): file name, internal id column, and the raw id
#: column written here (MMRec names the item one ``asin``; any name is accepted when reading).
ID_MAPS = {'user': ('u_id_mapping.csv', 'userID', 'user_id'),
           'item': ('i_id_mapping.csv', 'itemID', 'item_id')}


def read_table(path: Path, columns: dict[str, str]) -> dict[str, np.ndarray]:
    """Reads a tab-separated file with a header, returning the requested columns.

    Args:
        path (Path): The file.
        columns (dict): Header name to kind, ``'int'`` (a non-negative integer id),
            ``'float'`` or ``'str'``; columns not named here are ignored.

    Raises:
        DataError: Naming the file and line of a missing header field, a row with the wrong
            number of fields, or a value of the wrong kind.
    """
    try:
        text = path.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read: {e}") from e
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{path}: the file is empty; expected a header line")
    header = lines[0].split('\t')
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path}, line 1: malformed header {lines[0]!r}; expected tab-separated "
                        f"columns including {list(columns)}, missing {missing}")
    rows = [line.split('\t') for line in lines[1:]]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(header)), None)
    if bad is not None:
        raise DataError(f"{path}, line {bad + 2}: expected {len(header)} tab-separated fields, "
                        f"got {len(rows[bad])}: {lines[bad + 1]!r}")
    out = {}
    for name, kind in columns.items():
        j = header.index(name)
        values = [r[j] for r in rows]
        if kind == 'str':
            out[name] = np.array(values, dtype=object)
            continue
        try:
            arr = np.array(values, dtype=np.float64 if kind == 'float' else np.int64)
        except (ValueError, OverflowError):  # OverflowError: an id beyond int64
            arr = None
        if kind == 'int' and arr is not None and arr.size and arr.min() < 0:
            arr = None
        if arr is None:  # find the first offending line for the message
            for i, v in enumerate(values):
                ok = (re.fullmatch(r'\d+', v.strip()) and int(v) < 2**63 if kind == 'int'
                      else _is_float(v))
                if not ok:
                    expected = 'a non-negative integer id' if kind == 'int' else 'a number'
                    raise DataError(f"{path}, line {i + 2}, field {name!r}: {v!r} is not "
                                    f"{expected}")
        out[name] = arr
    return out


def read_id_map(path: Path, column: str, n: int) -> list[str]:
    """Raw ids in internal id order from an MMRec id map: a tab-separated file with a header
    of two columns, a raw id (e.g. ``asin``) and ``column`` (``itemID`` or ``userID``).

    Raises:
        DataError: Naming the file (and line) of a malformed header or row, an internal id
            that is missing, repeated or beyond ``n``, or a raw id given to two internal ids.
    """
    read_table(path, {column: 'int'})  # the file, its header and its id column
    header = path.read_text(encoding='utf-8').splitlines()[0].split('\t')
    raw = [h for h in header if h != column]
    if len(header) != 2 or len(raw) != 1:
        raise DataError(f"{path}, line 1: header {header}; expected two tab-separated "
                        f"columns, a raw id and {column!r}")
    table = read_table(path, {column: 'int', raw[0]: 'str'})
    ids = table[column].tolist()
    line_of = {}
    for line, i in enumerate(ids, start=2):
        if i in line_of or i >= n:
            why = (f"repeats {column} {i} of line {line_of[i]}" if i in line_of else
                   f"{column} {i} is beyond the {n} ids of the dataset")
            raise DataError(f"{path}, line {line}: {why}; expected one row per id from 0 to "
                            f"{n - 1}")
        line_of[i] = line
    if len(ids) != n:
        missing = next(i for i in range(n) if i not in line_of)
        raise DataError(f"{path}: no raw id for {column} {missing}; expected one row per id "
                        f"from 0 to {n - 1}")
    out = [''] * n
    seen: dict[str, int] = {}
    for line, (i, r) in enumerate(zip(ids, table[raw[0]].tolist(), strict=True), start=2):
        if r in seen:
            raise DataError(f"{path}, line {line}: raw id {r!r} is given to {column} {i} and "
                            f"{seen[r]}; expected distinct raw ids")
        seen[r], out[i] = i, r
    return out


def id_map_text(raw_ids: list[str], column: str, raw_column: str) -> str:
    """An MMRec id map (see :func:`read_id_map`) of ``raw_ids`` (in internal id order)."""
    return f'{raw_column}\t{column}\n' + ''.join(f'{r}\t{i}\n' for i, r in enumerate(raw_ids))


def attach_raw_ids(splits: DataSplits, user_ids: list[str] | None,
                   item_ids: list[str] | None) -> DataSplits:
    """Stores the raw ids (lists in internal id order) as ``data['user'].raw_id`` and
    ``data['item'].raw_id`` of every view; :obj:`None` leaves them out."""
    for view in splits:
        for store, ids in (('user', user_ids), ('item', item_ids)):
            if ids is not None:
                view[store].raw_id = list(ids)
    return splits


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


#: What a malformed .npy / .npz file may raise inside numpy (its header is parsed with
#: :func:`ast.literal_eval`, its archive with :mod:`zipfile` and :mod:`zlib`).
_NUMPY_ERRORS = (OSError, ValueError, EOFError, SyntaxError, TypeError, KeyError, IndexError,
                 MemoryError, OverflowError, RecursionError, zipfile.BadZipFile, zlib.error,
                 tokenize.TokenError, NotImplementedError)


def _check_npy_header(f, size: int) -> None:
    """Reads the .npy header at ``f``'s position and refuses one that declares more data than
    the file holds (a header may claim terabytes) or an object array."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:
        raise ValueError(f"holds Python objects (dtype {dtype}); expected numbers")
    need = math.prod(shape) * dtype.itemsize
    if need > size - f.tell():
        raise ValueError(f"its header declares shape {shape} of {dtype} ({need} bytes), but "
                         f"the file holds only {size - f.tell()} bytes of data")


def read_npy(path: Path, data: bytes | None = None) -> np.ndarray:
    """Reads a numeric ``.npy`` array without running code or trusting its header.

    Args:
        path (Path): The file, or what to name in errors when ``data`` is given.
        data (bytes, optional): The file's contents (e.g. a member of an archive).

    Raises:
        DataError: For a file that is not a ``.npy`` array (an ``.npz`` archive under that
            name, an empty or truncated file, a header declaring more data than there is).
    """
    try:
        size = path.stat().st_size if data is None else len(data)
        with open(path, 'rb') if data is None else io.BytesIO(data) as f:
            if f.read(6) != np.lib.format.MAGIC_PREFIX:
                f.seek(0)
                kind = 'a .npz archive' if f.read(2) == b'PK' else 'not a .npy file'
                raise ValueError(f"{kind} (no .npy header); expected one array saved by "
                                 f"numpy.save")
            f.seek(0)
            _check_npy_header(f, size)
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except _NUMPY_ERRORS as e:
        raise DataError(f"{path}: not a readable numeric .npy array: "
                        f"{' '.join(str(e).split()) or type(e).__name__}") from e


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Reads every array of a ``.npz`` archive, each header checked as by :func:`read_npy`.

    Raises:
        DataError: For a file that is not a readable ``.npz`` archive of numeric arrays.
    """
    try:
        size = path.stat().st_size
        out = {}
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith('.npy'):
                    raise ValueError(f"member {info.filename!r} is not a .npy array")
                if info.file_size > max(size, 1) * 1032:  # beyond deflate's best ratio
                    raise ValueError(f"member {info.filename!r} claims {info.file_size} bytes")
                with archive.open(info) as f:
                    _check_npy_header(f, info.file_size)
                with archive.open(info) as f:
                    out[info.filename[:-4]] = np.load(io.BytesIO(f.read()), allow_pickle=False)
        return out
    except _NUMPY_ERRORS as e:
        raise DataError(f"{path}: not a readable .npz archive of numeric arrays: "
                        f"{' '.join(str(e).split()) or type(e).__name__}") from e


def load_mmrec(root: str | Path, name: str | None = None) -> DataSplits:
    r"""Reads a dataset folder in MMRec's format.

    The folder holds one ``<name>.inter`` file (tab-separated, header
    ``userID itemID x_label``, ``x_label`` 0 = train, 1 = validation, 2 = test), any number of
    ``<modality>_feat.npy`` feature matrices (``float32``, one row per item id) and any number of
    precomputed item-item graphs ``<modality>_knn*.npz`` (arrays ``edge_index``,
    ``edge_weight``, ``num_items``) and, where present, MMRec's id maps ``u_id_mapping.csv`` /
    ``i_id_mapping.csv`` (:func:`read_id_map`), which become ``data['user'].raw_id`` /
    ``data['item'].raw_id`` (the source's ids, e.g. ASINs, in internal id order). Files are
    loaded with ``allow_pickle=False``.

    Args:
        root (str or Path): The folder, e.g. ``data/tiktok`` of an MMRec download.
        name (str, optional): The dataset name; defaults to the stem of the ``.inter`` file.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a directory; expected a dataset folder")
    inters = sorted(root.glob('*.inter'))
    if len(inters) != 1:
        raise DataError(f"{root}: expected exactly one *.inter file, found "
                        f"{[p.name for p in inters] or 'none'}")
    table = read_table(inters[0], {c: 'int' for c in MMREC_COLUMNS})

    features = {}
    for path in sorted(root.glob('*_feat.npy')):
        features[path.name[:-len('_feat.npy')]] = read_npy(path)
    graphs, graph_paths = {}, {}
    for path in sorted(root.glob('*_knn*.npz')):
        modality = path.name.split('_knn')[0]
        if modality in graphs:
            raise DataError(f"{path}: a second graph for modality {modality!r}")
        graph_paths[modality] = path
        graphs[modality] = read_npz(path)
        for key in ('edge_index', 'edge_weight', 'num_items'):
            if key not in graphs[modality]:
                raise DataError(f"{path}: missing array {key!r}; expected edge_index, "
                                f"edge_weight and num_items")
    for m, f in features.items():
        if f.ndim != 2:
            raise DataError(f"{root / (m + '_feat.npy')}: expected a 2-D [num_items, dim] "
                            f"matrix, got shape {f.shape}")
    splits = from_arrays(
        table['userID'], table['itemID'], table['x_label'],
        features=features, graphs=graphs,
        name=name or inters[0].stem, source=str(inters[0]), line_offset=2,
        sources={**{f'x_{m}': str(root / f'{m}_feat.npy') for m in features},
                 **{f'knn_{m}': str(p) for m, p in graph_paths.items()}},
    )
    sizes = {'user': splits.num_users, 'item': splits.num_items}
    maps = {store: read_id_map(root / fname, column, sizes[store])
            if (root / fname).is_file() else None
            for store, (fname, column, _) in ID_MAPS.items()}
    return attach_raw_ids(splits, maps['user'], maps['item'])


def load_movielens100k(root: str | Path, seed: int = 2024,
                       ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> DataSplits:
    r"""Reads MovieLens-100K in RecBole's atomic format and splits it per user.

    Every rating counts as an implicit interaction. Original ids (from 1) are remapped to
    contiguous ids from 0 in increasing order of the original id. Each user's interactions are
    split with :func:`~pyg_mmrec.data.split_per_user` (seeded, 8:1:1 by default). Item texts
    (``"<title> (<year>): <genres>"``) are stored as the list ``data['item'].text`` for
    encoding into a text modality, and the original ids as ``data['user'].raw_id`` /
    ``data['item'].raw_id``.

    Args:
        root (str or Path): Folder with ``ml-100k.inter`` and ``ml-100k.item``.
        seed (int): Seed of the split.
        ratios (tuple): Train, validation and test ratios.
    """
    root = Path(root)
    inter_path = root / 'ml-100k.inter'
    if not inter_path.is_file():
        raise DataError(f"{inter_path}: file not found; expected MovieLens-100K atomic files")
    table = read_table(inter_path, {'user_id:token': 'int', 'item_id:token': 'int',
                                    'timestamp:float': 'float'})
    users, user = np.unique(table['user_id:token'], return_inverse=True)
    item_ids = table['item_id:token']
    item_path = root / 'ml-100k.item'
    texts = None
    if item_path.is_file():
        items = read_table(item_path, {'item_id:token': 'int', 'movie_title:token_seq': 'str',
                                       'release_year:token': 'str', 'class:token_seq': 'str'})
        all_items = items['item_id:token']
        unknown = np.setdiff1d(item_ids, all_items)
        if unknown.size:
            raise DataError(f"{inter_path}: item id {unknown[0]} is not listed in {item_path}")
        order = np.argsort(all_items, kind='stable')
        all_items = all_items[order]
        dup = np.flatnonzero(all_items[1:] == all_items[:-1])
        if dup.size:
            first, second = int(order[dup[0]]), int(order[dup[0] + 1])
            raise DataError(f"{item_path}, line {second + 2}: item id {all_items[dup[0]]} is "
                            f"listed twice (first at line {first + 2})")
        texts = [f"{t} ({y}): {c}" for t, y, c in zip(
            items['movie_title:token_seq'][order], items['release_year:token'][order],
            items['class:token_seq'][order], strict=True)]
    else:
        all_items = np.unique(item_ids)
    item = np.searchsorted(all_items, item_ids)
    split = split_per_user(user, len(users), ratios=ratios, seed=seed)
    splits = from_arrays(user, item, split, num_users=len(users), num_items=len(all_items),
                         name='ml-100k', source=str(inter_path), line_offset=2)
    attach_raw_ids(splits, [str(u) for u in users.tolist()],
                   [str(i) for i in all_items.tolist()])
    if texts is not None:
        for view in splits:
            view['item'].text = texts
    return splits


def load_dataset(path_or_name: str | Path, **kwargs) -> DataSplits:
    """Loads a dataset by name or path.

    ``'synthetic'`` is the embedded default dataset (:func:`~pyg_mmrec.data.make_synthetic`,
    keyword arguments passed on). An existing folder is read as before: MovieLens-100K if it
    holds ``ml-100k.inter``, else MMRec's format (a folder takes precedence over a dataset
    name). Any other string is a registered dataset name (:data:`pyg_mmrec.datasets.DATASETS`,
    e.g. ``'tiktok'``, ``'ml-100k'``, ``'amazon-baby'``): its class is loaded from the data
    home (:func:`pyg_mmrec.datasets.data_home`), downloading on first use, with keyword
    arguments passed to the class (e.g. ``force_reload=True``).

    Raises:
        DataError: If ``path_or_name`` is neither a folder nor a registered name.
    """
    from pyg_mmrec.data.synthetic import make_synthetic
    from pyg_mmrec.datasets import DATASETS

    if str(path_or_name) == 'synthetic':
        return make_synthetic(**kwargs)
    path = Path(path_or_name)
    if path.exists():
        if (path / 'ml-100k.inter').is_file():
            return load_movielens100k(path, **kwargs)
        return load_mmrec(path, **kwargs)
    cls = DATASETS.get(str(path_or_name).lower())
    if cls is None:
        raise DataError(f"{path}: no such dataset folder, and not a registered dataset name "
                        f"(registered: {sorted(DATASETS)}, or 'synthetic')")
    return cls(**kwargs).splits
