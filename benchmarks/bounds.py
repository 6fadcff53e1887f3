"""Request bounds under gunicorn: refusals are fast, long views end at their budget, a client
that leaves frees its computation, and /healthz keeps answering while the API is saturated.

Starts ``gunicorn -c gunicorn.conf.py app.wsgi:server`` (one worker, four threads, a fresh
temporary cache, ``FUNNELSCOPE_COMPUTE_SECONDS=--budget``) on a free 127.0.0.1 port, then:

1. ``POST /api/view`` of a Bezier path with ``bend_steps: 1e9``: the time to its 400;
2. ``--long`` concurrent long views (a p-spin n=271, p=3 with 512 starts: minutes unbounded)
   while ``GET /healthz`` is polled every 0.1 s: the statuses of the long requests (503 beyond
   the worker's FUNNELSCOPE_API_COMPUTATIONS, 422 at the budget) and the /healthz latency;
3. one long view whose client closes the connection after 1 s: how soon a new long view gets a
   computation slot again (without the cancel it would wait for the budget).

Usage: python benchmarks/bounds.py [--long 9] [--budget 20]
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LONG = {"model": {"model": "pspin", "n": 271, "p": 3}, "view": {"view": "minima", "starts": 512}}
BEZIER = {"model": {"model": "network", "example": "moons-mlp"},
          "view": {"view": "path", "kind": "bezier", "bend_steps": 1_000_000_000}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: dict | None = None,
            timeout: float = 600) -> tuple[int, float, str]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = None if body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, time.perf_counter() - start, text


def wait_up(port: int, seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if request(port, "GET", "/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def slot_free(port: int) -> bool:
    """A long view gets a computation slot (it is not refused with 503 at once)."""
    try:
        status, _, _ = request(port, "POST", "/api/view", LONG, timeout=1.0)
        return status != 503
    except TimeoutError:  # computing: it got a slot (this client now leaves too)
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", type=int, default=9)
    parser.add_argument("--budget", type=float, default=20.0)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "FUNNELSCOPE_BIND": f"127.0.0.1:{port}", "FUNNELSCOPE_WORKERS": "1",
               "FUNNELSCOPE_THREADS": "4", "FUNNELSCOPE_CACHE_DIR": cache,
               "FUNNELSCOPE_COMPUTE_SECONDS": str(args.budget)}
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                   "app.wsgi:server"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_up(port)
            status, seconds, text = request(port, "POST", "/api/view", BEZIER)
            print(f"bend_steps=1e9: {status} in {seconds * 1000:.1f} ms: {text}")

            results: list[tuple[int, float]] = []
            threads = [threading.Thread(target=lambda: results.append(
                request(port, "POST", "/api/view", LONG)[:2])) for _ in range(args.long)]
            for t in threads:
                t.start()
            latencies = []
            while any(t.is_alive() for t in threads):
                latencies.append(request(port, "GET", "/healthz", timeout=30)[1])
                time.sleep(0.1)
            codes = sorted(results)
            print(f"{args.long} long views: " + ", ".join(
                f"{code} after {s:.1f} s" for code, s in codes))
            lat = np.array(latencies) * 1000
            print(f"/healthz meanwhile: {len(lat)} polls, p50 {np.median(lat):.1f} ms, "
                  f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms")

            # a client that leaves: fill both slots with clients that close after 1 s
            closed: list[float] = []

            def close(sock: socket.socket) -> None:
                sock.close()
                closed.append(time.monotonic())

            for _ in range(2):
                sock = socket.create_connection(("127.0.0.1", port))
                body = json.dumps(LONG).encode()
                sock.sendall(b"POST /api/view HTTP/1.1\r\nHost: x\r\nContent-Type: "
                             b"application/json\r\nContent-Length: " + str(len(body)).encode()
                             + b"\r\n\r\n" + body)
                threading.Timer(1.0, close, (sock,)).start()
            time.sleep(0.3)
            assert not slot_free(port), "the two slots should be busy"
            while not slot_free(port):
                time.sleep(0.1)
            freed = time.monotonic() - max(closed)
            print(f"two clients gone after 1 s: a slot was free again {freed:.1f} s after the "
                  f"last one closed (budget {args.budget:g} s)")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)


if __name__ == "__main__":
    main()
