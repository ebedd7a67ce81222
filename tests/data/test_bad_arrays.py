"""Arrays whose values only go wrong after a cast, empty feature matrices, overflowing graph
weights and sparse raw ids are refused with the true cause."""
import numpy as np
import pytest

from pyg_mmrec.data import from_arrays
from pyg_mmrec.errors import DataError

USER = np.array([0, 0, 1, 1, 2, 2])
ITEM = np.array([0, 1, 1, 2, 0, 2])
SPLIT = np.array([0, 1, 0, 2, 0, 0])


def test_float64_values_beyond_float32_are_refused():
    feat = np.ones((3, 2))
    feat[1, 0] = 1e300  # finite in float64, inf after the cast
    with pytest.raises(DataError, match=r"beyond the float32 range \(first at item 1\)"):
        from_arrays(USER, ITEM, SPLIT, features={'image': feat})


def test_zero_column_features_are_refused():
    with pytest.raises(DataError, match="'image' have 0 columns"):
        from_arrays(USER, ITEM, SPLIT, features={'image': np.ones((3, 0))})


def test_graph_weights_whose_sums_overflow_are_refused():
    graph = {'edge_index': np.array([[0, 0, 1], [1, 2, 2]]),
             'edge_weight': np.array([3e38, 3e38, 1.0])}
    with pytest.raises(DataError, match='edge weights of item 0 sum beyond'):
        from_arrays(USER, ITEM, SPLIT, graphs={'image': graph})


@pytest.mark.parametrize('big', [10**12, 2**63 - 1])
def test_ids_far_beyond_the_distinct_ids_are_refused(big):
    with pytest.raises(DataError, match=f'user ids go up to {big} but only 3 distinct'):
        from_arrays(np.array([0, 0, 1, 1, big, big]), ITEM, SPLIT)


def test_sizes_must_be_integers():
    with pytest.raises(DataError, match="num_users must be a positive integer, got '3'"):
        from_arrays(USER, ITEM, SPLIT, num_users='3')
