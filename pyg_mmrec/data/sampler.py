"""BPR triplet sampling: (user, positive item, negative item) batches."""
from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral

import torch
from torch import Tensor

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.utils import PairSet


class NegativeSampler:
    r"""Draws negative items uniformly among the items a user has not interacted with in
    training.

    Membership is tested with a :class:`~pyg_mmrec.utils.PairSet`, so a batch is sampled in a
    few vectorised passes: candidates are
    drawn uniformly over all items and those that hit a training item are redrawn until none
    does (rejection sampling, exactly uniform over each user's non-interacted items).

    Args:
        edge_index (Tensor): Training interactions ``[2, E]`` (row 0 users, row 1 items).
        num_items (int): Number of items.
    """
    def __init__(self, edge_index: Tensor, num_items: int):
        self.num_items = num_items
        self.positives = PairSet(edge_index, num_items)
        degree = torch.bincount(self.positives.keys // num_items)  # distinct items per user
        if degree.numel() and int(degree.max()) >= num_items:
            user = int(degree.argmax())
            raise ConfigError(f"user {user} interacted with every item; no negative exists")

    def sample(self, user: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One negative item per entry of ``user``."""
        neg = torch.randint(self.num_items, user.shape, generator=generator)
        redo = self.positives.contains(user, neg).nonzero().view(-1)
        while redo.numel():
            neg[redo] = torch.randint(self.num_items, redo.shape, generator=generator)
            redo = redo[self.positives.contains(user[redo], neg[redo])]
        return neg


class TripletLoader:
    r"""Iterates over an epoch of BPR triplets: every training interaction once, in a seeded
    random order, with one uniformly sampled negative each.

    For data-parallel training each rank iterates over its own share: the epoch's permutation is
    the same on every rank (same seed and epoch) and rank :math:`r` of :math:`W` takes every
    :math:`W`-th interaction starting at :math:`r`.

    Args:
        edge_index (Tensor): Training interactions ``[2, E]``.
        num_items (int): Number of items.
        batch_size (int): Triplets per batch.
        seed (int): Base seed; epoch :math:`e` uses ``seed + e``, so that an epoch can be
            replayed (e.g. after resuming from a checkpoint).
        rank (int): This process's rank. (default: :obj:`0`)
        world_size (int): Number of processes. (default: :obj:`1`)
    """
    def __init__(self, edge_index: Tensor, num_items: int, batch_size: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        if not isinstance(batch_size, Integral) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside [0, world_size={world_size})")
        self.edge_index = edge_index
        self.sampler = NegativeSampler(edge_index, num_items)
        self.batch_size = int(batch_size)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch whose permutation and negatives the next iteration draws."""
        self.epoch = epoch

    def __len__(self) -> int:
        share = len(range(self.rank, self.edge_index.size(1), self.world_size))
        return -(-share // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        perm = torch.randperm(self.edge_index.size(1), generator=gen)
        perm = perm[self.rank::self.world_size]
        # Draw the rank's negatives from its own stream so ranks do not repeat each other.
        gen.manual_seed((self.seed + self.epoch) * 7919 + self.rank)
        for chunk in perm.split(self.batch_size):
            user, pos = self.edge_index[:, chunk]
            yield user, pos, self.sampler.sample(user, gen)
