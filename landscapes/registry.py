"""The registry of view kinds: one record per (model family, view) and one per result kind.

Everything that serves a view -- the library's :func:`landscapes.views.compute`, the command
line, the HTTP API, the dashboard, the exports and the cache warm-up -- looks the view up here
instead of comparing strings. Adding a view kind is one call of :func:`register_view` (and, for
a new kind of result, one of :func:`register_result`) in the module that computes it.

Two kinds of record:

* :class:`ViewKind` -- what a request ``(model spec, view spec)`` names: the family
  (``ising``, ``pspin``, ``network``, or ``spin`` for both spin families), the view
  (``slice``, ``path``, ``funnel``, ...), its defaults, its validation and its computation.
* :class:`ResultKind` -- what a computed result is (``meta["kind"]``): how it is described in
  words, tabulated for CSV, laid out as a VTK grid and drawn as a figure. Several views can
  share one result kind (every family's ``slice`` makes a ``slice`` result).

Records are plain frozen dataclasses of functions over plain data (dicts, numpy arrays,
:class:`~landscapes.slices.Slice` and :class:`~landscapes.results.ViewResult`); this module
imports none of the families, so they can all import it (no import circles). It knows each
family's module by name (:data:`FAMILY_MODULES`) and imports it on the first lookup of that
family, so a spin command never loads the network family (torch) and ``landscapes --help``
loads neither.
"""

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from landscapes.errors import LandscapeError

# a progress callback: progress(done, total), both counts of the view's own units of work
Progress = Callable[[int, int], None] | None
# a computed result: a Slice (slices and paths) or a ViewResult (everything else)
Result = Any


@dataclass(frozen=True)
class Context:
    """What a computation may need beyond its request: where uploads and trained examples live
    (``store``, an :class:`~landscapes.networks.store.UploadStore`; networks only) and the torch
    device networks are evaluated on (None: the CPU)."""

    store: Any = None
    device: Any = None


@dataclass(frozen=True)
class ViewKind:
    """One view of one model family.

    ``normalize_model(spec) -> spec`` and ``normalize_view(view) -> view`` return the canonical
    (defaults filled, values checked, LandscapeError with a one-line reason otherwise) model
    and view specs; ``canonical(spec, view) -> (spec, view)`` may then adjust the pair (the
    size sweep sets ``n`` itself). ``compute(spec, view, progress, context) -> result`` runs
    on the canonical pair. ``result_kind`` names the :class:`ResultKind` its results carry in
    ``meta["kind"]``.
    """

    family: str
    view: str
    defaults: Mapping[str, Any]
    normalize_view: Callable[[dict], dict]
    compute: Callable[[dict, dict, Progress, Context], Result]
    result_kind: str
    description: str = ""
    normalize_model: Callable[[dict], dict] | None = None
    canonical: Callable[[dict, dict], tuple[dict, dict]] | None = None
    #: every view parameter's constraint (:mod:`landscapes.viewspec`: its type and range), as
    #: ``normalize_view`` checks it: what the docs list and the help can say
    constraints: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultKind:
    """How a result kind is shown and exported.

    ``describe(meta) -> str`` names it in words (titles, file names); ``table(result) ->
    {column: (P,) array}`` is its CSV table (None: no CSV), ``table_note`` says what a row is;
    ``vtk_grid(result) -> (dims, points (P, 3), {name: (P,) or (P, k)})`` its VTK structured
    grid (None: no VTK); ``figure(result, display) -> plotly Figure`` the figure the dashboard
    shows and the HTML export embeds (``display``: the drawing options, or None for the
    defaults).
    """

    kind: str
    describe: Callable[[dict], str]
    table: Callable[[Result], dict] | None = None
    table_note: str = ""
    vtk_grid: Callable[[Result], tuple] | None = None
    figure: Callable[[Result, dict | None], Any] | None = None
    grid: bool = False  # a Slice (axes, values, center, directions), not a ViewResult
    extra: Mapping[str, Any] = field(default_factory=dict)


_VIEWS: dict[tuple[str, str], ViewKind] = {}
_RESULTS: dict[str, ResultKind] = {}
FAMILY_GROUPS = {"spin": ("ising", "pspin")}  # a record of family "spin" serves both
#: the module that registers each model family's view kinds, imported on its first lookup
FAMILY_MODULES = {
    "network": "landscapes.networks.views",
    "ising": "landscapes.spin.views",
    "pspin": "landscapes.spin.views",
}


def _load(family: str | None = None) -> None:
    """Import the module of ``family`` (None: of every family), which registers its views."""
    names = FAMILY_MODULES if family is None else [family] if family in FAMILY_MODULES else []
    for name in names:
        importlib.import_module(FAMILY_MODULES[name])


def register_view(record: ViewKind) -> ViewKind:
    """Add ``record`` (replacing one of the same family and view); returns it."""
    for family in FAMILY_GROUPS.get(record.family, (record.family,)):
        _VIEWS[(family, record.view)] = record
    return record


def unregister_view(family: str, view: str) -> None:
    """Remove a view kind (tests that register a toy view kind remove it again)."""
    for fam in FAMILY_GROUPS.get(family, (family,)):
        _VIEWS.pop((fam, view), None)


def register_result(record: ResultKind) -> ResultKind:
    """Add ``record`` (replacing one of the same kind); returns it."""
    _RESULTS[record.kind] = record
    return record


def unregister_result(kind: str) -> None:
    _RESULTS.pop(kind, None)


def families() -> list[str]:
    """Every model family with at least one view (imports them all): the families of
    :data:`FAMILY_MODULES` in its order (whichever was imported first), then any other in
    registration order."""
    _load()
    registered = dict.fromkeys(family for family, _ in _VIEWS)
    return ([family for family in FAMILY_MODULES if family in registered]
            + [family for family in registered if family not in FAMILY_MODULES])


def views_of(family: str) -> list[str]:
    """The views registered for ``family``, in registration order."""
    _load(family)
    return [view for fam, view in _VIEWS if fam == family]


def view_kind(family: str, view: str) -> ViewKind:
    """The record of ``view`` for ``family``; LandscapeError naming the choices otherwise."""
    _load(family)
    record = _VIEWS.get((family, view))
    if record is not None:
        return record
    known = families()  # the error names every family's views: load them all
    if family not in known:
        raise LandscapeError(f"unknown model {family!r}; choose {_or(sorted(known))}")
    offered = [v for fam, v in _VIEWS if fam == family]
    others = sorted({fam for fam, v in _VIEWS if v == view})
    if others:
        raise LandscapeError(f"{view} views are computed for {_or(others)} only; got {family!r}")
    raise LandscapeError(f"unknown view {view!r} for {family}; choose {_or(offered)}")


def result_kind(kind: str) -> ResultKind:
    """The record of result kind ``kind`` (``meta["kind"]``)."""
    record = _RESULTS.get(kind)
    if record is None:
        raise LandscapeError(f"unknown kind of result {kind!r}; known: {', '.join(_RESULTS)}")
    return record


def result_kinds() -> list[str]:
    return list(_RESULTS)


def _or(names: list[str]) -> str:
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


__all__ = [
    "FAMILY_MODULES", "Context", "Progress", "Result", "ResultKind", "ViewKind", "families",
    "register_result", "register_view", "result_kind", "result_kinds", "unregister_result",
    "unregister_view", "view_kind", "views_of",
]
