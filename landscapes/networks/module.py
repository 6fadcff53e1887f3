"""Any ``torch.nn.Module``'s loss landscape from Python: ``landscapes.from_module(...)``.

    land = landscapes.from_module(model, X, y, loss="cross_entropy")
    plane = land.slice(dims=2, steps=51, span=1.0, directions="filter", direction_seed=0)
    line = land.path(other_model, kind="linear", steps=81)
    curv = land.hessian(k=2)
    plane.values, plane.x, plane.y, plane.meta; plane.save("plane.npz"); plane.figure()

The module is trusted (it runs in this process) and evaluated at its current weights, in eval mode,
never changed (:meth:`NetworkLandscape.from_module
<landscapes.networks.landscape.NetworkLandscape.from_module>` states the contract). A module that
is one of the zoo's MLPs or CNNs takes the fast GEMM path, any other plain forwards of a private
copy point by point (``inplace``; ``torch.func.vmap`` over chunks of points on a GPU). Every result
is computed by the network views' own :func:`~landscapes.networks.views.compute_slice` /
:func:`~landscapes.networks.views.compute_path`, so it has the dashboard's numbers, meta, export
formats and figure. Units: ``values`` is the mean train loss (nats for cross-entropy);
coefficients are in units of the directions.
"""

import hashlib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from landscapes.errors import LandscapeError
from landscapes.networks.architectures import split_state
from landscapes.networks.catalog import LOSSES
from landscapes.networks.datasets import MAX_SAMPLES, Dataset, from_arrays, from_train_test
from landscapes.networks.devices import resolve_device
from landscapes.networks.landscape import MAX_PARAMETERS, NetworkLandscape, float32_state
from landscapes.networks.views import CENTER, NetworkSource, compute_path, compute_slice
from landscapes.slices import Slice

ENGINES = ("auto", "generic")  # auto: the fast path for zoo shapes; generic: never it
END = "to"  # the name of a path's far end among the source's points


@dataclass(frozen=True)
class LandscapeResult:
    """A slice, path or Hessian slice: the arrays, the meta, ``save`` and ``figure``.

    ``x`` (and ``y`` for a plane) are the coefficients along the directions; ``values`` the
    mean train loss, shape ``(len(y), len(x))`` (``values[i, j]`` at ``(x[j], y[i])``) or
    ``(len(x),)``; ``extras`` the other metrics (``test_loss``, ``train_accuracy``, ...);
    ``center`` (D,) and ``directions`` (k, D) in ``named_parameters()`` order.
    """

    result: Slice

    def __repr__(self) -> str:
        meta = self.meta
        what = meta.get("path_kind") or meta.get("direction_kind")
        return (f"LandscapeResult({meta.get('kind')}: {what}, values {self.values.shape}, "
                f"min {np.nanmin(self.values):.4g}, max {np.nanmax(self.values):.4g})")

    @property
    def x(self) -> np.ndarray:
        return self.result.axes[0]

    @property
    def y(self) -> np.ndarray | None:
        return self.result.axes[1] if self.result.dims > 1 else None

    @property
    def values(self) -> np.ndarray:
        return self.result.values

    @property
    def center(self) -> np.ndarray:
        return self.result.center

    @property
    def directions(self) -> np.ndarray:
        return self.result.directions

    @property
    def meta(self) -> dict:
        return self.result.meta

    @property
    def extras(self) -> dict[str, np.ndarray]:
        return self.result.extras

    @property
    def eigenvalues(self) -> np.ndarray | None:
        """The top Hessian eigenvalues (descending) of a Hessian slice, else None."""
        found = self.meta.get("hessian_eigenvalues")
        return None if found is None else np.asarray(found)

    def save(self, path: str | Path, display: dict | None = None) -> Path:
        """Write the result as ``.npz`` (docs/file-formats.md), ``.csv``, ``.vtk`` or ``.html``
        (by suffix; none: npz); ``display`` the drawing options of an HTML figure."""
        from landscapes.io.formats import write

        return write(self.result, path, display=display)

    def figure(self, display: dict | None = None) -> Any:  # a plotly Figure
        """The dashboard's Plotly figure of this result (shows inline in Jupyter)."""
        from landscapes.io.formats import figure

        return figure(self.result, display)


@dataclass(frozen=True)
class ModuleLandscape:
    """The loss landscape of one module on one dataset (see :func:`from_module`)."""

    source: NetworkSource
    module_class: type

    def __repr__(self) -> str:
        land = self.landscape
        return (f"ModuleLandscape({self.module_class.__name__}: {land.dim:,} parameters, "
                f"{len(land.data.x_train)} train + {len(land.data.x_test)} test samples, "
                f"{land.loss}, method {land.method})")

    @property
    def landscape(self) -> NetworkLandscape:
        return self.source.landscape

    @property
    def method(self) -> str:
        """``gemm`` (a zoo shape: the fast path), ``inplace`` (any module on a CPU) or ``vmap``
        (on a GPU)."""
        return self.landscape.method

    def slice(self, dims: int = 2, steps: int = 51, span: float = 1.0,
              directions: str = "filter", direction_seed: int = 0,
              include_1d: bool = False) -> LandscapeResult:
        """A line (``dims=1``) or plane of the loss through the module's weights, coefficients
        in [-span, span]: ``filter`` (filter-normalized Gaussian directions, Li et al. 2018,
        seeded by ``direction_seed``) or ``hessian`` (top Hessian eigenvectors)."""
        view = {"dims": dims, "steps": steps, "span": span, "directions": directions,
                "direction_seed": direction_seed, "include_1d": include_1d}
        return LandscapeResult(compute_slice(self.source, view))

    def path(self, to: nn.Module | Mapping[str, torch.Tensor], kind: str = "linear",
             steps: int = 81, bend_steps: int = 300) -> LandscapeResult:
        """The loss from this module's weights (alpha = 0) to ``to``'s (alpha = 1): a module of
        the same class or its ``state_dict``. ``linear``: the straight line over alpha in
        [-0.5, 1.5]; ``bezier``: a quadratic curve with its bend trained (``bend_steps``)."""
        land = self.landscape
        params, buffers = split_state(land.module, self._state_of(to))
        source = replace(self.source, points={END: land.layout.flatten(params).double().numpy()},
                         buffers={END: buffers})
        view = {"from": CENTER, "to": END, "kind": kind, "steps": steps, "bend_steps": bend_steps}
        return LandscapeResult(compute_path(source, view))

    def hessian(self, k: int = 2, steps: int = 51, span: float = 1.0,
                seed: int = 0) -> LandscapeResult:
        """The top ``k`` (1 or 2) Hessian eigenpairs at the weights (Lanczos, seeded), and the
        loss on the line or plane they span: ``.eigenvalues``; ``.directions`` the unit
        eigenvectors; coefficients in parameter-space distance."""
        if k not in (1, 2):
            raise LandscapeError(f"hessian: k must be 1 or 2 (the slice it spans); got {k!r}")
        return self.slice(dims=k, steps=steps, span=span, directions="hessian",
                          direction_seed=seed)

    def _state_of(self, to: object) -> dict[str, torch.Tensor]:
        if isinstance(to, nn.Module):
            if type(to) is not self.module_class:
                raise LandscapeError(f"path: the other end must be a {self.module_class.__name__} "
                                     f"(or its state_dict); got a {type(to).__name__}")
            to = to.state_dict()
        if not isinstance(to, Mapping) or not all(isinstance(v, torch.Tensor) for v in to.values()):
            raise LandscapeError("path: `to` must be a module of the same class or its state_dict")
        return float32_state(to)


def from_module(module: nn.Module, X: Any, y: Any, loss: str = "cross_entropy",
                X_test: Any = None, y_test: Any = None, device: str | torch.device | None = None,
                *, engine: str = "auto", max_parameters: int = MAX_PARAMETERS,
                max_samples: int = MAX_SAMPLES) -> ModuleLandscape:
    """The loss landscape of ``module`` at its current weights on data ``(X, y)``.

    ``X`` (samples, *input shape) and ``y`` are numpy arrays or tensors: class labels (whole
    numbers, any dtype) for ``cross_entropy``, targets (samples,) or (samples, outputs) for
    ``mse``. Without ``X_test``/``y_test`` a deterministic 80/20 train/test split is made,
    seeded by the data's content hash. ``engine``: ``auto`` (the fast path for a zoo shape) or
    ``generic`` (never the fast path: ``inplace``, ``vmap`` on a GPU). ``device``: where the
    module runs: ``cpu`` (None), ``cuda``, ``cuda:K`` or ``auto``; a GPU that is missing falls
    back to the CPU with a warning (:func:`~landscapes.networks.devices.resolve_device`).
    Bad input raises a one-line :class:`~landscapes.errors.LandscapeError`.
    """
    if engine not in ENGINES:
        raise LandscapeError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if loss not in LOSSES:
        raise LandscapeError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    if not isinstance(module, nn.Module):
        raise LandscapeError(f"expected a torch.nn.Module; got {type(module).__name__}")
    where, note = resolve_device(None if device is None else str(device))
    if note:
        warnings.warn(note, stacklevel=2)
    data = module_data(X, y, loss, X_test, y_test, max_samples)
    land = NetworkLandscape.from_module(module, data, loss, max_parameters, where,
                                        recognize=engine == "auto")
    label = {"module": type(module).__name__}
    return ModuleLandscape(NetworkSource(land, label=label), type(module))


def module_data(X: Any, y: Any, loss: str, X_test: Any = None, y_test: Any = None,
                max_samples: int = MAX_SAMPLES) -> Dataset:
    """A checked :class:`Dataset` from arrays or tensors (see :func:`from_module`), named by
    its content hash (``arrays:<12 hex digits>``), which also seeds the 80/20 split."""
    if (X_test is None) != (y_test is None):
        raise LandscapeError("data: give both X_test and y_test, or neither")
    x, y = _array(X, "X"), _targets(_array(y, "y"), loss, "y")
    if X_test is None:
        return from_arrays(f"arrays:{_content_hash(x, y)}", x, y, max_samples)
    xt, yt = _array(X_test, "X_test"), _targets(_array(y_test, "y_test"), loss, "y_test")
    name = f"arrays:{_content_hash(x, y, xt, yt)}"
    return from_train_test(name, x, y, xt, yt, max_samples)


def _array(a: Any, name: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise LandscapeError(f"data: {name} is not an array ({exc})") from None


def _targets(y: np.ndarray, loss: str, name: str) -> np.ndarray:
    """Class labels as int64 (whole numbers checked) for cross_entropy, float32 for mse."""
    if y.dtype.kind not in "fiub":
        raise LandscapeError(f"data: {name} must be numeric; got {y.dtype}")
    if loss == "mse":
        return y.astype(np.float32)
    if y.ndim != 1:
        raise LandscapeError(f"data: {name} must be class labels of shape (samples,) for "
                             f"cross_entropy; got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise LandscapeError(f"data: {name} contains NaN or infinite values")
        bad = y != np.round(y)
        if bad.any():
            raise LandscapeError(f"data: {name} must hold whole-number class labels for "
                                 f"cross_entropy; found {float(y[bad][0]):g}")
    return y.astype(np.int64)


def _content_hash(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()[:12]

