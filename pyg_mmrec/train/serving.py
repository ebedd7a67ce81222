"""Top-K recommendations in the source's ids, from a model and its data or from a checkpoint
alone.

A finished training run stores a :class:`RecommendIndex` in its checkpoint: the best model's
final user and item representations, every user's known interactions per split and the raw id
maps. :func:`recommend` answers from it without the dataset; given the model and its data
instead, it builds the same index from one forward pass, so both ways give the same lists.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor

from pyg_mmrec.data import INTERACTS, DataSplits
from pyg_mmrec.errors import CheckpointError, ConfigError, DataError
from pyg_mmrec.metrics import RankingEvaluator
from pyg_mmrec.nn.models import Recommender
from pyg_mmrec.schema import COLD_ITEM, SPLIT_NAMES
from pyg_mmrec.train.checkpoint import load_checkpoint
from pyg_mmrec.train.evaluation import catalogue

#: The checkpoint key of the index.
INDEX_KEY = 'recommend_index'


def scores_by_inner_product(model: Recommender) -> bool:
    """Whether ``model`` scores by the inner product of its representations (the
    :class:`~pyg_mmrec.nn.models.Recommender` default, which a plug-in delegates to its
    backbone): only then can stored representations answer without the model."""
    while hasattr(model, 'backbone') and type(model).score is not Recommender.score:
        model = model.backbone
    return type(model).score is Recommender.score


@dataclasses.dataclass
class RecommendIndex:
    """What :func:`recommend` needs, without the model or the dataset.

    Args:
        user_emb (Tensor): User representations ``[U, d]``.
        item_emb (Tensor): Item representations ``[I, d]``; a score is ``user_emb @
            item_emb.T``.
        edges (dict): Per split name (``'train'``, ``'val'``, ``'test'``), the user-item
            pairs ``[2, E]`` of that split: the items a user has been seen with.
        user_ids (list of str, optional): The raw id of each user, in internal id order
            (:obj:`None`: the raw ids are the internal ids).
        item_ids (list of str, optional): The raw id of each item.
        score (callable, optional): The model's own scoring of ``(user_emb[batch],
            item_emb)``, for a model that does not score by the inner product (such an index
            is not stored in checkpoints).
    """
    user_emb: Tensor
    item_emb: Tensor
    edges: dict[str, Tensor]
    user_ids: list[str] | None = None
    item_ids: list[str] | None = None
    score: Callable[[Tensor, Tensor], Tensor] | None = None

    @property
    def num_users(self) -> int:
        return self.user_emb.size(0)

    @property
    def num_items(self) -> int:
        return self.item_emb.size(0)

    @classmethod
    @torch.no_grad()
    def from_model(cls, model: Recommender, splits: DataSplits) -> RecommendIndex:
        """The index of ``model`` on ``splits`` (one forward pass on the training view; the
        cold items of a cold-start split from their features, see
        :func:`~pyg_mmrec.train.evaluation.catalogue`)."""
        user_emb, item_emb = catalogue(model, splits)
        edges = {s: splits.view(s)[INTERACTS].edge_label_index for s in SPLIT_NAMES}
        item_ids = getattr(splits.train['item'], 'raw_id', None)
        if item_ids is not None and splits.num_cold_items:  # the catalogue's ids, cold ones last
            item_ids = list(item_ids) + list(splits.train[COLD_ITEM].raw_id)
        return cls(user_emb.detach().clone(), item_emb.detach().clone(), edges,
                   getattr(splits.train['user'], 'raw_id', None), item_ids,
                   None if scores_by_inner_product(model) else model.score)

    def payload(self) -> dict[str, Any] | None:
        """The index as tensors and plain containers, for a checkpoint; :obj:`None` for a
        model with scores of its own, which stored representations cannot reproduce."""
        if self.score is not None:
            return None
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != 'score'}

    def scores(self, users: Tensor) -> Tensor:
        """Scores ``[B, I]`` of a batch of internal user ids against all items."""
        if self.score is None:
            return self.user_emb[users] @ self.item_emb.t()
        return self.score(self.user_emb[users], self.item_emb)

    @classmethod
    def from_checkpoint(cls, path: str | Path, ckpt: dict[str, Any] | None = None
                        ) -> RecommendIndex:
        """The index stored in the checkpoint at ``path`` (``ckpt``: its contents, if loaded
        already).

        Raises:
            CheckpointError: If the checkpoint holds no index (an unfinished run, or one
                written before indexes were stored) or a malformed one.
        """
        ckpt = load_checkpoint(path) if ckpt is None else ckpt
        raw = ckpt.get(INDEX_KEY)
        if raw is None:
            raise CheckpointError(f"{path}: holds no recommendation index (the run has not "
                                  f"finished, or predates indexes); pass the dataset it was "
                                  f"trained on (--data)")
        try:
            index = cls(**raw)
            ok = (index.user_emb.dim() == index.item_emb.dim() == 2
                  and set(index.edges) == set(SPLIT_NAMES)
                  and all(e.dim() == 2 and e.size(0) == 2 for e in index.edges.values()))
        except (TypeError, AttributeError):
            ok = False
        if not ok:
            raise CheckpointError(f"{path}: its recommendation index is malformed")
        for ids, n in ((index.user_ids, index.num_users), (index.item_ids, index.num_items)):
            if ids is not None and len(ids) != n:
                raise CheckpointError(f"{path}: its id map holds {len(ids)} ids for {n} rows")
        return index

    def internal_users(self, users: Sequence) -> Tensor:
        """Internal ids of raw user ids (compared as strings).

        Raises:
            DataError: For the first id that is not a known user.
        """
        if self.user_ids is None:
            lookup = {str(u): u for u in range(self.num_users)}
        else:
            lookup = {u: i for i, u in enumerate(self.user_ids)}
        out = []
        for u in users:
            if str(u) not in lookup:
                examples = ', '.join(repr(x) for x in list(lookup)[:3])
                raise DataError(f"unknown user id {str(u)!r}: not one of the "
                                f"{self.num_users} users of the training data (e.g. "
                                f"{examples}); give ids as in the source, or internal ids "
                                f"with internal_ids=True / --internal-ids")
            out.append(lookup[str(u)])
        return torch.tensor(out, dtype=torch.long)

    def with_new_items(self, item_emb: Tensor, ids: Sequence[str] | None = None
                       ) -> RecommendIndex:
        """The index with new items appended to the catalogue (after the last id), their
        representations ``item_emb`` ``[C, d]`` and raw ids ``ids`` (default ``'new0'``,
        ``'new1'``, ...).

        Raises:
            DataError: If ``ids`` has another length, repeats an id or names a known item.
        """
        ids = [f'new{i}' for i in range(item_emb.size(0))] if ids is None else \
            [str(i) for i in ids]
        known = [self.raw_item(i) for i in range(self.num_items)]
        if len(ids) != item_emb.size(0):
            raise DataError(f"{len(ids)} new item ids for {item_emb.size(0)} feature rows")
        seen = set(known)
        for i in ids:
            if i in seen:
                raise DataError(f"new item id {i!r} is repeated or already an item of the "
                                f"catalogue; new items need ids of their own")
            seen.add(i)
        return dataclasses.replace(self, item_emb=torch.cat([self.item_emb, item_emb]),
                                   item_ids=known + ids)

    def raw_item(self, i: int) -> str:
        return str(i) if self.item_ids is None else self.item_ids[i]

    def raw_user(self, u: int) -> str:
        return str(u) if self.user_ids is None else self.user_ids[u]


class Recommendations(NamedTuple):
    """The result of :func:`recommend`: ``users`` ``[N]``, ``items`` and ``scores`` ``[N, k]``,
    best first.

    With raw ids (the default) ``users`` is a list of raw user ids and ``items`` / ``scores``
    are lists of lists, each as long as the user has candidates (at most ``k``). With
    ``internal_ids=True`` they are tensors, a user with fewer than ``k`` candidates padded
    with item ``-1`` at score ``-inf``."""
    users: Any
    items: Any
    scores: Any


def recommend(model: Recommender | str | Path, splits: DataSplits | None = None, k: int = 10,
              users: Sequence | Tensor | None = None, split: str | None = None,
              exclude_val_at_test: bool = True, internal_ids: bool = False,
              new_items: Mapping[str, Tensor] | None = None,
              new_item_ids: Sequence[str] | None = None, only_new: bool = False
              ) -> Recommendations:
    """Top-``k`` items for users, never recommending a user's training items (nor its
    validation items when ``split == 'test'``), and never padding with them: a user with
    fewer than ``k`` other items gets fewer.

    Args:
        model (Recommender, str or Path): A model (with ``splits``, its data), or the path of
            a finished run's checkpoint (``checkpoint.pt``), which answers on its own
            (``splits``, if given, is then the dataset to rebuild the model for).
        splits (DataSplits, optional): The dataset the model was trained on.
        k (int): Number of items per user.
        users (sequence, optional): User ids as in the source (``data['user'].raw_id``; the
            internal ids, as numbers or strings, for a dataset without raw ids), or internal
            ids with ``internal_ids``; defaults to the users with held-out items in ``split``,
            or to all users when ``split`` is :obj:`None`.
        split (str, optional): The split whose rankings to reproduce.
        exclude_val_at_test (bool): See :func:`~pyg_mmrec.train.evaluation.excluded_graphs`.
        internal_ids (bool): Take and return internal ids (tensors) instead of raw ids.
        new_items (dict, optional): Items the model has never seen, by their feature rows
            (modality name to ``[C, d_m]``, as the training data's modalities): they join the
            catalogue after its last item, represented from their features alone
            (:meth:`~pyg_mmrec.nn.models.Recommender.encode_new_items`; needs an inductive
            model and its data, see :doc:`/cold_start`).
        new_item_ids (sequence, optional): Their raw ids (default ``'new0'``, ...).
        only_new (bool): Rank the new items only, not the catalogue.

    Raises:
        DataError: If a user id is unknown, or the new items' features do not fit the data.
        CheckpointError: If a checkpoint given alone holds no recommendation index.
        NotInductiveError: For new items and a model that cannot represent them.
    """
    if k < 1:
        raise ConfigError(f"k must be a positive integer, got {k}")
    if only_new and new_items is None:
        raise ConfigError("only_new ranks the new items alone; pass them (new_items)")
    if isinstance(model, Recommender):
        if splits is None:
            raise ConfigError("recommend(model) needs the dataset the model was trained on "
                              "(splits), or pass a checkpoint path instead of the model")
    elif splits is not None:
        from pyg_mmrec.train.trainer import checkpoint_splits, load_model
        splits = checkpoint_splits(load_checkpoint(model), splits)  # a cold-start run's split
        model = load_model(model, splits)[0]
    elif new_items is not None:
        raise ConfigError("new items are represented by the model from their features: pass "
                          "the dataset the checkpoint was trained on (splits / --data)")
    if isinstance(model, Recommender):
        index = RecommendIndex.from_model(model, splits)
    else:
        index = RecommendIndex.from_checkpoint(model)
    catalogue_size = index.num_items
    if new_items is not None:
        with torch.no_grad():
            index = index.with_new_items(
                model.encode_new_items(splits.train, {m: torch.as_tensor(x).float()
                                                      for m, x in new_items.items()}),
                new_item_ids)
    if split is not None and split not in ('val', 'test'):
        raise ConfigError(f"split must be 'val', 'test' or None, got {split!r}")
    if users is None:
        users = (index.edges[split][0].unique() if split else torch.arange(index.num_users))
    elif internal_ids:
        users = torch.as_tensor(users, dtype=torch.long).view(-1)
        bad = users[(users < 0) | (users >= index.num_users)]
        if bad.numel():
            raise DataError(f"user id {int(bad[0])} is out of range; there are "
                            f"{index.num_users} users")
    else:
        users = index.internal_users(users.tolist() if isinstance(users, Tensor) else users)
    exclude = [index.edges['train']]
    if split == 'test' and exclude_val_at_test:
        exclude.append(index.edges['val'])
    items_range = (catalogue_size, index.num_items) if only_new else None
    n = min(k, index.num_items - (catalogue_size if only_new else 0))
    items, scores = RankingEvaluator().top_k(index.scores, users, index.num_users,
                                             index.num_items, n, exclude, items_range)
    if k > n:  # fewer items than k in the catalogue
        items = torch.nn.functional.pad(items, (0, k - n), value=-1)
        scores = torch.nn.functional.pad(scores, (0, k - n), value=float('-inf'))
    items = items.masked_fill(scores == float('-inf'), -1)
    if internal_ids:
        return Recommendations(users, items, scores)
    kept = [[(index.raw_item(i), s) for i, s in zip(row, srow, strict=True) if i >= 0]
            for row, srow in zip(items.tolist(), scores.tolist(), strict=True)]
    return Recommendations([index.raw_user(u) for u in users.tolist()],
                           [[i for i, _ in row] for row in kept],
                           [[s for _, s in row] for row in kept])
