"""docs/file-formats.md cannot go stale: its snippets run and its tables are checked against the code.

Markers: an HTML comment ``<!-- test: NAME -->`` on the line before a fenced block or a table
(blank lines may sit between). Blocks without a marker are not run.

Fenced blocks (run in document order, in one shared namespace -- like a notebook -- and one
temporary working directory; "written" files are those a block created or changed):

* ``run`` -- ```python is executed; ```sh may hold only ``landscapes ...`` command lines, each
  run through :func:`landscapes.cli.main`, which must return 0.
* ``checkpoint`` -- run; then every file it wrote must be accepted by
  :func:`landscapes.networks.uploads.load_checkpoint` without an explicit architecture, naming the
  block's ``arch`` (normalized), the loss the block names, and holding exactly the weights of
  the block's ``model``.
* ``data`` -- run; every file it wrote must be accepted by :func:`landscapes.networks.uploads.load_data`,
  hold the block's ``X`` and ``y``, and fit the checkpoint snippets' network.
* ``recompute`` -- run; the block's ``energy`` must equal ``data["values"][i, j]`` (an
  off-diagonal, asymmetric entry, so a transposed convention fails), and equal the library's
  own energy at that point.
* ``arch`` (```json) -- an architecture spec: ``normalize_arch`` must accept it and return it
  unchanged (every field shown); one per architecture type.

Tables: ``refusals`` (each quoted excerpt is in a real refusal message, and each refusal is
documented; ``onnx-refusals`` likewise, checked in tests/unit/test_onnx.py), ``limits``
(defaults and settings against app/config.py and the library),
``formats`` (equals :data:`landscapes.io.formats.FORMATS`), ``format-matrix`` (each cell against
:func:`landscapes.io.formats.check_format`).
"""

import contextlib
import hashlib
import importlib
import io
import json
import os
import re
import shlex
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import nn

from app.config import Config
from landscapes import cli, registry, views
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.io.npz import read_npz
from landscapes.networks import uploads
from landscapes.networks import views as network_views
from landscapes.networks.architectures import ACTIVATIONS, POOLS, build_network, normalize_arch
from landscapes.networks.landscape import NetworkLandscape
from landscapes.networks.store import UploadStore
from landscapes.results import ViewResult
from landscapes.spin.models import build_model

DOC = Path(__file__).resolve().parents[2] / "docs" / "file-formats.md"
MARKER = re.compile(r"^<!--\s*test:\s*([\w-]+)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")
BLOCK_MARKERS = {"run", "checkpoint", "data", "recompute", "arch"}
TABLE_MARKERS = {"refusals", "onnx-refusals", "limits", "formats", "format-matrix"}

pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.save` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning"),
]


# --------------------------------------------------------------------------- parsing the doc


@dataclass
class Block:
    marker: str | None
    lang: str
    source: str
    line: int  # 1-based line of the opening fence


@dataclass
class Table:
    marker: str
    rows: list[list[str]]  # header first; the |---| line dropped
    line: int


def _previous_marker(lines: list[str], index: int) -> str | None:
    k = index - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    found = MARKER.match(lines[k].strip()) if k >= 0 else None
    return found.group(1) if found else None


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse_doc(text: str) -> tuple[list[Block], list[Table]]:
    lines = text.splitlines()
    blocks, tables, k = [], [], 0
    while k < len(lines):
        fence = FENCE.match(lines[k])
        if fence:
            end = k + 1
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            assert end < len(lines), f"unclosed code fence at line {k + 1}"
            blocks.append(Block(_previous_marker(lines, k), fence.group(1),
                                "\n".join(lines[k + 1:end]) + "\n", k + 1))
            k = end + 1
            continue
        marker = MARKER.match(lines[k].strip())
        if marker and marker.group(1) in TABLE_MARKERS:
            start = k + 1
            while start < len(lines) and not lines[start].strip():
                start += 1
            end = start
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            assert end - start >= 3, f"marker {marker.group(1)!r} (line {k + 1}) has no table"
            rows = [_cells(row) for row in lines[start:end]]
            tables.append(Table(marker.group(1), [rows[0], *rows[2:]], start + 1))
        k += 1
    return blocks, tables


TEXT = DOC.read_text(encoding="utf-8")
BLOCKS, TABLES = parse_doc(TEXT)


def blocks(marker: str) -> list[Block]:
    return [b for b in BLOCKS if b.marker == marker]


def table(marker: str) -> Table:
    found = [t for t in TABLES if t.marker == marker]
    assert len(found) == 1, f"expected one '{marker}' table in {DOC.name}; found {len(found)}"
    return found[0]


def ticked(cell: str) -> list[str]:
    """The `code` spans of a table cell or paragraph."""
    return re.findall(r"`([^`]+)`", cell)


# --------------------------------------------------------------------------- running the snippets


@dataclass
class Ran:
    block: Block
    written: dict[str, bytes]
    namespace: dict


@dataclass
class Session:
    root: Path
    runs: list[Ran] = field(default_factory=list)

    def of(self, marker: str) -> list[Ran]:
        return [r for r in self.runs if r.block.marker == marker]


def _snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in root.rglob("*") if p.is_file()}


def _commands(source: str) -> list[list[str]]:
    """The command lines of a shell block (continuations joined, comments dropped)."""
    joined = source.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines()
            if shlex.split(line, comments=True)]


def _run_block(block: Block, namespace: dict) -> None:
    where = f"{DOC.name}:{block.line}"
    if block.lang == "python":
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(block.source, where, "exec"), namespace)
    elif block.lang == "sh":
        for argv in _commands(block.source):
            assert argv[0] == "landscapes", f"{where}: only landscapes commands can run: {argv}"
            with contextlib.redirect_stdout(io.StringIO()):
                assert cli.main(argv[1:]) == 0, f"{where}: {shlex.join(argv)} failed"
    else:
        raise AssertionError(f"{where}: a '{block.marker}' block must be python or sh")


@pytest.fixture(scope="module")
def session(tmp_path_factory, one_torch_thread) -> Session:
    root = tmp_path_factory.mktemp("doc-snippets")
    out = Session(root)
    namespace: dict = {"__name__": "__doc_snippets__"}
    before_cwd = os.getcwd()
    os.chdir(root)
    try:
        for block in BLOCKS:
            if block.marker not in BLOCK_MARKERS - {"arch"}:
                continue
            before = _snapshot(root)
            try:
                _run_block(block, namespace)
            except Exception as exc:
                raise AssertionError(f"the snippet at {DOC.name}:{block.line} failed: "
                                     f"{type(exc).__name__}: {exc}") from exc
            after = _snapshot(root)
            written = {name: (root / name).read_bytes() for name, stamp in after.items()
                       if before.get(name) != stamp}
            out.runs.append(Ran(block, written, dict(namespace)))
    finally:
        os.chdir(before_cwd)
    return out


def test_markers_are_known_and_placed():
    text_markers = [m.group(1) for line in TEXT.splitlines() if (m := MARKER.match(line.strip()))]
    unknown = set(text_markers) - BLOCK_MARKERS - TABLE_MARKERS
    assert not unknown, f"unknown test markers in {DOC.name}: {unknown}"
    placed = [b.marker for b in BLOCKS if b.marker] + [t.marker for t in TABLES]
    assert sorted(placed) == sorted(text_markers), "a marker is not directly before a block/table"
    for marker in BLOCK_MARKERS:
        assert blocks(marker), f"no '{marker}' block in {DOC.name}"
    assert len(blocks("checkpoint")) >= 2  # landscapes' save_checkpoint and plain safetensors/torch
    untested = [b.line for b in BLOCKS if b.lang in ("python", "json") and b.marker is None]
    assert not untested, f"python/json blocks without a test marker at lines {untested}"


def test_snippets_run(session):
    ran = [r.block.line for r in session.runs]
    assert ran == [b.line for b in BLOCKS if b.marker in BLOCK_MARKERS - {"arch"}]


# --------------------------------------------------------------------------- uploads


def _named_loss(source: str) -> str:
    found = set(re.findall(r"""loss["']?\s*[:=]\s*["'](\w+)["']""", source))
    assert len(found) == 1, f"a checkpoint snippet should name one loss; found {found}"
    return found.pop()


def test_checkpoint_snippets_write_accepted_checkpoints(session):
    runs = session.of("checkpoint")
    suffixes = set()
    for run in runs:
        assert run.written, f"the checkpoint snippet at line {run.block.line} wrote no file"
        model, arch = run.namespace["model"], run.namespace["arch"]
        assert isinstance(model, nn.Module)
        expected = model.state_dict()
        loss = _named_loss(run.block.source)
        for name, content in run.written.items():
            suffixes.add(Path(name).suffix)
            ckpt = uploads.load_checkpoint(content, name)  # no arch given: the file must name it
            assert ckpt.arch == normalize_arch(arch), name
            assert ckpt.loss == loss, name
            assert sorted(ckpt.state) == sorted(expected), name
            for key, tensor in expected.items():
                assert ckpt.state[key].dtype == tensor.dtype, (name, key)
                assert torch.equal(ckpt.state[key], tensor), (name, key)
    assert {".safetensors", ".pt"} <= suffixes


def test_checkpoint_check_is_real(session):
    """The weights are compared for real: another model's state would not pass."""
    run = session.of("checkpoint")[0]
    name, content = next(iter(run.written.items()))
    ckpt = uploads.load_checkpoint(content, name)
    other = build_network(run.namespace["arch"]).state_dict()
    assert not all(torch.equal(ckpt.state[k], other[k]) for k in other)


def test_data_snippet_writes_accepted_data(session):
    checkpoint = session.of("checkpoint")[0].namespace
    for run in session.of("data"):
        x, y = np.asarray(run.namespace["X"]), np.asarray(run.namespace["y"])
        assert {Path(n).suffix for n in run.written} >= {".npz"}
        for name, content in run.written.items():
            data = uploads.load_data(content, name)
            got_x = np.concatenate([data.x_train, data.x_test])
            got_y = np.concatenate([data.y_train, data.y_test])
            assert len(got_x) == len(x)
            order, want = np.lexsort(got_x.T), np.lexsort(x.T)
            np.testing.assert_array_equal(got_x[order], x[want].astype(np.float32))
            np.testing.assert_array_equal(got_y[order], y[want])
            land = NetworkLandscape.create(checkpoint["arch"], checkpoint["model"].state_dict(),
                                           data, _named_loss(session.of("checkpoint")[0].block.source))
            assert np.isfinite(land.evaluate(land.center[None])["loss"]).all()


# --------------------------------------------------------------------------- the architecture JSON


def _supported_types() -> set[str]:
    with pytest.raises(LandscapeError) as info:
        normalize_arch({"type": "no-such-type"})
    message = str(info.value).split("must be", 1)[1].split(";")[0]
    return set(re.findall(r"'(\w+)'", message))


def test_architecture_examples_are_canonical_and_cover_every_type():
    examples = [json.loads(b.source) for b in blocks("arch")]
    assert all(b.lang == "json" for b in blocks("arch"))
    for example in examples:
        assert normalize_arch(example) == example, f"not in normalized form: {example}"
    types = [e["type"] for e in examples]
    assert sorted(types) == sorted(_supported_types()), "one example per architecture type"


@pytest.mark.parametrize("kind", sorted(_supported_types()))
def test_architecture_field_tables_match_normalize_arch(kind):
    """Every field of a type is in its table, with the default normalize_arch fills in."""
    start = TEXT.index(f"**`{kind}`**")
    section = TEXT[start:TEXT.index("<!-- test: arch -->", start)]
    example = next(json.loads(b.source) for b in blocks("arch") if json.loads(b.source)["type"] == kind)
    rows = {ticked(_cells(line)[0])[0]: _cells(line) for line in section.splitlines()
            if line.startswith("| `")}
    assert set(rows) == set(example) - {"type"}, f"{kind}: fields documented vs accepted"
    required = {f: example[f] for f, r in rows.items() if r[2] == "required"}
    defaults = normalize_arch({"type": kind, **required})
    for name, row in rows.items():
        if row[2] == "required":
            with pytest.raises(LandscapeError, match=name):
                normalize_arch({"type": kind, **{k: v for k, v in required.items() if k != name}})
            continue
        shown = ticked(row[2])[0]
        value = json.loads(shown) if shown[:1] in "0123456789[{tf" else shown
        assert defaults[name] == value, f"{kind}.{name}: documented default {shown}"
    for name, options in (("act", ACTIVATIONS), ("pool", POOLS)):
        allowed = set(ticked(rows[name][3])) if name in rows else set()
        if allowed and allowed != {"mlp"}:  # "as for `mlp`" refers to the table above
            assert allowed == set(options), f"{kind}.{name}: documented {allowed}"


# --------------------------------------------------------------------------- refusals


def _torch_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _deflated_npz(x: np.ndarray, y: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, X=np.zeros((2000, 100)), y=np.zeros(2000, np.int64))
    return buffer.getvalue()


def _recompressed(content: bytes) -> bytes:
    """A torch.save zip with its members deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    return out.getvalue()


def _short_record(content: bytes) -> bytes:
    """A torch.save zip whose first storage record lost its last 4 bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data[:-4] if info.filename.endswith("/data/0") else data)
    return out.getvalue()


def _lying_size(content: bytes) -> bytes:
    """A torch.save zip whose central directory says its first member expands to 1 byte."""
    data = bytearray(content)
    struct.pack_into("<I", data, data.index(b"PK\x01\x02") + 24, 1)
    return bytes(data)


def _npz_header_lie(x: np.ndarray) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<i8", "fortran_order": False, "shape": (10**10,)})
    out, array = io.BytesIO(), io.BytesIO()
    np.save(array, x)
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("X.npy", array.getvalue())
        archive.writestr("y.npy", header.getvalue() + bytes(8 * len(x)))
    return out.getvalue()


def _refusals() -> dict[str, str]:
    """Every refusal the table documents, produced for real: case -> message."""
    mlp = {"type": "mlp", "sizes": [2, 4, 2]}
    linear = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    state = linear.state_dict()
    scripted = io.BytesIO()
    torch.jit.save(torch.jit.script(linear), scripted)
    exported = io.BytesIO()
    with zipfile.ZipFile(exported, "w") as archive:
        archive.writestr("model/archive_format", "pt2")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 2)), rng.integers(0, 2, 20)
    nan = {**state, "0.bias": torch.full((4,), float("nan"))}
    cnn = {"type": "cnn", "channels": [4], "batchnorm": True}
    conv_relu_bn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(4),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    conv_relu_bn.train()(torch.rand(16, 1, 8, 8))
    renamed = {("1." + k[2:]) if k.startswith("2.") else k: v
               for k, v in conv_relu_bn.state_dict().items()}

    def _center_with_labels(labels: np.ndarray) -> None:
        data = uploads.load_data(_npz_bytes(X=x, y=labels), "d.npz")
        network_views.checkpoint_source(uploads.Checkpoint(mlp, state, None), {}, data,
                                        "cross_entropy")
    cases = {
        "pickled module": lambda: uploads.load_checkpoint(_torch_bytes(linear), "m.pt", mlp),
        "torchscript": lambda: uploads.load_checkpoint(scripted.getvalue(), "m.pt", mlp),
        "pt2": lambda: uploads.load_checkpoint(b"PK\x03\x04", "m.pt2", mlp),
        "pt2 renamed": lambda: uploads.load_checkpoint(exported.getvalue(), "m.pt", mlp),
        "too large": lambda: uploads.load_checkpoint(b"x" * 100, "m.pt", mlp, max_bytes=10),
        "file type": lambda: uploads.load_checkpoint(b"x", "m.ckpt", mlp),
        "not a dict": lambda: uploads.load_checkpoint(_torch_bytes([torch.zeros(2)]), "m.pt", mlp),
        "not a tensor": lambda: uploads.load_checkpoint(_torch_bytes({**state, "n": 3}), "m.pt", mlp),
        "no architecture": lambda: uploads.load_checkpoint(_torch_bytes(state), "m.pt"),
        "keys": lambda: uploads.load_checkpoint(_torch_bytes(state), "m.pt",
                                                {"type": "mlp", "sizes": [2, 4, 4, 2]}),
        "shapes": lambda: uploads.load_checkpoint(_torch_bytes(state), "m.pt",
                                                  {"type": "mlp", "sizes": [2, 5, 2]}),
        "nan weights": lambda: uploads.load_checkpoint(_torch_bytes(nan), "m.pt", mlp),
        "object array": lambda: uploads.load_data(_npz_bytes(X=np.array([{}] * 20), y=y), "d.npz"),
        "missing X": lambda: uploads.load_data(_npz_bytes(inputs=x, y=y), "d.npz"),
        "data type": lambda: uploads.load_data(b"x", "d.csv"),
        "too many samples": lambda: uploads.load_data(_npz_bytes(X=x, y=y), "d.npz", max_samples=10),
        "lengths": lambda: uploads.load_data(_npz_bytes(X=x, y=y[:-1]), "d.npz"),
        "nan data": lambda: uploads.load_data(_npz_bytes(X=np.full((20, 2), np.nan), y=y), "d.npz"),
        "float32 range": lambda: uploads.load_data(_npz_bytes(X=np.full((20, 2), 1e300), y=y),
                                                   "d.npz"),
        "split incomplete": lambda: uploads.load_data(_npz_bytes(X_train=x, y_train=y), "d.npz"),
        "arch option": lambda: uploads.load_checkpoint(_torch_bytes(state), "m.pt",
                                                       {**mlp, "dropout": 0.1}),
        "bn order keys": lambda: uploads.load_checkpoint(_torch_bytes(conv_relu_bn.state_dict()),
                                                         "m.pt", cnn),
        "bn order renamed": lambda: uploads.load_checkpoint(_torch_bytes(renamed), "m.pt", cnn),
        "float labels": lambda: _center_with_labels(np.linspace(0, 1, 20)),
        "zip bomb": lambda: uploads.load_data(_deflated_npz(x, y), "d.npz", max_bytes=50_000),
        "compressed pt": lambda: uploads.load_checkpoint(_recompressed(_torch_bytes(state)),
                                                         "m.pt", mlp),
        "old pickle": lambda: uploads.load_checkpoint(b"\x80\x02}q\x00.", "m.pt", mlp),
        "storage record": lambda: uploads.load_checkpoint(_short_record(_torch_bytes(state)),
                                                          "m.pt", mlp),
        "lying size": lambda: uploads.load_checkpoint(_lying_size(_torch_bytes(state)), "m.pt",
                                                      mlp),
        "npy header": lambda: uploads.load_data(_npz_header_lie(x), "d.npz"),
        "deep json": lambda: uploads.load_checkpoint(safetensors.torch.save(
            {k: v.contiguous() for k, v in state.items()},
            metadata={"architecture": "[" * 65 + "]" * 65}), "m.safetensors"),
        "long json": lambda: uploads.load_checkpoint(safetensors.torch.save(
            {k: v.contiguous() for k, v in state.items()},
            metadata={"architecture": " " * 70_000}), "m.safetensors"),
        "integer weights": lambda: uploads.load_checkpoint(
            _torch_bytes({k: v.to(torch.int64) for k, v in state.items()}), "m.pt", mlp),
        "negative labels": lambda: uploads.load_data(_npz_bytes(X=x, y=-y - 1), "d.npz"),
        "huge labels": lambda: uploads.load_data(
            _npz_bytes(X=x, y=np.full(20, 2**63 + 1, np.uint64)), "d.npz"),
    }
    messages = {}
    for case, attempt in cases.items():
        with pytest.raises(LandscapeError) as info:
            attempt()
        messages[case] = str(info.value)
    return messages


def test_refusal_table_quotes_the_real_messages():
    messages = _refusals()
    fix = re.search(r"\*(save the weights only, .*?)\*", TEXT, flags=re.S).group(1)
    fix = " ".join(fix.replace("`", "").split())
    assert fix in messages["pickled module"] and fix in messages["torchscript"]
    excerpts = [e for row in table("refusals").rows[1:] for e in ticked(row[1])]
    assert excerpts
    for excerpt in excerpts:
        assert any(excerpt in m for m in messages.values()), f"no refusal says {excerpt!r}"
    for case, message in messages.items():
        assert any(e in message for e in excerpts), f"undocumented refusal ({case}): {message}"


# --------------------------------------------------------------------------- limits


def test_limits_table_matches_config_and_library():
    default = Config()
    rows = table("limits").rows[1:]
    seen = set()
    for row in rows:
        env = next(t for t in ticked(row[2]) if t.startswith("FUNNELSCOPE_"))
        name = env.removeprefix("FUNNELSCOPE_").lower()
        assert hasattr(default, name), f"{env} is not a setting of app/config.py"
        changed = Config.from_env({env: "7"})
        assert getattr(changed, name) == 7 != getattr(default, name), f"{env} is not read"
        number = float(re.match(r"[\d,.]+", row[1]).group(0).replace(",", ""))
        assert number == getattr(default, name), f"{env}: documented default {row[1]}"
        module, _, constant = ticked(row[3])[0].rpartition(".")
        value = getattr(importlib.import_module(module), constant)
        expected = default.max_upload_bytes if name == "max_upload_mb" else getattr(default, name)
        assert value == expected, f"{ticked(row[3])[0]} = {value}; the dashboard's default {expected}"
        option = ticked(row[4])[0]  # the CLI's network commands take it, with the same default
        parsed = cli.build_parser().parse_args(["slice", "network", "--out", "x.npz"])
        unit = 2**20 if name == "max_upload_mb" else 1
        assert getattr(parsed, option.removeprefix("--").replace("-", "_")) * unit == expected
        seen.add(name)
    assert seen == {"max_upload_mb", "max_parameters", "max_samples"}
    assert f"at most {uploads.NPZ_EXPANSION} times" in TEXT


# --------------------------------------------------------------------------- exports


def test_formats_table_lists_exactly_the_library_formats():
    rows = table("formats").rows[1:]
    names = tuple(ticked(r[0])[0] for r in rows)
    assert names == formats.FORMATS
    for fmt, row in zip(names, rows, strict=True):
        assert {formats.SUFFIXES[s] for s in ticked(row[1])} == {fmt}
        assert {s for s, f in formats.SUFFIXES.items() if f == fmt} == set(ticked(row[1]))


def test_format_matrix_matches_check_format():
    header, *rows = table("format-matrix").rows
    assert tuple(header[2:]) == formats.FORMATS
    kinds = {ticked(r[0])[0]: r for r in rows}
    assert set(kinds) == set(registry.result_kinds())
    for kind, row in kinds.items():
        for fmt, cell in zip(formats.FORMATS, row[2:], strict=True):
            assert cell in ("yes", "no"), cell
            try:
                formats.check_format(kind, fmt)
                works = True
            except LandscapeError:
                works = False
            assert (cell == "yes") == works, f"{kind} -> {fmt}: the doc says {cell}"


def test_npz_snippet_recomputes_the_value(session):
    (run,) = session.of("recompute")
    ns = run.namespace
    data, i, j = ns["data"], ns["i"], ns["j"]
    values = data["values"]
    assert values.ndim == 2 and i != j
    assert not np.isclose(values[i, j], values[j, i]), "pick an entry that tells i, j apart"
    assert np.isclose(ns["energy"], values[i, j], rtol=1e-12, atol=1e-12)
    meta = json.loads(str(data["meta"]))
    a, b = data["x"][j], data["y"][i]
    point = data["center"] + a * data["directions"][0] + b * data["directions"][1]
    if meta["geometry"] == "sphere":
        point = np.sqrt(len(point)) * point / np.linalg.norm(point)
    library = build_model(meta["model"]).energy(torch.as_tensor(point)[None])[0].item()
    assert np.isclose(library, values[i, j], rtol=1e-12, atol=1e-12)


def _contract_text() -> tuple[str, str]:
    """(the slice/path key table, the meta paragraph) of the .npz contract section."""
    start = TEXT.index("**Slices and paths**")
    meta_start = TEXT.index("`meta` fields of a slice or path:", start)
    return TEXT[start:TEXT.index("Conventions:", start)], \
        TEXT[meta_start:TEXT.index("**Other views**", meta_start)]


@pytest.fixture(scope="module")
def results(session) -> list:
    """Slices and paths of every family the contract covers (small, fast)."""
    out = [
        views.compute({"model": "ising", "n": 8, "native_bias": 1}, {"view": "slice", "steps": 5}),
        views.compute({"model": "pspin", "n": 8, "p": 3}, {"view": "slice", "steps": 3, "dims": 3}),
        views.compute({"model": "ising", "n": 8}, {"view": "path", "steps": 5}),
        views.compute({"model": "ising", "n": 8}, {"view": "path", "steps": 5, "kind": "linear"}),
    ]
    files = {n: c for r in session.of("checkpoint") for n, c in r.written.items()}
    data_files = {n: c for r in session.of("data") for n, c in r.written.items()}
    center = uploads.load_checkpoint(files["model.safetensors"], "model.safetensors")
    moved = {k: v + 0.1 for k, v in center.state.items()}
    other = uploads.Checkpoint(center.arch, moved, center.loss)
    data = uploads.load_data(data_files["data.npz"], "data.npz")
    source = network_views.checkpoint_source(center, {"checkpoint2": other}, data)
    out += [
        network_views.compute_slice(source, {"steps": 3, "directions": "filter"}),
        network_views.compute_slice(source, {"steps": 3, "dims": 1, "directions": "hessian"}),
        network_views.compute_path(source, {"from": "centre", "to": "checkpoint2", "steps": 3}),
        network_views.compute_path(source, {"from": "centre", "to": "checkpoint2", "steps": 3,
                                            "kind": "bezier", "bend_steps": 2}),
    ]
    return out


def test_every_npz_key_and_meta_field_is_documented(results):
    keys_text, meta_text = _contract_text()
    documented_keys = {k.strip() for row in keys_text.splitlines() if row.startswith("| `")
                       for k in ticked(_cells(row)[0])}
    documented_meta = set(ticked(meta_text))
    for result in results:
        arrays = result.to_arrays()
        assert set(arrays) <= documented_keys, f"undocumented .npz keys: {set(arrays) - documented_keys}"
        assert set(result.meta) <= documented_meta, \
            f"undocumented meta of a {result.meta['kind']}: {set(result.meta) - documented_meta}"
    assert any(r.meta["unit"] == "loss" for r in results)


def test_cli_commands_in_the_doc_parse():
    parser = cli.build_parser()
    commands = [argv for b in BLOCKS if b.lang == "sh" for argv in _commands(b.source)]
    assert commands
    for argv in commands:
        assert argv[0] == "landscapes"
        parser.parse_args(argv[1:])  # exits (SystemExit) on an unknown flag or choice


def test_other_views_arrays_are_documented(tmp_path):
    """Every array of the non-grid views (dashboard and CLI) is named in the doc's table."""
    start = TEXT.index("**Other views**")
    section = TEXT[start:TEXT.index("**Re-reading", start)]
    documented: dict[str, set[str]] = {}
    documented_rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            kind_cell, arrays_cell = _cells(line)[:2]
            documented.setdefault(ticked(kind_cell)[0], set()).update(ticked(arrays_cell))
            documented_rows.setdefault(ticked(kind_cell)[0], []).append(line)
    model_arrays = {"couplings", "native"}
    results = [
        views.compute({"model": "ising", "n": 8, "native_bias": 1}, {"view": "funnel"}),
        views.compute({"model": "ising", "native_bias": 1},
                      {"view": "sweep", "n_min": 6, "n_max": 7, "seeds": 1}),
        views.compute({"model": "ising", "n": 8}, {"view": "minima", "starts": 4}),
        views.compute({"model": "pspin", "n": 8, "p": 3}, {"view": "minima", "starts": 4}),
        views.compute({"model": "pspin", "n": 8, "p": 3}, {"view": "spectrum", "starts": 4}),
        views.compute({"model": "network", "example": "moons-mlp"},
                      {"view": "spectrum", "top": 1, "iterations": 4, "probes": 2, "steps": 4},
                      store=UploadStore(tmp_path / "store")),
    ]
    for argv in (["enumerate", "ising", "--n", "8"], ["funnel", "ising", "--n", "8"],
                 ["minima", "ising", "--n", "8", "--starts", "4"],
                 ["minima", "pspin", "--n", "8", "--starts", "4"]):
        out = tmp_path / f"{argv[0]}-{argv[1]}.npz"
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main([*argv, "--out", str(out)]) == 0
        arrays, meta = read_npz(out)
        results.append(ViewResult(arrays, meta))
    assert set(documented) == {r.meta["kind"] for r in results}
    for result in results:
        kind = result.meta["kind"]
        missing = set(result.arrays) - documented[kind] - model_arrays
        assert not missing, f"undocumented arrays of a {kind} view: {missing}"
        # the meta fields a row of its kind names (a kind with two rows, one per family: one of
        # them names exactly fields this result has)
        said = [set(ticked(m.group(1))) for row in documented_rows[kind]
                if (m := re.search(r"`meta` holds (.*?)\|", row))]
        assert not said or any(fields <= set(result.meta) for fields in said), kind
