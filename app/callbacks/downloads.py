"""Downloads: a panel's buttons save the view on screen, from the cache only (nothing is
computed in the web process for a download)."""

import logging

from dash import Dash, Input, Output, State, ctx, dcc, no_update

from app import ids, panel_views, urlstate
from app.callbacks.panels import display_of, panel_requests, settings_inputs
from app.controls import DISPLAY_NAMES, MODEL_NAMES
from app.data import ViewStore
from app.ids import pid
from landscapes.errors import LandscapeError
from landscapes.io import formats

log = logging.getLogger(__name__)

NOTHING_SHOWN = "nothing to download: this panel shows no view for these settings (see its message)"
NOT_CACHED = ("still computing: download when the view has appeared (a view that could not be "
              "computed has nothing to download)")


def download_request(controls: dict, uploaded: dict | None) -> tuple[dict, dict]:
    """(model spec, view request) of the view a panel's main graph shows for its controls (by
    name, as in MODEL_NAMES) and uploads -- what its Download buttons save.

    The same requests as :func:`app.callbacks.panels.panel_output`: a slice view saves its slice
    (not the paths), the funnel view its enumeration against the chosen reference state, the
    sweep and minima views their results. Raises LandscapeError (NOTHING_SHOWN) where the panel
    refuses the view (funnel and sweep need the Ising model; minima, a spin model or an example
    network).
    """
    requests = panel_requests(controls, uploaded)
    main = panel_views.panel_view(controls[ids.VIEW]).main(requests)
    if main is None:
        raise LandscapeError(NOTHING_SHOWN)
    return requests.spec, main


def file_bytes(result: formats.Result, fmt: str, display: dict | None) -> bytes:
    """The file of ``result`` in ``fmt``; an HTML file is drawn with the panel's ``display``
    options (and camera), so it shows what the panel shows."""
    return formats.to_bytes(result, fmt, display=display)


def download_file(store: ViewStore, controls: dict, uploaded: dict | None, fmt: str,
                  display: dict | None = None) -> tuple[dict | None, str]:
    """(dcc.Download data or None, status text) for a panel's Download button ``fmt``.

    Reads the panel's current view from the cache only -- this runs in the web process, where
    nothing is computed: a view not cached yet gives None and NOT_CACHED. The bytes are
    :func:`file_bytes`, named by :func:`landscapes.io.formats.file_name`; a format the view
    has no file for (VTK of a sweep) gives None and the reason.
    """
    try:
        spec, request = download_request(controls, uploaded)
        result = store.cached(spec, request)
        if result is None:
            return None, NOT_CACHED
        content = file_bytes(result, fmt, display)
    except LandscapeError as exc:
        return None, str(exc)
    name = formats.file_name(result.meta, fmt)
    return dcc.send_bytes(content, name, type=formats.MEDIA_TYPES[fmt]), ""


def register(app: Dash, store: ViewStore) -> None:
    """Each panel's Download buttons."""
    for side in ids.PANELS:
        _register_downloads(app, store, side)


def _register_downloads(app: Dash, store: ViewStore, side: str) -> None:
    buttons = {pid(side, name): fmt for fmt, name in ids.DOWNLOAD_BUTTONS.items()}

    @app.callback(
        output={"data": Output(pid(side, ids.DOWNLOAD), "data"),
                "status": Output(pid(side, ids.DOWNLOAD_STATUS), "children",
                                 allow_duplicate=True)},
        inputs={"clicks": {fmt: Input(button, "n_clicks") for button, fmt in buttons.items()}},
        state={"controls": settings_inputs(side, MODEL_NAMES, State),
               "display": settings_inputs(side, DISPLAY_NAMES, State),
               "uploaded": State(pid(side, ids.UPLOADED), "data"),
               "camera": State(ids.CAMERA, "data")},
        prevent_initial_call=True,
    )
    def download(clicks, controls, display, uploaded, camera):
        """The view on screen as a file, from the cache (never computed here)."""
        fmt = buttons.get(ctx.triggered_id)
        if fmt is None:
            return {"data": no_update, "status": no_update}
        camera = urlstate.normalize_camera(camera)  # None: not a camera (a hand-made request)
        try:
            options = display_of(display, controls)
            options = {**options, "camera": camera} if camera else options
            data, status = download_file(store, controls, uploaded, fmt, options)
        except Exception:  # never a traceback in the page; the log has it
            log.exception("download %s of panel %s failed for %s", fmt, side, controls)
            data, status = None, "the file could not be written (see the server log)"
        return {"data": no_update if data is None else data, "status": status}
