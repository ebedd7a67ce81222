"""make_synthetic: determinism, planted structure, feature layout and parameter checks."""
import pytest
import torch

from pyg_mmrec.data import INTERACTS, make_synthetic, modalities
from pyg_mmrec.data.synthetic import DEFAULT_MODALITIES
from pyg_mmrec.errors import ConfigError

SMALL = dict(num_users=300, num_items=500, mean_interactions=15)


def tensors(splits):
    """Every tensor of every view, by (view, node or edge type, attribute)."""
    out = {}
    for name, view in zip(('train', 'val', 'test'), splits, strict=True):
        for store in view.stores:
            for key, value in store.items():
                if isinstance(value, torch.Tensor):
                    out[(name, str(getattr(store, '_key', None)), key)] = value
    return out


def test_deterministic_for_a_seed():
    a, b = tensors(make_synthetic(seed=3, **SMALL)), tensors(make_synthetic(seed=3, **SMALL))
    assert a.keys() == b.keys()
    assert len(a) >= 3 * 8  # interactions, features, irrelevant blocks and factors per view
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_differs_for_another_seed():
    a, b = tensors(make_synthetic(seed=3, **SMALL)), tensors(make_synthetic(seed=4, **SMALL))
    for key in a:
        if a[key].shape == b[key].shape:
            assert not torch.equal(a[key], b[key]), key


def all_edges(splits):
    return torch.cat([view[INTERACTS].edge_label_index for view in splits], 1)


def top_decile_share(splits):
    degree = torch.bincount(all_edges(splits)[1], minlength=splits.num_items)
    top = degree.sort(descending=True).values[:splits.num_items // 10]
    return float(top.sum() / degree.sum())


def test_interactions_and_split():
    splits = make_synthetic(seed=0, min_interactions=4, **SMALL)
    s = splits.summary()
    assert (s['users'], s['items'], s['name']) == (300, 500, 'synthetic')
    n_u = torch.bincount(all_edges(splits)[0], minlength=300)
    assert int(n_u.min()) >= 4 and int(n_u.max()) <= 250
    assert abs(float(n_u.float().mean()) - 15) < 1.5
    edges = all_edges(splits)
    assert (edges[0] * 500 + edges[1]).unique().numel() == edges.size(1)  # no duplicates
    for view in (splits.val, splits.test):  # every user has >= 3, hence val and test items
        assert torch.bincount(view[INTERACTS].edge_label_index[0], minlength=300).min() >= 1
    assert s['eval_users_dropped'] == 0


def test_popularity_is_heavy_tailed():
    default = make_synthetic(seed=0)
    assert top_decile_share(default) > 0.2  # uniform popularity would give 0.1
    shares = [top_decile_share(make_synthetic(seed=0, popularity_exponent=a, **SMALL))
              for a in (0.0, 0.5, 1.0)]
    assert shares[0] < shares[1] < shares[2]
    assert shares[2] > 0.3


def test_interactions_follow_the_planted_factors():
    splits = make_synthetic(seed=1, **SMALL)
    p, q = splits.train['user'].factors, splits.train['item'].factors
    assert p.shape == (300, 16) and q.shape == (500, 16)
    edges = all_edges(splits)
    observed = (p[edges[0]] * q[edges[1]]).sum(1).mean()
    random_items = torch.randint(500, (edges.size(1), ), generator=torch.Generator().manual_seed(0))
    baseline = (p[edges[0]] * q[random_items]).sum(1).mean()
    assert observed > baseline + 0.2


def r2(x: torch.Tensor, y: torch.Tensor) -> float:
    """Least-squares R^2 of predicting ``y`` linearly (with intercept) from ``x``."""
    x = torch.cat([x.double(), torch.ones(len(x), 1, dtype=torch.float64)], 1)
    y = y.double()
    beta = torch.linalg.lstsq(x, y).solution
    return float(1 - ((y - x @ beta) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())


@pytest.mark.parametrize('share', [0.5, 0.2])
def test_feature_block_layout(share):
    splits = make_synthetic(seed=2, irrelevant_share=share, **SMALL)
    item = splits.train['item']
    assert modalities(splits.train) == sorted(DEFAULT_MODALITIES)
    for m, (d_inf, d_nuis, d_noise) in DEFAULT_MODALITIES.items():
        x, irr = item[f'x_{m}'], item[f'irrelevant_{m}']
        assert x.dtype == torch.float32 and x.shape == (500, d_inf + d_nuis + d_noise)
        assert irr.shape == (500, d_nuis + d_noise)
        assert torch.allclose(x[:, d_inf:], irr)
        # Each block holds its documented share of the total variance, which equals D.
        var = x.double().var(0, unbiased=False)
        total = d_inf + d_nuis + d_noise
        assert float(var.sum()) == pytest.approx(total, rel=0.03)
        assert float(var[:d_inf].sum()) == pytest.approx((1 - share) * total, rel=1e-3)
        assert float(var[d_inf:d_inf + d_nuis].sum()) == pytest.approx(share / 2 * total,
                                                                        rel=1e-3)
        assert float(var[d_inf + d_nuis:].sum()) == pytest.approx(share / 2 * total, rel=0.1)
        assert float(var[:d_inf].std()) < 1e-3  # columns of a block share the variance
        # nuisance rows take few distinct values (cluster centres): at most 20 clusters
        assert x[:, d_inf:d_inf + d_nuis].unique(dim=0).size(0) <= 20


def test_informative_block_predicts_factors_and_irrelevant_does_not():
    splits = make_synthetic(seed=2, **SMALL)
    item = splits.train['item']
    q = item.factors
    for m, (d_inf, _, _) in DEFAULT_MODALITIES.items():
        assert r2(item[f'x_{m}'][:, :d_inf], q) > 0.99
        assert r2(item[f'irrelevant_{m}'], q) < 0.15
        assert r2(item[f'x_{m}'], q) > 0.99


def test_no_irrelevant_share_and_custom_modalities():
    splits = make_synthetic(seed=0, irrelevant_share=0.0, modalities={'audio': (8, 4, 4)},
                            **SMALL)
    item = splits.train['item']
    assert modalities(splits.train) == ['audio']
    assert bool((item.irrelevant_audio == 0).all()) and bool((item.x_audio[:, 8:] == 0).all())
    assert float(item.x_audio[:, :8].std(0).min()) > 0.9
    only_noise = make_synthetic(seed=0, irrelevant_share=1.0, modalities={'audio': (8, 4, 4)},
                                **SMALL)
    assert bool((only_noise.train['item'].x_audio[:, :8] == 0).all())


@pytest.mark.parametrize('kwargs, name', [
    (dict(num_users=1), 'num_users'), (dict(num_items=5), 'num_items'),
    (dict(latent_dim=0), 'latent_dim'), (dict(min_interactions=2), 'min_interactions'),
    (dict(num_items=20, min_interactions=11), 'min_interactions'),
    (dict(mean_interactions=3.0), 'mean_interactions'),
    (dict(popularity_exponent=-0.1), 'popularity_exponent'),
    (dict(temperature=0.0), 'temperature'), (dict(irrelevant_share=1.5), 'irrelevant_share'),
    (dict(irrelevant_share=-0.1), 'irrelevant_share'),
    (dict(num_nuisance_clusters=0), 'num_nuisance_clusters'),
    (dict(modalities={'image': (4, 4)}), 'modality'),
    (dict(modalities={'image': (4, -1, 4)}), 'modality'),
    (dict(modalities={'image': (0, 0, 0)}), 'modality'),
])
def test_bad_parameters(kwargs, name):
    with pytest.raises(ConfigError, match=name):
        make_synthetic(**kwargs)
