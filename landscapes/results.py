"""Results of views that are not grids (funnel summaries, size sweeps, minima statistics).

Every view result is named arrays plus JSON-able ``meta`` (``meta["kind"]`` says which view made
it), so one cache entry and one ``.npz`` export (:mod:`landscapes.io.npz`) hold any of them.
Slices and paths keep their richer :class:`landscapes.slices.Slice`.
"""

from dataclasses import dataclass, field

import numpy as np

import landscapes
from landscapes.slices import Slice

GRID_KINDS = ("slice", "path")
BUFFER_PREFIX = "buffer."  # arrays of a network's BatchNorm statistics: buffer.<name> (a slice,
# or per seed in the minima view), buffer.from.<name> and buffer.to.<name> (a path's two ends)


def base_meta(model: dict, unit: str, seed: int | None = None,
              energy_convention: str | None = None) -> dict:
    """The meta fields every result shares: the canonical ``model`` spec, the ``unit`` of its
    values (``energy per spin`` for spin models, ``loss`` for networks), the model ``seed`` and
    the ``energy_convention`` (spin models; omitted when None) and the ``library_version``."""
    meta: dict = {"model": model}
    if seed is not None:
        meta["seed"] = seed
    meta["unit"] = unit
    if energy_convention is not None:
        meta["energy_convention"] = energy_convention
    meta["library_version"] = landscapes.__version__
    return meta


@dataclass
class ViewResult:
    """A non-grid view: ``arrays`` by name and ``meta`` (kind, model spec, units, conventions)."""

    arrays: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return dict(self.arrays)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> "ViewResult":
        return cls(dict(arrays), meta)


def from_arrays(arrays: dict[str, np.ndarray], meta: dict) -> Slice | ViewResult:
    """Rebuild a result from its arrays and meta: a Slice for slices and paths."""
    if meta.get("kind") in GRID_KINDS:
        return Slice.from_arrays(arrays, meta)
    return ViewResult.from_arrays(arrays, meta)
