"""The result kinds of the library, one :class:`~landscapes.registry.ResultKind` record each:
how a result is named in words, tabulated for CSV, laid out as a VTK grid and drawn as a figure.

The export writers (:mod:`landscapes.io.csv`, :mod:`landscapes.io.vtk`, :mod:`landscapes.io.html`)
and the dashboard look these records up by ``meta["kind"]``; importing :mod:`landscapes.io`
registers them. Units are those of ``meta["unit"]`` (spin models: energy per spin H/N; networks:
the mean train loss); slice coefficients are in units of the directions (:mod:`landscapes.slices`).

Tables (``table(result) -> {column: (P,) array}``), one row per point:

* ``slice`` -- ``a``, ``b``, ``c`` (the coefficients along d1, d2, d3: the ``x``, ``y``, ``z`` of
  the ``.npz``; as many as the slice has dimensions), the value named after ``meta["unit"]``
  (``energy_per_spin`` or ``loss``), then every per-point extra of the grid's shape (networks:
  ``test_loss``, ``train_accuracy``, ``test_accuracy``), rows in C order of ``values``, ``a``
  fastest.
* ``path`` -- ``t`` (the path parameter: the ``.npz``'s ``x``), ``arc`` (fraction of the way), the
  value, then per-point extras (``coefficients_1``, ``coefficients_2`` for a Bezier curve).
* ``funnel``, ``free energy``, ``sweep``, ``minima``, ``enumeration``, ``spectrum`` -- see
  :data:`TABLE_NOTES`.

VTK grids (``vtk_grid(result) -> ((nx, ny, nz), points (P, 3), {name: (P,) or (P, k)})``): a 2D
slice is a height field (points (a, b, value)); a 3D slice the cube (a, b, c); a 1D slice or a path
a line (t, 0, value), or (coefficients_1, coefficients_2, value) for a Bezier curve; the funnel's
free energy the surface (Q, T, F); the command line's free energy the line (Q, 0, F).

Figures (``figure(result, display)``) are the dashboard's builders in :mod:`landscapes.plots`,
imported when first drawn (so the table and grid writers never load plotly).
"""

import importlib
import re
from collections.abc import Callable

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.registry import Result, ResultKind, register_result
from landscapes.results import BUFFER_PREFIX
from landscapes.slices import Slice, grid_coefficients

Grid = tuple[tuple[int, int, int], np.ndarray, dict[str, np.ndarray]]

COEFFICIENT_NAMES = ("a", "b", "c")
# arrays saved beside a grid that are not per-point data, even when their shape happens to match
NOT_PER_POINT = frozenset({"couplings", "native", "trajectory_coords", "checkpoint_coords"})
MAX_COLUMNS = 3  # a per-point extra with more components than this is left to the .npz
TABLE_NOTES = {
    "slice": "a, b, c = coefficients along d1, d2, d3 (x, y, z of the .npz); rows in C order of "
             "values, a fastest: values[i, j] is at (a = x[j], b = y[i]); center and directions: "
             "recompute them from meta (model and view spec) or export .npz",
    "path": "rows follow the path; t = the path parameter (x of the .npz), arc = fraction of the "
            "way; center and directions: recompute them from meta or export .npz",
    "funnel": "one row per overlap Q; free_energy_T=<T>: F(Q; T) per spin at that temperature",
    "sweep": "one row per (size n, seed)",
    "minima": "one row per descent (start K = random:K) or per training seed",
    "enumeration": "one row per state; spin i = bit i of 'state', 1 -> +1",
    "free energy": "one row per overlap Q",
    "spectrum": "one row per grid point t (an eigenvalue, loss per squared parameter unit): the "
                "Gaussian-broadened spectral density there; the trace, top eigenvalues and the "
                "quadrature that gives the density are in meta and the .npz",
}


# --------------------------------------------------------------------------- slices and paths


def column_name(unit: str) -> str:
    """A column name from a unit: ``energy per spin`` -> ``energy_per_spin``."""
    name = re.sub(r"[^0-9A-Za-z]+", "_", str(unit)).strip("_").lower()
    return name or "value"


def per_point(result: Slice) -> dict[str, np.ndarray]:
    """Extras of the grid's shape (or the grid's shape plus a trailing axis of at most
    :data:`MAX_COLUMNS`, one column per component ``<name>_<k>``), flattened in C order."""
    shape = result.values.shape
    flat_len = int(np.prod(shape))
    out: dict[str, np.ndarray] = {}
    for name, arr in result.extras.items():
        arr = np.asarray(arr)
        if (name in NOT_PER_POINT or name == "arc" or name.startswith(BUFFER_PREFIX)
                or arr.dtype.kind not in "biuf"):
            continue
        if arr.shape == shape:
            out[name] = arr.reshape(flat_len)
        elif arr.shape[:-1] == shape and 1 <= arr.shape[-1] <= MAX_COLUMNS:
            for k in range(arr.shape[-1]):
                out[f"{name}_{k + 1}"] = arr[..., k].reshape(flat_len)
    return out


def _value_columns(result: Slice) -> dict[str, np.ndarray]:
    """The value (named after the unit) and then the per-point extras."""
    columns = {column_name(result.meta.get("unit", "value")): np.asarray(result.values).reshape(-1)}
    for name, col in per_point(result).items():
        columns.setdefault(name, col)
    return columns


def slice_table(result: Slice) -> dict[str, np.ndarray]:
    """``a``[, ``b``[, ``c``]] (the coefficients of each point), the value, the per-point extras."""
    coefs = grid_coefficients(result.axes)
    columns = {COEFFICIENT_NAMES[k]: coefs[:, k] for k in range(result.dims)}
    return {**columns, **_value_columns(result)}


def path_table(result: Slice) -> dict[str, np.ndarray]:
    """``t``, ``arc`` (fraction of the way; ``t`` where the path has none), the value, the extras."""
    t = np.asarray(result.axes[0])
    return {"t": t, "arc": np.asarray(result.extras.get("arc", t)), **_value_columns(result)}


def _line_grid(result: Slice) -> Grid:
    """A 1D slice or a path as a line: points (t, 0, value), or (coefficients_1, coefficients_2,
    value) for a Bezier curve (the plane of its two directions); ``arc`` added when there is one."""
    data = _value_columns(result)
    value = next(iter(data.values()))
    n = len(value)
    if "coefficients_1" in data and "coefficients_2" in data:
        x, y = data["coefficients_1"], data["coefficients_2"]
    else:
        x, y = np.asarray(result.axes[0]), np.zeros(n)
    if "arc" in result.extras:
        data["arc"] = np.asarray(result.extras["arc"])
    return (n, 1, 1), np.stack([x, y, value], axis=1), data


def slice_grid(result: Slice) -> Grid:
    """1D: :func:`_line_grid`; 2D: the height field (a, b, value); 3D: the cube (a, b, c)."""
    if result.dims == 1:
        return _line_grid(result)
    data = _value_columns(result)
    coefs = grid_coefficients(result.axes)
    nx, ny, nz = [len(a) for a in result.axes] + [1] * (3 - result.dims)
    dims = (nx, ny, nz)
    if result.dims == 2:  # a height field: the value is the third coordinate
        coefs = np.column_stack([coefs, next(iter(data.values()))])
    return dims, coefs, data


def _describe_slice(meta: dict) -> str:
    return (f"{meta.get('dims', '?')}D slice ({meta.get('direction_kind', '?')} directions, "
            f"{meta.get('geometry', '?')})")


def _describe_path(meta: dict) -> str:
    view = _view(meta)
    ends = f" {view['from']} -> {view['to']}" if "from" in view and "to" in view else ""
    return f"{meta.get('path_kind', '')} path{ends}".strip()


def _view(meta: dict) -> dict:
    return meta["view"] if isinstance(meta.get("view"), dict) else {}


# --------------------------------------------------------------------------- views without a grid


def funnel_table(result: Result) -> dict[str, np.ndarray]:
    a = result.arrays
    table = {k: a[k] for k in ("q_values", "q_counts", "q_lowest_energy", "q_entropy")}
    free = np.asarray(a["free_energy"])
    if free.shape != (len(a["temperatures"]), len(a["q_values"])):
        raise LandscapeError("funnel: free_energy does not match temperatures x q_values")
    for t, row in zip(np.asarray(a["temperatures"]).tolist(), free, strict=True):
        table[f"free_energy_T={t!r}"] = row
    return table


def funnel_grid(result: Result) -> Grid:
    """F(Q; T) per spin as the surface (Q, T, F), Q fastest (rows of free_energy follow T)."""
    a = result.arrays
    q, temps = np.asarray(a["q_values"], float), np.asarray(a["temperatures"], float)
    free = np.asarray(a["free_energy"], float)
    qq, tt = np.meshgrid(q, temps)
    points = np.stack([qq.ravel(), tt.ravel(), free.ravel()], axis=1)
    return (len(q), len(temps), 1), points, {"free_energy_per_spin": free.ravel()}


def sweep_table(result: Result) -> dict[str, np.ndarray]:
    a = result.arrays
    n, seed = np.meshgrid(np.asarray(a["sizes"]), np.asarray(a["seeds"]), indexing="ij")
    table = {"n": n.ravel(), "seed": seed.ravel()}
    for key in ("ground_basin_share", "minima_count", "largest_barrier", "folding_temperature"):
        table[key] = np.asarray(a[key]).ravel()
    return table


def minima_table(result: Result) -> dict[str, np.ndarray]:
    a = result.arrays
    if "train_loss" in a:  # network minima: one row per training seed
        keys = ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "diverged",
                "init_distance")
        return {"seed": a["seeds"], **{k: a[k] for k in keys if k in a}}
    per_descent = ("energies", "overlaps", "converged", "steps", "min_hessian_eig")
    return {"start": np.arange(len(a["energies"])), **{k: a[k] for k in per_descent if k in a}}


def _describe_minima(meta: dict) -> str:
    view = _view(meta)
    if "seeds" in view:
        return f"minima of {view['seeds']} training seeds"
    return f"minima of {view['starts']} descents" if "starts" in view else "minima of descents"


def enumeration_table(result: Result) -> dict[str, np.ndarray]:
    a = result.arrays
    return {"state": np.arange(len(a["energies"])), "energies": a["energies"],
            "overlaps": a["overlaps"]}


def free_energy_table(result: Result) -> dict[str, np.ndarray]:
    return {"q_values": result.arrays["q_values"], "free_energy": result.arrays["free_energy"]}


def free_energy_grid(result: Result) -> Grid:
    """F(Q; T) per spin at one temperature as the line (Q, 0, F)."""
    q = np.asarray(result.arrays["q_values"], float)
    free = np.asarray(result.arrays["free_energy"], float)
    return (len(q), 1, 1), np.stack([q, np.zeros_like(q), free], axis=1), {
        "free_energy_per_spin": free}


def spectrum_table(result: Result) -> dict[str, np.ndarray]:
    return {"t": result.arrays["grid"], "density": result.arrays["density"]}


def _describe_spectrum(meta: dict) -> str:
    if meta.get("exact"):
        return f"Hessian spectrum (exact, at the lowest of {_view(meta).get('starts')} minima)"
    return (f"Hessian spectrum ({meta.get('probes')} probes x {meta.get('lanczos_steps')} "
            "Lanczos steps)")


# --------------------------------------------------------------------------- the records


def drawn_by(module: str, name: str) -> Callable[[Result, dict | None], object]:
    """The figure builder ``landscapes.plots.<module>.<name>(result, display)``, imported on
    the first drawing."""
    def figure(result: Result, display: dict | None = None) -> object:
        return getattr(importlib.import_module(f"landscapes.plots.{module}"), name)(result, display)

    figure.__doc__ = f"landscapes.plots.{module}.{name}(result, display)"
    return figure


RECORDS = (
    ResultKind("slice", _describe_slice, slice_table, TABLE_NOTES["slice"], slice_grid,
               drawn_by("slices", "slice_figure"), grid=True),
    ResultKind("path", _describe_path, path_table, TABLE_NOTES["path"], _line_grid,
               drawn_by("slices", "path_view_figure"), grid=True),
    ResultKind("funnel", lambda meta: "funnel (exact enumeration, Q against the "
                                      f"{_view(meta).get('reference', 'native')} state)",
               funnel_table, TABLE_NOTES["funnel"], funnel_grid,
               drawn_by("funnel", "funnel_view_figure")),
    ResultKind("sweep", lambda meta: f"size sweep N = {_view(meta).get('n_min')}.."
                                     f"{_view(meta).get('n_max')}",
               sweep_table, TABLE_NOTES["sweep"], None, drawn_by("funnel", "sweep_view_figure")),
    ResultKind("minima", _describe_minima, minima_table, TABLE_NOTES["minima"], None,
               drawn_by("minima", "minima_figure")),
    ResultKind("enumeration", lambda meta: "enumeration", enumeration_table,
               TABLE_NOTES["enumeration"], None, drawn_by("funnel", "enumeration_figure")),
    ResultKind("free energy", lambda meta: f"free energy F(Q; T={meta.get('temperature')})",
               free_energy_table, TABLE_NOTES["free energy"], free_energy_grid,
               drawn_by("funnel", "free_energy_view_figure")),
    ResultKind("spectrum", _describe_spectrum, spectrum_table, TABLE_NOTES["spectrum"], None,
               drawn_by("minima", "spectrum_figure")),
)
for _record in RECORDS:
    register_result(_record)
