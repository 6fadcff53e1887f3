"""The teaching-lab set-up with real services: Redis cache and broker, Celery, 2 gunicorn workers."""

import time

import numpy as np
from playwright.sync_api import expect

from app import devserver
from landscapes import views
from tests.services.conftest import GUNICORN, WORKER, http, start, wait_until

SPEC = {"model": "ising", "n": 12, "native_bias": 1.5, "seed": 4}
VIEW = {"view": "slice", "steps": 21, "span": 1.0}


def wait_for_a_ready_worker(lab) -> None:
    """The solo-pool worker answers pings only between jobs: wait for an earlier test's job."""
    def ready() -> bool:
        status, body, _ = http(lab["url"] + "/readyz")
        return status == 200 and body["checks"]["workers"] == "ok"

    wait_until(ready, "a ready worker before the test", lab["worker"], timeout=90)


def test_ready_with_redis_as_cache_and_broker(lab) -> None:
    wait_for_a_ready_worker(lab)  # an earlier test's job may still occupy it
    status, body, _ = http(lab["url"] + "/readyz")
    assert status == 200, body
    assert body["checks"]["broker"] == "ok" and body["checks"]["cache"] == "ok"
    assert http(lab["url"] + "/healthz")[1]["cache"] == "redis"


def test_workers_share_one_cached_result(lab) -> None:
    view = dict(VIEW, span=0.75)  # this test's own view: no other test computes it
    first = http(lab["url"] + "/api/view", {"model": SPEC, "view": view})
    assert first[0] == 200 and first[1]["cached"] is False
    pids = {first[2]["X-Funnelscope-Worker"]}
    for _ in range(12):  # requests spread over both workers; all are served from Redis
        status, body, headers = http(lab["url"] + "/api/view", {"model": SPEC, "view": view})
        assert status == 200 and body["cached"] is True and body["key"] == first[1]["key"]
        pids.add(headers["X-Funnelscope-Worker"])
    assert len(pids) == 2, f"one worker served everything: {pids}"
    expected = views.compute(SPEC, view).values
    assert np.allclose(np.array(first[1]["values"], dtype=float), expected, atol=1e-6)


def test_the_cache_outlives_a_web_restart(lab) -> None:
    view = dict(VIEW, span=0.5)
    assert http(lab["url"] + "/api/view", {"model": SPEC, "view": view})[1]["cached"] is False
    lab["web"].stop()
    web = start(GUNICORN, lab["root"] / "web2.log", lab["env"])
    lab["web"] = web
    wait_until(lambda: http(lab["url"] + "/healthz", timeout=2)[0] == 200, "gunicorn restart", web)
    status, body, _ = http(lab["url"] + "/api/view", {"model": SPEC, "view": view})
    assert status == 200 and body["cached"] is True


def test_panel_jobs_run_on_the_celery_worker_with_progress(lab, page, browser_errors) -> None:
    wait_for_a_ready_worker(lab)
    page.goto(lab["url"])
    page.wait_for_function(devserver.SURFACES_DRAWN, timeout=180_000)
    done = lab["worker"].log.read_text().count("succeeded")
    assert done >= 2  # both panels' first views ran on the worker
    page.locator("#left-steps").get_by_label("21", exact=True).check()
    page.locator("#left-model").get_by_label("Network").check()
    page.locator("#left-net-source").click()
    page.get_by_text("example: digits-cnn", exact=True).click()
    page.wait_for_function(  # progress reported from the worker through Redis
        "() => { const b = document.querySelector('#left-progress');"
        " return Number(b.max) === 441 && Number(b.value) > 0; }", timeout=180_000)
    page.wait_for_function(
        "() => (document.querySelector('#left-surface .js-plotly-plot').layout.title?.text || '')"
        ".includes('digits-cnn')", timeout=180_000)
    wait_until(lambda: lab["worker"].log.read_text().count("succeeded") > done,
               "the CNN job on the worker", lab["worker"], timeout=30)
    assert browser_errors == []


def test_killing_the_worker_mid_job_is_reported(lab, page, browser_errors) -> None:
    wait_for_a_ready_worker(lab)
    assert http(lab["url"] + "/api/view", {"model": SPEC, "view": VIEW})[0] == 200  # cached now
    try:
        killed_mid_job(lab, page)
    finally:  # a new worker for the tests after this one
        lab["worker"].stop()
        lab["worker"] = start(WORKER, lab["root"] / f"worker-{time.time_ns()}.log", lab["env"])
        wait_until(lambda: "ready" in lab["worker"].tail(), "celery worker restart", lab["worker"])
    assert browser_errors == []


def killed_mid_job(lab, page) -> None:
    page.goto(lab["url"])
    page.wait_for_function(devserver.SURFACES_DRAWN, timeout=180_000)
    page.locator("#right-model").get_by_label("Network").check()
    page.locator("#right-net-source").click()
    page.get_by_text("example: digits-cnn", exact=True).click()  # 51 x 51: a long job
    page.wait_for_function(
        "() => { const b = document.querySelector('#right-progress');"
        " return Number(b.max) === 2601 && Number(b.value) > 0; }", timeout=180_000)
    lab["worker"].process.kill()  # SIGKILL mid-job: no goodbye to the broker
    lab["worker"].process.wait(timeout=10)
    banner = page.locator("#status-banner")
    expect(banner).to_contain_text("No background worker is running", timeout=90_000)
    status, body, _ = http(lab["url"] + "/readyz")
    assert status == 503 and body["failed"] == ["workers"]
    assert "no background worker answers" in body["checks"]["workers"]
    # the app keeps serving: cached views still load
    status, body, _ = http(lab["url"] + "/api/view", {"model": SPEC, "view": VIEW})
    assert status == 200 and body["cached"] is True


def test_with_redis_stopped_the_app_reports_it_and_still_answers(lab) -> None:
    lab["redis"].stop()
    try:
        answers_without_redis(lab)
    finally:  # Redis again for the tests after this one (same port, empty)
        lab["redis"].start()


def answers_without_redis(lab) -> None:
    time.sleep(0.5)
    status, body, _ = http(lab["url"] + "/readyz", timeout=30)
    assert status == 503 and "broker" in body["failed"]
    assert "does not answer" in body["checks"]["broker"]
    assert http(lab["url"] + "/healthz")[0] == 200
    # a new view is computed in the worker process instead of failing; bad input stays a 400
    fresh = {"model": "pspin", "n": 10, "p": 3, "seed": 9}
    status, body, _ = http(lab["url"] + "/api/view", {"model": fresh, "view": VIEW}, timeout=60)
    assert status == 200 and body["cached"] is False
    assert np.allclose(np.array(body["values"], dtype=float), views.compute(fresh, VIEW).values,
                       atol=1e-6)
    status, body, _ = http(lab["url"] + "/api/view", {"model": {"model": "pspin", "p": 7},
                                                      "view": VIEW})
    assert status == 400 and "p must be one of" in body["error"]
