from __future__ import annotations

import torch
from torch import Tensor


class ModalityAttention(torch.nn.Module):
    r"""Item-wise attention fusion of per-modality item representations, from the `"Latent
    Structure Mining with Contrastive Modality Fusion for Multimedia Recommendation"
    <https://arxiv.org/abs/2111.00678>`_ paper (MICRO): a shared query scores each modality's
    representation of an item, and the item's fused representation is the softmax-weighted
    sum over its modalities,

    .. math::
        \alpha^m_i = \mathbf{q}^\top \tanh(\mathbf{W} \mathbf{h}^m_i + \mathbf{b}), \qquad
        \beta^m_i = \frac{\exp(\alpha^m_i)}{\sum_{m'} \exp(\alpha^{m'}_i)}, \qquad
        \mathbf{h}_i = \sum_m \beta^m_i \mathbf{h}^m_i .

    The layers keep PyTorch's default initialisation, as in the authors' code.

    Args:
        channels (int): Size of every :math:`\mathbf{h}^m_i`.
    """
    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.query = torch.nn.Sequential(torch.nn.Linear(channels, channels), torch.nn.Tanh(),
                                         torch.nn.Linear(channels, 1, bias=False))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.query:
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()

    def weights(self, reps: Tensor) -> Tensor:
        r"""The attention weights :math:`\beta^m_i` ``[N, M]`` of the representations
        ``reps`` ``[M, N, d]`` (one row per item, summing to one)."""
        return torch.softmax(self.query(reps).squeeze(-1).t(), dim=1)

    def forward(self, reps: Tensor) -> Tensor:
        r"""The fused representations :math:`\mathbf{h}_i` ``[N, d]`` of ``reps``
        ``[M, N, d]``."""
        return torch.einsum('nm,mnd->nd', self.weights(reps), reps)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.channels})'
