"""Both panels' settings and the 3D camera as a URL query string, and back (pure functions).

``encode(panels, cameras)`` writes only what differs from the page's defaults, so the default
page has no query at all; a changed page reads e.g.
``?l.model=pspin&r.view=funnel&r.seed=3&cam=2,0.3,0.8``: ``l.``/``r.`` name the panel, the
rest of a key is the control's name (:data:`app.controls.URL_NAMES`, in that order; an
older name of a control, ``view-kind`` for ``view``, is read too), ``cam`` the eye of the
shared camera (nine numbers when its up vector or centre differ from the default: eye, up,
centre), ``l.cam`` and ``r.cam`` a panel's own camera. Uploads travel as their content hashes
(``l.upload-checkpoint=<sha256>``), so a link to uploaded checkpoints works on the server that
stores them. ``l.temperature=2.5`` is the temperature picked on the funnel view's slider (units
of H; none: the folding temperature T_f), kept in a panel's settings as
``ids.WANTED_TEMPERATURE``.

``decode(search)`` never raises: unknown keys and bad values are left out with a readable note,
and every value is typed and checked against its control in :mod:`app.controls` (the options of
a radio or dropdown, the range and step of a slider), the schema the layout is built from, so
the two cannot drift apart.
"""

import math
import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from app import controls, ids
from landscapes.plots import slices as figures
from landscapes.spin.funnel_views import MAX_TEMPERATURE

SIDE_KEYS = {"left": "l", "right": "r"}
# the UPLOADED store's keys and their URL names (the upload slots' ids)
UPLOAD_KEYS = {"checkpoint": ids.UPLOAD_CHECKPOINT, "checkpoint2": ids.UPLOAD_CHECKPOINT2,
               "checkpoint3": ids.UPLOAD_CHECKPOINT3, "data": ids.UPLOAD_DATA}
CAMERA_KEY = "cam"
TEMPERATURE_KEY = "temperature"  # a panel's picked temperature (ids.WANTED_TEMPERATURE)
CAMERA_PARTS = ("eye", "up", "center")
DEFAULT_CAMERA = {"eye": dict(figures.DEFAULT_CAMERA["eye"]), "up": dict(figures.DEFAULT_CAMERA["up"]),
                  "center": {"x": 0, "y": 0, "z": 0}}
CAMERA_DECIMALS = 3  # in the URL; cameras closer than this are the same camera
CAMERA_LIMIT = 100.0
MAX_SEED = 2**53 - 1  # exact in a browser's numbers
MAX_SEARCH = 4000  # characters: a longer query is not read
MAX_NOTES = 10
STATE_VALUE = re.compile(r"state:(\d{1,7})")  # a barrier-tree minimum as the path's end
MAX_STATE = 2**20  # Ising N <= 20
SAFE = ":,"  # kept readable in values ("through:minimum:1,minimum:2")

Panels = dict[str, dict]
Cameras = dict[str, dict]


def _spec(c: controls.Control, side: str) -> dict:
    """How the URL reads and checks control ``c``: its kind, allowed values and default."""
    default = c.default_for(side)
    if c.kind == "slider":
        lo, hi, step = c.range()
        return {"kind": "range", "min": lo, "max": hi, "step": step, "default": default,
                "integer": all(float(v).is_integer() for v in (lo, step))}
    if c.kind == "checklist":
        return {"kind": "multi", "options": c.values(), "default": default}
    if c.kind in ("radio", "dropdown"):
        return {"kind": "choice", "options": c.values(), "default": default}
    if c.kind == "number":
        lo, hi, _ = c.range()
        return {"kind": "integer", "min": lo, "max": MAX_SEED if hi is None else hi,
                "default": default}
    raise TypeError(f"no URL form for a {c.kind} control")  # a new kind of control


SPECS = {side: {name: _spec(controls.BY_NAME[name], side) for name in controls.URL_NAMES}
         for side in ids.PANELS}
ALIASES = {alias: c.name for c in controls.CONTROLS if c.in_url for alias in c.aliases}


def defaults(side: str) -> dict:
    """The settings of panel ``side`` when the page opens (no query), uploads included."""
    return {**{name: _copy(spec["default"]) for name, spec in SPECS[side].items()},
            ids.UPLOADED: {}, ids.WANTED_TEMPERATURE: None}


def _copy(value):
    return list(value) if isinstance(value, list) else value


# --- values <-> text ------------------------------------------------------------------------


def _number(value: float) -> str:
    """Shortest readable form: 2.0 -> "2", 0.30000000000000004 -> "0.3"."""
    try:
        value = float(value)
    except OverflowError:  # an int beyond any float (no control has one)
        return str(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return f"{value:.10g}"


def _text(spec: dict, value) -> str:
    if spec["kind"] == "multi" and isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return _number(value)
    return str(value)


def _items(value) -> list[str] | None:
    """A checklist's value as sorted strings (empty: []); None for a value no checklist has."""
    if isinstance(value, list | tuple):
        return sorted(map(str, value))
    return None if value else []


def same(a, b) -> bool:
    """Whether two control values are the same setting (2 == 2.0; float noise of sliders)."""
    if isinstance(a, list) or isinstance(b, list):
        items = _items(a)
        return items is not None and items == _items(b)
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool | str):
        try:
            return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        except OverflowError:  # an int beyond any float: no control's value
            return False
    return a == b


def _describe(options: list, limit: int = 8) -> str:
    shown = ", ".join(map(str, options[:limit]))
    return f"one of {shown}" + (", ..." if len(options) > limit else "")


def _parse(name: str, spec: dict, text: str):
    """The typed value of control ``name`` for ``text``; ValueError says what was expected."""
    kind = spec["kind"]
    if kind == "choice":
        for option in spec["options"]:
            if str(option) == text:
                return option
            if isinstance(option, int | float) and not isinstance(option, bool):
                try:
                    if float(text) == option:
                        return option
                except ValueError:
                    pass
        if name == ids.PATH_TO:
            match = STATE_VALUE.fullmatch(text)
            if match and int(match.group(1)) < MAX_STATE:
                return f"state:{int(match.group(1))}"
        raise ValueError(_describe(spec["options"]))
    if kind == "multi":
        values = [v for v in text.split(",") if v]
        bad = [v for v in values if v not in map(str, spec["options"])]
        if bad:
            raise ValueError(f"a comma-separated list of {_describe(spec['options'])}")
        return [o for o in spec["options"] if str(o) in values]
    if kind == "integer":
        lo, hi = spec["min"], spec["max"]
        if not re.fullmatch(r"\d{1,16}", text) or not lo <= int(text) <= hi:
            raise ValueError(f"a whole number >= {lo}" if hi == MAX_SEED
                             else f"a whole number from {lo} to {hi}")
        return int(text)
    # range: a slider's value, on its grid
    lo, hi, step = spec["min"], spec["max"], spec["step"]
    expected = f"a number from {_number(lo)} to {_number(hi)} in steps of {_number(step)}"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(expected) from None
    k = (value - lo) / step if math.isfinite(value) else -1.0
    if not (lo - 1e-9 <= value <= hi + 1e-9) or abs(k - round(k)) > 1e-6:
        raise ValueError(expected)
    snapped = round(lo + round(k) * step, 10)
    return int(snapped) if spec["integer"] else snapped


def is_temperature(value: object) -> bool:
    """Whether ``value`` is a temperature a link can carry: in (0, MAX_TEMPERATURE] (units of H)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) and 0 < value <= MAX_TEMPERATURE
    except OverflowError:  # an int beyond any float (only a hand-made request sends one)
        return False


def _parse_temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not is_temperature(value):
        raise ValueError(f"a temperature above 0 and at most {_number(MAX_TEMPERATURE)} "
                         "(units of H)")
    return value


# --- cameras ----------------------------------------------------------------------------------


def normalize_camera(camera) -> dict | None:
    """``{"eye", "up", "center"}`` with x, y, z floats (missing parts: the default); None if
    ``camera`` is not a usable camera."""
    if not isinstance(camera, dict) or not isinstance(camera.get("eye"), dict):
        return None
    out: dict[str, dict[str, float]] = {}
    for part in CAMERA_PARTS:
        vec: Any = camera.get(part) or DEFAULT_CAMERA[part]
        try:
            out[part] = {k: float(vec[k]) for k in "xyz"}
        except (KeyError, TypeError, ValueError):
            return None
        if not all(math.isfinite(v) and abs(v) <= CAMERA_LIMIT for v in out[part].values()):
            return None
    if _is_zero(out["up"]) or _is_zero({k: out["eye"][k] - out["center"][k] for k in "xyz"}):
        return None
    return out


def _is_zero(vec: dict) -> bool:
    return all(abs(v) < 1e-9 for v in vec.values())


def _camera_numbers(camera: dict) -> list[str]:
    return [_number(round(camera[part][k], CAMERA_DECIMALS) + 0.0)
            for part in CAMERA_PARTS for k in "xyz"]


def same_camera(a, b) -> bool:
    """Whether two cameras are the same at the URL's precision (None: the default camera)."""
    a, b = normalize_camera(a) or DEFAULT_CAMERA, normalize_camera(b) or DEFAULT_CAMERA
    return _camera_numbers(a) == _camera_numbers(b)


def _camera_text(camera: dict) -> str:
    numbers = _camera_numbers(camera)
    default = _camera_numbers(DEFAULT_CAMERA)
    return ",".join(numbers[:3] if numbers[3:] == default[3:] else numbers)


def _parse_camera(text: str) -> dict:
    parts = text.split(",")
    expected = "3 numbers (the eye) or 9 (eye, up, centre), each within +-100"
    if len(parts) not in (3, 9):
        raise ValueError(expected)
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(expected) from None
    vectors = {"eye": dict(zip("xyz", numbers[:3], strict=True))}
    if len(numbers) == 9:
        vectors["up"] = dict(zip("xyz", numbers[3:6], strict=True))
        vectors["center"] = dict(zip("xyz", numbers[6:], strict=True))
    camera = normalize_camera(vectors)
    if camera is None:
        raise ValueError(expected + "; the eye apart from the centre and a non-zero up")
    return camera


# --- the query string ---------------------------------------------------------------------------


def encode(panels: Panels, cameras: Cameras | None = None) -> str:
    """The query string (``""`` or ``"?..."``) of both panels' settings and the cameras.

    ``panels[side]`` maps control names (:data:`app.controls.URL_NAMES`, ``ids.UPLOADED`` for
    the uploads store's dict and ``ids.WANTED_TEMPERATURE`` for the picked temperature) to
    values; missing names, None and defaults are left out.
    """
    pairs = []
    for side in ids.PANELS:
        prefix, specs, values = SIDE_KEYS[side], SPECS[side], (panels or {}).get(side) or {}
        for name in controls.URL_NAMES:
            value = values.get(name)
            if value is None or same(value, specs[name]["default"]):
                continue
            pairs.append((f"{prefix}.{name}", _text(specs[name], value)))
        if is_temperature(values.get(ids.WANTED_TEMPERATURE)):
            pairs.append((f"{prefix}.{TEMPERATURE_KEY}",
                          _number(values[ids.WANTED_TEMPERATURE])))
        uploaded = values.get(ids.UPLOADED)
        uploaded = uploaded if isinstance(uploaded, dict) else {}  # else not the store's keys
        for key, url_name in UPLOAD_KEYS.items():
            if uploaded.get(key):
                pairs.append((f"{prefix}.{url_name}", str(uploaded[key])))
    pairs += _camera_pairs(cameras)
    return "?" + urlencode(pairs, safe=SAFE, quote_via=quote) if pairs else ""


def _camera_pairs(cameras: Cameras | None) -> list[tuple[str, str]]:
    cams = {side: normalize_camera((cameras or {}).get(side)) or DEFAULT_CAMERA
            for side in ids.PANELS}
    left, right = (cams[side] for side in ids.PANELS)
    if same_camera(left, right):
        return [] if same_camera(left, DEFAULT_CAMERA) else [(CAMERA_KEY, _camera_text(left))]
    return [(f"{SIDE_KEYS[side]}.{CAMERA_KEY}", _camera_text(cam)) for side, cam in cams.items()
            if not same_camera(cam, DEFAULT_CAMERA)]


def decode(search: str | None) -> tuple[Panels, Cameras | None, list[str]]:
    """(panels, cameras, notes) of a query string; never raises.

    ``panels[side]`` holds every setting of the panel (the default where the URL says nothing);
    ``cameras`` is None when the URL names no camera, else each side's camera. ``notes`` say,
    in words, what was left out and why.
    """
    panels = {side: defaults(side) for side in ids.PANELS}
    notes: list[str] = []
    query = search.lstrip("?") if isinstance(search, str) else ""  # not text: no query
    if len(query) > MAX_SEARCH:
        return panels, None, [f"the link's settings are too long ({len(query)} characters, "
                              f"at most {MAX_SEARCH}): the defaults are shown"]
    sides = {prefix: side for side, prefix in SIDE_KEYS.items()}
    uploads = {url_name: key for key, url_name in UPLOAD_KEYS.items()}
    shared_camera, own_cameras = None, {}
    for key, text in parse_qsl(query, keep_blank_values=True):
        shown = f"{key}={text}" if len(text) <= 80 else f"{key}={text[:77]}..."
        prefix, _, name = key.partition(".")
        name = ALIASES.get(name, name)
        try:
            if key == CAMERA_KEY:
                shared_camera = _parse_camera(text)
            elif prefix in sides and name == CAMERA_KEY:
                own_cameras[sides[prefix]] = _parse_camera(text)
            elif prefix in sides and name == TEMPERATURE_KEY:
                panels[sides[prefix]][ids.WANTED_TEMPERATURE] = _parse_temperature(text)
            elif prefix in sides and name in SPECS[sides[prefix]]:
                side = sides[prefix]
                panels[side][name] = _parse(name, SPECS[side][name], text)
            elif prefix in sides and name in uploads:
                if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
                    raise ValueError("an upload's key (64 hexadecimal digits)")
                panels[sides[prefix]][ids.UPLOADED][uploads[name]] = text.lower()
            else:
                notes.append(f"{shown}: not a setting of this page, ignored")
        except ValueError as exc:
            notes.append(f"{shown}: ignored, expected {exc}")
    cameras = None
    if shared_camera is not None or own_cameras:
        cameras = {side: own_cameras.get(side) or shared_camera or DEFAULT_CAMERA
                   for side in ids.PANELS}
    if len(notes) > MAX_NOTES:
        notes = [*notes[:MAX_NOTES], f"and {len(notes) - MAX_NOTES} more"]
    return panels, cameras, notes


def canonical(search: str | None) -> str:
    """The query string that ``search`` means (bad parts dropped, defaults left out)."""
    panels, cameras, _ = decode(search)
    return encode(panels, cameras)


def target(panels: Panels, cameras: Cameras | None, search: str | None) -> dict | None:
    """What the URL should become for these settings, or None if ``search`` already says so.

    ``{"search": ..., "replace": ...}``: when only the camera differs, ``replace`` (the turn
    replaces the browser's history entry); a changed setting adds an entry. ``cameras`` None
    (not known yet) keeps the URL's camera.
    """
    old_panels, old_cameras, _ = decode(search)
    new = encode(panels, old_cameras if cameras is None else cameras)
    old = encode(old_panels, old_cameras)
    if new == old:
        return None
    return {"search": new, "replace": encode(panels, old_cameras) == old}


def changes(search: str | None, panels: Panels, camera: dict | None
            ) -> tuple[dict[str, dict], dict | None, list[str]]:
    """What opening ``search`` changes on a page showing ``panels`` and ``camera``.

    Returns (``{side: {name: new value}}`` for the settings that differ, the camera to show
    or None if it stays, notes). A URL without a camera means the default camera.
    """
    wanted, cameras, notes = decode(search)
    changed: dict[str, dict] = {side: {} for side in ids.PANELS}
    for side in ids.PANELS:
        current = panels.get(side) or {}
        for name in controls.URL_NAMES:
            if not same(wanted[side][name], current.get(name)):
                changed[side][name] = wanted[side][name]
        if (wanted[side][ids.UPLOADED] or {}) != (current.get(ids.UPLOADED) or {}):
            changed[side][ids.UPLOADED] = wanted[side][ids.UPLOADED]
        temperature = wanted[side][ids.WANTED_TEMPERATURE]
        if not same(temperature, current.get(ids.WANTED_TEMPERATURE)):
            changed[side][ids.WANTED_TEMPERATURE] = temperature
    new_camera = (cameras or {}).get(ids.PANELS[0]) or DEFAULT_CAMERA  # the panels share one
    return changed, (None if same_camera(new_camera, camera) else new_camera), notes
