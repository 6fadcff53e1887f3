"""How rough a 2-D slice is: grid local minima and the share of points where it is not convex.

Both work on a slice's ``values`` (ny, nx), ``values[i, j]`` at ``(x[j], y[i])``, on an evenly
spaced grid, and look at interior points only (a point on the edge has neighbours outside the
slice). Li et al. (2018) compare networks with and without skip connections by such pictures:
many minima and non-convex regions mean a chaotic landscape, one bowl a smooth one.

* :func:`grid_local_minima` -- points strictly below all 8 neighbours.
* :func:`nonconvex_fraction` -- points where the discrete Hessian of the slice (central second
  differences, in grid steps: the spacing only scales it) is not positive definite.
* :func:`curvature_ratio` -- the median of ``|lambda_min / lambda_max|`` of that Hessian (Li et
  al.'s map of the ratio: near 0 convex or flat in one direction, near 1 bowl or saddle).
"""

from dataclasses import dataclass

import numpy as np

#: the 8 neighbours of a grid point, as (row, column) offsets
NEIGHBOURS = tuple((di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0))


def _shifted(values: np.ndarray, di: int, dj: int) -> np.ndarray:
    """``values[i + di, j + dj]`` for every interior point ``(i, j)``."""
    ny, nx = values.shape
    return values[1 + di : ny - 1 + di, 1 + dj : nx - 1 + dj]


def _check(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or min(values.shape) < 3:
        raise ValueError(f"a 2-D slice of at least 3x3 points is needed; got shape {values.shape}")
    return values


def grid_local_minima(values: np.ndarray) -> int:
    """Interior points strictly below all 8 neighbours."""
    values = _check(values)
    centre = _shifted(values, 0, 0)
    below = np.ones(centre.shape, dtype=bool)
    for di, dj in NEIGHBOURS:
        below &= centre < _shifted(values, di, dj)
    return int(below.sum())


def discrete_hessian(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(f_xx, f_yy, f_xy)`` at the interior points, central differences in grid steps."""
    values = _check(values)
    centre = _shifted(values, 0, 0)
    fxx = _shifted(values, 0, 1) - 2 * centre + _shifted(values, 0, -1)
    fyy = _shifted(values, 1, 0) - 2 * centre + _shifted(values, -1, 0)
    fxy = (_shifted(values, 1, 1) - _shifted(values, 1, -1) - _shifted(values, -1, 1)
           + _shifted(values, -1, -1)) / 4
    return fxx, fyy, fxy


def nonconvex_fraction(values: np.ndarray, below: float = np.inf) -> float:
    """The fraction of interior points where the discrete Hessian is not positive definite
    (``f_xx <= 0`` or ``f_xx f_yy - f_xy^2 <= 0``), among those whose value is below ``below``
    (all by default; NaN if none is)."""
    fxx, fyy, fxy = discrete_hessian(values)
    convex = (fxx > 0) & (fxx * fyy - fxy**2 > 0)
    counted = _shifted(_check(values), 0, 0) < below
    return float(1.0 - convex[counted].mean()) if counted.any() else float("nan")


def curvature_ratio(values: np.ndarray) -> float:
    """The median over interior points of ``|lambda_min / lambda_max|`` of the discrete Hessian
    (eigenvalues ordered by value; a point with a zero Hessian counts as 0)."""
    fxx, fyy, fxy = discrete_hessian(values)
    mean, radius = (fxx + fyy) / 2, np.hypot((fxx - fyy) / 2, fxy)
    low, high = mean - radius, mean + radius
    scale = np.maximum(np.abs(low), np.abs(high))
    ratio = np.divide(np.minimum(np.abs(low), np.abs(high)), scale, out=np.zeros_like(scale),
                      where=scale > 0)
    return float(np.median(ratio))


@dataclass(frozen=True)
class Roughness:
    """The three figures of one slice."""

    minima: int
    nonconvex: float
    curvature_ratio: float

    @classmethod
    def of(cls, values: np.ndarray) -> "Roughness":
        return cls(grid_local_minima(values), nonconvex_fraction(values), curvature_ratio(values))
