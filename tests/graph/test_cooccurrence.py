import pytest
import torch

from pyg_mmrec.errors import ConfigError
from pyg_mmrec.graph import user_cooccurrence_graph

# Users 0..4, items 0..3:
#   user 0: items {0, 1, 2}   user 1: {0, 1}   user 2: {2, 3}   user 3: {0}   user 4: {}
INTERACTIONS = torch.tensor([[0, 0, 0, 1, 1, 2, 2, 3, 0],
                             [0, 1, 2, 0, 1, 2, 3, 0, 0]])  # (0, 0) twice: counts once
# Shared items c_uv (hand-computed):
#   c01 = 2 ({0,1}), c02 = 1 ({2}), c03 = 1 ({0}), c12 = 0, c13 = 1 ({0}), c23 = 0


def as_dict(edge_index, count):
    return {(int(v), int(u)): float(c) for (v, u), c in zip(edge_index.t(), count, strict=True)}


def test_top2_graph_equals_the_hand_computed_one():
    edge_index, count = user_cooccurrence_graph(INTERACTIONS, 5, 4, k=2)
    expected = {
        (1, 0): 2.0, (2, 0): 1.0,  # user 0: 1 (2 shared), then 2 and 3 tie on 1 -> 2
        (0, 1): 2.0, (3, 1): 1.0,  # user 1: 0 (2), 3 (1); 2 shares nothing
        (0, 2): 1.0,               # user 2: only 0
        (0, 3): 1.0, (1, 3): 1.0,  # user 3: 0 and 1
    }                              # user 4: no interaction, no neighbour
    assert as_dict(edge_index, count) == expected
    # grouped by user, by decreasing count within a group
    assert edge_index[1].tolist() == [0, 0, 1, 1, 2, 3, 3]


def test_equals_the_dense_computation_whatever_the_block_size():
    gen = torch.Generator().manual_seed(0)
    num_users, num_items, k = 40, 30, 5
    edges = torch.stack([torch.randint(num_users, (300,), generator=gen),
                         torch.randint(num_items, (300,), generator=gen)])
    dense = torch.zeros(num_users, num_items)
    dense[edges[0], edges[1]] = 1
    counts = dense @ dense.t()
    counts.fill_diagonal_(0)
    reference = {}
    for u in range(num_users):
        order = sorted(range(num_users), key=lambda v: (-counts[u, v].item(), v))
        for v in order[:k]:
            if counts[u, v] > 0:
                reference[(v, u)] = counts[u, v].item()
    for max_block in (1, 7 * num_users, 2**24):
        got = user_cooccurrence_graph(edges, num_users, num_items, k, max_block=max_block)
        assert as_dict(*got) == reference


def test_bad_k_is_refused():
    with pytest.raises(ConfigError, match='k must be a positive integer'):
        user_cooccurrence_graph(INTERACTIONS, 5, 4, k=0)
