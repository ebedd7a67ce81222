import pytest
import torch
from torch_geometric.data import HeteroData

import pyg_mmrec.transforms.modality_knn_graph as knn_module
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.transforms import ModalityKNNGraph, knn_graph_from_features


def make_data(num_items=20, dims=None, seed=0):
    dims = dims or {'image': 8, 'text': 5}
    gen = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data['user'].num_nodes = 3
    for name, dim in dims.items():
        data['item'][f'x_{name}'] = torch.randn(num_items, dim, generator=gen)
    return data


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
def test_matches_dense_reference(chunk_size, normalization):
    data = make_data(num_items=23)
    out = ModalityKNNGraph(k=4, chunk_size=chunk_size, normalization=normalization)(data)
    for name in ['image', 'text']:
        store = out['item', f'knn_{name}', 'item']
        ref = dense_reference(data['item'][f'x_{name}'], k=4, normalization=normalization)
        ref_edges = {tuple(e) for e in ref.nonzero().tolist()}
        edges = {tuple(e) for e in store.edge_index.t().tolist()}
        assert edges == ref_edges
        assert store.edge_index.size(1) == len(edges)  # No duplicates.
        assert store.edge_index.dtype == torch.long
        assert torch.allclose(to_dense(store.edge_index, store.edge_weight, 23), ref, atol=1e-6)


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


def test_zero_norm_rows():
    data = make_data(num_items=15, dims={'image': 6})
    data['item'].x_image[[0, 7]] = 0.0
    out = ModalityKNNGraph(k=3, chunk_size=4)(data)
    store = out['item', 'knn_image', 'item']
    assert torch.isfinite(store.edge_weight).all()
    assert (store.edge_weight > 0).all()
    assert (store.edge_index[0] != store.edge_index[1]).all()
    assert store.edge_index.min() >= 0 and store.edge_index.max() < 15
    deg = torch.bincount(store.edge_index[1], minlength=15)
    assert (deg >= 3).all()

    _, value = knn_graph_from_features(data['item'].x_image, k=3, chunk_size=4)
    assert torch.isfinite(value).all()
    assert (value[:3] == 0).all()  # Item 0 has similarity 0 with everything.


def test_k_clamped_to_num_items_minus_one():
    data = make_data(num_items=5, dims={'image': 4})
    out = ModalityKNNGraph(k=10)(data)
    store = out['item', 'knn_image', 'item']
    assert store.edge_index.size(1) == 5 * 4  # Complete graph without self-loops.
    assert torch.allclose(store.edge_weight, torch.full((20,), 0.25))

    edge_index, value = knn_graph_from_features(data['item'].x_image, k=10)
    assert edge_index.shape == (2, 20) and value.shape == (20,)


def test_single_item_gives_empty_graph():
    data = make_data(num_items=1, dims={'image': 4})
    out = ModalityKNNGraph(k=3)(data)
    store = out['item', 'knn_image', 'item']
    assert store.edge_index.shape == (2, 0)
    assert store.edge_index.dtype == torch.long
    assert store.edge_weight.shape == (0,)
    assert out['item'].num_nodes == 1


@pytest.mark.parametrize('k', [1, 3, 6])
def test_symmetric_no_self_loops_min_degree(k):
    data = make_data(num_items=30, dims={'image': 5})
    out = ModalityKNNGraph(k=k, chunk_size=8)(data)
    store = out['item', 'knn_image', 'item']
    ei, ew = store.edge_index, store.edge_weight
    assert (ei[0] != ei[1]).all()
    adj = to_dense(ei, ew, 30)
    assert torch.equal(adj, adj.t())
    deg = torch.bincount(ei[1], minlength=30)
    assert (deg >= k).all()


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
    ModalityKNNGraph(k=3, chunk_size=chunk_size)(data)
    assert shapes and max(rows for rows, _ in shapes) <= chunk_size


def test_modality_selection_and_default():
    data = make_data(num_items=10)
    out = ModalityKNNGraph(k=2, modalities=['text'])(data)
    assert ('item', 'knn_text', 'item') in out.edge_types
    assert ('item', 'knn_image', 'item') not in out.edge_types

    out = ModalityKNNGraph(k=2)(data)
    assert ('item', 'knn_text', 'item') in out.edge_types
    assert ('item', 'knn_image', 'item') in out.edge_types
    # The transform works on a shallow copy: the input object gains no edge types.
    assert data.edge_types == []


def test_unknown_modality_raises():
    data = make_data(num_items=10)
    with pytest.raises(DataError, match="'audio'.*available modalities.*image"):
        ModalityKNNGraph(modalities=['audio'])(data)


def test_no_features_raises():
    data = HeteroData()
    data['item'].num_nodes = 4
    with pytest.raises(DataError, match='x_<modality>'):
        ModalityKNNGraph()(data)


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_features_raise(bad):
    data = make_data(num_items=10, dims={'image': 4})
    data['item'].x_image[3, 1] = bad
    with pytest.raises(DataError, match='x_image.*NaN or infinite'):
        ModalityKNNGraph(k=2)(data)
    with pytest.raises(DataError, match='NaN or infinite'):
        knn_graph_from_features(data['item'].x_image, k=2)


def test_row_count_mismatch_raises():
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


def test_knn_graph_from_features_bad_k():
    with pytest.raises(ConfigError, match="'k'"):
        knn_graph_from_features(torch.randn(4, 2), k=0)


def test_repr():
    assert repr(ModalityKNNGraph()) == 'ModalityKNNGraph(k=10)'
    assert repr(ModalityKNNGraph(k=5, modalities=['text'])) == (
        "ModalityKNNGraph(k=5, modalities=['text'])")
