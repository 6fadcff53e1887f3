"""Callbacks, registered on one app by :func:`register` (called from ``create_app``).

Each panel has one background callback (controls -> :mod:`app.panel_views` -> figures; for a
slice it first sends the coarse 13x13 grid with ``set_props``), a quick one that shows what the
cache already holds of a slice (the grid or its coarse version) before the job reports, one
that shows the controls of the chosen family and view, one that redraws F(Q; T) as the
temperature slider moves (from data the funnel view left in a dcc.Store: no recomputation),
one that makes a clicked barrier-tree minimum the path's end, one that validates uploads and
one that downloads the view on screen (from the cache only: :func:`download_file`); the two 3D
cameras are kept in step by one clientside callback that turns the other graph's
camera, and each new figure a graph draws takes the shared camera (a slice drawn as a 2D
contour map or heatmap has no camera: the sync leaves it alone).

The page's URL carries both panels' settings and the camera (:mod:`app.urlstate`): one callback
writes it as the controls change, one sets the controls when a URL is opened or the browser goes
back or forward; clientside ones put it into the browser's history (a camera turn replaces the
entry), turn both cameras to a URL's camera and copy the link. One more shows, above the panels,
the guided scenario (:mod:`app.presets`) the URL opens, if it opens one.
"""

import base64
import binascii
import json
import logging
from collections.abc import Callable
from typing import Any

import torch
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update, set_props

from app import ids, panel_views, presets, urlstate
from app.data import ViewStore
from app.ids import pid
from app.layout import (
    HIDDEN,
    LOSS_FROM_CHECKPOINT,
    SHOWN,
    UPLOAD,
    UPLOAD_SLOTS,
    active_scenario,
    family_styles,
    view_styles,
)
from app.panel_views import model_spec, requests
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.networks.store import UploadStore
from landscapes.plots import funnel as funnel_figures
from landscapes.plots import slices as figures

log = logging.getLogger(__name__)

CONTROL_NAMES = (
    ids.MODEL, ids.VIEW_KIND, ids.ISING_N, ids.NATIVE_BIAS, ids.PSPIN_N, ids.P, ids.PLANTED, ids.SEED,
    ids.SPAN, ids.STEPS, ids.CENTER, ids.DIRECTIONS, ids.PATH_FROM, ids.PATH_TO,
    ids.NET_SOURCE, ids.NET_DATA, ids.NET_LOSS, ids.NET_DIRECTIONS, ids.NET_PATH_KIND, ids.REFERENCE,
)
# drawing only: never recompute (States of the job, Inputs of the redraw)
DISPLAY_NAMES = (ids.COLORSCALE, ids.LOG_SCALE, ids.CLIP, ids.PLOT_KIND, ids.CONTOUR_LEVELS,
                 ids.WEIGHT_DECAY)
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
        _register_downloads(app, store, side)
    _register_camera_sync(app)
    _register_url_state(app)
    _register_scenarios(app)
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
    loss = None if c[ids.NET_LOSS] in (None, LOSS_FROM_CHECKPOINT) else c[ids.NET_LOSS]
    network = {"source": c[ids.NET_SOURCE], "uploaded": uploaded, "data": c[ids.NET_DATA],
               "loss": loss}
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


def display_options(colorscale: str | None, log: list | None, clip: float | None,
                    kind: str | None = None, levels: float | None = None,
                    weight_decay: float | None = None) -> dict:
    """The drawing options of the display controls, in DISPLAY_NAMES order (see
    :func:`landscapes.plots.slices.surface_figure`): a missing or unknown plot type is the surface; the
    number of contour levels is a whole number within figures.LEVELS_RANGE (empty: the default);
    weight decay is one of figures.WEIGHT_DECAYS (else none).
    """
    lo, hi = figures.LEVELS_RANGE
    try:
        count = int(round(float(levels)))
    except (TypeError, ValueError, OverflowError):
        count = figures.CONTOUR_LEVELS
    return {"colorscale": colorscale or figures.COLORSCALE, "log": "log" in (log or []),
            "clip": float(clip) if clip else None,
            "kind": kind if kind in figures.PLOT_KINDS else figures.PLOT_KINDS[0],
            "levels": min(max(count, lo), hi),
            "weight_decay": float(weight_decay) if weight_decay in figures.WEIGHT_DECAYS else 0.0}


NOTHING_SHOWN = "nothing to download: this panel shows no view for these settings (see its message)"
NOT_CACHED = ("still computing: download when the view has appeared (a view that could not be "
              "computed has nothing to download)")


def download_request(controls: dict, uploaded: dict | None) -> tuple[dict, dict]:
    """(model spec, view request) of the view a panel's main graph shows for its controls (by
    name, as in CONTROL_NAMES) and uploads -- what its Download buttons save.

    The same requests as :func:`panel_output`: a slice view saves its slice (not the paths),
    the funnel view its enumeration against the chosen reference state, the sweep and minima
    views their results. Raises LandscapeError (NOTHING_SHOWN) where the panel refuses the
    view (funnel and sweep need the Ising model; minima, a spin model or an example network).
    """
    spec = spec_of(controls, uploaded)
    kind = controls[ids.VIEW_KIND]
    if kind in ("funnel", "sweep") and spec["model"] != "ising":
        raise LandscapeError(NOTHING_SHOWN)
    if kind == "funnel":
        return spec, {**panel_views.FUNNEL_VIEW, "reference": controls[ids.REFERENCE]}
    if kind == "sweep":
        return spec, dict(panel_views.SWEEP_VIEW)
    if kind == "minima":
        if spec["model"] == "network" and "example" not in spec:
            raise LandscapeError(NOTHING_SHOWN)
        return spec, {"view": "minima"}
    return slice_request_of(controls, uploaded)


def download_file(store: ViewStore, controls: dict, uploaded: dict | None,
                  fmt: str) -> tuple[dict | None, str]:
    """(dcc.Download data or None, status text) for a panel's Download button ``fmt``.

    Reads the panel's current view from the cache only -- this runs in the web process, where
    nothing is computed: a view not cached yet gives None and NOT_CACHED. The bytes are
    :func:`landscapes.io.formats.to_bytes`, named by :func:`landscapes.io.formats.file_name`; a
    format the view has no file for (VTK of a sweep) gives None and the reason.
    """
    try:
        spec, request = download_request(controls, uploaded)
        result = store.cached(spec, request)
        if result is None:
            return None, NOT_CACHED
        content = formats.to_bytes(result, fmt)
    except LandscapeError as exc:
        return None, str(exc)
    name = formats.file_name(result.meta, fmt)
    return dcc.send_bytes(content, name, type=formats.MEDIA_TYPES[fmt]), ""


def redrawn(store: ViewStore, controls: dict, uploaded: dict | None, display: dict,
            drawn: dict | None = None):
    """The slice redrawn with ``display`` from the cache, or None when there is nothing to do:
    not a slice view, no view for these settings, not cached (a job is computing it), or --
    ``drawn``, at the end of a job: the options it drew with -- the job already drew it so."""
    if controls[ids.VIEW_KIND] != "slice" or display == drawn:
        return None
    try:
        spec, slice_request = slice_request_of(controls, uploaded)
        return panel_views.redisplay(store, spec, slice_request, display)
    except LandscapeError:  # no view for these settings: the panel's message says why
        return None


def panel_output(store: ViewStore, controls: dict, uploaded: dict | None,
                 progress: Callable[[int, int], None] | None = None,
                 display: dict | None = None,
                 preview: Callable[[Any], None] | None = None) -> panel_views.PanelOutput:
    """What a panel shows for its controls (by name, as in CONTROL_NAMES) and uploads.

    ``preview(figure)`` receives a slice's coarse grid first (:func:`panel_views.slice_panel`).
    """
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
    return panel_views.slice_panel(store, spec, slice_request, path_requests, progress, display,
                                   preview)


def _register_panel(app: Dash, store: ViewStore, side: str, manager, torch_threads: int) -> None:
    @app.callback(
        Output(pid(side, ids.SURFACE), "figure"),
        Output(pid(side, ids.PATH), "figure"),
        Output(pid(side, ids.MESSAGE), "children"),
        Output(pid(side, ids.TREE), "figure"),
        Output(pid(side, ids.DIAGRAM), "figure"),
        Output(pid(side, ids.FUNNEL_DATA), "data"),
        Output(pid(side, ids.SWEEP_TABLE), "children"),
        Output(pid(side, ids.DOWNLOAD_STATUS), "children"),  # a new view: old notes are moot
        Output(pid(side, ids.DRAWN), "data"),  # the display options the slice was drawn with
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
        prevent_initial_call=True,  # the URL reader starts it once the page's URL is applied
    )
    def update(set_progress, *args):
        torch.set_num_threads(torch_threads)  # at job start: forked jobs and OpenMP (DESIGN.md)
        set_progress(("0", "1"))  # the bar keeps the last job's value otherwise
        k = len(CONTROL_NAMES)
        controls, uploaded = dict(zip(CONTROL_NAMES, args[:k], strict=True)), args[k]
        display = display_options(*args[k + 1:])
        try:
            out = panel_output(store, controls, uploaded,
                               lambda done, total: set_progress((str(done), str(total))), display,
                               lambda fig: set_props(pid(side, ids.SURFACE), {"figure": fig}))
        except Exception:  # never a traceback in the page; the log has it
            log.exception("panel %s failed for %s", side, controls)
            text = "internal error while computing this view (see the server log)"
            out = panel_views.PanelOutput(figures.message_figure(text),
                                          figures.message_figure(text), [text])
        return (out.surface, out.path, [html.P(m) for m in out.messages],
                out.tree if out.tree is not None else no_update,
                out.diagram if out.diagram is not None else no_update,
                out.funnel_data, _table(out.table), "", display)

    @app.callback(
        Output(pid(side, ids.SURFACE), "figure", allow_duplicate=True),
        [Input(pid(side, name), "value") for name in CONTROL_NAMES],
        Input(pid(side, ids.UPLOADED), "data"),
        [State(pid(side, name), "value") for name in DISPLAY_NAMES],
        prevent_initial_call=True,  # as the job: after the URL reader
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
        except LandscapeError:  # the full computation reports it in the panel
            return no_update
        except Exception:  # the full computation reports errors; a preview just stays away
            log.exception("preview %s failed for %s", side, controls)
            return no_update
        return no_update if fig is None else fig

    @app.callback(
        Output(pid(side, ids.SURFACE), "figure", allow_duplicate=True),
        [Input(pid(side, name), "value") for name in DISPLAY_NAMES],
        Input(pid(side, ids.DRAWN), "data"),
        [State(pid(side, name), "value") for name in CONTROL_NAMES],
        State(pid(side, ids.UPLOADED), "data"),
        prevent_initial_call=True,
    )
    def redraw(*args):
        """Display options redraw the cached slice: nothing is computed again. Also when a job
        ends: options changed while it ran (nothing was cached to redraw then) apply now."""
        d = len(DISPLAY_NAMES)
        controls = dict(zip(CONTROL_NAMES, args[d + 1:-1], strict=True))
        job_end = ctx.triggered_id == pid(side, ids.DRAWN)
        fig = redrawn(store, controls, args[-1], display_options(*args[:d]),
                      args[d] if job_end else None)
        return no_update if fig is None else fig

    @app.callback(
        Output(pid(side, ids.ISING_CONTROLS), "style"),
        Output(pid(side, ids.PSPIN_CONTROLS), "style"),
        Output(pid(side, ids.NETWORK_CONTROLS), "style"),
        Output(pid(side, ids.SPIN_VIEW_CONTROLS), "style"),
        Output(pid(side, ids.SPIN_PLANE_CONTROLS), "style"),
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


def _register_downloads(app: Dash, store: ViewStore, side: str) -> None:
    buttons = {pid(side, name): fmt for fmt, name in ids.DOWNLOAD_BUTTONS.items()}

    @app.callback(
        Output(pid(side, ids.DOWNLOAD), "data"),
        Output(pid(side, ids.DOWNLOAD_STATUS), "children", allow_duplicate=True),
        [Input(button, "n_clicks") for button in buttons],
        [State(pid(side, name), "value") for name in CONTROL_NAMES],
        State(pid(side, ids.UPLOADED), "data"),
        prevent_initial_call=True,
    )
    def download(*args):
        """The view on screen as a file, from the cache (never computed here)."""
        fmt = buttons.get(ctx.triggered_id)
        if fmt is None:
            return no_update, no_update
        k = len(buttons)
        controls = dict(zip(CONTROL_NAMES, args[k:k + len(CONTROL_NAMES)], strict=True))
        try:
            data, status = download_file(store, controls, args[-1], fmt)
        except Exception:  # never a traceback in the page; the log has it
            log.exception("download %s of panel %s failed for %s", fmt, side, controls)
            data, status = None, "the file could not be written (see the server log)"
        return (no_update if data is None else data), status


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


# Shared by the clientside callbacks below (installed once per page): the two 3D graphs and the
# camera they share (``fs.shared``; null: the figures' default), which every camera turn of a
# graph updates at once. A figure from the server always carries the default camera, and
# uirevision keeps a turned camera only while the figure's own camera does not change: so after
# each new figure a graph draws (``plotly_afterplot`` with a new layout object), a graph that
# does not show the shared camera is turned to it. A URL's camera waits in ``fs.pending`` for
# the first draw of a graph.
CAMERA_HELPERS = """
    const dc = window.dash_clientside;
    const fs = window.__funnelscope = window.__funnelscope || {};
    if (!fs.graph) {
        fs.sides = ["left", "right"];
        fs.ids = {left: "%(left)s", right: "%(right)s"};
        fs.defaultCamera = %(default)s;
        fs.shared = null;
        fs.pending = {};
        fs.graph = side => document.querySelector("#" + fs.ids[side] + " .js-plotly-plot");
        fs.drawn = gd => !!(gd && gd._fullLayout && gd._fullLayout.scene
                            && gd._fullLayout.scene._scene);
        fs.cameraOf = gd => {
            const scene = gd && gd._fullLayout && gd._fullLayout.scene;
            const c = scene && scene.camera;
            return c ? JSON.parse(JSON.stringify({eye: c.eye, up: c.up, center: c.center})) : null;
        };
        fs.same = (a, b) => ["eye", "up", "center"].every(part => ["x", "y", "z"].every(k => {
            const u = ((a || fs.defaultCamera)[part] || fs.defaultCamera[part])[k];
            const v = ((b || fs.defaultCamera)[part] || fs.defaultCamera[part])[k];
            return Math.abs(u - v) <= 1e-3;
        }));
        fs.turn = (gd, camera) => window.Plotly.relayout(
            gd, {"scene.camera": JSON.parse(JSON.stringify(camera))});
        fs.follow = side => {  // true if the graph was turned to the shared camera
            const gd = fs.graph(side);
            if (!fs.drawn(gd) || (!fs.pending[side] && gd.layout === gd.__fsLayout)) {
                return false;
            }
            delete fs.pending[side];
            gd.__fsLayout = gd.layout;
            const want = fs.shared || fs.defaultCamera;
            if (fs.same(fs.cameraOf(gd), want)) { return false; }
            fs.turn(gd, want);
            return true;
        };
        fs.seen = side => {  // what a graph shows now is not new (the user may have turned it)
            const gd = fs.graph(side);
            if (fs.drawn(gd) && gd.__fsLayout === undefined && !fs.pending[side]) {
                gd.__fsLayout = gd.layout;
            }
        };
        fs.watch = () => {  // true once both graphs report their draws and turns
            return fs.sides.filter(side => {
                const gd = fs.graph(side);
                if (gd && gd.on && !gd.__fsWatched) {
                    gd.__fsWatched = true;
                    gd.on("plotly_afterplot", () => fs.follow(side));
                    gd.on("plotly_relayout", event => {
                        if (Object.keys(event || {}).some(key => key.startsWith("scene.camera"))) {
                            fs.shared = fs.cameraOf(gd);
                        }
                    });
                }
                return !!(gd && gd.__fsWatched);
            }).length === fs.sides.length;
        };
        fs.poll = () => {  // until both graphs are watched and a URL's camera is shown
            clearTimeout(fs.timer);
            const watched = fs.watch();
            fs.sides.forEach(fs.follow);
            if (Date.now() > fs.deadline) { fs.pending = {}; }
            if (!watched || Object.keys(fs.pending).length) {
                fs.timer = setTimeout(fs.poll, 300);
            }
        };
    }
"""
PENDING_CAMERA_MS = 300_000  # how long a URL's camera waits for a graph's first 3D scene

# Reads both cameras from the graphs themselves: relayoutData holds only the latest event, and
# an autosize event can replace a camera change before this runs. The graph whose camera differs
# from the last synced one is the one the user moved; the other is turned to it. The shared
# camera goes to the CAMERA store (and from there into the URL) when it changes.
CAMERA_SYNC = """
function(leftRelayout, rightRelayout, stored) {
    %(helpers)s
    fs.watch();
    if (fs.sides.filter(side => fs.pending[side] && fs.follow(side)).length) {
        return dc.no_update;  // a URL's camera just reached a graph
    }
    fs.sides.forEach(fs.seen);
    const cameras = fs.sides.map(side => fs.pending[side] ? null : fs.cameraOf(fs.graph(side)));
    const keep = camera => {
        fs.shared = camera;
        if (fs.same(camera, stored)) { return dc.no_update; }
        fs.fromSync = camera;
        return camera;
    };
    if (!cameras[0] || !cameras[1]) {
        const only = cameras[0] || cameras[1];
        return only ? keep(only) : dc.no_update;
    }
    const text = cameras.map(c => JSON.stringify({eye: c.eye, up: c.up, center: c.center}));
    const last = window.__funnelscopeCamera;
    if (text[0] === text[1]) {
        window.__funnelscopeCamera = text[0];
        return keep(cameras[0]);
    }
    let source;
    if (last === undefined || (text[0] !== last && text[1] !== last)) {
        const trig = ((dc.callback_context.triggered || [])[0] || {}).prop_id || "";
        source = trig.startsWith(fs.ids.right + ".") ? 1 : 0;
    } else {
        source = text[0] !== last ? 0 : 1;
    }
    window.__funnelscopeCamera = text[source];
    const camera = {eye: cameras[source].eye, up: cameras[source].up, center: cameras[source].center};
    fs.turn(fs.graph(fs.sides[1 - source]), camera);
    return keep(camera);
}
"""

# A camera that came from a URL (the CAMERA store, set by the URL reader) becomes the shared one:
# both graphs turn to it now, or when they first draw a 3D scene. The sync's own writes are
# skipped.
APPLY_CAMERA = """
function(camera) {
    %(helpers)s
    if (!camera) { return dc.no_update; }
    const own = fs.fromSync && fs.same(camera, fs.fromSync);
    fs.fromSync = null;
    if (own) { return dc.no_update; }
    fs.shared = camera;
    for (const side of fs.sides) {
        const gd = fs.graph(side);
        if (!fs.drawn(gd)) {
            fs.pending[side] = true;
            continue;
        }
        gd.__fsLayout = gd.layout;
        if (!fs.same(fs.cameraOf(gd), camera)) { fs.turn(gd, camera); }
    }
    fs.deadline = Date.now() + %(pending_ms)d;
    fs.poll();
    return dc.no_update;
}
"""


def _camera_js(template: str) -> str:
    left, right = (pid(side, ids.SURFACE) for side in ids.PANELS)
    helpers = CAMERA_HELPERS % {"left": left, "right": right,
                                "default": json.dumps(urlstate.DEFAULT_CAMERA)}
    return template % {"helpers": helpers, "pending_ms": PENDING_CAMERA_MS}


def _register_camera_sync(app: Dash) -> None:
    left, right = (pid(side, ids.SURFACE) for side in ids.PANELS)
    app.clientside_callback(
        _camera_js(CAMERA_SYNC),
        Output(ids.CAMERA, "data", allow_duplicate=True),
        Input(left, "relayoutData"),
        Input(right, "relayoutData"),
        State(ids.CAMERA, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(_camera_js(APPLY_CAMERA), Input(ids.CAMERA, "data"),
                            prevent_initial_call=True)


# The URL writer's target goes into the page's URL: a camera turn replaces the history entry,
# anything else adds one (dcc.Location pushes an entry when its search or href prop changes).
# Search and href are set together, so that dcc.Location never pushes a stale href; the query
# written is marked applied (the controls already show it: the URL reader leaves it alone).
PUSH_URL = """
function(target, search) {
    const dc = window.dash_clientside;
    const none = [dc.no_update, dc.no_update, dc.no_update];
    if (!target || typeof target.search !== "string") { return none; }
    const next = target.search;
    const loc = window.location;
    if (next === search && next === loc.search) { return none; }
    if (target.replace && next !== loc.search) {
        window.history.replaceState(window.history.state, "", loc.pathname + next + loc.hash);
    }
    return [next, loc.origin + loc.pathname + next + loc.hash, next];
}
"""

# The page's URL to the clipboard; without the Clipboard API (a page served over plain http from
# another machine is not a secure context) a hidden textarea and execCommand("copy").
COPY_LINK = """
function(clicks) {
    const dc = window.dash_clientside;
    if (!clicks) { return dc.no_update; }
    const url = window.location.href;
    const fs = window.__funnelscope = window.__funnelscope || {};
    clearTimeout(fs.copyTimer);
    fs.copyTimer = setTimeout(() => dc.set_props("%(status)s", {children: ""}), 6000);
    const fallback = () => {
        const area = document.createElement("textarea");
        area.value = url;
        area.setAttribute("readonly", "");
        area.style.position = "fixed";
        area.style.opacity = "0";
        document.body.appendChild(area);
        area.select();
        let copied = false;
        try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
        document.body.removeChild(area);
        return copied ? "link copied" : "could not copy: the link is this page's address";
    };
    if (navigator.clipboard && window.isSecureContext) {
        return navigator.clipboard.writeText(url).then(() => "link copied", fallback);
    }
    return fallback();
}
"""


def _register_scenarios(app: Dash) -> None:
    @app.callback(
        Output(ids.ACTIVE_SCENARIO, "children"),
        Output(ids.ACTIVE_SCENARIO, "style"),
        Output(ids.SCENARIOS, "open"),
        Input(ids.URL, "search"),
    )
    def show_active_scenario(search):
        """The guided scenario the page's URL opens (a preset's link, or a copy of it), above
        the panels; the list of scenarios folds away meanwhile (never reopened from here: the
        page must not jump while the controls change)."""
        preset = presets.matching(search)
        return *active_scenario(preset), (no_update if preset is None else False)


def url_panels(values: list, uploaded: list) -> dict[str, dict]:
    """Both panels' settings by side from the values of every (side, name) in urlstate.NAMES
    (sides in order) and the two UPLOADED stores."""
    n = len(urlstate.NAMES)
    return {side: {**dict(zip(urlstate.NAMES, values[k * n:(k + 1) * n], strict=True)),
                   ids.UPLOADED: uploaded[k] or {}}
            for k, side in enumerate(ids.PANELS)}


def url_notes(notes: list[str]) -> list:
    """What the URL notes element says for ``notes`` (empty: nothing)."""
    if not notes:
        return []
    return [html.Span("Not used from this link: ", className="url-notes-title"), "; ".join(notes)]


def _register_url_state(app: Dash) -> None:
    names = [(side, name) for side in ids.PANELS for name in urlstate.NAMES]
    slots = [slot for slot, _ in UPLOAD_SLOTS]

    @app.callback(
        Output(ids.URL_TARGET, "data"),
        [Input(pid(side, name), "value") for side, name in names],
        [Input(pid(side, ids.UPLOADED), "data") for side in ids.PANELS],
        Input(ids.CAMERA, "data"),
        State(ids.URL, "search"),
        State(ids.URL_APPLIED, "data"),
        prevent_initial_call=True,
    )
    def write_url(*args):
        """The settings on screen -> the URL (only when they differ from what it says).

        Nothing while the URL holds a query the controls do not show yet (opened, or back /
        forward: the reader is on its way): controls from before would undo the navigation.
        """
        k = len(names)
        panels = url_panels(args[:k], args[k:k + 2])
        camera, search, applied = args[k + 2:k + 5]
        if (search or "") != applied:
            return no_update
        cameras = None if camera is None else dict.fromkeys(ids.PANELS, camera)
        return urlstate.target(panels, cameras, search) or no_update

    app.clientside_callback(PUSH_URL, Output(ids.URL, "search"), Output(ids.URL, "href"),
                            Output(ids.URL_APPLIED, "data", allow_duplicate=True),
                            Input(ids.URL_TARGET, "data"), State(ids.URL, "search"),
                            prevent_initial_call=True)

    @app.callback(
        [Output(pid(side, name), "value", allow_duplicate=name == ids.PATH_TO)
         for side, name in names],
        [Output(pid(side, ids.UPLOADED), "data", allow_duplicate=True) for side in ids.PANELS],
        [Output(pid(side, slot + "-status"), "children", allow_duplicate=True)
         for side in ids.PANELS for slot in slots],
        [Output(pid(side, ids.PATH_TO), "options", allow_duplicate=True) for side in ids.PANELS],
        Output(ids.CAMERA, "data", allow_duplicate=True),
        Output(ids.URL_NOTES, "children"),
        Output(ids.URL_APPLIED, "data", allow_duplicate=True),
        Input(ids.URL, "search"),
        [State(pid(side, name), "value") for side, name in names],
        [State(pid(side, ids.UPLOADED), "data") for side in ids.PANELS],
        [State(pid(side, ids.PATH_TO), "options") for side in ids.PANELS],
        State(ids.CAMERA, "data"),
        State(ids.URL_APPLIED, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def read_url(search, *args):
        """The URL (opened, or back / forward) -> the settings that differ from the screen's.

        A query the page wrote itself (marked applied) is left alone: the controls may have
        moved on since, and must not be set back. When the page opens (nothing applied yet)
        this starts both panels' views, with the URL's settings: the panel jobs have no initial
        call of their own (they would compute the default views first, then the link's).
        """
        k = len(names)
        search = search or ""
        panels = url_panels(args[:k], args[k:k + 2])
        options, camera, applied = args[k + 2:k + 4], args[k + 4], args[k + 5]
        n_outputs = len(names) + 2 + 2 * len(slots) + 2 + 1
        if search == applied:
            return (*[no_update] * n_outputs, url_notes([]), no_update)
        changed, new_camera, notes = urlstate.changes(search, panels, camera)
        values = [changed[side].get(name, no_update) for side, name in names]
        if applied is None:  # the page has just opened: start each panel's view now
            for side in ids.PANELS:
                if not set(changed[side]) & {*CONTROL_NAMES, ids.UPLOADED}:
                    values[names.index((side, ids.MODEL))] = panels[side][ids.MODEL]
        uploaded, statuses, path_options = [], [], []
        for side, side_options in zip(ids.PANELS, options, strict=True):
            keys = changed[side].get(ids.UPLOADED)
            uploaded.append(no_update if keys is None else keys)
            for slot in slots:
                key = None if keys is None else keys.get(SLOT_KEYS[slot])
                statuses.append(no_update if keys is None else (
                    html.Span(f"from the link: {key[:12]}...", className="ok") if key else ""))
            end = changed[side].get(ids.PATH_TO)
            path_options.append(with_option(side_options or [], end)
                                if isinstance(end, str) and end.startswith("state:") else no_update)
        return (*values, *uploaded, *statuses, *path_options,
                no_update if new_camera is None else new_camera, url_notes(notes), search)

    app.clientside_callback(COPY_LINK % {"status": ids.COPY_STATUS},
                            Output(ids.COPY_STATUS, "children"), Input(ids.COPY_LINK, "n_clicks"),
                            prevent_initial_call=True)
