"""The one declaration of every setting: type and range next to the default.

A model (or the trainer's :class:`~pyg_mmrec.train.TrainConfig`) declares each setting by its
annotation, with the constraint in :data:`typing.Annotated` metadata, and its default::

    from pyg_mmrec.params import Choice, Dim, Rate, Weight

    def __init__(self, num_users: int, num_items: int, embedding_dim: Dim = 64,
                 dropout: Rate = 0.1, reg_weight: Weight = 1e-4,
                 mode: Choice('sum', 'mean') = 'sum'):

:func:`declared` reads these declarations and :func:`check` validates a value against one: the
type (an ``int`` is not a ``bool``; a ``float`` accepts an integer and a numeric string, and
is finite), :obj:`None` (allowed only where the annotation says ``| None``), and the range.
Every failure is a one-line :class:`~pyg_mmrec.errors.ConfigError` naming the key, the value
and what is allowed. Models validate their constructor arguments from these declarations
without a hand-written check (see :class:`~pyg_mmrec.nn.models.Recommender`), and
``pyg-mmrec models`` and ``pyg-mmrec train --help`` list them with :func:`describe`.

This module imports nothing but the library's errors, so that it stays cheap to import.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any

from pyg_mmrec.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Range:
    """A closed or half-open interval of allowed numbers (of each element, for a list).

    Args:
        low (float, optional): The lower bound (:obj:`None`: unbounded).
        high (float, optional): The upper bound (:obj:`None`: unbounded).
        low_open (bool): Whether ``low`` itself is excluded. (default: :obj:`False`)
        high_open (bool): Whether ``high`` itself is excluded. (default: :obj:`False`)
    """
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else
                                     value <= self.high)

    def __str__(self) -> str:
        low, high = (f'{v:g}' if isinstance(v, float) else str(v) for v in (self.low, self.high))
        if self.low is not None and self.high is not None:
            return (f"in {'(' if self.low_open else '['}{low}, "
                    f"{high}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {low}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {high}"
        return 'finite'


@dataclasses.dataclass(frozen=True)
class OneOf:
    """A finite set of allowed values."""
    values: tuple

    def __contains__(self, value: Any) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return f"one of {list(self.values)}"


def Choice(*values: str) -> Any:  # noqa: N802 (reads as a type in an annotation)
    """The annotation of a string setting that takes one of ``values``."""
    return Annotated[str, OneOf(tuple(values))]


#: A size (an embedding or hidden dimension): an integer in [1, 65536].
Dim = Annotated[int, Range(1, 2**16)]
#: A count that must be at least one (layers, neighbours): an integer in [1, 1024].
Count = Annotated[int, Range(1, 1024)]
#: A count that may be zero: an integer in [0, 1024].
Count0 = Annotated[int, Range(0, 1024)]
#: A non-negative finite weight of a loss term or a regulariser.
Weight = Annotated[float, Range(0)]
#: A positive finite number (a temperature, a variance).
Positive = Annotated[float, Range(0, low_open=True)]
#: A dropout or pruning rate, in [0, 1).
Rate = Annotated[float, Range(0, 1, high_open=True)]
#: A mixing coefficient, in [0, 1].
Fraction = Annotated[float, Range(0, 1)]


@dataclasses.dataclass(frozen=True)
class Param:
    """One declared setting: its type, whether :obj:`None` is allowed, its constraint and
    its default."""
    kind: type
    optional: bool = False
    constraint: Range | OneOf | None = None
    default: Any = inspect.Parameter.empty
    element: type | None = None  # for a list: the type of its elements

    def describe(self) -> str:
        """What is allowed, e.g. ``'an integer >= 1'`` or ``'a list of integers in [1, 4]'``."""
        names = {bool: 'a boolean', int: 'an integer', float: 'a number', str: 'a string'}
        if self.kind is list:
            text = f"a non-empty list of {names.get(self.element, 'a value').split(' ')[1]}s"
        else:
            text = names.get(self.kind, f'a {self.kind.__name__}')
        if self.constraint is not None:
            text = (f"{text} {self.constraint}" if isinstance(self.constraint, Range)
                    else str(self.constraint))
        return text + (' or null' if self.optional else '')


def _scalar(key: str, value: Any, kind: type, param: Param) -> Any:
    if kind is float and isinstance(value, str):  # YAML 1.1 reads '1e-3' as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if kind is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            try:
                value = float(value)
            except OverflowError:  # an integer beyond the float range
                ok = False
        ok = ok and math.isfinite(value)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise ConfigError(f"config key {key!r} expects {param.describe()}"
                          + ('' if param.default is inspect.Parameter.empty
                             else f" (like {param.default!r})") + f", got {value!r}")
    if param.constraint is not None and value not in param.constraint:
        raise ConfigError(f"config key {key!r} must be {param.describe()}, got {value!r}")
    return value


def check(key: str, value: Any, param: Param) -> Any:
    """Validates ``value`` of the setting ``key`` against its declaration ``param``; returns
    it in its declared type (a float for an integer given to a float setting, a list for a
    tuple).

    Raises:
        ConfigError: For a value of another type, :obj:`None` where not allowed, or a value
            outside the declared range.
    """
    if value is None:
        if param.optional:
            return None
        raise ConfigError(f"config key {key!r} must be {param.describe()}, got null")
    if param.kind is list:
        if not isinstance(value, list | tuple) or not value:
            raise ConfigError(f"config key {key!r} expects {param.describe()}, got {value!r}")
        element = dataclasses.replace(param, kind=param.element or object, optional=False,
                                      default=inspect.Parameter.empty)
        try:
            return [_scalar(key, v, element.kind, element) for v in value]
        except ConfigError:
            raise ConfigError(f"config key {key!r} must be {param.describe()}, "
                              f"got {value!r}") from None
    return _scalar(key, value, param.kind, param)


def _param(annotation: Any, default: Any) -> Param | None:
    """The declaration an annotation makes (:obj:`None` for a type it does not declare)."""
    constraint = None
    if typing.get_origin(annotation) is Annotated:
        annotation, *meta = typing.get_args(annotation)
        constraint = next((m for m in meta if isinstance(m, Range | OneOf)), None)
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return None
        annotation = args[0]
        if typing.get_origin(annotation) is Annotated:
            annotation, *meta = typing.get_args(annotation)
            constraint = next((m for m in meta if isinstance(m, Range | OneOf)), constraint)
    element = None
    if typing.get_origin(annotation) is list:
        element = (typing.get_args(annotation) or (None,))[0]
        annotation = list
    if annotation not in (bool, int, float, str, list):
        return None
    return Param(annotation, optional, constraint, default, element)


def from_default(default: Any) -> Param | None:
    """The declaration a bare default implies (its type, no range), for a setting declared
    without an annotation; :obj:`None` for a default of no plain type (such as :obj:`None`)."""
    return _param(type(default), default)


@functools.cache
def declared(function: Callable) -> dict[str, Param]:
    """The declared settings of ``function`` (a constructor, or a dataclass): each parameter
    (field) with a default and an annotation of a plain type (``bool``, ``int``, ``float``,
    ``str``, ``list[...]``, optionally ``| None`` and :data:`~typing.Annotated` with a
    :class:`Range` or :class:`OneOf`)."""
    hints = typing.get_type_hints(function, include_extras=True)
    if dataclasses.is_dataclass(function):
        defaults = {f.name: f.default if f.default is not dataclasses.MISSING
                    else f.default_factory() for f in dataclasses.fields(function)}
    else:
        defaults = {name: p.default for name, p in inspect.signature(function).parameters.items()
                    if p.default is not p.empty}
    out = {}
    for name, default in defaults.items():
        param = _param(hints[name], default) if name in hints else None
        if param is not None:
            out[name] = param
    return out


def validate_call(function: Callable, args: tuple, kwargs: dict) -> None:
    """Checks the declared arguments of a call ``function(*args, **kwargs)``."""
    params = declared(function)
    if not params:
        return
    bound = inspect.signature(function).bind_partial(*args, **kwargs).arguments
    for name, param in params.items():
        if name in bound:
            check(name, bound[name], param)


def validated(function: Callable) -> Callable:
    """A decorator that checks the declared arguments of every call of ``function`` (see
    :func:`validate_call`) before it runs."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        validate_call(function, args, kwargs)
        return function(*args, **kwargs)
    return wrapper

