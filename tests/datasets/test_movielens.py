"""MovieLens-100K and 1M from GroupLens zips, served locally in their real layout."""
import hashlib
import json
import zipfile

import numpy as np
import pytest

import pyg_mmrec
from pyg_mmrec.data import INTERACTS, load_movielens100k
from pyg_mmrec.datasets import MovieLens1M, MovieLens100K
from pyg_mmrec.errors import DataError

GENRES = ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime',
          'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery',
          'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western']
# (title, year, genres) of movies 1..6 (GroupLens ids from 1); movie 6 is never rated.
MOVIES = [('Toy Story', 1995, [3, 4, 5]), ('GoldenEye', 1995, [1, 2, 16]),
          ('Four Rooms', 1995, [16]), ('Get Shorty', 1995, [1, 5, 8]),
          ('Copycat', 1995, [6, 8, 16]), ('Unrated', 1996, [8])]


def ratings(seed=0):
    """(user, movie, rating, timestamp) with GroupLens ids: users 1..8 (user 5 missing)."""
    rng = np.random.default_rng(seed)
    out = []
    for u in (1, 2, 3, 4, 6, 7, 8, 9):
        for m in rng.permutation(5)[:4] + 1:
            out.append((u, int(m), int(rng.integers(1, 6)), 874965758 + len(out)))
    return [out[i] for i in rng.permutation(len(out))]  # not in id order, as in u.data


def write_100k(path, rows):
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('ml-100k/u.data', ''.join('\t'.join(map(str, r)) + '\n' for r in rows))
        z.writestr('ml-100k/u.genre', ''.join(f'{g}|{i}\n' for i, g in enumerate(GENRES)) + '\n')
        lines = []
        for i, (title, year, genres) in enumerate(MOVIES, start=1):
            flags = ['1' if j in genres else '0' for j in range(19)]
            lines.append('|'.join([str(i), f'{title} ({year})', f'01-Jan-{year}', '',
                                   f'http://us.imdb.com/M/title-exact?{title}', *flags]))
        z.writestr('ml-100k/u.item', '\n'.join(lines).encode('latin-1'))
        z.writestr('ml-100k/README', 'fixture')


def write_1m(path, rows):
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('ml-1m/ratings.dat', ''.join('::'.join(map(str, r)) + '\n' for r in rows))
        z.writestr('ml-1m/movies.dat', ''.join(
            f"{i}::{t} ({y})::{'|'.join(GENRES[g] for g in gs)}\n"
            for i, (t, y, gs) in enumerate(MOVIES, start=1)).encode('latin-1'))


def text(movie):
    title, year, genres = MOVIES[movie - 1]
    return f"{title} ({year}): {' '.join(GENRES[g] for g in genres)}"


def test_processed_layout_has_mmrec_id_maps_and_an_older_one_is_redone(server, served_class,
                                                                       tmp_path):
    url, folder, httpd = server
    write_100k(folder / 'ml-100k.zip', ratings())
    cls = served_class(MovieLens100K, folder, url)
    dataset = cls(root=tmp_path / 'ml', progress=False)
    processed = dataset.processed_dir
    assert (processed / 'u_id_mapping.csv').read_text().splitlines()[:3] == [
        'user_id\tuserID', '1\t0', '2\t1']
    assert (processed / 'i_id_mapping.csv').read_text().splitlines()[0] == 'item_id\titemID'
    # A folder of the earlier layout (id maps as user_ids.txt, a marker without its format)
    # is processed again rather than read without its raw ids.
    marker = json.loads((processed / 'done.json').read_text())
    del marker['format']
    (processed / 'done.json').write_text(json.dumps(marker))
    (processed / 'u_id_mapping.csv').unlink()
    (processed / 'user_ids.txt').write_text('stale\n')
    splits = cls(root=dataset.root, progress=False).splits
    assert splits.train['user'].raw_id == ['1', '2', '3', '4', '6', '7', '8', '9']
    assert not (processed / 'user_ids.txt').exists()
    assert json.loads((processed / 'done.json').read_text())['format'] == 2


@pytest.mark.parametrize('cls, write', [(MovieLens100K, write_100k), (MovieLens1M, write_1m)])
def test_download_process_load_train(server, served_class, tmp_path, cls, write):
    url, folder, httpd = server
    rows = ratings()
    write(folder / cls.raw_files[0].name, rows)
    dataset = served_class(cls, folder, url)(root=tmp_path / cls.name, progress=False)
    splits = dataset.splits
    assert (splits.num_users, splits.num_items) == (8, 5)  # user 5 and movie 6 dropped
    train, val, test = splits
    assert train['user'].raw_id == ['1', '2', '3', '4', '6', '7', '8', '9']
    assert train['item'].raw_id == ['1', '2', '3', '4', '5']
    assert train['item'].text == [text(m) for m in range(1, 6)]
    assert train['item'].text[0] == "Toy Story (1995): Animation Children's Comedy"
    got = set()
    for view in splits:
        for u, i in view[INTERACTS].edge_label_index.t().tolist():
            got.add((int(train['user'].raw_id[u]), int(train['item'].raw_id[i])))
    assert got == {(u, m) for u, m, *_ in rows}
    # 4 ratings per user: one validation and one test item each (max(1, floor(0.1 * 4)))
    assert val[INTERACTS].edge_label_index[0].bincount().tolist() == [1] * 8
    assert test[INTERACTS].edge_label_index[0].bincount().tolist() == [1] * 8
    results = pyg_mmrec.run('bprmf', splits, {'epochs': 1, 'progress': False,
                                              'embedding_dim': 4}, out_dir=tmp_path / 'run')
    assert results['epochs_run'] == 1


def test_100k_split_equals_the_atomic_reader(server, served_class, tmp_path):
    """The same ratings as RecBole atomic files, read by the independent reader."""
    url, folder, httpd = server
    rows = ratings(seed=3)
    write_100k(folder / 'ml-100k.zip', rows)
    splits = served_class(MovieLens100K, folder, url)(root=tmp_path / 'ml', progress=False).splits
    atomic = tmp_path / 'atomic'
    atomic.mkdir()
    (atomic / 'ml-100k.inter').write_text(
        'user_id:token\titem_id:token\trating:float\ttimestamp:float\n'
        + ''.join('\t'.join(map(str, r)) + '\n' for r in rows))
    (atomic / 'ml-100k.item').write_text(
        'item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n'
        + ''.join(f"{i}\t{t}\t{y}\t{' '.join(GENRES[g] for g in gs)}\n"
                  for i, (t, y, gs) in enumerate(MOVIES[:5], start=1)))
    reference = load_movielens100k(atomic, seed=2024)
    for ours, theirs in zip(splits, reference, strict=True):
        assert ours[INTERACTS].edge_label_index.tolist() == \
            theirs[INTERACTS].edge_label_index.tolist()
    assert splits.train['item'].text == reference.train['item'].text


def test_published_md5_is_checked(server, tmp_path):
    url, folder, httpd = server
    write_100k(folder / 'ml-100k.zip', ratings())
    assert hashlib.md5((folder / 'ml-100k.zip').read_bytes()).hexdigest() != \
        MovieLens100K.raw_files[0].md5
    with pytest.raises(DataError, match=r'ml-100k\.zip has md5 [0-9a-f]{32}, expected '
                                        r'0e33842e24a9c977be4e0107933c0723; it was deleted'):
        MovieLens100K(root=tmp_path / 'ml', base_url=url, progress=False)
    assert not (tmp_path / 'ml' / 'raw' / 'ml-100k.zip').exists()


def test_malformed_archives(tmp_path, served_class):
    raw = tmp_path / 'ml' / 'raw'
    raw.mkdir(parents=True)
    cls = served_class(MovieLens100K, raw, 'http://unused', checksums=False)
    (raw / 'ml-100k.zip').write_bytes(b'not a zip')
    with pytest.raises(DataError, match=r'ml-100k\.zip: not a zip archive'):
        cls(root=tmp_path / 'ml', progress=False)
    with zipfile.ZipFile(raw / 'ml-100k.zip', 'w') as z:
        z.writestr('ml-100k/u.data', '1\t1\t5\n')
    with pytest.raises(DataError, match=r"u.data, line 1: expected 4 '\\t'-separated fields"):
        cls(root=tmp_path / 'ml', progress=False)
    write_100k(raw / 'ml-100k.zip', [(1, 7, 5, 0)])
    with pytest.raises(DataError, match='movie 7 is rated but not listed'):
        cls(root=tmp_path / 'ml', progress=False)
    with zipfile.ZipFile(raw / 'ml-100k.zip', 'w') as z:
        z.writestr('ml-100k/u.data', '1\t1\t5\t0\n')
    with pytest.raises(DataError, match="no member 'ml-100k/u.genre'"):
        cls(root=tmp_path / 'ml', progress=False)
