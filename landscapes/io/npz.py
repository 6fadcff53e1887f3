"""Reading and writing the ``.npz`` export contract (see docs/file-formats.md).

Every file holds plain arrays plus ``meta``: a JSON string (model spec, seeds, conventions,
units, library version). Files are read with ``allow_pickle=False``: no code ever runs.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from landscapes.errors import LandscapeError


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``arrays`` and ``meta`` to exactly ``path`` (no suffix is added)."""
    path = Path(path)
    if "meta" in arrays:
        raise ValueError("'meta' is reserved for the JSON metadata")
    payload = {k: np.asarray(v) for k, v in arrays.items()}
    payload["meta"] = np.array(json.dumps(meta, sort_keys=True))
    try:
        with path.open("wb") as fh:
            np.savez(fh, **payload)  # type: ignore[arg-type]  # numpy's stub
    except OSError as exc:
        raise LandscapeError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def read_npz(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """Arrays and metadata of an export written by :func:`write_npz`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise LandscapeError(f"cannot read {path} as an .npz export: {exc}") from None
    if "meta" not in arrays:
        raise LandscapeError(f"{path} has no 'meta' entry; not a Funnelscope export")
    return arrays, json.loads(str(arrays.pop("meta")))


def check_writable(path: str | Path) -> Path:
    """Fail early, with a clear message, if ``path`` cannot be written (before long work)."""
    path = Path(path)
    if path.is_dir():
        raise LandscapeError(f"cannot write {path}: it is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise LandscapeError(f"cannot write {path}: directory {parent} does not exist")
    existed = path.exists()
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        raise LandscapeError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not existed:
        path.unlink()
    return path
