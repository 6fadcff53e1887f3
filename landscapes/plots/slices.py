"""Figure builders: pure functions from computed arrays to Plotly figures (no Dash, no I/O).

Values go to the browser as float32 (half the payload of float64; Plotly 6+ sends numpy
arrays as typed binary). Every 3D scene carries ``uirevision`` so a recompute keeps the
user's camera; a slice drawn flat (contour map, heatmap: :func:`surface_figure`) keeps it too,
so a redraw keeps the user's zoom.
"""

import html
import math
import textwrap

import numpy as np
import plotly.graph_objects as go

from landscapes.networks.regularization import squared_norm_at, with_weight_decay
from landscapes.slices import Slice, grid_coefficients

DEFAULT_CAMERA: dict[str, dict[str, float]] = {"eye": {"x": 1.6, "y": 1.6, "z": 1.1},
                                               "up": {"x": 0, "y": 0, "z": 1}}
COLORSCALE = "Viridis"  # perceptually uniform, colourblind-safe
PATH_COLORS = {"geodesic": "#1f77b4", "linear": "#d62728"}


def _architecture_words(arch: dict, count: str) -> str:
    """A network's architecture in a few words (``count``: its parameters, in words)."""
    kind = arch["type"]
    if kind == "mlp":
        return "MLP " + "-".join(map(str, arch["sizes"]))
    if kind == "cnn":
        return "CNN " + "-".join(map(str, arch["channels"]))
    if kind == "resnet":
        skips = "with skips" if arch["skip"] else "no skips"
        return f"CNN, {arch['blocks']} blocks of {arch['channels']} channels, {skips}"
    if kind == "onnx":
        return f"ONNX graph, {count}"
    return count


def model_title(spec: dict, meta: dict | None = None) -> str:
    """A short human title for a model spec (``meta`` adds a network's architecture and data: a
    built-in set's name, an uploaded file's name)."""
    if spec["model"] == "network":
        name = spec.get("example") or spec.get("module") or "uploaded checkpoint"
        if meta is None:
            return f"network: {name}"
        arch = meta["architecture"]
        count = f"{sum(math.prod(p['shape']) for p in meta.get('parameters', [])):,} parameters"
        data = meta["data"]["name"] if isinstance(meta["data"], dict) else meta["data"]
        return f"network: {name} ({_architecture_words(arch, count)}) on {data}, {meta['loss']}"
    if spec["model"] == "ising":
        kind = "SK glass" if spec["native_bias"] == 0 else "Ising spin funnel"
        return f"{kind}: N={spec['n']}, J0={spec['native_bias']:g}, seed {spec['seed']}"
    kind = "p-spin glass" if spec["planted"] == 0 else "planted p-spin"
    return (
        f"{kind}: N={spec['n']}, p={spec['p']}, lambda={spec['planted']:g}"
        f" (r={spec['planted_order']}), seed {spec['seed']}"
    )


COLORSCALES = ("Viridis", "Cividis", "Plasma", "Inferno", "Magma", "Greys")  # perceptually uniform
CLIPS = (None, 99.0, 95.0)  # percentiles
PLOT_KINDS = ("surface", "contour", "heatmap")  # a slice as a 3D surface or a 2D map
CONTOUR_LEVELS = 20  # contour lines of a slice (the surface's floor and the contour plot)
LEVELS_RANGE = (5, 60)
WEIGHT_DECAYS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)  # lambda of lambda |theta|^2 (networks)
DISPLAY_DEFAULTS = {"colorscale": COLORSCALE, "log": False, "clip": None, "kind": "surface",
                    "levels": CONTOUR_LEVELS, "weight_decay": 0.0}
CENTER_COLOR, POINT_COLOR = "#e45756", "#f58518"
SCENE_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 60}  # 3D scenes: the title above, colours below
MESSAGE_WIDTH = 60  # characters per line of a message drawn in place of a graph
ISOSURFACES = 5  # level sets drawn through a 3D slice


def scene_colorbar(title: str) -> dict:
    """A 3D scene's colour bar: under the scene, across it. A 3D scene projects with a fixed
    vertical field of view, so a bar beside it takes width the cube's labels need (they were cut
    off in a narrow panel); below, it takes height, which a wide panel has."""
    return {"title": {"text": title, "side": "top"}, "orientation": "h", "thickness": 10,
            "len": 0.6, "x": 0.5, "xanchor": "center", "y": 0, "yanchor": "top"}


def scene_camera(display: dict | None) -> dict:
    """The 3D camera of a figure: ``display["camera"]`` (a Plotly scene camera: eye, up,
    centre), else :data:`DEFAULT_CAMERA`."""
    return (display or {}).get("camera") or DEFAULT_CAMERA


def display_values(values: np.ndarray, unit: str, display: dict | None = None
                   ) -> tuple[np.ndarray, str, list[str]]:
    """(values to draw, axis label, notes) for the display options -- no recomputation.

    ``display``: ``log`` draws log10 of the values (only when all finite values are > 0, else a
    note and the linear values); ``clip`` (a percentile, e.g. 99) caps values above it, with a
    note saying how many; non-finite values (diverged losses) become gaps (NaN) with a note.
    """
    d = {**DISPLAY_DEFAULTS, **(display or {})}
    z = np.asarray(values, dtype=np.float64)
    notes = []
    finite = np.isfinite(z)
    if not finite.all():
        gaps = int((~finite).sum())
        notes.append(f"{_count(gaps, 'non-finite value')} (diverged) shown as gaps")
        z = np.where(finite, z, np.nan)
    label = unit
    if d["log"]:
        if finite.any() and np.all(z[finite] > 0):
            z, label = np.log10(z), f"log10 {unit}"
        else:
            notes.append("log scale needs positive values: shown linear")
    if d["clip"] and finite.any():
        cap = float(np.nanpercentile(z, d["clip"]))
        above = int(np.sum(z > cap))
        if above:
            z = np.minimum(z, cap)  # NaN stays NaN
            notes.append(f"{_count(above, 'value')} above the {d['clip']:g}th percentile "
                         f"({cap:.4g}) clipped")
    return z.astype(np.float32), label, notes


def _count(number: int, noun: str) -> str:
    """``1 value``, ``26 values``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def contour_spacing(z: np.ndarray, levels: int) -> dict | None:
    """``{"start", "end", "size"}`` of ``levels`` contour lines evenly spaced strictly inside the
    finite range of ``z`` (in the units drawn): lines at ``lo + k (hi - lo) / (levels + 1)``,
    k = 1..levels. None when ``z`` has no finite spread (a flat or empty slice)."""
    finite = np.asarray(z, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0 or not finite.max() > finite.min():
        return None
    lo, hi = float(finite.min()), float(finite.max())
    size = (hi - lo) / (levels + 1)
    return {"start": lo + size, "end": lo + levels * size, "size": size}


def _levels(display: dict) -> int:
    """The number of contour lines asked for, within LEVELS_RANGE."""
    lo, hi = LEVELS_RANGE
    return int(min(max(int(display["levels"] or CONTOUR_LEVELS), lo), hi))


def with_decay(result: Slice, strength: float) -> tuple[np.ndarray, str, list[str]]:
    """(values, unit label, notes) of a slice with weight decay ``strength`` |theta|^2 added
    (:mod:`landscapes.networks.regularization`: exact, from the cached centre and directions). Spin
    slices (on the sphere) are left as they are, with a note when a strength is set."""
    unit = result.meta["unit"]
    if not strength:
        return result.values, unit, []
    if result.geometry != "euclidean":
        return result.values, unit, ["weight decay applies to networks only: not added"]
    return (with_weight_decay(result, strength), f"{unit} + {strength:g} |theta|^2",
            [f"weight decay: {strength:g} |theta|^2 added to the computed loss"])


def _decay_at(result: Slice, display: dict, coef: list[float]) -> float:
    strength = display.get("weight_decay") or 0.0
    if not strength or result.geometry != "euclidean":
        return 0.0
    return float(strength * squared_norm_at(result, np.array([coef]))[0])


def _marks(result: Slice, display: dict, floor: float) -> list[dict]:
    """The points drawn on a slice, as plain data: the centre, a training trajectory (at height
    ``floor``), an upload's other checkpoints on a PCA plane and the points the plane passes
    through. Each: x, y, z (the drawn value, weight
    decay included), name, colour, ``line`` (a polyline rather than one marker) and a hover
    label."""
    def shown(energy: float, coef: list[float]) -> float:
        energy = energy + _decay_at(result, display, coef)
        return float(display_values(np.array([energy]), result.meta["unit"],
                                    {**display, "clip": None})[0][0])

    marks = [{"x": [0.0], "y": [0.0], "z": [shown(result.meta["center_energy"], [0.0, 0.0])],
              "name": f"centre: {result.meta['view'].get('center', 'checkpoint')}",
              "color": CENTER_COLOR, "line": False, "label": "centre"}]
    coords = result.extras.get("trajectory_coords")
    if coords is not None:  # the training trajectory, projected onto the plane, on the floor
        coords = np.asarray(coords, dtype=np.float32)
        marks.append({"x": coords[:, 0], "y": coords[:, 1],
                      "z": np.full(len(coords), floor, dtype=np.float32),
                      "name": "training trajectory (projected)", "color": CENTER_COLOR,
                      "line": True, "label": None})
    points = result.extras.get("checkpoint_coords")
    if points is not None:  # an upload's PCA: its checkpoints, on the surface at their losses
        for name, coef, loss in zip(result.meta["pca_points"], np.asarray(points, dtype=float),
                                    result.meta["pca_point_losses"], strict=True):
            xy = [float(c) for c in coef]
            if name != "center":
                marks.append({"x": [xy[0]], "y": [xy[1]], "z": [shown(loss, xy)], "name": name,
                              "color": POINT_COLOR, "line": False, "label": name})
    for k, energy in enumerate(result.meta.get("point_energies", [])):
        coef = [0.0, 0.0]
        coef[k] = 1.0
        target = result.meta["view"]["directions"].removeprefix("through:").split(",")[k]
        marks.append({"x": [coef[0]], "y": [coef[1]], "z": [shown(energy, coef)], "name": target,
                      "color": POINT_COLOR, "line": False, "label": target})
    return marks


def _mark_3d(mark: dict, unit: str) -> go.Scatter3d:
    style = ({"mode": "lines+markers", "line": {"color": mark["color"], "width": 4},
              "marker": {"size": 2, "color": mark["color"]}} if mark["line"]
             else {"mode": "markers", "marker": {"size": 4, "color": mark["color"]}})
    hover = {} if mark["label"] is None else {
        "hovertemplate": mark["label"] + "<br>" + unit + "=%{z:.5f}<extra></extra>"}
    return go.Scatter3d(x=mark["x"], y=mark["y"], z=mark["z"], name=mark["name"], **style, **hover)


def _mark_2d(mark: dict, unit: str) -> go.Scatter:
    style = ({"mode": "lines+markers", "line": {"color": mark["color"], "width": 2},
              "marker": {"size": 4, "color": mark["color"]}} if mark["line"]
             else {"mode": "markers", "marker": {"size": 9, "color": mark["color"],
                                                 "line": {"color": "white", "width": 1}}})
    hover = {} if mark["label"] is None else {
        "customdata": np.asarray(mark["z"], dtype=np.float32),
        "hovertemplate": mark["label"] + "<br>" + unit + "=%{customdata:.5f}<extra></extra>"}
    return go.Scatter(x=mark["x"], y=mark["y"], name=mark["name"], **style, **hover)


def _title(result: Slice, notes: list[str]) -> str:
    title = model_title(result.meta["model"], result.meta if "architecture" in result.meta else None)
    if "hessian_eigenvalues" in result.meta:
        title += "<br>Hessian eigenvalues: " + ", ".join(
            f"{v:.4g}" for v in result.meta["hessian_eigenvalues"])
    if "explained_variance" in result.meta:
        title += "<br>PCA explained variance: " + ", ".join(
            f"{v:.1%}" for v in result.meta["explained_variance"])
    if notes:
        title += "<br>" + "; ".join(notes)
    return title


def surface_figure(result: Slice, display: dict | None = None) -> go.Figure:
    """A 2D slice drawn as ``display["kind"]``: a rotatable 3D ``surface`` with its contour map
    projected on the floor (default), a filled ``contour`` map or a ``heatmap`` of the plane
    (a along d1, b along d2, coefficients in units of the directions).

    ``display`` (colour scale, log, clip: see :func:`display_values`; kind; ``levels``, the
    number of contour lines of the floor and the contour map; ``camera``: :func:`scene_camera`)
    changes only the drawing: every kind draws the same values. Every kind keeps ``uirevision``,
    so a redraw keeps the camera (3D) or the zoom (2D).
    """
    d = {**DISPLAY_DEFAULTS, **(display or {})}
    values, unit, decay_notes = with_decay(result, d["weight_decay"])
    z, unit, notes = display_values(values, unit, d)
    notes = decay_notes + notes
    floor = float(np.nanmin(z)) if np.isfinite(z).any() else 0.0
    marks = _marks(result, d, floor)
    spacing = contour_spacing(z, _levels(d))
    if d["kind"] in ("contour", "heatmap"):
        fig = _map_figure(result, z, unit, d, spacing)
        fig.add_traces([_mark_2d(mark, unit) for mark in marks])
    else:
        fig = _surface_3d(result, z, unit, d, spacing)
        fig.add_traces([_mark_3d(mark, unit) for mark in marks])
    fig.update_layout(title={"text": _title(result, notes), "font": {"size": 14}},
                      uirevision="landscape", showlegend=False)
    return fig


def _surface_3d(result: Slice, z: np.ndarray, unit: str, display: dict,
                spacing: dict | None) -> go.Figure:
    x, y = result.axes
    contours = {"show": True, "usecolormap": True, "project": {"z": True}, **(spacing or {})}
    surface = go.Surface(
        x=x.astype(np.float32),
        y=y.astype(np.float32),
        z=z,
        colorscale=display["colorscale"],
        colorbar=scene_colorbar(unit),
        contours={"z": contours},
        hovertemplate="a=%{x:.3f}<br>b=%{y:.3f}<br>" + unit + "=%{z:.5f}<extra></extra>",
        name="slice",
    )
    fig = go.Figure([surface])
    fig.update_layout(
        scene={
            "xaxis": {"title": {"text": "a (direction 1)"}},
            "yaxis": {"title": {"text": "b (direction 2)"}},
            "zaxis": {"title": {"text": unit}},
            "camera": scene_camera(display),
            "aspectmode": "cube",
        },
        margin=SCENE_MARGIN,
    )
    return fig


def _map_figure(result: Slice, z: np.ndarray, unit: str, display: dict,
                spacing: dict | None) -> go.Figure:
    """The plane seen from above: a filled contour map or a heatmap (2D axes: the camera sync
    of the 3D surfaces leaves it alone)."""
    x, y = (axis.astype(np.float32) for axis in result.axes)
    common = {"x": x, "y": y, "z": z, "colorscale": display["colorscale"], "name": "slice",
              "colorbar": {"title": {"text": unit}, "thickness": 12, "len": 0.8},
              "hovertemplate": "a=%{x:.3f}<br>b=%{y:.3f}<br>" + unit + "=%{z:.5f}<extra></extra>"}
    if display["kind"] == "heatmap":
        trace = go.Heatmap(**common)
    elif spacing is None:  # a flat slice: let Plotly choose (at most ``levels`` lines)
        trace = go.Contour(**common, autocontour=True, ncontours=_levels(display))
    else:
        trace = go.Contour(**common, autocontour=False, ncontours=_levels(display),
                           contours={**spacing, "coloring": "fill", "showlines": True},
                           line={"width": 0.5})
    fig = go.Figure([trace])
    fig.update_layout(
        xaxis={"title": {"text": "a (coefficient along d1)"}, "constrain": "domain"},
        yaxis={"title": {"text": "b (coefficient along d2)"}, "scaleanchor": "x",
               "scaleratio": 1, "constrain": "domain"},
        margin={"l": 60, "r": 10, "t": 60, "b": 50},
    )
    return fig


def slice_figure(result: Slice, display: dict | None = None) -> go.Figure:
    """Any slice as the dashboard draws it: 2D -- :func:`surface_figure`; 1D -- :func:`line_figure`;
    3D -- :func:`volume_figure` (the command line's 1D and 3D slices)."""
    draw = {1: line_figure, 2: surface_figure, 3: volume_figure}[result.dims]
    return draw(result, display)


def line_figure(result: Slice, display: dict | None = None) -> go.Figure:
    """A 1D slice: the value against the coefficient a along d1 (networks: the test loss too),
    with the display's log and clip (:func:`display_values`)."""
    d = {**DISPLAY_DEFAULTS, **(display or {})}
    lines = [("slice", result.values, PATH_COLORS["geodesic"])]
    if "test_loss" in result.extras:
        lines.append(("test loss", result.extras["test_loss"], PATH_COLORS["linear"]))
    x = np.asarray(result.axes[0], dtype=np.float32)
    fig = go.Figure()
    notes: list[str] = []
    for name, values, color in lines:
        y, unit, line_notes = display_values(values, result.meta["unit"], d)
        notes += [note for note in line_notes if note not in notes]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                 line={"color": color, "width": 2},
                                 hovertemplate="a=%{x:.3f}<br>%{y:.5f}<extra>" + name + "</extra>"))
    fig.update_layout(
        title={"text": _title(result, notes), "font": {"size": 14}},
        xaxis={"title": {"text": "a (coefficient along d1)"}}, yaxis={"title": {"text": unit}},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 60, "r": 10, "t": 60, "b": 50}, uirevision="landscape",
        showlegend=len(lines) > 1,
    )
    return fig


def volume_figure(result: Slice, display: dict | None = None) -> go.Figure:
    """A 3D slice: level sets of the value over the cube of coefficients (a, b, c along d1, d2,
    d3), in the display's colour scale, log and clip, and camera.

    ``display["level"]`` (a fraction in [0, 1] of the drawn value range; None: no choice)
    draws the one level set at ``lo + level (hi - lo)``, else :data:`ISOSURFACES` of them
    spread over the range. ``display["plane"]`` (a fraction in [-1, 1] of the c axis's half
    range: 0 through the centre; None: no plane) adds the grid's plane of c nearest it, as a
    flat surface coloured by its values on the same scale: the volume cut open there.
    """
    d = {**DISPLAY_DEFAULTS, **(display or {})}
    z, unit, notes = display_values(result.values, result.meta["unit"], d)
    coefs = grid_coefficients(result.axes).astype(np.float32)
    finite = z[np.isfinite(z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    level = d.get("level")
    if level is None:
        iso = {"isomin": lo, "isomax": hi, "surface_count": ISOSURFACES}
    else:
        value = lo + min(max(float(level), 0.0), 1.0) * (hi - lo)
        iso = {"isomin": value, "isomax": value, "surface_count": 1}
        notes = [*notes, f"level set {unit} = {value:.4g}"]
    volume = go.Isosurface(
        x=coefs[:, 0], y=coefs[:, 1], z=coefs[:, 2], value=z.ravel(), **iso,
        caps={"x_show": False, "y_show": False, "z_show": False}, cmin=lo, cmax=hi,
        colorscale=d["colorscale"], opacity=0.6, name="slice",
        colorbar=scene_colorbar(unit),
        hovertemplate="a=%{x:.3f}<br>b=%{y:.3f}<br>c=%{z:.3f}<br>" + unit
                      + "=%{value:.5f}<extra></extra>",
    )
    traces: list = [volume]
    if d.get("plane") is not None:
        a, b, c = (np.asarray(axis, dtype=np.float64) for axis in result.axes)
        k = int(np.argmin(np.abs(c - float(d["plane"]) * np.abs(c).max())))
        traces.append(go.Surface(
            x=a.astype(np.float32), y=b.astype(np.float32),
            z=np.full((b.size, a.size), c[k], dtype=np.float32), surfacecolor=z[k],
            cmin=lo, cmax=hi, colorscale=d["colorscale"], showscale=False, name="plane",
            hovertemplate="a=%{x:.3f}<br>b=%{y:.3f}<br>" + f"c={c[k]:.3f}<br>" + unit
                          + "=%{surfacecolor:.5f}<extra>plane</extra>"))
        notes = [*notes, f"plane c = {c[k]:.3g}"]
    fig = go.Figure(traces)
    fig.update_layout(
        title={"text": _title(result, notes), "font": {"size": 14}},
        scene={"xaxis": {"title": {"text": "a (direction 1)"}},
               "yaxis": {"title": {"text": "b (direction 2)"}},
               "zaxis": {"title": {"text": "c (direction 3)"}},
               "camera": scene_camera(d), "aspectmode": "cube"},
        uirevision="landscape", showlegend=False, margin=SCENE_MARGIN,
    )
    return fig


def path_view_figure(path: Slice, display: dict | None = None) -> go.Figure:
    """One path as the dashboard's path graph draws it (:func:`path_figure`)."""
    return path_figure([path], display)


def readable_range(lines: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float] | None:
    """The y range that keeps the segment between a path's two ends readable, or None when the
    whole path already is.

    ``lines``: (arc, values as drawn) of each line; the arc is the path's parameter, 0 at its
    start and 1 at its end (a straight line of networks runs on beyond both ends). Where the
    values outside [0, 1] reach more than five times the segment's height above the lowest
    value (the segment would fill less than a fifth of the graph: the digits CNN's loss shoots
    up to about 80,000 past alpha = 1.2 while the segment falls from 2.3 to 0), the range stops
    a little above the segment's highest value; None otherwise.
    """
    every = np.concatenate([np.ravel(v) for _, v in lines]).astype(np.float64)
    segment = np.concatenate([np.ravel(v)[(arc >= 0) & (arc <= 1)] for arc, v in lines])
    every, segment = every[np.isfinite(every)], segment[np.isfinite(segment)]
    if every.size == 0 or segment.size == 0:
        return None
    lo, hi, top = float(every.min()), float(every.max()), float(segment.max())
    if hi - lo <= 5 * (top - lo):
        return None
    pad = 0.05 * (top - lo) or 0.05 * abs(top) or 0.05
    return lo - pad, top + pad


def path_figure(paths: list[Slice], display: dict | None = None) -> go.Figure:
    """Energy along one or more paths between the same two points, against the arc fraction
    (each path its own).

    A network path shows its train and test loss (and, for a Bezier curve, the straight line).
    ``display``'s log scale and clipping apply as on the surface (:func:`display_values`, one
    percentile over every line). Without them, where the path runs on beyond its ends to
    values that would flatten the segment between them, the y range keeps that segment
    readable (:func:`readable_range`) and the title says how high the rest goes.
    """
    first, meta = paths[0], paths[0].meta
    lines: list[tuple[str, np.ndarray, np.ndarray, str | None, str]]  # name, arc, values, ...
    if meta["unit"] == "loss":
        arc = first.extras["arc"]
        lines = [("train", arc, first.values, "#1f77b4", "solid"),
                 ("test", arc, first.extras["test_loss"], "#ff7f0e", "solid")]
        if "line_loss" in first.extras:
            lines.append(("straight line (train)", arc, first.extras["line_loss"], "#7f7f7f",
                          "dash"))
        title, unit, x_title = _network_path_words(first)
    else:
        lines = [(p.meta["path_kind"], p.extras["arc"], p.values,
                  PATH_COLORS.get(p.meta["path_kind"]), "solid") for p in paths]
        title = f"path {meta['view']['from']} -> {meta['view']['to']}"
        unit, x_title = meta["unit"], "fraction of the way (angle for geodesic, t for linear)"
    joined, label, notes = display_values(
        np.concatenate([np.ravel(v) for _, _, v, _, _ in lines]), unit, display)
    shown = np.split(joined, np.cumsum([np.size(v) for _, _, v, _, _ in lines])[:-1])
    arcs = [np.asarray(arc, dtype=np.float64) for _, arc, _, _, _ in lines]
    d = {**DISPLAY_DEFAULTS, **(display or {})}
    span = None if d["log"] or d["clip"] else readable_range(list(zip(arcs, shown, strict=True)))
    if span is not None:
        beyond = max(float(np.nanmax(np.where((a >= 0) & (a <= 1), np.nan, y)))
                     for a, y in zip(arcs, shown, strict=True) if np.any((a < 0) | (a > 1)))
        notes.append(f"axis cut to the part between the ends; beyond them up to {beyond:.4g} "
                     "(log scale shows all)")
    fig = go.Figure([
        go.Scatter(x=a.astype(np.float32), y=y, mode="lines", name=name,
                   line={"color": color, "dash": dash, "width": 2},
                   hovertemplate="%{x:.3f}: %{y:.5g}<extra>" + name + "</extra>")
        for (name, _, _, color, dash), a, y in zip(lines, arcs, shown, strict=True)
    ])
    fig.update_layout(
        title={"text": "<br>".join([title, *notes]), "font": {"size": 13}},
        xaxis={"title": {"text": x_title}},
        yaxis={"title": {"text": label}, **({"range": list(span)} if span else {})},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 60, "r": 10, "t": 40 + 16 * len(notes), "b": 50},
        height=260,
    )
    return fig


def _network_path_words(path: Slice) -> tuple[str, str, str]:
    """(title, loss unit, x-axis title) of a network path."""
    view, meta = path.meta["view"], path.meta
    kind = "Bezier curve" if view["kind"] == "bezier" else "straight line"
    barrier = f"barrier {meta['barrier']:.3g}"
    if "line_barrier" in meta:
        barrier += f" (straight line {meta['line_barrier']:.3g})"
    x_title = "alpha (0 = start, 1 = end)" if view["kind"] == "linear" else "t along the curve"
    return f"{kind} {view['from']} -> {view['to']}: {barrier}", meta["loss_unit"], x_title


def magnitude_axis(values: np.ndarray) -> dict:
    """Axis settings for positive values that may span orders of magnitude: a log axis
    labelled at 1, 2 and 5 x 10^k when the finite values are all positive and span at least a
    decade (every digit labelled crowds a short log axis), else a linear one (a log axis over
    less than a decade labels every 0.0002 and shows nothing a linear one does not)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size and np.all(v > 0) and v.max() >= 10 * v.min():
        return {"type": "log", "dtick": "D2"}
    return {"type": "linear"}


def message_figure(text: str) -> go.Figure:
    """An empty figure showing ``text`` (for errors and empty states), wrapped to fit a panel,
    on the page's own background (no grey plot area standing in for a graph)."""
    lines = textwrap.wrap(text, MESSAGE_WIDTH, break_on_hyphens=False) or [""]
    fig = go.Figure()
    fig.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)",
        annotations=[{"text": "<br>".join(html.escape(line) for line in lines),
                      "showarrow": False, "font": {"size": 14}}],
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
    )
    return fig
