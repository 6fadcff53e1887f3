"""Export formats beside the ``.npz`` contract: CSV tables, legacy VTK grids, standalone HTML.

Every format is written from a computed result -- a :class:`~landscapes.slices.Slice` (slices
and paths) or a :class:`~landscapes.results.ViewResult` (funnel, sweep, minima, enumeration) --
and carries the result's JSON ``meta`` (model spec, seed, direction kind, geometry, unit,
library version), so a file alone says how to reproduce it. Units are those of ``meta["unit"]``:
spin-model energies per spin (H/N), network values the mean train loss; coefficients are in
units of the directions (see :mod:`landscapes.slices`).

``npz`` -- the DESIGN.md contract, written by :func:`landscapes.io.npz.write_npz`.

``csv`` -- comment lines starting with ``#`` (what the file is, its columns, ``# meta: {JSON}``
on one line), then one header row of column names, then one row per point:

* slices: columns ``a``, ``b``, ``c`` (the coefficients along d1, d2, d3: the ``x``, ``y``,
  ``z`` of the ``.npz``), the value named after ``meta["unit"]`` (``energy_per_spin`` or
  ``loss``), then every per-point extra of the grid's shape (networks: ``test_loss``,
  ``train_accuracy``, ``test_accuracy``). Rows are in C order of ``values``, ``a`` fastest:
  the value column reshaped to ``(len(y), len(x))`` is ``values`` with ``values[i, j]`` at
  ``(x[j], y[i])``; 3D: ``(len(z), len(y), len(x))``.
* paths: ``t`` (the path parameter: the ``.npz``'s ``x``; alpha for networks), ``arc``
  (fraction of the way), the value, then per-point extras (``coefficients_1``,
  ``coefficients_2`` for a Bezier curve: point = center + coefficients @ directions).
* views without a grid, one table each: ``funnel`` -- one row per overlap Q: ``q_values``,
  ``q_counts``, ``q_lowest_energy``, ``q_entropy`` and one column ``free_energy_T=<T>`` of
  F(Q; T) per spin for each temperature; ``free energy`` (the CLI's ``funnel``) -- ``q_values``,
  ``free_energy``; ``sweep`` -- one row per (size, seed): ``n``, ``seed``,
  ``ground_basin_share``, ``minima_count``, ``largest_barrier``, ``folding_temperature``;
  ``minima`` -- one row per descent (``start``, ``energies``, ``overlaps``, ``converged``,
  ``steps``, ``min_hessian_eig``) or per network seed (``seed``, losses, accuracies,
  ``diverged``, ``init_distance``); ``enumeration`` -- one row per state: ``state`` (spin i =
  bit i, 1 -> +1), ``energies``, ``overlaps``. Whole matrices (couplings, states, merges,
  distances) are only in the ``.npz``.

Numbers are written with the shortest text that reads back exactly (``repr``); NaN and
infinities as ``nan``, ``inf``, ``-inf`` (read by ``numpy.loadtxt``, pandas and ``float``);
booleans as 0/1. Read with ``pandas.read_csv(path, comment="#")`` or
``numpy.loadtxt(path, delimiter=",", skiprows=K)`` (the first comment line gives K).

``vtk`` -- legacy VTK, ASCII, ``DATASET STRUCTURED_GRID`` (ParaView: File > Open). A 2D slice
is a height field: DIMENSIONS nx ny 1 and POINTS (a, b, value), so the surface needs no Warp
filter; a 3D slice: DIMENSIONS nx ny nz, POINTS (a, b, c); a 1D slice or a path: a line,
DIMENSIONS n 1 1, POINTS (t, 0, value) -- or (coefficients_1, coefficients_2, value) for a
Bezier curve, which lies in the plane of its two directions; the funnel's free energy: the
surface F over (Q, T), POINTS (Q, T, F). Points run ``a`` fastest (the C order of ``values``).
POINT_DATA holds the value (named after the unit) and the per-point extras as SCALARS (double).
The meta JSON is the dataset FIELD array ``meta_json``: its UTF-8 bytes as unsigned_char
(``bytes(array).decode()``; a VTK ``string`` array would be readable text, but meshio cannot
read files that hold one). VTK reads ASCII numbers with C++ stream extraction, which rejects
``nan`` and ``inf`` (one such word and the reader drops the whole grid), so a non-finite entry
is written as the largest finite value of its array column (0 if none: the surface stays
drawable, capped there) and, when there was one, a ``valid`` point array (unsigned_char: 1 =
every array finite at that point, 0 = not) is added: Threshold ``valid`` >= 1 in ParaView
removes those points.

``html`` -- a standalone page with plotly.js inlined (works offline): a surface for 2D slices,
isosurfaces for 3D, lines for 1D slices and paths, lines and markers for the funnel, sweep and
minima views; the title names the model and the view; the PNG camera of the Plotly toolbar
downloads the figure. The meta JSON is embedded as ``<script type="application/json"
id="funnelscope-meta">``.
"""

import io
import json
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

import landscapes
from landscapes.errors import LandscapeError
from landscapes.io.npz import write_npz
from landscapes.results import BUFFER_PREFIX, ViewResult
from landscapes.slices import Slice, grid_coefficients

Result = Slice | ViewResult

FORMATS = ("npz", "csv", "vtk", "html")
SUFFIXES = {".npz": "npz", ".csv": "csv", ".vtk": "vtk", ".html": "html", ".htm": "html"}
MEDIA_TYPES = {"npz": "application/octet-stream", "csv": "text/csv", "vtk": "text/plain",
               "html": "text/html"}
COEFFICIENT_NAMES = ("a", "b", "c")
# arrays saved beside a grid that are not per-point data, even when their shape happens to match
NOT_PER_POINT = frozenset({"couplings", "native", "trajectory_coords"})
META_ID = "funnelscope-meta"
FIGURE_ID = "funnelscope-figure"
MAX_COLUMNS = 3  # a per-point extra with more components than this is left to the .npz


# --------------------------------------------------------------------------- choosing a format


def format_from_path(path: str | Path, explicit: str | None = None) -> str:
    """The format to write ``path`` in: ``explicit`` if given, else from the suffix.

    No suffix means ``npz``. Raises LandscapeError for an unknown format, an unknown suffix
    without an explicit format, and a suffix that names another format than ``explicit``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    implied = SUFFIXES.get(suffix)
    if explicit is not None:
        if explicit not in FORMATS:
            raise LandscapeError(f"unknown format {explicit!r}; choose {_choices()}")
        if implied is not None and implied != explicit:
            raise LandscapeError(
                f"{path.name} ends in {suffix} but the format is {explicit}; name the file "
                f"*.{explicit} or choose format {implied}"
            )
        return explicit
    if implied is not None:
        return implied
    if not suffix:
        return "npz"
    raise LandscapeError(
        f"cannot tell the format of {path.name} from its suffix {suffix}; use "
        f"{', '.join(s for s in SUFFIXES if s != '.htm')} or choose a format ({_choices()})"
    )


def _choices() -> str:
    return ", ".join(FORMATS[:-1]) + " or " + FORMATS[-1]


def check_format(kind: str, fmt: str) -> None:
    """Raise LandscapeError, before any work, if a ``kind`` view cannot be written as ``fmt``."""
    if fmt == "vtk" and kind not in VTK_KINDS:
        raise LandscapeError(
            f"a {kind} view has no grid to write as VTK (VTK is for slices, paths and the "
            "funnel's free energy); use csv, html or npz"
        )
    if fmt == "html" and kind not in ("slice", "path", *FIGURES):
        raise LandscapeError(f"no html export for {kind!r} views; use npz")


# --------------------------------------------------------------------------- shared helpers


def _kind(result: Result) -> str:
    return str(result.meta.get("kind", "slice" if isinstance(result, Slice) else "view"))


def column_name(unit: str) -> str:
    """A column name from a unit: ``energy per spin`` -> ``energy_per_spin``."""
    name = re.sub(r"[^0-9A-Za-z]+", "_", str(unit)).strip("_").lower()
    return name or "value"


def _value_name(result: Slice) -> str:
    return column_name(result.meta.get("unit", "value"))


def _meta_json(meta: dict) -> str:
    return json.dumps(meta, sort_keys=True)


def describe(meta: dict) -> str:
    """A one-line title: the model and the view (``ising n=16 native_bias=2 -- 2D slice...``)."""
    model = meta.get("model", {})
    if isinstance(model, dict):
        name = str(model.get("model", "model"))
        parts = [name] + [f"{k}={_short(v)}" for k, v in model.items() if k != "model"]
        model_text = " ".join(parts)
    else:
        model_text = str(model)
    return f"{model_text} - {_view_text(meta)}"


def _short(value: object) -> str:
    text = str(value)
    return text[:12] if re.fullmatch(r"[0-9a-f]{32,}", text) else text


def _view_text(meta: dict) -> str:
    kind = meta.get("kind", "view")
    view = meta.get("view", {}) if isinstance(meta.get("view"), dict) else {}
    if kind == "slice":
        return (f"{meta.get('dims', '?')}D slice ({meta.get('direction_kind', '?')} directions, "
                f"{meta.get('geometry', '?')})")
    if kind == "path":
        ends = f" {view['from']} -> {view['to']}" if "from" in view and "to" in view else ""
        return f"{meta.get('path_kind', '')} path{ends}".strip()
    if kind == "funnel":
        return f"funnel (exact enumeration, Q against the {view.get('reference', 'native')} state)"
    if kind == "sweep":
        return f"size sweep N = {view.get('n_min')}..{view.get('n_max')}"
    if kind == "minima":
        if "seeds" in view:
            return f"minima of {view['seeds']} training seeds"
        return f"minima of {view['starts']} descents" if "starts" in view else "minima of descents"
    if kind == "free energy":
        return f"free energy F(Q; T={meta.get('temperature')})"
    return str(kind)


def _text(values: np.ndarray) -> list[str]:
    """Exact short text of each number (repr of Python floats/ints); booleans as 0/1."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    return [repr(v) for v in arr.ravel().tolist()]


def _per_point(result: Slice) -> dict[str, np.ndarray]:
    """Extras of the grid's shape (or the grid's shape plus a small trailing axis), as columns."""
    shape = result.values.shape
    out: dict[str, np.ndarray] = {}
    for name, arr in result.extras.items():
        arr = np.asarray(arr)
        if (name in NOT_PER_POINT or name == "arc" or name.startswith(BUFFER_PREFIX)
                or arr.dtype.kind not in "biuf"):
            continue
        flat_len = int(np.prod(shape))
        if arr.shape == shape:
            out[name] = arr.reshape(flat_len)
        elif arr.shape[:-1] == shape and 1 <= arr.shape[-1] <= MAX_COLUMNS:
            for k in range(arr.shape[-1]):
                out[f"{name}_{k + 1}"] = arr[..., k].reshape(flat_len)
    return out


def _slice_columns(result: Slice) -> dict[str, np.ndarray]:
    """Named columns (P,) of a slice or path, in the C order of ``values``."""
    value = np.asarray(result.values)
    columns: dict[str, np.ndarray] = {}
    if _kind(result) == "path":
        t = np.asarray(result.axes[0])
        columns["t"] = t
        columns["arc"] = np.asarray(result.extras.get("arc", t))
    else:
        coefs = grid_coefficients(result.axes)
        for k in range(result.dims):
            columns[COEFFICIENT_NAMES[k]] = coefs[:, k]
    columns[_value_name(result)] = value.reshape(-1)
    for name, col in _per_point(result).items():
        columns.setdefault(name, col)
    return columns


# --------------------------------------------------------------------------- CSV


def _funnel_table(a: dict) -> dict[str, np.ndarray]:
    table = {k: a[k] for k in ("q_values", "q_counts", "q_lowest_energy", "q_entropy")}
    free = np.asarray(a["free_energy"])
    if free.shape != (len(a["temperatures"]), len(a["q_values"])):
        raise LandscapeError("funnel: free_energy does not match temperatures x q_values")
    for t, row in zip(np.asarray(a["temperatures"]).tolist(), free, strict=True):
        table[f"free_energy_T={t!r}"] = row
    return table


def _sweep_table(a: dict) -> dict[str, np.ndarray]:
    sizes, seeds = np.asarray(a["sizes"]), np.asarray(a["seeds"])
    n, seed = np.meshgrid(sizes, seeds, indexing="ij")
    table = {"n": n.ravel(), "seed": seed.ravel()}
    for key in ("ground_basin_share", "minima_count", "largest_barrier", "folding_temperature"):
        table[key] = np.asarray(a[key]).ravel()
    return table


def _minima_table(a: dict) -> dict[str, np.ndarray]:
    if "train_loss" in a:  # network minima: one row per training seed
        keys = ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "diverged",
                "init_distance")
        return {"seed": a["seeds"], **{k: a[k] for k in keys if k in a}}
    keys = ("energies", "overlaps", "converged", "steps", "min_hessian_eig")
    return {"start": np.arange(len(a["energies"])), **{k: a[k] for k in keys if k in a}}


def _enumeration_table(a: dict) -> dict[str, np.ndarray]:
    return {"state": np.arange(len(a["energies"])), "energies": a["energies"],
            "overlaps": a["overlaps"]}


def _free_energy_table(a: dict) -> dict[str, np.ndarray]:
    return {"q_values": a["q_values"], "free_energy": a["free_energy"]}


TABLES: dict[str, Callable[[dict], dict[str, np.ndarray]]] = {
    "funnel": _funnel_table,
    "sweep": _sweep_table,
    "minima": _minima_table,
    "enumeration": _enumeration_table,
    "free energy": _free_energy_table,
}
TABLE_NOTES = {
    "funnel": "one row per overlap Q; free_energy_T=<T>: F(Q; T) per spin at that temperature",
    "sweep": "one row per (size n, seed)",
    "minima": "one row per descent (start K = random:K) or per training seed",
    "enumeration": "one row per state; spin i = bit i of 'state', 1 -> +1",
    "free energy": "one row per overlap Q",
}


def _view_columns(result: ViewResult) -> dict[str, np.ndarray]:
    kind = _kind(result)
    maker = TABLES.get(kind)
    if maker is not None:
        try:
            return maker(result.arrays)
        except KeyError as exc:
            raise LandscapeError(f"a {kind} result lacks the array {exc}; cannot tabulate it") from None
    flat = {k: np.asarray(v) for k, v in result.arrays.items() if np.ndim(v) == 1}
    if flat and len({len(v) for v in flat.values()}) == 1:
        return flat
    raise LandscapeError(f"a {kind!r} view has no single table to write as CSV; use npz")


def _csv_text(columns: dict[str, np.ndarray], comments: list[str]) -> str:
    lengths = {len(np.asarray(v).reshape(-1)) for v in columns.values()}
    if len(lengths) != 1:
        raise LandscapeError("CSV columns of different lengths")
    for name in columns:
        if "," in name or "\n" in name or '"' in name:
            raise LandscapeError(f"column name {name!r} cannot be written to CSV")
    texts = [_text(v) for v in columns.values()]
    skip = len(comments) + 2  # the comment lines, the 'skiprows' line itself and the header row
    head = [f"numpy: np.loadtxt(path, delimiter=',', skiprows={skip}); "
            "pandas: pd.read_csv(path, comment='#')"]
    lines = [f"# {c}" for c in head + comments]
    out = io.StringIO()
    out.write("\n".join(lines) + "\n")
    out.write(",".join(columns) + "\n")
    for row in zip(*texts, strict=True):
        out.write(",".join(row) + "\n")
    return out.getvalue()


def to_csv(result: Result) -> str:
    """The result as CSV text: ``#`` comment lines (meta JSON among them), a header, the rows."""
    kind = _kind(result)
    if isinstance(result, Slice):
        columns = _slice_columns(result)
        if kind == "path":
            layout = "rows follow the path; t = the path parameter (x of the .npz), arc = " \
                     "fraction of the way"
        else:
            names = ", ".join(f"{COEFFICIENT_NAMES[k]} = coefficient along d{k + 1}"
                              for k in range(result.dims))
            npz_names = ", ".join("xyz"[: result.dims])
            layout = (f"{names} ({npz_names} of the .npz); rows in C order of values, a fastest: "
                      f"values[i, j] is at (a = x[j], b = y[i])")
        center_note = ("center and directions are not in this file: recompute them from meta "
                       "(model and view spec) or export .npz")
    else:
        columns = _view_columns(result)
        layout = TABLE_NOTES.get(kind, "one row per entry of the 1-D arrays")
        center_note = "whole matrices (couplings, states, merges, ...) are only in the .npz export"
    comments = [
        f"Funnelscope {kind} export (landscapes {landscapes.__version__}): {describe(result.meta)}",
        f"unit: {result.meta.get('unit', '')}",
        f"columns: {layout}",
        center_note,
        f"meta: {_meta_json(result.meta)}",
    ]
    return _csv_text(columns, comments)


def read_csv_meta(text: str) -> dict:
    """The meta dict stored in a CSV export's ``# meta:`` comment line."""
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# meta: "):
            return json.loads(line.removeprefix("# meta: "))
    raise LandscapeError("no '# meta:' line in this CSV; not a Funnelscope export")


# --------------------------------------------------------------------------- VTK

VTK_KINDS = ("slice", "path", "funnel", "free energy")


def _finite(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values with each non-finite entry set to the largest finite value of its column, or 0;
    the finite mask). ``values`` is (P,) or (P, k)."""
    arr = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(arr)
    if ok.all():
        return arr, ok
    fill = np.where(ok, arr, -np.inf).max(axis=0)
    fill = np.where(np.isfinite(fill), fill, 0.0)
    return np.where(ok, arr, fill), ok


def _vtk_grid(result: Result) -> tuple[tuple[int, int, int], np.ndarray, dict[str, np.ndarray]]:
    """Dimensions (nx, ny, nz), points (P, 3) and point arrays {name: (P,) or (P, k)}."""
    if isinstance(result, ViewResult):
        return _vtk_view_grid(result)
    columns = _slice_columns(result)
    value_name = _value_name(result)
    value = columns[value_name]
    data = {value_name: value}
    for name, arr in _per_point(result).items():
        data.setdefault(name, arr)
    if _kind(result) == "path" or result.dims == 1:
        n = len(value)
        if "coefficients_1" in data and "coefficients_2" in data:
            x, y = data["coefficients_1"], data["coefficients_2"]
        else:
            x, y = np.asarray(result.axes[0]), np.zeros(n)
        if "arc" in result.extras:
            data["arc"] = np.asarray(result.extras["arc"])
        return (n, 1, 1), np.stack([x, y, value], axis=1), data
    coefs = grid_coefficients(result.axes)
    if result.dims == 2:
        nx, ny = (len(a) for a in result.axes)
        return (nx, ny, 1), np.column_stack([coefs, value]), data
    nx, ny, nz = (len(a) for a in result.axes)
    return (nx, ny, nz), coefs, data


def _vtk_view_grid(result: ViewResult) -> tuple[tuple[int, int, int], np.ndarray,
                                                dict[str, np.ndarray]]:
    kind, a = _kind(result), result.arrays
    if kind == "funnel":
        q, temps = np.asarray(a["q_values"], float), np.asarray(a["temperatures"], float)
        free = np.asarray(a["free_energy"], float)
        qq, tt = np.meshgrid(q, temps)  # rows follow temperatures: Q fastest
        points = np.stack([qq.ravel(), tt.ravel(), free.ravel()], axis=1)
        return (len(q), len(temps), 1), points, {"free_energy_per_spin": free.ravel()}
    if kind == "free energy":
        q, free = np.asarray(a["q_values"], float), np.asarray(a["free_energy"], float)
        points = np.stack([q, np.zeros_like(q), free], axis=1)
        return (len(q), 1, 1), points, {"free_energy_per_spin": free}
    raise LandscapeError(
        f"a {kind} view has no grid to write as VTK (VTK is for slices, paths and the funnel's "
        "free energy); use csv, html or npz"
    )


def _vtk_numbers(values: np.ndarray, per_line: int) -> Iterable[str]:
    texts = _text(values)
    for start in range(0, len(texts), per_line):
        yield " ".join(texts[start : start + per_line])


def to_vtk(result: Result) -> str:
    """The result as a legacy ASCII VTK structured grid (see the module docstring)."""
    check_format(_kind(result), "vtk")
    dims, points, data = _vtk_grid(result)
    count = int(np.prod(dims))
    valid = np.ones(count, dtype=bool)
    points, ok = _finite(points)
    valid &= ok.all(axis=1)
    clean: dict[str, np.ndarray] = {}
    for name, arr in data.items():
        fixed, ok = _finite(arr)
        valid &= ok if ok.ndim == 1 else ok.all(axis=1)
        clean[_vtk_name(name)] = fixed
    title = f"Funnelscope {describe(result.meta)} ({result.meta.get('unit', '')})"
    title = title.replace("\n", " ")[:250]
    meta_bytes = _meta_json(result.meta).encode("utf-8")
    lines = [
        "# vtk DataFile Version 3.0",
        title,
        "ASCII",
        "DATASET STRUCTURED_GRID",
        "FIELD FieldData 1",
        f"meta_json 1 {len(meta_bytes)} unsigned_char",
        *_vtk_numbers(np.frombuffer(meta_bytes, dtype=np.uint8), 30),
        f"DIMENSIONS {dims[0]} {dims[1]} {dims[2]}",
        f"POINTS {count} double",
        *_vtk_numbers(points, 3 * 3),
        f"POINT_DATA {count}",
    ]
    for name, arr in clean.items():
        components = 1 if arr.ndim == 1 else arr.shape[1]
        lines += [f"SCALARS {name} double {components}", "LOOKUP_TABLE default",
                  *_vtk_numbers(arr, 9)]
    if not valid.all():
        lines += ["SCALARS valid unsigned_char 1", "LOOKUP_TABLE default",
                  *_vtk_numbers(valid.astype(np.uint8), 30)]
    return "\n".join(lines) + "\n"


def _vtk_name(name: str) -> str:
    """VTK array names are single words: anything else becomes '_'."""
    return re.sub(r"[^0-9A-Za-z_.=+-]", "_", name)


# --------------------------------------------------------------------------- HTML


def _axis_title(k: int, meta: dict) -> str:
    return f"{COEFFICIENT_NAMES[k]} (along d{k + 1}, {meta.get('direction_kind', '')})"


def _slice_figure(result: Slice):  # noqa: ANN202 -- plotly imported lazily
    import plotly.graph_objects as go

    meta, unit = result.meta, result.meta.get("unit", "value")
    values = np.asarray(result.values, dtype=np.float64)
    fig = go.Figure()
    if _kind(result) == "path" or result.dims == 1:
        is_path = _kind(result) == "path"
        x = np.asarray(result.extras.get("arc", result.axes[0])) if is_path else result.axes[0]
        fig.add_scatter(x=x, y=values, mode="lines", name=meta.get("unit", "value"))
        for name, arr in _per_point(result).items():
            if name.endswith("_loss"):
                fig.add_scatter(x=x, y=arr, mode="lines", name=name)
        xtitle = ("fraction of the way (arc)" if is_path and "arc" in result.extras
                  else _axis_title(0, meta))
        fig.update_layout(xaxis_title=xtitle, yaxis_title=unit)
    elif result.dims == 2:
        fig.add_surface(x=result.axes[0], y=result.axes[1], z=values, colorbar_title=unit,
                        contours_z={"show": True, "usecolormap": True, "project_z": True})
        fig.update_layout(scene={"xaxis_title": _axis_title(0, meta),
                                 "yaxis_title": _axis_title(1, meta), "zaxis_title": unit})
    else:
        coefs = grid_coefficients(result.axes)
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        fig.add_isosurface(x=coefs[:, 0], y=coefs[:, 1], z=coefs[:, 2], value=values.ravel(),
                           isomin=lo, isomax=hi, surface_count=5, caps={"x_show": False,
                           "y_show": False, "z_show": False}, colorbar_title=unit, opacity=0.6)
        fig.update_layout(scene={"xaxis_title": _axis_title(0, meta),
                                 "yaxis_title": _axis_title(1, meta),
                                 "zaxis_title": _axis_title(2, meta)})
    return fig


def _funnel_figure(a: dict, meta: dict):  # noqa: ANN202
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=a["q_values"], y=a["q_lowest_energy"], mode="lines+markers",
                    name="lowest energy at Q")
    share = np.asarray(a["basin_share"], float)
    fig.add_scatter(x=a["minimum_overlaps"], y=a["minimum_energies"], mode="markers",
                    name="local minima (size: basin share)",
                    marker={"size": 6 + 30 * np.sqrt(share / max(share.max(), 1e-12))},
                    customdata=share, hovertemplate="Q %{x}<br>E %{y}<br>basin %{customdata}")
    temps = np.asarray(a["temperatures"], float)
    free = np.asarray(a["free_energy"], float)
    folding = meta.get("folding_temperature")
    start = int(np.argmin(np.abs(temps - folding))) if folding is not None else len(temps) // 2
    fig.add_scatter(x=a["q_values"], y=free[start], mode="lines", name="F(Q; T) per spin",
                    line={"dash": "dash"})
    trace = len(fig.data) - 1
    steps = [{"method": "restyle", "label": f"{t:.3g}", "args": [{"y": [free[k]]}, [trace]]}
             for k, t in enumerate(temps)]
    fig.update_layout(
        xaxis_title=f"overlap Q with the {meta.get('view', {}).get('reference', 'native')} state",
        yaxis_title="energy per spin",
        sliders=[{"active": start, "steps": steps, "currentvalue": {"prefix": "T = "}}],
    )
    return fig


def _sweep_figure(a: dict):  # noqa: ANN202
    from plotly.subplots import make_subplots

    keys = ("ground_basin_share", "minima_count", "largest_barrier", "folding_temperature")
    fig = make_subplots(rows=len(keys), cols=1, shared_xaxes=True, subplot_titles=keys)
    sizes = np.asarray(a["sizes"])
    for row, key in enumerate(keys, start=1):
        arr = np.asarray(a[key], float)
        xs = np.repeat(sizes, arr.shape[1])
        fig.add_scatter(x=xs, y=arr.ravel(), mode="markers", name=f"{key} (each seed)",
                        row=row, col=1, marker={"opacity": 0.5})
        with np.errstate(all="ignore"):
            mean = np.nanmean(np.where(np.isfinite(arr), arr, np.nan), axis=1)
        fig.add_scatter(x=sizes, y=mean, mode="lines", name=f"{key} (mean)", row=row, col=1)
    fig.update_xaxes(title_text="N (spins)", row=len(keys), col=1)
    return fig


def _minima_figure(a: dict, meta: dict):  # noqa: ANN202
    import plotly.graph_objects as go

    fig = go.Figure()
    if "train_loss" in a:
        for key in ("train_loss", "test_loss"):
            fig.add_bar(x=a["seeds"], y=a[key], name=key)
        fig.update_layout(xaxis_title="initialization seed", yaxis_title=meta.get("unit", "loss"))
        return fig
    fig.add_scatter(x=a["overlaps"], y=a["energies"], mode="markers", name="minima")
    for key in ("threshold_energy", "ground_energy"):
        if meta.get(key) is not None:
            fig.add_hline(y=meta[key], line_dash="dot", annotation_text=f"{key} (large N)")
    fig.update_layout(xaxis_title="overlap with the native state", yaxis_title="energy per spin")
    return fig


def _enumeration_figure(a: dict):  # noqa: ANN202
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_scatter(x=a["q_values"], y=a["q_lowest_energy"], mode="lines+markers",
                    name="lowest energy at Q")
    overlaps = np.asarray(a["overlaps"])[np.asarray(a["minima"])]
    fig.add_scatter(x=overlaps, y=a["minimum_energies"], mode="markers", name="local minima")
    fig.update_layout(xaxis_title="overlap Q with the native state",
                      yaxis_title="energy per spin")
    return fig


def _free_energy_figure(a: dict, meta: dict):  # noqa: ANN202
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=a["q_values"], y=a["free_energy"], mode="lines+markers",
                               name=f"F(Q; T={meta.get('temperature')})"))
    fig.update_layout(xaxis_title="overlap Q", yaxis_title="free energy per spin")
    return fig


FIGURES = ("funnel", "sweep", "minima", "enumeration", "free energy")


def figure(result: Result):  # noqa: ANN201 -- a plotly.graph_objects.Figure
    """The interactive figure of a result (plotly graph objects; no Dash)."""
    kind = _kind(result)
    if isinstance(result, Slice):
        fig = _slice_figure(result)
    elif kind == "funnel":
        fig = _funnel_figure(result.arrays, result.meta)
    elif kind == "sweep":
        fig = _sweep_figure(result.arrays)
    elif kind == "minima":
        fig = _minima_figure(result.arrays, result.meta)
    elif kind == "enumeration":
        fig = _enumeration_figure(result.arrays)
    elif kind == "free energy":
        fig = _free_energy_figure(result.arrays, result.meta)
    else:
        raise LandscapeError(f"no html export for {kind!r} views; use npz")
    fig.update_layout(title=f"Funnelscope: {describe(result.meta)}", template="plotly_white")
    return fig


def _script_json(meta: dict) -> str:
    """JSON safe inside a <script> element (no '<', '>' or '&' can end or open a tag)."""
    text = _meta_json(meta)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def to_html(result: Result) -> str:
    """A standalone HTML page (plotly.js inlined) with the figure and the meta JSON."""
    import html as html_lib

    fig = figure(result)
    title = f"Funnelscope: {describe(result.meta)}"
    div = fig.to_html(
        full_html=False, include_plotlyjs=True, div_id=FIGURE_ID, default_height="90vh",
        config={"responsive": True, "displaylogo": False,
                "toImageButtonOptions": {"format": "png", "filename": _file_stem(result.meta),
                                         "scale": 2}},
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html_lib.escape(title)}</title>\n"
        f"<script type=\"application/json\" id=\"{META_ID}\">{_script_json(result.meta)}</script>\n"
        "</head>\n<body>\n"
        f"<p style=\"font-family: sans-serif; font-size: small\">{html_lib.escape(title)} "
        f"&middot; unit: {html_lib.escape(str(result.meta.get('unit', '')))} &middot; landscapes "
        f"{html_lib.escape(str(result.meta.get('library_version', landscapes.__version__)))}; "
        f"the full settings are in the <code>{META_ID}</code> JSON block of this page.</p>\n"
        f"{div}\n</body>\n</html>\n"
    )


def read_html_meta(text: str) -> dict:
    """The meta dict embedded in an HTML export."""
    match = re.search(rf'<script type="application/json" id="{META_ID}">(.*?)</script>', text,
                      flags=re.S)
    if not match:
        raise LandscapeError("no Funnelscope meta block in this HTML")
    return json.loads(match.group(1))


def _file_stem(meta: dict) -> str:
    stem = re.sub(r"[^0-9A-Za-z]+", "-", f"funnelscope {describe(meta)}").strip("-").lower()
    return stem[:80] or "funnelscope"


# --------------------------------------------------------------------------- writing

TEXT_WRITERS: dict[str, Callable[[Result], str]] = {"csv": to_csv, "vtk": to_vtk,
                                                     "html": to_html}


def to_bytes(result: Result, fmt: str) -> bytes:
    """The file content of ``result`` in ``fmt`` (for downloads)."""
    if fmt not in FORMATS:
        raise LandscapeError(f"unknown format {fmt!r}; choose {_choices()}")
    if fmt != "npz":
        return TEXT_WRITERS[fmt](result).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_npz(Path(tmp) / "export.npz", result.to_arrays(), result.meta)
        return path.read_bytes()


def write(result: Result, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``result`` to exactly ``path`` in ``fmt`` (default: from the suffix; none -> npz).

    The text formats are rendered in full before the file is opened: an error leaves no file.
    """
    path = Path(path)
    fmt = format_from_path(path, fmt)
    if fmt == "npz":
        return write_npz(path, result.to_arrays(), result.meta)
    text = TEXT_WRITERS[fmt](result)
    try:
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        raise LandscapeError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def suffix_of(fmt: str) -> str:
    """The file suffix of a format (``.npz``, ``.csv``, ``.vtk``, ``.html``)."""
    return f".{fmt}"


def file_name(meta: dict, fmt: str) -> str:
    """A download's file name for a result's ``meta`` in ``fmt``: the model and view in words,
    lower case, hyphens (at most 80 characters), then the suffix -- e.g.
    ``funnelscope-ising-n-16-native-bias-2-0-seed-0-2d-slice-random-directions-sphere.csv``.
    The same stem names the PNG of an HTML export's camera button."""
    if fmt not in FORMATS:
        raise LandscapeError(f"unknown format {fmt!r}; choose {_choices()}")
    return _file_stem(meta) + suffix_of(fmt)


__all__ = [
    "FORMATS", "MEDIA_TYPES", "check_format", "describe", "figure", "file_name", "format_from_path",
    "read_csv_meta", "read_html_meta", "suffix_of", "to_bytes", "to_csv", "to_html", "to_vtk",
    "write",
]
