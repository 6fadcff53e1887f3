"""One view's chunks on several Celery workers (app/spread.py), with a real Redis and two real
solo-pool workers: the same bits as one process, a worker killed mid-view, a cancel that stops
every chunk, and the bookkeeping of lost chunks."""

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import numpy as np
import psutil
import pytest
import redis
from playwright.sync_api import expect

from app import devserver, spread
from app.config import Config
from app.main import create_app
from landscapes import chunks, views
from landscapes.errors import Cancelled, LandscapeError
from tests.services.conftest import GUNICORN, WORKER, Service, http, start, wait_until

CNN = {"model": "network", "example": "digits-cnn"}
SLICE = {"view": "slice", "steps": 81, "span": 1.0}


@pytest.fixture(scope="module")
def workers(redis_server, tmp_path_factory) -> Iterator[dict]:
    """Two solo-pool Celery workers on one Redis, and this process's own store and Celery app
    (the computing process of a view, as a web worker answering /api/view is)."""
    root = tmp_path_factory.mktemp("spread")
    env = {"REDIS_URL": redis_server.url, "FUNNELSCOPE_CACHE_DIR": str(root / "cache"),
           "HOME": str(root), "FUNNELSCOPE_COMPUTE_NICE": "0"}
    config = Config(cache_dir=root / "cache", redis_url=redis_server.url, compute_nice=0)
    app = create_app(config)
    lab = {"store": app.server.extensions["funnelscope_store"], "env": env, "root": root,
           "client": redis.Redis.from_url(redis_server.url),
           "workers": [_worker(env, root, name) for name in ("one", "two")]}
    try:
        for worker in lab["workers"]:
            wait_until(lambda w=worker: _ready(w), "celery worker", worker)
        yield lab
    finally:
        for worker in lab["workers"]:
            worker.stop()


def _worker(env: dict, root, name: str) -> Service:
    return start([*WORKER, "-n", f"{name}-{time.time_ns()}@%h"],
                 root / f"worker-{name}-{time.time_ns()}.log", env)


def _ready(worker: Service) -> bool:
    """The worker has said it is ready (anywhere in its log: queued helper tasks that come
    late, each a line or two, may follow at once)."""
    return worker.log.exists() and "ready" in worker.log.read_text(errors="replace")


def _nothing_left(client) -> None:
    """No view's keys are left but a late helper's progress count, which expires."""
    left = [k.decode() for k in client.scan_iter(spread.PREFIX + "*")]
    assert all(k.endswith(":done") and 0 < client.ttl(k) <= spread.KEYS_SECONDS
               for k in left), left


def _leases(client) -> dict[str, str]:
    """Chunk leases held now: key -> holder (``parent``, or ``host:pid:id`` for a helper)."""
    return {k.decode(): (client.get(k) or b"").decode()
            for k in client.scan_iter(spread.PREFIX + "*:lease:*")}


def _helped(worker: Service) -> int:
    return worker.log.read_text().count("'helped'")


def test_a_view_on_two_workers_is_the_one_process_view_and_survives_a_killed_worker(
        workers, caplog):
    """The computing process and both workers take chunks; one worker is killed (kill -9)
    while it holds a chunk: that chunk is computed again, once, and the view is the one
    process's bit for bit."""
    store, client = workers["store"], workers["client"]
    store.get(CNN, dict(SLICE, steps=13))  # trains the example once, into the shared store
    victim = workers["workers"][0]
    seen: list[tuple[int, int]] = []
    killed: list[dict] = []

    def kill_a_helper() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for key, holder in _leases(client).items():
                if holder.split(":")[1:2] == [str(victim.process.pid)]:
                    victim.process.kill()
                    killed.append({"key": key, "at": len(seen)})
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_helper)
    killer.start()
    with caplog.at_level(logging.INFO, logger="app.spread"):
        result = store.get(CNN, SLICE, lambda done, total: seen.append((done, total)))
    killer.join()
    workers["workers"][0] = _worker(workers["env"], workers["root"], "one-again")
    assert killed, "the first worker never held a chunk"
    lost = [r for r in caplog.records if "a worker was lost computing chunk" in r.getMessage()]
    assert len(lost) == 1
    sizes = [r.args for r in caplog.records if r.getMessage().startswith("chunks of a view")]
    # 103 blocks of 64 points: 6 of the 8 workers' share (16 blocks each), 4 chunks each
    assert len(sizes) == 1 and sizes[0][:2] == (chunks.CHUNKS_PER_JOB * 6, 8)
    assert sizes[0][2] < 16 * 2**10  # 5 blocks x 64 points x 4 metrics x 8 bytes, in .npz
    survivor = workers["workers"][1]
    wait_until(lambda: _helped(survivor) >= 1, "the second worker's helper", survivor)
    one = views.compute(CNN, SLICE, store=store.uploads)
    np.testing.assert_array_equal(result.values, one.values)
    for name in one.extras:
        np.testing.assert_array_equal(result.extras[name], one.extras[name])
    assert result.meta == one.meta
    # progress counted blocks finished anywhere, up to the whole grid
    assert seen[-1] == (81 * 81, 81 * 81) and len({d for d, _ in seen}) > 20
    _nothing_left(client)
    wait_until(lambda: _ready(workers["workers"][0]), "celery worker restart",
               workers["workers"][0])


def _busy(pids: list[int], seconds: float) -> list[float]:
    """CPU seconds each process used over the next ``seconds``."""
    procs = [psutil.Process(p) for p in pids]
    before = [sum(p.cpu_times()[:2]) for p in procs]
    time.sleep(seconds)
    return [sum(p.cpu_times()[:2]) - b for p, b in zip(procs, before, strict=True)]


def test_a_cancel_stops_every_chunk_on_every_worker(workers):
    store, client = workers["store"], workers["client"]
    store.get(CNN, dict(SLICE, steps=13))
    pids = [w.process.pid for w in workers["workers"]]
    for worker in workers["workers"]:
        wait_until(lambda w=worker: _ready(w), "celery worker", worker)

    def helpers_hold_chunks() -> bool:
        return sum(h != "parent" for h in _leases(client).values()) >= 2

    view = dict(SLICE, steps=101, span=0.9)  # not computed by another test
    with pytest.raises(Cancelled, match="nobody waits for it any more"):
        store.get(CNN, view, cancelled=helpers_hold_chunks)
    time.sleep(1.0)  # a block is ~0.1 s: every helper has seen the stop mark
    assert all(used < 0.2 for used in _busy(pids, 1.5)), "a worker kept computing"
    assert not _leases(client)
    assert store.cached(CNN, view) is None


@pytest.fixture(scope="module")
def web(workers) -> Iterator[str]:
    """gunicorn on the workers' Redis and cache: the dashboard whose panel jobs they run."""
    port = devserver.free_port()
    env = {**workers["env"], "FUNNELSCOPE_BIND": f"127.0.0.1:{port}", "FUNNELSCOPE_WORKERS": "1"}
    server = start(GUNICORN, workers["root"] / "web.log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http(url + "/healthz", timeout=2)[0] == 200, "gunicorn", server)
        yield url
    finally:
        server.stop()


def test_cancel_in_the_page_stops_the_view_on_every_worker(workers, web, page, browser_errors):
    """The panel's Cancel reaches the job running on one worker (the solo pool cannot terminate
    it: app/jobs.py) and, through it, the helper computing chunks on the other."""
    client = workers["client"]
    workers["store"].get(CNN, dict(SLICE, steps=13))  # the example trained
    for worker in workers["workers"]:
        wait_until(lambda w=worker: _ready(w), "celery worker", worker)
    page.goto(web)
    page.wait_for_function(devserver.SURFACES_DRAWN, timeout=180_000)
    page.locator("#left-seed").fill("23")  # directions no other test draws
    page.locator("#left-model").get_by_label("Network").check()
    page.locator("#left-net-source").click()
    page.get_by_text("example: digits-cnn", exact=True).click()  # 51 x 51, on both workers

    def both_compute() -> bool:
        holders = list(_leases(client).values())
        return "parent" in holders and any(h != "parent" for h in holders)

    deadline = time.monotonic() + 180
    while not both_compute():
        assert time.monotonic() < deadline, "the view never ran on both workers"
        time.sleep(0.02)
    page.locator("#left-cancel").click()
    expect(page.locator("#left-progress-row")).to_be_hidden(timeout=30_000)
    time.sleep(1.0)
    pids = [w.process.pid for w in workers["workers"]]
    assert all(used < 0.2 for used in _busy(pids, 1.5)), "a worker kept computing"
    assert not _leases(client)
    assert browser_errors == []


class _Stalled:
    """A helper that claims chunks and dies at once (never renews its lease, never answers)."""

    def __init__(self, client, claims: int) -> None:
        self.client, self.claims, self.threads = client, claims, []

    def __call__(self, job: str, call: int, model_spec: dict, view_spec: dict) -> None:
        def claim() -> None:
            helper = spread.RedisHelper(self.client, job, call)
            for _ in range(self.claims):
                while helper.claim(keys=[helper.keys.todo, helper.keys.lease],
                                   args=["dead:0:x", 300]) is None:
                    if helper.stopped():
                        return
                    time.sleep(0.01)
        self.threads.append(threading.Thread(target=claim, daemon=True))
        self.threads[-1].start()


def _blocks(start: int, stop: int) -> np.ndarray:
    time.sleep(0.02)
    return np.arange(start, stop, dtype=np.float64) ** 2


def test_a_chunk_lost_once_is_computed_again_and_lost_twice_fails_the_view(redis_server,
                                                                          monkeypatch):
    client = redis.Redis.from_url(redis_server.url)
    monkeypatch.setattr(chunks, "MIN_BLOCKS", 1)
    once = _Stalled(client, 1)
    with chunks.spread(spread.RedisSpread(client, once, 2, ({}, {}))):
        values = chunks.map_blocks(_blocks, 400, 10)
    np.testing.assert_array_equal(values, np.arange(400.0) ** 2)
    assert len(once.threads) == 1
    twice = _Stalled(client, 1000)  # takes every chunk it can, the ones put back too
    with chunks.spread(spread.RedisSpread(client, twice, 2, ({}, {}))), \
            pytest.raises(LandscapeError, match=(
                "^two worker processes were lost computing the same part of this view "
                r"\(killed, or out of memory\); the view was not finished$")):
        chunks.map_blocks(_blocks, 400, 10)
    assert not list(client.scan_iter(spread.PREFIX + "*:todo"))


def test_a_helper_that_comes_late_does_nothing(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    computed = []
    done = spread.help_with_view(client, "no-such-job", 0, {}, {},
                                 lambda *a: computed.append(a))
    assert done == "nothing left to help with" and computed == []


def test_a_helper_s_crash_has_its_chunk_computed_again(redis_server, monkeypatch, caplog):
    """Anything but the view's own error (Redis timing out, memory, a bug) drops the helper's
    lease: its chunk is computed again, as a lost one is."""
    client = redis.Redis.from_url(redis_server.url)
    monkeypatch.setattr(chunks, "MIN_BLOCKS", 1)

    def crashes(start: int, stop: int) -> np.ndarray:
        if threading.current_thread() is not threading.main_thread():
            raise MemoryError("no memory in the helper")
        return _blocks(start, stop)

    def send(job: str, call: int, model_spec: dict, view_spec: dict) -> None:
        def compute(*_: object) -> None:
            chunks.map_blocks(crashes, 400, 10)

        def helper() -> None:
            with contextlib.suppress(MemoryError):
                spread.help_with_view(client, job, call, {}, {}, compute)
        threading.Thread(target=helper, daemon=True).start()

    with caplog.at_level(logging.WARNING, logger="app.spread"), \
            chunks.spread(spread.RedisSpread(client, send, 2, ({}, {}))):
        values = chunks.map_blocks(crashes, 400, 10)
    np.testing.assert_array_equal(values, np.arange(400.0) ** 2)
    assert sum("a worker was lost" in r.getMessage() for r in caplog.records) == 1
    _nothing_left(client)


def test_a_view_s_own_error_in_a_helper_s_chunk_is_the_view_s_error(redis_server, monkeypatch):
    client = redis.Redis.from_url(redis_server.url)
    monkeypatch.setattr(chunks, "MIN_BLOCKS", 1)

    def fails_late(start: int, stop: int) -> np.ndarray:
        if start >= 300 and threading.current_thread() is not threading.main_thread():
            raise LandscapeError("item 300 is out of range")
        return _blocks(start, stop)

    def send(job: str, call: int, model_spec: dict, view_spec: dict) -> None:
        def compute(*_: object) -> None:
            chunks.map_blocks(fails_late, 400, 10)
        threading.Thread(target=spread.help_with_view,
                         args=(client, job, call, {}, {}, compute), daemon=True).start()

    def slow_here(done: int, total: int) -> None:  # this process leaves the late chunks to it
        if threading.current_thread() is threading.main_thread():
            time.sleep(0.05)

    with chunks.spread(spread.RedisSpread(client, send, 2, ({}, {}))), \
            pytest.raises(LandscapeError, match="^item 300 is out of range$"):
        chunks.map_blocks(fails_late, 400, 10, slow_here)
