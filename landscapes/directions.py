"""Directions spanning a slice through a centre point.

Conventions (stated in every export's ``meta``):

* ``random`` on the sphere: Gaussian vectors projected onto the tangent space at the centre,
  orthonormalised (Gram-Schmidt), then scaled to the sphere's radius ``|d| = |center| =
  sqrt(N)``; the coefficient ``a = 1`` therefore tilts 45 degrees away from the centre.
* ``random`` in Euclidean space: Gaussian vectors, orthonormalised, scaled to ``|center|``.
* ``through`` points: ``d_k = p_k - center`` without rescaling, so the grid point with
  coefficient 1 on ``d_k`` (and 0 elsewhere) is exactly ``p_k`` in both geometries (for points
  on the sphere).
"""

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.seeding import rng

GEOMETRIES = ("sphere", "euclidean")


def random_directions(center: np.ndarray, count: int, seed: int, geometry: str) -> np.ndarray:
    """``count`` orthogonal random directions (count, D) at ``center`` (D,), |d| = |center|."""
    if geometry not in GEOMETRIES:
        raise LandscapeError(f"unknown geometry {geometry!r}; choose one of {GEOMETRIES}")
    center = np.asarray(center, dtype=np.float64)
    dim = center.shape[0]
    if count > dim - (geometry == "sphere"):
        raise LandscapeError(f"cannot draw {count} independent directions in dimension {dim}")
    gauss = rng(seed, "directions").standard_normal((count, dim))
    basis = [center / np.linalg.norm(center)] if geometry == "sphere" else []
    out = []
    for g in gauss:
        for b in basis:
            g = g - (g @ b) * b
        g = g / np.linalg.norm(g)
        basis.append(g)
        out.append(g)
    return np.stack(out) * np.linalg.norm(center)


def directions_through(center: np.ndarray, points: list[np.ndarray]) -> np.ndarray:
    """Directions (k, D) from ``center`` to each point; coefficient 1 lands on the point."""
    center = np.asarray(center, dtype=np.float64)
    dirs = np.stack([np.asarray(p, dtype=np.float64) - center for p in points])
    norms = np.linalg.norm(dirs, axis=1)
    if np.any(norms < 1e-12 * max(1.0, np.linalg.norm(center))):
        raise LandscapeError("a point to slice through coincides with the centre")
    if len(points) > 1 and np.linalg.matrix_rank(dirs, tol=1e-9 * norms.max()) < len(points):
        raise LandscapeError("the points to slice through are collinear with the centre")
    return dirs
