"""The models with an item-item graph (every registered model that offers the ``item_graph``
capability: LATTICE, VLATTICE, FREEDOM, MICRO, IBMRec on VLATTICE; and ItemKNN-CBF, whose kNN
graph is its item representation) never build a dense item-item matrix, neither training
nor scoring a batch of users, nor DualGNN a dense user-user one: a training step and a forward
pass on 20,000 items (40,000 users) stay below half the 1.5 GiB (a third of the 6 GiB) one dense
float32 matrix would take, and the item-graph models' memory grows linearly, not
quadratically, with the number of items. (IBMRec's is the largest, about 400 MiB: its mask MLP
keeps activations per edge of the kNN graphs for the backward pass. DualGNN's co-occurrence
counts are densified in blocks of at most 2**24 entries, a few hundred MiB whatever the number
of users, hence the larger user count.)"""
import subprocess
import sys
from pathlib import Path

import pytest

from pyg_mmrec.nn.models import Capability
from pyg_mmrec.registry import registered

pytestmark = pytest.mark.skipif(not Path('/proc/self/status').is_file(),
                                reason='reads the high-water mark from /proc (Linux)')
NUM_ITEMS, NUM_USERS = 20_000, 40_000


def dense_mib(n: int) -> float:
    return n ** 2 * 4 / 2 ** 20


# The models, by the node type whose square matrix they must never build.
ITEM_GRAPH_MODELS = sorted([name for name, cls in registered().items()
                            if Capability.ITEM_GRAPH in cls.offered_capabilities()]
                           + ['itemknn_cbf'])
USER_GRAPH_MODELS = ['dualgnn']

SCRIPT = '''
import sys
import torch
from pyg_mmrec.data import INTERACTS, make_synthetic
from pyg_mmrec.registry import get_model_class

num_users, num_items, names = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
splits = make_synthetic(num_users=num_users, num_items=num_items, mean_interactions=5,
                        modalities={'image': (8, 4, 4), 'text': (8, 4, 4)}, seed=0)
data = splits.train
edge_index = data[INTERACTS].edge_index
user, pos = edge_index[:, :512]
neg = torch.randint(num_items, (512,))


def peak_kib():
    # this process's own high-water mark: ru_maxrss would start from the parent's (Linux keeps
    # it across fork and exec), e.g. the test runner's after a long session
    with open('/proc/self/status') as status:
        return next(int(line.split()[1]) for line in status if line.startswith('VmHWM:'))


peak = peak_kib()
for name in names:
    cls = get_model_class(name)
    model = cls.from_data(data, **({'embedding_dim': 16} if cls.trainable else {}))
    if cls.trainable:
        model.train()
        model.loss(data, user, pos, neg)['loss'].backward()
    model.eval()
    with torch.no_grad():
        user_emb, item_emb = model(data)
        model.score(user_emb[user], item_emb)
    now = peak_kib()
    print(name, (now - peak) / 1024)
'''


def peak_growth(num_users: int, num_items: int, names: list[str]) -> dict[str, float]:
    """Growth of the peak resident memory (MiB) over the data's, cumulative over ``names``."""
    out = subprocess.run([sys.executable, '-c', SCRIPT, str(num_users), str(num_items), *names],
                         capture_output=True, text=True, check=True,
                         env={'OMP_NUM_THREADS': '1', 'PATH': ''})
    return {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines()}


@pytest.fixture(scope='module')
def item_graph_memory():
    """Each model's own growth (one process each), at half and at all of ``NUM_ITEMS``."""
    return {(name, n): peak_growth(200, n, [name])[name]
            for name in ITEM_GRAPH_MODELS for n in (NUM_ITEMS // 2, NUM_ITEMS)}


@pytest.fixture(scope='module')
def user_graph_memory():
    return peak_growth(NUM_USERS, 200, USER_GRAPH_MODELS)


@pytest.mark.parametrize('name', ITEM_GRAPH_MODELS)
def test_no_dense_item_item_matrix(name, item_graph_memory):
    half, full = item_graph_memory[name, NUM_ITEMS // 2], item_graph_memory[name, NUM_ITEMS]
    assert full < dense_mib(NUM_ITEMS) / 2
    # twice the items: about twice the memory (a dense matrix would take four times as much:
    # 1526 against 381 MiB); the slack covers a model that stays near the data's own peak
    assert full < 3 * half + 64


@pytest.mark.parametrize('name', USER_GRAPH_MODELS)
def test_no_dense_user_user_matrix(name, user_graph_memory):
    assert user_graph_memory[name] < dense_mib(NUM_USERS) / 3
