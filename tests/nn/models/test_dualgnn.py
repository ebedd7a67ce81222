import math

import torch
from torch_geometric.data import HeteroData

from pyg_mmrec.nn.models import DualGNN


def toy_data():
    # Users 0..3, items 0..3: user 0 {0, 1, 2}, user 1 {0, 1}, user 2 {2, 3}, user 3 {3}.
    data = HeteroData()
    data['user'].num_nodes = 4
    data['item'].num_nodes = 4
    data['item'].x_image = torch.randn(4, 6)
    data['item'].x_text = torch.randn(4, 5)
    data['user', 'interacts', 'item'].edge_index = torch.tensor([[0, 0, 0, 1, 1, 2, 2, 3],
                                                                 [0, 1, 2, 0, 1, 2, 3, 3]])
    return data


def test_user_graph_equals_the_hand_computed_one():
    data = toy_data()
    model = DualGNN.from_data(data, embedding_dim=8, knn_k=2)
    # Shared items: c01 = 2, c02 = 1, c03 = 0, c12 = 0, c13 = 0, c23 = 1. Top-2 neighbours
    # with their softmax weights over the counts:
    e = math.e
    expected = torch.tensor([
        [0, e**2 / (e**2 + e), e / (e**2 + e), 0],  # user 0: users 1 (2), 2 (1)
        [1, 0, 0, 0],                               # user 1: only user 0
        [0.5, 0, 0, 0.5],                           # user 2: users 0 and 3, one item each
        [0, 0, 1, 0],                               # user 3: only user 2
    ])
    assert torch.allclose(model.user_graph(data).to_dense(), expected)


def test_users_aggregate_their_co_occurring_users():
    data = toy_data()
    torch.manual_seed(0)
    model = DualGNN.from_data(data, embedding_dim=8, knn_k=2)
    graph = model.user_graph(data)
    with_graph = model.encode(data).user
    model._user_graph = torch.zeros(4, 4).to_sparse_csr()  # the same model without the graph
    fused = model.encode(data).user
    assert torch.allclose(with_graph[1], fused[1] + fused[0], atol=1e-6)  # user 1: only 0
    assert torch.allclose(with_graph, fused + graph.to_dense() @ fused, atol=1e-6)
