"""Guided scenarios (app/presets.py): every preset is a valid URL of the settings it names; the
page lists them as links and explains the one its URL opens."""

import pytest
from dash import dcc, html

from app import ids, layout, presets, urlstate
from app.controls import URL_NAMES
from tests.unit.panels import components


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda p: p.key)
def test_a_preset_url_opens_exactly_its_settings(preset):
    search = preset.search()
    assert search.startswith("?")
    panels, cameras, notes = urlstate.decode(search)
    assert notes == []
    assert cameras is None
    for side, wanted in (("left", preset.left), ("right", preset.right)):
        for name, value in wanted.items():
            assert urlstate.same(panels[side][name], value), (side, name)
        untouched = set(URL_NAMES) - set(wanted)
        defaults = urlstate.defaults(side)
        assert all(urlstate.same(panels[side][n], defaults[n]) for n in untouched)


def test_presets_have_unique_keys_titles_and_urls():
    keys = [p.key for p in presets.PRESETS]
    assert len(set(keys)) == len(keys) == len(presets.PRESETS)
    assert len({p.title for p in presets.PRESETS}) == len(keys)
    assert len({urlstate.canonical(p.search()) for p in presets.PRESETS}) == len(keys)


def test_a_preset_is_recognised_from_its_url_in_any_order():
    preset = presets.by_key("funnel-vs-glass")
    pairs = preset.search().lstrip("?").split("&")
    assert presets.matching("?" + "&".join(reversed(pairs))) is preset
    assert presets.matching("") is None  # the default page is no preset
    changed = urlstate.encode({**preset.panels(),
                               "right": {**preset.panels()["right"], ids.SEED: 5}})
    assert presets.matching(changed) is None


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(KeyError, match="funnel-vs-glass"):
        presets.by_key("nope")


def test_a_turned_camera_keeps_the_preset():
    preset = presets.by_key("goodfellow")
    assert presets.matching(preset.search() + "&cam=2,0.3,0.8") is preset
    assert presets.matching("?cam=2,0.3,0.8") is None


def test_the_page_lists_every_preset_as_a_link_to_its_url_with_its_explanation():
    page = layout.build()
    found = {getattr(c, "id", None): c for c in components(page)}
    section = found[ids.SCENARIOS]
    assert isinstance(section, html.Details) and section.open is False  # the surfaces first
    order = [getattr(c, "id", None) or getattr(c, "className", None) for c in page.children]
    # near the top: after the header, before the active scenario's note and the panels
    assert section in page.children[order.index("guides")].children
    assert order.index("guides") < order.index(ids.ACTIVE_SCENARIO)
    assert isinstance(page.children[-1], html.Main)
    items = [c for c in components(section) if isinstance(c, html.Li)]
    assert len(items) == len(presets.PRESETS)
    for item, preset in zip(items, presets.PRESETS, strict=True):
        link, explanation = item.children
        assert isinstance(link, dcc.Link)  # client-side: the URL reader applies it
        assert (link.id, link.href, link.children) == (ids.scenario_link(preset.key),
                                                      preset.search(), preset.title)
        assert explanation.children == preset.explanation
    note = found[ids.ACTIVE_SCENARIO]
    assert note.style == layout.HIDDEN and not note.children


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda p: p.key)
def test_the_note_above_the_panels_explains_the_preset_the_url_opens(app, preset):
    show = next(entry["callback"].__wrapped__ for key, entry in app.callback_map.items()
                if f"{ids.ACTIVE_SCENARIO}.children" in key)
    pairs = preset.search().lstrip("?").split("&")
    out = show("?" + "&".join(reversed(pairs)))  # any order
    children, style = out["note"], out["style"]
    assert style == layout.SHOWN
    text = [c.children for c in children]
    assert text[0] == f"Scenario: {preset.title}" and text[1] == preset.explanation


def test_the_note_is_hidden_when_the_url_opens_no_preset(app):
    show = next(entry["callback"].__wrapped__ for key, entry in app.callback_map.items()
                if f"{ids.ACTIVE_SCENARIO}.children" in key)
    changed = urlstate.encode({**presets.PRESETS[0].panels(),
                               "left": {**presets.PRESETS[0].panels()["left"], ids.SEED: 4}})
    for search in ("", None, changed, "?zzz=1"):
        out = show(search)
        children, style = out["note"], out["style"]
        assert children == [] and style == layout.HIDDEN
    assert layout.active_scenario(None) == ([], layout.HIDDEN)
