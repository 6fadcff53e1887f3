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


def model_title(spec: dict) -> str:
    """A short human title for a model spec."""
    if spec["model"] == "ising":
        kind = "SK glass" if spec["native_bias"] == 0 else "Ising spin funnel"
        return f"{kind}: N={spec['n']}, J0={spec['native_bias']:g}, seed {spec['seed']}"
    kind = "p-spin glass" if spec["planted"] == 0 else "planted p-spin"
    return (
        f"{kind}: N={spec['n']}, p={spec['p']}, lambda={spec['planted']:g}"
        f" (r={spec['planted_order']}), seed {spec['seed']}"
    )


def surface_figure(result: Slice) -> go.Figure:
    """A rotatable surface of a 2D slice with its contour map projected on the floor."""
    x, y = result.axes
    z = result.values.astype(np.float32)
    unit = result.meta["unit"]
    surface = go.Surface(
        x=x.astype(np.float32),
        y=y.astype(np.float32),
        z=z,
        colorscale=COLORSCALE,
        colorbar={"title": {"text": unit}, "thickness": 12, "len": 0.7},
        contours={"z": {"show": True, "usecolormap": True, "project": {"z": True}}},
        hovertemplate="a=%{x:.3f}<br>b=%{y:.3f}<br>" + unit + "=%{z:.5f}<extra></extra>",
        name="slice",
    )
    center = go.Scatter3d(
        x=[0.0], y=[0.0], z=[float(result.meta["center_energy"])],
        mode="markers", marker={"size": 4, "color": "#e45756"},
        name=f"centre: {result.meta['view']['center']}",
        hovertemplate="centre<br>" + unit + "=%{z:.5f}<extra></extra>",
    )
    marks = [center]
    for k, energy in enumerate(result.meta.get("point_energies", [])):
        coef = [0.0, 0.0]
        coef[k] = 1.0
        target = result.meta["view"]["directions"].removeprefix("through:").split(",")[k]
        marks.append(go.Scatter3d(
            x=[coef[0]], y=[coef[1]], z=[energy], mode="markers",
            marker={"size": 4, "color": "#f58518"}, name=target,
            hovertemplate=target + "<br>" + unit + "=%{z:.5f}<extra></extra>",
        ))
    fig = go.Figure([surface, *marks])
    fig.update_layout(
        title={"text": model_title(result.meta["model"]), "font": {"size": 14}},
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
    """Energy along one or more paths between the same two points, against the arc fraction."""
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
