from __future__ import annotations

import dataclasses
from typing import Annotated

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import DataError
from pyg_mmrec.nn.modality_encoder import ModalityEncoder
from pyg_mmrec.nn.models.recommender import Encoded
from pyg_mmrec.nn.models.vbpr import VBPR
from pyg_mmrec.params import Count, Dim, Range, Weight
from pyg_mmrec.registry import register


@dataclasses.dataclass
class InvRLEncoded(Encoded):
    r"""The forward pass of :class:`InvRL`: :class:`Encoded`, plus in training what its
    environment models and invariance penalty need.

    Args:
        invariant (dict, optional): The gated item features :math:`\mathbf{m}^k \odot
            \mathbf{M}^k` ``[I, d_k]`` by modality, the recommender's input (:obj:`None` in
            evaluation).
        variant (dict, optional): Their complements :math:`(1 - \mathbf{m}^k) \odot
            \mathbf{M}^k`, the mask detached (:obj:`None` in evaluation).
        edge_keys (Tensor, optional): The sorted keys :math:`u \cdot I + i` of the training
            interactions.
        edge_environments (Tensor, optional): The environment of each interaction of
            ``edge_keys``.
    """
    invariant: dict[str, Tensor] | None = None
    variant: dict[str, Tensor] | None = None
    edge_keys: Tensor | None = None
    edge_environments: Tensor | None = None


@register('invrl')
class InvRL(VBPR):
    r"""The InvRL model from the `"Invariant Representation Learning for Multimedia
    Recommendation" <https://openreview.net/forum?id=LADA7YpuY8>`_ paper (Du et al., ACM MM
    2022), on a VBPR backbone.

    Generic feature extractors put spurious factors into the item features: factors whose
    correlation with the interactions holds in some parts of the data (*environments*) and
    not in others. InvRL learns a mask :math:`\mathbf{m}^k \in [0, 1]^{d_k}` over the
    dimensions of each modality's features that keeps the *invariant* part
    :math:`\mathbf{m}^k \odot \mathbf{M}^k`, whose relation to the interactions is the same in
    every environment, and recommends from it. It alternates two modules.

    *Heterogeneous environment identification.* The training interactions are partitioned
    into :math:`E` environments. Each environment :math:`e` has a model of its own that
    scores an interaction from the *variant* part of the features,
    :math:`s_e(u, i) = \boldsymbol{\theta}_u^\top \sum_k ((1 - \mathbf{m}^k) \odot
    \mathbf{M}^k_i) \mathbf{W}^e_k`, trained by BPR on its environment's interactions; every
    ``env_interval`` epochs each interaction moves to the environment whose model scores it
    highest, :math:`e(u, i) = \arg\max_e s_e(u, i)` (:meth:`infer_environments`).

    *Invariant mask learning.* The mask is a stochastic gate (the STG relaxation the
    authors' code uses), :math:`\mathbf{m}^k = \min(1, \max(0, \boldsymbol{\mu}^k + 1/2 +
    \sigma \boldsymbol{\epsilon}))` with :math:`\boldsymbol{\epsilon} \sim \mathcal{N}(0,
    \mathbf{I})` redrawn at every training forward pass and :math:`\sigma = 0` in evaluation.
    Items are VBPR's on the masked features and the objective adds to VBPR's the variance
    across environments of the gradients of the per-environment risks with respect to the
    feature projections :math:`\mathbf{W} = \{\mathbf{W}_k\}` (HRM's invariance penalty,
    :func:`~pyg_mmrec.functional.gradient_variance`):

    .. math::
        \mathbf{e}_i = \big[\boldsymbol{\gamma}_i \,\big\|\, \textstyle\sum_k (\mathbf{m}^k
        \odot \mathbf{M}^k_i) \mathbf{W}_k\big], \qquad
        \mathcal{L} = \mathcal{L}_\text{BPR} + \alpha\,
        \operatorname{tr}\operatorname{Var}_e\big(\nabla_{\mathbf{W}} \mathcal{R}^e\big)
        + \lambda \sum_k \|\boldsymbol{\mu}^k\|_2^2 + \mathcal{L}_\text{env}
        + \lambda_2 \|\Theta\|_2^2,

    with :math:`\mathcal{R}^e` the BPR loss of the batch's triplets of environment :math:`e`
    and :math:`\mathcal{L}_\text{env}` the environment models' BPR loss (each triplet under its
    environment's model). A dimension whose effect on the interactions differs between
    environments makes the environments' gradients disagree in proportion to its mask entry
    (the gradient of :math:`\mathbf{W}_k`'s column :math:`d` carries the factor
    :math:`m^k_d`), so the penalty closes its gate.

    Choices the paper leaves open or that this library makes, and differences from the
    authors' code:

    * **One model, one training run.** The authors pretrain their backbone, then run five
      rounds of identification (retraining :math:`E` fresh environment models until fewer than
      1% of the interactions move) and mask learning (40 epochs on a fresh projection, the
      embeddings frozen), then train the recommender from scratch with the mask fixed. Here
      the recommender, the mask and the environment models are trained together by the
      trainer, and the environments are re-inferred every ``env_interval`` epochs (10 by
      default, a choice of this library) from the environment models as they stand (one
      reassignment per round, an online form of their alternation): a model file rather
      than a pipeline, as every other model of the library. The mask is therefore shaped by
      BPR as well as by the penalty, as in their mask-learning rounds (whose objective
      includes the risks); their growth of :math:`\alpha` and :math:`\lambda` by 5% per
      round is not reproduced.
    * **A model rather than a plug-in.** The invariance penalty needs the gradient of each
      environment's risk with respect to the weights that read the masked features, and the
      environment models need the user preferences :math:`\boldsymbol{\theta}_u` that read
      those features: both are backbone-specific, so InvRL is the backbone VBPR with the mask,
      not a wrapper like :class:`~pyg_mmrec.ib.DVIB`. Its result deploys on any backbone
      that reads the features, as the authors' pipeline deploys it (the mask learned, then
      the recommender trained from scratch on the masked features) and as the IBMRec paper
      runs InvRL on LATTICE: :meth:`feature_masks` and
      :class:`~pyg_mmrec.transforms.MaskFeatures`. VBPR is the model the authors' code
      actually trains (their "UltraGCN" network scores :math:`[\mathbf{u} \| \boldsymbol{\theta}_u]
      ^\top [\mathbf{v}_i \| \mathbf{W} \mathbf{f}_i]` on the concatenated features, with
      UltraGCN's weighted loss and no graph term): here with BPR and the library's VBPR (raw
      features, one projection per modality, which is one projection of their
      concatenation).
    * **Environment models** are :class:`~pyg_mmrec.nn.ModalityEncoder` projections of the
      variant features, scored against the recommender's :math:`\boldsymbol{\theta}_u`
      (detached, as the authors' environment models read their frozen pretrained users); the
      mask is detached there too, so neither shapes the recommender. The authors give their
      environment models all features with an L1 penalty on the projection weighted by the
      mask; the paper's variant part :math:`(1 - \mathbf{m}) \odot \mathbf{M}` is used instead.
      The initial environments are uniformly random, as theirs.
    * **The penalty** is the trace of the gradients' variance (HRM's form, the mean over
      environments of :math:`\|\mathbf{g}_e - \bar{\mathbf{g}}\|^2`) over the environments
      present in the batch, the gradients computed in closed form
      (:meth:`environment_gradients`, exact for VBPR's linear content layer); the authors'
      code sums the squared deviations and squares them again after weighting by the mask.
      Their risks are sums over a batch, these BPR means, so their :math:`\alpha = 1` does
      not carry over. The default :math:`\alpha = 10` keeps the penalty a few percent of the
      BPR term on the synthetic dataset, where it costs no accuracy (that data has no
      spurious environments to remove); on a toy with planted environments and a feature
      whose effect flips between them, :math:`\alpha` of 100 to 300 closes that feature's
      gate within 200 steps (see the tests). Since minibatch
      gradients vary across environments by sampling alone, a large :math:`\alpha` closes
      every gate: tune it per dataset, as the paper does.
    * **The mask regulariser** is the authors' code's :math:`\lambda \sum
      \|\boldsymbol{\mu}\|^2` (with their :math:`\lambda = 0.1` and :math:`\sigma = 0.01`;
      :math:`\boldsymbol{\mu} = 0` at initialisation, every gate half open), scaled like the
      risk: theirs is a sum over the batch and this one a mean, so the term added here is
      :math:`\frac{\lambda}{B} \sum \|\boldsymbol{\mu}\|^2` for a batch of :math:`B`
      triplets, which keeps the authors' balance between the two at any batch size. Unscaled,
      :math:`\lambda = 0.1` weighs about 2048 times more than theirs and holds every gate
      within 0.005 of one half on tiktok (:doc:`/benchmarks/ibmrec`). The ERM term is the
      batch's BPR loss (the environments' risks weighted by their shares).

    The environments are part of the state dict (as an extra state), so a resumed run goes on
    with the same partition. A pair that is not a training interaction (a hand-made batch)
    falls into the environment of the next training interaction in key order. The hidden layer
    :math:`\mathbf{H}` is the fused projection of the masked features; the per-modality
    :math:`\mathbf{Z}^k` are their projections, and :meth:`multimedia_parameters` include the
    gates :math:`\boldsymbol{\mu}`.

    Args:
        num_users (int): Number of users.
        num_items (int): Number of items.
        feature_dims (dict): Modality name to feature dimension (read from the data by
            :meth:`from_data`).
        embedding_dim (int): Size of the ID part and of the content part; representations
            have twice this size. (default: :obj:`64`)
        reg_weight (float): L2 weight :math:`\lambda_2`. (default: :obj:`1e-4`)
        num_envs (int): Number of environments :math:`E`. (default: :obj:`10`)
        env_interval (int): Epochs between two environment inferences. (default: :obj:`10`)
        irm_weight (float): Weight :math:`\alpha` of the invariance penalty.
            (default: :obj:`10.0`)
        mask_reg (float): Weight :math:`\lambda` of the gates' regulariser, relative to
            the batch-summed risk (divided by the batch size here). (default: :obj:`0.1`)
        gate_sigma (float): Noise :math:`\sigma` of the stochastic gates in training.
            (default: :obj:`0.01`)
    """
    def __init__(self, num_users: int, num_items: int, feature_dims: dict[str, int],
                 embedding_dim: Dim = 64, reg_weight: Weight = 1e-4,
                 num_envs: Annotated[int, Range(2, 1024)] = 10, env_interval: Count = 10,
                 irm_weight: Weight = 10.0, mask_reg: Weight = 0.1, gate_sigma: Weight = 0.01):
        super().__init__(num_users, num_items, feature_dims, embedding_dim, reg_weight)
        self.num_envs = num_envs
        self.env_interval = env_interval
        self.irm_weight = irm_weight
        self.mask_reg = mask_reg
        self.gate_sigma = gate_sigma
        self.gate = torch.nn.ParameterDict({m: torch.nn.Parameter(torch.empty(d))
                                            for m, d in feature_dims.items()})
        self.env_models = torch.nn.ModuleList([ModalityEncoder(feature_dims, embedding_dim)
                                               for _ in range(num_envs)])
        self.environments: Tensor | None = None  # per training interaction, in edge order
        self._reinfer = False
        self._lookup_key: tuple | None = None
        self._lookup: tuple[Tensor, Tensor] | None = None
        InvRL.reset_parameters(self)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for mu in self.gate.values():
            torch.nn.init.zeros_(mu)
        for model in self.env_models:
            model.reset_parameters()
        self.environments = None
        self._lookup_key = None

    def get_extra_state(self) -> Tensor:
        # The partition travels with checkpoints; empty until the first training pass.
        if self.environments is None:
            return torch.empty(0, dtype=torch.long)
        return self.environments

    def set_extra_state(self, state: Tensor) -> None:
        self.environments = state.clone() if state.numel() else None
        self._lookup_key = None

    def mask(self, stochastic: bool = False) -> dict[str, Tensor]:
        r"""The gates :math:`\mathbf{m}^k` by modality, with noise if ``stochastic``."""
        gates = {}
        for m, mu in self.gate.items():
            z = mu + 0.5
            if stochastic and self.gate_sigma > 0:
                z = z + self.gate_sigma * torch.randn_like(mu)
            gates[m] = z.clamp(0.0, 1.0)
        return gates

    def feature_masks(self) -> dict[str, Tensor]:
        r"""The learned masks :math:`\mathbf{m}^k` by modality, without noise and detached:
        the invariant features :math:`\mathbf{m}^k \odot \mathbf{M}^k` this model
        recommends from in evaluation. Deploy them on another backbone with
        :class:`~pyg_mmrec.transforms.MaskFeatures` (the authors' pipeline: the mask learned,
        then the recommender trained on the masked features)."""
        return {m: gate.detach() for m, gate in self.mask().items()}

    def new_item_state(self, features: dict[str, Tensor]) -> Tensor:
        r"""VBPR's layer-0 state of items that training never saw, on the invariant part
        :math:`\mathbf{m}^k \odot \mathbf{M}^k` of their features (the gates without noise,
        as in evaluation)."""
        mask = self.mask()
        return super().new_item_state({m: mask[m] * x for m, x in features.items()})

    def multimedia_parameters(self) -> list[torch.nn.Parameter]:
        r"""VBPR's, and the gates :math:`\boldsymbol{\mu}` the masked features come from."""
        return [*super().multimedia_parameters(), *self.gate.values()]

    def on_epoch_start(self, epoch: int) -> None:
        if epoch > 0 and epoch % self.env_interval == 0:
            self._reinfer = True  # at the epoch's first training forward pass (needs data)

    def assign_environments(self, data: HeteroData, environments: Tensor) -> None:
        """Sets the environment of each training interaction of ``data`` (in the order of its
        ``edge_index``), e.g. known ones; later inferences replace them."""
        if environments.shape != self.train_edge_index(data)[0].shape:
            raise DataError(f"InvRL: one environment per training interaction expected, got "
                            f"shape {tuple(environments.shape)}")
        self.environments = environments.to(torch.long)
        self._lookup_key = None

    @torch.no_grad()
    def infer_environments(self, data: HeteroData) -> Tensor:
        r"""The environment :math:`\arg\max_e s_e(u, i)` of each training interaction of
        ``data`` (in the order of its ``edge_index``) under the environment models, with the
        mask without noise."""
        user, item = self.train_edge_index(data)
        theta = self.user_emb.weight[:, self.embedding_dim:]
        variant = self.variant_features(self.item_features(data), self.mask())
        scores = torch.stack([(theta[user] * ModalityEncoder.fuse(model(variant))[item]).sum(-1)
                              for model in self.env_models])
        return scores.argmax(dim=0)

    @staticmethod
    def variant_features(features: dict[str, Tensor], mask: dict[str, Tensor]
                         ) -> dict[str, Tensor]:
        r""":math:`(1 - \mathbf{m}^k) \odot \mathbf{M}^k` by modality, the mask detached."""
        return {m: (1 - mask[m].detach()) * x for m, x in features.items()}

    def _environment_lookup(self, data: HeteroData) -> tuple[Tensor, Tensor]:
        """The training interactions' sorted keys and their environments, drawn uniformly at
        random where none are held for ``data`` and re-inferred when an inference is due."""
        edge_index = self.train_edge_index(data)
        if self.environments is None or self.environments.numel() != edge_index.size(1):
            self.environments = torch.randint(self.num_envs, (edge_index.size(1),),
                                              device=edge_index.device)
            self._lookup_key = None
        if self._reinfer:
            self.environments = self.infer_environments(data)
            self._reinfer = False
            self._lookup_key = None
        key = (edge_index.data_ptr(), edge_index.size(1))
        if key != self._lookup_key:
            keys, order = (edge_index[0] * self.num_items + edge_index[1]).sort()
            self._lookup = (keys, self.environments[order])
            self._lookup_key = key
        return self._lookup

    def encode(self, data: HeteroData) -> Encoded:
        features = self.item_features(data)
        mask = self.mask(stochastic=self.training)
        invariant = {m: mask[m] * x for m, x in features.items()}
        out = self.encode_features(invariant)
        if not self.training:
            return out
        keys, environments = self._environment_lookup(data)
        return InvRLEncoded(**vars(out), invariant=invariant,
                            variant=self.variant_features(features, mask), edge_keys=keys,
                            edge_environments=environments)

    def environment_of(self, out: InvRLEncoded, user: Tensor, item: Tensor) -> Tensor:
        """The environment of each interaction ``(user, item)`` of a batch."""
        pos = torch.searchsorted(out.edge_keys, user * self.num_items + item)
        return out.edge_environments[pos.clamp(max=out.edge_keys.numel() - 1)]

    def environment_gradients(self, out: InvRLEncoded, user: Tensor, pos: Tensor, neg: Tensor,
                              env: Tensor) -> Tensor:
        r"""The gradients :math:`\nabla_{\mathbf{W}} \mathcal{R}^e` ``[E', P]`` of the
        environments present in the batch (flattened, the modalities side by side), in closed
        form and differentiable: with :math:`\tilde{\mathbf{f}}_i = [\mathbf{m}^k \odot
        \mathbf{M}^k_i]_k` the gated features and :math:`\hat y_{ui} = \ldots +
        \boldsymbol{\theta}_u^\top \sum_k \mathbf{W}_k (\mathbf{m}^k \odot
        \mathbf{M}^k_i)`, the BPR risk of the :math:`n_e` triplets of environment :math:`e`
        has

        .. math::
            \nabla_{\mathbf{W}} \mathcal{R}^e = \frac{1}{n_e} \sum_{(u,i,j) \in e}
            \sigma(\hat y_{uj} - \hat y_{ui})\, \boldsymbol{\theta}_u
            (\tilde{\mathbf{f}}_j - \tilde{\mathbf{f}}_i)^\top,

        one matrix product per environment instead of a double backward pass through the
        model (a training step three times faster on the synthetic data). The hidden-layer
        hook of a plug-in (DVIB's noise) is taken as the identity here."""
        u = out.user[user]
        coeff = torch.sigmoid((u * out.item[neg]).sum(-1) - (u * out.item[pos]).sum(-1))
        theta = out.user_multimedia[user] * coeff.unsqueeze(-1)
        names = list(self.encoder.proj)
        diff = torch.cat([out.invariant[m][neg] - out.invariant[m][pos] for m in names], dim=1)
        grads = []
        for e in env.unique():
            sel = env == e
            grads.append((theta[sel].t() @ diff[sel]).flatten() / sel.sum())
        return torch.stack(grads)

    def invariance_penalty(self, out: InvRLEncoded, user: Tensor, pos: Tensor, neg: Tensor,
                           env: Tensor) -> Tensor:
        r""":math:`\operatorname{tr}\operatorname{Var}_e(\nabla_{\mathbf{W}} \mathcal{R}^e)`
        (unweighted) over the environments present in the batch, differentiable."""
        return MF.gradient_variance(self.environment_gradients(out, user, pos, neg, env))

    def environment_loss(self, out: InvRLEncoded, user: Tensor, pos: Tensor, neg: Tensor,
                         env: Tensor) -> Tensor:
        r""":math:`\mathcal{L}_\text{env}`: the BPR loss of each triplet under its
        environment's model, averaged over the batch."""
        theta = out.user_multimedia[user].detach()
        total = theta.new_zeros(())
        for e in env.unique().tolist():
            sel = env == e
            model = self.env_models[e]
            pos_z, neg_z = (ModalityEncoder.fuse(model({m: x[items[sel]]
                                                        for m, x in out.variant.items()}))
                            for items in (pos, neg))
            t = theta[sel]
            total = total + sel.sum() * MF.bpr_loss((t * pos_z).sum(-1), (t * neg_z).sum(-1))
        return total / user.numel()

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        losses = super().batch_loss(out, user, pos, neg)
        if getattr(out, 'variant', None) is None:  # an evaluation-mode forward pass
            return losses
        env = self.environment_of(out, user, pos)
        irm = self.irm_weight * self.invariance_penalty(out, user, pos, neg, env)
        # lambda weighs the authors' batch-summed risk; this risk is the batch mean
        mask_reg = (self.mask_reg / user.numel()
                    * sum(mu.pow(2).sum() for mu in self.gate.values()))
        env_loss = self.environment_loss(out, user, pos, neg, env)
        return {**losses, 'loss': losses['loss'] + irm + mask_reg + env_loss, 'irm': irm,
                'mask_reg': mask_reg, 'env': env_loss}
