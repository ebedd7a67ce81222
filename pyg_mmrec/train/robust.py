r"""Robust training methods: how the trainer turns a batch into optimisation steps.

A training method is independent of the model: the :class:`~pyg_mmrec.train.Trainer` asks its
method for the loss of a batch (:meth:`TrainingMethod.loss`) and for the scales of the steps it
takes on that batch (:meth:`TrainingMethod.scales`), whatever the model (a backbone, or a
plug-in such as :class:`~pyg_mmrec.ib.DVIB` around one). The trainer setting ``robust`` picks
one (:func:`training_method`):

* ``'none'``: one step on the model's own :meth:`~pyg_mmrec.nn.models.Recommender.loss`;
* ``'amr'``: :class:`AMR`, adversarial perturbations of the item features (needs a model with
  the :attr:`~pyg_mmrec.nn.models.Capability.MODALITY` capability);
* ``'mg'``: :class:`MirrorGradient`, a mirrored step every few batches (any model).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.nn.models.recommender import Capability, Recommender
from pyg_mmrec.registry import MODELS
from pyg_mmrec.schema import graph_modalities, modalities

if TYPE_CHECKING:
    from pyg_mmrec.train.config import TrainConfig


class TrainingMethod:
    r"""Plain training (``robust='none'``): one step per batch on the model's own loss
    :math:`\mathcal{L}(\Theta)`. Subclasses change the loss (:class:`AMR`) or the steps
    (:class:`MirrorGradient`)."""
    #: The setting ``robust`` that selects the method.
    name: ClassVar[str] = 'none'
    #: What the model must offer (:meth:`~pyg_mmrec.nn.models.Recommender.offered_capabilities`).
    required_capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def loss(self, model: Recommender, data: HeteroData, user: Tensor, pos: Tensor,
             neg: Tensor) -> dict[str, Tensor]:
        """The objective of a batch (``'loss'``, with its weighted terms for logging)."""
        return model.loss(data, user, pos, neg)

    def scales(self, batch: int) -> tuple[float, ...]:
        """The steps taken on the ``batch``-th batch of an epoch, in order: each a fresh
        :meth:`loss` at the current parameters, multiplied by its scale, then one step of the
        optimiser."""
        return (1.0,)

    def check_data(self, data: HeteroData) -> None:
        """Refuses a dataset the method cannot act on (nothing by default)."""

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v}' for k, v in vars(self).items())
        return f'{self.__class__.__name__}({args})'


class AMR(TrainingMethod):
    r"""Adversarial training of the multimedia content, from the `"Adversarial Training
    Towards Robust Multimedia Recommender System" <https://arxiv.org/abs/1809.07062>`_ paper
    (Tang et al., IEEE TKDE 2019), on any model that reads raw item features (the
    :attr:`~pyg_mmrec.nn.models.Capability.MODALITY` capability).

    Each batch, the features :math:`\mathbf{M}^k` of every modality are moved in the direction
    that increases the model's loss most, to first order, by :math:`\epsilon` per item (Eq. 9
    of the paper):

    .. math::
        \boldsymbol{\Delta}^k_i = \epsilon\,
        \frac{\boldsymbol{\Gamma}^k_i}{\|\boldsymbol{\Gamma}^k_i\|_2}, \qquad
        \boldsymbol{\Gamma}^k = \frac{\partial \mathcal{L}(\Theta;\, \mathbf{M})}
        {\partial \mathbf{M}^k},

    and the model is trained on its loss plus the loss under that perturbation (Eq. 8):

    .. math::
        \mathcal{L}_{\mathrm{AMR}} = \mathcal{L}(\Theta;\, \mathbf{M})
        + \lambda\, \mathcal{L}(\Theta;\, \mathbf{M} + \boldsymbol{\Delta}).

    The perturbation reaches the model through its
    :meth:`~pyg_mmrec.nn.models.Recommender.perturb_features` hook, so item-item graphs
    computed from the features before training (LATTICE's, FREEDOM's frozen kNN graphs) stay
    as they are.

    Choices the paper leaves open, written down here:

    * :math:`\mathcal{L}` is the model's whole training objective
      (:meth:`~pyg_mmrec.nn.models.Recommender.loss`): BPR plus the L2 term for a BPR model
      (the paper's VBPR takes the gradient of BPR alone; the L2 term's share of it is of the
      order of ``reg_weight``), a self-supervised objective for BM3, and DVIB's whole loss when
      the model is :class:`~pyg_mmrec.ib.DVIB` (so ``--model dvib --set robust=amr`` adds
      :math:`\lambda` times DVIB's objective on the perturbed features to DVIB's).
    * The gradient is normalised per item and per modality: each row
      :math:`\boldsymbol{\Gamma}^k_i` separately, as the authors' code normalises each item's
      row of its one (image) modality; a row with no gradient (an item the batch does not
      reach) is not perturbed.
    * :math:`\boldsymbol{\Delta}` is a constant of the step: no gradient flows through it (the
      minimax of Eq. 8; the authors' TensorFlow code calls ``tf.stop_gradient`` without using
      its result, so gradients there do reach it).
    * The adversarial term is trained from the first epoch on; the paper starts AMR from a
      trained VBPR (a run can do so by resuming from a bare run's checkpoint).

    Defaults are those of the authors' released run script (``run.sh``): :math:`\epsilon =
    0.1` and :math:`\lambda = 1` (also the default :math:`\lambda` of their ``main.py``).
    :math:`\epsilon` is an absolute size, set there for the paper's ResNet image features;
    scale it to the norms of other features (tiktok's image rows have norms near 33, its
    audio rows near 4.5).

    Args:
        epsilon (float): Size :math:`\epsilon` of each item's perturbation, per modality.
        weight (float): Weight :math:`\lambda` of the adversarial term.
    """
    name = 'amr'
    required_capabilities = frozenset({Capability.MODALITY})

    def __init__(self, epsilon: float, weight: float):
        self.epsilon = epsilon
        self.weight = weight

    def check_data(self, data: HeteroData) -> None:
        if not modalities(data):
            graphs = graph_modalities(data)
            raise DataError(f"robust='amr' perturbs the item feature matrices "
                            f"(data['item'].x_<modality>), but dataset "
                            f"{getattr(data, 'name', '?')!r} has none"
                            + (f"; it has only item-item graphs ({', '.join(graphs)})"
                               if graphs else ''))

    def perturbation(self, model: Recommender, data: HeteroData, user: Tensor, pos: Tensor,
                     neg: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        r"""The model's loss of the batch on the clean features, and the adversarial
        perturbation :math:`\boldsymbol{\Delta}^k` ``[I, d_k]`` of each modality (detached).

        Raises:
            ConfigError: If the model read no features through
                :meth:`~pyg_mmrec.nn.models.Recommender.item_features`.
        """
        # The gradient with respect to M^k is the gradient with respect to a zero offset
        # added to it; one offset per modality, shared by every forward pass of the loss.
        offsets: dict[str, Tensor] = {}

        def offset(m: str, x: Tensor) -> Tensor:
            if m not in offsets:
                offsets[m] = torch.zeros_like(x, requires_grad=True)
            return x + offsets[m]

        with model.perturb_features(offset):
            losses = model.loss(data, user, pos, neg)
        if not offsets:
            raise ConfigError(f"robust='amr': model {type(model).__name__} read no item "
                              f"features through self.item_features(data) in its loss")
        names = list(offsets)
        grads = torch.autograd.grad(losses['loss'], [offsets[m] for m in names],
                                    retain_graph=True, allow_unused=True)
        delta = {m: (torch.zeros_like(offsets[m]) if g is None
                     else self.epsilon * F.normalize(g, dim=-1))
                 for m, g in zip(names, grads, strict=True)}
        return losses, delta

    def loss(self, model: Recommender, data: HeteroData, user: Tensor, pos: Tensor,
             neg: Tensor) -> dict[str, Tensor]:
        """:math:`\\mathcal{L}_{\\mathrm{AMR}}` of the batch: the model's terms, plus
        ``'amr_adv'`` (:math:`\\lambda\\,\\mathcal{L}(\\Theta; \\mathbf{M} +
        \\boldsymbol{\\Delta})`), which add up to ``'loss'``."""
        losses, delta = self.perturbation(model, data, user, pos, neg)
        with model.perturb_features(lambda m, x: x + delta[m]):
            adversarial = self.weight * model.loss(data, user, pos, neg)['loss']
        return {**losses, 'loss': losses['loss'] + adversarial, 'amr_adv': adversarial}


class MirrorGradient(TrainingMethod):
    r"""Mirror Gradient, from the `"Mirror Gradient: Towards Robust Multimodal Recommender
    Systems via Exploring Flat Local Minima" <https://arxiv.org/abs/2402.11262>`_ paper (Zhong
    et al., WWW 2024), on any model.

    Every :math:`\beta`-th batch of an epoch (the 0th, the :math:`\beta`-th, ...), the
    optimiser takes two steps instead of one: a step on :math:`\alpha_1` times the loss, then,
    with the loss recomputed at the new parameters on the same batch, a *mirrored* step on
    :math:`-\alpha_2` times it; every other batch takes the usual step. With plain gradient
    descent of learning rate :math:`\eta`, the mirrored pair is

    .. math::
        \Theta_{t+1} = \Theta_t - \eta\,\alpha_1 \nabla\mathcal{L}(\Theta_t), \qquad
        \Theta_{t+2} = \Theta_{t+1} + \eta\,\alpha_2 \nabla\mathcal{L}(\Theta_{t+1}),

    a descent followed by a smaller ascent (:math:`\alpha_2 < \alpha_1`), which drives training
    toward flat minima; with Adam (the trainer's optimiser) the scaled losses enter Adam's
    moments, as in the authors' code.

    Choices written down here: the schedule follows the authors' code (the batch index within
    the epoch, counted from 0; the same triplets, negatives included, for both steps); a model's
    further stages (:meth:`~pyg_mmrec.nn.models.Recommender.stages`, e.g. IBMRec's second
    stage) step once per batch after both. Defaults: :math:`\alpha_1 = 1` and
    :math:`\beta = 3` as in the authors' configuration; :math:`\alpha_2 = 0.2`, the middle of
    the grid they search, :math:`\{0.1, 0.2, 0.3\}`.

    Args:
        alpha1 (float): Scale :math:`\alpha_1` of the first step of a mirrored pair.
        alpha2 (float): Scale :math:`\alpha_2` of the mirrored (ascent) step.
        interval (int): Every how many batches :math:`\beta` a mirrored pair is taken.
    """
    name = 'mg'

    def __init__(self, alpha1: float, alpha2: float, interval: int):
        self.alpha1 = alpha1
        self.alpha2 = alpha2
        self.interval = interval

    def scales(self, batch: int) -> tuple[float, ...]:
        return (self.alpha1, -self.alpha2) if batch % self.interval == 0 else (1.0,)


#: The methods by their ``robust`` setting.
METHODS: dict[str, type[TrainingMethod]] = {
    cls.name: cls for cls in (TrainingMethod, AMR, MirrorGradient)}


def training_method(config: TrainConfig) -> TrainingMethod:
    """The training method that the trainer settings ``config`` select (``robust`` and the
    keys of that method: ``amr_epsilon``, ``amr_lambda``; ``mg_alpha1``, ``mg_alpha2``,
    ``mg_interval``)."""
    if config.robust == 'amr':
        return AMR(config.amr_epsilon, config.amr_lambda)
    if config.robust == 'mg':
        return MirrorGradient(config.mg_alpha1, config.mg_alpha2, config.mg_interval)
    return TrainingMethod()


def check_capabilities(robust: str, model_class: type[Recommender], model: str,
                       config: Mapping[str, Any] | None = None) -> None:
    """Refuses a model (built by ``config``) that lacks what the method ``robust`` needs.

    Raises:
        ConfigError: Naming the method, the model and the missing capability.
    """
    need = METHODS[robust].required_capabilities
    lacks = need - model_class.offered_capabilities(config)
    if lacks:
        backbone = (config or {}).get('backbone')  # a key only plug-ins accept
        what = repr(model) if backbone is None else f"{model!r} with backbone {backbone!r}"
        having = sorted(name for name, cls in MODELS.items() if need <= cls.capabilities)
        raise ConfigError(f"robust={robust!r} needs a model with the capabilities "
                          f"({', '.join(sorted(need))}); {what} lacks "
                          f"({', '.join(sorted(lacks))}) (models and backbones that have "
                          f"them: {having})")
