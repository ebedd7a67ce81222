import math

import pytest
import torch

import pyg_mmrec.functional as MF


def test_bpr_loss_known_values():
    assert MF.bpr_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(math.log(2))
    pos, neg = torch.tensor([2.0, -1.0]), torch.tensor([0.0, 1.0])
    expected = (-math.log(1 / (1 + math.exp(-2))) - math.log(1 / (1 + math.exp(2)))) / 2
    assert MF.bpr_loss(pos, neg).item() == pytest.approx(expected)


def test_bpr_loss_is_stable_for_large_margins():
    loss = MF.bpr_loss(torch.tensor([-1000.0]), torch.tensor([1000.0]))
    assert loss.item() == pytest.approx(2000.0)
    assert MF.bpr_loss(torch.tensor([1000.0]), torch.tensor([-1000.0])).item() == 0.0


def test_l2_reg_known_value():
    a = torch.ones(2, 3)
    b = torch.full((2, 3), 2.0)
    assert MF.l2_reg(a, b).item() == pytest.approx((6 + 24) / (2 * 2))


def test_cosine_loss_known_values():
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    y = torch.tensor([[3.0, 0.0], [0.0, 2.0], [-1.0, 0.0], [1.0, 1.0]])
    # parallel (any length) 0, orthogonal 1, opposite 2, 45 degrees 1 - 1/sqrt(2)
    expected = (0 + 1 + 2 + 1 - 1 / math.sqrt(2)) / 4
    assert MF.cosine_loss(x, y).item() == pytest.approx(expected)
    for row in range(3):
        assert MF.cosine_loss(x[row:row + 1], y[row:row + 1]).item() == pytest.approx(row)


def test_cosine_loss_is_zero_for_parallel_rows_and_bounded():
    torch.manual_seed(0)
    x = torch.randn(50, 16)
    scale = torch.rand(50, 1) * 10 + 0.1
    assert MF.cosine_loss(x, scale * x).item() == pytest.approx(0.0, abs=1e-6)
    assert MF.cosine_loss(x, -scale * x).item() == pytest.approx(2.0)
    for _ in range(20):
        loss = MF.cosine_loss(torch.randn(8, 4), torch.randn(8, 4)).item()
        assert 0.0 <= loss <= 2.0
    # a zero row stays finite
    assert torch.isfinite(MF.cosine_loss(torch.zeros(1, 4), torch.ones(1, 4)))


def test_cosine_loss_gradient_flows_into_both_arguments_unless_detached():
    x = torch.randn(5, 3, requires_grad=True)
    y = torch.randn(5, 3, requires_grad=True)
    MF.cosine_loss(x, y).backward()
    assert x.grad.abs().sum() > 0 and y.grad.abs().sum() > 0
    y.grad = None
    MF.cosine_loss(x, y.detach()).backward()
    assert y.grad is None


def test_norm_reg_known_value():
    a = torch.full((2, 2), 3.0)  # Frobenius norm 6
    b = torch.ones(4, 1)  # norm 2, four rows
    assert MF.norm_reg(a, b).item() == pytest.approx((6 + 2) / 4)


def test_gradient_variance_known_value_and_zero_for_equal_gradients():
    # two environments, gradients [1, 0] and [3, 2]: mean [2, 1], each 2 away in squared
    # norm, so the trace of the variance is (2 + 2) / 2
    grads = torch.tensor([[1.0, 0.0], [3.0, 2.0]])
    assert MF.gradient_variance(grads).item() == pytest.approx(2.0)
    same = torch.randn(1, 5).expand(4, 5)
    assert MF.gradient_variance(same).item() == pytest.approx(0.0, abs=1e-7)
    assert MF.gradient_variance(torch.randn(1, 5)).item() == 0.0  # a single environment
    # the penalty is differentiable through the gradients it is given
    w = torch.tensor([1.0, -1.0], requires_grad=True)
    scale = torch.tensor([[1.0], [2.0]])
    MF.gradient_variance(scale * w).backward()
    # g_e = s_e w, mean 1.5 w: ((0.25 + 0.25) / 2) * 2 w = 0.5 w
    assert torch.allclose(w.grad, 0.5 * w.detach())
