"""Read ``torch.save`` files safely: tensors and plain values only, one clear error otherwise.

``torch.load(..., weights_only=True)`` refuses pickled Python objects (which could run any code
while being unpickled); this wrapper turns that refusal, and the several exception types torch
raises for truncated or foreign files, into an :class:`~gnn4hep.errors.InputFileError` naming the file.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

from gnn4hep.errors import InputFileError


def load_torch_file(path: str | Path, what: str = "file") -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``.

    Args:
        path: the file.
        what: what the file should be, for the error message (e.g. "model file").

    Raises:
        InputFileError: the file is missing, unreadable, or holds pickled objects (refused).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, f"{what} not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text:
            found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
            detail = f" ({found.group(1)})" if found else ""
            raise InputFileError(path, f"refused: the {what} holds pickled Python objects{detail}, which could run "
                                       "code; only tensors and plain values are read (weights_only)") from None  # fmt: skip
        raise InputFileError(path, f"not a readable {what} (UnpicklingError: {text.splitlines()[0] if text else ''})") from None
    except Exception as exc:  # torch raises RuntimeError, EOFError, zipfile errors... for damaged files
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise InputFileError(path, f"not a readable {what} ({exc.__class__.__name__}: {first})") from None
