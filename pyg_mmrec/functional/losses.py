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
