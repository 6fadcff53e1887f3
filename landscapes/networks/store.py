"""A content-addressed store of validated uploads (checkpoints, data, opened ``.npz`` exports),
and the example networks' training cache.

Only files that passed validation are written, and only in a normalized form (checkpoints as
safetensors with their architecture and loss in the metadata; ONNX networks as the uploaded
file, which is their architecture, under ``KEY.onnx``; data as plain ``.npz`` arrays): a refused
upload never enters the store. Keys are sha256 hex digests, so the same upload from
any worker lands on the same file; writes are atomic (temporary file, then rename), a failed
write leaves no temporary file, and stale ones are removed when a store is opened. The same
upload again checks the stored file and rewrites it when it is unreadable or differs (a
corrupted store repairs itself by uploading the file again).
"""

import hashlib
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.io.atomic import write_atomically
from landscapes.io.formats import MAX_EXPORT_BYTES
from landscapes.io.npz import read_npz, write_npz
from landscapes.networks import uploads
from landscapes.networks.architectures import parameter_count
from landscapes.networks.datasets import MAX_SAMPLES, Dataset
from landscapes.networks.landscape import MAX_PARAMETERS
from landscapes.registry import Result
from landscapes.results import from_arrays

KEY_LENGTH = 64


#: temporary files of the store's writes are named ``.tmp-*``; one older than this is a
#: leftover (a worker killed mid-write, a full disk) and is removed when a store is opened
STALE_TEMP_SECONDS = 3600
TEMP_PREFIX = ".tmp-"


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` to a private temporary file beside ``path``, then rename it to ``path``
    (a concurrent reader sees the old file or the whole new one). On any failure the
    temporary file is removed; an OSError (a full disk) is a LandscapeError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomically(path, write, TEMP_PREFIX, path.suffix)
    except OSError as exc:
        raise LandscapeError(f"the upload could not be stored ({exc.strerror or exc}); it "
                             "was accepted but not kept: try again later") from None


def prune_temporary(directory: Path, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Remove the store's temporary files in ``directory`` older than ``older_than`` seconds
    (and the ``tmp*`` names of earlier versions); returns what was removed."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith((TEMP_PREFIX, "tmp")):
            continue
        try:
            if now - entry.stat().st_mtime > older_than and entry.is_file():
                entry.unlink()
                removed.append(entry)
        except OSError:
            continue  # removed by another worker meanwhile, or not ours to remove
    return removed


def _stored_matches(check: Callable[[], bool]) -> bool:
    """Whether a stored file still holds what it should; unreadable counts as no."""
    try:
        return check()
    except Exception:  # noqa: BLE001 -- a corrupt stored file fails in any way: rewrite it
        return False


def _same_arrays(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.asarray(a[k]).dtype == np.asarray(b[k]).dtype and np.array_equal(a[k], b[k])
        for k in a)


@dataclass(frozen=True)
class UploadStore:
    """Uploads under ``root/uploads``; trained examples under ``root/examples``."""

    root: Path
    max_bytes: int = uploads.MAX_BYTES
    max_samples: int = MAX_SAMPLES
    max_parameters: int = MAX_PARAMETERS
    max_export_bytes: int = MAX_EXPORT_BYTES

    def __post_init__(self) -> None:
        prune_temporary(Path(self.root) / "uploads")

    @property
    def examples_dir(self) -> Path:
        return Path(self.root) / "examples"

    def _path(self, key: str, suffix: str) -> Path:
        if len(key) != KEY_LENGTH or any(c not in "0123456789abcdef" for c in key):
            raise LandscapeError(f"not an upload key: {key!r}")
        return Path(self.root) / "uploads" / f"{key}{suffix}"

    def put_checkpoint(self, content: bytes, filename: str, arch: dict | None = None) -> str:
        """Validate a checkpoint upload and store it; returns its key. Raises LandscapeError."""
        ckpt = uploads.load_checkpoint(content, filename, arch, self.max_bytes, self.max_parameters)
        if ckpt.onnx is not None:
            return self._put_onnx(ckpt.onnx.content, ckpt.onnx.sha256, filename)
        assert ckpt.arch is not None  # load_checkpoint refuses a file without an architecture
        count = parameter_count(ckpt.arch)
        if count > self.max_parameters:
            raise LandscapeError(
                f"{Path(filename).name}: the network has {count:,} parameters, over the limit of "
                f"{self.max_parameters:,} (FUNNELSCOPE_MAX_PARAMETERS)"
            )
        digest = hashlib.sha256(content + json.dumps(ckpt.arch, sort_keys=True).encode())
        key = digest.hexdigest()
        path = self._path(key, ".safetensors")
        arch, state, loss = ckpt.arch, ckpt.state, ckpt.loss

        def stored_is_whole() -> bool:
            kept = uploads.load_checkpoint(path.read_bytes(), path.name, max_bytes=2**62,
                                           max_parameters=self.max_parameters)
            return (kept.arch == arch and kept.loss == loss and kept.state.keys() == state.keys()
                    and all(torch.equal(kept.state[k], state[k]) for k in state))

        if not (path.exists() and _stored_matches(stored_is_whole)):
            meta = {"filename": uploads.file_name(filename), "sha256": uploads.content_hash(content)}
            _write_atomically(path, lambda tmp: uploads.save_checkpoint(tmp, arch, state, loss, meta))
        return key

    def _put_onnx(self, content: bytes, key: str, filename: str) -> str:
        """An accepted ONNX upload, stored as uploaded under its sha256 (``KEY.onnx``), and the
        name it was first uploaded as beside it (``KEY.onnx.name``)."""
        path, name = self._path(key, ".onnx"), self._path(key, ".onnx.name")
        if not (path.exists() and _stored_matches(
                lambda: uploads.content_hash(path.read_bytes()) == key)):
            if not name.exists():
                _write_atomically(name, lambda tmp: tmp.write_bytes(
                    uploads.file_name(filename).encode("utf-8", "replace")))
            _write_atomically(path, lambda tmp: tmp.write_bytes(content))
        return key

    def checkpoint(self, key: str) -> uploads.Checkpoint:
        onnx_path = self._path(key, ".onnx")
        if onnx_path.exists():
            name_path = self._path(key, ".onnx.name")
            name = (name_path.read_bytes().decode("utf-8", "replace") if name_path.exists()
                    else onnx_path.name)
            return uploads.load_checkpoint(onnx_path.read_bytes(), name, max_bytes=2**62,
                                           max_parameters=self.max_parameters)
        path = self._path(key, ".safetensors")
        if not path.exists():
            raise LandscapeError("that uploaded checkpoint is no longer stored; upload it again")
        return uploads.load_checkpoint(path.read_bytes(), path.name, max_bytes=2**62)

    def put_data(self, content: bytes, filename: str) -> str:
        """Validate a data upload and store its split arrays and file name and sha256 (the
        same as the key: the file's content hash); returns its key."""
        data = uploads.load_data(content, filename, self.max_bytes, self.max_samples)
        key = uploads.content_hash(content)
        path = self._path(key, ".npz")

        def stored_is_whole() -> bool:
            kept = self.data(key)
            # the first upload's name is kept: only the content decides
            return (kept.task, kept.split) == (data.task, data.split) and _same_arrays(
                _split_arrays(kept), _split_arrays(data))

        def write(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                np.savez(fh, **_split_arrays(data), name=np.array(data.name),  # type: ignore[arg-type]
                         task=np.array(data.task), filename=np.array(uploads.file_name(filename)),
                         split=np.array(data.split or ""))

        if not (path.exists() and _stored_matches(stored_is_whole)):
            _write_atomically(path, write)
        return key

    def data(self, key: str) -> Dataset:
        path = self._path(key, ".npz")
        if not path.exists():
            raise LandscapeError("that uploaded data file is no longer stored; upload it again")
        try:
            with np.load(path, allow_pickle=False) as f:
                name = str(f["filename"]) if "filename" in f.files else str(f["name"])
                split = str(f["split"]) if "split" in f.files else None
                return Dataset(str(f["name"]), f["x_train"], f["y_train"], f["x_test"],
                               f["y_test"], str(f["task"]), {"name": name, "sha256": key},
                               split or None)
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            raise LandscapeError("that uploaded data file is damaged in the store; upload it "
                                 "again (the same file repairs it)") from None

    def put_export(self, content: bytes, filename: str) -> str:
        """Validate an ``.npz`` export (:func:`landscapes.io.formats.open_export`, at most
        ``max_export_bytes``) and store it, rewritten from its checked arrays and meta, under
        the file's content hash; returns the key."""
        result = formats.open_export(content, filename, self.max_export_bytes)
        key = uploads.content_hash(content)
        path = self._path(key, ".export.npz")
        arrays = result.to_arrays()

        def stored_is_whole() -> bool:
            kept_arrays, kept_meta = read_npz(path)
            return (kept_meta == json.loads(json.dumps(result.meta, sort_keys=True))
                    and _same_arrays(kept_arrays, arrays))

        if not (path.exists() and _stored_matches(stored_is_whole)):
            _write_atomically(path, lambda tmp: write_npz(tmp, arrays, result.meta))
        return key

    def export(self, key: str) -> Result:
        """A stored export (validated when it was stored) as a result."""
        path = self._path(key, ".export.npz")
        if not path.exists():
            raise LandscapeError("that opened export is no longer stored; open it again")
        return from_arrays(*read_npz(path))


def _split_arrays(data: Dataset) -> dict[str, np.ndarray]:
    return {"x_train": data.x_train, "y_train": data.y_train, "x_test": data.x_test,
            "y_test": data.y_test}
