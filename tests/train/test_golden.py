"""Golden values: every registered model and plug-in configuration trained for three epochs on
a small synthetic dataset, one thread, fixed seed. A refactoring that keeps behaviour must
reproduce them exactly (validation Recall@20 and mean training loss of every epoch).

Re-record (only when a change of behaviour is intended, and say so in the commit)::

    python tests/train/test_golden.py
"""
import json
import math
from pathlib import Path

import pytest
import torch

from pyg_mmrec.data import make_synthetic
from pyg_mmrec.train import make_trainer

GOLDEN = Path(__file__).with_name('golden_values.json')
EPOCHS = 3
TRAIN = {'epochs': EPOCHS, 'patience': EPOCHS, 'batch_size': 512, 'progress': False,
         'seed': 11, 'threads': 1}

BACKBONES = ('bm3', 'bprmf', 'buir', 'dualgnn', 'freedom', 'grcn', 'lattice', 'layergcn',
             'lightgcn', 'micro', 'mmgcn', 'selfcf', 'sgl', 'vbpr', 'vlattice', 'vlightgcn')
CONFIGS: dict[str, tuple[str, dict]] = {
    **{name: (name, {}) for name in BACKBONES},
    **{f'ibmrec-{b}': ('ibmrec', {'backbone': b}) for b in ('vbpr', 'vlightgcn', 'lattice',
                                                          'vlattice')},
    'ibmrec-vbpr-fib-only': ('ibmrec', {'backbone': 'vbpr', 'second_stage': False}),
    'ibmrec-vlattice-no-fib': ('ibmrec', {'backbone': 'vlattice', 'fib': False}),
    'ibmrec-vlattice-no-gib': ('ibmrec', {'backbone': 'vlattice', 'gib': False}),
    'ibmrec-lattice-no-second-stage': ('ibmrec', {'backbone': 'lattice',
                                                  'second_stage': False}),
    **{f'dvib-adaptive-{b}': ('dvib', {'backbone': b}) for b in BACKBONES},
    **{f'dvib-constant-{b}': ('dvib', {'backbone': b, 'variant': 'constant'})
       for b in ('vbpr', 'lightgcn', 'lattice', 'mmgcn')},
    'dvib-adaptive-relative-vbpr': ('dvib', {'backbone': 'vbpr', 'relative': True}),
    'msi': ('msi', {}),
    'msi-no-ssd': ('msi', {'use_ssd': False}),
    'msi-no-ip': ('msi', {'use_ip': False}),
    'msi-no-align': ('msi', {'use_align': False}),
    'msi-no-mask': ('msi', {'use_mask': False}),
}


def golden_splits():
    return make_synthetic(num_users=200, num_items=150, mean_interactions=15, seed=5)


def trajectory(model: str, config: dict, splits) -> dict[str, list[float]]:
    """Validation Recall@20 and mean training loss of each of the first three epochs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = make_trainer(model, splits, {**TRAIN, **config})
        trainer.fit(test=False)
    finally:
        torch.set_num_threads(threads)
    return {'recall@20': [r['valid']['Recall@20'] for r in trainer.history],
            'loss': [r['loss'] for r in trainer.history]}


@pytest.fixture(scope='module')
def splits():
    return golden_splits()


@pytest.fixture(scope='module')
def golden():
    return json.loads(GOLDEN.read_text())


def test_every_configuration_has_a_golden_value(golden):
    assert sorted(golden) == sorted(CONFIGS)


@pytest.mark.parametrize('key', sorted(CONFIGS))
def test_training_reproduces_golden_values(key, splits, golden):
    model, config = CONFIGS[key]
    got = trajectory(model, config, splits)
    assert got['recall@20'] == golden[key]['recall@20']
    # The loss is a float sum over batches: allow for a changed order of summation and for
    # the CPU's kernels (the same code gives DVIB on MMGCN losses 3.2e-6 apart, relatively,
    # on two machines with one thread each), nothing more.
    for a, b in zip(got['loss'], golden[key]['loss'], strict=True):
        assert math.isclose(a, b, rel_tol=1e-5)


if __name__ == '__main__':
    data = golden_splits()
    values = {}
    for key, (model, config) in CONFIGS.items():
        values[key] = trajectory(model, config, data)
        print(key, values[key]['recall@20'], flush=True)
    GOLDEN.write_text(json.dumps(values, indent=1, sort_keys=True) + '\n')
