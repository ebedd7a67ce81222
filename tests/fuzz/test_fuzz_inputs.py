"""Property-based fuzzing of every reader and of the config: any mutation of a valid input
either loads or raises the library's own error (:class:`~pyg_mmrec.errors.PygMMRecError`),
never another exception.

The budget is a Hypothesis profile: ``ci`` (the default, a few seconds in all) or ``long``
(``PYG_MMREC_FUZZ=long pytest tests/fuzz --hypothesis-show-statistics``, see
:doc:`/data`). A file-level cache of the valid inputs keeps each case cheap.
"""
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyg_mmrec.data import load_mmrec, make_synthetic
from pyg_mmrec.errors import PygMMRecError
from pyg_mmrec.train import load_checkpoint, load_yaml, parse_overrides, resolve
from pyg_mmrec.train.checkpoint import save_checkpoint

settings.register_profile('ci', max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile('long', max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get('PYG_MMREC_FUZZ', 'ci'))


def _valid_folder(root: Path) -> Path:
    """A small dataset in MMRec's folder format: .inter, a feature .npy, a graph .npz."""
    splits = make_synthetic(num_users=12, num_items=10, mean_interactions=4,
                            min_interactions=3, modalities={'image': (2, 1, 1)}, seed=1)
    rows = ['userID\titemID\tx_label']
    for label, view in enumerate(splits):
        for u, i in view['user', 'interacts', 'item'].edge_label_index.t().tolist():
            rows.append(f'{u}\t{i}\t{label}')
    root.mkdir(parents=True, exist_ok=True)
    (root / 'toy.inter').write_text('\n'.join(rows) + '\n')
    np.save(root / 'image_feat.npy', splits.train['item'].x_image.numpy())
    edge_index = np.array([[0, 1, 2, 3], [1, 0, 3, 2]])
    np.savez(root / 'text_knn5.npz', edge_index=edge_index, edge_weight=np.ones(4),
             num_items=np.array(10))
    return root


@pytest.fixture(scope='module')
def valid_folder(tmp_path_factory):
    folder = _valid_folder(tmp_path_factory.mktemp('valid') / 'toy')
    load_mmrec(folder)  # the unmutated folder loads
    return folder


def mutations(size: int):
    """Byte-level mutations of a file of ``size`` bytes: flips, overwrites, truncation,
    insertion and duplication of a chunk."""
    pos = st.integers(0, max(size - 1, 0))
    return st.one_of(
        st.tuples(st.just('flip'), pos, st.integers(1, 255)),
        st.tuples(st.just('set'), pos, st.binary(min_size=1, max_size=16)),
        st.tuples(st.just('truncate'), pos, st.none()),
        st.tuples(st.just('insert'), pos, st.binary(min_size=1, max_size=64)),
        st.tuples(st.just('repeat'), pos, st.integers(1, 256)),
    )


def mutate(raw: bytes, ops) -> bytes:
    out = bytearray(raw)
    for op, at, arg in ops:
        at = min(at, max(len(out) - 1, 0))
        if op == 'flip' and out:
            out[at] ^= arg
        elif op == 'set':
            out[at:at + len(arg)] = arg
        elif op == 'truncate':
            del out[at:]
        elif op == 'insert':
            out[at:at] = arg
        elif op == 'repeat':
            out[at:at] = out[at:at + arg]
    return bytes(out)


def loads_or_own_error(call) -> None:
    try:
        call()
    except PygMMRecError as e:
        assert str(e).strip()  # the error says something


def _mutated_copy(valid_folder: Path, name: str, data: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix='fuzz-'))
    shutil.copytree(valid_folder, folder, dirs_exist_ok=True)
    (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize('name', ['toy.inter', 'image_feat.npy', 'text_knn5.npz'])
@given(data=st.data())
def test_mutated_dataset_files(valid_folder, name, data):
    raw = (valid_folder / name).read_bytes()
    ops = data.draw(st.lists(mutations(len(raw)), min_size=1, max_size=4))
    folder = _mutated_copy(valid_folder, name, mutate(raw, ops))
    try:
        loads_or_own_error(lambda: load_mmrec(folder))
    finally:
        shutil.rmtree(folder)


ARRAYS = st.one_of(
    st.builds(np.zeros, st.tuples(st.integers(0, 12), st.integers(0, 3))),
    st.builds(np.zeros, st.tuples(st.integers(0, 12))),
    st.builds(lambda v, n: np.full((10, n), v), st.floats(allow_nan=True, allow_infinity=True,
                                                          width=64), st.integers(0, 3)),
    st.builds(lambda s: np.array(s), st.lists(st.text(max_size=3), max_size=10)),
    st.builds(lambda n: np.arange(n, dtype=np.int64).reshape(-1, 1) * 10**15,
              st.integers(0, 12)),
    st.just(np.array([1 + 2j] * 10).reshape(10, 1)),
    st.just(np.zeros((10, 2), dtype=[('a', 'f4'), ('b', 'i4')])),
)


@given(array=ARRAYS, as_npz=st.booleans())
def test_arbitrary_arrays_as_features(valid_folder, array, as_npz):
    buffer = io.BytesIO()
    (np.savez if as_npz else np.save)(buffer, array)
    folder = _mutated_copy(valid_folder, 'image_feat.npy', buffer.getvalue())
    try:
        loads_or_own_error(lambda: load_mmrec(folder))
    finally:
        shutil.rmtree(folder)


@given(edge_index=ARRAYS, edge_weight=ARRAYS, num_items=ARRAYS)
def test_arbitrary_arrays_as_graphs(valid_folder, edge_index, edge_weight, num_items):
    buffer = io.BytesIO()
    np.savez(buffer, edge_index=edge_index, edge_weight=edge_weight, num_items=num_items)
    folder = _mutated_copy(valid_folder, 'text_knn5.npz', buffer.getvalue())
    try:
        loads_or_own_error(lambda: load_mmrec(folder))
    finally:
        shutil.rmtree(folder)


VALID_CONFIG = {'epochs': 3, 'lr': 0.01, 'embedding_dim': 8, 'ks': [5, 10],
                'metric': 'Recall@10', 'num_layers': 2, 'seed': 1, 'progress': False}
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.lists(st.integers(-5, 10**9), max_size=3),
    st.lists(st.floats(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                       max_size=2))


@given(model=st.sampled_from(['lightgcn', 'lattice', 'dvib', 'ibmrec', 'grcn', 'bm3']),
       changes=st.dictionaries(st.sampled_from(
           sorted(VALID_CONFIG) + ['dropout', 'knn_k', 'variant', 'sigma2', 'backbone',
                                   'weight_mode', 'reg_weight', 'batch_size', 'nope']),
           VALUES, min_size=1, max_size=3))
def test_mutated_configs(model, changes):
    loads_or_own_error(lambda: resolve(model, {**VALID_CONFIG, **changes}))


@given(text=st.text(max_size=40))
def test_arbitrary_set_arguments(text):
    loads_or_own_error(lambda: resolve('lightgcn', parse_overrides([text])))


@given(data=st.data())
def test_mutated_yaml_config(tmp_path, data):
    raw = yaml.safe_dump(VALID_CONFIG).encode('utf-8')
    ops = data.draw(st.lists(mutations(len(raw)), min_size=1, max_size=4))
    path = tmp_path / 'config.yaml'
    path.write_bytes(mutate(raw, ops))
    loads_or_own_error(lambda: resolve('lightgcn', load_yaml(path)))


@pytest.fixture(scope='module')
def valid_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'checkpoint.pt'
    save_checkpoint(path, {'model': 'bprmf', 'hparams': {'embedding_dim': 4},
                           'best_state': {'w': torch.ones(3, 4)}, 'config': {}})
    load_checkpoint(path)
    return path


@given(data=st.data())
def test_mutated_checkpoint(valid_checkpoint, tmp_path, data):
    raw = valid_checkpoint.read_bytes()
    ops = data.draw(st.lists(mutations(len(raw)), min_size=1, max_size=3))
    path = tmp_path / 'mutated.pt'
    path.write_bytes(mutate(raw, ops))
    loads_or_own_error(lambda: load_checkpoint(path))
