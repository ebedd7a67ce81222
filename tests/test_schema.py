import torch
from torch_geometric.data import HeteroData

from pyg_mmrec import schema


def test_names():
    assert schema.INTERACTS == ('user', 'interacts', 'item')
    assert schema.SPLIT_NAMES == ('train', 'val', 'test')
    assert schema.feature_key('image') == 'x_image'
    assert schema.graph_type('image') == ('item', 'knn_image', 'item')


def test_modalities_are_the_named_feature_tensors_sorted():
    data = HeteroData()
    assert schema.modalities(data) == []
    data['item'].x_text = torch.randn(4, 2)
    data['item'].x_audio = torch.randn(4, 3)
    data['item'].x_ = torch.randn(4, 1)  # no name
    data['item'].x_note = 'not a tensor'
    data['item'].text = ['a', 'b', 'c', 'd']
    assert schema.modalities(data) == ['audio', 'text']


def graph(data, modality, k=None):
    store = data[schema.graph_type(modality)]
    store.edge_index, store.edge_weight = torch.tensor([[0], [1]]), torch.ones(1)
    if k is not None:
        store[schema.COMPUTED_K] = k


def test_graph_modalities_are_the_graphs_the_dataset_ships():
    data = HeteroData()
    graph(data, 'text')
    graph(data, 'image', k=10)
    data['user', 'interacts', 'item'].edge_index = torch.tensor([[0], [0]])
    data['item', 'similar', 'item'].edge_index = torch.tensor([[0], [1]])
    assert schema.graph_modalities(data) == ['text']
    assert schema.computed_k(data, 'image') == 10
    assert schema.computed_k(data, 'text') is None
    assert schema.computed_k(data, 'audio') is None


def test_set_features_drops_only_the_graph_computed_from_the_old_features():
    data = HeteroData()
    graph(data, 'image', k=10)
    graph(data, 'text')
    new = torch.randn(2, 3)
    schema.set_features(data, 'image', new)
    schema.set_features(data, 'text', new)
    assert data['item'].x_image is new and data['item'].x_text is new
    assert data.edge_types == [schema.graph_type('text')]
