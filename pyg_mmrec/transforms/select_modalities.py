"""Keep some modalities of a dataset and drop the others (single-modality ablations)."""
from __future__ import annotations

from collections.abc import Sequence

from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.schema import feature_key, graph_modalities, graph_type, modalities


class SelectModalities(BaseTransform):
    r"""Keeps the modalities ``keep`` of a dataset and drops every other one: its feature
    matrix :math:`\mathbf{M}^k` and its item-item graph (shipped or computed). This is the
    single-modality ablation of the `"Less is More: Information Bottleneck Denoised Multimedia
    Recommendation" <https://arxiv.org/abs/2501.12175>`_ paper's Table 5, and a way to train
    any model on a subset of a dataset's content. Apply it to every view of a dataset
    (``DataSplits(*map(SelectModalities(['image']), splits))``) before building a model, so
    that models size themselves to the modalities left.

    Args:
        keep (str or list of str): The modalities to keep, e.g. ``'image'`` or
            ``['image', 'text']``.

    Raises:
        ConfigError: If ``keep`` is empty or names a modality the dataset lacks (the error
            lists those it has).
    """
    def __init__(self, keep: str | Sequence[str]):
        self.keep = (keep,) if isinstance(keep, str) else tuple(keep)
        if not self.keep or not all(isinstance(m, str) and m for m in self.keep):
            raise ConfigError(f"SelectModalities: keep names one modality or more, got {keep!r}")

    def forward(self, data: HeteroData) -> HeteroData:
        # A modality is present with its features, a graph the dataset ships (e.g. MMRec's
        # graph-only Amazon folders), or both.
        present = sorted(set(modalities(data)) | set(graph_modalities(data)))
        missing = [m for m in self.keep if m not in present]
        if missing:
            raise ConfigError(f"SelectModalities: the dataset has no modality {missing[0]!r}; "
                              f"it has {present}")
        for modality in set(present) - set(self.keep):
            if feature_key(modality) in data['item']:
                del data['item'][feature_key(modality)]
            if graph_type(modality) in data.edge_types:
                del data[graph_type(modality)]
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({list(self.keep)})'
