import pytest
import torch

import pyg_mmrec.functional as MF
from pyg_mmrec.data import make_synthetic
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.graph import modality_graph
from pyg_mmrec.nn.conv import LightGCNConv, user_item_edge_index
from pyg_mmrec.nn.models import FREEDOM


def dense(graph, n):
    edge_index, edge_weight = graph
    return torch.zeros(n, n).index_put_(tuple(edge_index), edge_weight, accumulate=True)


def test_item_graph_is_the_fixed_fusion_of_frozen_knn_graphs(tiny_splits):
    model = FREEDOM.from_data(tiny_splits.train, embedding_dim=8, knn_k=5)
    out = model.encode(tiny_splits.train)
    feats = model.item_features(tiny_splits.train)
    expected = (0.1 * dense(modality_graph(feats['image'], 5), 80)
                + 0.9 * dense(modality_graph(feats['text'], 5), 80))
    assert torch.allclose(dense(out.item_graph, 80), expected, atol=1e-6)
    assert not out.item_graph[1].requires_grad  # frozen: no parameter shapes it
    assert set(out.modality) == {'image', 'text'}
    assert all(z.shape == (80, 8) for z in out.modality.values())
    assert out.hidden.shape == (80, 8)


def test_item_graph_is_built_once(tiny_splits, monkeypatch):
    built = []
    real = FREEDOM.frozen_graph
    monkeypatch.setattr(FREEDOM, 'frozen_graph',
                        lambda self, data, m: built.append(m) or real(self, data, m))
    model = FREEDOM.from_data(tiny_splits.train, embedding_dim=8)
    for epoch in range(3):
        model.on_epoch_start(epoch)
        model.encode(tiny_splits.train)
    model.eval()
    model.encode(tiny_splits.val)
    assert built == ['image', 'text']


def test_modality_weights():
    def weights(names):
        model = FREEDOM(4, 4, {m: 3 for m in names}, [], mm_image_weight=0.2)
        return dict(zip(model.graph_names, model.modality_weights().tolist(), strict=True))

    assert weights(['image', 'text']) == pytest.approx({'image': 0.2, 'text': 0.8})
    assert weights(['audio', 'image', 'text']) == pytest.approx(
        {'audio': 0.4, 'image': 0.2, 'text': 0.4})
    assert weights(['audio', 'text']) == pytest.approx({'audio': 0.5, 'text': 0.5})
    assert weights(['image']) == pytest.approx({'image': 1.0})


def test_item_rep_is_lightgcn_plus_item_item_rep_on_the_full_graph_in_eval(tiny_splits):
    model = FREEDOM.from_data(tiny_splits.train, embedding_dim=8).eval()
    out = model.encode(tiny_splits.train)
    edge_index = tiny_splits.train['user', 'interacts', 'item'].edge_index
    ref = LightGCNConv(2)(model.embedding.weight, user_item_edge_index(edge_index, 120))
    assert torch.allclose(out.user, ref[:120], atol=1e-5)
    assert torch.allclose(out.item, ref[120:] + out.hidden, atol=1e-5)
    # H = S E_item, with S[j, i] the weight of the edge j -> i
    item_emb = model.embedding.weight[120:]
    assert torch.allclose(out.hidden, dense(out.item_graph, 80).t() @ item_emb, atol=1e-5)
    with model.perturb_hidden(lambda h: h + 1.0):
        noisy = model.encode(tiny_splits.train)
    assert torch.allclose(noisy.hidden, out.hidden + 1.0)
    assert torch.allclose(noisy.item, out.item + 1.0, atol=1e-5)
    assert torch.equal(noisy.user, out.user)


def test_pruning_changes_per_epoch_but_eval_is_deterministic(tiny_splits):
    torch.manual_seed(0)
    model = FREEDOM.from_data(tiny_splits.train, embedding_dim=8)
    model.on_epoch_start(0)
    first = model.encode(tiny_splits.train).user
    assert torch.equal(model.encode(tiny_splits.train).user, first)  # same sample in an epoch
    model.on_epoch_start(1)
    second = model.encode(tiny_splits.train).user
    assert not torch.allclose(first, second)
    model.eval()
    a, b = model.encode(tiny_splits.train).user, model.encode(tiny_splits.train).user
    assert torch.equal(a, b) and not torch.allclose(a, first) and not torch.allclose(a, second)


def test_loss_adds_feature_bpr_terms(tiny_splits):
    torch.manual_seed(1)
    model = FREEDOM.from_data(tiny_splits.train, embedding_dim=8, mm_loss_weight=0.5,
                              reg_weight=1e-3)
    user, pos, neg = torch.arange(10), torch.arange(10), torch.arange(10, 20)
    out = model.encode(tiny_splits.train)
    losses = model.batch_loss(out, user, pos, neg)
    u = out.user[user]
    expected = MF.bpr_loss((u * out.item[pos]).sum(1), (u * out.item[neg]).sum(1))
    ego = model.embedding.weight
    expected = expected + 1e-3 * MF.l2_reg(ego[user], ego[120 + pos], ego[120 + neg])
    for m in ('image', 'text'):
        z = out.modality[m]
        term = 0.5 * MF.bpr_loss((u * z[pos]).sum(1), (u * z[neg]).sum(1))
        assert torch.allclose(losses[f'bpr_{m}'], term)
        expected = expected + term
    assert torch.allclose(losses['loss'], expected)
    losses['loss'].backward()
    assert all(p.grad is not None for p in model.encoder.parameters())


def test_graph_only_data_uses_the_given_graphs_without_feature_terms(graph_only_splits):
    train = graph_only_splits.train
    model = FREEDOM.from_data(train, embedding_dim=8)
    assert model.encoder is None and model.graph_names == ['image', 'text']
    out = model.encode(train)
    assert out.modality == {}
    expected = sum(w * dense((train['item', f'knn_{m}', 'item'].edge_index,
                              train['item', f'knn_{m}', 'item'].edge_weight), 50)
                   for w, m in ((0.1, 'image'), (0.9, 'text')))
    assert torch.allclose(dense(out.item_graph, 50), expected, atol=1e-6)
    losses = model.batch_loss(out, torch.arange(5), torch.arange(5), torch.arange(5, 10))
    assert set(losses) == {'loss', 'bpr', 'l2'}
    assert torch.allclose(losses['loss'], losses['bpr'] + losses['l2'])


def test_bad_data_and_config():
    splits = make_synthetic(num_users=30, num_items=20, mean_interactions=6, modalities={})
    with pytest.raises(DataError, match='neither'):
        FREEDOM.from_data(splits.train)
    with pytest.raises(ConfigError, match='mm_image_weight'):
        FREEDOM(5, 5, {'image': 3}, [], mm_image_weight=1.5)
    with pytest.raises(ConfigError, match=r"'dropout' must be a number in \[0, 1\), got 1.0"):
        FREEDOM(5, 5, {'image': 3}, [], dropout=1.0)
