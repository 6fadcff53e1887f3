"""Guided scenarios (app/presets.py): every preset is a valid URL of the settings it names."""

import pytest

from app import ids, presets, urlstate


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
        untouched = set(urlstate.NAMES) - set(wanted)
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
