import torch
import torch.nn.functional as F

from pyg_mmrec.data import TripletLoader
from pyg_mmrec.nn.models import VLATTICE, VLightGCN
from pyg_mmrec.registry import get_model_class


def dense(edge_index, edge_weight, n):
    # edge j -> i aggregates x_j into row i
    return torch.zeros(n, n).index_put_((edge_index[1], edge_index[0]), edge_weight,
                                        accumulate=True)


def twin_vlightgcn(model, splits):
    """A VLightGCN holding VLATTICE's shared parameters."""
    twin = VLightGCN.from_data(splits.train, embedding_dim=model.embedding_dim,
                               num_layers=model.num_layers)
    twin.load_state_dict(model.state_dict(), strict=False)
    return twin


def test_registered_and_exposes_modalities_hidden_and_graph(tiny_splits):
    assert get_model_class('vlattice') is VLATTICE
    model = VLATTICE.from_data(tiny_splits.train, embedding_dim=8, knn_k=5)
    out = model.encode(tiny_splits.train)
    assert out.user.shape == (120, 16) and out.item.shape == (80, 16)
    assert set(out.modality) == {'image', 'text'}
    assert torch.allclose(out.hidden, sum(out.modality.values()), atol=1e-6)
    edge_index, edge_weight = out.item_graph
    assert edge_index.max() < 80 and (edge_index[0] != edge_index[1]).all()
    assert torch.isfinite(edge_weight).all()


def test_is_vlightgcn_plus_normalised_item_graph_branch(tiny_splits):
    # Eq. 12: y_i = y_i^VLightGCN + y'_i / ||y'_i||, y' = S [Q^0 || Z^0] (one item layer).
    torch.manual_seed(0)
    model = VLATTICE.from_data(tiny_splits.train, embedding_dim=8, knn_k=5).eval()
    out = model.encode(tiny_splits.train)
    ref = twin_vlightgcn(model, tiny_splits).encode(tiny_splits.train)
    assert torch.allclose(out.user, ref.user)
    y0 = torch.cat([model.item_emb.weight, ref.hidden], dim=1)
    y_prime = dense(*out.item_graph, 80) @ y0
    assert torch.allclose(out.item, ref.item + F.normalize(y_prime, dim=1), atol=1e-5)


def test_item_graph_hook_gets_states_and_acts_only_inside_context(tiny_splits):
    torch.manual_seed(0)
    model = VLATTICE.from_data(tiny_splits.train, embedding_dim=8, knn_k=5).eval()
    clean = model.encode(tiny_splits.train)
    seen = {}

    def drop_all(edge_index, edge_weight, collaborative, multimedia):
        seen.update(collaborative=collaborative, multimedia=multimedia)
        return torch.zeros_like(edge_weight)

    with model.perturb_item_graph(drop_all):
        masked = model.encode(tiny_splits.train)
    assert torch.equal(seen['collaborative'], model.item_emb.weight)
    assert torch.allclose(seen['multimedia'], clean.hidden)
    # an empty item graph leaves exactly VLightGCN's representations
    ref = twin_vlightgcn(model, tiny_splits).encode(tiny_splits.train)
    assert torch.allclose(masked.item, ref.item) and (masked.item_graph[1] == 0).all()
    again = model.encode(tiny_splits.train)
    assert torch.equal(again.item, clean.item)


def test_graph_rebuilt_once_per_epoch_with_gradient_to_modal_weights(tiny_splits):
    torch.manual_seed(0)
    model = VLATTICE.from_data(tiny_splits.train, embedding_dim=8, knn_k=5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = TripletLoader(tiny_splits.train['user', 'interacts', 'item'].edge_index, 80,
                           batch_size=128, seed=0)
    model.train()
    model.on_epoch_start(0)
    for step, batch in enumerate(loader):
        optimizer.zero_grad()
        model.loss(tiny_splits.train, *batch)['loss'].backward()
        grad = model.latent_graph.modal_weight.grad
        assert (grad is not None and grad.abs().sum() > 0) == (step == 0)
        assert model.encoder.proj['image'].weight.grad.abs().sum() > 0  # Z feeds Y^0 too
        optimizer.step()
    assert step > 0
