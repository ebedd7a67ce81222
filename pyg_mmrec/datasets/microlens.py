"""MicroLens-100k, from its authors' site."""
from __future__ import annotations

import csv

import numpy as np

from pyg_mmrec.data.readers import read_npy
from pyg_mmrec.data.splits import split_per_user
from pyg_mmrec.datasets.base import Dataset, RawFile, register_dataset
from pyg_mmrec.errors import DataError

_URL = 'https://recsys.westlake.edu.cn/MicroLens-100k-Dataset/'
_FEATURES = _URL + 'extracted_modality_features/'
#: The seed of the per-user split.
SPLIT_SEED = 2024
#: Modality to the feature file of the release (row ``r`` = video id ``r + 1``).
FEATURE_FILES = {'image': 'MicroLens-100k_image_features_CLIPRN50.npy',
                 'text': 'MicroLens-100k_title_en_text_features_BgeM3.npy',
                 'video': 'MicroLens-100k_video_features_VideoMAE.npy'}
PAIRS, TITLES = 'MicroLens-100k_pairs.csv', 'MicroLens-100k_title_en.csv'


@register_dataset
class MicroLens100K(Dataset):
    r"""MicroLens-100k (Y. Ni et al., `A Content-Driven Micro-Video Recommendation Dataset at
    Scale <https://arxiv.org/abs/2309.15379>`_): 100,000 users, 19,738 micro-videos, with the
    authors' extracted features of the covers (CLIP RN50, 1024-d, modality ``image``), the
    English titles (BGE-M3, 1024-d, ``text``) and the videos (VideoMAE, 768-d, ``video``).

    **Source**: ``https://recsys.westlake.edu.cn/MicroLens-100k-Dataset/`` over HTTP:
    ``MicroLens-100k_pairs.csv`` (a header, then ``user,item,timestamp`` rows; the release's
    readme names the columns ``userID, videoID, timestamp``, code that reads the file names
    them ``user, item, timestamp``: both are accepted), the optional
    ``MicroLens-100k_title_en.csv`` (``item,title`` rows, no header; kept as item texts) and,
    under ``extracted_modality_features/``, the three feature matrices (row :math:`r` is video
    :math:`r + 1`). The site could not be reached from where this was written: the layout is
    the one the authors and code using the files describe, the class is tested against
    fixture files in that layout served locally, and **the sizes and checksums of the real
    files are not yet recorded** (they are not verified).

    Every pair is an interaction (a repeated pair is kept once). Users and videos get
    contiguous ids in increasing order of their ids in the release (kept as ``raw_id``), and
    each user's interactions are split 8:1:1 with MMRec's rule
    (:func:`~pyg_mmrec.data.split_per_user`, ``rule='mmrec'``, seed 2024; the release has no
    split).

    **Licence**: the authors' terms (research use; no redistribution of modified copies).

    Args:
        **kwargs: See :class:`~pyg_mmrec.datasets.Dataset`.
    """
    name = 'microlens-100k'
    homepage = _URL
    raw_files = (RawFile(PAIRS, _URL + PAIRS),
                 *(RawFile(f, _FEATURES + f) for f in FEATURE_FILES.values()),
                 RawFile(TITLES, _URL + TITLES, optional=True))

    def read_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        path = self.raw_path(PAIRS)
        with open(path, encoding='utf-8', newline='') as f:
            rows = csv.reader(f)
            header = [h.strip() for h in next(rows, [])]
            if (len(header) < 3 or header[0] not in ('user', 'userID')
                    or header[1] not in ('item', 'videoID')):
                raise DataError(f"{path}, line 1: header {header}; expected user, item, "
                                f"timestamp (or userID, videoID, timestamp)")
            users, items = [], []
            for row in rows:
                if not row:
                    continue
                try:
                    if len(row) != len(header):
                        raise ValueError
                    users.append(int(row[0]))
                    items.append(int(row[1]))
                except ValueError:
                    raise DataError(f"{path}, line {rows.line_num}: expected {len(header)} "
                                    f"comma-separated fields starting with integer user and "
                                    f"video ids, got {','.join(row)!r}") from None
        return np.array(users, dtype=np.int64), np.array(items, dtype=np.int64)

    def read_titles(self) -> dict[int, str]:
        path = self.raw_path(TITLES)
        out = {}
        with open(path, encoding='utf-8', newline='') as f:
            rows = csv.reader(f)
            for row in rows:
                if not row:
                    continue
                try:
                    out[int(row[0])] = ','.join(row[1:])
                except ValueError:
                    raise DataError(f"{path}, line {rows.line_num}: {row[0]!r} is not a video "
                                    f"id; expected item,title rows") from None
        return out

    def process(self) -> dict:
        raw_user, raw_item = self.read_pairs()
        if not raw_user.size:
            raise DataError(f"{self.raw_path(PAIRS)}: holds no interactions")
        users, user = np.unique(raw_user, return_inverse=True)
        items, item = np.unique(raw_item, return_inverse=True)
        _, first = np.unique(user * len(items) + item, return_index=True)
        first.sort()  # a repeated pair is kept at its first line
        user, item = user[first], item[first]
        if items.min() < 1:
            raise DataError(f"{self.raw_path(PAIRS)}: video id {items.min()}; the release's "
                            f"ids start at 1 (feature row = id - 1)")
        features = {}
        for m, fname in FEATURE_FILES.items():
            x = read_npy(self.raw_path(fname))
            if x.ndim != 2 or len(x) < items.max():
                raise DataError(f"{self.raw_path(fname)}: shape {x.shape}; expected one row per "
                                f"video id up to {items.max()} (row = id - 1)")
            features[m] = x[items - 1]
        titles = self.read_titles() if self.raw_path(TITLES).is_file() else None
        return dict(user=user, item=item,
                    split=split_per_user(user, len(users), seed=SPLIT_SEED, rule='mmrec'),
                    num_users=len(users), num_items=len(items), features=features,
                    user_ids=[str(u) for u in users.tolist()],
                    item_ids=[str(i) for i in items.tolist()],
                    item_text=None if titles is None else [titles.get(int(i), '')
                                                           for i in items])
