import torch
from torch_geometric.utils import to_torch_coo_tensor

from pyg_mmrec.nn.conv import LightGCNConv, user_item_adjacency, user_item_edge_index


def random_interactions(num_users=7, num_items=9, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edges = (torch.rand(num_users, num_items, generator=gen) < 0.4).nonzero().t()
    return edges, num_users, num_items


def dense_reference(x, edge_index, num_users, num_items, num_layers):
    n = num_users + num_items
    adj = torch.zeros(n, n)
    adj[edge_index[0], edge_index[1] + num_users] = 1
    adj = adj + adj.t()
    deg = adj.sum(1)
    inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    norm = inv.view(-1, 1) * adj * inv.view(1, -1)
    layers = [x]
    for _ in range(num_layers):
        layers.append(norm @ layers[-1])
    return torch.stack(layers).mean(0)


def test_edge_list_sparse_and_dense_agree():
    edge_index, num_users, num_items = random_interactions()
    x = torch.randn(num_users + num_items, 5)
    expected = dense_reference(x, edge_index, num_users, num_items, num_layers=3)
    hom = user_item_edge_index(edge_index, num_users)
    n = num_users + num_items

    out_list = LightGCNConv(3)(x, hom)
    out_sparse = LightGCNConv(3)(x, to_torch_coo_tensor(hom, size=(n, n)))
    out_normalised = LightGCNConv(3, normalize=False)(
        x, user_item_adjacency(edge_index, num_users, num_items))
    for out in (out_list, out_sparse, out_normalised):
        assert torch.allclose(out, expected, atol=1e-6)


def test_zero_layers_is_identity():
    edge_index, num_users, num_items = random_interactions()
    x = torch.randn(num_users + num_items, 4)
    assert torch.equal(LightGCNConv(0)(x, user_item_edge_index(edge_index, num_users)), x)


def test_sparse_backward_matches_edge_list_backward():
    edge_index, num_users, num_items = random_interactions(seed=1)
    adj = user_item_adjacency(edge_index, num_users, num_items)
    hom = user_item_edge_index(edge_index, num_users)
    x1 = torch.randn(num_users + num_items, 6, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    weight = torch.randn(num_users + num_items, 6)
    (LightGCNConv(2, normalize=False)(x1, adj) * weight).sum().backward()
    (LightGCNConv(2)(x2, hom) * weight).sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-6)


def test_isolated_nodes_keep_their_own_share():
    # an item nobody interacted with only keeps its layer-0 term
    edge_index = torch.tensor([[0, 1], [0, 0]])
    x = torch.randn(2 + 2, 3)
    out = LightGCNConv(2)(x, user_item_edge_index(edge_index, 2))
    assert torch.allclose(out[3], x[3] / 3)
    assert torch.isfinite(out).all()


def test_repr():
    assert repr(LightGCNConv(2)) == 'LightGCNConv(num_layers=2)'
