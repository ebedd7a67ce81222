r"""Loss functions: pure functions of tensors, shared by every model and IB plug-in."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def bpr_loss(pos_score: Tensor, neg_score: Tensor) -> Tensor:
    r"""The Bayesian Personalised Ranking loss from the `"BPR: Bayesian Personalized Ranking
    from Implicit Feedback" <https://arxiv.org/abs/1205.2618>`_ paper, averaged over the batch:

    .. math::
        \mathcal{L}_\text{BPR} = -\frac{1}{B} \sum_{(u,i,j)} \ln \sigma(\hat y_{ui} - \hat y_{uj})

    computed as :math:`\mathrm{softplus}(\hat y_{uj} - \hat y_{ui})` for numerical stability.

    Args:
        pos_score (Tensor): Scores :math:`\hat y_{ui}` of the positive items, shape ``[B]``.
        neg_score (Tensor): Scores :math:`\hat y_{uj}` of the negative items, shape ``[B]``.
    """
    return F.softplus(neg_score - pos_score).mean()


def l2_reg(*tensors: Tensor) -> Tensor:
    r"""The L2 regulariser on the embeddings of a batch, as in LightGCN:

    .. math::
        \mathcal{L}_\text{L2} = \frac{1}{2B} \sum_{\mathbf{E}} \|\mathbf{E}\|_F^2

    where :math:`B` is the number of rows of the first tensor (the batch size) and the sum runs
    over the given tensors (typically the layer-0 embeddings of users, positive and negative
    items).

    Args:
        *tensors (Tensor): Embedding batches whose first dimension is the batch.
    """
    return sum(t.pow(2).sum() for t in tensors) / (2 * tensors[0].size(0))


def cosine_loss(x: Tensor, y: Tensor, eps: float = 1e-8) -> Tensor:
    r"""The negative-free alignment loss of BYOL-style bootstrapping, as used by the
    `"Bootstrap Latent Representations for Multi-modal Recommendation"
    <https://arxiv.org/abs/2207.05969>`_ (BM3) and `"SelfCF: A Simple Framework for
    Self-supervised Collaborative Filtering" <https://arxiv.org/abs/2107.03019>`_ papers:
    one minus the cosine similarity of paired rows, averaged over the rows,

    .. math::
        C(\mathbf{X}, \mathbf{Y}) = \frac{1}{N} \sum_{n=1}^{N} \left(1 -
        \frac{\mathbf{x}_n^\top \mathbf{y}_n}{\|\mathbf{x}_n\|_2 \, \|\mathbf{y}_n\|_2}\right)
        \in [0, 2],

    which is :math:`0` for parallel rows, :math:`1` for orthogonal ones and :math:`2` for
    opposite ones, and does not depend on the rows' lengths. Gradients flow into both
    arguments: the stop-gradient of a target view is the caller's job (pass ``y.detach()``).

    Args:
        x (Tensor): Rows :math:`\mathbf{x}_n`, shape ``[N, d]`` (typically the online
            prediction).
        y (Tensor): Rows :math:`\mathbf{y}_n`, shape ``[N, d]`` (typically the target view).
        eps (float): Lower bound on the norms, which keeps an all-zero row finite.
            (default: :obj:`1e-8`)
    """
    return 1 - F.cosine_similarity(x, y, dim=-1, eps=eps).mean()


def norm_reg(*tensors: Tensor) -> Tensor:
    r"""The embedding-norm regulariser of MMRec's ``EmbLoss``, which BM3's public code applies
    to the full user and item representations (and MSI's Eq. (23) to its four graph outputs):

    .. math::
        \mathcal{L}_\text{reg} = \frac{1}{N} \sum_{\mathbf{E}} \|\mathbf{E}\|_F

    with the Frobenius norms *not* squared, so the gradient :math:`\mathbf{E} / (N
    \|\mathbf{E}\|_F)` shrinks every matrix at a rate independent of its scale. :math:`N` is
    the number of rows of the *last* tensor, as in ``EmbLoss`` (for BM3, the number of items).

    Args:
        *tensors (Tensor): The matrices to regularise.
    """
    return sum(t.norm() for t in tensors) / tensors[-1].size(0)


def gradient_variance(grads: Tensor) -> Tensor:
    r"""The invariance penalty of the `"Heterogeneous Risk Minimization"
    <https://arxiv.org/abs/2105.03818>`_ paper's backend (HRM, ICML 2021), which InvRL
    (`"Invariant Representation Learning for Multimedia Recommendation"
    <https://openreview.net/forum?id=LADA7YpuY8>`_) applies to recommendation: the trace of the
    variance, across the environments :math:`e = 1, \dots, E`, of the gradients
    :math:`\mathbf{g}_e = \nabla_{\boldsymbol{\theta}} \mathcal{R}^e` of the per-environment
    risks with respect to the same parameters,

    .. math::
        \mathcal{P} = \operatorname{tr} \operatorname{Var}_e(\mathbf{g}_e)
        = \frac{1}{E} \sum_{e=1}^{E} \|\mathbf{g}_e - \bar{\mathbf{g}}\|_2^2, \qquad
        \bar{\mathbf{g}} = \frac{1}{E} \sum_{e=1}^{E} \mathbf{g}_e,

    which is zero exactly when every environment's risk is stationary in the same direction
    (the optimum of :math:`\boldsymbol{\theta}` is the same in all of them, the invariance
    condition of IRM) and zero for a single environment. Pass gradients taken with
    ``create_graph=True`` for the penalty to be differentiable.

    Args:
        grads (Tensor): The flattened per-environment gradients :math:`\mathbf{g}_e`, shape
            ``[E, P]``.
    """
    return (grads - grads.mean(dim=0)).pow(2).sum(dim=1).mean()
