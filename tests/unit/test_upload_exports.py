"""Reproducible uploads: splits pinned by content, exports that recompute
from the file alone, and meta that names uploaded files by name and sha256, never by path.

The expected numbers here are written out (the split's permutation prefix was computed once
from the documented recipe with hashlib and numpy alone), never taken from the code under test;
the recomputation builds the network with torch.nn.functional, not the library's zoo or engine.
"""

import hashlib
import io
import json
import shutil

import numpy as np
import pytest
import safetensors.numpy
import torch
import torch.nn.functional as F

from landscapes import cli
from landscapes.errors import LandscapeError
from landscapes.io.npz import read_npz
from landscapes.networks.architectures import build_network
from landscapes.networks.datasets import load_builtin
from landscapes.networks.store import UploadStore
from landscapes.networks.uploads import load_data, save_checkpoint
from landscapes.networks.views import center_summary, source_from_spec

# X = the rows (2k, 2k + 1) / 1000 for k = 0..999, y = k % 2: row k is recognisable by X[k, 0]
ROWS_X = (np.arange(2000, dtype=np.float32).reshape(1000, 2) / 1000).astype(np.float32)
ROWS_Y = (np.arange(1000) % 2).astype(np.int64)
# default_rng(int(sha256(b"(1000, 2)" + X bytes + b"(1000,)" + y bytes), 16)).permutation(1000)
TRAIN_PREFIX = [458, 338, 838, 976, 971, 370, 64, 237]
TEST_PREFIX = [439, 889, 858, 933, 84, 772]


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _rows(x: np.ndarray) -> list[int]:
    return [int(round(v * 1000 / 2)) for v in x[:, 0]]


def test_builtin_split_sizes_and_membership_are_pinned():
    from sklearn.datasets import make_moons

    x, _ = make_moons(n_samples=1500, noise=0.1, random_state=0)
    moons = load_builtin("moons")
    assert (len(moons.x_train), len(moons.x_test)) == (1000, 500)
    np.testing.assert_array_equal(moons.x_train[0], x[566].astype(np.float32))
    np.testing.assert_array_equal(moons.x_train[4], x[1336].astype(np.float32))
    np.testing.assert_array_equal(moons.x_test[0], x[1439].astype(np.float32))


def test_uploaded_split_is_pinned_by_content_not_by_name():
    content = _npz(X=ROWS_X, y=ROWS_Y)
    data = load_data(content, "points.npz")
    assert (len(data.x_train), len(data.x_test)) == (800, 200)
    assert _rows(data.x_train)[:8] == TRAIN_PREFIX
    assert _rows(data.x_test)[:6] == TEST_PREFIX
    assert sorted(_rows(data.x_train) + _rows(data.x_test)) == list(range(1000))
    np.testing.assert_array_equal(data.y_train[:8], np.array(TRAIN_PREFIX) % 2)
    assert data.upload == {"name": "points.npz", "sha256": hashlib.sha256(content).hexdigest()}
    # the same data under another name, or in the other format: the same split
    for other in (load_data(content, "renamed-copy.npz"),
                  load_data(safetensors.numpy.save({"X": ROWS_X, "y": ROWS_Y}), "p.safetensors")):
        for name in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(other, name), getattr(data, name))


def test_own_split_is_used_as_given():
    g = np.random.default_rng(1)
    parts = {"X_train": g.normal(size=(30, 2)), "y_train": np.arange(30) % 2,
             "X_test": g.normal(size=(7, 2)), "y_test": np.arange(7) % 2}
    data = load_data(_npz(**parts, X=np.zeros((3, 2)), y=np.zeros(3)), "mine.npz")
    np.testing.assert_array_equal(data.x_train, parts["X_train"].astype(np.float32))
    np.testing.assert_array_equal(data.x_test, parts["X_test"].astype(np.float32))
    np.testing.assert_array_equal(data.y_test, parts["y_test"])
    assert data.task == "classification"
    assert data.split == "the file's own X_train, y_train, X_test, y_test"


@pytest.mark.parametrize("change, message", [
    ({"y_test": None}, r"missing 'y_test'"),
    ({"X_test": np.zeros((7, 3))}, r"X_train samples have shape \(2,\) but X_test samples \(3,\)"),
    ({"y_test": np.linspace(0, 1, 7)}, "same kind of labels"),
    ({"X_test": np.zeros((0, 2)), "y_test": np.zeros(0, int)}, "X_test is empty"),
    ({"X_train": np.full((30, 2), 1e300)}, r"X_train holds values up to 1e\+300, beyond the "
                                           "float32 range"),
])
def test_own_split_problems_say_what_to_change(change, message):
    parts = {"X_train": np.zeros((30, 2)), "y_train": np.arange(30) % 2,
             "X_test": np.zeros((7, 2)), "y_test": np.arange(7) % 2, **change}
    with pytest.raises(LandscapeError, match=message):
        load_data(_npz(**{k: v for k, v in parts.items() if v is not None}), "mine.npz")


def test_values_beyond_float32_are_refused_with_the_reason():
    x = np.ones((20, 2))
    x[3, 1] = 1e300
    with pytest.raises(LandscapeError, match="beyond the float32 range.*rescale"):
        load_data(_npz(X=x, y=np.arange(20) % 2), "big.npz")


def _store_with(tmp_path, arch, state, x, y, data_name="d.npz"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    store = UploadStore(tmp_path / "store")
    ckpt = save_checkpoint(tmp_path / "net.safetensors", arch, state).read_bytes()
    key = store.put_checkpoint(ckpt, "net.safetensors")
    data = store.put_data(_npz(X=x, y=y), data_name)
    return store, {"model": "network", "checkpoint": key, "checkpoint2": None,
                   "checkpoint3": None, "data": f"upload:{data}", "loss": None}


def test_whole_number_float_labels_are_class_labels(tmp_path):
    arch = {"type": "mlp", "sizes": [2, 4, 2], "act": "tanh"}
    x = np.random.default_rng(0).normal(size=(40, 2))
    store, spec = _store_with(tmp_path, arch, build_network(arch).state_dict(), x,
                              (x[:, 0] > 0).astype(np.float64))
    land = source_from_spec(spec, store).landscape
    assert land.loss == "cross_entropy" and land.data.task == "classification"
    assert land.data.y_train.dtype == np.int64
    bad_store, bad = _store_with(tmp_path / "b", arch, build_network(arch).state_dict(), x,
                         np.linspace(0, 1, 40))
    with pytest.raises(LandscapeError, match=r"class indices 0, 1, 2, \.\.\.; y_\w+\[\d+\] is "
                                             r"0\.\d+.*y\.astype\('int64'\).*choose loss mse"):
        source_from_spec({**bad, "loss": "cross_entropy"}, bad_store)


@pytest.mark.parametrize("labels, message", [
    (np.eye(2)[np.arange(40) % 2].astype(np.int64), r"must be 1-D.*y\.argmax\(1\)"),
    (np.arange(40) % 2 - 1, r"class labels must be >= 0.*return_inverse"),
])
def test_label_problems_say_what_to_change(labels, message):
    with pytest.raises(LandscapeError, match=message):
        load_data(_npz(X=np.zeros((40, 2)), y=labels), "d.npz")


def _forward(arch: dict, meta_params: list[dict], point: np.ndarray, x: torch.Tensor
             ) -> torch.Tensor:
    """The mlp of ``arch`` written out with torch.nn.functional (not the library's zoo)."""
    tensors, at = {}, 0
    for entry in meta_params:
        size = int(np.prod(entry["shape"]))
        tensors[entry["name"]] = torch.as_tensor(point[at:at + size]).reshape(entry["shape"])
        at += size
    assert at == len(point)
    layers = len(arch["sizes"]) - 1
    h = x
    for k in range(layers):
        h = F.linear(h, tensors[f"{2 * k}.weight"], tensors[f"{2 * k}.bias"])
        if k < layers - 1:
            h = torch.tanh(h)
    return h


def _export(tmp_path, argv: list[str], name: str) -> tuple[dict, dict]:
    out = tmp_path / name
    assert cli.main([*argv, "--out", str(out)]) == 0
    return read_npz(out)


def test_an_uploads_export_recomputes_from_the_file_alone(tmp_path, one_torch_thread):
    arch = {"type": "mlp", "sizes": [2, 6, 3], "act": "tanh"}
    torch.manual_seed(3)
    ckpt = save_checkpoint(tmp_path / "net.safetensors", arch, build_network(arch).state_dict())
    g = np.random.default_rng(5)
    x = g.normal(size=(60, 2))
    data = tmp_path / "points.npz"
    data.write_bytes(_npz(X=x, y=np.arange(60) % 3))
    argv = ["slice", "network", "--checkpoint", str(ckpt), "--data", str(data), "--dims", "2",
            "--steps", "5", "--span", "0.5"]
    arrays, meta = _export(tmp_path, argv, "out.npz")

    # meta names the uploads by file name and sha256, never by a local path
    assert meta["data"] == {"name": "points.npz",
                            "sha256": hashlib.sha256(data.read_bytes()).hexdigest()}
    assert meta["checkpoints"] == {"center": {
        "name": "net.safetensors", "sha256": hashlib.sha256(ckpt.read_bytes()).hexdigest()}}
    assert str(tmp_path) not in json.dumps(meta)
    assert meta["samples"] == {"train": 48, "test": 12}
    assert meta["split"].startswith("80/20 by a permutation seeded from the sha256 of X and y")

    # every value recomputes from the arrays and meta alone
    point = lambda i, j: (arrays["center"] + arrays["x"][j] * arrays["directions"][0]  # noqa: E731
                          + arrays["y"][i] * arrays["directions"][1])
    for i, j in ((0, 0), (2, 2), (4, 1)):
        for split, key in (("train", "values"), ("test", "test_loss")):
            xs = torch.as_tensor(arrays[f"X_{split}"])
            logits = _forward(meta["architecture"], meta["parameters"],
                              point(i, j).astype(np.float32), xs)
            labels = torch.as_tensor(arrays[f"y_{split}"])
            expected = F.cross_entropy(logits, labels).item()
            assert arrays[key][i, j] == pytest.approx(expected, rel=1e-5, abs=1e-6)
            accuracy = (logits.argmax(1) == labels).double().mean().item()
            assert arrays[f"{split}_accuracy"][i, j] == pytest.approx(accuracy)

    # the same data file under another name: identical numbers
    renamed = tmp_path / "another-name.npz"
    shutil.copy(data, renamed)
    again, meta2 = _export(tmp_path, [*argv[:5], str(renamed), *argv[6:]], "again.npz")
    for key in ("values", "test_loss", "X_train", "y_test"):
        np.testing.assert_array_equal(again[key], arrays[key])
    assert meta2["data"]["sha256"] == meta["data"]["sha256"]


def test_a_builtin_datasets_export_names_it_without_arrays(tmp_path, one_torch_thread):
    arch = {"type": "mlp", "sizes": [2, 4, 2], "act": "tanh"}
    ckpt = save_checkpoint(tmp_path / "net.safetensors", arch, build_network(arch).state_dict())
    arrays, meta = _export(tmp_path, ["slice", "network", "--checkpoint", str(ckpt), "--data",
                                      "moons", "--dims", "1", "--steps", "3"], "b.npz")
    assert meta["data"] == "moons" and "X_train" not in arrays and "split" not in meta


def test_center_summary_names_architecture_and_loss(tmp_path):
    arch = {"type": "mlp", "sizes": [2, 4, 2], "act": "tanh"}
    x = np.random.default_rng(0).normal(size=(40, 2))
    store, spec = _store_with(tmp_path, arch, build_network(arch).state_dict(), x,
                              np.arange(40) % 2)
    source = source_from_spec(spec, store)
    text = center_summary(source)
    land = source.landscape
    params = [{"name": n, "shape": list(t.shape)} for n, t in build_network(arch).named_parameters()]
    logits = _forward(arch, params, land.center.numpy(), torch.as_tensor(land.data.x_train))
    expected = F.cross_entropy(logits, torch.as_tensor(land.data.y_train)).item()
    assert text.startswith("mlp 2-4-2 tanh; loss at this checkpoint ")
    assert float(text.split("checkpoint ")[1].split(" ")[0]) == pytest.approx(expected, rel=1e-5)
    assert text.endswith("(cross_entropy) on the train split of d.npz (32 samples)")
