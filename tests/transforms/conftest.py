import pytest
import torch
from torch_geometric.data import HeteroData


@pytest.fixture
def items():
    """Builds a dataset of items only, with the given feature matrices as ``x_<name>``."""
    def build(**features: torch.Tensor) -> HeteroData:
        data = HeteroData()
        data['item'].num_nodes = next(iter(features.values())).size(0)
        for name, x in features.items():
            data['item'][f'x_{name}'] = x
        return data
    return build
