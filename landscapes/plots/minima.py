"""Figure builders for minima statistics (spins and example networks): pure functions from a
ViewResult to a figure.

* :func:`minima_histogram` -- energies per spin of the minima many descents reach, with the
  large-N ground-state and threshold energies of the pure p-spin glass as vertical lines.
* :func:`hessian_spectrum_figure` -- the Riemannian Hessian spectrum at the lowest minimum
  (density-normalised histogram) against the semicircle law of :mod:`landscapes.spin.theory`.
* :func:`network_minima_figure` -- train and test loss of the minimum each initialization seed
  of an example network reaches (accuracy in the hover).
* :func:`minima_figure` -- the main graph of any minima result: the histogram (spin models) or
  the per-seed losses (networks).

The inputs are :class:`landscapes.results.ViewResult` objects made by
:mod:`landscapes.minima_stats` (``meta["kind"] == "minima"``).
"""

import numpy as np
import plotly.graph_objects as go

from landscapes.plots.slices import magnitude_axis
from landscapes.results import ViewResult
from landscapes.spin.theory import semicircle_density

MARGIN = {"l": 60, "r": 10, "t": 30, "b": 50}
THEORY_COLORS = {"ground": "#e45756", "threshold": "#f58518"}
CURVE_POINTS = 401


#: a legend under the graph, below the x-axis title (at the container's bottom edge, inside the
#: bottom margin that leaves room for both): a legend above or inside the plot covers data or
#: the title, one at y = -0.2 of the plot covered the x-axis title
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom",
                "x": 0.5, "xanchor": "center"}
LEGEND_MARGIN = {**MARGIN, "t": 40, "b": 90}


def _message_figure(text: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, margin=MARGIN,
                      plot_bgcolor="rgba(0,0,0,0)", paper_bgcolor="rgba(0,0,0,0)")
    return fig


def minima_histogram(result: ViewResult) -> go.Figure:
    """Histogram of the minima's energies per spin, with the theory lines when ``meta`` has them.

    Lines (p-spin): ``ground_energy`` (ABC ground state, -1.657 for p = 3) and
    ``threshold_energy`` (-2 sqrt((p-1)/p), -1.633 for p = 3), both large-N values for the pure
    glass. Non-converged descents are drawn as a separate, grey histogram.
    """
    meta = result.meta
    energies = np.asarray(result.arrays["energies"], dtype=np.float64)
    converged = np.asarray(result.arrays["converged"], dtype=bool)
    bins = {"size": _bin_size(energies)}
    traces = [go.Histogram(
        x=energies[converged].astype(np.float32), xbins=bins, name="converged minima",
        marker={"color": "#1f77b4"}, hovertemplate="E/N=%{x}<br>%{y} minima<extra></extra>",
    )]
    if not converged.all():
        traces.append(go.Histogram(
            x=energies[~converged].astype(np.float32), xbins=bins, name="not converged",
            marker={"color": "#bbbbbb"},
            hovertemplate="E/N=%{x}<br>%{y} unconverged<extra></extra>",
        ))
    fig = go.Figure(traces)
    lines = (("ground", "ground_energy", "ground state (ABC)", "top left"),
             ("threshold", "threshold_energy", "threshold", "top right"))
    for key, field, label, position in lines:
        value = meta.get(field)
        if value is None:
            continue
        fig.add_vline(
            x=float(value), line={"color": THEORY_COLORS[key], "dash": "dash", "width": 2},
            annotation={"text": f"{label} {value:.3f}", "font": {"color": THEORY_COLORS[key]}},
            annotation_position=position,
        )
    fig.update_layout(
        barmode="overlay",
        title={"text": f"minima of {energies.size} descents from random starts: "
                       f"{int(converged.sum())} converged", "font": {"size": 13}},
        xaxis={"title": {"text": "energy per spin of the minimum (H/N)"}},
        yaxis={"title": {"text": "minima (count)"}},
        legend=LEGEND_BELOW,
        margin=LEGEND_MARGIN,
    )
    return fig


def _bin_size(values: np.ndarray, scale: float = 1.0, least: int = 5) -> float:
    """About scale sqrt(K) (at least ``least``) bins over the values' range (a fixed width when
    they are all equal)."""
    spread = float(np.ptp(values)) if len(values) else 0.0
    if spread == 0.0:
        return 0.01
    return spread / max(least, int(scale * np.sqrt(len(values))))


def semicircle_curve(meta: dict, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """x (points,) over the semicircle's support [centre - R, centre + R] and its density.

    Uses ``meta["semicircle"]["energy"]`` (the energy per spin giving that centre) and
    :func:`landscapes.spin.theory.semicircle_density`.
    """
    circle = meta["semicircle"]
    center, radius = circle["centre"], circle["radius"]
    x = np.linspace(center - radius, center + radius, points)
    return x, semicircle_density(x, circle["p"], circle["energy"])


def hessian_spectrum_figure(result: ViewResult) -> go.Figure:
    """Density-normalised histogram of the Hessian spectrum at the lowest minimum, with the
    large-N semicircle (radius 2 sqrt(p(p-1)), centred at -p e) and a line at zero."""
    spectrum = result.arrays.get("spectrum")
    if spectrum is None or result.meta.get("semicircle") is None:
        return _message_figure("no Hessian spectrum: the minima of discrete (Ising) spins "
                               "are single-spin-flip minima")
    energy = result.arrays["energies"][result.meta["lowest_index"]]
    return semicircle_figure(np.asarray(spectrum, dtype=np.float64), result.meta, energy)


def semicircle_figure(spectrum: np.ndarray, meta: dict, energy: float) -> go.Figure:
    """The eigenvalues ``spectrum`` as a density-normalised histogram beside the semicircle of
    ``meta["semicircle"]``, a line at zero; ``energy`` (per spin) the minimum's, in the title."""
    x, density = semicircle_curve(meta)
    hist = go.Histogram(
        x=spectrum.astype(np.float32), histnorm="probability density",
        xbins={"size": _bin_size(spectrum, 1.5, 8)}, name=f"spectrum ({len(spectrum)} eigenvalues)",
        marker={"color": "#1f77b4"}, opacity=0.75,
        hovertemplate="eigenvalue %{x}<br>density %{y:.3f}<extra></extra>",
    )
    curve = go.Scatter(
        x=x.astype(np.float32), y=density.astype(np.float32), mode="lines",
        name="semicircle law (large N)", line={"color": "#e45756", "width": 2},
        hovertemplate="eigenvalue %{x:.3f}<br>density %{y:.3f}<extra></extra>",
    )
    fig = go.Figure([hist, curve])
    fig.add_vline(x=0.0, line={"color": "#444", "width": 1})  # a minimum: everything right of it
    fig.update_layout(
        xaxis={"title": {"text": "eigenvalue of the Riemannian Hessian of H (total energy)"}},
        yaxis={"title": {"text": "density"}},
        title={"text": f"Hessian at the lowest minimum, E/N = {energy:.4f}", "font": {"size": 13}},
        legend=LEGEND_BELOW,
        margin=LEGEND_MARGIN,
    )
    return fig


def network_minima_figure(result: ViewResult) -> go.Figure:
    """Train and test loss of each seed's final point (one column per seed, log scale when all
    losses are positive and span a decade: :func:`~landscapes.plots.slices.magnitude_axis`);
    accuracy, distance travelled from the init and divergence in the
    hover."""
    arrays, meta = result.arrays, result.meta
    seeds = [f"seed {int(k)}" for k in arrays["seeds"]]
    diverged = np.asarray(arrays.get("diverged", np.zeros(len(seeds), bool)), dtype=bool)
    travel = np.asarray(arrays.get("init_distance", np.full(len(seeds), np.nan)), dtype=np.float64)
    classify = not np.all(np.isnan(arrays["train_accuracy"]))
    traces = []
    for split, color, symbol in (("train", "#1f77b4", "circle"), ("test", "#e45756", "diamond")):
        extra = np.stack([arrays[f"{split}_accuracy"], travel], 1)
        hover = f"%{{x}}<br>{split} loss=%{{y:.4g}}"
        if classify:
            hover += f"<br>{split} accuracy=%{{customdata[0]:.1%}}"
        hover += "<br>|final - init|=%{customdata[1]:.3g}%{text}<extra></extra>"
        traces.append(go.Scatter(
            x=seeds, y=np.asarray(arrays[f"{split}_loss"], dtype=np.float64), mode="markers",
            name=f"{split} loss", customdata=extra, hovertemplate=hover,
            text=["<br>training diverged" if d else "" for d in diverged],
            marker={"color": color, "symbol": symbol, "size": 10,
                    "line": {"color": np.where(diverged, "#000", color).tolist(), "width": 1}},
        ))
    fig = go.Figure(traces)
    losses = np.concatenate([arrays["train_loss"], arrays["test_loss"]])
    axis = magnitude_axis(losses) if np.all(np.isfinite(losses)) else {"type": "linear"}
    fig.update_layout(
        xaxis={"title": {"text": "initialization seed"}},
        yaxis={"title": {"text": f"loss at the final point ({meta.get('loss_unit', 'loss')})"},
               **axis},
        title={"text": f"the final point of {len(seeds)} trainings, one per initialization "
                       "seed" + ("<br>training diverged (loss blew up) for some seeds"
                                 if diverged.any() else ""), "font": {"size": 13}},
        legend=LEGEND_BELOW,
        margin={**LEGEND_MARGIN, "t": 56 if diverged.any() else LEGEND_MARGIN["t"]},
    )
    return fig


DENSITY_DECADES = 7  # the log density axis shows this many decades below its peak


def spectrum_figure(result: ViewResult, display: dict | None = None) -> go.Figure:
    """A network's Hessian spectral density (stochastic Lanczos quadrature, Gaussian-broadened)
    on a log axis, so a trained network's bulk near 0 and its few large outliers both show;
    the top eigenvalues marked on it, a line at zero, the trace with its standard error in the
    title. An exact spectrum (the p-spin glass's) is :func:`semicircle_figure`. ``display`` is
    accepted for the uniform figure signature and changes nothing."""
    a, meta = result.arrays, result.meta
    if meta.get("exact"):  # the p-spin glass: every eigenvalue, beside the semicircle law
        return semicircle_figure(np.asarray(a["eigenvalues"], dtype=np.float64), meta,
                                 meta["lowest_energy"])
    grid = np.asarray(a["grid"], dtype=np.float64)
    density = np.asarray(a["density"], dtype=np.float64)
    top = np.asarray(a["top_eigenvalues"], dtype=np.float64)
    peak = float(density.max())
    floor = peak * 10.0**-DENSITY_DECADES
    at_top = np.interp(top, grid, density)
    fig = go.Figure([
        go.Scatter(x=grid, y=np.maximum(density, floor), mode="lines",
                   name=f"density ({meta['probes']} probes x {meta['lanczos_steps']} Lanczos "
                        "steps)", line={"color": "#1f77b4", "width": 2},
                   hovertemplate="eigenvalue %{x:.4g}<br>density %{y:.3g}<extra></extra>"),
        go.Scatter(x=top, y=np.maximum(at_top, floor), mode="markers",
                   name=f"top {len(top)} eigenvalues (Lanczos)",
                   marker={"color": "#e45756", "size": 8, "symbol": "diamond"},
                   hovertemplate="eigenvalue %{x:.6g}<extra>top</extra>"),
    ])
    fig.add_vline(x=0.0, line={"color": "#444", "width": 1})
    fig.update_layout(
        xaxis={"title": {"text": f"eigenvalue of the Hessian of the train loss "
                                 f"({meta.get('loss_unit', 'loss')} per squared parameter)"}},
        yaxis={"title": {"text": "spectral density"}, "type": "log",
               "range": [np.log10(floor), np.log10(peak) + 0.3], "exponentformat": "power"},
        title={"text": f"Hessian spectrum at the centre ({meta['dim']:,} parameters): trace "
                       f"{float(a['trace']):.4g} +- {float(a['trace_stderr']):.2g}, top "
                       f"eigenvalue {top[0]:.4g}<br>broadened by sigma = {meta['sigma']:.2g}",
               "font": {"size": 13}},
        legend=LEGEND_BELOW,
        margin={**LEGEND_MARGIN, "t": 56},
    )
    return fig


def minima_figure(result: ViewResult, display: dict | None = None) -> go.Figure:
    """The dashboard's main graph of a minima result: :func:`network_minima_figure` for network
    seeds (arrays with ``train_loss``), else :func:`minima_histogram`. ``display`` is accepted for
    the uniform figure signature and changes nothing."""
    if "train_loss" in result.arrays:
        return network_minima_figure(result)
    return minima_histogram(result)
