"""MovieLens-100K and MovieLens-1M, from GroupLens."""
from __future__ import annotations

import zipfile

import numpy as np

from pyg_mmrec.data.splits import split_per_user
from pyg_mmrec.datasets.base import Dataset, RawFile, register_dataset
from pyg_mmrec.errors import DataError

_URL = 'https://files.grouplens.org/datasets/movielens/'
#: The seed of the per-user split (the same as the ``ml-100k-text`` benchmark recipe's).
SPLIT_SEED = 2024


class MovieLens(Dataset):
    r"""A MovieLens archive from `GroupLens <https://grouplens.org/datasets/movielens/>`_
    (F. M. Harper and J. A. Konstan, `The MovieLens Datasets: History and Context
    <https://doi.org/10.1145/2827872>`_, ACM TiiS 2015), as implicit feedback.

    Every rating counts as an interaction. Users and the rated movies are given contiguous ids
    in increasing order of their GroupLens ids (kept as ``raw_id``), and each user's
    interactions are split 8:1:1 with :func:`~pyg_mmrec.data.split_per_user` (seed 2024, in the
    order of the ratings file). Item texts ``"<title (year)>: <genres>"`` are stored as
    ``data['item'].text``, for :class:`~pyg_mmrec.transforms.EncodeText`.

    **Licence**: GroupLens's terms: research use, no redistribution or commercial use without
    permission, cite the paper above. **Checksums**: GroupLens publishes an MD5 of each zip
    (checked); its SHA-256 and size are unknown here, since ``files.grouplens.org`` could not
    be reached from where this was written.

    Args:
        **kwargs: See :class:`~pyg_mmrec.datasets.Dataset`.
    """
    #: The archive's top folder.
    folder = ''

    def ratings(self, archive: zipfile.ZipFile) -> tuple[np.ndarray, np.ndarray]:
        """User and movie ids of every rating, in file order."""
        raise NotImplementedError

    def movies(self, archive: zipfile.ZipFile) -> dict[int, str]:
        """Movie id to its text."""
        raise NotImplementedError

    def member(self, archive: zipfile.ZipFile, name: str, encoding: str = 'utf-8') -> list[str]:
        path = f'{self.folder}/{name}'
        try:
            text = archive.read(path).decode(encoding)
        except KeyError:
            raise DataError(f"{archive.filename}: no member {path!r}; expected the GroupLens "
                            f"archive") from None
        return [line for line in text.splitlines() if line.strip()]

    def columns(self, lines: list[str], sep: str, n: int, what: str) -> list[list[str]]:
        rows = [line.split(sep) for line in lines]
        bad = next((i for i, r in enumerate(rows) if len(r) < n), None)
        if bad is not None:
            raise DataError(f"{self.raw_path(self.raw_files[0].name)}: {self.folder}/{what}, "
                            f"line {bad + 1}: expected {n} {sep!r}-separated fields, got "
                            f"{lines[bad]!r}")
        return rows

    def process(self) -> dict:
        path = self.raw_path(self.raw_files[0].name)
        try:
            with zipfile.ZipFile(path) as archive:
                raw_user, raw_item = self.ratings(archive)
                texts = self.movies(archive)
        except zipfile.BadZipFile as e:
            raise DataError(f"{path}: not a zip archive: {e}") from e
        users, user = np.unique(raw_user, return_inverse=True)
        items, item = np.unique(raw_item, return_inverse=True)
        unknown = [int(i) for i in items if int(i) not in texts]
        if unknown:
            raise DataError(f"{path}: movie {unknown[0]} is rated but not listed")
        split = split_per_user(user, len(users), seed=SPLIT_SEED)
        return dict(user=user, item=item, split=split, num_users=len(users),
                    num_items=len(items), user_ids=users.tolist(), item_ids=items.tolist(),
                    item_text=[texts[int(i)] for i in items])


def _ids(rows: list[list[str]], columns: tuple[int, int], where: str) -> tuple[np.ndarray, ...]:
    try:
        return tuple(np.array([int(r[c]) for r in rows], dtype=np.int64) for c in columns)
    except ValueError as e:
        raise DataError(f"{where}: a user or movie id is not an integer: {e}") from e


@register_dataset
class MovieLens100K(MovieLens):
    r"""MovieLens-100K (``ml-100k.zip``: 943 users, 1,682 movies, 100,000 ratings); see
    :class:`MovieLens`. Reads ``u.data`` (tab-separated), ``u.item`` and ``u.genre``
    (``|``-separated, Latin-1)."""
    name = 'ml-100k'
    folder = 'ml-100k'
    homepage = 'https://grouplens.org/datasets/movielens/100k/'
    raw_files = (RawFile('ml-100k.zip', _URL + 'ml-100k.zip',
                         md5='0e33842e24a9c977be4e0107933c0723'), )

    def ratings(self, archive):
        rows = self.columns(self.member(archive, 'u.data'), '\t', 4, 'u.data')
        return _ids(rows, (0, 1), f'{archive.filename}: u.data')

    def movies(self, archive):
        genres = {int(i): g for g, i in self.columns(
            self.member(archive, 'u.genre', 'latin-1'), '|', 2, 'u.genre')}
        out = {}
        for r in self.columns(self.member(archive, 'u.item', 'latin-1'), '|', 24, 'u.item'):
            flags = [genres[j] for j, f in enumerate(r[5:24]) if f == '1']
            out[int(r[0])] = f"{r[1]}: {' '.join(flags)}"
        return out


@register_dataset
class MovieLens1M(MovieLens):
    r"""MovieLens-1M (``ml-1m.zip``: 6,040 users, 3,706 rated movies, 1,000,209 ratings); see
    :class:`MovieLens`. Reads ``ratings.dat`` and ``movies.dat`` (``::``-separated,
    Latin-1)."""
    name = 'ml-1m'
    folder = 'ml-1m'
    homepage = 'https://grouplens.org/datasets/movielens/1m/'
    raw_files = (RawFile('ml-1m.zip', _URL + 'ml-1m.zip',
                         md5='c4d9eecfca2ab87c1945afe126590906'), )

    def ratings(self, archive):
        rows = self.columns(self.member(archive, 'ratings.dat'), '::', 4, 'ratings.dat')
        return _ids(rows, (0, 1), f'{archive.filename}: ratings.dat')

    def movies(self, archive):
        rows = self.columns(self.member(archive, 'movies.dat', 'latin-1'), '::', 3,
                            'movies.dat')
        return {int(r[0]): f"{r[1]}: {r[2].replace('|', ' ')}" for r in rows}
