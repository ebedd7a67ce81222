import pytest
import torch

from pyg_mmrec.data import make_synthetic
from pyg_mmrec.errors import DataError
from pyg_mmrec.nn.models import VBPR, VLATTICE, LightGCN, VLightGCN

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
def test_feature_models_refuse_graph_only_data(cls):
    splits = make_synthetic(num_users=30, num_items=20, mean_interactions=6, modalities={})
    with pytest.raises(DataError, match='needs item feature matrices'):
        cls.from_data(splits.train)


@pytest.mark.parametrize('cls', [*MULTIMODAL, VLATTICE])
def test_l2_covers_the_whole_layer0_states_content_included(cls, tiny_splits):
    # MMRec's VBPR and IBMRec's Eq. 29 regularise [Q ‖ Z], not only the ID part Q.
    model = cls.from_data(tiny_splits.train, reg_weight=0.1)
    user, pos, neg = torch.tensor([0, 3, 5]), torch.tensor([1, 2, 7]), torch.tensor([4, 6, 9])
    layer0 = VBPR.encode(model, tiny_splits.train)  # [P ‖ C], [Q ‖ Z] before propagation
    rows = [layer0.user[user], layer0.item[pos], layer0.item[neg]]
    expected = 0.1 * sum(r.pow(2).sum() for r in rows) / (2 * len(user))
    losses = model.loss(tiny_splits.train, user, pos, neg)
    assert torch.allclose(losses['l2'], expected)
    assert torch.allclose(losses['loss'], losses['bpr'] + losses['l2'])
