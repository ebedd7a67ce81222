from __future__ import annotations

import torch
from torch import Tensor


class ModalityEncoder(torch.nn.Module):
    r"""Projects each modality's raw item features :math:`\mathbf{M}^k` to a representation
    :math:`\mathbf{Z}^k` of a common size, and fuses the modalities by summation:

    .. math::
        \mathbf{Z}^k = \mathbf{M}^k \mathbf{W}_k + \mathbf{b}_k, \qquad
        \mathbf{H} = \sum_k \mathbf{Z}^k .

    The sum of per-modality projections equals one linear projection of the concatenated
    features (VBPR's :math:`\mathbf{E} [\mathbf{f}^1 \| \mathbf{f}^2]`), while keeping each
    :math:`\mathbf{Z}^k` separate for the plug-ins that need it (IBMRec's feature-level IB
    measures :math:`\mathrm{HSIC}(\mathbf{Z}^k, \mathbf{M}^k)`).

    Args:
        feature_dims (dict): Modality name to its feature dimension.
        out_dim (int): Size of every :math:`\mathbf{Z}^k`.
    """
    def __init__(self, feature_dims: dict[str, int], out_dim: int):
        super().__init__()
        self.feature_dims = dict(feature_dims)
        self.out_dim = out_dim
        self.proj = torch.nn.ModuleDict({m: torch.nn.Linear(d, out_dim)
                                         for m, d in self.feature_dims.items()})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.proj.values():
            torch.nn.init.xavier_uniform_(lin.weight)
            torch.nn.init.zeros_(lin.bias)

    def forward(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        """Returns :math:`\\mathbf{Z}^k` for every modality of ``features``."""
        return {m: lin(features[m]) for m, lin in self.proj.items()}

    @staticmethod
    def fuse(reps: dict[str, Tensor]) -> Tensor:
        """The fused hidden layer :math:`\\mathbf{H} = \\sum_k \\mathbf{Z}^k`."""
        return torch.stack(list(reps.values())).sum(dim=0)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.feature_dims}, out_dim={self.out_dim})'
