import gc

import pytest
import torch
from torch_geometric.utils import coalesce, to_torch_csr_tensor

import pyg_mmrec.nn.conv.sparse as sparse
from pyg_mmrec.nn.conv.sparse import adjacency_of, adjacency_spmm, csr, transposed, weighted_spmm


def random_csr(rows: int, cols: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    dense = (torch.rand(rows, cols, generator=gen) < 0.2) * torch.randn(rows, cols, generator=gen)
    return dense.to_sparse_csr()


def same_csr(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.shape == b.shape and torch.equal(a.crow_indices(), b.crow_indices())
            and torch.equal(a.col_indices(), b.col_indices())
            and torch.equal(a.values(), b.values()))


def test_transposed_is_pytorchs_transpose_entry_for_entry():
    adj = random_csr(30, 20, 0)
    assert same_csr(transposed(adj), adj.t().to_sparse_csr())
    # Same pattern, other values: the cached permutation moves the new values.
    other = csr(adj.crow_indices(), adj.col_indices(), torch.randn(adj.values().numel()),
                adj.shape)
    assert same_csr(transposed(other), other.t().to_sparse_csr())


def test_transpose_cache_is_bounded_and_keeps_its_patterns():
    adjs = [random_csr(12, 9, seed) for seed in range(sparse.TRANSPOSE_CACHE_SIZE + 3)]
    for adj in adjs:
        assert same_csr(transposed(adj), adj.t().to_sparse_csr())
    assert len(sparse._TRANSPOSES) == sparse.TRANSPOSE_CACHE_SIZE
    assert same_csr(transposed(adjs[0]), adjs[0].t().to_sparse_csr())  # evicted, recomputed


def test_products_have_pytorchs_gradients_bit_for_bit():
    adj = random_csr(40, 40, 1)
    x = torch.randn(40, 8, requires_grad=True)
    grad = torch.randn(40, 8)
    torch.autograd.backward(adjacency_spmm(adj, x), grad)
    ours, x.grad = x.grad, None
    torch.autograd.backward(torch.sparse.mm(adj, x), grad)
    assert torch.equal(ours, x.grad)

    values = adj.values().clone().requires_grad_()
    x.grad = None
    torch.autograd.backward(weighted_spmm(adj.crow_indices(), adj.col_indices(), values, x),
                            grad)
    assert torch.equal(x.grad, torch.sparse.mm(adj.t(), grad))


def test_propagation_layers_take_the_cached_transpose(monkeypatch):
    from pyg_mmrec.nn.conv import ItemItemConv
    seen = []
    monkeypatch.setattr(sparse, 'transposed',
                        lambda adj: seen.append(adj) or adj.t().to_sparse_csr())
    adj = random_csr(40, 40, 2)
    x = torch.randn(40, 8, requires_grad=True)
    ItemItemConv(2, normalize=False)(x, adj).sum().backward()
    assert len(seen) == 2  # one transposed product per layer in the backward pass


def coalesced_adjacency(edge_index, edge_weight, num_nodes):
    """adjacency_of's result computed afresh with PyG's coalesce (the independent reference)."""
    index, values = coalesce(edge_index.flip(0), edge_weight, num_nodes)
    values = torch.ones(index.size(1)) if values is None else values
    return to_torch_csr_tensor(index, values.detach(), size=(num_nodes, num_nodes),
                               is_coalesced=True), values


@pytest.mark.parametrize('duplicates', [False, True])
@pytest.mark.parametrize('weighted', [False, True])
def test_adjacency_of_equals_coalescing_every_call_bit_for_bit(duplicates, weighted):
    gen = torch.Generator().manual_seed(3)
    edge_index = torch.randint(0, 30, (2, 300), generator=gen)
    if not duplicates:
        edge_index = coalesce(edge_index, None, 30)[0]
        edge_index = edge_index[:, torch.randperm(edge_index.size(1), generator=gen)]
    first = None
    for _ in range(3):  # new weights on the same edges, as a mask draws them every step
        weight = torch.rand(edge_index.size(1), generator=gen).requires_grad_() if weighted \
            else None
        adj, values = adjacency_of(edge_index, weight, 30)
        expected, expected_values = coalesced_adjacency(edge_index, weight, 30)
        assert same_csr(adj, expected)
        assert (values is None) == (not weighted)
        if weighted:
            assert torch.equal(values, expected_values)
            # the gradient reaches the edges of a merged entry each
            values.sum().backward()
            assert torch.equal(weight.grad, torch.ones_like(weight))
        first = adj if first is None else first
        # the sorted pattern is reused: the same index storage, call after call
        assert adj.col_indices().data_ptr() == first.col_indices().data_ptr()


def test_adjacency_pattern_follows_its_edge_list():
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    adj, _ = adjacency_of(edge_index, None, 3)
    assert id(edge_index) in sparse._PATTERNS
    edge_index[1, 0] = 2  # edited in place: sorted again
    assert same_csr(adjacency_of(edge_index, None, 3)[0],
                    coalesced_adjacency(edge_index, None, 3)[0])
    key = id(edge_index)
    del edge_index, adj
    gc.collect()
    assert key not in sparse._PATTERNS  # freed with its edge list
