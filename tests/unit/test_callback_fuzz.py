"""Property-based fuzzing of the dashboard's callbacks (POST /_dash-update-component).

Anyone with curl can call any server-side callback with any inputs. The callbacks are read from
the app's own ``/_dash-dependencies`` (every one but the clientside ones, which never reach the
server), and Hypothesis sends each the body the page sends -- ``output``, ``outputs``,
``inputs``, ``state``, ``changedPropIds`` -- with values of the wrong type, huge, NaN-ish,
unicode, very long, nested or missing, bogus upload data URLs and file names, hand-edited URL
queries, and the layout's own values mutated; a tenth of the bodies have a shape the page never
sends (a key left out or junk, an input too few or too many, the output of no callback or of a
clientside one, not an object). Every answer must be a 200 or a 204 (nothing to update), or a
400 with a one-line JSON error for a broken shape (app.callbacks.register_request_check); never
a 5xx, no traceback text, no generic "internal error" where a callback caught what it did not
expect, no answer slower than 10 s (the app's compute budget is 0.05 s here), and junk never
leaves a file in the upload store.

The panel job is a background callback: the first request starts a job and answers with signed
handles, and the page then polls with them until the result is there. A job is a fork of the
job server (app/jobs.py), which would make the fuzz slow and asynchronous, so here the
manager's ``call_job_fn`` runs Dash's own job function (its cache writes, progress and
``set_props`` included) in a thread of the test process that the request waits for; the poll
that follows answers with the job's outputs, which are checked like any other answer. The job's
code is the one the forked process runs; only the fork is left out (test_jobs.py covers that).
"""

import base64
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app import create_app, presets
from app.callbacks.panels import panel_output
from app.config import Config
from app.controls import MODEL_NAMES, defaults
from app.data import ViewStore
from app.jobs import ForkServerDiskcacheManager
from tests.unit.typed_arrays import typed_array

EXAMPLES = 1000  # generated requests per run
HANG_SECONDS = 10.0
ALLOWED = {200, 204, 400}  # 400: the request's shape is not the page's (one line of JSON)
#: what a callback shows when it caught an exception it did not expect (and logged it)
GENERIC = ("internal error", "see the server log", ": could not be read")
NO_PID = 2**30  # above any pid_max: the "job" of a synchronous run is never running or killed

numbers = st.one_of(
    st.integers(min_value=-3, max_value=600),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),  # NaN, +-inf, -0.0, subnormals, 1e308
    st.sampled_from([1e308, -1e308, 2**63, 2**64, -1, 0, 0.5, 1e9, 10**30]),
)
strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "NaN", "nan", "Infinity", "-inf", "1e400", "None", "null", "undefined",
                     "minimum:0", "minimum:²", "random:99999999999", "state:-1", "state:99999999",
                     "through:", "through:,,", "upload:", "upload:" + "a" * 64, "0" * 64,
                     "slice", "funnel", "sweep", "minima", "ising", "pspin", "network", "log",
                     "surface", "contour", "heatmap", "left-tree", "moons-mlp", "moons"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "\U0001f600", "\x00", "\n"]),
              st.integers(1_000, 200_000)),
)
scalars = st.one_of(numbers, strings, st.booleans(), st.none())
junk = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


data_urls = st.one_of(
    st.builds(lambda b: "data:application/octet-stream;base64," + _b64(b), st.binary(max_size=64)),
    st.builds(lambda b: "data:;base64," + _b64(b), st.sampled_from(
        [b"PK\x03\x04", b"\x93NUMPY", b"{}", b"[", b"\x08\x07" * 20, b"not a zip"])),
    st.sampled_from(["data:", "data:,", "data:;base64,@@@", "data:;base64,=", ",", "base64",
                     "data:text/plain,hello", "data:;base64," + "A" * 10_001]),
    st.text(max_size=20),
)
searches = st.one_of(
    st.text(max_size=30).map(lambda s: "?" + s),
    st.sampled_from(["", "?", "?&&&", "?=", "?l.model", "?l.model=", "?l.model=nope",
                     "?l.seed=1e400", "?l.seed=NaN", "?l.seed=-1", "?l.seed=" + "9" * 400,
                     "?r.steps=1000000", "?cam=", "?cam=1,2", "?cam=nan,nan,nan",
                     "?cam=1e308,1e308,1e308", "?l.cam=0,0,0", "?l.path-to=state:9999999",
                     "?l.upload-checkpoint=" + "a" * 64, "?l.upload-checkpoint=../../etc",
                     "?l.view-kind=funnel&l.view=slice", "?" + "l.seed=1&" * 500,
                     "?x=" + "%" * 100, "?l.model=%ff%fe", "?" + "a" * 5000]),
    st.builds(lambda p, extra: p.search() + extra, st.sampled_from(presets.PRESETS),
              st.sampled_from(["", "&cam=1,2,3", "&l.seed=x", "&r.steps=2", "%00"])),
)


def mutated(value: Any) -> st.SearchStrategy:
    """``value`` (a layout's or a valid-looking one) changed a little: a neighbour of a number,
    a string with junk appended, a list with an element more or less, or its type changed."""
    options: list[st.SearchStrategy] = [st.just(value), junk]
    if isinstance(value, bool):
        options.append(st.just(not value))
    elif isinstance(value, int | float):
        options += [numbers.map(lambda d: value + d), st.just(str(value)), st.just([value])]
    elif isinstance(value, str):
        options += [strings.map(lambda s: value + s), st.just(value.upper()), st.just(value[:-1])]
    elif isinstance(value, list):
        options += [st.just(value[1:]), junk.map(lambda j: [*value, j]), st.just(value * 50)]
    elif isinstance(value, dict) and value:
        options += [st.sampled_from(sorted(value)).flatmap(
            lambda k: junk.map(lambda j: {**value, k: j}))]
    return st.one_of(*options)


def value_for(prop: str, layout_value: Any) -> st.SearchStrategy:
    """What an input or state of property ``prop`` is set to."""
    options = [junk, mutated(layout_value)]
    if prop == "contents":
        options += [data_urls, data_urls]
    elif prop == "search":
        options += [searches, searches]
    elif prop == "filename":
        options += [st.sampled_from(["w.pt", "d.npz", "x.safetensors", "a.onnx", "../x.npz",
                                     "", ".npz", "é" * 300 + ".pt"])]
    elif prop in ("clickData", "relayoutData"):
        options += [st.fixed_dictionaries({"points": st.lists(st.fixed_dictionaries(
            {"customdata": junk}), max_size=2)})]
    elif prop == "data":
        options += [st.dictionaries(st.sampled_from(
            ["checkpoint", "checkpoint2", "data", "temperatures", "folding_temperature",
             "search", "eye", "up", "center"]), junk, max_size=3)]
    return st.one_of(*options)


def _layout_values(node: Any, found: dict[tuple[str, str], Any]) -> dict[tuple[str, str], Any]:
    """(id, property) -> the value the layout gives it, for every component with an id."""
    if isinstance(node, list):
        for child in node:
            _layout_values(child, found)
    elif isinstance(node, dict) and "props" in node:
        props = node["props"]
        if isinstance(props.get("id"), str):
            for prop, value in props.items():
                found[(props["id"], prop)] = value
        for value in props.values():
            _layout_values(value, found)
    return found


def _outputs(output: str) -> list[dict] | dict:
    """The ``outputs`` the page sends for a dependency's ``output`` string."""
    def one(text: str) -> dict:
        component, prop = text.rsplit(".", 1)
        return {"id": component, "property": prop}

    if output.startswith("..") and output.endswith(".."):
        return [one(part) for part in output[2:-2].split("...")]
    return one(output)


@st.composite
def bodies(draw: st.DrawFn, callbacks: list[dict], layout: dict) -> dict:
    """A request to one of ``callbacks``: each input and state set to junk, to its layout value
    (perhaps mutated) or left out (undefined in the page) -- or, in half of them, all at their
    layout values but one to three, so that the request gets past the first checks (to the
    cached view, say); what changed is one or more inputs, or now and then an id the page does
    not have."""
    dep = draw(st.sampled_from(callbacks))
    count = len(dep["inputs"]) + len(dep["state"])
    fuzzed = set(range(count)) if draw(st.booleans()) else set(draw(st.lists(
        st.integers(0, max(count - 1, 0)), min_size=1, max_size=3)))
    position = iter(range(count))

    def items(group: list[dict]) -> list[dict]:
        sent = []
        for item in group:
            entry = {"id": item["id"], "property": item["property"]}
            value = layout.get((item["id"], item["property"]))
            if next(position) not in fuzzed:
                entry["value"] = value
            elif draw(st.integers(0, 9)):  # else: undefined, as the page leaves it out
                entry["value"] = draw(value_for(item["property"], value))
            sent.append(entry)
        return sent

    inputs, state = items(dep["inputs"]), items(dep["state"])
    search = next((s for s in state if (s["id"], s["property"]) == ("url", "search")), None)
    applied = next((s for s in state if s["id"] == "url-applied"), None)
    if search is not None and applied is not None and draw(st.booleans()):
        applied["value"] = search.get("value")  # the query the page shows: the writer writes
    changed = [f"{i['id']}.{i['property']}" for i in inputs]
    changed = draw(st.lists(st.sampled_from(changed), min_size=1, max_size=2, unique=True))
    if draw(st.integers(0, 9)) == 0:
        changed.append(draw(st.sampled_from(["nope.value", "", "left-tree.clickData", "."])))
    return {"output": dep["output"], "outputs": _outputs(dep["output"]), "inputs": inputs,
            "state": state, "changedPropIds": changed}


@st.composite
def broken(draw: st.DrawFn, body: dict, clientside: list[str]) -> object:
    """``body`` with its shape broken: a key left out or set to junk, an input or a state too
    few or too many, an output of no callback or of a clientside one; or not an object."""
    action = draw(st.sampled_from(["drop", "junk", "fewer", "more", "unknown", "clientside",
                                   "not an object"]))
    key = draw(st.sampled_from(["output", "outputs", "inputs", "state", "changedPropIds"]))
    if action == "drop":
        return {k: v for k, v in body.items() if k != key}
    if action == "junk":
        return {**body, key: draw(junk)}
    if action in ("fewer", "more"):
        group = draw(st.sampled_from(["inputs", "state", "outputs"]))
        items = body[group] if isinstance(body[group], list) else [body[group]]
        return {**body, group: items[:-1] if action == "fewer" else [*items, items[0]]
                if items else [draw(junk)]}
    if action == "unknown":
        return {**body, "output": draw(st.sampled_from(["nope.value", "..a.b...c.d..", "", "."])
                                      | st.text(max_size=20))}
    if action == "clientside":
        return {**body, "output": draw(st.sampled_from(clientside))}
    return draw(junk)


def _uploads(store_root: Path) -> list[str]:
    return sorted(str(p) for p in (store_root / "uploads").rglob("*")) if (
        store_root / "uploads").exists() else []


def _synchronous(manager: ForkServerDiskcacheManager) -> None:
    """Jobs of ``manager`` run at once, each in a thread of its own that the call waits for
    (Dash's job function, without the fork; a job lowers its own thread's priority)."""
    def call_job_fn(key, job_fn, args, context):
        job = threading.Thread(target=job_fn,
                               args=(key, manager._make_progress_key(key), args, dict(context)))
        job.start()
        job.join()
        return NO_PID

    manager.stop_job_server()
    manager.call_job_fn = call_job_fn  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    cache = tmp_path_factory.mktemp("fuzz") / "cache"
    app = create_app(Config(cache_dir=cache, compute_seconds=0.05))
    for callback in app.callback_map.values():
        manager = (callback.get("background") or {}).get("manager")
        if isinstance(manager, ForkServerDiskcacheManager):
            _synchronous(manager)
    # the left panel's first view in the cache: requests with its settings reach the redraw
    # from the cache and the downloads (computed without the fuzz's 0.05 s budget)
    store = app.server.extensions["funnelscope_store"]
    store.budget = None
    first = panel_output(store, {name: defaults("left")[name] for name in MODEL_NAMES}, {})
    store.budget = 0.05
    assert first.messages == [], first.messages
    client = app.server.test_client()
    dependencies = client.get("/_dash-dependencies").get_json()
    callbacks = [d for d in dependencies if not d.get("clientside_function")]
    clientside = [d["output"] for d in dependencies if d.get("clientside_function")]
    layout = _layout_values(client.get("/_dash-layout").get_json(), {})
    return client, cache / "store", callbacks, clientside, layout


def _check(response, body: object, elapsed: float) -> None:
    shown = json.dumps(body)[:400]
    assert elapsed < HANG_SECONDS, f"{elapsed:.1f} s for {shown}"
    assert response.status_code in ALLOWED, (response.status_code, shown,
                                             response.get_data(as_text=True)[:400])
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text, shown
    for generic in GENERIC:  # junk is refused with its reason, not as the server's failure
        assert generic not in text, (generic, shown)
    if response.status_code == 400:  # a request of a shape the page never sends
        error = response.get_json()["error"]
        assert isinstance(error, str) and error and "\n" not in error


def test_every_server_callback_is_fuzzed(served):
    _, _, callbacks, _, _ = served
    outputs = " ".join(d["output"] for d in callbacks)
    for needle in ("..left-job-surface.data...left-job-path.data", "left-path.figure", "url-target.data",
                   "left-uploaded.data", "left-download.data", "status-banner.children",
                   "left-free-energy.figure", "left-cancel.id", "active-scenario.children",
                   "left-ising-controls.style", "left-path-to.options", "left-model.value"):
        assert needle in outputs, needle


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture,
                                 HealthCheck.large_base_example])
@given(data=st.data())
def test_any_callback_request_is_answered_without_a_500(served, data):
    client, store_root, callbacks, clientside, layout = served
    body: object = data.draw(bodies(callbacks, layout))
    if data.draw(st.integers(0, 9)) == 0:
        body = data.draw(broken(body, clientside))
    before = _uploads(store_root)
    start = time.monotonic()
    response = client.post("/_dash-update-component", json=body)
    _check(response, body, time.monotonic() - start)
    event(f"status {response.status_code}")
    answer = response.get_json(silent=True) if response.status_code == 200 else None
    if isinstance(answer, dict) and "cacheKey" in answer:  # a background job: poll its result
        query = {"cacheKey": answer["cacheKey"], "job": answer["job"]}
        start = time.monotonic()
        response = client.post("/_dash-update-component", json=body, query_string=query)
        _check(response, body, time.monotonic() - start)
        event(f"job poll {response.status_code}")
    assert _uploads(store_root) == before


# --- what the fuzz found, one request each -----------------------------------------------------


def _call(served, output_prefix: str, values: dict[str, Any], changed: str | None = None,
          query: dict | None = None):
    """POST the callback whose output starts with ``output_prefix`` (inputs and states set by
    "id.property"; the rest left at their layout values)."""
    client, _, callbacks, _, layout = served
    dep = next(d for d in callbacks if d["output"].lstrip(".").startswith(output_prefix))

    def items(group: list[dict]) -> list[dict]:
        return [{"id": i["id"], "property": i["property"],
                 "value": values.get(f"{i['id']}.{i['property']}",
                                     layout.get((i["id"], i["property"])))} for i in group]

    inputs = items(dep["inputs"])
    body = {"output": dep["output"], "outputs": _outputs(dep["output"]), "inputs": inputs,
            "state": items(dep["state"]),
            "changedPropIds": [changed or f"{inputs[0]['id']}.{inputs[0]['property']}"]}
    response = client.post("/_dash-update-component", json=body, query_string=query)
    answer = response.get_json(silent=True) if response.status_code == 200 else None
    if isinstance(answer, dict) and "cacheKey" in answer:
        response = client.post("/_dash-update-component", json=body,
                               query_string={"cacheKey": answer["cacheKey"], "job": answer["job"]})
    return response


def test_a_request_of_another_shape_is_a_400_with_its_reason(served):
    client, _, callbacks, clientside, _ = served
    for body, words in [
        ({}, "does not name a callback of this page"),
        ({"output": clientside[0]}, "does not name a callback of this page that runs on the server"),
        ([1], "a callback request is a JSON object"),
        ({"output": callbacks[0]["output"], "outputs": 5}, "outputs must list this callback's"),
    ]:
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 400 and words in response.get_json()["error"]
    for data, kind in [(None, None), ("null", "application/json"), ("{1", "application/json"),
                       ('{"output": "x"}', "text/plain")]:  # no body, null, not JSON, not sent as JSON
        response = client.post("/_dash-update-component", data=data, content_type=kind)
        assert response.status_code == 400 and response.get_json() == {
            "error": "a callback request is a JSON object sent as application/json"}
    free = next(d for d in callbacks if d["output"].startswith("..left-free-energy"))
    body = {"output": free["output"], "outputs": _outputs(free["output"]),
            "inputs": [{"id": "left-temperature", "property": "value"}], "state": []}
    response = client.post("/_dash-update-component", json=body)
    assert response.get_json() == {"error": "inputs must list this callback's 3 input values, "
                                            'each as {"id": ..., "property": ..., "value": ...}'}
    body["changedPropIds"] = [["left-temperature.value"]]
    body["inputs"] = body["inputs"] * 3
    response = client.post("/_dash-update-component", json=body)
    assert "changedPropIds must list" in response.get_json()["error"]


def test_funnel_data_no_job_wrote_shows_the_empty_graph(served):
    for data in (177, "x", {}, {"temperatures": [0]}, {"checkpoint2": [[-1e16], {}, 0]}):
        response = _call(served, "left-free-energy", {"left-funnel-data.data": data})
        answer = response.get_json()["response"]
        assert answer["left-free-energy"]["figure"]["layout"]["annotations"][0]["text"] == \
            "F(Q; T) appears with the funnel view"
        assert answer["left-temperature"] == {"max": 1, "marks": None, "value": 0}


def test_the_picked_temperature_is_kept_and_comes_back_with_new_funnel_data(served):
    temps = [0.1, 0.3, 0.7, 1.0, 2.0, 5.0]  # T_f = 0.7: index 2
    data = {"q": [0.0, 0.5, 1.0], "temperatures": temps, "n": 10, "folding_temperature": 0.7,
            "free_energy": [[0.1 * k, 0.0, 0.2] for k in range(6)], "barrier": [0.1] * 6}

    def free_energy(changed: str, index: object, wanted: object) -> dict:
        values = {"left-funnel-data.data": data, "left-temperature.value": index,
                  "left-wanted-temperature.data": wanted}
        return _call(served, "left-free-energy", values, changed=changed).get_json()["response"]

    # the slider moved to T = 2: kept as the wanted temperature; back at T_f: none is wanted
    answer = free_energy("left-temperature.value", 4, None)
    assert answer["left-wanted-temperature"] == {"data": 2.0}
    drawn = typed_array(answer["left-free-energy"]["figure"]["data"][0]["y"])
    assert np.allclose(drawn, data["free_energy"][4])
    answer = free_energy("left-temperature.value", 2, 2.0)
    assert answer["left-wanted-temperature"] == {"data": None}
    # new funnel data (or a link's temperature): the grid point nearest the wanted T (log scale)
    for wanted, index in ((2.0, 4), (3.0, 4), (3.5, 5), (0.2, 1), (None, 2), ("x", 2), (-1, 2),
                          (10**400, 2)):  # an int beyond any float: a hand-made request
        for changed in ("left-funnel-data.data", "left-wanted-temperature.data"):
            answer = free_energy(changed, 0, wanted)
            assert answer["left-temperature"]["value"] == index, (wanted, changed)
            assert "left-wanted-temperature" not in answer  # left as it was


def test_junk_in_the_visibility_click_and_url_callbacks_is_no_500(served):
    styles = _call(served, "left-model-field", {"left-model.value": ["ising"]})
    assert styles.status_code == 200
    for click in (5, "funnel", {"points": [{"customdata": "through:"}]}):
        response = _call(served, "left-path-to", {"left-tree.clickData": click})
        assert response.status_code == 200 and response.get_json()["response"] == {}  # unchanged
    for search in (5, ["?l.model=pspin"], {"a": 1}):  # no URL the page has: nothing to do
        assert _call(served, "left-model.value", {"url.search": search}).status_code == 204
    scenario = _call(served, "active-scenario", {"url.search": ["?"]})
    assert scenario.status_code == 200


def test_a_panel_job_with_junk_display_options_and_client_id_shows_its_view(served):
    """Junk drawing options failed the job before its own error handling (a 500 at the poll);
    a client id that is not a string became "internal error" in the panel."""
    values = {"left-clip.value": [99], "left-log-scale.value": 5,
              "left-colorscale.value": {"a": 1}, "client-id.data": {"a": 1},
              "left-model.value": "ising", "left-view.value": "slice", "left-steps.value": 21}
    response = _call(served, "left-job-surface.data...left-job-path", values, "left-model.value")
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert "internal error" not in json.dumps(answer["left-message"])
    assert answer["left-drawn"]["data"]["clip"] is None


def test_a_panel_job_computes_at_the_compute_nice_value(served, monkeypatch):
    """Serving comes first: the job's view is computed at FUNNELSCOPE_COMPUTE_NICE (default 10),
    the request threads keep their priority."""
    seen: list[int] = []
    original = ViewStore.get

    def recording(self, *args, **kwargs):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ViewStore, "get", recording)
    values = {"left-model.value": "ising", "left-view.value": "slice", "left-steps.value": 9}
    response = _call(served, "left-job-surface.data...left-job-path", values, "left-model.value")
    assert response.status_code == 200 and seen and set(seen) == {Config().compute_nice}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < Config().compute_nice


@pytest.mark.parametrize("path", ["/_dash-component-suites/dash/dcc/nothing.js",
                                  "/_dash-component-suites/nope/x.js",
                                  "/_dash-component-suites/dash/" + "a/" * 500 + "x.js"])
def test_a_script_dash_does_not_serve_is_a_404_in_one_line(served, path):
    """Dash answered an unknown component-suite path with a 500 (and logged a traceback listing
    every file it serves); a script it does serve still comes."""
    client = served[0]
    response = client.get(path)
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert text.startswith("no such file: /_dash-component-suites/") and text.count("\n") == 1
    assert len(text) < 250
    served_script = client.get("/_dash-component-suites/plotly/package_data/plotly.min.js")
    assert served_script.status_code == 200 and b"plotly.js" in served_script.data[:200]


def test_the_path_graph_answers_junk_without_a_500(served):
    """A model that is a list (with the funnel view) and uploads that are not a dict made the
    path graph's redraw raise (TypeError, AttributeError): a 500. Now nothing is redrawn."""
    line = {"data": [{"type": "scatter", "y": [1, 2]}], "layout": {}}
    for values in ({"left-model.value": ["ising"], "left-view.value": "funnel"},
                   {"left-model.value": "network", "left-net-source.value": "upload",
                    "left-uploaded.data": "x"},
                   {"left-job-path.data": 5}):
        response = _call(served, "left-path.figure", {**values, "left-path.figure": line,
                                                      "left-log-scale.value": ["log"]},
                         "left-log-scale.value")
        assert response.status_code in (200, 204), (values, response.status_code)
        response = _call(served, "left-path.figure", {**values, "left-job-path.data": line},
                         "left-job-path.data")
        assert response.status_code in (200, 204), (values, response.status_code)
