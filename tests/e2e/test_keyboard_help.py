"""Keyboard use and the help panel in a real browser.

* Tab from the top of the page reaches every control of the left panel that the default page
  shows (by its id from app/ids.py), the header's Copy link, the scenario links and the help
  panel's summary; every Tab stop shows a focus ring that it does not have unfocused (drawn on
  the element, or on the drop zone around a transparent file input);
* keys operate the controls, and the URL (which holds every control: app/urlstate.py) follows:
  arrows on a radio group and a slider, the Down arrow and Enter in a dropdown, Space on a check
  box; Enter on the help summary opens the help;
* an upload's drop zone takes the focus (ringed), its input is named by the zone's words,
  and Enter opens the file chooser.
"""


from playwright.sync_api import Page, expect

from app import help as control_help
from app import ids, layout
from app.ids import pid
from tests.e2e.conftest import query, wait_query

UPDATE_MS = 120_000  # a view computed after the page opens
MAX_TABS = 250  # more Tab stops than the page has: the walk ends back on the page's body
INTERACTIVE = ("RadioItems", "Dropdown", "Slider", "Input", "Textarea", "Upload", "Checklist",
               "Button")
# what the default page shows in the left panel (the Ising funnel, slice view): at least these
DEFAULT_LEFT = (ids.MODEL, ids.VIEW, ids.ISING_N, ids.NATIVE_BIAS, ids.SEED, ids.SPAN,
                ids.STEPS, ids.PLOT_KIND, ids.COLORSCALE, ids.LOG_SCALE, ids.CLIP,
                ids.CONTOUR_LEVELS, ids.CENTER, ids.DIRECTIONS, ids.PATH_FROM,
                ids.PATH_TO, *ids.DOWNLOAD_BUTTONS.values())

# The focused element's ring as drawn: on the element itself, or, for a (nearly) transparent
# element such as a drop zone's file input, on its nearest opaque ancestor. Also the ring that
# the previous Tab stop has now that it lost the focus, and which of ``controls`` (ids) holds
# the focus.
FOCUS = """controls => {
    const opacity = e => parseFloat(getComputedStyle(e).opacity);
    const shown = e => { let o = 1; for (let a = e; a; a = a.parentElement) o *= opacity(a); return o; };
    const box = e => {
        let b = e;
        while (b.parentElement && opacity(b) < 0.1) b = b.parentElement;
        return b;
    };
    const ring = e => {
        const s = getComputedStyle(e);
        const outline = s.outlineStyle === 'none' || parseFloat(s.outlineWidth) === 0 ? 'none'
            : `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`;
        return {outline, shadow: s.boxShadow};
    };
    const e = document.activeElement;
    const before = window.__kbPrevious ? ring(box(window.__kbPrevious)) : null;
    window.__kbPrevious = e === document.body ? null : e;
    const b = box(e);
    const rect = b.getBoundingClientRect();
    return {
        tag: e.tagName, id: e.id, type: e.type || '', text: (e.textContent || '').trim().slice(0, 40),
        control: controls.find(id => document.getElementById(id)?.contains(e)) || null,
        inSummary: !!e.closest('summary'), ring: ring(b), previousUnfocused: before,
        shown: shown(b), size: rect.width * rect.height,
    };
}"""


def left_controls() -> list[str]:
    """The ids of every interactive component of the left panel, as the layout builds it."""
    found, stack = [], [layout.panel("left")]
    while stack:
        node = stack.pop()
        if isinstance(node, list | tuple):
            stack.extend(node)
            continue
        if type(node).__name__ in INTERACTIVE and isinstance(getattr(node, "id", None), str):
            found.append(node.id)
        children = getattr(node, "children", None)
        if children is not None and not isinstance(children, str | int | float):
            stack.append(children)
    return found


def visible(page: Page, control_ids: list[str]) -> list[str]:
    """Those of ``control_ids`` that the page shows now (not inside a display:none group)."""
    return page.evaluate(
        "ids => ids.filter(id => document.getElementById(id)?.checkVisibility())", control_ids)


def tab_through(page: Page, controls: list[str]) -> list[dict]:
    """Press Tab from the top of the page until the focus is back on the body; every stop."""
    page.evaluate("() => { document.activeElement?.blur(); window.__kbPrevious = null; }")
    stops = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUS, controls)
        if stops:
            stops[-1]["unfocused"] = stop["previousUnfocused"]
        if stop["tag"] == "BODY":
            return stops
        stops.append(stop)
    raise AssertionError(f"Tab never came back to the page's body: {stops[-5:]}")


def wait_focused_option(page: Page, text: str) -> None:
    """Wait for the keyboard focus to be on the open dropdown's option ``text``."""
    page.wait_for_function(
        "t => document.activeElement?.closest('.dash-dropdown-option')?.textContent.trim() === t",
        arg=text, timeout=10_000)


def test_tab_reaches_every_control_with_a_visible_focus(
    dashboard: Page, browser_errors: list[str]
) -> None:
    page = dashboard
    # sliders and dropdowns are rendered once their code has loaded: wait for the defaults
    page.wait_for_function("ids => ids.every(id => document.getElementById(id)?.checkVisibility())",
                           arg=[pid("left", name) for name in DEFAULT_LEFT], timeout=UPDATE_MS)
    # Cancel shows only while a view computes (the default page may still refine its slices)
    cancel = pid("left", ids.CANCEL)
    controls = [c for c in visible(page, left_controls()) if c != cancel]
    page_controls = [ids.COPY_LINK, ids.SCENARIOS, ids.HELP]  # the guides are folded
    stops = tab_through(page, controls + page_controls)

    reached = {stop["control"] for stop in stops}
    assert set(controls) - reached == set(), f"never focused by Tab: {set(controls) - reached}"
    assert set(page_controls) - reached == set()
    assert stops[0]["control"] == ids.COPY_LINK  # the walk starts at the top
    assert any(stop["inSummary"] and stop["control"] == ids.HELP for stop in stops)
    order = [stop["control"] for stop in stops if stop["control"]]
    assert order.index(ids.HELP) < order.index(pid("left", ids.MODEL))  # help before the panels
    for stop in stops:
        where = f"Tab stop {stop['tag']}#{stop['id']} {stop['text']!r} in {stop['control']}"
        assert stop["shown"] > 0.5 and stop["size"] > 0, f"{where}: invisible while focused"
        ring, unfocused = stop["ring"], stop.get("unfocused")
        assert ring["outline"] != "none" or ring["shadow"] != "none", f"{where}: no focus ring"
        assert ring != unfocused, f"{where}: looks the same focused and unfocused ({ring})"
    assert browser_errors == []


def test_keys_operate_the_controls_and_the_help(dashboard: Page, browser_errors: list[str]) -> None:
    page = dashboard
    # a radio group: the arrow moves the choice (51 is the last of 21, 31, 51: it wraps)
    page.locator(f"#{pid('left', ids.STEPS)} input:checked").focus()
    page.keyboard.press("ArrowRight")
    wait_query(page, "l.steps", "21")
    expect(page.locator(f"#{pid('left', ids.STEPS)} input[value='21']")).to_be_checked()
    # a slider: one step of 0.25
    thumb = page.locator(f"#{pid('left', ids.SPAN)} [role=slider]")
    thumb.focus()
    page.keyboard.press("ArrowRight")
    expect(thumb).to_have_attribute("aria-valuenow", "1.25")
    wait_query(page, "l.span", "1.25")
    # a dropdown: the Down arrow opens it, arrows move, Enter picks
    dropdown = page.locator(f"#{pid('left', ids.COLORSCALE)}")
    dropdown.focus()
    page.keyboard.press("ArrowDown")
    expect(dropdown).to_have_attribute("aria-expanded", "true")
    wait_focused_option(page, "Viridis")  # the list opens on the current choice
    page.keyboard.press("ArrowDown")
    wait_focused_option(page, "Cividis")
    page.keyboard.press("Enter")
    wait_query(page, "l.colorscale", "Cividis")
    # a check box: Space ticks it
    page.locator(f"#{pid('left', ids.LOG_SCALE)} input").focus()
    page.keyboard.press("Space")
    wait_query(page, "l.log-scale", "log")
    assert {"l.steps", "l.span", "l.colorscale", "l.log-scale"} <= set(query(page))
    # the help: Enter on its summary opens it, and it explains the controls just used
    help_panel = page.locator(f"#{ids.HELP}")
    expect(help_panel).not_to_have_attribute("open", "")
    help_panel.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(help_panel).to_have_attribute("open", "")
    for entry in control_help.ENTRIES:
        expect(help_panel.locator("dt", has_text=entry.label).first).to_be_visible()
    expect(help_panel.locator("dd").first).to_have_text(control_help.ENTRIES[0].text)
    page.keyboard.press("Enter")
    expect(help_panel).not_to_have_attribute("open", "")
    assert browser_errors == []


def test_a_drop_zone_takes_the_focus_and_enter_opens_the_file_chooser(
    page: Page, server_url: str, browser_errors: list[str]
) -> None:
    # a listener from the start: Playwright intercepts file choosers only once one is
    # listened for, and turning that on while the key is pressed can come too late
    page.on("filechooser", lambda chooser: None)
    page.goto(server_url + "/?l.model=network&l.net-source=upload&l.steps=21")
    zone = page.locator(f"#{pid('left', ids.UPLOAD_CHECKPOINT)}")
    expect(zone).to_be_visible(timeout=UPDATE_MS)
    page.locator(f"#{pid('left', ids.NET_SOURCE)}").focus()
    page.keyboard.press("Tab")  # the next Tab stop after the Network dropdown: the first zone
    stop = page.evaluate(FOCUS, [pid("left", slot) for slot, _ in layout.UPLOAD_SLOTS])
    assert stop["control"] == pid("left", ids.UPLOAD_CHECKPOINT), stop
    assert stop["type"] == "file" and stop["shown"] > 0.5, stop
    assert stop["ring"]["outline"] != "none", stop  # the zone around the input is ringed
    for slot, label in layout.UPLOAD_SLOTS:  # each input is named by its zone's words
        expect(page.locator(f"#{pid('left', slot)} input[type=file]")).to_have_accessible_name(
            f"{label}: drop or choose a file")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.element.evaluate(
        f"e => e.closest('#{pid('left', ids.UPLOAD_CHECKPOINT)}') !== null")
    for _ in layout.UPLOAD_SLOTS[1:]:  # the other zones follow, one Tab each
        page.keyboard.press("Tab")
    stop = page.evaluate(FOCUS, [pid("left", slot) for slot, _ in layout.UPLOAD_SLOTS])
    assert stop["control"] == pid("left", ids.UPLOAD_DATA), stop
    assert browser_errors == []
