r"""An MMRec dataset folder from the raw Amazon review data, as MMRec's preprocessing does.

The raw files are those of J. McAuley's Amazon review data (`2014
<https://jmcauley.ucsd.edu/data/amazon/links.html>`_ and `2018
<https://nijianmo.github.io/amazon/>`_ releases): the ratings CSV or the reviews JSON lines,
the metadata ``meta_<Category>.json.gz`` and the binary CNN image features
``image_features_<Category>.b``. :func:`prepare_amazon` runs the steps of MMRec's four
notebooks (``preprocessing/`` of https://github.com/enoche/MMRec) and writes the folder that
:func:`~pyg_mmrec.data.load_mmrec` reads.
"""
from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated

import numpy as np
from tqdm.auto import tqdm

from pyg_mmrec.data.readers import ID_MAPS, id_map_text, load_mmrec
from pyg_mmrec.data.splits import split_per_user
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.params import Choice, Range, validated
from pyg_mmrec.utils import atomic_write

log = logging.getLogger(__name__)

#: The dimension of the CNN image features of the Amazon release.
IMAGE_DIM = 4096
#: The length of an ASIN, the key of each record of ``image_features_*.b``.
ASIN_BYTES = 10
#: The column orders of the ratings CSVs: 2014 (``ratings_<Category>.csv``) and 2018
#: (``<Category>.csv``).
RATINGS_COLUMNS = ('user,item,rating,timestamp', 'item,user,rating,timestamp')
#: The files written besides ``<name>.inter``, the id maps and the feature matrices.
MISSED_IMAGES, MISSED_TEXTS, RECORD = 'missed_img_itemIDs.csv', 'missed_text_itemIDs.csv', \
    'prepare.json'


def _open_text(path: Path) -> io.TextIOBase:
    try:
        if path.name.endswith('.gz'):
            return io.TextIOWrapper(gzip.open(path, 'rb'), encoding='utf-8', newline='')
        return open(path, encoding='utf-8', newline='')
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from e


def _lines(path: Path, progress: bool) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text file, gzip-compressed or not, blank lines skipped."""
    with _open_text(path) as f:
        try:
            for number, line in enumerate(tqdm(f, desc=f'reading {path.name}', unit=' lines',
                                               disable=not progress), start=1):
                if line.strip():
                    yield number, line
        except (OSError, EOFError, UnicodeDecodeError) as e:  # a corrupt or truncated file
            raise DataError(f"{path}: cannot read past line {number}: {e}") from e


def _check_id(value, path: Path, number: int, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(c in value for c in '\t\r\n'):
        raise DataError(f"{path}, line {number}: {field} {value!r} is not an id (expected a "
                        f"non-empty string without tabs or line breaks)")
    return value.strip()


def read_ratings(path: str | Path, columns: str = RATINGS_COLUMNS[0], progress: bool = True
                 ) -> tuple[list[str], list[str], list[float], list[int]]:
    """Users, items, ratings and timestamps of a ratings CSV without a header (``.gz`` or
    not), in file order.

    Args:
        path (str or Path): The file.
        columns (str): The column order, ``'user,item,rating,timestamp'`` (2014) or
            ``'item,user,rating,timestamp'`` (2018).
        progress (bool): Show a progress bar.

    Raises:
        DataError: Naming the file and line of a row without four fields, an empty id or a
            rating or timestamp that is not a number.
    """
    path = Path(path)
    names = columns.split(',')
    users, items, ratings, times = [], [], [], []
    for number, line in _lines(path, progress):
        row = next(csv.reader([line]))
        if len(row) != 4:
            raise DataError(f"{path}, line {number}: expected 4 comma-separated fields "
                            f"({columns}), got {len(row)}: {line.strip()!r}")
        fields = dict(zip(names, row, strict=True))
        users.append(_check_id(fields['user'], path, number, 'user'))
        items.append(_check_id(fields['item'], path, number, 'item'))
        try:
            ratings.append(float(fields['rating']))
            times.append(int(float(fields['timestamp'])))
        except (ValueError, OverflowError):
            raise DataError(f"{path}, line {number}: rating {fields['rating']!r} and timestamp "
                            f"{fields['timestamp']!r} must be numbers") from None
    return users, items, ratings, times


def read_reviews(path: str | Path, progress: bool = True
                 ) -> tuple[list[str], list[str], list[float], list[int]]:
    """Users, items, ratings and timestamps of a reviews file (one JSON object per line,
    ``.gz`` or not; the keys ``reviewerID``, ``asin``, ``overall``, ``unixReviewTime`` of
    both releases), in file order.

    Raises:
        DataError: Naming the file and line of a line that is not a JSON object, lacks one of
            the keys or holds a rating or time that is not a number.
    """
    path = Path(path)
    users, items, ratings, times = [], [], [], []
    for number, line in _lines(path, progress):
        try:
            review = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}, line {number}: not a JSON object ({e.msg})") from None
        missing = [k for k in ('reviewerID', 'asin', 'overall', 'unixReviewTime')
                   if not isinstance(review, dict) or k not in review]
        if missing:
            raise DataError(f"{path}, line {number}: the review lacks {missing}")
        users.append(_check_id(review['reviewerID'], path, number, 'reviewerID'))
        items.append(_check_id(review['asin'], path, number, 'asin'))
        try:
            ratings.append(float(review['overall']))
            times.append(int(review['unixReviewTime']))
        except (ValueError, TypeError, OverflowError):
            raise DataError(f"{path}, line {number}: overall {review['overall']!r} and "
                            f"unixReviewTime {review['unixReviewTime']!r} must be "
                            f"numbers") from None
    return users, items, ratings, times


def k_core(user: np.ndarray, item: np.ndarray, user_core: int, item_core: int
           ) -> tuple[np.ndarray, list[dict[str, int]]]:
    r"""The interactions of the :math:`(k_u, k_i)`-core: the largest subset in which every user
    has at least ``user_core`` interactions and every item at least ``item_core``.

    As MMRec's ``filter_by_k_core``, each round counts the interactions of every user and item
    and drops those of the users and items below their threshold, until a round drops
    nothing (the fixed point: the core, whatever the order of removal).

    Args:
        user (array): User code of each interaction (integers from 0).
        item (array): Item code of each interaction.
        user_core (int): :math:`k_u`.
        item_core (int): :math:`k_i`.

    Returns:
        (a boolean mask of the kept interactions, per round the users, items and interactions
        dropped).
    """
    keep = np.ones(len(user), dtype=bool)
    rounds = []
    while True:
        u_count = np.bincount(user[keep], minlength=int(user.max(initial=-1)) + 1)
        i_count = np.bincount(item[keep], minlength=int(item.max(initial=-1)) + 1)
        bad_u = (u_count > 0) & (u_count < user_core)
        bad_i = (i_count > 0) & (i_count < item_core)
        drop = keep & (bad_u[user] | bad_i[item])
        if not drop.any():
            return keep, rounds
        rounds.append({'users': int(bad_u.sum()), 'items': int(bad_i.sum()),
                       'interactions': int(drop.sum())})
        keep &= ~drop


def _parse_meta(line: str, path: Path, number: int) -> dict:
    try:
        entry = json.loads(line)  # 2018: strict JSON
    except json.JSONDecodeError:
        try:  # 2014: a Python literal per line (never evaluated as code)
            entry = ast.literal_eval(line.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError) as e:
            raise DataError(f"{path}, line {number}: neither JSON nor a Python literal "
                            f"({type(e).__name__})") from None
    if not isinstance(entry, dict) or not isinstance(entry.get('asin'), str):
        raise DataError(f"{path}, line {number}: expected an object with an 'asin' string")
    return entry


def item_sentence(entry: dict) -> str:
    """The text of an item as MMRec builds it (``3feat-encoder.ipynb``): title, brand, the
    categories of its first category path, then its description, separated by spaces, a
    missing field counted as one space, line breaks as spaces. Reads both releases: 2014's
    ``categories`` (a list of paths) and description string, 2018's ``category`` (one path)
    and description list."""
    def text(key: str) -> str:
        value = entry.get(key)
        if isinstance(value, list):
            value = ' '.join(str(v) for v in value)
        return value if isinstance(value, str) and value else ' '
    paths = entry.get('categories')
    path = (paths[0] if isinstance(paths, list) and paths and isinstance(paths[0], list)
            else entry.get('category') if isinstance(entry.get('category'), list) else [])
    sentence = (text('title') + ' ' + text('brand') + ' '
                + ''.join(f'{c} ' for c in path) + text('description'))
    return sentence.replace('\n', ' ')


def read_meta(path: str | Path, asins: dict[str, int], progress: bool = True
              ) -> dict[int, str]:
    """Item id to its :func:`item_sentence`, for the items of ``asins`` (ASIN to item id)
    listed in a metadata file (``.gz`` or not; entries of other items are skipped, a repeated
    one replaces the earlier).

    Raises:
        DataError: Naming the file and line of a line that is neither JSON nor a Python
            literal, or not an object with an ``asin``.
    """
    path = Path(path)
    out = {}
    for number, line in _lines(path, progress):
        entry = _parse_meta(line, path, number)
        if entry['asin'] in asins:
            out[asins[entry['asin']]] = item_sentence(entry)
    return out


def read_image_features(path: str | Path, asins: dict[str, int], progress: bool = True
                        ) -> dict[int, np.ndarray]:
    """Item id to its CNN feature vector, for the items of ``asins`` found in an
    ``image_features_*.b`` file: records of a 10-byte ASIN followed by 4096 little-endian
    ``float32`` (read one record at a time; a repeated ASIN replaces the earlier).

    Raises:
        DataError: Naming the file, record and byte offset of a truncated record, an ASIN
            that is not ASCII, or a non-finite feature.
    """
    path = Path(path)
    size = IMAGE_DIM * 4
    out = {}
    try:
        f = open(path, 'rb')
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from e
    with f, tqdm(total=path.stat().st_size, unit='B', unit_scale=True,
                 desc=f'reading {path.name}', disable=not progress) as bar:
        record = 0
        while key := f.read(ASIN_BYTES):
            offset = record * (ASIN_BYTES + size)
            record += 1
            body = f.read(size)
            if len(key) < ASIN_BYTES or len(body) < size:
                raise DataError(f"{path}: record {record} at byte {offset} is truncated "
                                f"({len(key) + len(body)} of {ASIN_BYTES + size} bytes); "
                                f"expected 10-byte ASINs each followed by {IMAGE_DIM} "
                                f"little-endian float32")
            try:
                asin = key.decode('ascii')
            except UnicodeDecodeError:
                raise DataError(f"{path}: record {record} at byte {offset}: the ASIN {key!r} "
                                f"is not ASCII; is this an image_features_*.b file?") from None
            bar.update(ASIN_BYTES + size)
            if asin not in asins:
                continue
            vector = np.frombuffer(body, dtype='<f4')
            if not np.isfinite(vector).all():
                raise DataError(f"{path}: record {record} ({asin}) holds NaN or inf")
            out[asins[asin]] = vector.astype(np.float32)
    return out


def fill_missing(found: dict[int, np.ndarray], n: int, what: str, path: Path
                 ) -> tuple[np.ndarray, list[int]]:
    """A ``[n, d]`` matrix of the rows of ``found``, the items without one filled with the
    mean of the found rows (MMRec's rule for images, after LATTICE); returns it with the ids
    of the filled items.

    Raises:
        DataError: If no item is found.
    """
    if not found:
        raise DataError(f"{path}: holds {what} for none of the {n} items of the dataset; "
                        f"is it the file of the same category?")
    rows = np.stack([found[i] for i in sorted(found)])
    mean = rows.mean(axis=0)
    missed = [i for i in range(n) if i not in found]
    out = np.empty((n, rows.shape[1]), dtype=np.float32)
    out[sorted(found)] = rows
    out[missed] = mean
    return out, missed


def _prepare_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: is a file; name a folder to write the dataset to")
    existing = sorted(p.name for p in out_dir.iterdir()) if out_dir.is_dir() else []
    if existing and not overwrite:
        raise ConfigError(f"{out_dir}: holds files already ({', '.join(existing[:5])}); use "
                          f"an empty folder, or overwrite=True (--overwrite) to replace a "
                          f"prepared dataset")
    if existing:
        ours = [p for p in out_dir.iterdir() if p.is_file() and (
            p.suffix == '.inter' or p.name.endswith('_feat.npy') or p.name in (
                MISSED_IMAGES, MISSED_TEXTS, RECORD, *(f for f, _, _ in ID_MAPS.values())))]
        others = sorted(set(existing) - {p.name for p in ours})
        if others:
            raise ConfigError(f"{out_dir}: holds files that are not a prepared dataset's "
                              f"({', '.join(others[:5])}); use another folder")
        for p in ours:
            p.unlink()


@validated
def prepare_amazon(
    out_dir: str | Path,
    ratings: str | Path | None = None,
    reviews: str | Path | None = None,
    meta: str | Path | None = None,
    images: str | Path | None = None,
    name: str | None = None,
    user_core: Annotated[int, Range(3)] = 5,
    item_core: Annotated[int, Range(1)] = 5,
    seed: Annotated[int, Range(0)] = 2024,
    ratings_columns: Choice(*RATINGS_COLUMNS) = RATINGS_COLUMNS[0],
    text_encoder: Callable[[Sequence[str]], np.ndarray] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    r"""Prepares an MMRec dataset folder from the raw Amazon review files, doing what MMRec's
    preprocessing notebooks do:

    1. **Interactions** (``0rating2inter.ipynb``) from the ``ratings`` CSV (no header; the
       column order of ``ratings_columns``) or the ``reviews`` JSON lines. A repeated
       (user, item) pair is kept once, at its first line: MMRec drops only rows repeated with
       the same timestamp, but an implicit interaction is a pair (and a pair twice in a split
       is refused by the readers).
    2. **k-core filtering** iterated to the fixed point (:func:`k_core`; MMRec: 5 and 5).
    3. **Contiguous ids** in order of first appearance in the file among the kept
       interactions (MMRec's ``pd.unique``), kept on disk as MMRec's id maps
       ``u_id_mapping.csv`` (``user_id``, ``userID``) and ``i_id_mapping.csv`` (``asin``,
       ``itemID``).
    4. **A seeded per-user split** (``1splitting.ipynb``, which shuffles without a seed):
       8:1:1 with MMRec's rule for short histories, one validation and one test interaction
       for a user with fewer than 10 (:func:`~pyg_mmrec.data.split_per_user` with
       ``rule='mmrec'``; hence ``user_core`` :math:`\geq 3`).
    5. **Item text** (``3feat-encoder.ipynb``) from ``meta``: title, brand, first category
       path and description (:func:`item_sentence`), encoded by
       :class:`~pyg_mmrec.transforms.EncodeText` with ``text_encoder`` (default
       all-MiniLM-L6-v2, 384-d, :func:`~pyg_mmrec.transforms.encode_text.minilm_encoder`,
       the model MMRec used; it needs the ``text`` extra). Items without metadata (MMRec
       assumes there are none) get the mean of the others' encodings, and are listed in
       ``missed_text_itemIDs.csv``.
    6. **Image features** from ``images`` (:func:`read_image_features`); items without a
       record get the mean of the found items' features, as MMRec does after LATTICE, and
       are listed in ``missed_img_itemIDs.csv`` (MMRec's file: one item id per line).

    Written to ``out_dir`` (each file atomically, ``prepare.json`` last): ``<name>.inter``
    (``userID itemID rating timestamp x_label``, by user), the two id maps,
    ``text_feat.npy`` and ``image_feat.npy`` (``float32``), the lists of filled items and
    ``prepare.json`` (the settings, the inputs and the counts of every step).

    Args:
        out_dir (str or Path): The folder to write (absent or empty, unless ``overwrite``).
        ratings (str or Path, optional): A ratings CSV, e.g. ``ratings_Baby.csv``.
        reviews (str or Path, optional): A reviews file instead, e.g.
            ``reviews_Baby_5.json.gz``.
        meta (str or Path, optional): ``meta_<Category>.json.gz``; without it, no text.
        images (str or Path, optional): ``image_features_<Category>.b``; without it, no
            image features.
        name (str, optional): The dataset name, the stem of the ``.inter`` file
            (default: the folder's name).
        user_core (int): Minimum interactions per user. (default: :obj:`5`)
        item_core (int): Minimum interactions per item. (default: :obj:`5`)
        seed (int): Seed of the split. (default: :obj:`2024`)
        ratings_columns (str): The column order of ``ratings``.
        text_encoder (callable, optional): Maps a list of strings to a ``[n, d]`` array.
        overwrite (bool): Replace a dataset prepared in ``out_dir`` before.
        progress (bool): Show progress bars.

    Returns:
        The record written to ``prepare.json``.

    Raises:
        DataError: For a malformed input (naming its file and line or record), or nothing
            left after the k-core filter.
        ConfigError: For a bad setting or output folder.
    """
    out_dir = Path(out_dir)
    if (ratings is None) == (reviews is None):
        raise ConfigError("give the interactions as exactly one of ratings (a CSV) and "
                          "reviews (JSON lines)")
    source = Path(ratings if ratings is not None else reviews)
    _prepare_out_dir(out_dir, overwrite)
    name = name or out_dir.resolve().name
    if ratings is not None:
        users, items, rating, times = read_ratings(source, ratings_columns, progress)
    else:
        users, items, rating, times = read_reviews(source, progress)
    if not users:
        raise DataError(f"{source}: holds no interactions")
    raw_users, user = np.unique(np.array(users, dtype=object), return_inverse=True)
    raw_items, item = np.unique(np.array(items, dtype=object), return_inverse=True)
    _, first = np.unique(user * len(raw_items) + item, return_index=True)
    unique = np.zeros(len(user), dtype=bool)
    unique[first] = True
    keep, rounds = k_core(user[unique], item[unique], user_core, item_core)
    rows = np.flatnonzero(unique)[keep]  # kept rows, in file order
    if not rows.size:
        raise DataError(f"{source}: no interaction survives the ({user_core}, {item_core})-"
                        f"core filter; lower user_core / item_core")
    # Contiguous ids in order of first appearance among the kept rows (MMRec's pd.unique).
    u_codes, u_first, u_new = np.unique(user[rows], return_index=True, return_inverse=True)
    i_codes, i_first, i_new = np.unique(item[rows], return_index=True, return_inverse=True)
    u_rank = np.argsort(np.argsort(u_first, kind='stable'), kind='stable')
    i_rank = np.argsort(np.argsort(i_first, kind='stable'), kind='stable')
    uid, iid = u_rank[u_new], i_rank[i_new]
    user_ids = [str(raw_users[c]) for c in u_codes[np.argsort(u_rank)]]
    item_ids = [str(raw_items[c]) for c in i_codes[np.argsort(i_rank)]]
    num_users, num_items = len(user_ids), len(item_ids)
    labels = split_per_user(uid, num_users, seed=seed, rule='mmrec')

    features, missed = {}, {}
    asins = {a: i for i, a in enumerate(item_ids)}
    if meta is not None:
        texts = read_meta(Path(meta), asins, progress)
        from pyg_mmrec.transforms.encode_text import EncodeText
        order = sorted(texts)
        encoded = EncodeText(encoder=text_encoder).encode([texts[i] for i in order])
        features['text'], missed['text'] = fill_missing(
            dict(zip(order, encoded, strict=True)), num_items, 'metadata', Path(meta))
    if images is not None:
        features['image'], missed['image'] = fill_missing(
            read_image_features(Path(images), asins, progress), num_items, 'image features',
            Path(images))

    order = np.lexsort((labels, uid))
    out_dir.mkdir(parents=True, exist_ok=True)
    inter = 'userID\titemID\trating\ttimestamp\tx_label\n' + ''.join(
        f'{u}\t{i}\t{r:g}\t{t}\t{s}\n' for u, i, r, t, s in zip(
            uid[order].tolist(), iid[order].tolist(),
            np.asarray(rating)[rows][order].tolist(), np.asarray(times)[rows][order].tolist(),
            labels[order].tolist(), strict=True))
    files = {f'{name}.inter': inter.encode('utf-8'),
             ID_MAPS['user'][0]: id_map_text(user_ids, 'userID', 'user_id').encode('utf-8'),
             ID_MAPS['item'][0]: id_map_text(item_ids, 'itemID', 'asin').encode('utf-8')}
    for fname, write in tqdm(list(files.items()), desc=f'writing {out_dir}',
                             disable=not progress):
        atomic_write(out_dir / fname, lambda f, b=write: f.write(b))
    for m, x in features.items():
        atomic_write(out_dir / f'{m}_feat.npy', lambda f, x=x: np.save(f, x, allow_pickle=False))
        fname = MISSED_IMAGES if m == 'image' else MISSED_TEXTS
        atomic_write(out_dir / fname, lambda f, ids=missed[m]: f.write(
            ''.join(f'{i}\n' for i in ids).encode('utf-8')))
    record = {
        'name': name,
        'inputs': {k: str(v) for k, v in (('ratings', ratings), ('reviews', reviews),
                                          ('meta', meta), ('images', images)) if v is not None},
        'settings': {'user_core': user_core, 'item_core': item_core, 'seed': seed,
                     'split': '8:1:1, MMRec rule', 'ratings_columns': ratings_columns,
                     'text_encoder': getattr(text_encoder, '__name__', None)
                     if text_encoder is not None else 'all-MiniLM-L6-v2'},
        'read': {'interactions': len(users), 'repeated_pairs': int(len(users) - unique.sum()),
                 'users': len(raw_users), 'items': len(raw_items)},
        'k_core_rounds': rounds,
        'users': num_users, 'items': num_items, 'interactions': int(rows.size),
        'split': {s: int((labels == j).sum()) for j, s in enumerate(('train', 'val', 'test'))},
        'missed': {m: len(v) for m, v in missed.items()},
    }
    text = json.dumps(record, indent=2) + '\n'
    atomic_write(out_dir / RECORD, lambda f: f.write(text.encode('utf-8')))
    load_mmrec(out_dir, name=name)  # what was written reads back
    return record
