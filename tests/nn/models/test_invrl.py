import pytest
import torch
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec import run
from pyg_mmrec.data import TripletLoader, make_synthetic
from pyg_mmrec.data.synthetic import DEFAULT_MODALITIES
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models import VBPR, InvRL
from pyg_mmrec.train import load_checkpoint, make_trainer

INTERACTS = ('user', 'interacts', 'item')


def test_evaluation_scores_vbpr_on_the_masked_features(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = InvRL.from_data(data, embedding_dim=16).eval()
    with torch.no_grad():
        model.gate['image'].fill_(0.2)  # gates 0.7
        model.gate['text'].fill_(-0.9)  # gates clamped to 0
    vbpr = VBPR.from_data(data, embedding_dim=16)
    vbpr.load_state_dict(model.state_dict(), strict=False)
    x = data['item']
    masked = {'image': 0.7 * x.x_image, 'text': 0.0 * x.x_text}
    expected = vbpr.encode_features(masked)
    out = model.encode(data)
    assert type(out).__name__ == 'Encoded'  # no training extras at inference
    assert torch.allclose(out.item, expected.item, atol=1e-6)
    assert torch.equal(out.user, expected.user)
    # without noise the gates are deterministic; in training they are drawn around mu + 1/2
    assert torch.equal(model.mask()['image'], torch.full((x.x_image.size(1),), 0.7))
    noisy = model.mask(stochastic=True)['image']
    assert not torch.equal(noisy, model.mask()['image'])
    assert (noisy - 0.7).abs().max() < 6 * model.gate_sigma


def test_invalid_settings_raise_config_error(tiny_splits):
    with pytest.raises(ConfigError, match="'num_envs'"):
        InvRL.from_data(tiny_splits.train, num_envs=1)
    with pytest.raises(ConfigError, match="'irm_weight'"):
        InvRL.from_data(tiny_splits.train, irm_weight=-1.0)
    model = InvRL.from_data(tiny_splits.train)
    with pytest.raises(DataError, match='one environment per training interaction'):
        model.assign_environments(tiny_splits.train, torch.zeros(3, dtype=torch.long))


def test_environments_partition_the_training_interactions(tiny_splits):
    data = tiny_splits.train
    edge_index = data[INTERACTS].edge_index
    torch.manual_seed(0)
    model = InvRL.from_data(data, embedding_dim=16, num_envs=4, env_interval=3)
    out = model.encode(data)
    # one environment per training interaction, drawn uniformly at first
    env = model.environments
    assert env.shape == (edge_index.size(1),)
    counts = torch.bincount(env, minlength=4)
    assert env.min() >= 0 and env.max() < 4 and counts.min() > 0.15 * env.numel()
    # a batch of training pairs is looked up to its interactions' environments
    order = torch.randperm(edge_index.size(1))[:50]
    user, item = edge_index[:, order]
    assert torch.equal(model.environment_of(out, user, item), env[order])

    # no inference before the interval; at it, every interaction moves to the environment
    # whose model scores it highest (computed here edge by edge)
    model.on_epoch_start(2)
    model.encode(data)
    assert torch.equal(model.environments, env)
    model.on_epoch_start(3)
    out = model.encode(data)
    theta = model.user_emb.weight[:, 16:]
    gates = model.mask()
    for e in order[:10].tolist():
        u, i = edge_index[:, e].tolist()
        variant = {m: (1 - gates[m]) * data['item'][f'x_{m}'][i:i + 1] for m in gates}
        scores = [theta[u] @ ModalityEncoder.fuse(env_model(variant))[0]
                  for env_model in model.env_models]
        assert model.environments[e] == torch.stack(scores).argmax()
    assert torch.equal(model.environment_of(out, user, item), model.environments[order])
    assert not torch.equal(model.environments, env)


def test_environments_travel_with_the_state_dict(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = InvRL.from_data(data, embedding_dim=16)
    model.encode(data)
    clone = InvRL.from_data(data, embedding_dim=16)
    clone.load_state_dict(model.state_dict())
    assert torch.equal(clone.environments, model.environments)
    clone.reset_parameters()
    assert clone.environments is None


def test_resume_equals_uninterrupted_run(tiny_splits, tmp_path):
    # environments re-inferred at epoch 2, checkpointed, and carried on after a resume
    config = {'progress': False, 'batch_size': 256, 'lr': 0.01, 'embedding_dim': 16,
              'env_interval': 2, 'num_envs': 3, 'patience': 100}
    full = run('invrl', tiny_splits, {**config, 'epochs': 4}, out_dir=tmp_path / 'full')
    run('invrl', tiny_splits, {**config, 'epochs': 3}, out_dir=tmp_path / 'part')
    resumed = run('invrl', tiny_splits, {**config, 'epochs': 4}, out_dir=tmp_path / 'part',
                  resume=True)
    assert resumed['valid'] == full['valid'] and resumed['test'] == full['test']
    a = load_checkpoint(tmp_path / 'full' / 'checkpoint.pt')['last_state']
    b = load_checkpoint(tmp_path / 'part' / 'checkpoint.pt')['last_state']
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a['_extra_state'].numel() == tiny_splits.train[INTERACTS].edge_index.size(1)


def _batch(data, size=64, seed=0):
    edge_index = data[INTERACTS].edge_index
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(edge_index.size(1), generator=gen)[:size]
    neg = torch.randint(data['item'].num_nodes, (size,), generator=gen)
    return edge_index[0, order], edge_index[1, order], neg


def test_invariance_penalty_hand_computed_and_zero_for_identical_environments(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = InvRL.from_data(data, embedding_dim=16, num_envs=2)
    out = model.encode(data)
    user, pos, neg = _batch(data)
    weights = [lin.weight for lin in model.encoder.proj.values()]

    def gradient(sel):
        u = out.user[user[sel]]
        risk = MF.bpr_loss((u * out.item[pos[sel]]).sum(-1), (u * out.item[neg[sel]]).sum(-1))
        grads = torch.autograd.grad(risk, weights, retain_graph=True)
        return torch.cat([g.flatten() for g in grads])

    env = (torch.arange(64) % 2)
    penalty = model.invariance_penalty(out, user, pos, neg, env)
    # two environments: each gradient is half their difference away from the mean
    g0, g1 = gradient(env == 0), gradient(env == 1)
    assert penalty.item() == pytest.approx(((g0 - g1).pow(2).sum() / 4).item(), rel=1e-5)
    assert penalty > 0
    # the same triplets in both environments: equal risks, equal gradients, no penalty
    twice = [torch.cat([t, t]) for t in (user, pos, neg)]
    same = model.invariance_penalty(out, *twice, torch.arange(128) // 64)
    assert same.item() == pytest.approx(0.0, abs=1e-12)
    # one environment in the batch: no penalty either
    assert model.invariance_penalty(out, user, pos, neg, torch.zeros(64, dtype=torch.long)) == 0
    # the penalty is differentiable and reaches the gates
    penalty.backward()
    assert all(mu.grad is not None and mu.grad.abs().sum() > 0 for mu in model.gate.values())


def test_loss_terms_and_what_each_trains(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    model = InvRL.from_data(data, embedding_dim=16, num_envs=3)
    user, pos, neg = _batch(data)
    losses = model.loss(data, user, pos, neg)
    assert set(losses) == {'loss', 'bpr', 'l2', 'irm', 'mask_reg', 'env'}
    assert losses['mask_reg'] == 0  # gates start half open, mu = 0
    # the environment models learn from their own loss alone, and it moves nothing else
    env_params = list(model.env_models.parameters())
    others = [p for n, p in model.named_parameters() if not n.startswith('env_models')]
    grads = torch.autograd.grad(losses['env'], env_params + others, allow_unused=True,
                                retain_graph=True)
    # (the projections' biases cancel in a BPR difference: only the weights learn)
    names = [n for n, _ in model.env_models.named_parameters()]
    weights = [g for n, g in zip(names, grads[:len(env_params)], strict=True)
               if n.endswith('weight')]
    assert len(weights) == 3 * 2 and all(g.abs().sum() > 0 for g in weights)
    assert all(g is None or g.abs().sum() == 0 for g in grads[len(env_params):])
    rest = sum(losses[k] for k in ('bpr', 'l2', 'irm', 'mask_reg'))
    assert torch.allclose(rest + losses['env'], losses['loss'])
    grads = torch.autograd.grad(rest, env_params, allow_unused=True)
    assert all(g is None for g in grads)
    # in evaluation, the loss is VBPR's
    model.eval()
    assert set(model.loss(data, user, pos, neg)) == {'loss', 'bpr', 'l2'}


def spurious_toy(seed=0, num_users=150, num_items=200):
    r"""Items with two invariant feature dimensions ``a`` (users' personal tastes, the same in
    both environments), a spurious one ``s`` (liked in environment 0, three times the larger,
    disliked in environment 1) and an irrelevant one; returns the data and the planted
    environment of each interaction."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(num_items, 2, generator=gen)
    s = torch.randn(num_items, 2, generator=gen)
    taste = torch.randn(num_users, 2, generator=gen)
    edges, envs = [], []
    for env, per_user, sign in ((0, 16, 1.0), (1, 6, -1.0)):
        logits = 1.5 * taste @ a.t() + sign * 4.0 * s[:, 0]
        items = torch.multinomial(logits.softmax(1), per_user, generator=gen)
        edges.append(torch.stack([torch.arange(num_users).repeat_interleave(per_user),
                                  items.flatten()]))
        envs.append(torch.full((num_users * per_user,), env))
    edge_index, env = torch.cat(edges, 1), torch.cat(envs)
    keys = edge_index[0] * num_items + edge_index[1]
    first = torch.ones_like(keys, dtype=torch.bool)  # a pair drawn in both keeps its first
    for k, key in enumerate(keys.tolist()):
        first[k] = key not in keys[:k].tolist()
    data = HeteroData()
    data['user'].num_nodes = num_users
    data['item'].num_nodes = num_items
    data['item'].x_feat = torch.cat([a, s], 1)
    data[INTERACTS].edge_index = edge_index[:, first]
    return data, env[first]


def _train_gates(data, env, irm_weight, steps=200):
    torch.manual_seed(0)
    model = InvRL.from_data(data, embedding_dim=8, num_envs=2, irm_weight=irm_weight)
    model.assign_environments(data, env)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = TripletLoader(data[INTERACTS].edge_index, data['item'].num_nodes, 512, seed=0)
    step, epoch = 0, 0
    while step < steps:
        loader.set_epoch(epoch)
        for user, pos, neg in loader:
            optimizer.zero_grad()
            model.loss(data, user, pos, neg)['loss'].backward()
            optimizer.step()
            step += 1
        epoch += 1
    return model.mask()['feat']


def test_mask_regulariser_weighs_like_a_batch_summed_risk(tiny_splits):
    # the authors add lambda * ||mu||^2 to a risk summed over the batch; this risk is a mean,
    # so the term is lambda / B * ||mu||^2 and a batch twice as large halves it
    data = tiny_splits.train
    torch.manual_seed(0)
    model = InvRL.from_data(data, embedding_dim=16, num_envs=3, mask_reg=0.1)
    with torch.no_grad():
        for mu in model.gate.values():
            mu.uniform_(-0.5, 0.5)
    squares = sum(float(mu.pow(2).sum()) for mu in model.gate.values())
    for size in (32, 64):
        losses = model.loss(data, *_batch(data, size=size))
        assert losses['mask_reg'].item() == pytest.approx(0.1 * squares / size, rel=1e-6)


def test_gates_keep_the_planted_informative_features_open_on_synthetic_data():
    # The synthetic data plants each modality's informative block first and task-irrelevant
    # blocks after it. Trained, the mask closes the irrelevant dimensions more than the
    # informative ones (seen, seeds 1-3: mean gates 0.11-0.12 against 0.036-0.045); with the
    # regulariser as heavy as an unscaled lambda on a batch-mean risk (lambda * B) the gates
    # stay together near one half (0.40-0.43 against 0.41-0.43), as on tiktok before the
    # rescaling.
    splits = make_synthetic(num_users=600, num_items=300, seed=1)
    informative = {m: dims[0] for m, dims in DEFAULT_MODALITIES.items()}  # leading block
    ratios = {}
    for mask_reg in (0.1, 0.1 * 256):
        trainer = make_trainer('invrl', splits, {
            'progress': False, 'lr': 0.01, 'reg_weight': 0.001, 'irm_weight': 10.0,
            'mask_reg': mask_reg, 'batch_size': 256, 'seed': 1})
        for _ in range(10):
            trainer.train_epoch()
            trainer.epoch += 1
        mask = trainer.model.mask()
        ratios[mask_reg] = [float(mask[m][:k].mean() / mask[m][k:].mean())
                            for m, k in informative.items()]
    assert min(ratios[0.1]) > 2.0
    assert all(0.9 < r < 1.1 for r in ratios[0.1 * 256])


def test_penalty_closes_the_gate_of_a_spurious_feature():
    # The defining mechanism: with the environments known, the invariance penalty closes the
    # gate of the dimension whose effect flips between environments, and keeps the invariant
    # ones open; without it (ERM) the spurious gate stays open.
    data, env = spurious_toy()
    # (seen: ERM [1.0, 1.0, 0.70, 0.10], IRM [0.94, 0.84, 0.05, 0.04]; gates start at 0.5)
    erm = _train_gates(data, env, irm_weight=0.0)
    irm = _train_gates(data, env, irm_weight=100.0)
    assert erm[2] > 0.6 and irm[2] < 0.2
    assert irm[:2].min() > 0.7
