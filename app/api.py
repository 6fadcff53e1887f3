"""A small JSON API over the same cached views the dashboard shows.

``POST /api/view``  body ``{"model": {...model spec...}, "view": {...view spec...}}`` (the plain
                    request data of :mod:`landscapes.views`; any view registered in
                    :mod:`landscapes.registry`, computed by :func:`landscapes.views.compute`).
                    Answers 200 with::

                        {"key": REQUEST_KEY, "cached": BOOL, "meta": {...},
                         "axes": [[x...], [y...]], "values": [[...], ...], "extras": [NAMES]}

                    ``key`` is :func:`landscapes.views.request_key` (sha256 of the canonical
                    request and the library version); ``cached`` says whether the view was in
                    the cache before this request (otherwise it was computed now, once: identical
                    concurrent requests wait for it). ``?format=npz`` answers the ``.npz`` export
                    instead (``application/octet-stream``, attachment ``KEY[:12].npz``).
``GET /api/view/KEY``  the cached view with that request key (same JSON, or ``?format=npz``);
                    404 ``{"error": "not cached"}`` when it is not in the cache (nothing is
                    computed).

Conventions follow the export contract (docs/file-formats.md): ``axes`` lists the coefficients along x, y
(and z); ``values[i][j]`` is at ``(x[j], y[i])`` (3D: ``values[k][i][j]`` at ``(x[j], y[i],
z[k])``); paths are 1D. ``values`` are rounded to float32, in the unit ``meta["unit"]`` names
(``energy per spin`` for spin models, ``loss`` for networks). ``extras`` names the further arrays
(couplings, test loss, ...) that only the ``.npz`` carries. Non-finite numbers (a diverged loss)
become JSON ``null``: every answer is strict JSON.

A view not in the cache is computed in a slot of the caller's fair share
(:mod:`app.fairness`: ``FUNNELSCOPE_JOBS_PER_CLIENT`` per address): a caller with that many
views computing gets 429 with ``Retry-After: 1`` at once -- a request thread waiting in a queue
would be a thread the other students lack.

Errors are JSON too, never an HTML page: 400 ``{"error": MESSAGE}`` for a bad request (a body
that is not a JSON object with ``model`` and ``view`` objects, or a
:class:`~landscapes.errors.LandscapeError` from the library); 429 beyond the fair share; 500
``{"error": "internal error"}`` for anything else (logged with its traceback).
"""

import io
import json
import logging
import math
import tempfile
from pathlib import Path

import flask
import numpy as np
from werkzeug.exceptions import HTTPException

from app import fairness
from app.data import ViewStore
from landscapes import views
from landscapes.errors import LandscapeError
from landscapes.io.npz import write_npz
from landscapes.results import ViewResult, from_arrays
from landscapes.slices import Slice

log = logging.getLogger(__name__)

CACHE_PREFIX = "view:"  # ViewStore.key(model, view) == CACHE_PREFIX + views.request_key(model, view)
FORMATS = ("json", "npz")
BAD_FORMAT = "unknown format; use ?format=json (the default) or ?format=npz"


def _finite(obj):
    """``obj`` (JSON-able) with every non-finite float replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _array_json(values: np.ndarray) -> list:
    """Nested lists of float32-rounded values; NaN and +-inf become None."""
    values = np.asarray(values).astype(np.float32)
    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()
    out = values.astype(object)
    out[~finite] = None
    return out.tolist()


def _json(body: dict, status: int = 200) -> flask.Response:
    """A strict-JSON response (``allow_nan=False``: a stray NaN fails here, not in the browser)."""
    return flask.Response(json.dumps(body, allow_nan=False), status=status,
                          mimetype="application/json")


def _error(message: str, status: int) -> flask.Response:
    return _json({"error": message}, status)


def _lookup(store: ViewStore, key: str) -> Slice | ViewResult | None:
    """The cached view with request key ``key``, or None."""
    hit = store.cache.get(CACHE_PREFIX + key)
    return None if hit is None else from_arrays(*hit)


def _format() -> str | None:
    """The answer's format from ``?format=`` (json by default), or None if unknown."""
    fmt = flask.request.args.get("format", "json")
    return fmt if fmt in FORMATS else None


def _answer(key: str, result: Slice | ViewResult, cached: bool, fmt: str) -> flask.Response:
    """The view as JSON, or as the ``.npz`` export for ``fmt == "npz"``.

    Slices and paths answer ``axes`` and ``values``; other views (funnel, sweep, minima) all
    their named ``arrays``.
    """
    if fmt == "npz":
        with tempfile.TemporaryDirectory() as tmp:  # write_npz takes a path, not a file object
            data = write_npz(Path(tmp) / "view.npz", result.to_arrays(), result.meta).read_bytes()
        return flask.send_file(io.BytesIO(data), mimetype="application/octet-stream",
                               as_attachment=True, download_name=f"{key[:12]}.npz")
    if isinstance(result, ViewResult):
        return _json({"key": key, "cached": cached, "meta": _finite(result.meta),
                      "arrays": {k: _array_json(v) for k, v in sorted(result.arrays.items())}})
    return _json({
        "key": key,
        "cached": cached,
        "meta": _finite(result.meta),
        "axes": [_array_json(axis) for axis in result.axes],
        "values": _array_json(result.values),
        "extras": sorted(result.extras),
    })


def register(server: flask.Flask, store: ViewStore, slots: fairness.Slots | None = None) -> None:
    """Add ``POST /api/view`` and ``GET /api/view/<key>`` to ``server``; a view not cached is
    computed in a slot of the caller's fair share (``slots``: per address; None: no limit)."""
    slots = slots or fairness.Unlimited()

    def post_view() -> flask.Response:
        fmt = _format()
        if fmt is None:
            return _error(BAD_FORMAT, 400)
        try:
            body = flask.request.get_json(force=True, silent=True)
        except HTTPException as exc:  # e.g. 413: larger than MAX_CONTENT_LENGTH
            return _error(exc.description or exc.name, exc.code or 400)
        if not isinstance(body, dict):
            return _error('the body must be a JSON object: {"model": {...}, "view": {...}}', 400)
        model, view = body.get("model"), body.get("view")
        if not isinstance(model, dict) or not isinstance(view, dict):
            missing = [name for name, value in (("model", model), ("view", view))
                       if not isinstance(value, dict)]
            return _error(f"the body needs {' and '.join(missing)} as JSON object(s)", 400)
        try:
            key = views.request_key(model, view)  # checks its form (keys, numbers) first
            hit = store.cached(model, view)
            if hit is None:  # computed: in a slot of this address's fair share (app/fairness.py)
                client = fairness.api_client(flask.request.remote_addr,
                                             flask.request.headers.get("X-Forwarded-For"))
                with slots.slot(client, max_waiting=0):
                    result = store.get(model, view)
            else:
                result = hit
            return _answer(key, result, cached=hit is not None, fmt=fmt)
        except LandscapeError as exc:
            return _error(str(exc), 400)
        except fairness.Busy:  # a request thread is not a queue: come back shortly
            response = _error(f"this client already has {slots.limit} view(s) computing; "
                              "retry shortly", 429)
            response.headers["Retry-After"] = "1"
            return response
        except Exception:
            log.exception("POST /api/view failed for model=%r view=%r", model, view)
            return _error("internal error", 500)

    def get_view(key: str) -> flask.Response:
        fmt = _format()
        if fmt is None:
            return _error(BAD_FORMAT, 400)
        try:
            hit = _lookup(store, key)
            if hit is None:
                return _error("not cached", 404)
            return _answer(key, hit, cached=True, fmt=fmt)
        except Exception:
            log.exception("GET /api/view/%s failed", key)
            return _error("internal error", 500)

    server.add_url_rule("/api/view", "funnelscope_api_view", post_view, methods=["POST"])
    server.add_url_rule("/api/view/<key>", "funnelscope_api_view_by_key", get_view, methods=["GET"])
