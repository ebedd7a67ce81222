from pathlib import Path

import pytest

from pyg_mmrec.data import make_synthetic

SHARED_DATA = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data'


@pytest.fixture(scope='session')
def tiny_splits():
    """A small synthetic dataset shared by model, trainer and CLI tests."""
    return make_synthetic(num_users=120, num_items=80, mean_interactions=12, seed=7)
