"""/healthz and /readyz through the Flask test client of a real dashboard."""

import os
import shutil
import stat

import pytest

import landscapes
from app import create_app, health
from app.config import Config


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
                                   "cache": "filesystem"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_round_trips_a_probe_through_the_cache(app, client, config):
    assert views_dir(config) == str(config.cache_dir / "views")
    before = sorted(os.listdir(views_dir(config)))
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"status": "ready",
                                   "checks": {"cache": "ok", "views_dir": "ok", "store_dir": "ok"}}
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
    ("RedisCache", "redis"),
    ("flask_caching.backends.RedisCache", "redis"),
    ("SimpleCache", "simple"),
])
def test_backend_name_comes_from_the_cache_type(cache_type, name):
    assert health.backend_name(cache_type) == name


def test_readyz_is_503_with_a_reason_when_the_views_dir_is_unwritable(app, client, config, monkeypatch):
    path = views_dir(config)
    cache = app.server.extensions["funnelscope_store"].cache
    mode = stat.S_IMODE(os.stat(path).st_mode)
    os.chmod(path, 0o500)
    try:
        writes_blocked = not os.access(path, os.W_OK) and os.geteuid() != 0
        if not writes_blocked:
            # root writes through mode bits: simulate the failed write the way the cache sees it
            monkeypatch.setattr(cache, "set", lambda *args, **kwargs: False)
        response = client.get("/readyz")
    finally:
        os.chmod(path, mode)
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert "cache" in body["failed"]
    assert body["checks"]["cache"] == "the cache refused to store the probe key (set returned False)"
    if writes_blocked:
        assert "views_dir" in body["failed"]
        assert str(path) in body["checks"]["views_dir"]
        assert "PermissionError" in body["checks"]["views_dir"]
    assert body["checks"]["store_dir"] == "ok"


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
    def broken(config, cache):
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
