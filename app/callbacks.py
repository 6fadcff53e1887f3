"""Callbacks, registered on one app by :func:`register` (called from ``create_app``).

Each panel has one server callback (controls -> requests -> cached arrays -> figures); the two
3D cameras are kept in step by one clientside callback that patches the other graph's camera.
"""

import logging

from dash import Dash, Input, Output, State, html

from app import figures, ids
from app.data import ViewStore
from app.ids import pid
from app.layout import family_styles
from landscapes import views
from landscapes.errors import LandscapeError

log = logging.getLogger(__name__)

CONTROL_NAMES = (
    ids.MODEL, ids.ISING_N, ids.NATIVE_BIAS, ids.PSPIN_N, ids.P, ids.PLANTED, ids.SEED,
    ids.SPAN, ids.STEPS, ids.CENTER, ids.DIRECTIONS, ids.PATH_FROM, ids.PATH_TO,
)


def model_spec(model, ising_n, native_bias, pspin_n, p, planted, seed) -> dict:
    """The model spec the controls describe (only the chosen family's parameters)."""
    if model == "ising":
        return {"model": "ising", "n": ising_n, "native_bias": native_bias, "seed": seed}
    return {"model": model, "n": pspin_n, "p": p, "planted": planted, "seed": seed}


def slice_view(span, steps, center, directions) -> dict:
    return {"view": "slice", "dims": 2, "span": span, "steps": steps, "center": center,
            "directions": directions}


def path_view(start, end, kind: str) -> dict:
    return {"view": "path", "from": start, "to": end, "kind": kind, "steps": 101}


def panel_figures(store: ViewStore, spec: dict, span, steps, center, directions, start, end):
    """(surface figure, path figure, messages) for one panel's request."""
    messages = []
    try:
        surface = figures.surface_figure(store.get(spec, slice_view(span, steps, center, directions)))
    except LandscapeError as exc:
        messages.append(str(exc))
        surface = figures.message_figure(str(exc))
    paths = []
    for kind in views.PATH_KINDS:
        try:
            paths.append(store.get(spec, path_view(start, end, kind)))
        except LandscapeError as exc:
            if str(exc) not in messages:
                messages.append(str(exc))
    path = figures.path_figure(paths) if paths else figures.message_figure("no path to show")
    return surface, path, messages


def register(app: Dash, store: ViewStore) -> None:
    for side in ids.PANELS:
        _register_panel(app, store, side)
    _register_camera_sync(app)


def _register_panel(app: Dash, store: ViewStore, side: str) -> None:
    @app.callback(
        Output(pid(side, ids.SURFACE), "figure"),
        Output(pid(side, ids.PATH), "figure"),
        Output(pid(side, ids.MESSAGE), "children"),
        [Input(pid(side, name), "value") for name in CONTROL_NAMES],
    )
    def update(model, ising_n, native_bias, pspin_n, p, planted, seed, span, steps, center,
               directions, start, end):
        spec = model_spec(model, ising_n, native_bias, pspin_n, p, planted, seed)
        try:
            surface, path, messages = panel_figures(
                store, spec, span, steps, center, directions, start, end
            )
        except Exception:  # never a traceback in the page; the log has it
            log.exception("panel %s failed for %s", side, spec)
            messages = ["internal error while computing this view (see the server log)"]
            surface = path = figures.message_figure(messages[0])
        return surface, path, [html.P(m) for m in messages]

    @app.callback(
        Output(pid(side, ids.ISING_CONTROLS), "style"),
        Output(pid(side, ids.PSPIN_CONTROLS), "style"),
        Input(pid(side, ids.MODEL), "value"),
        prevent_initial_call=True,
    )
    def show_family_controls(model):
        return family_styles(model)


CAMERA_SYNC = """
function(leftRelayout, rightRelayout, leftFigure, rightFigure) {
    const nu = window.dash_clientside.no_update;
    const trig = (window.dash_clientside.callback_context.triggered || [])[0];
    if (!trig) { return [nu, nu]; }
    const fromLeft = trig.prop_id.startsWith("%(left)s.");
    const relayout = fromLeft ? leftRelayout : rightRelayout;
    const camera = relayout && relayout["scene.camera"];
    if (!camera) { return [nu, nu]; }
    const other = fromLeft ? rightFigure : leftFigure;
    const current = other && other.layout && other.layout.scene && other.layout.scene.camera;
    if (current && JSON.stringify(current) === JSON.stringify(camera)) { return [nu, nu]; }
    const patch = new window.dash_clientside.Patch()
        .assign(["layout", "scene", "camera"], camera).build();
    return fromLeft ? [nu, patch] : [patch, nu];
}
"""


def _register_camera_sync(app: Dash) -> None:
    left, right = (pid(side, ids.SURFACE) for side in ids.PANELS)
    app.clientside_callback(
        CAMERA_SYNC % {"left": left},
        Output(left, "figure", allow_duplicate=True),
        Output(right, "figure", allow_duplicate=True),
        Input(left, "relayoutData"),
        Input(right, "relayoutData"),
        State(left, "figure"),
        State(right, "figure"),
        prevent_initial_call=True,
    )
