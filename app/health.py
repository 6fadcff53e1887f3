"""Health endpoints for load balancers, Docker and Compose.

``GET /healthz``  liveness: the process answers. Always 200 with the library version and the
                  cache backend (``{"status": "ok", "version": ..., "cache": "filesystem"}``).
``GET /readyz``   readiness: the cache really works. A probe key is set and read back through
                  the flask-caching object the dashboard uses, and the directories the app
                  writes to (``views/`` and ``store/`` under the cache directory) accept a new
                  file. 200 ``{"status": "ready", "checks": {...}}`` when every check says "ok";
                  otherwise 503 with ``failed`` (the checks' names) and, in ``checks``, why each
                  one failed. A failing check never turns into a 500 or a traceback.

The backend name comes from the flask-caching configuration (``CACHE_TYPE``), so another backend
(Redis) reports itself without changes here.
"""

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import flask
from flask_caching import Cache

import landscapes
from app.config import Config

PROBE_TIMEOUT = 10  # seconds the readiness probe key may live if its delete is lost
OK = "ok"


def backend_name(cache_type: str) -> str:
    """The backend's short name: ``FileSystemCache`` -> ``filesystem``, ``RedisCache`` (or
    ``flask_caching.backends.RedisCache``) -> ``redis``."""
    name = str(cache_type).rsplit(".", 1)[-1]
    if name.lower().endswith("cache") and len(name) > len("cache"):
        name = name[: -len("cache")]
    return name.lower()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def check_cache(cache: Cache) -> str:
    """Set, read back and delete a short-lived probe key; "ok" or why not."""
    key = f"funnelscope:readyz:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    try:
        if cache.set(key, value, timeout=PROBE_TIMEOUT) is False:
            return "the cache refused to store the probe key (set returned False)"
        got = cache.get(key)
        if got != value:
            return f"the probe key did not read back (got {got!r})"
        return OK
    except Exception as exc:  # a readiness check reports, it never raises
        return _reason(exc)
    finally:
        try:
            cache.delete(key)
        except Exception:  # the probe key expires on its own
            pass


def check_writable(directory: Path) -> str:
    """A new file can be created (and removed) in ``directory``; "ok" or why not.

    A real write, not ``os.access``: root passes ``os.access`` whatever the mode bits.
    """
    try:
        if directory.exists() and not directory.is_dir():
            return f"{directory} is not writable (it is not a directory)"
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".readyz-")
        os.close(fd)
        os.unlink(name)
        return OK
    except Exception as exc:  # reported, not raised
        return f"{directory} is not writable ({_reason(exc)})"


def readiness(config: Config, cache: Cache) -> dict[str, str]:
    """Every readiness check by name: "ok", "skipped ..." or the reason it failed."""
    settings = config.flask_caching()
    checks = {"cache": check_cache(cache)}
    views_dir = settings.get("CACHE_DIR")
    if views_dir:
        checks["views_dir"] = check_writable(Path(views_dir))
    else:
        checks["views_dir"] = f"skipped ({settings['CACHE_TYPE']} keeps no directory)"
    checks["store_dir"] = check_writable(Path(config.cache_dir) / "store")
    if config.redis_url:
        checks["broker"] = check_redis(config.redis_url)
        if checks["broker"] == OK:
            checks["workers"] = check_workers(config.redis_url)
    return checks


def check_workers(url: str, timeout: float = 1.0) -> str:
    """At least one Celery worker answers a ping on the broker at ``url``."""
    from celery import Celery

    try:
        replies = Celery("funnelscope-readyz", broker=url).control.ping(timeout=timeout)
    except Exception as exc:  # reported, not raised
        return f"the workers could not be asked ({_reason(exc)})"
    if not replies:
        return "no background worker answers (start one: celery -A app.tasks worker --pool=solo)"
    return OK


def check_redis(url: str) -> str:
    """The Redis server behind the cache, the job broker and the locks answers a PING."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        return OK
    except Exception as exc:  # reported, not raised
        return f"Redis at {url} does not answer ({_reason(exc)})"


def cached_readiness(config: Config, cache: Cache, seconds: float = 10.0
                     ) -> Callable[[], dict[str, str]]:
    """``readiness`` at most once per ``seconds`` in this process (the page polls it)."""
    last: dict = {"at": -float("inf"), "checks": {}}

    def checks() -> dict[str, str]:
        now = time.monotonic()
        if now - last["at"] > seconds:
            last.update(at=now, checks=readiness(config, cache))
        return last["checks"]

    return checks


def register(server: flask.Flask, config: Config, cache: Cache) -> None:
    """Add ``/healthz`` and ``/readyz`` to the dashboard's Flask server."""
    backend = backend_name(config.flask_caching()["CACHE_TYPE"])

    def respond(body: dict, status: int) -> flask.Response:
        response = flask.jsonify(body)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    def healthz() -> flask.Response:
        return respond({"status": "ok", "version": landscapes.__version__, "cache": backend}, 200)

    def readyz() -> flask.Response:
        try:
            checks = readiness(config, cache)
        except Exception as exc:  # never a 500 from the readiness probe
            checks = {"readiness": _reason(exc)}
        failed = [name for name, result in checks.items()
                  if result != OK and not result.startswith("skipped")]
        if failed:
            return respond({"status": "unavailable", "failed": failed, "checks": checks}, 503)
        return respond({"status": "ready", "checks": checks}, 200)

    server.add_url_rule("/healthz", "funnelscope_healthz", healthz, methods=["GET"])
    server.add_url_rule("/readyz", "funnelscope_readyz", readyz, methods=["GET"])
