"""Per-panel downloads without a browser: which view a panel saves, and what each file holds.

A download reads the panel's current view from the cache only (the web process never computes);
the bytes are :func:`landscapes.io.formats.to_bytes` of that cached result.
"""

import base64
import io
import json
import re

import numpy as np
import pytest

from app import create_app, ids, panel_views
from app.callbacks.downloads import NOT_CACHED, NOTHING_SHOWN, download_file, download_request
from app.callbacks.panels import display_options, grid_request_of, panel_output, spec_of
from app.config import Config
from app.controls import DISPLAY_NAMES, MODEL_NAMES, THROUGH_MINIMA, defaults
from app.data import ViewStore
from landscapes import views
from landscapes.errors import LandscapeError
from landscapes.io import formats
from tests.unit.panels import panel_controls as controls
from tests.unit.reference import parse_vtk
from tests.unit.typed_arrays import typed_array

ISING = {"model": "ising", "n": 10, "native_bias": 2.0, "seed": 3}


@pytest.fixture
def store(tmp_path) -> ViewStore:
    return create_app(Config(cache_dir=tmp_path / "cache")).server.extensions["funnelscope_store"]


def first_request_of_the_panel(store: ViewStore, panel: dict, monkeypatch) -> str:
    """The cache key of the first view ``panel_output`` asks the store for (its main graph's)."""
    asked = []

    def record(spec, view, progress=None):
        asked.append(ViewStore.key(spec, view))
        raise LandscapeError("stop here")  # the panel turns it into a message

    monkeypatch.setattr(store, "get", record)
    panel_output(store, panel, {})
    monkeypatch.undo()
    assert asked, "the panel asked for no view"
    return asked[0]


@pytest.mark.parametrize(("kind", "model", "expected"), [
    ("slice", "ising", {"view": "slice", "dims": 2, "span": 1.0, "steps": 21,
                        "center": "minimum:0", "directions": "random"}),
    ("slice", "pspin", {"view": "slice", "dims": 2, "span": 1.0, "steps": 21,
                        "center": "minimum:0", "directions": "random"}),
    ("funnel", "ising", {"view": "funnel", "reference": "ground"}),
    ("sweep", "ising", {"view": "sweep"}),
    ("minima", "ising", {"view": "minima"}),
    ("minima", "pspin", {"view": "minima"}),
    ("minima", "network", {"view": "minima"}),
    ("spectrum", "pspin", {"view": "spectrum"}),
    ("spectrum", "network", {"view": "spectrum", "seed": 3}),
    ("slice", "network", {"view": "slice", "dims": 2, "span": 1.0, "steps": 21,
                          "directions": "filter", "direction_seed": 3}),
])
def test_the_download_is_the_view_the_panel_shows(store, monkeypatch, kind, model, expected):
    panel = controls(**{ids.VIEW: kind, ids.MODEL: model})
    spec, request = download_request(panel, {})
    assert spec == spec_of(panel, {}) and request == expected
    # the very request panel_output draws its main graph from (same cache key)
    assert ViewStore.key(spec, request) == first_request_of_the_panel(store, panel, monkeypatch)


def test_the_slice_download_follows_the_slice_controls():
    panel = controls(**{ids.SPAN: 0.5, ids.STEPS: 31, ids.DIRECTIONS: THROUGH_MINIMA,
                        ids.CENTER: "native", ids.PATH_TO: "ground"})
    assert download_request(panel, {}) == grid_request_of(panel, {})
    assert download_request(panel, {})[1] == {
        "view": "slice", "dims": 2, "span": 0.5, "steps": 31, "center": "native",
        "directions": THROUGH_MINIMA}


@pytest.mark.parametrize(("kind", "model", "net_source"), [
    ("funnel", "pspin", "moons-mlp"), ("sweep", "network", "moons-mlp"),
    ("minima", "network", "upload"),
])
def test_views_the_panel_refuses_have_nothing_to_download(store, kind, model, net_source):
    panel = controls(**{ids.VIEW: kind, ids.MODEL: model, ids.NET_SOURCE: net_source})
    with pytest.raises(LandscapeError, match="nothing to download"):
        download_request(panel, {})
    assert download_file(store, panel, {}, "npz") == (None, NOTHING_SHOWN)


@pytest.fixture
def cached_slice(store):
    """(the store, the panel's controls, the cached 21x21 slice it shows)."""
    panel = controls()
    result = store.get(*download_request(panel, {}))
    return store, panel, result


def payload(store: ViewStore, panel: dict, fmt: str) -> tuple[bytes, dict]:
    """The bytes of a successful download and its dcc.Download data."""
    data, status = download_file(store, panel, {}, fmt)
    assert status == "" and data is not None, status
    assert data["base64"] is True and data["type"] == formats.MEDIA_TYPES[fmt]
    return base64.b64decode(data["content"]), data


def test_npz_download_is_the_export_contract(cached_slice):
    store, panel, result = cached_slice
    content, data = payload(store, panel, "npz")
    with np.load(io.BytesIO(content), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["values"], result.values)
        np.testing.assert_array_equal(npz["x"], result.axes[0])
        np.testing.assert_array_equal(npz["y"], result.axes[1])
        assert npz["values"].shape == (21, 21) and npz["directions"].shape == (2, 10)
        assert json.loads(str(npz["meta"])) == result.meta
        assert npz["couplings"].shape == (10, 10)  # spin models carry their couplings
    assert data["filename"] == ("funnelscope-ising-n-10-native-bias-2-0-seed-3-2d-slice-random-"
                                "directions-sphere.npz")


def read_table(text: str) -> dict[str, np.ndarray]:
    """A CSV export's columns by name, read with numpy.loadtxt (skiprows from its first line)."""
    skip = int(re.search(r"skiprows=(\d+)", text.splitlines()[0]).group(1))
    names = text.splitlines()[skip - 1].split(",")
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip, ndmin=2)
    return dict(zip(names, table.T, strict=True))


def test_csv_download_reads_back_the_values(cached_slice):
    store, panel, result = cached_slice
    content, data = payload(store, panel, "csv")
    text = content.decode()
    table = read_table(text)
    assert list(table) == ["a", "b", "energy_per_spin"]
    np.testing.assert_array_equal(table["energy_per_spin"].reshape(21, 21), result.values)  # repr
    np.testing.assert_array_equal(table["a"][:21], result.axes[0])  # a fastest
    np.testing.assert_array_equal(table["b"][::21], result.axes[1])
    assert formats.read_csv_meta(text) == result.meta
    assert data["filename"].endswith("-2d-slice-random-directions-sphere.csv")


def test_vtk_download_is_a_height_field_of_the_values(cached_slice):
    store, panel, result = cached_slice
    content, data = payload(store, panel, "vtk")
    text = content.decode()
    assert text.startswith("# vtk DataFile Version 3.0\n") and "DATASET STRUCTURED_GRID" in text
    dims, points, scalars = parse_vtk(text)
    assert dims == (21, 21, 1)
    np.testing.assert_array_equal(points[:, 2].reshape(21, 21), result.values)  # the height
    np.testing.assert_array_equal(points[:21, 0], result.axes[0])
    np.testing.assert_array_equal(points[::21, 1], result.axes[1])
    np.testing.assert_array_equal(scalars["energy_per_spin"].reshape(21, 21), result.values)
    assert data["filename"].endswith(".vtk")


def test_html_download_is_a_standalone_figure_of_the_values(cached_slice):
    store, panel, result = cached_slice
    content, data = payload(store, panel, "html")
    text = content.decode()
    assert formats.read_html_meta(text) == result.meta
    assert "<script src=" not in text  # plotly.js inlined: works offline
    call = text.index("Plotly.newPlot(")
    traces, _ = json.JSONDecoder().raw_decode(text, text.index("[", call))
    surface = traces[0]
    assert surface["type"] == "surface"  # as float32, like the panel's
    np.testing.assert_array_equal(typed_array(surface["z"]).reshape(21, 21),
                                  result.values.astype(np.float32))
    np.testing.assert_array_equal(typed_array(surface["x"]), result.axes[0].astype(np.float32))
    assert data["filename"].endswith(".html")


def html_figure(text: str) -> dict:
    """The figure an HTML export passes to Plotly.newPlot: {"data": [...], "layout": {...}}."""
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(text, text.index("[", text.index("Plotly.newPlot(")))
    layout, _ = decoder.raw_decode(text, text.index("{", end))
    return {"data": data, "layout": layout}


CAMERA = {"eye": {"x": 0.3, "y": -1.8, "z": 0.9}, "up": {"x": 0, "y": 0, "z": 1},
          "center": {"x": 0, "y": 0, "z": 0}}


@pytest.mark.parametrize(("kind", "model", "plot"), [
    ("slice", "ising", "surface"), ("slice", "pspin", "heatmap"), ("slice", "ising", "contour"),
    ("funnel", "ising", "surface"), ("minima", "pspin", "surface"),
])
def test_the_html_download_shows_what_the_panel_shows(store, kind, model, plot):
    """The same builder draws the panel's main graph and the HTML page: with the panel's display
    options (plot type, colour scale, log, clip, camera) the figures are identical."""
    panel = controls(**{ids.VIEW: kind, ids.MODEL: model})
    display = {**display_options("Magma", ["log"], 99.0, plot, 9), "camera": CAMERA}
    if kind == "funnel":
        spec = spec_of(panel, {})
        shown = panel_views.funnel_panel(store, spec, [], panel[ids.REFERENCE], display=display)
    else:
        shown = panel_output(store, panel, {}, display=display)
    assert not shown.messages
    result = store.cached(*download_request(panel, {}))
    page = html_figure(formats.to_bytes(result, "html", display).decode())
    panel_figure = json.loads(shown.surface.to_json())
    # the panel's figure also carries its digest (the page's check before a redraw)
    assert re.fullmatch("[0-9a-f]{24}", panel_figure["layout"].pop("datarevision"))
    assert page == panel_figure
    if kind != "minima":
        assert page["data"][0]["type"] == plot
    if plot == "surface" and kind != "minima":
        assert page["layout"]["scene"]["camera"] == CAMERA


def test_every_format_of_one_view_shares_its_name(cached_slice):
    store, panel, result = cached_slice
    names = [payload(store, panel, fmt)[1]["filename"] for fmt in formats.FORMATS]
    stem = formats.file_name(result.meta, "npz").removesuffix(".npz")
    assert names == [stem + formats.suffix_of(fmt) for fmt in formats.FORMATS]
    assert tuple(ids.DOWNLOAD_BUTTONS) == formats.FORMATS  # one button per format
    with pytest.raises(LandscapeError, match="unknown format"):
        formats.file_name(result.meta, "png")


def test_an_uncached_view_is_not_computed_for_a_download(store, monkeypatch):
    monkeypatch.setattr(views, "compute", lambda *a, **k: pytest.fail("computed in the web process"))
    for kind in panel_views.PANEL_VIEWS:
        model = "pspin" if kind == "spectrum" else "ising"  # the Ising model has no spectrum
        panel = controls(**{ids.VIEW: kind, ids.MODEL: model})
        for fmt in formats.FORMATS:
            data, status = download_file(store, panel, {}, fmt)
            assert data is None and status == NOT_CACHED
            assert status.startswith("still computing: download when the view has appeared")
    assert store.computed == 0


def test_a_format_the_view_has_no_file_for_says_so(store):
    panel = controls(**{ids.VIEW: "minima", ids.MODEL: "pspin"})
    result = store.get(*download_request(panel, {}))
    data, status = download_file(store, panel, {}, "vtk")
    assert data is None and "has no grid to write as VTK" in status and "use csv" in status
    content, data = payload(store, panel, "csv")
    text = content.decode()
    assert formats.read_csv_meta(text) == result.meta
    assert data["filename"].startswith("funnelscope-pspin-n-16-p-3") and "minima" in data["filename"]
    np.testing.assert_array_equal(read_table(text)["energies"], result.arrays["energies"])


def _download_through_dash(tmp_path, panel: dict, fmt: str, camera: object = None) -> dict:
    """The registered callback's answer to a click on Download ``fmt``, called as the browser
    does (POST /_dash-update-component)."""
    app = create_app(Config(cache_dir=tmp_path / "cache"))  # the store's cache directory
    side = "left"
    outputs = [{"id": ids.pid(side, ids.DOWNLOAD), "property": "data"},
               {"id": ids.pid(side, ids.DOWNLOAD_STATUS), "property": "children"}]
    inputs = [{"id": ids.pid(side, name), "property": "n_clicks",
               "value": 1 if button == fmt else 0} for button, name in ids.DOWNLOAD_BUTTONS.items()]
    state = [{"id": ids.pid(side, name), "property": "value", "value": panel[name]}
             for name in MODEL_NAMES]
    state += [{"id": ids.pid(side, name), "property": "value", "value": value}
              for name, value in defaults(side).items() if name in DISPLAY_NAMES]
    state.append({"id": ids.pid(side, ids.UPLOADED), "property": "data", "value": {}})
    state.append({"id": ids.CAMERA, "property": "data", "value": camera})
    output = next(key for key in app.callback_map if f"..{outputs[0]['id']}.data..." in key)
    body = {"output": output, "outputs": outputs, "inputs": inputs, "state": state,
            "changedPropIds": [f"{ids.pid(side, ids.DOWNLOAD_BUTTONS[fmt])}.n_clicks"]}
    response = app.server.test_client().post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:500]
    return response.get_json()["response"]


def test_the_download_callback_answers_through_dash(cached_slice, tmp_path):
    store, panel, result = cached_slice
    answer = _download_through_dash(tmp_path, panel, "csv")
    data = answer[ids.pid("left", ids.DOWNLOAD)]["data"]
    text = base64.b64decode(data["content"]).decode()
    assert data["filename"].endswith(".csv") and formats.read_csv_meta(text) == result.meta
    assert answer[ids.pid("left", ids.DOWNLOAD_STATUS)]["children"] == ""


@pytest.mark.parametrize("camera", [5, "x", [1], {"eye": "x"}, {"eye": {"x": 1e308, "y": "a"}}])
def test_a_camera_no_page_has_leaves_the_html_file_at_the_default_view(cached_slice, tmp_path,
                                                                        camera):
    """Only a hand-made request sends one: it failed the HTML file ("could not be written")."""
    store, panel, result = cached_slice
    answer = _download_through_dash(tmp_path, panel, "html", camera)
    assert answer[ids.pid("left", ids.DOWNLOAD)]["data"]["filename"].endswith(".html")
    assert answer[ids.pid("left", ids.DOWNLOAD_STATUS)]["children"] == ""
