"""Networks in a real browser: an example's surface, an uploaded checkpoint (and its centre loss),
a refused upload, an opened .npz export."""

import contextlib
import pickle
import time
from pathlib import Path

import psutil
import torch
from playwright.sync_api import Page, expect

from landscapes import chunks
from landscapes.networks.architectures import build_network
from landscapes.networks.uploads import save_checkpoint

UPDATE_MS = 120_000
TITLE = "() => document.querySelector('#{side}-surface .js-plotly-plot').layout.title?.text || ''"


class _Exploit:
    """A pickle that would write ``marker`` if anything ever unpickled it without weights_only."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _wait_title(page: Page, side: str, text: str) -> None:
    """Wait for the requested grid's surface (not its coarse preview) with ``text`` in its title."""
    title = f"({TITLE.format(side=side)})()"
    page.wait_for_function(f"() => {title}.includes({text!r}) && !{title}.includes('preview')",
                           timeout=UPDATE_MS)


def _choose_network(page: Page, side: str) -> None:
    page.locator(f"#{side}-steps").get_by_label("21", exact=True).check()
    page.locator(f"#{side}-model").get_by_label("Network").check()
    _wait_title(page, side, "network: moons-mlp")


def test_example_network_surface_and_path(dashboard: Page, browser_errors: list[str]) -> None:
    _choose_network(dashboard, "left")
    expect(dashboard.locator("#left-network-controls")).to_be_visible()
    expect(dashboard.locator("#left-spin-view-controls")).to_be_hidden()
    # the surface may come from the quick preview callback (the full grid, once cached) a moment
    # before the background job delivers the path
    dashboard.wait_for_function(
        "() => document.querySelector('#left-path .js-plotly-plot').data.map(t => t.name)"
        ".join() === 'train,test'", timeout=UPDATE_MS)
    z = dashboard.evaluate(
        "() => { const s = document.querySelector('#left-surface .js-plotly-plot')._fullData[0];"
        " return [s.type, s.z.length]; }"
    )
    assert z == ["surface", 21]
    assert browser_errors == []


def test_upload_a_checkpoint_and_see_its_surface(
    dashboard: Page, browser_errors: list[str], tmp_path: Path
) -> None:
    torch.manual_seed(3)
    arch = {"type": "mlp", "sizes": [2, 16, 2], "act": "tanh"}
    good = save_checkpoint(tmp_path / "mine.safetensors", arch, build_network(arch).state_dict(),
                           "cross_entropy")
    _choose_network(dashboard, "right")
    dashboard.locator("#right-net-source").click()
    dashboard.get_by_text("my upload", exact=True).click()
    upload = dashboard.locator("#right-upload-checkpoint input[type=file]")
    upload.set_input_files(str(good))
    expect(dashboard.locator("#right-upload-checkpoint-status")).to_contain_text(
        "accepted: mine.safetensors", timeout=UPDATE_MS)
    expect(dashboard.locator("#right-upload-checkpoint-status")).to_contain_text(
        "mlp 2-16-2 tanh; loss at this checkpoint ")  # the centre loss beside the name
    _wait_title(dashboard, "right", "uploaded checkpoint (MLP 2-16-2) on moons")
    expect(dashboard.locator("#right-path")).to_contain_text("upload a second checkpoint")

    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pt"
    torch.save({"weight": _Exploit(marker)}, evil, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    upload.set_input_files(str(evil))
    status = dashboard.locator("#right-upload-checkpoint-status")
    expect(status).to_contain_text("not loaded", timeout=UPDATE_MS)
    expect(status).to_contain_text("evil.pt")
    assert not marker.exists(), "the malicious pickle ran on the server"
    # the server keeps serving: the left panel still recomputes
    dashboard.locator("#left-model").get_by_label("p-spin glass").check()
    _wait_title(dashboard, "left", "p-spin glass")
    assert "Traceback" not in dashboard.content()
    assert browser_errors == []


def test_open_an_export_in_a_panel(dashboard: Page, browser_errors: list[str],
                                   tmp_path: Path) -> None:
    from landscapes import views
    from landscapes.io import formats

    result = views.compute({"model": "ising", "n": 8, "native_bias": 1},
                           {"view": "slice", "steps": 5})
    path = formats.write(result, tmp_path / "offline-slice.npz")
    _wait_title(dashboard, "left", "Ising spin funnel")  # the panel's own view first
    dashboard.locator("#left-open-export input[type=file]").set_input_files(str(path))
    expect(dashboard.locator("#left-open-export-status")).to_contain_text(
        "opened: offline-slice.npz (ising n=8", timeout=UPDATE_MS)
    _wait_title(dashboard, "left", "N=8, J0=1")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    dashboard.locator("#left-open-export input[type=file]").set_input_files(
        str(tmp_path / "junk.npz"))
    expect(dashboard.locator("#left-open-export-status")).to_contain_text(
        "junk.npz: not an .npz file", timeout=UPDATE_MS)
    assert browser_errors == []


def test_long_work_shows_progress_and_can_be_cancelled(
    dashboard: Page, browser_errors: list[str]
) -> None:
    _choose_network(dashboard, "left")  # 21x21 moons MLP, the CNN, then its minima
    dashboard.locator("#left-net-source").click()
    dashboard.get_by_text("example: digits-cnn", exact=True).click()
    _wait_title(dashboard, "left", "network: digits-cnn")  # no other job left to report
    dashboard.locator("#left-view").get_by_label("minima statistics").check()  # 8 trainings
    row = dashboard.locator("#left-progress-row")
    expect(row).to_be_visible(timeout=UPDATE_MS)
    bar = dashboard.locator("#left-progress")
    dashboard.wait_for_function(  # a training or more done, more to come
        "() => { const b = document.querySelector('#left-progress');"
        " return Number(b.max) === 8 && Number(b.value) >= 1; }", timeout=UPDATE_MS  # ~7 s each
    )
    assert 1 <= float(bar.get_attribute("value")) < 8
    dashboard.locator("#left-cancel").click()
    expect(row).to_be_hidden(timeout=30_000)
    # (what the surface shows next is not asserted: the cancelled request can be asked again
    # when the URL state re-applies the controls)
    # the app keeps serving after a cancelled job
    dashboard.locator("#left-view").get_by_label("slice and path").check()
    dashboard.locator("#left-model").get_by_label("p-spin glass").check()
    _wait_title(dashboard, "left", "p-spin glass")
    assert browser_errors == []


def test_a_slice_shows_its_coarse_grid_first(dashboard: Page, browser_errors: list[str]) -> None:
    # every title the left surface shows, recorded every 20 ms from before the change
    dashboard.evaluate(
        "() => { window.titles = []; setInterval(() => { const t = ("
        + TITLE.format(side="left") + ")(); if (t && window.titles.at(-1) !== t)"
        " window.titles.push(t); }, 20); }"
    )
    dashboard.locator("#left-seed").fill("11")  # a seed no other test uses: nothing cached
    dashboard.locator("#left-steps").get_by_label("51", exact=True).check()
    dashboard.locator("#left-model").get_by_label("Network").check()
    _wait_title(dashboard, "left", "network: moons-mlp")
    titles = [t for t in dashboard.evaluate("() => window.titles") if "network" in t]
    assert "preview 13x13: refining to 51x51" in titles[0], titles  # the job's coarse grid
    assert "preview" not in titles[-1]
    z = dashboard.evaluate(
        "() => document.querySelector('#left-surface .js-plotly-plot')._fullData[0].z.length")
    assert z == 51
    assert browser_errors == []


def _pool_workers(server: psutil.Process) -> list[psutil.Process]:
    """Processes forked by a panel job's process (server -> job server -> job -> worker)."""
    found = []
    for process in server.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, AttributeError):
            if process.parent().parent().parent().pid == server.pid:
                found.append(process)
    return found


def test_a_large_slice_computes_on_every_core(dashboard: Page, dashboard_server,
                                             browser_errors: list[str]) -> None:
    """A 51x51 digits-CNN slice (41 blocks of 64 points) is computed by its panel job on
    processes it forks (cores // torch threads, as far as 16 blocks each go); they end with
    the job."""
    port = int(dashboard_server[0].rsplit(":", 1)[1])
    server = next(p for p in psutil.Process().children()
                  if any(f"port={port}" in part for part in p.cmdline()))
    dashboard.locator("#left-seed").fill("12")  # directions no other test draws: not cached
    dashboard.locator("#left-steps").get_by_label("51", exact=True).check()
    dashboard.locator("#left-model").get_by_label("Network").check()
    _wait_title(dashboard, "left", "network: moons-mlp")
    dashboard.locator("#left-net-source").click()
    dashboard.get_by_text("example: digits-cnn", exact=True).click()
    seen: set[int] = set()
    deadline = time.monotonic() + UPDATE_MS / 1000
    title = f"({TITLE.format(side='left')})()"
    done = f"() => {title}.includes('digits-cnn') && !{title}.includes('preview')"
    while not dashboard.evaluate(done) and time.monotonic() < deadline:
        seen.update(p.pid for p in _pool_workers(server))
        time.sleep(0.05)
    _wait_title(dashboard, "left", "network: digits-cnn")
    cores = chunks.cores()  # 41 blocks: two workers at most (16 blocks each), none on one core
    assert len(seen) == (min(cores, 2) if cores > 1 else 0), f"forked workers seen: {seen}"
    assert _pool_workers(server) == []
    assert browser_errors == []
