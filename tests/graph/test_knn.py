import pytest
import torch
from torch_geometric.data import HeteroData

import pyg_mmrec.graph.knn as knn_module
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.graph import (
    add_modality_graphs,
    check_knn_config,
    ensure_modality_graphs,
    item_graph_of,
    knn_graph_from_features,
    modality_graph,
)
from pyg_mmrec.schema import COMPUTED_K, computed_k, graph_modalities, graph_type


def dense_reference(x, k, normalization='sym'):
    """Dense N x N cosine matrix -> top-k (no self) -> binary symmetric adjacency -> weights."""
    n = x.size(0)
    k = min(k, n - 1)
    norm = x.norm(dim=1, keepdim=True)
    xn = torch.where(norm > 0, x / norm.clamp_min(1e-30), torch.zeros_like(x))
    sim = xn @ xn.t()
    sim.fill_diagonal_(float('-inf'))
    adj = torch.zeros(n, n)
    if k > 0:
        nbr = sim.topk(k, dim=1).indices
        adj[torch.arange(n).unsqueeze(1), nbr] = 1.0
    adj = ((adj + adj.t()) > 0).float()
    if normalization == 'sym':
        deg = adj.sum(dim=1)
        dinv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
        adj = dinv.unsqueeze(1) * adj * dinv.unsqueeze(0)
    return adj


def to_dense(edge_index, edge_weight, n):
    adj = torch.zeros(n, n)
    adj[edge_index[0], edge_index[1]] = edge_weight
    return adj


@pytest.mark.parametrize('chunk_size', [1, 3, 7, 100])
@pytest.mark.parametrize('normalization', ['sym', 'none'])
def test_modality_graph_matches_dense_reference(chunk_size, normalization, make_data):
    x = make_data(num_items=23)['item'].x_image
    edge_index, edge_weight = modality_graph(x, 4, chunk_size, normalization)
    ref = dense_reference(x, k=4, normalization=normalization)
    edges = {tuple(e) for e in edge_index.t().tolist()}
    assert edges == {tuple(e) for e in ref.nonzero().tolist()}
    assert edge_index.size(1) == len(edges)  # No duplicates.
    assert edge_index.dtype == torch.long
    assert torch.allclose(to_dense(edge_index, edge_weight, 23), ref, atol=1e-6)


@pytest.mark.parametrize('chunk_size', [1, 3, 50])
def test_knn_graph_from_features_matches_dense(chunk_size):
    x = torch.randn(17, 6, generator=torch.Generator().manual_seed(1))
    edge_index, value = knn_graph_from_features(x, k=3, chunk_size=chunk_size)
    assert edge_index.shape == (2, 17 * 3)
    xn = x / x.norm(dim=1, keepdim=True)
    sim = xn @ xn.t()
    sim.fill_diagonal_(float('-inf'))
    ref_val, ref_nbr = sim.topk(3, dim=1)
    # Direction: row 0 = neighbour j (source), row 1 = item i (target).
    assert torch.equal(edge_index[1], torch.arange(17).repeat_interleave(3))
    assert torch.equal(edge_index[0], ref_nbr.reshape(-1))
    assert torch.allclose(value, ref_val.reshape(-1), atol=1e-6)


def test_zero_norm_rows(make_data):
    x = make_data(num_items=15, dims={'image': 6})['item'].x_image
    x[[0, 7]] = 0.0
    edge_index, edge_weight = modality_graph(x, 3, chunk_size=4)
    assert torch.isfinite(edge_weight).all()
    assert (edge_weight > 0).all()
    assert (edge_index[0] != edge_index[1]).all()
    assert edge_index.min() >= 0 and edge_index.max() < 15
    assert (torch.bincount(edge_index[1], minlength=15) >= 3).all()

    _, value = knn_graph_from_features(x, k=3, chunk_size=4)
    assert torch.isfinite(value).all()
    assert (value[:3] == 0).all()  # Item 0 has similarity 0 with everything.


def test_k_clamped_to_num_items_minus_one():
    x = torch.randn(5, 4)
    edge_index, edge_weight = modality_graph(x, 10)
    assert edge_index.size(1) == 5 * 4  # Complete graph without self-loops.
    assert torch.allclose(edge_weight, torch.full((20,), 0.25))

    edge_index, value = knn_graph_from_features(x, k=10)
    assert edge_index.shape == (2, 20) and value.shape == (20,)


def test_single_item_gives_empty_graph():
    data = HeteroData()
    data['item'].x_image = torch.randn(1, 4)
    out = add_modality_graphs(data, k=3)
    assert out is data
    store = data[graph_type('image')]
    assert store.edge_index.shape == (2, 0)
    assert store.edge_index.dtype == torch.long
    assert store.edge_weight.shape == (0,)
    assert data['item'].num_nodes == 1  # Set from the feature rows.


@pytest.mark.parametrize('k', [1, 3, 6])
def test_symmetric_no_self_loops_min_degree(k, make_data):
    x = make_data(num_items=30, dims={'image': 5})['item'].x_image
    ei, ew = modality_graph(x, k, chunk_size=8)
    assert (ei[0] != ei[1]).all()
    adj = to_dense(ei, ew, 30)
    assert torch.equal(adj, adj.t())
    assert (torch.bincount(ei[1], minlength=30) >= k).all()


def test_chunks_never_materialise_full_matrix(monkeypatch):
    shapes = []
    original = knn_module._similarity_block

    def recording_block(x_rows, x_all):
        out = original(x_rows, x_all)
        shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr(knn_module, '_similarity_block', recording_block)
    n, chunk_size = 50, 8
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(2))
    knn_graph_from_features(x, k=3, chunk_size=chunk_size)
    assert len(shapes) == -(-n // chunk_size)
    assert max(rows for rows, _ in shapes) <= chunk_size
    assert sum(rows for rows, _ in shapes) == n
    assert all(cols == n for _, cols in shapes)

    shapes.clear()
    data = HeteroData()
    data['item'].x_image = x
    add_modality_graphs(data, k=3, chunk_size=chunk_size)
    assert shapes and max(rows for rows, _ in shapes) <= chunk_size


def test_add_modality_graphs_writes_the_modality_graphs(make_data):
    data = make_data(num_items=12)
    add_modality_graphs(data, k=3, modalities=['text'], normalization='none')
    assert graph_modalities(data) == ['text']  # The dataset's own from now on.
    expected = modality_graph(data['item'].x_text, 3, normalization='none')
    store = data[graph_type('text')]
    assert torch.equal(store.edge_index, expected[0])
    assert torch.equal(store.edge_weight, expected[1])


def test_add_modality_graphs_replaces_a_computed_graph(make_data):
    data = make_data(num_items=12)
    ensure_modality_graphs(data, k=2)
    add_modality_graphs(data, k=4, modalities=['image'])
    assert COMPUTED_K not in data[graph_type('image')]
    assert graph_modalities(data) == ['image']
    assert computed_k(data, 'text') == 2


def test_add_modality_graphs_bad_data():
    with pytest.raises(DataError, match='HeteroData'):
        add_modality_graphs({'x_image': torch.randn(3, 2)})
    data = HeteroData()
    data['user'].num_nodes = 3
    with pytest.raises(DataError, match="node type 'item'"):
        add_modality_graphs(data)
    data['item'].x_image = torch.randn(4)
    with pytest.raises(DataError, match='2-D'):
        add_modality_graphs(data)


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_features_raise(bad):
    x = torch.randn(10, 4)
    x[3, 1] = bad
    with pytest.raises(DataError, match='NaN or infinite'):
        knn_graph_from_features(x, k=2)


@pytest.mark.parametrize('kwargs, match', [
    ({'k': 0}, "'k'"),
    ({'k': -3}, "'k'"),
    ({'k': 2.5}, "'k'"),
    ({'k': True}, "'k'"),
    ({'k': 3, 'chunk_size': 0}, "'chunk_size'"),
    ({'k': 3, 'normalization': 'rw'}, "'normalization'"),
])
def test_check_knn_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        check_knn_config(**kwargs)


def test_bad_arguments_raise():
    with pytest.raises(ConfigError, match="'k'"):
        knn_graph_from_features(torch.randn(4, 2), k=0)
    with pytest.raises(ConfigError, match="'normalization'"):
        modality_graph(torch.randn(4, 2), 2, normalization='rw')


def test_ensure_computes_each_missing_graph_once_marked_with_k(make_data):
    data = make_data(num_items=15)
    assert ensure_modality_graphs(data, k=3) == ['image', 'text']
    for m in ('image', 'text'):
        assert computed_k(data, m) == 3
        expected = modality_graph(data['item'][f'x_{m}'], 3)
        assert torch.equal(item_graph_of(data, m, 3)[0], expected[0])
        assert torch.equal(item_graph_of(data, m, 3)[1], expected[1])
    assert graph_modalities(data) == []  # A cache, not part of the dataset.

    cached = data[graph_type('image')].edge_index
    assert ensure_modality_graphs(data, k=3) == []
    assert data[graph_type('image')].edge_index is cached

    assert ensure_modality_graphs(data, k=5) == ['image', 'text']
    assert computed_k(data, 'image') == 5
    assert torch.equal(data[graph_type('image')].edge_index,
                       modality_graph(data['item'].x_image, 5)[0])


def test_ensure_keeps_the_datasets_own_graphs(make_data):
    data = make_data(num_items=15)
    own = (torch.tensor([[0, 1], [1, 0]]), torch.ones(2))
    data[graph_type('image')].edge_index, data[graph_type('image')].edge_weight = own
    assert ensure_modality_graphs(data, k=3) == ['text']
    assert graph_modalities(data) == ['image']
    for k in (3, 7):  # Used as given, whatever k.
        assert item_graph_of(data, 'image', k) == own


def test_item_graph_of_computes_nothing(make_data):
    data = make_data(num_items=10)
    with pytest.raises(DataError, match=r"knn_image.*from_data.*ModalityKNNGraph\(k=4\)"):
        item_graph_of(data, 'image', 4)
    assert data.edge_types == []
    ensure_modality_graphs(data, k=3)
    with pytest.raises(DataError, match=r"computed with k=3.*knn_k=4.*ensure_modality_graphs"):
        item_graph_of(data, 'image', 4)
