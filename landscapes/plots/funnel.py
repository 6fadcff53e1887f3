"""Figure builders for the funnel views (funnel, barrier tree, F(Q; T), size sweep): pure
functions from arrays to Plotly figures.

* :func:`funnel_diagram` -- energy per spin against the native overlap Q for every state
  (density shaded) with the lowest energy per Q: the folding-funnel diagram.
* :func:`funnel_surface_figure` -- the same profile as a rotatable 3D surface of revolution
  (depth = lowest energy, width = configurational entropy, rim roughness = spread of minima).
* :func:`free_energy_figure` -- F(Q; T) per spin at one temperature, with T vs T_f and the
  two-state barrier in the title; :func:`temperature_marks` -- marks for its temperature slider.
* :func:`disconnectivity_figure` -- the barrier tree: energy vertical, one leaf per minimum at
  its energy, branches joining at the saddle energies, the global minimum's branch centred.
* :func:`sweep_figure`, :func:`sweep_table_rows` -- how the funnel sharpens with system size:
  mean +- std over seeds against N.
* :func:`funnel_view_figure`, :func:`sweep_view_figure`, :func:`free_energy_view_figure`,
  :func:`enumeration_figure` -- the figure of a whole funnel, sweep, free-energy (the command
  line's ``funnel``) or enumeration result (:class:`~landscapes.results.ViewResult`): what the
  dashboard's main graph shows and the HTML export embeds.

Inputs are plain numpy arrays named as the library hands them to the app (energies per spin,
Q = native overlap over its N+1 exact values, minima mirror-folded: a minimum and its mirror -s
are one entry with overlap |Q|). Nothing here draws random numbers.
"""

import textwrap
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from landscapes.plots.slices import (
    COLORSCALE,
    DEFAULT_CAMERA,
    SCENE_MARGIN,
    magnitude_axis,
    model_title,
    scene_camera,
    scene_colorbar,
)
from landscapes.results import ViewResult
from landscapes.spin.funnel import FunnelHistogram, two_state_barrier

GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0  # deterministic, well-spread phases and angles
GOLDEN_ANGLE = 2.0 * np.pi * (1.0 - GOLDEN)
ROUGHNESS_HARMONICS = np.arange(3, 9)  # angular frequencies of the rim pattern
GROUND_COLOR, MINIMUM_COLOR = "#e45756", "#222222"


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
        left, center, right = place(children[node][0])
        hl, hc, hr = place(children[node][1])
        high = hl + [hc] + hr
        if len(left) <= len(right):
            left = high + left
        else:
            right = right + high
        return left, center, right

    tops = sorted({nodes[find(k)] for k in range(m)}, key=lambda n: min(energies[members[n]]))
    order: list[int] = []
    for top in tops:
        left, center, right = place(top)
        order += left + [center] + right
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
        customdata=np.stack([minima, basin_share], axis=1).tolist(),  # lists: click data
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
    centers = (edges[:-1] + edges[1:]) / 2
    density = np.where(hist.density > 0, np.log10(np.maximum(hist.density, 1)), np.nan)
    heat = go.Heatmap(x=hist.q_values, y=centers, z=density.T.astype(np.float32),
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




# --- the 3D folding funnel -------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelRings:
    """The profile folded onto |Q|, one ring per |Q| level in ascending |Q| (rim first, tip last).

    ``abs_q`` (R,); ``lowest_energy`` (R,) per spin, the lowest over +Q and -Q; ``entropy`` (R,)
    ln count at that |Q| (one side: count(Q) = count(-Q)); ``radius`` (R,) = entropy / its
    maximum; ``roughness`` (R,) population std of the minima energies in that ring (0 for none
    or one); ``ring_of_minimum`` (M,) the ring index of each minimum.
    """

    abs_q: np.ndarray
    lowest_energy: np.ndarray
    entropy: np.ndarray
    radius: np.ndarray
    roughness: np.ndarray
    ring_of_minimum: np.ndarray


def funnel_rings(q_values: np.ndarray, q_lowest_energy: np.ndarray, q_entropy: np.ndarray,
                 minimum_overlaps: np.ndarray, minimum_energies: np.ndarray) -> FunnelRings:
    """Fold the per-Q profile onto |Q| and measure the rim roughness per ring (see
    :func:`funnel_surface_figure`). Levels with no state (NaN energy / -inf entropy) are dropped."""
    q = np.abs(np.asarray(q_values, dtype=np.float64))
    low = np.asarray(q_lowest_energy, dtype=np.float64)
    ent = np.asarray(q_entropy, dtype=np.float64)
    occupied = np.isfinite(low) & np.isfinite(ent)
    levels = np.unique(np.round(q[occupied], 9))
    if levels.size == 0:
        raise ValueError("the profile has no occupied overlap value")
    lowest = np.array([low[occupied & np.isclose(q, a, atol=1e-9)].min() for a in levels])
    entropy = np.array([ent[occupied & np.isclose(q, a, atol=1e-9)].max() for a in levels])
    top = entropy.max()
    radius = entropy / top if top > 0 else np.zeros_like(entropy)

    m_q = np.abs(np.asarray(minimum_overlaps, dtype=np.float64))
    m_e = np.asarray(minimum_energies, dtype=np.float64)
    ring = np.abs(m_q[:, None] - levels[None, :]).argmin(axis=1) if m_q.size else np.zeros(0, int)
    roughness = np.zeros(levels.size)
    for j in range(levels.size):
        e = m_e[ring == j]
        if e.size > 1:
            roughness[j] = float(e.std())
    return FunnelRings(levels, lowest, entropy, radius, roughness, ring)


def rim_pattern(ring: int, theta: np.ndarray) -> np.ndarray:
    """A deterministic rough pattern in [0, 1] around ring ``ring`` (min 0 and max 1 on ``theta``).

    A sum of harmonics 3..8 with 1/h weights and golden-ratio phases that differ per ring: the
    same numbers on every call, no random state. Periodic, so theta = 0 and 2 pi agree.
    """
    h = ROUGHNESS_HARMONICS[:, None]
    phase = 2.0 * np.pi * (((ring + 1) * h * GOLDEN) % 1.0)
    wave = (np.cos(h * theta[None, :] + phase) / h).sum(axis=0)
    return (wave - wave.min()) / (wave.max() - wave.min())


def funnel_surface_figure(q_values: np.ndarray, q_lowest_energy: np.ndarray, q_entropy: np.ndarray,
                          minimum_overlaps: np.ndarray, minimum_energies: np.ndarray,
                          title: str | None = None, basin_share: np.ndarray | None = None,
                          angular_steps: int = 72) -> go.Figure:
    """The rotatable 3D folding funnel: a surface of revolution around the native state.

    * Q is folded onto |Q| (E(s) = E(-s), so the profile is symmetric; each ring takes the lowest
      energy over +Q and -Q). One surface row per |Q| level, ascending |Q|: row 0 is the rim,
      the last row (|Q| = 1, the native state and its mirror) the tip.
    * Height z = the lowest energy per spin at that |Q|.
    * Radius r = S(|Q|) / S_max with S = ln count(Q), the configurational entropy of one side
      (S_max = S(0) for even N; the |Q| = 1/N ring for odd N). Chosen rather than r = 1 - |Q|
      because the width of a folding funnel *is* its conformational entropy (Wolynes, Onuchic):
      r = 1 at the rim, 0 at |Q| = 1 (one state), so the native state is the tip at the centre
      and the cone narrows as fast as the states run out. Note count(Q) = C(N, N(1+Q)/2) for
      every model, so all models of one N share the radii: the difference between a funnel and
      a glass is all in the heights and the roughness, which is what the eye should compare.
    * Rim roughness: around ring j the height is ``lowest_j + A_j * rim_pattern(j, theta)``, with
      ``A_j`` the population std of the energies of the minima whose |Q| falls in ring j (0 where
      there are none or one). The pattern is deterministic and in [0, 1]: bumps go *up* from the
      lowest energy, so the surface never dips below a state that exists, and the ring's lowest
      point is the true lowest energy.
    * Each (mirror-folded) minimum is a marker at its ring's radius, at its own energy (at or
      above the surface there), angles spread evenly around the ring (offset per ring by the
      golden angle); hover gives its energy and |Q|. The lowest minimum is red. Marker size
      follows ``basin_share`` when given.

    The scene uses x, y, z axes and the app's default camera (``layout.scene.camera``), like the
    slice surfaces, so the two panels' cameras can be kept in step.
    """
    rings = funnel_rings(q_values, q_lowest_energy, q_entropy, minimum_overlaps, minimum_energies)
    theta = np.linspace(0.0, 2.0 * np.pi, angular_steps + 1)
    rows = len(rings.abs_q)
    pattern = np.stack([rim_pattern(j, theta) for j in range(rows)])
    z = rings.lowest_energy[:, None] + rings.roughness[:, None] * pattern
    x = rings.radius[:, None] * np.cos(theta)[None, :]
    y = rings.radius[:, None] * np.sin(theta)[None, :]
    text = [[f"|Q|={a:.3f}<br>lowest E/N={e:.4f}<br>minima spread {s:.4f}"] * theta.size
            for a, e, s in zip(rings.abs_q, rings.lowest_energy, rings.roughness, strict=True)]
    surface = go.Surface(
        x=x.astype(np.float32), y=y.astype(np.float32), z=z.astype(np.float32), text=text,
        colorscale=COLORSCALE, colorbar=scene_colorbar("energy per spin"),
        hovertemplate="%{text}<br>height %{z:.4f}<extra></extra>", name="funnel",
        meta={"abs_q": rings.abs_q.tolist(), "roughness": rings.roughness.tolist()},
    )

    m_e = np.asarray(minimum_energies, dtype=np.float64)
    m_q = np.abs(np.asarray(minimum_overlaps, dtype=np.float64))
    angle = np.zeros(m_e.size)
    for j in range(rows):
        members = np.flatnonzero(rings.ring_of_minimum == j)
        angle[members] = j * GOLDEN_ANGLE + 2.0 * np.pi * np.arange(members.size) / max(members.size, 1)
    r = rings.radius[rings.ring_of_minimum] if m_e.size else np.zeros(0)
    size = (5.0 + 25.0 * np.sqrt(np.asarray(basin_share, dtype=np.float64))
            if basin_share is not None else np.full(m_e.size, 5.0))
    color = [GROUND_COLOR if k == int(np.argmin(m_e)) else MINIMUM_COLOR for k in range(m_e.size)]
    minima = go.Scatter3d(
        x=r * np.cos(angle), y=r * np.sin(angle), z=m_e, mode="markers", name="minima",
        marker={"size": size, "color": color, "line": {"width": 0}},
        customdata=m_q,
        hovertemplate="minimum<br>E/N=%{z:.5f}<br>|Q|=%{customdata:.3f}<extra></extra>",
    )
    fig = go.Figure([surface, minima])
    depth = rings.lowest_energy[0] - rings.lowest_energy[-1]
    heading = title or (f"folding funnel: rim-to-tip depth {depth:+.3f} per spin, {m_e.size} "
                        f"{'minimum' if m_e.size == 1 else 'minima'} (mirror pairs as one)")
    lines = [heading, *inverted_note(depth)]
    fig.update_layout(
        title={"text": "<br>".join(lines), "font": {"size": 14}},
        scene={
            "xaxis": {"title": {"text": "x (radius = S(|Q|)/S_max)"}},
            "yaxis": {"title": {"text": "y"}},
            "zaxis": {"title": {"text": "energy per spin"}},
            "camera": DEFAULT_CAMERA,
            "aspectmode": "cube",
        },
        uirevision="landscape", showlegend=False,
        margin={**SCENE_MARGIN, "t": SCENE_MARGIN["t"] + 18 * (len(lines) - 1)},
    )
    return fig


NOTE_WIDTH = 80  # characters per title line: a 3D panel's title fits about 90 at 14 px


def inverted_note(depth: float) -> list[str]:
    """The lines that explain a funnel drawn upside down (``depth``: the rim's lowest energy
    minus the tip's, per spin; negative when the tip is higher), else none.

    The tip is the reference state of the overlap Q. A glass has no native state: its
    "native" reference is a random state, far above the low states at the rim, so its surface
    rises to a spike where a funnel would narrow to its lowest point (a weakly biased model's
    native state can lie above the rim too: N = 8, J0 = 1.5).
    """
    if not depth < 0:  # a funnel (or no number to say anything of)
        return []
    note = (f"inverted: the tip (|Q| = 1, the reference state) lies {-depth:.3f} per spin "
            "above the rim's lowest energy, so nothing funnels into it. The native state is a "
            "low state only under a strong bias J0 (a glass's is a random state): measure Q "
            "from the ground state instead.")
    return textwrap.wrap(note, NOTE_WIDTH)


def funnel_view_figure(result: ViewResult, display: dict | None = None) -> go.Figure:
    """The dashboard's folding funnel of a ``funnel`` result (:func:`funnel_surface_figure`,
    titled with the model, minima sized by basin share), seen from ``display["camera"]``."""
    a = result.arrays
    fig = funnel_surface_figure(
        a["q_values"], a["q_lowest_energy"], a["q_entropy"], a["minimum_overlaps"],
        a["minimum_energies"], title="folding funnel: " + model_title(result.meta["model"]),
        basin_share=a["basin_share"])
    fig.update_layout(scene={"camera": scene_camera(display)})
    return fig


def enumeration_figure(result: ViewResult, display: dict | None = None) -> go.Figure:
    """An exact enumeration (the command line's ``enumerate``): the lowest energy per spin at
    each native overlap Q and every single-spin-flip minimum at its (Q, E), sized by basin share,
    the lowest in red -- the colours and sizes of :func:`funnel_surface_figure`. ``display`` is
    accepted for the uniform figure signature and changes nothing."""
    a = result.arrays
    energies = np.asarray(a["minimum_energies"], dtype=np.float64)
    share = np.asarray(a["basin_share"], dtype=np.float64)
    color = [GROUND_COLOR if k == int(np.argmin(energies)) else MINIMUM_COLOR
             for k in range(energies.size)]
    profile = go.Scatter(
        x=a["q_values"], y=a["q_lowest_energy"], mode="lines+markers", name="lowest energy at Q",
        line={"color": "#1f77b4", "width": 2},
        hovertemplate="Q=%{x:.3f}<br>lowest E/N=%{y:.5f}<extra></extra>")
    minima = go.Scatter(
        x=np.asarray(a["overlaps"])[np.asarray(a["minima"])], y=energies, mode="markers",
        name="local minima (size: basin share)", customdata=share,
        marker={"size": 5.0 + 25.0 * np.sqrt(share), "color": color, "line": {"width": 0}},
        hovertemplate="minimum<br>Q=%{x:.3f}<br>E/N=%{y:.5f}<br>basin %{customdata:.1%}"
                      "<extra></extra>")
    fig = go.Figure([profile, minima])
    fig.update_layout(
        title={"text": f"every state enumerated: {model_title(result.meta['model'])}, "
                       f"{energies.size} minima", "font": {"size": 13}},
        xaxis={"title": {"text": "native overlap Q"}},
        yaxis={"title": {"text": "energy per spin"}},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        margin={"l": 60, "r": 10, "t": 60, "b": 50},
    )
    return fig


def funnel_proxies(q_values: np.ndarray, q_lowest_energy: np.ndarray, q_entropy: np.ndarray,
                   minimum_overlaps: np.ndarray, minimum_energies: np.ndarray) -> dict[str, float]:
    """Numbers that tell a funnel from a glass in :func:`funnel_surface_figure`, per spin:
    ``depth`` rim height minus tip height (> 0: the native state is the bottom of a cone),
    ``roughness`` the largest rim amplitude, ``monotone`` the fraction of ring-to-ring steps
    (rim to tip) that go down."""
    rings = funnel_rings(q_values, q_lowest_energy, q_entropy, minimum_overlaps, minimum_energies)
    steps = np.diff(rings.lowest_energy)
    return {
        "depth": float(rings.lowest_energy[0] - rings.lowest_energy[-1]),
        "roughness": float(rings.roughness.max()),
        "monotone": float((steps < 0).mean()) if steps.size else 1.0,
    }


# --- free energy F(Q; T) ---------------------------------------------------------------------


def free_energy_figure(q: np.ndarray, free: np.ndarray, temperature: float,
                       folding_temperature: float | None = None, barrier: float | None = None,
                       n: int | None = None) -> go.Figure:
    """F(Q; T) per spin at one temperature (gaps, NaN, where no state has that overlap).

    The title says whether T is below or above the folding temperature T_f (when one is given)
    and whether the profile is two-state -- a free-energy barrier > 0 between the unfolded and
    native minima, printed per spin and as N * barrier / T in units of kT -- or downhill.
    ``barrier`` per spin is computed with :func:`landscapes.spin.funnel.two_state_barrier` when not
    given; ``n`` defaults to ``len(q) - 1`` (q over the N+1 exact overlaps).
    """
    q = np.asarray(q, dtype=np.float64)
    free = np.asarray(free, dtype=np.float64)
    n = len(q) - 1 if n is None else n
    y = np.where(np.isfinite(free), free, np.nan)
    fig = go.Figure(go.Scatter(x=q, y=y, mode="lines+markers", name=f"T = {temperature:g}",
                               connectgaps=False,
                               hovertemplate="Q=%{x:.3f}<br>F/N=%{y:.5f}<extra></extra>"))
    fig.update_layout(title={"text": free_energy_title(q, free, temperature, folding_temperature,
                                                       barrier, n), "font": {"size": 13}},
                      xaxis={"title": {"text": "native overlap Q"}},
                      yaxis={"title": {"text": "free energy per spin F(Q; T)"}},
                      margin={"l": 60, "r": 10, "t": 60, "b": 50})
    return fig


def free_energy_view_figure(result: ViewResult, display: dict | None = None) -> go.Figure:
    """A ``free energy`` result (the command line's ``funnel``: F(Q; T) at ``meta["temperature"]``)
    as the dashboard's F(Q; T) graph (:func:`free_energy_figure`); ``display`` changes nothing."""
    a, meta = result.arrays, result.meta
    return free_energy_figure(a["q_values"], a["free_energy"], float(meta["temperature"]),
                              meta.get("folding_temperature"), meta.get("two_state_barrier"))


def free_energy_title(q: np.ndarray, free: np.ndarray, temperature: float,
                      folding_temperature: float | None, barrier: float | None, n: int) -> str:
    """The two-line note of :func:`free_energy_figure`."""
    line = f"F(Q; T) at T = {temperature:.3g}"
    if folding_temperature is None or not np.isfinite(folding_temperature):
        line += ": no folding temperature found"
    elif np.isclose(temperature, folding_temperature, rtol=1e-6, atol=0.0):
        line += " = T_f: at the folding temperature"
    elif temperature < folding_temperature:
        line += f" < T_f = {folding_temperature:.3g}: below the folding temperature (folded)"
    else:
        line += f" > T_f = {folding_temperature:.3g}: above the folding temperature (unfolded)"
    if barrier is None:
        try:
            barrier = two_state_barrier(q, free)
        except ValueError:
            return line
    if not np.isfinite(barrier):
        return line
    if barrier > 1e-12:
        note = (f"two-state: barrier {barrier:.4f} per spin between unfolded and native minima"
                f" = {n * barrier / temperature:.2f} kT")
    elif folding_temperature is None or not np.isfinite(folding_temperature):
        return line  # no native basin is ever the lowest: "downhill" to it would be false
    else:
        note = "downhill: no free-energy barrier between unfolded and native"
    return line + "<br>" + note


def temperature_marks(temperatures: np.ndarray, folding_temperature: float | None,
                      count: int = 5) -> dict[int, str]:
    """Marks for a ``dcc.Slider`` over the index of the temperature grid.

    ``count`` evenly spaced indices (ends included) labelled with their temperature, and a mark
    labelled "T_f" at the grid index nearest T_f (smallest |T - T_f|) when T_f is given and lies
    within the grid; numbered marks too close to it (within 8% of the grid) are left out so the
    labels do not overlap.
    """
    t = np.asarray(temperatures, dtype=np.float64)
    if t.size == 0:
        return {}
    index = np.unique(np.rint(np.linspace(0, t.size - 1, min(count, t.size))).astype(int))
    marks = {int(k): f"{t[k]:.3g}" for k in index}
    if folding_temperature is not None and np.isfinite(folding_temperature) \
            and t.min() <= folding_temperature <= t.max():
        k_f = int(np.argmin(np.abs(t - folding_temperature)))
        gap = max(1, int(round(0.08 * (t.size - 1))))
        marks = {k: v for k, v in marks.items() if abs(k - k_f) >= gap}
        marks[k_f] = "T_f"
    return dict(sorted(marks.items()))


# --- size sweep ------------------------------------------------------------------------------

SWEEP_PANELS = (
    ("ground basin share", "share of states"),
    ("minima (mirror pairs folded)", "count"),
    ("largest barrier into the ground basin", "per spin"),
    ("folding temperature T_f", "T_f"),
)
#: the range each sweep quantity can take (a share, a count of at least one minimum, a barrier
#: and a temperature that cannot be negative): its error bars stop at the ends
SWEEP_BOUNDS = ((0.0, 1.0), (1.0, np.inf), (0.0, np.inf), (0.0, np.inf))


def bounded_error(mean: np.ndarray, std: np.ndarray, bounds: tuple[float, float]) -> dict:
    """A Plotly ``error_y`` of mean +- std that stops at the ends of ``bounds`` (a basin share's
    bar never above 1, a barrier's never below 0): asymmetric where an end cuts it."""
    lo, hi = bounds
    return {"type": "data", "symmetric": False, "visible": True,
            "array": np.minimum(std, np.maximum(hi - mean, 0.0)),
            "arrayminus": np.minimum(std, np.maximum(mean - lo, 0.0))}


def seed_mean_std(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, std, count) over seeds (axis 1) of the finite entries; NaN where none is finite."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    count = finite.sum(axis=1)
    safe = np.maximum(count, 1)
    mean = np.where(finite, v, 0.0).sum(axis=1) / safe
    var = (np.where(finite, v - mean[:, None], 0.0) ** 2).sum(axis=1) / safe
    return np.where(count > 0, mean, np.nan), np.where(count > 0, np.sqrt(var), np.nan), count


def sweep_figure(sizes: np.ndarray, ground_basin_share: np.ndarray, minima_count: np.ndarray,
                 largest_barrier: np.ndarray, folding_temperature: np.ndarray | None = None
                 ) -> go.Figure:
    """How the funnel sharpens with size: mean +- std over seeds (axis 1) of each quantity against
    N, one panel each (shared N axis), every seed a faint dot behind. ``folding_temperature``
    (S, K), NaN where a seed has none, adds a fourth panel; its mean is over the seeds that have
    one. The minima count is on a log axis where it spans a decade (a glass's minima grow
    exponentially with N; :func:`~landscapes.plots.slices.magnitude_axis`). Error
    bars stop at the ends of each quantity's range (:data:`SWEEP_BOUNDS`).
    Traces come in pairs per panel: ``"<panel>: seeds"`` then ``"<panel>: mean +- std"``.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    series = [ground_basin_share, minima_count, largest_barrier]
    if folding_temperature is not None:
        series.append(folding_temperature)
    panels = SWEEP_PANELS[: len(series)]
    fig = make_subplots(rows=len(series), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[name for name, _ in panels])
    for row, ((name, unit), values, bounds) in enumerate(
            zip(panels, series, SWEEP_BOUNDS[: len(series)], strict=True), start=1):
        v = np.asarray(values, dtype=np.float64)
        mean, std, _ = seed_mean_std(v)
        xs = np.repeat(sizes, v.shape[1])
        fig.add_trace(go.Scatter(x=xs, y=v.reshape(-1), mode="markers", name=f"{name}: seeds",
                                 marker={"size": 4, "color": "rgba(31,119,180,0.25)"},
                                 hovertemplate="N=%{x}<br>%{y:.4g}<extra>seed</extra>"),
                      row=row, col=1)
        fig.add_trace(go.Scatter(x=sizes, y=mean, mode="lines+markers", name=f"{name}: mean +- std",
                                 error_y=bounded_error(mean, std, bounds),
                                 line={"color": "#1f77b4", "width": 2},
                                 hovertemplate="N=%{x}<br>mean %{y:.4g}<extra></extra>"),
                      row=row, col=1)
        axis = magnitude_axis(v) if row == 2 else {}  # the minima count
        fig.update_yaxes(title={"text": unit}, **axis, row=row, col=1)
    fig.update_xaxes(title={"text": "number of spins N"}, row=len(series), col=1)
    fig.update_layout(showlegend=False, height=180 * len(series) + 60,
                      margin={"l": 60, "r": 10, "t": 40, "b": 50})
    return fig


def sweep_series(arrays: dict) -> tuple[np.ndarray, ...]:
    """The arguments of :func:`sweep_figure` and :func:`sweep_table_rows` from a ``sweep``
    result's arrays: sizes, then the (S, K) ground basin share, minima count, largest barrier
    and folding temperature."""
    return (arrays["sizes"], arrays["ground_basin_share"], arrays["minima_count"],
            arrays["largest_barrier"], arrays["folding_temperature"])


def sweep_view_figure(result: ViewResult, display: dict | None = None) -> go.Figure:
    """A ``sweep`` result as the dashboard draws it (:func:`sweep_figure`, titled with J0 and the
    seeds); ``display`` is accepted for the uniform figure signature and changes nothing."""
    seeds = result.arrays["seeds"]
    fig = sweep_figure(*sweep_series(result.arrays))
    bias = result.meta["model"]["native_bias"]
    fig.update_layout(title={"text": f"the funnel sharpens with size? J0 = {bias:g}, "
                                     f"seeds {seeds[0]}..{seeds[-1]}", "font": {"size": 13}})
    return fig


def sweep_table_rows(sizes: np.ndarray, ground_basin_share: np.ndarray, minima_count: np.ndarray,
                     largest_barrier: np.ndarray, folding_temperature: np.ndarray | None = None
                     ) -> list[dict]:
    """One row per N for a DataTable (``columns=[{"name": k, "id": k} for k in rows[0]]``) or an
    html table: plain ints, floats rounded to 4 significant digits, and strings.

    Keys: ``N``, ``seeds``, ``ground basin share``, ``minima``, ``largest barrier / spin``, and
    with ``folding_temperature`` ``T_f`` (mean over the seeds that have one, "none" if no seed
    has) and ``folded`` ("k/K" seeds with a T_f). Means are over seeds of the finite entries.
    """
    def fmt(x: float) -> float | str:
        return float(f"{x:.4g}") if np.isfinite(x) else "none"

    share, _, _ = seed_mean_std(ground_basin_share)
    minima, _, _ = seed_mean_std(minima_count)
    barrier, _, _ = seed_mean_std(largest_barrier)
    seeds = np.asarray(ground_basin_share).shape[1]
    rows = []
    for i, n in enumerate(np.asarray(sizes)):
        row = {"N": int(n), "seeds": int(seeds), "ground basin share": fmt(share[i]),
               "minima": fmt(minima[i]), "largest barrier / spin": fmt(barrier[i])}
        rows.append(row)
    if folding_temperature is not None:
        t_f, _, folded = seed_mean_std(folding_temperature)
        for i, row in enumerate(rows):
            row["T_f"] = fmt(t_f[i])
            row["folded"] = f"{int(folded[i])}/{seeds}"
    return rows
