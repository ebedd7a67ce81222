"""Datasets as train / validation / test :class:`~torch_geometric.data.HeteroData` views."""
from pyg_mmrec.data.readers import (
    ID_MAPS,
    attach_raw_ids,
    load_dataset,
    load_mmrec,
    load_movielens100k,
    read_id_map,
    read_table,
)
from pyg_mmrec.data.recipes import data_root, dataset_path, load_recipe
from pyg_mmrec.data.sampler import NegativeSampler, TripletLoader
from pyg_mmrec.data.splits import DataSplits, from_arrays, split_per_user
from pyg_mmrec.data.synthetic import make_synthetic
from pyg_mmrec.schema import INTERACTS, feature_key, graph_modalities, graph_type, modalities

__all__ = [
    'ID_MAPS',
    'INTERACTS',
    'DataSplits',
    'NegativeSampler',
    'TripletLoader',
    'attach_raw_ids',
    'data_root',
    'dataset_path',
    'feature_key',
    'from_arrays',
    'graph_modalities',
    'graph_type',
    'load_dataset',
    'load_mmrec',
    'load_movielens100k',
    'load_recipe',
    'make_synthetic',
    'modalities',
    'read_id_map',
    'read_table',
    'split_per_user',
]
