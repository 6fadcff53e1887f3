"""URL state: the page's URL carries both panels' settings and the camera (:mod:`app.urlstate`).

One callback writes it as the controls change (``write_url``), one sets the controls when a URL
is opened or the browser goes back or forward (``read_url``); clientside ones
(``app/assets/funnelscope.js``) put it into the browser's history (a camera turn replaces the entry)
and copy the link. The settings travel grouped by side and control name: ``{side: {name:
value}}`` for every control of :data:`app.controls.URL_NAMES`.
"""

from typing import Any

from dash import Dash, Input, Output, State, html, no_update
from dash.exceptions import PreventUpdate

from app import ids, urlstate
from app.callbacks.camera import clientside
from app.callbacks.panels import settings_inputs, with_option
from app.callbacks.uploads import SLOT_KEYS, SLOTS, status_id
from app.controls import MODEL_NAMES, URL_NAMES
from app.ids import pid


def by_side(make) -> dict[str, Any]:
    """``{side: make(side)}`` for both panels."""
    return {side: make(side) for side in ids.PANELS}


def url_panels(values: dict[str, dict], uploaded: dict[str, dict | None],
               temperatures: dict[str, Any]) -> dict[str, dict]:
    """Both panels' settings by side from the controls' values (``{side: {name: value}}``),
    the two UPLOADED stores (``{side: keys}``) and the two WANTED_TEMPERATURE stores."""
    return {side: {**values[side], ids.UPLOADED: uploaded[side] or {},
                   ids.WANTED_TEMPERATURE: temperatures[side]} for side in ids.PANELS}


def url_notes(notes: list[str]) -> list:
    """What the URL notes element says for ``notes`` (empty: nothing)."""
    if not notes:
        return []
    return [html.Span("Not used from this link: ", className="url-notes-title"), "; ".join(notes)]


def unchanged(outputs: Any) -> Any:
    """``no_update`` in the shape of a dict-grouped output (nested dicts of Outputs)."""
    if isinstance(outputs, dict):
        return {key: unchanged(value) for key, value in outputs.items()}
    return no_update


def upload_statuses(keys: dict | None) -> dict[str, Any]:
    """What the line under each drop zone says for upload ``keys`` from a link (None: unchanged)."""
    statuses = {}
    for slot in SLOTS:
        key = None if keys is None else keys.get(SLOT_KEYS[slot])
        statuses[slot] = no_update if keys is None else (
            html.Span(f"from the link: {key[:12]}...", className="ok") if key else "")
    return statuses


def register(app: Dash) -> None:
    """The URL writer and reader (the page's ``urlChanged`` hands the reader what to read and
    starts the panels of a page opened without a query), the history push and Copy link."""
    _register_writer(app)
    _register_reader(app)
    app.clientside_callback(clientside("urlChanged"), Output(ids.START, "data"),
                            Output(ids.URL_APPLIED, "data", allow_duplicate=True),
                            Output(ids.URL_READ, "data"),
                            Input(ids.URL, "search"), State(ids.URL_APPLIED, "data"),
                            prevent_initial_call="initial_duplicate")
    app.clientside_callback(clientside("copyLink"), Output(ids.COPY_STATUS, "children"),
                            Input(ids.COPY_LINK, "n_clicks"), State(ids.CLIENTSIDE, "data"),
                            prevent_initial_call=True)


def _register_writer(app: Dash) -> None:
    @app.callback(
        output=Output(ids.URL_TARGET, "data"),
        inputs={"values": by_side(lambda side: settings_inputs(side, URL_NAMES)),
                "uploaded": by_side(lambda side: Input(pid(side, ids.UPLOADED), "data")),
                "temperatures": by_side(
                    lambda side: Input(pid(side, ids.WANTED_TEMPERATURE), "data")),
                "camera": Input(ids.CAMERA, "data")},
        state={"search": State(ids.URL, "search"), "applied": State(ids.URL_APPLIED, "data")},
        prevent_initial_call=True,
    )
    def write_url(values, uploaded, temperatures, camera, search, applied):
        """The settings on screen -> the URL (only when they differ from what it says).

        Nothing while the URL holds a query the controls do not show yet (opened, or back /
        forward: the reader is on its way): controls from before would undo the navigation.
        """
        if (search or "") != applied:
            return no_update
        cameras = None if camera is None else dict.fromkeys(ids.PANELS, camera)
        panels = url_panels(values, uploaded, temperatures)
        return urlstate.target(panels, cameras, search) or no_update

    app.clientside_callback(clientside("pushUrl"), Output(ids.URL, "search"),
                            Output(ids.URL, "href"),
                            Output(ids.URL_APPLIED, "data", allow_duplicate=True),
                            Input(ids.URL_TARGET, "data"), State(ids.URL, "search"),
                            prevent_initial_call=True)


def _register_reader(app: Dash) -> None:
    outputs = {
        # Path to is also set by a click on the barrier tree (app/callbacks/panels.py)
        "values": by_side(lambda side: {
            name: Output(pid(side, name), "value", allow_duplicate=name == ids.PATH_TO)
            for name in URL_NAMES}),
        "uploaded": by_side(lambda side: Output(pid(side, ids.UPLOADED), "data",
                                                allow_duplicate=True)),
        "statuses": by_side(lambda side: {
            slot: Output(pid(side, status_id(slot)), "children", allow_duplicate=True)
            for slot in SLOTS}),
        "path_options": by_side(lambda side: Output(pid(side, ids.PATH_TO), "options",
                                                    allow_duplicate=True)),
        # the funnel's temperature callback keeps the slider's pick there (app/callbacks/panels.py)
        "temperatures": by_side(lambda side: Output(pid(side, ids.WANTED_TEMPERATURE), "data",
                                                    allow_duplicate=True)),
        "camera": Output(ids.CAMERA, "data", allow_duplicate=True),
        "notes": Output(ids.URL_NOTES, "children"),
        "applied": Output(ids.URL_APPLIED, "data", allow_duplicate=True),
    }

    @app.callback(
        output=outputs,
        inputs={"read": Input(ids.URL_READ, "data")},
        state={"values": by_side(lambda side: settings_inputs(side, URL_NAMES, State)),
               "uploaded": by_side(lambda side: State(pid(side, ids.UPLOADED), "data")),
               "path_options": by_side(lambda side: State(pid(side, ids.PATH_TO), "options")),
               "temperatures": by_side(
                   lambda side: State(pid(side, ids.WANTED_TEMPERATURE), "data")),
               "camera": State(ids.CAMERA, "data"),
               "applied": State(ids.URL_APPLIED, "data")},
        prevent_initial_call=True,
    )
    def read_url(read, values, uploaded, path_options, temperatures, camera, applied):
        """The URL's query (opened, or back / forward) -> the settings that differ from the
        screen's. ``read`` is ``{"search": query, "at": ms}`` from the page's ``urlChanged``,
        which sends only queries not applied yet, and none for a page opened without one.

        A query the page wrote itself (marked applied) is left alone: the controls may have
        moved on since, and must not be set back. When the page opens (nothing applied yet)
        this starts both panels' views, with the URL's settings: the panel jobs have no initial
        call of their own (they would compute the default views first, then the link's).
        """
        search = read.get("search") if isinstance(read, dict) else None
        if not isinstance(search, str):  # the page's URL is text: a hand-made request
            raise PreventUpdate
        out = unchanged(outputs)
        out["notes"] = url_notes([])
        if search == applied:
            return out
        panels = url_panels(values, uploaded, temperatures)
        changed, new_camera, notes = urlstate.changes(search, panels, camera)
        for side in ids.PANELS:
            new = changed[side]
            if applied is None and not set(new) & {*MODEL_NAMES, ids.UPLOADED}:
                new = {**new, ids.MODEL: panels[side][ids.MODEL]}  # the page has just opened
            out["values"][side].update({name: v for name, v in new.items() if name in URL_NAMES})
            keys = new.get(ids.UPLOADED)
            out["uploaded"][side] = no_update if keys is None else keys
            out["statuses"][side] = upload_statuses(keys)
            if ids.WANTED_TEMPERATURE in new:  # None too: back at T_f
                out["temperatures"][side] = new[ids.WANTED_TEMPERATURE]
            end = new.get(ids.PATH_TO)
            if isinstance(end, str) and end.startswith("state:"):
                out["path_options"][side] = with_option(path_options[side] or [], end)
        out.update(camera=no_update if new_camera is None else new_camera,
                   notes=url_notes(notes), applied=search)
        return out
