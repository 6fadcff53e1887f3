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
``POST /api/goodbye``  body ``{"client": ID}`` (the page's browser-session id: 8-64 hex digits),
                    sent by the page with ``navigator.sendBeacon`` when it is closed: that
                    session's running panel jobs stop at their next progress report
                    (:meth:`app.data.ViewStore.page_closed`). 204; 400 for another body.

Conventions follow the export contract (docs/file-formats.md): ``axes`` lists the coefficients along x, y
(and z); ``values[i][j]`` is at ``(x[j], y[i])`` (3D: ``values[k][i][j]`` at ``(x[j], y[i],
z[k])``); paths are 1D. ``values`` are rounded to float32, in the unit ``meta["unit"]`` names
(``energy per spin`` for spin models, ``loss`` for networks). ``extras`` names the further arrays
(couplings, test loss, ...) that only the ``.npz`` carries. Non-finite numbers (a diverged loss)
become JSON ``null``: every answer is strict JSON.

Errors are JSON too, never an HTML page or a traceback, each ``{"error": ONE_LINE}``:

* 400 -- a bad request: a body that is not strict JSON (``NaN`` and ``Infinity`` are refused, and
  so is nesting deeper than :data:`MAX_DEPTH`), not an object with ``model`` and ``view``
  objects, or a :class:`~landscapes.errors.LandscapeError` from the library (an unknown model or
  view, a parameter of the wrong type or out of its range: the message names the parameter,
  its range and the value);
* 404 -- an unknown path under ``/api/``, or a request key that is not cached;
* 405 -- a method the path does not take (``Allow`` says which);
* 413 -- a body larger than the server accepts;
* 429 -- the caller (an address) already has its fair share of views computing
  (``FUNNELSCOPE_JOBS_PER_CLIENT``, :mod:`app.fairness`); ``Retry-After: 1``. A request thread
  waiting in a queue would be a thread the other students lack, so the API does not queue;
* 422 -- a valid request whose computation ran past the compute budget
  (``FUNNELSCOPE_COMPUTE_SECONDS``) or its memory budget (``FUNNELSCOPE_COMPUTE_MEMORY_MB``;
  :class:`~landscapes.errors.BudgetExceeded`): nothing is cached; ask for fewer steps, points
  or starts;
* 503 -- this worker already computes its limit of views (``FUNNELSCOPE_API_COMPUTATIONS``);
  ``Retry-After`` says when to try again. Cached views are served whatever the load;
* 500 ``{"error": "internal error"}`` -- anything else (a bug: logged with its traceback).

A computation whose client has closed the connection is stopped at its next progress report
(:class:`~landscapes.errors.Cancelled`; under gunicorn, which hands the socket to the app), and
every computation ends at its budget, so a request never holds a worker thread for longer.
"""

import contextvars
import io
import json
import logging
import math
import re
import select
import socket
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import flask
import numpy as np
from werkzeug.exceptions import HTTPException

from app import fairness
from app.data import ViewStore
from landscapes import views
from landscapes.errors import BudgetExceeded, Cancelled, LandscapeError
from landscapes.io.bounded import load_json
from landscapes.io.npz import write_npz
from landscapes.results import ViewResult
from landscapes.slices import Slice
from landscapes.viewspec import MAX_DEPTH

log = logging.getLogger(__name__)

CACHE_PREFIX = "view:"  # ViewStore.key(model, view) == CACHE_PREFIX + views.request_key(model, view)
FORMATS = ("json", "npz")
BAD_FORMAT = "unknown format; use ?format=json (the default) or ?format=npz"
RETRY_AFTER = 5  # seconds a busy worker (503) asks the client to wait
CLIENT_ID = re.compile(r"[0-9a-f]{8,64}")  # a page's browser-session id (app/fairness.py)
GOODBYE_BYTES = 256  # the largest goodbye body read
CLIENT_CLOSED = 499  # nobody reads it: the status logged for a request whose client has gone


def parse_body(data: bytes):
    """The JSON value of a request body (:func:`landscapes.io.bounded.load_json`: no ``NaN`` or
    ``Infinity``, at most :data:`MAX_DEPTH` levels deep); LandscapeError otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LandscapeError("the body is not UTF-8 text") from None
    return load_json(text, "the body", max_depth=MAX_DEPTH)


def client_gone(environ: dict) -> Callable[[], bool] | None:
    """A check that the request's client has closed its connection, or None where the server
    does not hand the socket to the app (gunicorn does: ``gunicorn.socket``).

    The socket is readable and a peek reads nothing: the peer sent FIN. A pipelined next
    request (data to read) is not a close.
    """
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        return None
    poller = select.poll()  # not select.select: no limit on the descriptor's number
    poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)

    def gone() -> bool:
        try:
            if not poller.poll(0):
                return False
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:  # reset or closed under us: gone
            return True

    return gone


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
    return store.lookup(CACHE_PREFIX + key)


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


def register(server: flask.Flask, store: ViewStore, computations: int = 2,
             slots: fairness.Slots | None = None, nice: int = 0) -> None:
    """Add ``POST /api/view`` and ``GET /api/view/<key>`` to ``server``, and JSON 404/405 answers
    for every other path and method under ``/api/``.

    A view not cached is computed in a slot of the caller's fair share (``slots``: per address;
    None: no limit), and at most ``computations`` views are computed at once by this process's
    API (more concurrent cache misses answer 503): the other request threads stay free for
    ``/healthz`` and the page. The views are computed by a pool of ``computations`` threads at
    nice value ``nice`` (:func:`app.fairness.compute_pool`), the request thread waiting.
    """
    fair = slots or fairness.Unlimited()
    slots_here = threading.BoundedSemaphore(max(1, computations))
    pool = fairness.compute_pool(computations, nice)

    def post_view() -> flask.Response:
        fmt = _format()
        if fmt is None:
            return _error(BAD_FORMAT, 400)
        try:
            body = parse_body(flask.request.get_data(cache=False))
        except HTTPException as exc:  # e.g. 413: larger than MAX_CONTENT_LENGTH
            return _error(exc.description or exc.name, exc.code or 400)
        except LandscapeError as exc:
            return _error(str(exc), 400)
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
            if hit is not None:
                return _answer(key, hit, cached=True, fmt=fmt)
            client = fairness.api_client(flask.request.remote_addr,
                                         flask.request.headers.get("X-Forwarded-For"))
            with fair.slot(client, max_waiting=0):  # this address's fair share (app/fairness.py)
                if not slots_here.acquire(blocking=False):
                    response = _error(f"busy: this worker already computes {computations} "
                                      f"view(s); retry in {RETRY_AFTER} s", 503)
                    response.headers["Retry-After"] = str(RETRY_AFTER)
                    return response
                try:
                    gone = client_gone(flask.request.environ)  # this request's context goes
                    result = pool.submit(contextvars.copy_context().run, store.get, model, view,
                                         cancelled=gone).result()  # along (Flask's app context)
                finally:
                    slots_here.release()
            return _answer(key, result, cached=False, fmt=fmt)
        except BudgetExceeded as exc:
            return _error(str(exc), 422)
        except Cancelled as exc:
            log.info("POST /api/view: %s", exc)
            return _error(str(exc), CLIENT_CLOSED)
        except LandscapeError as exc:
            return _error(str(exc), 400)
        except fairness.Busy:  # a request thread is not a queue: come back shortly
            response = _error(f"this client already has {fair.limit} view(s) computing; "
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

    def not_allowed(allowed: str) -> Callable[..., flask.Response]:
        def answer(**_) -> flask.Response:
            response = _error(f"{flask.request.method} is not allowed here; use {allowed}", 405)
            response.headers["Allow"] = allowed
            return response
        return answer

    def not_found(**_) -> flask.Response:
        return _error(f"no such API path {flask.request.path[:100]!r}; the API is POST "
                      "/api/view and GET /api/view/KEY", 404)

    def post_goodbye() -> flask.Response:
        raw = flask.request.stream.read(GOODBYE_BYTES + 1)  # never more than that is read
        body = None
        if len(raw) <= GOODBYE_BYTES:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        client = body.get("client") if isinstance(body, dict) else None
        if not isinstance(client, str) or not CLIENT_ID.fullmatch(client):
            return _error('expected {"client": ID} with the page\'s session id (8-64 hex digits)',
                          400)
        try:
            store.say_goodbye(client)
        except Exception:  # the cache is down: the jobs run to their end, as before
            log.warning("could not record a closed page", exc_info=True)
        return flask.Response(status=204)

    other = ["GET", "PUT", "PATCH", "DELETE"]
    every = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    server.add_url_rule("/api/goodbye", "funnelscope_api_goodbye", post_goodbye, methods=["POST"])
    server.add_url_rule("/api/goodbye", "funnelscope_api_goodbye_methods", not_allowed("POST"),
                        methods=other)
    server.add_url_rule("/api/view", "funnelscope_api_view", post_view, methods=["POST"])
    server.add_url_rule("/api/view", "funnelscope_api_view_methods", not_allowed("POST"),
                        methods=other)
    server.add_url_rule("/api/view/<key>", "funnelscope_api_view_by_key", get_view, methods=["GET"])
    server.add_url_rule("/api/view/<key>", "funnelscope_api_view_by_key_methods",
                        not_allowed("GET"), methods=["POST", "PUT", "PATCH", "DELETE"])
    server.add_url_rule("/api", "funnelscope_api_root", not_found, methods=every)
    server.add_url_rule("/api/", "funnelscope_api_root_slash", not_found, methods=every)
    server.add_url_rule("/api/<path:rest>", "funnelscope_api_other", not_found, methods=every)
