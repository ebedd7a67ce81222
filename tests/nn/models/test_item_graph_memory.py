"""LATTICE, VLATTICE, FREEDOM and MICRO never build a dense item-item matrix: a training step and
a forward pass on 20,000 items stay far below the 1.5 GiB one dense float32 matrix would take."""
import subprocess
import sys

import pytest

NUM_ITEMS = 20_000
DENSE_MIB = NUM_ITEMS ** 2 * 4 / 2 ** 20

SCRIPT = f'''
import resource
import torch
from pyg_mmrec.data import INTERACTS, make_synthetic
from pyg_mmrec.registry import get_model_class

splits = make_synthetic(num_users=200, num_items={NUM_ITEMS}, mean_interactions=5,
                        modalities={{'image': (8, 4, 4), 'text': (8, 4, 4)}}, seed=0)
data = splits.train
edge_index = data[INTERACTS].edge_index
user, pos = edge_index[:, :512]
neg = torch.randint({NUM_ITEMS}, (512,))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for name in ('lattice', 'vlattice', 'freedom', 'micro'):
    model = get_model_class(name).from_data(data, embedding_dim=16)
    model.train()
    model.loss(data, user, pos, neg)['loss'].backward()
    model.eval()
    with torch.no_grad():
        model(data)
    now = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(name, (now - peak) / 1024)
'''


@pytest.mark.parametrize('name', ['lattice', 'vlattice', 'freedom', 'micro'])
def test_no_dense_item_item_matrix(name, item_graph_memory):
    # Growth of the peak resident memory over the data's, cumulative over the models run.
    assert item_graph_memory[name] < DENSE_MIB / 3


@pytest.fixture(scope='module')
def item_graph_memory():
    out = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                         check=True, env={'OMP_NUM_THREADS': '1', 'PATH': ''})
    return {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines()}
