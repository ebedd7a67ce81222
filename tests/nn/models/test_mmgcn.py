import copy

import pytest
import torch

from pyg_mmrec.data import make_synthetic
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.nn.models import MMGCN


@pytest.fixture(scope='module')
def splits():
    return make_synthetic(num_users=40, num_items=30, mean_interactions=6, seed=1)


def test_hidden_stacks_the_item_projections(splits):
    model = MMGCN.from_data(splits.train, embedding_dim=8, latent_dim=16)
    out = model.encode(splits.train)
    assert out.user.shape == (40, 8) and out.item.shape == (30, 8)
    assert out.hidden.shape == (2 * 30, 16)
    assert set(out.modality) == {'image', 'text'}
    for k, m in enumerate(['image', 'text']):  # sorted modality order
        z = model.encoder.proj[m](splits.train['item'][f'x_{m}'])
        assert torch.allclose(out.modality[m], z)
        assert torch.allclose(out.hidden[k * 30:(k + 1) * 30], z)


def test_perturbation_acts_before_the_normalisation(splits):
    model = MMGCN.from_data(splits.train, embedding_dim=8, latent_dim=16)
    clean = model(splits.train)
    with model.perturb_hidden(lambda h: 3.0 * h):  # rescaling H: normalised away
        scaled = model(splits.train)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(clean, scaled, strict=True))


def test_hook_perturbs_each_modality_input(splits):
    model = MMGCN.from_data(splits.train, embedding_dim=8, latent_dim=16)
    other = copy.copy(splits.train)
    other['item'].x_image = torch.randn_like(splits.train['item'].x_image)
    assert not torch.allclose(model(splits.train)[1], model(other)[1])

    # replacing the image block of H makes the output independent of the image features:
    # the image branch sees nothing but H
    def drop_image(h):
        return torch.cat([torch.zeros_like(h[:30]), h[30:]])
    with model.perturb_hidden(drop_image):
        first, second = model(splits.train)[1], model(other)[1]
    assert torch.allclose(first, second)


def test_representation_is_the_sum_over_modality_branches(splits):
    model = MMGCN.from_data(splits.train, embedding_dim=8, latent_dim=16, concat=False)
    both = model(splits.train)
    parts = []
    for keep in ('image', 'text'):
        data = copy.copy(splits.train)
        del data['item'][f"x_{'text' if keep == 'image' else 'image'}"]
        single = MMGCN.from_data(data, embedding_dim=8, latent_dim=16, concat=False)
        state = {k: v for k, v in model.state_dict().items()
                 if k in single.state_dict()}
        single.load_state_dict(state)
        parts.append(single(data))
    for k in range(2):
        assert torch.allclose(both[k], parts[0][k] + parts[1][k], atol=1e-6)


def test_propagates_over_training_graph_only(splits):
    model = MMGCN.from_data(splits.train, embedding_dim=8, latent_dim=16)
    assert torch.equal(model(splits.train)[1], model(splits.test)[1])


def test_l2_covers_ids_and_user_preferences(splits):
    model = MMGCN.from_data(splits.train, embedding_dim=8, latent_dim=16)
    user, pos, neg = torch.tensor([0, 3]), torch.tensor([1, 2]), torch.tensor([4, 5])
    ego = model.ego_embeddings(user, pos, neg, model.encode(splits.train))
    assert len(ego) == 3 + 2
    assert torch.equal(ego[1], model.id_embedding.weight[40 + pos])
    assert torch.equal(ego[4], model.preference['text'][user])
    model.loss(splits.train, user, pos, neg)['loss'].backward()
    assert model.preference['image'].grad[user].abs().sum() > 0


def test_refuses_graph_only_data_and_bad_layers():
    splits = make_synthetic(num_users=30, num_items=20, mean_interactions=6, modalities={})
    with pytest.raises(DataError, match='needs item feature matrices'):
        MMGCN.from_data(splits.train)
    with pytest.raises(ConfigError, match='num_layers'):
        MMGCN(5, 5, {'image': 4}, num_layers=0)


def test_frozen_embeddings_stay_at_their_initialisation(splits):
    # train_embeddings=False: the ID embeddings and preferences are left out of the
    # optimisation, as in the authors' and MMRec's code (plain tensors never optimised)
    model = MMGCN.from_data(splits.train, embedding_dim=8, latent_dim=16,
                            train_embeddings=False)
    frozen = [model.id_embedding.weight, *model.preference.values()]
    start = [p.detach().clone() for p in frozen]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    user, pos, neg = torch.tensor([0, 3]), torch.tensor([1, 2]), torch.tensor([4, 5])
    for _ in range(2):
        optimizer.zero_grad()
        model.loss(splits.train, user, pos, neg)['loss'].backward()
        assert all(not p.requires_grad and p.grad is None for p in frozen)
        assert all(p.grad is not None for p in model.convs.parameters())
        assert all(p.grad is not None for p in model.encoder.parameters())
        optimizer.step()
    assert all(torch.equal(p, s) for p, s in zip(frozen, start, strict=True))
    # still in the state dict, under the same names as when trained
    trained = MMGCN.from_data(splits.train, embedding_dim=8, latent_dim=16)
    assert trained.id_embedding.weight.requires_grad
    trained.load_state_dict(model.state_dict())
    assert torch.equal(trained(splits.train)[0], model(splits.train)[0])
