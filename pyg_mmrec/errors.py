"""The library's own exceptions.

Every error caused by user input (a file, a config value, a model name, a checkpoint) is raised
as a :class:`PygMMRecError` subclass whose message names the offending file, line, field or
value and says what was expected.
"""


class PygMMRecError(Exception):
    """Base class of every error raised by :mod:`pyg_mmrec` for bad input."""


class DataError(PygMMRecError, ValueError):
    """A dataset file or in-memory array is malformed or inconsistent."""


class ConfigError(PygMMRecError, ValueError):
    """An unknown model name, an unknown config key or a bad config value."""


class CheckpointError(PygMMRecError, ValueError):
    """A checkpoint is missing, unreadable or does not match the data it is used with."""


class TrainingError(PygMMRecError, ArithmeticError):
    """Training met a non-finite loss term or gradient (from a setting such as a too large
    learning rate, or from extreme input values); the last checkpoint is kept."""


class NotInductiveError(ConfigError):
    """A model that represents an item by its ID alone was asked to represent new items
    (cold-start items, known only by their features); see :doc:`/cold_start`."""
