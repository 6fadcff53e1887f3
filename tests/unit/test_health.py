"""/healthz and /readyz through the Flask test client of a real dashboard."""

import base64
import io
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import landscapes
from app import create_app, health, ids
from app.callbacks.status import status_message
from app.callbacks.uploads import SLOTS as UPLOAD_SLOTS
from app.config import Config
from landscapes import views


@pytest.fixture
def config(tmp_path):
    return Config(cache_dir=tmp_path / "cache")


@pytest.fixture
def app(config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.server.test_client()


def views_dir(config):
    """The FileSystemCache directory: ``views/`` under the cache directory."""
    return config.flask_caching()["CACHE_DIR"]


def test_healthz_reports_version_and_cache_backend(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok", "version": landscapes.__version__,
                                   "cache": "filesystem", "problems": {}}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_round_trips_a_probe_through_the_cache(app, client, config):
    assert views_dir(config) == str(config.cache_dir / "views")
    before = sorted(os.listdir(views_dir(config)))
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"status": "ready", "checks": {
        "cache": "ok", "views_dir": "ok", "store_dir": "ok", "jobs_dir": "ok"}}
    # the probe key and the probe files are cleaned up
    assert sorted(os.listdir(views_dir(config))) == before
    assert os.listdir(config.cache_dir / "store") == []


def test_health_routes_win_over_the_dash_catch_all(client):
    # Dash serves its page for any path; the health routes must not be swallowed by it
    assert client.get("/healthz").is_json
    assert client.get("/readyz").is_json
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(("cache_type", "name"), [
    ("FileSystemCache", "filesystem"),
    ("app.viewcache.FileSystemCache", "filesystem"),
    ("app.viewcache.RedisCache", "redis"),
    ("RedisCache", "redis"),
    ("flask_caching.backends.RedisCache", "redis"),
    ("SimpleCache", "simple"),
])
def test_backend_name_comes_from_the_cache_type(cache_type, name):
    assert health.backend_name(cache_type) == name


def test_readyz_is_503_when_the_views_dir_is_not_a_directory(client, config):
    # fails for root too: nothing can be created inside a regular file
    path = views_dir(config)
    shutil.rmtree(path)  # holds FileSystemCache's entry count
    with open(path, "w") as f:
        f.write("not a directory")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["cache", "views_dir"]
    assert body["checks"]["views_dir"] == f"{path} is not writable (it is not a directory)"
    assert body["checks"]["store_dir"] == "ok"


def test_readyz_reports_an_exception_as_a_503_not_a_500(app, client, monkeypatch):
    cache = app.server.extensions["funnelscope_store"].cache

    def broken(*args, **kwargs):
        raise ConnectionError("cache server went away")

    monkeypatch.setattr(cache, "get", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.is_json
    body = response.get_json()
    assert body["failed"] == ["cache"]
    assert body["checks"]["cache"] == "ConnectionError: cache server went away"
    assert "Traceback" not in response.get_data(as_text=True)


def test_readyz_never_500s_even_if_the_checks_themselves_break(client, monkeypatch):
    def broken(*args):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(health, "readiness", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"readiness": "RuntimeError: unexpected"}


def test_readyz_reports_a_probe_that_does_not_read_back(app, client, monkeypatch):
    cache = app.server.extensions["funnelscope_store"].cache
    monkeypatch.setattr(cache, "get", lambda *args, **kwargs: None)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["cache"] == "the probe key did not read back (got None)"


# --- real resource trouble: a read-only and a full file system (tmpfs), not patched methods ---

SPEC = {"model": "pspin", "n": 10, "p": 3, "seed": 5}
VIEW = {"view": "slice", "steps": 9, "span": 1.0}


@pytest.fixture
def disk(tmp_path):
    """An empty 1 MiB tmpfs of its own (mount needs root: tests run as root in the image)."""
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield root
    finally:
        if subprocess.run(["umount", str(root)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(root)], check=True)


def read_only(root) -> None:
    """Make the cache directory under ``root`` (a server that ran once), then turn the whole
    file system read-only (a remount: chmod does not stop root)."""
    made = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                           "from app import create_app; from app.config import Config; "
                           "create_app(Config(cache_dir=Path(sys.argv[1])))", str(root / "cache")],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    subprocess.run(["mount", "-o", "remount,ro", str(root)], check=True)
    with pytest.raises(OSError, match="Read-only file system"):  # truly read-only, even for root
        (root / "cache" / "views" / "x").write_bytes(b"x")


def fill(root) -> None:
    """Write to ``root`` until its file system is full (ENOSPC)."""
    with open(root / "filler", "wb") as f:
        with pytest.raises(OSError, match="No space left on device"):
            while True:
                f.write(b"\0" * 65536)
                f.flush()


def upload_callback(app):
    return next(entry["callback"].__wrapped__ for key, entry in app.callback_map.items()
                if f"left-{ids.UPLOADED}.data" in key)


def test_a_read_only_cache_dir_is_named_and_views_still_compute(disk, caplog):
    config = Config(cache_dir=disk / "cache")
    read_only(disk)
    app = create_app(config)  # starts: the job queue moves to a temporary directory
    store = app.server.extensions["funnelscope_store"]
    cache = config.cache_dir
    client = app.server.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks == {
        "cache": f"cache entries cannot be written: {cache / 'views'} is on a read-only file system",
        "views_dir": f"{cache / 'views'} is on a read-only file system",
        "store_dir": f"{cache / 'store'} is on a read-only file system",
        "jobs_dir": "ok"}
    problems = client.get("/healthz").get_json()["problems"]
    assert problems == {name: why for name, why in checks.items() if why != "ok"}
    banner = status_message(problems)
    assert "Redis" not in banner
    assert banner.startswith(f"The cache directory cannot be written: {cache / 'views'} is on a "
                             "read-only file system;")
    assert "panels cannot be computed" not in banner.lower()  # their queue moved
    # a view is computed (not kept: logged), nothing fails
    other = dict(VIEW, span=0.5)
    with caplog.at_level(logging.WARNING):
        body = client.post("/api/view", json={"model": SPEC, "view": other}).get_json()
    assert body["cached"] is False
    assert np.allclose(np.array(body["values"], dtype=float),
                       views.compute(SPEC, other).values, atol=1e-6)
    assert "result not stored in the cache: " + checks["views_dir"] in caplog.text
    assert store.cached(SPEC, other) is None
    # a valid upload is not "unreadable": the page says the server cannot store it
    out = upload_callback(app)(
        contents={slot: None for slot in UPLOAD_SLOTS} | {ids.UPLOAD_DATA: npz_upload()},
        arch_typed=None, arch_text=None, data=None, loss=None,
        filenames={slot: None for slot in UPLOAD_SLOTS} | {ids.UPLOAD_DATA: "points.npz"})
    status = out["statuses"][ids.UPLOAD_DATA]
    assert status.children.startswith("points.npz was read but cannot be stored on the server: ")
    assert status.children.endswith("is on a read-only file system")


def npz_upload() -> str:
    buffer = io.BytesIO()
    np.savez(buffer, X=np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32),
             y=np.arange(20) % 2)
    return "data:application/octet-stream;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_example_network_is_trained_in_memory_when_its_store_is_read_only(disk):
    config = Config(cache_dir=disk / "cache")
    read_only(disk)
    store = create_app(config).server.extensions["funnelscope_store"]
    spec, view = {"model": "network", "example": "moons-mlp"}, {"view": "slice", "steps": 5}
    result = store.get(spec, view)  # not a 500: trained here, kept in this process
    assert result.values.shape == (5, 5) and np.isfinite(result.values).all()
    assert not (config.cache_dir / "store" / "examples").exists()
    again = create_app(config).server.extensions["funnelscope_store"].get(spec, view)
    assert np.allclose(again.values, result.values)  # no second training: same weights


def test_a_full_disk_is_named_and_leaves_no_temporary_files(disk, caplog):
    config = Config(cache_dir=disk / "cache")
    app = create_app(config)
    store = app.server.extensions["funnelscope_store"]
    views_dir = config.cache_dir / "views"
    fill(disk)
    checks = app.server.test_client().get("/readyz").get_json()["checks"]
    full = f"the disk holding {views_dir} is full (No space left on device)"
    assert checks["views_dir"] == full
    assert checks["cache"] == "cache entries cannot be written: " + full
    assert checks["jobs_dir"] == f"the disk holding {config.cache_dir / 'jobs'} is full " \
        "(No space left on device)"
    assert status_message(checks).startswith("The cache directory cannot be written: " + full)
    with caplog.at_level(logging.WARNING):
        result = store.get(SPEC, VIEW)  # computed; its entry cannot be written
    assert np.array_equal(result.values, views.compute(SPEC, VIEW).values)
    assert "result not stored in the cache: " + full in caplog.text
    assert [n for n in os.listdir(views_dir) if n.startswith("tmp")] == []  # none left behind
    assert store.cached(SPEC, VIEW) is None
    os.unlink(disk / "filler")  # room again: the next request stores it
    store.get(SPEC, VIEW)
    assert store.cached(SPEC, VIEW) is not None
    assert app.server.test_client().get("/readyz").status_code == 200


def test_stray_temporary_files_are_removed_at_start_up(tmp_path):
    views_dir = tmp_path / "cache" / "views"
    views_dir.mkdir(parents=True)
    orphan, in_flight = views_dir / "tmpab12.__wz_cache", views_dir / "tmpcd34.__wz_cache"
    orphan.write_bytes(b"half an entry")
    hour_ago = time.time() - 3600
    os.utime(orphan, (hour_ago, hour_ago))
    in_flight.write_bytes(b"another worker is writing this one")
    create_app(Config(cache_dir=tmp_path / "cache"))
    assert not orphan.exists()
    assert in_flight.exists()  # younger than a minute: maybe another worker's write


def test_healthz_stays_fast_while_the_checks_are_slow(config, monkeypatch):
    """A readiness check that hangs (a stalled disk, Redis behind a dropped route) delays
    liveness by at most LIVENESS_WAIT; the finished check is reported on a later call."""
    app = create_app(config)
    monkeypatch.setattr(health, "readiness", lambda *a: time.sleep(2.5) or {"views_dir": "stalled"})
    client = app.server.test_client()
    start = time.monotonic()
    first = client.get("/healthz")
    assert first.status_code == 200 and time.monotonic() - start < health.LIVENESS_WAIT + 0.5
    time.sleep(2.0)
    assert client.get("/healthz").get_json()["problems"] == {"views_dir": "stalled"}
