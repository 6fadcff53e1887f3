"""The dashboard in a real browser: first load, switching a model, camera sync, error messages."""

import re
import time

import pytest
from playwright.sync_api import Page, expect
from plotly.offline import get_plotlyjs_version

from tests.e2e.conftest import query

UPDATE_MS = 60_000  # a recompute after a control changes

GRAPH = "document.querySelector('#{id} .js-plotly-plot')"
# a snapshot of one 3D graph: title, surface z data (bdata or nested lists) and camera eye
SURFACE_STATE = """id => {
    const gd = document.querySelector(`#${id} .js-plotly-plot`);
    const surface = gd.data.find(trace => trace.type === 'surface');
    const eye = gd._fullLayout.scene ? gd._fullLayout.scene.camera.eye : null;
    return {
        title: gd.layout.title ? gd.layout.title.text : '',
        z: surface ? JSON.stringify(surface.z) : null,
        eye: eye ? {x: eye.x, y: eye.y, z: eye.z} : null,
        webgl: !!(gd._fullLayout.scene && gd._fullLayout.scene._scene && gd.querySelector('canvas')),
    };
}"""


def surface_state(page: Page, side: str) -> dict:
    return page.evaluate(SURFACE_STATE, f"{side}-surface")


def set_camera_eye(page: Page, side: str, eye: tuple[float, float, float]) -> None:
    """Turn a 3D graph's camera as a user would (``Plotly.relayout`` fires ``relayoutData``)."""
    page.evaluate(
        """([id, [x, y, z]]) => Plotly.relayout(document.querySelector(`#${id} .js-plotly-plot`), {
            'scene.camera': {eye: {x, y, z}, up: {x: 0, y: 0, z: 1}, center: {x: 0, y: 0, z: 0}},
        })""",
        [f"{side}-surface", list(eye)],
    )


def close(eye: dict | None, expected: tuple[float, float, float]) -> bool:
    return eye is not None and [eye[k] for k in "xyz"] == pytest.approx(list(expected), abs=1e-6)


def test_first_load_shows_both_panels(dashboard: Page, browser_errors: list[str]) -> None:
    left, right = surface_state(dashboard, "left"), surface_state(dashboard, "right")
    assert "Ising spin funnel" in left["title"]
    assert "p-spin glass" in right["title"]
    assert left["webgl"] and right["webgl"], "a surface has no WebGL scene (nothing was drawn)"
    assert left["z"] != right["z"]
    # plotly.js is the partial bundle (app/assets/), parsed before Dash starts: Dash never
    # fetches its full one
    scripts = dashboard.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/assets/plotly-partial.min.js" in name for name in scripts)
    assert not any("plotly.min.js" in name for name in scripts)
    assert dashboard.evaluate("() => Plotly.version") == get_plotlyjs_version()
    for side in ("left", "right"):
        dashboard.wait_for_function(
            f"() => {GRAPH.format(id=side + '-path')}?.data?.length === 2", timeout=UPDATE_MS
        )
        traces = dashboard.evaluate(
            f"() => {GRAPH.format(id=side + '-path')}.data.map(t => [t.name, t.type, t.mode])"
        )
        assert sorted(traces) == [["geodesic", "scatter", "lines"], ["linear", "scatter", "lines"]]
    expect(dashboard.locator("#left-message")).to_have_text("")
    expect(dashboard.locator("#right-message")).to_have_text("")
    assert browser_errors == []


def test_switching_the_model_redraws_the_panel(dashboard: Page, browser_errors: list[str]) -> None:
    before = surface_state(dashboard, "left")
    right_before = surface_state(dashboard, "right")["z"]
    expect(dashboard.locator("#left-pspin-controls")).to_be_hidden()

    dashboard.locator("#left-model").get_by_label("p-spin glass").check()
    dashboard.wait_for_function(
        f"() => {GRAPH.format(id='left-surface')}.layout.title.text.includes('p-spin glass')",
        timeout=UPDATE_MS,
    )

    after = surface_state(dashboard, "left")
    assert after["z"] is not None and after["z"] != before["z"]
    expect(dashboard.locator("#left-ising-controls")).to_be_hidden()
    expect(dashboard.locator("#left-pspin-controls")).to_be_visible()
    assert surface_state(dashboard, "right")["z"] == right_before  # the other panel is untouched
    assert browser_errors == []


def test_cameras_follow_each_other(dashboard: Page, browser_errors: list[str]) -> None:
    # a turn right after the first full draw must sync too (dcc.Graph's late autosize relayout
    # replaces relayoutData; the sync reads the graphs). The first draw may be the coarse
    # preview: wait for the requested grid, whose figure replaces it.
    for side in ("left", "right"):
        dashboard.wait_for_function(
            f"() => !{GRAPH.format(id=side + '-surface')}.layout.title.text.includes('preview')",
            timeout=UPDATE_MS,
        )
    moves = (("left", "right", (2.0, 0.3, 0.8)), ("right", "left", (-0.4, 1.9, 0.6)))
    for moved, follower, eye in moves:
        set_camera_eye(dashboard, moved, eye)
        deadline = time.monotonic() + UPDATE_MS / 1000
        while not close(surface_state(dashboard, follower)["eye"], eye):
            if time.monotonic() > deadline:
                states = {side: surface_state(dashboard, side)["eye"] for side in ("left", "right")}
                pytest.fail(f"{moved} camera moved to {eye}, {follower} did not follow: {states}")
            dashboard.wait_for_timeout(200)
        assert close(surface_state(dashboard, moved)["eye"], eye)
    assert browser_errors == []


def test_too_large_model_shows_a_readable_message(dashboard: Page, browser_errors: list[str]) -> None:
    # right panel: N = 16 (Home key on the slider), p = 4, then N = 128 (End): 128**4 couplings
    # is over the limit. Only small models are computed on the way (no heavy job left running
    # in the shared server for the tests after this one).
    handle = dashboard.locator("#right-pspin-n [role=slider]")
    handle.focus()
    handle.press("Home")
    expect(handle).to_have_attribute("aria-valuenow", "16")
    dashboard.locator("#right-p").get_by_label("4", exact=True).check()
    handle.focus()
    handle.press("End")
    expect(handle).to_have_attribute("aria-valuenow", "128")

    message = dashboard.locator("#right-message")
    expect(message).to_contain_text("couplings", timeout=UPDATE_MS)
    expect(message).to_contain_text("limit")
    expect(message).to_contain_text("n=128 with p=4")
    annotation = dashboard.evaluate(
        f"() => ({GRAPH.format(id='right-path')}.layout.annotations || []).map(a => a.text)"
    )
    assert any("couplings" in text for text in annotation), annotation
    # the surface drawn last stays until a view replaces it
    kept = dashboard.evaluate(f"() => {GRAPH.format(id='right-surface')}.layout.title.text")
    assert "p-spin glass" in kept, kept
    assert "Traceback" not in dashboard.content()
    expect(dashboard.locator("#left-message")).to_have_text("")
    assert browser_errors == []


def test_funnel_view_tree_click_and_temperature_slider(
    dashboard: Page, browser_errors: list[str]
) -> None:
    """The funnel view: 3D funnel, tree, diagram, F(Q; T); a tree click sets the path's end."""
    dashboard.locator("#left-view").get_by_label("funnel (Ising, exact)").check()
    dashboard.wait_for_function(
        f"() => {GRAPH.format(id='left-surface')}?.layout?.title?.text?.includes('folding funnel')",
        timeout=UPDATE_MS,
    )
    assert dashboard.evaluate(f"() => {GRAPH.format(id='left-surface')}.data[0].type") == "surface"
    expect(dashboard.locator("#left-funnel-extras")).to_be_visible()
    expect(dashboard.locator("#left-slice-controls")).to_be_hidden()
    tree = GRAPH.format(id="left-tree")
    dashboard.wait_for_function(f"() => {tree}?.layout?.title?.text?.includes('barrier tree')")
    diagram_type = dashboard.evaluate(f"() => {GRAPH.format(id='left-diagram')}.data[0].type")
    assert diagram_type == "heatmap"
    # F(Q; T) starts at the folding temperature; a step of the slider (keyboard) changes T
    free = GRAPH.format(id="left-free-energy")
    dashboard.wait_for_function(f"() => {free}?.layout?.title?.text?.includes('T_f')")
    before = dashboard.evaluate(f"() => {free}.layout.title.text")
    dashboard.locator("#left-funnel-extras [role=slider]").first.focus()
    dashboard.keyboard.press("ArrowRight")
    dashboard.wait_for_function(f"() => {free}.layout.title.text !== {before!r}")
    picked = dashboard.evaluate(f"() => {free}.layout.title.text")
    assert "above the folding temperature" in picked
    # the picked temperature is in the link: opened again, the slider comes back to it
    slider = dashboard.locator("#left-funnel-extras [role=slider]").first
    index = slider.get_attribute("aria-valuenow")
    dashboard.wait_for_function("() => new URLSearchParams(location.search).has('l.temperature')")
    temperature = float(query(dashboard)["l.temperature"])
    shown = float(re.search(r"at T = ([0-9.]+)", picked).group(1))  # 3 digits
    assert temperature == pytest.approx(shown, rel=5e-3), picked
    dashboard.goto(dashboard.url)
    dashboard.wait_for_function(f"() => {free}?.layout?.title?.text === {picked!r}",
                                timeout=UPDATE_MS)
    expect(slider).to_have_attribute("aria-valuenow", index)
    # a click on the lowest leaf makes it the path's end; the path below redraws to it
    state = dashboard.evaluate(f"() => {tree}.data[1].customdata[0][0]")
    dashboard.evaluate(
        f"""() => {{
            const gd = {tree};
            const point = {{curveNumber: 1, pointNumber: 0, pointIndex: 0,
                           customdata: gd.data[1].customdata[0], x: gd.data[1].x[0],
                           y: gd.data[1].y[0], data: gd.data[1], fullData: gd._fullData[1]}};
            gd.emit('plotly_click', {{points: [point]}});
        }}"""
    )
    path = GRAPH.format(id="left-path")
    dashboard.wait_for_function(
        f"() => {path}?.layout?.title?.text?.endsWith('state:{int(state)}')", timeout=UPDATE_MS
    )
    expect(dashboard.locator("#left-message")).to_have_text("")
    assert browser_errors == []


def test_minima_and_sweep_views(dashboard: Page, browser_errors: list[str]) -> None:
    dashboard.locator("#left-view").get_by_label("minima statistics").check()
    dashboard.wait_for_function(
        f"() => {GRAPH.format(id='left-surface')}?.data?.[0]?.type === 'histogram'",
        timeout=UPDATE_MS,
    )
    dashboard.locator("#left-view").get_by_label("size sweep (Ising)").check()
    expect(dashboard.locator("#left-sweep-table table")).to_be_visible(timeout=120_000)
    rows = dashboard.locator("#left-sweep-table tbody tr")
    expect(rows).to_have_count(13)  # N = 8 .. 20
    expect(dashboard.locator("#left-path")).to_be_hidden()
    expect(dashboard.locator("#left-message")).to_have_text("")
    assert browser_errors == []


def test_closing_the_page_says_goodbye_for_its_jobs(dashboard: Page, dashboard_server) -> None:
    """Leaving the page sends its session id to POST /api/goodbye (sendBeacon on pagehide), so
    the server stops the panel jobs the page left running. (Playwright does not report beacons
    as requests: the server's request log shows it.)"""
    log = dashboard_server[1]
    client = dashboard.evaluate("() => window.__funnelscope.clientId")
    assert isinstance(client, str) and len(client) == 32
    assert dashboard.evaluate("() => JSON.parse(sessionStorage.getItem('client-id'))") == client
    answered = re.compile(r"POST /api/goodbye HTTP/1\.1\S*\" 204")  # the log may be coloured

    def goodbyes() -> int:
        return len(answered.findall(log.read_text()))

    before = goodbyes()
    dashboard.goto("about:blank")
    deadline = time.monotonic() + 10
    while goodbyes() == before:
        assert time.monotonic() < deadline, "no goodbye reached the server"
        time.sleep(0.2)
