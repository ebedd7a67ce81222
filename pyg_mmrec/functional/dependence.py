r"""Dependence measures between paired samples: pure functions of tensors (the mutual
information bounds and proxies that the IB plug-ins optimise)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from pyg_mmrec.errors import ConfigError, DataError


def _check_pairs(name: str, x: Tensor, y: Tensor, min_rows: int) -> None:
    if x.dim() != 2 or y.dim() != 2:
        raise DataError(f"{name} expects two 2-D tensors [n, d], got shapes "
                        f"{tuple(x.shape)} and {tuple(y.shape)}")
    if x.size(0) != y.size(0):
        raise DataError(f"{name} expects paired rows, got {x.size(0)} rows in x and "
                        f"{y.size(0)} in y")
    if x.size(0) < min_rows:
        raise DataError(f"{name} needs at least {min_rows} paired rows, got {x.size(0)}")


def info_nce(x: Tensor, y: Tensor, temperature: float = 0.2, symmetric: bool = False,
             intra_view: bool = False) -> Tensor:
    r"""The InfoNCE loss from the `"Representation Learning with Contrastive Predictive
    Coding" <https://arxiv.org/abs/1807.03748>`_ paper over in-batch pairs: row :math:`i` of
    ``x`` is the positive of row :math:`i` of ``y``, the other rows of ``y`` are its
    negatives, and the critic is the cosine similarity over a temperature :math:`\tau`:

    .. math::
        \mathcal{L}_\text{NCE}(\mathbf{X}, \mathbf{Y}) = -\frac{1}{n} \sum_{i=1}^{n}
        \log \frac{\exp(\cos(\mathbf{x}_i, \mathbf{y}_i) / \tau)}
        {\sum_{j=1}^{n} \exp(\cos(\mathbf{x}_i, \mathbf{y}_j) / \tau)} .

    This one-sided form (each ``x`` row against all ``y`` rows) is Eq. (31) of IBMRec, with
    users' multimedia embeddings as ``x`` and their positive items' as ``y``; with
    ``symmetric=True`` the loss is the mean of :math:`\mathcal{L}_\text{NCE}(\mathbf{X},
    \mathbf{Y})` and :math:`\mathcal{L}_\text{NCE}(\mathbf{Y}, \mathbf{X})` (as in SimCLR-style
    two-view objectives). :math:`\log n - \mathcal{L}_\text{NCE}` is a lower bound on the mutual
    information of the pairs: about zero for independent rows, up to :math:`\log n`.
    Repeated rows count as negatives of each other, as is usual for in-batch negatives.

    With ``intra_view=True`` the other anchors are negatives too, as in the `"Deep Graph
    Contrastive Representation Learning" <https://arxiv.org/abs/2006.04131>`_ paper (GRACE)
    and in MICRO's modality-fusion loss:

    .. math::
        -\frac{1}{n} \sum_{i=1}^{n} \log
        \frac{e^{\cos(\mathbf{x}_i, \mathbf{y}_i) / \tau}}
        {\sum_{j=1}^{n} e^{\cos(\mathbf{x}_i, \mathbf{y}_j) / \tau}
        + \sum_{j \ne i} e^{\cos(\mathbf{x}_i, \mathbf{x}_j) / \tau}}

    (with ``symmetric=True``, the reverse direction takes the other ``y`` rows).

    Args:
        x (Tensor): Anchors ``[n, d]``.
        y (Tensor): Their positives ``[n, d]`` (row-aligned with ``x``).
        temperature (float): Temperature :math:`\tau > 0`. (default: :obj:`0.2`)
        symmetric (bool): Average the loss over both directions. (default: :obj:`False`)
        intra_view (bool): Count the other anchors as negatives as well.
            (default: :obj:`False`)
    """
    _check_pairs('info_nce', x, y, min_rows=1)
    if not temperature > 0:
        raise ConfigError(f"info_nce: temperature must be positive, got {temperature!r}")
    x, y = F.normalize(x, dim=1), F.normalize(y, dim=1)
    # The temperature scales the [n, d] factor, not the [n, n] product: one division of n·d
    # entries instead of n² forward and backward (a quarter of the loss's time at n = 2048).
    logits = (x / temperature) @ y.t()
    target = torch.arange(x.size(0), device=x.device)
    if intra_view:
        def within(z: Tensor) -> Tensor:  # an anchor is not its own negative
            return ((z / temperature) @ z.t()).fill_diagonal_(float('-inf'))
        loss = F.cross_entropy(torch.cat([logits, within(x)], dim=1), target)
        if symmetric:
            reverse = F.cross_entropy(torch.cat([logits.t(), within(y)], dim=1), target)
            loss = (loss + reverse) / 2
        return loss
    loss = F.cross_entropy(logits, target)
    if symmetric:
        loss = (loss + F.cross_entropy(logits.t(), target)) / 2
    return loss


def info_nce_candidates(x: Tensor, candidates: Tensor, positive: Tensor,
                        temperature: float = 0.2, weight: Tensor | None = None) -> Tensor:
    r"""InfoNCE of anchors against a whole table of candidates: row :math:`i` of ``x``
    has the candidate ``positive[i]`` as its positive and every other row of ``candidates``
    as a negative (the critic is :func:`info_nce`'s cosine over :math:`\tau`):

    .. math::
        -\frac{1}{n} \sum_{i=1}^{n} \log
        \frac{\exp(\cos(\mathbf{x}_i, \mathbf{c}_{p_i}) / \tau)}
        {\sum_{j=1}^{m} \exp(\cos(\mathbf{x}_i, \mathbf{c}_j) / \tau)} .

    This is the contrastive loss of the `"Self-supervised Graph Learning for Recommendation"
    <https://arxiv.org/abs/2010.10783>`_ paper (SGL), whose anchors are a batch's nodes and
    whose negatives are all nodes of the same type in the other view. With
    ``candidates = y`` and ``positive = arange(n)`` it equals :func:`info_nce`. With
    ``weight``, the mean over anchors is weighted: an anchor that stands for :math:`w` equal
    rows (a node in :math:`w` interactions of a batch) is computed once.

    Args:
        x (Tensor): Anchors ``[n, d]``.
        candidates (Tensor): Candidates ``[m, d]``.
        positive (Tensor): Row of ``candidates`` that is each anchor's positive ``[n]``.
        temperature (float): Temperature :math:`\tau > 0`. (default: :obj:`0.2`)
        weight (Tensor, optional): Weight of each anchor ``[n]``. (default: :obj:`None`)
    """
    if x.dim() != 2 or candidates.dim() != 2 or x.size(1) != candidates.size(1):
        raise DataError(f"info_nce_candidates expects anchors [n, d] and candidates [m, d], "
                        f"got shapes {tuple(x.shape)} and {tuple(candidates.shape)}")
    for name, value in (('positive', positive), ('weight', weight)):
        if value is not None and value.shape != (x.size(0),):
            raise DataError(f"info_nce_candidates expects one {name} per anchor, got "
                            f"{tuple(value.shape)} for {x.size(0)} anchors")
    if not temperature > 0:
        raise ConfigError(f"info_nce_candidates: temperature must be positive, got "
                          f"{temperature!r}")
    x, candidates = F.normalize(x, dim=1), F.normalize(candidates, dim=1)
    logits = (x / temperature) @ candidates.t()
    if weight is None:
        return F.cross_entropy(logits, positive)
    return (F.cross_entropy(logits, positive, reduction='none') * weight).sum() / weight.sum()


def _squared_distances(x: Tensor) -> Tensor:
    sq = x.pow(2).sum(1)
    # Clamped: the expansion can go slightly negative by rounding.
    return (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * x @ x.t()).clamp_min(0)


def _median_off_diagonal(dist: Tensor) -> Tensor:
    i, j = torch.triu_indices(dist.size(0), dist.size(0), offset=1, device=dist.device)
    median = dist[i, j].median()
    return torch.where(median > 0, median, torch.ones_like(median))


def median_sigma2(x: Tensor) -> Tensor:
    r"""The median heuristic bandwidth of `Gretton et al. (2005)
    <https://doi.org/10.1007/11564089_7>`_ for the RBF kernel: :math:`\sigma` is the median
    distance between distinct rows, so that :math:`\sigma^2 = \mathrm{median}_{i<j}
    \|\mathbf{x}_i - \mathbf{x}_j\|^2` (detached: a bandwidth, not something to optimise).
    A median of zero (all rows equal) gives :math:`\sigma^2 = 1`.

    Args:
        x (Tensor): Samples ``[n, d]`` with :math:`n \ge 2`.
    """
    return _median_off_diagonal(_squared_distances(x.detach()))


def _rbf(x: Tensor, sigma2: float | None, normalize: bool) -> Tensor:
    if normalize:
        x = F.normalize(x, dim=1)
    dist = _squared_distances(x)
    bandwidth = _median_off_diagonal(dist.detach()) if sigma2 is None else sigma2
    return torch.exp(-dist / (2 * bandwidth))


def _centered_inner(k: Tensor, k2: Tensor) -> Tensor:
    r""":math:`\mathrm{tr}(\mathbf{K}\mathbf{H}\mathbf{L}\mathbf{H}) = \langle \mathbf{H}
    \mathbf{K} \mathbf{H}, \mathbf{L} \rangle_F`, with :math:`\mathbf{H}\mathbf{K}\mathbf{H}`
    the double-centred :math:`\mathbf{K}` (row, column and grand means): :math:`O(n^2)`, the
    centring matrix is never built."""
    centred = k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()
    return (centred * k2).sum()


def _check_bandwidth(name: str, sigma2: float | None) -> None:
    if sigma2 is not None and not (isinstance(sigma2, int | float) and sigma2 > 0):
        raise ConfigError(f"{name}: sigma2 must be a positive number or None (median "
                          f"heuristic), got {sigma2!r}")


def hsic(x: Tensor, y: Tensor, sigma2: float | None = None, normalize: bool = False
         ) -> Tensor:
    r"""The biased empirical Hilbert-Schmidt Independence Criterion from the `"Measuring
    Statistical Dependence with Hilbert-Schmidt Norms" <https://doi.org/10.1007/11564089_7>`_
    paper (Eq. (2) of IBMRec), with RBF kernels:

    .. math::
        \widehat{\mathrm{HSIC}}(\mathbf{X}, \mathbf{Y}) = (n-1)^{-2}\,
        \mathrm{tr}(\mathbf{K}_X \mathbf{H} \mathbf{K}_Y \mathbf{H}), \qquad
        (\mathbf{K}_X)_{ij} = \exp\Big(-\frac{\|\mathbf{x}_i - \mathbf{x}_j\|^2}
        {2\sigma^2}\Big),

    :math:`\mathbf{H} = \mathbf{I} - \frac{1}{n}\mathbf{1}\mathbf{1}^\top`, computed in
    :math:`O(n^2 (d_x + d_y))` time and :math:`O(n^2)` memory without building
    :math:`\mathbf{H}`. It is non-negative, zero in expectation (up to :math:`O(1/n)`) for
    independent rows and larger the more dependent they are.

    **Bandwidth.** By default (``sigma2=None``) each kernel takes the median heuristic
    (:func:`median_sigma2`) of its own input. That is the default because a fixed
    :math:`\sigma^2` such as IBMRec's 0.15–0.25 makes the kernel of raw or high-dimensional
    inputs (squared distances far above :math:`\sigma^2`) close to the identity, and HSIC then
    measures almost nothing; and because the median heuristic is scale-invariant, so that
    a model minimising HSIC cannot do so by shrinking its representation. A fixed ``sigma2``
    (the paper's parametrisation) is available, best together with ``normalize=True``
    (rows scaled to unit norm before the kernel, as the IBMRec authors' related code does),
    which bounds squared distances by 4; normalisation alone does not cure the degenerate
    kernel in high dimension.

    Args:
        x (Tensor): Samples of :math:`X`, ``[n, d_x]`` with :math:`n \ge 2`.
        y (Tensor): Paired samples of :math:`Y`, ``[n, d_y]``.
        sigma2 (float, optional): RBF bandwidth :math:`\sigma^2` of both kernels;
            :obj:`None` takes the median heuristic per input. (default: :obj:`None`)
        normalize (bool): Scale rows to unit L2 norm before the kernels.
            (default: :obj:`False`)
    """
    _check_pairs('hsic', x, y, min_rows=2)
    _check_bandwidth('hsic', sigma2)
    n = x.size(0)
    return _centered_inner(_rbf(x, sigma2, normalize), _rbf(y, sigma2, normalize)) / (n - 1) ** 2


def cka(x: Tensor, y: Tensor, sigma2: float | None = None, normalize: bool = False) -> Tensor:
    r"""Centred kernel alignment, the normalised HSIC from the `"Similarity of Neural Network
    Representations Revisited" <https://arxiv.org/abs/1905.00414>`_ paper, with the RBF kernels
    of :func:`hsic`:

    .. math::
        \mathrm{CKA}(\mathbf{X}, \mathbf{Y}) =
        \frac{\widehat{\mathrm{HSIC}}(\mathbf{X}, \mathbf{Y})}
        {\sqrt{\widehat{\mathrm{HSIC}}(\mathbf{X}, \mathbf{X})\,
        \widehat{\mathrm{HSIC}}(\mathbf{Y}, \mathbf{Y})}} \in [0, 1],

    comparable across inputs of different dimension and spread (e.g. to compare how much of
    two different feature blocks a representation carries).

    Args:
        x (Tensor): Samples of :math:`X`, ``[n, d_x]`` with :math:`n \ge 2`.
        y (Tensor): Paired samples of :math:`Y`, ``[n, d_y]``.
        sigma2 (float, optional): RBF bandwidth, as in :func:`hsic`. (default: :obj:`None`)
        normalize (bool): Scale rows to unit L2 norm first. (default: :obj:`False`)
    """
    _check_pairs('cka', x, y, min_rows=2)
    _check_bandwidth('cka', sigma2)
    k_x, k_y = _rbf(x, sigma2, normalize), _rbf(y, sigma2, normalize)
    return _centered_inner(k_x, k_y) / (_centered_inner(k_x, k_x)
                                        * _centered_inner(k_y, k_y)).sqrt()
