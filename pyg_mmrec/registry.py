"""The model registry: the names by which configs, the CLI and checkpoints know models.

A model registers itself where it is defined::

    @register('lightgcn')
    class LightGCN(Recommender):
        ...

The registry imports nothing of the library but its errors, so that models and plug-ins
alike can import it. The built-in models register when :mod:`pyg_mmrec.nn.models` and
:mod:`pyg_mmrec.ib` are imported; :func:`get_model_class` and :func:`registered` import them
first.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyg_mmrec.errors import ConfigError

if TYPE_CHECKING:
    from pyg_mmrec.nn.models.recommender import Recommender

#: Registered name (lower case) to model class.
MODELS: dict[str, type[Recommender]] = {}


def register(name: str) -> Callable[[type[Recommender]], type[Recommender]]:
    """A class decorator that registers a model under ``name`` (case-insensitive).

    Raises:
        ConfigError: If another class is registered under ``name`` already.
    """
    key = name.lower()

    def add(cls: type[Recommender]) -> type[Recommender]:
        if MODELS.get(key, cls) is not cls:
            raise ConfigError(f"model name {name!r} is taken by {MODELS[key].__qualname__}; "
                              f"register {cls.__qualname__} under another name")
        MODELS[key] = cls
        return cls
    return add


def registered() -> dict[str, type[Recommender]]:
    """:data:`MODELS`, with every built-in model registered."""
    import pyg_mmrec.ib  # noqa: F401  (imports pyg_mmrec.nn.models too)
    return MODELS


def get_model_class(name: str, what: str = 'model') -> type[Recommender]:
    """The model class registered as ``name`` (case-insensitive); ``what`` names the setting
    in the error (e.g. ``'backbone'``).

    Raises:
        ConfigError: If no model is registered under ``name``.
    """
    if not isinstance(name, str):
        raise ConfigError(f"a model name is a string, got {name!r}")
    registered()
    try:
        return MODELS[name.lower()]
    except KeyError:
        close = difflib.get_close_matches(name.lower(), MODELS, n=1)
        raise ConfigError(f"unknown {what} {name!r}"
                          + (f" (did you mean {close[0]!r}?)" if close else '')
                          + f"; available: {sorted(MODELS)}") from None


def name_of(model: Recommender) -> str | None:
    """The registered name of ``model``'s class, or :obj:`None`."""
    return next((name for name, cls in MODELS.items() if type(model) is cls), None)
