"""The optional lab token (app/access.py): the link with the token once, then a cookie; the
health endpoints stay open; off by default."""

import json

import pytest

from app import access, create_app
from app.config import Config

TOKEN = "lab-7f3a"
VIEW = {"model": {"model": "pspin", "n": 8, "p": 3, "seed": 1}, "view": {"view": "slice", "steps": 5}}


@pytest.fixture(scope="module")
def locked(tmp_path_factory):
    app = create_app(Config(cache_dir=tmp_path_factory.mktemp("cache"), lab_token=TOKEN))
    return app.server


def _fresh(server):
    return server.test_client()  # no cookies


def test_without_the_token_every_page_is_refused_with_one_line(locked):
    client = _fresh(locked)
    page = client.get("/")
    assert page.status_code == 401 and b"ask your teacher" in page.data
    assert b"Traceback" not in page.data and TOKEN.encode() not in page.data
    asset = client.get("/assets/style.css")
    assert asset.status_code == 401
    api = client.post("/api/view", json=VIEW)
    assert api.status_code == 401 and "lab needs its link" in api.get_json()["error"]
    callback = client.post("/_dash-update-component", json={})
    assert callback.status_code == 401 and callback.is_json


def test_health_endpoints_stay_open(locked):
    client = _fresh(locked)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)  # answered, not refused


def test_the_link_sets_a_cookie_and_drops_the_token_from_the_address(locked):
    client = _fresh(locked)
    first = client.get(f"/?a=1&token={TOKEN}&b=2")
    assert first.status_code == 303
    assert first.headers["Location"] == "/?a=1&b=2"  # the token leaves the address bar
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"{access.COOKIE}={access.cookie_value(TOKEN)};")
    assert TOKEN not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS the cookie is Secure
    page = client.get("/")
    assert page.status_code == 200 and b"Funnelscope" in page.data
    assert client.get("/assets/style.css").status_code == 200
    assert client.post("/api/view", json=VIEW).status_code == 200


def test_https_links_set_a_secure_cookie(locked):
    first = _fresh(locked).get(f"/?token={TOKEN}", base_url="https://lab.example")
    assert "Secure" in first.headers["Set-Cookie"]


def test_a_wrong_token_or_cookie_is_refused(locked):
    client = _fresh(locked)
    wrong = client.get("/?token=guess")
    assert wrong.status_code == 403 and b"wrong lab token" in wrong.data
    assert "Set-Cookie" not in wrong.headers
    client.set_cookie(access.COOKIE, TOKEN)  # the raw token is not the cookie's value
    assert client.get("/").status_code == 401
    client.set_cookie(access.COOKIE, access.cookie_value("another-lab"))
    assert client.get("/").status_code == 401


def test_scripts_use_a_bearer_header(locked):
    client = _fresh(locked)
    ok = client.post("/api/view", json=VIEW, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and json.loads(ok.data)["meta"]["kind"] == "slice"
    bad = client.post("/api/view", json=VIEW, headers={"Authorization": "Bearer guess"})
    assert bad.status_code == 403 and bad.get_json() == {"error": access.WRONG}


def test_off_by_default_and_the_token_never_in_the_config_repr(client):
    assert client.get("/").status_code == 200
    assert Config.from_env({}).lab_token is None
    assert Config.from_env({"FUNNELSCOPE_LAB_TOKEN": ""}).lab_token is None
    assert Config.from_env({"FUNNELSCOPE_LAB_TOKEN": "off"}).lab_token is None  # compose default
    assert Config.from_env({"FUNNELSCOPE_LAB_TOKEN": " OFF "}).lab_token is None
    config = Config.from_env({"FUNNELSCOPE_LAB_TOKEN": TOKEN})
    assert config.lab_token == TOKEN and TOKEN not in repr(config)
