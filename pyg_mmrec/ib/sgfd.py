from __future__ import annotations

import contextlib
from typing import Annotated, Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.nn import MLP

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.ib.plugin import PlugIn, probe_forward
from pyg_mmrec.nn.models.recommender import Capability, Recommender
from pyg_mmrec.params import Positive, Range, Weight
from pyg_mmrec.registry import register
from pyg_mmrec.utils import quiet_sparse_csr


def teacher_widths(in_channels: int, out_channels: int, shrink: int = 4) -> list[int]:
    r"""The layer widths of SGFD's teacher extractor: from the raw feature size, each hidden
    layer a ``shrink``-th of the previous one while that stays above the output size, then
    the output size (the rule of the authors' code: 4096 → 1024 → 256 → 64, 384 → 96 → 64,
    and a single layer where the features are already small, 128 → 64)."""
    widths = [in_channels]
    while widths[-1] // shrink > out_channels:
        widths.append(widths[-1] // shrink)
    return [*widths, out_channels]


def interaction_categories(edge_index: Tensor, num_users: int, num_items: int,
                           num_categories: int, iterations: int = 50, seed: int = 0) -> Tensor:
    r"""Pseudo-categories of the items from the training interactions alone, for SGFD on data
    without item categories: spectral co-clustering (`Dhillon, "Co-clustering documents and
    words using bipartite spectral graph partitioning" <https://doi.org/10.1145/502512.502550>`_,
    KDD 2001) of the user-item graph. The items' coordinates are the leading right singular
    vectors of the normalised interaction matrix, scaled by their singular values, without the
    first pair (:math:`\sigma_1 = 1`, its vector :math:`\propto \sqrt{d_i}` carries only
    popularity),

    .. math::
        \mathbf{D}_U^{-1/2} \mathbf{R} \mathbf{D}_I^{-1/2} \approx
        \mathbf{U} \boldsymbol{\Sigma} \mathbf{V}^\top, \qquad
        \mathbf{x}_i = \frac{(\mathbf{V} \boldsymbol{\Sigma})_{i, 2:C+1}}
        {\|(\mathbf{V} \boldsymbol{\Sigma})_{i, 2:C+1}\|},

    and Lloyd's :math:`k`-means (random distinct items as the initial centres) groups them
    into :math:`C` categories. Deterministic for a given ``seed`` (the randomised SVD and the
    initial centres draw from a forked generator), computed on the CPU.

    Args:
        edge_index (Tensor): Training interactions ``[2, E]`` (user, item).
        num_users (int): Number of users.
        num_items (int): Number of items.
        num_categories (int): Number of categories :math:`C` (fewer than the items).
        iterations (int): :math:`k`-means iterations. (default: :obj:`50`)
        seed (int): Seed of the random parts. (default: :obj:`0`)

    Returns:
        Tensor: The category ``[num_items]`` (long, in :math:`[0, C)`) of every item, on
        ``edge_index``'s device.
    """
    user, item = edge_index.cpu()
    deg_u = torch.bincount(user, minlength=num_users).float()
    deg_i = torch.bincount(item, minlength=num_items).float()
    with quiet_sparse_csr():
        r = torch.sparse_coo_tensor(torch.stack([user, item]),
                                    (deg_u[user] * deg_i[item]).rsqrt(),
                                    (num_users, num_items)).coalesce()
    rank = min(num_categories + 1, num_users, num_items)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, s, v = torch.svd_lowrank(r, q=rank, niter=4)
        x = F.normalize((v * s)[:, 1:], dim=1)
        centres = x[torch.randperm(num_items)[:num_categories]]
    for _ in range(iterations):
        assign = torch.cdist(x, centres).argmin(dim=1)
        counts = torch.bincount(assign, minlength=num_categories).unsqueeze(1)
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)  # keep empty ones
    return torch.cdist(x, centres).argmin(dim=1).to(edge_index.device)


def item_categories(data: HeteroData) -> Tensor | None:
    r"""The items' own categories ``data['item'].y`` (PyG's label attribute), checked, or
    :obj:`None` if the dataset has none.

    Raises:
        DataError: If they are not one non-negative integer per item.
    """
    y = data['item'].get('y')
    if y is None:
        return None
    if (y.dtype.is_floating_point or y.dtype == torch.bool or y.dim() != 1
            or y.numel() != data['item'].num_nodes or bool((y < 0).any())):
        raise DataError(f"SGFD reads data['item'].y as item categories: it must hold one "
                        f"non-negative integer per item ({data['item'].num_nodes}), got "
                        f"{y.dtype} of shape {tuple(y.shape)}")
    return y.long()


@register('sgfd')
class SGFD(PlugIn):
    r"""The SGFD plug-in from the `"Semantic-Guided Feature Distillation for Multimodal
    Recommendation" <https://arxiv.org/abs/2308.03113>`_ paper (Liu et al., ACM MM 2023;
    `authors' code <https://github.com/HuilinChenJN/SGFD>`_), on any backbone with per-modality
    representations :math:`\mathbf{Z}^k` computed from the raw features :math:`\mathbf{M}^k`
    (:attr:`~pyg_mmrec.nn.models.Capability.MODALITY`).

    The paper's method is model-agnostic: the backbone's own shallow feature extractor (e.g.
    VBPR's projection :math:`\mathbf{Z}^k = \mathbf{M}^k \mathbf{W}_k`, LATTICE's or BM3's)
    is the *student*, and a *teacher* is trained next to it, end to end and in one stage:
    per modality a deeper extractor :math:`\mathbf{T}^k = g_k(\mathbf{M}^k)` of the same
    output size, guided by the items' categories (the *semantic information*) through a
    classifier :math:`c_k` and, for the complementary information of the modalities, through
    a classifier :math:`c_f` of the fused teacher features:

    .. math::
        \mathcal{L}_\text{CE} = \frac{1}{K} \sum_k \mathrm{CE}\big(c_k(\mathbf{T}^k),
        \mathbf{y}\big), \qquad
        \mathcal{L}_\text{MF} = \mathrm{CE}\big(c_f(\mathrm{LeakyReLU}(
        [\mathbf{T}^1 \| \cdots \| \mathbf{T}^K] \mathbf{W}_f)), \mathbf{y}\big),

    with :math:`\mathbf{T}^k` L2-normalised row by row. The teacher's knowledge reaches the
    student through a response-based (logits) and a feature-based distillation loss on the
    student's normalised rows :math:`\bar{\mathbf{Z}}^k`, the student's logits coming from
    the teacher's classifier :math:`c_k`:

    .. math::
        \mathcal{L}_\text{LD} = \frac{1}{K} \sum_k \tau^2\, \mathrm{KL}\big(
        \mathrm{softmax}(c_k(\mathbf{T}^k) / \tau) \,\big\|\,
        \mathrm{softmax}(c_k(\bar{\mathbf{Z}}^k) / \tau)\big), \qquad
        \mathcal{L}_\text{FD} = \frac{1}{K} \sum_k \mathrm{MSE}(\bar{\mathbf{Z}}^k,
        \mathbf{T}^k),

    .. math::
        \mathcal{L} = \mathcal{L}_0 + \lambda_\text{ce} (\mathcal{L}_\text{CE}
        + \mathcal{L}_\text{MF}) + \lambda_\text{kd} (\mathcal{L}_\text{LD}
        + \mathcal{L}_\text{FD}),

    with :math:`\mathcal{L}_0` the backbone's own
    :meth:`~pyg_mmrec.nn.models.Recommender.batch_loss` (:math:`\mathcal{L}_\text{LD}` is
    :func:`~pyg_mmrec.functional.distillation_kl`). Inference is the backbone's alone: the
    teacher exists only inside :meth:`loss`.

    Why a plug-in: SGFD replaces nothing in the backbone's forward pass (its student *is*
    the backbone's extractor) and only adds training terms on the :math:`\mathbf{Z}^k` the
    ``modality`` capability exposes, which is exactly what a
    :class:`~pyg_mmrec.ib.PlugIn` does; so it runs on every backbone with that capability
    (``vbpr`` by default, as the library's plain feature-based backbone; the paper's BM3 and
    GRCN, and LATTICE, on which IBMRec's Table 2 reports it, are ``backbone=bm3|grcn|
    lattice``).

    Choices the paper leaves open, taken from the authors' code unless said otherwise:

    * **Semantic information.** The paper's items carry category labels (Amazon metadata).
      Where the dataset has them, as ``data['item'].y``, they are used; the library's
      datasets have none, so by default the categories are ``num_categories`` pseudo-
      categories found from the training interactions alone by spectral co-clustering
      (:func:`interaction_categories`, computed once per training graph): a semantic grouping
      of the items by who interacts with them, the recommendation signal the teacher is
      meant to inject. (Not in the paper; the authors' code needs the labels.)
    * **Teacher extractor.** Linear layers shrinking the width fourfold down to the size of
      :math:`\mathbf{Z}^k` (:func:`teacher_widths`), as in the authors' code, but with a
      LeakyReLU between layers (the authors' stack has none, which makes the "DNN" one
      linear map); its output is L2-normalised, as the authors' teacher and student outputs
      are. The backbone's :math:`\mathbf{Z}^k` feeds the backbone as it is, and is compared
      with the teacher after the same normalisation: the distillation then aligns
      directions and does not fight the backbone's L2 term over the scale (compared raw, the
      teacher's features grow under the CE and drag the student's with them; on the synthetic
      dataset, 20 epochs on VBPR, validation Recall@20 fell from 0.410 to 0.391, against 0.412
      normalised). The classifiers :math:`c_k` are linear; :math:`\mathbf{W}_f` maps to the
      largest :math:`\mathbf{Z}^k` size.
    * **Response distillation.** Hinton's :math:`\tau^2`-scaled KL (the paper names
      response-based distillation; the authors' code takes the L1 distance between the
      softened distributions, without :math:`\tau^2`, which at their :math:`\tau = 100`
      leaves the term almost no gradient). The CE is on the logits (the authors' code applies
      it to softmax outputs, a second softmax).
    * **Gradients.** Teacher and classifiers learn from :math:`\mathcal{L}_\text{CE}` and
      :math:`\mathcal{L}_\text{MF}` alone; the distillation terms move only the student (the
      teacher's features and classifier are detached there, as in standard distillation; the
      authors' code lets them pull the teacher towards the student too).
    * **Which items.** The batch's distinct positive and negative items (the authors' code
      takes the positives, with repeats); the terms are averaged over the modalities.
    * **Defaults.** :math:`\lambda_\text{ce} = \lambda_\text{kd} = 0.1` and
      :math:`\tau = 100`, the values most frequent in the authors' published commands
      (which vary them per dataset and backbone in :math:`[10^{-2}, 1]` and
      :math:`[5, 100]`); 20 pseudo-categories, within the 19 to 54 categories of the
      paper's datasets.

    Args:
        backbone (Recommender): The wrapped model (with the ``modality`` capability).
        ce_weight (float): Weight :math:`\lambda_\text{ce}` of the teacher's semantic terms.
            (default: :obj:`0.1`)
        kd_weight (float): Weight :math:`\lambda_\text{kd}` of the distillation terms.
            (default: :obj:`0.1`)
        temperature (float): Temperature :math:`\tau` of the response distillation.
            (default: :obj:`100.0`)
        num_categories (int): Number of pseudo-categories on data without
            ``data['item'].y``. (default: :obj:`20`)
        channels (dict, optional): Modality name to (raw feature size, size of
            :math:`\mathbf{Z}^k`); filled in by :meth:`from_data`.
        data_categories (int, optional): Number of the dataset's own categories (:obj:`None`
            without ``data['item'].y``); filled in by :meth:`from_data`.
    """
    default_backbone = 'vbpr'
    required_capabilities = (frozenset({Capability.MODALITY}),)
    requires_features = True  # it distils the feature matrices, whatever the backbone reads

    def __init__(self, backbone: Recommender, ce_weight: Weight = 0.1, kd_weight: Weight = 0.1,
                 temperature: Positive = 100.0,
                 num_categories: Annotated[int, Range(2, 2**16)] = 20, *,
                 channels: dict[str, tuple[int, int]] | None = None,
                 data_categories: int | None = None):
        super().__init__(backbone)
        self.ce_weight = ce_weight
        self.kd_weight = kd_weight
        self.temperature = temperature
        self.num_categories = num_categories
        if not channels:
            raise ConfigError("SGFD needs the sizes of the backbone's modality features and "
                              "representations: build it with SGFD.from_data(data, ...) or "
                              "pass channels")
        if data_categories is None and num_categories >= backbone.num_items:
            raise ConfigError(f"config key 'num_categories' = {num_categories}: SGFD needs "
                              f"fewer pseudo-categories than items ({backbone.num_items})")
        self.channels = dict(channels)
        self.data_categories = data_categories
        classes = num_categories if data_categories is None else data_categories
        # The new modules initialise themselves and the backbone is not re-initialised, so
        # that an SGFD run starts from the same backbone weights as the bare run of a seed.
        self.teacher = torch.nn.ModuleDict({
            m: MLP(teacher_widths(d_in, d_out), act='leaky_relu', norm=None)
            for m, (d_in, d_out) in self.channels.items()})
        self.classifier = torch.nn.ModuleDict({
            m: torch.nn.Linear(d_out, classes) for m, (_, d_out) in self.channels.items()})
        fused = sum(d_out for _, d_out in self.channels.values())
        width = max(d_out for _, d_out in self.channels.values())
        self.fusion = MLP([fused, width, classes], act='leaky_relu', norm=None)
        self._categories_key: tuple | None = None
        self._categories: Tensor | None = None

    @classmethod
    def data_args(cls, backbone: Recommender, data: HeteroData) -> dict[str, Any]:
        out = probe_forward(backbone, data, contextlib.nullcontext())
        if not out.modality:
            raise DataError(f"SGFD distils the modality features, but backbone "
                            f"{type(backbone).__name__} computes no modality representation "
                            f"on dataset {getattr(data, 'name', '?')!r} (it needs item feature "
                            f"matrices data['item'].x_<modality>)")
        features = backbone.item_features(data)
        y = item_categories(data)
        return {'channels': {m: (features[m].size(1), z.size(1))
                             for m, z in out.modality.items()},
                'data_categories': None if y is None else int(y.max()) + 1}

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for module in (*self.teacher.values(), *self.classifier.values(), self.fusion):
            module.reset_parameters()

    def categories(self, data: HeteroData) -> Tensor:
        """The item categories ``[I]`` that guide the teacher: ``data['item'].y`` if the
        dataset has them, else the pseudo-categories of :func:`interaction_categories` on the
        training graph of ``data`` (computed once and cached)."""
        y = item_categories(data)
        if y is not None:
            return y
        edge_index = self.train_edge_index(data)
        key = (edge_index.data_ptr(), edge_index.size(1))
        if key != self._categories_key:
            self._categories = interaction_categories(edge_index, self.num_users,
                                                      self.num_items, self.num_categories)
            self._categories_key = key
        return self._categories

    def teacher_features(self, modality: str, x: Tensor) -> Tensor:
        r"""The teacher's features :math:`\mathbf{T}^k` (L2-normalised rows) of the raw
        features ``x`` of ``modality``."""
        return F.normalize(self.teacher[modality](x), dim=-1)

    def sgfd_terms(self, data: HeteroData, modality: dict[str, Tensor], items: Tensor
                   ) -> dict[str, Tensor]:
        r"""The unweighted terms :math:`\mathcal{L}_\text{CE}`, :math:`\mathcal{L}_\text{MF}`,
        :math:`\mathcal{L}_\text{LD}` and :math:`\mathcal{L}_\text{FD}` on the items
        ``items``, given the student representations ``modality`` (the backbone's
        :math:`\mathbf{Z}^k`)."""
        labels = self.categories(data)[items]
        features = self.item_features(data)
        ce, ld, fd, teachers = [], [], [], []
        for m, z in modality.items():
            t = self.teacher_features(m, features[m][items])
            s = F.normalize(z[items], dim=-1)
            classifier = self.classifier[m]
            logits = classifier(t)
            ce.append(F.cross_entropy(logits, labels))
            # The distillation terms move the student only: teacher and classifier detached.
            student_logits = F.linear(s, classifier.weight.detach(), classifier.bias.detach())
            ld.append(MF.distillation_kl(student_logits, logits.detach(), self.temperature))
            fd.append(F.mse_loss(s, t.detach()))
            teachers.append(t)
        mf = F.cross_entropy(self.fusion(torch.cat(teachers, dim=1)), labels)
        return {'ce': torch.stack(ce).mean(), 'mf': mf, 'ld': torch.stack(ld).mean(),
                'fd': torch.stack(fd).mean()}

    def loss(self, data: HeteroData, user: Tensor, pos: Tensor, neg: Tensor
             ) -> dict[str, Tensor]:
        out = self.encode(data)
        losses = self.backbone.batch_loss(out, user, pos, neg)
        terms = self.sgfd_terms(data, out.modality, torch.cat([pos, neg]).unique())
        extra = {'sgfd_ce': self.ce_weight * terms['ce'],
                 'sgfd_mf': self.ce_weight * terms['mf'],
                 'sgfd_ld': self.kd_weight * terms['ld'],
                 'sgfd_fd': self.kd_weight * terms['fd']}
        return {**losses, 'loss': losses['loss'] + sum(extra.values()), **extra}

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.backbone!r}, ce_weight={self.ce_weight}, '
                f'kd_weight={self.kd_weight}, temperature={self.temperature})')
