import contextlib

import pytest
import torch

import pyg_mmrec.functional as MF
from pyg_mmrec.data import TripletLoader
from pyg_mmrec.ib import PlugIn
from pyg_mmrec.nn.models import Capability, LightGCN
from pyg_mmrec.registry import MODELS as REGISTERED

# Every registered backbone (the plug-ins, and the references with nothing to fit, Pop and
# ItemKNNCBF, have their own tests).
MODELS = [cls for cls in REGISTERED.values() if not issubclass(cls, PlugIn) and cls.trainable]
# The fall of the loss over the first 8 epochs on the tiny data that a model must show. SGL's
# InfoNCE gradient is about 50x its BPR gradient at Xavier initialisation (its cosine critic's
# gradient grows as 1 / ||z||), so under Adam its loss falls by about 4% in these epochs (BPR
# and InfoNCE alike): it must fall, not by 10%.
MIN_DECREASE = {'SGL': 0.02}


@pytest.mark.parametrize('cls', MODELS)
def test_forward_shapes(cls, tiny_splits):
    model = cls.from_data(tiny_splits.train, embedding_dim=16)
    user_emb, item_emb = model(tiny_splits.train)
    dim = user_emb.size(1)  # 16, or more where an ID part sits next to a content part
    assert dim % 16 == 0
    assert user_emb.shape == (tiny_splits.num_users, dim)
    assert item_emb.shape == (tiny_splits.num_items, dim)
    scores = model.score(user_emb[:5], item_emb)
    assert scores.shape == (5, tiny_splits.num_items)
    assert torch.allclose(scores[2, 3], user_emb[2] @ item_emb[3], atol=1e-6)


@pytest.mark.parametrize('cls', MODELS)
def test_loss_finite_and_decreasing(cls, tiny_splits):
    torch.manual_seed(0)
    model = cls.from_data(tiny_splits.train, embedding_dim=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = TripletLoader(tiny_splits.train['user', 'interacts', 'item'].edge_index,
                           tiny_splits.num_items, batch_size=256, seed=0)
    epoch_losses = []
    for epoch in range(8):
        loader.set_epoch(epoch)
        total = 0.0
        for user, pos, neg in loader:
            losses = model.loss(tiny_splits.train, user, pos, neg)
            assert all(torch.isfinite(v) for v in losses.values())
            terms = [v for k, v in losses.items() if k != 'loss']
            assert torch.allclose(losses['loss'], sum(terms))  # the logged terms add up
            optimizer.zero_grad()
            losses['loss'].backward()
            optimizer.step()
            total += losses['loss'].item()
        epoch_losses.append(total)
    assert epoch_losses[-1] < (1 - MIN_DECREASE.get(cls.__name__, 0.1)) * epoch_losses[0]


@pytest.mark.parametrize('cls', [cls for cls in MODELS if cls.scores_layer0])
@pytest.mark.parametrize('hook', [None, lambda h: h + torch.randn_like(h)],
                         ids=['clean', 'noisy hidden layer'])
def test_a_model_that_scores_its_layer0_rows_regularises_what_it_scores(cls, hook,
                                                                        tiny_splits):
    # batch_loss then takes the L2 rows from the scored ones: they must be the same, in the
    # plug-ins' perturbed passes too (the noise is part of both or of neither).
    torch.manual_seed(0)
    model = cls.from_data(tiny_splits.train, embedding_dim=16)
    user, pos, neg = next(iter(TripletLoader(
        tiny_splits.train['user', 'interacts', 'item'].edge_index, tiny_splits.num_items,
        batch_size=64, seed=0)))
    with model.perturb_hidden(hook) if hook else contextlib.nullcontext():
        out = model.encode(tiny_splits.train)
    scored = [out.user[user], out.item[pos], out.item[neg]]
    assert torch.allclose(MF.l2_reg(*model.ego_embeddings(user, pos, neg, out)),
                          MF.l2_reg(*scored))
    assert torch.allclose(model.batch_loss(out, user, pos, neg)['l2'],
                          model.reg_weight * MF.l2_reg(*scored))


@pytest.mark.parametrize('cls', MODELS)
def test_reset_parameters_is_reproducible(cls, tiny_splits):
    model = cls.from_data(tiny_splits.train)
    torch.manual_seed(3)
    model.reset_parameters()
    first = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(4)
    model.reset_parameters()
    assert any(not torch.equal(first[k], v) for k, v in model.state_dict().items())
    torch.manual_seed(3)
    model.reset_parameters()
    assert all(torch.equal(first[k], v) for k, v in model.state_dict().items())


def test_hparams_round_trip(tiny_splits):
    model = LightGCN.from_data(tiny_splits.train, embedding_dim=8, num_layers=3)
    assert model.hparams == {'embedding_dim': 8, 'num_layers': 3, 'reg_weight': 1e-4}
    clone = LightGCN.from_data(tiny_splits.train, **model.hparams)
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone(tiny_splits.train)[0], model(tiny_splits.train)[0])
    assert 'LightGCN(120, 80' in repr(model)


def test_lightgcn_propagates_over_training_graph_only(tiny_splits):
    # Held-out edges must not leak into propagation: the output depends only on edge_index.
    model = LightGCN.from_data(tiny_splits.train)
    out_train = model(tiny_splits.train)[1]
    out_test_view = model(tiny_splits.test)[1]
    assert torch.equal(out_train, out_test_view)


def _forward_through_hooks(model, data, item_graph_weight=None, features=None):
    """A forward pass recording what the model passes through its hidden-layer, item-graph
    and feature hooks (the item-graph weights replaced by ``item_graph_weight``, the features
    by ``features(m, x)``, if given); the modalities read are in ``model.read``."""
    hidden, graphs = [], []
    model.read = []

    def on_features(m, x):
        model.read.append(m)
        return x if features is None else features(m, x)

    def on_hidden(h):
        hidden.append(h)
        return h

    def on_graph(edge_index, edge_weight, collaborative, multimedia):
        graphs.append((edge_index, edge_weight, collaborative, multimedia))
        return edge_weight if item_graph_weight is None else item_graph_weight(edge_weight)

    with (model.perturb_hidden(on_hidden), model.perturb_item_graph(on_graph),
          model.perturb_features(on_features)):
        out = model.encode(data)
    return out, hidden, graphs


@pytest.mark.parametrize('cls', MODELS)
def test_declared_capabilities_are_what_the_forward_pass_offers(cls, tiny_splits):
    # The contract the plug-ins rely on (pyg_mmrec.nn.models.Capability): every declared
    # capability is offered, and an undeclared hook is never used.
    data = tiny_splits.train
    torch.manual_seed(0)
    model = cls.from_data(data, embedding_dim=16).eval()
    out, hidden, graphs = _forward_through_hooks(model, data)

    assert (Capability.HIDDEN in cls.capabilities) == bool(hidden)
    assert (out.hidden is not None) == bool(hidden)

    if Capability.MODALITY in cls.capabilities:
        assert set(out.modality) == set(model.item_features(data))
        assert all(z.size(0) == tiny_splits.num_items for z in out.modality.values())
        # the features the hook returns are the ones the representations come from
        assert set(model.read) == set(out.modality)
        moved, _, _ = _forward_through_hooks(model, data, features=lambda m, x: x + 1.0)
        assert all(not torch.allclose(moved.modality[m], z) for m, z in out.modality.items())
    else:
        assert model.read == []

    if Capability.MULTIMEDIA in cls.capabilities:
        assert 0 < out.id_channels < out.user.size(1)
        assert torch.equal(torch.cat([out.user_id, out.user_multimedia], 1), out.user)
        assert torch.equal(torch.cat([out.item_id, out.item_multimedia], 1), out.item)
        # the multimedia parts are computed from multimedia_parameters()
        params = model.multimedia_parameters()
        loss = out.user_multimedia.sum() + out.item_multimedia.sum()
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        assert params and all(g is not None and g.abs().sum() > 0 for g in grads)
    else:
        assert out.id_channels is None and model.multimedia_parameters() == []

    assert (Capability.ITEM_GRAPH in cls.capabilities) == bool(graphs)
    if graphs:
        edge_index, edge_weight, collaborative, multimedia = graphs[0]
        assert out.item_graph is not None and torch.equal(out.item_graph[0], edge_index)
        assert collaborative.size(0) == tiny_splits.num_items
        assert multimedia is None or multimedia.size(0) == tiny_splits.num_items
        # the hook's weights are the ones propagated over
        masked, _, _ = _forward_through_hooks(model, data, lambda w: torch.zeros_like(w))
        assert torch.equal(masked.item_graph[1], torch.zeros_like(edge_weight))
        assert not torch.allclose(masked.item, out.item)
