"""1D lines, 2D planes and 3D volumes through a centre point, evaluated in batches.

The point with coefficients ``(a, b, c)`` is ``center + a d1 + b d2 + c d3`` (geometry
``euclidean``) or ``retract`` of it onto |s|^2 = N (geometry ``sphere``). Values are stored with
the *last* axis along ``d1``: ``values[i, j]`` is at ``(x[j], y[i])`` (Plotly's ``z[row][col]``)
and ``values[k, i, j]`` at ``(x[j], y[i], z[k])``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from landscapes.chunks import map_blocks
from landscapes.errors import LandscapeError
from landscapes.registry import Progress

if TYPE_CHECKING:
    import torch

AXIS_NAMES = ("x", "y", "z")
# points (B, D) -> values (B, ...); torch is imported where a grid is evaluated, not here
EnergyFn = Callable[["torch.Tensor"], "torch.Tensor | np.ndarray"]
MAX_POINTS = 2_000_000
BLOCK = 4096  # points a block of :func:`evaluate_points` (one batch of the energy; a chunk's unit)


@dataclass
class Slice:
    """A computed slice (or path) and everything needed to reproduce it.

    ``axes`` holds the coefficient values along each direction (x, y, z); ``values`` has shape
    ``(len(z), len(y), len(x))`` for the axes present; ``extras`` holds further arrays saved
    beside it (couplings, native state, arc length of a path...); ``meta`` is JSON-able.
    """

    axes: list[np.ndarray]
    values: np.ndarray
    center: np.ndarray
    directions: np.ndarray
    geometry: str
    meta: dict = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def dims(self) -> int:
        return len(self.axes)

    def points(self) -> np.ndarray:
        """Every grid point (P, D) in the order of ``values.ravel()``.

        A curved path stores its per-point ``coefficients`` (P, k) among the extras.
        """
        coefs = self.extras.get("coefficients")
        if coefs is None:
            coefs = grid_coefficients(self.axes)
        pts = self.center + coefs @ self.directions
        if self.geometry == "sphere":
            import torch

            from landscapes.sphere import retract

            pts = retract(torch.as_tensor(pts)).numpy()
        return pts

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: ax for name, ax in zip(AXIS_NAMES, self.axes, strict=False)}
        arrays.update(values=self.values, center=self.center, directions=self.directions)
        arrays.update(self.extras)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> Slice:
        axes = [arrays[name] for name in AXIS_NAMES if name in arrays]
        core = {*AXIS_NAMES, "values", "center", "directions"}
        extras = {k: v for k, v in arrays.items() if k not in core}
        return cls(
            axes, arrays["values"], arrays["center"], arrays["directions"],
            meta["geometry"], meta, extras,
        )


def grid_coefficients(axes: list[np.ndarray]) -> np.ndarray:
    """Coefficients (P, k) of every grid point, in C order of a (len(z), len(y), len(x)) array."""
    mesh = np.meshgrid(*axes[::-1], indexing="ij")
    return np.stack([m.ravel() for m in mesh[::-1]], axis=1)


def evaluate_grid(
    energy: EnergyFn,
    center: np.ndarray,
    directions: np.ndarray,
    axes: list[np.ndarray],
    geometry: str,
    chunk: int | None = None,
    progress: Progress = None,
) -> np.ndarray:
    """Values of ``energy`` on the grid, shape (len(z), len(y), len(x)) for the axes given.

    ``energy`` maps a torch float64 batch (B, D) to (B,) -- or to (B, K) for K quantities per
    point, which gives a trailing axis of length K. ``progress(done, total)`` is called after
    each chunk; raising from it cancels the computation.
    """
    if len(axes) != len(directions):
        raise LandscapeError(f"{len(axes)} axes need {len(axes)} directions; got {len(directions)}")
    shape = tuple(len(a) for a in axes[::-1])
    total = int(np.prod(shape))
    if total > MAX_POINTS:
        raise LandscapeError(f"a grid of {total:,} points is too large (limit {MAX_POINTS:,})")
    values = evaluate_points(
        energy, center, directions, grid_coefficients(axes), geometry, chunk, progress
    )
    return values.reshape(shape + values.shape[1:])


def evaluate_points(
    energy: EnergyFn,
    center: np.ndarray,
    directions: np.ndarray,
    coefs: np.ndarray,
    geometry: str,
    chunk: int | None = None,
    progress: Progress = None,
) -> np.ndarray:
    """``energy`` at ``center + coefs @ directions`` (retracted on the sphere), chunk by chunk
    (on several processes inside :func:`landscapes.chunks.processes`)."""
    import torch

    from landscapes.sphere import retract

    c = torch.as_tensor(np.asarray(center, dtype=np.float64))
    d = torch.as_tensor(np.asarray(directions, dtype=np.float64))

    def block(start: int, stop: int) -> np.ndarray:
        pts = c + torch.as_tensor(coefs[start:stop], dtype=torch.float64) @ d
        if geometry == "sphere":
            pts = retract(pts)
        with torch.no_grad():
            return np.asarray(energy(pts), dtype=np.float64)

    return map_blocks(block, len(coefs), chunk or BLOCK, progress)


def symmetric_axis(span: float, steps: int) -> np.ndarray:
    """``steps`` evenly spaced coefficients from -span to span (the centre included if odd)."""
    if steps < 2:
        raise LandscapeError(f"steps must be >= 2; got {steps}")
    if not span > 0:
        raise LandscapeError(f"span must be > 0; got {span}")
    return np.linspace(-span, span, steps)
