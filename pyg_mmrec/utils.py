"""Small shared mechanisms."""
from __future__ import annotations

import contextlib
import ctypes
import glob
import math
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor


class PairSet:
    r"""A set of ``(user, item)`` pairs with vectorised membership tests.

    Pairs are stored as sorted keys :math:`u \cdot I + i` and looked up with
    :func:`torch.searchsorted`, in :math:`O(\log E)` per query and no Python loop.

    Args:
        edge_index (Tensor): Pairs ``[2, E]`` (row 0 users, row 1 items).
        num_items (int): Number of items :math:`I`.
    """
    def __init__(self, edge_index: Tensor, num_items: int):
        self.num_items = num_items
        self.keys = (edge_index[0] * num_items + edge_index[1]).unique()

    def __contains__(self, pair: tuple[int, int]) -> bool:
        return bool(self.contains(torch.tensor([pair[0]]), torch.tensor([pair[1]])))

    def contains(self, user: Tensor, item: Tensor) -> Tensor:
        """Whether each ``(user, item)`` pair (broadcast together) is in the set."""
        key = user * self.num_items + item
        if self.keys.numel() == 0:
            return torch.zeros_like(key, dtype=torch.bool)
        pos = torch.searchsorted(self.keys, key).clamp(max=self.keys.numel() - 1)
        return self.keys[pos] == key


def batch_items(pos: Tensor, neg: Tensor, max_items: int) -> Tensor:
    """The distinct items of a batch (positives and negatives), at most ``max_items`` of them
    drawn at random (IBMRec's HSIC sample, MICRO's contrastive items)."""
    items = torch.cat([pos, neg]).unique()
    if items.numel() > max_items:
        items = items[torch.randperm(items.numel(), device=items.device)[:max_items]]
    return items


def atomic_write(path: str | Path, write) -> None:
    """Calls ``write(file)`` on a temporary file next to ``path`` and renames it onto ``path``
    only once it is complete, so that a crash never leaves a truncated file. Temporary files
    of ``path`` left by an earlier write that was killed are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f'.{glob.escape(path.name)}.*.tmp'):
        stale.unlink(missing_ok=True)  # left by an earlier write that was killed
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def quiet_sparse_csr() -> Iterator[None]:
    """Silences the warning PyTorch raises on every sparse CSR construction (that its CSR
    support is in beta), which would otherwise repeat once per forward pass."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='Sparse (CSR tensor|invariant)')
        yield


def available_cpus(cgroup_root: str | Path = '/sys/fs/cgroup') -> int:
    """The number of CPUs this process may use: those of its affinity mask
    (:func:`os.sched_getaffinity`), capped by the container's CPU quota where one is set
    (cgroup v2 ``cpu.max``, or v1 ``cpu/cpu.cfs_quota_us`` over ``cpu.cfs_period_us``), rounded
    down and at least 1. :func:`os.cpu_count` alone counts the machine's CPUs, which a job
    restricted to fewer oversubscribes.

    Args:
        cgroup_root (str or Path): Where the cgroup file system is mounted.
    """
    cpus = (len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
            else os.cpu_count() or 1)
    quota = _cgroup_quota(Path(cgroup_root))
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def _cgroup_quota(root: Path) -> float | None:
    """The CPU quota of the cgroup mounted at ``root``, in CPUs; :obj:`None` if there is none
    (no such file, no limit, or content that is not a quota)."""
    try:
        fields = (root / 'cpu.max').read_text().split()
        if len(fields) == 2 and fields[0] != 'max':
            return int(fields[0]) / int(fields[1])
        return None
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        quota = int((root / 'cpu' / 'cpu.cfs_quota_us').read_text())
        period = int((root / 'cpu' / 'cpu.cfs_period_us').read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def busy_elsewhere(proc_root: str | Path = '/proc', samples: int = 3) -> int | None:
    """How many threads of other processes are running or waiting for a CPU right now: the
    kernel's count of runnable threads (the fourth field of ``/proc/loadavg``) less the
    runnable threads of this process, the smallest of ``samples`` readings (a process that
    only passes through, such as a shell command, should not count); :obj:`None` where the
    files are not there (not Linux).

    Args:
        proc_root (str or Path): Where the proc file system is mounted.
        samples (int): Readings, about a millisecond apart.
    """
    root = Path(proc_root)
    counts = []
    for sample in range(samples):
        if sample:
            time.sleep(0.001)
        try:
            runnable = int((root / 'loadavg').read_text().split()[3].split('/')[0])
            own = sum(_thread_state(task) == 'R' for task in (root / 'self' / 'task').iterdir())
        except (OSError, ValueError, IndexError):
            return None
        counts.append(max(0, runnable - own))
    return min(counts)


def _thread_state(task: Path) -> str | None:
    """The scheduler state letter of the thread whose ``/proc`` folder is ``task``
    (:obj:`None` if it has exited meanwhile)."""
    try:
        return (task / 'stat').read_text().rpartition(')')[2].split()[0]
    except (OSError, IndexError):
        return None


def auto_threads(cgroup_root: str | Path = '/sys/fs/cgroup',
                 proc_root: str | Path = '/proc') -> int:
    """The intra-op thread count that the setting ``threads=0`` (auto) chooses: the
    environment's ``OMP_NUM_THREADS`` where it holds a positive integer (the user's explicit
    choice for the process), else :func:`available_cpus`, less the CPUs that other processes
    keep busy right now (:func:`busy_elsewhere`, out of the machine's :func:`os.cpu_count`),
    and at least 1.

    Several jobs on one machine that each took every CPU would oversubscribe it: the threads
    of one operation wait for each other while the scheduler runs another job's (an epoch
    then takes many times its fair share; :ref:`threads`). The trainer asks again before
    every epoch, so a job gives CPUs back when others start and takes them again when they
    finish."""
    value = os.environ.get('OMP_NUM_THREADS', '').strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    cpus = available_cpus(cgroup_root)
    busy = busy_elsewhere(proc_root)
    if busy is not None:
        cpus = min(cpus, (os.cpu_count() or cpus) - busy)
    return max(1, cpus)


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def retain_freed_memory(trim_threshold: int = 1 << 30, mmap_threshold: int = 32 << 20
                        ) -> bool:
    """Asks the C library's allocator to keep the memory that tensors free for the next
    allocations of the process instead of returning it to the system.

    A training step frees and allocates the same large buffers (gradient tables, Adam's
    temporaries) in every batch. With glibc's defaults many of them go back to the system when
    freed and come back as fresh pages, which the kernel hands out one page fault at a time
    (LightGCN on amazon-baby: about 350,000 faults per epoch, a third of the epoch's time).
    This sets glibc's ``M_TRIM_THRESHOLD`` (free memory at the top of the heap kept, up to
    ``trim_threshold`` bytes) and ``M_MMAP_THRESHOLD`` (blocks below ``mmap_threshold``
    bytes, at most 32 MiB, come from the heap rather than from a mapping of their own). It
    holds for the rest of the process; peak memory is unchanged, but up to ``trim_threshold``
    bytes of freed memory stay with the process instead of going back to the system. Results
    do not change: only where memory comes from.

    Returns:
        bool: Whether the allocator took the setting (:obj:`False` on C libraries other than
        glibc, e.g. on macOS or Windows, where nothing changes).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (AttributeError, OSError, TypeError):
        return False
    return bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold)
                and mallopt(_M_MMAP_THRESHOLD, mmap_threshold))


@contextlib.contextmanager
def intra_op_threads(threads: int) -> Iterator[int]:
    """Within the block, PyTorch runs ``threads`` intra-op threads (``0``:
    :func:`auto_threads`); the previous count is restored afterwards. Yields the count."""
    count = threads or auto_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)
