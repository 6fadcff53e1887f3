"""The page as a person sees it, in chromium: the surfaces first and as large as the window
allows, only the controls that apply, and every refusal in its place -- never "internal error".
"""

import contextlib
import io
import json
import time

import numpy as np
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from app import controls, devserver, ids
from app.ids import pid
from tests.e2e.conftest import download_side, wait_query
from tests.unit.reference import parse_vtk
from tests.unit.typed_arrays import typed_array

UPDATE_MS = 120_000
INTERNAL = "internal error"

# the boxes of a panel's graphs (CSS pixels, relative to the viewport)
BOX = """id => { const r = document.querySelector(`#${id} .js-plotly-plot`).getBoundingClientRect();
                 return {x: r.x, y: r.y, width: r.width, height: r.height}; }"""
# every text of a 2-D figure's SVG that lies outside the figure (clipped: cut off by its box)
CLIPPED = """id => {
    const gd = document.querySelector(`#${id} .js-plotly-plot`);
    const box = gd.getBoundingClientRect();
    return [...gd.querySelectorAll('svg text')].filter(t => t.textContent.trim()).filter(t => {
        const r = t.getBoundingClientRect();
        return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1
                               || r.top < box.top - 1 || r.bottom > box.bottom + 1);
    }).map(t => t.textContent);
}"""


def box(page: Page, side: str, name: str) -> dict:
    return page.evaluate(BOX, pid(side, name))


def open_dashboard(page: Page, url: str, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.wait_for_function(devserver.SURFACES_DRAWN, timeout=UPDATE_MS)


def test_at_1600x1000_each_surface_is_wide_tall_and_whole(page: Page, server_url: str,
                                                          tmp_path) -> None:
    open_dashboard(page, server_url, 1600, 1000)
    left, right = box(page, "left", ids.SURFACE), box(page, "right", ids.SURFACE)
    for surface in (left, right):
        assert surface["width"] >= 0.45 * 1600 and surface["height"] >= 520, surface
        assert surface["y"] >= 0 and surface["y"] + surface["height"] <= 1000, surface
    assert left["x"] + left["width"] <= right["x"]  # side by side
    for side in ids.PANELS:  # the path plot's titles and ticks are inside its figure
        page.wait_for_function(
            f"() => document.querySelector('#{pid(side, ids.PATH)} .js-plotly-plot')"
            "?.data?.length === 2", timeout=UPDATE_MS)
        assert page.evaluate(CLIPPED, pid(side, ids.PATH)) == []
        assert page.evaluate(CLIPPED, pid(side, ids.SURFACE)) == []  # title, colour bar
    page.screenshot(path=str(tmp_path / "1600x1000.png"))


def test_at_1000x800_both_surfaces_show_without_scrolling(page: Page, server_url: str) -> None:
    open_dashboard(page, server_url, 1000, 800)
    left, right = box(page, "left", ids.SURFACE), box(page, "right", ids.SURFACE)
    for surface in (left, right):
        assert surface["y"] >= 0 and surface["y"] + surface["height"] <= 800, surface
        assert surface["height"] >= 340 and surface["width"] >= 400, surface
    assert left["x"] + left["width"] <= right["x"]
    assert page.evaluate("() => window.scrollY") == 0
    for side in ids.PANELS:
        assert page.evaluate(CLIPPED, pid(side, ids.SURFACE)) == []
    # the window grows: so do the surfaces (Plotly redraws the figure at its box's new size)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.wait_for_function(
        "id => document.querySelector(`#${id} .main-svg`).getBoundingClientRect().width >= 720",
        arg=pid("left", ids.SURFACE), timeout=10_000)


def test_the_guides_are_folded_and_a_picked_scenario_folds_its_list(page: Page,
                                                                    server_url: str) -> None:
    open_dashboard(page, server_url, 1600, 1000)
    scenarios, help_ = page.locator(f"#{ids.SCENARIOS}"), page.locator(f"#{ids.HELP}")
    assert not scenarios.evaluate("e => e.open") and not help_.evaluate("e => e.open")
    scenarios.locator("summary").click()
    assert scenarios.evaluate("e => e.open")
    page.locator(".scenario-link").first.click()
    expect(page.locator(f"#{ids.ACTIVE_SCENARIO}")).to_be_visible(timeout=UPDATE_MS)
    assert not scenarios.evaluate("e => e.open")


def shown_controls(page: Page, side: str) -> set[str]:
    return {c.name for c in controls.CONTROLS
            if page.locator(f"#{pid(side, controls.field_id(c.name))}").is_visible()}


def test_only_the_controls_that_apply_show(dashboard: Page) -> None:
    """For each model of the slice view, the controls shown are exactly the schema's (the
    upload fields wait for "my upload"): weight decay only for networks, for example."""
    side = "left"
    for family, label in (("ising", "Ising spin funnel"), ("pspin", "p-spin glass"),
                          ("network", "Network")):
        dashboard.locator(f"#{pid(side, ids.MODEL)} label", has_text=label).click()
        expected = {c.name for c in controls.CONTROLS
                    if c.applies(family, "slice") and c.area != ids.UPLOAD_GROUP}
        deadline = time.monotonic() + 60  # the visibility callback: one round trip
        while shown_controls(dashboard, side) != expected and time.monotonic() < deadline:
            dashboard.wait_for_timeout(100)
        assert shown_controls(dashboard, side) == expected, family
        assert (ids.WEIGHT_DECAY in expected) == (family == "network")


MODELS = {"ising": "Ising spin funnel", "pspin": "p-spin glass", "network": "Network"}
VIEWS = {"slice": "slice and path", "volume": "volume (3D slice)",
         "funnel": "funnel (Ising, exact)", "sweep": "size sweep (Ising)",
         "minima": "minima statistics", "spectrum": "Hessian spectrum"}


def pick_network(page: Page, side: str, option: str) -> None:
    page.locator(f"#{pid(side, ids.NET_SOURCE)}").click()
    page.get_by_role("option", name=option).click()


def finished(page: Page, side: str) -> None:
    """Wait until the panel's job has started (its progress row shows: at least one poll, a
    quarter second) and ended (the row hides)."""
    row = "id => getComputedStyle(document.getElementById(id)).display {} 'none'"
    with contextlib.suppress(PlaywrightTimeout):  # already over (or nothing to compute)
        page.wait_for_function(row.format("!=="), arg=pid(side, ids.PROGRESS_ROW), timeout=5_000)
    page.wait_for_function(row.format("==="), arg=pid(side, ids.PROGRESS_ROW), timeout=300_000)


GRAPH = "document.querySelector('#{} .js-plotly-plot')"


def surface_title(page: Page, side: str) -> str:
    return page.evaluate(
        "id => document.querySelector(`#${id} .js-plotly-plot`).layout.title?.text || ''",
        pid(side, ids.SURFACE))


def test_no_model_view_or_source_says_internal_error(dashboard: Page) -> None:
    """Every model x view (networks: an example and "my upload" with nothing uploaded), in the
    order a student clicks through them; what cannot be shown says why, in the panel."""
    side = "right"
    message = dashboard.locator(f"#{pid(side, ids.MESSAGE)}")
    for source in ("example: moons-mlp", "my upload"):
        for family, label in MODELS.items():
            if source == "my upload" and family != "network":
                continue
            dashboard.locator(f"#{pid(side, ids.MODEL)} label", has_text=label).click()
            if family == "network":
                pick_network(dashboard, side, source)
            for view, view_label in VIEWS.items():
                if (family, view, source) == ("network", "minima", "example: moons-mlp"):
                    continue  # trains 8 networks: the minima tests do it
                dashboard.locator(f"#{pid(side, ids.VIEW)} label", has_text=view_label).click()
                if (family, view) in (("pspin", "funnel"), ("network", "funnel")):
                    expect(message).to_contain_text("choose it above", timeout=UPDATE_MS)
                if (family, view) == ("ising", "spectrum"):
                    expect(message).to_contain_text("choose the p-spin glass or a network",
                                                    timeout=UPDATE_MS)
                if (family, view, source) == ("network", "slice", "my upload"):
                    expect(message).to_have_text(
                        "network: choose an example or upload a checkpoint", timeout=UPDATE_MS)
                finished(dashboard, side)
                assert INTERNAL not in dashboard.locator("body").inner_text(), (family, view)


def test_a_missing_upload_keeps_the_surface_and_each_refusal_is_under_its_control(
        dashboard: Page) -> None:
    side = "left"
    dashboard.locator(f"#{pid(side, ids.MODEL)} label", has_text="Network").click()
    title = f"({GRAPH.format(pid(side, ids.SURFACE))}?.layout?.title?.text || '')"
    dashboard.wait_for_function(  # the default example's slice (trained first on a new cache)
        f"() => {title}.includes('moons') && !{title}.includes('preview')", timeout=UPDATE_MS)
    finished(dashboard, side)
    drawn = surface_title(dashboard, side)
    pick_network(dashboard, side, "my upload")
    message = dashboard.locator(f"#{pid(side, ids.MESSAGE)}")
    expect(message).to_have_text("network: choose an example or upload a checkpoint",
                                 timeout=UPDATE_MS)
    finished(dashboard, side)
    assert surface_title(dashboard, side) == drawn  # the last surface stays
    assert dashboard.evaluate(f"() => {GRAPH.format(pid(side, ids.SURFACE))}.data.length") > 0
    path = dashboard.evaluate(f"() => {GRAPH.format(pid(side, ids.PATH))}.layout.annotations"
                              ".map(a => a.text).join(' ')")
    assert "upload a checkpoint" in path.replace("<br>", " ")  # said in place of the path
    # a broken file: refused under its drop zone; the view still says what to upload
    dashboard.locator(f"#{pid(side, ids.UPLOAD_CHECKPOINT)} input[type=file]").set_input_files(
        files=[{"name": "bad.pt", "mimeType": "application/octet-stream",
                "buffer": b"not a checkpoint"}])
    status = dashboard.locator(f"#{pid(side, ids.UPLOAD_CHECKPOINT)}-status")
    expect(status).to_contain_text("bad.pt: not a readable torch checkpoint", timeout=UPDATE_MS)
    finished(dashboard, side)
    assert INTERNAL not in dashboard.locator("body").inner_text()
    # an invalid architecture: refused under its own field, not under the drop zones
    arch = dashboard.locator(f"#{pid(side, ids.ARCH)}")
    arch.fill("{sizes: [2")
    arch.press("Tab")  # read when it loses focus
    expect(dashboard.locator(f"#{pid(side, ids.ARCH)}-status")).to_contain_text(
        "the architecture is not valid JSON", timeout=UPDATE_MS)
    expect(status).to_contain_text("bad.pt: not a readable torch checkpoint")
    # the example again: while its view computes, the refusal above is hidden (it is about the
    # last view, not this one), and the ended job leaves no message
    dashboard.evaluate("""id => {
        const el = document.getElementById(id);
        window.hiddenWith = [];
        new MutationObserver(() => {
            if (getComputedStyle(el).display === 'none') { window.hiddenWith.push(el.innerText); }
        }).observe(el, {attributes: true, childList: true, subtree: true});
    }""", pid(side, ids.MESSAGE))
    pick_network(dashboard, side, "example: moons-mlp")
    finished(dashboard, side)
    expect(message).to_have_text("", timeout=UPDATE_MS)
    assert dashboard.evaluate("id => getComputedStyle(document.getElementById(id)).display",
                              pid(side, ids.MESSAGE)) != "none"  # the next message will show
    hidden_with = dashboard.evaluate("window.hiddenWith")
    assert any("upload a checkpoint" in text for text in hidden_with), hidden_with


def test_the_temperature_slider_shows_its_marks_whole(dashboard: Page) -> None:
    """The "T_f" mark read "T f": its box was as tall as its font, and the underscore below
    the line was lost; the grid's end marks were cut at the panel's edge."""
    side = "left"
    dashboard.locator(f"#{pid(side, ids.VIEW)} label", has_text=VIEWS["funnel"]).click()
    mark = dashboard.locator(f"#{pid(side, ids.TEMPERATURE)} .dash-slider-mark",
                             has_text="T_f")
    expect(mark).to_be_visible(timeout=UPDATE_MS)
    height, font = dashboard.evaluate(
        "id => { const m = [...document.querySelectorAll(`#${id} .dash-slider-mark`)]"
        ".find(e => e.textContent === 'T_f'); return [m.getBoundingClientRect().height, "
        "parseFloat(getComputedStyle(m).fontSize)]; }", pid(side, ids.TEMPERATURE))
    assert height >= 1.3 * font, (height, font)
    field = dashboard.locator(f"#{pid(side, ids.TEMPERATURE)}").locator("xpath=..").bounding_box()
    for each in dashboard.locator(f"#{pid(side, ids.TEMPERATURE)} .dash-slider-mark").all():
        box = each.bounding_box()  # within the slider's field, not cut at the panel's edge
        assert box["x"] >= field["x"] and box["x"] + box["width"] <= field["x"] + field["width"]


def test_the_volume_view_draws_a_level_set_and_its_sliders_only_redraw(dashboard: Page) -> None:
    """The Ising panel's volume (13^3 preview, then 21^3): an isosurface cut by a plane; the
    level and plane sliders redraw it from the cache (no job runs) and go into the URL."""
    side = "left"
    dashboard.locator(f"#{pid(side, ids.VIEW)} label", has_text=VIEWS["volume"]).click()
    graph = GRAPH.format(pid(side, ids.SURFACE))
    dashboard.wait_for_function(
        f"() => ({graph}?.data || []).map(t => t.type).join() === 'isosurface,surface' && "
        f"!{graph}.layout.title.text.includes('preview')", timeout=UPDATE_MS)
    finished(dashboard, side)
    before = dashboard.evaluate(f"() => {graph}.data[0].isomin")
    slider = dashboard.locator(f"#{pid(side, ids.LEVEL)} [role=slider]")
    slider.focus()
    slider.press("End")  # the highest level: 1
    dashboard.wait_for_function(f"() => {graph}.data[0].isomin > {before}", timeout=UPDATE_MS)
    expect(dashboard.locator(f"#{pid(side, ids.PROGRESS_ROW)}")).to_be_hidden()
    wait_query(dashboard, f"l.{ids.LEVEL}", "1")
    # Download saves the volume on screen: the isosurface's values are the file's, point by point
    drawn = dashboard.evaluate(f"() => {{ const v = {graph}.data[0].value;"
                               " return v.bdata !== undefined ? v : Array.from(v); }")
    content, name = download_side(dashboard, side, "npz")
    with np.load(io.BytesIO(content), allow_pickle=False) as npz:
        values, meta = npz["values"], json.loads(str(npz["meta"]))
    assert values.shape == (21, 21, 21) and meta["view"]["dims"] == 3 and name.endswith(".npz")
    np.testing.assert_array_equal(typed_array(drawn), values.astype(np.float32).ravel())
    dims, _, scalars = parse_vtk(download_side(dashboard, side, "vtk")[0].decode())
    assert dims == (21, 21, 21)  # x fastest, as the C-order ravel of values[k, j, i]
    np.testing.assert_allclose(scalars["energy_per_spin"], values.ravel(), rtol=1e-6)
    assert INTERNAL not in dashboard.locator("body").inner_text()
