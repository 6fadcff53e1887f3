"""Reading uploaded checkpoints and data files safely, and writing checkpoints others can upload.

What is accepted (docs/file-formats.md, "Uploads"):

* checkpoints: ``.safetensors`` (string metadata may carry ``architecture``, a JSON spec for
  :func:`landscapes.networks.architectures.normalize_arch`, and ``loss``), or ``.pt`` / ``.pth`` written
  by ``torch.save`` holding a state_dict, read with ``torch.load(..., weights_only=True)``;
* ONNX networks: ``.onnx`` files from ``torch.onnx.export(..., external_data=False)``, read
  and translated by :mod:`landscapes.networks.onnx` (the graph is the architecture, so no
  ``arch`` is needed; an ``arch`` given is ignored) and checked against onnxruntime;
* data: ``.npz`` (read with ``allow_pickle=False``) or ``.safetensors``, holding arrays ``X``
  and ``y`` (split 80/20, seeded by their content) or the user's own split ``X_train``,
  ``y_train``, ``X_test``, ``y_test``.

Refused before anything is parsed: ``torch.export`` ``.pt2`` archives and TorchScript files
(loading those can run code). Nothing here ever unpickles without ``weights_only=True``,
imports user code or executes anything: the server builds the network from its own zoo of
architectures and only takes the weights from the file. The ONNX reader (and the onnx package,
slow to load) is imported when an ``.onnx`` file is read.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import safetensors
import safetensors.numpy
import safetensors.torch
import torch

from landscapes.errors import LandscapeError
from landscapes.io import bounded
from landscapes.networks.architectures import (
    ONNX_EXPORT,
    build_network,
    normalize_arch,
    split_state,
    zoo_accepts,
)
from landscapes.networks.catalog import LOSSES, MAX_BYTES
from landscapes.networks.datasets import (
    MAX_SAMPLES,
    SPLIT_KEYS,
    Dataset,
    from_arrays,
    from_split,
)
from landscapes.networks.landscape import MAX_PARAMETERS

if TYPE_CHECKING:
    from landscapes.networks.onnx import OnnxNetwork

CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".onnx")
DATA_SUFFIXES = (".npz", ".safetensors")
#: the arrays read from an ``.npz`` and the members of a ``.pt`` zip may expand to at most this
#: many times the upload limit (declared sizes, checked before anything is decompressed)
EXPANSION = 8
NPZ_EXPANSION = EXPANSION
#: architecture JSON (safetensors metadata, a .pt's entry) is at most this many characters
MAX_ARCH_CHARS = 2**16

_FIX = ("save the weights only, with torch.save(model.state_dict(), 'model.pt') or "
        "safetensors.torch.save_file(model.state_dict(), 'model.safetensors')")
_ARCH_EXAMPLE = '{"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}'


@dataclass(frozen=True)
class Checkpoint:
    """Weights from an uploaded file, with the architecture and loss it names (if any).

    ``arch`` is the normalized architecture spec; ``state`` maps state_dict names to CPU tensors
    (parameters and buffers, checked against ``arch``); ``meta`` holds any other string metadata.

    For an ONNX file, ``arch`` is ``{"type": "onnx", "sha256": ..., "inputs": [None, ...]}`` (not
    a zoo spec), ``onnx`` the checked translation (its ``content`` the file to store) and
    ``module`` the translated :class:`torch.nn.Module` whose ``state_dict()`` is ``state``.
    """

    arch: dict | None
    state: dict[str, torch.Tensor]
    loss: str | None
    meta: dict = field(default_factory=dict)
    module: torch.nn.Module | None = None
    onnx: OnnxNetwork | None = None


def content_hash(content: bytes) -> str:
    """The sha256 hex digest of ``content``: the key an uploaded file is stored and cached under."""
    return hashlib.sha256(content).hexdigest()


def _suffix(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def _stem(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).stem or "upload"


def file_name(filename: str) -> str:
    """The last part of an uploaded file's name: what meta records, never a local path; bytes
    that are not UTF-8 (a file name from the command line) become U+FFFD."""
    name = PurePosixPath(filename.replace("\\", "/")).name or "upload"
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in name)


def _check_size(content: bytes, filename: str, max_bytes: int) -> None:
    if len(content) > max_bytes:
        raise LandscapeError(
            f"{filename}: the file is {bounded.size_text(len(content))}, over the upload limit of "
            f"{bounded.size_text(max_bytes)}; upload a smaller file, "
            "or raise the limit (FUNNELSCOPE_MAX_UPLOAD_MB in the dashboard, --max-file-mb in the "
            "command line, max_bytes in the library)"
        )


# --------------------------------------------------------------------------- checkpoints


def load_checkpoint(content: bytes, filename: str, arch: dict | None = None,
                    max_bytes: int = MAX_BYTES, max_parameters: int = MAX_PARAMETERS) -> Checkpoint:
    """Weights from an uploaded checkpoint, checked against their architecture.

    An ``.onnx`` file is its own architecture (see :func:`_read_onnx_checkpoint`); ``arch`` is
    ignored for it and ``max_parameters`` bounds its tensors.

    ``arch`` (if given) overrides an architecture named in the file. The state's keys and
    shapes must match the architecture exactly and every floating tensor must be finite;
    otherwise, and for any file that is too large, corrupt, of an unsupported kind or that
    could run code when loaded, a :class:`LandscapeError` says what is wrong and how to fix it.
    """
    _check_size(content, filename, max_bytes)
    suffix = _suffix(filename)
    if suffix == ".pt2":
        raise LandscapeError(_export_refusal(filename))
    if suffix == ".onnx":
        return _read_onnx_checkpoint(content, filename, max_bytes, max_parameters)
    if suffix == ".safetensors":
        state, file_arch, loss, meta = _read_safetensors_checkpoint(content, filename, arch is None)
    elif suffix in (".pt", ".pth"):
        state, file_arch, loss, meta = _read_torch_checkpoint(
            content, filename, max_bytes * EXPANSION)
    else:
        raise LandscapeError(
            f"{filename}: unsupported checkpoint type {suffix or '(no extension)'!r}; "
            f"upload one of {', '.join(CHECKPOINT_SUFFIXES)} (a state_dict saved with "
            "torch.save, a safetensors file, or an ONNX export)"
        )
    chosen = arch if arch is not None else file_arch
    if chosen is None:
        raise LandscapeError(
            f"{filename}: the file does not say which architecture its weights belong to; choose "
            "an architecture in the dashboard's Architecture field (or pass --arch on the command "
            "line), e.g. "
            f"{_ARCH_EXAMPLE}"
        )
    normalized = normalize_arch(chosen)
    if loss is not None and loss not in LOSSES:
        raise LandscapeError(
            f"{filename}: the checkpoint names loss {loss!r}; it must be one of {', '.join(LOSSES)}"
        )
    _check_state(state, normalized, filename)
    return Checkpoint(normalized, state, loss, meta)


def _read_onnx_checkpoint(content: bytes, filename: str, max_bytes: int,
                          max_parameters: int) -> Checkpoint:
    """An ONNX upload: checked and translated, then compared with onnxruntime on standard normal
    inputs of its declared shape (the comparison on the uploaded data is
    :func:`landscapes.networks.onnx.verify`, once the data is known)."""
    from landscapes.networks.onnx import read_onnx, sample_input, verify

    net = read_onnx(content, filename, max_bytes, max_parameters)
    verify(net, sample_input(net))
    state = {name: tensor.detach().clone() for name, tensor in net.module.state_dict().items()}
    meta = {"filename": file_name(net.filename), "sha256": net.sha256, "format": "onnx"}
    return Checkpoint(net.arch, state, None, meta, module=net.module, onnx=net)


def _export_refusal(filename: str) -> str:
    return (
        f"{filename}: torch.export (.pt2) archives are refused and were not loaded: loading one "
        "can execute code (pickle fallbacks, sympify of shape expressions, exec of guard code). "
        f"Instead, {_FIX}"
    )


def _torchscript_refusal(filename: str) -> str:
    return (
        f"{filename}: this is a TorchScript file (torch.jit.save); it is refused and was not "
        "loaded: TorchScript archives carry code and TorchScript is deprecated. "
        f"Instead, {_FIX}"
    )


def _read_safetensors_checkpoint(content: bytes, filename: str, want_arch: bool
                                 ) -> tuple[dict, dict | None, str | None, dict]:
    """(state, architecture or None, loss or None, other metadata) of a safetensors file."""
    _check_safetensors_header(content, filename, "not a valid safetensors file")
    try:
        state = safetensors.torch.load(content)
    except (safetensors.SafetensorError, ValueError, OverflowError) as exc:
        raise LandscapeError(
            f"{filename}: not a valid safetensors file (corrupt or truncated: {exc}); "
            "re-export it with safetensors.torch.save_file"
        ) from None
    meta = dict(_safetensors_metadata(content, filename))
    raw_arch, loss = meta.pop("architecture", None), meta.pop("loss", None)
    arch = None
    if raw_arch is not None and want_arch:
        arch = _parse_arch_json(raw_arch, filename)
    return state, arch, loss, meta


def _check_safetensors_header(content: bytes, filename: str, refusal: str) -> None:
    """The header's declared length fits in the file (safetensors then checks every tensor's
    declared shape and offsets against the file's length before reading any)."""
    declared = struct.unpack("<Q", content[:8])[0] if len(content) >= 8 else None
    if declared is None or declared > len(content) - 8:
        what = ("the file is shorter than a header" if declared is None else
                f"the header declares {declared:,} bytes but the file has {len(content):,}")
        raise LandscapeError(
            f"{filename}: {refusal} ({what}); re-export it with "
            "safetensors.torch.save_file"
        )


def _safetensors_metadata(content: bytes, filename: str) -> dict[str, str]:
    """The ``__metadata__`` dict of a safetensors header (already validated by safetensors)."""
    try:
        (length,) = struct.unpack("<Q", content[:8])
        header = json.loads(content[8:8 + length])
    except (struct.error, ValueError) as exc:
        raise LandscapeError(f"{filename}: unreadable safetensors header ({exc})") from None
    meta = (header.get("__metadata__") or {}) if isinstance(header, dict) else {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise LandscapeError(f"{filename}: safetensors metadata must map strings to strings")
    return meta


def _parse_arch_json(raw: str, filename: str) -> dict:
    """The architecture JSON of a checkpoint, bounded in length and nesting before parsing."""
    try:
        arch = bounded.load_json(raw, f"{filename}: the 'architecture' metadata", MAX_ARCH_CHARS)
    except LandscapeError as exc:
        raise LandscapeError(
            f"{exc}; it must be a JSON object such as {_ARCH_EXAMPLE}, or choose the "
            "architecture explicitly"
        ) from None
    if not isinstance(arch, dict):
        raise LandscapeError(
            f"{filename}: the 'architecture' metadata must be a JSON object such as "
            f"{_ARCH_EXAMPLE}; got {type(arch).__name__}"
        )
    return arch


def _zip_kind(names: list[str]) -> str | None:
    """'torchscript', 'pt2' or None for a zip archive, judged from member names only."""
    inner = [n.split("/", 1)[1] if "/" in n else n for n in names]
    if any(n == "constants.pkl" or n.startswith("code/") for n in inner):
        return "torchscript"
    if any(n == "archive_format" or n.startswith("models/") for n in inner):
        return "pt2"
    return None


def _not_torch_zip(filename: str, why: str) -> LandscapeError:
    return LandscapeError(
        f"{filename}: not a readable torch checkpoint ({why}); it was not loaded. To fix it, {_FIX}"
    )


def _check_torch_zip(content: bytes, filename: str, max_expanded: int) -> None:
    """Bound a ``torch.save`` zip archive before ``torch.load`` reads any of it.

    From the central directory: at most ``MAX_ZIP_MEMBERS`` members, declared sizes together
    at most ``max_expanded``, every member stored uncompressed as torch.save writes it (so a
    member cannot expand beyond the file: a deflated member is a zip bomb's tool) with equal
    declared and stored sizes. Then ``data.pkl`` is unpickled by torch's weights-only unpickler
    onto ``meta`` storages (nothing is allocated), and every storage it declares must fit in
    its record: torch would otherwise trust the declared size.
    """
    if content[:4] != b"PK\x03\x04":
        raise _not_torch_zip(filename, "not a zip archive: torch.save has written zip "
                             "archives since torch 1.6, older pickle files are refused")
    members = bounded.zip_members(
        content, filename, "not a readable torch checkpoint (corrupt or truncated zip archive); "
        f"it was not loaded. To fix it, {_FIX}")
    kind = _zip_kind(list(members))
    if kind == "torchscript":
        raise LandscapeError(_torchscript_refusal(filename))
    if kind == "pt2":
        raise LandscapeError(_export_refusal(filename))
    bounded.check_expansion(list(members.values()), filename, max_expanded)
    for info in members.values():
        if info.compress_type != zipfile.ZIP_STORED:
            raise _not_torch_zip(filename, f"member {bounded.one_line(info.filename, 80)!r} is "
                                 "compressed; torch.save stores its members uncompressed")
        if info.compress_size != info.file_size:
            raise _not_torch_zip(filename, f"member {bounded.one_line(info.filename, 80)!r} "
                                 "declares another size than it stores")
    pickles = [n for n in members if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise _not_torch_zip(filename, "no data.pkl in the archive")
    prefix = pickles[0].removesuffix("data.pkl")
    declared = _declared_storages(content, pickles[0], filename)
    for key, nbytes in declared.items():
        record = members.get(f"{prefix}data/{key}")
        if record is None or nbytes > record.file_size:
            have = "missing" if record is None else f"{record.file_size:,} bytes"
            raise _not_torch_zip(filename, f"storage {bounded.one_line(str(key), 40)!r} declares "
                                 f"{nbytes:,} bytes but its record is {have}")


def _declared_storages(content: bytes, pickle_name: str, filename: str) -> dict[str, int]:
    """{storage key: declared bytes} of a torch zip's ``data.pkl``, unpickled by torch's
    weights-only unpickler with every storage on the ``meta`` device (nothing allocated; the
    tensors' views are checked against their storages' sizes by torch itself)."""
    from torch import _weights_only_unpickler  # torch's own safe unpickler

    declared: dict[str, int] = {}

    def persistent_load(saved_id: object) -> object:
        if not isinstance(saved_id, tuple) or len(saved_id) != 5 or saved_id[0] not in (
                "storage", b"storage"):
            raise pickle.UnpicklingError("unexpected persistent id")
        _, storage_type, key, _, numel = saved_id
        dtype = torch.uint8 if storage_type is torch.UntypedStorage else storage_type.dtype
        if not isinstance(numel, int) or numel < 0 or not isinstance(dtype, torch.dtype):
            raise pickle.UnpicklingError("unexpected storage")
        nbytes = numel * torch._utils._element_size(dtype)
        key = key.decode("ascii") if isinstance(key, bytes) else str(key)
        declared[key] = max(declared.get(key, 0), nbytes)
        return torch.storage.TypedStorage(wrap_storage=torch.UntypedStorage(nbytes, device="meta"),
                                          dtype=dtype, _internal=True)

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            data = archive.read(pickle_name)
        unpickler = _weights_only_unpickler.Unpickler(io.BytesIO(data), encoding="utf-8")
        unpickler.persistent_load = persistent_load  # type: ignore[method-assign]
        unpickler.load()
    except pickle.UnpicklingError as exc:
        raise LandscapeError(_unpickling_message(str(exc), filename)) from None
    except RecursionError:
        raise _not_torch_zip(filename, "data.pkl nests too deeply") from None
    except Exception as exc:  # noqa: BLE001 -- any failure to parse the pickle is a refusal
        raise _not_torch_zip(filename, bounded.one_line(f"{type(exc).__name__}: {exc}", 160)
                             ) from None
    return declared


def _read_torch_checkpoint(content: bytes, filename: str, max_expanded: int
                           ) -> tuple[dict, dict | None, str | None, dict]:
    """(state, architecture or None, loss or None, other metadata) of a torch.save file,
    bounded (:func:`_check_torch_zip`) before torch reads it."""
    _check_torch_zip(content, filename, max_expanded)
    try:
        # weights_only=True, always explicit: an environment variable can flip the default.
        obj = torch.load(io.BytesIO(content), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise LandscapeError(_unpickling_message(str(exc), filename)) from None
    except (RuntimeError, EOFError, ValueError, OSError, zipfile.BadZipFile) as exc:
        text = str(exc)
        if "weights_only" in text or "global" in text.lower():
            raise LandscapeError(_unpickling_message(text, filename)) from None
        raise LandscapeError(
            f"{filename}: not a readable torch checkpoint (corrupt or truncated: "
            f"{text.split('. ')[0].splitlines()[0][:160] if text else type(exc).__name__}); it was "
            f"not loaded. To fix it, {_FIX}"
        ) from None
    return _unpack_torch_object(obj, filename, max_expanded)


def _unpickling_message(text: str, filename: str) -> str:
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found or "global" in text.lower():
        what = f" (it refers to {found.group(1)[:80]})" if found else ""
        return (
            f"{filename}: the file contains pickled code or objects other than tensors{what}; "
            "for safety it was not loaded and nothing in it was executed. "
            f"To upload it, {_FIX}"
        )
    return (
        f"{filename}: the file is not a plain torch checkpoint of tensors (corrupt, or pickled "
        "with objects the safe loader does not accept); it was not loaded and nothing in it "
        f"was executed. To upload it, {_FIX}"
    )


def _unpack_torch_object(obj: object, filename: str, max_expanded: int
                         ) -> tuple[dict, dict | None, str | None, dict]:
    if not isinstance(obj, Mapping):
        raise LandscapeError(
            f"{filename}: the file holds a {type(obj).__name__}, not a state_dict; {_FIX}"
        )
    container = next((k for k in ("state_dict", "model_state_dict") if k in obj), None)
    if container is None:
        return _as_state(obj, filename, max_expanded), None, None, {}
    state = obj[container]
    if not isinstance(state, Mapping):
        raise LandscapeError(
            f"{filename}: {container!r} must be a dict of tensors; got {type(state).__name__}"
        )
    raw_arch = obj.get("architecture", obj.get("arch"))
    if isinstance(raw_arch, str):
        raw_arch = _parse_arch_json(raw_arch, filename)
    if raw_arch is not None and not isinstance(raw_arch, dict):
        raise LandscapeError(
            f"{filename}: the 'architecture' entry must be a dict such as {_ARCH_EXAMPLE}; "
            f"got {type(raw_arch).__name__}"
        )
    loss = obj.get("loss")
    if loss is not None and not isinstance(loss, str):
        raise LandscapeError(f"{filename}: the 'loss' entry must be one of {', '.join(LOSSES)}")
    meta = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, str)
            and k not in ("architecture", "arch", "loss")}
    return _as_state(state, filename, max_expanded), raw_arch, loss, meta


def _as_state(obj: Mapping, filename: str, max_expanded: int) -> dict[str, torch.Tensor]:
    """A plain ``{name: tensor}`` dict, or a LandscapeError naming the first bad entry.

    A tensor may not hold more values than its storage (a stride-0 view of ``(10**12,)`` costs
    nothing to load but everything to check), and the tensors together at most
    ``max_expanded`` bytes."""
    state = {}
    total = 0
    for name, value in obj.items():
        if not isinstance(name, str):
            raise LandscapeError(f"{filename}: state_dict keys must be strings; got {name!r}")
        if not isinstance(value, torch.Tensor):
            raise LandscapeError(
                f"{filename}: state_dict entry {name!r} is a {type(value).__name__}, not a tensor; "
                f"{_FIX}"
            )
        if value.layout != torch.strided:
            raise LandscapeError(f"{filename}: tensor {name!r} is not dense; save dense tensors")
        if value.device.type != "cpu":  # a meta tensor has a shape but no values
            raise LandscapeError(f"{filename}: tensor {name!r} is on the {value.device.type} "
                                 "device and holds no values; save tensors with their values")
        nbytes = value.numel() * value.element_size()
        if nbytes > value.untyped_storage().nbytes():
            raise LandscapeError(
                f"{filename}: tensor {name!r} of shape {tuple(value.shape)} is a view larger "
                "than its storage (a stride-0 expansion); save contiguous tensors"
            )
        total += nbytes
        if total > max_expanded:
            raise LandscapeError(
                f"{filename}: the tensors hold more than {bounded.size_text(max_expanded)} in "
                "all (views sharing storage count each time); save each tensor once"
            )
        state[name] = value.detach()
    return state


def _check_state(state: Mapping[str, torch.Tensor], arch: dict, filename: str) -> None:
    """Keys and shapes match ``arch`` and every floating tensor is finite (errors name it)."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor.to(torch.float32)).all():
            raise LandscapeError(
                f"{filename}: checkpoint tensor {name!r} contains NaN or infinite values"
            )
    with torch.device("meta"):  # shapes only: nothing is allocated however large arch is
        module = build_network(arch)
    zoo = module.state_dict()
    for name, tensor in state.items():
        want = zoo.get(name)  # a name the zoo lacks: split_state names it below
        floating = want is None or want.is_floating_point()
        if want is None and tensor.dtype in (torch.int64, torch.int32):
            continue
        if floating and not tensor.is_floating_point():
            raise LandscapeError(
                f"{filename}: checkpoint tensor {name!r} has dtype {tensor.dtype}; weights must "
                "be floating point (save model.float().state_dict())"
            )
        if not floating and tensor.dtype not in (torch.int64, torch.int32):
            raise LandscapeError(
                f"{filename}: checkpoint tensor {name!r} has dtype {tensor.dtype}; it counts "
                "batches and must be an integer"
            )
    try:
        split_state(module, state)
    except LandscapeError as exc:
        hint = _rename_hint(state, module) if "keys do not match" in str(exc) else ""
        accepted = zoo_accepts(arch["type"])
        raise LandscapeError(f"{filename}: {exc}.{hint} Accepted: {accepted}") from None
    _check_batchnorm_order(state, arch, filename)


def _natural(name: str) -> list:
    """A sort key that orders ``fc2`` before ``fc10`` and ``layers.2`` before ``layers.10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _by_module(names: list[str]) -> dict[str, dict[str, str]]:
    """State keys grouped by module prefix, in natural order: ``{prefix: {suffix: key}}``."""
    groups: dict[str, dict[str, str]] = {}
    for key in sorted(names, key=_natural):
        prefix, _, suffix = key.rpartition(".")
        groups.setdefault(prefix, {})[suffix] = key
    return groups


def _rename_hint(state: Mapping[str, torch.Tensor], module: torch.nn.Module) -> str:
    """How the file's keys map to the zoo's, when its modules pair up in order with the same
    tensors and shapes (e.g. ``fc1, fc2, fc3``, or a Sequential with Dropout layers); else ''."""
    zoo = module.state_dict()
    theirs, ours = _by_module(list(state)), _by_module(list(zoo))
    if len(theirs) != len(ours):
        return ""
    pairs = list(zip(theirs.items(), ours.items(), strict=True))
    for (_, tkeys), (_, okeys) in pairs:
        if set(tkeys) != set(okeys) or any(
            tuple(state[tkeys[s]].shape) != tuple(zoo[okeys[s]].shape) for s in okeys
        ):
            return ""
    rename = {t: o for (t, _), (o, _) in pairs}
    between = _apart(rename)
    if between:
        return (
            f" Your module {between[1]!r} comes after {between[0]!r} with another layer between "
            "them, but in the zoo nothing sits between a Conv2d and its BatchNorm2d (the zoo "
            "applies Conv -> BatchNorm -> act); renaming the keys would compute another network."
        )
    return (
        f" Your modules pair up in order with the zoo's: rename them with rename = {rename}; "
        "state = {rename[k.rpartition('.')[0]] + '.' + k.rpartition('.')[2]: v for k, v in "
        "model.state_dict().items()}. This is right only if your network applies its layers in "
        "the zoo's order (a Dropout layer does nothing in evaluation and can be left out; an "
        "activation before BatchNorm cannot)."
    )


def _apart(rename: dict[str, str]) -> tuple[str, str] | None:
    """For Sequential (integer) module names: the first two of the file's modules that have a
    layer between them where the zoo's paired modules are adjacent (e.g. Conv, ReLU, BatchNorm
    against the zoo's Conv, BatchNorm), or None."""
    if not all(k.isdigit() and v.isdigit() for k, v in rename.items()):
        return None
    items = sorted(rename.items(), key=lambda kv: int(kv[0]))
    for (t0, o0), (t1, o1) in zip(items, items[1:], strict=False):
        if int(o1) - int(o0) == 1 and int(t1) - int(t0) > 1:
            return t0, t1
    return None


#: activations whose outputs are never negative: a BatchNorm after one sees inputs >= 0
_NONNEGATIVE = ("relu", "sigmoid", "softplus")


def _check_batchnorm_order(state: Mapping[str, torch.Tensor], arch: dict, filename: str) -> None:
    """Refuse a cnn whose BatchNorm statistics say it ran after the activation.

    The zoo applies Conv -> BatchNorm -> act. If a network ran Conv -> act -> BatchNorm with a
    ReLU, sigmoid or softplus, every running mean is >= 0 (its inputs are); a BatchNorm fed by
    a convolution almost always has some channel of negative mean. All means >= 0 (and not the
    untrained zeros) in every BatchNorm layer is refused, with the ONNX way out.
    """
    if arch["type"] != "cnn" or not arch["batchnorm"] or arch["act"] not in _NONNEGATIVE:
        return
    means = [t for name, t in state.items() if name.endswith("running_mean")]
    values = torch.cat([m.reshape(-1).to(torch.float64) for m in means])
    if len(values) < 4 or bool((values < 0).any()) or not bool((values > 0).any()):
        return
    raise LandscapeError(
        f"{filename}: every BatchNorm running mean is >= 0, as it is when BatchNorm follows "
        f"the activation ({arch['act']}); the zoo's cnn applies Conv -> BatchNorm -> "
        f"{arch['act']} -> pool, so these weights would be computed as another network. If "
        f"your network is Conv -> {arch['act']} -> BatchNorm, {ONNX_EXPORT}"
    )


def save_checkpoint(path: str | Path, arch: dict, state: Mapping[str, torch.Tensor],
                    loss: str | None = None, extra: dict[str, str] | None = None) -> Path:
    """Write ``state`` as a safetensors file that names its architecture (and loss).

    The metadata holds ``architecture`` (the normalized spec as JSON), ``loss`` when given, and
    the strings in ``extra``. :func:`load_checkpoint` reads it back unchanged.
    """
    metadata = {"architecture": json.dumps(normalize_arch(arch))}
    if loss is not None:
        if loss not in LOSSES:
            raise LandscapeError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
        metadata["loss"] = loss
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise LandscapeError(f"checkpoint metadata must be strings; got {key!r}: {value!r}")
        if key in metadata:
            raise LandscapeError(f"checkpoint metadata {key!r} is set from the arguments")
        metadata[key] = value
    tensors = {name: t.detach().to("cpu").clone(memory_format=torch.contiguous_format)
               for name, t in state.items()}
    path = Path(path)
    path.write_bytes(safetensors.torch.save(tensors, metadata=metadata))
    return path


# --------------------------------------------------------------------------- data


def load_data(content: bytes, filename: str, max_bytes: int = MAX_BYTES,
              max_samples: int = MAX_SAMPLES) -> Dataset:
    """A dataset from an uploaded ``.npz`` or ``.safetensors`` file.

    A file holding ``X_train, y_train, X_test, y_test`` is the user's own split
    (:func:`landscapes.networks.datasets.from_split`); one holding ``X, y`` is split 80/20 by a
    permutation seeded from the arrays' content
    (:func:`landscapes.networks.datasets.from_arrays`), so a renamed file gives the same
    numbers. The dataset is named after the file's stem and records the file's name and
    sha256 (``Dataset.upload``); the file is bounded in size (``max_bytes``, and an ``.npz`` in
    what it expands to) before any array is read.
    """
    _check_size(content, filename, max_bytes)
    suffix = _suffix(filename)
    if suffix == ".npz":
        arrays = _read_npz(content, filename, max_bytes * EXPANSION)
    elif suffix == ".safetensors":
        arrays = _read_safetensors_arrays(content, filename)
    else:
        raise LandscapeError(
            f"{filename}: unsupported data file type {suffix or '(no extension)'!r}; upload one "
            f"of {', '.join(DATA_SUFFIXES)} holding arrays X (samples, ...) and y (samples,), "
            "or your own split X_train, y_train, X_test, y_test"
        )
    upload = {"name": file_name(filename), "sha256": content_hash(content)}
    try:
        if "X_train" in arrays:
            return from_split(_stem(filename), arrays, max_samples, upload)
        return from_arrays(_stem(filename), arrays["X"], arrays["y"], max_samples, upload=upload)
    except LandscapeError as exc:
        raise LandscapeError(f"{filename}: {exc}") from None


def _data_keys(found: list[str], filename: str) -> tuple[str, ...]:
    """The arrays to read: the split's four when any is present, else ``X`` and ``y``; a
    LandscapeError names what is missing and how to save the file."""
    split = [k for k in SPLIT_KEYS if k in found]
    wanted = SPLIT_KEYS if split else ("X", "y")
    missing = [k for k in wanted if k not in found]
    if missing:
        raise LandscapeError(
            f"{filename}: the file must hold arrays 'X' and 'y' (split 80/20 here) or your own "
            f"split 'X_train', 'y_train', 'X_test', 'y_test'; missing "
            f"{', '.join(repr(k) for k in missing)}, found "
            f"{', '.join(repr(k) for k in found) or 'no arrays'}. Save it with "
            "numpy.savez('data.npz', X=X, y=y) or numpy.savez('data.npz', X_train=X_train, "
            "y_train=y_train, X_test=X_test, y_test=y_test)"
        )
    return wanted


def _read_npz(content: bytes, filename: str, max_expanded: int) -> dict[str, np.ndarray]:
    """The data arrays of an ``.npz``, bounded before reading (:func:`bounded.read_npz`)."""
    members = bounded.zip_members(content, filename, "not a valid .npz file (corrupt or "
                                  "truncated); save it with numpy.savez('data.npz', X=X, y=y)")
    found = [n.removesuffix(".npy") for n in members]
    wanted = _data_keys(found, filename)
    try:
        return bounded.read_npz(content, filename, wanted, members, max_expanded)
    except LandscapeError as exc:
        if "object array" not in str(exc):
            raise
        raise LandscapeError(
            f"{filename}: {' or '.join(wanted)} is an object array (pickled Python "
            "objects); it was not loaded. Save plain numeric arrays, e.g. "
            "numpy.savez('data.npz', X=X.astype('float32'), y=y.astype('int64'))"
        ) from None


def _read_safetensors_arrays(content: bytes, filename: str) -> dict[str, np.ndarray]:
    _check_safetensors_header(content, filename, "not a readable safetensors data file")
    try:
        arrays = safetensors.numpy.load(content)
    except (safetensors.SafetensorError, ValueError, TypeError, OverflowError) as exc:
        raise LandscapeError(
            f"{filename}: not a readable safetensors data file ({exc}); save it with "
            "safetensors.numpy.save_file({'X': X, 'y': y}, 'data.safetensors')"
        ) from None
    return {k: arrays[k] for k in _data_keys(sorted(arrays), filename)}
