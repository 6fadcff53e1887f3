"""Uploaded checkpoints and data: round trips, and refusals of anything unsafe or malformed."""

import builtins
import io
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from torch import nn

from landscapes.errors import LandscapeError
from landscapes.networks import datasets
from landscapes.networks.architectures import build_network
from landscapes.networks.landscape import NetworkLandscape
from landscapes.networks.uploads import (
    Checkpoint,
    content_hash,
    load_checkpoint,
    load_data,
    save_checkpoint,
)

pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.save` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
]

MLP = {"type": "mlp", "sizes": [2, 8, 2], "act": "relu"}
CNN = {"type": "cnn", "channels": [4], "batchnorm": True}


def _state(arch: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    module = build_network(arch)
    state = module.state_dict()
    for name, tensor in state.items():  # make BatchNorm buffers non-default, so equality means something
        if "running_var" in name:
            tensor.copy_(torch.rand_like(tensor) + 0.5)
        elif "running_mean" in name:  # of both signs, as after a convolution
            tensor.copy_(torch.rand_like(tensor) - 0.5)
        elif "num_batches" in name:
            tensor.fill_(7)
    return {k: v.clone() for k, v in state.items()}


def _torch_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _safetensors_bytes(tensors: dict, metadata: dict | None = None) -> bytes:
    return safetensors.torch.save(tensors, metadata=metadata)


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.fixture
def no_torch_load(monkeypatch):
    """Fail the test if anything calls torch.load."""

    def refuse(*args, **kwargs):
        raise AssertionError("torch.load was called on a file that must be refused unread")

    monkeypatch.setattr(torch, "load", refuse)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("arch, dataset, loss", [(MLP, "moons", "cross_entropy"),
                                                 (CNN, "digits", "cross_entropy")])
def test_safetensors_round_trip_builds_a_landscape(tmp_path, arch, dataset, loss):
    state = _state(arch)
    path = save_checkpoint(tmp_path / "net.safetensors", arch, state, loss=loss,
                           extra={"note": "trained 3 epochs"})
    assert path.exists()
    ckpt = load_checkpoint(path.read_bytes(), "net.safetensors")
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.arch == NetworkLandscape.create(arch, state, datasets.load_builtin(dataset), loss).arch
    assert ckpt.loss == loss
    assert ckpt.meta == {"note": "trained 3 epochs"}
    assert set(ckpt.state) == set(state)
    for name, tensor in state.items():
        assert ckpt.state[name].dtype == tensor.dtype
        assert torch.equal(ckpt.state[name], tensor), name
    landscape = NetworkLandscape.create(ckpt.arch, ckpt.state, datasets.load_builtin(dataset), ckpt.loss)
    original = NetworkLandscape.create(arch, state, datasets.load_builtin(dataset), loss)
    assert torch.equal(landscape.center, original.center)
    got = landscape.evaluate(landscape.center[None])["loss"]
    want = original.evaluate(original.center[None])["loss"]
    np.testing.assert_array_equal(got, want)


def test_save_checkpoint_makes_tensors_contiguous(tmp_path):
    state = _state(MLP)
    state["0.weight"] = state["0.weight"].t().contiguous().t()  # a non-contiguous view
    assert not state["0.weight"].is_contiguous()
    path = save_checkpoint(tmp_path / "t.safetensors", MLP, state)
    ckpt = load_checkpoint(path.read_bytes(), "t.safetensors")
    assert torch.equal(ckpt.state["0.weight"], state["0.weight"])
    assert ckpt.loss is None


def test_explicit_arch_overrides_metadata(tmp_path):
    state = _state(MLP)
    content = _safetensors_bytes(state, {"architecture": json.dumps(
        {"type": "mlp", "sizes": [2, 16, 2]})})
    with pytest.raises(LandscapeError, match="shape"):
        load_checkpoint(content, "w.safetensors")
    assert load_checkpoint(content, "w.safetensors", arch=MLP).arch["sizes"] == [2, 8, 2]
    content = _torch_bytes({"state_dict": state, "architecture": {"type": "mlp", "sizes": [2, 16, 2]}})
    with pytest.raises(LandscapeError, match="shape"):
        load_checkpoint(content, "w.pt")
    assert load_checkpoint(content, "w.pt", arch=MLP).arch["sizes"] == [2, 8, 2]


def test_pt_state_dict_with_explicit_arch(monkeypatch):
    state = _state(MLP)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    ckpt = load_checkpoint(_torch_bytes(state), "model.pt", arch=MLP)
    assert calls and all(call.get("weights_only") is True for call in calls)
    assert ckpt.arch["sizes"] == [2, 8, 2] and ckpt.loss is None
    assert all(torch.equal(ckpt.state[k], v) for k, v in state.items())


def test_pth_container_with_architecture_and_loss():
    state = _state(CNN)
    content = _torch_bytes({"state_dict": state, "architecture": CNN, "loss": "cross_entropy",
                            "epoch": 3, "note": "hi"})
    ckpt = load_checkpoint(content, "model.pth")
    assert ckpt.arch["type"] == "cnn" and ckpt.arch["batchnorm"] is True
    assert ckpt.loss == "cross_entropy"
    assert ckpt.meta == {"note": "hi"}
    assert all(torch.equal(ckpt.state[k], v) for k, v in state.items())
    NetworkLandscape.create(ckpt.arch, ckpt.state, datasets.load_builtin("digits"), ckpt.loss)


def test_pt_model_state_dict_key_and_parameters():
    module = build_network(MLP)
    params = dict(module.named_parameters())  # nn.Parameter values are accepted as tensors
    ckpt = load_checkpoint(_torch_bytes({"model_state_dict": params, "arch": MLP}), "m.pt")
    assert all(type(t) is torch.Tensor for t in ckpt.state.values())


def test_content_hash():
    assert content_hash(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert content_hash(b"abc") != content_hash(b"abd")


# --------------------------------------------------------------------------- unsafe files


class _Payload:
    """Unpickling this runs ``exec``, which writes ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_payload_really_executes_under_plain_pickle(tmp_path):
    """Control: the payload used below is live, so its marker's absence means something."""
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.read_text() == "pwned"


def test_malicious_pickle_in_torch_zip_is_not_executed(tmp_path, monkeypatch):
    # The environment variable flips torch.load's default to weights_only=False; an explicit
    # weights_only=True still wins, so this also proves the flag is passed explicitly.
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "MARKER"
    content = _torch_bytes({"0.weight": torch.zeros(8, 2), "evil": _Payload(marker)})
    assert zipfile.is_zipfile(io.BytesIO(content))
    with pytest.raises(LandscapeError) as info:
        load_checkpoint(content, "model.pt", arch=MLP)
    message = str(info.value)
    assert "not loaded" in message and "pickled code" in message
    assert "state_dict" in message  # says how to fix it
    assert not marker.exists()


def test_raw_pickle_renamed_pt_is_not_executed(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "MARKER"
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        content = pickle.dumps({"w": _Payload(marker)}, protocol=protocol)
        with pytest.raises(LandscapeError, match="not loaded"):
            load_checkpoint(content, "model.pth", arch=MLP)
    assert not marker.exists()


def test_torchscript_refused_before_loading(no_torch_load):
    scripted = torch.jit.script(nn.Linear(2, 2))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    with pytest.raises(LandscapeError, match="TorchScript") as info:
        load_checkpoint(buffer.getvalue(), "model.pt", arch=MLP)
    assert "not loaded" in str(info.value) and "state_dict" in str(info.value)


def test_pt2_refused_by_extension(no_torch_load):
    with pytest.raises(LandscapeError, match=r"\.pt2.*not loaded"):
        load_checkpoint(b"PK\x03\x04 anything", "exported.pt2", arch=MLP)


def test_pt2_archive_renamed_pt_refused_by_content(no_torch_load):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("model/archive_format", "pt2")
        archive.writestr("model/models/model.json", "{}")
        archive.writestr("model/.data/serialization_id", "0")
    with pytest.raises(LandscapeError, match="torch.export"):
        load_checkpoint(buffer.getvalue(), "innocent.pt", arch=MLP)


def test_non_tensor_values_refused():
    content = _torch_bytes({"0.weight": torch.zeros(8, 2), "0.bias": [0.0] * 8})
    with pytest.raises(LandscapeError, match="'0.bias' is a list, not a tensor"):
        load_checkpoint(content, "model.pt", arch=MLP)
    with pytest.raises(LandscapeError, match="not a state_dict"):
        load_checkpoint(_torch_bytes(torch.zeros(3)), "model.pt", arch=MLP)


def test_corrupt_pt_refused():
    content = _torch_bytes(_state(MLP))
    with pytest.raises(LandscapeError, match="not loaded"):
        load_checkpoint(content[: len(content) // 2], "model.pt", arch=MLP)


# --------------------------------------------------------------------------- malformed files


def test_wrong_keys_are_named():
    state = _state(MLP)
    state["extra.weight"] = state.pop("2.weight")
    with pytest.raises(LandscapeError, match=r"missing 2\.weight; unexpected extra\.weight"):
        load_checkpoint(_safetensors_bytes(state), "w.safetensors", arch=MLP)


def test_shape_mismatch_names_tensor_and_both_shapes():
    state = _state(MLP)
    with pytest.raises(LandscapeError) as info:
        load_checkpoint(_torch_bytes(state), "w.pt", arch={"type": "mlp", "sizes": [2, 16, 2]})
    message = str(info.value)
    assert "'0.weight'" in message and "(8, 2)" in message and "(16, 2)" in message


@pytest.mark.parametrize("name", ["2.bias", "1.running_var"])
def test_nan_weights_name_the_tensor(name):
    arch = MLP if name == "2.bias" else CNN
    state = _state(arch)
    state[name][0] = float("nan") if name == "2.bias" else float("inf")
    with pytest.raises(LandscapeError, match=rf"'{name}' contains NaN or infinite"):
        load_checkpoint(_safetensors_bytes(state), "w.safetensors", arch=arch)


def test_too_large_file_names_the_limit():
    content = _safetensors_bytes(_state(MLP))
    with pytest.raises(LandscapeError) as info:
        load_checkpoint(content, "w.safetensors", arch=MLP, max_bytes=100)
    message = str(info.value)
    assert "limit" in message and "100 bytes" in message and f"{len(content):,} bytes" in message
    assert "max_bytes" in message
    with pytest.raises(LandscapeError, match="limit"):
        load_data(_npz_bytes(X=np.zeros((10, 2)), y=np.zeros(10, int)), "d.npz", max_bytes=100)


@pytest.mark.parametrize("filename", ["model.ckpt", "model.h5", "model"])
def test_unknown_extension_lists_accepted(filename, no_torch_load):
    with pytest.raises(LandscapeError) as info:
        load_checkpoint(b"\x00" * 16, filename, arch=MLP)
    assert all(s in str(info.value) for s in (".safetensors", ".pt", ".pth", ".onnx"))


def test_corrupt_safetensors():
    content = _safetensors_bytes(_state(MLP), {"architecture": json.dumps(MLP)})
    for broken in (content[:-10], content[:5], b"\xff" * 64,
                   struct.pack("<Q", 10**12) + content[8:]):
        with pytest.raises(LandscapeError, match="not a valid safetensors file"):
            load_checkpoint(broken, "w.safetensors")


def test_missing_architecture_asks_to_choose_one():
    for content, name in ((_safetensors_bytes(_state(MLP)), "w.safetensors"),
                          (_torch_bytes(_state(MLP)), "w.pt")):
        with pytest.raises(LandscapeError, match="choose an architecture.*--arch"):
            load_checkpoint(content, name)


def test_invalid_architecture_json_in_metadata():
    content = _safetensors_bytes(_state(MLP), {"architecture": "{'type': 'mlp'"})
    with pytest.raises(LandscapeError, match="'architecture' metadata is not valid JSON"):
        load_checkpoint(content, "w.safetensors")
    content = _safetensors_bytes(_state(MLP), {"architecture": '{"type": "transformer"}'})
    with pytest.raises(LandscapeError, match="'type' must be 'mlp' or 'cnn'"):
        load_checkpoint(content, "w.safetensors")


def test_unknown_loss_in_metadata():
    content = _safetensors_bytes(_state(MLP), {"architecture": json.dumps(MLP), "loss": "hinge"})
    with pytest.raises(LandscapeError, match="loss 'hinge'"):
        load_checkpoint(content, "w.safetensors")


# --------------------------------------------------------------------------- data


def _moons_arrays(n: int = 40, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(0)
    return g.normal(size=(n, 2)).astype(np.float32), np.arange(n) % classes


def test_good_npz_builds_a_landscape():
    x, y = _moons_arrays()
    data = load_data(_npz_bytes(X=x, y=y), "uploads/my-points.npz")
    assert data.name == "my-points" and data.task == "classification"
    assert len(data.x_train) + len(data.x_test) == 40
    assert np.isin(data.x_train, x).all()
    NetworkLandscape.create(MLP, _state(MLP), data, "cross_entropy")


def test_npz_object_array_refused():
    buffer = io.BytesIO()
    np.savez(buffer, X=np.array([{"a": 1}, None], dtype=object), y=np.array([0, 1]))
    with pytest.raises(LandscapeError, match="object array"):
        load_data(buffer.getvalue(), "d.npz")


def test_npz_missing_keys_lists_found_keys():
    x, y = _moons_arrays()
    with pytest.raises(LandscapeError, match="found 'inputs', 'labels'"):
        load_data(_npz_bytes(inputs=x, labels=y), "d.npz")


def test_labels_out_of_range_for_the_network():
    x, y = _moons_arrays(classes=3)
    data = load_data(_npz_bytes(X=x, y=y), "d.npz")
    with pytest.raises(LandscapeError, match="labels go up to 2"):
        NetworkLandscape.create(MLP, _state(MLP), data, "cross_entropy")


def test_too_many_samples():
    x, y = _moons_arrays(n=50)
    with pytest.raises(LandscapeError, match="50 samples is over the limit of 20"):
        load_data(_npz_bytes(X=x, y=y), "d.npz", max_samples=20)


def test_safetensors_data():
    x, y = _moons_arrays()
    content = safetensors.numpy.save({"X": x, "y": y.astype(np.int64)})
    data = load_data(content, "pts.safetensors")
    assert data.name == "pts" and data.task == "classification"
    assert sorted(np.concatenate([data.y_train, data.y_test])) == sorted(y)
    with pytest.raises(LandscapeError, match="found 'X'"):
        load_data(safetensors.numpy.save({"X": x}), "pts.safetensors")


def test_data_unknown_extension_and_corrupt_files():
    with pytest.raises(LandscapeError, match=r"\.npz, \.safetensors"):
        load_data(b"1,2\n3,4\n", "d.csv")
    with pytest.raises(LandscapeError, match="not a valid .npz"):
        load_data(b"not a zip", "d.npz")
    with pytest.raises(LandscapeError, match="not a readable safetensors"):
        load_data(b"\x00" * 3, "d.safetensors")


def test_npz_zip_bomb_refused_before_expanding():
    buffer = io.BytesIO()
    np.savez_compressed(buffer, X=np.zeros((4000, 500), np.float32), y=np.zeros(4000, int))
    content = buffer.getvalue()
    assert len(content) < 100_000  # compresses to almost nothing
    with pytest.raises(LandscapeError, match="expand to"):
        load_data(content, "d.npz", max_bytes=100_000)


# --------------------------------------------------------------------------- what the zoo accepts

ONNX_LINE = 'torch.onnx.export(model, (x,), "net.onnx", dynamo=True, external_data=False)'


def test_class_style_keys_are_mapped_to_the_zoos_names():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = torch.nn.Linear(2, 8), torch.nn.Linear(8, 2)

    with pytest.raises(LandscapeError) as info:
        load_checkpoint(_torch_bytes(Net().state_dict()), "net.pt", arch=MLP)
    message = str(info.value)
    assert "rename = {'fc1': '0', 'fc2': '2'}" in message
    assert "nn.Sequential(Linear, act, Linear, act, ..., Linear)" in message
    assert "model.eval()" in message and ONNX_LINE in message


def test_sequential_with_dropout_is_mapped_past_the_dropout():
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                              torch.nn.Linear(8, 2))
    with pytest.raises(LandscapeError, match=r"rename = \{'0': '0', '3': '2'\}.*Dropout layer "
                                             r"does nothing in evaluation"):
        load_checkpoint(_torch_bytes(net.state_dict()), "net.pt", arch=MLP)


def test_unknown_architecture_options_list_what_the_zoo_accepts():
    with pytest.raises(LandscapeError) as info:
        load_checkpoint(_torch_bytes(_state(MLP)), "net.pt", arch={**MLP, "dropout": 0.1})
    message = str(info.value)
    assert "unknown key(s) dropout" in message and "mlp takes keys type, sizes, act" in message
    assert ONNX_LINE in message
    with pytest.raises(LandscapeError, match="'type' must be 'mlp' or 'cnn'.*cnn takes keys"):
        load_checkpoint(_torch_bytes(_state(MLP)), "net.pt", arch={"type": "resnet"})


def _conv_relu_bn() -> torch.nn.Sequential:
    """A CNN in the order Conv -> ReLU -> BatchNorm (not the zoo's), its statistics trained."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.BatchNorm2d(4), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 4 * 4, 10))
    net.train()(torch.rand(32, 1, 8, 8))
    return net.eval()


def test_conv_relu_batchnorm_is_not_mapped_onto_the_zoo():
    with pytest.raises(LandscapeError) as info:
        load_checkpoint(_torch_bytes(_conv_relu_bn().state_dict()), "cnn.pt", arch=CNN)
    message = str(info.value)
    assert "with another layer between them" in message and "rename =" not in message
    assert "BatchNorm always comes before the activation" in message


def test_conv_relu_batchnorm_renamed_to_fit_is_refused_by_its_statistics():
    state = {("1." + k[2:]) if k.startswith("2.") else k: v  # BatchNorm 2 -> the zoo's 1
             for k, v in _conv_relu_bn().state_dict().items()}
    with pytest.raises(LandscapeError, match=r"every BatchNorm running mean is >= 0.*Conv -> "
                                             r"BatchNorm -> relu -> pool.*net\.onnx"):
        load_checkpoint(_torch_bytes(state), "cnn.pt", arch=CNN)


@pytest.mark.parametrize("seed", range(8))
def test_zoo_cnn_with_trained_statistics_is_accepted(seed):
    torch.manual_seed(seed)
    net = build_network(CNN)
    net.train()(torch.rand(32, 1, 8, 8))  # images in [0, 1], as the digits are
    load_checkpoint(_torch_bytes(net.state_dict()), "cnn.pt", arch=CNN)
