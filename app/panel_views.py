"""What one panel shows for one set of controls: requests in, figures out (no callbacks here).

The panel's view kind picks the function:

* ``slice`` -- :func:`slice_panel`: a 2D slice surface and the paths below it (any model);
* ``volume`` -- :func:`slice_panel` in three dimensions: a level set of the 3D slice, cut by a
  plane (display options), and the paths below it (any model);
* ``funnel`` -- :func:`funnel_panel` (Ising, exact): the 3D folding funnel, the paths, the
  disconnectivity graph, the (Q, E) diagram and F(Q; T) data for the temperature slider;
* ``sweep`` -- :func:`sweep_panel` (Ising): how the funnel sharpens with N, plot and table;
* ``minima`` -- :func:`minima_panel` (p-spin, Ising, example networks): minima from many
  seeded descents or trainings, against theory where there is one.

Every function returns a :class:`PanelOutput`; results come through the :class:`ViewStore`
(cached by request), so a repeated request is a cache read. A panel's main graph is its result
kind's figure (:func:`main_figure`): the same figure the HTML export embeds.
"""

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import plotly.graph_objects as go

from app import urlstate
from app.controls import UPLOAD
from app.data import ViewStore
from landscapes import registry, views
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.plots import funnel as funnel_figures
from landscapes.plots import minima as minima_figures
from landscapes.plots import slices as figures
from landscapes.registry import Progress
from landscapes.results import ViewResult
from landscapes.slices import Slice
from landscapes.spin.funnel import FunnelHistogram

T = TypeVar("T")
FUNNEL_VIEW = {"view": "funnel"}
SWEEP_VIEW = {"view": "sweep"}
SPECTRUM_VIEW = {"view": "spectrum"}  # a network's (at its centre) or the p-spin glass's


@dataclass
class PanelOutput:
    """Everything one panel shows. ``surface`` is None where the view could not be computed
    (``messages`` say why): the surface on screen stays until a new one replaces it. ``tree``,
    ``diagram``, ``funnel_data`` (F(Q; T) on the temperature grid, plain JSON for a dcc.Store)
    and ``table`` (rows) are None where the view kind has none."""

    surface: go.Figure | None
    path: go.Figure
    messages: list[str] = field(default_factory=list)
    tree: go.Figure | None = None
    diagram: go.Figure | None = None
    funnel_data: dict | None = None
    table: list[dict] | None = None


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
    ends = ("init", "center") if "example" in spec else ("center", "checkpoint2")
    if "example" not in spec and not spec.get("checkpoint2"):
        return slice_, []
    return slice_, [{"view": "path", "from": ends[0], "to": ends[1], "kind": net_path_kind,
                     "steps": 41}]


def _as(kind: type[T], result: object) -> T:
    """``result``, which a request of that view always gives as a ``kind``."""
    assert isinstance(result, kind), f"expected a {kind.__name__}, got {type(result).__name__}"
    return result


def main_figure(result, display: dict | None = None) -> go.Figure:
    """The figure of ``result`` (a Slice or ViewResult) drawn with ``display``: its result kind's
    :attr:`~landscapes.registry.ResultKind.figure`, as in the HTML export, with a
    ``layout.datarevision`` that is a digest of the whole figure (:func:`with_digest`)."""
    return with_digest(formats.figure(result, display))


def with_digest(fig: go.Figure) -> go.Figure:
    """``fig`` with ``layout.datarevision`` set to a digest of everything else in it.

    Equal digests mean equal figures: the page then skips drawing a job's surface that its
    graph shows already (``showSurface`` in app/assets/funnelscope.js). Plotly.react reads
    datarevision too, as "the data arrays changed" when it changes -- which any change does.
    """
    fig.layout.datarevision = None
    fig.layout.datarevision = hashlib.sha256(fig.to_json().encode()).hexdigest()[:24]
    return fig


def panel_figures(store: ViewStore, spec: dict, slice_request: dict, path_requests: list[dict],
                  progress: Callable[[int, int], None] | None = None,
                  display: dict | None = None):
    """(surface figure, path figure, messages) for one panel's requests; the surface is None
    when the slice cannot be computed (the first message says why).

    ``progress(done, total)`` follows the slice, the longest part; ``display`` holds the
    drawing options (:func:`landscapes.plots.slices.display_values`).
    """
    messages = []
    surface: go.Figure | None = None
    try:
        surface = main_figure(store.get(spec, slice_request, progress), display)
    except LandscapeError as exc:
        messages.append(str(exc))
    hint = "upload a second checkpoint to see a path" if not path_requests else "no path to show"
    if surface is None:  # the slice's own message says what is missing first
        hint = messages[0]
    return surface, _path_figure(store, spec, path_requests, messages, hint, display), messages


def slice_panel(store: ViewStore, spec: dict, slice_request: dict, path_requests: list[dict],
                progress: Progress = None, display: dict | None = None,
                preview: Callable[[go.Figure], None] | None = None) -> PanelOutput:
    """The slice surface and the paths of one panel; errors become messages, never exceptions.

    ``preview(figure)``, if given, first receives the slice on the coarse 13x13 grid (see
    :func:`coarse_preview`) while the requested grid is computed.
    """
    if preview is not None:
        coarse = coarse_preview(store, spec, slice_request, display)
        if coarse is not None:
            preview(coarse)
    surface, path, messages = panel_figures(store, spec, slice_request, path_requests, progress,
                                            display)
    return PanelOutput(surface, path, messages)


def redisplay(store: ViewStore, spec: dict, slice_request: dict,
              display: dict | None) -> go.Figure | None:
    """The panel's slice redrawn with new display options, from the cache (None if not cached:
    the running computation will draw it with them)."""
    cached = store.cached(spec, slice_request)
    return None if cached is None else main_figure(cached, display)


PREVIEW_STEPS = 13  # the coarse grid a slice shows at once, before the requested one lands


def _coarse_request(slice_request: dict) -> dict | None:
    """The 13x13 version of a slice request (None if the request is no finer, or its steps are
    not a number: the full request then says why)."""
    steps = slice_request.get("steps", 0)
    if isinstance(steps, bool) or not isinstance(steps, int | float) or steps <= PREVIEW_STEPS:
        return None
    return {**slice_request, "steps": PREVIEW_STEPS}


def _preview_figure(coarse, slice_request: dict, display: dict | None) -> go.Figure:
    fig = main_figure(coarse, display)
    steps = slice_request["steps"]
    fig.update_layout(title={"text": f"{fig.layout.title.text}<br>preview {PREVIEW_STEPS}x"
                                     f"{PREVIEW_STEPS}: refining to {steps}x{steps}"})
    return fig


def coarse_preview(store: ViewStore, spec: dict, slice_request: dict,
                   display: dict | None = None) -> go.Figure | None:
    """The slice on the 13x13 grid, computed now if need be (cached like any view), titled as a
    preview; None when the requested grid is cached already or is no finer, or on an error (the
    requested grid reports it).

    A background job calls this before the requested grid: named points and directions are
    memoized in the job's process, so the coarse grid costs about 13^2/steps^2 of the slice.
    """
    coarse_request = _coarse_request(slice_request)
    if coarse_request is None:
        return None
    try:
        if store.cached(spec, slice_request) is not None:
            return None
        coarse = store.get(spec, coarse_request)
    except LandscapeError:
        return None
    return _preview_figure(coarse, slice_request, display)


def slice_preview(store: ViewStore, spec: dict, slice_request: dict,
                  display: dict | None = None) -> go.Figure | None:
    """A first look at a slice from the cache only: the requested grid, else its 13x13 version,
    else None.

    This runs in the web process, where nothing is computed: computing is the background job's
    (progress, cancel), which sends the coarse grid as soon as it has it (:func:`coarse_preview`).
    The figure keeps the surface's ``uirevision``, so the camera stays where the user left it.
    """
    cached = store.cached(spec, slice_request)
    if cached is not None:
        return main_figure(cached, display)
    coarse_request = _coarse_request(slice_request)
    coarse = None if coarse_request is None else store.cached(spec, coarse_request)
    return None if coarse is None else _preview_figure(coarse, slice_request, display)


def _path_figure(store: ViewStore, spec: dict, path_requests: list[dict],
                 messages: list[str], hint: str = "no path to show",
                 display: dict | None = None) -> go.Figure:
    paths: list[Slice] = []
    for request in path_requests:
        try:
            paths.append(_as(Slice, store.get(spec, request)))
        except LandscapeError as exc:
            if str(exc) not in messages:
                messages.append(str(exc))
    return figures.path_figure(paths, display) if paths else figures.message_figure(hint)


def path_redisplay(store: ViewStore, view: str, requests: "PanelRequests",
                   display: dict | None) -> go.Figure | None:
    """The path graph of a panel showing View ``view``, drawn with new display options from
    the cache: None when that view draws no paths for the panel's model, or a path is not
    cached (the job's own figure stands then: a message, or paths it draws itself). Raises
    LandscapeError for a request that names no view (an upload that is missing)."""
    entry = panel_view(view)
    if not entry.paths or entry.main(requests) is None:
        return None
    paths = [store.cached(requests.spec, request) for request in requests.path_requests]
    if not paths or not all(isinstance(path, Slice) for path in paths):
        return None
    return figures.path_figure([_as(Slice, path) for path in paths], display)


FUNNEL_DATA_KEYS = {"q", "temperatures", "free_energy", "barrier", "folding_temperature", "n"}


def funnel_data(arrays: dict, meta: dict) -> dict:
    """F(Q; T) on the temperature grid, as plain JSON for the temperature slider's callback."""
    return {
        "q": np.asarray(arrays["q_values"]).tolist(),
        "temperatures": np.asarray(arrays["temperatures"]).tolist(),
        "free_energy": [[v if np.isfinite(v) else None for v in row]
                        for row in np.asarray(arrays["free_energy"], dtype=float).tolist()],
        "barrier": np.asarray(arrays["two_state_barrier"]).tolist(),
        "folding_temperature": meta["folding_temperature"],
        "n": meta["n"],
    }


def _real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _reals(values: object, length: int | None = None, gaps: bool = False) -> bool:
    """Whether ``values`` is a list of numbers (None too where ``gaps``), of ``length`` if given."""
    return isinstance(values, list) and (length is None or len(values) == length) and all(
        _real(v) or (gaps and v is None) for v in values)


def is_funnel_data(data: object) -> bool:
    """Whether ``data`` has the form of :func:`funnel_data` (the funnel-data store holds what a
    job wrote, or, from a hand-made request, anything)."""
    if not isinstance(data, dict) or not FUNNEL_DATA_KEYS <= data.keys() \
            or not _reals(data["temperatures"]) or not data["temperatures"] \
            or not _reals(data["q"]):
        return False
    count, width = len(data["temperatures"]), len(data["q"])
    free = data.get("free_energy")
    return (isinstance(free, list) and len(free) == count
            and all(_reals(row, width, gaps=True) for row in free)
            and _reals(data["barrier"], count, gaps=True)
            and (data["folding_temperature"] is None or _real(data["folding_temperature"]))
            and (data["n"] is None or whole_number(data["n"]) is not None))


def whole_number(value: object) -> int | None:
    """``value`` as an int if it is a whole number (the temperature slider's index), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    return int(value)


def free_energy_at(data: dict | None, index: int | None) -> go.Figure:
    """F(Q; T) at grid point ``index`` of a panel's :func:`funnel_data` (T_f's point if None)."""
    if not is_funnel_data(data):
        return figures.message_figure("F(Q; T) appears with the funnel view")
    assert data is not None
    temps = np.asarray(data["temperatures"], dtype=np.float64)
    if index is None:
        index = default_temperature_index(temps, data["folding_temperature"])
    index = min(max(index, 0), temps.size - 1)
    free = np.array([np.inf if f is None else f for f in data["free_energy"][index]])
    return funnel_figures.free_energy_figure(
        np.asarray(data["q"]), free, float(temps[index]), data["folding_temperature"],
        data["barrier"][index], data["n"])


def default_temperature_index(temperatures: np.ndarray, folding: float | None) -> int:
    """The grid point at T_f when there is one, else the middle of the grid."""
    if folding is None:
        return len(temperatures) // 2
    return int(np.argmin(np.abs(np.asarray(temperatures) - folding)))


TEMPERATURE_DIGITS = 4  # significant digits of a picked temperature (the URL's ``temperature``)


def temperature_index(temperatures: np.ndarray, folding: float | None, wanted: object) -> int:
    """The grid point nearest (on a log scale, as the grid is spaced) to the ``wanted``
    temperature (units of H); the default point (:func:`default_temperature_index`) when none
    is wanted (None, or anything but a positive finite number)."""
    if not urlstate.is_temperature(wanted):
        return default_temperature_index(temperatures, folding)
    logs = np.log(np.asarray(temperatures, dtype=np.float64))
    return int(np.argmin(np.abs(logs - math.log(float(wanted)))))  # type: ignore[arg-type]


def picked_temperature(temperatures: np.ndarray, folding: float | None,
                       index: int) -> float | None:
    """What a panel keeps (and its link says) of slider position ``index``: the temperature to
    :data:`TEMPERATURE_DIGITS` significant digits (all of them where the rounded value would
    lie nearer another grid point: T_f is inserted into the grid and may sit close to one),
    None at the default point (T_f: the next funnel starts at its own T_f)."""
    if index == default_temperature_index(temperatures, folding):
        return None
    exact = float(temperatures[index])
    rounded = float(f"{exact:.{TEMPERATURE_DIGITS}g}")
    return rounded if temperature_index(temperatures, folding, rounded) == index else exact


def refused(text: str) -> PanelOutput:
    """A panel whose view cannot be shown for ``text``: said above the graphs and in place of
    the path plot; the surface on screen stays."""
    return PanelOutput(None, figures.message_figure(text), [text])


def funnel_panel(store: ViewStore, spec: dict, path_requests: list[dict],
                 reference: str = "native", progress: Progress = None,
                 display: dict | None = None) -> PanelOutput:
    """The exact funnel views of an Ising spec (see the module docstring); ``display`` holds the
    drawing options (of them the 3D funnel uses ``camera``)."""
    if spec["model"] != "ising":
        text = "funnel views are computed exactly for the Ising model: choose it above"
        return refused(text)
    try:
        result = _as(ViewResult, store.get(spec, {**FUNNEL_VIEW, "reference": reference}, progress))
    except LandscapeError as exc:
        return refused(str(exc))
    a, meta = result.arrays, result.meta
    surface = main_figure(result, display)
    messages: list[str] = []
    path = _path_figure(store, spec, path_requests, messages, display=display)
    tree = funnel_figures.disconnectivity_figure(a["minimum_energies"], a["merges"],
                                                 a["basin_share"], a["minima"])
    tree.update_layout(
        title={"text": f"barrier tree: {len(a['minima'])} minima (s, -s as one), ground-state "
                       f"basin {a['basin_share'][0]:.0%}<br>click a minimum to end the path there",
               "font": {"size": 13}},
        height=300, clickmode="event")
    hist = FunnelHistogram(a["q_values"], a["q_counts"], a["q_lowest_energy"], a["q_entropy"],
                           a["density"], a["energy_edges"])
    diagram = funnel_figures.funnel_diagram(hist)
    axis = "ground-state overlap Q" if reference == "ground" else "native overlap Q"
    diagram.update_layout(title={"text": "every state by energy and overlap", "font": {"size": 13}},
                          xaxis={"title": {"text": axis}}, height=300)
    return PanelOutput(surface, path, messages, tree, diagram, funnel_data(a, meta))


def sweep_panel(store: ViewStore, spec: dict, progress: Progress = None) -> PanelOutput:
    """How the funnel sharpens with N (Ising, exact): the sweep plot and its table."""
    if spec["model"] != "ising":
        text = "the size sweep enumerates Ising models exactly: choose the Ising model above"
        return refused(text)
    try:
        result = _as(ViewResult, store.get(spec, SWEEP_VIEW, progress))
    except LandscapeError as exc:
        return refused(str(exc))
    note = figures.message_figure("the table below lists the same numbers")
    rows = funnel_figures.sweep_table_rows(*funnel_figures.sweep_series(result.arrays))
    return PanelOutput(main_figure(result), note, table=rows)


def minima_panel(store: ViewStore, spec: dict, progress: Progress = None) -> PanelOutput:
    """Minima from many seeded descents (spin models) or trainings (example networks)."""
    if _network_upload(spec):
        text = ("minima from several seeds are trained for the example networks; pick one "
                "(an upload has no training recipe)")
        return refused(text)
    try:
        result = _as(ViewResult, store.get(spec, {"view": "minima"}, progress))
    except LandscapeError as exc:
        return refused(str(exc))
    if spec["model"] == "network":
        return PanelOutput(main_figure(result), figures.message_figure(
            "each seed is trained with the example's recipe; hover for accuracies"))
    return PanelOutput(main_figure(result), minima_figures.hessian_spectrum_figure(result))


def spectrum_request(spec: dict, seed: object = 0) -> dict | None:
    """What the Hessian spectrum view computes for ``spec``: a network's spectrum (its probes
    drawn from ``seed``, the panel's Seed), the p-spin glass's (at its lowest minimum; the
    model's seed is in ``spec``); None for the Ising model."""
    if not _served(spec, "spectrum"):
        return None
    return {**SPECTRUM_VIEW, "seed": seed} if spec["model"] == "network" else dict(SPECTRUM_VIEW)


def spectrum_panel(store: ViewStore, spec: dict, seed: object = 0,
                   progress: Progress = None) -> PanelOutput:
    """The Hessian spectrum: a network's at its trained weights (top eigenvalues, trace, the
    density by stochastic Lanczos quadrature), the p-spin glass's at its lowest minimum beside
    the semicircle law."""
    request = spectrum_request(spec, seed)
    if request is None:
        return refused("the Hessian spectrum is for continuous landscapes: choose the p-spin "
                       "glass or a network (Ising spins flip one at a time)")
    try:
        result = _as(ViewResult, store.get(spec, request, progress))
    except LandscapeError as exc:
        return refused(str(exc))
    return PanelOutput(main_figure(result), figures.message_figure(
        "the eigenvalues, the trace and the density are in the Download"))


# --------------------------------------------------------------------------- the View control


@dataclass(frozen=True)
class PanelRequests:
    """What one panel asks for: the model spec, its slice and path views (:func:`requests`),
    the funnel view's reference state, the volume view's grid (points per axis) and the
    Seed control."""

    spec: dict
    slice_request: dict
    path_requests: list[dict]
    reference: str = "native"
    volume_steps: int = 21
    seed: object = 0  # the Seed control (a network's spectrum draws its probes from it)

    def volume_request(self) -> dict:
        """The volume view's request: the slice in three dimensions on its own grid. A spin
        slice through minima 1 and 2 becomes the volume through minima 1, 2 and 3."""
        directions = self.slice_request.get("directions")
        if isinstance(directions, str) and directions.startswith("through:minimum:") \
                and directions.count(",") == 1:
            directions += ",minimum:3"
        return {**self.slice_request, "dims": 3, "steps": self.volume_steps,
                "directions": directions}


@dataclass(frozen=True)
class PanelView:
    """One value of the View control: the view its main graph shows (``main``: what its
    Download buttons save; None where the panel shows no view for the model) and what the
    panel shows (``show(store, requests, progress, display, preview)``); ``paths``: whether its
    path graph draws the panel's paths; ``grid``: whether its main graph is a grid (a slice or
    a volume) that display controls redraw from the cache and a preview shows early."""

    main: Callable[[PanelRequests], dict | None]
    show: Callable[..., PanelOutput]
    paths: bool = False  # its path graph draws the panel's paths (with the display options)
    grid: bool = False  # its main graph is a grid redrawn from the cache


def _network_upload(spec: dict) -> bool:
    return spec["model"] == "network" and "example" not in spec


def _served(spec: dict, view: str) -> bool:
    """Whether the registry has ``view`` for the spec's model family."""
    return view in registry.views_of(spec["model"])


PANEL_VIEWS: dict[str, PanelView] = {
    "slice": PanelView(
        main=lambda r: r.slice_request,
        show=lambda store, r, progress, display, preview: slice_panel(
            store, r.spec, r.slice_request, r.path_requests, progress, display, preview),
        paths=True, grid=True),
    "volume": PanelView(
        main=lambda r: r.volume_request(),
        show=lambda store, r, progress, display, preview: slice_panel(
            store, r.spec, r.volume_request(), r.path_requests, progress, display, preview),
        paths=True, grid=True),
    "funnel": PanelView(
        main=lambda r: ({**FUNNEL_VIEW, "reference": r.reference}
                        if _served(r.spec, "funnel") else None),
        show=lambda store, r, progress, display, preview: funnel_panel(
            store, r.spec, r.path_requests, r.reference, progress, display),
        paths=True),
    "sweep": PanelView(
        main=lambda r: dict(SWEEP_VIEW) if _served(r.spec, "sweep") else None,
        show=lambda store, r, progress, display, preview: sweep_panel(store, r.spec, progress)),
    "minima": PanelView(
        main=lambda r: None if _network_upload(r.spec) else {"view": "minima"},
        show=lambda store, r, progress, display, preview: minima_panel(store, r.spec, progress)),
    "spectrum": PanelView(
        main=lambda r: spectrum_request(r.spec, r.seed),
        show=lambda store, r, progress, display, preview: spectrum_panel(store, r.spec, r.seed,
                                                                         progress)),
}


def panel_view(view: str) -> PanelView:
    """The entry of the View control's value ``view`` (the slice view for an unknown one)."""
    return PANEL_VIEWS.get(view, PANEL_VIEWS["slice"]) if isinstance(view, str) \
        else PANEL_VIEWS["slice"]
