"""Atomic writes and safe loading of checkpoints and result files."""
from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from pyg_mmrec.errors import CheckpointError

FORMAT = 'pyg_mmrec-checkpoint-v1'


def atomic_write(path: str | Path, write) -> None:
    """Calls ``write(file)`` on a temporary file next to ``path`` and renames it onto ``path``
    only once it is complete, so that a crash never leaves a truncated file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """Writes ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False) + '\n'
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Saves a checkpoint (tensors and plain Python containers only), atomically."""
    atomic_write(path, lambda f: torch.save({'format': FORMAT, **payload}, f))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True``: no code stored in the file is run."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        payload = torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a loadable pyg_mmrec checkpoint "
                              f"(only tensors and plain containers are accepted): {e}") from e
    if not isinstance(payload, dict) or payload.get('format') != FORMAT:
        raise CheckpointError(f"{path}: not a pyg_mmrec checkpoint (format field "
                              f"{payload.get('format') if isinstance(payload, dict) else None!r}, "
                              f"expected {FORMAT!r})")
    return payload
