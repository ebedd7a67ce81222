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
