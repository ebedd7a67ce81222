"""Evaluating a trained model on the views of a dataset."""
from __future__ import annotations

import torch
from torch import Tensor

from pyg_mmrec.data import INTERACTS, DataSplits
from pyg_mmrec.metrics import RankingEvaluator
from pyg_mmrec.nn.models import Recommender
from pyg_mmrec.schema import cold_features

#: The prefixes of the columns that :func:`evaluate` adds on a cold-start split: the metrics
#: of the cold items among the cold items, and of the warm items among the warm items.
COLD, WARM = 'cold', 'warm'


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
def catalogue(model: Recommender, splits: DataSplits) -> tuple[Tensor, Tensor]:
    """The user representations and those of every item of the catalogue, from one forward
    pass of ``model`` on the training view: the training items', then, on a cold-start split,
    the cold items' from their features alone
    (:meth:`~pyg_mmrec.nn.models.Recommender.encode_new_items`)."""
    model.eval()
    if not splits.num_cold_items:
        return model(splits.train)
    out = model.encode(splits.train)
    cold = model.encode_new_items(splits.train, cold_features(splits.train), out)
    return out.user, torch.cat([out.item, cold])


def scorer(model: Recommender, splits: DataSplits):
    """A function mapping user ids to their scores against all items of the catalogue
    (:func:`catalogue`)."""
    user_emb, item_emb = catalogue(model, splits)
    return lambda users: model.score(user_emb[users], item_emb)


def evaluate(model: Recommender, splits: DataSplits, split: str = 'val',
             evaluator: RankingEvaluator | None = None,
             exclude_val_at_test: bool = True) -> dict[str, float]:
    """Full-ranking metrics of ``model`` on the held-out interactions of ``split``.

    On a cold-start split (:class:`~pyg_mmrec.transforms.ColdStartSplit`) the result holds
    three columns: the plain keys (``'Recall@20'``) rank every item of the catalogue against
    all held-out interactions; the keys prefixed ``'cold/'`` rank only the cold items against
    the held-out interactions with cold items, and those prefixed ``'warm/'`` only the warm
    items against the held-out interactions with warm items (see :doc:`/cold_start`).

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
    score = scorer(model, splits)
    target = view[INTERACTS].edge_label_index
    out = evaluator.evaluate(score, target, splits.num_users, splits.num_items, exclude)
    if splits.num_cold_items and split != 'train':
        warm = splits.num_warm_items
        for name, items in ((COLD, (warm, splits.num_items)), (WARM, (0, warm))):
            column = evaluator.evaluate(score, target, splits.num_users, splits.num_items,
                                        exclude, items)
            out.update({f'{name}/{key}': value for key, value in column.items()})
    return out
