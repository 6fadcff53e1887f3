"""Uploads are bounded by what they declare before anything is allocated: crafted torch zips,
``.npz`` files and safetensors files are refused with one line, in little memory, and nothing
of a refused file is stored."""

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch

from landscapes.errors import LandscapeError
from landscapes.io import bounded
from landscapes.networks import datasets
from landscapes.networks.architectures import build_network
from landscapes.networks.store import UploadStore
from landscapes.networks.uploads import load_checkpoint, load_data

MLP = {"type": "mlp", "sizes": [2, 8, 2], "act": "relu"}
BASE_NUMEL = 100_000


def _stored(root) -> list[str]:
    uploads = root / "uploads"
    return sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []


def _rewrite_torch_zip(expanded: int, *, compress: bool, pickle_numel: int | None = None) -> bytes:
    """A torch.save zip of one float32 tensor whose ``data/0`` holds ``expanded`` zero bytes
    (deflated when ``compress``) and whose data.pkl declares ``pickle_numel`` elements (default:
    what the record holds)."""
    base = io.BytesIO()
    torch.save({"w": torch.zeros(BASE_NUMEL)}, base)
    numel = expanded // 4 if pickle_numel is None else pickle_numel
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data/0"):
                member = zipfile.ZipInfo(info.filename)
                member.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
                member._compresslevel = 9  # type: ignore[attr-defined]
                with dst.open(member, "w", force_zip64=True) as fh:
                    for _ in range(expanded // 2**20):
                        fh.write(bytes(2**20))
                    fh.write(bytes(expanded % 2**20))
                continue
            if info.filename.endswith("data.pkl"):
                old = b"J" + struct.pack("<i", BASE_NUMEL)
                assert data.count(old) == 2  # the storage's numel and the tensor's size
                data = data.replace(old, b"J" + struct.pack("<i", numel))
            dst.writestr(info, data)
    return out.getvalue()


def test_a_deflated_torch_zip_is_refused_from_its_central_directory(tmp_path):
    bomb = _rewrite_torch_zip(64 * 2**20, compress=True)
    assert len(bomb) < 2**20 // 8  # 64 MiB of zeros deflate to almost nothing
    with pytest.raises(LandscapeError) as info:
        load_checkpoint(bomb, "bomb.pt", arch=MLP, max_bytes=2**20)
    message = str(info.value)
    assert "expand to 64.0 MiB" in message and "over the limit of 8.0 MiB" in message
    assert "\n" not in message
    # under the expansion limit, a deflated member is still refused: torch.save never deflates
    small = _rewrite_torch_zip(2**20, compress=True)
    with pytest.raises(LandscapeError, match="'[^']*data/0' is compressed; torch.save stores"):
        load_checkpoint(small, "small.pt", arch=MLP)
    store = UploadStore(tmp_path)
    with pytest.raises(LandscapeError, match="is compressed"):
        store.put_checkpoint(bomb, "bomb.pt", MLP)
    assert _stored(tmp_path) == []


def test_the_torch_zip_bomb_stays_in_little_memory(tmp_path):
    """The refusal happens before torch.load: max RSS grows by far less than the 256 MiB the
    file declares (torch.load itself reached about 3 GiB for a 1 MiB file of 1 GiB)."""
    path = tmp_path / "bomb.pt"
    path.write_bytes(_rewrite_torch_zip(256 * 2**20, compress=True))
    script = textwrap.dedent(f"""
        import resource
        from landscapes.errors import LandscapeError
        from landscapes.networks.uploads import load_checkpoint
        content = open({str(path)!r}, "rb").read()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            load_checkpoint(content, "bomb.pt", arch={MLP!r})
        except LandscapeError as exc:
            print("refused:", exc)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("grew KiB:", after - before)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "refused:" in out and "expand to 256.0 MiB" in out
    grew = int(out.rsplit("grew KiB:", 1)[1])
    assert grew < 32 * 1024, out


def test_a_storage_declaring_more_than_its_record_is_refused():
    # the record holds 400 KB; data.pkl says the storage (and tensor) is 4 GB
    lying = _rewrite_torch_zip(4 * BASE_NUMEL, compress=False, pickle_numel=10**9)
    with pytest.raises(LandscapeError, match=r"declares 4,000,000,000 bytes but its record is "
                                             r"400,000 bytes"):
        load_checkpoint(lying, "lying.pt", arch=MLP)


def test_a_zip_header_that_lies_about_a_stored_size_is_refused():
    content = bytearray(_rewrite_torch_zip(4 * BASE_NUMEL, compress=False))
    # the central directory's record of data/0 says it expands to 1 byte
    offset = 0
    while True:
        offset = content.index(b"PK\x01\x02", offset)
        name_length = struct.unpack_from("<H", content, offset + 28)[0]
        if content[offset + 46:offset + 46 + name_length].endswith(b"/data/0"):
            break
        offset += 4
    struct.pack_into("<I", content, offset + 24, 1)
    with pytest.raises(LandscapeError, match="declares another size than it stores"):
        load_checkpoint(bytes(content), "lying.pt", arch=MLP)


def test_an_old_pickle_format_pt_is_refused_unread():
    with pytest.raises(LandscapeError, match="not a zip archive.*torch 1.6.*not loaded"):
        load_checkpoint(b"\x80\x02}q\x00.", "old.pt", arch=MLP)


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_an_npy_header_declaring_more_than_its_member_is_refused(tmp_path):
    y = io.BytesIO()  # an .npy header declaring 10^10 int64 labels, followed by 40 of them
    np.lib.format.write_array_header_1_0(
        y, {"descr": "<i8", "fortran_order": False, "shape": (10**10,)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("X.npy", _npz_member(np.zeros((40, 2), np.float32)))
        archive.writestr("y.npy", y.getvalue() + bytes(8 * 40))
    crafted = buffer.getvalue()
    with pytest.raises(LandscapeError) as info:
        load_data(crafted, "d.npz")
    message = str(info.value)
    assert "'y' declares shape (10000000000,)" in message and "its member holds" in message
    assert "\n" not in message
    with pytest.raises(LandscapeError, match="declares shape"):
        UploadStore(tmp_path).put_data(crafted, "d.npz")
    assert _stored(tmp_path) == []


def _npz_member(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_an_npz_member_without_the_npy_suffix_cannot_bypass_the_bound():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("X", b"\0" * 10_000_000)
        archive.writestr("y.npy", b"")
    with pytest.raises(LandscapeError, match="'X' is not an .npy array"):
        load_data(buffer.getvalue(), "d.npz")


def test_safetensors_declaring_a_huge_shape_is_refused(tmp_path):
    header = json.dumps({"X": {"dtype": "F32", "shape": [10**10, 2],
                               "data_offsets": [0, 8 * 10**10]},
                         "y": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}}).encode()
    content = struct.pack("<Q", len(header)) + header + bytes(16)
    for load in (lambda: load_data(content, "d.safetensors"),
                 lambda: load_checkpoint(content, "w.safetensors", arch=MLP)):
        with pytest.raises(LandscapeError, match="invalid offset for tensor `X`") as info:
            load()
        assert "\n" not in str(info.value)
    huge_header = struct.pack("<Q", 2**62) + header
    with pytest.raises(LandscapeError, match="header declares"):
        load_data(huge_header, "d.safetensors")
    with pytest.raises(LandscapeError, match="invalid offset"):
        UploadStore(tmp_path).put_data(content, "d.safetensors")
    assert _stored(tmp_path) == []


def test_deep_architecture_metadata_is_refused_before_parsing():
    state = {k: v.contiguous() for k, v in build_network(MLP).state_dict().items()}
    deep = "[" * 100_000 + "]" * 100_000
    content = safetensors.torch.save(state, metadata={"architecture": deep})
    with pytest.raises(LandscapeError, match="over the limit of 65,536"):
        load_checkpoint(content, "deep.safetensors")
    nested = "[" * 1000 + "]" * 1000
    content = safetensors.torch.save(state, metadata={"architecture": nested})
    with pytest.raises(LandscapeError, match="nests deeper than 64 levels"):
        load_checkpoint(content, "deep.safetensors")


def test_json_is_strict_and_bounded_and_brackets_in_strings_do_not_nest():
    assert bounded.load_json('{"a": "[[[[\\"[[", "b": [[1]]}', "x", 100, 3) == {
        "a": '[[[[\"[[', "b": [[1]]}
    with pytest.raises(LandscapeError, match="^x nests deeper than 2 levels$"):
        bounded.load_json('{"b": [[1]]}', "x", 100, 2)
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(LandscapeError, match=f"^x is not strict JSON: {constant} is not a "):
            bounded.load_json(f'{{"lr": {constant}}}', "x")
    with pytest.raises(LandscapeError, match="^x is 101 characters, over the limit of 100$"):
        bounded.load_json(" " * 101, "x", 100)


def test_integer_weights_are_refused_with_the_tensor_and_dtype():
    state = {k: (v * 10).to(torch.int64).contiguous()
             for k, v in build_network(MLP).state_dict().items()}
    content = safetensors.torch.save(state)
    with pytest.raises(LandscapeError, match=r"tensor '\d\.(weight|bias)' has dtype torch\.int64; "
                                             "weights must be floating point"):
        load_checkpoint(content, "int.safetensors", arch=MLP)


@pytest.mark.parametrize("labels, shown", [
    (np.full(40, 2**63 + 1, np.uint64), "holds 9223372036854775809"),
    (np.full(40, 2**40, np.int64), "holds 1099511627776"),
    (np.full(40, -3, np.int8), "must be >= 0; y holds -3"),
])
def test_out_of_range_labels_say_what_to_change(labels, shown):
    x = np.zeros((40, 2), np.float32)
    with pytest.raises(LandscapeError, match="Renumber them") as info:
        load_data(_npz(X=x, y=labels), "d.npz")
    assert shown in str(info.value)


def test_huge_whole_float_labels_are_not_class_indices():
    x = np.zeros((40, 2), np.float32)
    data = load_data(_npz(X=x, y=np.full(40, 1e30, np.float32)), "d.npz")
    with pytest.raises(LandscapeError, match="cross_entropy needs class indices"):
        datasets.as_class_labels(data)


def test_an_onnx_input_of_an_unknown_element_type_is_one_line():
    """Found by the fuzz test: protobuf's enum lookup raised ValueError for an unknown type."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    graph.input[0].type.tensor_type.elem_type = 99
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    with pytest.raises(LandscapeError, match="'x' has element type 99; it must be float32"):
        load_checkpoint(model.SerializeToString(), "w.onnx")


def test_the_dashboard_upload_refuses_deep_architecture_text_in_one_line(tmp_path):
    import base64

    from app.callbacks.uploads import accept_upload

    state = {k: v.contiguous() for k, v in build_network(MLP).state_dict().items()}
    url = "data:application/octet-stream;base64," + base64.b64encode(
        safetensors.torch.save(state)).decode()
    store = UploadStore(tmp_path)
    with pytest.raises(LandscapeError, match="the architecture nests deeper than 64 levels"):
        accept_upload(store, "checkpoint", url, "w.safetensors", "[" * 1000 + "]" * 1000)
    with pytest.raises(LandscapeError, match="the architecture must be a JSON object"):
        accept_upload(store, "checkpoint", url, "w.safetensors", "[2, 8, 2]")
    assert _stored(tmp_path) == []
    assert len(accept_upload(store, "checkpoint", url, "w.safetensors", json.dumps(MLP))) == 64


def test_a_stride_zero_view_larger_than_its_storage_is_refused():
    """A (10^12,) view of one float costs nothing to load; checking it would allocate 4 TB."""
    view = torch.zeros(1).expand(10**12)
    with pytest.raises(LandscapeError, match=r"tensor 'w' of shape \(1000000000000,\) is a view "
                                             "larger than its storage"):
        load_checkpoint(_torch_bytes({"w": view}), "w.pt", arch=MLP)
    shared = torch.zeros(2**18)  # 1 MiB, saved once, viewed 40 times: 40 MiB to check
    with pytest.raises(LandscapeError, match="the tensors hold more than 8.5 MiB"):
        load_checkpoint(_torch_bytes({f"w{i}": shared for i in range(40)}), "w.pt", arch=MLP,
                        max_bytes=2**20 + 2**16)


def _torch_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_an_onnx_output_that_no_node_produces_is_one_line():
    """Found by the fuzz test: the output named '' hit an assert."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["h"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
        [helper.make_tensor_value_info("", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    with pytest.raises(LandscapeError) as info:
        load_checkpoint(model.SerializeToString(), "w.onnx")
    assert "\n" not in str(info.value)
    assert "the graph's output '' is produced by no node" in str(info.value)


def test_a_meta_tensor_without_values_is_refused():
    content = _torch_bytes({"w": torch.empty(10**12, device="meta")})
    with pytest.raises(LandscapeError, match="'w' is on the meta device and holds no values"):
        load_checkpoint(content, "w.pt", arch=MLP)


def test_architecture_values_of_the_wrong_type_are_one_line():
    """A .pt container's architecture dict may hold anything the safe unpickler builds: lists
    where names belong (once a TypeError), a tuple nested 100,000 deep (once a RecursionError)."""
    state = {k: v.contiguous() for k, v in build_network(MLP).state_dict().items()}
    content = safetensors.torch.save(state)
    deep: tuple = ()
    for _ in range(100_000):
        deep = (deep,)
    for arch, message in [({**MLP, "act": []}, "'act' must be one of relu, .*; got a list"),
                          ({"type": [[]]}, "'type' must be 'mlp' or 'cnn'; got a list"),
                          ({**MLP, deep: 1}, "unknown key\\(s\\) a tuple;")]:
        with pytest.raises(LandscapeError, match=message):
            load_checkpoint(content, "w.safetensors", arch=arch)
