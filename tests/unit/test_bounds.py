"""Every request is bounded and every bad input is a one-line 4xx: the declared parameter
ranges (landscapes/viewspec.py), the compute budget (landscapes/budget.py), the API's strict
JSON, concurrency limit and JSON 404/405 (app/api.py), and the tables of docs/http-api.md."""

import mmap
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app import create_app
from app.api import client_gone
from app.config import Config
from app.data import ViewStore
from landscapes import budget, registry, views
from landscapes.errors import BudgetExceeded, Cancelled, LandscapeError
from landscapes.io.bounded import load_json
from landscapes.networks.views import SPEC_CONSTRAINTS
from landscapes.spin.models import CONSTRAINTS, FAMILIES
from landscapes.viewspec import MAX_DEPTH, Flag, Interval, Options, Text

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"model": "ising", "n": 10, "native_bias": 2.0, "seed": 1}
SLICE = {"view": "slice", "steps": 9, "span": 1.0}
MODELS = {"network": {"model": "network", "example": "moons-mlp"}}
BEZIER = {"view": "path", "kind": "bezier", "bend_steps": 1_000_000_000}


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


# --------------------------------------------------------------------------- constraints


@pytest.mark.parametrize(("constraint", "value", "expected"), [
    (Interval(int, 2, 401), 51, 51),
    (Interval(int, 2, 401), 51.0, 51),
    (Interval(int, 2, 401), "51", 51),
    (Interval(int, 2, 401), np.int64(7), 7),
    (Interval(float, 0, 10, low_open=True), 2, 2.0),
    (Interval(float, 0, 10, low_open=True), "1e-3", 0.001),
    (Options((2, 3, 4)), 3.0, 3),
    (Options((2, 3, 4)), "3", 3),
    (Options(("linear", "bezier")), "bezier", "bezier"),
    (Flag(), 1, True),
    (Flag(), False, False),
    (Text("a name"), "native", "native"),
])
def test_constraints_accept_and_convert_what_is_in_range(constraint, value, expected):
    got = constraint.check("v", "x", value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("constraint", "value", "message"), [
    (Interval(int, 2, 401), 1_000_000_000,
     "slice: x must be a whole number in [2, 401]; got 1000000000"),
    (Interval(int, 2, 401), 2.5, "slice: x must be a whole number in [2, 401]; got 2.5"),
    (Interval(int, 2, 401), float("inf"), "slice: x must be a whole number in [2, 401]; got inf"),
    (Interval(int, 2, 401), float("nan"), "slice: x must be a whole number in [2, 401]; got nan"),
    (Interval(int, 2, 401), True, "slice: x must be a whole number in [2, 401]; got True"),
    (Interval(int, 2, 401), [51], "slice: x must be a whole number in [2, 401]; got [51]"),
    (Interval(int, 2, 401), 10**400, "slice: x must be a whole number in [2, 401]; got "
                                      + repr(10**400)[:57] + "..."),
    (Interval(int, 0, 2**32 - 1), -1, "slice: x must be a whole number in [0, 4,294,967,295]; "
                                      "got -1"),
    (Interval(float, 0, 10, low_open=True), 0, "slice: x must be a number in (0, 10]; got 0"),
    (Interval(float, 0, 10, low_open=True), "1e400",
     "slice: x must be a number in (0, 10]; got '1e400'"),
    (Options((1, 2, 3)), 4, "slice: x must be one of 1, 2 or 3; got 4"),
    (Options((1, 2, 3)), True, "slice: x must be one of 1, 2 or 3; got True"),
    (Options(("a", "b")), {"a": 1}, "slice: x must be one of a or b; got {'a': 1}"),
    (Flag(), "false", "slice: x must be true or false; got 'false'"),
    (Text("a point name"), 5, "slice: x must be a point name (a string of at most 200 "
                              "characters); got 5"),
    (Text("a point name"), "é" * 201, "slice: x must be a point name (a string of at most 200 "
                                      "characters); got '" + "é" * 56 + "..."),
])
def test_a_refused_value_is_one_line_naming_parameter_range_and_value(constraint, value, message):
    with pytest.raises(LandscapeError, match=exactly(message)):
        constraint.check("slice", "x", value)
    assert "\n" not in message


def _records() -> list[tuple[registry.ViewKind, list[str]]]:
    records: dict[int, tuple[registry.ViewKind, list[str]]] = {}
    for family in registry.families():
        for view in registry.views_of(family):
            record = registry.view_kind(family, view)
            records.setdefault(id(record), (record, []))[1].append(family)
    return list(records.values())


def test_every_view_parameter_is_declared_with_a_finite_range():
    for record, families in _records():
        assert set(record.constraints) == set(record.defaults) - {"view"}, record.view
        for name, constraint in record.constraints.items():
            if isinstance(record.defaults[name], int | float) and not isinstance(
                    record.defaults[name], bool):
                assert isinstance(constraint, Interval | Options), (record.view, name)
            if isinstance(constraint, Interval):
                assert np.isfinite([constraint.low, constraint.high]).all()
            # the defaults are in range, and one past each end is refused
            view = {"view": record.view}
            model = MODELS.get(families[0], {"model": families[0]})
            assert views.canonical_request(model, view)[1][name] is not None
            if isinstance(constraint, Interval) and constraint.kind is int:
                for outside in (constraint.low - 1, constraint.high + 1):
                    ranged = constraint.describe().split(" (")[0]  # a note may follow the range
                    with pytest.raises(LandscapeError, match=re.escape(f"{name} must be {ranged}")):
                        views.canonical_request(model, {**view, name: outside})


def test_every_model_parameter_is_declared_with_a_finite_range():
    for family, constraints in CONSTRAINTS.items():
        defaults = FAMILIES[family].create.__defaults__ or ()
        assert len(constraints) == len(defaults)
        for name, constraint in constraints.items():
            if isinstance(constraint, Interval):
                assert np.isfinite([constraint.low, constraint.high]).all()
                for outside in (constraint.low - 1, constraint.high + 1):
                    with pytest.raises(LandscapeError, match=re.escape(
                            f"{family}: {name} must be {constraint.describe()}; got ")):
                        views.canonical_request({"model": family, name: outside}, {})


# --------------------------------------------------------------------------- the doc's tables


def model_table() -> str:
    rows = ["| model | parameter | default | allowed |", "| --- | --- | --- | --- |"]
    for family, constraints in CONSTRAINTS.items():
        defaults = FAMILIES[family].create.__defaults__ or ()
        names = FAMILIES[family].create.__code__.co_varnames[1:1 + len(defaults)]
        default = dict(zip(names, defaults, strict=True))
        rows += [f"| {family} | `{k}` | `{default[k]!r}` | {c.describe()} |"
                 for k, c in constraints.items()]
    rows += [f"| network (uploads) | `{k}` | | {c.describe()} |"
             for k, c in SPEC_CONSTRAINTS.items()]
    return "\n".join(rows)


def view_table() -> str:
    rows = ["| family | view | parameter | default | allowed |", "| --- | --- | --- | --- | --- |"]
    for record, families in _records():
        rows += [f"| {', '.join(families)} | {record.view} | `{k}` | `{record.defaults[k]!r}` | "
                 f"{c.describe()} |" for k, c in record.constraints.items()]
    return "\n".join(rows)


def _marked(text: str, marker: str) -> str:
    return text.split(f"<!-- {marker} -->\n")[1].split(f"\n<!-- /{marker} -->")[0]


def test_the_api_doc_lists_every_parameter_with_the_range_the_code_checks():
    doc = (ROOT / "docs" / "http-api.md").read_text()
    assert _marked(doc, "model-parameters") == model_table()
    assert _marked(doc, "view-parameters") == view_table()
    assert "`bend_steps` | `300` | a whole number in [0, 2000]" in doc


# --------------------------------------------------------------------------- the budget


def test_budgeted_progress_raises_past_its_deadline_and_when_cancelled():
    now = [0.0]
    seen = []
    report = budget.budgeted(lambda done, total: seen.append(done), 10.0, clock=lambda: now[0])
    report(1, 5)
    now[0] = 10.0
    report(2, 5)  # at the deadline: still allowed
    now[0] = 10.5
    with pytest.raises(BudgetExceeded, match=exactly(
            "the view ran past its compute budget of 10 s (3 of 5 units of work done) and was "
            "stopped; ask for fewer steps, points or starts")):
        report(3, 5)
    assert seen == [1, 2]
    gone = [False]
    report = budget.budgeted(None, None, lambda: gone[0], clock=lambda: now[0])
    now[0] += 1
    report(1, 2)
    gone[0] = True
    report(1, 2)  # asked at most every CANCEL_CHECK_SECONDS
    now[0] += budget.CANCEL_CHECK_SECONDS
    with pytest.raises(Cancelled, match="nobody waits"):
        report(2, 2)
    progress = print
    assert budget.budgeted(progress, None) is progress


def test_a_long_view_stops_soon_after_its_budget():
    start = time.monotonic()
    with pytest.raises(BudgetExceeded, match="compute budget of 0.3 s"):
        views.compute({"model": "ising"}, {"view": "sweep", "n_min": 8, "n_max": 20,
                                            "seeds": 20}, budget=0.3)
    assert time.monotonic() - start < 3  # unbounded it takes several seconds
    budget.check()  # outside a computation there is nothing to enforce


def test_a_view_that_outgrows_its_memory_allowance_is_stopped():
    now, rss = [0.0], [500 * 2**20]
    limit = budget.Budget(None, clock=lambda: now[0], memory=100 * 2**20, rss=lambda: rss[0])
    rss[0] += 100 * 2**20  # exactly the allowance: allowed
    now[0] += budget.CANCEL_CHECK_SECONDS
    limit.check(1, 4)
    rss[0] += 2**20
    limit.check(2, 4)  # measured at most every CANCEL_CHECK_SECONDS
    now[0] += budget.CANCEL_CHECK_SECONDS
    with pytest.raises(BudgetExceeded, match=exactly(
            "the view grew the server's memory by 101 MB, past its memory budget of 100 MB (3 of "
            "4 units of work done), and was stopped; ask for fewer points, samples or starts")):
        limit.check(3, 4)
    unmeasurable = budget.Budget(None, clock=lambda: now[0], memory=1, rss=lambda: None)
    now[0] += 10
    unmeasurable.check(1, 1)  # where the memory cannot be read it is not enforced


def test_resident_bytes_follow_an_allocation():
    if budget.resident_bytes() is None:
        pytest.skip("the resident set size is not readable here (not Linux)")
    size = 64 * 2**20
    with mmap.mmap(-1, size) as block:  # fresh pages (malloc may reuse resident free memory)
        before = budget.resident_bytes()
        for offset in range(0, size, mmap.PAGESIZE):  # every page written: resident
            block[offset] = 1
        grown = budget.resident_bytes() - before
    assert 60 * 2**20 < grown < 80 * 2**20, grown / 2**20


def test_a_real_view_past_its_memory_budget_is_stopped():
    """A p-spin with 271^3 couplings (160 MB in float64) in a 32 MB allowance: stopped before its
    slice is done (unbounded it computes, in about 4 s)."""
    reports: list[tuple[int, int]] = []
    with pytest.raises(BudgetExceeded, match=r"^the view grew the server's memory by \d+ MB, past "
                                             r"its memory budget of 32 MB"):
        views.compute({"model": "pspin", "n": 271, "p": 3, "seed": 11}, {"view": "slice"},
                      progress=lambda done, total: reports.append((done, total)),
                      memory=32 * 2**20)
    assert all(done < total for done, total in reports), reports[-1:]


def test_budget_check_enforces_the_running_computation():
    with budget.running(budget.Budget(-1.0)), pytest.raises(BudgetExceeded):
        budget.check()
    budget.check()


# --------------------------------------------------------------------------- the API


@pytest.fixture
def store(app) -> ViewStore:
    return app.server.extensions["funnelscope_store"]


def post(client, model, view):
    return client.post("/api/view", json={"model": model, "view": view})


@pytest.mark.parametrize(("body", "message"), [
    ('{"model": {"model": "ising", "n": 1e400}, "view": {}}',
     "ising: n must be a whole number in [2, 24]; got inf"),
    ('{"model": {"model": "ising"}, "view": {"steps": Infinity}}',
     "the body is not strict JSON: Infinity is not a JSON number"),
    ('{"model": {"model": "ising", "seed": NaN}, "view": {}}',
     "the body is not strict JSON: NaN is not a JSON number"),
    ('{"model": {"model": "ising", "seed": -1}, "view": {}}',
     "ising: seed must be a whole number in [0, 4,294,967,295]; got -1"),
    ('{"model": {"model": "ising"}, "view": {"view": ["slice"]}}',
     "view must name a view (a string); got list"),
    ('{"model": {"model": "network", "example": ["moons-mlp"]}, "view": {}}',
     "unknown example ['moons-mlp']; choose one of "),
    ('{"model": {"model": "network", "checkpoint": 123, "data": "moons"}, "view": {}}',
     "network: checkpoint must be an upload key (a string of at most 200 characters); got 123"),
    ('{"model": {"model": "ising"}, "view": {"directions": 5}}',
     "slice: directions must be random or through:P1[,P2[,P3]] (a string of at most 200 "
     "characters); got 5"),
    ('{"model": {"model": "ising"}, "view": {"center": "minimum:\\u00b2"}}',
     "unknown point 'minimum:²'; use native, ground, minimum:K, random:K"),
    ('{"model": {"model": "network", "example": "moons-mlp"}, "view": {"view": "path", '
     '"kind": "bezier", "bend_steps": 1000000000}}',
     "network path: bend_steps must be a whole number in [0, 2000]; got 1000000000"),
    ("[" * 5000 + "]" * 5000, "the body nests deeper than 16 levels"),
    ('{"model": {"model": "ising"}, "view": {"x": ' + "[" * 20 + "]" * 20 + "}}",
     "the body nests deeper than 16 levels"),
    (b"\xff\xfe{}", "the body is not UTF-8 text"),
])
def test_the_issues_bad_requests_are_400_with_one_line(client, store, body, message):
    response = client.post("/api/view", data=body, content_type="application/json")
    assert response.status_code == 400 and response.is_json
    error = response.get_json()["error"]
    assert error.startswith(message) and "\n" not in error
    assert store.computed == 0


def test_an_unbounded_bezier_request_is_refused_before_any_work(client, store):
    start = time.perf_counter()
    response = post(client, {"model": "network", "example": "moons-mlp"}, BEZIER)
    assert time.perf_counter() - start < 1.0
    assert response.status_code == 400 and "bend_steps" in response.get_json()["error"]
    assert store.computed == 0 and not any(store.uploads.examples_dir.glob("*"))


@pytest.mark.parametrize(("method", "path", "status", "allow"), [
    ("get", "/api/view", 405, "POST"),
    ("put", "/api/view", 405, "POST"),
    ("delete", "/api/view", 405, "POST"),
    ("post", "/api/view/abc", 405, "GET"),
    ("get", "/api", 404, None),
    ("post", "/api/", 404, None),
    ("get", "/api/views", 404, None),
    ("delete", "/api/view/abc/def", 404, None),
])
def test_wrong_methods_and_paths_answer_json_not_the_page(client, method, path, status, allow):
    response = getattr(client, method)(path)
    assert response.status_code == status and response.is_json
    assert response.headers.get("Allow") == allow
    error = response.get_json()["error"]
    assert ("not allowed here" if status == 405 else "no such API path") in error


def test_a_view_past_its_budget_is_422_and_not_cached(client, store):
    store.budget = 1e-9
    response = post(client, SPEC, SLICE)
    assert response.status_code == 422
    assert response.get_json()["error"].startswith("the view ran past its compute budget of 1e-09 s")
    assert store.cached(SPEC, SLICE) is None
    store.budget = None
    assert post(client, SPEC, SLICE).status_code == 200  # without the budget it computes


def test_a_view_past_its_memory_budget_is_422_and_not_cached(client, store):
    spec = {"model": "pspin", "n": 271, "p": 3, "seed": 12}
    store.memory = 32 * 2**20
    response = post(client, spec, SLICE)
    assert response.status_code == 422
    assert "past its memory budget of 32 MB" in response.get_json()["error"]
    assert store.cached(spec, SLICE) is None


def test_the_memory_budget_is_configured_in_megabytes(tmp_path):
    assert Config.from_env({}).compute_memory_bytes == 2048 * 2**20
    assert Config.from_env({"FUNNELSCOPE_COMPUTE_MEMORY_MB": "64"}).compute_memory_bytes == 64 * 2**20
    assert Config.from_env({"FUNNELSCOPE_COMPUTE_MEMORY_MB": "0"}).compute_memory_bytes is None
    app = create_app(Config(cache_dir=tmp_path / "cache", compute_memory_mb=64))
    assert app.server.extensions["funnelscope_store"].memory == 64 * 2**20


def test_a_busy_worker_answers_503_and_keeps_serving_health_and_the_cache(tmp_path, monkeypatch):
    app = create_app(Config(cache_dir=tmp_path / "cache", api_computations=1))
    client = app.server.test_client()
    assert post(client, SPEC, SLICE).status_code == 200  # cached from now on
    entered, release = threading.Event(), threading.Event()
    original = ViewStore.get

    def slow(self, model_spec, view_spec, progress=None, cancelled=None):
        entered.set()
        release.wait(30)
        return original(self, model_spec, view_spec, progress, cancelled)

    monkeypatch.setattr(ViewStore, "get", slow)
    answers = {}
    other = dict(SLICE, steps=11)
    worker = threading.Thread(target=lambda: answers.update(
        first=post(app.server.test_client(), SPEC, other).status_code))
    worker.start()
    try:
        assert entered.wait(30)
        busy = post(client, SPEC, dict(SLICE, steps=13))
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert busy.get_json()["error"] == ("busy: this worker already computes 1 view(s); "
                                            "retry in 5 s")
        start = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        assert time.perf_counter() - start < 1.0
        cached = post(client, SPEC, SLICE)
        assert cached.status_code == 200 and cached.get_json()["cached"] is True
    finally:
        release.set()
        worker.join(30)
    assert answers == {"first": 200}
    assert post(client, SPEC, dict(SLICE, steps=13)).status_code == 200  # the slot is free again


def test_client_gone_sees_a_closed_connection_but_not_a_pipelined_request():
    assert client_gone({}) is None  # a server that does not hand over the socket
    ours, theirs = socket.socketpair()
    with ours, theirs:
        gone = client_gone({"gunicorn.socket": ours})
        assert gone is not None and gone() is False  # open and quiet
        theirs.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        assert gone() is False  # a next request waits: not a close
        assert ours.recv(100)
        theirs.close()
        assert gone() is True


def test_strict_json_is_shared_by_the_cli(capsys):
    from landscapes.cli import main

    assert main(["view", "--model", '{"model": "ising", "n": NaN}', "--view", "{}",
                 "--out", "x.npz"]) == 2
    assert capsys.readouterr().err == ("landscapes: error: --model is not strict JSON: NaN is "
                                       "not a JSON number\n")
    assert main(["view", "--model", '{"model": "ising", "seed": 1e400}', "--view", "{}",
                 "--out", "x.npz"]) == 2
    assert capsys.readouterr().err == ("landscapes: error: ising: seed must be a whole number "
                                       "in [0, 4,294,967,295]; got inf\n")
    with pytest.raises(LandscapeError, match="nests deeper than 16 levels"):
        load_json("[" * 100_000 + "]" * 100_000, "--view", max_depth=MAX_DEPTH)


def test_a_plan_nested_too_deeply_is_one_line(tmp_path, capsys):
    from app.cli import main

    plan = tmp_path / "plan.yaml"
    plan.write_text("views: " + "[" * 5000 + "]" * 5000)
    assert main(["precompute", str(plan), "--cache-dir", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err == f"funnelscope: error: {plan} is nested too deeply to be a plan\n"


# --------------------------------------------------------------------------- the dashboard


def test_a_panel_past_its_budget_shows_the_message_and_a_waiter_does_not_restart_it(store):
    from app import ids
    from app.callbacks.panels import panel_output
    from tests.unit.panels import panel_controls

    store.budget = 1e-9
    out = panel_output(store, panel_controls(**{ids.VIEW: "sweep"}), {})
    assert len(out.messages) == 1 and out.messages[0].startswith(
        "the view ran past its compute budget of 1e-09 s")
    store.budget = 0.0  # nothing left after waiting: refused before computing
    with pytest.raises(BudgetExceeded, match="waiting for an identical request's computation"):
        store.get(SPEC, SLICE)
    assert store.computed == 0


def test_a_body_over_the_size_limit_is_a_json_413(tmp_path):
    client = create_app(Config(cache_dir=tmp_path / "c", max_upload_mb=0.001)).server.test_client()
    body = b'{"model": {"model": "ising", "x": "' + b"x" * 10_000 + b'"}, "view": {}}'
    response = client.post("/api/view", data=body, content_type="application/json")
    assert response.status_code == 413 and response.is_json
    assert response.get_json() == {"error": "The data value transmitted exceeds the capacity limit."}
