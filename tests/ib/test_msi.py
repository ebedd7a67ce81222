import math

import pytest
import torch

import pyg_mmrec.functional as MF
from pyg_mmrec.data import TripletLoader, make_synthetic
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.ib import MSI, view_embeddings
from pyg_mmrec.nn.conv import user_item_adjacency
from pyg_mmrec.nn.models import BM3


def _batch(splits, size=64):
    user, pos = splits.train['user', 'interacts', 'item'].edge_index[:, :size]
    return user, pos


def _seeded_loss(model, data, user, pos, seed=0):
    torch.manual_seed(seed)
    return model.loss(data, user, pos, pos)


def test_info_nce_bound_rises_for_dependent_pairs():
    # the MI estimate of L_ssd: log n - InfoNCE is near 0 for independent pairs and grows
    # with the dependence, up to log n
    torch.manual_seed(0)
    n = 256
    x = torch.randn(n, 16)

    def bound(y):
        return math.log(n) - MF.info_nce(x, y, temperature=0.2, symmetric=True).item()

    independent = bound(torch.randn(n, 16))
    weak = bound(x + 2.0 * torch.randn(n, 16))
    strong = bound(x + 0.2 * torch.randn(n, 16))
    assert independent < 0.5 < weak < strong <= math.log(n)


def test_hparams_are_bm3s_and_its_own(tiny_splits):
    defaults = MSI.hparam_defaults()
    assert set(defaults) == set(BM3.hparam_defaults()) | {
        'alpha', 'beta', 'temperature', 'use_ssd', 'use_ip', 'use_align', 'use_mask'}
    model = MSI.from_data(tiny_splits.train, embedding_dim=8, alpha=0.5, num_layers=2)
    assert isinstance(model, BM3) and model.alpha == 0.5 and model.num_layers == 2
    assert model.hparams == {**defaults, 'embedding_dim': 8, 'alpha': 0.5, 'num_layers': 2}
    with pytest.raises(ConfigError, match='alpha'):
        MSI(10, 12, {'image': 4, 'text': 4}, alpha=-1.0)


def test_needs_exactly_two_modalities_for_discarding():
    splits = make_synthetic(num_users=30, num_items=20, mean_interactions=6,
                            modalities={'audio': (4, 4, 4)})
    with pytest.raises(DataError, match='exactly two modalities'):
        MSI.from_data(splits.train, embedding_dim=4)
    model = MSI.from_data(splits.train, embedding_dim=4, use_ssd=False)
    assert set(model.encode(splits.train).modality) == {'audio'}
    # any two modalities: tiktok has image and audio
    splits = make_synthetic(num_users=30, num_items=20, mean_interactions=6,
                            modalities={'audio': (4, 4, 4), 'image': (6, 2, 2)})
    out = MSI.from_data(splits.train, embedding_dim=4).encode(splits.train)
    assert set(out.posterior) == {'audio', 'image'}


def test_without_both_modules_msi_is_bm3(tiny_splits):
    data = tiny_splits.train
    torch.manual_seed(0)
    bm3 = BM3.from_data(data, embedding_dim=8)
    torch.manual_seed(0)
    msi = MSI.from_data(data, embedding_dim=8, use_ssd=False, use_ip=False)
    assert msi.state_dict().keys() == bm3.state_dict().keys()  # no Gaussian heads
    assert all(torch.equal(v, bm3.state_dict()[k]) for k, v in msi.state_dict().items())
    user, pos = _batch(tiny_splits)
    expected, got = _seeded_loss(bm3, data, user, pos), _seeded_loss(msi, data, user, pos)
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in expected)
    bm3.eval(), msi.eval()
    assert torch.equal(msi.score(*msi(data)), bm3.score(*bm3(data)))


@pytest.mark.parametrize('num_layers', [1, 2])  # 1 layer takes the shared-layer shortcut
def test_interaction_preserving_propagates_three_item_tables(tiny_splits, num_layers):
    data = tiny_splits.train
    model = MSI.from_data(data, embedding_dim=8, num_layers=num_layers, use_ssd=False)
    out = model.encode(data)
    num_users = tiny_splits.num_users
    adj = user_item_adjacency(data['user', 'interacts', 'item'].edge_index, num_users,
                              tiny_splits.num_items).to_dense()

    def lightgcn(x):  # slow dense LightGCN with the item residual of Eq. 17
        z = sum(torch.linalg.matrix_power(adj, n) @ x for n in range(num_layers + 1))
        z = z / (num_layers + 1)
        return z[:num_users], z[num_users:] + x[num_users:]

    e_user = model.embedding.weight[:num_users]
    user, item = lightgcn(model.embedding.weight)
    assert torch.allclose(out.online_user, user, atol=1e-6)
    assert torch.allclose(out.online_item, item, atol=1e-6)
    for m, z in model.modality_reps(data).items():  # items start from the modality projection
        _, expected = lightgcn(torch.cat([e_user, z]))
        assert torch.allclose(out.modality[m], expected, atol=1e-5)
    assert not torch.allclose(out.modality['image'], model.modality_reps(data)['image'])
    # the ID side equals BM3's own forward pass
    assert torch.allclose(out.user, BM3.encode(model, data).user, atol=1e-6)


def test_one_layer_shortcut_equals_the_joint_propagation_bitwise(tiny_splits):
    data = tiny_splits.train
    model = MSI.from_data(data, embedding_dim=8, num_layers=1, use_ssd=False)
    ego_user = model.embedding.weight[:tiny_splits.num_users]
    tables = torch.cat([model.embedding.weight[tiny_splits.num_users:],
                        *model.modality_reps(data).values()], 1)
    user, items = model.propagate_tables(data, tables)
    joint = model.conv(torch.cat([ego_user.repeat(1, 3), tables]), model.adjacency(data))
    assert torch.equal(user, joint[:tiny_splits.num_users, :8])
    assert torch.equal(items, joint[tiny_splits.num_users:] + tables)


def test_discarding_samples_in_training_and_uses_the_mean_in_evaluation(tiny_splits):
    data = tiny_splits.train
    model = MSI.from_data(data, embedding_dim=8, use_ip=False)
    out = model.encode(data)
    for _, std, _ in out.posterior.values():  # every sigma starts at 1
        assert torch.allclose(std, torch.ones_like(std))
    with torch.no_grad():
        for lin in model.gaussian.values():
            lin.weight.normal_()
    out = model.encode(data)
    for m, (mu, std, sample) in out.posterior.items():
        assert (std > 0).all()
        assert not torch.allclose(sample, mu)
        assert torch.equal(out.modality[m], sample)  # w/o I the sample is used directly
        lin = model.gaussian[m]
        z = model.modality_reps(data)[m]
        mean, raw = lin(z).chunk(2, dim=-1)
        assert torch.allclose(mu, mean) and torch.allclose(std, torch.nn.functional.softplus(raw),
                                                           atol=1e-5)
    model.eval()
    first, second = model.encode(data), model.encode(data)
    assert torch.equal(first.user, second.user)
    for m, (mu, _, sample) in first.posterior.items():
        assert torch.equal(sample, mu) and torch.equal(first.modality[m], mu)


def test_ssd_loss_is_eq_13_on_the_batch_items(tiny_splits):
    data = tiny_splits.train
    model = MSI.from_data(data, embedding_dim=8, alpha=0.3, beta=0.2, temperature=0.5)
    user, pos = _batch(tiny_splits)
    out = model.encode(data)
    losses = model.batch_loss(out, user, pos, pos)
    items = pos.unique()
    (mu1, s1, z1), (mu2, s2, z2) = ([t[items] for t in post] for post in out.posterior.values())
    mi = math.log(len(items)) - MF.info_nce(z1, z2, 0.5, symmetric=True)
    akl = MF.average_kl(mu1, s1, mu2, s2)
    assert torch.allclose(losses['ssd_mi'], -0.3 * mi)
    assert torch.allclose(losses['ssd_akl'], 0.3 * 0.2 * akl)
    reg = (out.online_user.norm() + out.online_item.norm()
           + sum(z.norm() for z in out.modality.values())) / tiny_splits.num_items
    assert torch.allclose(losses['reg'], model.reg_weight * reg)
    terms = [v for k, v in losses.items() if k != 'loss']
    assert torch.allclose(losses['loss'], sum(terms))
    # the discarding loss trains the Gaussian encoders and the modality projections
    (losses['ssd_mi'] + losses['ssd_akl']).backward()
    assert all(lin.weight.grad.abs().sum() > 0 for lin in model.gaussian.values())
    assert all(lin.weight.grad.abs().sum() > 0
               for lin in model.encoder.proj.values())


def test_loss_ablations(tiny_splits):
    data = tiny_splits.train
    user, pos = _batch(tiny_splits)
    full = MSI.from_data(data, embedding_dim=8)
    state = full.state_dict()
    reference = _seeded_loss(full, data, user, pos)
    for switch, dropped in (('use_align', 'align'), ('use_mask', 'mask')):
        model = MSI.from_data(data, embedding_dim=8, **{switch: False})
        model.load_state_dict(state)
        losses = _seeded_loss(model, data, user, pos)
        assert dropped not in losses
        assert torch.allclose(losses['loss'], reference['loss'] - reference[dropped])
    no_ssd = MSI.from_data(data, embedding_dim=8, use_ssd=False)
    losses = _seeded_loss(no_ssd, data, user, pos)
    assert 'ssd_mi' not in losses and 'ssd_akl' not in losses
    negatives = _seeded_loss(full, data, user, pos)
    torch.manual_seed(0)
    other = full.loss(data, user, pos, torch.zeros_like(pos))
    assert all(torch.equal(negatives[k], other[k]) for k in other)  # negatives are ignored


def test_view_embeddings_for_the_fig3_check(tiny_splits):
    data = tiny_splits.train
    model = MSI.from_data(data, embedding_dim=8)
    model.train()
    user, item = view_embeddings(model, data, 'id')
    assert model.training  # the mode is restored
    model.eval()
    expected_user, expected_item = model(data)
    assert torch.equal(user, expected_user) and torch.equal(item, expected_item)
    out = model.encode(data)
    user, text = view_embeddings(model, data, 'text')
    assert torch.allclose(text, model.bootstrap(out.modality['text']))
    assert torch.equal(user, out.user)
    torch.manual_seed(0)
    bm3 = BM3.from_data(data, embedding_dim=8)  # BM3's counterpart: its raw projections
    _, image = view_embeddings(bm3, data, 'image')
    assert torch.allclose(image, bm3.bootstrap(bm3.modality_reps(data)['image']))
    with pytest.raises(ConfigError, match="unknown view 'audio'"):
        view_embeddings(model, data, 'audio')


def test_trains_and_resets_reproducibly(tiny_splits):
    torch.manual_seed(0)
    data = tiny_splits.train
    model = MSI.from_data(data, embedding_dim=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = TripletLoader(data['user', 'interacts', 'item'].edge_index, tiny_splits.num_items,
                           batch_size=256, seed=0)
    epoch_losses = []
    for epoch in range(4):
        loader.set_epoch(epoch)
        total = 0.0
        for user, pos, neg in loader:
            losses = model.loss(data, user, pos, neg)
            assert all(torch.isfinite(v) for v in losses.values())
            optimizer.zero_grad()
            losses['loss'].backward()
            optimizer.step()
            total += losses['loss'].item()
        epoch_losses.append(total)
    assert epoch_losses[-1] < 0.9 * epoch_losses[0]
    torch.manual_seed(3)
    model.reset_parameters()
    first = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(3)
    model.reset_parameters()
    assert all(torch.equal(first[k], v) for k, v in model.state_dict().items())
