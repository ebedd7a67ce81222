"""Atomic writes and safe, verified loading of checkpoints and result files.

A checkpoint file holds the serialised payload (tensors and plain containers) next to its
SHA-256 digest; loading recomputes the digest, so that a corrupted file is an error rather
than a model with silently changed weights.
"""
from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path
from typing import Any

import torch

from pyg_mmrec.errors import CheckpointError
from pyg_mmrec.utils import atomic_write

FORMAT = 'pyg_mmrec-checkpoint-v2'
#: Checkpoints written before the digest; loaded unverified.
LEGACY_FORMAT = 'pyg_mmrec-checkpoint-v1'


def write_json(path: str | Path, obj: Any) -> None:
    """Writes ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False) + '\n'
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Saves a checkpoint (tensors and plain Python containers only) with the SHA-256 digest
    of its serialised payload, atomically."""
    buffer = io.BytesIO()
    torch.save({'format': FORMAT, **payload}, buffer)
    raw = buffer.getvalue()
    outer = {'format': FORMAT, 'sha256': hashlib.sha256(raw).hexdigest(),
             'payload': torch.frombuffer(bytearray(raw), dtype=torch.uint8)}
    atomic_write(path, lambda f: torch.save(outer, f))


def _load(source, path: Path) -> Any:
    try:
        return torch.load(source, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError,
            AttributeError, KeyError, IndexError, UnicodeDecodeError, MemoryError) as e:
        raise CheckpointError(f"{path}: not a loadable pyg_mmrec checkpoint "
                              f"(only tensors and plain containers are accepted): "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
                              ) from e


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True`` (no code stored in the file is run) and
    verifies its digest.

    Raises:
        CheckpointError: If the file is missing, not a checkpoint, or its digest does not
            match its payload (a corrupted file).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    outer = _load(path, path)
    fmt = outer.get('format') if isinstance(outer, dict) else None
    if fmt == LEGACY_FORMAT:
        return outer
    if fmt != FORMAT:
        raise CheckpointError(f"{path}: not a pyg_mmrec checkpoint (format field {fmt!r}, "
                              f"expected {FORMAT!r})")
    raw, digest = outer.get('payload'), outer.get('sha256')
    if (not isinstance(raw, torch.Tensor) or raw.dtype != torch.uint8 or raw.dim() != 1
            or not isinstance(digest, str)):
        raise CheckpointError(f"{path}: the checkpoint lacks its payload or its digest")
    raw = raw.numpy().tobytes()
    if hashlib.sha256(raw).hexdigest() != digest:
        raise CheckpointError(f"{path}: the checkpoint is corrupted (its SHA-256 digest does "
                              f"not match its contents); use an intact copy or train again")
    payload = _load(io.BytesIO(raw), path)
    if not isinstance(payload, dict) or payload.get('format') != FORMAT:
        raise CheckpointError(f"{path}: the checkpoint's payload is not a pyg_mmrec checkpoint")
    return payload
