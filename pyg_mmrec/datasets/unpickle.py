"""Reading pickled scipy sparse matrices without running arbitrary code.

:func:`pickle.load` imports and calls whatever a file names, so a pickle from the internet can
run any code. :func:`load_sparse_pickle` resolves only the few classes and functions that a
pickled scipy sparse matrix needs (the matrix classes, numpy arrays and dtypes) and refuses
every other name before it is imported.
"""
from __future__ import annotations

import importlib
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from pyg_mmrec.errors import DataError

_SPARSE = ('coo_matrix', 'csr_matrix', 'csc_matrix')
#: (module, name) a pickle may name, to (module, name) to import; numpy 1 pickles name
#: ``numpy.core``, which numpy 2 calls ``numpy._core``.
ALLOWED = {
    **{(m, c): ('scipy.sparse', c) for c in _SPARSE
       for m in ('scipy.sparse', f'scipy.sparse.{c[:3]}', f'scipy.sparse._{c[:3]}')},
    **{(m, f): ('numpy._core.multiarray', f) for f in ('_reconstruct', 'scalar')
       for m in ('numpy.core.multiarray', 'numpy._core.multiarray')},
    ('numpy', 'ndarray'): ('numpy', 'ndarray'),
    ('numpy', 'dtype'): ('numpy', 'dtype'),
}


class _Restricted(pickle.Unpickler):
    def __init__(self, file, path: Path):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        target = ALLOWED.get((module, name))
        if target is None:
            raise DataError(f"{self.path}: the pickle names {module}.{name}, which is not a "
                            f"scipy sparse matrix or numpy array part; refused (only "
                            f"{sorted({n for _, n in ALLOWED})} are admitted)")
        return getattr(importlib.import_module(target[0]), target[1])


def load_sparse_pickle(path: str | Path) -> sp.spmatrix:
    """Loads a pickled scipy sparse matrix (COO, CSR or CSC) of numbers.

    Raises:
        DataError: If the file names anything else, is not a pickle, or holds something other
            than a numeric sparse matrix.
    """
    path = Path(path)
    try:
        with open(path, 'rb') as f:
            obj = _Restricted(f, path).load()
    except DataError:
        raise
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError,
            AttributeError) as e:
        raise DataError(f"{path}: not a readable pickled sparse matrix: {e}") from e
    if not sp.issparse(obj) or obj.ndim != 2:
        raise DataError(f"{path}: expected a 2-D scipy sparse matrix, got {type(obj).__name__}")
    if obj.dtype.kind not in 'biuf' or not np.isfinite(obj.data).all():
        raise DataError(f"{path}: expected finite numeric entries, got dtype {obj.dtype}")
    return obj
