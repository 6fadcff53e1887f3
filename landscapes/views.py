"""Requests in, results out: the one entry point the CLI, the HTTP API, the dashboard and the
cache warm-up share.

A request is plain data -- a model spec and a view spec, e.g.::

    {"model": "ising", "n": 16, "native_bias": 2.0}
    {"view": "slice", "dims": 2, "steps": 51, "span": 1.0, "center": "minimum:0"}

Which views each model family has, their defaults, validation and computation are the records
of :mod:`landscapes.registry`: the spin views in :mod:`landscapes.spin.views` (slice, path,
minima; for Ising also funnel, sweep, enumeration, free_energy), the network views in
:mod:`landscapes.networks.views` (slice, path, minima), each family's module imported on its
first lookup (so a spin request never loads torch's network machinery). This module only
looks them up:
:func:`canonical_request` normalizes a request by its record, :func:`request_key` hashes it and
:func:`compute` runs it. A view spec without ``view`` is a ``slice``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import landscapes
from landscapes import io as _io  # noqa: F401  (registers the result kinds)
from landscapes import registry
from landscapes.budget import Budget, running
from landscapes.errors import LandscapeError
from landscapes.registry import Context, Progress, ViewKind
from landscapes.results import ViewResult
from landscapes.slices import Slice
from landscapes.spin.models import normalize_spec
from landscapes.spin.views import (
    PATH_KINDS,
    compute_path,
    compute_slice,
    normalize_view,
    resolve_point,
)

if TYPE_CHECKING:
    import torch

    from landscapes.networks.store import UploadStore

# part of every request key: bumped when the canonical request or a result changes form
# (2: the registry; minima carry their start states, network paths spell "center")
KEY_VERSION = 2


def _resolve(model_spec: dict, view_spec: dict) -> tuple[ViewKind, dict, dict]:
    """The record a request names and its canonical (model spec, view spec)."""
    family, view_name = model_spec.get("model"), view_spec.get("view", "slice")
    if not isinstance(family, str):
        raise LandscapeError("model must name a model family (a string); got "
                             f"{type(family).__name__}")
    if not isinstance(view_name, str):
        raise LandscapeError(f"view must name a view (a string); got {type(view_name).__name__}")
    record = registry.view_kind(family, view_name)
    spec = record.normalize_model(model_spec) if record.normalize_model else dict(model_spec)
    view = record.normalize_view({"view": record.view, **view_spec})
    if record.canonical:
        spec, view = record.canonical(spec, view)
    return record, spec, view


def canonical_request(model_spec: dict, view_spec: dict) -> tuple[dict, dict]:
    """The normalized (model spec, view spec) of a request, for any registered view.

    Raises LandscapeError with a one-line reason (unknown model or view, bad setting).
    """
    _, spec, view = _resolve(model_spec, view_spec)
    return spec, view


def request_key(model_spec: dict, view_spec: dict) -> str:
    """sha256 of the canonical request (sorted JSON), the key version and the library version."""
    model, view = canonical_request(model_spec, view_spec)
    canonical = {"model": model, "view": view, "version": landscapes.__version__,
                 "key_version": KEY_VERSION}
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def compute(model_spec: dict, view_spec: dict, progress: Progress = None,
            store: UploadStore | None = None,
            device: torch.device | None = None, budget: float | None = None,
            cancelled: Callable[[], bool] | None = None,
            memory: int | None = None) -> Slice | ViewResult:
    """Compute the view a request names (the canonical entry point).

    ``progress(done, total)`` reports the view's own units of work; raising from it cancels.
    Networks need ``store`` (where uploads and the trained examples live); their slices and
    paths are evaluated on ``device`` (default the CPU; see :mod:`landscapes.networks.devices`).
    ``budget``: seconds the computation may take (None: no limit) and ``memory``: bytes the
    process may grow by while it runs (None: no limit) before it is ended with
    :class:`~landscapes.errors.BudgetExceeded`; ``cancelled()``: true once nobody waits for the
    result (it is then ended with :class:`~landscapes.errors.Cancelled`; :mod:`landscapes.budget`).
    """
    record, spec, view = _resolve(model_spec, view_spec)
    limited = budget is not None or cancelled is not None or memory is not None
    limit = Budget(budget, cancelled, memory=memory) if limited else None
    with running(limit):
        return record.compute(spec, view, progress if limit is None else limit.wrap(progress),
                              Context(store=store, device=device))


__all__ = [
    "KEY_VERSION", "PATH_KINDS", "canonical_request", "compute", "compute_path", "compute_slice",
    "normalize_spec", "normalize_view", "request_key", "resolve_point",
]
