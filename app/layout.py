"""The page: a header, the guided scenarios, the help panel and two identical panels side by
side (ids from :mod:`app.ids`).

Each panel control is built from its record in :mod:`app.controls` (:func:`control`,
:func:`field`); this module only arranges them into the areas that show per family and view
(:func:`area_styles`) and adds what the schema does not hold: drop zones, graphs, downloads.
"""

from typing import Any

from dash import dcc, html
from dash.development.base_component import Component

from app import controls, ids, panel_views, presets, urlstate
from app import help as control_help
from app.ids import pid

SHOWN: dict[str, str] = {}
HIDDEN = {"display": "none"}
STATUS_POLL_MS = 15_000
PENDING_CAMERA_MS = 300_000  # how long a URL's camera waits for a graph's first 3D scene

DOWNLOADS = (  # (format, button label, tooltip): the formats of landscapes.io.formats.FORMATS
    ("npz", ".npz", "arrays and meta (np.load(..., allow_pickle=False)); the export contract"),
    ("csv", "CSV", "a table: coefficients, value, extras; the meta JSON in a # comment line"),
    ("vtk", "VTK", "legacy structured grid for ParaView (a height field for a 2D slice)"),
    ("html", "HTML", "a standalone interactive figure (works offline)"),
)
DOWNLOAD_ROW_STYLE = {"display": "flex", "flexWrap": "wrap", "gap": "6px", "alignItems": "center",
                      "fontSize": "0.8rem", "margin": "4px 0"}
DOWNLOAD_BUTTON_STYLE = {"fontSize": "0.8rem", "padding": "2px 10px", "cursor": "pointer"}
UPLOAD_SLOTS = (
    (ids.UPLOAD_CHECKPOINT, "Checkpoint (.safetensors, .pt, .onnx)"),
    (ids.UPLOAD_CHECKPOINT2, "Second checkpoint (optional)"),
    (ids.UPLOAD_CHECKPOINT3, "Third checkpoint (optional)"),
    (ids.UPLOAD_DATA, "Data X, y (.npz, .safetensors; optional)"),
)


def style(shown: bool) -> dict:
    """The style of a part of the page that shows or not."""
    return SHOWN if shown else HIDDEN


def area_styles(settings: dict[str, Any]) -> dict[str, dict]:
    """The style of each area of a panel (by id, :data:`app.controls.AREAS`) for ``settings``."""
    return {area: style(shown) for area, shown in controls.visible(settings).items()}


def control(side: str, name: str) -> Component:
    """The component of control ``name`` of panel ``side``, from its record in the schema."""
    c = controls.BY_NAME[name]
    cid, value = pid(side, name), c.default_for(side)
    if c.kind == "slider":  # updatemode "mouseup": a drag recomputes once, on release
        lo, hi, step = c.range()
        return dcc.Slider(id=cid, min=lo, max=hi, step=step, value=value,
                          marks={m: str(m) for m in c.marks}, updatemode="mouseup",
                          tooltip={"placement": "bottom", "always_visible": False})
    if c.kind == "radio":
        return dcc.RadioItems(id=cid, options=list(c.options), value=value, inline=c.inline)
    if c.kind == "dropdown":
        return dcc.Dropdown(id=cid, options=list(c.options), value=value, clearable=False)
    if c.kind == "checklist":
        return dcc.Checklist(id=cid, options=list(c.options), value=value)
    if c.kind == "number":
        lo, hi, step = c.range()
        return dcc.Input(id=cid, type="number", min=lo, max=hi, step=step, value=value,
                         debounce=True)
    if c.kind == "textarea":  # read when it loses focus (n_blur): no request per keystroke
        return dcc.Textarea(id=cid, placeholder=c.placeholder, rows=3, spellCheck=False,
                            className="textarea")
    if c.kind == "upload":
        return dcc.Upload(id=cid, children=html.Div([c.label, ": drop or ",
                                                     html.A("choose a file")]),
                          className="upload", multiple=False)
    raise ValueError(f"no component for a {c.kind!r} control")  # a new kind in the schema


def field(side: str, name: str) -> Component:
    """Control ``name`` with its label, hint and status line (a check box is its own label),
    in a box shown exactly where the control applies (``controls.field_id``)."""
    c = controls.BY_NAME[name]
    component = control(side, name)
    if c.kind in ("checklist", "upload"):  # its own label (a drop zone shows its words)
        children = [component]
    else:
        children = [html.Label(c.label, htmlFor=pid(side, name), className="field-label"),
                    component]
    if c.role == "upload":  # the line under it says what happened to what it was given
        children.append(html.Div(id=pid(side, name + "-status"), className="upload-status",
                                 role="status"))
    if c.hint:
        children.append(html.Small(c.hint, className="hint"))
    box = controls.field_id(name)
    return html.Div(children, id=pid(side, box), className="field",
                    style=style(controls.visible(controls.defaults(side))[box]))


def fields(side: str, area: str | None = None, names: tuple[str, ...] | None = None) -> list:
    """The fields of the controls of ``area`` in schema order (or of ``names``)."""
    names = names or tuple(c.name for c in controls.CONTROLS if c.area == area)
    return [field(side, name) for name in names]


def group(side: str, area: str, children: list, **kwargs) -> html.Div:
    """An area of panel ``side`` (shown as its first-load settings ask)."""
    shown = controls.visible(controls.defaults(side))
    return html.Div(children, id=pid(side, area), style=style(shown[area]), **kwargs)


def _network_controls(side: str) -> html.Div:
    uploads: list = []
    for slot, label in UPLOAD_SLOTS:
        uploads += [
            dcc.Upload(id=pid(side, slot), children=html.Div([label, ": drop or ",
                                                               html.A("choose a file")]),
                       className="upload", multiple=False),
            html.Div(id=pid(side, slot + "-status"), className="upload-status", role="status"),
        ]
    return group(side, ids.NETWORK_CONTROLS, [
        *fields(side, names=(ids.NET_SOURCE,)),
        group(side, ids.UPLOAD_GROUP, [*uploads, *fields(side, ids.UPLOAD_GROUP)]),
        dcc.Store(id=pid(side, ids.UPLOADED), data={}),
        *fields(side, names=(ids.NET_DIRECTIONS, ids.NET_PATH_KIND)),
    ])


def _box(title: str, children: list, **kwargs) -> html.Fieldset:
    """A titled group of settings in a panel's drawer."""
    return html.Fieldset([html.Legend(title), *children], className="settings-group", **kwargs)


def panel(side: str) -> html.Section:
    """One panel: the model and view on top, then its graphs (the surface as large as the
    window allows), then the rest of its settings in a drawer that folds. Every control comes
    from its record in :data:`app.controls.CONTROLS` and shows only where it applies; the groups
    show where any of their controls applies."""
    head = html.Div(fields(side, names=(ids.MODEL, ids.VIEW)), className="panel-head")
    shown = controls.visible(controls.defaults(side))
    graphs = html.Div(
        [
            html.Div(id=pid(side, ids.MESSAGE), className="message", role="alert"),
            html.Div(
                [html.Progress(id=pid(side, ids.PROGRESS), value="0", max="1"),
                 html.Span(id=pid(side, ids.PROGRESS_LABEL), className="progress-label"),
                 html.Button("Cancel", id=pid(side, ids.CANCEL), className="cancel")],
                id=pid(side, ids.PROGRESS_ROW), className="progress-row", style=HIDDEN,
            ),
            dcc.Loading(graph(side, ids.SURFACE), type="circle"),
            dcc.Store(id=pid(side, ids.DRAWN)),
            dcc.Store(id=pid(side, ids.JOB_SURFACE)),
            dcc.Store(id=pid(side, ids.JOB_PATH)),
            download_row(side),
            _funnel_extras(side),
            dcc.Loading(graph(side, ids.PATH, style=style(shown[ids.PATH])), type="dot"),
            group(side, ids.SWEEP_TABLE, [], className="sweep-table"),
        ],
        className="graphs",
    )
    named: dict[str, Any] = {"aria-label": f"Settings of the {side} panel"}  # both say Settings
    drawer = html.Details(
        [
            html.Summary("Settings", className="drawer-summary", **named),
            html.Div([
                _box("Model", [
                    group(side, ids.ISING_CONTROLS, fields(side, ids.ISING_CONTROLS)),
                    group(side, ids.PSPIN_CONTROLS, fields(side, ids.PSPIN_CONTROLS)),
                    _network_controls(side),
                    *fields(side, names=(ids.SEED,)),
                ]),
                _box("View", [group(side, area, fields(side, area))
                              for area in controls.BOXES[ids.VIEW_SETTINGS]],
                     id=pid(side, ids.VIEW_SETTINGS),
                     style=style(shown[ids.VIEW_SETTINGS])),
                group(side, ids.DISPLAY_CONTROLS,
                      [_box("Display", fields(side, ids.DISPLAY_CONTROLS))]),
                _box("Open a file", fields(side, names=(ids.OPEN_EXPORT,))),
            ], className="drawer-groups"),
        ],
        id=pid(side, ids.DRAWER), open=True, className="drawer controls",
        disable_n_clicks=True,
    )
    return html.Section([head, graphs, drawer], className="panel", id=pid(side, "panel"))


def graph(side: str, name: str, **kwargs) -> dcc.Graph:
    """A panel's graph: as large as its box (the stylesheet sizes each by its class, the
    figure follows: ``responsive``), with the panel's PNG button (:func:`graph_config`)."""
    return dcc.Graph(id=pid(side, name), className=name, responsive=True,
                     config=graph_config(side, name), **kwargs)


def _funnel_extras(side: str) -> html.Div:
    """The funnel view's F(Q; T) with its temperature slider (first: the slider is what a
    student moves), its barrier tree and its (Q, E) diagram."""
    return html.Div(
        [
            html.Div([
                html.Div([
                    html.Label("Temperature T (units of H; T_f marked)",
                               className="field-label", htmlFor=pid(side, ids.TEMPERATURE)),
                    dcc.Slider(id=pid(side, ids.TEMPERATURE), min=0, max=1, step=1, value=0,
                               marks=None, updatemode="drag", allow_direct_input=False),
                ], className="field temperature"),
                graph(side, ids.FREE_ENERGY, figure=panel_views.free_energy_at(None, None)),
            ], className="free-energy-box"),
            graph(side, ids.TREE),
            graph(side, ids.DIAGRAM),
            dcc.Store(id=pid(side, ids.FUNNEL_DATA)),
            dcc.Store(id=pid(side, ids.WANTED_TEMPERATURE), data=None),
        ],
        id=pid(side, ids.FUNNEL_EXTRAS), className="funnel-extras",
        style=style(controls.visible(controls.defaults(side))[ids.FUNNEL_EXTRAS]),
    )


def graph_config(side: str, name: str) -> Any:  # dcc.Graph's Config (a TypedDict of its stub)
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
    and its explanation beside it; folded at first (the surfaces come first), folded again once
    a scenario is chosen (its explanation is then above the panels: ``app/assets/scenarios.js``);
    the summary opens and folds it.

    The links are ``dcc.Link``: a click puts the preset's query into the page's URL without a
    reload, and the URL reader sets both panels as it does for Back and Forward (a new history
    entry). As plain ``<a href>`` links they also open in a new tab and take keyboard focus.
    """
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
        id=ids.SCENARIOS, open=False, className="scenarios", disable_n_clicks=True,
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


def active_scenario(preset: presets.Preset | None) -> tuple[list, dict]:
    """(children, style) of the note above the panels for the preset the page's URL opens:
    its title and explanation, so whoever opens a shared preset link reads why; hidden (and
    empty) when the URL opens no preset."""
    if preset is None:
        return [], HIDDEN
    return [html.Strong(f"Scenario: {preset.title}", className="active-scenario-title"),
            html.P(preset.explanation, className="active-scenario-explanation"),
            html.Small(ACTIVE_SCENARIO_HINT, className="hint")], SHOWN


def clientside_config() -> dict:
    """What the clientside callbacks (``app/assets/funnelscope.js``) need to know: the 3D graphs by
    side, the default camera, how long a URL's camera waits for a graph's first 3D scene (ms)
    and the id of Copy link's status line."""
    return {"graphs": {side: pid(side, ids.SURFACE) for side in ids.PANELS},
            "defaultCamera": urlstate.DEFAULT_CAMERA, "pendingMs": PENDING_CAMERA_MS,
            "copyStatus": ids.COPY_STATUS}


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
           dcc.Store(id=ids.URL_APPLIED), dcc.Store(id=ids.URL_READ), dcc.Store(id=ids.START),
           dcc.Store(id=ids.CAMERA),
           dcc.Store(id=ids.CLIENTSIDE, data=clientside_config()),
           dcc.Store(id=ids.CLIENT_ID, storage_type="session")]  # filled by the page (fairness)
    status = [
        html.Div(id=ids.STATUS_BANNER, className="status-banner", role="alert", style=HIDDEN),
        dcc.Interval(id=ids.STATUS_POLL, interval=STATUS_POLL_MS),
    ]
    active = html.Div(id=ids.ACTIVE_SCENARIO, className="active-scenario", role="status",
                      style=HIDDEN)
    main = html.Main([panel(side) for side in ids.PANELS], className="panels")
    guides = html.Div([scenarios(), help_panel()], className="guides")
    return html.Div([*url, header, guides, *status, active, main])
