"""Train LightGCN and BPR-MF on the embedded synthetic dataset and compare them.

    python examples/quickstart.py
"""
import pyg_mmrec
from pyg_mmrec.cli import format_metrics
from pyg_mmrec.data import make_synthetic

splits = make_synthetic()  # seeded; DataSplits(train, val, test) of HeteroData views
print(splits.summary())

results = {name: pyg_mmrec.run(name, splits, {'progress': False}, out_dir=f'runs/example_{name}')
           for name in ('bprmf', 'lightgcn')}
print(format_metrics({name: r['test'] for name, r in results.items()}, ks=[10, 20]))

# Reload the best LightGCN and recommend five items to the first three users.
model, _ = pyg_mmrec.load_model('runs/example_lightgcn/checkpoint.pt', splits)
users, items, scores = pyg_mmrec.recommend(model, splits, k=5, users=[0, 1, 2])
for user, row in zip(users.tolist(), items.tolist(), strict=True):
    print(f'user {user}: items {row}')
