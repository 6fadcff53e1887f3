"""Fuzzing the upload parsers: bytes mutated from valid ``.pt``, ``.safetensors``, ``.npz`` and
``.onnx`` files, and random bytes, are either accepted or refused with one LandscapeError line;
never another exception, never a hang, and a refused input never leaves a file in the store."""

import io
import json
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import onnx
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from landscapes.errors import LandscapeError
from landscapes.networks.architectures import build_network
from landscapes.networks.store import UploadStore

pytestmark = pytest.mark.filterwarnings("ignore")  # torch's and numpy's warnings on odd files

MLP = {"type": "mlp", "sizes": [2, 4, 2], "act": "relu"}
#: inputs per run; FUNNELSCOPE_FUZZ_EXAMPLES=20000 for a longer campaign
EXAMPLES = int(os.environ.get("FUNNELSCOPE_FUZZ_EXAMPLES", "1000"))


def _seeds() -> dict[str, tuple[str, str, bytes]]:
    """name -> (store method, file name, valid content)."""
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in build_network(MLP).state_dict().items()}
    pt = io.BytesIO()
    torch.save(state, pt)
    x = np.random.default_rng(0).normal(size=(12, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    npz = io.BytesIO()
    np.savez(npz, X=x, y=y)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.eye(2, dtype=np.float32), "w"),
         numpy_helper.from_array(np.zeros(2, np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    return {
        "pt": ("checkpoint", "w.pt", pt.getvalue()),
        "safetensors": ("checkpoint", "w.safetensors", safetensors.torch.save(
            state, metadata={"architecture": json.dumps(MLP), "loss": "cross_entropy"})),
        "onnx": ("checkpoint", "w.onnx", onnx.shape_inference.infer_shapes(model)
                 .SerializeToString()),
        "npz": ("data", "d.npz", npz.getvalue()),
        "data-safetensors": ("data", "d.safetensors", safetensors.numpy.save({"X": x, "y": y})),
    }


SEEDS = _seeds()


@st.composite
def _uploads(draw: st.DrawFn) -> tuple[str, str, bytes]:
    kind = draw(st.sampled_from([*SEEDS, "random"]))
    if kind == "random":
        method, name, _ = SEEDS[draw(st.sampled_from(list(SEEDS)))]
        return method, name, draw(st.binary(max_size=512))
    method, name, content = SEEDS[kind]
    data = bytearray(content)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[at] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, ord("["), ord("9")]))
        elif action == "truncate":
            del data[at:]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 16))]
    return method, name, bytes(data)


def _files(root: Path) -> set[str]:
    uploads = root / "uploads"
    return {p.name for p in uploads.iterdir()} if uploads.exists() else set()


def test_the_seeds_are_accepted():
    """Control: every unmutated seed is a valid upload (so mutations start from real files)."""
    root = Path(tempfile.mkdtemp())
    try:
        store = UploadStore(root)
        for method, name, content in SEEDS.values():
            put = store.put_checkpoint if method == "checkpoint" else store.put_data
            arch = MLP if name == "w.pt" else None
            assert len(put(content, name, arch) if method == "checkpoint" else put(content, name)
                       ) == 64
    finally:
        shutil.rmtree(root)


@settings(max_examples=EXAMPLES, deadline=timedelta(seconds=10), database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(upload=_uploads())
def test_mutated_uploads_are_accepted_or_refused_in_one_line(upload):
    method, name, content = upload
    root = Path(tempfile.mkdtemp())
    try:
        store = UploadStore(root, max_bytes=2**20)
        try:
            if method == "checkpoint":
                store.put_checkpoint(content, name, MLP if name == "w.pt" else None)
            else:
                store.put_data(content, name)
        except LandscapeError as exc:
            message = str(exc)
            assert message and "\n" not in message, message
            assert _files(root) == set(), f"a refused upload left {_files(root)}"
    finally:
        shutil.rmtree(root)
