"""The panel controls, declared once: what the layout draws, the URL carries, the callbacks read
and the help panel explains.

Each :class:`Control` is plain data: its name (the id suffix of :mod:`app.ids`: the page's id is
``pid(side, name)``), the kind of component, its label as the page shows it, options, default
(``side_defaults`` where the two panels open differently), range and step, hint and help text,
the model families and views it applies to, its role (``"model"``: a change recomputes the
view; ``"display"``: a change only redraws the slice; ``"upload"``: read by the upload
validator) and whether the URL carries it. :data:`CONTROLS` is in page order, which is also the
order the URL writes its keys in.

Readers: :mod:`app.layout` builds each control from its record (``layout.field``),
:mod:`app.urlstate` types and checks URL values against it, :mod:`app.callbacks` takes its
Inputs and States from :data:`MODEL_NAMES` / :data:`DISPLAY_NAMES`, :mod:`app.help` takes the
control entries from ``label`` and ``help``, and the visibility callback shows each control group
(:data:`AREAS`) exactly for the families and views of its controls (:func:`visible`).

This module imports nothing from the rest of :mod:`app` except :mod:`app.ids`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from app import ids
from landscapes.networks import examples
from landscapes.networks.catalog import LOSSES
from landscapes.networks.datasets import BUILTIN
from landscapes.plots import slices as figures
from landscapes.viewspec import SEED_MAX

Kind = Literal["slider", "radio", "dropdown", "checklist", "number", "textarea", "upload"]
Role = Literal["model", "display", "upload"]

FAMILIES = frozenset({"ising", "pspin", "network"})
SPIN = frozenset({"ising", "pspin"})
VIEWS = frozenset({"slice", "volume", "funnel", "sweep", "minima", "spectrum"})

UPLOAD = "upload"  # the Network control's value for the user's own checkpoint
LOSS_FROM_CHECKPOINT = "checkpoint"  # the Loss control's default: what the checkpoint names
THROUGH_MINIMA = "through:minimum:1,minimum:2"


@dataclass(frozen=True)
class Control:
    """One control of a panel (see the module docstring)."""

    name: str
    kind: Kind
    label: str
    default: Any
    help: str
    options: tuple = ()  # values, or {"label", "value"} dicts
    bounds: tuple[float, float | None, float] | None = None  # (min, max, step); max None: open
    marks: tuple[float, ...] = ()  # a slider's labelled values
    hint: str | None = None  # small print under the control
    families: frozenset[str] = FAMILIES
    views: frozenset[str] = VIEWS
    role: Role = "model"
    in_url: bool = True
    side_defaults: Mapping[str, Any] = field(default_factory=dict)
    area: str | None = None  # the id (name) of the group of controls it is drawn in
    inline: bool = True  # radio items side by side
    placeholder: str | None = None  # a text input's example
    aliases: tuple[str, ...] = ()  # older URL keys that still mean this control

    def range(self) -> tuple[float, float | None, float]:
        """(min, max, step) of a slider or number input (max None: open above)."""
        if self.bounds is None:
            raise ValueError(f"control {self.name!r} ({self.kind}) has no range")
        return self.bounds

    def default_for(self, side: str) -> Any:
        """The value panel ``side`` opens with (a fresh list for a checklist)."""
        value = self.side_defaults.get(side, self.default)
        return list(value) if isinstance(value, list | tuple) else value

    def values(self) -> list:
        """The values of the options (labels dropped)."""
        return [o["value"] if isinstance(o, dict) else o for o in self.options]

    def applies(self, family: str, view: str) -> bool:
        """Whether the control serves this model family and view."""
        return family in self.families and view in self.views


def _labelled(pairs: tuple[tuple[str, Any], ...]) -> tuple[dict, ...]:
    return tuple({"label": label, "value": value} for label, value in pairs)


POINTS = _labelled((
    ("descent minimum 0", "minimum:0"), ("descent minimum 1", "minimum:1"),
    ("descent minimum 2", "minimum:2"), ("native / planted state", "native"),
    ("ground state (Ising, exact)", "ground"), ("random start 0", "random:0"),
    ("random start 1", "random:1"),
))
SPINS_N_HELP = ("The number of spins: 4 to 20 for the Ising model (every state is enumerated "
                "exactly), 16 to 128 in steps of 8 for the p-spin glass.")
SLICE = frozenset({"slice"})
GRIDS = frozenset({"slice", "volume"})  # the views that compute a grid around a centre
VOLUME = frozenset({"volume"})

CONTROLS: tuple[Control, ...] = (
    Control(
        ids.MODEL, "radio", "Model", "ising", side_defaults={"right": "pspin"},
        options=_labelled((("Ising spin funnel", "ising"), ("p-spin glass", "pspin"),
                           ("Network", "network"))),
        help="What the panel shows: the Ising spin funnel (N spins s = +-1 with a tunable pull "
             "toward a native state), the spherical p-spin glass, or the loss surface of a "
             "small network. Energies of spin models are per spin (H/N).",
    ),
    Control(
        ids.VIEW, "radio", "View", "slice", aliases=("view-kind",),
        options=_labelled((("slice and path", "slice"), ("volume (3D slice)", "volume"),
                           ("funnel (Ising, exact)", "funnel"), ("size sweep (Ising)", "sweep"),
                           ("minima statistics", "minima"), ("Hessian spectrum", "spectrum"))),
        hint="funnel and sweep enumerate all 2^N Ising states; minima: many seeded descents "
             "(spins) or trainings (example networks); spectrum: p-spin glass and networks",
        help="slice and path: a 2D slice and a path; volume: a 3D slice as a level set cut "
             "by a plane; funnel and size sweep: all 2^N Ising states, exactly; minima: where "
             "many descents or trainings end; Hessian spectrum: a network's bulk and outliers "
             "beside the p-spin glass's semicircle.",
    ),
    Control(
        ids.OPEN_EXPORT, "upload", "Open an export (.npz)", None, role="upload", in_url=False,
        hint="a slice, path, funnel, sweep or minima export from the command line, a Python "
             "session or another machine: shown in this panel until it draws another view",
        help="Shows an .npz export (from Download, the landscapes command or write_npz, e.g. "
             "a big slice computed on a GPU machine) in this panel. It is checked first (size, "
             "numeric arrays read without pickles, its meta and kind) and stored under its "
             "content hash; a refused file says why.",
    ),
    Control(
        ids.ISING_N, "slider", "Spins N", 16, bounds=(4, 20, 1), marks=(4, 8, 12, 16, 20),
        families=frozenset({"ising"}), views=VIEWS - {"sweep"},  # the sweep sets N itself
        area=ids.ISING_CONTROLS, help=SPINS_N_HELP,
    ),
    Control(
        ids.NATIVE_BIAS, "slider", "Native bias J0", 2.0, side_defaults={"right": 0.0},
        bounds=(0, 4, 0.25), marks=(0, 1, 2, 3, 4), families=frozenset({"ising"}),
        area=ids.ISING_CONTROLS, hint="0 = Sherrington-Kirkpatrick glass; large = funnel",
        help="Strength of the pull toward the native state, the coupling J0/N xi_i xi_j added "
             "to the random ones: 0 is the Sherrington-Kirkpatrick glass, large J0 a smooth "
             "funnel.",
    ),
    Control(
        ids.PSPIN_N, "slider", "Spins N", 64, bounds=(16, 128, 8), marks=(16, 64, 128),
        families=frozenset({"pspin"}), area=ids.PSPIN_CONTROLS, help=SPINS_N_HELP,
    ),
    Control(
        ids.P, "radio", "Order p", 3, options=(2, 3, 4), families=frozenset({"pspin"}),
        area=ids.PSPIN_CONTROLS,
        help="How many spins each random coupling joins (2, 3 or 4): p = 2 is a quadratic form "
             "with a single pair of minima +-s, p >= 3 a glass with exponentially many.",
    ),
    Control(
        ids.PLANTED, "slider", "Planted strength lambda", 0.0, bounds=(0, 3, 0.1),
        marks=(0, 1, 2, 3), families=frozenset({"pspin"}), area=ids.PSPIN_CONTROLS,
        hint="0 = pure glass; > 0 adds a funnel toward the planted state",
        help="Adds -lambda N m^2, a funnel toward a planted state (m is the overlap with it): "
             "0 is the pure p-spin glass.",
    ),
    Control(
        ids.NET_SOURCE, "dropdown", "Network", "moons-mlp",
        options=(*_labelled(tuple((f"example: {name}", name) for name in examples.RECIPES)),
                 {"label": "my upload", "value": UPLOAD}),
        families=frozenset({"network"}), area=ids.NETWORK_CONTROLS,
        help="An example network trained on the server on first use (then cached), or my "
             "upload: your own checkpoint in the drop zones below.",
    ),
    Control(
        ids.ARCH, "textarea", "Architecture (for .pt files)", None, role="upload", in_url=False,
        placeholder='{"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}',
        families=frozenset({"network"}), area=ids.UPLOAD_GROUP,
        help="The network's architecture as JSON, e.g. {\"type\": \"mlp\", \"sizes\": [2, 64, "
             "64, 2], \"act\": \"relu\"}, for .pt files only: a .safetensors file carries it "
             "in its metadata and an .onnx file is its own graph.",
    ),
    Control(
        ids.NET_DATA, "dropdown", "Data", "moons", options=tuple(BUILTIN),
        families=frozenset({"network"}), area=ids.UPLOAD_GROUP,
        hint="used unless a data file is uploaded",
        help="The built-in data set an uploaded network is evaluated on, used unless a data "
             "file is uploaded.",
    ),
    Control(
        ids.NET_LOSS, "radio", "Loss", LOSS_FROM_CHECKPOINT,
        options=({"label": "as the checkpoint says", "value": LOSS_FROM_CHECKPOINT},
                 *_labelled(tuple((loss, loss) for loss in LOSSES))),
        families=frozenset({"network"}), area=ids.UPLOAD_GROUP,
        hint="the checkpoint's own loss if it names one, else by the data's labels",
        help="The loss of an uploaded network: as the checkpoint says (the loss it names, else "
             "cross_entropy for class labels and mse for real targets), or cross_entropy or mse "
             "whatever the checkpoint says.",
    ),
    Control(
        ids.NET_DIRECTIONS, "dropdown", "Directions", "filter",
        options=_labelled((("random, filter-normalized", "filter"),
                           ("PCA of the trajectory or checkpoints", "pca"),
                           ("top-2 Hessian eigenvectors", "hessian"),
                           ("through checkpoints 2 and 3", "through:checkpoint2,checkpoint3"))),
        families=frozenset({"network"}), views=GRIDS, area=ids.NETWORK_CONTROLS,
        help="The plane of a network's slice: random filter-normalized directions, the PCA of "
             "an example's training trajectory or of your three uploaded checkpoints, the top-2 "
             "Hessian eigenvectors, or through uploaded checkpoints 2 and 3.",
    ),
    Control(
        ids.NET_PATH_KIND, "radio", "Path", "linear",
        options=_labelled((("straight line", "linear"), ("Bezier curve", "bezier"))),
        families=frozenset({"network"}), views=GRIDS, area=ids.NETWORK_CONTROLS,
        hint="examples: init -> final; uploads: checkpoint -> second checkpoint",
        help="A straight line or a Bezier curve (its bend trained to keep the loss low) from "
             "the initial to the trained weights (uploads: checkpoint to second checkpoint); "
             "its title gives the barrier height.",
    ),
    Control(
        ids.SEED, "number", "Seed", 0, bounds=(0, SEED_MAX, 1),
        help="Draws the random numbers: for spin models the instance (couplings, native or "
             "planted state, random starts and directions), for networks the slice's random "
             "directions and the Hessian spectrum's probes. Type a whole number (0 to "
             "4294967295) and press Enter.",
    ),
    Control(
        ids.SPAN, "slider", "Span", 1.0, side_defaults={"right": 1.5}, bounds=(0.25, 2, 0.25),
        marks=(0.5, 1, 1.5, 2), views=GRIDS, area=ids.SLICE_CONTROLS,
        hint="coefficients run from -span to span (spins: 1 = 45 degrees; networks: filter "
             "norms)",
        help="The slice's coefficients run from -span to span: for spins (random plane) 1 is "
             "45 degrees away from the centre on the sphere; for networks 1 moves each filter "
             "by its own norm.",
    ),
    Control(
        ids.STEPS, "radio", "Grid", 51, options=(21, 31, 51), views=SLICE,
        area=ids.SLICE_CONTROLS,
        help="Points per axis of the slice (21, 31 or 51): fewer compute faster; a coarse "
             "13x13 preview comes first.",
    ),
    Control(
        ids.VOLUME_STEPS, "radio", "Grid (volume)", 21, options=(13, 21, 31), views=VOLUME,
        area=ids.SLICE_CONTROLS,
        hint="points per axis: 21^3 = 9,261 points",
        help="Points per axis of the volume (13, 21 or 31): its points grow as the cube, so a "
             "31^3 volume of the digits CNN takes minutes; a coarse 13^3 preview comes first.",
    ),
    Control(
        ids.LEVEL, "slider", "Level set", 0.5, role="display", bounds=(0, 1, 0.05),
        marks=(0, 0.25, 0.5, 0.75, 1), views=VOLUME, area=ids.DISPLAY_CONTROLS,
        hint="a fraction of the value range: 0 the lowest value, 1 the highest",
        help="Volume view: the one level set drawn, at this fraction of the range of the "
             "drawn values (0: the lowest, 1: the highest). Redraws only.",
    ),
    Control(
        ids.PLANE, "slider", "Slicing plane c", 0.0, role="display", bounds=(-1, 1, 0.1),
        marks=(-1, -0.5, 0, 0.5, 1), views=VOLUME, area=ids.DISPLAY_CONTROLS,
        hint="a fraction of the span along direction 3; the grid's plane nearest it is drawn",
        help="Volume view: where the plane across direction 3 cuts the volume, as a fraction "
             "of the span (0: through the centre); it shows the values of the grid's plane "
             "nearest it, on the level set's colour scale. Redraws only.",
    ),
    Control(
        ids.PLOT_KIND, "radio", "Plot type", figures.PLOT_KINDS[0], role="display",
        options=_labelled((("3D surface", "surface"), ("contour", "contour"),
                           ("heatmap", "heatmap"))),
        views=SLICE, area=ids.DISPLAY_CONTROLS,
        help="Draws the slice as a rotatable 3D surface (with contour lines on its floor), a "
             "filled contour map or a heatmap, with axes a and b along the two directions. "
             "Redraws only: nothing is computed again.",
    ),
    Control(
        ids.COLORSCALE, "dropdown", "Colour scale", figures.COLORSCALE, role="display",
        options=tuple(figures.COLORSCALES), views=GRIDS, area=ids.DISPLAY_CONTROLS,
        hint="perceptually uniform; Cividis is safe for colour-blind readers",
        help="The slice's colours: perceptually uniform scales; Cividis is safe for "
             "colour-blind readers.",
    ),
    Control(
        ids.LOG_SCALE, "checklist", "log scale (log10 of the values)", (), role="display",
        options=({"label": " log scale (log10 of the values)", "value": "log"},),
        views=GRIDS, area=ids.DISPLAY_CONTROLS,
        help="Draws log10 of the values; it needs all values positive (a loss, not an "
             "energy), otherwise the title notes it and the values stay linear.",
    ),
    Control(
        ids.CLIP, "radio", "Clip extreme values", 0, role="display",
        options=_labelled((("no", 0), ("99th pct", 99), ("95th pct", 95))),
        views=GRIDS, area=ids.DISPLAY_CONTROLS,
        help="Caps values above the 99th or 95th percentile so that a few huge values do not "
             "flatten the rest; the title says how many were clipped.",
    ),
    Control(
        ids.CONTOUR_LEVELS, "number", "Contour levels", figures.CONTOUR_LEVELS, role="display",
        bounds=(*figures.LEVELS_RANGE, 1), views=SLICE, area=ids.DISPLAY_CONTROLS,
        hint="plot type, colours, log, clip and levels only redraw: the slice is not computed "
             "again",
        help="The number of contour lines (5 to 60), on the surface's floor and in the "
             "contour map.",
    ),
    Control(
        ids.WEIGHT_DECAY, "radio", "Weight decay", 0.0, role="display",
        options=tuple({"label": f"{v:g}" if v else "none", "value": v}
                      for v in figures.WEIGHT_DECAYS),
        families=frozenset({"network"}), views=SLICE, area=ids.DISPLAY_CONTROLS,
        hint="adds lambda |theta|^2 to the loss surface, exactly and without recomputing: "
             "regularization reshapes the landscape as temperature does the spin model's free "
             "energy",
        help="Adds lambda |theta|^2 to a network's loss surface, exactly and without "
             "recomputing the slice (networks only: a spin model's slice has no weights).",
    ),
    Control(
        ids.REFERENCE, "radio", "Overlap with", "native",
        options=_labelled((("native state", "native"), ("ground state", "ground"))),
        views=frozenset({"funnel"}), area=ids.FUNNEL_CONTROLS,
        hint="a glass's native state is just a random state: measure Q from its ground state "
             "instead",
        help="Funnel view: measure the overlap Q from the native state or from the ground "
             "state (a glass's native state is just a random state).",
    ),
    Control(
        ids.CENTER, "dropdown", "Slice centre", "minimum:0", options=POINTS, families=SPIN,
        views=GRIDS, area=ids.SPIN_PLANE_CONTROLS,
        help="The point the slice passes through: a descent minimum, the native or planted "
             "state, the ground state (Ising, exact) or a random start.",
    ),
    Control(
        ids.DIRECTIONS, "dropdown", "Slice plane", "random", side_defaults={"right": THROUGH_MINIMA},
        options=_labelled((("random directions", "random"),
                           ("through minima 1 and 2", THROUGH_MINIMA))),
        families=SPIN, views=GRIDS, area=ids.SPIN_PLANE_CONTROLS,
        hint="through minima: coefficient 1 on an axis lands on it",
        help="The two directions of the slice: random, or through minima 1 and 2, where "
             "coefficient 1 on an axis lands exactly on that minimum (a volume: random, or "
             "through minima 1, 2 and 3).",
    ),
    Control(
        ids.PATH_FROM, "dropdown", "Path from", "random:0", options=POINTS, families=SPIN,
        views=frozenset({"slice", "funnel"}), area=ids.SPIN_VIEW_CONTROLS,
        help="Where the path plot starts; it shows the energy per spin along the straight "
             "chord (linear) and the great circle (geodesic) on the sphere.",
    ),
    Control(
        ids.PATH_TO, "dropdown", "Path to", "minimum:0", options=POINTS, families=SPIN,
        views=frozenset({"slice", "funnel"}), area=ids.SPIN_VIEW_CONTROLS,
        help="Where the path plot ends (a barrier-tree minimum clicked in the funnel view "
             "is added to this list).",
    ),
)

BY_NAME: Mapping[str, Control] = MappingProxyType({c.name: c for c in CONTROLS})
MODEL_NAMES = tuple(c.name for c in CONTROLS if c.role == "model")  # a change recomputes
DISPLAY_NAMES = tuple(c.name for c in CONTROLS if c.role == "display")  # a change redraws
URL_NAMES = tuple(c.name for c in CONTROLS if c.in_url)  # in the order the URL writes them


def defaults(side: str) -> dict[str, Any]:
    """Every control's value when panel ``side`` opens, by name."""
    return {c.name: c.default_for(side) for c in CONTROLS}


# --- which parts of a panel show, for its family and view --------------------------------------

FIELD = "-field"  # the id suffix of the box that holds a control with its label and hint


def field_id(name: str) -> str:
    """The name (id suffix) of the box holding control ``name``, its label and hint: shown
    exactly where the control applies (:meth:`Control.applies`)."""
    return name + FIELD


@dataclass(frozen=True)
class Area:
    """A part of a panel shown only for some families and views: a control's box, a group of
    controls (shown where any of its controls applies), or a graph area of a view (with
    ``when``, only while a control has a value).

    ``scopes`` holds (families, views) pairs: the area shows for a family and a view that one
    of them names.
    """

    id: str
    scopes: tuple[tuple[frozenset[str], frozenset[str]], ...] = ((FAMILIES, VIEWS),)
    when: tuple[str, Any] | None = None  # (control name, value)

    def shown(self, settings: Mapping[str, Any]) -> bool:
        """Whether the area shows for ``settings`` (control values by name); a family or view
        that is not a string (only a hand-made request sends one) shows nothing."""
        model, view = settings.get(ids.MODEL), settings.get(ids.VIEW)
        return (isinstance(model, str) and isinstance(view, str)
                and any(model in families and view in views for families, views in self.scopes)
                and (self.when is None or settings.get(self.when[0]) == self.when[1]))


def _control_area(area_id: str, groups: tuple[str, ...] | None = None) -> Area:
    """A group of controls (or a box of such ``groups``) shows where any of its controls
    applies."""
    groups = groups or (area_id,)
    scopes = dict.fromkeys((c.families, c.views) for c in CONTROLS if c.area in groups)
    return Area(area_id, tuple(scopes))


# the boxes of a panel's drawer that hold only groups which may all be hidden
BOXES = {ids.VIEW_SETTINGS: (ids.SLICE_CONTROLS, ids.FUNNEL_CONTROLS, ids.SPIN_PLANE_CONTROLS,
                             ids.SPIN_VIEW_CONTROLS)}


# areas not derived from their controls: graphs, and the upload group (shown for "my upload")
VIEW_AREAS = (
    Area(ids.UPLOAD_GROUP, ((frozenset({"network"}), VIEWS),), when=(ids.NET_SOURCE, UPLOAD)),
    # the exact views of the Ising model (another model's refusal leaves no stale funnel)
    Area(ids.FUNNEL_EXTRAS, ((frozenset({"ising"}), frozenset({"funnel"})),)),
    Area(ids.SWEEP_TABLE, ((frozenset({"ising"}), frozenset({"sweep"})),)),
    # the path graph: every view but the sweep and the spectrum
    Area(ids.PATH, ((FAMILIES, VIEWS - {"sweep", "spectrum"}),)),
)
AREAS: tuple[Area, ...] = (
    *(Area(field_id(c.name), ((c.families, c.views),)) for c in CONTROLS),
    *(_control_area(a) for a in dict.fromkeys(c.area for c in CONTROLS)
      if a is not None and a not in {v.id for v in VIEW_AREAS}),
    *(_control_area(box, groups) for box, groups in BOXES.items()),
    *VIEW_AREAS,
)
# the controls the visibility depends on
VISIBILITY_NAMES = (ids.MODEL, ids.VIEW, *dict.fromkeys(a.when[0] for a in AREAS if a.when))


def visible(settings: Mapping[str, Any]) -> dict[str, bool]:
    """Whether each area (by id) shows for ``settings`` (control values by name)."""
    return {area.id: area.shown(settings) for area in AREAS}
