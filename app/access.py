"""An optional shared lab token: only the lab gets in, when the teacher wants.

With ``FUNNELSCOPE_LAB_TOKEN`` set, every request needs the token, except the health endpoints
(``/healthz``, ``/readyz``: load balancers and Docker's HEALTHCHECK never carry it). The
teacher hands out one link, ``http://HOST:8050/?token=TOKEN``: the first visit answers a
redirect to the same address without the token and sets a cookie, so the token leaves the
address bar and every later page, callback and asset request carries the cookie. Scripts send
``Authorization: Bearer TOKEN`` instead (``curl -H "Authorization: Bearer $TOKEN" ...``).

* no token, no cookie: 401, a one-line page (or JSON ``{"error": ...}`` for ``/api/`` and Dash's
  callback requests, which the page makes);
* a wrong token in the link or the header: 403, one line;
* unset or empty (the default, for local use): no check at all.

The cookie holds ``HMAC-SHA256(token, "funnelscope-lab")``, not the token; it is ``HttpOnly``,
``SameSite=Lax`` and ``Secure`` when the request came over HTTPS (behind a reverse proxy, tell
gunicorn which proxy to trust with ``FORWARDED_ALLOW_IPS`` so it sees ``X-Forwarded-Proto``).
Changing the token logs every browser out. Comparisons are constant-time (``hmac.compare_digest``).
"""

import hashlib
import hmac
from urllib.parse import urlencode

import flask
from markupsafe import escape

COOKIE = "funnelscope_lab"
PARAM = "token"
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
COOKIE_DAYS = 120  # a term: the link is needed again after that
MISSING = ("this lab needs its link with the token (http://HOST:PORT/?token=...): ask your "
           "teacher for it")
WRONG = "wrong lab token: ask your teacher for the lab's link"


def cookie_value(token: str) -> str:
    """What the cookie holds for ``token``: an HMAC of a fixed label, never the token."""
    return hmac.new(token.encode(), b"funnelscope-lab", hashlib.sha256).hexdigest()


def _refuse(status: int, message: str) -> flask.Response:
    path = flask.request.path
    if path.startswith("/api/") or path.startswith("/_dash-"):
        return flask.jsonify({"error": message}), status  # type: ignore[return-value]
    page = f"<!doctype html><title>Funnelscope</title><p>{escape(message)}</p>"
    return flask.Response(page, status=status, mimetype="text/html")


def register(server: flask.Flask, token: str | None) -> None:
    """Require ``token`` on every request but the health endpoints (nothing when it is empty)."""
    if not token:
        return
    expected = cookie_value(token)

    @server.before_request
    def _lab_token():
        request = flask.request
        if request.path in OPEN_PATHS:
            return None
        given = request.args.get(PARAM)
        if given is not None:
            if not hmac.compare_digest(given.encode(), token.encode()):
                return _refuse(403, WRONG)
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != PARAM]
            target = request.path + (f"?{urlencode(rest)}" if rest else "")
            response = flask.redirect(target, code=303)
            response.set_cookie(COOKIE, expected, max_age=COOKIE_DAYS * 24 * 3600,
                                httponly=True, samesite="Lax", secure=request.is_secure)
            return response
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            if hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode()):
                return None
            return _refuse(403, WRONG)
        if hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), expected.encode()):
            return None
        return _refuse(401, MISSING)
