from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.nn.models.recommender import Capability, Encoded, Recommender, Stage
from pyg_mmrec.params import Param, declared
from pyg_mmrec.registry import MODELS, get_model_class, name_of


def probe_forward(model: Recommender, data: HeteroData,
                  hook: contextlib.AbstractContextManager) -> Encoded:
    """One forward pass of ``model`` on ``data`` inside ``hook`` (e.g.
    ``model.perturb_hidden(record)``) in evaluation mode, without gradients and leaving the
    random state as it was: how a plug-in measures what a backbone passes through a hook."""
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad(), hook:
            return model.encode(data)
    finally:
        model.train(was_training)


class PlugIn(Recommender):
    r"""Base class of the information-bottleneck plug-ins: a :class:`Recommender` that wraps
    a *backbone* model without editing it.

    The plug-in reads only what the backbone declares in its
    :attr:`~Recommender.capabilities` (see :class:`~pyg_mmrec.nn.models.Capability`): the
    per-modality representations :math:`\mathbf{Z}^k` of its :class:`Encoded` forward pass
    and the raw features :math:`\mathbf{M}^k` from :meth:`~Recommender.item_features`, the
    ID and multimedia parts of its states and :meth:`~Recommender.multimedia_parameters`, its
    item-item graph and the :meth:`~Recommender.perturb_item_graph` hook, its hidden layer
    :math:`\mathbf{H}` and the :meth:`~Recommender.perturb_hidden` hook; and it adds terms
    to the backbone's :meth:`~Recommender.batch_loss`. A subclass states what it needs in
    :attr:`required_capabilities`; the backbones it supports follow from the registry. The
    hooks, scoring, evaluation and the per-epoch hook are the backbone's own (``with
    plugin.perturb_hidden(hook)`` perturbs the backbone's :math:`\mathbf{H}`, ``with
    plugin.perturb_features(hook)`` the features it reads, and
    :meth:`~Recommender.offered_capabilities` are the backbone's), so a plug-in that only
    adds training terms costs nothing at inference and composes with a training method
    such as :class:`~pyg_mmrec.train.AMR`.

    Hyper-parameters form one flat namespace: ``backbone`` (a registered model name), the
    plug-in's own constructor arguments, and the backbone's hyper-parameters, e.g.
    ``pyg-mmrec train --model dvib --set backbone=lightgcn num_layers=3 gamma_d=0.1``.
    Subclasses take the backbone as their first constructor argument and store every other
    argument as an attribute of the same name.

    Args:
        backbone (Recommender): The wrapped model.
    """
    #: The backbone used when the config names none.
    default_backbone: ClassVar[str] = 'vbpr'
    #: What a backbone must offer, as alternatives: a backbone qualifies if it has every
    #: capability of at least one of these sets (none: every backbone qualifies).
    required_capabilities: ClassVar[tuple[frozenset[Capability], ...]] = ()

    def __init__(self, backbone: Recommender):
        super().__init__(backbone.num_users, backbone.num_items)
        self.backbone = backbone

    @classmethod
    def own_hparam_defaults(cls) -> dict[str, Any]:
        """The plug-in's own hyper-parameters with their defaults."""
        params = inspect.signature(cls.__init__).parameters
        return {k: p.default for k, p in params.items()
                if k not in ('self', 'backbone') and p.kind is p.POSITIONAL_OR_KEYWORD}

    @classmethod
    def backbone_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` without the plug-in's own keys and ``backbone``: the settings of the
        bare backbone (e.g. to train it alongside, as ``--with-backbone`` does)."""
        own = cls.own_hparam_defaults()
        return {k: v for k, v in config.items() if k != 'backbone' and k not in own}

    @classmethod
    def supports(cls, backbone: type[Recommender]) -> bool:
        """Whether the model class ``backbone`` offers what :attr:`required_capabilities`
        asks."""
        return not cls.required_capabilities or any(
            need <= backbone.capabilities for need in cls.required_capabilities)

    @classmethod
    def supported_backbones(cls) -> list[str]:
        """The registered models this plug-in can wrap (derived from their capabilities)."""
        return sorted(name for name, model in MODELS.items()
                      if not issubclass(model, PlugIn) and cls.supports(model))

    @classmethod
    def backbone_class(cls, name: str) -> type[Recommender]:
        """The backbone class registered as ``name``, checked against
        :attr:`required_capabilities`.

        Raises:
            ConfigError: If ``name`` is unknown, a plug-in, or lacks a capability needed.
        """
        backbone = get_model_class(name, 'backbone')
        if issubclass(backbone, PlugIn):
            raise ConfigError(f"{cls.__name__}: backbone {name!r} is itself a plug-in")
        if not cls.supports(backbone):
            needs = ' or '.join(f"({', '.join(sorted(need))})"
                                for need in cls.required_capabilities)
            lacks = ' or '.join(f"({', '.join(sorted(need - backbone.capabilities))})"
                                for need in cls.required_capabilities)
            raise ConfigError(f"{cls.__name__} needs a backbone with the capabilities {needs}; "
                              f"{name!r} lacks {lacks} (backbones that have them: "
                              f"{cls.supported_backbones()})")
        return backbone

    @classmethod
    def hparam_defaults(cls, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
        name = (config or {}).get('backbone', cls.default_backbone)
        if not isinstance(name, str):
            raise ConfigError(f"config key 'backbone' expects a model name, got {name!r}")
        own, theirs = cls.own_hparam_defaults(), cls.backbone_class(name).hparam_defaults()
        if clash := sorted(set(own) & set(theirs)):  # a flat namespace must stay unambiguous
            raise ConfigError(f"{cls.__name__} and backbone {name!r} share the "
                              f"hyper-parameters {clash}")
        return {'backbone': cls.default_backbone, **own, **theirs}

    @classmethod
    def hparam_specs(cls, config: Mapping[str, Any] | None = None) -> dict[str, Param]:
        name = (config or {}).get('backbone', cls.default_backbone)
        own = declared(inspect.unwrap(cls.__init__))
        return {**{k: own[k] for k in cls.own_hparam_defaults() if k in own},
                **cls.backbone_class(name).hparam_specs(),
                'backbone': Param(str, default=cls.default_backbone)}

    @classmethod
    def from_data(cls, data: HeteroData, backbone: str | None = None,
                  **hparams) -> PlugIn:
        """Builds the backbone registered as ``backbone`` for ``data`` with its
        hyper-parameters from ``hparams``, and the plug-in around it with the rest."""
        theirs = cls.backbone_config(hparams)
        own = {k: v for k, v in hparams.items() if k not in theirs}
        model = cls.backbone_class(backbone or cls.default_backbone).from_data(data, **theirs)
        return cls(model, **own, **cls.data_args(model, data))

    @classmethod
    def data_args(cls, backbone: Recommender, data: HeteroData) -> dict[str, Any]:
        """Constructor arguments derived from the built backbone and the data, not
        hyper-parameters (e.g. the size of the backbone's hidden layer); none by default."""
        return {}

    @property
    def hparams(self) -> dict[str, Any]:
        own = {k: getattr(self, k) for k in self.own_hparam_defaults()}
        return {'backbone': name_of(self.backbone), **own, **self.backbone.hparams}

    def reset_parameters(self) -> None:
        self.backbone.reset_parameters()

    def encode(self, data: HeteroData) -> Encoded:
        return self.backbone.encode(data)

    def perturb_hidden(self, hook: Callable[[Tensor], Tensor]
                       ) -> contextlib.AbstractContextManager[None]:
        return self.backbone.perturb_hidden(hook)

    def hidden(self, h: Tensor) -> Tensor:
        return self.backbone.hidden(h)

    def share_passes(self) -> contextlib.AbstractContextManager[None]:
        return self.backbone.share_passes()

    def perturb_item_graph(self, hook: Callable[..., Tensor]
                           ) -> contextlib.AbstractContextManager[None]:
        return self.backbone.perturb_item_graph(hook)

    def item_graph_weight(self, edge_index: Tensor, edge_weight: Tensor, collaborative: Tensor,
                          multimedia: Tensor | None) -> Tensor:
        return self.backbone.item_graph_weight(edge_index, edge_weight, collaborative,
                                               multimedia)

    @classmethod
    def offered_capabilities(cls, config: Mapping[str, Any] | None = None
                             ) -> frozenset[Capability]:
        return cls.backbone_class((config or {}).get('backbone', cls.default_backbone)
                                  ).capabilities

    def check_inductive(self) -> None:
        self.backbone.check_inductive()

    def represent_new_items(self, data: HeteroData, features: dict[str, Tensor],
                            out: Encoded) -> Tensor:
        return self.backbone.represent_new_items(data, features, out)

    def perturb_features(self, hook: Callable[[str, Tensor], Tensor]
                         ) -> contextlib.AbstractContextManager[None]:
        return self.backbone.perturb_features(hook)

    def item_features(self, data: HeteroData) -> dict[str, Tensor]:
        return self.backbone.item_features(data)

    def multimedia_parameters(self) -> list[torch.nn.Parameter]:
        return self.backbone.multimedia_parameters()

    def on_epoch_start(self, epoch: int) -> None:
        self.backbone.on_epoch_start(epoch)

    def on_step_end(self) -> None:
        self.backbone.on_step_end()

    def stages(self) -> list[Stage]:
        return self.backbone.stages()

    def adjacency(self, data: HeteroData) -> Tensor:
        return self.backbone.adjacency(data)

    def ego_embeddings(self, user: Tensor, pos: Tensor, neg: Tensor, out: Encoded
                       ) -> list[Tensor]:
        return self.backbone.ego_embeddings(user, pos, neg, out)

    def batch_loss(self, out: Encoded, user: Tensor, pos: Tensor, neg: Tensor
                   ) -> dict[str, Tensor]:
        return self.backbone.batch_loss(out, user, pos, neg)

    def score(self, user_emb: Tensor, item_emb: Tensor) -> Tensor:
        return self.backbone.score(user_emb, item_emb)
