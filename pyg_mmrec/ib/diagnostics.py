"""Diagnostics of what a model's representations carry (against planted truth) and of the
scale of its hidden layer (against which DVIB's noise acts)."""
from __future__ import annotations

import torch
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.data.splits import modalities
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.ib.dvib import DVIB, hidden_tensors
from pyg_mmrec.nn.models import Recommender

MEASURES = {'cka': MF.cka, 'hsic': MF.hsic}


@torch.no_grad()
def feature_dependence(model: Recommender, data: HeteroData, measure: str = 'cka',
                       max_items: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    r"""How much of the task-irrelevant part of each modality's features a trained model's
    per-modality representations :math:`\mathbf{Z}^k` still carry, next to how much of the
    relevant part: the claim of IBMRec's feature-level IB is that the first is lower with
    FIB than without, while the second is kept.

    On the synthetic data (:func:`~pyg_mmrec.data.make_synthetic`), for each modality
    :math:`k` this returns ``{'irrelevant': D(Z^k, data['item'].irrelevant_<k>), 'relevant':
    D(Z^k, data['item'].factors)}``, with :math:`D` the RBF-kernel CKA (``'cka'``, in
    :math:`[0, 1]`, comparable across blocks) or HSIC (``'hsic'``), both with the
    median-heuristic bandwidth (:func:`~pyg_mmrec.functional.hsic`; scale-free, so a model
    cannot look independent by shrinking :math:`\mathbf{Z}^k`). The planted item factors are
    what generated the interactions, so they stand for the relevant content. The model runs
    once in evaluation mode, on at most ``max_items`` items drawn with ``seed`` (the estimators
    cost :math:`O(n^2)`); the global random state is left untouched.

    Args:
        model (Recommender): A trained model (or plug-in) exposing
            :attr:`~pyg_mmrec.nn.models.Encoded.modality`.
        data (HeteroData): A view of the synthetic dataset it was trained on.
        measure (str): ``'cka'`` or ``'hsic'``. (default: :obj:`'cka'`)
        max_items (int): Most items in the estimate. (default: :obj:`2000`)
        seed (int): Seed of the item sample. (default: :obj:`0`)
    """
    if measure not in MEASURES:
        raise ConfigError(f"feature_dependence: measure must be one of {list(MEASURES)}, "
                          f"got {measure!r}")
    missing = [m for m in modalities(data) if f'irrelevant_{m}' not in data['item']]
    if not modalities(data) or missing or 'factors' not in data['item']:
        raise DataError(f"feature_dependence needs the synthetic dataset's planted truth "
                        f"(data['item'].irrelevant_<m> for every modality and "
                        f"data['item'].factors); dataset {getattr(data, 'name', '?')!r} lacks "
                        f"{[f'irrelevant_{m}' for m in missing] or 'them'}")
    was_training = model.training
    model.eval()
    try:
        reps = model.encode(data).modality
    finally:
        model.train(was_training)
    if not reps:
        raise ConfigError(f"feature_dependence: {type(model).__name__} exposes no per-modality "
                          f"representations (Encoded.modality is empty)")
    num_items = data['item'].num_nodes
    gen = torch.Generator().manual_seed(seed)
    items = torch.randperm(num_items, generator=gen)[:max_items]
    fn = MEASURES[measure]
    factors = data['item'].factors[items]
    return {m: {'irrelevant': float(fn(z[items], data['item'][f'irrelevant_{m}'][items])),
                'relevant': float(fn(z[items], factors))}
            for m, z in reps.items()}


def hidden_scale(model: Recommender, data: HeteroData) -> dict[str, float]:
    r"""The scale of a model's hidden layer :math:`\mathbf{H}` (the rows of every tensor it
    passes through :meth:`~pyg_mmrec.nn.models.Recommender.hidden` in one forward pass on
    ``data``): the median, smallest and largest root-mean-square of its rows,
    :math:`\lVert\mathbf{h}_n\rVert_2 / \sqrt{d}`.

    DVIB's noise is absolute: :math:`\sigma` for DVIB\ :sub:`c` and :math:`\phi \in (0, 1)`
    (about 0.5 at initialisation) for DVIB\ :sub:`a`, so its ratio to the signal is the noise
    scale divided by this RMS, which differs by orders of magnitude between backbones (e.g.
    projected raw features against ID embeddings). A noise far below it leaves the perturbed
    path equal to the clean one, and :class:`~pyg_mmrec.ib.DVIB` then trains like its backbone
    (with Adam, :math:`\mathcal{L}_0 + \gamma_0\mathcal{L}_0` is a rescaled
    :math:`\mathcal{L}_0`); ``relative=True`` makes the noise a ratio to this RMS instead.

    Raises:
        ConfigError: If the model exposes no hidden layer.
    """
    _, seen = hidden_tensors(model, data)
    if not seen:
        raise ConfigError(f"hidden_scale: {type(model).__name__} passes no tensor through "
                          f"self.hidden(...)")
    rms = row_rms(seen)
    return {'median': float(rms.median()), 'min': float(rms.min()), 'max': float(rms.max())}


def row_rms(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The root-mean-square of every row of ``tensors`` (their last dimension), in order."""
    return torch.cat([h.reshape(-1, h.size(-1)).pow(2).mean(-1).sqrt() for h in tensors])


@torch.no_grad()
def noise_scale(model: DVIB, data: HeteroData) -> dict[str, float]:
    r"""The noise scales a :class:`~pyg_mmrec.ib.DVIB` model applies to the rows of its
    backbone's hidden layer :math:`\mathbf{H}` on ``data`` (one clean forward pass in
    evaluation mode): the mean, smallest and largest :math:`\phi(\mathbf{h}_n)` for
    DVIB\ :sub:`a`, the constant :math:`\sigma` for DVIB\ :sub:`c`, in the units DVIB uses them
    (absolute, or ratios to each row's RMS with ``relative=True``), and ``'rms'``, the median
    row RMS of :math:`\mathbf{H}` (:func:`hidden_scale`) to read them against. On a trained
    model this shows where the regulariser's pull towards the prior variance :math:`a` and the
    losses' pull towards no noise have balanced.

    Raises:
        ConfigError: If ``model`` is not a DVIB model.
    """
    if not isinstance(model, DVIB):
        raise ConfigError(f"noise_scale: needs a DVIB model, got {type(model).__name__}")
    _, seen = hidden_tensors(model.backbone, data)
    rows = [h.reshape(-1, h.size(-1)) for h in seen]
    if model.variant == 'constant':
        scales = torch.full((sum(r.size(0) for r in rows),), float(model.sigma))
    else:
        scales = torch.cat([model.noise_scale[str(r.size(-1))](r).reshape(-1) for r in rows])
    return {'mean': float(scales.mean()), 'min': float(scales.min()),
            'max': float(scales.max()), 'rms': float(row_rms(seen).median())}
