import math

import pytest
import torch
from torch_geometric.metrics import (
    LinkPredHitRatio,
    LinkPredMAP,
    LinkPredNDCG,
    LinkPredPrecision,
    LinkPredRecall,
)

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.metrics import RankingEvaluator, ranking_metrics


def random_problem(num_users=30, num_items=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.rand(num_users, num_items, generator=gen)  # continuous: no ties
    edges = (torch.rand(num_users, num_items, generator=gen) < 0.3).nonzero().t()
    label = torch.randint(3, (edges.size(1),), generator=gen)  # 0 train, 1 val, 2 test
    return scores, edges[:, label == 0], edges[:, label == 1], edges[:, label == 2]


def brute_force(scores, target, exclude, ks):
    """Per-user metrics written out with Python lists, independently of the library."""
    excluded = {(int(u), int(i)) for e in exclude for u, i in e.t()}
    relevant = {}
    for u, i in target.t().tolist():
        relevant.setdefault(u, set()).add(i)
    sums = {}
    for u, rel in relevant.items():
        candidates = [i for i in range(scores.size(1)) if (u, i) not in excluded]
        ranked = sorted(candidates, key=lambda i: -float(scores[u, i]))
        for k in ks:
            top = ranked[:k]
            hits = [1.0 if i in rel else 0.0 for i in top]
            n = len(rel)
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(n, k)))
            ap = sum(h * sum(hits[:r + 1]) / (r + 1) for r, h in enumerate(hits)) / min(n, k)
            values = {'Recall': sum(hits) / n, 'NDCG': dcg / idcg, 'Precision': sum(hits) / k,
                      'MAP': ap, 'HitRate': float(sum(hits) > 0)}
            for name, v in values.items():
                sums[f'{name}@{k}'] = sums.get(f'{name}@{k}', 0.0) + v
    return {key: v / len(relevant) for key, v in sums.items()}, len(relevant)


@pytest.mark.parametrize('max_scores', [1, 7 * 40, 2**20])
@pytest.mark.parametrize('seed', [0, 1])
def test_evaluator_matches_brute_force(max_scores, seed):
    scores, train, val, test = random_problem(seed=seed)
    ks = (1, 3, 5, 10, 50)  # 50 > number of items: lists run out
    evaluator = RankingEvaluator(ks, max_scores=max_scores)
    for target, exclude in ((val, [train]), (test, [train, val]), (test, [train])):
        out = evaluator.evaluate(lambda b: scores[b].clone(), target, 30, 40, exclude)
        expected, num_users = brute_force(scores, target, exclude, ks)
        assert out['num_users'] == num_users
        for key, value in expected.items():
            assert out[key] == pytest.approx(value, abs=1e-5), key


@pytest.mark.parametrize('items', [(0, 25), (25, 40), (10, 11)])
def test_an_item_range_ranks_the_sub_catalogue_alone(items):
    # The cold / warm columns of the cold-start protocol: the items outside the range are
    # neither ranked nor targets, as in a catalogue made of the range only.
    scores, train, val, test = random_problem(seed=5)
    lo, hi = items
    ks = (1, 5, 20)

    def inside(edges):
        keep = (edges[1] >= lo) & (edges[1] < hi)
        return torch.stack([edges[0, keep], edges[1, keep] - lo])

    out = RankingEvaluator(ks, max_scores=64).evaluate(lambda b: scores[b].clone(), test, 30,
                                                       40, [train, val], items)
    expected, num_users = brute_force(scores[:, lo:hi], inside(test), [inside(train),
                                                                       inside(val)], ks)
    assert out['num_users'] == num_users
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, abs=1e-5), key


def test_excluding_validation_items_changes_test_metrics():
    scores, train, val, test = random_problem(seed=3)
    evaluator = RankingEvaluator((5,))
    strict = evaluator.evaluate(lambda b: scores[b].clone(), test, 30, 40, [train, val])
    mmrec = evaluator.evaluate(lambda b: scores[b].clone(), test, 30, 40, [train])
    # Validation items can only occupy ranks that test items would otherwise take.
    assert strict['Recall@5'] >= mmrec['Recall@5']
    assert strict != mmrec


def test_matches_torch_geometric_link_pred_metrics():
    scores, train, val, test = random_problem(num_users=50, num_items=60, seed=5)
    k = 10
    evaluator = RankingEvaluator((k,))
    out = evaluator.evaluate(lambda b: scores[b].clone(), test, 50, 60, [train, val])
    items, _ = evaluator.top_k(lambda b: scores[b].clone(), torch.arange(50), 50, 60, k,
                                   [train, val])
    # PyG's metrics average over rows with ground truth: give it those rows only.
    has_target = torch.bincount(test[0], minlength=50) > 0
    rows = has_target.nonzero().view(-1)
    pred = items[rows]
    remap = torch.full((50,), -1, dtype=torch.long)
    remap[rows] = torch.arange(rows.numel())
    label_index = torch.stack([remap[test[0]], test[1]])
    for cls, name in ((LinkPredRecall, 'Recall'), (LinkPredNDCG, 'NDCG'),
                      (LinkPredPrecision, 'Precision'), (LinkPredMAP, 'MAP'),
                      (LinkPredHitRatio, 'HitRate')):
        metric = cls(k)
        metric.update(pred, label_index)
        assert out[f'{name}@{k}'] == pytest.approx(float(metric.compute()), abs=1e-5), name


def test_ranking_metrics_known_values():
    hits = torch.tensor([[True, False, True, False]])
    out = ranking_metrics(hits, torch.tensor([3]), ks=(2, 4))
    assert out['Recall@2'].item() == pytest.approx(1 / 3)
    assert out['Precision@4'].item() == pytest.approx(2 / 4)
    idcg2 = 1 + 1 / math.log2(3)
    assert out['NDCG@2'].item() == pytest.approx(1 / idcg2)
    assert out['MAP@4'].item() == pytest.approx((1 + 2 / 3) / 3)
    assert out['HitRate@2'].item() == 1.0
    perfect = ranking_metrics(torch.ones(1, 5, dtype=torch.bool), torch.tensor([5]), ks=(5,))
    assert all(v.item() == pytest.approx(1.0) for v in perfect.values())


def test_top_k_never_returns_excluded_items():
    scores, train, val, test = random_problem(seed=7)
    users, k = torch.arange(30), 10
    items, values = RankingEvaluator().top_k(lambda b: scores[b].clone(), users, 30, 40, k,
                                             [train, val])
    banned = {(int(u), int(i)) for e in (train, val) for u, i in e.t()}
    for u in range(30):
        for i, v in zip(items[u].tolist(), values[u].tolist(), strict=True):
            assert (u, i) not in banned or v == float('-inf')
        # scores come out sorted, and match the score matrix
        assert torch.all(values[u][:-1] >= values[u][1:])
        finite = values[u] > float('-inf')
        assert torch.allclose(values[u][finite], scores[u, items[u][finite]])


def test_bad_arguments():
    with pytest.raises(ConfigError):
        RankingEvaluator(ks=(0, 5))
    scores, train, val, test = random_problem()
    with pytest.raises(ConfigError, match='outside'):
        RankingEvaluator().evaluate(lambda b: scores[b].clone(), test + 100, 30, 40, [train])
    with pytest.raises(ConfigError, match='no user'):
        RankingEvaluator().evaluate(lambda b: scores[b].clone(), test[:, :0], 30, 40, [train])
