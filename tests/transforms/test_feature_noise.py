import pytest
import torch
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.graph import ensure_modality_graphs
from pyg_mmrec.schema import computed_k, graph_type
from pyg_mmrec.transforms import FeatureNoise


def test_noise_statistics_and_shape(items):
    x = torch.randn(400, 50)
    out = FeatureNoise(chi=0.05, seed=1)(items(image=x, text=torch.ones(400, 30)))
    for name, clean in (('image', x), ('text', torch.ones(400, 30))):
        noise = out['item'][f'x_{name}'] - clean
        assert noise.shape == clean.shape
        assert noise.std().item() == pytest.approx(0.05, rel=0.05)
        assert noise.mean().item() == pytest.approx(0.0, abs=0.005)
    # Independent noise per modality, not the same draw twice.
    first = (out['item'].x_image - x)[:, :30]
    assert not torch.allclose(first, out['item'].x_text - 1)


def test_seeded_same_on_every_view_and_original_untouched(tiny_splits):
    before = {m: tiny_splits.train['item'][f'x_{m}'].clone() for m in ('image', 'text')}
    noise = FeatureNoise(chi=0.01, seed=3)
    train, val, test = (noise(view) for view in tiny_splits)
    for m in ('image', 'text'):
        key = f'x_{m}'
        assert torch.equal(train['item'][key], val['item'][key])
        assert torch.equal(train['item'][key], test['item'][key])
        assert not torch.equal(train['item'][key], before[m])
        for view in tiny_splits:  # the dataset itself keeps its features
            assert torch.equal(view['item'][key], before[m])
    again = FeatureNoise(chi=0.01, seed=3)(tiny_splits.train)
    other = FeatureNoise(chi=0.01, seed=4)(tiny_splits.train)
    assert torch.equal(again['item'].x_image, train['item'].x_image)
    assert not torch.equal(other['item'].x_image, train['item'].x_image)
    # Interactions and everything else are carried over.
    assert train['user', 'interacts', 'item'].edge_index is \
        tiny_splits.train['user', 'interacts', 'item'].edge_index


def test_selected_modalities_only(items):
    x, t = torch.zeros(10, 4), torch.zeros(10, 3)
    out = FeatureNoise(chi=1.0, modalities='text')(items(image=x, text=t))
    assert out['item'].x_image is x and not torch.equal(out['item'].x_text, t)
    assert torch.equal(FeatureNoise(chi=0.0)(items(image=x))['item'].x_image, x)


def test_bad_inputs(items):
    with pytest.raises(ConfigError, match='chi must be >= 0'):
        FeatureNoise(chi=-0.1)
    with pytest.raises(ConfigError, match='at least one'):
        FeatureNoise(chi=0.1, modalities=[])
    with pytest.raises(DataError, match=r"no feature matrix for modalities \['audio'\]"):
        FeatureNoise(chi=0.1, modalities='audio')(items(image=torch.zeros(3, 2)))
    graph_only = HeteroData()
    graph_only['item'].num_nodes = 3
    with pytest.raises(DataError, match='no modality feature matrices'):
        FeatureNoise(chi=0.1)(graph_only)


def test_drops_the_graphs_computed_from_the_clean_features(items):
    data = items(image=torch.randn(12, 4), text=torch.randn(12, 3))
    ensure_modality_graphs(data, k=3)
    out = FeatureNoise(chi=0.1, modalities='image', seed=0)(data)
    assert out.edge_types == [graph_type('text')]
    assert computed_k(data, 'image') == 3  # The input keeps its own.
