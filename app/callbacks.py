"""Callbacks, registered on one app by :func:`register` (called from ``create_app``).

Each panel has one background callback (controls -> :mod:`app.panel_views` -> figures), a
quick one that shows a coarse preview of a slice while the background job refines it, one
that shows the controls of the chosen family and view, one that redraws F(Q; T) as the
temperature slider moves (from data the funnel view left in a dcc.Store: no recomputation),
one that makes a clicked barrier-tree minimum the path's end, and one that validates uploads;
the two 3D cameras are kept in step by one clientside callback that patches the other graph's
camera.
"""

import base64
import binascii
import json
import logging
from collections.abc import Callable

import torch
from dash import Dash, Input, Output, State, ctx, html, no_update

from app import figures, funnel_figures, ids, panel_views
from app.data import ViewStore
from app.ids import pid
from app.layout import HIDDEN, SHOWN, UPLOAD, UPLOAD_SLOTS, family_styles, view_styles
from app.panel_views import model_spec, requests
from landscapes.errors import LandscapeError
from landscapes.store import UploadStore

log = logging.getLogger(__name__)

CONTROL_NAMES = (
    ids.MODEL, ids.VIEW_KIND, ids.ISING_N, ids.NATIVE_BIAS, ids.PSPIN_N, ids.P, ids.PLANTED, ids.SEED,
    ids.SPAN, ids.STEPS, ids.CENTER, ids.DIRECTIONS, ids.PATH_FROM, ids.PATH_TO,
    ids.NET_SOURCE, ids.NET_DATA, ids.NET_LOSS, ids.NET_DIRECTIONS, ids.NET_PATH_KIND, ids.REFERENCE,
)
DISPLAY_NAMES = (ids.COLORSCALE, ids.LOG_SCALE, ids.CLIP)  # drawing only: never recompute
SLOT_KEYS = {ids.UPLOAD_CHECKPOINT: "checkpoint", ids.UPLOAD_CHECKPOINT2: "checkpoint2",
             ids.UPLOAD_CHECKPOINT3: "checkpoint3", ids.UPLOAD_DATA: "data"}


def decode_upload(contents: str) -> bytes:
    """The bytes of a dcc.Upload ``contents`` data URL."""
    try:
        return base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, binascii.Error):
        raise LandscapeError("the upload could not be decoded; try the file again") from None


def accept_upload(uploads: UploadStore, kind: str, content_url: str, filename: str,
                  arch_text: str | None) -> str:
    """Validate and store one upload (``kind`` "data" or a checkpoint slot); returns its key.

    ``arch_text`` is the architecture JSON typed in the panel (needed for ``.pt`` files).
    Raises LandscapeError with a message for the panel; nothing invalid is stored.
    """
    content = decode_upload(content_url)
    if kind == "data":
        return uploads.put_data(content, filename)
    try:
        arch = json.loads(arch_text) if arch_text else None
    except json.JSONDecodeError as exc:
        raise LandscapeError(f"the architecture is not valid JSON: {exc}") from None
    return uploads.put_checkpoint(content, filename, arch)


def register(app: Dash, store: ViewStore, manager, torch_threads: int = 1,
             readiness: Callable[[], dict[str, str]] | None = None) -> None:
    """Register every callback on ``app``; panel views run as background jobs of ``manager``.

    ``readiness()`` (checks by name: "ok" or why not) drives the page's status banner.
    """
    for side in ids.PANELS:
        _register_panel(app, store, side, manager, torch_threads)
        _register_uploads(app, store, side)
    _register_camera_sync(app)
    if readiness is not None:
        _register_status(app, readiness)


def status_message(checks: dict[str, str]) -> str | None:
    """What the banner says for these readiness checks (None when all is well)."""
    failed = {name: why for name, why in checks.items() if why != "ok" and not why.startswith("skipped")}
    if not failed:
        return None
    if "broker" in failed or "cache" in failed:
        return ("The cache and job queue (Redis) cannot be reached: new views cannot be computed "
                "until it is back. Views already on screen stay. (" + "; ".join(failed.values())
                + ")")
    if "workers" in failed:
        return ("No background worker is running: views that are not cached yet cannot be "
                "computed until one is back (a view being computed when a worker stopped will not "
                "finish: change a control to ask again). Cached views still load.")
    return "The server is not ready: " + "; ".join(f"{k}: {v}" for k, v in failed.items())


def _register_status(app: Dash, readiness: Callable[[], dict[str, str]]) -> None:
    @app.callback(
        Output(ids.STATUS_BANNER, "children"),
        Output(ids.STATUS_BANNER, "style"),
        Input(ids.STATUS_POLL, "n_intervals"),
    )
    def show_status(_):
        try:
            message = status_message(readiness())
        except Exception:
            log.exception("readiness check failed")
            message = "The server could not check its services (see the server log)."
        return (message or ""), (SHOWN if message else HIDDEN)


def _table(rows: list[dict] | None) -> html.Table | None:
    if not rows:
        return None
    head = html.Thead(html.Tr([html.Th(k) for k in rows[0]]))
    body = html.Tbody([html.Tr([html.Td(v) for v in row.values()]) for row in rows])
    return html.Table([head, body])


def spec_of(controls: dict, uploaded: dict | None) -> dict:
    """The model spec of a panel's controls (by name, as in CONTROL_NAMES) and uploads."""
    c = controls
    network = {"source": c[ids.NET_SOURCE], "uploaded": uploaded, "data": c[ids.NET_DATA],
               "loss": c[ids.NET_LOSS]}
    return model_spec(c[ids.MODEL], c[ids.ISING_N], c[ids.NATIVE_BIAS], c[ids.PSPIN_N], c[ids.P],
                      c[ids.PLANTED], c[ids.SEED], network)


def slice_request_of(controls: dict, uploaded: dict | None) -> tuple[dict, dict]:
    """(model spec, slice view) of a panel's controls."""
    c = controls
    spec = spec_of(c, uploaded)
    slice_request, _ = requests(
        spec, c[ids.SPAN], c[ids.STEPS], c[ids.CENTER], c[ids.DIRECTIONS], c[ids.PATH_FROM],
        c[ids.PATH_TO], c[ids.NET_DIRECTIONS], c[ids.NET_PATH_KIND], c[ids.SEED],
    )
    return spec, slice_request


def display_options(colorscale: str | None, log: list | None, clip: float | None) -> dict:
    """The drawing options of the display controls (see :func:`app.figures.display_values`)."""
    return {"colorscale": colorscale or figures.COLORSCALE, "log": "log" in (log or []),
            "clip": float(clip) if clip else None}


def panel_output(store: ViewStore, controls: dict, uploaded: dict | None,
                 progress: Callable[[int, int], None] | None = None,
                 display: dict | None = None) -> panel_views.PanelOutput:
    """What a panel shows for its controls (by name, as in CONTROL_NAMES) and uploads."""
    c = controls
    spec = spec_of(c, uploaded)
    kind = c[ids.VIEW_KIND]
    if kind == "sweep":
        return panel_views.sweep_panel(store, spec, progress)
    if kind == "minima":
        return panel_views.minima_panel(store, spec, progress)
    slice_request, path_requests = requests(
        spec, c[ids.SPAN], c[ids.STEPS], c[ids.CENTER], c[ids.DIRECTIONS], c[ids.PATH_FROM],
        c[ids.PATH_TO], c[ids.NET_DIRECTIONS], c[ids.NET_PATH_KIND], c[ids.SEED],
    )
    if kind == "funnel":
        return panel_views.funnel_panel(store, spec, path_requests, c[ids.REFERENCE], progress)
    return panel_views.slice_panel(store, spec, slice_request, path_requests, progress, display)


def _register_panel(app: Dash, store: ViewStore, side: str, manager, torch_threads: int) -> None:
    @app.callback(
        Output(pid(side, ids.SURFACE), "figure"),
        Output(pid(side, ids.PATH), "figure"),
        Output(pid(side, ids.MESSAGE), "children"),
        Output(pid(side, ids.TREE), "figure"),
        Output(pid(side, ids.DIAGRAM), "figure"),
        Output(pid(side, ids.FUNNEL_DATA), "data"),
        Output(pid(side, ids.SWEEP_TABLE), "children"),
        [Input(pid(side, name), "value") for name in CONTROL_NAMES],
        Input(pid(side, ids.UPLOADED), "data"),
        [State(pid(side, name), "value") for name in DISPLAY_NAMES],
        background=True,
        manager=manager,
        interval=250,
        progress=[Output(pid(side, ids.PROGRESS), "value"),
                  Output(pid(side, ids.PROGRESS), "max")],
        running=[(Output(pid(side, ids.PROGRESS_ROW), "style"), SHOWN, HIDDEN)],
        cancel=[Input(pid(side, ids.CANCEL), "n_clicks")],
    )
    def update(set_progress, *args):
        torch.set_num_threads(torch_threads)  # at job start: forked jobs and OpenMP (DESIGN.md)
        set_progress(("0", "1"))  # the bar keeps the last job's value otherwise
        k = len(CONTROL_NAMES)
        controls, uploaded = dict(zip(CONTROL_NAMES, args[:k], strict=True)), args[k]
        display = display_options(*args[k + 1:])
        try:
            out = panel_output(store, controls, uploaded,
                               lambda done, total: set_progress((str(done), str(total))), display)
        except Exception:  # never a traceback in the page; the log has it
            log.exception("panel %s failed for %s", side, controls)
            text = "internal error while computing this view (see the server log)"
            out = panel_views.PanelOutput(figures.message_figure(text),
                                          figures.message_figure(text), [text])
        return (out.surface, out.path, [html.P(m) for m in out.messages],
                out.tree if out.tree is not None else no_update,
                out.diagram if out.diagram is not None else no_update,
                out.funnel_data, _table(out.table))

    @app.callback(
        Output(pid(side, ids.SURFACE), "figure", allow_duplicate=True),
        [Input(pid(side, name), "value") for name in CONTROL_NAMES],
        Input(pid(side, ids.UPLOADED), "data"),
        [State(pid(side, name), "value") for name in DISPLAY_NAMES],
        prevent_initial_call="initial_duplicate",
    )
    def preview(*args):
        """A coarse slice at once (the background job above refines it); the camera stays."""
        k = len(CONTROL_NAMES)
        controls = dict(zip(CONTROL_NAMES, args[:k], strict=True))
        if controls[ids.VIEW_KIND] != "slice":
            return no_update
        try:
            spec, slice_request = slice_request_of(controls, args[k])
            fig = panel_views.slice_preview(store, spec, slice_request,
                                            display_options(*args[k + 1:]))
        except Exception:  # the full computation reports errors; a preview just stays away
            log.exception("preview %s failed for %s", side, controls)
            return no_update
        return no_update if fig is None else fig

    @app.callback(
        Output(pid(side, ids.SURFACE), "figure", allow_duplicate=True),
        [Input(pid(side, name), "value") for name in DISPLAY_NAMES],
        [State(pid(side, name), "value") for name in CONTROL_NAMES],
        State(pid(side, ids.UPLOADED), "data"),
        prevent_initial_call=True,
    )
    def redraw(*args):
        """Display options redraw the cached slice: nothing is computed again."""
        d = len(DISPLAY_NAMES)
        controls = dict(zip(CONTROL_NAMES, args[d:-1], strict=True))
        if controls[ids.VIEW_KIND] != "slice":
            return no_update
        spec, slice_request = slice_request_of(controls, args[-1])
        fig = panel_views.redisplay(store, spec, slice_request, display_options(*args[:d]))
        return no_update if fig is None else fig

    @app.callback(
        Output(pid(side, ids.ISING_CONTROLS), "style"),
        Output(pid(side, ids.PSPIN_CONTROLS), "style"),
        Output(pid(side, ids.NETWORK_CONTROLS), "style"),
        Output(pid(side, ids.SPIN_VIEW_CONTROLS), "style"),
        Output(pid(side, ids.UPLOAD_GROUP), "style"),
        Output(pid(side, ids.SLICE_CONTROLS), "style"),
        Output(pid(side, ids.FUNNEL_CONTROLS), "style"),
        Output(pid(side, ids.FUNNEL_EXTRAS), "style"),
        Output(pid(side, ids.SWEEP_TABLE), "style"),
        Output(pid(side, ids.PATH), "style"),
        Input(pid(side, ids.MODEL), "value"),
        Input(pid(side, ids.NET_SOURCE), "value"),
        Input(pid(side, ids.VIEW_KIND), "value"),
    )
    def show_controls(model, net_source, view_kind):
        return (*family_styles(model, view_kind), SHOWN if net_source == UPLOAD else HIDDEN,
                *view_styles(view_kind))

    @app.callback(
        Output(pid(side, ids.FREE_ENERGY), "figure"),
        Output(pid(side, ids.TEMPERATURE), "max"),
        Output(pid(side, ids.TEMPERATURE), "marks"),
        Output(pid(side, ids.TEMPERATURE), "value"),
        Input(pid(side, ids.TEMPERATURE), "value"),
        Input(pid(side, ids.FUNNEL_DATA), "data"),
    )
    def show_free_energy(index, data):
        if not data:
            return panel_views.free_energy_at(None, None), 1, None, 0
        temps = data["temperatures"]
        if ctx.triggered_id == pid(side, ids.FUNNEL_DATA):  # a new funnel: start at T_f
            index = panel_views.default_temperature_index(temps, data["folding_temperature"])
        marks = funnel_figures.temperature_marks(temps, data["folding_temperature"])
        return (panel_views.free_energy_at(data, index), len(temps) - 1,
                {str(k): v for k, v in marks.items()}, index)

    @app.callback(
        Output(pid(side, ids.PATH_TO), "options"),
        Output(pid(side, ids.PATH_TO), "value"),
        Input(pid(side, ids.TREE), "clickData"),
        State(pid(side, ids.PATH_TO), "options"),
        prevent_initial_call=True,
    )
    def path_to_clicked_minimum(click, options):
        value = clicked_state(click)
        if value is None:
            return no_update, no_update
        return with_option(options, value), value


def clicked_state(click: dict | None) -> str | None:
    """``state:I`` for a click on a barrier-tree leaf (its customdata is [state, share])."""
    points = (click or {}).get("points") or []
    data = points[0].get("customdata") if points else None
    if not data:
        return None
    return f"state:{int(data[0])}"


def with_option(options: list[dict], value: str) -> list[dict]:
    """Dropdown ``options`` with an entry for a barrier-tree state (added once)."""
    if any(o["value"] == value for o in options):
        return options
    label = f"barrier-tree minimum ({value.replace(':', ' ')})"
    return [*options, {"label": label, "value": value}]


def _register_uploads(app: Dash, store: ViewStore, side: str) -> None:
    slots = [slot for slot, _ in UPLOAD_SLOTS]

    @app.callback(
        Output(pid(side, ids.UPLOADED), "data"),
        [Output(pid(side, slot + "-status"), "children") for slot in slots],
        [Input(pid(side, slot), "contents") for slot in slots],
        Input(pid(side, ids.ARCH), "value"),
        [State(pid(side, slot), "filename") for slot in slots],
        prevent_initial_call=True,
    )
    def validate(*args):
        contents, arch_text, names = args[: len(slots)], args[len(slots)], args[len(slots) + 1 :]
        keys, statuses = {}, []
        for slot, content_url, filename in zip(slots, contents, names, strict=True):
            if not content_url:
                statuses.append("")
                continue
            kind = SLOT_KEYS[slot]
            try:
                keys[kind] = accept_upload(store.uploads, kind, content_url, filename, arch_text)
                statuses.append(html.Span(f"accepted: {filename}", className="ok"))
            except LandscapeError as exc:
                statuses.append(html.Span(str(exc), className="error"))
            except Exception:  # a bad upload never takes the worker down
                log.exception("upload %s failed", filename)
                statuses.append(html.Span(f"{filename}: could not be read", className="error"))
        return keys, *statuses


# Reads both cameras from the graphs themselves: relayoutData holds only the latest event, and
# an autosize event can replace a camera change before this runs. The graph whose camera differs
# from the last synced one is the one the user moved.
CAMERA_SYNC = """
function(leftRelayout, rightRelayout) {
    const dc = window.dash_clientside;
    const ids = ["%(left)s", "%(right)s"];
    const cameras = ids.map(id => {
        const gd = document.querySelector("#" + id + " .js-plotly-plot");
        const scene = gd && gd._fullLayout && gd._fullLayout.scene;
        return scene && scene.camera ? JSON.parse(JSON.stringify(scene.camera)) : null;
    });
    if (!cameras[0] || !cameras[1]) { return [dc.no_update, dc.no_update]; }
    const text = cameras.map(c => JSON.stringify({eye: c.eye, up: c.up, center: c.center}));
    const last = window.__funnelscopeCamera;
    if (text[0] === text[1]) {
        window.__funnelscopeCamera = text[0];
        return [dc.no_update, dc.no_update];
    }
    let source;
    if (last === undefined || (text[0] !== last && text[1] !== last)) {
        const trig = ((dc.callback_context.triggered || [])[0] || {}).prop_id || "";
        source = trig.startsWith(ids[1] + ".") ? 1 : 0;
    } else {
        source = text[0] !== last ? 0 : 1;
    }
    window.__funnelscopeCamera = text[source];
    const camera = {eye: cameras[source].eye, up: cameras[source].up, center: cameras[source].center};
    const patch = new dc.Patch().assign(["layout", "scene", "camera"], camera).build();
    return source === 0 ? [dc.no_update, patch] : [patch, dc.no_update];
}
"""


def _register_camera_sync(app: Dash) -> None:
    left, right = (pid(side, ids.SURFACE) for side in ids.PANELS)
    app.clientside_callback(
        CAMERA_SYNC % {"left": left, "right": right},
        Output(left, "figure", allow_duplicate=True),
        Output(right, "figure", allow_duplicate=True),
        Input(left, "relayoutData"),
        Input(right, "relayoutData"),
        prevent_initial_call=True,
    )
