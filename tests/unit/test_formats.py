"""Export formats (CSV, legacy VTK, standalone HTML): each file read back by an independent reader.

The CSV is parsed with numpy and the csv module, the VTK file by the small token reader below
(and by VTK / meshio when one of them happens to be importable; neither is a dependency), the
HTML by pulling the figure JSON out of its ``Plotly.newPlot`` call. Grids are non-square so a
transposed axis cannot pass.
"""

import csv
import io
import json
import re

import numpy as np
import pytest
import torch

from landscapes import cli, registry, views
from landscapes.errors import LandscapeError
from landscapes.io import formats, text
from landscapes.io.npz import read_npz
from landscapes.networks import views as network_views
from landscapes.plots import funnel as funnel_plots
from landscapes.plots import minima as minima_plots
from landscapes.plots import slices as slice_plots
from landscapes.results import ViewResult
from landscapes.slices import Slice
from landscapes.sphere import retract
from tests.unit.reference import energy_from_export
from tests.unit.typed_arrays import decoded

# --------------------------------------------------------------------------- readers


def read_csv(text: str) -> tuple[list[str], np.ndarray, dict]:
    """(column names, rows as floats, meta) using only the csv module and json."""
    lines = text.splitlines()
    comments = [ln for ln in lines if ln.startswith("#")]
    meta_lines = [ln for ln in comments if ln.startswith("# meta: ")]
    assert len(meta_lines) == 1
    body = [ln for ln in lines if not ln.startswith("#")]
    rows = list(csv.reader(io.StringIO("\n".join(body))))
    header, data = rows[0], rows[1:]
    return header, np.array([[float(v) for v in r] for r in data]), json.loads(meta_lines[0][8:])


def loadtxt(text: str) -> np.ndarray:
    """numpy.loadtxt with the skiprows the file's first line states."""
    skip = int(re.search(r"skiprows=(\d+)", text.splitlines()[0]).group(1))
    return np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip, ndmin=2)


def read_vtk(text: str) -> dict:
    """A minimal legacy-VTK reader for ASCII STRUCTURED_GRID files (written from the spec)."""
    lines = text.split("\n")
    assert lines[0] == "# vtk DataFile Version 3.0" and lines[2] == "ASCII"
    assert len(lines[1]) < 256
    tokens = " ".join(lines[3:]).split()
    out: dict = {"title": lines[1], "field": {}, "point_data": {}}
    pos = 0

    def take(n: int) -> list[str]:
        nonlocal pos
        pos += n
        return tokens[pos - n : pos]

    assert take(2) == ["DATASET", "STRUCTURED_GRID"]
    while pos < len(tokens):
        key = take(1)[0]
        if key == "FIELD":
            _, count = take(2)
            for _ in range(int(count)):
                name, comps, tuples, _dtype = take(4)
                out["field"][name] = np.array(take(int(comps) * int(tuples)), dtype=np.int64)
        elif key == "DIMENSIONS":
            out["dims"] = tuple(int(v) for v in take(3))
        elif key == "POINTS":
            count, dtype = take(2)
            assert dtype == "double"
            out["points"] = np.array(take(3 * int(count)), dtype=float).reshape(-1, 3)
        elif key == "POINT_DATA":
            out["count"] = int(take(1)[0])
        elif key == "SCALARS":
            name, _dtype, comps = take(3)
            assert take(2) == ["LOOKUP_TABLE", "default"]
            n = out["count"] * int(comps)
            arr = np.array(take(n), dtype=float)
            out["point_data"][name] = arr if comps == "1" else arr.reshape(-1, int(comps))
        else:
            raise AssertionError(f"unexpected keyword {key!r}")
    out["meta"] = json.loads(bytes(out["field"]["meta_json"].astype(np.uint8)).decode())
    return out


def check_with_vtk_libraries(path, points: np.ndarray, arrays: dict) -> None:
    """Read with VTK's own legacy reader and with meshio, when importable (optional)."""
    try:
        import vtk
        from vtk.util.numpy_support import vtk_to_numpy
    except ImportError:
        vtk = None
    if vtk is not None:
        reader = vtk.vtkStructuredGridReader()
        reader.SetFileName(str(path))
        reader.ReadAllScalarsOn()
        reader.Update()
        grid = reader.GetOutput()
        assert np.allclose(vtk_to_numpy(grid.GetPoints().GetData()), points)
        for name, arr in arrays.items():
            assert np.allclose(vtk_to_numpy(grid.GetPointData().GetArray(name)), arr)
    try:
        import meshio
    except ImportError:
        return
    mesh = meshio.read(str(path))
    assert np.allclose(mesh.points, points)
    for name, arr in arrays.items():
        assert np.allclose(np.asarray(mesh.point_data[name]).reshape(np.shape(arr)), arr)


def html_figure(text: str) -> dict:
    """The figure passed to Plotly.newPlot in an HTML export: {"data": traces, "layout": ...}, as
    JSON (typed arrays still encoded)."""
    start = re.search(rf'Plotly\.newPlot\(\s*"{formats.FIGURE_ID}",', text).end()
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(text, text.index("[", start))
    layout, _ = decoder.raw_decode(text, text.index("{", end))
    return {"data": data, "layout": layout}


def html_figure_data(text: str) -> list[dict]:
    """The traces passed to Plotly.newPlot in an HTML export (typed arrays decoded)."""
    return [{k: decoded(v) for k, v in trace.items()} for trace in html_figure(text)["data"]]


def plain(meta: dict) -> dict:
    return json.loads(json.dumps(meta))


# --------------------------------------------------------------------------- results


def _narrow(s: Slice, shape: tuple[int, ...]) -> Slice:
    """The same slice on a non-square sub-grid (first entries of each axis)."""
    axes = [ax[:n] for ax, n in zip(s.axes, shape[::-1], strict=True)]
    index = tuple(slice(0, n) for n in shape)
    extras = {k: v[index] if np.shape(v) == s.values.shape else v for k, v in s.extras.items()}
    return Slice(axes, s.values[index], s.center, s.directions, s.geometry, s.meta, extras)


@pytest.fixture(scope="module")
def ising_2d() -> Slice:
    s = views.compute({"model": "ising", "n": 10, "native_bias": 1.0, "seed": 3},
                      {"view": "slice", "steps": 7, "span": 0.6})
    return _narrow(s, (5, 7))  # ny = 5, nx = 7


@pytest.fixture(scope="module")
def pspin_3d() -> Slice:
    s = views.compute({"model": "pspin", "n": 12, "p": 3, "planted": 0.5},
                      {"view": "slice", "dims": 3, "steps": 5, "span": 0.5})
    return _narrow(s, (3, 4, 5))  # nz = 3, ny = 4, nx = 5


@pytest.fixture(scope="module")
def pspin_1d() -> Slice:
    return views.compute({"model": "pspin", "n": 12, "p": 3}, {"view": "slice", "dims": 1,
                                                               "steps": 9})


@pytest.fixture(scope="module")
def ising_path() -> Slice:
    return views.compute({"model": "ising", "n": 8, "native_bias": 0.5},
                         {"view": "path", "from": "native", "to": "minimum:1", "steps": 11})


@pytest.fixture(scope="module")
def funnel() -> ViewResult:
    return views.compute({"model": "ising", "n": 8, "native_bias": 1.5},
                         {"view": "funnel", "temperatures": 4})


@pytest.fixture(scope="module")
def network_slice(tmp_path_factory) -> Slice:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machine is oversubscribed
    try:
        source = network_views.example_source("moons-mlp",
                                               tmp_path_factory.mktemp("cache") / "examples")
        s = network_views.compute_slice(source, {"dims": 2, "steps": 5, "span": 0.5})
    finally:
        torch.set_num_threads(before)
    return _narrow(s, (4, 5))


def _recompute(s: Slice, coefs: np.ndarray) -> float:
    """Energy per spin at the slice point with these coefficients, from the formulas alone."""
    point = s.center + coefs @ s.directions
    if s.geometry == "sphere":
        point = retract(torch.as_tensor(point)).numpy()
    return energy_from_export(s.extras, s.meta, point)


# --------------------------------------------------------------------------- choosing formats


@pytest.mark.parametrize(
    ("name", "explicit", "expected"),
    [("a.npz", None, "npz"), ("a.CSV", None, "csv"), ("a.vtk", None, "vtk"),
     ("a.html", None, "html"), ("a.htm", None, "html"), ("a", None, "npz"),
     ("a", "vtk", "vtk"), ("a.txt", "csv", "csv"), ("a.csv", "csv", "csv")],
)
def test_format_from_suffix_or_explicit(name, explicit, expected):
    assert formats.format_from_path(name, explicit) == expected


def test_format_errors_are_specific():
    with pytest.raises(LandscapeError) as err:
        formats.format_from_path("out/x.npz", "csv")
    assert str(err.value) == ("x.npz ends in .npz but the format is csv; name the file *.csv "
                              "or choose format npz")
    with pytest.raises(LandscapeError, match="cannot tell the format of x.dat from its suffix"):
        formats.format_from_path("x.dat")
    with pytest.raises(LandscapeError, match="unknown format 'png'; choose npz, csv, vtk or html"):
        formats.format_from_path("x", "png")
    with pytest.raises(LandscapeError) as err:
        formats.check_format("sweep", "vtk")
    assert str(err.value) == ("a sweep view has no grid to write as VTK (VTK is for slice, path, "
                              "funnel and free energy views); use csv, html or npz")


# --------------------------------------------------------------------------- CSV


def test_csv_of_a_2d_slice_is_the_grid_in_design_order(ising_2d):
    s = ising_2d
    text = formats.to_csv(s)
    header, rows, meta = read_csv(text)
    assert header == ["a", "b", "energy_per_spin"]
    assert np.array_equal(loadtxt(text), rows)  # numpy reads the same numbers
    x, y = s.axes
    assert rows.shape == (len(x) * len(y), 3) and s.values.shape == (5, 7)
    assert np.array_equal(rows[:, 0], np.tile(x, len(y)))  # a varies fastest
    assert np.array_equal(rows[:, 1], np.repeat(y, len(x)))
    grid = rows[:, 2].reshape(len(y), len(x))
    assert np.array_equal(grid, s.values)  # exact: numbers are written to round-trip
    for i, j in [(0, 0), (0, 6), (4, 1), (2, 3)]:  # values[i, j] is at (x[j], y[i])
        row = rows[i * len(x) + j]
        assert (row[0], row[1]) == (x[j], y[i])
        assert row[2] == pytest.approx(_recompute(s, row[:2]), abs=1e-12)
    assert meta == plain(s.meta)
    assert meta["model"] == {"model": "ising", "n": 10, "native_bias": 1.0, "seed": 3}
    assert meta["geometry"] == "sphere" and meta["unit"] == "energy per spin"


def test_csv_of_3d_and_1d_slices(pspin_3d, pspin_1d):
    header, rows, meta = read_csv(formats.to_csv(pspin_3d))
    x, y, z = pspin_3d.axes
    assert header == ["a", "b", "c", "energy_per_spin"] and pspin_3d.values.shape == (3, 4, 5)
    assert np.array_equal(rows[:, 0], np.tile(x, len(y) * len(z)))
    assert np.array_equal(rows[:, 1], np.tile(np.repeat(y, len(x)), len(z)))
    assert np.array_equal(rows[:, 2], np.repeat(z, len(x) * len(y)))
    assert np.array_equal(rows[:, 3].reshape(3, 4, 5), pspin_3d.values)
    k, i, j = 2, 1, 3
    row = rows[(k * len(y) + i) * len(x) + j]
    assert row[3] == pytest.approx(_recompute(pspin_3d, np.array([x[j], y[i], z[k]])), abs=1e-12)
    assert meta["dims"] == 3
    header, rows, _ = read_csv(formats.to_csv(pspin_1d))
    assert header == ["a", "energy_per_spin"]
    assert np.array_equal(rows[:, 0], pspin_1d.axes[0])
    assert np.array_equal(rows[:, 1], pspin_1d.values)


def test_csv_of_a_path(ising_path):
    header, rows, meta = read_csv(formats.to_csv(ising_path))
    assert header == ["t", "arc", "energy_per_spin"]
    assert np.array_equal(rows[:, 0], ising_path.axes[0])
    assert np.array_equal(rows[:, 1], ising_path.extras["arc"])
    assert np.array_equal(rows[:, 2], ising_path.values)
    assert rows[0, 1] == 0.0 and rows[-1, 1] == 1.0
    assert meta["kind"] == "path" and meta["path_kind"] == "geodesic"


def test_csv_keeps_non_finite_values(ising_2d):
    s = _with_holes(ising_2d)
    rows = loadtxt(formats.to_csv(s))
    got = rows[:, 2].reshape(s.values.shape)
    assert np.isnan(got[1, 2]) and got[3, 4] == np.inf and got[0, 0] == -np.inf
    assert np.array_equal(np.isfinite(got), np.isfinite(s.values))


def test_csv_of_a_network_slice_has_every_metric(network_slice):
    s = network_slice
    header, rows, meta = read_csv(formats.to_csv(s))
    assert header == ["a", "b", "loss", "test_loss", "train_accuracy", "test_accuracy"]
    assert "trajectory_coords" not in header
    x, y = s.axes
    assert np.array_equal(rows[:, 0], np.tile(x, len(y)))
    assert np.array_equal(rows[:, 2].reshape(s.values.shape), s.values)
    for k, name in enumerate(header[3:], start=3):
        assert np.array_equal(rows[:, k].reshape(s.values.shape), s.extras[name])
    assert np.all((rows[:, 4] >= 0) & (rows[:, 4] <= 1))
    assert meta["model"] == {"model": "network", "example": "moons-mlp"}
    assert meta["unit"] == "loss" and meta["parameter_order"] == "named_parameters() flattened"


def test_csv_of_the_funnel_view_is_one_row_per_overlap(funnel):
    a = funnel.arrays
    header, rows, meta = read_csv(formats.to_csv(funnel))
    temps = a["temperatures"]
    assert header[:4] == ["q_values", "q_counts", "q_lowest_energy", "q_entropy"]
    assert header[4:] == [f"free_energy_T={t!r}" for t in temps.tolist()]
    assert rows.shape == (9, 4 + len(temps))  # N + 1 = 9 overlaps
    for k, name in enumerate(header[:4]):
        assert np.array_equal(rows[:, k], a[name])
    assert np.array_equal(rows[:, 4:], a["free_energy"].T)
    assert rows[:, 1].sum() == 2**8
    assert meta == plain(funnel.meta)


def test_a_long_download_name_is_cut_between_words():
    """The p-spin minima's name ran past 80 characters and was cut mid-word
    (``...minima-of-64-desce.npz``): it now ends at the last whole word that fits."""
    minima = views.compute({"model": "pspin", "n": 12, "p": 3}, {"view": "minima", "starts": 3})
    whole = re.sub(r"[^0-9a-z]+", "-", f"funnelscope {text.describe(minima.meta)}".lower())
    assert len(whole) > 80  # the name to cut
    stem = formats.file_name(minima.meta, "npz").removesuffix(".npz")
    assert len(stem) <= 80 and whole.startswith(stem + "-")  # a whole word ends the cut
    short = views.compute({"model": "ising", "n": 8}, {"view": "path", "from": "random:0",
                                                       "to": "minimum:0", "kind": "linear",
                                                       "steps": 5})
    assert formats.file_name(short.meta, "csv").removesuffix(".csv") == re.sub(
        r"[^0-9a-z]+", "-", f"funnelscope {text.describe(short.meta)}".lower()).strip("-")


def test_csv_of_sweep_and_minima_views():
    sweep = views.compute({"model": "ising", "native_bias": 1.0},
                          {"view": "sweep", "n_min": 4, "n_max": 6, "seeds": 2})
    header, rows, _ = read_csv(formats.to_csv(sweep))
    assert header == ["n", "seed", "ground_basin_share", "minima_count", "largest_barrier",
                      "folding_temperature"]
    assert rows[:, 0].tolist() == [4, 4, 5, 5, 6, 6] and rows[:, 1].tolist() == [0, 1] * 3
    assert np.array_equal(rows[:, 3], sweep.arrays["minima_count"].ravel())
    minima = views.compute({"model": "pspin", "n": 12, "p": 3}, {"view": "minima", "starts": 3})
    header, rows, _ = read_csv(formats.to_csv(minima))
    assert header == ["start", "energies", "overlaps", "converged", "steps", "min_hessian_eig"]
    assert rows[:, 0].tolist() == [0, 1, 2]
    assert np.array_equal(rows[:, 1], minima.arrays["energies"])
    assert set(rows[:, 3]) <= {0.0, 1.0}


def test_a_kind_is_written_only_as_its_record_allows():
    odd = ViewResult({"u": np.arange(3), "v": np.arange(4)}, {"kind": "mystery"})
    with pytest.raises(LandscapeError, match="unknown kind of result 'mystery'; known: slice, "):
        formats.to_csv(odd)
    registry.register_result(registry.ResultKind("mystery", lambda meta: "a mystery"))
    try:
        with pytest.raises(LandscapeError, match="a mystery view has no single table"):
            formats.to_csv(odd)
        with pytest.raises(LandscapeError, match=r"mystery view has no grid .* views\); use npz$"):
            formats.to_vtk(odd)
        with pytest.raises(LandscapeError, match="no html export for 'mystery' views"):
            formats.to_html(odd)
        formats.check_format("mystery", "npz")
        assert formats.file_name(odd.meta, "npz") == "funnelscope-model-a-mystery.npz"
    finally:
        registry.unregister_result("mystery")


# --------------------------------------------------------------------------- VTK


def test_vtk_of_a_2d_slice_is_a_height_field(ising_2d, tmp_path):
    s = ising_2d
    path = formats.write(s, tmp_path / "s.vtk")
    vtk = read_vtk(path.read_text())
    x, y = s.axes
    assert vtk["dims"] == (7, 5, 1) and vtk["count"] == 35 and len(vtk["points"]) == 35
    expected = np.stack([np.tile(x, 5), np.repeat(y, 7), s.values.ravel()], axis=1)
    assert np.array_equal(vtk["points"], expected)
    assert np.array_equal(vtk["point_data"]["energy_per_spin"], s.values.ravel())
    assert set(vtk["point_data"]) == {"energy_per_spin"}  # no 'valid' mask: all finite
    assert vtk["meta"] == plain(s.meta)
    assert "ising" in vtk["title"] and "2D slice" in vtk["title"]
    check_with_vtk_libraries(path, expected, {"energy_per_spin": s.values.ravel()})


def test_vtk_of_3d_and_1d_slices_and_a_path(pspin_3d, pspin_1d, ising_path, tmp_path):
    vtk = read_vtk(formats.to_vtk(pspin_3d))
    x, y, z = pspin_3d.axes
    assert vtk["dims"] == (5, 4, 3) and vtk["count"] == 60
    assert np.array_equal(vtk["points"][:, 0], np.tile(x, 12))
    assert np.array_equal(vtk["points"][:, 2], np.repeat(z, 20))
    assert np.array_equal(vtk["point_data"]["energy_per_spin"], pspin_3d.values.ravel())
    vtk = read_vtk(formats.to_vtk(pspin_1d))
    assert vtk["dims"] == (9, 1, 1)
    assert np.array_equal(vtk["points"], np.stack(
        [pspin_1d.axes[0], np.zeros(9), pspin_1d.values], axis=1))
    path = formats.write(ising_path, tmp_path / "p.vtk")
    vtk = read_vtk(path.read_text())
    assert vtk["dims"] == (11, 1, 1)
    assert np.array_equal(vtk["points"][:, 2], ising_path.values)
    assert np.array_equal(vtk["point_data"]["arc"], ising_path.extras["arc"])
    assert vtk["meta"]["kind"] == "path"
    check_with_vtk_libraries(path, vtk["points"], {"arc": ising_path.extras["arc"]})


def test_vtk_never_writes_nan_and_marks_those_points(ising_2d, tmp_path):
    s = _with_holes(ising_2d)
    text = formats.to_vtk(s)
    assert not re.search(r"\b(nan|inf)\b", text, flags=re.I)
    vtk = read_vtk(text)
    bad = ~np.isfinite(s.values.ravel())
    assert np.array_equal(vtk["point_data"]["valid"], (~bad).astype(float))
    top = np.nanmax(np.where(bad, np.nan, s.values.ravel()))
    assert np.all(vtk["points"][bad, 2] == top)  # capped at the largest finite value
    assert np.array_equal(vtk["points"][~bad, 2], s.values.ravel()[~bad])
    assert np.array_equal(vtk["points"][:, :2][bad], np.stack(  # coefficients untouched
        [np.tile(s.axes[0], 5), np.repeat(s.axes[1], 7)], axis=1)[bad])
    path = tmp_path / "holes.vtk"
    path.write_text(text)
    check_with_vtk_libraries(path, vtk["points"], {"valid": vtk["point_data"]["valid"]})


def test_vtk_of_a_network_slice_and_the_funnel(network_slice, funnel):
    vtk = read_vtk(formats.to_vtk(network_slice))
    assert set(vtk["point_data"]) == {"loss", "test_loss", "train_accuracy", "test_accuracy"}
    assert np.array_equal(vtk["point_data"]["test_loss"], network_slice.extras["test_loss"].ravel())
    assert np.array_equal(vtk["points"][:, 2], network_slice.values.ravel())
    vtk = read_vtk(formats.to_vtk(funnel))
    a = funnel.arrays
    nq, nt = len(a["q_values"]), len(a["temperatures"])
    assert vtk["dims"] == (nq, nt, 1)
    assert np.array_equal(vtk["points"][:, 0], np.tile(a["q_values"], nt))
    assert np.array_equal(vtk["points"][:, 1], np.repeat(a["temperatures"], nq))
    assert np.array_equal(vtk["points"][:, 2], a["free_energy"].ravel())


def test_vtk_refuses_views_without_a_grid():
    sweep = ViewResult({"sizes": np.arange(3)}, {"kind": "sweep"})
    with pytest.raises(LandscapeError, match="sweep view has no grid to write as VTK"):
        formats.to_vtk(sweep)


# --------------------------------------------------------------------------- HTML


def test_html_of_a_2d_slice_embeds_surface_and_meta(ising_2d, tmp_path):
    path = formats.write(ising_2d, tmp_path / "s.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert f'<div id="{formats.FIGURE_ID}" class="plotly-graph-div"' in text
    assert re.search(r"plotly\.js v\d", text)  # the library is inlined: works offline
    assert '<script src="https://cdn.plot.ly' not in text
    trace = html_figure_data(text)[0]  # then the centre's marker, as on the dashboard
    assert trace["type"] == "surface"
    assert np.array_equal(trace["z"], ising_2d.values.astype(np.float32))
    assert np.array_equal(trace["x"], ising_2d.axes[0].astype(np.float32))
    assert np.array_equal(trace["y"], ising_2d.axes[1].astype(np.float32))
    assert formats.read_html_meta(text) == plain(ising_2d.meta)
    assert "<title>Funnelscope: ising n=10 native_bias=1.0 seed=3 - 2D slice" in text


def test_html_of_other_views(pspin_3d, ising_path, network_slice, funnel):
    (trace,) = html_figure_data(formats.to_html(pspin_3d))
    assert trace["type"] == "isosurface"
    assert np.array_equal(trace["value"], pspin_3d.values.ravel().astype(np.float32))
    traces = html_figure_data(formats.to_html(ising_path))
    assert traces[0]["type"] == "scatter"
    assert np.array_equal(traces[0]["x"], ising_path.extras["arc"].astype(np.float32))
    assert np.array_equal(traces[0]["y"], ising_path.values.astype(np.float32))
    text = formats.to_html(network_slice)
    assert np.array_equal(html_figure_data(text)[0]["z"], network_slice.values.astype(np.float32))
    assert formats.read_html_meta(text)["architecture"] == network_slice.meta["architecture"]
    text = formats.to_html(funnel)
    traces = html_figure_data(text)
    assert [t["type"] for t in traces] == ["surface", "scatter3d"]  # the 3D folding funnel
    assert np.array_equal(traces[1]["z"], funnel.arrays["minimum_energies"])
    assert formats.read_html_meta(text)["kind"] == "funnel"


def test_meta_cannot_close_the_script_block(ising_path):
    tricky = Slice(ising_path.axes, ising_path.values, ising_path.center,
                   ising_path.directions, ising_path.geometry,
                   {**ising_path.meta, "note": "</script><b>&"}, ising_path.extras)
    text = formats.to_html(tricky)
    assert "</script><b>" not in text
    assert formats.read_html_meta(text)["note"] == "</script><b>&"


def _cli_result(tmp_path_factory, *argv: str) -> ViewResult:
    """A result the command line makes (written as .npz and read back)."""
    out = tmp_path_factory.mktemp("cli") / "result.npz"
    assert cli.main([*argv, "--out", str(out)]) == 0
    return ViewResult(*read_npz(out))


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory) -> dict[str, ViewResult]:
    return {
        "enumeration": _cli_result(tmp_path_factory, "enumerate", "ising", "--n", "8"),
        "free energy": _cli_result(tmp_path_factory, "funnel", "ising", "--n", "8",
                                   "--temperature", "0.5"),
        "sweep": views.compute({"model": "ising", "native_bias": 1.0},
                               {"view": "sweep", "n_min": 4, "n_max": 6, "seeds": 2}),
        "minima": views.compute({"model": "pspin", "n": 12, "p": 3},
                                {"view": "minima", "starts": 3}),
    }


CAMERA = {"eye": {"x": -1.2, "y": 0.4, "z": 2.0}, "up": {"x": 0, "y": 0, "z": 1},
          "center": {"x": 0, "y": 0, "z": 0}}
PANEL_DISPLAY = {"colorscale": "Cividis", "log": False, "clip": 95.0, "kind": "surface",
                 "levels": 12, "weight_decay": 0.0, "camera": CAMERA}
DASHBOARD_BUILDERS = {  # result -> the dashboard's builder of the panel's main graph
    "ising_2d": lambda r, d: slice_plots.surface_figure(r, d),
    "network_slice": lambda r, d: slice_plots.surface_figure(r, {**d, "kind": "contour"}),
    "pspin_3d": lambda r, d: slice_plots.volume_figure(r, d),
    "pspin_1d": lambda r, d: slice_plots.line_figure(r, d),
    "ising_path": lambda r, d: slice_plots.path_figure([r], d),
    "funnel": lambda r, d: funnel_plots.funnel_view_figure(r, d),
    "sweep": lambda r, d: funnel_plots.sweep_view_figure(r, d),
    "minima": lambda r, d: minima_plots.minima_histogram(r),
    "enumeration": lambda r, d: funnel_plots.enumeration_figure(r, d),
    "free energy": lambda r, d: funnel_plots.free_energy_view_figure(r, d),
}


@pytest.mark.parametrize("name", list(DASHBOARD_BUILDERS))
def test_html_embeds_the_dashboard_figure(name, request, cli_results):
    """The page's figure is the dashboard's, drawn with the panel's display options: the same
    traces (types, values, colour scale), layout and 3D camera."""
    result = cli_results[name] if name in cli_results else request.getfixturevalue(name)
    display = {**PANEL_DISPLAY, "kind": "contour"} if name == "network_slice" else PANEL_DISPLAY
    expected = json.loads(DASHBOARD_BUILDERS[name](result, display).to_json())
    embedded = html_figure(formats.to_html(result, display))
    assert embedded == expected
    if name in ("ising_2d", "pspin_3d", "funnel"):  # 3D scenes: the panel's camera
        assert embedded["layout"]["scene"]["camera"] == CAMERA
    if name in ("ising_2d", "pspin_3d", "network_slice"):  # the panel's colour scale
        assert embedded["data"][0]["colorscale"][0] == [0.0, "#00224e"]  # Cividis starts there
    assert formats.to_bytes(result, "html", display).decode() == formats.to_html(result, display)


def _toy_table(result: ViewResult) -> dict[str, np.ndarray]:
    return {"x": result.arrays["x"], "height": result.arrays["height"]}


def _toy_grid(result: ViewResult) -> tuple:
    x, height = result.arrays["x"], result.arrays["height"]
    return (len(x), 1, 1), np.stack([x, np.zeros_like(x), height], axis=1), {"height": height}


def _toy_figure(result: ViewResult, display: dict | None):
    import plotly.graph_objects as go

    return go.Figure(go.Scatter(x=result.arrays["x"], y=result.arrays["height"], name="toy"))


def test_a_kind_registered_alone_is_written_in_every_format(tmp_path):
    """A result kind's record is all a writer needs: registered here, nowhere else."""
    record = registry.ResultKind("toy", lambda meta: f"toy of {meta['count']}", _toy_table,
                                 "one row per x", _toy_grid, _toy_figure)
    x = np.linspace(0.0, 1.0, 5)
    result = ViewResult({"x": x, "height": x**2, "matrix": np.eye(3)},
                        {"kind": "toy", "count": 5, "unit": "height", "model": {"model": "toy"}})
    registry.register_result(record)
    try:
        for fmt in formats.FORMATS:
            formats.check_format("toy", fmt)
        paths = {fmt: formats.write(result, tmp_path / f"toy.{fmt}") for fmt in formats.FORMATS}
        arrays, meta = read_npz(paths["npz"])
        assert meta == result.meta and np.array_equal(arrays["matrix"], np.eye(3))
        text = paths["csv"].read_text()
        header, rows, meta = read_csv(text)
        assert header == ["x", "height"] and meta == result.meta
        assert np.array_equal(rows, np.stack([x, x**2], axis=1)) and "# columns: one row per x" in text
        vtk = read_vtk(paths["vtk"].read_text())
        assert vtk["dims"] == (5, 1, 1) and vtk["meta"] == result.meta
        assert np.array_equal(vtk["points"][:, 2], x**2)
        assert np.array_equal(vtk["point_data"]["height"], x**2)
        assert "toy - toy of 5" in vtk["title"]
        text = paths["html"].read_text()
        assert formats.read_html_meta(text) == result.meta
        (trace,) = html_figure_data(text)
        assert trace["name"] == "toy" and np.array_equal(trace["y"], x**2)
        assert formats.file_name(result.meta, "csv") == "funnelscope-toy-toy-of-5.csv"
    finally:
        registry.unregister_result("toy")
    with pytest.raises(LandscapeError, match="unknown kind of result 'toy'"):
        formats.to_csv(result)


# --------------------------------------------------------------------------- writing


def test_write_dispatches_on_suffix_and_npz_keeps_the_contract(ising_2d, tmp_path):
    for fmt in formats.FORMATS:
        path = formats.write(ising_2d, tmp_path / f"x.{fmt}")
        assert path == tmp_path / f"x.{fmt}"
        assert formats.to_bytes(ising_2d, fmt)[:4] == path.read_bytes()[:4]
    arrays, meta = read_npz(tmp_path / "x.npz")
    assert np.array_equal(arrays["values"], ising_2d.values) and meta == plain(ising_2d.meta)
    assert formats.write(ising_2d, tmp_path / "y.dat", "csv").read_text().startswith("# numpy")
    with pytest.raises(LandscapeError, match="ends in .csv but the format is vtk"):
        formats.write(ising_2d, tmp_path / "z.csv", "vtk")
    assert not (tmp_path / "z.csv").exists()


def _with_holes(s: Slice) -> Slice:
    values = s.values.copy()
    values[1, 2], values[3, 4], values[0, 0] = np.nan, np.inf, -np.inf
    return Slice(s.axes, values, s.center, s.directions, s.geometry, s.meta, s.extras)
