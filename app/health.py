"""Health endpoints for load balancers, Docker and Compose.

``GET /healthz``  liveness: the process answers. Always 200 with the library version, the
                  cache backend and the failed readiness checks with their causes
                  (``{"status": "ok", "version": ..., "cache": "filesystem", "problems": {}}``;
                  e.g. ``"problems": {"views_dir": "the disk holding ... is full ..."}``), from
                  the readiness checks of the last 10 s (refreshed in a thread when older;
                  liveness waits at most 1 s for it, so a slow disk or an unreachable Redis
                  never makes it slow): a full disk or a read-only cache directory is named, not
                  restarted away.
``GET /readyz``   readiness: the cache really works. A probe key is set and read back through
                  the flask-caching object the dashboard uses, and the directories the app
                  writes to (``views/``, ``store/`` and, without Redis, ``jobs/`` under the
                  cache directory) accept a new file of a few KiB (a full disk fails it).
                  200 ``{"status": "ready", "checks": {...}}`` when every check says "ok";
                  otherwise 503 with ``failed`` (the checks' names) and, in ``checks``, why each
                  one failed. A failing check never turns into a 500 or a traceback.

Each failure names its cause (a full disk, a read-only file system, Redis not answering).
The backend name comes from the flask-caching configuration (``CACHE_TYPE``), so another backend
(Redis) reports itself without changes here.
"""

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import flask
from flask_caching import Cache

import landscapes
from app import viewcache
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
    """Set, read back and delete a short-lived probe key; "ok" or why not (the file cache says
    why its write failed: a full disk, a read-only file system...)."""
    key = f"funnelscope:readyz:{uuid.uuid4().hex}"
    value = uuid.uuid4().hex.encode()  # the view cache stores bytes only (app/viewcache.py)
    try:
        if cache.set(key, value, timeout=PROBE_TIMEOUT) is False:
            why = getattr(cache.cache, "last_error", None)
            if why:
                return f"cache entries cannot be written: {why}"
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


def check_writable(directory: Path, size: int = 4096) -> str:
    """A new file of ``size`` bytes can be written (and removed) in ``directory``; "ok" or
    why not, naming the cause (a full disk, a read-only file system, permissions).

    A real write, not ``os.access``: root passes ``os.access`` whatever the mode bits; and
    some bytes, synced, not an empty file: a full disk still has room for a name.
    """
    name = None
    try:
        if directory.exists() and not directory.is_dir():
            return f"{directory} is not writable (it is not a directory)"
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".readyz-")
        try:
            os.write(fd, b"\0" * size)
            os.fsync(fd)
        finally:
            os.close(fd)
        return OK
    except Exception as exc:  # reported, not raised
        return viewcache.describe_os_error(exc, directory)
    finally:
        if name is not None:
            Path(name).unlink(missing_ok=True)


def readiness(config: Config, cache: Cache, jobs_dir: Path | None = None) -> dict[str, str]:
    """Every readiness check by name: "ok", "skipped ..." or the reason it failed. Without
    Redis, ``jobs_dir`` is the local job queue's directory (default: ``jobs/`` under the
    cache directory; app/main.py moves it to a temporary directory when that is read-only)."""
    settings = config.flask_caching()
    checks = {"cache": check_cache(cache)}
    views_dir = settings.get("CACHE_DIR")
    if views_dir:
        checks["views_dir"] = check_writable(Path(views_dir))
    else:
        name = str(settings["CACHE_TYPE"]).rsplit(".", 1)[-1]
        checks["views_dir"] = f"skipped ({name} keeps no directory)"
    checks["store_dir"] = check_writable(Path(config.cache_dir) / "store")
    if not config.redis_url:  # the local job manager's queue (panels are computed as jobs)
        checks["jobs_dir"] = check_writable(jobs_dir or Path(config.cache_dir) / "jobs")
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


LIVENESS_WAIT = 1.0  # seconds /healthz waits for a refresh of the checks before answering


def cached_readiness(config: Config, cache: Cache, seconds: float = 10.0,
                     jobs_dir: Path | None = None) -> Callable[..., dict[str, str]]:
    """``readiness`` at most once per ``seconds`` in this process (the page polls it).

    The returned ``checks(wait=None)`` starts one refresh in a thread when the last result is
    older than ``seconds`` and waits for it: without limit (``wait`` None), or at most ``wait``
    seconds, then answers with the last complete result (``/healthz``: a slow disk or an
    unreachable Redis never makes liveness slow)."""
    last: dict = {"at": -float("inf"), "checks": {}}
    guard = threading.Lock()
    running: list[threading.Thread] = []

    def refresh() -> None:
        result = readiness(config, cache, jobs_dir)
        with guard:
            last.update(at=time.monotonic(), checks=result)
            running.clear()

    def checks(wait: float | None = None) -> dict[str, str]:
        with guard:
            if not running and time.monotonic() - last["at"] > seconds:
                running.append(threading.Thread(target=refresh, name="readiness", daemon=True))
                running[0].start()
            worker = running[0] if running else None
        if worker is not None:
            worker.join(wait)
        return last["checks"]

    return checks


def failures(checks: dict[str, str]) -> dict[str, str]:
    """The checks that failed (neither "ok" nor "skipped ..."), with their reasons."""
    return {name: why for name, why in checks.items()
            if why != OK and not why.startswith("skipped")}


def register(server: flask.Flask, config: Config, cache: Cache,
             recent: Callable[..., dict[str, str]] | None = None,
             jobs_dir: Path | None = None) -> None:
    """Add ``/healthz`` and ``/readyz`` to the dashboard's Flask server; ``/healthz`` reports
    the problems ``recent()`` (default: :func:`cached_readiness`) finds."""
    backend = backend_name(config.flask_caching()["CACHE_TYPE"])
    recent = recent or cached_readiness(config, cache, jobs_dir=jobs_dir)

    def respond(body: dict, status: int) -> flask.Response:
        response = flask.jsonify(body)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response

    def healthz() -> flask.Response:
        try:
            problems = failures(recent(wait=LIVENESS_WAIT))
        except Exception as exc:  # liveness answers whatever the checks do
            problems = {"readiness": _reason(exc)}
        return respond({"status": "ok", "version": landscapes.__version__, "cache": backend,
                        "problems": problems}, 200)

    def readyz() -> flask.Response:
        try:
            checks = readiness(config, cache, jobs_dir)
        except Exception as exc:  # never a 500 from the readiness probe
            checks = {"readiness": _reason(exc)}
        failed = list(failures(checks))
        if failed:
            return respond({"status": "unavailable", "failed": failed, "checks": checks}, 503)
        return respond({"status": "ready", "checks": checks}, 200)

    server.add_url_rule("/healthz", "funnelscope_healthz", healthz, methods=["GET"])
    server.add_url_rule("/readyz", "funnelscope_readyz", readyz, methods=["GET"])
