"""Evaluating a trained model on the views of a dataset."""
from __future__ import annotations

import torch
from torch import Tensor

from pyg_mmrec.data import INTERACTS, DataSplits
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
