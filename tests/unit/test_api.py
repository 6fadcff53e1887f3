"""/api/view through the Flask test client of a real dashboard (app/api.py)."""

import io
import json

import numpy as np
import pytest

from app.data import ViewStore
from landscapes import views
from landscapes.io.npz import read_npz

SPEC = {"model": "ising", "n": 10, "native_bias": 2.0, "seed": 1}
SLICE = {"view": "slice", "steps": 9, "span": 1.0}


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity (Python's default accepts them; browsers do not)."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def store(app) -> ViewStore:
    return app.server.extensions["funnelscope_store"]


def post(client, model, view, query=""):
    return client.post("/api/view" + query, json={"model": model, "view": view})


def test_slice_values_match_the_library_and_follow_the_export_contract(client):
    response = post(client, SPEC, SLICE)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = strict_json(response.get_data(as_text=True))
    expected = views.compute(SPEC, SLICE)  # computed independently of the app
    assert body["key"] == views.request_key(SPEC, SLICE)
    assert body["cached"] is False
    assert body["meta"]["unit"] == "energy per spin" and body["meta"]["dims"] == 2
    assert body["meta"]["model"] == expected.meta["model"]
    assert len(body["axes"]) == 2
    for got, want in zip(body["axes"], expected.axes, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    values = np.array(body["values"])
    assert values.shape == (9, 9)  # (ny, nx): values[i][j] at (x[j], y[i])
    np.testing.assert_allclose(values, expected.values.astype(np.float32), rtol=1e-6, atol=1e-7)
    assert body["extras"] == sorted(expected.extras)


def test_a_repeated_request_is_served_from_the_cache(client, store):
    first = post(client, SPEC, SLICE).get_json()
    # the same request spelled differently has the same key
    second = post(client, dict(SPEC, n=10.0), dict(SLICE, dims=2)).get_json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["key"] == second["key"]
    assert first["values"] == second["values"]
    assert store.computed == 1


def test_get_by_key_returns_the_cached_view_and_404_otherwise(client, store):
    posted = post(client, SPEC, SLICE).get_json()
    response = client.get(f"/api/view/{posted['key']}")
    assert response.status_code == 200
    assert response.get_json() == {**posted, "cached": True}
    missing = client.get("/api/view/" + "0" * 64)
    assert missing.status_code == 404 and missing.get_json() == {"error": "not cached"}
    assert store.computed == 1  # a GET never computes


def test_a_bad_request_is_a_400_with_the_library_message(client):
    response = post(client, {"model": "pspin", "n": 16, "p": 7}, SLICE)
    assert response.status_code == 400
    assert "p must be one of" in response.get_json()["error"]
    response = post(client, SPEC, {"view": "slice", "steps": "many"})
    assert response.status_code == 400
    assert "slice: steps must be a whole number in [2, 401]; got 'many'" == response.get_json()["error"]


@pytest.mark.parametrize("data, needs", [
    (b"not json {", "the body is not valid JSON (Expecting value at line 1 column 1)"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({"model": SPEC}).encode(), "view"),
    (json.dumps({"model": "ising", "view": SLICE}).encode(), "model"),
])
def test_a_body_that_is_not_a_request_is_a_400(client, data, needs):
    response = client.post("/api/view", data=data, content_type="application/json")
    assert response.status_code == 400
    assert response.is_json and needs in response.get_json()["error"]


def test_an_unexpected_failure_is_a_json_500_not_a_traceback(client, monkeypatch, caplog):
    def broken(self, model_spec, view_spec, progress=None, cancelled=None):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(ViewStore, "get", broken)
    response = post(client, SPEC, SLICE)
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error"}
    assert "disk on fire" in caplog.text  # logged with its traceback, not sent


def test_npz_format_round_trips_through_the_export_reader(client):
    body = post(client, SPEC, SLICE).get_json()
    response = post(client, SPEC, SLICE, "?format=npz")
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert f'filename={body["key"][:12]}.npz' in response.headers["Content-Disposition"]
    arrays, meta = read_npz(io.BytesIO(response.data))
    np.testing.assert_allclose(arrays["values"], np.array(body["values"]), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(arrays["x"], body["axes"][0], rtol=1e-6)
    assert meta == body["meta"]
    assert {"couplings", "native"} <= set(arrays)  # the extras travel in the file
    by_key = client.get(f"/api/view/{body['key']}?format=npz")
    assert by_key.status_code == 200 and by_key.data == response.data


def test_a_diverged_network_view_is_strict_json(client):
    # the exploding example's loss reaches ~1e7 on this grid: large, but still finite numbers
    model = {"model": "network", "example": "exploding-mlp"}
    response = post(client, model, {"view": "slice", "steps": 5, "span": 1.0})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = strict_json(response.get_data(as_text=True))
    assert np.array(body["values"], dtype=float).shape == (5, 5)
    assert body["meta"]["unit"] == "loss"


def test_non_finite_values_become_null(client, monkeypatch):
    fake = views.compute(SPEC, SLICE)
    fake.values[0, 0], fake.values[1, 2], fake.values[2, 1] = np.nan, np.inf, -np.inf
    fake.meta = {**fake.meta, "center_energy": float("nan")}
    monkeypatch.setattr(ViewStore, "get", lambda self, model_spec, view_spec, *_, **__: fake)
    response = post(client, SPEC, SLICE)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    body = strict_json(text)
    assert "NaN" not in text and "Infinity" not in text
    assert body["values"][0][0] is None and body["values"][1][2] is None
    assert body["values"][2][1] is None and body["meta"]["center_energy"] is None
    assert body["values"][4][4] == pytest.approx(fake.values[4, 4], rel=1e-6)


def test_an_unknown_format_is_refused_before_any_work(client, store):
    response = post(client, SPEC, SLICE, "?format=xml")
    assert response.status_code == 400 and "format" in response.get_json()["error"]
    assert client.get("/api/view/" + "0" * 64 + "?format=xml").status_code == 400
    assert store.computed == 0
