"""Base class of the transforms that perturb modality feature matrices, seeded."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.schema import check_modalities, feature_key, modalities, set_features


class FeaturePerturbation(BaseTransform):
    r"""Base class of the robustness transforms that replace modality features
    ``data['item'].x_<m>`` by a perturbed copy (the DVIB paper's robustness protocol).

    The perturbation is drawn from a generator seeded with ``seed`` at every call, modality by
    modality in sorted order, so the train, validation and test views of one dataset (which
    share their item features) receive exactly the same perturbation, and so does every rerun.
    The input is never modified: the transform returns a shallow copy holding new tensors.
    Apply it before transforms that read the features (e.g.
    :class:`~pyg_mmrec.transforms.ModalityKNNGraph`); a kNN graph that the library computed
    from the previous features for a model is dropped (see
    :func:`~pyg_mmrec.schema.set_features`).

    Subclasses implement :meth:`perturb`.

    Args:
        modalities (str or list of str, optional): The modalities to perturb; :obj:`None`
            perturbs every modality with a feature matrix. (default: :obj:`None`)
        seed (int): Seed of the perturbation. (default: :obj:`0`)
    """
    def __init__(self, modalities: str | Sequence[str] | None = None, seed: int = 0):
        if modalities is not None and not modalities:
            raise ConfigError(f"{self.__class__.__name__}: modalities must name at least one "
                              f"modality, or be None for all of them")
        self.modalities = [modalities] if isinstance(modalities, str) else modalities
        self.seed = seed

    def perturb(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Returns the perturbed copy of the feature matrix ``x`` ``[I, d]``."""
        raise NotImplementedError

    def forward(self, data: HeteroData) -> HeteroData:
        name, available = self.__class__.__name__, modalities(data)
        if not available:
            raise DataError(f"{name}: dataset {getattr(data, 'name', '?')!r} has no modality "
                            f"feature matrices (data['item'].x_<modality>) to perturb")
        chosen = available if self.modalities is None else sorted(self.modalities)
        check_modalities(data, chosen, name)
        generator = torch.Generator().manual_seed(self.seed)
        for m in chosen:
            set_features(data, m, self.perturb(data['item'][feature_key(m)], generator))
        return data
