"""Both panels' settings and the camera as a URL query string (app/urlstate.py), no browser."""

import random
from urllib.parse import parse_qsl

import pytest

from app import controls, ids, urlstate
from app.callbacks.url import url_notes, url_panels
from app.controls import DISPLAY_NAMES, MODEL_NAMES, URL_NAMES
from app.urlstate import decode, encode
from tests.unit import clientside
from tests.unit.clientside import needs_node

SIDES = ids.PANELS
CAMERA = {"eye": {"x": 2.0, "y": 0.3, "z": 0.8}, "up": {"x": 0.0, "y": 0.0, "z": 1.0},
          "center": {"x": 0.0, "y": 0.0, "z": 0.0}}
KEY = "0123456789abcdef" * 4


def defaults() -> dict:
    return {side: urlstate.defaults(side) for side in SIDES}


def assert_same_panels(got: dict, expected: dict) -> None:
    for side in SIDES:
        assert set(got[side]) == set(expected[side])
        for name, value in expected[side].items():
            assert urlstate.same(got[side][name], value), (side, name, got[side][name], value)


def random_value(spec: dict, rng: random.Random):
    if spec["kind"] == "choice":
        return rng.choice(spec["options"])
    if spec["kind"] == "multi":
        return [o for o in spec["options"] if rng.random() < 0.5]
    if spec["kind"] == "integer":  # within the control's range (seeds: 0.., contour levels 5..60)
        return rng.choice([v for v in (0, 1, 7, 12345, urlstate.MAX_SEED, spec["min"], spec["max"])
                           if spec["min"] <= v <= spec["max"]])
    steps = round((spec["max"] - spec["min"]) / spec["step"])
    value = spec["min"] + rng.randint(0, steps) * spec["step"]  # float noise, as a slider sends
    return int(value) if spec["integer"] else value


def test_the_url_carries_every_control_of_the_panel_callbacks():
    assert set(URL_NAMES) == set(MODEL_NAMES) | set(DISPLAY_NAMES)
    assert len(URL_NAMES) == len(set(URL_NAMES))
    assert list(urlstate.SPECS["left"]) == list(URL_NAMES)


def test_defaults_come_from_the_schema():
    for side in SIDES:
        d = urlstate.defaults(side)
        expected = controls.defaults(side)
        assert {name: d[name] for name in URL_NAMES} == {name: expected[name] for name in URL_NAMES}
        assert d[ids.VIEW] == "slice" and d[ids.LOG_SCALE] == [] and d[ids.UPLOADED] == {}
    spec = urlstate.SPECS["left"]
    assert spec[ids.ISING_N] == {"kind": "range", "min": 4, "max": 20, "step": 1, "default": 16,
                                 "integer": True}
    assert spec[ids.P]["options"] == [2, 3, 4] and spec[ids.STEPS]["options"] == [21, 31, 51]
    assert "upload" in spec[ids.NET_SOURCE]["options"]


def test_the_default_page_has_no_query():
    assert encode(defaults(), None) == ""
    assert encode(defaults(), dict.fromkeys(SIDES, urlstate.DEFAULT_CAMERA)) == ""
    assert encode({}, None) == ""
    panels, cameras, notes = decode("")
    assert_same_panels(panels, defaults())
    assert cameras is None and notes == []
    assert decode(None)[2] == [] and decode("?")[2] == []


def test_a_changed_page_reads_plainly():
    panels = defaults()
    panels["left"][ids.MODEL] = "pspin"
    panels["left"][ids.PLANTED] = 0.30000000000000004  # a slider's float noise
    panels["right"] |= {ids.VIEW: "funnel", ids.SEED: 3, ids.DIRECTIONS: "random"}
    search = encode(panels, dict.fromkeys(SIDES, CAMERA))
    assert search == ("?l.model=pspin&l.planted=0.3&r.view=funnel&r.seed=3"
                      "&r.directions=random&cam=2,0.3,0.8")
    back, cameras, notes = decode(search)
    assert notes == []
    assert_same_panels(back, panels)
    assert cameras == dict.fromkeys(SIDES, CAMERA)
    assert back["left"][ids.PLANTED] == 0.3 and isinstance(back["right"][ids.SEED], int)


@pytest.mark.parametrize("seed", range(12))
def test_many_settings_round_trip(seed):
    rng = random.Random(seed)
    panels = defaults()
    for side in SIDES:
        for name, spec in urlstate.SPECS[side].items():
            if rng.random() < 0.6:
                panels[side][name] = random_value(spec, rng)
        if rng.random() < 0.3:
            panels[side][ids.PATH_TO] = f"state:{rng.randrange(2**20)}"
        if rng.random() < 0.3:
            panels[side][ids.UPLOADED] = {"checkpoint": KEY, "data": KEY[::-1]}
    search = encode(panels)
    back, cameras, notes = decode(search)
    assert notes == [] and cameras is None
    assert_same_panels(back, panels)
    assert encode(back) == search  # canonical: encoding what was read changes nothing
    for key, _ in parse_qsl(search.lstrip("?")):  # only what differs from the defaults
        side = {"l": "left", "r": "right"}[key[0]]
        name = key[2:]
        if name in urlstate.SPECS[side]:
            assert not urlstate.same(panels[side][name], urlstate.SPECS[side][name]["default"])


def test_values_are_typed_like_the_controls():
    panels, _, notes = decode("?l.p=4&l.steps=31.0&l.ising-n=12&l.native-bias=1.5&l.clip=95"
                              "&l.log-scale=log&r.pspin-n=32&r.seed=0012")
    assert notes == []
    left, right = panels["left"], panels["right"]
    assert left[ids.P] == 4 and type(left[ids.P]) is int
    assert left[ids.STEPS] == 31 and type(left[ids.STEPS]) is int
    assert left[ids.ISING_N] == 12 and type(left[ids.ISING_N]) is int
    assert left[ids.NATIVE_BIAS] == 1.5 and left[ids.CLIP] == 95 and left[ids.LOG_SCALE] == ["log"]
    assert right[ids.PSPIN_N] == 32 and right[ids.SEED] == 12


def test_plot_type_and_contour_levels_travel_in_the_url():
    panels = defaults()
    panels["left"] |= {ids.PLOT_KIND: "heatmap", ids.CONTOUR_LEVELS: 12}
    panels["right"] |= {ids.PLOT_KIND: "contour", ids.CONTOUR_LEVELS: 60.0}  # as a number input
    search = encode(panels)
    assert search == ("?l.plot-kind=heatmap&l.contour-levels=12"
                      "&r.plot-kind=contour&r.contour-levels=60")
    back, _, notes = decode(search)
    assert notes == []
    assert back["left"][ids.PLOT_KIND] == "heatmap" and back["left"][ids.CONTOUR_LEVELS] == 12
    assert back["right"][ids.PLOT_KIND] == "contour" and back["right"][ids.CONTOUR_LEVELS] == 60
    spec = urlstate.SPECS["left"]
    assert spec[ids.PLOT_KIND] == {"kind": "choice", "options": ["surface", "contour", "heatmap"],
                                   "default": "surface"}
    assert spec[ids.CONTOUR_LEVELS] == {"kind": "integer", "min": 5, "max": 60, "default": 20}
    # the defaults stay out of the URL; opening one sets only what differs
    assert encode(defaults()) == ""
    changed, _, _ = urlstate.changes("?r.contour-levels=7", defaults(), None)
    assert changed == {"left": {}, "right": {ids.CONTOUR_LEVELS: 7}}


@pytest.mark.parametrize(("query", "words"), [
    ("l.model=quantum", "one of ising, pspin, network"),
    ("l.view=", "one of slice"),
    ("r.ising-n=21", "from 4 to 20 in steps of 1"),
    ("r.ising-n=12.5", "from 4 to 20"),
    ("l.native-bias=1.3", "in steps of 0.25"),
    ("l.native-bias=nan", "a number"),
    ("l.span=inf", "a number"),
    ("r.pspin-n=20", "in steps of 8"),
    ("l.seed=-1", "a whole number from 0 to 4294967295"),
    ("l.seed=1e3", "a whole number"),
    ("l.seed=99999999999999999999", "a whole number"),
    ("r.p=5", "one of 2, 3, 4"),
    ("l.steps=abc", "one of 21, 31, 51"),
    ("l.log-scale=log,sqrt", "comma-separated list"),
    ("l.plot-kind=pie", "one of surface, contour, heatmap"),
    ("r.contour-levels=4", "a whole number from 5 to 60"),
    ("r.contour-levels=61", "a whole number from 5 to 60"),
    ("r.contour-levels=12.5", "a whole number from 5 to 60"),
    ("l.center=state:5", "one of minimum:0"),  # only the path's end takes a tree minimum
    ("l.path-to=state:9999999", "one of"),
    ("l.upload-checkpoint=xyz", "64 hexadecimal digits"),
    ("cam=1,2", "3 numbers"),
    ("cam=a,b,c", "3 numbers"),
    ("cam=1,1,nan", "3 numbers"),
    ("cam=1000,0,0", "within +-100"),
    ("cam=0,0,0", "the eye apart from the centre"),
    ("l.cam=1,1,1,0,0,0,0,0,0", "non-zero up"),
])
def test_bad_values_are_left_out_with_a_note(query, words):
    panels, cameras, notes = decode("?" + query + "&r.seed=4")
    assert len(notes) == 1 and words in notes[0] and query.split("=")[0] in notes[0]
    expected = defaults()
    expected["right"][ids.SEED] = 4  # the good part of the link still counts
    assert_same_panels(panels, expected)
    assert cameras is None


def test_unknown_keys_are_left_out_with_a_note():
    panels, cameras, notes = decode("?foo=1&l.color=red&x.model=ising&left.model=pspin"
                                    "&l.model=pspin&utm_source=mail")
    assert panels["left"][ids.MODEL] == "pspin"
    assert len(notes) == 5 and all("not a setting of this page" in n for n in notes)
    assert notes[0].startswith("foo=1")


@pytest.mark.parametrize("search", [
    "?%zz", "?&&&", "?=", "?l.=3", "?l.model", "?l.model=ising=pspin", "?" + "x" * 5000,
    "?l.seed=" + "9" * 400, "?cam=" + ",".join(["1e308"] * 9), "?l.path-to=state:",
    "?l.model=%00%ff", "?" + "&".join(f"k{i}=v" for i in range(400)),
])
def test_hand_edited_urls_never_raise(search):
    panels, cameras, notes = decode(search)
    assert set(panels) == set(SIDES) and cameras is None
    assert len(notes) <= urlstate.MAX_NOTES + 1
    assert all(isinstance(note, str) and len(note) < 400 for note in notes)


@pytest.mark.parametrize("search", [5, ["?l.model=pspin"], {"search": "?"}, 1e308, True])
def test_a_search_that_is_not_text_is_no_query(search):
    """Only a hand-made request sends one (it made the URL callbacks fail with a 500)."""
    assert decode(search) == decode("")


def test_a_checklist_value_compares_with_anything():
    """The URL reader compares the link's checklist values with the page's, which a hand-made
    request sets to anything (an int made the reader fail with a 500)."""
    assert urlstate.same(["log"], ["log"]) and urlstate.same([], None) and urlstate.same((), [])
    for other in (5, 1.5, "log", {"log": 1}, True):
        assert not urlstate.same(["log"], other) and not urlstate.same(other, ["log"])
    assert urlstate.same([], 0) and not urlstate.same([], 5)


def test_a_too_long_query_shows_the_defaults():
    panels, cameras, notes = decode("?l.model=pspin&" + "x=1&" * 2000)
    assert_same_panels(panels, defaults()) and cameras is None
    assert "too long" in notes[0]


def test_repeated_keys_keep_the_last():
    panels, _, notes = decode("?l.seed=1&l.seed=2")
    assert panels["left"][ids.SEED] == 2 and notes == []


def test_cameras_round_trip():
    turned = {"eye": {"x": -1.23456, "y": 0.5, "z": 2}, "up": {"x": 0, "y": 1, "z": 0},
              "center": {"x": 0.1, "y": 0, "z": -0.2}}
    search = encode({}, dict.fromkeys(SIDES, turned))
    assert search == "?cam=-1.235,0.5,2,0,1,0,0.1,0,-0.2"  # nine numbers: up and centre moved
    _, cameras, notes = decode(search)
    assert notes == [] and urlstate.same_camera(cameras["left"], turned)
    assert cameras["left"] == cameras["right"]
    # an eye alone: default up and centre
    _, cameras, _ = decode("?cam=2,0.3,0.8")
    assert cameras == dict.fromkeys(SIDES, CAMERA)
    # the panels' own cameras when they differ; a default one is left out
    own = {"left": CAMERA, "right": urlstate.DEFAULT_CAMERA}
    assert encode({}, own) == "?l.cam=2,0.3,0.8"
    _, cameras, _ = decode("?l.cam=2,0.3,0.8")
    assert cameras["left"] == CAMERA and cameras["right"] == urlstate.DEFAULT_CAMERA
    _, cameras, _ = decode("?cam=1,1,1&r.cam=2,0.3,0.8")  # a panel's own wins
    assert cameras["right"] == CAMERA and cameras["left"]["eye"] == {"x": 1, "y": 1, "z": 1}
    # a camera as plotly reports it (extra keys, ints)
    reported = {"eye": {"x": 2, "y": 0.3, "z": 0.8}, "up": {"x": 0, "y": 0, "z": 1},
                "center": {"x": 0, "y": 0, "z": 0}, "projection": {"type": "perspective"}}
    assert encode({}, dict.fromkeys(SIDES, reported)) == "?cam=2,0.3,0.8"
    assert urlstate.same_camera(None, urlstate.DEFAULT_CAMERA)
    assert urlstate.same_camera(CAMERA, {**CAMERA, "eye": {"x": 2.0004, "y": 0.3, "z": 0.8}})
    assert not urlstate.same_camera(CAMERA, {**CAMERA, "eye": {"x": 2.01, "y": 0.3, "z": 0.8}})
    assert urlstate.normalize_camera({"eye": {"x": 1}}) is None
    assert urlstate.normalize_camera("camera") is None


def test_uploads_travel_as_their_keys():
    panels = defaults()
    panels["left"] |= {ids.MODEL: "network", ids.NET_SOURCE: "upload",
                       ids.UPLOADED: {"checkpoint": KEY, "checkpoint2": KEY[::-1]}}
    search = encode(panels)
    assert f"l.upload-checkpoint={KEY}" in search and f"l.upload-checkpoint2={KEY[::-1]}" in search
    back, _, notes = decode(search)
    assert notes == [] and back["left"][ids.UPLOADED] == panels["left"][ids.UPLOADED]
    assert decode("?r.upload-data=" + KEY.upper())[0]["right"][ids.UPLOADED] == {"data": KEY}


@pytest.mark.parametrize("changes", [
    {ids.LOG_SCALE: 3}, {ids.LOG_SCALE: 1e308}, {ids.UPLOADED: 2}, {ids.UPLOADED: [592, -1]},
    {ids.SEED: 10**400}, {ids.MODEL: {"a": [1]}},
])
def test_settings_no_control_has_are_written_without_raising(changes):
    """The URL writer encodes what the controls hold, which a hand-made request sets to anything
    (a checklist's int, an uploads store that is no dict made it fail with a 500); reading the
    link back leaves such a value out with a note."""
    panels = defaults()
    panels["left"] |= changes
    search = encode(panels)
    if ids.UPLOADED in changes:  # no keys of uploads: none in the link
        assert search == "" and urlstate.target(panels, None, "") is None
        return
    assert search.startswith("?") and urlstate.target(panels, None, "") == {
        "search": search, "replace": False}
    assert len(decode(search)[2]) == 1  # one note: the value left out


def test_the_url_target_adds_an_entry_for_a_setting_and_replaces_it_for_a_turn():
    panels = defaults()
    assert urlstate.target(panels, None, "") is None
    assert urlstate.target(panels, dict.fromkeys(SIDES, urlstate.DEFAULT_CAMERA), None) is None
    panels["left"][ids.SEED] = 3
    assert urlstate.target(panels, None, "") == {"search": "?l.seed=3", "replace": False}
    turned = dict.fromkeys(SIDES, CAMERA)
    assert urlstate.target(panels, turned, "?l.seed=3") == {
        "search": "?l.seed=3&cam=2,0.3,0.8", "replace": True}
    # a camera not known yet keeps the URL's; an equivalent URL (other spelling) stays as it is
    assert urlstate.target(panels, None, "?cam=2,0.3,0.8&l.seed=3") is None
    assert urlstate.target(panels, None, "?l.seed=03&l.bogus=1") is None
    assert urlstate.target(panels, turned, "?l.seed=3&cam=2.0001,0.3,0.8") is None


def test_opening_a_url_changes_only_what_differs():
    shown = defaults()
    changed, camera, notes = urlstate.changes("", shown, None)
    assert changed == {"left": {}, "right": {}} and camera is None and notes == []
    changed, camera, notes = urlstate.changes(
        "?l.model=pspin&r.seed=3&r.path-to=state:7&cam=2,0.3,0.8&nope=1", shown, None)
    assert changed == {"left": {ids.MODEL: "pspin"},
                       "right": {ids.SEED: 3, ids.PATH_TO: "state:7"}}
    assert camera == CAMERA and len(notes) == 1
    shown["left"][ids.PLANTED] = 0.30000000000000004
    shown["right"][ids.UPLOADED] = {"checkpoint": KEY}
    changed, camera, _ = urlstate.changes("?l.planted=0.3&cam=2,0.3,0.8", shown, CAMERA)
    assert changed == {"left": {}, "right": {ids.UPLOADED: {}}} and camera is None
    # back to a URL without a camera: the default camera
    _, camera, _ = urlstate.changes("", defaults(), CAMERA)
    assert camera == urlstate.DEFAULT_CAMERA


def test_url_callback_helpers():
    values = {side: {name: urlstate.defaults(side)[name] for name in URL_NAMES} for side in SIDES}
    panels = url_panels(values, {"left": None, "right": {"data": KEY}},
                        {"left": 2.5, "right": None})
    assert panels["left"][ids.UPLOADED] == {} and panels["right"][ids.UPLOADED] == {"data": KEY}
    assert_same_panels(panels, {"left": {**defaults()["left"], ids.WANTED_TEMPERATURE: 2.5},
                                "right": {**defaults()["right"], ids.UPLOADED: {"data": KEY}}})
    assert url_notes([]) == []
    assert url_notes(["a", "b"])[1] == "a; b"



@needs_node
def test_the_page_starts_the_panels_of_a_bare_url_and_hands_every_other_query_to_the_reader():
    """``urlChanged`` (app/assets/funnelscope.js): [START, URL_APPLIED, URL_READ] for (search,
    applied) -- opened without a query, both panels start at once and "" is applied; a query
    not applied yet (opened, back, forward) goes to the server's reader, the way back to no
    query included; a query the page wrote itself goes nowhere."""
    cases = [["", None], ["?", None], ["?l.model=pspin", None], ["?cam=1,2,3", None],
             ["?l.seed=2", "?l.seed=2"], ["?r.seed=3", "?l.seed=2"], ["", "?l.seed=2"],
             ["", ""], [None, None]]
    out = clientside.call("urlChanged", cases)
    for read in (o[2] for o in out if o[2] is not None):
        assert isinstance(read.pop("at"), int | float)  # each read is new, even of one query
    no = None  # no_update
    assert out == [
        [1, "", no], [1, "?", no],
        [no, no, {"search": "?l.model=pspin"}], [no, no, {"search": "?cam=1,2,3"}],
        [no, no, no], [no, no, {"search": "?r.seed=3"}], [no, no, {"search": ""}],
        [no, no, no], [1, "", no],
    ]


def test_a_picked_temperature_travels_in_the_link_and_t_f_is_no_key():
    panels = defaults()
    panels["right"][ids.WANTED_TEMPERATURE] = 0.7943
    assert encode(panels, None) == "?r.temperature=0.7943"
    decoded, _, notes = decode("?r.temperature=0.7943&l.temperature=2")
    assert notes == [] and decoded["right"][ids.WANTED_TEMPERATURE] == 0.7943
    assert decoded["left"][ids.WANTED_TEMPERATURE] == 2.0
    assert decode("")[0]["left"][ids.WANTED_TEMPERATURE] is None  # none: the funnel's T_f
    for value in (None, 0, -1.0, float("nan"), float("inf"), 1e4, True, "2", 10**400):
        panels["right"][ids.WANTED_TEMPERATURE] = value
        assert encode(panels, None) == ""
    # only the temperature differs: the reader sets it, and a link without one goes back to T_f
    shown = {**defaults(), "left": {**defaults()["left"], ids.WANTED_TEMPERATURE: 2.0}}
    changed, _, _ = urlstate.changes("?l.temperature=3.5", shown, None)
    assert changed == {"left": {ids.WANTED_TEMPERATURE: 3.5}, "right": {}}
    changed, _, _ = urlstate.changes("", shown, None)
    assert changed == {"left": {ids.WANTED_TEMPERATURE: None}, "right": {}}


@pytest.mark.parametrize("text", ["0", "-2", "abc", "nan", "inf", "1e4", "1001", ""])
def test_a_bad_temperature_in_a_link_is_left_out_with_a_note(text):
    panels, _, notes = decode(f"?l.temperature={text}")
    assert panels["left"][ids.WANTED_TEMPERATURE] is None
    assert notes == [f"l.temperature={text}: ignored, expected a temperature above 0 and at "
                     "most 1000 (units of H)"]
