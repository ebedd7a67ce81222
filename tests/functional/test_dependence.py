import math

import pytest
import torch

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.functional.dependence import median_sigma2


def slow_info_nce(x, y, tau):
    n, total = x.size(0), 0.0
    for i in range(n):
        sims = [float(x[i] @ y[j] / (x[i].norm() * y[j].norm())) / tau for j in range(n)]
        total -= sims[i] - math.log(sum(math.exp(s) for s in sims))
    return total / n


def test_info_nce_equals_slow_computation():
    torch.manual_seed(0)
    x, y = torch.randn(7, 5), torch.randn(7, 5)
    assert MF.info_nce(x, y, temperature=0.3).item() == pytest.approx(
        slow_info_nce(x, y, 0.3), rel=1e-5)
    both = MF.info_nce(x, y, temperature=0.3, symmetric=True).item()
    assert both == pytest.approx((slow_info_nce(x, y, 0.3) + slow_info_nce(y, x, 0.3)) / 2,
                                 rel=1e-5)


def test_info_nce_candidates_against_slow_computation_and_info_nce():
    torch.manual_seed(0)
    x, table = torch.randn(4, 5), torch.randn(9, 5)
    positive = torch.tensor([3, 0, 3, 8])  # a repeated positive, as a repeated batch node
    expected = 0.0
    for i in range(4):
        sims = [float(x[i] @ c / (x[i].norm() * c.norm())) / 0.3 for c in table]
        expected -= sims[positive[i]] - math.log(sum(math.exp(s) for s in sims))
    assert MF.info_nce_candidates(x, table, positive, 0.3).item() == pytest.approx(
        expected / 4, rel=1e-5)
    # a weight w stands for w copies of the anchor
    once = MF.info_nce_candidates(x[[0, 1, 3]], table, positive[[0, 1, 3]], 0.3,
                                  weight=torch.tensor([2.0, 1.0, 1.0]))
    assert torch.allclose(once, MF.info_nce_candidates(x[[0, 0, 1, 3]], table,
                                                       positive[[0, 0, 1, 3]], 0.3))
    # every row of y its own anchor's positive: the in-batch InfoNCE
    y = table[:4]
    assert torch.allclose(MF.info_nce_candidates(x, y, torch.arange(4), 0.3),
                          MF.info_nce(x, y, 0.3))


def test_info_nce_candidates_rejects_bad_input():
    x, table = torch.randn(4, 5), torch.randn(9, 5)
    with pytest.raises(DataError, match='candidates'):
        MF.info_nce_candidates(x, torch.randn(9, 6), torch.zeros(4, dtype=torch.long))
    with pytest.raises(DataError, match='one positive per anchor'):
        MF.info_nce_candidates(x, table, torch.zeros(3, dtype=torch.long))
    with pytest.raises(DataError, match='one weight per anchor'):
        MF.info_nce_candidates(x, table, torch.zeros(4, dtype=torch.long), weight=torch.ones(2))
    with pytest.raises(ConfigError, match='temperature'):
        MF.info_nce_candidates(x, table, torch.zeros(4, dtype=torch.long), temperature=0.0)


def slow_grace_nce(x, y, tau):
    # GRACE / MICRO: the anchor's positive against every y row and every other x row.
    def cos(a, b):
        return float(a @ b / (a.norm() * b.norm())) / tau
    n, total = x.size(0), 0.0
    for i in range(n):
        denom = sum(math.exp(cos(x[i], y[j])) for j in range(n))
        denom += sum(math.exp(cos(x[i], x[j])) for j in range(n) if j != i)
        total -= cos(x[i], y[i]) - math.log(denom)
    return total / n


def test_info_nce_intra_view_equals_slow_computation():
    torch.manual_seed(5)
    x, y = torch.randn(6, 4), torch.randn(6, 4)
    assert MF.info_nce(x, y, 0.5, intra_view=True).item() == pytest.approx(
        slow_grace_nce(x, y, 0.5), rel=1e-5)
    both = MF.info_nce(x, y, 0.5, symmetric=True, intra_view=True).item()
    assert both == pytest.approx((slow_grace_nce(x, y, 0.5) + slow_grace_nce(y, x, 0.5)) / 2,
                                 rel=1e-5)
    # the extra negatives only add to the denominator
    assert MF.info_nce(x, y, 0.5, intra_view=True) > MF.info_nce(x, y, 0.5)


def test_info_nce_known_value_on_orthonormal_pairs():
    # cos = identity: loss = log(1 + (n - 1) e^{-1/τ}), whatever the rows' lengths.
    n, tau = 6, 0.5
    x = torch.eye(n) * torch.arange(1.0, n + 1).unsqueeze(1)
    expected = math.log(1 + (n - 1) * math.exp(-1 / tau))
    assert MF.info_nce(x, torch.eye(n), temperature=tau).item() == pytest.approx(expected)


def test_info_nce_bound_near_zero_when_independent_positive_when_dependent():
    torch.manual_seed(1)
    n = 256
    x = torch.randn(n, 8)
    bound_indep = math.log(n) - MF.info_nce(x, torch.randn(n, 8)).item()
    bound_dep = math.log(n) - MF.info_nce(x, x + 0.3 * torch.randn(n, 8)).item()
    # the estimate is at most about zero without dependence (it can go below: it is a bound)
    assert bound_indep < 0.1 and bound_dep > 3.0


def test_info_nce_invariant_to_permuting_both_inputs():
    torch.manual_seed(2)
    x, y = torch.randn(10, 4), torch.randn(10, 4)
    perm = torch.randperm(10)
    for symmetric in (False, True):
        assert torch.allclose(MF.info_nce(x, y, symmetric=symmetric),
                              MF.info_nce(x[perm], y[perm], symmetric=symmetric))


def test_info_nce_bad_input():
    with pytest.raises(DataError, match='paired rows'):
        MF.info_nce(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ConfigError, match='temperature'):
        MF.info_nce(torch.randn(3, 2), torch.randn(3, 2), temperature=0)


def slow_hsic(x, y, sigma2_x, sigma2_y):
    n = x.size(0)

    def gram(z, s2):
        return torch.tensor([[math.exp(-float((z[i] - z[j]).pow(2).sum()) / (2 * s2))
                              for j in range(n)] for i in range(n)], dtype=torch.float64)

    h = torch.eye(n, dtype=torch.float64) - torch.ones(n, n, dtype=torch.float64) / n
    return float(torch.trace(gram(x, sigma2_x) @ h @ gram(y, sigma2_y) @ h)) / (n - 1) ** 2


def test_hsic_equals_slow_explicit_computation():
    torch.manual_seed(0)
    x, y = torch.randn(9, 3, dtype=torch.float64), torch.randn(9, 2, dtype=torch.float64)
    assert MF.hsic(x, y, sigma2=0.7).item() == pytest.approx(slow_hsic(x, y, 0.7, 0.7))
    # median heuristic: σ² is each input's median squared distance between distinct rows
    i, j = torch.triu_indices(9, 9, offset=1)
    s2x = float((x[i] - x[j]).pow(2).sum(1).median())
    s2y = float((y[i] - y[j]).pow(2).sum(1).median())
    assert median_sigma2(x).item() == pytest.approx(s2x)
    assert MF.hsic(x, y).item() == pytest.approx(slow_hsic(x, y, s2x, s2y))
    xn = torch.nn.functional.normalize(x, dim=1)
    yn = torch.nn.functional.normalize(y, dim=1)
    assert MF.hsic(x, y, sigma2=0.2, normalize=True).item() == pytest.approx(
        slow_hsic(xn, yn, 0.2, 0.2))


@pytest.mark.parametrize('dim', [8, 64])
def test_hsic_median_heuristic_separates_dependent_from_independent(dim):
    torch.manual_seed(3)
    n = 300
    x = torch.randn(n, dim)
    dependent = torch.tanh(x @ torch.randn(dim, dim) / math.sqrt(dim)) + 0.3 * torch.randn(n, dim)
    independent = torch.randn(n, dim)
    h_dep, h_ind = MF.hsic(x, dependent).item(), MF.hsic(x, independent).item()
    assert h_dep > 3 * h_ind and h_ind < 2.0 / n  # the biased estimator is O(1/n) at zero
    # and CKA, the normalised HSIC, is in [0, 1]
    c_dep, c_ind = MF.cka(x, dependent).item(), MF.cka(x, independent).item()
    assert 0 <= c_ind < c_dep <= 1
    assert MF.cka(x, x).item() == pytest.approx(1.0, abs=1e-5)


def test_fixed_small_bandwidth_on_high_dimensional_inputs_is_degenerate():
    # DESIGN.md's trap: σ² = 0.2 on 64-d inputs makes the kernel ≈ identity (no contrast),
    # the median heuristic does not.
    torch.manual_seed(4)
    x = torch.nn.functional.normalize(torch.randn(200, 64), dim=1)
    dist = torch.cdist(x, x).pow(2)
    off = ~torch.eye(200, dtype=torch.bool)
    assert torch.exp(-dist / 0.4)[off].mean() < 0.01
    assert 0.4 < torch.exp(-dist / (2 * median_sigma2(x)))[off].mean() < 0.8


def test_hsic_invariant_to_permuting_both_inputs_and_scale_free_with_median():
    torch.manual_seed(5)
    x, y = torch.randn(20, 4), torch.randn(20, 3)
    y = y + x[:, :3]
    perm = torch.randperm(20)
    assert torch.allclose(MF.hsic(x, y), MF.hsic(x[perm], y[perm]), atol=1e-6)
    assert torch.allclose(MF.hsic(x, y, 0.5), MF.hsic(x[perm], y[perm], 0.5), atol=1e-6)
    assert torch.allclose(MF.hsic(10 * x, y), MF.hsic(x, y), atol=1e-6)
    assert not torch.allclose(MF.hsic(x, y), MF.hsic(x, y[perm]))


def test_hsic_gradient_flows_but_not_through_the_bandwidth():
    torch.manual_seed(6)
    x = torch.randn(12, 3, requires_grad=True)
    MF.hsic(x, x.detach() ** 2).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert not median_sigma2(x).requires_grad


def test_hsic_bad_input():
    with pytest.raises(DataError, match='at least 2'):
        MF.hsic(torch.randn(1, 2), torch.randn(1, 2))
    with pytest.raises(DataError, match='paired rows'):
        MF.hsic(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ConfigError, match='sigma2'):
        MF.hsic(torch.randn(3, 2), torch.randn(3, 2), sigma2=-1.0)
