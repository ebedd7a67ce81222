"""Named dataset recipes and the data root, shared by examples, benchmarks and tests.

A *recipe* names a dataset as a benchmark uses it: ``'synthetic'`` (the embedded generator),
``'ml-100k-text'`` (MovieLens-100K, split 8:1:1 per user with seed 2024, its item texts
encoded by all-MiniLM-L6-v2 into a text modality and a 10-NN text graph added) or the name of
a dataset folder under the data root (e.g. ``'tiktok'``, ``'amazon-baby'``). A *condition*
perturbs every view alike, for robustness runs: ``'clean'``, ``'noise<χ>'`` (Gaussian noise
of std χ on every modality, :class:`~pyg_mmrec.transforms.FeatureNoise`), ``'vr'`` (visual
redundancy appended to the image features, or to every modality where there is no image one,
:class:`~pyg_mmrec.transforms.FeatureRedundancy`) and ``'tr'`` (textual redundancy before the
texts are encoded, :class:`~pyg_mmrec.transforms.TextRedundancy`).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pyg_mmrec.data.readers import load_dataset, load_movielens100k
from pyg_mmrec.data.splits import DataSplits, modalities
from pyg_mmrec.errors import ConfigError, DataError

DATA_ENV = 'PYG_MMREC_DATA'
#: The data root when neither a flag nor :data:`DATA_ENV` names one: ``../shared/data``
#: next to the repository.
FALLBACK_ROOT = Path(__file__).resolve().parents[2].parent / 'shared' / 'data'
RECIPES = ('synthetic', 'ml-100k-text')
#: The seed of ml-100k-text's per-user split.
ML100K_SPLIT_SEED = 2024


def data_root(root: str | Path | None = None) -> Path:
    """The folder that holds the real datasets: ``root`` (e.g. a ``--data-root`` flag) if
    given, else the environment variable ``PYG_MMREC_DATA``, else :data:`FALLBACK_ROOT`."""
    if root is not None:
        return Path(root)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else FALLBACK_ROOT


def dataset_path(name: str, root: str | Path | None = None) -> Path:
    """The folder of the dataset ``name`` under :func:`data_root`.

    Raises:
        DataError: If the folder does not exist (the message says how the root is chosen).
    """
    path = data_root(root) / name
    if not path.is_dir():
        raise DataError(f"{path}: no dataset folder {name!r} under the data root; pass the "
                        f"root (--data-root) or set {DATA_ENV}")
    return path


def check_condition(condition: str) -> str:
    """Returns ``condition`` if it names a condition of :func:`load_recipe`.

    Raises:
        ConfigError: If it does not.
    """
    if condition in ('clean', 'vr', 'tr'):
        return condition
    if condition.startswith('noise'):
        try:
            if float(condition[len('noise'):]) >= 0:
                return condition
        except ValueError:
            pass
    raise ConfigError(f"unknown data condition {condition!r}; expected 'clean', "
                      f"'noise<chi>' (e.g. 'noise0.05'), 'vr' or 'tr'")


def conditions(splits: DataSplits, chis: tuple[float, ...] = (0.01, 0.05)) -> list[str]:
    """The robustness conditions available on ``splits`` (``'tr'`` needs item texts), the
    clean one first."""
    out = ['clean', *(f'noise{chi}' for chi in chis), 'vr']
    return out + ['tr'] if hasattr(splits.train['item'], 'text') else out


def load_recipe(name: str, condition: str = 'clean', root: str | Path | None = None,
                text_cache: str | Path | None = None,
                keep_modalities: Sequence[str] | None = None) -> DataSplits:
    """The dataset of recipe ``name`` under ``condition`` (see the module's description).

    Args:
        name (str): ``'synthetic'``, ``'ml-100k-text'`` or a folder name under the data root.
        condition (str): ``'clean'``, ``'noise<χ>'``, ``'vr'`` or ``'tr'``.
        root (str or Path, optional): The data root (see :func:`data_root`).
        text_cache (str or Path, optional): Where :class:`~pyg_mmrec.transforms.EncodeText`
            caches encodings (:obj:`None`: no cache).
        keep_modalities (list of str, optional): Keep only these modalities, applied last
            (:class:`~pyg_mmrec.transforms.SelectModalities`); :obj:`None` keeps all.

    Raises:
        ConfigError: If ``condition`` is unknown, or ``'tr'`` is asked of data without texts.
        DataError: If the dataset folder is missing or malformed.
    """
    from torch_geometric.transforms import Compose

    from pyg_mmrec.transforms import (
        EncodeText,
        FeatureNoise,
        FeatureRedundancy,
        ModalityKNNGraph,
        SelectModalities,
        TextRedundancy,
    )

    check_condition(condition)
    if name == 'synthetic':
        splits = load_dataset('synthetic')
    elif name == 'ml-100k-text':
        splits = load_movielens100k(dataset_path('ml-100k', root), seed=ML100K_SPLIT_SEED)
    else:
        splits = load_dataset(dataset_path(name, root))
    has_text = hasattr(splits.train['item'], 'text')
    if condition == 'tr' and not has_text:
        raise ConfigError(f"condition 'tr' needs item texts; {name!r} has none")
    steps = [TextRedundancy(seed=0)] if condition == 'tr' else []
    if has_text:
        steps.append(EncodeText(cache_dir=text_cache))
    if condition.startswith('noise'):
        steps.append(FeatureNoise(chi=float(condition[len('noise'):]), seed=0))
    if condition == 'vr':
        steps.append(FeatureRedundancy(
            modalities='image' if 'image' in modalities(splits.train) else None, seed=0))
    if name == 'ml-100k-text':
        steps.append(ModalityKNNGraph(k=10))
    if keep_modalities is not None:
        steps.append(SelectModalities(keep_modalities))
    return DataSplits(*map(Compose(steps), splits)) if steps else splits
