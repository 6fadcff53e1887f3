"""The upload store: a corrupted stored file is repaired by uploading the same file again, a
failed write leaves no temporary file, and stale temporary files are pruned on open."""

import io
import os
import time

import numpy as np
import pytest
import safetensors.torch
import torch

from landscapes.errors import LandscapeError
from landscapes.networks import store as store_module
from landscapes.networks.architectures import build_network
from landscapes.networks.store import UploadStore, prune_temporary

MLP = {"type": "mlp", "sizes": [2, 8, 2], "act": "relu"}


def _checkpoint() -> bytes:
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in build_network(MLP).state_dict().items()}
    return safetensors.torch.save(state)


def _data() -> bytes:
    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, X=x, y=(x[:, 0] > 0).astype(np.int64))
    return buffer.getvalue()


def _files(root) -> list[str]:
    return sorted(p.name for p in (root / "uploads").iterdir())


def _reads_back(store: UploadStore, ckpt_key: str, data_key: str, expected: tuple) -> bool:
    """Both stored files read back as they were stored (a damaged one is a LandscapeError)."""
    try:
        state, x_train = store.checkpoint(ckpt_key).state, store.data(data_key).x_train
    except LandscapeError:
        return False
    return all(torch.equal(state[k], expected[0][k]) for k in expected[0]) and np.array_equal(
        x_train, expected[1])


@pytest.mark.parametrize("damage", [b"", b"garbage", None])
def test_uploading_again_repairs_a_corrupted_checkpoint_and_data_file(tmp_path, damage):
    store = UploadStore(tmp_path)
    ckpt_key = store.put_checkpoint(_checkpoint(), "w.safetensors", MLP)
    data_key = store.put_data(_data(), "d.npz")
    expected = store.checkpoint(ckpt_key).state, store.data(data_key).x_train
    for suffix in (".safetensors", ".npz"):
        path = tmp_path / "uploads" / f"{(ckpt_key if suffix == '.safetensors' else data_key)}{suffix}"
        content = path.read_bytes()
        # truncated, replaced, or one byte flipped in the middle of the arrays
        path.write_bytes(damage if damage is not None else
                         content[:len(content) // 2] + bytes([content[len(content) // 2] ^ 0xFF])
                         + content[len(content) // 2 + 1:])
    assert not _reads_back(store, ckpt_key, data_key, expected)  # the damage is real
    assert store.put_checkpoint(_checkpoint(), "w.safetensors", MLP) == ckpt_key
    assert store.put_data(_data(), "d.npz") == data_key
    assert _reads_back(store, ckpt_key, data_key, expected)
    assert not [n for n in _files(tmp_path) if n.startswith((".tmp", "tmp"))]


def test_an_intact_stored_file_is_not_rewritten(tmp_path):
    store = UploadStore(tmp_path)
    key = store.put_data(_data(), "first.npz")
    path = tmp_path / "uploads" / f"{key}.npz"
    os.utime(path, (1_000_000, 1_000_000))
    assert store.put_data(_data(), "second.npz") == key
    assert path.stat().st_mtime == 1_000_000
    assert store.data(key).upload["name"] == "first.npz"  # the first upload's name is kept


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    store = UploadStore(tmp_path)
    data, checkpoint = _data(), _checkpoint()

    def disk_full(target, *args, **kwargs):  # half a file, then the disk is full
        with open(target, "ab") if not hasattr(target, "write") else target as fh:
            fh.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(LandscapeError, match="could not be stored \\(No space left on device\\)"):
        store.put_data(data, "d.npz")
    monkeypatch.setattr(store_module.uploads, "save_checkpoint", disk_full)
    with pytest.raises(LandscapeError, match="No space left on device"):
        store.put_checkpoint(checkpoint, "w.safetensors", MLP)
    assert _files(tmp_path) == []


def test_stale_temporary_files_are_pruned_when_a_store_is_opened(tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    old, fresh, kept = uploads / "tmpab12.safetensors", uploads / ".tmp-cd34.npz", uploads / (
        "a" * 64 + ".npz")
    for path in (old, fresh, kept):
        path.write_bytes(b"")
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    os.utime(kept, (hours_ago, hours_ago))
    UploadStore(tmp_path)
    assert _files(tmp_path) == sorted([fresh.name, kept.name])  # another worker may be writing
    assert prune_temporary(uploads, older_than=-1) == [fresh]
