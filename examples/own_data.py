"""Bring your own data: interactions and item features from in-memory arrays.

Builds the train / validation / test views with ``from_arrays`` (which validates ids, shapes and
values), adds a top-k cosine item-item graph per modality with ``ModalityKNNGraph``, trains
LightGCN and writes recommendations.

    python examples/own_data.py
"""
import numpy as np

import pyg_mmrec
from pyg_mmrec.data import DataSplits, from_arrays, split_per_user
from pyg_mmrec.transforms import ModalityKNNGraph

rng = np.random.default_rng(0)
num_users, num_items = 300, 200
user = rng.integers(num_users, size=6000)
item = rng.zipf(1.5, size=6000) % num_items  # popular items first
pairs = np.unique(np.stack([user, item], axis=1), axis=0)  # one interaction per pair
user, item = pairs[:, 0], pairs[:, 1]
split = split_per_user(user, num_users, seed=0)  # 8:1:1 per user
features = {'text': rng.normal(size=(num_items, 32)).astype(np.float32)}

splits = from_arrays(user, item, split, num_users=num_users, num_items=num_items,
                     features=features, name='my-data')
knn = ModalityKNNGraph(k=10)
splits = DataSplits(*(knn(view) for view in splits))
print(splits.summary())

results = pyg_mmrec.run('lightgcn', splits, {'epochs': 30, 'progress': False})
print({k: round(v, 4) for k, v in results['test'].items() if k.endswith('@20')})
