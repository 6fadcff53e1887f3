"""Slices and paths of the spin models, and the registry records of every spin view.

Views (plain dicts; see :mod:`landscapes.views` for the request form)::

    {"view": "slice", "dims": 2, "steps": 51, "span": 1.0, "center": "minimum:0",
     "directions": "random", "direction_seed": 0}
    {"view": "path", "from": "native", "to": "minimum:0", "kind": "geodesic", "steps": 101}

Named points: ``native`` (xi for Ising, the planted v for p-spin), ``ground`` (the exact Ising
ground state with Q >= 0; n <= 20), ``random:K`` (seeded random start K on the sphere) and
``minimum:K`` (the minimum a descent from ``random:K`` reaches), and for Ising ``state:I`` (the
state with index I: spin i = bit i, 1 -> +1; e.g. a minimum of the barrier tree). Directions are
``random`` or ``through:P1[,P2[,P3]]`` (slice spanned by the center and those points).

Registered here (:mod:`landscapes.registry`): ``slice``, ``path`` and ``minima``
(:mod:`landscapes.spin.minima`) for both spin families, ``spectrum``
(:mod:`landscapes.spin.spectrum`) for the p-spin glass, and for the Ising model alone the exact
views of :mod:`landscapes.spin.funnel_views`: ``funnel``, ``sweep``, ``enumeration`` and
``free_energy``. Energies are per spin, H/N (``unit`` = ``"energy per spin"``).

Importing this module loads neither torch nor numba nor scipy.optimize: the computations that
need them import them when they run (slices, paths and minima: torch; the exact views: the
compiled barrier tree above 16 spins, numba, and scipy's root finder), so ``landscapes
enumerate`` never loads torch.
"""

from functools import lru_cache

import numpy as np

from landscapes.directions import directions_through, random_directions
from landscapes.errors import LandscapeError
from landscapes.registry import Context, Progress, ViewKind, register_view
from landscapes.results import ViewResult
from landscapes.slices import Slice, evaluate_grid, symmetric_axis
from landscapes.spin import funnel_views
from landscapes.spin.enumeration import check_enumerable, enumerate_ising, spins_from_index
from landscapes.spin.ising import IsingFunnel
from landscapes.spin.minima import (
    MINIMA_DEFAULTS,
    MINIMA_STARTS,
    normalize_minima_view,
    spin_minima,
)
from landscapes.spin.models import (
    SpinModel,
    build_ising,
    build_model,
    model_meta,
    normalize_spec,
)
from landscapes.spin.polynomial_slices import sphere_values
from landscapes.spin.spectrum import SPECTRUM_DEFAULTS, normalize_spectrum_view, spin_spectrum
from landscapes.viewspec import (
    SEED,
    SEED_MAX,
    Constraint,
    Interval,
    Options,
    Text,
    fill_view,
    show,
    validate,
)

SLICE_DEFAULTS = {
    "view": "slice", "dims": 2, "steps": 51, "span": 1.0, "center": "minimum:0",
    "directions": "random", "direction_seed": 0,
}
PATH_DEFAULTS = {"view": "path", "from": "native", "to": "minimum:0", "kind": "geodesic", "steps": 101}
PATH_KINDS = ("linear", "geodesic")
MAX_STEPS = {1: 100_001, 2: 401, 3: 81}
MAX_INDEX = SEED_MAX  # K of random:K and minimum:K


def _check_directions(directions: str) -> None:
    if directions != "random":
        _through_targets(directions)


#: every parameter of the spin slice and path views, with its range (:mod:`landscapes.viewspec`)
CONSTRAINTS: dict[str, Constraint] = {
    "dims": Options((1, 2, 3)),
    "steps": Interval(int, 2, MAX_STEPS[1]),  # a path's; a slice's: STEPS[dims]
    "span": Interval(float, 0, 100, low_open=True),
    "direction_seed": SEED,
    "center": Text("a point name", parse=lambda name: _parse_point(name)),
    "from": Text("a point name", parse=lambda name: _parse_point(name)),
    "to": Text("a point name", parse=lambda name: _parse_point(name)),
    "directions": Text("random or through:P1[,P2[,P3]]", parse=_check_directions),
    "kind": Options(PATH_KINDS),
}
STEPS = {dims: Interval(int, 2, limit) for dims, limit in MAX_STEPS.items()}  # a slice's steps
SLICE_CONSTRAINTS: dict[str, Constraint] = {
    **{k: CONSTRAINTS[k] for k in SLICE_DEFAULTS if k != "view"},
    "steps": Interval(int, 2, MAX_STEPS[2], note=f"dims=2; dims=1: up to {MAX_STEPS[1]:,}, "
                                                  f"dims=3: up to {MAX_STEPS[3]}"),
}
PATH_CONSTRAINTS = {k: CONSTRAINTS[k] for k in PATH_DEFAULTS if k != "view"}


def normalize_view(view: dict) -> dict:
    """Canonical view spec: defaults filled, values checked (raises LandscapeError)."""
    kind = view.get("view", "slice")
    constraints = dict(CONSTRAINTS)
    if kind == "slice":  # steps by dims: dims first
        dims = validate(view, {"dims": CONSTRAINTS["dims"]}, "slice").get("dims", 2)
        constraints["steps"] = STEPS[dims]
    out = fill_view(view, {"slice": SLICE_DEFAULTS, "path": PATH_DEFAULTS}, constraints)
    if kind == "slice":
        if out["directions"] != "random":
            targets = _through_targets(out["directions"])
            if len(targets) != out["dims"]:
                raise LandscapeError(
                    f"slice: dims={out['dims']} needs {out['dims']} point(s) after 'through:'; "
                    f"got {len(targets)}"
                )
    return out


def _parse_point(name: str) -> tuple[str, int]:
    kind, _, index = str(name).partition(":")
    if kind in ("native", "ground") and not index:
        return kind, 0
    if (kind in ("minimum", "random", "state") and index.isascii() and index.isdigit()
            and len(index) <= 10 and int(index) <= MAX_INDEX):
        return kind, int(index)
    raise LandscapeError(
        f"unknown point {show(name)}; use native, ground, minimum:K, random:K (K = 0 .. "
        f"{MAX_INDEX}) or state:I (Ising state number I)"
    )


def _through_targets(directions: str) -> list[str]:
    prefix, _, rest = directions.partition(":")
    if prefix != "through" or not rest:
        raise LandscapeError(
            f"unknown directions {show(directions)}; use random or through:P1[,P2[,P3]]"
        )
    targets = rest.split(",")
    if len(targets) > 3:
        raise LandscapeError(f"directions: at most 3 points after 'through:'; got {len(targets)}")
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
    if not isinstance(model, IsingFunnel):
        what = "the ground state is known exactly" if kind == "ground" else "state:I names states"
        raise LandscapeError(f"{what} only for ising; use minimum:K")
    if kind == "state":
        if index >= 2**model.n:
            raise LandscapeError(f"state:{index} does not exist for n={model.n} spins "
                                 f"(states 0 .. {2**model.n - 1})")
        return spins_from_index(index, model.n)
    return spins_from_index(enumerate_ising(model).ground, model.n)


@lru_cache(maxsize=256)
def _minimum(spec_items: tuple, index: int) -> np.ndarray:
    """The descent from start ``index`` (memoized by spec: a slice and its paths share it)."""
    from landscapes.spin.descent import descend

    model = build_model(dict(spec_items))
    return descend(model, model.random_state(index)[None, :]).states[0]


def compute_slice(model: SpinModel, view: dict, progress: Progress = None) -> Slice:
    """A 1D/2D/3D slice of ``model`` on the sphere (view spec already normalized)."""
    import torch

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
        **model_meta(model),
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
    import torch

    from landscapes.sphere import geodesic_chord_parameters

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
        **model_meta(model),
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


# --------------------------------------------------------------------------- the records


def _on_model(compute):
    """A record's compute from one over a built model: ``(spec, view, progress, context)``."""
    return lambda spec, view, progress, context: compute(build_model(spec), view, progress)


def _on_ising(compute):
    """Like :func:`_on_model` for the views computed for the Ising model only."""
    return lambda spec, view, progress, context: compute(build_ising(spec), view, progress)


def _sweep_request(spec: dict, view: dict) -> tuple[dict, dict]:
    """The sweep sets N itself: one result whatever N the panel shows."""
    return {**spec, "n": view["n_max"]}, view


def _enumerable(spec: dict, view: dict) -> tuple[dict, dict]:
    """Refuse a model too large to enumerate before any work."""
    check_enumerable(spec["n"])
    return spec, view


def _compute_sweep(spec: dict, view: dict, progress: Progress, context: Context) -> ViewResult:
    return funnel_views.compute_sweep(spec, view, progress)


def _compute_enumeration(spec: dict, view: dict, progress: Progress,
                         context: Context) -> ViewResult:
    return funnel_views.compute_enumeration(build_ising(spec), progress)


RECORDS = (
    ViewKind("spin", "slice", SLICE_DEFAULTS, normalize_view, _on_model(compute_slice),
             result_kind="slice", normalize_model=normalize_spec, constraints=SLICE_CONSTRAINTS,
             description="a 1D/2D/3D slice of the energy on the sphere through a named point"),
    ViewKind("spin", "path", PATH_DEFAULTS, normalize_view, _on_model(compute_path),
             result_kind="path", normalize_model=normalize_spec, constraints=PATH_CONSTRAINTS,
             description="the energy along a linear or geodesic path between two named points"),
    ViewKind("spin", "minima", MINIMA_DEFAULTS, normalize_minima_view, _on_model(spin_minima),
             result_kind="minima", normalize_model=normalize_spec,
             constraints={"starts": MINIMA_STARTS},
             description="the minima of seeded descents from random:0 .. random:K-1"),
    ViewKind("pspin", "spectrum", SPECTRUM_DEFAULTS, normalize_spectrum_view,
             _on_model(spin_spectrum), result_kind="spectrum", normalize_model=normalize_spec,
             constraints={"starts": MINIMA_STARTS},
             description="every eigenvalue of the Hessian at the lowest of K minima, beside the "
                         "semicircle law"),
    ViewKind("ising", "funnel", funnel_views.FUNNEL_DEFAULTS, funnel_views.normalize_view,
             _on_ising(funnel_views.compute_funnel), result_kind="funnel",
             normalize_model=normalize_spec, canonical=_enumerable,
             constraints=funnel_views.constraints_of("funnel"),
             description="the exact funnel: E(Q), S(Q), the barrier tree and F(Q; T)"),
    ViewKind("ising", "sweep", funnel_views.SWEEP_DEFAULTS, funnel_views.normalize_view,
             _compute_sweep, result_kind="sweep", normalize_model=normalize_spec,
             canonical=_sweep_request, constraints=funnel_views.constraints_of("sweep"),
             description="how the funnel sharpens with N (exact)"),
    ViewKind("ising", "enumeration", funnel_views.ENUMERATION_DEFAULTS,
             funnel_views.normalize_view, _compute_enumeration, result_kind="enumeration",
             normalize_model=normalize_spec, canonical=_enumerable,
             description="all 2^N energies, the local minima and the barrier tree (N <= 20)"),
    ViewKind("ising", "free_energy", funnel_views.FREE_ENERGY_DEFAULTS,
             funnel_views.normalize_view, _on_ising(funnel_views.compute_free_energy),
             result_kind="free energy", normalize_model=normalize_spec, canonical=_enumerable,
             constraints=funnel_views.constraints_of("free_energy"),
             description="F(Q; T) over the native overlap at one temperature (exact, N <= 20)"),
)
for _record in RECORDS:
    register_view(_record)


__all__ = [
    "PATH_DEFAULTS", "PATH_KINDS", "RECORDS", "SLICE_DEFAULTS", "compute_path", "compute_slice",
    "normalize_view", "resolve_point",
]
