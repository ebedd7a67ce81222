import pytest
import torch

from pyg_mmrec.data import DataSplits, make_synthetic
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.ib import DVIB, feature_dependence, hidden_scale, noise_scale
from pyg_mmrec.nn.models import VBPR


def test_feature_dependence_tells_irrelevant_from_relevant_content():
    splits = make_synthetic(num_users=60, num_items=150, mean_interactions=8,
                            modalities={'image': (8, 4, 4)}, seed=2)
    model = VBPR.from_data(splits.train, embedding_dim=8)
    weight = model.encoder.proj['image'].weight  # [8, 16]: informative | nuisance | noise
    with torch.no_grad():
        weight.zero_()
        weight[:, :8] = torch.eye(8)  # Z copies the informative block
    clean = feature_dependence(model, splits.train)['image']
    with torch.no_grad():
        weight.zero_()
        weight[:, 8:] = torch.eye(8)  # Z copies the irrelevant block
    noisy = feature_dependence(model, splits.train)['image']
    assert noisy['irrelevant'] > 0.95 and clean['irrelevant'] < 0.3
    assert clean['relevant'] > 2 * noisy['relevant']
    hsic = feature_dependence(model, splits.train, measure='hsic')['image']
    assert hsic['irrelevant'] > hsic['relevant'] > 0
    plain = DataSplits(*[view.clone() for view in splits])
    del plain.train['item'].irrelevant_image
    with pytest.raises(DataError, match='irrelevant_image'):
        feature_dependence(model, plain.train)


def test_hidden_scale_is_the_row_rms_of_h():
    splits = make_synthetic(num_users=40, num_items=60, mean_interactions=6,
                            modalities={'image': (4, 2, 2), 'text': (4, 2, 2)}, seed=3)
    model = VBPR.from_data(splits.train, embedding_dim=4)  # H = sum of the projections
    with torch.no_grad():
        for m, lin in model.encoder.proj.items():
            lin.weight.zero_()
            lin.bias.copy_(torch.tensor([3.0, -3.0, 3.0, -3.0]) if m == 'image'
                           else torch.tensor([1.0, 1.0, -1.0, -1.0]))
    # Every row of H is [4, -2, 2, -4]: RMS sqrt((16 + 4 + 4 + 16) / 4) = sqrt(10).
    scale = hidden_scale(model, splits.train)
    assert scale == pytest.approx({'median': 10 ** 0.5, 'min': 10 ** 0.5, 'max': 10 ** 0.5})
    with torch.no_grad():
        model.encoder.proj['text'].weight[0, 0] = 1.0  # rows now differ: min < median <= max
    scale = hidden_scale(model, splits.train)
    assert scale['min'] < scale['max'] and scale['min'] <= scale['median'] <= scale['max']
    assert model.training  # the probe leaves the mode as it was


def test_noise_scale_is_phi_of_the_hidden_rows():
    splits = make_synthetic(num_users=40, num_items=60, mean_interactions=6,
                            modalities={'image': (4, 2, 2), 'text': (4, 2, 2)}, seed=3)
    model = DVIB.from_data(splits.train, backbone='vbpr', variant='adaptive',
                           embedding_dim=4)
    net = model.noise_scale['4']
    with torch.no_grad():  # phi = sigmoid(log(1/3)) = 1/4 for every row
        net.mlp[-2].weight.zero_()
        net.mlp[-2].bias.fill_(torch.tensor(1 / 3).log())
    scale = noise_scale(model, splits.train)
    assert (scale['mean'], scale['min'], scale['max']) == pytest.approx((0.25, 0.25, 0.25))
    assert scale['rms'] == pytest.approx(hidden_scale(model.backbone, splits.train)['median'])
    torch.manual_seed(0)
    net.reset_parameters()  # now phi differs between rows: against H computed by hand
    backbone = model.backbone
    feats = backbone.item_features(splits.train)
    with torch.no_grad():
        h = sum(backbone.encoder.proj[m](x) for m, x in feats.items())  # VBPR's H: the sum
        phi = net(h)
    scale = noise_scale(model, splits.train)
    assert scale['mean'] == pytest.approx(float(phi.mean()), rel=1e-5)
    assert (scale['min'], scale['max']) == pytest.approx((float(phi.min()), float(phi.max())),
                                                        rel=1e-5)
    assert scale['min'] < scale['max']
    constant = DVIB.from_data(splits.train, backbone='vbpr', variant='constant', sigma=1e-3,
                              embedding_dim=4)
    assert noise_scale(constant, splits.train)['mean'] == pytest.approx(1e-3)
    with pytest.raises(ConfigError, match='needs a DVIB model'):
        noise_scale(backbone, splits.train)
