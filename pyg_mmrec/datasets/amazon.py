"""Amazon Baby, Sports, Clothing and Elec in MMRec's format, from its Google Drive folder."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from pyg_mmrec.data.readers import ID_MAPS, MMREC_COLUMNS, read_id_map, read_table
from pyg_mmrec.datasets.base import Dataset, RawFile, register_dataset
from pyg_mmrec.errors import DataError

#: MMRec's public Google Drive folder (``data/README.md`` of https://github.com/enoche/MMRec).
DRIVE_FOLDER = 'https://drive.google.com/drive/folders/13cBy1EA_saTUuXxVllKgtfci2A09jyaG'


class AmazonMMRec(Dataset):
    r"""An Amazon review category (5-core) as MMRec publishes it (Z. Zhou, `A Comprehensive
    Survey on Multimodal Recommender Systems: Taxonomy, Evaluation, and Future Directions
    <https://arxiv.org/abs/2302.04473>`_; data of J. McAuley et al., `Image-based
    Recommendations on Styles and Substitutes <https://arxiv.org/abs/1506.04757>`_): MMRec's
    own split, 4096-d CNN image features and 384-d Sentence-Transformers text features.

    **Source**: the subfolder ``<category>/`` of MMRec's `Google Drive folder
    <https://drive.google.com/drive/folders/13cBy1EA_saTUuXxVllKgtfci2A09jyaG>`_, fetched with
    `gdown <https://github.com/wkentaro/gdown>`_ (``pip install "pyg_mmrec[download]"``; the
    whole folder is fetched, then this category's files are kept): ``<category>.inter``
    (tab-separated ``userID itemID x_label``), ``image_feat.npy``, ``text_feat.npy`` and,
    where present, the id maps ``i_id_mapping.csv`` / ``u_id_mapping.csv`` (tab-separated,
    a raw id column and ``itemID`` / ``userID``), which become ``raw_id`` (ASINs for items).
    The layout is the one MMRec's configs read; Google Drive could not be reached from where
    this was written, so it is not tested against the real folder, and **sizes and checksums
    are unknown** (the files are not verified). When the folder cannot be fetched, the error
    lists the files to place in ``root/raw``.

    **Licence**: the Amazon review data are for research use (McAuley et al.); MMRec states
    no separate licence for its processed release.

    Args:
        **kwargs: See :class:`~pyg_mmrec.datasets.Dataset`.
    """
    homepage = DRIVE_FOLDER
    #: The subfolder of the Drive folder, also the stem of the ``.inter`` file.
    category = ''

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.raw_files = (RawFile(f'{cls.category}.inter'), RawFile('image_feat.npy'),
                         RawFile('text_feat.npy'), RawFile('i_id_mapping.csv', optional=True),
                         RawFile('u_id_mapping.csv', optional=True))

    def download(self) -> None:
        """Fetches MMRec's Drive folder with ``gdown`` and keeps this category's files.

        Raises:
            DataError: If ``gdown`` is not installed or the folder cannot be fetched (listing
                the files to place), or the folder lacks a required file.
        """
        try:
            import gdown
        except ImportError:
            raise DataError(self.place_message(self.missing_raw_files(), "downloading from "
                            "Google Drive needs gdown (pip install 'pyg_mmrec[download]')")
                            ) from None
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.root, prefix='.download-') as tmp:
            try:
                files = gdown.download_folder(url=DRIVE_FOLDER, output=tmp,
                                              quiet=not self.progress)
            except Exception as e:  # gdown raises its own, requests' and OS errors
                files, error = None, f'{type(e).__name__}: {e}'
            else:
                error = 'gdown fetched nothing'
            if not files:
                raise DataError(self.place_message(self.missing_raw_files(),
                                                   f"cannot fetch {DRIVE_FOLDER} ({error})"))
            found = {Path(f).name: Path(f) for f in files
                     if Path(f).parent.name.lower() == self.category}
            absent = [r for r in self.missing_raw_files() if r.name not in found]
            if absent:
                raise DataError(self.place_message(absent, f"the Drive folder has no "
                                                   f"{self.category}/ with these files"))
            self.raw_dir.mkdir(parents=True, exist_ok=True)
            for raw in self.missing_raw_files(optional=True):
                if raw.name in found:
                    shutil.move(found[raw.name], self.raw_path(raw.name))

    def process(self) -> dict:
        inter = self.raw_path(f'{self.category}.inter')
        table = read_table(inter, {c: 'int' for c in MMREC_COLUMNS})
        features = {}
        for m in ('image', 'text'):
            path = self.raw_path(f'{m}_feat.npy')
            try:
                features[m] = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise DataError(f"{path}: not a readable numeric .npy array: {e}") from e
        num_items = max(len(f) for f in features.values())
        num_users = int(table['userID'].max()) + 1
        return dict(user=table['userID'], item=table['itemID'], split=table['x_label'],
                    num_users=num_users, num_items=num_items, features=features,
                    **{f'{store}_ids': read_id_map(self.raw_path(fname), column, n)
                       if self.raw_path(fname).is_file() else None
                       for (store, (fname, column, _)), n in zip(
                           ID_MAPS.items(), (num_users, num_items), strict=True)})


@register_dataset
class AmazonBaby(AmazonMMRec):
    """Amazon Baby in MMRec's release (19,445 users, 7,050 items, 160,792 interactions);
    see :class:`AmazonMMRec`."""
    name, category = 'amazon-baby', 'baby'


@register_dataset
class AmazonSports(AmazonMMRec):
    """Amazon Sports and Outdoors in MMRec's release (35,598 users, 18,357 items, 296,337
    interactions); see :class:`AmazonMMRec`."""
    name, category = 'amazon-sports', 'sports'


@register_dataset
class AmazonClothing(AmazonMMRec):
    """Amazon Clothing, Shoes and Jewelry in MMRec's release (39,387 users, 23,033 items,
    278,677 interactions); see :class:`AmazonMMRec`."""
    name, category = 'amazon-clothing', 'clothing'


@register_dataset
class AmazonElec(AmazonMMRec):
    """Amazon Electronics in MMRec's release; see :class:`AmazonMMRec` (its size is not
    recorded here)."""
    name, category = 'amazon-elec', 'elec'
