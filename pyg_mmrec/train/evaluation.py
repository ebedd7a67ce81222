"""Evaluating and querying a trained model on the views of a dataset."""
from __future__ import annotations

import torch
from torch import Tensor

from pyg_mmrec.data import INTERACTS, DataSplits
from pyg_mmrec.errors import ConfigError
from pyg_mmrec.metrics import RankingEvaluator
from pyg_mmrec.nn.models import Recommender


def excluded_graphs(splits: DataSplits, split: str, exclude_val_at_test: bool = True
                    ) -> list[Tensor]:
    """The interactions removed from the rankings of ``split``: the training interactions,
    plus the validation ones when ``split == 'test'`` (unless ``exclude_val_at_test`` is
    :obj:`False`, MMRec's behaviour)."""
    out = [splits.train[INTERACTS].edge_index]
    if split == 'test' and exclude_val_at_test:
        out.append(splits.val[INTERACTS].edge_label_index)
    return out


@torch.no_grad()
def scorer(model: Recommender, splits: DataSplits):
    """A function mapping user ids to their scores against all items, from one forward pass
    of ``model`` on the training view."""
    model.eval()
    user_emb, item_emb = model(splits.train)
    return lambda users: model.score(user_emb[users], item_emb)


def evaluate(model: Recommender, splits: DataSplits, split: str = 'val',
             evaluator: RankingEvaluator | None = None,
             exclude_val_at_test: bool = True) -> dict[str, float]:
    """Full-ranking metrics of ``model`` on the held-out interactions of ``split``.

    Args:
        model (Recommender): The model.
        splits (DataSplits): The dataset.
        split (str): ``'val'`` or ``'test'`` (or ``'train'``, for diagnostics).
        evaluator (RankingEvaluator, optional): Cut-offs and batching.
        exclude_val_at_test (bool): See :func:`excluded_graphs`.
    """
    evaluator = evaluator or RankingEvaluator()
    view = splits.view(split)
    exclude = [] if split == 'train' else excluded_graphs(splits, split, exclude_val_at_test)
    return evaluator.evaluate(scorer(model, splits), view[INTERACTS].edge_label_index,
                              splits.num_users, splits.num_items, exclude)


def recommend(model: Recommender, splits: DataSplits, k: int = 10, users: Tensor | None = None,
              split: str | None = None, exclude_val_at_test: bool = True,
              ) -> tuple[Tensor, Tensor, Tensor]:
    """Top-``k`` items for users, never recommending a user's training items (nor its
    validation items when ``split == 'test'``).

    Args:
        model (Recommender): The model.
        splits (DataSplits): The dataset.
        k (int): Number of items per user.
        users (Tensor, optional): User ids; defaults to the users with held-out items in
            ``split``, or to all users when ``split`` is :obj:`None`.
        split (str, optional): The split whose rankings to reproduce.
        exclude_val_at_test (bool): See :func:`excluded_graphs`.

    Returns:
        (users ``[N]``, items ``[N, k]``, scores ``[N, k]``). A user with fewer than ``k``
        candidate items (items not excluded) gets them all, and the remaining slots hold
        item ``-1`` at score ``-inf``.
    """
    if k < 1:
        raise ConfigError(f"k must be a positive integer, got {k}")
    if users is None:
        users = (splits.view(split)[INTERACTS].edge_label_index[0].unique() if split
                 else torch.arange(splits.num_users))
    users = torch.as_tensor(users, dtype=torch.long).view(-1)
    if users.numel() and (int(users.min()) < 0 or int(users.max()) >= splits.num_users):
        bad = users[(users < 0) | (users >= splits.num_users)][0]
        raise ConfigError(f"user id {int(bad)} is out of range; there are "
                          f"{splits.num_users} users")
    exclude = excluded_graphs(splits, split or 'val', exclude_val_at_test)
    items, scores = RankingEvaluator().top_k(scorer(model, splits), users, splits.num_users,
                                             splits.num_items, min(k, splits.num_items), exclude)
    if k > items.size(1):  # fewer items than k in the catalogue
        pad = k - items.size(1)
        items = torch.nn.functional.pad(items, (0, pad), value=-1)
        scores = torch.nn.functional.pad(scores, (0, pad), value=float('-inf'))
    return users, items.masked_fill(scores == float('-inf'), -1), scores
