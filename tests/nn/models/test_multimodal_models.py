import pytest
import torch

from pyg_mmrec.data import TripletLoader, make_synthetic
from pyg_mmrec.errors import DataError
from pyg_mmrec.nn.models import VBPR, LightGCN, VLightGCN

MULTIMODAL = [VBPR, VLightGCN]


@pytest.mark.parametrize('cls', MULTIMODAL)
def test_forward_exposes_modality_reps_and_hidden(cls, tiny_splits):
    model = cls.from_data(tiny_splits.train, embedding_dim=8)
    out = model.encode(tiny_splits.train)
    assert out.user.shape == (tiny_splits.num_users, 16)
    assert out.item.shape == (tiny_splits.num_items, 16)
    assert set(out.modality) == {'image', 'text'}
    assert all(z.shape == (tiny_splits.num_items, 8) for z in out.modality.values())
    assert torch.allclose(out.hidden, sum(out.modality.values()), atol=1e-6)


@pytest.mark.parametrize('cls', [*MULTIMODAL, LightGCN])
def test_hidden_hook_perturbs_only_inside_context(cls, tiny_splits):
    model = cls.from_data(tiny_splits.train)
    clean = model.encode(tiny_splits.train)
    with model.perturb_hidden(lambda h: h + 1.0):
        noisy = model.encode(tiny_splits.train)
    assert torch.allclose(noisy.hidden, clean.hidden + 1.0)
    assert not torch.allclose(noisy.item, clean.item)
    again = model.encode(tiny_splits.train)
    assert torch.equal(again.item, clean.item) and torch.equal(again.user, clean.user)


@pytest.mark.parametrize('cls', MULTIMODAL)
def test_loss_decreases(cls, tiny_splits):
    torch.manual_seed(0)
    model = cls.from_data(tiny_splits.train, embedding_dim=16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = TripletLoader(tiny_splits.train['user', 'interacts', 'item'].edge_index,
                           tiny_splits.num_items, batch_size=256, seed=0)
    totals = []
    for epoch in range(8):
        loader.set_epoch(epoch)
        total = 0.0
        for batch in loader:
            loss = model.loss(tiny_splits.train, *batch)['loss']
            assert torch.isfinite(loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        totals.append(total)
    assert totals[-1] < 0.9 * totals[0]


@pytest.mark.parametrize('cls', MULTIMODAL)
def test_reset_parameters_is_reproducible(cls, tiny_splits):
    model = cls.from_data(tiny_splits.train)
    torch.manual_seed(3)
    model.reset_parameters()
    first = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(3)
    model.reset_parameters()
    assert all(torch.equal(first[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize('cls', MULTIMODAL)
def test_feature_models_refuse_graph_only_data(cls):
    splits = make_synthetic(num_users=30, num_items=20, mean_interactions=6, modalities={})
    with pytest.raises(DataError, match='needs item feature matrices'):
        cls.from_data(splits.train)
