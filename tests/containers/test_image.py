"""The image (`make image` runs this file): built from the Dockerfile, it runs as the non-root
user 10001 with the CPU build of torch 2.13.0 and the project installed from its wheel, serves
the dashboard and its assets on 8050, its HEALTHCHECK passes, and nothing used only while
building (pip settings, certificates, wheel folders) is left in it."""

import json
import time

import pytest

from tests.containers import engine as engines
from tests.containers.conftest import free_port, http, wait_for

BUILD_ONLY = ("pip.conf", "PIP_CONFIG_FILE", "PIP_FIND_LINKS", "PIP_CERT", "find-links", "ca.crt",
              "links0", "build-home")


def run_in(engine, image, script: str, user: str | None = None) -> str:
    result = engine.run("run", "--rm", *(["--user", user] if user else []), image["ref"], "sh", "-c",
                        script, timeout=180)
    return result.stdout


def test_the_image_is_configured_as_the_dockerfile_says(image):
    config = image["inspect"]["Config"]
    assert config["User"] == "10001"
    assert config["Cmd"] == ["gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:server"]
    assert config["WorkingDir"] == "/app"
    assert "8050/tcp" in config["ExposedPorts"]
    check = (config.get("Healthcheck") or image["inspect"]["Healthcheck"])["Test"]  # docker, podman
    assert check[0] == "CMD" and "/healthz" in " ".join(check)
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["FUNNELSCOPE_CACHE_DIR"] == "/data/cache" and env["FUNNELSCOPE_BIND"] == "0.0.0.0:8050"
    # build-time settings are not part of the image's configuration
    assert not [item for item in config["Env"] if any(word in item for word in BUILD_ONLY)]


def test_nothing_used_only_while_building_is_left(engine, image):
    history = engine.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", image["ref"]).stdout
    assert "pip wheel" in history or "pip install" in history  # the history is readable ...
    assert not [word for word in BUILD_ONLY if word in history]  # ... and clean
    paths = ["/etc/pip.conf", "/etc/xdg/pip", "/root/.config", "/root/.pip", "/root/ca.crt",
             "/root/links0", "/tmp/wheels", "/src", "/wheels"]
    script = f"ls -d {' '.join(paths)} 2>&1; echo; ls -A /app; python -m pip config list"
    out = run_in(engine, image, script,
                 user="0")  # root: /root is private
    for path in paths:
        assert f"cannot access '{path}'" in out, out
    assert out.count("No such file or directory") == len(paths), out
    listing = out.split()
    assert "gunicorn.conf.py" in listing and "app" not in listing  # no source tree in /app
    assert "find-links" not in out and "cert" not in out, out  # pip has no settings at all


def test_the_image_runs_its_pinned_cpu_torch_as_user_10001_from_the_wheel(engine, image):
    out = run_in(engine, image, "id -u; id -g; python -c 'import torch, app, landscapes; "
                 "from app.main import ASSETS; print(torch.__version__, torch.version.cuda); "
                 "print(app.__file__); print(landscapes.__file__); "
                 "print(sorted(p.name for p in ASSETS.iterdir()))'; "
                 "pip show funnelscope | grep -i '^location\\|^editable'; "
                 "command -v funnelscope; command -v landscapes")
    lines = out.splitlines()
    assert lines[0] == "10001" and lines[1] == "10001", out
    assert lines[2] == "2.13.0+cpu None", out
    assert lines[3].endswith("/site-packages/app/__init__.py"), out
    assert lines[4].endswith("/site-packages/landscapes/__init__.py"), out
    assert json.loads(lines[5].replace("'", '"')) == [  # plotly-partial.min.js: built by make
        "funnelscope.js", "plotly-partial.min.js", "scenarios.js", "style.css", "upload-labels.js"]
    assert lines[6].startswith("Location:") and "site-packages" in lines[6] and "Editable" not in out
    assert lines[-2].endswith("/funnelscope") and lines[-1].endswith("/landscapes"), out


@pytest.fixture(scope="module")
def served(engine, image):
    """The image run as the lab runs it (no Redis): a container on a loopback port."""
    port = free_port()
    name = f"funnelscope-image-test-{port}"
    flags = ["--health-interval", "2s"] if engine.name == "docker" else []
    engine.run("run", "-d", "--name", name, *flags, "-p", f"127.0.0.1:{port}:8050", image["ref"])

    def alive() -> bool:
        out = engine.run("inspect", "--format", "{{.State.Running}}", name, check=False).stdout
        return out.strip() == "true"

    def logs() -> str:
        result = engine.run("logs", name, check=False)
        return (result.stdout + result.stderr)[-4000:]

    try:
        started = time.monotonic()
        wait_for(f"http://127.0.0.1:{port}/healthz", alive, logs, timeout=120)
        yield {"url": f"http://127.0.0.1:{port}", "name": name, "logs": logs,
               "start_seconds": time.monotonic() - started}
    finally:
        engine.run("rm", "-f", "-v", name, check=False, timeout=120)


def test_the_container_serves_the_page_and_its_assets(served):
    status, body = http(served["url"] + "/healthz")
    assert status == 200 and json.loads(body)["cache"] == "filesystem"
    status, page = http(served["url"] + "/")
    assert status == 200 and b"Funnelscope" in page
    # plotly-partial.min.js: built by make (plotlyjs/) before the image, carried in app/assets/
    for name in ("style.css", "funnelscope.js", "scenarios.js", "upload-labels.js",
                 "plotly-partial.min.js"):
        assert f"/assets/{name}".encode() in page
        status, body = http(served["url"] + f"/assets/{name}")
        assert status == 200 and body == (engines.REPO_ROOT / "app" / "assets" / name).read_bytes()
    assert http(served["url"] + "/assets/no-such-file.css")[0] == 404
    assert "Booting worker" in served["logs"]()


def test_the_image_healthcheck_passes(engine, served):
    if engine.name == "podman":  # runs the image's HEALTHCHECK command in the container now
        result = engine.run("healthcheck", "run", served["name"], check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        health = engine.run("inspect", "--format", "{{.State.Health.Status}}", served["name"]).stdout
        assert health.strip() == "healthy"
        return
    deadline = time.monotonic() + 60  # docker: the check runs every 2 s (--health-interval)
    while time.monotonic() < deadline:
        status = engine.run("inspect", "--format", "{{.State.Health.Status}}", served["name"]).stdout
        if status.strip() == "healthy":
            return
        time.sleep(1)
    pytest.fail(f"not healthy: {status}")
