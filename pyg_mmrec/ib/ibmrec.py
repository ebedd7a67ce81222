from __future__ import annotations

import functools
from typing import Annotated, Any

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

import pyg_mmrec.functional as MF
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.ib.plugin import PlugIn, probe_forward
from pyg_mmrec.nn.conv import PreferenceMaskConv
from pyg_mmrec.nn.models import Capability, Encoded, Recommender, Stage
from pyg_mmrec.params import Positive, Range, Weight
from pyg_mmrec.registry import register
from pyg_mmrec.utils import batch_items

#: The HSIC sample and the mask MLP need at least two rows / units.
AtLeast2 = Annotated[int, Range(2, 2**16)]


#: What each module needs of the backbone: FIB a representation with a multimedia part built
#: from the raw features, GIB an item-item graph whose weights it can mask.
FIB_NEEDS = frozenset({Capability.MODALITY, Capability.MULTIMEDIA})
GIB_NEEDS = frozenset({Capability.ITEM_GRAPH})


def probe_item_graph_channels(backbone: Recommender, data: HeteroData) -> int:
    """The size of the item states (multimedia and collaborative, side by side) that
    ``backbone`` passes to its item-graph hook in one forward pass on ``data``.

    Raises:
        ConfigError: If the backbone passes no item graph through the hook.
    """
    seen: list[int] = []

    def record(edge_index, edge_weight, collaborative, multimedia):
        seen.append(collaborative.size(1) + (0 if multimedia is None else multimedia.size(1)))
        return edge_weight

    probe_forward(backbone, data, backbone.perturb_item_graph(record))
    if not seen:
        raise ConfigError(f"IBMRec: backbone {type(backbone).__name__} declares an item graph "
                          f"but passes none through self.item_graph_weight(...)")
    return seen[0]


@register('ibmrec')
class IBMRec(PlugIn):
    r"""The IBMRec plug-in from the `"Less is More: Information Bottleneck Denoised Multimedia
    Recommendation" <https://arxiv.org/abs/2501.12175>`_ paper (Yang et al.): feature-level (FIB)
    and graph-level (GIB) information bottlenecks on a multimedia backbone, which it wraps
    without editing.

    **FIB** (§4.2) keeps the per-modality representations :math:`\mathbf{Z}^k` of a backbone
    with VBPR's :math:`[\text{ID} \,\|\, \text{multimedia}]` representations (capabilities
    :attr:`~pyg_mmrec.nn.models.Capability.MODALITY` and
    :attr:`~pyg_mmrec.nn.models.Capability.MULTIMEDIA`: VBPR, VLightGCN, VLATTICE) from
    copying the raw features :math:`\mathbf{M}^k`, and has them serve the users' preferences:
    the main loss gains (Eq. 22)

    .. math::
        \alpha\, \mathcal{L}_\text{FIB} = \alpha \sum_k \widehat{\mathrm{HSIC}}(\mathbf{Z}^k,
        \mathbf{M}^k),

    and after each step on it a second stage (Algorithm 1, line 12) steps a separate optimiser
    over the multimedia parameters :math:`\Theta_2 = [\mathbf{C}, \mathbf{Z}]` only (the
    backbone's :meth:`~pyg_mmrec.nn.models.Recommender.multimedia_parameters`: the users'
    multimedia embeddings and the modality projections) on the in-batch InfoNCE of Eq. 31,

    .. math::
        \mathcal{L}_2 = -\frac{1}{N} \sum_{(a,i) \in \mathcal{B}} \log
        \frac{\exp(\cos(\mathbf{c}_a, \mathbf{z}_i)/\tau)}
        {\sum_{j \in \mathcal{B}_v} \exp(\cos(\mathbf{c}_a, \mathbf{z}_j)/\tau)},

    with :math:`\mathbf{c}_a` and :math:`\mathbf{z}_i` the multimedia parts of the final user
    and item representations (:attr:`~pyg_mmrec.nn.models.Encoded.user_multimedia` and
    :attr:`~pyg_mmrec.nn.models.Encoded.item_multimedia`, whose inner product is the multimedia part
    :math:`g(\mathbf{c}_a, \mathbf{z}_i)` of the score) and :math:`\mathcal{B}_v` the batch's
    positive items (:func:`~pyg_mmrec.functional.info_nce`, one-sided).

    **GIB** (§4.3) masks the item-item graph :math:`\mathbf{S}` of a backbone that has one
    (capability :attr:`~pyg_mmrec.nn.models.Capability.ITEM_GRAPH`: LATTICE, VLATTICE,
    FREEDOM) through its :meth:`~pyg_mmrec.nn.models.Recommender.perturb_item_graph`
    hook with a learned relaxed Bernoulli mask (:class:`~pyg_mmrec.nn.conv.PreferenceMaskConv`,
    Eqs. 23–24, over the items' multimedia and collaborative states :math:`[\mathbf{z}_i \,\|\,
    \mathbf{q}_i]`); the scores use the representations :math:`\mathbf{Y}'` from the masked
    graph :math:`\mathbf{S}'` (Eq. 29), and the main loss gains (Eq. 28)

    .. math::
        \beta\, \mathcal{L}_\text{GIB} = \beta\, \widehat{\mathrm{HSIC}}(\mathbf{Y}',
        \mathbf{Y}),

    with :math:`\mathbf{Y}` the representations from the original graph :math:`\mathbf{S}`.
    In evaluation the mask is its expected value (deterministic).

    Each module applies to every backbone with the capabilities it needs, which on the
    paper's four backbones is where its Table 3 applies them (FIB on VBPR, VLightGCN and
    VLATTICE, GIB on LATTICE and VLATTICE: LATTICE's projections only shape its graph, its
    representations have no multimedia part); ``fib`` and ``gib`` switch them off for the
    ablations of Table 4, and ``second_stage=False`` keeps FIB's HSIC term without its
    InfoNCE stage (``alpha=0`` keeps the stage alone), to tell FIB's two parts apart. With
    ``fib`` and ``gib`` off (or none applicable), the model, its loss, its scores and its
    random-number use are exactly the backbone's. A backbone with the capabilities of neither
    module is refused with a :class:`~pyg_mmrec.errors.ConfigError` naming what it lacks. The
    backbone is not re-initialised, so a run starts from the same backbone weights as the bare
    run of the same seed.

    Choices the paper leaves open, written down here:

    * Both HSIC terms are estimated on the batch's distinct items (positives and negatives),
      at most ``hsic_items`` of them drawn at random: the estimator costs :math:`O(n^2)`, and
      512 items keep it at a few times the cost of the backbone's own step on a CPU.
    * The HSIC bandwidth defaults to the median heuristic rather than the paper's fixed
      :math:`\sigma^2 \in [0.15, 0.25]`: on unnormalised or high-dimensional inputs a fixed
      small bandwidth makes the kernel nearly the identity, and minimising HSIC could shrink
      :math:`\mathbf{Z}` instead of removing information (see :func:`~pyg_mmrec.functional.
      hsic`). ``sigma2=0.2 hsic_normalize=true`` gives the paper's parametrisation.
      :math:`\alpha = 1` and :math:`\beta = 0.5` are the paper's best values on Baby and Sports
      (Figs. 5–6); they were tuned for its fixed bandwidth, so re-tune them.
    * :math:`\mathbf{Y}` is a fixed reference: it is computed without gradients, so that
      :math:`\mathcal{L}_\text{GIB}` trains the path through :math:`\mathbf{S}'` (the mask and
      the representations it propagates), not the reference. The masked weights are not
      renormalised: the backbones add the item-graph branch row-normalised anyway.
    * The mask MLP sees :math:`[\mathbf{z}_i \,\|\, \mathbf{q}_i]` as the backbone passes them
      to its hook: VLATTICE's :math:`\mathbf{Z}^0` and :math:`\mathbf{Q}^0`, LATTICE's
      :math:`\sum_m \mathbf{Z}^m` and item ID embeddings (the ID embeddings alone on a dataset
      with precomputed graphs but no features). Gradients flow into those states.
    * The second stage propagates over a fresh mask sample drawn without gradients: it
      updates :math:`\Theta_2` through the representations, not through the mask's input
      (which saves a backward pass through the per-edge MLP, the largest cost of GIB).
    * :math:`\tau = 0.2` (not given in the paper) and the mask MLP's hidden size 64 are common
      choices; the second stage uses the trainer's learning rate.

    Args:
        backbone (Recommender): A backbone with the capabilities of FIB, of GIB, or both.
        fib (bool): Use FIB where it applies. (default: :obj:`True`)
        gib (bool): Use GIB where it applies. (default: :obj:`True`)
        second_stage (bool): Run FIB's second stage (the InfoNCE step on
            :math:`\Theta_2`) where FIB applies. (default: :obj:`True`)
        alpha (float): FIB weight :math:`\alpha`. (default: :obj:`1.0`)
        beta (float): GIB weight :math:`\beta`. (default: :obj:`0.5`)
        sigma2 (float, optional): RBF bandwidth :math:`\sigma^2` of the HSIC kernels;
            :obj:`None` for the median heuristic. (default: :obj:`None`)
        hsic_normalize (bool): Scale rows to unit norm before the HSIC kernels.
            (default: :obj:`False`)
        hsic_items (int): Most items in one HSIC estimate. (default: :obj:`512`)
        tau (float): Temperature :math:`\tau` of the second stage's InfoNCE.
            (default: :obj:`0.2`)
        mask_hidden (int): Hidden size of the GIB mask MLP. (default: :obj:`64`)
        mask_temperature (float): Concrete temperature of the GIB mask. (default: :obj:`0.2`)
    """
    default_backbone = 'vlattice'
    required_capabilities = (FIB_NEEDS, GIB_NEEDS)

    def __init__(self, backbone: Recommender, fib: bool = True, gib: bool = True,
                 second_stage: bool = True, alpha: Weight = 1.0, beta: Weight = 0.5,
                 sigma2: Positive | None = None,
                 hsic_normalize: bool = False, hsic_items: AtLeast2 = 512, tau: Positive = 0.2,
                 mask_hidden: AtLeast2 = 64, mask_temperature: Positive = 0.2, *,
                 mask_channels: int | None = None):
        super().__init__(backbone)
        self.fib = fib
        self.gib = gib
        self.second_stage = second_stage
        self.alpha = alpha
        self.beta = beta
        self.sigma2 = sigma2
        self.hsic_normalize = hsic_normalize
        self.hsic_items = hsic_items
        self.tau = tau
        self.mask_hidden = mask_hidden
        self.mask_temperature = mask_temperature
        #: Whether each module is active on this backbone (from its capabilities).
        self.uses_fib = fib and FIB_NEEDS <= backbone.capabilities
        self.uses_gib = gib and GIB_NEEDS <= backbone.capabilities
        self.mask = None
        if self.uses_gib:
            if mask_channels is None:
                raise ConfigError("IBMRec's GIB needs the size of the item states the backbone "
                                  "passes to its item-graph hook: build it with "
                                  "IBMRec.from_data(data, ...) or pass mask_channels")
            self.mask = PreferenceMaskConv(mask_channels, mask_hidden,
                                           temperature=mask_temperature)

    @classmethod
    def data_args(cls, backbone: Recommender, data: HeteroData) -> dict[str, Any]:
        if GIB_NEEDS <= backbone.capabilities:
            return {'mask_channels': probe_item_graph_channels(backbone, data)}
        return {}

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.mask is not None:
            self.mask.reset_parameters()

    def _mask_hook(self, edge_index: Tensor, edge_weight: Tensor, collaborative: Tensor,
                   multimedia: Tensor | None, mask_grad: bool = True) -> Tensor:
        states = collaborative if multimedia is None else torch.cat([multimedia, collaborative],
                                                                   dim=1)
        with torch.set_grad_enabled(mask_grad and torch.is_grad_enabled()):
            mask = self.mask.edge_mask(states, edge_index)
        return edge_weight * mask

    def encode(self, data: HeteroData, mask_grad: bool = True) -> Encoded:
        """The backbone's forward pass, over the masked item graph :math:`\\mathbf{S}'` when GIB
        is used; ``mask_grad=False`` samples the mask without gradients (the second stage)."""
        if not self.uses_gib:
            return self.backbone.encode(data)
        with self.backbone.perturb_item_graph(functools.partial(self._mask_hook,
                                                                mask_grad=mask_grad)):
            return self.backbone.encode(data)

    def loss(self, data: HeteroData, user: Tensor, pos: Tensor, neg: Tensor
             ) -> dict[str, Tensor]:
        # GIB's reference pass over S runs at the same parameters as the masked one: it
        # recomputes only what depends on the item graph (Recommender.shared).
        with self.backbone.share_passes():
            out = self.encode(data)
            losses = self.backbone.batch_loss(out, user, pos, neg)
            if not (self.uses_fib or self.uses_gib):
                return losses
            items = batch_items(pos, neg, self.hsic_items)
            extra = {}
            if self.uses_fib:
                features = self.item_features(data)
                extra['fib'] = self.alpha * sum(self._hsic(z[items], features[m][items])
                                                for m, z in out.modality.items())
            if self.uses_gib:
                with torch.no_grad():
                    reference = self.backbone.encode(data).item[items]
                extra['gib'] = self.beta * self._hsic(out.item[items], reference)
        return {**losses, 'loss': losses['loss'] + sum(extra.values()), **extra}

    def _hsic(self, x: Tensor, y: Tensor) -> Tensor:
        return MF.hsic(x, y, self.sigma2, self.hsic_normalize)

    def contrastive_loss(self, data: HeteroData, user: Tensor, pos: Tensor, neg: Tensor
                         ) -> Tensor:
        r"""The second stage's InfoNCE :math:`\mathcal{L}_2` (Eq. 31) on the batch's
        (user, positive) pairs."""
        out = self.encode(data, mask_grad=False)
        return MF.info_nce(out.user_multimedia[user], out.item_multimedia[pos], self.tau)

    def stages(self) -> list[Stage]:
        if not (self.uses_fib and self.second_stage):
            return super().stages()
        return [*super().stages(),
                Stage('infonce', self.multimedia_parameters(), self.contrastive_loss)]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.backbone!r}, fib={self.uses_fib}, '
                f'gib={self.uses_gib}, alpha={self.alpha}, beta={self.beta})')
