import pytest
import torch
from torch_geometric.data import HeteroData

from pyg_mmrec.data import DataSplits, make_synthetic
from pyg_mmrec.transforms import ModalityKNNGraph


@pytest.fixture(scope='session')
def tiny_splits():
    """A small synthetic dataset shared by model, trainer and CLI tests."""
    return make_synthetic(num_users=120, num_items=80, mean_interactions=12, seed=7)


@pytest.fixture(scope='session')
def graph_only_splits():
    """Like amazon-baby: the modalities are given only as item-item kNN graphs."""
    splits = make_synthetic(num_users=60, num_items=50, mean_interactions=8, seed=3)
    knn = ModalityKNNGraph(k=5)
    views = []
    for view in splits:
        view = knn(view)
        for m in ('image', 'text'):
            del view['item'][f'x_{m}']
        views.append(view)
    return DataSplits(*views)


@pytest.fixture
def make_data():
    """Builds a :class:`HeteroData` with 3 users and random item features ``x_<m>`` of the
    given dimensions (default: image 8, text 5)."""
    def make(num_items=20, dims=None, seed=0):
        gen = torch.Generator().manual_seed(seed)
        data = HeteroData()
        data['user'].num_nodes = 3
        for name, dim in (dims or {'image': 8, 'text': 5}).items():
            data['item'][f'x_{name}'] = torch.randn(num_items, dim, generator=gen)
        return data
    return make
