"""Opening any ``.npz`` export: validated, stored by content, drawn."""

import io
import json
import zipfile

import numpy as np
import pytest

from landscapes import views
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.networks.store import UploadStore


def _bytes(result) -> bytes:
    return formats.to_bytes(result, "npz")


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def ising_slice():
    return views.compute({"model": "ising", "n": 8, "native_bias": 1}, {"view": "slice", "steps": 5})


@pytest.mark.parametrize("view", [{"view": "slice", "steps": 5}, {"view": "path", "steps": 5},
                                  {"view": "enumeration"}])
def test_an_export_opens_as_the_result_it_was(view):
    result = views.compute({"model": "ising", "n": 8, "native_bias": 1}, view)
    opened = formats.open_export(_bytes(result), "from-a-gpu-box.npz")
    assert opened.meta == json.loads(json.dumps(result.meta))
    for name, array in result.to_arrays().items():
        np.testing.assert_array_equal(opened.to_arrays()[name], array)
    assert formats.figure(opened).to_dict()["data"]


def test_the_store_keeps_an_export_by_content_hash(tmp_path, ising_slice):
    import hashlib

    store = UploadStore(tmp_path)
    content = _bytes(ising_slice)
    key = store.put_export(content, "a.npz")
    assert key == hashlib.sha256(content).hexdigest()
    assert store.put_export(content, "renamed.npz") == key
    np.testing.assert_array_equal(store.export(key).values, ising_slice.values)
    with pytest.raises(LandscapeError, match="no longer stored"):
        store.export("0" * 64)


def _with(result, **change) -> bytes:
    arrays = {**result.to_arrays(), **change}
    meta = change.pop("meta", None)
    payload = {k: v for k, v in arrays.items() if v is not None and k != "meta"}
    payload["meta"] = np.array(json.dumps(result.meta) if meta is None else meta)
    return _npz(**payload)


@pytest.mark.parametrize("change, message", [
    ({"meta": "{not json"}, "'meta' is not valid JSON"),
    ({"meta": "[1, 2]"}, "must be a JSON object"),
    ({"meta": json.dumps({"kind": "teapot"})}, "unknown kind of result 'teapot'"),
    ({"values": np.zeros((2, 2))}, r"values have shape \(2, 2\); the axes need \(5, 5\)"),
    ({"directions": None}, "needs arrays directions"),
    ({"notes": np.array(["text"])}, "array 'notes' has dtype <U4"),
    ({"x": np.full(5, np.inf)}, "finite 1-D"),
])
def test_a_bad_export_is_refused_with_the_reason(ising_slice, change, message):
    with pytest.raises(LandscapeError, match=message):
        formats.open_export(_with(ising_slice, **change), "bad.npz")


def test_pickles_other_members_and_size_are_refused(ising_slice):
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(LandscapeError, match="object array.*not loaded"):
        formats.open_export(_with(ising_slice, evil=np.array([{"a": 1}], dtype=object)), "p.npz")
    sneaky = io.BytesIO()
    with zipfile.ZipFile(sneaky, "w") as archive:
        archive.writestr("meta.npy", b"")
        archive.writestr("../../etc/passwd", b"x")
    with pytest.raises(LandscapeError, match="unexpected member"):
        formats.open_export(sneaky.getvalue(), "s.npz")
    with pytest.raises(LandscapeError, match="no 'meta' entry"):
        formats.open_export(_npz(values=np.zeros(3)), "m.npz")
    with pytest.raises(LandscapeError, match="over the limit of 100"):
        formats.open_export(_bytes(ising_slice), "big.npz", max_bytes=100)
    with pytest.raises(LandscapeError, match="not an .npz file"):
        formats.open_export(b"not a zip", "x.npz")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.npy", b"\0" * 10_000_000)
    with pytest.raises(LandscapeError, match="expand to"):
        formats.open_export(bomb.getvalue(), "bomb.npz", max_bytes=100_000)
