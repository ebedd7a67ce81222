import torch

from pyg_mmrec.graph import user_item_adjacency, user_item_edge_index


def test_user_item_edge_index_is_both_directions_with_items_after_users():
    edge_index = torch.tensor([[0, 2, 2], [1, 0, 3]])
    hom = user_item_edge_index(edge_index, num_users=3)
    assert hom.tolist() == [[0, 2, 2, 4, 3, 6], [4, 3, 6, 0, 2, 2]]


def test_user_item_adjacency_is_the_symmetric_normalised_bipartite_graph():
    edge_index = torch.tensor([[0, 0, 1, 2], [0, 1, 1, 2]])  # user 3 and item 3 isolated
    adj = user_item_adjacency(edge_index, num_users=4, num_items=4)
    assert adj.layout == torch.sparse_csr and adj.shape == (8, 8)
    a = torch.zeros(8, 8)
    a[edge_index[0], edge_index[1] + 4] = 1
    a = a + a.t()
    deg = a.sum(1)
    inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    assert torch.allclose(adj.to_dense(), inv.view(-1, 1) * a * inv.view(1, -1))


def test_interaction_weights_enter_both_directions():
    edge_index = torch.tensor([[0, 1], [0, 0]])
    adj = user_item_adjacency(edge_index, 2, 1, edge_weight=torch.tensor([1.0, 3.0])).to_dense()
    assert torch.equal(adj, adj.t())
    # Weighted degrees: users 1 and 3, the item 4.
    assert torch.allclose(adj[0, 2], torch.tensor(1.0 / 2.0))
    assert torch.allclose(adj[1, 2], torch.tensor(3.0 / (3.0 ** 0.5 * 2.0)))
