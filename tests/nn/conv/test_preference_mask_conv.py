import pytest
import torch
from torch_geometric.utils import coalesce, to_torch_coo_tensor, to_torch_csr_tensor

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.nn.conv.preference_mask_conv import PreferenceMaskConv


def graph(num_items=12, num_edges=50, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_items, (2, num_edges), generator=gen)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    # sorted by target, then source: the order of a CSR adj_t's non-zeros
    edge_index, weight = coalesce(edge_index.flip(0), torch.rand(edge_index.size(1),
                                                                 generator=gen))
    return edge_index.flip(0), weight


def keep_probability(conv, h, edge_index):
    """w_ij from an explicit MLP over the concatenation [h_i || h_j]."""
    src, dst = edge_index
    w1 = torch.cat([conv.lin_dst.weight, conv.lin_src.weight], dim=1)
    hidden = torch.relu(torch.cat([h[dst], h[src]], dim=1) @ w1.t() + conv.lin_dst.bias)
    return torch.sigmoid(conv.lin_out(hidden).view(-1))


def dense_propagation(x, edge_index, weight, num_layers, normalize):
    n = x.size(0)
    adj = torch.zeros(n, n).index_put_((edge_index[1], edge_index[0]), weight, accumulate=True)
    if normalize:
        deg = adj.sum(1)
        inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
        adj = inv.view(-1, 1) * adj * inv.view(1, -1)
    for _ in range(num_layers):
        x = adj @ x
    return x


@pytest.mark.parametrize('normalize', [False, True])
def test_eval_mask_is_keep_probability_and_edge_list_equals_sparse(normalize):
    torch.manual_seed(0)
    edge_index, weight = graph()
    x, h = torch.randn(12, 4), torch.randn(12, 6)
    conv = PreferenceMaskConv(6, hidden_channels=8, num_layers=2, normalize=normalize).eval()
    w = keep_probability(conv, h, edge_index)
    assert torch.allclose(conv.edge_mask(h, edge_index), w, atol=1e-6)
    expected = dense_propagation(x, edge_index, weight * w, 2, normalize)
    out_list = conv(x, edge_index, weight, h=h)
    coo = to_torch_coo_tensor(edge_index.flip(0), weight, size=(12, 12))
    csr = to_torch_csr_tensor(edge_index.flip(0), weight, size=(12, 12))
    assert torch.allclose(out_list, expected, atol=1e-5)
    assert torch.allclose(conv(x, coo, h=h), expected, atol=1e-5)
    assert torch.allclose(conv(x, csr, h=h), expected, atol=1e-5)
    assert torch.equal(conv(x, edge_index, weight, h=h), out_list)  # deterministic


def test_training_samples_are_random_relaxed_and_agree_across_formats():
    torch.manual_seed(0)
    edge_index, weight = graph()
    x = torch.randn(12, 4)
    conv = PreferenceMaskConv(4, hidden_channels=8).train()
    torch.manual_seed(1)
    out_list = conv(x, edge_index, weight)
    torch.manual_seed(1)
    out_sparse = conv(x, to_torch_csr_tensor(edge_index.flip(0), weight, size=(12, 12)))
    assert torch.allclose(out_list, out_sparse, atol=1e-5)
    assert not torch.allclose(conv(x, edge_index, weight), out_list)


def test_concrete_sample_exceeds_half_with_the_keep_probability():
    # P(rho > 1/2) = P(logit + logistic noise > 0) = sigma(logit) = w, whatever tau;
    # at tau = 0.2 the samples are close to 0 or 1.
    torch.manual_seed(0)
    edge_index, _ = graph(num_edges=30)
    h = torch.randn(12, 4)
    conv = PreferenceMaskConv(4, hidden_channels=8)
    w = keep_probability(conv, h, edge_index).detach()
    samples = torch.stack([conv.edge_mask(h, edge_index).detach() for _ in range(4000)])
    assert torch.allclose((samples > 0.5).float().mean(0), w, atol=0.04)
    assert ((samples > 0.05) & (samples < 0.95)).float().mean() < 0.3


def test_gradient_reaches_the_mask_mlp_in_training():
    torch.manual_seed(0)
    edge_index, weight = graph()
    x = torch.randn(12, 4)
    conv = PreferenceMaskConv(4, hidden_channels=8).train()
    conv(x, edge_index, weight).pow(2).sum().backward()
    for p in conv.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_chunked_mask_mlp_equals_the_explicit_mlp_with_its_gradients(monkeypatch):
    monkeypatch.setattr(PreferenceMaskConv, 'EDGE_CHUNK', 7)  # several chunks, a ragged last
    torch.manual_seed(0)
    edge_index, _ = graph()
    h = torch.randn(12, 4, requires_grad=True)
    conv = PreferenceMaskConv(4, hidden_channels=8)
    chunked = conv.edge_logits(h, edge_index).sigmoid()
    expected = keep_probability(conv, h, edge_index)
    assert edge_index.size(1) > 2 * 7 and torch.allclose(chunked, expected, atol=1e-6)
    weights = torch.randn_like(expected)
    grads = torch.autograd.grad((chunked * weights).sum(), [h, *conv.parameters()])
    reference = torch.autograd.grad((expected * weights).sum(), [h, *conv.parameters()])
    for got, want in zip(grads, reference, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


def test_bad_temperature_and_repr():
    with pytest.raises(ConfigError, match='temperature'):
        PreferenceMaskConv(4, temperature=0.0)
    assert repr(PreferenceMaskConv(4)) == ('PreferenceMaskConv(4, hidden_channels=64, '
                                           'num_layers=1, temperature=0.2)')
