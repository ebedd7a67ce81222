from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.ib.plugin import PlugIn, probe_forward
from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender
from pyg_mmrec.params import Choice, Positive, Weight
from pyg_mmrec.registry import register

VARIANTS = ('adaptive', 'constant')
#: The self-distillation divergences (the paper's Table 6) and perturbations (Table 7).
DIVERGENCES = ('js', 'kl', 'reverse_kl')
NOISES = ('gaussian', 'uniform', 'dropout')


def hidden_tensors(backbone: Recommender, data: HeteroData) -> tuple[Encoded, list[Tensor]]:
    r"""One forward pass of ``backbone`` on ``data`` in evaluation mode, without gradients and
    leaving the random state as it was; returns its output and the tensors it passed through
    its hidden-layer hook (:meth:`~pyg_mmrec.nn.models.Recommender.hidden`), in order."""
    seen: list[Tensor] = []

    def record(h: Tensor) -> Tensor:
        seen.append(h)
        return h

    return probe_forward(backbone, data, backbone.perturb_hidden(record)), seen


def probe_hidden_dims(backbone: Recommender, data: HeteroData) -> tuple[int, ...]:
    r"""The distinct feature sizes of the tensors that ``backbone`` passes through its hidden
    layer hook in one forward pass on ``data`` (:func:`hidden_tensors`).

    Raises:
        ConfigError: If the backbone exposes no hidden layer.
    """
    out, seen = hidden_tensors(backbone, data)
    if out.hidden is None or not seen:
        raise ConfigError(
            f"DVIB needs a hidden layer H to perturb, but backbone "
            f"{type(backbone).__name__} exposes none (its encode returns hidden="
            f"{'None' if out.hidden is None else 'a tensor'} and passes "
            f"{len(seen)} tensors through self.hidden(...)); use a backbone that marks its "
            f"hidden layer with self.hidden(h)")
    return tuple(sorted({h.size(-1) for h in seen}))


class NoiseScale(torch.nn.Module):
    r"""The adaptive noise scale of DVIB_a, one per row of :math:`\mathbf{H}`:
    :math:`\phi = \mathrm{sigmoid}(\mathbf{W}_1\,\mathrm{ReLU}(\mathbf{W}_2\,
    \mathrm{ReLU}(\mathbf{W}_3 \mathbf{h})))` with hidden width 32 (Eq. 14).

    Args:
        in_channels (int): Size :math:`d` of the rows of :math:`\mathbf{H}`.
        hidden_channels (int): Width of the two hidden layers. (default: :obj:`32`)
    """
    def __init__(self, in_channels: int, hidden_channels: int = 32):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(in_channels, hidden_channels), torch.nn.ReLU(),
            torch.nn.Linear(hidden_channels, hidden_channels), torch.nn.ReLU(),
            torch.nn.Linear(hidden_channels, 1), torch.nn.Sigmoid())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.mlp:
            if isinstance(layer, torch.nn.Linear):
                layer.reset_parameters()

    def forward(self, h: Tensor) -> Tensor:
        """Returns the scales ``[N, 1]`` of the rows of ``h`` ``[N, d]``."""
        return self.mlp(h)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.in_channels}, {self.hidden_channels})'


@register('dvib')
class DVIB(PlugIn):
    r"""The DVIB plug-in from the `"DVIB: Towards Robust Multimodal Recommender Systems via
    Variational Information Bottleneck Distillation" <https://github.com/MarshmallowLight/DVIB>`_
    paper (Zhao et al., WWW 2025), on any backbone that marks its
    hidden layer :math:`\mathbf{H}` with :meth:`~pyg_mmrec.nn.models.Recommender.hidden`.

    Every training step runs the backbone twice: the original path, and a second one in which
    the hook of :meth:`~pyg_mmrec.nn.models.Recommender.perturb_hidden` replaces
    :math:`\mathbf{H}` by :math:`\mathbf{H} + \delta\mathbf{H}`, giving
    :math:`\mathbf{Z}_\delta = f_{\theta_2}(\mathbf{H} + \delta\mathbf{H})` (Eq. 7). The
    second pass computes only :math:`f_{\theta_2}`: what the backbone marks as not reading
    :math:`\mathbf{H}` (:meth:`~pyg_mmrec.nn.models.Recommender.shared`, e.g. the feature
    projections before it, or a user-item propagation of ID embeddings beside it) is taken
    from the first (:meth:`~pyg_mmrec.nn.models.Recommender.share_passes`), and the backward
    pass goes through it once. The noise
    is constant Gaussian, :math:`\delta\mathbf{H} \sim \mathcal{N}(\mathbf{0},
    \sigma^2\mathbf{I})` (DVIB\ :sub:`c`, ``variant='constant'``), or adaptive,
    :math:`\delta\mathbf{h}_n = \phi(\mathbf{h}_n)\,\boldsymbol{\epsilon}` with
    :math:`\boldsymbol{\epsilon} \sim \mathcal{N}(\mathbf{0}, \mathbf{I})` and one learned
    scale per row (DVIB\ :sub:`a`, ``variant='adaptive'``, :class:`NoiseScale`). The loss is
    (Eqs. 8-13)

    .. math::
        \mathcal{L} = \mathcal{L}_0(\mathbf{Z}) + \gamma_0\,\mathcal{L}_0(\mathbf{Z}_\delta)
        + \gamma_d\,\mathrm{JS}(\mathbf{Z}_\delta \,\|\, \mathbf{Z}) + \mathcal{L}_r,
        \qquad
        \mathcal{L}_r = \gamma_r \Big[\alpha_0 \|\mathbf{H}\|^2
        + \beta_0 \Big(\frac{\phi}{a} - \log\frac{\phi}{a} - 1\Big)\Big]
        \text{ (DVIB}_a\text{; 0 for DVIB}_c\text{)},

    where :math:`\mathcal{L}_0` is the backbone's own
    :meth:`~pyg_mmrec.nn.models.Recommender.batch_loss` (BPR, or a self-supervised objective),
    :math:`\mathrm{JS}` is :func:`~pyg_mmrec.functional.js_divergence` and the regulariser is
    :func:`~pyg_mmrec.functional.dvib_regularizer`. Inference is the backbone's alone: the
    perturbed path exists only inside :meth:`loss`.

    Choices the paper leaves open, written down here:

    * What :math:`\mathbf{Z}` is: every representation table of the forward pass, restricted
      to the batch's distinct nodes: the users' rows, the positive and negative items' rows,
      and each modality's item rows (:attr:`~pyg_mmrec.nn.models.Encoded.modality`); the
      softmax runs over the features of each row, :math:`\mathrm{JS}` averages over the rows
      and is summed over the tables. So :math:`\mathbf{Z}` is wherever the perturbation
      surfaces: the final representations when :math:`\mathbf{H}` feeds them, the modality
      representations for BM3, whose :math:`\mathbf{H}` never reaches the scores (the
      authors' BM3 code distils those, summed over modalities); a table the noise does not
      reach adds exactly zero. (The authors'
      VBPR code compares the scores of the batch's users against all items instead, a
      ``[B, I]`` matrix per step.) Both paths receive gradients (the paper's loss has no
      stop-gradient).
    * Where a backbone passes several tensors through its hook (e.g. one per modality when it
      has no fusion), each is perturbed, :math:`\mathcal{L}_r` sums over them (the divergence
      of their concatenation), and rows of equal size share one :class:`NoiseScale`, as the
      authors' BM3 code shares it between text and image.
    * :math:`\delta\mathbf{H} = \phi\,\boldsymbol{\epsilon}` as in Eq. 12 (:math:`\phi` a
      standard deviation), while Theorem 3.1 reads :math:`\phi` as the variance of
      :math:`\mathcal{N}(\mathbf{H}, \phi\mathbf{I})`; the regulariser keeps the paper's form.
      :math:`\alpha_0` and :math:`\beta_0` (constants in the paper, values unstated) are 1;
      with :math:`\alpha_0 = 1/(2a)` and :math:`\beta_0 = d/2` :math:`\mathcal{L}_r` is exactly
      :math:`\gamma_r\,\mathrm{KL}(\mathcal{N}(\mathbf{H}, \phi\mathbf{I}) \,\|\,
      \mathcal{N}(\mathbf{0}, a\mathbf{I}))` per row.
    * The size :math:`d` of :math:`\mathbf{H}` is read from the data by :meth:`from_data` (one
      forward pass of the backbone, see :func:`probe_hidden_dims`), so checkpoints rebuild the same
      :class:`NoiseScale` modules.
    * The alternatives of the paper's ablations, which it names without defining them:
      ``divergence='kl'`` distils with :math:`\mathrm{KL}(\mathbf{Z} \,\|\,
      \mathbf{Z}_\delta)` and ``'reverse_kl'`` with :math:`\mathrm{KL}(\mathbf{Z}_\delta
      \,\|\, \mathbf{Z})` (:func:`~pyg_mmrec.functional.softmax_kl`, Table 6);
      ``noise='uniform'`` draws :math:`\boldsymbol{\epsilon}` from
      :math:`U(-\sqrt{3}, \sqrt{3})`, which has the Gaussian's mean and variance but no
      concentration around zero, so :math:`\sigma` and :math:`\phi` stay standard deviations;
      ``noise='dropout'`` zeroes each entry of :math:`\mathbf{H}` with probability :math:`p`
      and rescales the rest by :math:`1/(1-p)`, i.e. :math:`\delta\mathbf{H} = \mathbf{H}
      \odot (\mathbf{m}/(1-p) - 1)`, with :math:`p = \sigma` (DVIB\ :sub:`c`) or the row's
      :math:`\phi` (DVIB\ :sub:`a`) (Table 7). ``clean_loss=False`` drops
      :math:`\mathcal{L}_0(\mathbf{Z})` and ``gamma_0=0`` drops
      :math:`\mathcal{L}_0(\mathbf{Z}_\delta)` (Fig. 4).

    Defaults follow the paper's appendix B: :math:`\gamma_0 = 1`, :math:`\gamma_r = 10^{-3}`,
    :math:`a = 0.5`; :math:`\gamma_d` is searched in :math:`\{0.5, 0.1, 0.01\}` and
    :math:`\sigma` in :math:`\{10^{-3}, 5 \cdot 10^{-4}, 10^{-4}\}` (defaults: the middle and
    the first value).

    Args:
        backbone (Recommender): The wrapped model.
        variant (str): ``'adaptive'`` (DVIB\ :sub:`a`) or ``'constant'`` (DVIB\ :sub:`c`).
            (default: :obj:`'adaptive'`)
        gamma_0 (float): Weight :math:`\gamma_0` of the perturbed path's loss.
            (default: :obj:`1.0`)
        gamma_d (float): Weight :math:`\gamma_d` of the self-distillation.
            (default: :obj:`0.1`)
        gamma_r (float): Weight :math:`\gamma_r` of the regulariser (DVIB\ :sub:`a`).
            (default: :obj:`1e-3`)
        sigma (float): Standard deviation :math:`\sigma` of the constant noise (DVIB\ :sub:`c`).
            (default: :obj:`1e-3`)
        a (float): Variance :math:`a` of the prior :math:`\mathcal{N}(\mathbf{0}, a\mathbf{I})`
            (DVIB\ :sub:`a`). (default: :obj:`0.5`)
        alpha_0 (float): Weight :math:`\alpha_0` of :math:`\|\mathbf{H}\|^2` in the
            regulariser. (default: :obj:`1.0`)
        beta_0 (float): Weight :math:`\beta_0` of the scale term in the regulariser.
            (default: :obj:`1.0`)
        relative (bool): Multiply the noise of each row :math:`\mathbf{h}_n` by its root
            mean square (without gradient), so that :math:`\phi` and :math:`\sigma` are
            noise-to-signal ratios rather than absolute standard deviations. The paper's
            feature backbones perturb features of order 1, where the two readings agree in
            scale; on hidden layers of ID embeddings (LayerGCN, SelfCF; entries of order
            0.01-0.1) an absolute :math:`\phi` near its prior :math:`a` drowns
            :math:`\mathbf{H}` in noise. Additive noise only. (default: :obj:`False`)
        divergence (str): The self-distillation divergence: ``'js'`` (the paper's),
            ``'kl'`` (:math:`\mathrm{KL}(\mathbf{Z} \,\|\, \mathbf{Z}_\delta)`) or
            ``'reverse_kl'``. (default: :obj:`'js'`)
        noise (str): The perturbation: ``'gaussian'`` (the paper's), ``'uniform'`` or
            ``'dropout'``. (default: :obj:`'gaussian'`)
        clean_loss (bool): Keep the original path's loss :math:`\mathcal{L}_0(\mathbf{Z})`
            (its training terms still appear in the losses for the log).
            (default: :obj:`True`)
        hidden_dims (iterable of int, optional): Sizes of the rows the backbone passes through
            its hook; needed by DVIB\ :sub:`a`, filled in by :meth:`from_data`.
    """
    required_capabilities = (frozenset({Capability.HIDDEN}),)

    def __init__(self, backbone: Recommender, variant: Choice(*VARIANTS) = 'adaptive',
                 gamma_0: Weight = 1.0,
                 gamma_d: Weight = 0.1, gamma_r: Weight = 1e-3, sigma: Weight = 1e-3,
                 a: Positive = 0.5, alpha_0: Weight = 1.0, beta_0: Weight = 1.0,
                 relative: bool = False, divergence: Choice(*DIVERGENCES) = 'js',
                 noise: Choice(*NOISES) = 'gaussian', clean_loss: bool = True, *,
                 hidden_dims: Iterable[int] | None = None):
        super().__init__(backbone)
        self.variant = variant
        self.gamma_0 = gamma_0
        self.gamma_d = gamma_d
        self.gamma_r = gamma_r
        self.sigma = sigma
        self.a = a
        self.alpha_0 = alpha_0
        self.beta_0 = beta_0
        self.relative = relative
        self.divergence = divergence
        self.noise = noise
        self.clean_loss = clean_loss
        if noise == 'dropout' and relative:
            raise ConfigError("DVIB: relative=true scales additive noise; noise='dropout' is "
                              "relative to each entry already")
        if noise == 'dropout' and variant == 'constant' and sigma >= 1:
            raise ConfigError(f"DVIB: with noise='dropout', sigma is the probability of "
                              f"dropping an entry and must be below 1, got {sigma}")
        if variant == 'adaptive' and not hidden_dims:
            raise ConfigError("DVIB_a needs the size of the backbone's hidden layer: build it "
                              "with DVIB.from_data(data, ...) or pass hidden_dims")
        self.hidden_dims = tuple(sorted(set(hidden_dims or ())))
        # Keyed by the size of H (ModuleDict keys are strings); empty for DVIB_c. The new
        # modules initialise themselves; the backbone is not re-initialised, so that a DVIB run
        # starts from the same backbone weights as the bare run of the same seed.
        self.noise_scale = torch.nn.ModuleDict(
            {str(d): NoiseScale(d) for d in self.hidden_dims} if variant == 'adaptive' else {})

    @classmethod
    def data_args(cls, backbone: Recommender, data: HeteroData) -> dict[str, Any]:
        return {'hidden_dims': probe_hidden_dims(backbone, data)}

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for net in self.noise_scale.values():
            net.reset_parameters()

    def _noise_hook(self, seen: list[tuple[Tensor, Tensor | None]]):
        """The perturbation H -> H + delta H; records each clean H with its scales (or None)
        in ``seen``, for the regulariser."""
        def perturb(h: Tensor) -> Tensor:
            if self.variant == 'constant':
                seen.append((h, None))
                return h + self._delta(h, self.sigma)
            key = str(h.size(-1))
            if key not in self.noise_scale:
                raise ConfigError(f"DVIB: the backbone's hidden layer has rows of size "
                                  f"{h.size(-1)}, but the noise scales were built for "
                                  f"{list(self.hidden_dims)}; build DVIB with from_data on "
                                  f"this dataset")
            phi = self.noise_scale[key](h)
            seen.append((h, phi))
            return h + self._delta(h, phi)
        return perturb

    def _delta(self, h: Tensor, scale: float | Tensor) -> Tensor:
        """The perturbation :math:`\\delta\\mathbf{H}` of ``h`` at ``scale`` (:math:`\\sigma`, or
        the rows' :math:`\\phi`): a standard deviation, or a dropout probability."""
        if self.noise == 'dropout':
            keep = torch.rand_like(h) >= scale
            return h * (keep / (1 - scale) - 1)
        if self.noise == 'uniform':
            noise = (torch.rand_like(h) * 2 - 1) * math.sqrt(3)
        else:
            noise = torch.randn_like(h)
        if self.relative:
            noise = noise * h.detach().pow(2).mean(-1, keepdim=True).sqrt()
        return scale * noise

    def loss(self, data: HeteroData, user: Tensor, pos: Tensor, neg: Tensor
             ) -> dict[str, Tensor]:
        """The DVIB objective of a batch: the backbone's terms on the original path, plus
        ``'dvib_noisy'`` (:math:`\\gamma_0 \\mathcal{L}_0(\\mathbf{Z}_\\delta)`), ``'dvib_js'``
        (the weighted self-distillation) and ``'dvib_reg'`` (:math:`\\mathcal{L}_r`), which add
        up to ``'loss'``."""
        seen: list[tuple[Tensor, Tensor | None]] = []
        # The perturbed pass recomputes only what depends on H or draws random numbers.
        with self.backbone.share_passes():
            clean = self.backbone.encode(data)
            losses = self.backbone.batch_loss(clean, user, pos, neg)
            with self.backbone.perturb_hidden(self._noise_hook(seen)):
                noisy = self.backbone.encode(data)
        if not seen:
            raise ConfigError(f"DVIB: backbone {type(self.backbone).__name__} passed no "
                              f"tensor through self.hidden(...) in its forward pass")
        noisy_loss = self.gamma_0 * self.backbone.batch_loss(noisy, user, pos, neg)['loss']
        distill = self.gamma_d * self._distillation(noisy, clean, user, pos, neg)
        reg = sum((self.gamma_r * MF.dvib_regularizer(h, phi, self.a, self.alpha_0,
                                                      self.beta_0)
                   for h, phi in seen if phi is not None), clean.user.new_zeros(()))
        clean_loss = losses['loss'] if self.clean_loss else 0.0
        return {**losses, 'loss': clean_loss + noisy_loss + distill + reg,
                'dvib_noisy': noisy_loss, 'dvib_js': distill, 'dvib_reg': reg}

    def _distillation(self, noisy: Encoded, clean: Encoded, user: Tensor, pos: Tensor,
                      neg: Tensor) -> Tensor:
        """The self-distillation divergence of the batch (JS(Z_delta || Z) by default),
        summed over the representation tables."""
        users, items = user.unique(), torch.cat([pos, neg]).unique()
        tables = [(noisy.user, clean.user, users), (noisy.item, clean.item, items)]
        tables += [(noisy.modality[m], z, items) for m, z in clean.modality.items()]
        # A table the noise did not reach has JS exactly 0 and no gradient: skip its cost.
        divergence = {'js': MF.js_divergence, 'kl': lambda zd, z: MF.softmax_kl(z, zd),
                      'reverse_kl': MF.softmax_kl}[self.divergence]
        return sum((divergence(z_delta[rows], z[rows]) for z_delta, z, rows in tables
                    if z_delta is not z and not torch.equal(z_delta, z)),
                   noisy.item.new_zeros(()))

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.backbone!r}, variant={self.variant!r}, '
                f'gamma_d={self.gamma_d}, sigma={self.sigma}, relative={self.relative}, '
                f'divergence={self.divergence!r}, noise={self.noise!r})')
