import copy

import pytest
import torch

from pyg_mmrec.data import INTERACTS
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.nn.models import VBPR, Recommender
from pyg_mmrec.nn.models.mmgcn import MMGCN
from pyg_mmrec.schema import feature_key, modalities
from pyg_mmrec.train import (
    AMR,
    MirrorGradient,
    TrainConfig,
    Trainer,
    make_trainer,
    resolve,
    training_method,
)

TRAIN = {'epochs': 4, 'patience': 4, 'batch_size': 256, 'progress': False, 'seed': 5}


def _batch(splits, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = splits.train[INTERACTS].edge_index
    cols = torch.randperm(edge_index.size(1), generator=gen)[:size]
    neg = torch.randint(0, splits.num_items, (size,), generator=gen)
    return edge_index[0, cols], edge_index[1, cols], neg


def _with_features(data, features):
    """A copy of ``data`` whose feature matrices are ``features`` (by modality)."""
    out = copy.copy(data)
    for m, x in features.items():
        out['item'][feature_key(m)] = x
    return out


@pytest.mark.parametrize('cls', [VBPR, MMGCN])
def test_amr_perturbation_is_epsilon_times_the_normalised_loss_gradient(cls, tiny_splits):
    torch.manual_seed(0)
    data = tiny_splits.train
    model = cls.from_data(data, embedding_dim=16)
    user, pos, neg = _batch(tiny_splits)
    amr = AMR(epsilon=0.05, weight=1.0)
    losses, delta = amr.perturbation(model, data, user, pos, neg)

    # Independently: the features as leaves of autograd, read from a copy of the data.
    leaves = {m: data['item'][feature_key(m)].clone().requires_grad_()
              for m in modalities(data)}
    loss = model.loss(_with_features(data, leaves), user, pos, neg)['loss']
    grads = torch.autograd.grad(loss, list(leaves.values()))
    assert torch.equal(losses['loss'], loss)  # the zero offsets change nothing
    assert set(delta) == set(leaves) == {'image', 'text'}
    for (m, _), g in zip(leaves.items(), grads, strict=True):
        norms = g.norm(dim=1, keepdim=True)
        expected = torch.where(norms > 0, 0.05 * g / norms.clamp_min(1e-30), 0.0)
        assert torch.allclose(delta[m], expected, atol=1e-7)
        assert not delta[m].requires_grad
        row = delta[m].norm(dim=1)
        assert torch.allclose(row[row > 0], torch.full_like(row[row > 0], 0.05))
    # VBPR's gradient reaches only the batch's items; MMGCN propagates it to every item.
    touched = (delta['image'].norm(dim=1) > 0).nonzero().flatten()
    batch_items = torch.cat([pos, neg]).unique()
    if cls is VBPR:
        assert torch.equal(touched, batch_items)
    else:
        assert touched.numel() > batch_items.numel()


def test_amr_loss_adds_lambda_times_the_loss_under_the_perturbation(tiny_splits):
    torch.manual_seed(0)
    data = tiny_splits.train
    model = VBPR.from_data(data, embedding_dim=16)
    user, pos, neg = _batch(tiny_splits)
    amr = AMR(epsilon=0.5, weight=0.7)
    _, delta = amr.perturbation(model, data, user, pos, neg)
    out = amr.loss(model, data, user, pos, neg)

    clean = model.loss(data, user, pos, neg)['loss']
    moved = _with_features(data, {m: data['item'][feature_key(m)] + delta[m] for m in delta})
    adversarial = model.loss(moved, user, pos, neg)['loss']
    assert torch.allclose(out['amr_adv'], 0.7 * adversarial)
    assert torch.allclose(out['loss'], clean + 0.7 * adversarial)
    assert adversarial > clean  # the perturbation ascends the loss
    # a random perturbation of the same size ascends it less
    gen = torch.Generator().manual_seed(1)
    rand = {m: 0.5 * torch.nn.functional.normalize(torch.randn(d.shape, generator=gen), dim=-1)
            for m, d in delta.items()}
    random_loss = model.loss(_with_features(
        data, {m: data['item'][feature_key(m)] + rand[m] for m in rand}), user, pos, neg)['loss']
    assert random_loss < adversarial


class Quadratic(Recommender):
    r"""A model whose loss is :math:`\frac12 \theta^\top A \theta` whatever the batch."""

    def __init__(self, num_users: int, num_items: int):
        super().__init__(num_users, num_items)
        self.theta = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
        self.register_buffer('a', torch.tensor([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2],
                                                [0.0, 0.2, 3.0]]))

    def loss(self, data, user, pos, neg):
        return {'loss': 0.5 * self.theta @ self.a @ self.theta}


@pytest.mark.parametrize('robust, interval', [('mg', 2), ('mg', 1), ('none', 2)])
def test_mirror_gradient_update_is_its_closed_form_on_a_quadratic(robust, interval,
                                                                  tiny_splits):
    num_train = tiny_splits.train[INTERACTS].edge_index.size(1)
    config = TrainConfig(batch_size=-(-num_train // 3), robust=robust, mg_alpha1=0.9,
                         mg_alpha2=0.3, mg_interval=interval, progress=False)
    model = Quadratic(tiny_splits.num_users, tiny_splits.num_items)
    trainer = Trainer(model, tiny_splits, config)
    eta = 0.1
    trainer.optimizer = torch.optim.SGD(model.parameters(), lr=eta)  # plain gradient descent
    assert len(trainer.loader) == 3
    theta0 = model.theta.detach().clone()
    trainer.train_epoch()

    eye, a = torch.eye(3), model.a
    expected = theta0
    for batch in range(3):
        if robust == 'mg' and batch % interval == 0:
            # theta' = theta - eta alpha1 A theta, then theta'' = theta' + eta alpha2 A theta'
            expected = (eye + eta * 0.3 * a) @ (eye - eta * 0.9 * a) @ expected
        else:
            expected = (eye - eta * a) @ expected
    assert torch.allclose(model.theta.detach(), expected, atol=1e-6)


def test_mirror_gradient_takes_a_second_adam_step_on_every_interval_th_batch(tiny_splits):
    trainer = make_trainer('vbpr', tiny_splits, {**TRAIN, 'batch_size': 128, 'robust': 'mg',
                                                 'mg_interval': 3})
    trainer.train_epoch()
    batches = len(trainer.loader)
    steps = {int(s['step']) for s in trainer.optimizer.state.values()}
    assert batches > 3 and steps == {batches + -(-batches // 3)}


def test_mirror_gradient_scales():
    mg = MirrorGradient(alpha1=1.0, alpha2=0.2, interval=3)
    assert [mg.scales(b) for b in range(5)] == [(1.0, -0.2), (1.0,), (1.0,), (1.0, -0.2),
                                                (1.0,)]


@pytest.mark.parametrize('model, config', [
    ('vbpr', {'robust': 'amr'}),
    ('vbpr', {'robust': 'mg'}),
    ('mmgcn', {'robust': 'amr'}),
    ('bm3', {'robust': 'mg'}),
    ('dvib', {'backbone': 'vbpr', 'robust': 'amr'}),
    ('dvib', {'backbone': 'vbpr', 'robust': 'mg'}),
])
def test_trains_with_finite_decreasing_loss(model, config, tiny_splits):
    trainer = make_trainer(model, tiny_splits, {**TRAIN, **config})
    trainer.fit(test=False)
    losses = [r['loss'] for r in trainer.history]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    if config['robust'] == 'amr':
        assert all(r['amr_adv'] > 0 for r in trainer.history)


def test_composes_with_dvib(tiny_splits):
    # DVIB passes the feature hook on to its backbone: AMR perturbs what VBPR reads, and the
    # loss holds DVIB's terms and AMR's, adding up.
    trainer = make_trainer('dvib', tiny_splits, {**TRAIN, 'backbone': 'vbpr', 'robust': 'amr',
                                                 'variant': 'constant'})
    user, pos, neg = _batch(tiny_splits)
    losses, delta = trainer.method.perturbation(trainer.model, tiny_splits.train, user, pos,
                                                neg)
    assert 'dvib_js' in losses and all(d.abs().sum() > 0 for d in delta.values())
    out = trainer.method.loss(trainer.model, tiny_splits.train, user, pos, neg)
    assert {'dvib_noisy', 'dvib_js', 'amr_adv', 'bpr'} <= set(out)
    terms = sum(v for k, v in out.items() if k != 'loss')
    assert torch.allclose(out['loss'], terms)
    assert resolve('dvib', {'backbone': 'mmgcn', 'robust': 'amr'}).train.robust == 'amr'


@pytest.mark.parametrize('model, config, names', [
    ('lightgcn', {}, ["'lightgcn' lacks (modality)"]),
    ('dvib', {'backbone': 'layergcn'}, ["'dvib' with backbone 'layergcn' lacks (modality)"]),
])
def test_a_model_without_the_capability_is_refused_in_one_line(model, config, names):
    with pytest.raises(ConfigError) as info:
        resolve(model, {**config, 'robust': 'amr'})
    message = str(info.value)
    assert "robust='amr' needs a model with the capabilities (modality)" in message
    assert all(name in message for name in names) and '\n' not in message
    assert "'vbpr'" in message  # names models that have it
    resolve(model, {**config, 'robust': 'mg'})  # MG needs nothing


def test_amr_refuses_data_without_features(graph_only_splits):
    with pytest.raises(DataError, match="robust='amr' perturbs the item feature matrices.*"
                                        "only item-item graphs"):
        make_trainer('lattice', graph_only_splits, {**TRAIN, 'robust': 'amr'})


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="'robust' must be one of"):
        TrainConfig(robust='adversarial')
    with pytest.raises(ConfigError, match="'mg_interval'"):
        TrainConfig(mg_interval=0)
    with pytest.raises(ConfigError, match="'amr_epsilon'"):
        TrainConfig(amr_epsilon=0.0)
    method = training_method(TrainConfig(robust='amr', amr_epsilon=0.3, amr_lambda=0.5))
    assert isinstance(method, AMR) and (method.epsilon, method.weight) == (0.3, 0.5)


@pytest.mark.parametrize('robust', ['amr', 'mg'])
def test_reproducible_for_the_same_seed(robust, tiny_splits):
    def history(seed):
        # deterministic: two intra-op threads reorder float sums (documented), so bitwise
        # equality of two runs needs one thread.
        trainer = make_trainer('vbpr', tiny_splits, {**TRAIN, 'epochs': 2, 'seed': seed,
                                                     'robust': robust, 'deterministic': True})
        trainer.fit(test=False)
        return [(r['loss'], r['valid']['Recall@20']) for r in trainer.history]

    first = history(5)
    assert history(5) == first
    assert history(6) != first


def test_robust_none_is_plain_training(tiny_splits):
    # The trainer keys of the methods are ignored unless robust selects their method.
    bitwise = {**TRAIN, 'epochs': 2, 'deterministic': True}
    plain = make_trainer('vbpr', tiny_splits, bitwise)
    ignored = make_trainer('vbpr', tiny_splits, {**bitwise, 'amr_epsilon': 3.0, 'mg_alpha2': 0.9})
    plain.fit(test=False)
    ignored.fit(test=False)
    assert [r['loss'] for r in plain.history] == [r['loss'] for r in ignored.history]
