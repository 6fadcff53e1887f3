"""Bounded readers of untrusted bytes: zip archives (``.npz``, torch checkpoints), ``.npy``
arrays in them, and JSON text.

Everything here checks what a file *declares* before anything is allocated or decompressed:
a zip's central directory (its member count and their uncompressed sizes), an ``.npy``
header's shape and dtype (against the member's declared size: a header may not promise more
than the member holds), and a JSON text's length and nesting depth (before ``json.loads``
recurses). A file that breaks a bound is refused with one :class:`LandscapeError` line.
"""

import io
import json
import math
import zipfile
from collections.abc import Sequence
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

from landscapes.errors import LandscapeError

#: more members than this in an uploaded zip archive are refused
MAX_ZIP_MEMBERS = 4096
#: JSON read from an upload (architecture metadata, an export's meta) nests at most this deep
MAX_JSON_DEPTH = 64


def size_text(n: int) -> str:
    """A byte count for people: '512 bytes', '3.5 KiB (3,584 bytes)', '20.0 MiB (...)'."""
    if n < 2**10:
        return f"{n:,} bytes"
    if n < 2**20:
        return f"{n / 2**10:.1f} KiB ({n:,} bytes)"
    return f"{n / 2**20:.1f} MiB ({n:,} bytes)"


def zip_members(content: bytes, name: str, not_zip: str,
                max_members: int = MAX_ZIP_MEMBERS) -> dict[str, zipfile.ZipInfo]:
    """The members of a zip archive by name, from its central directory only (nothing is
    decompressed). ``not_zip`` is the message for bytes that are not a zip archive; more than
    ``max_members`` members, or a member named twice, is refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise LandscapeError(f"{name}: {not_zip}") from None
    if len(infos) > max_members:
        raise LandscapeError(f"{name}: the archive has {len(infos):,} members, over the limit of "
                             f"{max_members:,}")
    members = {info.filename: info for info in infos}
    if len(members) != len(infos):
        raise LandscapeError(f"{name}: the archive names a member twice; it is corrupt")
    return members


def check_expansion(members: Sequence[zipfile.ZipInfo], name: str, max_expanded: int,
                    what: str = "the archive's members", fix: str = "upload a smaller file") -> int:
    """The total declared uncompressed size of ``members``; over ``max_expanded`` is refused."""
    expanded = sum(info.file_size for info in members)
    if expanded > max_expanded:
        raise LandscapeError(f"{name}: {what} expand to {size_text(expanded)}, over the limit "
                             f"of {size_text(max_expanded)}; {fix}")
    return expanded


def _npy_header(fp: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    version = npy_format.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = npy_format.read_array_header_1_0(fp)
    elif version in ((2, 0), (3, 0)):
        shape, _, dtype = npy_format.read_array_header_2_0(fp)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    return tuple(shape), dtype


def read_npz(content: bytes, name: str, keys: Sequence[str],
             members: dict[str, zipfile.ZipInfo], max_expanded: int,
             fix: str = "subsample the data") -> dict[str, np.ndarray]:
    """The arrays ``keys`` (members ``KEY.npy`` of ``members``, from :func:`zip_members`) of an
    ``.npz``, each bounded before it is read: the members' declared sizes together at most
    ``max_expanded``, and each ``.npy`` header's shape times its item size at most its member's
    declared size (numpy allocates what the header says before reading). Read with
    ``allow_pickle=False``; an object array is refused with the words ``object array``."""
    wanted = []
    for key in keys:
        info = members.get(key + ".npy")
        if info is None:
            raise LandscapeError(f"{name}: {key!r} is not an .npy array in the archive; save it "
                                 "with numpy.savez")
        wanted.append(info)
    check_expansion(wanted, name, max_expanded, ", ".join(keys), fix)
    arrays = {}
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for key, info in zip(keys, wanted, strict=True):
                with archive.open(info) as fp:
                    shape, dtype = _npy_header(fp)
                declared = math.prod(shape) * dtype.itemsize
                if declared > info.file_size:
                    raise LandscapeError(
                        f"{name}: {key!r} declares shape {shape} of {dtype} ("
                        f"{size_text(declared)}) but its member holds "
                        f"{size_text(info.file_size)}; the file is corrupt or crafted"
                    )
                if dtype.hasobject:
                    raise LandscapeError(
                        f"{name}: {key!r} is an object array (pickled Python objects); it was "
                        "not loaded. Save plain numeric arrays"
                    )
                with archive.open(info) as fp:
                    arrays[key] = npy_format.read_array(fp, allow_pickle=False)
    except LandscapeError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError,
            SyntaxError, TypeError, OverflowError, KeyError) as exc:
        raise LandscapeError(f"{name}: not a readable .npz file "
                             f"({one_line(str(exc)) or type(exc).__name__})") from None
    return arrays


def one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line, at most ``limit`` characters (for a reason quoted in an error)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def _depth(value: Any, limit: int) -> int:
    """The nesting depth of a parsed JSON value, counted up to ``limit + 1`` (iteratively: no
    recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth <= limit:
                stack.extend((v, depth + 1) for v in (
                    item.values() if isinstance(item, dict) else item))
    return deepest


def load_json(text: str, what: str, max_chars: int | None = None,
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strict, bounded JSON: ``json.loads`` refusing ``NaN``, ``Infinity`` and ``-Infinity`` (not
    JSON), text longer than ``max_chars`` (None: no bound) and nesting deeper than ``max_depth``;
    otherwise a LandscapeError naming ``what`` (e.g. "the 'architecture' metadata") and the bound
    or the JSON error. Deep nesting cannot exhaust the stack: the parser stops at Python's
    recursion limit, and the depth of what it parsed is counted without recursion."""
    if max_chars is not None and len(text) > max_chars:
        raise LandscapeError(f"{what} is {len(text):,} characters, over the limit of "
                             f"{max_chars:,}")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise LandscapeError(f"{what} nests deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        raise LandscapeError(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column "
                             f"{exc.colno})") from None
    except ValueError as exc:
        raise LandscapeError(f"{what} is not strict JSON: {exc} is not a JSON number") from None
    if _depth(value, max_depth) > max_depth:
        raise LandscapeError(f"{what} nests deeper than {max_depth} levels")
    return value
