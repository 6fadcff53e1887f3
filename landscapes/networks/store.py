"""A content-addressed store of validated uploads (checkpoints, data, opened ``.npz`` exports),
and the example networks' training cache.

Only files that passed validation are written, and only in a normalized form (checkpoints as
safetensors with their architecture and loss in the metadata; ONNX networks as the uploaded
file, which is their architecture, under ``KEY.onnx``; data as plain ``.npz`` arrays): a refused
upload never enters the store. Keys are sha256 hex digests, so the same upload from
any worker lands on the same file; writes are atomic (temporary file, then rename).
"""

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.io.formats import MAX_EXPORT_BYTES
from landscapes.io.npz import read_npz, write_npz
from landscapes.networks import uploads
from landscapes.networks.architectures import parameter_count
from landscapes.networks.datasets import MAX_SAMPLES, Dataset
from landscapes.networks.landscape import MAX_PARAMETERS
from landscapes.registry import Result
from landscapes.results import from_arrays

KEY_LENGTH = 64


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix)
    os.close(fd)
    return Path(tmp)


@dataclass(frozen=True)
class UploadStore:
    """Uploads under ``root/uploads``; trained examples under ``root/examples``."""

    root: Path
    max_bytes: int = uploads.MAX_BYTES
    max_samples: int = MAX_SAMPLES
    max_parameters: int = MAX_PARAMETERS
    max_export_bytes: int = MAX_EXPORT_BYTES

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
        if not path.exists():
            tmp = _atomic_target(path)
            uploads.save_checkpoint(tmp, ckpt.arch, ckpt.state, ckpt.loss,
                                    {"filename": uploads.file_name(filename),
                                     "sha256": uploads.content_hash(content)})
            tmp.replace(path)
        return key

    def _put_onnx(self, content: bytes, key: str, filename: str) -> str:
        """An accepted ONNX upload, stored as uploaded under its sha256 (``KEY.onnx``), and the
        name it was first uploaded as beside it (``KEY.onnx.name``)."""
        path = self._path(key, ".onnx")
        if not path.exists():
            name = _atomic_target(self._path(key, ".onnx.name"))
            name.write_bytes(uploads.file_name(filename).encode("utf-8", "replace"))
            name.replace(self._path(key, ".onnx.name"))
            tmp = _atomic_target(path)
            tmp.write_bytes(content)
            tmp.replace(path)
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
        if not path.exists():
            tmp = _atomic_target(path)
            with tmp.open("wb") as fh:
                np.savez(fh, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                         y_test=data.y_test, name=np.array(data.name), task=np.array(data.task),
                         filename=np.array(uploads.file_name(filename)),
                         split=np.array(data.split or ""))
            tmp.replace(path)
        return key

    def data(self, key: str) -> Dataset:
        path = self._path(key, ".npz")
        if not path.exists():
            raise LandscapeError("that uploaded data file is no longer stored; upload it again")
        with np.load(path, allow_pickle=False) as f:
            name = str(f["filename"]) if "filename" in f.files else str(f["name"])
            split = str(f["split"]) if "split" in f.files else None
            return Dataset(str(f["name"]), f["x_train"], f["y_train"], f["x_test"], f["y_test"],
                           str(f["task"]), {"name": name, "sha256": key}, split or None)

    def put_export(self, content: bytes, filename: str) -> str:
        """Validate an ``.npz`` export (:func:`landscapes.io.formats.open_export`, at most
        ``max_export_bytes``) and store it, rewritten from its checked arrays and meta, under
        the file's content hash; returns the key."""
        result = formats.open_export(content, filename, self.max_export_bytes)
        key = uploads.content_hash(content)
        path = self._path(key, ".export.npz")
        if not path.exists():
            tmp = _atomic_target(path)
            write_npz(tmp, result.to_arrays(), result.meta)
            tmp.replace(path)
        return key

    def export(self, key: str) -> Result:
        """A stored export (validated when it was stored) as a result."""
        path = self._path(key, ".export.npz")
        if not path.exists():
            raise LandscapeError("that opened export is no longer stored; open it again")
        return from_arrays(*read_npz(path))
