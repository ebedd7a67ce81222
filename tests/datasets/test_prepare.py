"""prepare_amazon: raw Amazon review files of each public format, written by the tests, through
k-core, id maps, split, text and image features to an MMRec folder that trains."""
import gzip
import hashlib
import json

import numpy as np
import pytest

import pyg_mmrec
from pyg_mmrec.cli import main
from pyg_mmrec.data import INTERACTS, load_dataset, read_id_map
from pyg_mmrec.datasets import k_core, prepare_amazon
from pyg_mmrec.datasets.prepare import IMAGE_DIM, item_sentence, read_image_features
from pyg_mmrec.errors import ConfigError, DataError


def stub_text_encoder(texts):
    """A deterministic STUB standing in for all-MiniLM-L6-v2 in these tests (the real model
    is not installable offline here): 8 numbers from the SHA-256 of each text."""
    return np.array([np.frombuffer(hashlib.sha256(t.encode()).digest()[:8], np.uint8) / 255.0
                     for t in texts], dtype=np.float32)


def asin(i):
    return f'B00000{i:04d}'


CORE = ([('U00', asin(i)) for i in range(15)]
        + [(f'U{k:02d}', asin((4 * k + j) % 16)) for k in range(1, 12) for j in range(4)])
# Below the (3, 3)-core, removed in three rounds: X2 (1 interaction) and X3 (2) first, then
# the junk item J (now rated by X1 alone), then X1 (down to 2).
JUNK = [('X1', asin(0)), ('X1', asin(1)), ('X1', 'B0JUNK0001'), ('X2', 'B0JUNK0001'),
        ('X3', 'B0JUNK0001'), ('X3', asin(2))]
ROUNDS = [{'users': 2, 'items': 0, 'interactions': 3},
          {'users': 0, 'items': 1, 'interactions': 1},
          {'users': 1, 'items': 0, 'interactions': 2}]


def interactions():
    """Rows (user, item, rating, timestamp) in a shuffled file order, plus one repeated pair
    at the end (another timestamp)."""
    rows = CORE + JUNK
    order = np.random.default_rng(3).permutation(len(rows))
    out = [(rows[j][0], rows[j][1], float(1 + j % 5), 1_300_000_000 + 1000 * int(j))
           for j in order]
    first = next(r for r in out if r[0] == 'U01')
    return out + [(first[0], first[1], 5.0, 1_400_000_000)]


NO_META = asin(7)          # an item of the core without metadata
NO_IMAGE = (asin(3), asin(12))
META = {asin(5): {'asin': asin(5), 'title': 'Soft Blanket', 'brand': 'Acme',
                  'categories': [['Baby', 'Nursery'], ['Gifts']],
                  'description': 'Warm\nand soft', 'price': 9.5}}


def write_raw(folder, kind='ratings-2014'):
    """The raw files, in the format ``kind``: the interactions, ``meta_Baby.json.gz`` (2014:
    a Python literal per line) and ``image_features_Baby.b``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = interactions()
    if kind == 'ratings-2014':
        path = folder / 'ratings_Baby.csv'
        path.write_text(''.join(f'{u},{i},{r},{t}\n' for u, i, r, t in rows))
    elif kind == 'ratings-2018':
        path = folder / 'Baby.csv.gz'
        with gzip.open(path, 'wt') as f:
            f.write(''.join(f'{i},{u},{r},{t}\n' for u, i, r, t in rows))
    else:
        path = folder / 'reviews_Baby.json.gz'
        with gzip.open(path, 'wt') as f:
            for u, i, r, t in rows:
                f.write(json.dumps({'reviewerID': u, 'asin': i, 'overall': r,
                                    'unixReviewTime': t, 'reviewText': 'fine'}) + '\n')
    items = sorted({i for _, i, _, _ in rows})
    meta = folder / 'meta_Baby.json.gz'
    with gzip.open(meta, 'wt') as f:
        for i in items:
            if i != NO_META:
                f.write(repr(META.get(i, {'asin': i, 'title': f'Item {i}',
                                          'categories': [['Baby']]})) + '\n')
    images = folder / 'image_features_Baby.b'
    with open(images, 'wb') as f:
        for i in items:
            if i not in NO_IMAGE:
                f.write(i.encode() + image_vector(i).astype('<f4').tobytes())
    return path, meta, images


def image_vector(item):
    return np.random.default_rng(int(hashlib.sha256(item.encode()).hexdigest()[:8], 16)
                                 ).normal(size=IMAGE_DIM).astype(np.float32)


def first_appearance_ids(rows, kept_pairs):
    """Ids in order of first appearance among the kept rows (computed independently)."""
    users, items = {}, {}
    for u, i, _, _ in rows:
        if (u, i) in kept_pairs:
            users.setdefault(u, len(users))
            items.setdefault(i, len(items))
    return list(users), list(items)


def prepare(folder, out, kind='ratings-2014', **kwargs):
    source, meta, images = write_raw(folder, kind)
    key = 'reviews' if kind == 'reviews' else 'ratings'
    columns = {'ratings_columns': 'item,user,rating,timestamp'} if kind == 'ratings-2018' else {}
    return prepare_amazon(out, **{key: source}, meta=meta, images=images, user_core=3,
                          item_core=3, text_encoder=stub_text_encoder, progress=False,
                          **columns, **kwargs)


def test_k_core_by_hand():
    # u0: i0 i1; u1: i0 i1; u2: i1 i2; u3: i2. The (2, 2)-core: u3 goes, then i2 (left
    # with u2 alone), then u2 (left with i1 alone); u0, u1 with i0, i1 remain.
    user = np.array([0, 0, 1, 1, 2, 2, 3])
    item = np.array([0, 1, 0, 1, 1, 2, 2])
    keep, rounds = k_core(user, item, 2, 2)
    assert keep.tolist() == [True, True, True, True, False, False, False]
    assert rounds == [{'users': 1, 'items': 0, 'interactions': 1},
                      {'users': 0, 'items': 1, 'interactions': 1},
                      {'users': 1, 'items': 0, 'interactions': 1}]
    keep, rounds = k_core(user, item, 1, 1)
    assert keep.all() and rounds == []


def test_whole_pipeline(tmp_path):
    out = tmp_path / 'baby'
    record = prepare(tmp_path / 'raw', out)
    assert sorted(p.name for p in out.iterdir()) == [
        'baby.inter', 'i_id_mapping.csv', 'image_feat.npy', 'missed_img_itemIDs.csv',
        'missed_text_itemIDs.csv', 'prepare.json', 'text_feat.npy', 'u_id_mapping.csv']
    assert json.loads((out / 'prepare.json').read_text()) == record
    # The k-core, by hand: the core stays whole, the junk goes in three rounds.
    assert record['k_core_rounds'] == ROUNDS
    assert record['read'] == {'interactions': len(CORE) + len(JUNK) + 1, 'repeated_pairs': 1,
                              'users': 15, 'items': 17}
    assert (record['users'], record['items'], record['interactions']) == (12, 16, len(CORE))
    # Id maps: contiguous, in order of first appearance in the file, kept on disk.
    user_ids, item_ids = first_appearance_ids(interactions(), set(CORE))
    assert read_id_map(out / 'u_id_mapping.csv', 'userID', 12) == user_ids
    assert read_id_map(out / 'i_id_mapping.csv', 'itemID', 16) == item_ids
    assert (out / 'i_id_mapping.csv').read_text().startswith('asin\titemID\n')
    splits = load_dataset(out)
    assert splits.train['item'].raw_id == item_ids and splits.train['user'].raw_id == user_ids
    pairs = {(user_ids[u], item_ids[i]) for view in splits
             for u, i in view[INTERACTS].edge_label_index.t().tolist()}
    assert pairs == set(CORE)
    # MMRec's split: U00 (15 interactions) gives floor(0.2 * 15) = 3, 1 to validation and 2
    # to test; the others (4 each, fewer than 10) one to each.
    counts = {}
    for label, view in enumerate(splits):
        for u in view[INTERACTS].edge_label_index[0].tolist():
            counts.setdefault(user_ids[u], [0, 0, 0])[label] += 1
    assert counts == {u: [12, 1, 2] if u == 'U00' else [2, 1, 1] for u in user_ids}
    # Text: MMRec's sentence of each item, encoded; the item without metadata gets the mean.
    text = np.load(out / 'text_feat.npy')
    blanket = item_ids.index(asin(5))
    assert item_sentence(META[asin(5)]) == 'Soft Blanket Acme Baby Nursery Warm and soft'
    np.testing.assert_array_equal(text[blanket], stub_text_encoder([item_sentence(
        META[asin(5)])])[0])
    missing = item_ids.index(NO_META)
    assert (out / 'missed_text_itemIDs.csv').read_text() == f'{missing}\n'
    others = [j for j in range(16) if j != missing]
    np.testing.assert_allclose(text[missing], text[others].mean(0), rtol=1e-6)
    # Images: the records' vectors; missing ones (listed, as MMRec) get the found items' mean.
    image = np.load(out / 'image_feat.npy')
    assert image.shape == (16, IMAGE_DIM) and image.dtype == np.float32
    missed = sorted(item_ids.index(i) for i in NO_IMAGE)
    assert (out / 'missed_img_itemIDs.csv').read_text() == ''.join(f'{i}\n' for i in missed)
    found = [j for j in range(16) if j not in missed]
    for j in found:
        np.testing.assert_array_equal(image[j], image_vector(item_ids[j]))
    mean = np.mean([image_vector(item_ids[j]) for j in found], axis=0)
    np.testing.assert_allclose(image[missed], np.stack([mean, mean]), rtol=1e-5)
    # The folder trains, and the checkpoint recommends in ASINs for reviewer ids.
    run = tmp_path / 'run'
    pyg_mmrec.run('vbpr', str(out), {'epochs': 1, 'progress': False, 'embedding_dim': 4},
                  out_dir=run)
    recs = pyg_mmrec.recommend(run / 'checkpoint.pt', k=10, users=['U00'])
    train = splits.train[INTERACTS].edge_index
    seen = {item_ids[i] for i in train[1][train[0] == user_ids.index('U00')].tolist()}
    assert len(recs.items[0]) == 16 - 12 and set(recs.items[0]) == set(item_ids) - seen


@pytest.mark.parametrize('kind', ['ratings-2018', 'reviews'])
def test_every_interaction_format_gives_the_same_folder(tmp_path, kind):
    prepare(tmp_path / 'a', tmp_path / 'baby')
    prepare(tmp_path / 'b', tmp_path / 'other' / 'baby', kind=kind)
    for name in ('baby.inter', 'u_id_mapping.csv', 'i_id_mapping.csv', 'missed_img_itemIDs.csv'):
        assert (tmp_path / 'baby' / name).read_bytes() == \
            (tmp_path / 'other' / 'baby' / name).read_bytes()


def test_split_is_seeded(tmp_path):
    prepare(tmp_path / 'raw', tmp_path / 'a')
    prepare(tmp_path / 'raw', tmp_path / 'b')
    prepare(tmp_path / 'raw', tmp_path / 'c', seed=7)
    inter = [(tmp_path / d / f'{d}.inter').read_text() for d in 'abc']
    assert inter[0] == inter[1] and inter[0] != inter[2]


def test_meta_of_the_2018_release():
    entry = {'asin': 'B1', 'title': 'Bottle', 'brand': 'Acme', 'category': ['Baby', 'Feeding'],
             'description': ['BPA free.', 'Dishwasher safe.']}
    assert item_sentence(entry) == 'Bottle Acme Baby Feeding BPA free. Dishwasher safe.'
    # MMRec's blanks: each missing field is one space, each separator another.
    assert item_sentence({'asin': 'B2'}) == ' ' * 5


@pytest.mark.parametrize('content, message', [
    ('U1,B1,5.0,1\nU2,B2,4.0\n', r'ratings\.csv, line 2: expected 4 comma-separated fields'),
    ('U1,B1,5.0,1\nU2,B2,five,1\n', r"ratings\.csv, line 2: rating 'five'"),
    ('U1,,5.0,1\n', r"ratings\.csv, line 1: item '' is not an id"),
])
def test_bad_ratings_rows(tmp_path, content, message):
    (tmp_path / 'ratings.csv').write_text(content)
    with pytest.raises(DataError, match=message):
        prepare_amazon(tmp_path / 'out', ratings=tmp_path / 'ratings.csv', progress=False)


@pytest.mark.parametrize('line, message', [
    ('{"reviewerID": "U1", "asin": "B1"', r'line 2: not a JSON object'),
    ('{"reviewerID": "U1", "asin": "B1", "overall": 5}', r"line 2: the review lacks "
                                                         r"\['unixReviewTime'\]"),
])
def test_bad_review_lines(tmp_path, line, message):
    good = json.dumps({'reviewerID': 'U0', 'asin': 'B0', 'overall': 1, 'unixReviewTime': 1})
    (tmp_path / 'reviews.json').write_text(good + '\n' + line + '\n')
    with pytest.raises(DataError, match=r'reviews\.json, ' + message):
        prepare_amazon(tmp_path / 'out', reviews=tmp_path / 'reviews.json', progress=False)


def test_bad_meta_and_image_files(tmp_path):
    source, meta, images = write_raw(tmp_path / 'raw')
    kwargs = dict(ratings=source, user_core=3, item_core=3, text_encoder=stub_text_encoder,
                  progress=False)
    bad_meta = tmp_path / 'meta.json'
    bad_meta.write_text(f"{{'asin': '{asin(0)}'}}\n__import__('os').system('x')\n")
    with pytest.raises(DataError, match=r'meta\.json, line 2: neither JSON nor a Python'):
        prepare_amazon(tmp_path / 'o1', meta=bad_meta, **kwargs)
    cut = tmp_path / 'cut.b'
    cut.write_bytes(images.read_bytes()[:(10 + 4 * IMAGE_DIM) + 100])
    with pytest.raises(DataError, match=rf'cut\.b: record 2 at byte {10 + 4 * IMAGE_DIM} is '
                                        r'truncated \(100 of 16394 bytes\)'):
        prepare_amazon(tmp_path / 'o2', images=cut, **kwargs)
    other = tmp_path / 'other.b'
    other.write_bytes(b'B0NOTHERE1' + np.zeros(IMAGE_DIM, '<f4').tobytes())
    with pytest.raises(DataError, match=r'other\.b: holds image features for none of the 16'):
        prepare_amazon(tmp_path / 'o3', images=other, **kwargs)
    nan = tmp_path / 'nan.b'
    nan.write_bytes(asin(0).encode() + np.full(IMAGE_DIM, np.nan, '<f4').tobytes())
    with pytest.raises(DataError, match=rf'nan\.b: record 1 \({asin(0)}\) holds NaN'):
        read_image_features(nan, {asin(0): 0})


def test_settings_and_output_folder(tmp_path):
    source, _, _ = write_raw(tmp_path / 'raw')
    with pytest.raises(ConfigError, match="'user_core'.* 2"):
        prepare_amazon(tmp_path / 'out', ratings=source, user_core=2)
    with pytest.raises(ConfigError, match='exactly one of ratings'):
        prepare_amazon(tmp_path / 'out', ratings=source, reviews=source)
    with pytest.raises(DataError, match=r'no interaction survives the \(3, 40\)-core'):
        prepare_amazon(tmp_path / 'out', ratings=source, user_core=3, item_core=40,
                       progress=False)
    busy = tmp_path / 'busy'
    busy.mkdir()
    (busy / 'notes.txt').write_text('mine')
    with pytest.raises(ConfigError, match=r'busy: holds files already \(notes\.txt\)'):
        prepare_amazon(busy, ratings=source, user_core=3, item_core=3, progress=False)
    with pytest.raises(ConfigError, match='not a prepared dataset'):
        prepare_amazon(busy, ratings=source, user_core=3, item_core=3, progress=False,
                       overwrite=True)
    assert (busy / 'notes.txt').read_text() == 'mine'


def test_cli(tmp_path, monkeypatch, capsys):
    import pyg_mmrec.transforms.encode_text as encode_text
    monkeypatch.setattr(encode_text, 'minilm_encoder', lambda: stub_text_encoder)
    source, meta, images = write_raw(tmp_path / 'raw')
    out = tmp_path / 'baby'
    argv = ['data', 'prepare', '--out', str(out), '--ratings', str(source), '--meta', str(meta),
            '--images', str(images), '--user-core', '3', '--item-core', '3']
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f'--data {out}' in printed
    assert np.load(out / 'text_feat.npy').shape == (16, 8)
    assert main(argv) == 2
    assert 'holds files already' in capsys.readouterr().err
    assert main([*argv, '--overwrite', '--seed', '5']) == 0
    assert json.loads((out / 'prepare.json').read_text())['settings']['seed'] == 5
