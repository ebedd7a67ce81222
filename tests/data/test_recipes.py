from pathlib import Path

import pytest
import torch

from pyg_mmrec.data import data_root, dataset_path, load_recipe, make_synthetic
from pyg_mmrec.data.recipes import DATA_ENV, FALLBACK_ROOT, check_condition, conditions
from pyg_mmrec.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]


def test_data_root_flag_then_environment_then_fallback(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ENV, raising=False)
    assert data_root() == FALLBACK_ROOT == REPO.parent / 'shared' / 'data'
    monkeypatch.setenv(DATA_ENV, str(tmp_path / 'env'))
    assert data_root() == tmp_path / 'env'
    assert data_root(tmp_path / 'flag') == tmp_path / 'flag'
    monkeypatch.setenv(DATA_ENV, '')  # an empty variable counts as unset
    assert data_root() == FALLBACK_ROOT


def test_dataset_path(monkeypatch, tmp_path):
    (tmp_path / 'tiktok').mkdir()
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert dataset_path('tiktok') == tmp_path / 'tiktok'
    with pytest.raises(DataError, match=f"no dataset folder 'baby'.*{DATA_ENV}"):
        dataset_path('baby')


def test_conditions():
    for ok in ('clean', 'noise0.05', 'noise10', 'vr', 'tr'):
        assert check_condition(ok) == ok
    for bad in ('noise', 'noise-1', 'noisex', 'dirty'):
        with pytest.raises(ConfigError, match='unknown data condition'):
            check_condition(bad)
    assert conditions(make_synthetic()) == ['clean', 'noise0.01', 'noise0.05', 'vr']


def test_synthetic_recipe_under_conditions():
    clean = load_recipe('synthetic')
    assert torch.equal(clean.train['item'].x_image, make_synthetic().train['item'].x_image)
    noisy = load_recipe('synthetic', 'noise0.05')
    diff = noisy.train['item'].x_image - clean.train['item'].x_image
    assert 0.04 < float(diff.std()) < 0.06
    for view in noisy:  # every view perturbed alike
        assert torch.equal(view['item'].x_image, noisy.train['item'].x_image)
    vr = load_recipe('synthetic', 'vr')  # image features only, 1024 dimensions appended
    assert vr.train['item'].x_image.size(1) == clean.train['item'].x_image.size(1) + 1024
    assert torch.equal(vr.train['item'].x_text, clean.train['item'].x_text)
    with pytest.raises(ConfigError, match="'tr' needs item texts"):
        load_recipe('synthetic', 'tr')


def test_missing_folder_names_the_root(tmp_path):
    with pytest.raises(DataError, match='no dataset folder'):
        load_recipe('tiktok', root=tmp_path)
