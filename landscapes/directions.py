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
    if np.any(norms < 1e-12 * max(1.0, float(np.linalg.norm(center)))):
        raise LandscapeError("a point to slice through coincides with the center")
    if len(points) > 1 and np.linalg.matrix_rank(dirs, tol=1e-9 * norms.max()) < len(points):
        raise LandscapeError("the points to slice through are collinear with the center")
    return dirs


def filter_normalized(
    shapes: list[tuple[int, ...]], center: np.ndarray, seed: int, index: int = 0,
    include_1d: bool = False,
) -> np.ndarray:
    """A Gaussian direction (D,) filter-normalized as in Li et al. 2018.

    ``shapes`` are the parameter shapes in flat order. Each output row / conv filter (first
    axis) of the direction is rescaled to the norm of the same filter of ``center``. 1-D
    parameters (biases, BatchNorm weights) are zeroed unless ``include_1d``, in which case each
    is rescaled as a whole to its parameter's norm. Zero filters of ``center`` stay zero.
    """
    g = rng(seed, "filter-directions", index)
    center = np.asarray(center, dtype=np.float64)
    parts, offset = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        theta = center[offset : offset + size].reshape(shape)
        offset += size
        d = g.standard_normal(shape)
        if len(shape) <= 1:
            d = d * (np.linalg.norm(theta) / np.linalg.norm(d)) if include_1d else np.zeros(shape)
        else:
            rows, theta_rows = d.reshape(shape[0], -1), theta.reshape(shape[0], -1)
            scale = np.linalg.norm(theta_rows, axis=1) / np.linalg.norm(rows, axis=1)
            d = (rows * scale[:, None]).reshape(shape)
        parts.append(d.ravel())
    if offset != len(center):
        raise ValueError(f"shapes cover {offset} entries but the center has {len(center)}")
    return np.concatenate(parts)


def pca_directions(trajectory: np.ndarray, center: np.ndarray, count: int = 2
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions (count, D), unit length, of a trajectory (T, D) around ``center``.

    As in Li et al. 2018: the rows ``trajectory - center`` (usually the final point) are
    decomposed by SVD; returns the directions and their explained-variance ratios (count,).
    Signs are fixed so that the trajectory's first point has positive coordinates.
    """
    diffs = np.asarray(trajectory, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    if len(diffs) < count + 1:
        raise LandscapeError(f"PCA directions need a trajectory of at least {count + 1} points")
    _, sing, vt = np.linalg.svd(diffs, full_matrices=False)
    dirs = vt[:count]
    signs = np.sign(diffs[0] @ dirs.T)
    dirs = dirs * np.where(signs == 0, 1.0, signs)[:, None]
    ratio = sing[:count] ** 2 / np.sum(sing**2)
    return dirs, ratio
