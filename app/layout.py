"""The page: a header, the guided scenarios, the help panel and two identical panels side by
side (ids from :mod:`app.ids`)."""

from typing import TYPE_CHECKING

from dash import dcc, html

from app import help as control_help
from app import ids
from app.ids import pid
from landscapes.networks import examples
from landscapes.networks.architectures import LOSSES
from landscapes.networks.datasets import BUILTIN
from landscapes.plots import slices as figures

if TYPE_CHECKING:  # app.presets imports app.urlstate, which reads this module's controls
    from app.presets import Preset

THROUGH_MINIMA = "through:minimum:1,minimum:2"
DEFAULTS = {  # first load: the funnel beside the glass, no clicks needed
    "left": {"model": "ising", "ising_n": 16, "native_bias": 2.0, "directions": "random",
             "span": 1.0},
    "right": {"model": "pspin", "ising_n": 16, "native_bias": 0.0,
              "directions": THROUGH_MINIMA, "span": 1.5},
}
COMMON = {"pspin_n": 64, "p": 3, "planted": 0.0, "seed": 0, "steps": 51,
          "center": "minimum:0", "path_from": "random:0", "path_to": "minimum:0"}
DIRECTIONS = [
    {"label": "random directions", "value": "random"},
    {"label": "through minima 1 and 2", "value": THROUGH_MINIMA},
]
SHOWN, HIDDEN = {}, {"display": "none"}
STATUS_POLL_MS = 15_000


PLOT_KINDS = [  # the values of figures.PLOT_KINDS
    {"label": "3D surface", "value": "surface"},
    {"label": "contour", "value": "contour"},
    {"label": "heatmap", "value": "heatmap"},
]
DOWNLOADS = (  # (format, button label, tooltip): the formats of landscapes.io.formats.FORMATS
    ("npz", ".npz", "arrays and meta (np.load(..., allow_pickle=False)); the export contract"),
    ("csv", "CSV", "a table: coefficients, value, extras; the meta JSON in a # comment line"),
    ("vtk", "VTK", "legacy structured grid for ParaView (a height field for a 2D slice)"),
    ("html", "HTML", "a standalone interactive figure (works offline)"),
)
DOWNLOAD_ROW_STYLE = {"display": "flex", "flexWrap": "wrap", "gap": "6px", "alignItems": "center",
                      "fontSize": "0.8rem", "margin": "4px 0"}
DOWNLOAD_BUTTON_STYLE = {"fontSize": "0.8rem", "padding": "2px 10px", "cursor": "pointer"}


VIEW_KINDS = [
    {"label": "slice and path", "value": "slice"},
    {"label": "funnel (Ising, exact)", "value": "funnel"},
    {"label": "size sweep (Ising)", "value": "sweep"},
    {"label": "minima statistics", "value": "minima"},
]


def family_styles(model: str, view_kind: str = "slice") -> tuple[dict, ...]:
    """Styles of the (Ising, p-spin, network, path ends, slice plane) control groups.

    A spin model's path ends serve the slice and funnel views (both draw the path); its slice
    centre and plane only the slice view.
    """
    spin = model != "network"
    return (
        SHOWN if model == "ising" else HIDDEN,
        SHOWN if model == "pspin" else HIDDEN,
        SHOWN if model == "network" else HIDDEN,
        SHOWN if spin and view_kind in ("slice", "funnel") else HIDDEN,
        SHOWN if spin and view_kind == "slice" else HIDDEN,
    )


def view_styles(view_kind: str) -> tuple[dict, ...]:
    """Styles of (slice controls, funnel controls, funnel graphs, sweep table, path graph)."""
    return (
        SHOWN if view_kind == "slice" else HIDDEN,
        SHOWN if view_kind == "funnel" else HIDDEN,
        SHOWN if view_kind == "funnel" else HIDDEN,
        SHOWN if view_kind == "sweep" else HIDDEN,
        HIDDEN if view_kind == "sweep" else SHOWN,
    )


def _network_controls(side: str, style: dict) -> html.Div:
    uploads = []
    for slot, label in UPLOAD_SLOTS:
        uploads += [
            dcc.Upload(id=pid(side, slot), children=html.Div([label, ": drop or ",
                                                               html.A("choose a file")]),
                       className="upload", multiple=False),
            html.Div(id=pid(side, slot + "-status"), className="upload-status", role="status"),
        ]
    group = html.Div(
        [
            *uploads,
            _field("Architecture (for .pt files)", dcc.Input(
                id=pid(side, ids.ARCH), type="text", debounce=True,
                placeholder='{"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}')),
            _field("Data", dcc.Dropdown(id=pid(side, ids.NET_DATA), options=list(BUILTIN),
                                        value="moons", clearable=False),
                   "used unless a data file is uploaded"),
            _field("Loss", dcc.RadioItems(id=pid(side, ids.NET_LOSS), options=LOSS_OPTIONS,
                                          value=LOSS_FROM_CHECKPOINT, inline=True),
                   "the checkpoint's own loss if it names one, else by the data's labels"),
        ],
        id=pid(side, ids.UPLOAD_GROUP), style=HIDDEN,
    )
    return html.Div(
        [
            _field("Network", dcc.Dropdown(id=pid(side, ids.NET_SOURCE), options=NETWORK_SOURCES,
                                           value="moons-mlp", clearable=False)),
            group,
            dcc.Store(id=pid(side, ids.UPLOADED), data={}),
            _field("Directions", dcc.Dropdown(id=pid(side, ids.NET_DIRECTIONS),
                                              options=NETWORK_DIRECTIONS, value="filter",
                                              clearable=False)),
            _field("Path", dcc.RadioItems(
                id=pid(side, ids.NET_PATH_KIND), inline=True, value="linear",
                options=[{"label": "straight line", "value": "linear"},
                         {"label": "Bezier curve", "value": "bezier"}]),
                   "examples: init -> final; uploads: checkpoint -> second checkpoint"),
        ],
        id=pid(side, ids.NETWORK_CONTROLS), style=style,
    )
POINTS = [
    {"label": "descent minimum 0", "value": "minimum:0"},
    {"label": "descent minimum 1", "value": "minimum:1"},
    {"label": "descent minimum 2", "value": "minimum:2"},
    {"label": "native / planted state", "value": "native"},
    {"label": "ground state (Ising, exact)", "value": "ground"},
    {"label": "random start 0", "value": "random:0"},
    {"label": "random start 1", "value": "random:1"},
]
MODELS = [
    {"label": "Ising spin funnel", "value": "ising"},
    {"label": "p-spin glass", "value": "pspin"},
    {"label": "Network", "value": "network"},
]
UPLOAD = "upload"
LOSS_FROM_CHECKPOINT = "checkpoint"  # the Loss control's default: what the checkpoint names
LOSS_OPTIONS = [{"label": "as the checkpoint says", "value": LOSS_FROM_CHECKPOINT},
                *({"label": loss, "value": loss} for loss in LOSSES)]
NETWORK_SOURCES = [
    *({"label": f"example: {name}", "value": name} for name in examples.RECIPES),
    {"label": "my upload", "value": UPLOAD},
]
NETWORK_DIRECTIONS = [
    {"label": "random, filter-normalized", "value": "filter"},
    {"label": "PCA of the training trajectory", "value": "pca"},
    {"label": "top-2 Hessian eigenvectors", "value": "hessian"},
    {"label": "through checkpoints 2 and 3", "value": "through:checkpoint2,checkpoint3"},
]
UPLOAD_SLOTS = (
    (ids.UPLOAD_CHECKPOINT, "Checkpoint (.safetensors, .pt)"),
    (ids.UPLOAD_CHECKPOINT2, "Second checkpoint (optional)"),
    (ids.UPLOAD_CHECKPOINT3, "Third checkpoint (optional)"),
    (ids.UPLOAD_DATA, "Data X, y (.npz, .safetensors; optional)"),
)


def _field(label: str, control, hint: str | None = None) -> html.Div:
    children = [html.Label(label, htmlFor=control.id, className="field-label"), control]
    if hint:
        children.append(html.Small(hint, className="hint"))
    return html.Div(children, className="field")


def _slider(side: str, name: str, lo: float, hi: float, step: float, value: float, marks) -> dcc.Slider:
    # updatemode "mouseup": a drag recomputes once, on release
    return dcc.Slider(
        id=pid(side, name), min=lo, max=hi, step=step, value=value,
        marks={m: str(m) for m in marks}, updatemode="mouseup",
        tooltip={"placement": "bottom", "always_visible": False},
    )


def panel(side: str) -> html.Section:
    d = {**COMMON, **DEFAULTS[side]}
    ising_style, pspin_style, network_style, path_style, plane_style = family_styles(d["model"])
    ising = html.Div(
        [
            _field("Spins N", _slider(side, ids.ISING_N, 4, 20, 1, d["ising_n"], [4, 8, 12, 16, 20])),
            _field(
                "Native bias J0",
                _slider(side, ids.NATIVE_BIAS, 0, 4, 0.25, d["native_bias"], [0, 1, 2, 3, 4]),
                "0 = Sherrington-Kirkpatrick glass; large = funnel",
            ),
        ],
        id=pid(side, ids.ISING_CONTROLS),
        style=ising_style,
    )
    pspin = html.Div(
        [
            _field("Spins N", _slider(side, ids.PSPIN_N, 16, 128, 8, d["pspin_n"], [16, 64, 128])),
            _field("Order p", dcc.RadioItems(
                id=pid(side, ids.P), options=[2, 3, 4], value=d["p"], inline=True)),
            _field(
                "Planted strength lambda",
                _slider(side, ids.PLANTED, 0, 3, 0.1, d["planted"], [0, 1, 2, 3]),
                "0 = pure glass; > 0 adds a funnel toward the planted state",
            ),
        ],
        id=pid(side, ids.PSPIN_CONTROLS),
        style=pspin_style,
    )
    view = html.Div(
        [
            _field("Seed", dcc.Input(
                id=pid(side, ids.SEED), type="number", min=0, step=1, value=d["seed"],
                debounce=True)),
            html.Div([
                _field("Span", _slider(side, ids.SPAN, 0.25, 2, 0.25, d["span"],
                                       [0.5, 1, 1.5, 2]),
                       "coefficients run from -span to span (spins: 1 = 45 degrees; networks: "
                       "filter norms)"),
                _field("Grid", dcc.RadioItems(
                    id=pid(side, ids.STEPS), options=[21, 31, 51], value=d["steps"],
                    inline=True)),
                _field("Plot type", dcc.RadioItems(
                    id=pid(side, ids.PLOT_KIND), value="surface", inline=True,
                    options=PLOT_KINDS)),
                _field("Colour scale", dcc.Dropdown(
                    id=pid(side, ids.COLORSCALE), options=list(figures.COLORSCALES),
                    value=figures.COLORSCALE, clearable=False),
                       "perceptually uniform; Cividis is safe for colour-blind readers"),
                dcc.Checklist(id=pid(side, ids.LOG_SCALE), value=[],
                              options=[{"label": " log scale (log10 of the values)",
                                        "value": "log"}]),
                _field("Clip extreme values", dcc.RadioItems(
                    id=pid(side, ids.CLIP), value=0, inline=True,
                    options=[{"label": "no", "value": 0}, {"label": "99th pct", "value": 99},
                             {"label": "95th pct", "value": 95}])),
                _field("Contour levels", dcc.Input(
                    id=pid(side, ids.CONTOUR_LEVELS), type="number", min=figures.LEVELS_RANGE[0],
                    max=figures.LEVELS_RANGE[1], step=1, value=figures.CONTOUR_LEVELS,
                    debounce=True),
                       "plot type, colours, log, clip and levels only redraw: the slice is "
                       "not computed again"),
                _field("Weight decay (networks)", dcc.RadioItems(
                    id=pid(side, ids.WEIGHT_DECAY), value=0.0, inline=True,
                    options=[{"label": f"{v:g}" if v else "none", "value": v}
                             for v in figures.WEIGHT_DECAYS]),
                       "adds lambda |theta|^2 to the loss surface, exactly and without "
                       "recomputing: regularization reshapes the landscape as temperature "
                       "does the spin model's free energy"),
            ], id=pid(side, ids.SLICE_CONTROLS)),
            html.Div([
                _field("Overlap with", dcc.RadioItems(
                    id=pid(side, ids.REFERENCE), value="native", inline=True,
                    options=[{"label": "native state", "value": "native"},
                             {"label": "ground state", "value": "ground"}]),
                       "a glass's native state is just a random state: measure Q from its "
                       "ground state instead"),
            ], id=pid(side, ids.FUNNEL_CONTROLS), style=HIDDEN),
        ],
        className="view-controls",
    )
    plane = html.Div(
        [
            _field("Slice centre", dcc.Dropdown(
                id=pid(side, ids.CENTER), options=POINTS, value=d["center"], clearable=False)),
            _field("Slice plane", dcc.Dropdown(
                id=pid(side, ids.DIRECTIONS), options=DIRECTIONS, value=d["directions"],
                clearable=False), "through minima: coefficient 1 on an axis lands on it"),
        ],
        id=pid(side, ids.SPIN_PLANE_CONTROLS), style=plane_style,
    )
    path_ends = html.Div(
        [
            _field("Path from", dcc.Dropdown(
                id=pid(side, ids.PATH_FROM), options=POINTS, value=d["path_from"],
                clearable=False)),
            _field("Path to", dcc.Dropdown(
                id=pid(side, ids.PATH_TO), options=POINTS, value=d["path_to"], clearable=False)),
        ],
        id=pid(side, ids.SPIN_VIEW_CONTROLS), style=path_style,
    )
    controls = html.Div(
        [
            _field("Model", dcc.RadioItems(
                id=pid(side, ids.MODEL), options=MODELS, value=d["model"], inline=True)),
            _field("View", dcc.RadioItems(id=pid(side, ids.VIEW_KIND), value="slice",
                                          options=VIEW_KINDS),
                   "funnel and sweep enumerate all 2^N Ising states; minima: many seeded "
                   "descents (spins) or trainings (example networks)"),
            ising,
            pspin,
            _network_controls(side, network_style),
            view,
            plane,
            path_ends,
        ],
        className="controls",
    )
    graphs = html.Div(
        [
            html.Div(id=pid(side, ids.MESSAGE), className="message", role="alert"),
            html.Div(
                [html.Progress(id=pid(side, ids.PROGRESS), value="0", max="1"),
                 html.Button("Cancel", id=pid(side, ids.CANCEL), className="cancel")],
                id=pid(side, ids.PROGRESS_ROW), className="progress-row", style=HIDDEN,
            ),
            dcc.Loading(dcc.Graph(id=pid(side, ids.SURFACE), className="surface",
                                  config=graph_config(side, ids.SURFACE)), type="circle"),
            dcc.Store(id=pid(side, ids.DRAWN)),
            download_row(side),
            dcc.Loading(dcc.Graph(id=pid(side, ids.PATH), className="path",
                                  config=graph_config(side, ids.PATH)), type="dot"),
            _funnel_extras(side),
            html.Div(id=pid(side, ids.SWEEP_TABLE), className="sweep-table", style=HIDDEN),
        ],
        className="graphs",
    )
    return html.Section([controls, graphs], className="panel", id=pid(side, "panel"))


def _funnel_extras(side: str) -> html.Div:
    """The funnel view's barrier tree, (Q, E) diagram and F(Q; T) with its temperature slider."""
    return html.Div(
        [
            dcc.Graph(id=pid(side, ids.TREE), className="tree",
                      config=graph_config(side, ids.TREE)),
            dcc.Graph(id=pid(side, ids.DIAGRAM), className="diagram",
                      config=graph_config(side, ids.DIAGRAM)),
            html.Div([
                html.Label("Temperature T (units of H; T_f marked)", className="field-label",
                           htmlFor=pid(side, ids.TEMPERATURE)),
                dcc.Slider(id=pid(side, ids.TEMPERATURE), min=0, max=1, step=1, value=0,
                           marks=None, updatemode="drag", allow_direct_input=False),
            ], className="field temperature"),
            dcc.Graph(id=pid(side, ids.FREE_ENERGY), className="free-energy",
                      config=graph_config(side, ids.FREE_ENERGY)),
            dcc.Store(id=pid(side, ids.FUNNEL_DATA)),
        ],
        id=pid(side, ids.FUNNEL_EXTRAS), className="funnel-extras", style=HIDDEN,
    )


def graph_config(side: str, name: str) -> dict:
    """A graph's Plotly config: no logo; the toolbar's camera (toImage) saves a PNG named after
    the panel and the graph (``funnelscope-left-surface.png``) at twice the screen's size."""
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": f"funnelscope-{side}-{name}",
                                     "scale": 2}}


def download_row(side: str) -> html.Div:
    """Buttons that download the view on screen (the cached result, as in the CLI's --format);
    the status says why nothing came (still computing, no such file for this view)."""
    buttons = [html.Button(label, id=pid(side, ids.DOWNLOAD_BUTTONS[fmt]), title=title,
                           className="download-button", n_clicks=0, style=DOWNLOAD_BUTTON_STYLE)
               for fmt, label, title in DOWNLOADS]
    return html.Div(
        [html.Span("Download:", className="field-label", style={"display": "inline"}), *buttons,
         html.Span(id=pid(side, ids.DOWNLOAD_STATUS), className="download-status", role="status",
                   style={"color": "#7a4100"}),
         dcc.Download(id=pid(side, ids.DOWNLOAD))],
        id=pid(side, ids.DOWNLOAD_ROW), className="download-row", style=DOWNLOAD_ROW_STYLE,
    )


SCENARIOS_INTRO = ("One click sets both panels (Back returns to what you had). To make your own "
                   "scenario, set up the panels and press Copy link.")
ACTIVE_SCENARIO_HINT = ("Change any control to explore from here; Back returns to the scenario, "
                        "Copy link shares what you see.")


def scenarios() -> html.Details:
    """Guided scenarios: every preset of :data:`app.presets.PRESETS`, its title a link to its URL
    and its explanation beside it; open at first, folded once a scenario is chosen (its
    explanation is then above the panels); the summary opens and folds it.

    The links are ``dcc.Link``: a click puts the preset's query into the page's URL without a
    reload, and the URL reader sets both panels as it does for Back and Forward (a new history
    entry). As plain ``<a href>`` links they also open in a new tab and take keyboard focus.
    """
    from app import presets  # not at the top: app.presets -> app.urlstate -> this module

    items = [
        html.Li([dcc.Link(p.title, href=p.search(), id=ids.scenario_link(p.key),
                          className="scenario-link"),
                 html.P(p.explanation, className="scenario-explanation")],
                className="scenario")
        for p in presets.PRESETS
    ]
    return html.Details(
        [html.Summary("Guided scenarios", className="scenarios-summary"),
         html.P(SCENARIOS_INTRO, className="hint scenarios-intro"),
         html.Ul(items, className="scenario-list")],
        id=ids.SCENARIOS, open=True, className="scenarios", disable_n_clicks=True,
    )


def help_panel() -> html.Details:
    """The help panel: every entry of :data:`app.help.ENTRIES` (a control as the page labels
    it, and what it does), folded at first; its summary opens it (click, Enter or Space)."""
    items = []
    for entry in control_help.ENTRIES:
        items += [html.Dt(entry.label, className="help-control"),
                  html.Dd(entry.text, className="help-text")]
    return html.Details(
        [html.Summary(control_help.SUMMARY, className="help-summary"),
         html.P(control_help.INTRO, className="hint help-intro"),
         html.Dl(items, className="help-list")],
        id=ids.HELP, open=False, className="help", disable_n_clicks=True,
    )


def active_scenario(preset: "Preset | None") -> tuple[list, dict]:
    """(children, style) of the note above the panels for the preset the page's URL opens:
    its title and explanation, so whoever opens a shared preset link reads why; hidden (and
    empty) when the URL opens no preset."""
    if preset is None:
        return [], HIDDEN
    return [html.Strong(f"Scenario: {preset.title}", className="active-scenario-title"),
            html.P(preset.explanation, className="active-scenario-explanation"),
            html.Small(ACTIVE_SCENARIO_HINT, className="hint")], SHOWN


def build() -> html.Div:
    header = html.Header(
        [
            html.H1("Funnelscope"),
            html.P(
                "Energy landscapes side by side: spin funnels, spin glasses and the loss surfaces "
                "of small networks. Rotate either surface: the other follows. Each surface is a "
                "2D slice through a point (on the sphere |s|^2 = N for spin models); the curve "
                "below it is the energy or loss along a path between two states."
            ),
            html.Div(
                [
                    html.Button("Copy link", id=ids.COPY_LINK, className="copy-link",
                                title="copy this page's URL: it reproduces both panels and the "
                                      "camera"),
                    html.Span(id=ids.COPY_STATUS, className="copy-status", role="status"),
                    html.Div(id=ids.URL_NOTES, className="url-notes", role="status"),
                ],
                className="share",
            ),
        ]
    )
    # the URL's query holds every panel setting and the camera (app/urlstate.py); refresh=False:
    # a new query is a new history entry, and the page is not reloaded
    url = [dcc.Location(id=ids.URL, refresh=False), dcc.Store(id=ids.URL_TARGET),
           dcc.Store(id=ids.URL_APPLIED), dcc.Store(id=ids.CAMERA)]
    status = [
        html.Div(id=ids.STATUS_BANNER, className="status-banner", role="alert", style=HIDDEN),
        dcc.Interval(id=ids.STATUS_POLL, interval=STATUS_POLL_MS),
    ]
    active = html.Div(id=ids.ACTIVE_SCENARIO, className="active-scenario", role="status",
                      style=HIDDEN)
    main = html.Main([panel(side) for side in ids.PANELS], className="panels")
    return html.Div([*url, header, scenarios(), help_panel(), *status, active, main])
