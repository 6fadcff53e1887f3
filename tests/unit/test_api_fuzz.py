"""Property-based fuzzing of POST /api/view (app/api.py) through Flask's test client.

Hypothesis generates structurally plausible requests -- the real model families, views and
parameter names, with values of the wrong type, huge, negative, NaN or infinite numbers, unicode,
wrong containers and deep nesting -- and raw bodies that are not requests at all. Every answer
must be JSON with a one-line reason and a status that is not 5xx-for-a-bug: 200, 400, 404, 405,
413, 422 or 503; no traceback text, no answer slower than 10 s (the app's compute budget is
0.05 s here, so a valid but expensive request ends quickly with 422), and no upload appears in
the store (a view request never writes uploads).
"""

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app import create_app
from app.config import Config
from landscapes import registry
from landscapes.networks import examples

EXAMPLES = 1000  # generated requests per run
ALLOWED = {200, 400, 404, 405, 413, 422, 503}
HANG_SECONDS = 10.0

FAMILIES = ["ising", "pspin", "network"]

numbers = st.one_of(
    st.integers(min_value=-3, max_value=600),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN, +-inf, -0.0, subnormals, 1e308
    st.sampled_from([1e400, -1e400, 2**63, 2**64, -1, 0, 0.5, 1e9, 10**30]),
)
strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "minimum:²", "random:99999999999", "state:-1", "through:", "through:,,",
                     "through:native,native,native,native", "upload:", "upload:" + "a" * 64,
                     "a" * 64, "0" * 64, "filter", "pca", "hessian", "bezier", "linear",
                     "native", "ground", "centre", "init", "1e400", "NaN", "Infinity", "16"]),
    st.sampled_from(list(examples.RECIPES)),
)
scalars = st.one_of(numbers, strings, st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


def deep(depth: int, leaf) -> object:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


MODEL_KEYS_OF = {"ising": ["n", "native_bias", "seed"],
                 "pspin": ["n", "p", "planted", "planted_order", "seed"],
                 "network": ["example", "checkpoint", "checkpoint2", "checkpoint3", "data", "loss"]}
nasty = st.one_of(values, st.builds(deep, st.integers(1, 40), scalars))


@st.composite
def requests(draw) -> dict:
    """A request of a real family and view with zero to two parameters set to anything, and
    sometimes an unknown parameter; now and then the model or the view is not an object."""
    family = draw(st.sampled_from(FAMILIES))
    model: dict = {"model": family}
    if family == "network":
        model["example"] = draw(st.sampled_from(list(examples.RECIPES)))
    for key in draw(st.lists(st.sampled_from(MODEL_KEYS_OF[family]), max_size=2, unique=True)):
        model[key] = draw(nasty)
    name = draw(st.sampled_from(registry.views_of(family)))
    view: dict = {"view": name}
    keys = sorted(set(registry.view_kind(family, name).defaults) - {"view"})
    if keys:
        for key in draw(st.lists(st.sampled_from(keys), max_size=2, unique=True)):
            view[key] = draw(nasty)
    if draw(st.integers(0, 9)) == 0:
        view[draw(st.text(max_size=6))] = draw(nasty)
    if draw(st.integers(0, 9)) == 0:
        model["model"] = draw(nasty)
    if draw(st.integers(0, 9)) == 0:
        view["view"] = draw(nasty)
    return {"model": model if draw(st.integers(0, 19)) else draw(nasty),
            "view": view if draw(st.integers(0, 19)) else draw(nasty)}


requests_ = requests()
bodies = st.one_of(
    requests_.map(lambda r: json.dumps(r).encode()),  # allow_nan: NaN and Infinity literals
    requests_.map(lambda r: json.dumps(r).encode()),
    requests_.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8")),
    st.builds(lambda r, extra: json.dumps({**r, "extra": extra}).encode(), requests_, values),
    st.builds(lambda n: ("[" * n + "]" * n).encode(), st.integers(1, 20_000)),
    st.builds(lambda n: ('{"model": ' * n + "1" + "}" * n).encode(), st.integers(1, 3000)),
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
)


def _uploads(store_root: Path) -> list[str]:
    return sorted(str(p) for p in (store_root / "uploads").rglob("*")) if (
        store_root / "uploads").exists() else []


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    cache = tmp_path_factory.mktemp("fuzz") / "cache"
    app = create_app(Config(cache_dir=cache, compute_seconds=0.05))
    return app.server.test_client(), cache / "store"


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(body=bodies, query=st.sampled_from(["", "", "", "?format=npz", "?format=xml"]))
def test_any_request_is_answered_with_json_and_never_a_500(served, body, query):
    client, store_root = served
    before = _uploads(store_root)
    start = time.monotonic()
    response = client.post("/api/view" + query, data=body, content_type="application/json")
    elapsed = time.monotonic() - start
    event(f"status {response.status_code}")
    assert elapsed < HANG_SECONDS, f"{elapsed:.1f} s for {body[:200]!r}"
    assert response.status_code in ALLOWED, (response.status_code, body[:300])
    if response.status_code == 200 and query == "?format=npz":
        assert response.mimetype == "application/octet-stream"
    else:
        assert response.is_json, body[:300]
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and 'File "' not in text
        if response.status_code != 200:
            error = response.get_json()["error"]
            assert isinstance(error, str) and error and "\n" not in error
    assert _uploads(store_root) == before
