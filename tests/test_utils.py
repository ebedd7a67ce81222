import os

import pytest
import torch

from pyg_mmrec.utils import auto_threads, available_cpus, intra_op_threads


def affinity() -> int:
    return len(os.sched_getaffinity(0))


def test_available_cpus_is_the_affinity_without_a_quota(tmp_path):
    assert available_cpus(tmp_path) == affinity()
    (tmp_path / 'cpu.max').write_text('max 100000\n')
    assert available_cpus(tmp_path) == affinity()


@pytest.mark.parametrize('quota, period, expected', [(100000, 100000, 1), (50000, 100000, 1),
                                                      (150000, 100000, 1),
                                                      (10**9, 100000, None)])
def test_cgroup_v2_quota_caps_the_affinity(tmp_path, quota, period, expected):
    (tmp_path / 'cpu.max').write_text(f'{quota} {period}\n')
    assert available_cpus(tmp_path) == (affinity() if expected is None else expected)


def test_cgroup_v1_quota_caps_the_affinity(tmp_path):
    (tmp_path / 'cpu').mkdir()
    (tmp_path / 'cpu' / 'cpu.cfs_quota_us').write_text('100000\n')
    (tmp_path / 'cpu' / 'cpu.cfs_period_us').write_text('100000\n')
    assert available_cpus(tmp_path) == 1
    (tmp_path / 'cpu' / 'cpu.cfs_quota_us').write_text('-1\n')  # v1's "no limit"
    assert available_cpus(tmp_path) == affinity()


def test_unreadable_quota_is_ignored(tmp_path):
    (tmp_path / 'cpu.max').write_text('garbage\n')
    assert available_cpus(tmp_path) == affinity()


def test_auto_threads_honours_omp_num_threads(tmp_path, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert auto_threads(tmp_path) == 3
    monkeypatch.setenv('OMP_NUM_THREADS', 'many')
    assert auto_threads(tmp_path) == affinity()
    monkeypatch.delenv('OMP_NUM_THREADS')
    (tmp_path / 'cpu.max').write_text('100000 100000\n')
    assert auto_threads(tmp_path) == 1


def test_intra_op_threads_sets_and_restores():
    before = torch.get_num_threads()
    with intra_op_threads(2) as count:
        assert count == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
