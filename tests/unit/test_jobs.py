"""Background jobs fork from a job server, never from a threaded web process (app/jobs.py)."""

import contextlib
import importlib
import sys
import threading
import time
from pathlib import Path

import diskcache
import psutil
import pytest
from dash import DiskcacheManager

from app.jobs import ForkServerDiskcacheManager, JobServer

WAIT = 20  # seconds a job may take before the test calls it hung


def _square(value: int) -> int:
    return value * value


def _slow_square(value: int) -> int:
    time.sleep(1.0)  # still running when the test looks at its parent
    return value * value


def _import_module(name: str) -> str:
    return importlib.import_module(name).VALUE


def manager_with_jobs(tmp_path: Path, job_server: bool = True) -> ForkServerDiskcacheManager:
    manager = ForkServerDiskcacheManager(diskcache.Cache(str(tmp_path / "jobs")))
    manager.register("square", _square, False)
    manager.register("import", _import_module, False)
    manager.register("slow square", _slow_square, False)
    if job_server:
        manager.start_job_server()
    return manager


def results(manager: DiskcacheManager, started: dict[str, int], wait: float = WAIT) -> dict:
    """The stored result of each started job (``None``: none within ``wait`` s); then kills
    whatever is still running."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and not all(manager.result_ready(k) for k in started):
        time.sleep(0.05)
    out = {}
    for key, pid in started.items():
        result = manager.get_result(key, None)
        out[key] = None if result is manager.UNDEFINED else result
        with contextlib.suppress(psutil.NoSuchProcess):  # it may end between look and kill
            psutil.Process(pid).kill()
    return out


def start(manager: DiskcacheManager, key: str, name: str, *args) -> int:
    return manager.call_job_fn(key, manager.func_registry[name], args, {"args": {}})


def test_jobs_are_children_of_the_job_server(tmp_path):
    manager = manager_with_jobs(tmp_path)
    pid = start(manager, "job", "slow square", 7)
    assert psutil.Process(pid).ppid() == manager.job_server.pid
    assert results(manager, {"job": pid}) == {"job": 49}
    deadline = time.monotonic() + 10  # reaped by the kernel (SIGCHLD ignored): no zombie left
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(pid)


def test_jobs_started_beside_polling_threads_all_finish(tmp_path):
    # Dash polls every running job through the same diskcache from its request threads; a job
    # forked while a poll is inside SQLite used to hang or time out (3 to 9 of 80 per run)
    manager = manager_with_jobs(tmp_path)
    stop = threading.Event()

    def poll() -> None:
        i = 0
        while not stop.is_set():
            manager.result_ready(f"poll-{i % 7}")
            manager.get_progress(f"poll-{i % 5}")
            i += 1

    pollers = [threading.Thread(target=poll) for _ in range(4)]
    for thread in pollers:
        thread.start()
    try:
        started = {}
        for k in range(80):
            started[f"job-{k}"] = start(manager, f"job-{k}", "square", k)
            time.sleep(0.005)
        got = results(manager, started)
    finally:
        stop.set()
        for thread in pollers:
            thread.join()
    assert got == {f"job-{k}": k * k for k in range(80)}


@pytest.fixture
def module_importing_in_a_thread(tmp_path, monkeypatch):
    """A module that another thread of this process is importing (and holds the import lock of)
    for as long as the test runs; importing it in any other process is instant."""
    release = tmp_path / "release"
    name = f"slow_module_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        "import os, pathlib, time\n"
        f"while os.getpid() == {psutil.Process().pid} and not pathlib.Path({str(release)!r})"
        ".exists():\n"
        "    time.sleep(0.01)\n"
        "VALUE = 'imported'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importer = threading.Thread(target=importlib.import_module, args=(name,))
    yield name, importer
    release.touch()
    importer.join()
    sys.modules.pop(name, None)


def test_a_job_imports_a_module_that_a_request_thread_is_importing(tmp_path,
                                                                   module_importing_in_a_thread):
    # found with gdb on a hung job: a request thread was importing plotly.colors when the job
    # forked; the job's first figure then waited for that import lock forever
    name, importer = module_importing_in_a_thread
    manager = manager_with_jobs(tmp_path)  # before the thread starts, as create_app does
    importer.start()
    while name not in sys.modules:
        time.sleep(0.01)
    pid = start(manager, "job", "import", name)
    assert results(manager, {"job": pid}) == {"job": "imported"}


def test_without_a_job_server_such_a_job_hangs(tmp_path, module_importing_in_a_thread, caplog):
    # the fallback (no job server) is Dash's own fork: this is the hang the job server prevents
    name, importer = module_importing_in_a_thread
    manager = manager_with_jobs(tmp_path, job_server=False)
    importer.start()
    while name not in sys.modules:
        time.sleep(0.01)
    pid = start(manager, "job", "import", name)
    assert results(manager, {"job": pid}, wait=3) == {"job": None}
    assert "no job server; forking this job from the web process" in caplog.text


def test_a_failing_job_leaves_the_job_server_serving(tmp_path):
    manager = manager_with_jobs(tmp_path)
    failed = start(manager, "bad", "square", "not a number")
    error = results(manager, {"bad": failed})["bad"]["background_callback_error"]
    assert error["msg"] == "can't multiply sequence by non-int of type 'str'"
    assert results(manager, {"good": start(manager, "good", "square", 3)}) == {"good": 9}


def test_the_job_server_exits_when_its_pipe_closes(tmp_path):
    server = JobServer({"square": _square})
    process = psutil.Process(server.pid)
    server.close()
    process.wait(10)
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def test_a_dead_job_server_falls_back_to_forking_here(tmp_path, caplog):
    manager = manager_with_jobs(tmp_path)
    process = psutil.Process(manager.job_server.pid)
    process.kill()
    process.wait(10)
    pid = start(manager, "job", "square", 9)
    assert results(manager, {"job": pid}) == {"job": 81}
    assert "the job server has gone" in caplog.text
    assert manager.job_server is None


def test_replacing_a_job_that_has_just_ended_is_no_error(tmp_path, monkeypatch):
    # Dash's terminate_job raised psutil.NoSuchProcess (a 500, and the panel never updated) when
    # the job ended between its checks; with the kernel reaping jobs at once this happened when
    # a preset link replaced the first views' jobs (found by a fresh-clone run)
    manager = manager_with_jobs(tmp_path)
    done = start(manager, "done", "square", 3)
    assert results(manager, {"done": done}) == {"done": 9}
    deadline = time.monotonic() + 10
    while psutil.pid_exists(done) and time.monotonic() < deadline:
        time.sleep(0.05)
    manager.terminate_job(done)  # gone: nothing to do, no error
    monkeypatch.setattr(psutil, "pid_exists", lambda pid: True)  # it ends just after the check
    with pytest.raises(psutil.NoSuchProcess):
        DiskcacheManager.terminate_job(manager, done)  # Dash's own
    manager.terminate_job(done)
    monkeypatch.undo()
    running = start(manager, "running", "slow square", 4)
    manager.terminate_job(running)
    deadline = time.monotonic() + WAIT
    while psutil.pid_exists(running) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(running)  # killed before it could finish
    assert manager.get_result("running", None) is manager.UNDEFINED


def test_any_worker_can_cancel_a_job(tmp_path):
    # gunicorn's workers each fork their own job server; a cancel may reach another worker
    started_by, cancelled_by = manager_with_jobs(tmp_path), manager_with_jobs(tmp_path)
    pid = start(started_by, "job", "slow square", 5)
    cancelled_by.terminate_job(pid)
    deadline = time.monotonic() + WAIT
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not psutil.pid_exists(pid)
    assert started_by.get_result("job", None) is started_by.UNDEFINED


def test_a_reused_pid_that_is_not_a_job_is_left_alone(tmp_path):
    import subprocess

    manager = manager_with_jobs(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        manager.terminate_job(other.pid)  # a stale job id that now names another process
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
