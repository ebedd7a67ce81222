import pytest

import pyg_mmrec.train.search as search_module
import pyg_mmrec.train.trainer as trainer_module


@pytest.fixture
def evaluated_splits(monkeypatch):
    """The split of every evaluation the trainer and the search run, in order."""
    seen = []
    for module in (trainer_module, search_module):
        real = module.evaluate

        def spy(model, splits, split, *args, _real=real, **kwargs):
            seen.append(split)
            return _real(model, splits, split, *args, **kwargs)

        monkeypatch.setattr(module, 'evaluate', spy)
    return seen
