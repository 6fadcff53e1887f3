"""A closed page's panel jobs stop: the page says goodbye (``POST /api/goodbye`` from
``navigator.sendBeacon`` on pagehide), and every computation its session started before stops at
its next progress report; nothing is cached for it."""

import time
from pathlib import Path

import pytest

from app import ids
from app.callbacks.panels import panel_output
from landscapes import budget
from landscapes.errors import Cancelled
from tests.unit.panels import panel_controls

ROOT = Path(__file__).resolve().parents[2]
CLIENT = "0f" * 16
MODEL = {"model": "pspin", "n": 16, "p": 3, "seed": 7}
VIEW = {"view": "slice", "steps": 15}


@pytest.fixture
def store(app):
    return app.server.extensions["funnelscope_store"]


def test_a_goodbye_marks_the_session_s_earlier_jobs_only(client, store):
    before = time.time_ns()
    answer = client.post("/api/goodbye", json={"client": CLIENT})
    assert answer.status_code == 204 and answer.data == b""
    after = time.time_ns()
    assert store.page_closed(CLIENT, before)
    assert not store.page_closed(CLIENT, after)  # a job the reloaded page starts runs
    assert not store.page_closed("ab" * 16, before)  # another session is untouched
    assert not store.page_closed(None, before)


@pytest.mark.parametrize("body, kind", [
    (b"not json", "application/json"),
    (b'["0f0f0f0f"]', "application/json"),
    (b'{"client": 12345678}', "application/json"),
    (b'{"client": "not-hex!"}', "application/json"),
    (b'{"client": "abc"}', "application/json"),
    (('{"client": "' + "a" * 300 + '"}').encode(), "application/json"),
    (b"", "text/plain"),
])
def test_a_bad_goodbye_is_a_one_line_400(client, body, kind):
    answer = client.post("/api/goodbye", data=body, content_type=kind)
    assert answer.status_code == 400
    message = answer.get_json()["error"]
    assert "session id" in message and "\n" not in message


def test_other_methods_are_405(client):
    answer = client.get("/api/goodbye")
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"


def test_a_computation_of_a_closed_page_stops_and_nothing_is_cached(store, monkeypatch):
    monkeypatch.setattr(budget, "CANCEL_CHECK_SECONDS", 0.0)  # ask at every progress report
    started = time.time_ns()
    store.say_goodbye(CLIENT)
    with store.cancelled_when(lambda: store.page_closed(CLIENT, started)):
        with pytest.raises(Cancelled, match="nobody waits for it"):
            store.get(MODEL, VIEW)
    assert store.cached(MODEL, VIEW) is None
    # the same request outside the closed page's job computes
    assert store.get(MODEL, VIEW).values.shape == (15, 15)


def test_the_panel_of_a_closed_page_ends_with_a_message_not_a_traceback(store, monkeypatch):
    monkeypatch.setattr(budget, "CANCEL_CHECK_SECONDS", 0.0)
    controls = panel_controls(**{ids.MODEL: "pspin", ids.SEED: 8, ids.STEPS: 15})
    started = time.time_ns()
    store.say_goodbye(CLIENT)
    with store.cancelled_when(lambda: store.page_closed(CLIENT, started)):
        out = panel_output(store, controls, None)
    assert any("cancelled" in m for m in out.messages), out.messages


def test_the_page_script_says_goodbye_where_the_server_listens():
    script = (ROOT / "app" / "assets" / "funnelscope.js").read_text()
    assert 'addEventListener("pagehide"' in script and "event.persisted" in script
    assert 'navigator.sendBeacon("/api/goodbye"' in script
