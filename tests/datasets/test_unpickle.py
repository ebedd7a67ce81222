"""The restricted unpickler admits scipy sparse matrices and refuses everything else."""
import os
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from pyg_mmrec.datasets import load_sparse_pickle
from pyg_mmrec.errors import DataError


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@pytest.mark.parametrize('fmt', ['coo', 'csr', 'csc'])
def test_sparse_round_trip(tmp_path, fmt):
    dense = np.array([[0, 1.5, 0], [2, 0, 0]])
    path = tmp_path / 'm.pkl'
    path.write_bytes(pickle.dumps(sp.coo_matrix(dense).asformat(fmt)))
    mat = load_sparse_pickle(path)
    assert mat.format == fmt and np.array_equal(mat.toarray(), dense)


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'trnMat.pkl'
    path.write_bytes(pickle.dumps(Exploit(marker)))
    with pytest.raises(DataError, match=r'trnMat\.pkl: the pickle names posix\.system'):
        load_sparse_pickle(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the same file, unrestricted, does run the command
    assert marker.exists()


def test_other_objects_are_refused(tmp_path):
    path = tmp_path / 'm.pkl'
    path.write_bytes(pickle.dumps(np.eye(2)))  # admitted classes, but not a sparse matrix
    with pytest.raises(DataError, match='expected a 2-D scipy sparse matrix, got ndarray'):
        load_sparse_pickle(path)
    path.write_bytes(pickle.dumps({'a': 1}))
    with pytest.raises(DataError, match='got dict'):
        load_sparse_pickle(path)
    path.write_bytes(b'not a pickle')
    with pytest.raises(DataError, match='not a readable pickled sparse matrix'):
        load_sparse_pickle(path)
