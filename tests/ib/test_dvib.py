import contextlib
import json

import pytest
import torch

import pyg_mmrec.functional as MF
from pyg_mmrec import registry
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.ib import DVIB, PlugIn, hidden_scale
from pyg_mmrec.nn.models import LightGCN
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.train import evaluate, load_model, run
from pyg_mmrec.train.config import split_config
from pyg_mmrec.train.evaluation import scorer

# Every registered backbone, so that backbones added later are covered too (but the
# references with nothing to fit, which have no hidden layer: pop, itemknn_cbf).
BACKBONES = sorted(name for name, cls in registry.MODELS.items()
                   if not issubclass(cls, PlugIn) and cls.trainable)
BATCH = torch.tensor([0, 1, 2, 3, 7]), torch.tensor([4, 5, 6, 7, 8]), torch.tensor([9, 10, 11,
                                                                                  12, 13])


class NoHidden(LightGCN):
    """A backbone that exposes no hidden layer."""
    def encode(self, data):
        out = self.conv(self.embedding.weight, self.adjacency(data))
        return Encoded(out[:self.num_users], out[self.num_users:])


class TwoSites(LightGCN):
    """A backbone with two hidden tensors of different sizes (like per-modality H)."""
    def encode(self, data):
        ego = self.embedding.weight
        h = torch.cat([self.hidden(ego[:, :6]), self.hidden(ego[:, 6:])], dim=1)
        out = self.conv(h, self.adjacency(data))
        return Encoded(out[:self.num_users], out[self.num_users:], hidden=h)


@pytest.fixture
def toy_backbones(monkeypatch):
    monkeypatch.setitem(registry.MODELS, 'nohidden', NoHidden)
    monkeypatch.setitem(registry.MODELS, 'twosites', TwoSites)


def counting(fn, calls):
    def wrapped(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)
    return wrapped


@pytest.mark.parametrize('name', BACKBONES)
def test_on_every_backbone(name, tiny_splits):
    data = tiny_splits.train
    for variant in ('constant', 'adaptive'):
        torch.manual_seed(0)
        try:
            model = DVIB.from_data(data, backbone=name, variant=variant, sigma=0.1,
                                   embedding_dim=16)
        except ConfigError as e:  # allowed only for a backbone without a hidden layer
            assert 'hidden layer' in str(e)
            bare = registry.get_model_class(name).from_data(data, embedding_dim=16)
            assert bare.encode(data).hidden is None
            return
        losses = model.loss(data, *BATCH)
        assert all(torch.isfinite(v) for v in losses.values())
        assert torch.allclose(losses['loss'], sum(v for k, v in losses.items() if k != 'loss'))
        assert losses['dvib_js'] > 0  # the perturbation reached the distilled representations
        losses['loss'].backward()
        if variant == 'adaptive':
            grads = [p.grad for p in model.noise_scale.parameters()]
            assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
        else:
            assert len(model.noise_scale) == 0 and losses['dvib_reg'] == 0

    # Inference is the backbone's: same weights give the same scores, one forward pass each.
    bare = registry.get_model_class(name).from_data(data, embedding_dim=16)
    bare.load_state_dict(model.backbone.state_dict())
    users = torch.arange(tiny_splits.num_users)
    assert torch.equal(scorer(model, tiny_splits)(users), scorer(bare, tiny_splits)(users))
    calls = []
    model.backbone.encode = counting(model.backbone.encode, calls)
    evaluate(model, tiny_splits, 'val')
    assert len(calls) == 1



@pytest.mark.parametrize('name', BACKBONES)
def test_shared_passes_change_neither_loss_nor_gradients(name, tiny_splits, monkeypatch):
    # What a backbone marks with Recommender.shared runs once per step; the terms and the
    # gradients are those of two independent passes (up to the order of summation).
    data = tiny_splits.train
    backbone = registry.get_model_class(name)
    if DVIB.required_capabilities[0] - backbone.capabilities:
        return
    torch.manual_seed(0)
    model = DVIB.from_data(data, backbone=name, sigma=0.1, embedding_dim=16)

    def step():
        # The first step of an epoch, where backbones draw or rebuild what later steps reuse
        # (FREEDOM's pruned graph, LATTICE's latent graph).
        torch.manual_seed(1)
        model.on_epoch_start(0)
        model.zero_grad()
        losses = model.loss(data, *BATCH)
        losses['loss'].backward()
        return ({k: v.detach() for k, v in losses.items()},
                {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None})

    step()  # draws what a backbone keeps from its first forward pass (InvRL's environments)
    shared = step()
    monkeypatch.setattr(model.backbone, 'share_passes', contextlib.nullcontext)
    separate = step()
    for got, expected in zip(shared, separate, strict=True):
        assert got.keys() == expected.keys()
        for key in got:
            assert torch.allclose(got[key], expected[key], rtol=1e-4, atol=1e-7), key


def test_the_perturbed_pass_reuses_what_precedes_h(tiny_splits):
    # VBPR's H is the fused projection of the features: projected once per step.
    model = DVIB.from_data(tiny_splits.train, backbone='vbpr')
    calls = []
    model.backbone.encoder.forward = counting(model.backbone.encoder.forward, calls)
    model.loss(tiny_splits.train, *BATCH)
    assert len(calls) == 1
    model.backbone.encode(tiny_splits.train)  # outside DVIB's step nothing is kept
    model.backbone.encode(tiny_splits.train)
    assert len(calls) == 3

def test_backbone_without_hidden_layer_is_refused(tiny_splits, toy_backbones):
    with pytest.raises(ConfigError, match=r'NoHidden exposes none.*hidden=None'):
        DVIB.from_data(tiny_splits.train, backbone='nohidden')
    with pytest.raises(ConfigError, match='NoHidden exposes none'):
        DVIB.from_data(tiny_splits.train, backbone='nohidden', variant='constant')
    with pytest.raises(ConfigError, match='NoHidden passes no tensor'):
        hidden_scale(NoHidden.from_data(tiny_splits.train), tiny_splits.train)


def test_without_noise_the_loss_is_twice_the_backbone_loss(tiny_splits):
    torch.manual_seed(0)
    model = DVIB.from_data(tiny_splits.train, backbone='lightgcn', variant='constant',
                           sigma=0.0, gamma_0=0.5)
    losses = model.loss(tiny_splits.train, *BATCH)
    theirs = model.backbone.loss(tiny_splits.train, *BATCH)
    assert torch.allclose(losses['loss'], 1.5 * theirs['loss'])
    assert losses['dvib_js'].abs() < 1e-7 and losses['dvib_reg'] == 0
    assert torch.equal(losses['bpr'], theirs['bpr'])


def test_regulariser_term_matches_the_functional(tiny_splits):
    torch.manual_seed(0)
    model = DVIB.from_data(tiny_splits.train, backbone='lightgcn', embedding_dim=16,
                           gamma_r=0.5, a=0.3, alpha_0=2.0, beta_0=0.7)
    h = model.backbone.embedding.weight  # LightGCN's H: the layer-0 embeddings
    expected = 0.5 * MF.dvib_regularizer(h, model.noise_scale['16'](h), 0.3, 2.0, 0.7)
    assert torch.allclose(model.loss(tiny_splits.train, *BATCH)['dvib_reg'], expected)


def test_adaptive_noise_has_the_learned_scale_per_row(tiny_splits):
    model = DVIB.from_data(tiny_splits.train, backbone='lightgcn', embedding_dim=16)
    torch.manual_seed(1)
    h = torch.randn(4, 16).repeat_interleave(5000, dim=0)  # 4 distinct rows, 5000 draws each
    seen = []
    noise = model._noise_hook(seen)(h) - h
    phi = model.noise_scale['16'](h[::5000]).squeeze(1)
    std = noise.view(4, 5000 * 16).std(dim=1)
    assert torch.allclose(std, phi.detach(), rtol=0.02)
    assert len(seen) == 1 and seen[0][0] is h

    constant = DVIB.from_data(tiny_splits.train, backbone='lightgcn', variant='constant',
                              sigma=0.3)
    noise = constant._noise_hook([])(torch.zeros(10000, 8))
    assert noise.std().item() == pytest.approx(0.3, rel=0.02)
    assert noise.mean().item() == pytest.approx(0.0, abs=0.01)


def test_relative_noise_scales_with_each_row(tiny_splits):
    constant = DVIB.from_data(tiny_splits.train, backbone='lightgcn', variant='constant',
                              sigma=0.1, relative=True)
    torch.manual_seed(2)
    rms = torch.tensor([[0.01], [1.0], [30.0]])
    h = (rms * torch.ones(3, 20000)).requires_grad_()  # rows of constant magnitude
    noisy = constant._noise_hook([])(h)
    noise_std = (noisy - h).detach().std(dim=1)
    assert torch.allclose(noise_std, 0.1 * rms.squeeze(1), rtol=0.03)
    noisy.sum().backward()  # the scale carries no gradient: d(noisy)/dh is the identity
    assert torch.equal(h.grad, torch.ones_like(h))


def test_one_noise_scale_per_hidden_size(tiny_splits, toy_backbones):
    torch.manual_seed(0)
    model = DVIB.from_data(tiny_splits.train, backbone='twosites', embedding_dim=16)
    assert model.hidden_dims == (6, 10) and sorted(model.noise_scale) == ['10', '6']
    ego = model.backbone.embedding.weight
    expected = sum(1e-3 * MF.dvib_regularizer(h, model.noise_scale[str(h.size(1))](h))
                   for h in (ego[:, :6], ego[:, 6:]))
    assert torch.allclose(model.loss(tiny_splits.train, *BATCH)['dvib_reg'], expected)


def test_same_backbone_weights_as_the_bare_run(tiny_splits):
    torch.manual_seed(5)
    bare = LightGCN.from_data(tiny_splits.train)
    torch.manual_seed(5)
    model = DVIB.from_data(tiny_splits.train, backbone='lightgcn')
    assert all(torch.equal(v, model.backbone.state_dict()[k])
               for k, v in bare.state_dict().items())


def test_flat_config_and_bad_values(tiny_splits):
    config = {'backbone': 'vbpr', 'variant': 'constant', 'sigma': 5e-4, 'gamma_d': 0.5,
              'embedding_dim': 8}
    _, hparams = split_config(config, DVIB.hparam_defaults(config), 'dvib')
    model = DVIB.from_data(tiny_splits.train, **hparams)
    assert model.hparams == {**DVIB.hparam_defaults(config), **config}
    with pytest.raises(ConfigError, match="'variant' must be one of"):
        DVIB.from_data(tiny_splits.train, variant='gaussian')
    with pytest.raises(ConfigError, match=r"'a' must be a number > 0"):
        DVIB.from_data(tiny_splits.train, a=0.0)
    with pytest.raises(ConfigError, match="'gamma_d' must be a number >= 0"):
        DVIB.from_data(tiny_splits.train, gamma_d=-0.1)
    with pytest.raises(ConfigError, match='from_data'):
        DVIB(LightGCN(5, 5))  # DVIB_a cannot size its noise scale without the data


def test_trains_and_checkpoint_round_trip(tiny_splits, tmp_path):
    config = {'backbone': 'lightgcn', 'embedding_dim': 16, 'gamma_d': 0.5, 'epochs': 3,
              'progress': False, 'lr': 0.01}
    results = run('dvib', tiny_splits, config, out_dir=tmp_path)
    assert results['config']['variant'] == 'adaptive'
    log = [json.loads(line) for line in (tmp_path / 'log.jsonl').read_text().splitlines()]
    assert {'dvib_noisy', 'dvib_js', 'dvib_reg'} <= set(log[0])
    assert log[-1]['loss'] < log[0]['loss']
    model, ckpt = load_model(tmp_path / 'checkpoint.pt', tiny_splits)
    assert isinstance(model, DVIB) and model.hidden_dims == (16,)
    assert all(torch.equal(v, ckpt['best_state'][k]) for k, v in model.state_dict().items())
    assert evaluate(model, tiny_splits, 'test') == pytest.approx(results['test'])


@pytest.mark.parametrize('name', ['lightgcn', 'vbpr'])
def test_distillation_compares_the_reached_tables_on_distinct_rows(name, tiny_splits):
    data = tiny_splits.train
    model = DVIB.from_data(data, backbone=name, variant='constant', sigma=0.05, gamma_d=0.3)
    torch.manual_seed(1)
    got = model.loss(data, *BATCH)['dvib_js']
    torch.manual_seed(1)  # the same noise again (neither backbone draws random numbers)
    backbone = model.backbone
    clean = backbone.encode(data)
    with backbone.perturb_hidden(lambda h: h + 0.05 * torch.randn_like(h)):
        noisy = backbone.encode(data)
    users, items = BATCH[0].unique(), torch.cat(BATCH[1:]).unique()
    item_js = MF.js_divergence(noisy.item[items], clean.item[items])
    if name == 'lightgcn':  # H is the ID embeddings of users and items: both move
        expected = MF.js_divergence(noisy.user[users], clean.user[users]) + item_js
    else:  # H is VBPR's fused content part of the items: users and Z^k stay put
        assert torch.equal(noisy.user, clean.user)
        assert all(torch.equal(noisy.modality[m], z) for m, z in clean.modality.items())
        expected = item_js
    assert torch.allclose(got, 0.3 * expected)


@pytest.mark.parametrize('divergence', ['kl', 'reverse_kl'])
def test_kl_distillation_takes_the_direction_named(divergence, tiny_splits):
    data = tiny_splits.train
    model = DVIB.from_data(data, backbone='vbpr', variant='constant', sigma=0.05, gamma_d=0.3,
                           divergence=divergence)
    torch.manual_seed(1)
    got = model.loss(data, *BATCH)['dvib_js']
    torch.manual_seed(1)
    clean = model.backbone.encode(data)
    with model.backbone.perturb_hidden(lambda h: h + 0.05 * torch.randn_like(h)):
        noisy = model.backbone.encode(data)
    items = torch.cat(BATCH[1:]).unique()
    z, z_delta = clean.item[items], noisy.item[items]
    # KL(Z || Z_delta) or KL(Z_delta || Z), from their softmax rows, computed apart.
    p, q = (z, z_delta) if divergence == 'kl' else (z_delta, z)
    expected = torch.nn.functional.kl_div(q.log_softmax(-1), p.log_softmax(-1),
                                          log_target=True, reduction='batchmean')
    assert got > 0 and torch.allclose(got, 0.3 * expected)


def test_uniform_noise_has_the_gaussians_mean_and_std_but_is_bounded(tiny_splits):
    model = DVIB.from_data(tiny_splits.train, backbone='lightgcn', variant='constant',
                           sigma=0.3, noise='uniform')
    torch.manual_seed(0)
    noise = model._noise_hook([])(torch.zeros(20000, 8))
    assert noise.std().item() == pytest.approx(0.3, rel=0.02)
    assert noise.mean().item() == pytest.approx(0.0, abs=0.01)
    assert noise.abs().max().item() <= 0.3 * 3 ** 0.5 + 1e-6
    assert noise.abs().max().item() > 0.3 * 3 ** 0.5 * 0.99  # fills its interval


def test_dropout_noise_zeroes_entries_and_rescales_the_rest(tiny_splits):
    constant = DVIB.from_data(tiny_splits.train, backbone='lightgcn', variant='constant',
                              sigma=0.2, noise='dropout')
    torch.manual_seed(0)
    h = torch.rand(5000, 8) + 0.5
    out = constant._noise_hook([])(h)
    dropped = out == 0
    assert torch.allclose(out[~dropped], h[~dropped] / 0.8)
    assert dropped.float().mean().item() == pytest.approx(0.2, abs=0.01)

    adaptive = DVIB.from_data(tiny_splits.train, backbone='lightgcn', embedding_dim=16,
                              noise='dropout')
    h = torch.randn(3, 16).repeat_interleave(4000, dim=0)
    out = adaptive._noise_hook([])(h)
    phi = adaptive.noise_scale['16'](h[::4000]).squeeze(1).detach()
    share = (out == 0).view(3, -1).float().mean(dim=1)  # each row's learned drop probability
    assert torch.allclose(share, phi, atol=0.01)


def test_without_the_clean_loss_only_the_dvib_terms_remain(tiny_splits):
    model = DVIB.from_data(tiny_splits.train, backbone='lightgcn', variant='constant',
                           clean_loss=False)
    losses = model.loss(tiny_splits.train, *BATCH)
    assert losses['bpr'] > 0  # still logged
    assert torch.allclose(losses['loss'],
                          losses['dvib_noisy'] + losses['dvib_js'] + losses['dvib_reg'])


def test_dropout_settings_that_mean_nothing_are_refused(tiny_splits):
    with pytest.raises(ConfigError, match='probability'):
        DVIB.from_data(tiny_splits.train, backbone='lightgcn', variant='constant', sigma=1.0,
                       noise='dropout')
    with pytest.raises(ConfigError, match='relative'):
        DVIB.from_data(tiny_splits.train, backbone='lightgcn', noise='dropout', relative=True)
    with pytest.raises(ConfigError, match="'noise'"):
        DVIB.from_data(tiny_splits.train, backbone='lightgcn', noise='salt')
