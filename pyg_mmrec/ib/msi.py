from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.nn.models.bm3 import BM3, BM3Encoded
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.params import Count0, Dim, Positive, Rate, Weight
from pyg_mmrec.registry import register


@dataclasses.dataclass
class MSIEncoded(BM3Encoded):
    r"""A forward pass of :class:`MSI`: a :class:`~pyg_mmrec.nn.models.BM3Encoded` whose
    :attr:`modality` holds the interaction-preserved modality representations
    :math:`\mathbf{z}^m_s`, plus the Gaussian encoders' outputs.

    Args:
        posterior (dict): Modality name to ``(mu, std, sample)`` of
            :math:`p(\mathbf{z}^m_r \mid \mathbf{m}^m)`, each ``[I, d]`` (empty without
            superfluous-semantics discarding).
    """
    posterior: dict[str, tuple[Tensor, Tensor, Tensor]] = dataclasses.field(
        default_factory=dict)


@register('msi')
class MSI(BM3):
    r"""The MSI method from the `"MSI: Multi-modal Recommendation via Superfluous Semantics
    Discarding and Interaction Preserving" <https://doi.org/10.1145/3652583.3658043>`_ paper
    (ICMR 2024, Section 3 and Algorithm 1): a variant of
    :class:`~pyg_mmrec.nn.models.BM3` that keeps its embeddings, modality projections
    (:meth:`~pyg_mmrec.nn.models.BM3.modality_reps`), LightGCN propagation, contrastive view
    generator (:class:`~pyg_mmrec.nn.bootstrap.Bootstrap`) and loss terms
    (:meth:`~pyg_mmrec.nn.models.BM3.loss_terms`), and changes what the modality
    representations are.

    **Superfluous-semantics discarding** (Eq. 13). Each of the two modalities' projections
    :math:`\mathbf{z}^m` feeds a Gaussian encoder
    :math:`p(\mathbf{z}^m_r \mid \mathbf{m}^m) = \mathcal{N}(\boldsymbol{\mu}_m,
    \mathrm{diag}(\boldsymbol{\sigma}_m^2))` with
    :math:`[\boldsymbol{\mu}_m \,\|\, \tilde{\boldsymbol{\sigma}}_m] = \mathbf{z}^m
    \mathbf{W}_m + \mathbf{b}_m` and :math:`\boldsymbol{\sigma}_m =
    \mathrm{softplus}(\tilde{\boldsymbol{\sigma}}_m)`; training uses a reparameterised sample
    :math:`\mathbf{z}^m_r = \boldsymbol{\mu}_m + \boldsymbol{\sigma}_m \odot
    \boldsymbol{\epsilon}`, evaluation the mean. Every :math:`\boldsymbol{\sigma}_m` starts
    at 1 (the :math:`\tilde{\boldsymbol{\sigma}}` half of the head starts with zero weights):
    a randomly initialised head on unnormalised features (tiktok's image features have mean
    2.7) starts some :math:`\sigma` near 0 and the AKL in the millions. On the batch's
    distinct positive items,

    .. math::
        \mathcal{L}_\text{ssd} = -\hat I(\mathbf{z}^1_r; \mathbf{z}^2_r)
        + \beta\, D_\text{AKL}\big(p(\mathbf{z}^1_r \mid \mathbf{m}^1) \,\|\,
        p(\mathbf{z}^2_r \mid \mathbf{m}^2)\big),

    with :math:`D_\text{AKL}` the closed-form symmetric KL
    (:func:`~pyg_mmrec.functional.average_kl`) and :math:`\hat I` the InfoNCE lower bound
    :math:`\log n - \mathcal{L}_\text{NCE}` (:func:`~pyg_mmrec.functional.info_nce`,
    symmetric, cosine critic at temperature :math:`\tau`). The paper does not say how it
    estimates :math:`I`; a contrastive bound is the usual choice for the multi-view
    information bottleneck it follows, needs no extra network, is a lower bound (so
    maximising it maximises the mutual information, which Eq. 13 asks for), and is
    symmetric in the two modalities, as :math:`I` is. Any two modalities work (e.g. image and
    text, or tiktok's image and audio).

    **Interaction preserving** (Eqs. 14-17). Three LightGCN propagations over the user-item
    graph share the users' ID embeddings as starting points; their items start from the ID
    embeddings and the two :math:`\mathbf{z}^m_r`, and each item output gets the residual
    of its starting point: :math:`\mathbf{z}_s = \frac{1}{L+1}\sum_l \mathbf{Z}_l +
    \mathbf{Z}_0`. The users of the modality graphs are discarded, as in the paper. The
    propagations run as one LightGCN pass over the three tables side by side
    (:meth:`propagate_tables`).

    **Objective** (Eq. 23) and **scores** (Eq. 24). BM3's terms on these representations,

    .. math::
        \mathcal{L} = \mathcal{L}_\text{rec} + \lambda_c(\mathcal{L}_\text{align}
        + \mathcal{L}_\text{mask}) + \alpha\,\mathcal{L}_\text{ssd}
        + \gamma\,\frac{\|\mathbf{z}^u_s\| + \|\mathbf{z}^i_s\| + \sum_m
        \|\mathbf{z}^m_s\|}{I}, \qquad \hat y_{ui} = \tilde{\mathbf{z}}^{u\top}_s
        \tilde{\mathbf{z}}^i_s,

    where the alignment and masking terms act on the :math:`\mathbf{z}^m_s`, :math:`\gamma`
    is BM3's ``reg_weight`` and :math:`\lambda_c` its ``cl_weight`` (Eq. 23 writes weight 1;
    keeping BM3's makes "without both modules" exactly BM3, as the paper states). The
    regulariser covers the modality outputs only when the interaction-preserving graphs
    produce them (BM3 does not regularise its projections).

    **Ablations** (Tables 4-5): ``use_ssd=False`` (w/o S: :math:`\mathbf{z}^m_r =
    \mathbf{z}^m`, no :math:`\mathcal{L}_\text{ssd}`), ``use_ip=False`` (w/o I:
    :math:`\mathbf{z}^m_s = \mathbf{z}^m_r`, BM3's single propagation), ``use_align=False``,
    ``use_mask=False``; with both modules off the model, its loss and its scores are
    BM3's. :func:`view_embeddings` computes the paper's Fig. 3 check.

    The paper searches :math:`\alpha` and :math:`\beta` in :math:`\{10^{-1}, \dots,
    10^{-4}\}` without reporting the chosen values; the defaults here are our choice. The
    layers MSI adds are initialised after BM3's, so a run starts from the same BM3 weights as
    the bare BM3 run of the same seed.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (read from the data by
            :meth:`from_data`).
        embedding_dim (int): BM3's representation size. (default: :obj:`64`)
        num_layers (int): BM3's LightGCN layers. (default: :obj:`1`)
        dropout (float): BM3's target-view dropout. (default: :obj:`0.5`)
        reg_weight (float): BM3's :math:`\lambda_r` (:math:`\gamma` here).
            (default: :obj:`0.1`)
        cl_weight (float): BM3's :math:`\lambda_c`. (default: :obj:`2.0`)
        alpha (float): Weight :math:`\alpha` of :math:`\mathcal{L}_\text{ssd}`.
            (default: :obj:`0.1`)
        beta (float): Weight :math:`\beta` of the AKL inside :math:`\mathcal{L}_\text{ssd}`.
            (default: :obj:`0.01`)
        temperature (float): InfoNCE temperature :math:`\tau`. (default: :obj:`0.2`)
        use_ssd (bool): Superfluous-semantics discarding. (default: :obj:`True`)
        use_ip (bool): Interaction preserving. (default: :obj:`True`)
        use_align (bool): The alignment loss. (default: :obj:`True`)
        use_mask (bool): The masking loss. (default: :obj:`True`)
    """
    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: Dim = 64, num_layers: Count0 = 1, dropout: Rate = 0.5,
                 reg_weight: Weight = 0.1, cl_weight: Weight = 2.0, alpha: Weight = 0.1,
                 beta: Weight = 0.01, temperature: Positive = 0.2, use_ssd: bool = True,
                 use_ip: bool = True, use_align: bool = True, use_mask: bool = True):
        names = list(feature_dims)
        if use_ssd and len(names) != 2:
            raise DataError(f"MSI's superfluous-semantics discarding needs exactly two "
                            f"modalities, the data has {len(names)} ({', '.join(names)}); "
                            f"set use_ssd=false to run without it")
        super().__init__(num_users, num_items, feature_dims, embedding_dim, num_layers, dropout,
                         reg_weight, cl_weight)
        self.alpha = alpha
        self.beta = beta
        self.temperature = temperature
        self.use_ssd = use_ssd
        self.use_ip = use_ip
        self.use_align = use_align
        self.use_mask = use_mask
        self.gaussian = torch.nn.ModuleDict(
            {m: torch.nn.Linear(embedding_dim, 2 * embedding_dim) for m in names}
            if use_ssd else {})
        self._reset_gaussian()  # BM3's constructor has initialised the rest

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self._reset_gaussian()

    def _reset_gaussian(self) -> None:
        d = self.embedding_dim
        for lin in self.gaussian.values():
            torch.nn.init.xavier_uniform_(lin.weight[:d])
            torch.nn.init.zeros_(lin.bias[:d])
            # Every sigma starts at 1 (softplus(log(e - 1)) = 1): from a random head, sigmas
            # of unnormalised features can start near 0 and make the AKL explode.
            torch.nn.init.zeros_(lin.weight[d:])
            torch.nn.init.constant_(lin.bias[d:], math.log(math.e - 1))

    def propagate_tables(self, data: HeteroData, item_tables: Tensor) -> tuple[Tensor, Tensor]:
        r""":math:`k` LightGCN propagations, with the residual on the items, from the user ID
        embeddings and each of :math:`k` item tables stacked side by side in ``item_tables``
        ``[I, k·d]``: the users are repeated :math:`k` times, so that the propagations share
        their starting points and run as one sparse product per layer. Returns the users of
        the first propagation ``[U, d]`` and every item result ``[I, k·d]``.

        With one layer (BM3's default) an item's layer-1 state is :math:`\hat{\mathbf{A}}`
        applied to the users' starting points alone, the same for all :math:`k` tables, and only
        the first table's users are returned: a single :math:`d`-column propagation of the first
        table gives every result, bitwise equal to the joint propagation (the backward pass
        adds the tables' gradients in another order: equal up to rounding)."""
        ego_user = self.embedding.weight[:self.num_users]
        k = item_tables.size(1) // self.embedding_dim
        adj = self.adjacency(data)
        if self.num_layers == 1:
            first = torch.cat([ego_user, item_tables[:, :self.embedding_dim]])
            x, layer1 = self.conv.layers(first, adj)
            layer1_user, layer1_item = self.split_nodes(layer1)
            user = (x[:self.num_users] + layer1_user) / 2
            items = (item_tables + layer1_item.repeat(1, k)) / 2
            return user, items + item_tables
        user, items = self.split_nodes(self.conv(torch.cat([ego_user.repeat(1, k), item_tables]),
                                                 adj))
        return user[:, :self.embedding_dim], items + item_tables

    def encode(self, data: HeteroData) -> MSIEncoded:
        projections = self.modality_reps(data)
        reps, posterior = projections, {}
        if self.use_ssd:
            for m, z in projections.items():
                mu, raw = self.gaussian[m](z).chunk(2, dim=-1)
                std = F.softplus(raw) + 1e-6  # bounded away from 0 so the AKL stays finite
                sample = mu + std * torch.randn_like(std) if self.training else mu
                posterior[m] = (mu, std, sample)
            reps = {m: post[2] for m, post in posterior.items()}
        if self.use_ip:
            ego_item = self.embedding.weight[self.num_users:]
            user, items = self.propagate_tables(data, torch.cat([ego_item, *reps.values()], 1))
            item, *preserved = items.split(self.embedding_dim, dim=1)
            reps = dict(zip(reps, preserved, strict=True))
        else:
            user, item = self.propagate(data)
        return MSIEncoded(self.bootstrap(user), self.bootstrap(item), modality=reps,
                          hidden=torch.cat(list(projections.values()), dim=1),
                          online_user=user, online_item=item, posterior=posterior)

    def ssd_terms(self, out: MSIEncoded, items: Tensor) -> tuple[Tensor, Tensor]:
        r"""The InfoNCE bound :math:`\hat I(\mathbf{z}^1_r; \mathbf{z}^2_r)` and
        :math:`D_\text{AKL}` on the rows ``items`` of the forward pass ``out``."""
        (mu1, std1, z1), (mu2, std2, z2) = ([t[items] for t in post]
                                            for post in out.posterior.values())
        mi = math.log(items.numel()) - MF.info_nce(z1, z2, self.temperature, symmetric=True)
        return mi, MF.average_kl(mu1, std1, mu2, std2)

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        terms = self.loss_terms(out, user, pos)
        losses = {'rec': terms['rec']}
        if self.use_align:
            losses['align'] = self.cl_weight * terms['align']
        if self.use_mask:
            losses['mask'] = self.cl_weight * terms['mask']
        regularised = [out.online_user, out.online_item]
        if self.use_ip:
            regularised += list(out.modality.values())
        losses['reg'] = self.reg_weight * MF.norm_reg(*regularised)
        if self.use_ssd:
            mi, akl = self.ssd_terms(out, pos.unique())
            losses['ssd_mi'] = -self.alpha * mi
            losses['ssd_akl'] = self.alpha * self.beta * akl
        return {'loss': sum(losses.values()), **losses}



def view_embeddings(model: BM3, data: HeteroData, view: str = 'id'
                    ) -> tuple[Tensor, Tensor]:
    r"""User and item representations that score users against one view of the items only,
    for the interaction-preserving check of the MSI paper (Fig. 3; BM3's counterpart is its
    Table 1): ``view='id'`` gives the model's own scores (Eq. 24), a modality name
    :math:`m` scores :math:`\tilde{\mathbf{z}}^{u\top} \tilde{\mathbf{z}}^m_i`, the predicted
    modality-side item representations. For BM3 those come from the raw projections, for
    MSI from the interaction-preserving graphs. The forward pass runs in evaluation mode and
    without gradients; pass the result to the evaluator like a model's ``forward``.

    Args:
        model (BM3): A trained BM3 or MSI model.
        data (HeteroData): The training view.
        view (str): ``'id'`` or a modality name. (default: :obj:`'id'`)
    """
    if not isinstance(model, BM3):
        raise ConfigError(f"view_embeddings needs a BM3 or MSI model, got "
                          f"{type(model).__name__}")
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model.encode(data)
            if view == 'id':
                return out.user, out.item
            if view not in out.modality:
                raise ConfigError(f"view_embeddings: unknown view {view!r}; expected 'id' or "
                                  f"one of {sorted(out.modality)}")
            return out.user, model.bootstrap(out.modality[view])
    finally:
        model.train(training)
