"""Legacy VTK export: ASCII, ``DATASET STRUCTURED_GRID`` (ParaView: File > Open).

The grid is the result kind's (:attr:`landscapes.registry.ResultKind.vtk_grid`; see
:mod:`landscapes.io.kinds`): dimensions (nx, ny, nz), points (P, 3) running ``a`` fastest (the C
order of ``values``) and POINT_DATA arrays written as SCALARS (double). The meta JSON is the dataset
FIELD array ``meta_json``: its UTF-8 bytes as unsigned_char (``bytes(array).decode()``; a VTK
``string`` array would be readable text, but meshio cannot read files that hold one).

VTK reads ASCII numbers with C++ stream extraction, which rejects ``nan`` and ``inf`` (one such word
and the reader drops the whole grid), so a non-finite entry is written as the largest finite value
of its array column (0 if none: the surface stays drawable, capped there) and, when there was one,
a ``valid`` point array (unsigned_char: 1 = every array finite at that point, 0 = not) is added:
Threshold ``valid`` >= 1 in ParaView removes those points.
"""

import re
from collections.abc import Callable, Iterable

import numpy as np

from landscapes import registry
from landscapes.errors import LandscapeError
from landscapes.io.text import describe, meta_json, number_text
from landscapes.registry import Result, ResultKind


def grid_kinds() -> list[str]:
    """The registered result kinds that have a VTK grid."""
    return [kind for kind in registry.result_kinds() if registry.result_kind(kind).vtk_grid]


def require(record: ResultKind) -> Callable[[Result], tuple]:
    """``record``'s VTK grid builder; LandscapeError if its results cannot be written as VTK:
    the message names the kinds that can and the formats this one has."""
    if record.vtk_grid is not None:
        return record.vtk_grid
    offered = [fmt for fmt, has in (("csv", record.table), ("html", record.figure)) if has]
    raise LandscapeError(
        f"a {record.kind} view has no grid to write as VTK (VTK is for "
        f"{_joined(grid_kinds(), 'and')} views); use {_joined(offered + ['npz'], 'or')}"
    )


def _joined(names: list[str], last: str) -> str:
    """``a``, ``a and b``, ``a, b and c`` (with ``last`` = and)."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" {last} " + names[-1]


def finite(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values with each non-finite entry set to the largest finite value of its column, or 0;
    the finite mask). ``values`` is (P,) or (P, k)."""
    arr = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(arr)
    if ok.all():
        return arr, ok
    fill = np.where(ok, arr, -np.inf).max(axis=0)
    fill = np.where(np.isfinite(fill), fill, 0.0)
    return np.where(ok, arr, fill), ok


def _numbers(values: np.ndarray, per_line: int) -> Iterable[str]:
    texts = number_text(values)
    for start in range(0, len(texts), per_line):
        yield " ".join(texts[start : start + per_line])


def _name(name: str) -> str:
    """VTK array names are single words: anything else becomes '_'."""
    return re.sub(r"[^0-9A-Za-z_.=+-]", "_", name)


def to_vtk(result: Result) -> str:
    """The result as a legacy ASCII VTK structured grid (see the module docstring)."""
    record = registry.result_kind(str(result.meta.get("kind")))
    dims, points, data = require(record)(result)
    count = int(np.prod(dims))
    points, ok = finite(points)
    valid = ok.all(axis=1)
    clean: dict[str, np.ndarray] = {}
    for name, arr in data.items():
        fixed, ok = finite(arr)
        valid &= ok if ok.ndim == 1 else ok.all(axis=1)
        clean[_name(name)] = fixed
    title = f"Funnelscope {describe(result.meta)} ({result.meta.get('unit', '')})"
    meta_bytes = meta_json(result.meta).encode("utf-8")
    lines = [
        "# vtk DataFile Version 3.0",
        title.replace("\n", " ")[:250],
        "ASCII",
        "DATASET STRUCTURED_GRID",
        "FIELD FieldData 1",
        f"meta_json 1 {len(meta_bytes)} unsigned_char",
        *_numbers(np.frombuffer(meta_bytes, dtype=np.uint8), 30),
        f"DIMENSIONS {dims[0]} {dims[1]} {dims[2]}",
        f"POINTS {count} double",
        *_numbers(points, 3 * 3),
        f"POINT_DATA {count}",
    ]
    for name, arr in clean.items():
        components = 1 if arr.ndim == 1 else arr.shape[1]
        lines += [f"SCALARS {name} double {components}", "LOOKUP_TABLE default", *_numbers(arr, 9)]
    if not valid.all():
        lines += ["SCALARS valid unsigned_char 1", "LOOKUP_TABLE default",
                  *_numbers(np.asarray(valid, dtype=np.uint8), 30)]
    return "\n".join(lines) + "\n"
