"""NegativeSampler and TripletLoader."""
import numpy as np
import pytest
import torch

from pyg_mmrec.data import NegativeSampler, TripletLoader
from pyg_mmrec.errors import ConfigError


def dense_graph(num_users=40, num_items=30, seed=0):
    """Every user interacted with 40% to 90% of the items."""
    rng = np.random.default_rng(seed)
    edges = []
    for u in range(num_users):
        k = int(rng.integers(int(0.4 * num_items), int(0.9 * num_items) + 1))
        edges += [(u, int(i)) for i in rng.choice(num_items, size=k, replace=False)]
    edges = torch.tensor(edges).t()
    return edges[:, torch.randperm(edges.size(1), generator=torch.Generator().manual_seed(seed))]


def adjacency(edge_index, num_users, num_items):
    adj = torch.zeros(num_users, num_items, dtype=torch.bool)
    adj[edge_index[0], edge_index[1]] = True
    return adj


def test_negatives_are_never_training_items():
    edges = dense_graph()
    adj = adjacency(edges, 40, 30)
    sampler = NegativeSampler(edges, 30)
    gen = torch.Generator().manual_seed(0)
    user = torch.arange(40).repeat(500)
    neg = sampler.sample(user, gen)
    assert neg.shape == user.shape and neg.dtype == torch.long
    assert int(neg.min()) >= 0 and int(neg.max()) < 30
    assert not bool(adj[user, neg].any())
    # every non-interacted item of every user shows up (nothing is systematically missed)
    seen = torch.zeros_like(adj)
    seen[user, neg] = True
    assert torch.equal(seen, ~adj)


def test_negatives_are_uniform_over_non_interacted_items():
    num_items = 25
    positives = torch.tensor([0, 1, 2, 3, 5, 8, 13, 21, 22, 23])  # clustered and spread
    edges = torch.stack([torch.zeros_like(positives), positives])
    sampler = NegativeSampler(edges, num_items)
    n = 30000
    neg = sampler.sample(torch.zeros(n, dtype=torch.long), torch.Generator().manual_seed(1))
    freq = torch.bincount(neg, minlength=num_items).double()
    assert freq[positives].sum() == 0
    allowed = torch.ones(num_items, dtype=torch.bool)
    allowed[positives] = False
    expected = n / int(allowed.sum())
    chi2 = float(((freq[allowed] - expected) ** 2 / expected).sum())
    # 14 degrees of freedom: the 0.999 quantile is 36.1; a bias of a few percent on one item
    # already exceeds 60 at this sample size.
    assert chi2 < 45, chi2


def test_sampler_deterministic_for_a_generator():
    edges = dense_graph()
    sampler = NegativeSampler(edges, 30)
    user = torch.arange(40).repeat(10)
    a = sampler.sample(user, torch.Generator().manual_seed(3))
    assert torch.equal(a, sampler.sample(user, torch.Generator().manual_seed(3)))
    assert not torch.equal(a, sampler.sample(user, torch.Generator().manual_seed(4)))


def test_user_with_every_item_is_rejected():
    edges = torch.tensor([[0, 0, 0, 1], [0, 1, 2, 0]])
    with pytest.raises(ConfigError, match='user 0'):
        NegativeSampler(edges, 3)
    with pytest.raises(ConfigError, match='user 0'):
        TripletLoader(edges, 3, batch_size=2)


def test_duplicate_training_edges_do_not_count_as_items():
    # user 0: items 0 and 1 (item 1 twice); item 2 is its only negative
    edges = torch.tensor([[0, 0, 0, 1], [0, 1, 1, 0]])
    sampler = NegativeSampler(edges, 3)
    neg = sampler.sample(torch.zeros(200, dtype=torch.long), torch.Generator().manual_seed(0))
    assert bool((neg == 2).all())


def epoch(loader):
    return list(loader)


def keys(batches, num_items=30):
    return torch.cat([u * num_items + p for u, p, _ in batches])


def test_epoch_visits_every_training_edge_once():
    edges = dense_graph()
    adj = adjacency(edges, 40, 30)
    loader = TripletLoader(edges, 30, batch_size=64, seed=5)
    batches = epoch(loader)
    assert len(batches) == len(loader) == -(-edges.size(1) // 64)
    assert all(b[0].numel() == 64 for b in batches[:-1])
    assert 0 < batches[-1][0].numel() <= 64
    got = keys(batches).sort().values
    assert torch.equal(got, (edges[0] * 30 + edges[1]).sort().values)
    for user, pos, neg in batches:
        assert bool(adj[user, pos].all()) and not bool(adj[user, neg].any())
    # the order is shuffled, not the stored order
    assert not torch.equal(keys(batches), edges[0] * 30 + edges[1])


def test_epochs_are_replayable_and_differ():
    edges = dense_graph()
    loader = TripletLoader(edges, 30, batch_size=50, seed=2)
    loader.set_epoch(3)
    first = epoch(loader)
    again = TripletLoader(edges, 30, batch_size=50, seed=2)
    again.set_epoch(3)
    for a, b in zip(first, epoch(again), strict=True):
        for x, y in zip(a, b, strict=True):
            assert torch.equal(x, y)
    loader.set_epoch(4)
    other = epoch(loader)
    assert not torch.equal(keys(first), keys(other))
    assert not torch.equal(torch.cat([b[2] for b in first]), torch.cat([b[2] for b in other]))
    assert torch.equal(keys(first).sort().values, keys(other).sort().values)


@pytest.mark.parametrize('world_size', [2, 3])
def test_ranks_partition_the_epoch(world_size):
    edges = dense_graph()
    shares = []
    for rank in range(world_size):
        loader = TripletLoader(edges, 30, batch_size=32, seed=9, rank=rank,
                               world_size=world_size)
        loader.set_epoch(1)
        batches = epoch(loader)
        assert len(batches) == len(loader)
        shares.append(keys(batches))
    sizes = [s.numel() for s in shares]
    assert max(sizes) - min(sizes) <= 1
    union = torch.cat(shares)
    assert union.unique().numel() == union.numel() == edges.size(1)  # disjoint and complete
    assert torch.equal(union.sort().values, (edges[0] * 30 + edges[1]).sort().values)


@pytest.mark.parametrize('kwargs', [dict(batch_size=0), dict(batch_size=-4),
                                    dict(batch_size=2.5), dict(batch_size=8, rank=2, world_size=2),
                                    dict(batch_size=8, rank=-1), dict(batch_size=8, world_size=0)])
def test_loader_bad_config(kwargs):
    with pytest.raises(ConfigError):
        TripletLoader(dense_graph(), 30, **kwargs)


def test_loader_accepts_numpy_integer_batch_size():
    loader = TripletLoader(dense_graph(), 30, batch_size=np.int64(100))
    assert sum(b[0].numel() for b in loader) == dense_graph().size(1)
