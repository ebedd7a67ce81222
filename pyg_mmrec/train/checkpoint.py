"""Atomic writes and safe loading of checkpoints and result files."""
from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import torch

from pyg_mmrec.errors import CheckpointError
from pyg_mmrec.utils import atomic_write

FORMAT = 'pyg_mmrec-checkpoint-v1'


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
