"""The model registry: names used by the CLI and :func:`~pyg_mmrec.train.run`."""
from __future__ import annotations

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.nn.models import BPRMF, LATTICE, VBPR, LightGCN, Recommender, VLightGCN

MODELS: dict[str, type[Recommender]] = {
    'bprmf': BPRMF,
    'lattice': LATTICE,
    'lightgcn': LightGCN,
    'vbpr': VBPR,
    'vlightgcn': VLightGCN,
}


def register(name: str, cls: type[Recommender]) -> type[Recommender]:
    """Adds a model class under ``name`` (lower case)."""
    MODELS[name.lower()] = cls
    return cls


def get_model_class(name: str) -> type[Recommender]:
    """The model class registered as ``name`` (case-insensitive)."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; available: {sorted(MODELS)}") from None


def name_of(model: Recommender) -> str | None:
    """The registered name of ``model``'s class, or :obj:`None`."""
    return next((name for name, cls in MODELS.items() if type(model) is cls), None)
