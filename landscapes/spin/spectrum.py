"""The Hessian spectrum of the p-spin glass at its lowest minimum, drawn as a network's is.

The view ``{"view": "spectrum", "starts": K}`` descends from ``random:0 .. random:K-1`` (the
minima view, :func:`landscapes.spin.minima.spin_minima`), takes the lowest minimum with a
positive Hessian and every eigenvalue of its Riemannian Hessian (exact: N - 1 of them, units of
H per unit |ds|^2), and draws them as a density on the grid and with the broadening of
:mod:`landscapes.spectra`, beside the large-N semicircle (``meta["semicircle"]``). The arrays
and meta share the names of a network's spectrum (result kind ``spectrum``): ``grid``,
``density``, ``top_eigenvalues``, ``trace`` (exact: ``trace_stderr`` is 0), plus
``eigenvalues`` (all of them, ascending), ``lowest_state`` and the model's ``couplings`` and
``native``, from which the Hessian recomputes.
"""

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.registry import Progress
from landscapes.results import ViewResult
from landscapes.spectra import broadened_density, density_grid
from landscapes.spin.minima import MINIMA_STARTS, spin_minima
from landscapes.spin.models import SpinModel
from landscapes.viewspec import fill_view

SPECTRUM_DEFAULTS = {"view": "spectrum", "starts": 64}
TOP = 8  # the largest eigenvalues listed apart, as a network's top eigenvalues are


def normalize_spectrum_view(view: dict) -> dict:
    """Canonical spin spectrum view: ``{"view": "spectrum", "starts": K}``, 1 <= K <= 512."""
    return fill_view({"view": "spectrum", **view}, {"spectrum": SPECTRUM_DEFAULTS},
                     {"starts": MINIMA_STARTS}, "spectrum")


def spin_spectrum(model: SpinModel, view: dict, progress: Progress = None) -> ViewResult:
    """The spectrum view of a p-spin glass (see the module docstring); ``progress`` counts
    descents."""
    view = normalize_spectrum_view(view)
    minima = spin_minima(model, {"view": "minima", "starts": view["starts"]}, progress)
    if "spectrum" not in minima.arrays:
        raise LandscapeError("spectrum: the Ising model has no Hessian (its spins flip one at "
                             "a time); choose the p-spin glass or a network")
    eigenvalues = np.sort(np.asarray(minima.arrays["spectrum"], dtype=np.float64))
    dim = eigenvalues.size
    grid, sigma = density_grid(float(eigenvalues[0]), float(eigenvalues[-1]))
    density = broadened_density(grid, np.array([]), eigenvalues[None, :],
                                np.full((1, dim), 1.0 / dim), dim, sigma)
    top = eigenvalues[::-1][:TOP]
    arrays: dict[str, np.ndarray] = {
        "grid": grid, "density": density, "eigenvalues": eigenvalues, "top_eigenvalues": top,
        "trace": np.asarray(eigenvalues.sum()), "trace_stderr": np.asarray(0.0),
        "lowest_state": minima.arrays["lowest_state"],
        **{k: minima.arrays[k] for k in ("couplings", "native") if k in minima.arrays}}
    keep = ("model", "seed", "unit", "energy_convention", "library_version", "semicircle",
            "hessian_unit", "tolerance", "lowest_energy")
    meta = {k: minima.meta[k] for k in keep if k in minima.meta}
    meta.update(
        kind="spectrum", view=view, dim=dim, sigma=sigma, exact=True, top=len(top),
        trace=float(eigenvalues.sum()), trace_stderr=0.0,
        top_eigenvalues=[float(v) for v in top],
        starts=f"random:0 .. random:{view['starts'] - 1} (the model's seeded random starts)",
        hessian="the Riemannian Hessian of H on |s|^2 = N at the lowest minimum with a positive "
                "Hessian among the descents' (every eigenvalue: numpy eigvalsh)",
        density_formula="density(t) = (1/dim) sum_i g(t - eigenvalues_i), g a normal density of "
                        "standard deviation sigma",
    )
    return ViewResult(arrays, meta)
