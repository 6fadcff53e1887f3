"""Callbacks, registered on one app by :func:`register` (called from ``create_app``).

Each panel has one server callback (controls -> requests -> cached arrays -> figures), one
that shows the chosen family's controls and one that validates uploads; the two 3D cameras are
kept in step by one clientside callback that patches the other graph's camera.
"""

import base64
import binascii
import json
import logging
from collections.abc import Callable

import torch
from dash import Dash, Input, Output, State, html

from app import figures, funnel_figures, ids
from app.data import ViewStore
from app.ids import pid
from app.layout import HIDDEN, SHOWN, UPLOAD, UPLOAD_SLOTS, family_styles
from landscapes import views
from landscapes.barriers import barrier_tree
from landscapes.enumeration import enumerate_ising
from landscapes.errors import LandscapeError
from landscapes.funnel import funnel_histogram
from landscapes.models import build_model
from landscapes.store import UploadStore

log = logging.getLogger(__name__)

CONTROL_NAMES = (
    ids.MODEL, ids.VIEW_KIND, ids.ISING_N, ids.NATIVE_BIAS, ids.PSPIN_N, ids.P, ids.PLANTED, ids.SEED,
    ids.SPAN, ids.STEPS, ids.CENTER, ids.DIRECTIONS, ids.PATH_FROM, ids.PATH_TO,
    ids.NET_SOURCE, ids.NET_DATA, ids.NET_LOSS, ids.NET_DIRECTIONS, ids.NET_PATH_KIND,
)
SLOT_KEYS = {ids.UPLOAD_CHECKPOINT: "checkpoint", ids.UPLOAD_CHECKPOINT2: "checkpoint2",
             ids.UPLOAD_CHECKPOINT3: "checkpoint3", ids.UPLOAD_DATA: "data"}


def model_spec(model, ising_n, native_bias, pspin_n, p, planted, seed, network=None) -> dict:
    """The model spec the controls describe (only the chosen family's parameters).

    ``network`` is ``{"source": EXAMPLE | "upload", "uploaded": {...keys}, "data", "loss"}``.
    """
    if model == "ising":
        return {"model": "ising", "n": ising_n, "native_bias": native_bias, "seed": seed}
    if model == "network":
        network = network or {}
        if network.get("source", "moons-mlp") != UPLOAD:
            return {"model": "network", "example": network.get("source", "moons-mlp")}
        keys = network.get("uploaded") or {}
        data = f"upload:{keys['data']}" if keys.get("data") else network.get("data")
        return {"model": "network", "checkpoint": keys.get("checkpoint"),
                "checkpoint2": keys.get("checkpoint2"), "checkpoint3": keys.get("checkpoint3"),
                "data": data, "loss": network.get("loss")}
    return {"model": model, "n": pspin_n, "p": p, "planted": planted, "seed": seed}


def slice_view(span, steps, center, directions) -> dict:
    return {"view": "slice", "dims": 2, "span": span, "steps": steps, "center": center,
            "directions": directions}


def path_view(start, end, kind: str) -> dict:
    return {"view": "path", "from": start, "to": end, "kind": kind, "steps": 101}


def requests(spec: dict, span, steps, center, directions, start, end, net_directions,
             net_path_kind, seed=0) -> tuple[dict, list[dict]]:
    """The slice view and the path views one panel shows for ``spec``.

    For networks the panel's seed draws the random directions (spin models: the instance).
    """
    if spec["model"] != "network":
        paths = [path_view(start, end, kind) for kind in views.PATH_KINDS]
        return slice_view(span, steps, center, directions), paths
    slice_ = {"view": "slice", "dims": 2, "span": span, "steps": steps,
              "directions": net_directions, "direction_seed": seed}
    ends = ("init", "centre") if "example" in spec else ("centre", "checkpoint2")
    if "example" not in spec and not spec.get("checkpoint2"):
        return slice_, []
    return slice_, [{"view": "path", "from": ends[0], "to": ends[1], "kind": net_path_kind,
                     "steps": 41}]


def panel_figures(store: ViewStore, spec: dict, slice_request: dict, path_requests: list[dict],
                  progress: Callable[[int, int], None] | None = None):
    """(surface figure, path figure, messages) for one panel's requests.

    ``progress(done, total)`` follows the slice, the longest part.
    """
    messages = []
    try:
        surface = figures.surface_figure(store.get(spec, slice_request, progress))
    except LandscapeError as exc:
        messages.append(str(exc))
        surface = figures.message_figure(str(exc))
    paths = []
    for request in path_requests:
        try:
            paths.append(store.get(spec, request))
        except LandscapeError as exc:
            if str(exc) not in messages:
                messages.append(str(exc))
    hint = "upload a second checkpoint to see a path" if not path_requests else "no path to show"
    path = figures.path_figure(paths) if paths else figures.message_figure(hint)
    return surface, path, messages


def funnel_panel(spec: dict):
    """(funnel diagram, disconnectivity graph, messages) of an Ising spec, by exact enumeration."""
    if spec["model"] != "ising":
        text = "funnel views are computed exactly for the Ising model: choose it above"
        return figures.message_figure(text), figures.message_figure(text), [text]
    try:
        model = build_model(spec)
        result = enumerate_ising(model)
    except LandscapeError as exc:
        return figures.message_figure(str(exc)), figures.message_figure(str(exc)), [str(exc)]
    tree = barrier_tree(result.energies, model.n)
    diagram = funnel_figures.funnel_diagram(funnel_histogram(result.energies, result.overlaps))
    diagram.update_layout(title={"text": "folding funnel: " + figures.model_title(model.spec),
                                 "font": {"size": 14}})
    graph = funnel_figures.disconnectivity_figure(tree.minimum_energies, tree.merges,
                                                  tree.basin_share, tree.minima)
    ground_share = tree.basin_share[tree.minimum_energies == tree.minimum_energies[0]].sum()
    graph.update_layout(title={"text": f"barrier tree: {len(tree.minima)} minima; ground-state "
                                       f"basins hold {ground_share:.0%} of all states",
                               "font": {"size": 13}}, height=260)
    return diagram, graph, []


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


def _register_panel(app: Dash, store: ViewStore, side: str, manager, torch_threads: int) -> None:
    @app.callback(
        Output(pid(side, ids.SURFACE), "figure"),
        Output(pid(side, ids.PATH), "figure"),
        Output(pid(side, ids.MESSAGE), "children"),
        [Input(pid(side, name), "value") for name in CONTROL_NAMES],
        Input(pid(side, ids.UPLOADED), "data"),
        background=True,
        manager=manager,
        interval=250,
        progress=[Output(pid(side, ids.PROGRESS), "value"),
                  Output(pid(side, ids.PROGRESS), "max")],
        running=[(Output(pid(side, ids.PROGRESS_ROW), "style"), SHOWN, HIDDEN)],
        cancel=[Input(pid(side, ids.CANCEL), "n_clicks")],
    )
    def update(set_progress, model, view_kind, ising_n, native_bias, pspin_n, p, planted, seed,
               span, steps, center, directions, start, end, net_source, net_data, net_loss,
               net_directions, net_path_kind, uploaded):
        torch.set_num_threads(torch_threads)  # at job start: forked jobs and OpenMP (DESIGN.md)
        set_progress(("0", "1"))  # the bar keeps the last job's value otherwise
        network = {"source": net_source, "uploaded": uploaded, "data": net_data, "loss": net_loss}
        spec = model_spec(model, ising_n, native_bias, pspin_n, p, planted, seed, network)
        try:
            if view_kind == "funnel":
                surface, path, messages = funnel_panel(spec)
                return surface, path, [html.P(m) for m in messages]
            slice_request, path_requests = requests(
                spec, span, steps, center, directions, start, end, net_directions, net_path_kind,
                seed,
            )
            surface, path, messages = panel_figures(
                store, spec, slice_request, path_requests,
                lambda done, total: set_progress((str(done), str(total))),
            )
        except Exception:  # never a traceback in the page; the log has it
            log.exception("panel %s failed for %s", side, spec)
            messages = ["internal error while computing this view (see the server log)"]
            surface = path = figures.message_figure(messages[0])
        return surface, path, [html.P(m) for m in messages]

    @app.callback(
        Output(pid(side, ids.ISING_CONTROLS), "style"),
        Output(pid(side, ids.PSPIN_CONTROLS), "style"),
        Output(pid(side, ids.NETWORK_CONTROLS), "style"),
        Output(pid(side, ids.SPIN_VIEW_CONTROLS), "style"),
        Output(pid(side, ids.UPLOAD_GROUP), "style"),
        Input(pid(side, ids.MODEL), "value"),
        Input(pid(side, ids.NET_SOURCE), "value"),
    )
    def show_family_controls(model, net_source):
        return *family_styles(model), SHOWN if net_source == UPLOAD else HIDDEN


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
