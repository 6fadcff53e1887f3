"""A view's points in chunks on several processes: the same bits as one process, its errors,
its cancel, and the command line's ``--jobs``."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from landscapes import chunks, slices, views
from landscapes.errors import LandscapeError
from landscapes.networks import views as network_views
from landscapes.networks.architectures import build_network
from landscapes.networks.store import UploadStore
from landscapes.networks.uploads import save_checkpoint


def _values(start: int, stop: int) -> np.ndarray:
    """Items start..stop: (i, i^2 / 7, the pid that computed it), 10 ms a block (so that every
    worker gets some)."""
    time.sleep(0.01)
    i = np.arange(start, stop, dtype=np.float64)
    return np.stack([i, i * i / 7.0, np.full_like(i, os.getpid())], 1)


def test_chunk_bounds_are_runs_of_whole_blocks():
    for total, block, count in ((100, 7, 8), (64, 64, 3), (5, 10, 4), (1000, 64, 8), (129, 64, 9)):
        bounds = chunks.chunk_bounds(total, block, count)
        assert bounds[0][0] == 0 and bounds[-1][1] == total
        assert all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:], strict=False))
        assert all(a % block == 0 for a, _ in bounds)
        blocks = [-(-(b - a) // block) for a, b in bounds]
        assert len(bounds) == min(count, -(-total // block)) and max(blocks) - min(blocks) <= 1


@pytest.fixture(autouse=True)
def _small_views_too(monkeypatch):
    """Chunk views of a few blocks too (the library keeps them on one process)."""
    monkeypatch.setattr(chunks, "MIN_BLOCKS", 1)


def test_several_processes_give_one_process_s_values_in_order():
    seen = []
    one = chunks.map_blocks(_values, 1000, 64)
    with chunks.processes(2) as count:
        assert count == 2 and chunks.jobs() == 2
        two = chunks.map_blocks(_values, 1000, 64, lambda done, total: seen.append((done, total)))
    assert chunks.jobs() == 1
    np.testing.assert_array_equal(two[:, :2], one[:, :2])
    # the first block here (its kernels then come warm into the forks), the rest on two others
    assert set(two[:64, 2]) == {os.getpid()}
    pids = set(two[64:, 2].astype(int))
    assert len(pids) == 2 and os.getpid() not in pids
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (1000, 1000)
    assert seen[0] == (64, 1000)  # the first block, here
    assert not multiprocessing.active_children()


def test_progress_counts_the_workers_blocks_as_they_finish(monkeypatch):
    """Reports come block by block from the workers (not a chunk at a time), at least every
    POLL_SECONDS while they compute."""
    seen = []

    def slow(start: int, stop: int) -> np.ndarray:
        time.sleep(0.15)
        return _values(start, stop)

    with chunks.processes(2):  # the first block here, then two chunks of five blocks
        chunks.map_blocks(slow, 11, 1, lambda done, total: seen.append(done), chunks=2)
    assert seen[-1] == 11 and seen == sorted(seen)
    assert set(seen) - {1, 6, 11}, f"only whole chunks were reported: {seen}"
    assert len(seen) >= 0.75 / chunks.POLL_SECONDS


def test_the_memory_budget_counts_what_the_workers_allocate():
    """A worker's own pages (written since the fork) count against the view's memory budget;
    the pages it still shares with this process are counted here once."""
    from landscapes import budget
    from landscapes.errors import BudgetExceeded

    def hungry(start: int, stop: int) -> np.ndarray:
        ballast = np.ones(2**27 // 8)  # 128 MiB, written: the worker's own
        time.sleep(0.6)
        return _values(start, stop) + ballast[0] - 1

    report = budget.budgeted(None, None, memory=200 * 2**20)
    with chunks.processes(2), pytest.raises(BudgetExceeded, match="past its memory budget of 200 MB"):
        chunks.map_blocks(hungry, 8, 1, report, chunks=2)
    assert not multiprocessing.active_children()
    assert chunks.worker_pids() == []
    assert budget.private_bytes(os.getpid()) > 0 and budget.private_bytes(2**22 + 1) == 0


def test_packed_values_come_back_equal_and_no_pickle_is_read():
    values = [np.arange(6.0).reshape(2, 3), (np.array([1.5, np.nan]), 2.25, True, None, "x"),
              {"running_mean": np.ones(3, np.float32), "n": 4}, np.float64(7.0)]
    back = chunks.unpack(chunks.pack(values))
    np.testing.assert_array_equal(back[0], values[0])
    assert isinstance(back[1], tuple) and back[1][1:] == (2.25, True, None, "x")
    np.testing.assert_array_equal(back[1][0], values[1][0])
    assert back[2]["running_mean"].dtype == np.float32 and back[2]["n"] == 4
    assert back[3] == 7.0
    with pytest.raises(TypeError, match="a block's values cannot hold a set"):
        chunks.pack([{1, 2}])
    import pickle

    with pytest.raises(LandscapeError, match="cannot read the bytes as an .npz export"):
        chunks.unpack(pickle.dumps(values))


def _squares(start: int, stop: int) -> np.ndarray:
    return np.arange(start, stop, dtype=np.float64) ** 2


class _Spread:
    """Sends chunks to nobody: runs them here, last chunk first, through pack and unpack."""

    def __init__(self, workers: int) -> None:
        self.count, self.calls = workers, []

    def workers(self) -> int:
        return self.count

    def run(self, call, bounds, evaluate, block, total, progress):
        self.calls.append((call, len(bounds)))
        parts = [None] * len(bounds)
        for i in reversed(range(len(bounds))):
            parts[i] = chunks.unpack(chunks.pack(chunks.run_chunk(evaluate, block, *bounds[i])))
        return parts


def test_a_spread_s_chunks_come_back_in_order_and_calls_are_counted():
    one = chunks.map_blocks(_values, 1000, 64)[:, :2]
    where = _Spread(3)
    with chunks.spread(where):
        two = chunks.map_blocks(_values, 1000, 64)[:, :2]
        small = chunks.map_blocks(_values, 10, 64)  # one block: here
        three = chunks.map_blocks(_values, 1000, 64)[:, :2]
    np.testing.assert_array_equal(two, one)
    np.testing.assert_array_equal(three, one)
    assert set(small[:, 2]) == {os.getpid()}
    assert where.calls == [(0, 3 * chunks.CHUNKS_PER_JOB), (2, 3 * chunks.CHUNKS_PER_JOB)]
    with chunks.spread(where):  # a large view: chunks of at most MAX_CHUNK_BLOCKS blocks
        np.testing.assert_array_equal(chunks.map_blocks(_squares, 100_000, 64), _squares(0, 100_000))
    blocks = -(-100_000 // 64)
    assert where.calls[-1] == (0, -(-blocks // chunks.MAX_CHUNK_BLOCKS))


class _Helper:
    call = 1

    def __init__(self) -> None:
        self.served = []

    def serve(self, evaluate, total, block):
        self.served.append((total, chunks.run_chunk(evaluate, block, 128, 256)))


def test_a_helper_computes_up_to_its_call_and_hands_that_call_s_blocks_over():
    helper = _Helper()
    with chunks.helping(helper), pytest.raises(chunks.Helped):
        before = chunks.map_blocks(_values, 300, 64)  # call 0: whole, here
        chunks.map_blocks(_values, 1000, 64)
        pytest.fail("the computation went on past the helped call")
    np.testing.assert_array_equal(before[:, :2], chunks.map_blocks(_values, 300, 64)[:, :2])
    assert helper.served[0][0] == 1000
    assert [len(part) for part in helper.served[0][1]] == [64, 64]
    assert not isinstance(chunks.Helped(), Exception)


def test_blocks_of_seconds_all_go_to_the_workers():
    """``warm_first=False`` (a seed's training shares no warm-up): no block runs here, one
    chunk a block; ``combine`` gets every block's values in order."""
    with chunks.processes(2):
        parts = chunks.map_blocks(_values, 6, 1, min_blocks=1, chunks=6, warm_first=False,
                                  combine=list)
    assert [int(p[0, 0]) for p in parts] == list(range(6))
    pids = {int(p[0, 2]) for p in parts}
    assert len(pids) == 2 and os.getpid() not in pids


def test_one_block_or_one_job_stays_in_this_process(monkeypatch):
    with chunks.processes(2):
        assert set(chunks.map_blocks(_values, 50, 64)[:, 2]) == {os.getpid()}
        monkeypatch.setattr(chunks, "MIN_BLOCKS", 16)  # 33 blocks: the first, then 16 each
        assert len(set(chunks.map_blocks(_values, 64 * 32, 64)[:, 2])) == 1
        assert len(set(chunks.map_blocks(_values, 64 * 33, 64)[:, 2])) == 3
    with chunks.processes(0) as count:
        assert count == chunks.cores()
    with pytest.raises(LandscapeError, match=r"jobs must be 0 \(one process per core\) or more; "
                                             "got -1"):
        with chunks.processes(-1):
            pass


def _fails_at_300(start: int, stop: int) -> np.ndarray:
    if start <= 300 < stop:
        raise LandscapeError("item 300 cannot be computed")
    return _values(start, stop)


def test_a_failed_block_raises_its_own_error_in_the_caller():
    with chunks.processes(2), pytest.raises(LandscapeError, match="^item 300 cannot be computed$"):
        chunks.map_blocks(_fails_at_300, 1000, 64)
    assert not multiprocessing.active_children()


def _dies_at_300(start: int, stop: int) -> np.ndarray:
    if start <= 300 < stop:
        os.kill(os.getpid(), signal.SIGKILL)  # the OOM killer, kill -9
    return _values(start, stop)


def test_a_worker_that_dies_ends_the_view_with_a_message_not_a_wait():
    with chunks.processes(2), pytest.raises(LandscapeError, match=(
            "^a worker process ended while computing this view \\(killed, or out of memory\\); "
            "the view was not finished$")):
        chunks.map_blocks(_dies_at_300, 1000, 64)
    assert not multiprocessing.active_children()


class Cancelled(Exception):
    pass


def test_a_cancel_stops_every_worker(tmp_path):
    """A progress callback that raises (Cancel, the compute budget) ends the pool's processes:
    the chunks still running are not finished."""
    marks = tmp_path / "marks"
    marks.mkdir()

    def slow(start: int, stop: int) -> np.ndarray:
        (marks / f"{os.getpid()}-{start}").touch()
        time.sleep(0.2)
        return _values(start, stop)

    def cancel(done: int, total: int) -> None:
        if done > 64:  # a chunk came back from the pool (the first block runs here)
            raise Cancelled

    with chunks.processes(2), pytest.raises(Cancelled):
        chunks.map_blocks(slow, 64 * 40, 64, cancel)
    assert not multiprocessing.active_children()
    pids = {int(p.name.split("-")[0]) for p in marks.iterdir()} - {os.getpid()}
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert len(list(marks.iterdir())) < 40  # not every block ran


# ---------------------------------------------------------------- views, chunked and not


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> UploadStore:
    return UploadStore(tmp_path_factory.mktemp("chunk-store"))


def _upload(store: UploadStore, arch: dict, tmp: Path) -> str:
    import torch

    torch.manual_seed(3)
    path = save_checkpoint(tmp / f"{arch['type']}.safetensors", arch, build_network(arch).state_dict())
    return store.put_checkpoint(path.read_bytes(), path.name, None)


def _same(one, two) -> None:
    """Bit for bit: the values, every extra array, the axes and the meta."""
    np.testing.assert_array_equal(two.values, one.values)
    assert one.extras.keys() == two.extras.keys()
    for name in one.extras:
        np.testing.assert_array_equal(two.extras[name], one.extras[name])
    for a, b in zip(one.axes, two.axes, strict=True):
        np.testing.assert_array_equal(a, b)
    assert json.dumps(one.meta, sort_keys=True) == json.dumps(two.meta, sort_keys=True)


NETWORKS = {
    "mlp": ({"type": "mlp", "sizes": [2, 16, 16, 2], "act": "relu"}, "moons"),
    "cnn": ({"type": "cnn", "channels": [4, 8], "batchnorm": True}, "digits"),
}


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("kind", NETWORKS)
def test_a_network_slice_on_two_processes_is_the_one_process_slice(store, tmp_path, kind, dims):
    arch, data = NETWORKS[kind]
    spec = {"model": "network", "checkpoint": _upload(store, arch, tmp_path), "data": data}
    view = {"view": "slice", "dims": dims, "steps": 21 if dims == 2 else 201, "span": 0.8}
    one = views.compute(spec, view, store=store)
    blocks = -(-one.values.size // network_views.CHUNK)
    assert blocks >= 4  # several chunks: more than the processes
    with chunks.processes(2):
        two = views.compute(spec, view, store=store)
    _same(one, two)


@pytest.mark.parametrize(("kind", "path"), [("mlp", "linear"), ("cnn", "linear"),
                                          ("mlp", "bezier")])
def test_a_network_path_on_two_processes_is_the_one_process_path(store, tmp_path, kind, path):
    """Each point with its own interpolated BatchNorm statistics, PATH_BLOCK points a block."""
    import torch

    arch, data = NETWORKS[kind]
    ends = []
    for seed in (3, 4):
        torch.manual_seed(seed)
        module = save_checkpoint(tmp_path / f"{seed}.safetensors", arch,
                                 build_network(arch).state_dict())
        ends.append(store.put_checkpoint(module.read_bytes(), module.name, None))
    spec = {"model": "network", "checkpoint": ends[0], "checkpoint2": ends[1], "data": data}
    view = {"view": "path", "from": "center", "to": "checkpoint2", "kind": path, "steps": 61}
    one = views.compute(spec, view, store=store)
    assert len(one.values) >= 2 * network_views.PATH_BLOCK + 1  # blocks for both workers
    with chunks.processes(2):
        two = views.compute(spec, view, store=store)
    _same(one, two)


@pytest.mark.parametrize("path", ["linear", "geodesic"])
def test_a_spin_path_on_two_processes_is_the_one_process_path(monkeypatch, path):
    monkeypatch.setattr(slices, "BLOCK", 16)  # 201 points: 13 blocks
    spec = {"model": "pspin", "n": 40, "p": 3, "seed": 2}
    view = {"view": "path", "from": "random:1", "to": "minimum:0", "kind": path, "steps": 201}
    one = views.compute(spec, view)
    with chunks.processes(2):
        two = views.compute(spec, view)
    _same(one, two)


def test_the_command_line_s_jobs_write_the_same_file(store, tmp_path):
    """``--jobs 2`` as a whole process on a grid large enough to be shared (35 blocks): the
    file of ``--jobs 1`` bit for bit in its arrays and meta; a negative count is one error
    line."""
    arch, _ = NETWORKS["cnn"]
    model = save_checkpoint(tmp_path / "c.safetensors", arch, build_network(arch).state_dict())
    script = Path(sys.executable).parent / "landscapes"
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}.npz"
        subprocess.run([str(script), "slice", "network", "--checkpoint", str(model), "--data",
                        "digits", "--steps", "47", "--jobs", jobs, "--out", str(out)],
                       check=True, capture_output=True)
        outs.append(np.load(out))
    assert outs[0].files == outs[1].files
    for name in outs[0].files:
        np.testing.assert_array_equal(outs[1][name], outs[0][name])
    bad = subprocess.run([str(script), "slice", "ising", "--jobs", "-2", "--out",
                          str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr == ("landscapes: error: jobs must be 0 (one process per core) or more; "
                          "got -2\n")


def test_a_size_sweep_on_two_processes_is_the_one_process_sweep():
    """(N, seed) pairs, the largest first on whichever worker is free: the same arrays."""
    spec = {"model": "ising", "n": 8, "seed": 1}
    view = {"view": "sweep", "n_min": 6, "n_max": 11, "seeds": 3}
    one = views.compute(spec, view)
    seen = []
    with chunks.processes(2):
        two = views.compute(spec, view, lambda done, total: seen.append(done))
    assert one.arrays.keys() == two.arrays.keys()
    for name in one.arrays:
        np.testing.assert_array_equal(two.arrays[name], one.arrays[name])
    assert json.dumps(one.meta, sort_keys=True) == json.dumps(two.meta, sort_keys=True)
    assert seen[-1] == 1000 and seen == sorted(seen)


@pytest.mark.parametrize("spec", [{"model": "pspin", "n": 48, "p": 3, "seed": 2},
                                  {"model": "pspin", "n": 24, "p": 4, "planted": 0.5},
                                  {"model": "ising", "n": 14, "native_bias": 1.0}])
def test_spin_minima_on_two_processes_are_the_one_process_minima(spec):
    """Batches of descents on forked workers (one torch thread each) and here (two): the same
    minima, Hessian eigenvalues and spectrum, bit for bit."""
    import torch

    from landscapes.spin.minima import DESCENT_BATCH

    view = {"view": "minima", "starts": 3 * DESCENT_BATCH + 5}
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        one = views.compute(spec, view)
        seen = []
        with chunks.processes(2):
            two = views.compute(spec, view, lambda done, total: seen.append(done))
    finally:
        torch.set_num_threads(threads)
    assert one.arrays.keys() == two.arrays.keys()
    for name in one.arrays:
        np.testing.assert_array_equal(two.arrays[name], one.arrays[name], err_msg=name)
    assert json.dumps(one.meta, sort_keys=True) == json.dumps(two.meta, sort_keys=True)
    assert seen[-1] == view["starts"] and seen == sorted(seen)


def test_network_minima_on_two_processes_are_the_one_process_minima(tmp_path):
    """Seeds trained on forked workers (one torch thread) and here (the test's threads): the
    same arrays and meta, the cache of each run in a folder of the same name."""
    results = []
    for run, jobs in (("one", 1), ("two", 2)):
        store = UploadStore(tmp_path / run)
        with chunks.processes(jobs):
            results.append(views.compute({"model": "network", "example": "moons-mlp"},
                                         {"view": "minima", "seeds": 3}, store=store))
        assert len(list(store.examples_dir.glob("moons-mlp*.safetensors"))) == 3
    one, two = results
    assert one.arrays.keys() == two.arrays.keys()
    for name in one.arrays:
        np.testing.assert_array_equal(two.arrays[name], one.arrays[name])
    assert json.dumps(one.meta, sort_keys=True) == json.dumps(two.meta, sort_keys=True)


def test_an_example_trains_to_the_same_bits_on_any_thread_count():
    """The digits CNN's gradients differ between one torch thread and two: examples train on
    one, so the command line, a dashboard worker and a forked worker cache the same network."""
    import torch

    from landscapes.networks import examples

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = examples.train("digits-cnn", seed=1)
        assert torch.get_num_threads() == 2  # restored
        torch.set_num_threads(1)
        one = examples.train("digits-cnn", seed=1)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(one.final[k], two.final[k]) for k in one.final)
    np.testing.assert_array_equal(one.trajectory, two.trajectory)

