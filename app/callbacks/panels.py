"""Panel views: the controls of a panel -> :mod:`app.panel_views` -> its figures.

Per panel: one background job (for a slice it first sends the coarse 13x13 grid with
``set_props``; its final surface is drawn only if new: ``showSurface``), a quick preview of
what the cache already holds of a slice before the job reports (for both panels in one answer
when the page opens), a redraw of the cached slice when a display control moves (nothing
recomputed), the path graph (the job's figure, or the cached paths with the display options),
the visibility of the panel's areas (:func:`app.controls.visible`), F(Q; T) redrawn as the
temperature slider moves (from data the funnel view left in a dcc.Store), and a clicked
barrier-tree minimum made the path's end.

The callbacks take their Inputs and States from the schema, grouped by name
(:func:`settings_inputs`): a callback receives ``controls`` (every control that recomputes, by
name, as :data:`app.MODEL_NAMES`) and ``display`` (the drawing options, by name).
"""

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import torch
from dash import Dash, Input, Output, State, ctx, html, no_update, set_props

from app import fairness, ids, panel_views
from app.callbacks.camera import clientside
from app.controls import (
    AREAS,
    BY_NAME,
    DISPLAY_NAMES,
    LOSS_FROM_CHECKPOINT,
    MODEL_NAMES,
    VISIBILITY_NAMES,
)
from app.data import ViewStore
from app.ids import pid
from app.layout import HIDDEN, SHOWN, area_styles
from app.panel_views import model_spec, requests
from app.urlstate import MAX_STATE
from landscapes import chunks
from landscapes.errors import LandscapeError
from landscapes.plots import funnel as funnel_figures
from landscapes.plots import slices as figures

log = logging.getLogger(__name__)


def settings_inputs(side: str, names: Iterable[str], prop_type: type = Input,
                    prop: str = "value") -> dict[str, Any]:
    """``{name: Input(pid(side, name), prop)}`` (or States): one group of a callback's
    dict-grouped signature."""
    return {name: prop_type(pid(side, name), prop) for name in names}


def spec_of(controls: dict, uploaded: dict | None) -> dict:
    """The model spec of a panel's controls (by name, as in MODEL_NAMES) and uploads."""
    c = controls
    loss = None if c[ids.NET_LOSS] in (None, LOSS_FROM_CHECKPOINT) else c[ids.NET_LOSS]
    network = {"source": c[ids.NET_SOURCE], "uploaded": uploaded, "data": c[ids.NET_DATA],
               "loss": loss}
    return model_spec(c[ids.MODEL], c[ids.ISING_N], c[ids.NATIVE_BIAS], c[ids.PSPIN_N], c[ids.P],
                      c[ids.PLANTED], c[ids.SEED], network)


def view_requests(controls: dict, spec: dict) -> tuple[dict, list[dict]]:
    """(slice view, path views) of a panel's controls for model ``spec``."""
    c = controls
    return requests(spec, c[ids.SPAN], c[ids.STEPS], c[ids.CENTER], c[ids.DIRECTIONS],
                    c[ids.PATH_FROM], c[ids.PATH_TO], c[ids.NET_DIRECTIONS], c[ids.NET_PATH_KIND],
                    c[ids.SEED])


def panel_requests(controls: dict, uploaded: dict | None) -> panel_views.PanelRequests:
    """Everything a panel's controls (by name) and uploads ask for."""
    spec = spec_of(controls, uploaded)
    slice_request, path_requests = view_requests(controls, spec)
    return panel_views.PanelRequests(spec, slice_request, path_requests, controls[ids.REFERENCE],
                                     controls[ids.VOLUME_STEPS], controls[ids.SEED])


def grid_request_of(controls: dict, uploaded: dict | None) -> tuple[dict, dict] | None:
    """(model spec, view) of the grid a slice or volume view draws; None for other views."""
    view = panel_views.panel_view(controls[ids.VIEW])
    if not view.grid:
        return None
    requests_ = panel_requests(controls, uploaded)
    main = view.main(requests_)
    return None if main is None else (requests_.spec, main)


def display_options(colorscale: str | None, log: list | None, clip: float | None,
                    kind: str | None = None, levels: float | None = None,
                    weight_decay: float | None = None, level: float | None = None,
                    plane: float | None = None) -> dict:
    """The drawing options of the display controls (see
    :func:`landscapes.plots.slices.surface_figure`): a missing or unknown plot type is the
    surface; the number of contour levels is a whole number within figures.LEVELS_RANGE (empty:
    the default); weight decay is one of figures.WEIGHT_DECAYS (else none).
    """
    lo, hi = figures.LEVELS_RANGE
    try:
        count = figures.CONTOUR_LEVELS if levels is None else int(round(float(levels)))
    except (TypeError, ValueError, OverflowError):
        count = figures.CONTOUR_LEVELS
    return {"colorscale": colorscale if colorscale in figures.COLORSCALES else figures.COLORSCALE,
            "log": isinstance(log, list | tuple) and "log" in log,
            "clip": _percentile(clip),
            "kind": kind if kind in figures.PLOT_KINDS else figures.PLOT_KINDS[0],
            "levels": min(max(count, lo), hi),
            "weight_decay": float(weight_decay) if weight_decay in figures.WEIGHT_DECAYS else 0.0,
            "level": _fraction(level, 0.0, 0.5), "plane": _fraction(plane, -1.0, 0.0)}


def _fraction(value: object, lo: float, default: float) -> float:
    """A slider's fraction within [lo, 1]; anything else (not a finite number) its default."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value):
        return default
    return min(max(float(value), lo), 1.0)


def _percentile(clip: object) -> float | None:
    """The clip control's percentile: a number in (0, 100]; anything else (0, none, not a
    number, as only a hand-made request sends) clips nothing."""
    if isinstance(clip, bool) or not isinstance(clip, int | float | str):
        return None
    try:
        value = float(clip)
    except (ValueError, OverflowError):
        return None
    return value if 0 < value <= 100 else None


def display_of(values: dict, controls: dict | None = None) -> dict:
    """The drawing options of the display controls' values by name (DISPLAY_NAMES). With the
    panel's ``controls`` (by name), an option that does not apply to its model and view (a
    control the page hides, such as weight decay for a spin model, whose value a link or an
    earlier network may have left) takes its default."""
    family, view = (controls or {}).get(ids.MODEL), (controls or {}).get(ids.VIEW)
    if isinstance(family, str) and isinstance(view, str):
        values = {name: value if name not in BY_NAME or BY_NAME[name].applies(family, view)
                  else BY_NAME[name].default for name, value in values.items()}
    return display_options(values.get(ids.COLORSCALE), values.get(ids.LOG_SCALE),
                           values.get(ids.CLIP), values.get(ids.PLOT_KIND),
                           values.get(ids.CONTOUR_LEVELS), values.get(ids.WEIGHT_DECAY),
                           values.get(ids.LEVEL), values.get(ids.PLANE))


def redrawn(store: ViewStore, controls: dict, uploaded: dict | None, display: dict,
            drawn: dict | None = None):
    """The slice redrawn with ``display`` from the cache, or None when there is nothing to do:
    not a slice view, no view for these settings, not cached (a job is computing it), or --
    ``drawn``, at the end of a job: the options it drew with -- the job already drew it so."""
    if display == drawn:
        return None
    try:
        grid = grid_request_of(controls, uploaded)
        return None if grid is None else panel_views.redisplay(store, *grid, display)
    except LandscapeError:  # no view for these settings: the panel's message says why
        return None


def panel_output(store: ViewStore, controls: dict, uploaded: dict | None,
                 progress: Callable[[int, int], None] | None = None,
                 display: dict | None = None,
                 preview: Callable[[Any], None] | None = None) -> panel_views.PanelOutput:
    """What a panel shows for its controls (by name, as in MODEL_NAMES) and uploads.

    ``preview(figure)`` receives a slice's coarse grid first (:func:`panel_views.slice_panel`).
    """
    entry = panel_views.panel_view(controls[ids.VIEW])
    return entry.show(store, panel_requests(controls, uploaded), progress, display, preview)


def clicked_state(click: dict | None) -> str | None:
    """``state:I`` for a click on a barrier-tree leaf (its customdata is [state, share]); None
    for a click elsewhere, or click data no graph sends."""
    points = click.get("points") if isinstance(click, dict) else None
    point = points[0] if isinstance(points, list) and points else None
    data = point.get("customdata") if isinstance(point, dict) else None
    state = data[0] if isinstance(data, list) and data else None
    if isinstance(state, bool) or not isinstance(state, int | float) \
            or not 0 <= state < MAX_STATE or state != int(state):
        return None
    return f"state:{int(state)}"


def with_option(options: list[dict] | None, value: str) -> list[dict]:
    """Dropdown ``options`` with an entry for a barrier-tree state (added once); options that
    are not a list of options are the empty list."""
    options = [o for o in options if isinstance(o, dict)] if isinstance(options, list) else []
    if any(o.get("value") == value for o in options):
        return options
    label = f"barrier-tree minimum ({value.replace(':', ' ')})"
    return [*options, {"label": label, "value": value}]


def queued_label(ahead: int) -> str:
    """The progress row's text while a job waits for its client's slot (app/fairness.py)."""
    return f"queued: {ahead} ahead"


def job_slot(slots: fairness.Slots, client: str | None,
             set_progress: Callable[[tuple[str, str, str]], None]) -> AbstractContextManager:
    """A running slot of browser session ``client``; while it waits, the progress row says
    "queued: N ahead", and it clears once the job runs."""

    @contextmanager
    def held() -> Iterator[None]:
        with slots.slot(client, lambda ahead: set_progress(("0", "1", queued_label(ahead)))):
            set_progress(("0", "1", ""))
            yield

    return held()


def _table(rows: list[dict] | None) -> html.Table | None:
    if not rows:
        return None
    head = html.Thead(html.Tr([html.Th(k) for k in rows[0]]))
    body = html.Tbody([html.Tr([html.Td(v) for v in row.values()]) for row in rows])
    return html.Table([head, body])


def register(app: Dash, store: ViewStore, manager, torch_threads: int = 1,
             slots: fairness.Slots | None = None, nice: int = 0, processes: int = 1) -> None:
    """Register every panel's view callbacks; the views run as background jobs of ``manager``,
    each in a slot of its browser session's fair share (``slots``; None: no limit), at nice
    value ``nice`` (:func:`app.fairness.lower_priority`), a view's blocks on up to
    ``processes`` processes forked by the job (:mod:`landscapes.chunks`)."""
    _register_opening_previews(app, store)
    for side in ids.PANELS:
        _register_job(app, store, side, manager, torch_threads, slots or fairness.Unlimited(),
                      nice, processes)
        _register_redraws(app, store, side)
        _register_path(app, store, side)
        _register_visibility(app, side)
        _register_funnel_extras(app, side)


def _register_job(app: Dash, store: ViewStore, side: str, manager, torch_threads: int,
                  slots: fairness.Slots, nice: int, processes: int) -> None:

    @app.callback(
        output={
            "surface": Output(pid(side, ids.JOB_SURFACE), "data"),  # drawn if new (showSurface)
            "path": Output(pid(side, ids.JOB_PATH), "data"),  # drawn by path_shown
            "message": Output(pid(side, ids.MESSAGE), "children"),
            "tree": Output(pid(side, ids.TREE), "figure"),
            "diagram": Output(pid(side, ids.DIAGRAM), "figure"),
            "funnel_data": Output(pid(side, ids.FUNNEL_DATA), "data"),
            "table": Output(pid(side, ids.SWEEP_TABLE), "children"),
            "download_status": Output(pid(side, ids.DOWNLOAD_STATUS), "children"),  # moot now
            "drawn": Output(pid(side, ids.DRAWN), "data"),  # the options the slice was drawn with
        },
        inputs={"controls": settings_inputs(side, MODEL_NAMES),
                "uploaded": Input(pid(side, ids.UPLOADED), "data"),
                "start": Input(ids.START, "data")},  # the page opened: its first views
        state={"display": settings_inputs(side, DISPLAY_NAMES, State),
               "client": State(ids.CLIENT_ID, "data")},  # fair slots per browser session
        background=True,
        manager=manager,
        interval=250,
        progress=[Output(pid(side, ids.PROGRESS), "value"),
                  Output(pid(side, ids.PROGRESS), "max"),
                  Output(pid(side, ids.PROGRESS_LABEL), "children")],
        # while a view computes, the last view's message is hidden (the new job says its own
        # when it ends): no message stands beside a view it is not about
        running=[(Output(pid(side, ids.PROGRESS_ROW), "style"), SHOWN, HIDDEN),
                 (Output(pid(side, ids.MESSAGE), "style"), HIDDEN, SHOWN)],
        cancel=[Input(pid(side, ids.CANCEL), "n_clicks")],
        prevent_initial_call=True,  # started by the page or the URL reader (app/callbacks/url.py)
    )
    def update(set_progress, controls, uploaded, start, display, client=None):
        torch.set_num_threads(torch_threads)  # at job start: forked jobs, OpenMP (architecture.md)
        fairness.lower_priority(nice)  # a job process or Celery worker: serving comes first
        client = client if isinstance(client, str) else None  # the page's id is a string
        set_progress(("0", "1", ""))  # the bar keeps the last job's value otherwise
        options = display_of(display, controls)
        started = time.time_ns()  # a page closed after this (POST /api/goodbye) stops the job
        try:
            with job_slot(slots, client, set_progress), chunks.processes(processes), \
                    store.cancelled_when(lambda: manager.cancelled()  # Celery: Cancel
                                         or store.page_closed(client, started)):
                out = panel_output(store, controls, uploaded,
                                   lambda done, total: set_progress((str(done), str(total), "")),
                                   options,
                                   lambda fig: set_props(pid(side, ids.SURFACE), {"figure": fig}))
        except Exception:  # never a traceback in the page; the log has it
            log.exception("panel %s failed for %s", side, controls)
            out = panel_views.refused("internal error while computing this view (see the "
                                      "server log)")
        # a view that could not be computed sends its message figure, which the page draws
        # only where no view is drawn: the last surface stays (showSurface)
        surface = out.surface or figures.message_figure(out.messages[0] if out.messages else "")
        return {"surface": surface, "path": out.path,
                "message": [html.P(m) for m in out.messages],
                "tree": out.tree if out.tree is not None else no_update,
                "diagram": out.diagram if out.diagram is not None else no_update,
                "funnel_data": out.funnel_data, "table": _table(out.table),
                "download_status": "", "drawn": options}


def _register_redraws(app: Dash, store: ViewStore, side: str) -> None:
    surface = Output(pid(side, ids.SURFACE), "figure", allow_duplicate=True)
    app.clientside_callback(clientside("showSurface"), surface,
                            Input(pid(side, ids.JOB_SURFACE), "data"),
                            State(pid(side, ids.SURFACE), "figure"), prevent_initial_call=True)

    @app.callback(
        output=surface,
        inputs={"controls": settings_inputs(side, MODEL_NAMES),
                "uploaded": Input(pid(side, ids.UPLOADED), "data")},
        state={"display": settings_inputs(side, DISPLAY_NAMES, State)},
        prevent_initial_call=True,  # as the job
    )
    def preview(controls, uploaded, display):
        """A coarse slice at once (the background job above refines it); the camera stays."""
        return cached_preview(store, side, controls, uploaded, display)

    @app.callback(
        output=surface,
        inputs={"display": settings_inputs(side, DISPLAY_NAMES),
                "drawn": Input(pid(side, ids.DRAWN), "data")},
        state={"controls": settings_inputs(side, MODEL_NAMES, State),
               "uploaded": State(pid(side, ids.UPLOADED), "data")},
        prevent_initial_call=True,
    )
    def redraw(display, drawn, controls, uploaded):
        """Display options redraw the cached slice: nothing is computed again. Also when a job
        ends: options changed while it ran (nothing was cached to redraw then) apply now."""
        job_end = ctx.triggered_id == pid(side, ids.DRAWN)
        fig = redrawn(store, controls, uploaded, display_of(display, controls),
                      drawn if job_end else None)
        return no_update if fig is None else fig


def cached_preview(store: ViewStore, side: str, controls: dict, uploaded: dict | None,
                   display: dict) -> Any:
    """Panel ``side``'s slice from the cache (the requested grid, else its 13x13 version), or
    no_update: nothing cached, not a slice view, or an error (the panel's job reports it)."""
    try:
        grid = grid_request_of(controls, uploaded)
        if grid is None:
            return no_update
        fig = panel_views.slice_preview(store, *grid, display_of(display, controls))
    except LandscapeError:  # the full computation reports it in the panel
        return no_update
    except Exception:  # the full computation reports errors; a preview just stays away
        log.exception("preview %s failed for %s", side, controls)
        return no_update
    return no_update if fig is None else fig


def _register_opening_previews(app: Dash, store: ViewStore) -> None:
    @app.callback(
        output={side: Output(pid(side, ids.SURFACE), "figure", allow_duplicate=True)
                for side in ids.PANELS},
        inputs={"start": Input(ids.START, "data")},
        state={"controls": {side: settings_inputs(side, MODEL_NAMES, State) for side in ids.PANELS},
               "uploaded": {side: State(pid(side, ids.UPLOADED), "data") for side in ids.PANELS},
               "display": {side: settings_inputs(side, DISPLAY_NAMES, State)
                           for side in ids.PANELS}},
        prevent_initial_call=True,  # the page starts it when it opens (app/callbacks/url.py)
    )
    def opening_previews(start, controls, uploaded, display):
        """Both panels' cached slices in one answer, when the page opens: the page then draws
        both surfaces in one go. Drawn one answer at a time, the second could wait behind the
        first surface's picking read-back, which in software WebGL blocks the page's main
        thread until the first surface is rasterized (about a second here)."""
        return {side: cached_preview(store, side, controls[side], uploaded[side], display[side])
                for side in ids.PANELS}


def _has_traces(figure: object) -> bool:
    """Whether ``figure`` (a figure's JSON, or anything a hand-made request sends) draws data:
    not a message figure."""
    return isinstance(figure, dict) and isinstance(figure.get("data"), list) \
        and bool(figure["data"])


def _register_path(app: Dash, store: ViewStore, side: str) -> None:

    @app.callback(
        output=Output(pid(side, ids.PATH), "figure"),
        inputs={"job": Input(pid(side, ids.JOB_PATH), "data"),
                "display": settings_inputs(side, DISPLAY_NAMES)},
        state={"controls": settings_inputs(side, MODEL_NAMES, State),
               "uploaded": State(pid(side, ids.UPLOADED), "data"),
               "shown": State(pid(side, ids.PATH), "figure")},
        prevent_initial_call=True,
    )
    def path_shown(job, display, controls, uploaded, shown):
        """The path graph. A job's figure is drawn as it is when it says why there is no path
        (a message: the refusal stays, whatever the cache holds), else the panel's paths are
        drawn from the cache with the display options now set (they may have moved while the
        job ran); a display change redraws the paths on screen the same way, never a message."""
        # the job and the display may both have changed (Dash holds this callback while the job
        # runs, then calls it once): the job's figure is new whenever its store is among them
        from_job = f"{pid(side, ids.JOB_PATH)}.data" in ctx.triggered_prop_ids
        if from_job and not isinstance(job, dict):  # only a hand-made request sends this
            return no_update
        if not _has_traces(job if from_job else shown):
            return job if from_job else no_update
        try:
            fig = panel_views.path_redisplay(store, controls[ids.VIEW],
                                             panel_requests(controls, uploaded),
                                             display_of(display, controls))
        except LandscapeError:  # no view for these settings: the panel's message says why
            fig = None
        except Exception:  # junk a hand-made request sends: no redraw, never a 500
            log.exception("path redraw failed for %s", controls)
            fig = None
        if fig is not None:
            return fig
        return job if from_job else no_update


def _register_visibility(app: Dash, side: str) -> None:
    @app.callback(
        output={area.id: Output(pid(side, area.id), "style") for area in AREAS},
        inputs={"settings": settings_inputs(side, VISIBILITY_NAMES)},
        prevent_initial_call=True,  # the layout shows the defaults' areas (app/layout.py)
    )
    def show_areas(settings):
        """Each area shows exactly for the families and views of its controls."""
        return area_styles(settings)


def _register_funnel_extras(app: Dash, side: str) -> None:
    wanted_id = pid(side, ids.WANTED_TEMPERATURE)

    @app.callback(
        output={"figure": Output(pid(side, ids.FREE_ENERGY), "figure"),
                "max": Output(pid(side, ids.TEMPERATURE), "max"),
                "marks": Output(pid(side, ids.TEMPERATURE), "marks"),
                "index": Output(pid(side, ids.TEMPERATURE), "value"),
                "wanted": Output(wanted_id, "data")},  # also set by the URL reader
        inputs={"index": Input(pid(side, ids.TEMPERATURE), "value"),
                "data": Input(pid(side, ids.FUNNEL_DATA), "data"),
                "wanted": Input(wanted_id, "data")},
        prevent_initial_call=True,  # the layout holds the figure without data (app/layout.py)
    )
    def show_free_energy(index, data, wanted):
        """F(Q; T) at the slider's temperature. A moved slider is kept as the wanted
        temperature (None at T_f); new funnel data, or a wanted temperature from a link, puts
        the slider at the grid point nearest the wanted one (T_f when none is)."""
        if not panel_views.is_funnel_data(data):  # none yet (or, hand-made, not a funnel's)
            return {"figure": panel_views.free_energy_at(None, None), "max": 1, "marks": None,
                    "index": 0, "wanted": no_update}
        temps, folding = data["temperatures"], data["folding_temperature"]
        moved = set(ctx.triggered_prop_ids.values()) == {pid(side, ids.TEMPERATURE)}
        index = panel_views.whole_number(index)
        picked = no_update
        if moved and index is not None:
            index = min(max(index, 0), len(temps) - 1)
            picked = panel_views.picked_temperature(temps, folding, index)
        else:  # a new funnel, or a link's temperature
            index = panel_views.temperature_index(temps, folding, wanted)
        marks = funnel_figures.temperature_marks(temps, folding)
        return {"figure": panel_views.free_energy_at(data, index), "max": len(temps) - 1,
                "marks": {str(k): v for k, v in marks.items()}, "index": index,
                "wanted": no_update if picked == wanted else picked}

    @app.callback(
        output={"options": Output(pid(side, ids.PATH_TO), "options"),
                "value": Output(pid(side, ids.PATH_TO), "value")},
        inputs={"click": Input(pid(side, ids.TREE), "clickData")},
        state={"options": State(pid(side, ids.PATH_TO), "options")},
        prevent_initial_call=True,
    )
    def path_to_clicked_minimum(click, options):
        value = clicked_state(click)
        if value is None:
            return {"options": no_update, "value": no_update}
        return {"options": with_option(options, value), "value": value}
