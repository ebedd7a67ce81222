r"""The field's datasets by name, downloaded, verified and processed once, in PyG's style.

.. code-block:: python

    from pyg_mmrec.datasets import TikTok
    splits = TikTok().splits                  # DataSplits(train, val, test) of HeteroData
    from pyg_mmrec.data import load_dataset
    splits = load_dataset('tiktok')           # the same, by registered name

Datasets are kept under :func:`data_home` (``PYG_MMREC_HOME``, default
``~/.cache/pyg_mmrec``), one folder per name.
"""
from pyg_mmrec.datasets.amazon import (
    DRIVE_FOLDER,
    AmazonBaby,
    AmazonClothing,
    AmazonElec,
    AmazonMMRec,
    AmazonSports,
)
from pyg_mmrec.datasets.base import (
    DATASETS,
    HOME_ENV,
    Dataset,
    RawFile,
    data_home,
    download_url,
    get_dataset_class,
    register_dataset,
)
from pyg_mmrec.datasets.cornac import CornacAmazonClothing
from pyg_mmrec.datasets.microlens import MicroLens100K
from pyg_mmrec.datasets.movielens import MovieLens, MovieLens1M, MovieLens100K
from pyg_mmrec.datasets.prepare import k_core, prepare_amazon
from pyg_mmrec.datasets.tiktok import TikTok
from pyg_mmrec.datasets.unpickle import load_sparse_pickle

__all__ = [
    'DATASETS',
    'DRIVE_FOLDER',
    'HOME_ENV',
    'AmazonBaby',
    'AmazonClothing',
    'AmazonElec',
    'AmazonMMRec',
    'AmazonSports',
    'CornacAmazonClothing',
    'Dataset',
    'MicroLens100K',
    'MovieLens',
    'MovieLens100K',
    'MovieLens1M',
    'RawFile',
    'TikTok',
    'data_home',
    'download_url',
    'get_dataset_class',
    'k_core',
    'load_sparse_pickle',
    'prepare_amazon',
    'register_dataset',
]
