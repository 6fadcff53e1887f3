"""Every component id of the dashboard, in one place (layout, callbacks and tests use these).

What each panel control is (kind, options, default, help) is declared in :mod:`app.controls`.

The two panels share one set of controls, each id prefixed by the panel's side.
"""

PANELS = ("left", "right")

STATUS_BANNER = "status-banner"  # page-wide: shown while the cache or job queue is down
STATUS_POLL = "status-poll"
# shareable state: the page's URL carries both panels' settings and the camera (app/urlstate.py)
URL = "url"  # dcc.Location
URL_TARGET = "url-target"  # what the URL should become: {"search", "replace"} (dcc.Store)
URL_APPLIED = "url-applied"  # the query the controls show (set by the reader and the writer)
URL_READ = "url-read"  # a query for the server's URL reader: {"search", "at"} (dcc.Store)
START = "start"  # set once by a page opened without a query: starts both panels (dcc.Store)
CAMERA = "camera"  # the 3D camera both surfaces share (dcc.Store)
URL_NOTES = "url-notes"  # what a hand-edited link held that could not be used
COPY_LINK = "copy-link"  # button: the page's URL to the clipboard
COPY_STATUS = "copy-status"  # "link copied"
# guided scenarios (app/presets.py): each preset's URL as a link, and the preset the URL opens
SCENARIOS = "scenarios"  # html.Details near the top: every preset, linked, with its explanation
ACTIVE_SCENARIO = "active-scenario"  # above the panels: the preset the URL opens (hidden if none)
HELP = "help"  # html.Details near the top: what each control does (app/help.py), folded
# what the clientside callbacks (app/assets/funnelscope.js) need to know: graph ids, default camera
CLIENTSIDE = "clientside-config"  # dcc.Store, constant data written by the layout
CLIENT_ID = "client-id"  # this browser session's id, for fair job slots (app/fairness.py)

MODEL = "model"
VIEW = "view"  # slice (any model), funnel / sweep (Ising: exact), minima (URL alias: view-kind)
ISING_CONTROLS = "ising-controls"
PSPIN_CONTROLS = "pspin-controls"
ISING_N = "ising-n"
NATIVE_BIAS = "native-bias"
PSPIN_N = "pspin-n"
P = "p"
PLANTED = "planted"
SEED = "seed"
SPAN = "span"
STEPS = "steps"
CENTER = "center"
DIRECTIONS = "directions"
PATH_FROM = "path-from"
PATH_TO = "path-to"
NETWORK_CONTROLS = "network-controls"
SPIN_VIEW_CONTROLS = "spin-view-controls"  # the path's ends (spin models: slice and funnel views)
SPIN_PLANE_CONTROLS = "spin-plane-controls"  # the slice's centre and plane (spin models: slice)
NET_SOURCE = "net-source"
UPLOAD_GROUP = "upload-group"
UPLOAD_CHECKPOINT = "upload-checkpoint"
UPLOAD_CHECKPOINT2 = "upload-checkpoint2"
UPLOAD_CHECKPOINT3 = "upload-checkpoint3"
UPLOAD_DATA = "upload-data"
UPLOAD_STATUS = "upload-status"  # + "-checkpoint", "-checkpoint2", "-data"
UPLOADED = "uploaded"
ARCH = "arch"
NET_DATA = "net-data"
OPEN_EXPORT = "open-export"  # a drop zone: any .npz export, shown in the panel
NET_LOSS = "net-loss"
NET_DIRECTIONS = "net-directions"
NET_PATH_KIND = "net-path-kind"
PROGRESS_ROW = "progress-row"
PROGRESS = "progress"
PROGRESS_LABEL = "progress-label"  # "queued: N ahead" while a job waits for its slot
CANCEL = "cancel"
SURFACE = "surface"
PATH = "path"
DRAWN = "drawn"  # the display options the last computed slice was drawn with (dcc.Store)
JOB_SURFACE = "job-surface"  # the figure a panel's job ends with (dcc.Store; drawn if new)
JOB_PATH = "job-path"  # the path figure a panel's job ends with (dcc.Store; redrawn on display)
MESSAGE = "message"
SLICE_CONTROLS = "slice-controls"  # span and grid: slice and volume views
VOLUME_STEPS = "volume-steps"  # the volume view's grid (points per axis)
LEVEL = "level"  # the volume view's level set: a fraction of the value range
PLANE = "plane"  # the volume view's slicing plane: a fraction of the c axis
FUNNEL_CONTROLS = "funnel-controls"  # funnel view only
REFERENCE = "reference"  # funnel overlap with the native or the ground state
FUNNEL_EXTRAS = "funnel-extras"  # the funnel view's further graphs
TREE = "tree"  # disconnectivity graph; a click on a minimum sets the path's end
DIAGRAM = "diagram"  # every state by energy and overlap
FREE_ENERGY = "free-energy"
TEMPERATURE = "temperature"  # slider over the index of the funnel view's temperature grid
WANTED_TEMPERATURE = "wanted-temperature"  # the picked T (None: T_f), dcc.Store; in the URL
FUNNEL_DATA = "funnel-data"  # F(Q; T) on the grid, for the slider (dcc.Store)
SWEEP_TABLE = "sweep-table"
DRAWER = "drawer"  # the panel's settings under its graphs (html.Details: folds)
VIEW_SETTINGS = "view-settings"  # the drawer's box of the view's settings (hidden when empty)
# drawing options of a slice (in DISPLAY_CONTROLS): they change the figure, never recompute
DISPLAY_CONTROLS = "display-controls"
COLORSCALE = "colorscale"
LOG_SCALE = "log-scale"
CLIP = "clip"
PLOT_KIND = "plot-kind"  # surface | contour | heatmap
CONTOUR_LEVELS = "contour-levels"  # number of contour lines (surface floor and contour plot)
WEIGHT_DECAY = "weight-decay"  # lambda of lambda |theta|^2 added to a network slice
# per-panel downloads of the view on screen (the cached result, never computed for a download)
DOWNLOAD_ROW = "download-row"
DOWNLOAD = "download"  # dcc.Download
DOWNLOAD_STATUS = "download-status"  # why nothing was downloaded (still computing, no such file)
DOWNLOAD_BUTTONS = {fmt: f"download-{fmt}" for fmt in ("npz", "csv", "vtk", "html")}  # by format


def scenario_link(key: str) -> str:
    """The id of the link that opens preset ``key`` (e.g. ``scenario-funnel-vs-glass``)."""
    return f"scenario-{key}"


def pid(side: str, name: str) -> str:
    """The id of control ``name`` in panel ``side`` (e.g. ``left-surface``)."""
    return f"{side}-{name}"
