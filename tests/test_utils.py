import os
import platform
import subprocess
import sys
import time

import pytest
import torch

from pyg_mmrec.utils import auto_threads, available_cpus, busy_elsewhere, intra_op_threads


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


def fake_proc(root, runnable: int, own_states: str):
    """A /proc with ``runnable`` runnable threads in all and this process's threads in the
    states ``own_states`` (one letter each)."""
    root.mkdir()
    (root / 'loadavg').write_text(f'1.50 1.20 0.90 {runnable}/321 4567\n')
    for i, state in enumerate(own_states):
        task = root / 'self' / 'task' / str(100 + i)
        task.mkdir(parents=True)
        (task / 'stat').write_text(f'{100 + i} (python (x)) {state} 1 2 3 4\n')
    return root


def test_busy_elsewhere_is_the_runnable_count_less_this_process(tmp_path):
    assert busy_elsewhere(fake_proc(tmp_path / 'a', 5, 'RSR')) == 3  # 5 runnable, 2 ours
    assert busy_elsewhere(fake_proc(tmp_path / 'b', 1, 'RS')) == 0
    assert busy_elsewhere(tmp_path / 'missing') is None  # no /proc: not Linux


def test_busy_elsewhere_sees_a_busy_process():
    child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try:
        time.sleep(0.5)  # let it start spinning
        assert busy_elsewhere(samples=5) >= 1
    finally:
        child.kill()
        child.wait()


def test_auto_threads_honours_omp_num_threads(tmp_path, monkeypatch):
    idle = fake_proc(tmp_path / 'proc', 1, 'R')
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert auto_threads(tmp_path, idle) == 3
    monkeypatch.setenv('OMP_NUM_THREADS', 'many')
    assert auto_threads(tmp_path, idle) == affinity()
    monkeypatch.delenv('OMP_NUM_THREADS')
    (tmp_path / 'cpu.max').write_text('100000 100000\n')
    assert auto_threads(tmp_path, idle) == 1


def test_auto_threads_leaves_the_cpus_other_processes_keep_busy(tmp_path, monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(os, 'cpu_count', lambda: 8)
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(8)))
    assert auto_threads(tmp_path, fake_proc(tmp_path / 'idle', 2, 'RR')) == 8
    assert auto_threads(tmp_path, fake_proc(tmp_path / 'half', 6, 'RR')) == 4
    assert auto_threads(tmp_path, fake_proc(tmp_path / 'full', 30, 'R')) == 1  # never 0
    assert auto_threads(tmp_path, tmp_path / 'missing') == 8  # unknown load: every CPU


def test_intra_op_threads_sets_and_restores():
    before = torch.get_num_threads()
    with intra_op_threads(2) as count:
        assert count == 2 and torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


# Where a fresh 24 MiB tensor's memory comes from: the heap (True), which keeps what is
# freed, or a mapping of its own (False), which a free returns to the system.
FROM_HEAP = '''
import sys, torch
from pyg_mmrec.utils import retain_freed_memory
if sys.argv[1] == 'retain':
    assert retain_freed_memory()
x = torch.ones(6 << 20)
heap = next(line.split()[0] for line in open('/proc/self/maps') if line.rstrip().endswith('[heap]'))
low, high = (int(end, 16) for end in heap.split('-'))
print(low <= x.data_ptr() < high)
'''


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason="glibc's allocator only")
def test_retained_memory_serves_large_tensors_from_the_heap():
    def from_heap(mode: str) -> bool:
        done = subprocess.run([sys.executable, '-c', FROM_HEAP, mode], check=True,
                              capture_output=True, text=True)
        return done.stdout.strip() == 'True'

    # By default glibc maps blocks this large on their own and unmaps them when freed, so
    # that the next one faults its pages in again.
    assert from_heap('retain') and not from_heap('default')
