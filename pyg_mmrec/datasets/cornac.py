"""Cornac's Amazon Clothing, from Cornac's static file host."""
from __future__ import annotations

import logging
import zipfile

import numpy as np

from pyg_mmrec.data.readers import read_npy
from pyg_mmrec.data.splits import split_per_user
from pyg_mmrec.datasets.base import Dataset, RawFile, register_dataset
from pyg_mmrec.datasets.prepare import fill_missing
from pyg_mmrec.errors import DataError

log = logging.getLogger(__name__)

_URL = 'https://static.preferred.ai/cornac/datasets/amazon_clothing/'
#: The seed of the per-user split.
SPLIT_SEED = 2024


@register_dataset
class CornacAmazonClothing(Dataset):
    r"""Amazon Clothing as `Cornac <https://github.com/PreferredAI/cornac>`_ publishes it
    (``cornac.datasets.amazon_clothing``; data of J. McAuley et al., `Image-based
    Recommendations on Styles and Substitutes <https://arxiv.org/abs/1506.04757>`_): a small
    set (13,689 ratings and 3,393 item texts, by Cornac's own test) whose items all have a
    text and 4096-d CNN image features.

    **Source**: four zip archives on ``https://static.preferred.ai/cornac/datasets/
    amazon_clothing/``, each holding one member under ``amazon_clothing/``: ``rating.zip``
    (``rating.txt``: tab-separated ``user item rating``), ``text.zip`` (``text.txt``:
    ``item::text`` lines), ``image.zip`` (``image_features.npy``) and ``item_ids.zip``
    (``item_ids.txt``, the item of each feature row). That host could not be reached from
    where this was written: the layout is the one Cornac's loader reads, the class is tested
    against fixture archives in that layout served locally, and **the sizes and checksums of
    the real files are not yet recorded** (they are not verified).

    Every rating is an interaction. Users and items get contiguous ids in order of first
    appearance in ``rating.txt`` (their ids kept as ``raw_id``), each user's interactions are
    split 8:1:1 with MMRec's rule (:func:`~pyg_mmrec.data.split_per_user`, ``rule='mmrec'``,
    seed 2024; users with fewer than 3 keep them all in training, and most users here have
    fewer). The texts become ``data['item'].text`` (for
    :class:`~pyg_mmrec.transforms.EncodeText`), the image features ``x_image``; an item
    without a row gets the mean of the others (MMRec's rule; a warning counts them).

    **Licence**: the Amazon review data, research use (McAuley et al.); Cornac is Apache-2.0.

    Args:
        **kwargs: See :class:`~pyg_mmrec.datasets.Dataset`.
    """
    name = 'cornac-amazon-clothing'
    homepage = 'https://cornac.readthedocs.io/en/stable/api_ref/datasets.html'
    raw_files = tuple(RawFile(f, _URL + f) for f in ('rating.zip', 'text.zip', 'image.zip',
                                                      'item_ids.zip'))

    def member(self, archive: str) -> tuple[str, bytes]:
        """``(where, contents)`` of the one file ``amazon_clothing/<name>`` of ``archive``."""
        path = self.raw_path(archive)
        name = {'rating.zip': 'rating.txt', 'text.zip': 'text.txt',
                'image.zip': 'image_features.npy', 'item_ids.zip': 'item_ids.txt'}[archive]
        try:
            with zipfile.ZipFile(path) as z:
                return f'{path}: amazon_clothing/{name}', z.read(f'amazon_clothing/{name}')
        except KeyError:
            raise DataError(f"{path}: no member 'amazon_clothing/{name}'; expected Cornac's "
                            f"archive") from None
        except zipfile.BadZipFile as e:
            raise DataError(f"{path}: not a zip archive: {e}") from e

    def lines(self, archive: str) -> tuple[str, list[str]]:
        where, data = self.member(archive)
        try:
            return where, data.decode('utf-8').splitlines()
        except UnicodeDecodeError as e:
            raise DataError(f"{where}: not UTF-8 text: {e}") from e

    def process(self) -> dict:
        where, lines = self.lines('rating.zip')
        users, items = {}, {}
        pairs = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            tokens = line.strip().split('\t')
            if len(tokens) != 3 or not tokens[0] or not tokens[1]:
                raise DataError(f"{where}, line {number}: expected tab-separated user, item, "
                                f"rating, got {line!r}")
            u = users.setdefault(tokens[0], len(users))
            i = items.setdefault(tokens[1], len(items))
            pairs.setdefault((u, i), number)  # a repeated pair is kept at its first line
        if not pairs:
            raise DataError(f"{where}: holds no ratings")
        user, item = (np.array(a, dtype=np.int64) for a in zip(*pairs, strict=True))
        where, text_lines = self.lines('text.zip')
        texts = {}
        for line in text_lines:
            key, sep, text = line.strip().partition('::')
            if sep:
                texts[key] = text
        where_ids, id_lines = self.lines('item_ids.zip')
        where_img, data = self.member('image.zip')
        image = read_npy(self.raw_path('image.zip'), data)
        ids = [line.strip() for line in id_lines]
        if image.ndim != 2 or len(image) != len(ids):
            raise DataError(f"{where_img}: shape {image.shape}; expected one row per line of "
                            f"{where_ids} ({len(ids)})")
        found = {items[a]: row for a, row in zip(ids, image, strict=True) if a in items}
        x_image, missed = fill_missing(found, len(items), 'image features',
                                       self.raw_path('image.zip'))
        if missed:
            log.warning("%s: %d items have no image features; they get the mean of the others",
                        self.name, len(missed))
        return dict(user=user, item=item,
                    split=split_per_user(user, len(users), seed=SPLIT_SEED, rule='mmrec'),
                    num_users=len(users), num_items=len(items), features={'image': x_image},
                    user_ids=list(users), item_ids=list(items),
                    item_text=[texts.get(a, '') for a in items])
