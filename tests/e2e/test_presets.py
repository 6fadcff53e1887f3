"""Guided scenarios in a real browser: each preset's link opens both of its panels with its
explanation above them; a click on a scenario link (or Enter on it) applies it, Back returns.

The views are computed for real by the session's server (its cache is shared by every e2e
test): the digits CNNs and the size sweeps take longest.
"""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from app import ids, presets, urlstate

UPDATE_MS = 120_000  # a view computed after the page opens (slices, funnels)
# the digits CNNs (trained on first use) and the N = 8..20 sweeps: the skip-connection pair
# takes 67 s on an idle 2-core machine and passed 180 s with the machine 2.5x oversubscribed
SLOW_MS = 300_000
GRAPH = "document.querySelector('#{id} .js-plotly-plot')"
TITLE = "({graph}?.layout?.title?.text || '')"

# what each panel of each preset shows once computed: (view, text in the main graph's title)
EXPECTED = {
    "funnel-vs-glass": {"left": ("funnel", "Ising spin funnel: N=16, J0=2"),
                        "right": ("funnel", "SK glass: N=16, J0=0")},
    "goodfellow": {"left": ("slice", "network: moons-mlp"),
                   "right": ("slice", "network: digits-cnn")},
    "exploding": {"left": ("slice", "values above the 99th percentile"),
                  "right": ("slice", "network: moons-mlp")},
    "regularization-as-temperature": {
        "left": ("slice", "weight decay: 0.01 |theta|^2 added"),
        "right": ("funnel", "Ising spin funnel: N=16, J0=2")},
    "funnel-sharpens": {"left": ("sweep", "J0 = 2"), "right": ("sweep", "J0 = 0")},
    "skip-connections": {"left": ("slice", "network: digits-resnet"),
                         "right": ("slice", "network: digits-plainnet")},
    "bulk-and-outliers": {"left": ("spectrum", "Hessian spectrum at the centre (4,482"),
                          "right": ("spectrum", "Hessian at the lowest minimum")},
}
SLOW = {("goodfellow", "right"), ("funnel-sharpens", "left"), ("funnel-sharpens", "right"),
        ("skip-connections", "left"), ("skip-connections", "right")}


def graph(side: str, name: str) -> str:
    return GRAPH.format(id=ids.pid(side, name))


def wait_title(page: Page, side: str, name: str, text: str, timeout: int) -> None:
    """Wait for graph ``name`` of panel ``side`` to be titled with ``text`` (not a preview)."""
    title = TITLE.format(graph=graph(side, name))
    page.wait_for_function(f"() => {title}.includes({text!r}) && !{title}.includes('preview')",
                           timeout=timeout)


def wait_panel(page: Page, side: str, view: str, text: str, timeout: int) -> None:
    """Wait until panel ``side`` shows ``view`` computed: the funnel (3D funnel and barrier
    tree), the size sweep (its table) or a network slice (surface and the loss along the path)."""
    if view == "funnel":
        wait_title(page, side, ids.SURFACE, "folding funnel: " + text, timeout)
        assert page.evaluate(f"() => {graph(side, ids.SURFACE)}.data[0].type") == "surface"
        wait_title(page, side, ids.TREE, "barrier tree", timeout)
        page.wait_for_function(f"() => {graph(side, ids.TREE)}.data.length > 1", timeout=timeout)
        expect(page.locator(f"#{ids.pid(side, ids.FUNNEL_EXTRAS)}")).to_be_visible()
    elif view == "spectrum":  # a density (networks) or a histogram with its semicircle (glass)
        wait_title(page, side, ids.SURFACE, text, timeout)
        types = page.evaluate(f"() => {graph(side, ids.SURFACE)}.data.map(t => t.type).join()")
        assert types in ("scatter,scatter", "histogram,scatter"), types
    elif view == "sweep":
        wait_title(page, side, ids.SURFACE, "the funnel sharpens with size? " + text, timeout)
        rows = page.locator(f"#{ids.pid(side, ids.SWEEP_TABLE)} tbody tr")
        expect(rows).to_have_count(13, timeout=timeout)  # N = 8 .. 20
        expect(page.locator(f"#{ids.pid(side, ids.PATH)}")).to_be_hidden()
    else:
        wait_title(page, side, ids.SURFACE, text, timeout)
        assert page.evaluate(f"() => {graph(side, ids.SURFACE)}._fullData[0].type") == "surface"
        page.wait_for_function(  # the loss along the straight line, train and test
            f"() => {graph(side, ids.PATH)}?.data?.map(t => t.name).join() === 'train,test'",
            timeout=timeout)
    expect(page.locator(f"#{ids.pid(side, ids.MESSAGE)}")).to_have_text("")


def checked(page: Page, side: str, name: str) -> str:
    return page.evaluate(
        f"() => [...document.querySelectorAll('#{ids.pid(side, name)} input')]"
        ".filter(i => i.checked).map(i => i.value).join()"
    )


def test_every_preset_has_expectations() -> None:
    assert set(EXPECTED) == {p.key for p in presets.PRESETS}


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda p: p.key)
def test_a_preset_link_opens_both_panels_and_explains_them(
    page: Page, server_url: str, browser_errors: list[str], preset: presets.Preset
) -> None:
    page.goto(server_url + "/" + preset.search())
    banner = page.locator(f"#{ids.ACTIVE_SCENARIO}")
    expect(banner).to_be_visible(timeout=UPDATE_MS)
    expect(banner).to_contain_text(f"Scenario: {preset.title}")
    expect(banner).to_contain_text(preset.explanation)
    expect(page.locator(f"#{ids.SCENARIOS}")).not_to_have_attribute(  # folded: the note explains
        "open", "", timeout=UPDATE_MS)
    for side in ids.PANELS:
        view, text = EXPECTED[preset.key][side]
        timeout = SLOW_MS if (preset.key, side) in SLOW else UPDATE_MS
        wait_panel(page, side, view, text, timeout)
    assert urlstate.canonical(urlsplit(page.url).query) == urlstate.canonical(preset.search())
    expect(page.locator(f"#{ids.URL_NOTES}")).to_have_text("")
    expect(banner).to_contain_text(preset.title)  # still: the page wrote no other URL
    assert browser_errors == []


def test_clicking_a_scenario_link_applies_it_and_back_returns(
    page: Page, server_url: str, browser_errors: list[str]
) -> None:
    page.goto(server_url + "/")
    scenarios = page.locator(f"#{ids.SCENARIOS}")
    expect(scenarios).not_to_have_attribute("open", "")  # folded: the surfaces first
    scenarios.locator("summary").click()
    expect(scenarios).to_have_attribute("open", "", timeout=UPDATE_MS)
    for preset in presets.PRESETS:  # every preset listed: its title links to its URL
        link = page.locator(f"#{ids.scenario_link(preset.key)}")
        expect(link).to_have_text(preset.title)
        expect(link).to_have_attribute("href", preset.search())
    expect(page.locator(f"#{ids.ACTIVE_SCENARIO}")).to_be_hidden()

    funnel = presets.by_key("funnel-vs-glass")
    page.locator(f"#{ids.scenario_link(funnel.key)}").click()
    page.wait_for_function(f"() => window.location.search === {funnel.search()!r}",
                           timeout=UPDATE_MS)
    assert urlsplit(page.url).path == "/"  # the query changed, nothing else
    # (the page may be busy drawing the default surfaces in software WebGL for a while)
    expect(page.locator(f"#{ids.ACTIVE_SCENARIO}")).to_contain_text(funnel.title,
                                                                     timeout=UPDATE_MS)
    expect(scenarios).not_to_have_attribute(  # the list folds: the note above explains
        "open", "", timeout=UPDATE_MS)
    page.wait_for_function(  # the URL reader set the controls
        f"() => document.querySelector('#{ids.pid('right', ids.MODEL)} input[value=ising]')"
        ".checked", timeout=UPDATE_MS)
    assert checked(page, "left", ids.VIEW) == "funnel"
    assert checked(page, "right", ids.VIEW) == "funnel"
    for side in ids.PANELS:
        wait_panel(page, side, *EXPECTED[funnel.key][side], UPDATE_MS)
    # the keyboard reaches the folded list and its links: Enter unfolds it, Enter on a link
    # applies that scenario
    page.locator(f"#{ids.SCENARIOS} summary").focus()
    page.keyboard.press("Enter")
    expect(scenarios).to_have_attribute("open", "", timeout=UPDATE_MS)
    decay = presets.by_key("regularization-as-temperature")
    page.locator(f"#{ids.scenario_link(decay.key)}").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => window.location.search === {decay.search()!r}",
                           timeout=UPDATE_MS)
    expect(page.locator(f"#{ids.ACTIVE_SCENARIO}")).to_contain_text(decay.title,
                                                                     timeout=UPDATE_MS)
    page.wait_for_function(
        f"() => document.querySelector('#{ids.pid('left', ids.WEIGHT_DECAY)} input[value=\"0.01\"]')"
        "?.checked", timeout=UPDATE_MS)
    wait_panel(page, "left", *EXPECTED[decay.key]["left"], UPDATE_MS)
    # Back: the first scenario again
    page.go_back()
    page.wait_for_function(f"() => window.location.search === {funnel.search()!r}",
                           timeout=UPDATE_MS)
    expect(page.locator(f"#{ids.ACTIVE_SCENARIO}")).to_contain_text(funnel.title,
                                                                     timeout=UPDATE_MS)
    expect(page.locator(f"#{ids.pid('left', ids.VIEW)} input[value=funnel]")).to_be_checked(
        timeout=UPDATE_MS)
    # a changed control leaves the scenario: the note goes away
    seed = page.locator(f"#{ids.pid('right', ids.SEED)}")
    seed.fill("1")
    seed.press("Enter")
    page.wait_for_function("() => window.location.search.includes('r.seed=1')",
                           timeout=UPDATE_MS)
    expect(page.locator(f"#{ids.ACTIVE_SCENARIO}")).to_be_hidden(timeout=UPDATE_MS)
    wait_panel(page, "right", "funnel", "SK glass: N=16, J0=0, seed 1", UPDATE_MS)
    assert browser_errors == []


def test_a_link_computes_only_its_own_views(page: Page, server_url: str,
                                            browser_errors: list[str]) -> None:
    """Opening a link starts each panel's job once, with the link's settings: never the default
    views first (they would cost the server two views and race the link's)."""
    jobs: list[dict] = []

    def record(request) -> None:  # noqa: ANN001 -- a Playwright request
        # a job's start (its polls carry a cacheKey in the URL)
        if "_dash-update-component" in request.url and "cacheKey=" not in request.url:
            body = request.post_data_json or {}
            if "-drawn.data" in body.get("output", ""):  # a panel job (only it draws that)
                jobs.append({i["id"]: i.get("value") for i in body.get("inputs", [])
                             if isinstance(i, dict)})

    page.on("request", record)
    preset = presets.by_key("goodfellow")  # both panels: networks (the defaults: spin models)
    page.goto(server_url + "/" + preset.search())
    for side in ids.PANELS:
        view, text = EXPECTED[preset.key][side]
        wait_panel(page, side, view, text, SLOW_MS)
    models = {side: [job[ids.pid(side, ids.MODEL)] for job in jobs
                     if ids.pid(side, ids.MODEL) in job] for side in ids.PANELS}
    assert models == {"left": ["network"], "right": ["network"]}, jobs  # one job each
    assert browser_errors == []
