r"""Divergences between distributions: pure functions of tensors, shared by the IB plug-ins."""
from __future__ import annotations

import math

import torch
from torch import Tensor


def average_kl(mu1: Tensor, std1: Tensor, mu2: Tensor, std2: Tensor) -> Tensor:
    r"""The average (symmetric) Kullback-Leibler divergence between two diagonal Gaussians,
    :math:`D_\text{AKL}` of Eq. (11) in the `"Multimodal Recommendation via Superfluous
    Semantics Discarding and Interaction Preserving" (MSI)` paper, in closed form:

    .. math::
        D_\text{AKL}(p \,\|\, q) = \frac{1}{2}\left[D_\text{KL}(p \,\|\, q)
        + D_\text{KL}(q \,\|\, p)\right]
        = \frac{1}{4} \sum_{k} \left[\frac{\sigma_{1,k}^2 + (\mu_{1,k} - \mu_{2,k})^2}
        {\sigma_{2,k}^2} + \frac{\sigma_{2,k}^2 + (\mu_{1,k} - \mu_{2,k})^2}{\sigma_{1,k}^2}
        - 2\right]

    with :math:`p = \mathcal{N}(\boldsymbol{\mu}_1, \mathrm{diag}(\boldsymbol{\sigma}_1^2))`
    and :math:`q = \mathcal{N}(\boldsymbol{\mu}_2, \mathrm{diag}(\boldsymbol{\sigma}_2^2))`
    (the log-determinant terms of the two directions cancel). The divergence is summed over the
    last (feature) dimension and averaged over all other dimensions (the rows, e.g. items).
    It is non-negative and zero if and only if both Gaussians are equal.

    Args:
        mu1 (Tensor): Means of :math:`p`, shape ``[N, d]``.
        std1 (Tensor): Standard deviations of :math:`p` (positive), shape ``[N, d]``.
        mu2 (Tensor): Means of :math:`q`, shape ``[N, d]``.
        std2 (Tensor): Standard deviations of :math:`q` (positive), shape ``[N, d]``.
    """
    var1, var2 = std1.pow(2), std2.pow(2)
    sq_diff = (mu1 - mu2).pow(2)
    akl = 0.25 * ((var1 + sq_diff) / var2 + (var2 + sq_diff) / var1 - 2)
    return akl.sum(dim=-1).mean()


def js_divergence(x: Tensor, y: Tensor) -> Tensor:
    r"""The Jensen-Shannon divergence between the row-wise softmax distributions of two score
    or embedding matrices, averaged over the rows:

    .. math::
        \mathrm{JS}(\mathbf{X} \,\|\, \mathbf{Y}) = \frac{1}{N} \sum_{n=1}^{N}
        \frac{1}{2} D_\text{KL}(\mathbf{p}_n \,\|\, \mathbf{m}_n)
        + \frac{1}{2} D_\text{KL}(\mathbf{q}_n \,\|\, \mathbf{m}_n), \qquad
        \mathbf{p}_n = \mathrm{softmax}(\mathbf{x}_n), \;
        \mathbf{q}_n = \mathrm{softmax}(\mathbf{y}_n), \;
        \mathbf{m}_n = \tfrac{1}{2}(\mathbf{p}_n + \mathbf{q}_n),

    in nats. It is symmetric, lies in :math:`[0, \ln 2]`, and is zero if and only if every
    pair of rows has the same softmax distribution (rows that differ by a constant shift).
    Each input goes through the softmax exactly once, in log space (the mixture as a
    log-sum-exp), so that no probability underflows to a :math:`0 \cdot \log 0`.

    Args:
        x (Tensor): Logits (scores or embeddings) ``[N, C]``; the softmax runs over the last
            dimension.
        y (Tensor): Logits of the same shape.
    """
    log_p, log_q = x.log_softmax(dim=-1), y.log_softmax(dim=-1)
    log_m = torch.logaddexp(log_p, log_q) - math.log(2)
    kl_pm = (log_p.exp() * (log_p - log_m)).sum(dim=-1)
    kl_qm = (log_q.exp() * (log_q - log_m)).sum(dim=-1)
    return (0.5 * (kl_pm + kl_qm)).mean()


def softmax_kl(x: Tensor, y: Tensor) -> Tensor:
    r"""The Kullback-Leibler divergence from the row-wise softmax distribution of ``x`` to
    that of ``y``, averaged over the rows:

    .. math::
        \mathrm{KL}(\mathbf{X} \,\|\, \mathbf{Y}) = \frac{1}{N} \sum_{n=1}^{N}
        \sum_c p_{nc} \log \frac{p_{nc}}{q_{nc}}, \qquad
        \mathbf{p}_n = \mathrm{softmax}(\mathbf{x}_n), \;
        \mathbf{q}_n = \mathrm{softmax}(\mathbf{y}_n),

    in nats: the asymmetric alternative to :func:`js_divergence` (DVIB's Table 6 compares
    both directions with it). Computed in log space.

    Args:
        x (Tensor): Logits ``[N, C]``; the softmax runs over the last dimension.
        y (Tensor): Logits of the same shape.
    """
    log_p, log_q = x.log_softmax(dim=-1), y.log_softmax(dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1).mean()


def distillation_kl(student: Tensor, teacher: Tensor, temperature: float = 1.0) -> Tensor:
    r"""The response-based (soft-label) distillation loss of `"Distilling the Knowledge in a
    Neural Network" <https://arxiv.org/abs/1503.02531>`_ (Hinton et al., 2015): the
    Kullback-Leibler divergence from the teacher's temperature-softened class distribution to
    the student's, scaled by :math:`\tau^2`, averaged over the rows:

    .. math::
        \mathcal{L}_\text{KD} = \frac{\tau^2}{N} \sum_{n=1}^{N} \sum_c p^T_{nc}
        \log \frac{p^T_{nc}}{p^S_{nc}}, \qquad
        \mathbf{p}^T_n = \mathrm{softmax}(\mathbf{t}_n / \tau), \;
        \mathbf{p}^S_n = \mathrm{softmax}(\mathbf{s}_n / \tau),

    i.e. :math:`\tau^2\,` :func:`softmax_kl` of the softened logits. The factor
    :math:`\tau^2` keeps the gradient's scale independent of :math:`\tau`: as :math:`\tau`
    grows the loss tends to :math:`\frac{1}{2C} \sum_c (\tilde t_{nc} - \tilde s_{nc})^2`
    averaged over the rows, the squared distance of the row-centred logits
    :math:`\tilde{\mathbf{t}}_n, \tilde{\mathbf{s}}_n` over :math:`C` classes. It is zero
    if and only if every pair of rows has the same softened distribution. Gradients flow into
    both arguments: to move the student only, pass ``teacher.detach()``.

    Args:
        student (Tensor): The student's logits :math:`\mathbf{s}` ``[N, C]``.
        teacher (Tensor): The teacher's logits :math:`\mathbf{t}` of the same shape.
        temperature (float): The temperature :math:`\tau > 0`. (default: :obj:`1.0`)
    """
    return temperature ** 2 * softmax_kl(teacher / temperature, student / temperature)


def dvib_regularizer(h: Tensor, phi: Tensor, a: float = 0.5, alpha_0: float = 1.0,
                     beta_0: float = 1.0) -> Tensor:
    r"""The regulariser of adaptive-noise DVIB (Eq. 13 of the `"DVIB: Towards Robust
    Multimodal Recommender Systems via Variational Information Bottleneck Distillation"`
    paper) on a hidden layer :math:`\mathbf{H}` perturbed by
    :math:`\delta\mathbf{h}_n = \phi_n \boldsymbol{\epsilon}`, one noise scale per row:

    .. math::
        \mathcal{L}_r = \frac{1}{N} \sum_{n=1}^{N} \alpha_0 \|\mathbf{h}_n\|_2^2
        + \beta_0 \left(\frac{\phi_n}{a} - \log \frac{\phi_n}{a} - 1\right)

    (the plug-in multiplies it by :math:`\gamma_r`). By Theorem 3.1 it is a Kullback-Leibler
    divergence to the prior :math:`\mathcal{N}(\mathbf{0}, a\mathbf{I})`: for a
    :math:`d`-dimensional :math:`\mathbf{H}`, with :math:`\alpha_0 = 1 / (2a)` and
    :math:`\beta_0 = d / 2` it equals exactly

    .. math::
        \frac{1}{N} \sum_{n=1}^{N} D_\text{KL}\big(\mathcal{N}(\mathbf{h}_n, \phi_n \mathbf{I})
        \,\big\|\, \mathcal{N}(\mathbf{0}, a \mathbf{I})\big),

    and other constants weigh its two parts differently (the paper's theorem drops these
    factors). The second part is minimal, and zero, at :math:`\phi_n = a`.

    Args:
        h (Tensor): The hidden layer :math:`\mathbf{H}` ``[N, d]``.
        phi (Tensor): The positive noise scales :math:`\phi_n`, shape ``[N]`` or ``[N, 1]``.
        a (float): The prior variance :math:`a`. (default: :obj:`0.5`)
        alpha_0 (float): Weight of the norm part :math:`\alpha_0`. (default: :obj:`1.0`)
        beta_0 (float): Weight of the scale part :math:`\beta_0`. (default: :obj:`1.0`)
    """
    ratio = phi.reshape(-1) / a
    # A sigmoid scale may underflow to 0 in float32; clamping keeps the log finite.
    scale = ratio - torch.log(ratio.clamp_min(torch.finfo(ratio.dtype).tiny)) - 1
    return alpha_0 * h.pow(2).sum(dim=-1).mean() + beta_0 * scale.mean()
