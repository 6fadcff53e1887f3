"""The project installs as a package: `pip wheel .` makes a wheel that carries the dashboard's CSS
and JS, and the dashboard installed from it -- outside the checkout -- serves its page and every
file that page references, and the `funnelscope` and `landscapes` commands run.

The wheel goes into a fresh virtualenv in a temporary folder with ``--no-deps``; the test
virtualenv's site-packages are appended to its path by a ``.pth`` line (torch and the rest are
not installed again). A ``.pth`` line only adds a folder: the editable install's hooks in that
folder do not run, so ``app`` and ``landscapes`` come from the wheel (checked).
"""

import html.parser
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from app import devserver

pytestmark = pytest.mark.slow  # a wheel build, a virtualenv and a server: ~30 s

REPO_ROOT = Path(__file__).resolve().parents[2]
# no PYTHONPATH (it could name the checkout) and no REDIS_URL for the installed copy
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REDIS_URL")}
ASSET_FILES = sorted(p.name for p in (REPO_ROOT / "app" / "assets").iterdir() if p.is_file())


class _References(html.parser.HTMLParser):
    """Every ``<script src>`` and ``<link href>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.found.append(value)


def _get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel .` of what the Dockerfile's build stage copies, in a clean copy (setuptools'
    in-tree build/ folder could otherwise carry stale files into the wheel)."""
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, src / name)
    for name in ("landscapes", "app"):
        shutil.copytree(REPO_ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "--quiet", "--wheel-dir", str(out), str(src)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("funnelscope-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv (outside the checkout) with the wheel installed: its bin folder."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(subprocess.run([str(python), "-c", where], capture_output=True, text=True, check=True,
                                  env=CLEAN_ENV).stdout.strip())
    (purelib / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: the appended site-packages hold the checkout's editable install
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                             "--no-deps", "--no-index", "--ignore-installed", "--quiet", str(wheel)],
                            capture_output=True, text=True, timeout=300, env=CLEAN_ENV)
    assert result.returncode == 0, result.stderr
    return venv / "bin"


def test_the_wheel_carries_the_dashboard_assets(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert [f"app/assets/{name}" for name in ASSET_FILES if f"app/assets/{name}" not in names] == []
    assert {"app/assets/style.css", "app/assets/funnelscope.js"} <= set(names)
    assert "app/main.py" in names and "landscapes/views.py" in names
    assert not any(name.startswith(("tests/", "assets/", "benchmarks/")) for name in names)


def test_the_installed_copy_is_the_one_imported(installed, tmp_path):
    out = subprocess.run([str(installed / "python"), "-c",
                          "import app, landscapes; from app.main import ASSETS; "
                          "print(app.__file__); print(landscapes.__file__); print(ASSETS)"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120, env=CLEAN_ENV)
    assert out.returncode == 0, out.stderr
    venv = installed.parent
    for line in out.stdout.split():
        assert Path(line).is_relative_to(venv) and not Path(line).is_relative_to(REPO_ROOT), out.stdout
    assert (Path(out.stdout.split()[2]) / "style.css").read_bytes() == (
        REPO_ROOT / "app" / "assets" / "style.css").read_bytes()


def test_the_installed_commands_run(installed, tmp_path):
    out = subprocess.run([str(installed / "funnelscope"), "--help"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env=CLEAN_ENV)
    assert out.returncode == 0 and "serve" in out.stdout and "precompute" in out.stdout, out.stderr
    out = subprocess.run([str(installed / "landscapes"), "examples"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env=CLEAN_ENV)
    assert out.returncode == 0 and "moons-mlp" in out.stdout, out.stderr
    # a missing argument is a usage error (exit 2), not a traceback
    out = subprocess.run([str(installed / "landscapes"), "slice"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, env=CLEAN_ENV)
    assert out.returncode == 2 and "the following arguments are required" in out.stderr, out.stderr


def test_the_installed_dashboard_serves_the_page_and_every_file_it_references(installed, tmp_path):
    port = devserver.free_port()
    env = dict(CLEAN_ENV,
               FUNNELSCOPE_CACHE_DIR=str(tmp_path / "cache"), HOME=str(tmp_path))
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(installed / "funnelscope"), "serve", "--host", "127.0.0.1",
                                 "--port", str(port)], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"funnelscope serve exited:\n{log.read_text()}"
            try:
                if _get(base + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"no /healthz in 90 s:\n{log.read_text()}"
            time.sleep(0.25)
        status, page = _get(base + "/")
        assert status == 200 and b"Funnelscope" in page
        parser = _References()
        parser.feed(page.decode())
        references = parser.found
        local = [ref for ref in references if ref.startswith("/")]
        assert len(local) >= 5, references
        for name in ASSET_FILES:  # every asset is referenced by the page ...
            assert any(ref.split("?")[0] == f"/assets/{name}" for ref in local), (name, references)
        for ref in local:  # ... and everything the page references is served
            status, body = _get(base + ref)
            assert status == 200 and body, (ref, status)
            if ref.startswith("/assets/"):
                name = ref.split("?")[0].removeprefix("/assets/")
                assert body == (REPO_ROOT / "app" / "assets" / name).read_bytes()
    finally:
        devserver.stop(proc)
