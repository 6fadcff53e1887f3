"""Fair job slots per client (app/fairness.py), one machine: ticket files held with flock.

The Redis implementation passes the same checks in tests/services/test_fairness_redis.py.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app import fairness
from app.callbacks.panels import job_slot, queued_label
from app.config import Config
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]
SPIN = {"model": "ising", "n": 8, "native_bias": 1.0, "seed": 5}
SMALL = {"view": "slice", "steps": 5}


class Job:
    """A thread that takes ``client``'s slot, records what it saw, and holds it until told."""

    def __init__(self, slots: fairness.Slots, client: str) -> None:
        self.waits: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.entered_at = 0.0
        self.thread = threading.Thread(target=self._run, args=(slots, client), daemon=True)
        self.thread.start()

    def _run(self, slots: fairness.Slots, client: str) -> None:
        with slots.slot(client, self.waits.append):
            self.entered_at = time.monotonic()
            self.entered.set()
            self.release.wait(30)

    def finish(self) -> None:
        self.release.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def check_one_running_per_client(slots: fairness.Slots) -> None:
    """Limit 1: a second job of a client waits (1 ahead) until the first ends; another client's
    job runs at once."""
    first = Job(slots, "student-a")
    assert first.entered.wait(5)
    second = Job(slots, "student-a")
    time.sleep(0.5)
    other = Job(slots, "student-b")
    assert other.entered.wait(2), "another client's job waited for student-a's queue"
    assert not second.entered.is_set()
    assert second.waits == [1]
    first.finish()
    assert second.entered.wait(5)
    second.finish()
    other.finish()
    assert first.waits == [] and other.waits == []


def check_arrival_order(slots: fairness.Slots) -> None:
    """Limit 1: three queued jobs of one client run in the order they arrived; the last saw 2
    then 1 ahead of it."""
    jobs = [Job(slots, "student-c")]
    assert jobs[0].entered.wait(5)
    for _ in range(3):
        jobs.append(Job(slots, "student-c"))
        time.sleep(0.3)  # distinct arrivals
    assert [j.entered.is_set() for j in jobs] == [True, False, False, False]
    for k in range(3):
        jobs[k].finish()
        assert jobs[k + 1].entered.wait(5)
        time.sleep(0.3)  # the waiters look again
        assert not any(j.entered.is_set() for j in jobs[k + 2:])
    jobs[-1].finish()
    assert jobs[-1].waits == [3, 2, 1]


HOLDER = """
import importlib.util, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("fairness", "app/fairness.py")  # not all of app
fairness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fairness)
slots = {make}
with slots.slot("student-k"):
    print("held", flush=True)
    time.sleep(120)
"""


def check_killed_holder_frees_its_slot(make: str, within: float) -> None:
    """A holder killed with SIGKILL: the client's next job runs within ``within`` seconds."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(make=make)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        slots = eval(make, {"fairness": fairness, "Path": Path})  # the same slots, here
        waiter = Job(slots, "student-k")
        time.sleep(0.5)
        assert not waiter.entered.is_set() and waiter.waits == [1]
        killed = time.monotonic()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(5)
        assert waiter.entered.wait(within + 5)
        assert waiter.entered_at - killed < within
        waiter.finish()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_files_second_job_of_a_client_waits_another_client_runs(tmp_path):
    check_one_running_per_client(fairness.FileSlots(tmp_path, limit=1))


def test_files_queue_runs_in_arrival_order(tmp_path):
    check_arrival_order(fairness.FileSlots(tmp_path, limit=1))


def test_files_limit_two_runs_two_at_once(tmp_path):
    slots = fairness.FileSlots(tmp_path, limit=2)
    jobs = [Job(slots, "student-a"), Job(slots, "student-a")]
    assert all(j.entered.wait(5) for j in jobs)
    third = Job(slots, "student-a")
    time.sleep(0.4)
    assert not third.entered.is_set() and third.waits == [1]
    jobs[1].finish()
    assert third.entered.wait(5)
    for job in (jobs[0], third):
        job.finish()


def test_files_a_killed_holder_frees_its_slot_within_seconds(tmp_path):
    check_killed_holder_frees_its_slot(f"fairness.FileSlots(Path({str(tmp_path)!r}), 1)", 2.0)


def test_a_waiter_that_gives_up_removes_its_ticket(tmp_path):
    slots = fairness.FileSlots(tmp_path, limit=1)
    first = Job(slots, "student-a")
    assert first.entered.wait(5)

    def give_up(ahead: int) -> None:
        raise KeyboardInterrupt  # e.g. a job cancelled while it waits

    with pytest.raises(KeyboardInterrupt), slots.slot("student-a", give_up):
        pass
    with pytest.raises(fairness.Busy) as busy, slots.slot("student-a", max_waiting=0):
        pass
    assert busy.value.ahead == 1
    tickets = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(tickets) == 1  # the holder's own
    first.finish()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_no_client_id_runs_without_a_slot(tmp_path):
    slots = fairness.FileSlots(tmp_path, limit=1)
    first = Job(slots, "student-a")
    assert first.entered.wait(5)
    for client in (None, ""):
        with slots.slot(client, lambda ahead: pytest.fail("waited")):
            pass
    first.finish()


def test_api_client_trusts_forwarded_for_only_from_a_trusted_proxy():
    assert fairness.api_client("10.0.0.7", None, "127.0.0.1") == "10.0.0.7"
    # a student's own header is not an identity: anyone could send a new one each request
    assert fairness.api_client("10.0.0.7", "1.2.3.4", "127.0.0.1") == "10.0.0.7"
    # from the proxy: the last hop it appended (earlier entries come from the client)
    assert fairness.api_client("127.0.0.1", "6.6.6.6, 10.0.0.8", "127.0.0.1") == "10.0.0.8"
    assert fairness.api_client("172.18.0.1", "10.0.0.9", "*") == "10.0.0.9"
    assert fairness.api_client("127.0.0.1", None, "127.0.0.1") == "127.0.0.1"


def test_setting_and_choice_of_implementation(tmp_path):
    assert Config.from_env({}).jobs_per_client == 2
    assert Config.from_env({"FUNNELSCOPE_JOBS_PER_CLIENT": "5"}).jobs_per_client == 5
    assert isinstance(fairness.slots(0, None, tmp_path), fairness.Unlimited)
    files = fairness.slots(3, None, tmp_path)
    assert isinstance(files, fairness.FileSlots) and files.limit == 3
    assert files.directory == tmp_path / "fair"
    assert isinstance(fairness.slots(1, "redis://127.0.0.1:1/0", tmp_path), fairness.RedisSlots)
    assert queued_label(2) == "queued: 2 ahead"


def test_api_computes_in_the_callers_slot(tmp_path):
    """POST /api/view with limit 1: a caller with a view computing gets a 429 at once (its
    request thread is not a queue); another address (through the trusted proxy) computes at
    once; a cached view needs no slot; once the first is done, the caller computes again."""
    app = create_app(Config(cache_dir=tmp_path / "cache", jobs_per_client=1))
    client = app.server.test_client()
    slots = fairness.FileSlots(tmp_path / "cache" / "fair", limit=1)
    running = Job(slots, "127.0.0.1")
    try:
        assert running.entered.wait(5)
        busy = client.post("/api/view", json={"model": SPIN, "view": SMALL})
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        assert "1 view(s) computing" in busy.get_json()["error"]
        other = client.post("/api/view", json={"model": SPIN, "view": SMALL},
                            headers={"X-Forwarded-For": "10.0.0.2"})
        assert other.status_code == 200 and other.get_json()["cached"] is False
        again = client.post("/api/view", json={"model": SPIN, "view": SMALL})  # cached: no slot
        assert again.status_code == 200 and again.get_json()["cached"] is True
    finally:
        running.finish()
    done = client.post("/api/view", json={"model": SPIN, "view": {"view": "slice", "steps": 7}})
    assert done.status_code == 200 and done.get_json()["cached"] is False


def test_the_page_keeps_a_session_client_id_and_jobs_receive_it(tmp_path):
    app = create_app(Config(cache_dir=tmp_path / "cache"))
    layout = app.server.test_client().get("/_dash-layout").get_json()
    text = str(layout)
    assert "'id': 'client-id'" in text and "'storage_type': 'session'" in text
    callbacks = app.server.test_client().get("/_dash-dependencies").get_json()
    fills = [c for c in callbacks if c["output"] == "client-id.data"]
    assert len(fills) == 1 and fills[0]["clientside_function"]["function_name"] == "clientId"
    jobs = [c for c in callbacks if c.get("background") and "left-drawn.data" in c["output"]]
    assert len(jobs) == 1 and {"id": "client-id", "property": "data"} in jobs[0]["state"]
    assert "'id': 'left-progress-label'" in text  # where "queued: N ahead" shows
    script = (ROOT / "app" / "assets" / "funnelscope.js").read_text()
    assert "clientId: function" in script and "crypto.getRandomValues" in script


def test_a_queued_panel_job_shows_its_place_then_clears_it(tmp_path):
    """The panel job's progress row: "queued: 1 ahead" while the session's other job runs,
    empty once this one runs; another session's job is never queued."""
    slots = fairness.FileSlots(tmp_path, limit=1)
    first = Job(slots, "tab-1")
    assert first.entered.wait(5)
    shown: list[tuple[str, str, str]] = []
    running = threading.Event()

    def job() -> None:
        with job_slot(slots, "tab-1", shown.append):
            running.set()

    waiting = threading.Thread(target=job, daemon=True)
    waiting.start()
    time.sleep(0.4)
    assert shown == [("0", "1", "queued: 1 ahead")] and not running.is_set()
    first.finish()
    waiting.join(5)
    assert running.is_set() and shown[-1] == ("0", "1", "")
    other: list[tuple[str, str, str]] = []
    second = Job(slots, "tab-1")
    assert second.entered.wait(5)
    with job_slot(slots, "tab-2", other.append):
        assert other == [("0", "1", "")]
    second.finish()


def test_an_unwritable_ticket_directory_runs_the_job_unthrottled(tmp_path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the ticket folder should be")
    slots = fairness.FileSlots(blocker / "fair", limit=1)
    ran = []
    with slots.slot("student"):
        ran.append(True)
    assert ran == [True] and "running without one" in caplog.text


# --------------------------------------------------------------------------- serving first


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _in_thread(work):
    out: list = []
    thread = threading.Thread(target=lambda: out.append(work()))
    thread.start()
    thread.join(10)
    return out[0]


def test_a_computing_thread_runs_at_the_compute_nice_value_and_others_keep_theirs():
    base = _nice()
    assert base < 10, "the tests run at nice 10 or above: nothing to lower"

    def lowered_twice() -> tuple[int, int, int]:
        fairness.lower_priority(10)
        first = _nice()
        fairness.lower_priority(5)  # never back up
        return first, _nice(), os.getpriority(os.PRIO_PROCESS, os.getpid())

    assert _in_thread(lowered_twice) == (10, 10, base)  # the thread's, not the process's
    assert _nice() == base
    assert _in_thread(lambda: (fairness.lower_priority(0), _nice())[1]) == base  # 0: unchanged
    pool = fairness.compute_pool(2, 12)
    try:
        assert {pool.submit(_nice).result() for _ in range(4)} == {12}
    finally:
        pool.shutdown()
    assert Config.from_env({}).compute_nice == 10
    assert Config.from_env({"FUNNELSCOPE_COMPUTE_NICE": "0"}).compute_nice == 0


def test_api_views_are_computed_at_the_compute_nice_value_and_cached(tmp_path, monkeypatch):
    """The request thread answers at its own priority; the view is computed by a pool thread at
    FUNNELSCOPE_COMPUTE_NICE, inside the request's app context (the result is cached)."""
    from app.data import ViewStore

    seen: list[tuple[int, str]] = []
    original = ViewStore.get

    def recording(self, *args, **kwargs):
        seen.append((_nice(), threading.current_thread().name))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ViewStore, "get", recording)
    app = create_app(Config(cache_dir=tmp_path / "cache", compute_nice=13))
    client = app.server.test_client()
    first = client.post("/api/view", json={"model": SPIN, "view": SMALL})
    assert first.status_code == 200 and first.get_json()["cached"] is False
    assert len(seen) == 1 and seen[0][0] == 13 and seen[0][1].startswith("compute")
    again = client.post("/api/view", json={"model": SPIN, "view": SMALL})
    assert again.status_code == 200 and again.get_json()["cached"] is True
    assert _nice() < 13
