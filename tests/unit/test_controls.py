"""The control schema (app/controls.py) drives the layout, the URL, the callbacks and the help.

* every control of the schema is on the page (both panels) as its kind of component, with its
  label, options and the side's default, and nothing else on a panel takes a value unnoticed;
* the URL carries every control it should: a round trip of each value of each control;
* each control shows exactly for its families and views (walking the layout's areas);
* the help's control entries are the schema's labels and texts;
* the callbacks take their Inputs and States from the schema.
"""

import itertools

import pytest
from dash import dcc, html

from app import controls, create_app, ids, layout, urlstate
from app import help as control_help
from app.controls import CONTROLS, FAMILIES, VIEWS
from app.ids import pid
from tests.unit.panels import components

KINDS = {"slider": dcc.Slider, "radio": dcc.RadioItems, "dropdown": dcc.Dropdown,
         "checklist": dcc.Checklist, "number": dcc.Input, "textarea": dcc.Textarea,
         "upload": dcc.Upload}
VALUE_COMPONENTS = (dcc.Slider, dcc.RadioItems, dcc.Dropdown, dcc.Checklist, dcc.Input,
                    dcc.Textarea)


@pytest.fixture(scope="module")
def page() -> html.Div:
    return layout.build()


def by_id(root) -> dict:
    return {c.id: c for c in components(root) if isinstance(getattr(c, "id", None), str)}


def parents(root) -> dict[str, list]:
    """Each component id -> the components above it (outermost first)."""
    found: dict[str, list] = {}

    def walk(node, above: list) -> None:
        if isinstance(node, list | tuple):
            for child in node:
                walk(child, above)
        elif hasattr(node, "to_plotly_json"):
            if isinstance(getattr(node, "id", None), str):
                found[node.id] = above
            walk(getattr(node, "children", None), [*above, node])

    walk(root, [])
    return found


@pytest.mark.parametrize("side", ids.PANELS)
def test_every_control_is_on_the_page_as_the_schema_says(page, side):
    found = by_id(page)
    for c in CONTROLS:
        component = found[pid(side, c.name)]
        assert isinstance(component, KINDS[c.kind]), c.name
        if c.kind not in ("textarea", "upload"):  # a drop zone holds a file, not a value
            assert component.value == c.default_for(side), c.name
        if c.options:
            assert list(component.options) == list(c.options), c.name
        if c.kind == "slider":
            assert (component.min, component.max, component.step) == c.bounds
    labels = {comp.htmlFor: comp.children for comp in components(page)
              if isinstance(comp, html.Label)}
    for c in CONTROLS:
        if c.kind == "checklist":  # its option is its label
            assert c.options[0]["label"].strip() == c.label
        elif c.kind == "upload":  # the drop zone shows its label
            assert found[pid(side, c.name)].children.children[0] == c.label
        else:
            assert labels[pid(side, c.name)] == c.label, c.name


def test_no_panel_control_is_outside_the_schema(page):
    """Every value-holding control of a panel is in the schema (the temperature slider of the
    funnel view aside: its range is the funnel's, set by its callback)."""
    names = {c.name for c in CONTROLS if c.kind != "upload"} | {ids.TEMPERATURE}
    for side in ids.PANELS:
        panel = by_id(page)[pid(side, "panel")]
        held = {comp.id.removeprefix(side + "-") for comp in components(panel)
                if isinstance(comp, VALUE_COMPONENTS)}
        assert held == names


def test_the_first_load_settings_differ_by_side_as_declared():
    left, right = (controls.defaults(side) for side in ids.PANELS)
    differ = {name for name in left if left[name] != right[name]}
    assert differ == {ids.MODEL, ids.NATIVE_BIAS, ids.SPAN, ids.DIRECTIONS}
    assert (left[ids.MODEL], right[ids.MODEL]) == ("ising", "pspin")


def test_names_are_unique_and_roles_partition_the_controls():
    names = [c.name for c in CONTROLS]
    assert len(names) == len(set(names))
    assert set(controls.MODEL_NAMES) | set(controls.DISPLAY_NAMES) == set(controls.URL_NAMES)
    assert not set(controls.MODEL_NAMES) & set(controls.DISPLAY_NAMES)
    assert [c.name for c in CONTROLS if not c.in_url] == [ids.OPEN_EXPORT, ids.ARCH]


def _url_values(c: controls.Control) -> list:
    spec = urlstate.SPECS["left"][c.name]
    if spec["kind"] == "choice":
        return c.values()
    if spec["kind"] == "multi":
        return [[], c.values()]
    if spec["kind"] == "integer":
        return [spec["min"], spec["max"]]
    lo, hi, step = c.bounds
    return [lo + k * step for k in range(round((hi - lo) / step) + 1)]


@pytest.mark.parametrize("control", [c for c in CONTROLS if c.in_url], ids=lambda c: c.name)
def test_every_value_of_every_control_survives_a_url_round_trip(control):
    for side, value in itertools.product(ids.PANELS, _url_values(control)):
        panels = {s: urlstate.defaults(s) for s in ids.PANELS}
        panels[side][control.name] = value
        decoded, _, notes = urlstate.decode(urlstate.encode(panels))
        assert notes == [] and urlstate.same(decoded[side][control.name], value), (side, value)


def test_the_old_view_kind_key_still_opens_a_view():
    panels, _, notes = urlstate.decode("?l.view-kind=funnel&r.view=sweep")
    assert notes == [] and panels["left"][ids.VIEW] == "funnel" and panels["right"][ids.VIEW] == "sweep"
    assert urlstate.canonical("?l.view-kind=funnel") == "?l.view=funnel"


@pytest.mark.parametrize(("family", "view"), list(itertools.product(sorted(FAMILIES), sorted(VIEWS))))
def test_a_group_shows_exactly_where_one_of_its_controls_applies(family, view):
    """No empty group (a title over nothing), and no applying control in a hidden group."""
    shown = controls.visible({ids.MODEL: family, ids.VIEW: view, ids.NET_SOURCE: "moons-mlp"})
    groups = {c.area for c in CONTROLS if c.area} - {ids.UPLOAD_GROUP}
    for area in groups:
        members = [c for c in CONTROLS if c.area == area]
        assert shown[area] == any(c.applies(family, view) for c in members), area
    for box, areas in controls.BOXES.items():
        assert shown[box] == any(c.applies(family, view) for c in CONTROLS if c.area in areas)


def test_controls_that_do_nothing_for_a_view_are_not_shown():
    """Weight decay only reshapes a network's loss; the sweep sets N itself."""
    def shown(family: str, view: str) -> set[str]:
        return {c.name for c in CONTROLS if controls.visible(
            {ids.MODEL: family, ids.VIEW: view})[controls.field_id(c.name)]}

    assert ids.WEIGHT_DECAY not in shown("ising", "slice") | shown("pspin", "slice")
    assert ids.WEIGHT_DECAY in shown("network", "slice")
    assert ids.ISING_N not in shown("ising", "sweep") and ids.ISING_N in shown("ising", "funnel")
    assert ids.NATIVE_BIAS in shown("ising", "sweep")  # the sweep's models have it


@pytest.mark.parametrize(("family", "view"), list(itertools.product(sorted(FAMILIES), sorted(VIEWS))))
def test_each_control_shows_exactly_for_its_families_and_views(page, family, view):
    """A control shows when no component above it is hidden (the areas' styles as the
    visibility callback sets them; 'my upload' chosen, so the upload group can show)."""
    styles = layout.area_styles({ids.MODEL: family, ids.VIEW: view,
                                 ids.NET_SOURCE: controls.UPLOAD})
    above = parents(page)
    for side in ids.PANELS:
        area_of = {pid(side, area): area for area in styles}
        for c in CONTROLS:
            hidden = [node.id for node in above[pid(side, c.name)]
                      if area_of.get(getattr(node, "id", None)) is not None
                      and styles[area_of[node.id]] == layout.HIDDEN]
            assert (not hidden) == c.applies(family, view), (side, c.name, hidden)


@pytest.mark.parametrize("junk", [["ising"], {"model": "ising"}, 5, None, ""])
def test_a_family_or_view_that_is_not_a_string_shows_no_area(junk):
    """Only a hand-made request sends one; an unhashable one made the visibility callback fail
    with a 500."""
    for settings in ({ids.MODEL: junk, ids.VIEW: "slice"}, {ids.MODEL: "ising", ids.VIEW: junk}):
        assert all(style == layout.HIDDEN for style in layout.area_styles(settings).values())


def test_the_help_explains_each_control_in_the_schemas_words():
    entries = {e.label: e for e in control_help.ENTRIES}
    for c in CONTROLS:
        assert c.name in entries[c.label].targets and entries[c.label].text == c.help
    spins = entries["Spins N"]
    assert spins.targets == (ids.ISING_N, ids.PSPIN_N)  # one label, one entry


def test_the_callbacks_read_the_schemas_controls():
    app = create_app()
    for side in ids.PANELS:
        job = next(entry for key, entry in app.callback_map.items()
                   if key.startswith("..") and f"{pid(side, ids.DRAWN)}.data" in key)
        inputs = {f"{i['id']}" for i in job["inputs"]}
        assert {pid(side, name) for name in controls.MODEL_NAMES} <= inputs
        states = {f"{s['id']}" for s in job["state"]}
        assert {pid(side, name) for name in controls.DISPLAY_NAMES} <= states
