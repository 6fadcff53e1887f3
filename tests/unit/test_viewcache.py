"""Cache entries cannot be turned against the server: nothing in the cache is unpickled, an entry
carries its own request key, and a bad entry is a logged miss that the next computation
overwrites (app/viewcache.py, app/data.py), with the file cache of a real dashboard."""

import io
import logging
import os
import pickle
import shutil
import struct

import numpy as np
import pytest

from app import create_app, viewcache
from app.config import Config
from landscapes import views
from landscapes.results import ViewResult

SPEC = {"model": "pspin", "n": 10, "p": 3, "seed": 103}
OTHER = dict(SPEC, seed=104)
VIEW = {"view": "slice", "steps": 9, "span": 1.0}


@pytest.fixture
def app(tmp_path):
    return create_app(Config(cache_dir=tmp_path / "cache"))


@pytest.fixture
def store(app):
    return app.server.extensions["funnelscope_store"]


def entry_file(store, key: str) -> str:
    return store.cache.cache._get_filename(key)


class Payload:
    """Unpickling this runs ``touch MARKER`` (an attacker's code in a planted cache entry)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_planted_pickle_is_never_run_and_the_view_is_recomputed(store, tmp_path, caplog):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Payload(marker))
    pickle.loads(pickle.dumps(Payload(tmp_path / "proof")))  # the payload does run if unpickled
    assert (tmp_path / "proof").exists()
    key = store.key(SPEC, VIEW)
    os.makedirs(os.path.dirname(entry_file(store, key)), exist_ok=True)
    with open(entry_file(store, key), "wb") as f:  # cachelib's layout: expiry, then the value
        f.write(struct.pack("I", 0) + payload)
    with caplog.at_level(logging.WARNING):
        assert store.cached(SPEC, VIEW) is None
        result = store.get(SPEC, VIEW)
    assert not marker.exists()
    assert "neither bytes nor an int" in caplog.text
    assert store.computed == 1
    assert np.array_equal(result.values, views.compute(SPEC, VIEW).values)
    with open(entry_file(store, key), "rb") as f:  # overwritten by the computed view
        assert f.read()[4:5] == b"b"
    assert np.array_equal(store.cached(SPEC, VIEW).values, result.values)


def test_an_entry_copied_over_another_key_is_detected(app, store, caplog):
    mine, other = store.get(SPEC, VIEW), store.get(OTHER, VIEW)
    assert not np.allclose(mine.values, other.values)
    shutil.copyfile(entry_file(store, store.key(OTHER, VIEW)), entry_file(store, store.key(SPEC, VIEW)))
    with caplog.at_level(logging.WARNING):
        assert store.cached(SPEC, VIEW) is None
    assert "bad cache entry" in caplog.text and "the entry is for another request" in caplog.text
    client = app.server.test_client()
    key = views.request_key(SPEC, VIEW)
    assert client.get(f"/api/view/{key}").status_code == 404  # not served, not a 500
    body = client.post("/api/view", json={"model": SPEC, "view": VIEW}).get_json()
    assert body["cached"] is False
    expected = views.compute(SPEC, VIEW).values
    assert np.allclose(np.array(body["values"], dtype=float), expected, atol=1e-6)
    assert not np.allclose(np.array(body["values"], dtype=float), other.values, atol=1e-6)
    assert client.post("/api/view", json={"model": SPEC, "view": VIEW}).get_json()["cached"] is True


@pytest.mark.parametrize("planted", [
    pytest.param(lambda key: 42, id="an int"),
    pytest.param(lambda key: b"not an npz at all", id="unreadable bytes"),
    pytest.param(lambda key: viewcache.encode(key, ViewResult({"x": np.zeros(3)}, {"kind": "slice"})),
                 id="a slice without its arrays"),
    pytest.param(lambda key: viewcache.encode(key, ViewResult({"x": np.zeros(3)}, {})),
                 id="no kind"),
    pytest.param(lambda key: viewcache.encode(key, views.compute(SPEC, VIEW))[:200],
                 id="truncated"),
])
def test_a_wrong_entry_is_a_miss_then_overwritten(store, planted, caplog):
    key = store.key(SPEC, VIEW)
    store.cache.set(key, planted(key))
    with caplog.at_level(logging.WARNING):
        assert store.cached(SPEC, VIEW) is None
    assert "treated as a miss" in caplog.text
    result = store.get(SPEC, VIEW)
    assert store.computed == 1
    again = store.cached(SPEC, VIEW)
    assert again is not None and np.array_equal(again.values, result.values)


def test_entries_round_trip_every_result_kind_without_pickles(store):
    funnel = {"model": "ising", "n": 8, "native_bias": 2.0, "seed": 1}
    for spec, view in ((SPEC, VIEW), (SPEC, {"view": "path", "steps": 7}),
                       (funnel, {"view": "funnel"}), (funnel, {"view": "sweep"})):
        result = store.get(spec, view)
        data = store.cache.get(store.key(spec, view))
        assert isinstance(data, bytes) and data[:2] == b"PK"  # a zip: .npz, not a pickle
        with np.load(io.BytesIO(data), allow_pickle=False) as members:  # none needs a pickle
            assert {"meta", viewcache.KEY_ENTRY} <= set(members.files)
            assert [members[name] for name in members.files]
        back = store.cached(spec, view)
        assert type(back) is type(result) and back.meta == result.meta
        assert set(back.to_arrays()) == set(result.to_arrays())
        for name, array in result.to_arrays().items():
            assert np.array_equal(back.to_arrays()[name], array, equal_nan=True), name


def test_the_serializer_stores_bytes_and_ints_only():
    serializer = viewcache.BytesSerializer()
    assert serializer.loads(serializer.dumps(b"\x80abc")) == b"\x80abc"
    assert serializer.loads(serializer.dumps(17)) == 17
    with pytest.raises(TypeError, match="bytes and ints only, not dict"):
        serializer.dumps({"a": 1})
    assert serializer.loads(b"!" + pickle.dumps({"a": 1})) is None  # RedisCache's own format


def test_an_object_array_is_refused_not_pickled():
    result = ViewResult({"bad": np.array([{"a": 1}], dtype=object)}, {"kind": "funnel"})
    with pytest.raises(ValueError, match="object arrays would be pickled"):
        viewcache.encode("view:k", result)
