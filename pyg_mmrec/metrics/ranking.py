r"""Full-ranking top-K evaluation: every user is scored against every item."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.utils import PairSet

DEFAULT_KS = (5, 10, 20, 50)
METRIC_NAMES = ('Recall', 'NDCG', 'Precision', 'MAP', 'HitRate')


def ranking_metrics(hits: Tensor, num_relevant: Tensor, ks: Sequence[int]) -> dict[str, Tensor]:
    r"""Per-user top-K metrics from the relevance of each user's ranked list.

    With :math:`h_r \in \{0, 1\}` the relevance of the item at rank :math:`r` (from 1) and
    :math:`n` the number of held-out items of the user:

    .. math::
        \mathrm{Recall@K} = \frac{\sum_{r \le K} h_r}{n}, \quad
        \mathrm{Precision@K} = \frac{\sum_{r \le K} h_r}{K}, \quad
        \mathrm{HitRate@K} = \mathbb{1}\Big[\sum_{r \le K} h_r > 0\Big],

    .. math::
        \mathrm{NDCG@K} = \frac{\sum_{r \le K} h_r / \log_2(r + 1)}
        {\sum_{r \le \min(n, K)} 1 / \log_2(r + 1)}, \quad
        \mathrm{MAP@K} = \frac{1}{\min(n, K)} \sum_{r \le K} h_r
        \frac{\sum_{s \le r} h_s}{r}.

    Args:
        hits (Tensor): Relevance ``[B, R]`` (bool) of each user's top-:math:`R` items,
            :math:`R \ge \max K` (ranks beyond the number of items are simply ``False``).
        num_relevant (Tensor): Number of held-out items ``[B]`` of each user (all positive).
        ks (sequence of int): Cut-offs.

    Returns:
        dict: ``'Recall@K'``-style keys to per-user values ``[B]``.
    """
    hits = hits.float()
    max_k = max(ks)
    if hits.size(1) < max_k:
        hits = torch.nn.functional.pad(hits, (0, max_k - hits.size(1)))
    ranks = torch.arange(1, max_k + 1, dtype=hits.dtype)
    discount = 1.0 / torch.log2(ranks + 1)
    idcg = torch.cat([discount.new_zeros(1), discount.cumsum(0)])
    cum_hits = hits[:, :max_k].cumsum(1)
    dcg = (hits[:, :max_k] * discount).cumsum(1)
    ap = (hits[:, :max_k] * cum_hits / ranks).cumsum(1)
    n = num_relevant.to(hits.dtype)
    out = {}
    for k in ks:
        found = cum_hits[:, k - 1]
        denom = n.clamp(max=k)
        out[f'Recall@{k}'] = found / n
        out[f'NDCG@{k}'] = dcg[:, k - 1] / idcg[denom.long()]
        out[f'Precision@{k}'] = found / k
        out[f'MAP@{k}'] = ap[:, k - 1] / denom
        out[f'HitRate@{k}'] = (found > 0).to(hits.dtype)
    return out


class _UserIndex:
    """Items of each user in CSR form, for gathering the items of a batch of users."""
    def __init__(self, edge_index: Tensor, num_users: int):
        order = torch.argsort(edge_index[0], stable=True)
        self.items = edge_index[1, order]
        self.degree = torch.bincount(edge_index[0], minlength=num_users)
        self.ptr = torch.cat([self.degree.new_zeros(1), self.degree.cumsum(0)])

    def batch(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """(row within the batch, item) of every item of ``users``."""
        count = self.degree[users]
        row = torch.repeat_interleave(torch.arange(users.numel()), count)
        start = torch.repeat_interleave(self.ptr[users] - torch.cumsum(count, 0) + count, count)
        return row, self.items[start + torch.arange(row.numel())]


def _check_index(edge_index: Tensor, num_users: int, num_items: int, what: str) -> None:
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ConfigError(f"{what} must have shape [2, E], got {tuple(edge_index.shape)}")
    if edge_index.numel() and (int(edge_index[0].max()) >= num_users
                               or int(edge_index[1].max()) >= num_items
                               or int(edge_index.min()) < 0):
        raise ConfigError(f"{what} has ids outside {num_users} users x {num_items} items")


class RankingEvaluator:
    r"""Full-ranking evaluation with the field's top-K metrics.

    Every user with held-out items is scored against **all** items; items listed in the
    exclusion graphs (the user's training items, and at test time its validation items) are
    removed from its ranking; :func:`ranking_metrics` are averaged over those users. Users are
    processed in batches of at most ``max_scores`` user-item scores, so memory is bounded
    whatever the number of users.

    Args:
        ks (sequence of int): Cut-offs. (default: :obj:`(5, 10, 20, 50)`)
        max_scores (int): Largest score matrix held at once, in entries.
            (default: :obj:`2**20`)
    """
    def __init__(self, ks: Sequence[int] = DEFAULT_KS, max_scores: int = 2**20):
        ks = tuple(int(k) for k in ks)
        if not ks or min(ks) < 1:
            raise ConfigError(f"cut-offs ks must be positive integers, got {ks}")
        if max_scores < 1:
            raise ConfigError(f"max_scores must be positive, got {max_scores}")
        self.ks = ks
        self.max_scores = max_scores
        # The same exclusion graphs come back every validation: index each one once.
        self._indices: dict[tuple[int, int], tuple[Tensor, _UserIndex]] = {}

    def _user_index(self, edge_index: Tensor, num_users: int) -> _UserIndex:
        # Keyed by identity; the cache holds the tensor, so its id cannot be reused meanwhile.
        key = (id(edge_index), num_users)
        if key not in self._indices:
            self._indices[key] = (edge_index, _UserIndex(edge_index, num_users))
        return self._indices[key][1]

    def user_batches(self, users: Tensor, num_items: int) -> tuple[Tensor, ...]:
        """Splits ``users`` into batches that respect :attr:`max_scores`."""
        return users.split(max(1, self.max_scores // max(num_items, 1)))

    @torch.no_grad()
    def top_k(self, score: Callable[[Tensor], Tensor], users: Tensor, num_users: int,
              num_items: int, k: int, exclude: Sequence[Tensor] = (),
              items: tuple[int, int] | None = None) -> tuple[Tensor, Tensor]:
        """The ``k`` best items ``[len(users), k]`` and their scores for each user, ranking
        all items (or the id range ``items``) except the user's items in the ``exclude``
        graphs (``-inf`` scores pad the list when fewer than ``k`` items remain).

        Args:
            score (callable): Maps a batch of user ids ``[B]`` to a new scores tensor
                ``[B, num_items]`` (it is modified in place).
            users (Tensor): User ids.
            num_users (int): Number of users.
            num_items (int): Number of items.
            k (int): List length.
            exclude (sequence of Tensor): User-item graphs ``[2, E]`` whose items are removed.
            items (tuple, optional): Rank only the items ``items[0] <= i < items[1]`` (e.g.
                the cold items of :doc:`/cold_start`); the ids returned stay the catalogue's.
        """
        for e in exclude:
            _check_index(e, num_users, num_items, 'an exclusion graph')
        excluded = [self._user_index(e, num_users) for e in exclude]
        top_items, top_scores = [], []
        for batch in self.user_batches(users, num_items):
            scores = score(batch)
            for index in excluded:
                row, item = index.batch(batch)
                scores[row, item] = float('-inf')
            if items is not None:
                scores = scores[:, items[0]:items[1]]
            val, idx = torch.topk(scores, min(k, scores.size(1)), dim=1)
            top_items.append(idx if items is None else idx + items[0])
            top_scores.append(val)
        return torch.cat(top_items), torch.cat(top_scores)

    @torch.no_grad()
    def evaluate(self, score: Callable[[Tensor], Tensor], target: Tensor, num_users: int,
                 num_items: int, exclude: Sequence[Tensor] = (),
                 items: tuple[int, int] | None = None) -> dict[str, float]:
        """Averages the metrics over users with held-out items.

        Args:
            score (callable): Maps a batch of user ids ``[B]`` to scores ``[B, num_items]``.
            target (Tensor): Held-out user-item pairs ``[2, E]`` to find.
            num_users (int): Number of users.
            num_items (int): Number of items.
            exclude (sequence of Tensor): User-item graphs ``[2, E]`` (training and, at test
                time, validation interactions) removed from the rankings.
            items (tuple, optional): Rank only the item id range ``[items[0], items[1])``
                and find only the targets in it (users without one are left out).

        Returns:
            dict: ``'Recall@20'``-style keys to floats, plus ``'num_users'``.
        """
        _check_index(target, num_users, num_items, 'the target graph')
        if items is not None:
            target = target[:, (target[1] >= items[0]) & (target[1] < items[1])]
        num_relevant = torch.bincount(target[0], minlength=num_users)
        users = num_relevant.nonzero().view(-1)
        if users.numel() == 0:
            raise ConfigError("no user has a held-out item to evaluate")
        ranked, _ = self.top_k(score, users, num_users, num_items, max(self.ks), exclude, items)
        hits = PairSet(target, num_items).contains(users.view(-1, 1), ranked)
        per_user = ranking_metrics(hits, num_relevant[users], self.ks)
        out = {key: float(value.mean()) for key, value in per_user.items()}
        out['num_users'] = int(users.numel())
        return out

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(ks={self.ks})'
