"""The user guide's walk-through in a real browser: each step is asserted, then photographed.

``capture(page, name)`` always writes ``name.png`` to the test's temporary directory; with
``FUNNELSCOPE_DOC_IMAGES`` set (``make docs-images``) it also writes ``docs/images/name.png``,
the images docs/user-guide.md shows. So the guide's pictures are redrawn from tested behaviour
and cannot go stale; tests/unit/test_user_guide_doc.py checks that the guide shows exactly the
images captured here.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from app import devserver

UPDATE_MS = 180_000  # generous: another browser test run may share the machine
DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
GRAPH = "document.querySelector('#{id} .js-plotly-plot')"
TITLE = "(() => {graph}?.layout?.title?.text || '')()"


_current: dict[str, Path] = {}


@pytest.fixture(autouse=True)
def _remember_tmp(tmp_path: Path):
    _current["dir"] = tmp_path
    yield
    _current.pop("dir", None)


def capture(target: Page | Locator, name: str, clip: dict | None = None) -> Path:
    """Screenshot ``target`` (a page: its viewport, or ``clip`` of the page; a locator: that
    element) as ``name``.png in the test's tmp dir, and in docs/images/ when
    FUNNELSCOPE_DOC_IMAGES is set."""
    assert name.startswith("guide-"), name
    path = _current["dir"] / f"{name}.png"
    options = {"clip": clip, "full_page": True} if clip else {}  # clip: page coordinates
    target.screenshot(path=str(path), animations="disabled", **options)
    assert path.stat().st_size > 0
    if os.environ.get("FUNNELSCOPE_DOC_IMAGES"):
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        (DOC_IMAGES / f"{name}.png").write_bytes(path.read_bytes())
    return path


# the page's box of a panel, cut below its lowest visible content (the two panels share a row
# of the page's grid, so a panel is as tall as the taller one)
PANEL_BOX = """id => {
    const panel = document.getElementById(id).getBoundingClientRect();
    const bottoms = [...document.querySelectorAll(`#${id} .controls > *, #${id} .graphs > *`)]
        .map(el => el.getBoundingClientRect()).filter(r => r.height > 0).map(r => r.bottom);
    return {x: panel.left + window.scrollX, y: panel.top + window.scrollY, width: panel.width,
            height: Math.min(panel.height, Math.max(...bottoms) - panel.top + 12)};
}"""


# the page's box of both panels down to their path plots (the first screen a user looks at)
PANELS_BOX = """() => {
    const main = document.querySelector('main.panels').getBoundingClientRect();
    const bottom = Math.max(...['left', 'right'].map(
        side => document.getElementById(`${side}-path`).getBoundingClientRect().bottom));
    return {x: main.left + window.scrollX, y: main.top + window.scrollY, width: main.width,
            height: bottom - main.top + 12};
}"""


def panel_clip(page: Page, side: str) -> dict:
    return page.evaluate(PANEL_BOX, f"{side}-panel")


def title(page: Page, graph_id: str) -> str:
    return page.evaluate(f"() => {TITLE.format(graph=GRAPH.format(id=graph_id))}")


def wait_title(page: Page, graph_id: str, text: str) -> None:
    """Wait for ``graph_id``'s figure whose title has ``text`` (never the coarse preview)."""
    t = TITLE.format(graph=GRAPH.format(id=graph_id))
    page.wait_for_function(f"() => {t}.includes({text!r}) && !{t}.includes('preview')",
                           timeout=UPDATE_MS)


def trace_names(page: Page, graph_id: str) -> list[str]:
    return page.evaluate(f"() => ({GRAPH.format(id=graph_id)}?.data || []).map(t => t.name)")


def wait_idle(page: Page, side: str) -> None:
    """Wait until the panel's progress row (shown while a job runs) is hidden again."""
    expect(page.locator(f"#{side}-progress-row")).to_be_hidden(timeout=UPDATE_MS)


def test_first_load_funnel_beside_glass(dashboard: Page, browser_errors: list[str]) -> None:
    for side, model in (("left", "Ising spin funnel"), ("right", "p-spin glass")):
        wait_title(dashboard, f"{side}-surface", model)
        dashboard.wait_for_function(
            f"() => {GRAPH.format(id=side + '-path')}?.data?.length === 2", timeout=UPDATE_MS)
        assert sorted(trace_names(dashboard, f"{side}-path")) == ["geodesic", "linear"]
        expect(dashboard.locator(f"#{side}-message")).to_have_text("")
        wait_idle(dashboard, side)
    expect(dashboard.locator("#left-model").get_by_label("Ising spin funnel")).to_be_checked()
    expect(dashboard.locator("#right-model").get_by_label("p-spin glass")).to_be_checked()
    assert urlsplit(dashboard.url).query == ""  # the defaults: nothing in the URL yet
    dashboard.mouse.move(0, 0)  # no hover label in the picture
    # both panels down to their path plots: controls, surfaces, download rows, paths
    capture(dashboard, "guide-first-load", clip=dashboard.evaluate(PANELS_BOX))
    assert browser_errors == []


def test_funnel_view(dashboard: Page, browser_errors: list[str]) -> None:
    dashboard.locator("#left-view").get_by_label("funnel (Ising, exact)").check()
    wait_title(dashboard, "left-surface", "folding funnel")
    expect(dashboard.locator("#left-funnel-extras")).to_be_visible()
    expect(dashboard.locator("#left-funnel-controls")).to_be_visible()
    expect(dashboard.locator("#left-slice-controls")).to_be_hidden()
    wait_title(dashboard, "left-tree", "barrier tree")
    assert "click a minimum" in title(dashboard, "left-tree")
    wait_title(dashboard, "left-diagram", "every state by energy and overlap")
    free = GRAPH.format(id="left-free-energy")
    dashboard.wait_for_function(f"() => {free}?.layout?.title?.text?.includes('T_f')",
                                timeout=UPDATE_MS)
    at_tf = title(dashboard, "left-free-energy")
    # one step of the temperature slider, by keyboard, redraws F(Q; T) above T_f
    dashboard.locator("#left-funnel-extras [role=slider]").first.focus()
    dashboard.keyboard.press("ArrowRight")
    dashboard.wait_for_function(f"() => {free}.layout.title.text !== {at_tf!r}")
    assert "above the folding temperature" in title(dashboard, "left-free-energy")
    expect(dashboard.locator("#left-message")).to_have_text("")
    wait_idle(dashboard, "left")
    dashboard.mouse.move(0, 0)
    capture(dashboard, "guide-funnel-view", clip=panel_clip(dashboard, "left"))
    assert browser_errors == []


def test_network_slice_display_options_and_downloads(
    dashboard: Page, browser_errors: list[str]
) -> None:
    dashboard.locator("#left-steps").get_by_label("21", exact=True).check()
    dashboard.locator("#left-model").get_by_label("Network").check()
    wait_title(dashboard, "left-surface", "network: moons-mlp")
    expect(dashboard.locator("#left-network-controls")).to_be_visible()
    expect(dashboard.locator("#left-spin-view-controls")).to_be_hidden()
    dashboard.wait_for_function(
        f"() => ({GRAPH.format(id='left-path')}?.data || []).map(t => t.name).join() "
        "=== 'train,test'", timeout=UPDATE_MS)
    assert " -> " in title(dashboard, "left-path")  # the example's init -> trained weights
    surface = dashboard.evaluate(f"() => {GRAPH.format(id='left-surface')}._fullData[0].type")
    assert surface == "surface"
    wait_idle(dashboard, "left")
    dashboard.mouse.move(0, 0)
    capture(dashboard, "guide-network", clip=panel_clip(dashboard, "left"))

    # display options only redraw the cached slice: a contour map of log10 of the loss
    dashboard.locator("#left-plot-kind").get_by_label("contour").check()
    dashboard.locator("#left-log-scale").get_by_label("log scale (log10 of the values)").check()
    graph = GRAPH.format(id="left-surface")
    dashboard.wait_for_function(
        f"() => {graph}?.data?.[0]?.type === 'contour' && "
        f"({graph}.data[0].colorbar?.title?.text || '').startsWith('log10')", timeout=UPDATE_MS)
    assert "shown linear" not in title(dashboard, "left-surface")  # a loss is positive
    path = GRAPH.format(id="left-path")  # the path plot follows the log scale too
    dashboard.wait_for_function(
        f"() => ({path}?.layout?.yaxis?.title?.text || '').startsWith('log10')",
        timeout=UPDATE_MS)
    expect(dashboard.locator("#left-progress-row")).to_be_hidden()  # nothing was recomputed

    # the download row under the graph: the view on screen as a file
    with dashboard.expect_download(timeout=UPDATE_MS) as info:
        dashboard.locator("#left-download-npz").click()
    assert info.value.suggested_filename.endswith(".npz")
    expect(dashboard.locator("#left-download-status")).to_have_text("")
    dashboard.mouse.move(0, 0)
    capture(dashboard, "guide-display-options", clip=panel_clip(dashboard, "left"))
    capture(dashboard.locator("#left-download-row"), "guide-download-row")
    expect(dashboard.locator("#left-message")).to_have_text("")
    assert browser_errors == []


def test_copy_link(dashboard: Page, browser_errors: list[str], server_url: str) -> None:
    dashboard.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server_url)
    dashboard.locator("#right-plot-kind").get_by_label("heatmap").check()
    dashboard.wait_for_function(f"() => {GRAPH.format(id='right-surface')}?.data?.[0]?.type "
                                "=== 'heatmap'", timeout=UPDATE_MS)
    dashboard.wait_for_function("() => window.location.search.includes('r.plot-kind=heatmap')",
                                timeout=UPDATE_MS)
    dashboard.locator("#copy-link").click()
    expect(dashboard.locator("#copy-status")).to_have_text("link copied")
    assert dashboard.evaluate("() => navigator.clipboard.readText()") == dashboard.url
    capture(dashboard.locator("header"), "guide-copy-link")
    assert browser_errors == []


def test_errors_are_messages(page: Page, server_url: str, browser_errors: list[str]) -> None:
    # a hand-edited link: an unknown model is listed under the header and left at its default;
    # the right panel asks for N = 128 with p = 4, more couplings than the server computes
    page.goto(server_url + "/?l.model=quantum&r.p=4&r.pspin-n=128")
    notes = page.locator("#url-notes")
    expect(notes).to_contain_text("l.model=quantum: ignored", timeout=UPDATE_MS)
    message = page.locator("#right-message")
    expect(message).to_contain_text("couplings", timeout=UPDATE_MS)
    expect(message).to_contain_text("limit")
    wait_title(page, "left-surface", "Ising spin funnel")
    page.wait_for_function(devserver.SURFACES_DRAWN.replace("['left', 'right']", "['left']"),
                           timeout=UPDATE_MS)
    annotations = page.evaluate(
        f"() => ({GRAPH.format(id='right-surface')}.layout.annotations || []).map(a => a.text)")
    assert any("couplings" in text for text in annotations), annotations
    assert "Traceback" not in page.content()
    wait_idle(page, "right")
    page.mouse.move(0, 0)
    capture(page.locator("header .share"), "guide-link-notes")
    capture(page, "guide-errors", clip=panel_clip(page, "right"))
    assert browser_errors == []
