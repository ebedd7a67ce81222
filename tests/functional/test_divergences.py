import math

import pytest
import torch
from torch.distributions import Categorical, Independent, Normal, kl_divergence

import pyg_mmrec.functional as MF


def _gaussians(seed, n=6, d=5):
    gen = torch.Generator().manual_seed(seed)
    mu1, mu2 = torch.randn(n, d, generator=gen), torch.randn(n, d, generator=gen)
    std1 = torch.rand(n, d, generator=gen) + 0.1
    std2 = torch.rand(n, d, generator=gen) + 0.1
    return mu1, std1, mu2, std2


def test_average_kl_matches_torch_distributions():
    mu1, std1, mu2, std2 = _gaussians(0)
    p, q = Normal(mu1, std1), Normal(mu2, std2)
    expected = (0.5 * (kl_divergence(p, q) + kl_divergence(q, p))).sum(-1).mean()
    assert MF.average_kl(mu1, std1, mu2, std2).item() == pytest.approx(expected.item(), rel=1e-5)


def test_average_kl_is_symmetric_and_non_negative():
    for seed in range(5):
        mu1, std1, mu2, std2 = _gaussians(seed)
        akl = MF.average_kl(mu1, std1, mu2, std2)
        assert akl.item() > 0
        assert akl.item() == pytest.approx(MF.average_kl(mu2, std2, mu1, std1).item())


def test_average_kl_is_zero_iff_equal():
    mu1, std1, mu2, std2 = _gaussians(1)
    assert MF.average_kl(mu1, std1, mu1, std1).item() == 0.0
    # A difference in only one mean or only one deviation is already detected.
    assert MF.average_kl(mu1, std1, mu1 + 1e-2 * (mu2 - mu1), std1).item() > 0
    std_other = std1.clone()
    std_other[0, 0] *= 1.1
    assert MF.average_kl(mu1, std1, mu1, std_other).item() > 0


def test_average_kl_sums_dimensions_and_averages_rows():
    # One dimension: p = N(0, 1), q = N(2, 1) gives KL = 2 in both directions.
    zero, one = torch.zeros(1, 1), torch.ones(1, 1)
    assert MF.average_kl(zero, one, zero + 2, one).item() == pytest.approx(2.0)
    # Three identical dimensions sum, identical rows average.
    mu, std = torch.zeros(4, 3), torch.ones(4, 3)
    assert MF.average_kl(mu, std, mu + 2, std).item() == pytest.approx(6.0)


def test_average_kl_is_differentiable():
    mu1, std1, mu2, std2 = (t.requires_grad_() for t in _gaussians(2))
    MF.average_kl(mu1, std1, mu2, std2).backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (mu1, std1, mu2, std2))


def _js_reference(x, y):
    """JS from explicit probabilities and torch.distributions (an independent computation)."""
    p, q = Categorical(logits=x), Categorical(logits=y)
    m = Categorical(probs=0.5 * (p.probs + q.probs))
    return (0.5 * (kl_divergence(p, m) + kl_divergence(q, m))).mean()


def test_js_divergence_matches_reference():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 11, generator=gen), 3 * torch.randn(7, 11, generator=gen)
    assert MF.js_divergence(x, y).item() == pytest.approx(_js_reference(x, y).item(), rel=1e-5)


def test_js_divergence_is_symmetric_and_bounded_by_ln2():
    gen = torch.Generator().manual_seed(1)
    for scale in (0.1, 1.0, 10.0, 1000.0):
        x, y = scale * torch.randn(5, 9, generator=gen), scale * torch.randn(5, 9, generator=gen)
        js = MF.js_divergence(x, y)
        assert js.item() == pytest.approx(MF.js_divergence(y, x).item(), abs=1e-7)
        assert 0 <= js.item() <= math.log(2) + 1e-6
    # Disjoint supports reach the bound: one softmax only, so no flattening by a second one.
    far = torch.tensor([[100.0, -100.0], [-100.0, 100.0]])
    assert MF.js_divergence(far, far.flip(1)).item() == pytest.approx(math.log(2), rel=1e-6)
    flattened = MF.js_divergence(far.softmax(-1), far.flip(1).softmax(-1))
    assert flattened.item() < 0.25 * math.log(2)  # what applying softmax twice would measure


def test_js_divergence_is_zero_iff_same_distributions():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(4, 6, generator=gen)
    assert MF.js_divergence(x, x).item() == pytest.approx(0.0, abs=1e-7)
    # The softmax ignores a per-row shift: same distributions, zero divergence.
    assert MF.js_divergence(x, x + torch.arange(4.0).unsqueeze(1)).item() == pytest.approx(
        0.0, abs=1e-6)
    y = x.clone()
    y[3, 0] += 0.1
    assert MF.js_divergence(x, y).item() > 1e-5


def test_dvib_regularizer_known_values():
    h, phi = torch.zeros(3, 4), torch.full((3, 1), 0.5)
    assert MF.dvib_regularizer(h, phi, a=0.5).item() == pytest.approx(0.0, abs=1e-7)
    h = torch.tensor([[1.0, 2.0], [0.0, 0.0]])  # mean squared row norm 2.5
    phi = torch.tensor([1.0, 0.25])  # phi/a = 2 and 0.5
    scale = ((2 - math.log(2) - 1) + (0.5 - math.log(0.5) - 1)) / 2
    got = MF.dvib_regularizer(h, phi, a=0.5, alpha_0=0.1, beta_0=3.0).item()
    assert got == pytest.approx(0.1 * 2.5 + 3.0 * scale)


def test_dvib_regularizer_is_the_kl_to_the_prior():
    # Theorem 3.1 with alpha_0 = 1 / (2a), beta_0 = d / 2: KL(N(h, phi I) || N(0, a I)).
    gen = torch.Generator().manual_seed(3)
    n, d, a = 6, 5, 0.7
    h, phi = torch.randn(n, d, generator=gen), torch.rand(n, 1, generator=gen) + 0.05
    posterior = Independent(Normal(h, phi.sqrt().expand(n, d)), 1)
    prior = Independent(Normal(torch.zeros(n, d), math.sqrt(a) * torch.ones(n, d)), 1)
    expected = kl_divergence(posterior, prior).mean()
    got = MF.dvib_regularizer(h, phi, a=a, alpha_0=1 / (2 * a), beta_0=d / 2)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_dvib_regularizer_scale_term_is_minimal_at_the_prior_variance():
    h = torch.zeros(1, 3)
    values = [MF.dvib_regularizer(h, torch.tensor([p]), a=0.5).item()
              for p in (0.1, 0.3, 0.5, 0.7, 0.9)]
    assert min(values) == values[2] == pytest.approx(0.0, abs=1e-7)
    assert values[0] > values[1] and values[4] > values[3]
    # A scale that underflowed to zero gives a large but finite penalty.
    assert math.isfinite(MF.dvib_regularizer(h, torch.tensor([0.0])).item())


def test_softmax_kl_matches_torch_and_is_asymmetric():
    torch.manual_seed(0)
    x, y = torch.randn(6, 5) * 2, torch.randn(6, 5)
    reference = torch.nn.functional.kl_div(y.log_softmax(-1), x.log_softmax(-1),
                                           log_target=True, reduction='batchmean')
    assert MF.softmax_kl(x, y).item() == pytest.approx(reference.item(), rel=1e-5)
    assert MF.softmax_kl(x, y).item() != pytest.approx(MF.softmax_kl(y, x).item(), rel=1e-3)
    assert MF.softmax_kl(x, x + 3.0).item() == pytest.approx(0.0, abs=1e-6)  # shift-invariant
    # By convexity KL(P || M) <= KL(P || Q) / 2, so JS <= (KL(P || Q) + KL(Q || P)) / 4.
    assert MF.js_divergence(x, y) <= (MF.softmax_kl(x, y) + MF.softmax_kl(y, x)) / 4


def test_distillation_kl_is_the_softened_kl_times_tau_squared():
    torch.manual_seed(0)
    student, teacher = torch.randn(6, 5) * 2, torch.randn(6, 5) * 3
    tau = 4.0
    reference = torch.nn.functional.kl_div((student / tau).log_softmax(-1),
                                           (teacher / tau).log_softmax(-1),
                                           log_target=True, reduction='batchmean')
    got = MF.distillation_kl(student, teacher, tau)
    assert got.item() == pytest.approx(tau ** 2 * reference.item(), rel=1e-5)
    assert got.item() != pytest.approx(MF.distillation_kl(teacher, student, tau).item(), rel=1e-3)
    assert MF.distillation_kl(teacher + 2.0, teacher, tau).item() == pytest.approx(0.0, abs=1e-6)


def test_distillation_kl_tends_to_centred_logit_matching_at_high_temperature():
    torch.manual_seed(1)
    student, teacher = torch.randn(4, 6), torch.randn(4, 6)
    centred = (teacher - teacher.mean(-1, keepdim=True)) - (student - student.mean(-1,
                                                                                   keepdim=True))
    limit = centred.pow(2).sum(-1).mean() / (2 * 6)
    assert MF.distillation_kl(student.double(), teacher.double(), 1e3).item() == pytest.approx(
        limit.item(), rel=1e-3)
    # The gradient reaches only what is not detached.
    student.requires_grad_(True)
    teacher.requires_grad_(True)
    MF.distillation_kl(student, teacher.detach(), 2.0).backward()
    assert student.grad.abs().sum() > 0 and teacher.grad is None
