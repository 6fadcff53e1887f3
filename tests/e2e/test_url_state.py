"""Shareable state in a real browser: the URL follows both panels and the camera; a copied URL
opened in a new page shows the same panels; back and forward bring earlier settings back."""

import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page, expect
from plotly.colors import sequential

from app import devserver
from tests.e2e.conftest import query

UPDATE_MS = 120_000  # a recompute after a control changes (a new page: its first views too)
GRAPH = "document.querySelector('#{id} .js-plotly-plot')"
TITLE = "(() => {graph}?.layout?.title?.text || '')()"
EYE = """id => {
    const gd = document.querySelector(`#${id} .js-plotly-plot`);
    const scene = gd && gd._fullLayout && gd._fullLayout.scene;
    return scene ? scene.camera.eye : null;
}"""
TURNED = (2.0, 0.3, 0.8)


def title(page: Page, side: str) -> str:
    return page.evaluate(f"() => {TITLE.format(graph=GRAPH.format(id=side + '-surface'))}")


def wait_title(page: Page, side: str, text: str, absent: str | None = None) -> None:
    """Wait for the requested grid's surface (not its preview) with ``text`` in its title."""
    t = TITLE.format(graph=GRAPH.format(id=side + "-surface"))
    extra = f" && !{t}.includes({absent!r})" if absent else ""
    page.wait_for_function(f"() => {t}.includes({text!r}) && !{t}.includes('preview'){extra}",
                           timeout=UPDATE_MS)


def wait_query(page: Page, part: str, present: bool = True) -> None:
    test = "" if present else "!"
    page.wait_for_function(f"() => {test}window.location.search.includes({part!r})",
                           timeout=UPDATE_MS)


def checked(page: Page, control: str) -> str:
    return page.evaluate(
        f"() => [...document.querySelectorAll('#{control} input')].filter(i => i.checked)"
        ".map(i => i.value).join()"
    )


def set_camera_eye(page: Page, side: str, eye: tuple[float, float, float]) -> None:
    """Turn a 3D graph's camera as a user would (``Plotly.relayout`` fires ``relayoutData``)."""
    page.evaluate(
        """([id, [x, y, z]]) => Plotly.relayout(document.querySelector(`#${id} .js-plotly-plot`), {
            'scene.camera': {eye: {x, y, z}, up: {x: 0, y: 0, z: 1}, center: {x: 0, y: 0, z: 0}},
        })""",
        [f"{side}-surface", list(eye)],
    )


def wait_eyes(page: Page, eye: tuple[float, float, float]) -> None:
    """Wait (bounded) until both 3D graphs look from ``eye``."""
    deadline = time.monotonic() + UPDATE_MS / 1000
    while True:
        eyes = {side: page.evaluate(EYE, f"{side}-surface") for side in ("left", "right")}
        if all(e and [e[k] for k in "xyz"] == pytest.approx(list(eye), abs=1e-3)
               for e in eyes.values()):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"cameras {eyes}, expected eye {eye}")
        page.wait_for_timeout(250)


def open_page(page: Page, url: str, errors: list[str]) -> Page:
    """``url`` in a new page of the same browser context, once both surfaces are drawn."""
    other = page.context.new_page()
    other.on("console", lambda m: _record(errors, m))
    other.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    other.goto(url)
    other.wait_for_function(devserver.SURFACES_DRAWN, timeout=UPDATE_MS)
    return other


def _record(errors: list[str], message: ConsoleMessage | Error) -> None:
    if message.type == "error":
        errors.append(f"console error: {message.text}")


def test_the_url_reproduces_both_panels_and_back_restores(
    dashboard: Page, browser_errors: list[str]
) -> None:
    assert urlsplit(dashboard.url).query == ""  # the default page: no query at all
    # small grids first (each change is a history entry), then the settings to share
    dashboard.locator("#left-steps").get_by_label("21", exact=True).check()
    wait_query(dashboard, "l.steps=21")
    dashboard.locator("#left-model").get_by_label("p-spin glass").check()
    wait_query(dashboard, "l.model=pspin")
    dashboard.locator("#right-steps").get_by_label("21", exact=True).check()
    wait_query(dashboard, "r.steps=21")
    before_seed = dashboard.evaluate("() => history.length")
    seed = dashboard.locator("#right-seed")
    seed.fill("3")
    seed.press("Enter")
    wait_query(dashboard, "r.seed=3")
    assert dashboard.evaluate("() => history.length") == before_seed + 1
    assert query(dashboard) == {"l.steps": "21", "l.model": "pspin", "r.steps": "21",
                                "r.seed": "3"}
    wait_title(dashboard, "left", "p-spin glass")
    wait_title(dashboard, "right", "seed 3")
    titles = {side: title(dashboard, side) for side in ("left", "right")}

    shared = open_page(dashboard, dashboard.url, browser_errors)
    wait_title(shared, "left", "p-spin glass")
    wait_title(shared, "right", "seed 3")
    assert {side: title(shared, side) for side in ("left", "right")} == titles
    assert checked(shared, "left-model") == "pspin" and checked(shared, "left-steps") == "21"
    assert checked(shared, "right-steps") == "21"
    expect(shared.locator("#right-seed")).to_have_value("3")
    assert shared.url == dashboard.url and shared.evaluate("() => history.length") == 2
    expect(shared.locator("#url-notes")).to_have_text("")
    shared.close()

    dashboard.go_back()  # before the seed: the right panel's seed 0 comes back
    wait_query(dashboard, "r.seed=3", present=False)
    assert query(dashboard) == {"l.steps": "21", "l.model": "pspin", "r.steps": "21"}
    expect(dashboard.locator("#right-seed")).to_have_value("0", timeout=UPDATE_MS)
    wait_title(dashboard, "right", "seed 0")
    assert checked(dashboard, "left-model") == "pspin"
    dashboard.go_back()  # and the right grid before that
    wait_query(dashboard, "r.steps", present=False)
    expect(dashboard.locator("#right-steps input[value='51']")).to_be_checked(timeout=UPDATE_MS)
    dashboard.go_forward()
    wait_query(dashboard, "r.steps=21")
    expect(dashboard.locator("#right-steps input[value='21']")).to_be_checked(timeout=UPDATE_MS)
    dashboard.go_forward()
    wait_query(dashboard, "r.seed=3")
    expect(dashboard.locator("#right-seed")).to_have_value("3", timeout=UPDATE_MS)
    wait_title(dashboard, "right", "seed 3")
    assert title(dashboard, "right") == titles["right"]
    assert browser_errors == []


def test_a_turned_camera_is_in_the_url_and_a_page_opened_from_it_shows_it(
    dashboard: Page, browser_errors: list[str]
) -> None:
    for side in ("left", "right"):  # the requested grids, not the coarse previews
        wait_title(dashboard, side, "")
    entries = dashboard.evaluate("() => history.length")
    set_camera_eye(dashboard, "left", TURNED)
    wait_eyes(dashboard, TURNED)  # the right panel follows
    wait_query(dashboard, "cam=2,0.3,0.8")
    assert query(dashboard) == {"cam": "2,0.3,0.8"}
    assert dashboard.evaluate("() => history.length") == entries  # a turn replaces the entry

    shared = open_page(dashboard, dashboard.url, browser_errors)
    wait_eyes(shared, TURNED)
    for side in ("left", "right"):  # the camera stays through the refined figures
        wait_title(shared, side, "")
    wait_eyes(shared, TURNED)
    # a recomputed panel keeps the shared camera
    shared.locator("#right-steps").get_by_label("21", exact=True).check()
    wait_query(shared, "r.steps=21")
    wait_title(shared, "right", "")
    wait_eyes(shared, TURNED)
    assert query(shared) == {"r.steps": "21", "cam": "2,0.3,0.8"}
    shared.close()
    assert browser_errors == []


def test_copy_link_puts_the_url_on_the_clipboard(
    dashboard: Page, browser_errors: list[str], server_url: str
) -> None:
    dashboard.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server_url)
    dashboard.locator("#left-seed").fill("2")
    dashboard.locator("#left-seed").press("Enter")
    wait_query(dashboard, "l.seed=2")
    dashboard.locator("#copy-link").click()
    expect(dashboard.locator("#copy-status")).to_have_text("link copied")
    assert dashboard.evaluate("() => navigator.clipboard.readText()") == dashboard.url
    assert browser_errors == []


def test_a_hand_edited_link_shows_what_it_ignored(
    page: Page, server_url: str, browser_errors: list[str]
) -> None:
    # the left panel keeps its defaults but for a drawing option: it is computed all the same
    page.goto(server_url + "/?l.model=quantum&l.seed=-1&zzz=1&l.colorscale=Cividis"
              "&r.steps=21&r.seed=4")
    page.wait_for_function(devserver.SURFACES_DRAWN, timeout=UPDATE_MS)
    notes = page.locator("#url-notes")
    expect(notes).to_contain_text("l.model=quantum: ignored, expected one of ising, pspin",
                                  timeout=UPDATE_MS)
    expect(notes).to_contain_text("l.seed=-1: ignored")
    expect(notes).to_contain_text("zzz=1: not a setting of this page")
    wait_title(page, "right", "seed 4")  # the good part of the link still counts
    wait_title(page, "left", "Ising spin funnel")
    first_colour = page.evaluate(
        "() => document.querySelector('#left-surface .js-plotly-plot').data[0].colorscale[0][1]")
    assert first_colour == sequential.Cividis[0]
    assert browser_errors == []


def test_a_page_without_a_query_starts_its_panels_in_its_first_round_trip(
    page: Page, server_url: str, browser_errors: list[str]
) -> None:
    """Opened without a query, the page starts both default views itself (``urlChanged``),
    without asking the server's URL reader first: Dash would hold the panels' jobs until the
    reader answered, a round trip later. Each panel's job starts once, with the defaults."""
    requests: list[tuple[str, dict]] = []

    def record(request) -> None:  # noqa: ANN001 -- a Playwright request
        if "_dash-update-component" in request.url and "cacheKey=" not in request.url:
            body = request.post_data_json or {}
            requests.append((body.get("output", ""), {i["id"]: i.get("value")
                                                      for i in body.get("inputs", [])
                                                      if isinstance(i, dict)}))

    page.on("request", record)
    page.goto(server_url)
    page.wait_for_function(devserver.SURFACES_DRAWN, timeout=UPDATE_MS)
    assert not any("url-notes.children" in output for output, _ in requests)  # no reader
    jobs = [inputs for output, inputs in requests
            if "-drawn.data" in output]  # a panel job (only it outputs that)
    assert sorted(job[f"{side}-model"] for job in jobs for side in ("left", "right")
                  if f"{side}-model" in job) == ["ising", "pspin"]
    assert urlsplit(page.url).query == ""
    assert browser_errors == []
