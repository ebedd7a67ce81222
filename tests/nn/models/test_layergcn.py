import pytest
import torch
import torch.nn.functional as F

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.nn.conv import user_item_adjacency
from pyg_mmrec.nn.models import LayerGCN


def test_eval_propagates_over_the_full_graph(tiny_splits):
    model = LayerGCN.from_data(tiny_splits.train, embedding_dim=8, num_layers=3).eval()
    out = model.encode(tiny_splits.train)
    edge_index = tiny_splits.train['user', 'interacts', 'item'].edge_index
    adj = user_item_adjacency(edge_index, 120, 80).to_dense()
    ego = model.embedding.weight.detach()
    h, expected = ego, torch.zeros_like(ego)
    for _ in range(3):
        h = adj @ h
        h = F.cosine_similarity(h, ego, dim=1).view(-1, 1) * h
        expected = expected + h
    assert torch.allclose(out.user, expected[:120], atol=1e-5)
    assert torch.allclose(out.item, expected[120:], atol=1e-5)
    assert torch.equal(out.hidden, model.embedding.weight)  # H: the ego embeddings


def test_pruning_changes_per_epoch_but_eval_is_deterministic(tiny_splits):
    torch.manual_seed(0)
    model = LayerGCN.from_data(tiny_splits.train, embedding_dim=8, dropout=0.2)
    model.on_epoch_start(0)
    first = model.encode(tiny_splits.train).item
    assert torch.equal(model.encode(tiny_splits.train).item, first)  # same sample in an epoch
    model.on_epoch_start(1)
    second = model.encode(tiny_splits.train).item
    assert not torch.allclose(first, second)
    model.eval()
    a, b = model.encode(tiny_splits.train).item, model.encode(tiny_splits.train).item
    assert torch.equal(a, b) and not torch.allclose(a, first)


def test_no_dropout_trains_on_the_full_graph(tiny_splits):
    model = LayerGCN.from_data(tiny_splits.train, embedding_dim=8, dropout=0.0)
    train = model.encode(tiny_splits.train).user
    model.on_epoch_start(1)
    assert torch.allclose(model.encode(tiny_splits.train).user, train)
    assert torch.allclose(model.eval().encode(tiny_splits.train).user, train, atol=1e-6)


def test_defaults_and_bad_config(tiny_splits):
    model = LayerGCN.from_data(tiny_splits.train)
    assert model.hparams == {'embedding_dim': 64, 'num_layers': 4, 'dropout': 0.1,
                             'reg_weight': 1e-4}
    with pytest.raises(ConfigError, match='num_layers'):
        LayerGCN(5, 5, num_layers=0)
    with pytest.raises(ConfigError, match=r"'dropout' must be a number in \[0, 1\), got -0.5"):
        LayerGCN(5, 5, dropout=-0.5)


def test_hidden_hook_perturbs_the_ego_embeddings(tiny_splits):
    model = LayerGCN.from_data(tiny_splits.train, embedding_dim=8).eval()
    clean = model.encode(tiny_splits.train)
    with model.perturb_hidden(lambda h: 2.0 * h):
        noisy = model.encode(tiny_splits.train)
    assert torch.allclose(noisy.hidden, 2.0 * clean.hidden)
    # the cosine weights are scale-invariant and propagation is linear: outputs double too
    assert torch.allclose(noisy.item, 2.0 * clean.item, atol=1e-5)
    assert torch.equal(model.encode(tiny_splits.train).item, clean.item)
