"""Locks and the cache in a real Redis cannot be turned against the server: a killed holder's lock
is free within seconds, a planted pickle is never run, an entry copied over another is detected.

Each test builds its own dashboard on this module's redis-server, with its own views.
"""

import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import redis

from app import create_app
from app.config import Config
from app.data import LOCK_TTL, redis_lock
from app.devserver import REPO_ROOT
from landscapes import views

VIEW = {"view": "slice", "steps": 9, "span": 1.0}
# holds the lock on KEY (argv[2]) in the Redis at argv[1] with a TTL of argv[3] s until killed
HOLDER = """
import sys, time
from app.data import redis_lock
with redis_lock(sys.argv[1], ttl=float(sys.argv[3]))(sys.argv[2]):
    print("held", flush=True)
    time.sleep(3600)
"""


def store_on(url: str, tmp_path):
    config = Config(cache_dir=tmp_path / "cache", redis_url=url)
    return create_app(config).server.extensions["funnelscope_store"]


def hold(url: str, key: str, ttl: float) -> subprocess.Popen:
    """A process that holds the lock on ``key`` (it printed "held")."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url, key, str(ttl)], cwd=REPO_ROOT,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def kill(holder: subprocess.Popen) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)


def test_a_killed_holders_lock_is_free_within_seconds(redis_server, tmp_path) -> None:
    spec = {"model": "pspin", "n": 10, "p": 3, "seed": 201}
    store = store_on(redis_server.url, tmp_path)
    key = store.key(spec, VIEW)
    holder = hold(redis_server.url, key, LOCK_TTL)  # the real TTL a worker's lock has
    try:
        time.sleep(LOCK_TTL + 2)  # the living holder renews it: still held past its TTL
        assert redis.Redis.from_url(redis_server.url).exists(f"funnelscope:lock:{key}")
    finally:
        kill(holder)  # kill -9 while computing: no release
    started = time.monotonic()
    result = store.get(spec, VIEW)  # the next identical request gets the lock, computes
    waited = time.monotonic() - started
    assert waited < LOCK_TTL + 2, f"waited {waited:.1f} s for a dead holder's lock"
    assert store.computed == 1
    assert np.array_equal(result.values, views.compute(spec, VIEW).values)


def test_a_living_holder_keeps_a_short_lock_and_its_death_frees_it(redis_server) -> None:
    key = "view:renewal-test"
    holder = hold(redis_server.url, key, 1.0)
    try:
        time.sleep(3)  # three TTLs: only renewals keep it
        with pytest.raises(redis.exceptions.LockError, match="waited 0.5 s for the lock"):
            with redis_lock(redis_server.url, ttl=1.0, wait=0.5)(key):
                pass
    finally:
        kill(holder)
    started = time.monotonic()
    with redis_lock(redis_server.url, ttl=1.0, wait=10)(key):
        waited = time.monotonic() - started
    assert waited < 2.0


class Payload:
    """Unpickling this runs ``touch MARKER`` (an attacker's code in a planted cache entry)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_planted_in_redis_is_never_run(redis_server, tmp_path) -> None:
    spec = {"model": "pspin", "n": 10, "p": 3, "seed": 202}
    store = store_on(redis_server.url, tmp_path)
    client = redis.Redis.from_url(redis_server.url)
    name = "funnelscope:" + store.key(spec, VIEW)  # CACHE_KEY_PREFIX + the view's key
    marker = tmp_path / "pwned"
    client.set(name, b"!" + pickle.dumps(Payload(marker)))  # flask-caching's pickle format
    result = store.get(spec, VIEW)
    assert not marker.exists()
    assert store.computed == 1
    assert np.array_equal(result.values, views.compute(spec, VIEW).values)
    assert client.get(name)[:3] == b"bPK"  # overwritten: bytes of an .npz
    assert np.array_equal(store.cached(spec, VIEW).values, result.values)


def test_an_entry_copied_over_another_in_redis_is_detected(redis_server, tmp_path) -> None:
    spec, other = ({"model": "pspin", "n": 10, "p": 3, "seed": s} for s in (203, 204))
    store = store_on(redis_server.url, tmp_path)
    client = redis.Redis.from_url(redis_server.url)
    store.get(spec, VIEW)
    theirs = store.get(other, VIEW)
    client.set("funnelscope:" + store.key(spec, VIEW),
               client.get("funnelscope:" + store.key(other, VIEW)))
    assert store.cached(spec, VIEW) is None
    served = store.get(spec, VIEW)
    assert np.array_equal(served.values, views.compute(spec, VIEW).values)
    assert not np.allclose(served.values, theirs.values)
