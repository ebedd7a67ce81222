import pytest
import torch

from pyg_mmrec.data import make_synthetic
from pyg_mmrec.errors import DataError
from pyg_mmrec.graph import ensure_modality_graphs, modality_graph
from pyg_mmrec.nn.models import FREEDOM, LATTICE, VBPR, VLATTICE, LightGCN
from pyg_mmrec.schema import computed_k, graph_modalities, graph_type
from pyg_mmrec.transforms import ModalityKNNGraph

FROZEN_GRAPH_MODELS = [LATTICE, VLATTICE, FREEDOM]


def fresh_splits():
    return make_synthetic(num_users=40, num_items=30, mean_interactions=6, seed=1)


@pytest.mark.parametrize('cls', FROZEN_GRAPH_MODELS)
def test_from_data_computes_the_frozen_graphs_into_the_data(cls):
    splits = fresh_splits()
    data = splits.train
    assert data.edge_types == [('user', 'interacts', 'item')]
    model = cls.from_data(data, embedding_dim=8, knn_k=4)
    for m in ('image', 'text'):
        assert computed_k(data, m) == 4
        edge_index, edge_weight = modality_graph(data['item'][f'x_{m}'], 4)
        assert torch.equal(data[graph_type(m)].edge_index, edge_index)
        assert torch.equal(data[graph_type(m)].edge_weight, edge_weight)
    assert graph_modalities(data) == []  # Still a dataset without graphs of its own.
    model.encode(data)

    fresh = cls.from_data(data, embedding_dim=8, knn_k=4)  # The validation view has none.
    with pytest.raises(DataError, match=r"knn_image.*from_data.*ModalityKNNGraph\(k=4\)"):
        fresh.encode(splits.val)


@pytest.mark.parametrize('cls', FROZEN_GRAPH_MODELS)
def test_computed_graphs_equal_precomputed_ones(cls):
    computed, given = fresh_splits().train, ModalityKNNGraph(k=4)(fresh_splits().train)
    outs = []
    for data in (computed, given):
        torch.manual_seed(0)
        outs.append(cls.from_data(data, embedding_dim=8, knn_k=4).eval().encode(data))
    assert torch.equal(outs[0].user, outs[1].user) and torch.equal(outs[0].item, outs[1].item)
    assert computed_k(given, 'image') is None  # The given graphs were not touched.


def test_models_built_later_see_the_same_dataset():
    data = fresh_splits().train
    lattice = LATTICE.from_data(data, embedding_dim=8, knn_k=4)
    freedom = FREEDOM.from_data(data, embedding_dim=8, knn_k=6)  # Recomputes with k=6.
    assert freedom.graph_names == FREEDOM.from_data(fresh_splits().train).graph_names
    assert computed_k(data, 'image') == 6
    with pytest.raises(DataError, match=r'computed with k=6.*knn_k=4'):
        lattice.encode(data)
    ensure_modality_graphs(data, lattice.knn_k)
    lattice.encode(data)


@pytest.mark.parametrize('cls', [LightGCN, VBPR])
def test_other_models_leave_the_data_alone(cls):
    data = fresh_splits().train
    cls.from_data(data, embedding_dim=8)
    assert data.edge_types == [('user', 'interacts', 'item')]
