from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from torch import Tensor
from torch_geometric.data import HeteroData

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.nn.models.recommender import Encoded, Recommender, Stage


def _backbone_class(name: str) -> type[Recommender]:
    # Imported here: the registry imports the plug-ins to register them.
    from pyg_mmrec.train.registry import get_model_class
    return get_model_class(name)


class PlugIn(Recommender):
    r"""Base class of the information-bottleneck plug-ins: a :class:`Recommender` that wraps
    a *backbone* model without editing it.

    The plug-in reads what it needs from the backbone's :class:`Encoded` forward pass (the
    per-modality representations :math:`\mathbf{Z}^k`, the raw features
    :math:`\mathbf{M}^k` from :meth:`~Recommender.item_features`, the item graph, the hidden
    layer :math:`\mathbf{H}` and its :meth:`~Recommender.perturb_hidden` hook) and adds terms
    to the backbone's :meth:`~Recommender.batch_loss`. Scoring, evaluation and the
    per-epoch hook are the backbone's own, so a plug-in that only adds training terms costs
    nothing at inference.

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
    #: The registered backbone names this plug-in supports (:obj:`None`: any).
    supported_backbones: ClassVar[tuple[str, ...] | None] = None

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
    def backbone_class(cls, name: str) -> type[Recommender]:
        """The backbone class registered as ``name``, checked against
        :attr:`supported_backbones`."""
        backbone = _backbone_class(name)
        if issubclass(backbone, PlugIn):
            raise ConfigError(f"{cls.__name__}: backbone {name!r} is itself a plug-in")
        if cls.supported_backbones is not None and name.lower() not in cls.supported_backbones:
            raise ConfigError(f"{cls.__name__} supports the backbones "
                              f"{list(cls.supported_backbones)}, not {name!r}")
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
    def from_data(cls, data: HeteroData, backbone: str | None = None,
                  **hparams) -> PlugIn:
        """Builds the backbone registered as ``backbone`` for ``data`` with its
        hyper-parameters from ``hparams``, and the plug-in around it with the rest."""
        own_keys = cls.own_hparam_defaults()
        own = {k: v for k, v in hparams.items() if k in own_keys}
        theirs = {k: v for k, v in hparams.items() if k not in own_keys}
        model = cls.backbone_class(backbone or cls.default_backbone).from_data(data, **theirs)
        return cls(model, **own, **cls.data_args(model, data))

    @classmethod
    def data_args(cls, backbone: Recommender, data: HeteroData) -> dict[str, Any]:
        """Constructor arguments derived from the built backbone and the data, not
        hyper-parameters (e.g. the size of the backbone's hidden layer); none by default."""
        return {}

    @property
    def hparams(self) -> dict[str, Any]:
        from pyg_mmrec.train.registry import name_of
        own = {k: getattr(self, k) for k in self.own_hparam_defaults()}
        return {'backbone': name_of(self.backbone), **own, **self.backbone.hparams}

    def reset_parameters(self) -> None:
        self.backbone.reset_parameters()

    def encode(self, data: HeteroData) -> Encoded:
        return self.backbone.encode(data)

    def on_epoch_start(self, epoch: int) -> None:
        self.backbone.on_epoch_start(epoch)

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
