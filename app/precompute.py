"""Warm the dashboard's cache before a class: ``funnelscope precompute FILE.yaml [--defaults]``.

The file lists views as plain request data, the same dicts the dashboard and the library use::

    views:
      - model: {model: ising, n: 16, native_bias: 2.0}
        view: {view: slice, steps: 51, center: minimum:0}
      - model: {model: network, example: digits-cnn}
        view: {view: slice, steps: 21, directions: pca}

Any view registered in :mod:`landscapes.registry` may be listed; each is computed once, through
:func:`landscapes.views.compute` as the dashboard does, into the cache the dashboard reads (same
keys, :func:`landscapes.views.request_key`), so the first student who asks for it does not wait.
``--defaults`` adds the views both panels show on first load.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from app import controls, ids, panel_views
from app.config import Config
from app.main import create_app
from landscapes import views
from landscapes.errors import LandscapeError


def read_plan(path: Path) -> list[tuple[dict, dict]]:
    """(model spec, view spec) pairs from a YAML file, with a clear error for a bad file."""
    try:
        plan = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise LandscapeError(f"cannot read {path}: {exc.strerror or exc}") from None
    except RecursionError:
        raise LandscapeError(f"{path} is nested too deeply to be a plan") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise LandscapeError(f"{path} is not valid YAML{at}: {problem}") from None
    entries = plan.get("views") if isinstance(plan, dict) else None
    if not isinstance(entries, list):
        raise LandscapeError(f"{path}: expected a top-level 'views:' list of {{model, view}} items")
    pairs = []
    for k, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("model"), dict)
                and isinstance(entry.get("view"), dict)):
            raise LandscapeError(f"{path}: views[{k}] needs a 'model' mapping and a 'view' mapping")
        pairs.append((entry["model"], entry["view"]))
    return pairs


def default_views() -> Iterator[tuple[dict, dict]]:
    """The views both panels request on first load (from the controls' defaults)."""
    for side in ids.PANELS:
        d = controls.defaults(side)
        spec = panel_views.model_spec(d[ids.MODEL], d[ids.ISING_N], d[ids.NATIVE_BIAS],
                                      d[ids.PSPIN_N], d[ids.P], d[ids.PLANTED], d[ids.SEED])
        slice_view, paths = panel_views.requests(
            spec, d[ids.SPAN], d[ids.STEPS], d[ids.CENTER], d[ids.DIRECTIONS], d[ids.PATH_FROM],
            d[ids.PATH_TO], d[ids.NET_DIRECTIONS], d[ids.NET_PATH_KIND], d[ids.SEED])
        for view in (slice_view, *paths):
            yield spec, view


def precompute(config: Config, pairs: list[tuple[dict, dict]],
               report: Callable[[int, dict, dict, str], None] | None = None) -> dict[str, int]:
    """Compute every view not cached yet; returns counts of computed, cached and failed views.

    Every request's form (known keys, types, each number in its range) is checked before any
    work starts, so a typo fails fast; a request that fails when computed (a p-spin with too
    many couplings for its p) fails on its own and is reported.
    """
    for spec, view in pairs:
        views.request_key(spec, view)  # raises LandscapeError on a bad request
    store = create_app(config).server.extensions["funnelscope_store"]
    store.budget = None  # the operator's warm-up of expensive views: no web compute budget
    counts = {"computed": 0, "cached": 0, "failed": 0}
    for k, (spec, view) in enumerate(pairs):
        if store.cached(spec, view) is not None:
            status = "cached"
        else:
            try:
                store.get(spec, view)
                status = "computed"
            except LandscapeError as exc:
                status = f"failed: {exc}"
        counts[status.split(":")[0]] += 1
        if report:
            report(k, spec, view, status)
    return counts
