"""The dashboard without a browser: figure builders, the cached store, callbacks' helpers."""

import hashlib
import html
import io
import json

import numpy as np
import pytest
from dash import no_update

from app import controls, create_app, ids, panel_views
from app.callbacks.downloads import download_file, download_request
from app.callbacks.panels import (
    clicked_state,
    display_options,
    grid_request_of,
    panel_output,
    panel_requests,
    redrawn,
    with_option,
)
from app.callbacks.status import status_message
from app.callbacks.uploads import accept_upload, accepted_text, open_export
from app.config import Config
from app.controls import MODEL_NAMES, THROUGH_MINIMA
from landscapes import views
from landscapes.plots import slices as figures
from tests.unit import clientside
from tests.unit.clientside import needs_node
from tests.unit.panels import panel_controls

SPEC = {"model": "ising", "n": 10, "native_bias": 2.0, "seed": 1}
SLICE = {"view": "slice", "steps": 9, "span": 1.0}


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(cache_dir=tmp_path / "cache")


def test_surface_figure_carries_the_slice_as_float32():
    result = views.compute(SPEC, SLICE)
    fig = figures.surface_figure(result)
    surface = fig.data[0]
    assert surface.type == "surface"
    assert np.asarray(surface.z).dtype == np.float32
    assert np.allclose(np.asarray(surface.z), result.values, atol=1e-6)
    assert np.allclose(np.asarray(surface.x), result.axes[0])
    assert surface.contours.z.show and surface.contours.z.project.z  # contour on the floor
    assert fig.data[1].z[0] == pytest.approx(result.values[4, 4])  # the centre marker
    assert fig.layout.scene.zaxis.title.text == "energy per spin"
    assert fig.layout.uirevision == "landscape"
    assert "Ising spin funnel: N=10, J0=2" in fig.layout.title.text


def test_through_points_are_marked_at_unit_coefficients():
    spec = {"model": "pspin", "n": 16, "p": 3, "seed": 0}
    result = views.compute(spec, SLICE | {"directions": "through:minimum:1,minimum:2"})
    marks = figures.surface_figure(result).data[2:]
    assert [(m.x[0], m.y[0]) for m in marks] == [(1.0, 0.0), (0.0, 1.0)]
    assert [m.name for m in marks] == ["minimum:1", "minimum:2"]
    assert marks[0].z[0] == pytest.approx(result.values[4, 8])  # grid -1..1 in 9 steps: x[8] = 1


def test_path_figure_has_one_line_per_kind():
    paths = [
        views.compute(SPEC, {"view": "path", "kind": kind, "steps": 11,
                             "from": "random:0", "to": "minimum:0"})
        for kind in views.PATH_KINDS
    ]
    fig = figures.path_figure(paths)
    assert [t.name for t in fig.data] == ["linear", "geodesic"]
    assert np.allclose(np.asarray(fig.data[1].y), paths[1].values, atol=1e-6)
    # both paths share their endpoints
    assert fig.data[0].y[0] == pytest.approx(fig.data[1].y[0], abs=1e-6)
    assert fig.data[0].y[-1] == pytest.approx(fig.data[1].y[-1], abs=1e-6)


def test_model_titles_name_glass_and_funnel():
    assert figures.model_title(views.normalize_spec({"model": "ising"})).startswith("SK glass")
    planted = views.normalize_spec({"model": "pspin", "planted": 1.0})
    assert figures.model_title(planted).startswith("planted p-spin")
    upload = {"model": "network", "checkpoint": "k", "data": "upload:d"}
    meta = {"architecture": {"type": "onnx"}, "parameters": [{"name": "w", "shape": [3, 4]}],
            "data": {"name": "points.npz", "sha256": "d"}, "loss": "mse"}
    assert figures.model_title(upload, meta) == \
        "network: uploaded checkpoint (ONNX graph, 12 parameters) on points.npz, mse"


def test_store_computes_once_and_persists_across_app_restarts(config, monkeypatch):
    calls = []
    real = views.compute
    monkeypatch.setattr(views, "compute", lambda *a, **k: calls.append(a) or real(*a, **k))
    first = create_app(config)
    store = first.server.extensions["funnelscope_store"]
    a = store.get(SPEC, SLICE)
    b = store.get(dict(SPEC, n=10.0), dict(SLICE, dims=2))  # same request, other spelling
    assert len(calls) == 1 and np.array_equal(a.values, b.values)
    restarted = create_app(config).server.extensions["funnelscope_store"]
    c = restarted.get(SPEC, SLICE)
    assert len(calls) == 1 and restarted.computed == 0
    assert np.array_equal(c.values, a.values) and c.meta == a.meta


def test_panel_errors_become_messages_not_exceptions(config):
    app = create_app(config)
    store = app.server.extensions["funnelscope_store"]
    spec = panel_views.model_spec("pspin", 16, 0.0, 128, 4, 0.0, 0)
    slice_request, path_requests = panel_views.requests(
        spec, 1.0, 21, "minimum:0", "random", "random:0", "minimum:0", "filter", "linear"
    )
    surface, path, messages = panel_views.panel_figures(store, spec, slice_request, path_requests)
    assert any("use n <= 66 for p=4" in m for m in messages)
    assert surface is None  # the surface on screen stays; the message says why
    drawn = figures.message_figure(messages[0]).layout.annotations[0].text  # wrapped, escaped
    assert html.unescape(drawn.replace("<br>", " ")) == messages[0]
    assert all(len(html.unescape(line)) <= figures.MESSAGE_WIDTH for line in drawn.split("<br>"))
    assert drawn.count("<br>") >= 1 and "&lt;=" in drawn
    assert len(path.data) == 0


def test_controls_map_to_the_chosen_family_only():
    assert panel_views.model_spec("ising", 12, 1.5, 64, 3, 0.5, 7) == {
        "model": "ising", "n": 12, "native_bias": 1.5, "seed": 7}
    assert panel_views.model_spec("pspin", 12, 1.5, 64, 3, 0.5, 7) == {
        "model": "pspin", "n": 64, "p": 3, "planted": 0.5, "seed": 7}


def test_layout_has_both_panels_and_callbacks_are_per_app(config):
    app = create_app(config)
    layout_ids = set()

    def walk(node):
        if getattr(node, "id", None):
            layout_ids.add(node.id)
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and not isinstance(child, str):
                walk(child)

    walk(app.layout)
    for side in ids.PANELS:
        for name in (*MODEL_NAMES, ids.SURFACE, ids.PATH, ids.MESSAGE):
            assert ids.pid(side, name) in layout_ids
    other = create_app(config)
    # per panel: compute, its surface shown if new, preview, redraw, the path graph, show
    # controls, F(Q; T)
    # slider, tree click, uploads,
    # an opened export, downloads, cancel note; the camera sync and the URL camera, the URL
    # writer, its push, the page's URL watch (it starts the panels), both panels' first
    # previews, the URL reader, copy link,
    # the active guided scenario, the status, the session's client id (fair job slots) -- and
    # no leak
    assert len(app.callback_map) == len(other.callback_map) == 33


def test_first_page_and_layout_are_served(config):
    client = create_app(config).server.test_client()
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and b"left-surface" in layout.data


def test_config_from_environment(tmp_path):
    cfg = Config.from_env({"FUNNELSCOPE_CACHE_DIR": str(tmp_path), "FUNNELSCOPE_CACHE_TIMEOUT": "60"})
    assert cfg.cache_dir == tmp_path and cfg.cache_timeout == 60
    assert cfg.cache_entries == Config().cache_entries  # unset: the default
    assert cfg.flask_caching() == {
        "CACHE_TYPE": "app.viewcache.FileSystemCache", "CACHE_DIR": str(tmp_path / "views"),
        "CACHE_DEFAULT_TIMEOUT": 60, "CACHE_THRESHOLD": cfg.cache_entries,
    }


def _data_url(content: bytes) -> str:
    import base64

    return "data:application/octet-stream;base64," + base64.b64encode(content).decode()


def test_uploads_are_validated_before_they_are_stored(config, tmp_path):
    import torch

    from landscapes.errors import LandscapeError
    from landscapes.networks.architectures import build_network
    from landscapes.networks.uploads import save_checkpoint

    store = create_app(config).server.extensions["funnelscope_store"]
    arch = {"type": "mlp", "sizes": [2, 4, 2], "act": "relu"}
    state = build_network(arch).state_dict()
    path = save_checkpoint(tmp_path / "ok.safetensors", arch, state, "cross_entropy")
    key = accept_upload(store.uploads, "checkpoint", _data_url(path.read_bytes()),
                                  "ok.safetensors", None)
    assert torch.equal(store.uploads.checkpoint(key).state["0.weight"], state["0.weight"])
    torch.save(state, tmp_path / "w.pt")
    pt = _data_url((tmp_path / "w.pt").read_bytes())
    with pytest.raises(LandscapeError, match="architecture is not valid JSON"):
        accept_upload(store.uploads, "checkpoint", pt, "w.pt", "{sizes: [2")
    key2 = accept_upload(store.uploads, "checkpoint", pt, "w.pt", '{"type": "mlp", '
                                   '"sizes": [2, 4, 2], "act": "relu"}')
    assert key2 != key
    stored = sorted(p.name for p in (config.cache_dir / "store" / "uploads").iterdir())
    with pytest.raises(LandscapeError, match="could not be decoded"):
        accept_upload(store.uploads, "data", "data:;base64,@@@", "x.npz", None)
    with pytest.raises(LandscapeError, match="X"):
        accept_upload(store.uploads, "data", _data_url(b"not a zip"), "x.npz", None)
    assert sorted(p.name for p in (config.cache_dir / "store" / "uploads").iterdir()) == stored


def test_an_invalid_architecture_is_refused_under_its_field_not_the_drop_zones(config, tmp_path):
    """Only a .pt file needs the Architecture field: with invalid JSON typed there, the field
    says why, a .safetensors second checkpoint is still accepted, and the .pt one asks for an
    architecture."""
    import torch

    from landscapes.networks.architectures import build_network
    from landscapes.networks.uploads import save_checkpoint

    app = create_app(config)
    validate = next(entry["callback"].__wrapped__ for key, entry in app.callback_map.items()
                    if f"left-{ids.UPLOADED}.data" in key)
    arch = {"type": "mlp", "sizes": [2, 4, 2], "act": "relu"}
    state = build_network(arch).state_dict()
    good = save_checkpoint(tmp_path / "b.safetensors", arch, state, "cross_entropy")
    torch.save(state, tmp_path / "a.pt")
    slots = (ids.UPLOAD_CHECKPOINT, ids.UPLOAD_CHECKPOINT2, ids.UPLOAD_CHECKPOINT3,
             ids.UPLOAD_DATA)
    out = validate(
        contents=dict.fromkeys(slots) | {
            ids.UPLOAD_CHECKPOINT: _data_url((tmp_path / "a.pt").read_bytes()),
            ids.UPLOAD_CHECKPOINT2: _data_url(good.read_bytes())},
        arch_typed=1, arch_text="{sizes: [2", data="moons", loss=None,
        filenames=dict.fromkeys(slots) | {ids.UPLOAD_CHECKPOINT: "a.pt",
                                          ids.UPLOAD_CHECKPOINT2: "b.safetensors"})
    statuses = out["statuses"]
    assert "the architecture is not valid JSON" in statuses[ids.ARCH].children
    assert statuses[ids.UPLOAD_CHECKPOINT2].children == "accepted: b.safetensors"
    assert "the dashboard's Architecture field" in statuses[ids.UPLOAD_CHECKPOINT].children
    assert set(out["keys"]) == {"checkpoint2"}
    again = validate(  # the field left again, nothing changed: the view is not started again
        contents=dict.fromkeys(slots) | {
            ids.UPLOAD_CHECKPOINT: _data_url((tmp_path / "a.pt").read_bytes()),
            ids.UPLOAD_CHECKPOINT2: _data_url(good.read_bytes())},
        arch_typed=2, arch_text="{sizes: [2", data="moons", loss=None, current=out["keys"],
        filenames=dict.fromkeys(slots) | {ids.UPLOAD_CHECKPOINT: "a.pt",
                                          ids.UPLOAD_CHECKPOINT2: "b.safetensors"})
    assert again["keys"] is no_update
    fixed = validate(contents=dict.fromkeys(slots) | {
                         ids.UPLOAD_CHECKPOINT: _data_url((tmp_path / "a.pt").read_bytes())},
                     arch_typed=2, arch_text=json.dumps(arch), data="moons", loss=None,
                     filenames=dict.fromkeys(slots) | {ids.UPLOAD_CHECKPOINT: "a.pt"})
    assert fixed["statuses"][ids.ARCH] == "" and set(fixed["keys"]) == {"checkpoint"}


@pytest.mark.parametrize("contents, filename, arch, words", [
    (5, "x.npz", None, "could not be decoded"),
    (["data:;base64,AA=="], "x.npz", None, "could not be decoded"),
    ("data:;base64,é", "x.npz", None, "could not be decoded"),  # not ASCII: was a ValueError
    ("data:;base64,AA==", None, None, "has no file name"),
    ("data:;base64,AA==", {"a": 1}, None, "has no file name"),
    ("data:;base64,AA==", "w.pt", ["{"], "architecture must be JSON text"),
    ("data:;base64,AA==", "w.pt", 5, "architecture must be JSON text"),
])
def test_upload_fields_no_page_sends_are_refused_with_a_reason(config, contents, filename, arch,
                                                                words):
    """What only a hand-made request sends as an upload (the panel showed "could not be read"
    and logged a traceback) is refused with the reason; nothing is stored."""
    from landscapes.errors import LandscapeError

    uploads = create_app(config).server.extensions["funnelscope_store"].uploads
    kind = "data" if filename == "x.npz" else "checkpoint"
    with pytest.raises(LandscapeError, match=words):
        accept_upload(uploads, kind, contents, filename, arch)
    if arch is None:
        with pytest.raises(LandscapeError, match=words):
            open_export(uploads, contents, filename)
    folder = config.cache_dir / "store" / "uploads"
    assert not folder.exists() or not any(folder.iterdir())


def test_an_accepted_checkpoint_shows_its_loss_next_to_its_name(config, tmp_path):
    import io

    from landscapes.networks.architectures import build_network
    from landscapes.networks.datasets import load_builtin
    from landscapes.networks.landscape import NetworkLandscape
    from landscapes.networks.uploads import save_checkpoint

    uploads = create_app(config).server.extensions["funnelscope_store"].uploads
    arch = {"type": "mlp", "sizes": [2, 4, 2], "act": "relu"}
    state = build_network(arch).state_dict()
    path = save_checkpoint(tmp_path / "net.safetensors", arch, state)
    keys = {"checkpoint": accept_upload(uploads, "checkpoint", _data_url(path.read_bytes()),
                                        "net.safetensors", None)}
    land = NetworkLandscape.create(arch, state, load_builtin("moons"), "cross_entropy")
    loss = float(land.evaluate(land.center[None])["loss"][0])
    text = accepted_text(uploads, "net.safetensors", keys, "moons", controls.LOSS_FROM_CHECKPOINT)
    assert text == (f"accepted: net.safetensors (mlp 2-4-2 relu; loss at this checkpoint "
                    f"{loss:.6g} (cross_entropy) on the train split of moons (1,000 samples))")
    # the data do not fit the network: accepted, and why no loss is shown
    text = accepted_text(uploads, "net.safetensors", keys, "digits", None)
    assert text.startswith("accepted: net.safetensors (loss not computed: data: samples have "
                           "shape (1, 8, 8)")
    buffer = io.BytesIO()
    np.savez(buffer, X=np.random.default_rng(0).normal(size=(50, 2)), y=np.arange(50) % 2)
    keys["data"] = accept_upload(uploads, "data", _data_url(buffer.getvalue()), "pts.npz", None)
    text = accepted_text(uploads, "net.safetensors", keys, "digits", "cross_entropy")
    assert "on the train split of pts.npz (40 samples))" in text


def test_an_opened_export_is_validated_stored_and_drawn(config):
    from landscapes.errors import LandscapeError
    from landscapes.io import formats

    uploads = create_app(config).server.extensions["funnelscope_store"].uploads
    result = views.compute({"model": "ising", "n": 8, "native_bias": 1},
                           {"view": "slice", "steps": 5})
    content = formats.to_bytes(result, "npz")
    figure, text = open_export(uploads, _data_url(content), "gpu-slice.npz")
    assert text == f"opened: gpu-slice.npz ({formats.describe(result.meta)})"
    assert figure.to_dict() == formats.figure(result).to_dict()
    stored = sorted(p.name for p in (config.cache_dir / "store" / "uploads").iterdir())
    assert stored == [f"{hashlib.sha256(content).hexdigest()}.export.npz"]
    with pytest.raises(LandscapeError, match="no 'meta' entry"):
        buffer = io.BytesIO()
        np.savez(buffer, values=np.zeros(3))
        open_export(uploads, _data_url(buffer.getvalue()), "plain.npz")
    assert sorted(p.name for p in (config.cache_dir / "store" / "uploads").iterdir()) == stored


def test_upload_limits_come_from_the_config(tmp_path):
    import torch

    from landscapes.errors import LandscapeError
    from landscapes.networks.architectures import build_network
    from landscapes.networks.uploads import save_checkpoint

    cfg = Config.from_env({"FUNNELSCOPE_CACHE_DIR": str(tmp_path / "c"),
                           "FUNNELSCOPE_MAX_PARAMETERS": "20", "FUNNELSCOPE_MAX_UPLOAD_MB": "0.001"})
    store = create_app(cfg).server.extensions["funnelscope_store"].uploads
    arch = {"type": "mlp", "sizes": [2, 8, 2], "act": "relu"}  # 42 parameters
    path = save_checkpoint(tmp_path / "n.safetensors", arch, build_network(arch).state_dict())
    with pytest.raises(LandscapeError, match="42 parameters, over the limit of 20"):
        store.put_checkpoint(path.read_bytes(), "n.safetensors")
    with pytest.raises(LandscapeError, match="over the upload limit"):
        store.put_data(b"x" * 2000, "big.npz")
    assert torch.get_num_threads() == cfg.torch_threads


def test_network_requests_follow_the_controls():
    example = panel_views.model_spec("network", 16, 0, 64, 3, 0, 5, {"source": "digits-cnn"})
    assert example == {"model": "network", "example": "digits-cnn"}
    slice_request, paths = panel_views.requests(example, 1.5, 21, None, None, None, None, "pca",
                                              "bezier", 5)
    assert slice_request == {"view": "slice", "dims": 2, "span": 1.5, "steps": 21,
                             "directions": "pca", "direction_seed": 5}
    assert paths == [{"view": "path", "from": "init", "to": "center", "kind": "bezier",
                      "steps": 41}]
    network = {"source": "upload", "uploaded": {"checkpoint": "a" * 64, "data": "b" * 64},
               "data": "moons", "loss": "cross_entropy"}
    upload = panel_views.model_spec("network", 16, 0, 64, 3, 0, 0, network)
    assert upload["data"] == "upload:" + "b" * 64 and upload["checkpoint2"] is None
    assert panel_views.requests(upload, 1, 21, None, None, None, None, "filter", "linear")[1] == []
    network["uploaded"]["checkpoint2"] = "c" * 64
    upload = panel_views.model_spec("network", 16, 0, 64, 3, 0, 0, network)
    _, paths = panel_views.requests(upload, 1, 21, None, None, None, None, "filter", "linear")
    assert (paths[0]["from"], paths[0]["to"]) == ("center", "checkpoint2")


def test_identical_requests_arriving_together_are_computed_once(config, monkeypatch):
    import threading
    import time

    calls = []
    real = views.compute

    def slow(*args, **kwargs):
        calls.append(args)
        time.sleep(0.5)  # long enough for the second request to arrive meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(views, "compute", slow)
    store = create_app(config).server.extensions["funnelscope_store"]
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.get(SPEC, SLICE)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(results) == 3
    assert all(np.array_equal(r.values, results[0].values) for r in results)


def test_progress_is_reported_while_a_view_is_computed(config):
    store = create_app(config).server.extensions["funnelscope_store"]
    seen = []
    store.get({"model": "pspin", "n": 12, "p": 3}, SLICE | {"steps": 101},
              lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (101 * 101, 101 * 101)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:], strict=False))


def test_status_banner_names_what_is_down():
    ok = {"cache": "ok", "views_dir": "skipped (RedisCache keeps no directory)", "broker": "ok"}
    assert status_message(ok) is None
    down = ok | {"broker": "Redis at redis://x does not answer (ConnectionError)"}
    message = status_message(down)
    assert "cannot be reached" in message and "ConnectionError" in message
    no_worker = ok | {"workers": "no background worker answers (start one: ...)"}
    assert status_message(no_worker).startswith("No background worker is running")
    oom = ok | {"cache": "ResponseError: OOM command not allowed when used memory > 'maxmemory'"}
    assert status_message(oom).startswith("Redis answers but does not keep views (ResponseError: OOM")


def test_status_banner_on_a_filesystem_cache_names_the_disk_not_redis():
    ok = {"cache": "ok", "views_dir": "ok", "store_dir": "ok", "jobs_dir": "ok"}
    full = "the disk holding /data/views is full (No space left on device)"
    message = status_message(ok | {"cache": "cache entries cannot be written: " + full,
                                   "views_dir": full})
    assert message == ("The cache directory cannot be written: " + full + ". Views are not kept "
                       "(each is computed again).")
    read_only = {name: f"/data/{name[:-4]} is on a read-only file system"
                 for name in ("views_dir", "store_dir", "jobs_dir")}
    message = status_message(ok | {"cache": "cache entries cannot be written: ..."} | read_only)
    assert "Redis" not in message
    assert message == (
        "The cache directory cannot be written: /data/views is on a read-only file system; "
        "/data/jobs is on a read-only file system; /data/store is on a read-only file system. "
        "Panels cannot be computed (their jobs are queued there), views are not kept (each is "
        "computed again), uploads cannot be stored.")
    assert status_message(ok | {"store_dir": "/data/store is not writable (permission denied)"}) \
        == ("The cache directory cannot be written: /data/store is not writable (permission "
            "denied). Uploads cannot be stored.")
    assert status_message(ok | {"readiness": "RuntimeError: x"}) == (
        "The server is not ready: readiness: RuntimeError: x")


def test_scripts_are_registered_before_the_first_request(config):
    """Dash registers its script paths lazily, on a worker's first request; with gthread workers
    a concurrent request could see a half-filled set and get a 500 (seen in the service tests).
    create_app registers them up front, so a worker's first request of any script succeeds."""
    import re
    from concurrent.futures import ThreadPoolExecutor

    page = create_app(config).server.test_client().get("/").data.decode()
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
    assert len(scripts) > 5
    fresh = create_app(config)  # another worker: nothing requested yet
    registered = {(ns, p) for ns, paths in fresh.registered_paths.items() for p in paths}
    assert len(registered) >= len(scripts)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda s: fresh.server.test_client().get(s).status_code, scripts))
    assert codes == [200] * len(scripts)


def _controls(**changes) -> dict:
    """A small Ising funnel view (N = 10; a 9x9 grid for the slice view)."""
    return panel_controls(**{ids.VIEW: "funnel", ids.STEPS: 9, ids.PATH_TO: "ground",
                             ids.REFERENCE: "native", **changes})


def test_funnel_panel_shows_the_enumerated_funnel_tree_and_paths(config):
    from landscapes.spin.barriers import barrier_tree, fold_mirror
    from landscapes.spin.enumeration import enumerate_ising
    from landscapes.spin.models import build_model

    store = create_app(config).server.extensions["funnelscope_store"]
    out = panel_output(store, _controls(), {})
    spec = {"model": "ising", "n": 10, "native_bias": 2.0, "seed": 3}
    result = enumerate_ising(build_model(spec))
    tree = fold_mirror(barrier_tree(result.energies, 10))
    assert out.messages == [] and out.diagram.data[0].type == "heatmap"
    assert out.surface.data[0].type == "surface" and out.surface.layout.scene.camera.eye.x
    assert np.allclose(out.tree.data[1].y, tree.minimum_energies)
    assert f"{len(tree.minima)} minima" in out.tree.layout.title.text
    assert [t.name for t in out.path.data] == ["linear", "geodesic"]  # random:0 -> ground
    assert out.path.data[0].y[-1] == pytest.approx(result.energies[result.ground], abs=1e-6)
    # the slider's data: F(Q; T) rows on the grid; the figure at T_f by default
    data = out.funnel_data
    assert len(data["free_energy"]) == len(data["temperatures"])
    fig = panel_views.free_energy_at(data, None)
    index = panel_views.default_temperature_index(data["temperatures"], data["folding_temperature"])
    assert data["temperatures"][index] == pytest.approx(data["folding_temperature"])
    assert np.allclose(fig.data[0].y, data["free_energy"][index])
    # the glass: funnel views refuse other models with a message
    pspin = panel_output(store, _controls(**{ids.MODEL: "pspin"}), {})
    assert "exactly for the Ising model" in pspin.messages[0]


def test_a_picked_temperature_comes_back_to_its_own_grid_point():
    """T_f is inserted into the log grid and may sit within 1e-4 of a grid point: the kept
    temperature is rounded to 4 digits only where it still finds its own point."""
    from landscapes.spin.funnel_views import temperature_grid

    base = np.geomspace(0.05, 10.0, 41)
    for folding in (base[39] * (1 - 4e-5), base[20] * (1 + 3e-5), 1.0, None):
        temps = temperature_grid(0.05, 10.0, 41, folding)
        for index in range(len(temps)):
            kept = panel_views.picked_temperature(temps, folding, index)
            back = panel_views.temperature_index(temps, folding, kept)
            assert back == index, (folding, index, kept)
    temps = temperature_grid(0.05, 10.0, 41, 1.0)
    assert panel_views.picked_temperature(temps, 1.0, 40) == 8.759  # rounded where it can be
    assert panel_views.temperature_index(temps, 1.0, 10**400) == \
        panel_views.default_temperature_index(temps, 1.0)


def test_tree_click_makes_the_minimum_the_paths_end():
    click = {"points": [{"curveNumber": 1, "customdata": [721, 0.25], "y": -0.5}]}
    assert clicked_state(click) == "state:721"
    assert clicked_state({"points": [{"curveNumber": 0}]}) is None
    assert clicked_state(None) is None
    options = [{"label": "native", "value": "native"}]
    once = with_option(options, "state:721")
    assert once[-1]["value"] == "state:721" and with_option(once, "state:721") == once


@pytest.mark.parametrize("click", [
    5, "funnel", [], {"points": 3}, {"points": [7]}, {"points": [{"customdata": 372377}]},
    {"points": [{"customdata": "through:"}]}, {"points": [{"customdata": {"a": 0}}]},
    {"points": [{"customdata": [-1]}]}, {"points": [{"customdata": [1e308]}]},
    {"points": [{"customdata": [float("nan")]}]}, {"points": [{"customdata": [True]}]},
    {"points": [{"customdata": ["7"]}]}, {"points": [{"customdata": [2.5]}]},
])
def test_click_data_no_graph_sends_is_no_click(click):
    """A hand-made request's click data, which made the callback fail with a 500, is ignored."""
    assert clicked_state(click) is None
    assert clicked_state({"points": [{"customdata": [721.0, 0.25]}]}) == "state:721"


def test_path_options_that_are_not_a_list_of_options_are_none():
    for options in (None, 5, "x", [3, None, "native"]):
        assert with_option(options, "state:1") == [
            {"label": "barrier-tree minimum (state 1)", "value": "state:1"}]


def test_sweep_and_minima_panels(config):
    store = create_app(config).server.extensions["funnelscope_store"]
    sweep = panel_output(store, _controls(**{ids.VIEW: "sweep"}), {})
    result = store.get({"model": "ising", "n": 10, "native_bias": 2.0, "seed": 3},
                       {"view": "sweep"})
    assert [row["N"] for row in sweep.table] == list(result.arrays["sizes"])
    assert sweep.funnel_data is None and sweep.messages == []
    minima = panel_output(store, _controls(**{ids.VIEW: "minima",
                                                        ids.MODEL: "pspin"}), {})
    hit = store.cached({"model": "pspin", "n": 16, "p": 3, "planted": 0.0, "seed": 3},
                       {"view": "minima"})
    assert hit is not None and minima.messages == []
    assert minima.surface.data[0].type == "histogram"
    upload = panel_output(store, _controls(**{ids.VIEW: "minima",
                                                        ids.MODEL: "network",
                                                        ids.NET_SOURCE: "upload"}), {})
    assert "example networks" in upload.messages[0]


def test_the_spectrum_panel_network_beside_glass_and_no_ising(config):
    """A network's spectrum is its spectrum view (the trace and the top eigenvalue in the title
    are the cached result's); the p-spin glass's is its lowest minimum's Hessian beside the
    semicircle, its minima below; the Ising model is refused with what to choose."""
    store = create_app(config).server.extensions["funnelscope_store"]
    net = panel_output(store, _controls(**{ids.VIEW: "spectrum", ids.MODEL: "network"}), {})
    seed = _controls()[ids.SEED]  # the probes' seed
    result = store.cached({"model": "network", "example": "moons-mlp"},
                          {"view": "spectrum", "seed": seed})
    assert result is not None and net.messages == []
    title = net.surface.layout.title.text
    assert f"trace {float(result.arrays['trace']):.4g} +- " in title
    assert f"top eigenvalue {result.arrays['top_eigenvalues'][0]:.4g}" in title
    np.testing.assert_allclose(np.maximum(result.arrays["density"], 0), np.asarray(
        net.surface.data[0].y, float), rtol=1e-6, atol=float(result.arrays["density"].max()) * 1e-7)
    glass = panel_output(store, _controls(**{ids.VIEW: "spectrum", ids.MODEL: "pspin"}), {})
    exact = store.cached({"model": "pspin", "n": 16, "p": 3, "planted": 0.0, "seed": 3},
                         {"view": "spectrum"})
    assert glass.messages == [] and exact is not None and len(exact.arrays["eigenvalues"]) == 15
    assert [t.name for t in glass.surface.data] == [
        "spectrum (15 eigenvalues)", "semicircle law (large N)"]
    np.testing.assert_allclose(np.sort(np.asarray(glass.surface.data[0].x, float)),
                               exact.arrays["eigenvalues"], rtol=1e-6)
    ising = panel_output(store, _controls(**{ids.VIEW: "spectrum"}), {})
    assert ising.surface is None
    assert "choose the p-spin glass or a network" in ising.messages[0]


def test_view_kinds_show_their_controls():
    from app.layout import HIDDEN, SHOWN, area_styles

    def shown(model: str, view: str, *areas: str) -> tuple[dict, ...]:
        styles = area_styles({ids.MODEL: model, ids.VIEW: view, ids.NET_SOURCE: "moons-mlp"})
        return tuple(styles[area] for area in areas)

    views_ = (ids.SLICE_CONTROLS, ids.FUNNEL_CONTROLS, ids.FUNNEL_EXTRAS, ids.SWEEP_TABLE, ids.PATH)
    assert shown("ising", "funnel", *views_) == (HIDDEN, SHOWN, SHOWN, HIDDEN, SHOWN)
    assert shown("ising", "sweep", *views_) == (HIDDEN, HIDDEN, HIDDEN, SHOWN, HIDDEN)
    spin = (ids.SPIN_VIEW_CONTROLS, ids.SPIN_PLANE_CONTROLS)  # path ends, slice plane
    assert shown("ising", "sweep", *spin) == (HIDDEN, HIDDEN)
    assert shown("pspin", "funnel", *spin) == (SHOWN, HIDDEN)  # the funnel draws no slice
    # a glass's funnel or sweep is refused: no stale Ising tree, diagram or table under it
    assert shown("pspin", "funnel", ids.FUNNEL_EXTRAS) == (HIDDEN,)
    assert shown("network", "sweep", ids.SWEEP_TABLE) == (HIDDEN,)
    assert shown("ising", "slice", *spin) == (SHOWN, SHOWN)
    assert shown("network", "slice", *spin) == (HIDDEN, HIDDEN)  # the network's own
    assert shown("network", "slice", ids.UPLOAD_GROUP) == (HIDDEN,)
    assert area_styles({ids.MODEL: "network", ids.VIEW: "slice",
                        ids.NET_SOURCE: "upload"})[ids.UPLOAD_GROUP] == SHOWN


def test_slice_preview_is_coarse_first_then_the_cached_grid(config):
    store = create_app(config).server.extensions["funnelscope_store"]
    spec = {"model": "pspin", "n": 16, "p": 3, "seed": 0}
    request = {"view": "slice", "steps": 31, "span": 1.0}
    assert panel_views.slice_preview(store, spec, request) is None  # nothing cached: no work
    store.get(spec, {**request, "steps": 13})
    coarse = panel_views.slice_preview(store, spec, request)
    assert np.asarray(coarse.data[0].z).shape == (13, 13)
    assert "preview 13x13: refining to 31x31" in coarse.layout.title.text
    assert coarse.layout.uirevision == "landscape"  # the camera stays
    expected = views.compute(spec, {**request, "steps": 13})
    assert np.allclose(np.asarray(coarse.data[0].z), expected.values, atol=1e-6)
    full = store.get(spec, request)
    again = panel_views.slice_preview(store, spec, request)
    assert np.asarray(again.data[0].z).shape == (31, 31) and "preview" not in again.layout.title.text
    assert np.allclose(np.asarray(again.data[0].z), full.values, atol=1e-6)
    assert panel_views.slice_preview(store, spec, {**request, "steps": 11}) is None
    too_big = {"model": "pspin", "n": 128, "p": 4}
    assert panel_views.slice_preview(store, too_big, request) is None  # the full job reports it


def test_the_coarse_grid_of_settings_that_name_no_view_is_none(config):
    """The job's preview of a slice the store refuses (an unknown model, steps that are not a
    number) is None, as its docstring says, and the panel shows the refusal: before, the cache
    lookup raised and the panel read "internal error"."""
    store = create_app(config).server.extensions["funnelscope_store"]
    request = {"view": "slice", "steps": 21, "span": 1.0}
    assert panel_views.coarse_preview(store, {"model": "isin", "n": 10}, request) is None
    for steps in (None, [21], "21", True):
        assert panel_views.coarse_preview(store, SPEC, {**request, "steps": steps}) is None
    shown = []
    out = panel_output(store, panel_controls(**{ids.MODEL: "isin"}), None, preview=shown.append)
    assert out.messages == ["unknown model 'isin'; choose ising, network or pspin"] and not shown


def test_the_job_sends_the_coarse_grid_before_the_requested_one(config):
    store = create_app(config).server.extensions["funnelscope_store"]
    spec = {"model": "ising", "n": 12, "native_bias": 2.0, "seed": 3}
    request = {"view": "slice", "steps": 31, "span": 1.0}
    sent, computed = [], []
    progress = lambda done, total: computed.append(len(sent))  # noqa: E731
    out = panel_views.slice_panel(store, spec, request, [], progress, preview=sent.append)
    assert len(sent) == 1 and set(computed) == {1}  # the preview came before the full grid
    assert "preview 13x13: refining to 31x31" in sent[0].layout.title.text
    expected = views.compute(spec, {**request, "steps": 13}).values
    assert np.allclose(np.asarray(sent[0].data[0].z), expected, atol=1e-6)
    assert np.asarray(out.surface.data[0].z).shape == (31, 31)
    sent.clear()  # cached now: no preview, the grid itself comes at once
    panel_views.slice_panel(store, spec, request, [], preview=sent.append)
    assert sent == []
    coarse_only = {**request, "steps": 13}
    panel_views.slice_panel(store, spec, coarse_only, [], preview=sent.append)
    assert sent == []  # nothing coarser to show
    too_big = {"model": "pspin", "n": 128, "p": 4}
    out = panel_views.slice_panel(store, too_big, request, [], preview=sent.append)
    assert sent == [] and "n=128" in " ".join(out.messages)  # the requested grid reports it


def test_display_options_change_the_drawing_only(config, monkeypatch):
    store = create_app(config).server.extensions["funnelscope_store"]
    spec = {"model": "ising", "n": 10, "native_bias": 2.0, "seed": 1}
    request = {"view": "slice", "steps": 9, "span": 1.0}
    assert panel_views.redisplay(store, spec, request, {"log": True}) is None  # nothing cached
    result = store.get(spec, request)
    calls = []
    monkeypatch.setattr(views, "compute", lambda *a, **k: calls.append(a))
    fig = panel_views.redisplay(store, spec, request, {"colorscale": "Cividis", "clip": 95.0})
    assert calls == [] and fig.data[0].colorscale[0][1] == "#00224e"  # Cividis starts dark blue
    z = np.asarray(fig.data[0].z)
    cap = np.percentile(result.values, 95)
    assert z.max() == pytest.approx(cap, rel=1e-6) and np.sum(result.values > cap) > 0
    assert "above the 95th percentile" in fig.layout.title.text
    # energies are negative: a log scale is refused with a note, never a broken plot
    fig = panel_views.redisplay(store, spec, request, {"log": True})
    assert "log scale needs positive values" in fig.layout.title.text
    assert np.allclose(np.asarray(fig.data[0].z), result.values, atol=1e-6)


def test_display_values_log_and_gaps():
    values = np.array([[1.0, 10.0], [np.inf, 100.0]])
    z, label, notes = figures.display_values(values, "loss", {"log": True})
    assert label == "log10 loss" and np.isnan(z[1, 0])
    assert np.allclose(z[[0, 0, 1], [0, 1, 1]], [0.0, 1.0, 2.0])
    assert notes == ["1 non-finite value (diverged) shown as gaps"]
    assert display_options("Magma", ["log"], 99, "contour", 12, 1e-3, 0.25, -0.5) == {
        "colorscale": "Magma", "log": True, "clip": 99.0, "kind": "contour", "levels": 12,
        "weight_decay": 1e-3, "level": 0.25, "plane": -0.5}
    assert display_options(None, [], 0) == {
        "colorscale": "Viridis", "log": False, "clip": None, "kind": "surface", "levels": 20,
        "weight_decay": 0.0, "level": 0.5, "plane": 0.0}
    junk = display_options(None, [], 0, level=float("nan"), plane=7)
    assert (junk["level"], junk["plane"]) == (0.5, 1.0)  # the default; the end of the range
    assert display_options(None, [], 0, weight_decay=0.5)["weight_decay"] == 0.0


@pytest.mark.parametrize("colorscale, log, clip", [
    (["Magma"], 5, [99]), ({"a": 1}, "log", {"a": 1}), ("Jet", {"log": 1}, "\x00" * 9),
    (5, None, float("nan")), (None, True, 1e308), (None, [], -5), (None, [], "99x"), (None, [], True),
])
def test_display_options_of_a_hand_made_request_fall_back_to_the_defaults(colorscale, log, clip):
    """Values no display control sends (they made the redraw, preview, job and download callbacks
    fail) draw with the default colours, no log scale and no clipping."""
    options = display_options(colorscale, log, clip)
    assert options["colorscale"] == "Viridis" and options["clip"] is None
    assert options["log"] is (log == ["log"])
    assert display_options("Magma", ("log",), "95")["clip"] == 95.0
    # a cleared or out-of-range number input, an unknown plot type: the nearest valid drawing
    assert display_options(None, [], 0, "pie", None)["kind"] == "surface"
    assert display_options(None, [], 0, "heatmap", None)["levels"] == 20
    assert display_options(None, [], 0, None, 2)["levels"] == 5
    assert display_options(None, [], 0, None, 600.0)["levels"] == 60
    assert display_options(None, [], 0, None, 12.0)["levels"] == 12


def _contour_lines(trace) -> list[float]:
    """The levels Plotly draws for explicit contours: start, start + size, ... up to end."""
    c = trace.contours if trace.type == "contour" else trace.contours.z
    count = int(round((c.end - c.start) / c.size)) + 1
    return [c.start + k * c.size for k in range(count)]


@pytest.mark.parametrize("kind", ["contour", "heatmap"])
def test_contour_and_heatmap_draw_the_same_values_in_2d(kind):
    spec = {"model": "pspin", "n": 16, "p": 3, "seed": 0}
    result = views.compute(spec, SLICE | {"directions": "through:minimum:1,minimum:2"})
    display = {"kind": kind, "levels": 7, "clip": 95.0, "colorscale": "Magma"}
    fig = figures.surface_figure(result, display)
    trace = fig.data[0]
    assert trace.type == kind
    expected, unit, _ = figures.display_values(result.values, "energy per spin", display)
    np.testing.assert_array_equal(np.asarray(trace.z), expected)  # after clip, float32
    assert np.asarray(trace.z).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(trace.x), result.axes[0].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(trace.y), result.axes[1].astype(np.float32))
    assert trace.colorbar.title.text == unit == "energy per spin"
    assert trace.colorscale[0][1] == "#000004"  # Magma starts black
    assert fig.layout.xaxis.title.text == "a (coefficient along d1)"
    assert fig.layout.yaxis.title.text == "b (coefficient along d2)"
    assert fig.layout.uirevision == "landscape"
    assert "scene" not in fig.to_plotly_json()["layout"]  # no 3D scene: no camera to sync
    assert all(t.type == "scatter" for t in fig.data[1:])  # the marks, flat
    assert [(m.x[0], m.y[0]) for m in fig.data[2:]] == [(1.0, 0.0), (0.0, 1.0)]
    assert fig.data[2].customdata[0] == pytest.approx(result.values[4, 8], rel=1e-6)
    if kind == "contour":  # 7 lines evenly inside the drawn range
        lo, hi = float(np.nanmin(expected)), float(np.nanmax(expected))
        assert trace.autocontour is False and trace.contours.coloring == "fill"
        assert trace.contours.size == pytest.approx((hi - lo) / 8)
        lines = _contour_lines(trace)
        assert len(lines) == 7 and lines[0] > lo and lines[-1] < hi


def test_contour_levels_set_the_surface_floor():
    result = views.compute(SPEC, SLICE)
    for levels in (5, 33):
        surface = figures.surface_figure(result, {"levels": levels}).data[0]
        assert surface.type == "surface" and surface.contours.z.project.z
        assert len(_contour_lines(surface)) == levels
        lo, hi = result.values.min(), result.values.max()
        assert surface.contours.z.size == pytest.approx((hi - lo) / (levels + 1), rel=1e-5)
    flat = figures.contour_spacing(np.full((3, 3), 2.0), 10)
    assert flat is None and figures.contour_spacing(np.full(4, np.nan), 10) is None


def test_plot_type_and_levels_redraw_from_the_cache_only(config, monkeypatch):
    store = create_app(config).server.extensions["funnelscope_store"]
    controls = _controls(**{ids.VIEW: "slice"})
    spec, request = grid_request_of(controls, {})
    result = store.get(spec, request)
    monkeypatch.setattr(views, "compute", lambda *a, **k: pytest.fail("recomputed"))
    for kind, trace_type in (("heatmap", "heatmap"), ("contour", "contour"),
                             ("surface", "surface")):
        display = display_options("Viridis", [], 0, kind, 9)
        fig = panel_views.redisplay(store, spec, request, display)
        assert fig.data[0].type == trace_type
        np.testing.assert_array_equal(np.asarray(fig.data[0].z), result.values.astype(np.float32))
    assert len(_contour_lines(fig.data[0])) == 9


def test_weight_decay_redraws_a_network_slice_with_lambda_theta_squared(config, monkeypatch):
    store = create_app(config).server.extensions["funnelscope_store"]
    spec = {"model": "network", "example": "moons-mlp"}
    request = {"view": "slice", "dims": 2, "steps": 9, "span": 1.0}
    result = store.get(spec, request)
    calls = []
    monkeypatch.setattr(views, "compute", lambda *a, **k: calls.append(a))  # redraws only
    lam = 1e-2
    fig = panel_views.redisplay(store, spec, request, {"weight_decay": lam})
    norms = np.linalg.norm(result.points(), axis=1).reshape(9, 9) ** 2
    assert np.allclose(np.asarray(fig.data[0].z), result.values + lam * norms, rtol=1e-5)
    assert "weight decay: 0.01 |theta|^2 added" in fig.layout.title.text
    centre = np.asarray(fig.data[1].z)[0]  # the centre mark sits on the decayed surface
    assert np.isclose(centre, result.meta["center_energy"] + lam * norms[4, 4], rtol=1e-5)
    plain = panel_views.redisplay(store, spec, request, {"weight_decay": 0.0})
    assert np.allclose(np.asarray(plain.data[0].z), result.values, rtol=1e-6)
    assert calls == []
    spin = {"model": "ising", "n": 10, "native_bias": 2.0, "seed": 1}
    store_spin = create_app(config).server.extensions["funnelscope_store"]
    monkeypatch.undo()
    store_spin.get(spin, request)
    fig = panel_views.redisplay(store_spin, spin, request, {"weight_decay": lam})
    assert "weight decay applies to networks only" in fig.layout.title.text


def test_the_loss_control_follows_the_checkpoint_unless_told_otherwise(config, tmp_path):
    from landscapes.networks.architectures import build_network
    from landscapes.networks.uploads import save_checkpoint

    store = create_app(config).server.extensions["funnelscope_store"]
    arch = {"type": "mlp", "sizes": [2, 4, 1], "act": "relu"}
    path = save_checkpoint(tmp_path / "r.safetensors", arch, build_network(arch).state_dict(), "mse")
    key = accept_upload(store.uploads, "checkpoint", _data_url(path.read_bytes()),
                                  "r.safetensors", None)
    panel = panel_controls(**{ids.MODEL: "network", ids.NET_SOURCE: "upload",
                              ids.NET_DATA: "multiply", ids.STEPS: 21})
    loss = controls.BY_NAME[ids.NET_LOSS]
    assert loss.values()[0] == loss.default == panel[ids.NET_LOSS] == controls.LOSS_FROM_CHECKPOINT
    named = panel_output(store, panel, {"checkpoint": key})
    result = store.cached(*grid_request_of(panel, {"checkpoint": key}))
    assert result.meta["loss"] == "mse" and not named.messages  # the checkpoint's own loss
    overridden = panel_output(store, {**panel, ids.NET_LOSS: "cross_entropy"},
                                        {"checkpoint": key})
    assert "cross_entropy needs class indices" in overridden.messages[0]  # what to change


def test_display_options_changed_while_a_job_ran_are_applied_when_it_ends(config):
    store = create_app(config).server.extensions["funnelscope_store"]
    panel = panel_controls(**{ids.VIEW: "slice", ids.STEPS: 9})
    old = display_options("Viridis", [], 0)
    new = display_options("Cividis", [], 95)
    # the job started with the old options; the change finds nothing cached to redraw
    assert redrawn(store, panel, {}, new) is None
    out = panel_output(store, panel, {}, display=old)  # the job: draws and caches
    assert out.surface.data[0].colorscale[0][1] == "#440154"  # Viridis
    fig = redrawn(store, panel, {}, new, drawn=old)  # its end: the options moved on
    assert fig.data[0].colorscale[0][1] == "#00224e"  # Cividis
    result = store.cached(*grid_request_of(panel, {}))
    cap = np.percentile(result.values, 95)  # clipped at the 95th percentile, from the cache
    np.testing.assert_allclose(np.asarray(fig.data[0].z, dtype=float),
                               np.minimum(result.values, cap), rtol=1e-6)
    assert redrawn(store, panel, {}, new, drawn=new) is None  # drawn so already
    assert redrawn(store, {**panel, ids.VIEW: "funnel"}, {}, new) is None


def test_the_path_graph_is_redrawn_with_the_display_options_from_the_cache(config, monkeypatch):
    store = create_app(config).server.extensions["funnelscope_store"]
    panel = panel_controls(**{ids.MODEL: "ising", ids.ISING_N: 10, ids.STEPS: 9})
    requests = panel_requests(panel, {})
    clip = display_options("Viridis", [], 95)
    assert panel_views.path_redisplay(store, "slice", requests, clip) is None  # nothing cached
    panel_output(store, panel, {})  # the job: computes and caches the slice and its paths
    monkeypatch.setattr(views, "compute", lambda *a, **k: pytest.fail("recomputed"))
    fig = panel_views.path_redisplay(store, "slice", requests, clip)
    paths = [store.cached(requests.spec, r) for r in requests.path_requests]
    values = np.concatenate([p.values for p in paths]).astype(np.float32).astype(float)
    cap = np.percentile(values, 95)
    for trace, path in zip(fig.data, paths, strict=True):
        np.testing.assert_allclose(np.asarray(trace.y, dtype=float),
                                   np.minimum(path.values, cap), rtol=1e-6)
    assert "above the 95th percentile" in fig.layout.title.text
    assert panel_views.path_redisplay(store, "funnel", requests, clip) is not None
    # views whose path graph shows no paths, or a model the funnel is not computed for
    assert panel_views.path_redisplay(store, "sweep", requests, clip) is None
    assert panel_views.path_redisplay(store, "minima", requests, clip) is None
    glass = panel_requests({**panel, ids.MODEL: "pspin"}, {})
    assert panel_views.path_redisplay(store, "funnel", glass, clip) is None


def test_settings_that_name_no_view_are_reported_as_such_not_as_a_cache_failure(config, caplog):
    from landscapes.errors import LandscapeError

    store = create_app(config).server.extensions["funnelscope_store"]
    panel = panel_controls(**{ids.MODEL: "network", ids.NET_SOURCE: "upload"})  # no checkpoint
    display = display_options("Cividis", [], 0)
    with caplog.at_level("WARNING"):
        assert redrawn(store, panel, {}, display) is None  # no redraw, no error
        with pytest.raises(LandscapeError, match="choose an example or upload a checkpoint"):
            store.cached(*grid_request_of(panel, {}))
        data, status = download_file(store, panel, {}, "npz")
    assert data is None and "choose an example or upload a checkpoint" in status
    assert "cache unreachable" not in caplog.text


def test_clientside_callbacks_call_functions_of_the_page_script():
    """Every ClientsideFunction names a function that assets/funnelscope.js defines in its
    namespace; the script's constants come from the clientside-config store, not templating."""
    import re

    from app import layout
    from app.callbacks import camera
    from app.main import ASSETS
    from tests.unit.panels import components

    script = (ASSETS / "funnelscope.js").read_text()
    defined = set(re.findall(r"^      (\w+): function", script, re.MULTILINE))
    app = create_app()
    functions = [c["clientside_function"] for c in app._callback_list
                 if c.get("clientside_function")]
    assert {f["namespace"] for f in functions} == {camera.NAMESPACE}
    called = {f["function_name"] for f in functions}
    assert called == defined == {"cameraSync", "applyCamera", "pushUrl", "copyLink", "clientId",
                                 "urlChanged", "showSurface"}
    assert f"{camera.NAMESPACE}: {{" in script and "%(" not in script
    store = next(c for c in components(layout.build()) if getattr(c, "id", None) == ids.CLIENTSIDE)
    assert store.data["graphs"] == {side: ids.pid(side, ids.SURFACE) for side in ids.PANELS}
    assert store.data["copyStatus"] == ids.COPY_STATUS and store.data["pendingMs"] > 0


def test_a_main_figure_carries_a_digest_of_itself():
    """Equal results drawn alike give equal ``datarevision`` digests; any change of data or
    drawing gives another (the page skips redrawing a surface whose digest it shows)."""
    a, b = views.compute(SPEC, SLICE), views.compute(SPEC, SLICE)
    other = views.compute({**SPEC, "seed": 2}, SLICE)
    digest = panel_views.main_figure(a).layout.datarevision
    assert isinstance(digest, str) and len(digest) == 24
    assert panel_views.main_figure(b).layout.datarevision == digest
    assert panel_views.main_figure(other).layout.datarevision != digest
    assert panel_views.main_figure(a, {"colorscale": "Cividis"}).layout.datarevision != digest
    assert panel_views.main_figure(a, {"kind": "contour"}).layout.datarevision != digest


@needs_node
def test_a_job_surface_is_drawn_unless_the_graph_shows_it_already():
    """``showSurface`` (app/assets/funnelscope.js): the job's figure, or no_update (None) when
    the graph's figure has the same digest; figures without one are always drawn -- except a
    message (no traces) over a drawn view, which stays."""
    fig = {"data": [{"type": "surface"}], "layout": {"datarevision": "abc"}}
    plain = {"data": [{"type": "surface"}], "layout": {}}
    message = {"data": [], "layout": {"annotations": [{"text": "upload a checkpoint"}]}}
    out = clientside.call("showSurface", [
        [fig, {"layout": {"datarevision": "abc"}}], [fig, {"layout": {"datarevision": "xyz"}}],
        [fig, None], [plain, plain], [plain, fig], [message, fig], [message, None],
        [message, {"data": [], "layout": {}}], [fig, message]])
    assert out == [None, fig, fig, plain, plain, None, message, message, fig]


def test_the_volume_view_draws_a_level_set_cut_by_a_plane_and_redraws_from_the_cache(
        config, monkeypatch):
    """The volume view: the panel's slice in three dimensions on its own grid (13^3 here), one
    level set and the plane nearest the chosen c; both redraw from the cache, and the Download
    buttons save the volume itself."""
    store = create_app(config).server.extensions["funnelscope_store"]
    panel = panel_controls(**{ids.MODEL: "pspin", ids.VIEW: "volume", ids.DIRECTIONS: THROUGH_MINIMA})
    out = panel_output(store, panel, {}, display=display_options("Viridis", [], 0))
    assert not out.messages
    volume, plane = out.surface.data
    spec, request = download_request(panel, {})
    assert request["dims"] == 3 and request["steps"] == 13
    assert request["directions"] == "through:minimum:1,minimum:2,minimum:3"
    result = store.cached(spec, request)
    lo, hi = float(result.values.min()), float(result.values.max())
    assert volume.type == "isosurface" and volume.isomin == pytest.approx((lo + hi) / 2)
    np.testing.assert_allclose(np.asarray(plane.surfacecolor), result.values[6], rtol=1e-6)
    monkeypatch.setattr(views, "compute", lambda *a, **k: pytest.fail("recomputed"))
    moved = display_options("Viridis", [], 0, level=0.1, plane=-1.0)
    fig = redrawn(store, panel, {}, moved)
    assert fig.data[0].isomin == pytest.approx(lo + 0.1 * (hi - lo), rel=1e-5)
    np.testing.assert_allclose(np.asarray(fig.data[1].surfacecolor), result.values[0], rtol=1e-6)
    assert len(out.path.data) == 2  # the paths below, as in the slice view
