"""Downloads and plot types in a real browser: each Download button of the left panel saves the
slice on screen (re-read and compared with the graph's own data), and the plot type redraws
the same values as a heatmap or contour map without computing anything."""

import io
import json
import re
import time

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from landscapes.io import formats
from tests.e2e.conftest import download_side, query, wait_query
from tests.unit.reference import parse_vtk
from tests.unit.typed_arrays import typed_array

UPDATE_MS = 60_000
REDRAW_S = 10.0  # a redraw from the cache; a recompute of the 51x51 slice would show progress
GRAPH = "document.querySelector('#{id} .js-plotly-plot')"
# the first trace of a graph: its type and z as sent (a typed-array spec) or as arrays
TRACE = """id => {
    const gd = document.querySelector(`#${id} .js-plotly-plot`);
    const t = gd && gd.data && gd.data[0];
    if (!t) { return null; }
    const z = t.z && t.z.bdata !== undefined ? t.z : Array.from(t.z, row => Array.from(row));
    return {type: t.type, z: z, title: gd.layout.title ? gd.layout.title.text : ''};
}"""
EYE = """id => {
    const gd = document.querySelector(`#${id} .js-plotly-plot`);
    const scene = gd && gd._fullLayout && gd._fullLayout.scene;
    return scene ? [scene.camera.eye.x, scene.camera.eye.y, scene.camera.eye.z] : null;
}"""
# records whether the left panel's progress row (shown while a background job runs) is shown
WATCH_PROGRESS = """() => {
    const row = document.getElementById('left-progress-row');
    window.__progressShown = false;
    const check = () => { if (row.style.display !== 'none') { window.__progressShown = true; } };
    window.__progressObserver = new MutationObserver(check);
    window.__progressObserver.observe(row, {attributes: true, attributeFilter: ['style']});
    check();
}"""


def trace(page: Page, side: str = "left") -> dict:
    """The first trace of a panel's main graph: type, z (numpy, as drawn) and the title."""
    state = page.evaluate(TRACE, f"{side}-surface")
    state["z"] = typed_array(state["z"])
    return state


def wait_full_grid(page: Page) -> None:
    """The left panel's job is done: the requested 51x51 grid is drawn (not the 13x13 preview),
    the paths below it too, and the progress row is hidden again."""
    page.wait_for_function(
        f"() => {{ const t = {GRAPH.format(id='left-surface')}?.layout?.title?.text;"
        " return !!t && !t.includes('preview'); }", timeout=UPDATE_MS)
    page.wait_for_function(f"() => {GRAPH.format(id='left-path')}?.data?.length === 2",
                           timeout=UPDATE_MS)
    expect(page.locator("#left-progress-row")).to_be_hidden(timeout=UPDATE_MS)


def download(page: Page, fmt: str) -> tuple[bytes, str]:
    return download_side(page, "left", fmt)


def read_table(text: str) -> dict[str, np.ndarray]:
    skip = int(re.search(r"skiprows=(\d+)", text.splitlines()[0]).group(1))
    names = text.splitlines()[skip - 1].split(",")
    table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=skip)
    return dict(zip(names, table.T, strict=True))


def html_z(text: str) -> np.ndarray:
    call = text.index("Plotly.newPlot(")
    traces, _ = json.JSONDecoder().raw_decode(text, text.index("[", call))
    return typed_array(traces[0]["z"]).ravel()


def test_each_download_is_the_slice_on_screen(dashboard: Page, browser_errors: list[str]) -> None:
    wait_full_grid(dashboard)
    shown = trace(dashboard)
    assert shown["type"] == "surface" and shown["z"].shape == (51, 51)
    on_screen = shown["z"].astype(np.float32)

    content, name = download(dashboard, "npz")
    with np.load(io.BytesIO(content), allow_pickle=False) as npz:
        values, meta = npz["values"], json.loads(str(npz["meta"]))
        assert npz["x"].shape == (51,) and npz["directions"].shape == (2, 16)
    np.testing.assert_array_equal(values.astype(np.float32), on_screen)  # the graph is float32
    assert meta["model"]["model"] == "ising" and meta["unit"] == "energy per spin"
    stem = formats.file_name(meta, "npz").removesuffix(".npz")
    assert name == stem + ".npz" and stem.startswith("funnelscope-ising-n-16-native-bias-2")

    content, name = download(dashboard, "csv")
    text = content.decode()
    np.testing.assert_array_equal(read_table(text)["energy_per_spin"].reshape(51, 51), values)
    assert formats.read_csv_meta(text) == meta and name == stem + ".csv"

    content, name = download(dashboard, "vtk")
    dims, points, _ = parse_vtk(content.decode())
    assert dims == (51, 51, 1) and name == stem + ".vtk"
    np.testing.assert_array_equal(points[:, 2].reshape(51, 51), values)  # the height field

    content, name = download(dashboard, "html")
    text = content.decode()
    assert formats.read_html_meta(text) == meta and name == stem + ".html"
    np.testing.assert_array_equal(html_z(text).reshape(51, 51), on_screen)  # the panel's figure

    expect(dashboard.locator("#left-download-status")).to_have_text("")
    expect(dashboard.locator("#left-message")).to_have_text("")
    # the PNG comes from the toolbar's camera, named after the panel
    options = dashboard.evaluate(
        f"() => {GRAPH.format(id='left-surface')}._context.toImageButtonOptions")
    assert options["filename"] == "funnelscope-left-surface" and options["format"] == "png"
    dashboard.locator("#left-surface .js-plotly-plot").hover()
    expect(dashboard.locator("#left-surface [data-title='Download plot as a PNG']")).to_have_count(1)
    assert browser_errors == []


def test_plot_type_redraws_without_recomputing(dashboard: Page, browser_errors: list[str]) -> None:
    wait_full_grid(dashboard)
    surface = trace(dashboard)
    assert surface["type"] == "surface"
    dashboard.evaluate(WATCH_PROGRESS)
    graph = GRAPH.format(id="left-surface")
    for kind in ("heatmap", "contour"):
        started = time.monotonic()
        dashboard.locator("#left-plot-kind").get_by_label(kind, exact=True).check()
        dashboard.wait_for_function(f"() => {graph}.data[0].type === {kind!r}", timeout=UPDATE_MS)
        elapsed = time.monotonic() - started
        drawn = trace(dashboard)
        np.testing.assert_array_equal(drawn["z"], surface["z"])  # the same values, flat
        assert drawn["title"] == surface["title"]
        assert elapsed < REDRAW_S, f"{kind} took {elapsed:.1f} s: recomputed?"
        assert dashboard.evaluate(EYE, "left-surface") is None  # 2D: no scene, no camera
    # the contour levels redraw too: explicit levels, 8 lines inside the range
    levels = dashboard.locator("#left-contour-levels")
    levels.fill("8")
    levels.press("Enter")
    dashboard.wait_for_function(
        f"() => {{ const c = {graph}.data[0].contours;"
        " return !!c && Math.round((c.end - c.start) / c.size) + 1 === 8; }", timeout=UPDATE_MS)
    z = surface["z"]
    size = dashboard.evaluate(f"() => {graph}.data[0].contours.size")
    assert size == pytest.approx(float(z.max() - z.min()) / 9, rel=1e-5)
    assert not dashboard.evaluate("() => window.__progressShown"), "a background job ran"
    wait_query(dashboard, "l.contour-levels", "8", UPDATE_MS)  # a copied link keeps the drawing
    assert query(dashboard).get("l.plot-kind") == "contour"
    assert browser_errors == []


def test_cameras_sync_around_a_flat_panel(dashboard: Page, browser_errors: list[str]) -> None:
    """A heatmap has no camera: turning the other surface leaves it alone, and when it becomes
    a surface again it takes the shared camera."""
    wait_full_grid(dashboard)
    graph = GRAPH.format(id="left-surface")
    dashboard.locator("#left-plot-kind").get_by_label("heatmap", exact=True).check()
    dashboard.wait_for_function(f"() => {graph}.data[0].type === 'heatmap'", timeout=UPDATE_MS)
    eye = [2.0, 0.3, 0.8]
    dashboard.evaluate(
        """([x, y, z]) => Plotly.relayout(document.querySelector('#right-surface .js-plotly-plot'),
            {'scene.camera': {eye: {x, y, z}, up: {x: 0, y: 0, z: 1}, center: {x: 0, y: 0, z: 0}}})""",
        eye)
    dashboard.wait_for_timeout(1000)
    assert dashboard.evaluate(f"() => {graph}.data[0].type") == "heatmap"
    dashboard.locator("#left-plot-kind").get_by_label("3D surface", exact=True).check()
    dashboard.wait_for_function(f"() => {graph}.data[0].type === 'surface'", timeout=UPDATE_MS)
    deadline = time.monotonic() + 30
    while dashboard.evaluate(EYE, "left-surface") != pytest.approx(eye, abs=1e-6):
        if time.monotonic() > deadline:
            pytest.fail(f"left camera {dashboard.evaluate(EYE, 'left-surface')}, wanted {eye}")
        dashboard.wait_for_timeout(200)
    assert dashboard.evaluate(EYE, "right-surface") == pytest.approx(eye, abs=1e-6)
    assert browser_errors == []


def test_a_view_still_computing_is_not_downloaded(dashboard: Page, browser_errors: list[str]) -> None:
    """A click while the view is computed says so (nothing is computed for it); the note goes
    when the view appears, and the next click saves the new view."""
    saved: list = []
    dashboard.on("download", lambda item: saved.append(item))
    expect(dashboard.locator("#right-progress-row")).to_be_hidden(timeout=UPDATE_MS)
    seed = dashboard.locator("#right-seed")
    seed.fill("7")  # a seed no other browser test uses: nothing cached
    seed.press("Enter")
    expect(dashboard.locator("#right-progress-row")).to_be_visible(timeout=UPDATE_MS)
    dashboard.locator("#right-download-npz").click()
    status = dashboard.locator("#right-download-status")
    # the descents of seed 7 take seconds: the click comes before its grid is cached
    expect(status).to_have_text(re.compile(r"^still computing: download when the view has appeared"),
                                timeout=10_000)
    assert saved == []
    expect(dashboard.locator("#right-progress-row")).to_be_hidden(timeout=UPDATE_MS)
    expect(status).to_have_text("")  # the view is on screen: the note is gone
    content, name = download_side(dashboard, "right", "npz")
    with np.load(io.BytesIO(content), allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        np.testing.assert_array_equal(npz["values"].astype(np.float32), trace(dashboard, "right")["z"])
    assert meta["model"]["seed"] == 7 and name.startswith("funnelscope-pspin-n-64-p-3")
    assert browser_errors == []
