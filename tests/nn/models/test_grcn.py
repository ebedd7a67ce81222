import copy

import pytest
import torch
import torch.nn.functional as F

from pyg_mmrec.data import make_synthetic
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.nn.models import GRCN

NUM_USERS, NUM_ITEMS = 30, 25
U, N = NUM_USERS, NUM_USERS + NUM_ITEMS


@pytest.fixture(scope='module')
def splits():
    return make_synthetic(num_users=NUM_USERS, num_items=NUM_ITEMS, mean_interactions=6, seed=2)


def dense_refine(model, data):
    """GRCN's graph refining layer and ID propagation with dense matrices (slow reference)."""
    n = N
    ei = data['user', 'interacts', 'item'].edge_index
    adj = torch.zeros(n, n, dtype=torch.bool)
    adj[ei[0], U + ei[1]] = adj[U + ei[1], ei[0]] = True

    def attention(x):  # alpha[i, j] of the message j -> i
        return torch.nan_to_num(torch.softmax((x @ x.t()).masked_fill(~adj, -torch.inf), 1))

    alphas, content = [], []
    for m in ('image', 'text'):
        lin = model.encoder.proj[m]
        z = F.normalize(F.leaky_relu(data['item'][f'x_{m}'] @ lin.weight.t() + lin.bias), dim=1)
        p = F.normalize(model.preference[m], dim=1)
        for _ in range(model.num_routing):
            p = F.normalize(p + (attention(torch.cat([p, z])) @ torch.cat([p, z]))[:U], dim=1)
        x = torch.cat([p, z])
        alpha = attention(x)
        alphas.append(alpha)
        content.append(x + alpha @ x)
    conf = torch.tanh(model.confidence).t()  # [M, N], confidence of the source node j
    weight = torch.stack([a * c.view(1, -1) for a, c in zip(alphas, conf, strict=True)]).amax(0)
    weight = F.relu(weight) * adj
    e = F.normalize(model.id_embedding.weight, dim=1)
    ids = e + weight @ e + weight @ weight @ e
    return weight, torch.cat([ids, *content], dim=1)


def test_matches_dense_reference(splits):
    torch.manual_seed(0)
    model = GRCN.from_data(splits.train, embedding_dim=8, latent_dim=6, num_routing=2)
    with torch.no_grad():  # confidences of both signs and of order one
        model.confidence.normal_()
    weight, rep = dense_refine(model, splits.train)
    edge_index, w = model.refined_graph(splits.train)
    assert edge_index.size(1) == 2 * splits.train['user', 'interacts', 'item'].num_edges
    assert torch.allclose(w, weight[edge_index[1], edge_index[0]], atol=1e-6)
    out = model.encode(splits.train)
    assert out.user.shape == (U, 8 + 2 * 6)
    assert torch.allclose(torch.cat([out.user, out.item]), rep, atol=1e-5)
    assert torch.allclose(out.hidden, rep[:, 8:], atol=1e-5)


def test_refined_weights_are_pruned_scores_in_unit_interval(splits):
    model = GRCN.from_data(splits.train, latent_dim=8)
    with torch.no_grad():
        model.confidence.normal_(std=3.0)
        model.confidence[U + 0] = -1.0  # item 0 is confidently a poor match in every modality
    edge_index, w = model.refined_graph(splits.train)
    assert (w >= 0).all() and (w <= 1).all()
    from_item0 = edge_index[0] == U
    assert from_item0.any() and (w[from_item0] == 0).all()  # its messages are pruned
    assert (w > 0).float().mean() > 0.5
    model.pruning = False
    _, signed = model.refined_graph(splits.train)
    assert (signed[from_item0] < 0).all()


def test_refined_weights_depend_on_content(splits):
    model = GRCN.from_data(splits.train, latent_dim=8)
    other = copy.copy(splits.train)
    other['item'].x_image = torch.randn_like(splits.train['item'].x_image)
    _, w1 = model.refined_graph(splits.train)
    _, w2 = model.refined_graph(other)
    assert not torch.allclose(w1, w2)
    for mode in ('max', 'mean'):  # combinations of the attention weights: at most 1
        model.weight_mode = mode
        _, w = model.refined_graph(splits.train)
        assert (w > 0).all() and (w <= 1).all()


def test_hook_perturbs_the_fused_content_only(splits):
    model = GRCN.from_data(splits.train, embedding_dim=8, latent_dim=6)
    clean = model.encode(splits.train)
    with model.perturb_hidden(torch.zeros_like):
        noisy = model.encode(splits.train)
    assert torch.equal(noisy.hidden, torch.zeros(N, 12))
    assert torch.equal(noisy.item[:, 8:], torch.zeros(NUM_ITEMS, 12))
    assert torch.equal(noisy.item[:, :8], clean.item[:, :8])  # the ID part is untouched
    assert torch.equal(noisy.user[:, :8], clean.user[:, :8])


def test_gradients_reach_refining_parameters(splits):
    model = GRCN.from_data(splits.train, embedding_dim=8, latent_dim=6)
    user, pos, neg = torch.arange(10), torch.arange(10), torch.arange(10, 20)
    model.loss(splits.train, user, pos, neg)['loss'].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_refuses_graph_only_data_and_bad_config():
    splits = make_synthetic(num_users=30, num_items=20, mean_interactions=6, modalities={})
    with pytest.raises(DataError, match='needs item feature matrices'):
        GRCN.from_data(splits.train)
    with pytest.raises(ConfigError, match=r"'weight_mode' must be one of "
                                          r"\['confid', 'max', 'mean'\], got 'sum'"):
        GRCN(5, 5, {'image': 4}, weight_mode='sum')
    with pytest.raises(ConfigError, match='num_routing'):
        GRCN(5, 5, {'image': 4}, num_routing=-1)
