"""Per-dimension masks on modality features (deploying a learned feature mask, e.g. InvRL's)."""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.schema import check_modalities, feature_key, set_features


class MaskFeatures(BaseTransform):
    r"""Multiplies the features of each named modality by a mask over their dimensions,
    :math:`\mathbf{M}^k \leftarrow \mathbf{M}^k \operatorname{diag}(\mathbf{m}^k)`, so that
    any model that reads the features trains on the masked ones. This is how the
    `"Invariant Representation Learning for Multimedia Recommendation"
    <https://openreview.net/forum?id=LADA7YpuY8>`_ pipeline (InvRL) deploys its learned mask
    on a recommender, and how the IBMRec paper runs InvRL on LATTICE: learn the mask with
    :class:`~pyg_mmrec.nn.models.InvRL`, then train the backbone from scratch on its invariant
    features :math:`\mathbf{m}^k \odot \mathbf{M}^k`
    (:meth:`InvRL.feature_masks() <pyg_mmrec.nn.models.InvRL.feature_masks>`):

    .. code-block:: python

        invrl, _ = load_model('runs/invrl/checkpoint.pt', splits)
        masked = DataSplits(*map(MaskFeatures(invrl.feature_masks()), splits))
        run('lattice', masked, {'knn_k': 20})

    A mask of soft values is only a rescaling of the feature dimensions, which a learned
    linear projection can absorb; it changes a model through the dimensions it closes (zero
    entries) and through what is computed from the raw features themselves (kNN graphs, whose
    cosine neighbours change with a non-uniform mask). A kNN graph that the library computed
    from the previous features is dropped, to be recomputed from the masked ones (see
    :func:`~pyg_mmrec.schema.set_features`); a graph the dataset ships stays. The input is not
    modified.

    Args:
        masks (dict): Modality name to its mask ``[d_k]`` (finite values), one entry per
            dimension of that modality's features; modalities not named stay as they are.
    """
    def __init__(self, masks: Mapping[str, Tensor]):
        if not masks:
            raise ConfigError("MaskFeatures: masks must name at least one modality")
        self.masks = {}
        for m, mask in masks.items():
            mask = torch.as_tensor(mask, dtype=torch.float)
            if mask.dim() != 1 or not torch.isfinite(mask).all():
                raise ConfigError(f"MaskFeatures: the mask of modality {m!r} must be a finite "
                                  f"vector, one value per feature dimension; got shape "
                                  f"{tuple(mask.shape)}")
            self.masks[m] = mask.detach()

    def forward(self, data: HeteroData) -> HeteroData:
        check_modalities(data, sorted(self.masks), self.__class__.__name__)
        for m, mask in sorted(self.masks.items()):
            x = data['item'][feature_key(m)]
            if x.size(-1) != mask.numel():
                raise DataError(f"MaskFeatures: modality {m!r} has {x.size(-1)} feature "
                                f"dimensions, its mask {mask.numel()}")
            set_features(data, m, x * mask.to(x.device, x.dtype))
        return data

    def __repr__(self) -> str:
        dims = ', '.join(f'{m}: {mask.numel()}' for m, mask in sorted(self.masks.items()))
        return f'{self.__class__.__name__}({{{dims}}})'
