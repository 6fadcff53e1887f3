"""Real services on loopback for the deployment tests: redis-server, a Celery worker, gunicorn.

Each runs as a child process on a free port, with its own cache directory, and is stopped by
its pid afterwards. A test that stops one restarts it before it ends, so every test passes alone
(``pytest -k NAME``) and in any order, not only in the file's. ``make test`` installs Debian's
redis-server; when it is missing these tests fail with a clear message (they are never
skipped).
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import devserver

BIN = Path(sys.executable).parent
GUNICORN = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "app.wsgi:server"]
WORKER = [str(BIN / "celery"), "-A", "app.tasks", "worker", "--pool=solo", "--loglevel=INFO"]


@dataclass
class Service:
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        devserver.stop(self.process)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def start(command: list[str], log: Path, env: dict[str, str]) -> Service:
    with open(log, "ab") as out:
        process = subprocess.Popen(command, cwd=devserver.REPO_ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, env={**os.environ, **env})
    return Service(process, log)


def wait_until(check, what: str, service: Service, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            pytest.fail(f"{what}: the process exited ({service.process.returncode})\n{service.tail()}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what}: not ready after {timeout} s\n{service.tail()}")


def http(url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of a GET, or of a POST when ``body`` is given."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)


@dataclass
class RedisServer:
    """A redis-server on a loopback port (no persistence); ``restart`` starts a new one on the
    same port (a test that stops it restarts it, so the next test finds it running)."""

    url: str
    port: int
    root: Path
    service: Service | None = None

    def start(self) -> None:
        self.service = start(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(self.root)],
                             self.root / "redis.log", {})

        def answers() -> bool:
            import redis

            try:
                return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
            except redis.exceptions.ConnectionError:  # not listening yet (not an OSError)
                return False

        wait_until(answers, "redis-server", self.service, timeout=20)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()

    def running(self) -> bool:
        return self.service is not None and self.service.process.poll() is None


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """A redis-server on a free loopback port, for this test module."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: `make test` installs Debian's redis-server",
                    pytrace=False)
    port = devserver.free_port()
    server = RedisServer(f"redis://127.0.0.1:{port}/0", port, tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lab(redis_server, tmp_path_factory) -> Iterator[dict]:
    """gunicorn (2 workers) and a Celery worker sharing one Redis, as in docker-compose.yml."""
    url = redis_server.url
    root = tmp_path_factory.mktemp("lab")
    port = devserver.free_port()
    env = {"REDIS_URL": url, "FUNNELSCOPE_CACHE_DIR": str(root / "cache"),
           "FUNNELSCOPE_BIND": f"127.0.0.1:{port}", "FUNNELSCOPE_WORKERS": "2",
           "FUNNELSCOPE_THREADS": "2", "HOME": str(root)}
    web = start(GUNICORN, root / "web.log", env)
    worker = start(WORKER, root / "worker.log", env)
    base = f"http://127.0.0.1:{port}"
    services = {"url": base, "web": web, "worker": worker, "env": env, "root": root,
                "redis": redis_server, "redis_url": url}
    try:
        wait_until(lambda: http(base + "/healthz", timeout=2)[0] == 200, "gunicorn", web)
        wait_until(lambda: "ready" in worker.tail(), "celery worker", worker)
        yield services
    finally:  # tests may replace "web" or "worker" (a restart): stop whatever runs now
        services["worker"].stop()
        services["web"].stop()
