import pytest
import torch
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.graph import ensure_modality_graphs, modality_graph
from pyg_mmrec.schema import graph_modalities
from pyg_mmrec.transforms import ModalityKNNGraph


@pytest.mark.parametrize('chunk_size', [3, 100])
@pytest.mark.parametrize('normalization', ['sym', 'none'])
def test_stores_the_modality_graph_of_each_modality(chunk_size, normalization, make_data):
    data = make_data(num_items=23)
    out = ModalityKNNGraph(k=4, chunk_size=chunk_size, normalization=normalization)(data)
    for name in ['image', 'text']:
        store = out['item', f'knn_{name}', 'item']
        edge_index, edge_weight = modality_graph(data['item'][f'x_{name}'], 4, chunk_size,
                                                 normalization)
        assert torch.equal(store.edge_index, edge_index)
        assert torch.equal(store.edge_weight, edge_weight)
    assert graph_modalities(out) == ['image', 'text']  # The dataset's own graphs.


def test_modality_selection_and_default(make_data):
    data = make_data(num_items=10)
    out = ModalityKNNGraph(k=2, modalities=['text'])(data)
    assert ('item', 'knn_text', 'item') in out.edge_types
    assert ('item', 'knn_image', 'item') not in out.edge_types

    out = ModalityKNNGraph(k=2)(data)
    assert ('item', 'knn_text', 'item') in out.edge_types
    assert ('item', 'knn_image', 'item') in out.edge_types
    # The transform works on a shallow copy: the input object gains no edge types.
    assert data.edge_types == []


def test_replaces_graphs_the_library_computed(make_data):
    data = make_data(num_items=10)
    ensure_modality_graphs(data, k=2)
    assert graph_modalities(data) == []
    assert graph_modalities(ModalityKNNGraph(k=3)(data)) == ['image', 'text']


def test_available_modalities(make_data):
    data = make_data(num_items=10, dims={'text': 3, 'audio': 2})
    data['item'].x_ = torch.randn(10, 2)  # No modality name.
    data['item'].x_note = 'not a tensor'
    assert ModalityKNNGraph.available_modalities(data) == ['audio', 'text']
    assert ModalityKNNGraph.available_modalities(HeteroData()) == []


def test_unknown_modality_raises(make_data):
    data = make_data(num_items=10)
    with pytest.raises(DataError, match="'audio'.*available modalities.*image"):
        ModalityKNNGraph(modalities=['audio'])(data)


def test_no_features_raises():
    data = HeteroData()
    data['item'].num_nodes = 4
    with pytest.raises(DataError, match='x_<modality>'):
        ModalityKNNGraph()(data)


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_features_raise(bad, make_data):
    data = make_data(num_items=10, dims={'image': 4})
    data['item'].x_image[3, 1] = bad
    with pytest.raises(DataError, match='x_image.*NaN or infinite'):
        ModalityKNNGraph(k=2)(data)


def test_row_count_mismatch_raises(make_data):
    data = make_data(num_items=10)
    data['item'].num_nodes = 12
    with pytest.raises(DataError, match='x_image.*10 rows.*12'):
        ModalityKNNGraph(k=2)(data)


@pytest.mark.parametrize('kwargs, match', [
    ({'k': 0}, "'k'"),
    ({'k': -3}, "'k'"),
    ({'k': 2.5}, "'k'"),
    ({'chunk_size': 0}, "'chunk_size'"),
    ({'normalization': 'rw'}, "'normalization'"),
    ({'modalities': []}, "'modalities'"),
])
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ModalityKNNGraph(**kwargs)


def test_repr():
    assert repr(ModalityKNNGraph()) == 'ModalityKNNGraph(k=10)'
    assert repr(ModalityKNNGraph(k=5, modalities=['text'])) == (
        "ModalityKNNGraph(k=5, modalities=['text'])")
