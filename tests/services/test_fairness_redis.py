"""Fair job slots per client across processes in Redis (app/fairness.py: RedisSlots), against a
real redis-server on loopback: the same checks as the one-machine files in
tests/unit/test_fairness.py."""

import time

from app import fairness
from tests.unit.test_fairness import (
    Job,
    check_arrival_order,
    check_killed_holder_frees_its_slot,
    check_one_running_per_client,
)


def test_redis_second_job_of_a_client_waits_another_client_runs(redis_server):
    url = redis_server.url
    check_one_running_per_client(fairness.RedisSlots(url, limit=1))


def test_redis_queue_runs_in_arrival_order(redis_server):
    url = redis_server.url
    check_arrival_order(fairness.RedisSlots(url, limit=1))


def test_redis_a_killed_holder_frees_its_slot_within_seconds(redis_server):
    """Its heartbeat key expires (HEARTBEAT_TTL, 3 s); the waiter drops the stale ticket."""
    url = redis_server.url
    check_killed_holder_frees_its_slot(f"fairness.RedisSlots({url!r}, 1)",
                                       fairness.HEARTBEAT_TTL + 1.5)


def test_redis_tickets_go_when_their_jobs_end(redis_server):
    url = redis_server.url
    slots = fairness.RedisSlots(url, limit=1)
    job = Job(slots, "student-z")
    assert job.entered.wait(5)
    queue = fairness.PREFIX + "queue:" + fairness.client_key("student-z")
    assert slots.client.zcard(queue) == 1
    job.finish()
    assert slots.client.zcard(queue) == 0
    assert slots.client.keys(fairness.PREFIX + "alive:*") == []


def test_redis_unreachable_runs_without_waiting():
    slots = fairness.RedisSlots("redis://127.0.0.1:1/0", limit=1)
    started = time.monotonic()
    with slots.slot("student-a", lambda ahead: None), slots.slot("student-a"):
        pass  # both "run": a lab whose Redis is down still computes
    assert time.monotonic() - started < 10


def test_redis_restart_keeps_the_queue(redis_server, tmp_path):
    """Redis restarted empty on the same port while a job runs and another of its client waits:
    the heartbeats put both tickets back in their places, so the waiter still waits for the
    first job rather than running beside it."""
    url = redis_server.url
    slots = fairness.RedisSlots(url, limit=1)
    first = Job(slots, "student-r")
    assert first.entered.wait(5)
    second = Job(slots, "student-r")
    time.sleep(0.5)
    assert second.waits == [1]
    redis_server.stop()
    redis_server.start()  # empty, on the same port (no persistence)
    try:
        time.sleep(3 * fairness.HEARTBEAT_EVERY + 2 * fairness.HEARTBEAT_EVERY)
        assert not second.entered.is_set(), "the waiter ran beside the running job"
        queue = fairness.PREFIX + "queue:" + fairness.client_key("student-r")
        assert slots.client.zcard(queue) == 2
        first.finish()
        assert second.entered.wait(5)
        second.finish()
    finally:
        if not redis_server.running():
            redis_server.start()
