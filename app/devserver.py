"""Run the dashboard in a child process on a local port (for the browser tests and benchmarks).

``start_in_subprocess`` returns once ``GET /`` answers 200; ``stop`` ends the process and the
job processes it forked.
The browser settings below are shared by ``tests/e2e`` and ``benchmarks/page_load.py``: Debian's
chromium (never ``playwright install``), headless, WebGL rendered in software.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SERVE = "from app import create_app; create_app().run(host={host!r}, port={port})"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
VIEWPORT = {"width": 1600, "height": 1000}
# JS predicate: both 3D graphs hold a surface trace (Plotly has drawn the figures)
SURFACES_DRAWN = """() => ['left', 'right'].every(side => {
    const gd = document.querySelector(`#${side}-surface .js-plotly-plot`);
    return !!(gd && gd.data && gd.data.some(trace => trace.type === 'surface'));
})"""


def free_port() -> int:
    """A TCP port on ``HOST`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def start_in_subprocess(
    cache_dir: Path, port: int | None = None, log: Path | None = None, timeout: float = 60.0
) -> tuple[str, subprocess.Popen]:
    """Start the dashboard (cache in ``cache_dir``); return its base URL and process.

    The server's output goes to ``log`` (default: ``server.log`` beside ``cache_dir``).
    Raises ``RuntimeError`` (with the log's tail) if the page does not answer in ``timeout`` s.
    """
    port = port or free_port()
    url = f"http://{HOST}:{port}"
    log = log or cache_dir.parent / "server.log"
    env = {**os.environ, "FUNNELSCOPE_CACHE_DIR": str(cache_dir), "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVE.format(host=HOST, port=port)],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its job processes too
        )
    deadline = time.monotonic() + timeout
    while not _answers(url + "/"):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(
                f"the dashboard did not answer at {url}/ within {timeout:.0f} s "
                f"(exit code {process.returncode}); server log {log}:\n{_tail(log)}"
            )
        time.sleep(0.25)
    return url, process


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Terminate ``process``; kill it if it has not exited after ``grace`` seconds.

    A process that leads its own process group (``start_in_subprocess`` starts the dashboard
    so) is stopped with its whole group: the background-job processes it forked end too.
    """
    if process.poll() is not None:
        return
    group = os.getpgid(process.pid) == process.pid
    _signal(process, signal.SIGTERM, group)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    if group or process.poll() is None:  # job processes do not all stop on SIGTERM
        _signal(process, signal.SIGKILL, group)
    process.wait()


def _signal(process: subprocess.Popen, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except ProcessLookupError:  # it (and its group) has exited already
        pass
