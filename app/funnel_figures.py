"""Figure builders for the funnel views (issue 5): pure functions from arrays to Plotly figures.

* :func:`funnel_diagram` -- energy per spin against the native overlap Q for every state
  (density shaded) with the lowest energy per Q: the folding-funnel diagram.
* :func:`free_energy_figure` -- F(Q; T) per spin.
* :func:`disconnectivity_figure` -- the barrier tree: energy vertical, one leaf per minimum at
  its energy, branches joining at the saddle energies, the global minimum's branch centred.
"""

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from landscapes.funnel import FunnelHistogram


@dataclass(frozen=True)
class TreeLayout:
    """Leaf x positions (M,) and line segments (K, 4) rows (x0, y0, x1, y1) of a barrier tree."""

    leaf_x: np.ndarray
    segments: np.ndarray


def tree_layout(minimum_energies: np.ndarray, merges: np.ndarray) -> TreeLayout:
    """Lay out a disconnectivity graph from ``merges`` rows (saddle energy, a, b).

    Merges are applied in ascending saddle energy; each creates a node over the two components.
    Every subtree keeps its lowest minimum in its middle and adds each higher branch on its
    less crowded side, so the global minimum ends up centred. Each merge draws two branches up
    to its saddle and one horizontal bar: 3 segments per merge.
    """
    energies = np.asarray(minimum_energies, dtype=np.float64)
    m = len(energies)
    # internal nodes get ids m, m+1, ...; each component is tracked by its lowest minimum
    members = {k: [k] for k in range(m)}
    height = {k: energies[k] for k in range(m)}
    children: dict[int, list[int]] = {}
    root_of = list(range(m))

    def find(k: int) -> int:
        while root_of[k] != k:
            k = root_of[k]
        return k

    nodes = {k: k for k in range(m)}  # component root -> current top node id
    next_id = m
    for saddle, a, b in sorted(np.asarray(merges, dtype=np.float64).tolist()):
        ra, rb = find(int(a)), find(int(b))
        if ra == rb:
            continue
        low, high = (ra, rb) if energies[ra] <= energies[rb] else (rb, ra)
        node = next_id
        next_id += 1
        children[node] = [nodes[low], nodes[high]]
        height[node] = saddle
        members[node] = members[nodes[low]] + members[nodes[high]]
        root_of[high] = low
        nodes[low] = node

    def place(node: int) -> tuple[list[int], int, list[int]]:
        """(leaves left of, lowest leaf, leaves right of): the lowest leaf of each subtree stays
        in the middle; each higher branch goes to the side with fewer leaves."""
        if node < m:
            return [], node, []
        left, centre, right = place(children[node][0])
        hl, hc, hr = place(children[node][1])
        high = hl + [hc] + hr
        if len(left) <= len(right):
            left = high + left
        else:
            right = right + high
        return left, centre, right

    tops = sorted({nodes[find(k)] for k in range(m)}, key=lambda n: min(energies[members[n]]))
    order: list[int] = []
    for top in tops:
        left, centre, right = place(top)
        order += left + [centre] + right
    leaf_x = np.empty(m)
    leaf_x[order] = np.arange(m, dtype=np.float64)

    segments = []

    def draw(node: int) -> float:
        if node < m:
            return leaf_x[node]
        xs = [draw(c) for c in children[node]]
        for c, x in zip(children[node], xs, strict=True):
            segments.append((x, height[c], x, height[node]))  # a branch up to the saddle
        segments.append((min(xs), height[node], max(xs), height[node]))
        return float(np.mean(xs))

    for top in tops:
        draw(top)
    return TreeLayout(leaf_x, np.array(segments, dtype=np.float64).reshape(-1, 4))


def disconnectivity_figure(minimum_energies: np.ndarray, merges: np.ndarray,
                           basin_share: np.ndarray, minima: np.ndarray) -> go.Figure:
    """The barrier tree; each leaf is a minimum (hover: state index, energy, basin share)."""
    layout = tree_layout(minimum_energies, merges)
    xs, ys = [], []
    for x0, y0, x1, y1 in layout.segments:
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    lines = go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#444", "width": 1.5},
                       hoverinfo="skip", name="branches")
    leaves = go.Scatter(
        x=layout.leaf_x, y=minimum_energies, mode="markers", name="minima",
        marker={"size": 6 + 30 * np.sqrt(basin_share), "color": "#1f77b4"},
        customdata=np.stack([minima, basin_share], axis=1),
        hovertemplate="state %{customdata[0]}<br>E/N=%{y:.5f}<br>basin %{customdata[1]:.1%}"
                      "<extra></extra>",
    )
    fig = go.Figure([lines, leaves])
    fig.update_layout(xaxis={"visible": False}, yaxis={"title": {"text": "energy per spin"}},
                      showlegend=False, margin={"l": 60, "r": 10, "t": 30, "b": 20})
    return fig


def funnel_diagram(hist: FunnelHistogram) -> go.Figure:
    """Folding-funnel diagram: state density over (Q, E) and the lowest energy per Q."""
    edges = hist.energy_edges
    centres = (edges[:-1] + edges[1:]) / 2
    density = np.where(hist.density > 0, np.log10(np.maximum(hist.density, 1)), np.nan)
    heat = go.Heatmap(x=hist.q_values, y=centres, z=density.T.astype(np.float32),
                      colorscale="Viridis", colorbar={"title": {"text": "log10 states"}},
                      hovertemplate="Q=%{x:.3f}<br>E/N=%{y:.4f}<br>log10 count %{z:.2f}"
                                    "<extra></extra>")
    lowest = go.Scatter(x=hist.q_values, y=hist.lowest_energy, mode="lines+markers",
                        name="lowest energy", line={"color": "#e45756"})
    fig = go.Figure([heat, lowest])
    fig.update_layout(xaxis={"title": {"text": "native overlap Q"}},
                      yaxis={"title": {"text": "energy per spin"}},
                      margin={"l": 60, "r": 10, "t": 30, "b": 50})
    return fig


def free_energy_figure(q: np.ndarray, free: np.ndarray, temperature: float) -> go.Figure:
    """F(Q; T) per spin (gaps where no state has that overlap)."""
    y = np.where(np.isfinite(free), free, np.nan)
    fig = go.Figure(go.Scatter(x=q, y=y, mode="lines+markers", name=f"T = {temperature:g}"))
    fig.update_layout(xaxis={"title": {"text": "native overlap Q"}},
                      yaxis={"title": {"text": "free energy per spin F(Q; T)"}},
                      margin={"l": 60, "r": 10, "t": 30, "b": 50})
    return fig
