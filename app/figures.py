"""Figure builders: pure functions from computed arrays to Plotly figures (no Dash, no I/O).

Values go to the browser as float32 (half the payload of float64; Plotly 6+ sends numpy
arrays as typed binary). Every 3D scene carries ``uirevision`` so a recompute keeps the
user's camera.
"""

import numpy as np
import plotly.graph_objects as go

from landscapes.slices import Slice

DEFAULT_CAMERA = {"eye": {"x": 1.5, "y": 1.5, "z": 1.0}, "up": {"x": 0, "y": 0, "z": 1}}
COLORSCALE = "Viridis"  # perceptually uniform, colourblind-safe
PATH_COLORS = {"geodesic": "#1f77b4", "linear": "#d62728"}


def model_title(spec: dict, meta: dict | None = None) -> str:
    """A short human title for a model spec (``meta`` adds a network's architecture and data)."""
    if spec["model"] == "network":
        name = spec.get("example") or "uploaded checkpoint"
        if meta is None:
            return f"network: {name}"
        arch = meta["architecture"]
        shape = ("MLP " + "-".join(map(str, arch["sizes"])) if arch["type"] == "mlp"
                 else "CNN " + "-".join(map(str, arch["channels"])))
        return f"network: {name} ({shape}) on {meta['data']}, {meta['loss']}"
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
DISPLAY_DEFAULTS = {"colorscale": COLORSCALE, "log": False, "clip": None}


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
        notes.append(f"{int((~finite).sum())} non-finite values (diverged) shown as gaps")
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
            notes.append(f"{above} values above the {d['clip']:g}th percentile ({cap:.4g}) clipped")
    return z.astype(np.float32), label, notes


def surface_figure(result: Slice, display: dict | None = None) -> go.Figure:
    """A rotatable surface of a 2D slice with its contour map projected on the floor.

    ``display`` (colour scale, log, clip: see :func:`display_values`) changes only the drawing.
    """
    x, y = result.axes
    z, unit, notes = display_values(result.values, result.meta["unit"], display)
    surface = go.Surface(
        x=x.astype(np.float32),
        y=y.astype(np.float32),
        z=z,
        colorscale={**DISPLAY_DEFAULTS, **(display or {})}["colorscale"],
        colorbar={"title": {"text": unit}, "thickness": 12, "len": 0.7},
        contours={"z": {"show": True, "usecolormap": True, "project": {"z": True}}},
        hovertemplate="a=%{x:.3f}<br>b=%{y:.3f}<br>" + unit + "=%{z:.5f}<extra></extra>",
        name="slice",
    )
    center_value = display_values(np.array([result.meta["center_energy"]]),
                                  result.meta["unit"], {**(display or {}), "clip": None})[0][0]
    center = go.Scatter3d(
        x=[0.0], y=[0.0], z=[float(center_value)],
        mode="markers", marker={"size": 4, "color": "#e45756"},
        name=f"centre: {result.meta['view'].get('center', 'checkpoint')}",
        hovertemplate="centre<br>" + unit + "=%{z:.5f}<extra></extra>",
    )
    marks = [center]
    coords = result.extras.get("trajectory_coords")
    if coords is not None:  # the training trajectory, projected onto the plane, on the floor
        coords = np.asarray(coords, dtype=np.float32)
        marks.append(go.Scatter3d(
            x=coords[:, 0], y=coords[:, 1], z=np.full(len(coords), np.nanmin(z), dtype=np.float32),
            mode="lines+markers", line={"color": "#e45756", "width": 4},
            marker={"size": 2, "color": "#e45756"}, name="training trajectory (projected)",
        ))
    for k, energy in enumerate(result.meta.get("point_energies", [])):
        coef = [0.0, 0.0]
        coef[k] = 1.0
        target = result.meta["view"]["directions"].removeprefix("through:").split(",")[k]
        shown = display_values(np.array([energy]), result.meta["unit"],
                               {**(display or {}), "clip": None})[0][0]
        marks.append(go.Scatter3d(
            x=[coef[0]], y=[coef[1]], z=[float(shown)], mode="markers",
            marker={"size": 4, "color": "#f58518"}, name=target,
            hovertemplate=target + "<br>" + unit + "=%{z:.5f}<extra></extra>",
        ))
    fig = go.Figure([surface, *marks])
    title = model_title(result.meta["model"], result.meta if "architecture" in result.meta else None)
    if "hessian_eigenvalues" in result.meta:
        title += "<br>Hessian eigenvalues: " + ", ".join(
            f"{v:.4g}" for v in result.meta["hessian_eigenvalues"])
    if "explained_variance" in result.meta:
        title += "<br>PCA explained variance: " + ", ".join(
            f"{v:.1%}" for v in result.meta["explained_variance"])
    if notes:
        title += "<br>" + "; ".join(notes)
    fig.update_layout(
        title={"text": title, "font": {"size": 14}},
        scene={
            "xaxis": {"title": {"text": "a (direction 1)"}},
            "yaxis": {"title": {"text": "b (direction 2)"}},
            "zaxis": {"title": {"text": unit}},
            "camera": DEFAULT_CAMERA,
            "aspectmode": "cube",
        },
        uirevision="landscape",
        showlegend=False,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
    )
    return fig


def path_figure(paths: list[Slice]) -> go.Figure:
    """Energy along one or more paths between the same two points, against the arc fraction.

    A network path shows its train and test loss (and, for a Bezier curve, the straight line).
    """
    if paths[0].meta["unit"] == "loss":
        return _network_path_figure(paths[0])
    fig = go.Figure()
    for path in paths:
        kind = path.meta["path_kind"]
        fig.add_trace(
            go.Scatter(
                x=path.extras["arc"].astype(np.float32),
                y=path.values.astype(np.float32),
                mode="lines",
                name=kind,
                line={"color": PATH_COLORS.get(kind), "width": 2},
                hovertemplate="%{x:.3f}: %{y:.5f}<extra>" + kind + "</extra>",
            )
        )
    view = paths[0].meta["view"]
    fig.update_layout(
        title={"text": f"path {view['from']} -> {view['to']}", "font": {"size": 13}},
        xaxis={"title": {"text": "fraction of the way (angle for geodesic, t for linear)"}},
        yaxis={"title": {"text": paths[0].meta["unit"]}},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 60, "r": 10, "t": 40, "b": 50},
        height=260,
    )
    return fig


def _network_path_figure(path: Slice) -> go.Figure:
    view, meta = path.meta["view"], path.meta
    x = path.extras["arc"].astype(np.float32)
    lines = [("train", path.values, "#1f77b4", "solid"),
             ("test", path.extras["test_loss"], "#ff7f0e", "solid")]
    if "line_loss" in path.extras:
        lines.append(("straight line (train)", path.extras["line_loss"], "#7f7f7f", "dash"))
    fig = go.Figure([
        go.Scatter(x=x, y=np.asarray(y, dtype=np.float32), mode="lines", name=name,
                   line={"color": color, "dash": dash, "width": 2})
        for name, y, color, dash in lines
    ])
    kind = "Bezier curve" if view["kind"] == "bezier" else "straight line"
    barrier = f"barrier {meta['barrier']:.3g}"
    if "line_barrier" in meta:
        barrier += f" (straight line {meta['line_barrier']:.3g})"
    fig.update_layout(
        title={"text": f"{kind} {view['from']} -> {view['to']}: {barrier}", "font": {"size": 13}},
        xaxis={"title": {"text": "alpha (0 = start, 1 = end)" if view["kind"] == "linear"
                         else "t along the curve"}},
        yaxis={"title": {"text": meta["loss_unit"]}},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 60, "r": 10, "t": 40, "b": 50},
        height=260,
    )
    return fig


def message_figure(text: str) -> go.Figure:
    """An empty figure showing ``text`` (for errors and empty states)."""
    fig = go.Figure()
    fig.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": text, "showarrow": False, "font": {"size": 14}}],
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
    )
    return fig
