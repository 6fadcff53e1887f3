"""docker-compose.yml: valid for a real Compose implementation, and the lab's set-up (web, worker,
redis) comes up from it and computes a panel's view as a background job ON THE WORKER.

The image is the one tests/containers/conftest.py builds (``funnelscope:latest``, the tag the file
names), so Compose starts it without building again; ``redis:7-alpine`` is pulled, or made as a
stand-in where no registry serves it (tests/containers/engine.py).
"""

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from app import ids
from app.controls import defaults
from tests.containers import engine as engines
from tests.containers.conftest import free_port, http, wait_for
from tests.unit.panels import panel_controls

COMPOSE = engines.REPO_ROOT / "docker-compose.yml"


def compose_config_check(path: Path) -> subprocess.CompletedProcess:
    """``docker-compose -f PATH config -q`` (Debian's docker-compose; `make test` installs it)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is missing: `make test` installs Debian's docker-compose",
                    pytrace=False)
    return subprocess.run([exe, "-f", str(path), "config", "-q"], capture_output=True, text=True,
                          timeout=60, cwd=path.parent)


def test_compose_file_is_valid():
    result = compose_config_check(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validity_check_catches_a_misplaced_setting(tmp_path):
    # gunicorn's settings under depends_on instead of environment: what the check is there for
    text = COMPOSE.read_text()
    broken = text.replace("    depends_on:\n      redis:\n        condition: service_healthy\n",
                          "    depends_on:\n      redis:\n        condition: service_healthy\n"
                          "      FUNNELSCOPE_WORKERS: 2\n", 1)
    assert broken != text
    (tmp_path / "docker-compose.yml").write_text(broken)
    result = compose_config_check(tmp_path / "docker-compose.yml")
    assert result.returncode != 0
    assert "depends_on.FUNNELSCOPE_WORKERS" in result.stdout + result.stderr


# --- the set-up, running -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab(engine, image) -> dict:
    engines.ensure_base_images(engine, redis=True)
    project = f"fstest{uuid.uuid4().hex[:8]}"
    port = free_port()
    compose = [*engine.compose(), "-p", project, "-f", str(COMPOSE)]
    env = {**os.environ, **engine.env, "FUNNELSCOPE_PORT": str(port), "FUNNELSCOPE_WORKERS": "1",
           "FUNNELSCOPE_THREADS": "4"}

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*compose, *args], capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=engines.REPO_ROOT)

    def container(service: str) -> str:
        out = engine.run("ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                         "--filter", f"label=com.docker.compose.service={service}",
                         "--format", "{{.Names}}").stdout.split()
        assert len(out) == 1, f"{service}: {out}"
        return out[0]

    def logs(service: str) -> str:
        result = engine.run("logs", container(service), check=False)
        return result.stdout + result.stderr

    def running(service: str) -> bool:
        return engine.run("inspect", "--format", "{{.State.Running}}", container(service),
                          check=False).stdout.strip() == "true"

    started = time.monotonic()
    up = run("up", "-d")
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/healthz", lambda: running("web"), lambda: logs("web")[-4000:], timeout=180)
        yield {"url": base, "logs": logs, "running": running, "project": project,
               "up_seconds": time.monotonic() - started}
    finally:
        down = run("down", "-v", timeout=300)
        if engine.name == "podman":  # podman-compose 1.0 leaves the project's network behind
            engine.run("network", "rm", f"{project}_default", check=False)
        assert down.returncode == 0, down.stdout[-2000:] + down.stderr[-2000:]


def test_web_worker_and_redis_are_up_and_ready(lab):
    for service in ("web", "worker", "redis"):
        assert lab["running"](service), lab["logs"](service)[-3000:]
    status, body = http(lab["url"] + "/healthz")
    assert status == 200 and json.loads(body)["cache"] == "redis"
    deadline = time.monotonic() + 120  # the worker imports torch and builds the app first
    while True:
        status, body = http(lab["url"] + "/readyz")
        if status == 200:
            break
        assert time.monotonic() < deadline, f"{body!r}\n{lab['logs']('worker')[-3000:]}"
        time.sleep(1)
    checks = json.loads(body)["checks"]
    assert checks["broker"] == "ok" and checks["cache"] == "ok" and checks["workers"] == "ok"


def _outputs(callback: dict) -> list[str]:
    """"id.property" of each output of a callback in /_dash-dependencies."""
    return callback["output"].removeprefix("..").removesuffix("..").split("...")


def _end_id(page: bytes) -> str:
    match = re.search(rb'<script id="_dash-config" type="application/json">(.*?)</script>', page, re.S)
    assert match, page[:500]
    return json.loads(match.group(1))["end_id"]


def test_a_panel_view_is_computed_on_the_worker(lab):
    """The panel's background callback, called as the browser does: the web answers a job handle,
    the Celery worker computes the view, the polls return it."""
    side = "left"
    status, page = http(lab["url"] + "/")
    assert status == 200
    end_id = _end_id(page)
    status, body = http(lab["url"] + "/_dash-dependencies")
    assert status == 200
    surface = f"{ids.pid(side, ids.JOB_SURFACE)}.data"  # the job's surface (drawn if new)
    (job,) = [c for c in json.loads(body) if surface in _outputs(c)]
    controls = {**defaults(side), **panel_controls()}  # a small Ising slice, 21x21
    values = {ids.pid(side, name): value for name, value in controls.items()}
    values[ids.pid(side, ids.UPLOADED)] = {}

    def filled(items: list[dict]) -> list[dict]:
        return [{**item, "value": values.get(item["id"])} for item in items]

    outputs = [dict(zip(("id", "property"), out.rsplit(".", 1), strict=True)) for out in _outputs(job)]
    request = {"output": job["output"], "outputs": outputs, "inputs": filled(job["inputs"]),
               "state": filled(job["state"]),
               "changedPropIds": [f"{job['inputs'][0]['id']}.{job['inputs'][0]['property']}"]}
    done_before = lab["logs"]("worker").count("succeeded")
    url = f"{lab['url']}/_dash-update-component?endId={end_id}"
    status, body = http(url, json.dumps(request).encode())
    assert status == 200, body[:500]
    handle = json.loads(body)
    assert {"cacheKey", "job"} <= set(handle), handle  # a background job, not an answer
    poll = dict(request, inputs=[dict(i, value=None) for i in request["inputs"]],
                state=[dict(s, value=None) for s in request["state"]])
    deadline = time.monotonic() + 180
    while True:
        status, body = http(f"{url}&cacheKey={handle['cacheKey']}&job={handle['job']}",
                            json.dumps(poll).encode())
        assert status in (200, 202, 204), body[:500]
        answer = json.loads(body) if status == 200 and body else {}
        if "response" in answer:
            break
        assert time.monotonic() < deadline, lab["logs"]("worker")[-3000:]
        time.sleep(0.5)
    figure = answer["response"][ids.pid(side, ids.JOB_SURFACE)]["data"]
    z = next(trace["z"] for trace in figure["data"] if "z" in trace)
    # the 21x21 slice of the controls (plotly sends arrays as nested lists or typed arrays)
    shape = [int(n) for n in z["shape"].split(",")] if isinstance(z, dict) else [len(z), len(z[0])]
    assert shape == [21, 21], z
    worker_log = lab["logs"]("worker")
    assert worker_log.count("succeeded") > done_before, worker_log[-3000:]
    assert "celery@" in worker_log and "ready" in worker_log
