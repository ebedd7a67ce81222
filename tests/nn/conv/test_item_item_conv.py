import torch
from torch_geometric.utils import to_torch_coo_tensor

from pyg_mmrec.nn.conv import ItemItemConv


def random_graph(num_items=12, num_edges=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_items, (2, num_edges), generator=gen)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return edge_index, torch.rand(edge_index.size(1), generator=gen)


def dense_reference(x, edge_index, edge_weight, num_layers):
    n = x.size(0)
    adj = torch.zeros(n, n).index_put_((edge_index[1], edge_index[0]), edge_weight,
                                       accumulate=True)  # row = target
    deg = adj.sum(1)  # PyG's gcn_norm: in-degree of the target
    inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    norm = inv.view(-1, 1) * adj * inv.view(1, -1)
    for _ in range(num_layers):
        x = norm @ x
    return x


def test_edge_list_and_sparse_agree_with_dense():
    edge_index, weight = random_graph()
    x = torch.randn(12, 4)
    for layers in (1, 2):
        expected = dense_reference(x, edge_index, weight, layers)
        out_list = ItemItemConv(layers)(x, edge_index, weight)
        adj_t = to_torch_coo_tensor(edge_index.flip(0), weight, size=(12, 12))
        out_sparse = ItemItemConv(layers)(x, adj_t)
        assert torch.allclose(out_list, expected, atol=1e-5)
        assert torch.allclose(out_sparse, expected, atol=1e-5)


def test_gradients_match_dense_reference():
    # The edge list becomes a CSR adjacency whose values carry gradients: both the node states'
    # and the edge weights' gradients equal those of the dense computation.
    edge_index, weight = random_graph(seed=3)
    x = torch.randn(12, 5)
    upstream = torch.randn(12, 5)
    grads = []
    for conv in (lambda x, w: ItemItemConv(2)(x, edge_index, w),
                 lambda x, w: dense_reference(x, edge_index, w, 2)):
        xs, ws = x.clone().requires_grad_(), weight.clone().requires_grad_()
        (conv(xs, ws) * upstream).sum().backward()
        grads.append((xs.grad, ws.grad))
    (gx, gw), (rx, rw) = grads
    assert torch.allclose(gx, rx, atol=1e-5) and torch.allclose(gw, rw, atol=1e-5)
