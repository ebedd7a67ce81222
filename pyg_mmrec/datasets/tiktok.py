"""TikTok, as released with MMSSL and DiffMM."""
from __future__ import annotations

import numpy as np

from pyg_mmrec.datasets.base import Dataset, RawFile, register_dataset
from pyg_mmrec.datasets.unpickle import load_sparse_pickle
from pyg_mmrec.errors import DataError

_URL = 'https://raw.githubusercontent.com/HKUDS/DiffMM/main/Datasets/tiktok/'
MATRICES = ('trnMat.pkl', 'valMat.pkl', 'tstMat.pkl')  # split labels 0, 1, 2
MODALITIES = ('image', 'audio', 'text')


@register_dataset
class TikTok(Dataset):
    r"""The TikTok micro-video dataset as released with MMSSL (`Multi-Modal Self-Supervised
    Learning for Recommendation <https://arxiv.org/abs/2302.10632>`_) and DiffMM
    (`DiffMM: Multi-Modal Diffusion Model for Recommendation
    <https://arxiv.org/abs/2406.11781>`_): 9,308 users, 6,710 items, 59,541 / 3,051 / 6,130
    train / validation / test interactions, 128-d image and audio features (``float16`` in
    the source, ``float32`` here) and, where fetched, text features.

    **Source**: the files of ``Datasets/tiktok/`` in the `DiffMM repository
    <https://github.com/HKUDS/DiffMM>`_ (commit ``1337447``), over HTTP from
    ``raw.githubusercontent.com``: ``trnMat.pkl``, ``valMat.pkl``, ``tstMat.pkl`` (pickled
    ``scipy.sparse.coo_matrix`` of shape users x items, read with a restricted unpickler,
    :func:`~pyg_mmrec.datasets.load_sparse_pickle`), ``image_feat.npy``,
    ``audio_feat.npy`` and the optional ``text_feat.npy``. Sizes and SHA-256 of the five
    first were computed from that commit; ``text_feat.npy`` could not be fetched here, so its
    size and checksum are unknown and it is not verified.

    **Licence**: none is stated by the release; the data derive from the TikTok (ByteDance)
    micro-video challenge and are redistributed by the authors for research use.

    Users and items have no raw ids in the source (the ids are the matrices' row and column
    indices), so the views carry no ``raw_id``.

    Args:
        **kwargs: See :class:`~pyg_mmrec.datasets.Dataset`.
    """
    name = 'tiktok'
    homepage = 'https://github.com/HKUDS/DiffMM/tree/main/Datasets'
    raw_files = (
        RawFile('trnMat.pkl', _URL + 'trnMat.pkl', size=953073, sha256=(
            '1efbc49d1a7ce5268f01e3e0c558df1f8f8644628c76aa6536be4ec61d256916')),
        RawFile('valMat.pkl', _URL + 'valMat.pkl', size=49233, sha256=(
            'b6971ed696613d565613dd74b101c45b2aa002b66e8ba99cad03abf04db2397b')),
        RawFile('tstMat.pkl', _URL + 'tstMat.pkl', size=98497, sha256=(
            'e83a93787d88728572dbdd5b131bae01a90e17c340820e7b8f0a7c27e69d6f9e')),
        RawFile('image_feat.npy', _URL + 'image_feat.npy', size=1717888, sha256=(
            'f6c1ec1726ed2aa80315411199ab2143bee6333821bf58c5f00bd3f5b462efc2')),
        RawFile('audio_feat.npy', _URL + 'audio_feat.npy', size=1717888, sha256=(
            'd45a44a9d462f578802de914c2feea5cfd45742b2922775a085b9bdc1beba26f')),
        RawFile('text_feat.npy', _URL + 'text_feat.npy', optional=True),
    )

    def process(self) -> dict:
        mats = [load_sparse_pickle(self.raw_path(name)).tocoo() for name in MATRICES]
        shape = mats[0].shape
        for name, mat in zip(MATRICES, mats, strict=True):
            if mat.shape != shape:
                raise DataError(f"{self.raw_path(name)}: shape {mat.shape}, but "
                                f"{MATRICES[0]} has {shape}; expected users x items alike")
        parts = []
        for label, mat in enumerate(mats):
            keep = mat.data != 0
            row, col = mat.row[keep].astype(np.int64), mat.col[keep].astype(np.int64)
            order = np.lexsort((col, row))
            parts.append((row[order], col[order], np.full(len(order), label, np.int64)))
        user, item, split = (np.concatenate(a) for a in zip(*parts, strict=True))
        features = {}
        for m in MODALITIES:
            path = self.raw_path(f'{m}_feat.npy')
            if not path.is_file():
                continue
            try:
                features[m] = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise DataError(f"{path}: not a readable numeric .npy array: {e}") from e
            if features[m].ndim != 2 or len(features[m]) != shape[1]:
                raise DataError(f"{path}: shape {features[m].shape}, expected "
                                f"({shape[1]}, dim): one row per item of the matrices")
        return dict(user=user, item=item, split=split, num_users=shape[0],
                    num_items=shape[1], features=features)
