"""Requests in, results out: the one entry point the CLI, the dashboard and tests share.

A request is plain data -- a model spec (see :mod:`landscapes.spin.models`) and a view spec::

    {"view": "slice", "dims": 2, "steps": 51, "span": 1.0, "center": "minimum:0",
     "directions": "random", "direction_seed": 0}
    {"view": "path", "from": "native", "to": "minimum:0", "kind": "geodesic", "steps": 101}

Named points: ``native`` (xi for Ising, the planted v for p-spin), ``ground`` (the exact Ising
ground state with Q >= 0; n <= 20), ``random:K`` (seeded random start K on the sphere) and
``minimum:K`` (the minimum a descent from ``random:K`` reaches), and for Ising ``state:I`` (the
state with index I: spin i = bit i, 1 -> +1; e.g. a minimum of the barrier tree). Directions are
``random`` or ``through:P1[,P2[,P3]]`` (slice spanned by the centre and those points).
Ising models also have the exact funnel views ``funnel`` and ``sweep``
(:mod:`landscapes.spin.funnel_views`); every spin model and the example networks have ``minima``
(:mod:`landscapes.minima_stats`: many seeded descents or trainings).
:func:`request_key` hashes the canonical request with the library version.
"""

import hashlib
import json
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch

import landscapes
from landscapes import minima_stats
from landscapes.directions import directions_through, random_directions
from landscapes.errors import LandscapeError
from landscapes.networks import views as network_views
from landscapes.networks.store import UploadStore
from landscapes.results import ViewResult
from landscapes.slices import Slice, evaluate_grid, symmetric_axis
from landscapes.sphere import geodesic_chord_parameters
from landscapes.spin import funnel_views
from landscapes.spin.descent import descend
from landscapes.spin.enumeration import enumerate_ising, spins_from_index
from landscapes.spin.models import SpinModel, build_model, normalize_spec
from landscapes.spin.polynomial_slices import sphere_values
from landscapes.viewspec import fill_view

Progress = Callable[[int, int], None] | None

SLICE_DEFAULTS = {
    "view": "slice", "dims": 2, "steps": 51, "span": 1.0, "center": "minimum:0",
    "directions": "random", "direction_seed": 0,
}
PATH_DEFAULTS = {"view": "path", "from": "native", "to": "minimum:0", "kind": "geodesic", "steps": 101}
PATH_KINDS = ("linear", "geodesic")
MAX_STEPS = {1: 100_001, 2: 401, 3: 81}
UNIT = "energy per spin"


def normalize_view(view: dict) -> dict:
    """Canonical view spec: defaults filled, values checked (raises LandscapeError)."""
    out = fill_view(view, {"slice": SLICE_DEFAULTS, "path": PATH_DEFAULTS},
                    {"steps": int, "dims": int, "span": float, "direction_seed": int})
    kind = out["view"]
    if kind == "slice":
        if out["dims"] not in (1, 2, 3):
            raise LandscapeError(f"slice: dims must be 1, 2 or 3; got {out['dims']}")
        limit = MAX_STEPS[out["dims"]]
        if not 2 <= out["steps"] <= limit:
            raise LandscapeError(
                f"slice: steps must be between 2 and {limit} for dims={out['dims']}; "
                f"got {out['steps']}"
            )
        symmetric_axis(out["span"], out["steps"])
        _parse_point(out["center"])
        if out["directions"] != "random":
            targets = _through_targets(out["directions"])
            if len(targets) != out["dims"]:
                raise LandscapeError(
                    f"slice: dims={out['dims']} needs {out['dims']} point(s) after 'through:'; "
                    f"got {len(targets)}"
                )
    else:
        if out["kind"] not in PATH_KINDS:
            raise LandscapeError(f"path: kind must be linear or geodesic; got {out['kind']!r}")
        if not 2 <= out["steps"] <= MAX_STEPS[1]:
            raise LandscapeError(f"path: steps must be between 2 and {MAX_STEPS[1]}")
        _parse_point(out["from"])
        _parse_point(out["to"])
    return out


def canonical_request(model_spec: dict, view_spec: dict) -> tuple[dict, dict]:
    """The normalized (model spec, view spec) of a request, for any model family."""
    kind = view_spec.get("view", "slice")
    if model_spec.get("model") == "network":
        spec = network_views.normalize_spec(model_spec)
        if kind == "minima":
            if "example" not in spec:
                raise LandscapeError("minima from several seeds are trained for the example "
                                     "networks only (an upload has no training recipe)")
            return spec, minima_stats.normalize_network_minima_view(view_spec)
        return spec, network_views.normalize_view(view_spec)
    spec = normalize_spec(model_spec)
    if kind == "minima":
        return spec, minima_stats.normalize_minima_view(view_spec)
    if kind in funnel_views.DEFAULTS:
        if spec["model"] != "ising":
            raise LandscapeError(f"{kind} views are computed exactly for the Ising model only; "
                                 f"got {spec['model']!r}")
        view = funnel_views.normalize_view(view_spec)
        if kind == "sweep":  # the sweep sets N itself: one result whatever N the panel shows
            spec["n"] = view["n_max"]
        return spec, view
    return spec, normalize_view(view_spec)


def request_key(model_spec: dict, view_spec: dict) -> str:
    """sha256 of the canonical request (sorted JSON) and the library version."""
    model, view = canonical_request(model_spec, view_spec)
    canonical = {"model": model, "view": view, "version": landscapes.__version__}
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _parse_point(name: str) -> tuple[str, int]:
    kind, _, index = str(name).partition(":")
    if kind in ("native", "ground") and not index:
        return kind, 0
    if kind in ("minimum", "random", "state") and index.isdigit():
        return kind, int(index)
    raise LandscapeError(
        f"unknown point {name!r}; use native, ground, minimum:K, random:K (K = 0, 1, ...) or "
        "state:I (Ising state number I)"
    )


def _through_targets(directions: str) -> list[str]:
    prefix, _, rest = directions.partition(":")
    if prefix != "through" or not rest:
        raise LandscapeError(
            f"unknown directions {directions!r}; use random or through:P1[,P2[,P3]]"
        )
    targets = rest.split(",")
    for t in targets:
        _parse_point(t)
    return targets


def resolve_point(model: SpinModel, name: str) -> np.ndarray:
    """The state (N,) a named point stands for (on the sphere |s|^2 = N)."""
    kind, index = _parse_point(name)
    if kind == "native":
        return model.native.copy()
    if kind == "random":
        return model.random_state(index)
    if kind == "minimum":
        return _minimum(tuple(sorted(model.spec.items())), index).copy()
    if model.name != "ising":
        what = "the ground state is known exactly" if kind == "ground" else "state:I names states"
        raise LandscapeError(f"{what} only for ising; use minimum:K")
    if kind == "state":
        if index >= 2**model.n:
            raise LandscapeError(f"state:{index} does not exist for n={model.n} spins "
                                 f"(states 0 .. {2**model.n - 1})")
        return spins_from_index(index, model.n)
    return spins_from_index(enumerate_ising(model).ground, model.n)


def _base_meta(model: SpinModel) -> dict:
    return {
        "model": model.spec,
        "seed": model.seed,
        "unit": UNIT,
        "energy_convention": model.energy_convention,
        "library_version": landscapes.__version__,
    }


@lru_cache(maxsize=256)
def _minimum(spec_items: tuple, index: int) -> np.ndarray:
    """The descent from start ``index`` (memoized by spec: a slice and its paths share it)."""
    model = build_model(dict(spec_items))
    return descend(model, model.random_state(index)[None, :]).states[0]


def compute_slice(model: SpinModel, view: dict, progress: Progress = None) -> Slice:
    """A 1D/2D/3D slice of ``model`` on the sphere (view spec already normalized)."""
    center = resolve_point(model, view["center"])
    dims = view["dims"]
    point_energies: list[float] = []
    if view["directions"] == "random":
        directions = random_directions(center, dims, view["direction_seed"], "sphere")
        direction_kind = "random"
        normalization = "tangent at center, orthonormal, |d| = |center| = sqrt(N)"
    else:
        targets = [resolve_point(model, t) for t in _through_targets(view["directions"])]
        directions = directions_through(center, targets)
        point_energies = model.energy(torch.as_tensor(np.stack(targets))).tolist()
        direction_kind = "through points"
        normalization = "d_k = point_k - center (unscaled)"
    axis = symmetric_axis(view["span"], view["steps"])
    axes = [axis] * dims
    values, method = sphere_values(model, center, directions, axes, progress=progress)
    meta = {
        **_base_meta(model),
        "kind": "slice",
        "dims": dims,
        "view": view,
        "direction_kind": direction_kind,
        "direction_seed": view["direction_seed"],
        "normalization": normalization,
        "geometry": "sphere",
        "center_energy": float(model.energy(torch.as_tensor(center)[None])[0]),
        "point_energies": point_energies,
        "method": method,
    }
    return Slice(axes, values, center, directions, "sphere", meta, model.arrays())


def compute_path(model: SpinModel, view: dict, progress: Progress = None) -> Slice:
    """Energy along a linear (chord) or geodesic (great-circle) path between two named points.

    Saved as a 1D slice: ``center`` is the start, ``directions[0] = end - start``, ``x`` the
    chord parameter t (linear: the point is ``start + t d``; geodesic: ``retract`` of it, with
    ``x`` chosen so the points are evenly spaced in angle). ``arc`` holds the fraction of the
    great-circle angle (geodesic) or t itself (linear), for plotting.
    """
    start, end = resolve_point(model, view["from"]), resolve_point(model, view["to"])
    direction = directions_through(start, [end])
    arc = np.linspace(0.0, 1.0, view["steps"])
    if view["kind"] == "linear":
        geometry, t = "euclidean", arc
    else:
        cos = float(start @ end) / model.n
        if cos < -1 + 1e-9:
            raise LandscapeError(
                f"{view['from']} and {view['to']} are antipodal: the geodesic between them is "
                "not unique; pick another endpoint or the linear path"
            )
        geometry = "sphere"
        t = geodesic_chord_parameters(
            torch.as_tensor(start), torch.as_tensor(end), torch.as_tensor(arc)
        ).numpy()
    values = evaluate_grid(model.energy, start, direction, [t], geometry, progress=progress)
    meta = {
        **_base_meta(model),
        "kind": "path",
        "dims": 1,
        "view": view,
        "path_kind": view["kind"],
        "direction_kind": "through points",
        "normalization": "d = end - start (unscaled)",
        "geometry": geometry,
        "angle_deg": float(np.degrees(np.arccos(np.clip(start @ end / model.n, -1, 1)))),
    }
    extras = {**model.arrays(), "arc": arc}
    return Slice([t], values, start, direction, geometry, meta, extras)


def compute(model_spec: dict, view_spec: dict, progress: Progress = None,
            store: UploadStore | None = None,
            device: torch.device | None = None) -> Slice | ViewResult:
    """Compute the view a request names (the canonical entry point).

    Networks need ``store``: where uploads and the trained examples live; their slices and paths
    are evaluated on ``device`` (default the CPU; see :mod:`landscapes.networks.devices`).
    """
    if model_spec.get("model") == "network":
        spec, view = canonical_request(model_spec, view_spec)
        if store is None:
            raise LandscapeError("network views need an upload store (a cache directory)")
        if view["view"] == "minima":
            return minima_stats.network_minima(spec["example"], view["seeds"],
                                               store.examples_dir, progress)
        source = network_views.on_device(network_views.source_from_spec(spec, store), device)
        if view["view"] == "slice":
            return network_views.compute_slice(source, view, progress)
        return network_views.compute_path(source, view, progress)
    spec, view = canonical_request(model_spec, view_spec)
    if view["view"] == "sweep":
        return funnel_views.compute_sweep(spec, view, progress)
    model = build_model(spec)
    if view["view"] == "funnel":
        return funnel_views.compute_funnel(model, view, progress)
    if view["view"] == "minima":
        return minima_stats.spin_minima(model, view, progress)
    if view["view"] == "slice":
        return compute_slice(model, view, progress)
    return compute_path(model, view, progress)


__all__ = ["compute", "normalize_view", "request_key", "resolve_point", "normalize_spec"]
