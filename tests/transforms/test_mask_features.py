import pytest
import torch

from pyg_mmrec.data import DataSplits
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.graph import ensure_modality_graphs
from pyg_mmrec.nn.models import VBPR, InvRL
from pyg_mmrec.schema import computed_k, graph_type
from pyg_mmrec.transforms import MaskFeatures


def test_masks_the_named_modalities_and_leaves_the_input(items):
    x, t = torch.randn(6, 3), torch.randn(6, 2)
    data = items(image=x, text=t)
    out = MaskFeatures({'image': torch.tensor([1.0, 0.0, 0.5])})(data)
    assert torch.equal(out['item'].x_image, x * torch.tensor([1.0, 0.0, 0.5]))
    assert out['item'].x_text is t
    assert data['item'].x_image is x  # the input keeps its features


def test_a_computed_knn_graph_is_dropped_with_the_old_features(items):
    data = items(image=torch.randn(8, 4), text=torch.randn(8, 3))
    ensure_modality_graphs(data, k=2)  # as a model computes them
    out = MaskFeatures({'image': torch.ones(4)})(data)
    assert out.edge_types == [graph_type('text')]
    assert computed_k(data, 'image') == 2  # the input keeps its own


def test_bad_masks_name_what_is_wrong(items):
    data = items(image=torch.randn(5, 3))
    with pytest.raises(ConfigError, match='at least one modality'):
        MaskFeatures({})
    with pytest.raises(ConfigError, match="mask of modality 'image' must be a finite vector"):
        MaskFeatures({'image': torch.tensor([1.0, float('nan'), 0.0])})
    with pytest.raises(ConfigError, match=r'got shape \(3, 1\)'):
        MaskFeatures({'image': torch.ones(3, 1)})
    with pytest.raises(DataError, match=r"no feature matrix for modalities \['audio'\]"):
        MaskFeatures({'audio': torch.ones(3)})(data)
    with pytest.raises(DataError, match="'image' has 3 feature dimensions, its mask 4"):
        MaskFeatures({'image': torch.ones(4)})(data)


def test_deployed_invrl_mask_gives_invrl_its_invariant_features(tiny_splits):
    # InvRL recommends from m ⊙ M: VBPR with the same weights on the masked data computes
    # the same representations, so deploying the mask hands a backbone exactly those features.
    torch.manual_seed(0)
    invrl = InvRL.from_data(tiny_splits.train, embedding_dim=8).eval()
    with torch.no_grad():
        for mu in invrl.gate.values():
            mu.uniform_(-0.6, 0.6)  # some gates closed (clamped at 0), some open, some between
    masks = invrl.feature_masks()
    assert all(not m.requires_grad and m.min() == 0 and m.max() == 1 for m in masks.values())
    masked = DataSplits(*map(MaskFeatures(masks), tiny_splits))
    vbpr = VBPR.from_data(masked.train, embedding_dim=8).eval()
    vbpr.load_state_dict({k: v for k, v in invrl.state_dict().items() if k in
                          vbpr.state_dict()})
    ours, theirs = invrl.encode(tiny_splits.train), vbpr.encode(masked.train)
    assert torch.allclose(ours.user, theirs.user) and torch.allclose(ours.item, theirs.item)
