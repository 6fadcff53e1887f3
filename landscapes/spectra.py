"""Eigenvalue spectra drawn as densities: the grid, the Gaussian broadening and the density of
a set of weighted eigenvalues (plain numpy, shared by both families: a network's spectrum by
stochastic Lanczos quadrature, :mod:`landscapes.networks.spectrum`, and the p-spin glass's exact
spectrum at a minimum, :mod:`landscapes.spin.spectrum`).

Units: the eigenvalues' (the density is per unit eigenvalue and integrates to 1 over its grid).
"""

import numpy as np

GRID_POINTS = 1001  # points of a density's grid
BROADENING = 0.01  # sigma as a fraction of the spectrum's width (largest - smallest eigenvalue)
GRID_PAD = 5.0  # the grid runs this many sigma past the extreme eigenvalues
DENSITY_BLOCK = 4096  # eigenvalues broadened at once (grid x block float64 temporaries)


def density_grid(lo: float, hi: float) -> tuple[np.ndarray, float]:
    """The grid (:data:`GRID_POINTS`) and broadening ``sigma`` (:data:`BROADENING` of the width)
    of a spectrum whose eigenvalues lie in [lo, hi]."""
    sigma = BROADENING * max(hi - lo, 1e-12)
    return np.linspace(lo - GRID_PAD * sigma, hi + GRID_PAD * sigma, GRID_POINTS), sigma


def broadened_density(grid: np.ndarray, top: np.ndarray, nodes: np.ndarray,
                      weights: np.ndarray, dim: int, sigma: float) -> np.ndarray:
    """rho(grid) = (1 / dim) [sum_i g(t - top_i) + (dim - len(top)) / P * sum_pj weights_pj
    g(t - nodes_pj)], ``g`` a normal density of standard deviation ``sigma``: ``top`` counted one
    eigenvalue each, the P rows of (``nodes``, ``weights``) quadratures (each row's weights sum
    to 1) sharing the other ``dim - len(top)``. Integrates to 1 over a grid that covers it."""
    def gaussians(centres: np.ndarray, mass: np.ndarray) -> np.ndarray:
        total = np.zeros(len(grid))
        for first in range(0, len(centres), DENSITY_BLOCK):  # bounded temporaries
            z = (grid[:, None] - centres[None, first: first + DENSITY_BLOCK]) / sigma
            total += (np.exp(-0.5 * z**2) * mass[None, first: first + DENSITY_BLOCK]).sum(1)
        return total / (sigma * np.sqrt(2 * np.pi))

    bulk = (dim - len(top)) / len(nodes)
    return (gaussians(np.asarray(top, float), np.ones(len(top)))
            + bulk * gaussians(np.asarray(nodes, float).ravel(),
                               np.asarray(weights, float).ravel())) / dim
