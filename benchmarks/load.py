"""Load test: N simulated students against the dashboard on loopback, bounded in time and requests.

Starts the dashboard in subprocesses with a fresh temporary cache (nothing is precomputed: the
first requests for each view are cold) -- or targets an already-running server with ``--url``
(loopback only: 127.0.0.1, localhost or ::1; any other host is refused). ``--setup`` picks what
is started (every service on a free 127.0.0.1 port, stopped by its pid afterwards):

- ``embedded``: the Flask dev server in one process, filesystem cache (``app.devserver``);
- ``gunicorn``: ``gunicorn -c gunicorn.conf.py app.wsgi:server`` with ``--workers`` workers
  (default 2), the same filesystem cache: the production server without Redis;
- ``redis``: Debian's ``redis-server`` (no persistence), a Celery worker
  (``celery -A app.tasks worker --pool=solo``) and gunicorn as above, all with ``REDIS_URL``:
  cache and locks in Redis, background callbacks on the Celery worker (``/api/view`` is still
  computed in the gunicorn workers);
- ``all``: the three above one after another, with the same seed, then a comparison table.

Each simulated user loops until ``--duration`` seconds have passed or ``--max-requests``
requests have been sent (both per set-up):

1. ``GET /`` (the page) and ``GET /_dash-layout`` (what the browser fetches next);
2. ``POST /api/view`` for one view: mostly one of the two default panel slices
   (``app.precompute.default_views()``), otherwise one of a small set of other views (the default
   paths and two small slices: cold on their first hit, cached after), and with probability
   ``--uncached`` (5%) an Ising n=12 slice (steps 21) with a random seed: always computed.

Prints p50/p95/p99 latency per request kind, throughput, the error count (non-2xx answers and
exceptions) and, for the default views, the ratio of cold (computed in that request or waiting
on its computation: the API's ``cached`` is false) to warm latency.

Usage: python benchmarks/load.py [--users 30] [--duration 30] [--max-requests 5000]
                                 [--setup embedded|gunicorn|redis|all] [--workers 2]
                                 [--url http://127.0.0.1:8050]

The load generator runs on the same machine as the server and shares its CPU cores: compare
ratios between runs on one machine, not raw numbers across machines.
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from app import devserver
from app.precompute import default_views

LOOPBACK = ("127.0.0.1", "localhost", "::1")
KINDS = ("page", "layout", "default", "other", "uncached")
SETUPS = ("embedded", "gunicorn", "redis")
# further views: cold on their first hit, cached after (beside the default panels' paths)
OTHER_SLICES = [
    ({"model": "ising", "n": 16, "native_bias": 1.0, "seed": 2}, {"view": "slice", "steps": 31}),
    ({"model": "pspin", "n": 32, "p": 3, "seed": 1}, {"view": "slice", "steps": 31, "span": 1.5}),
]

BIN = Path(sys.executable).parent
REDIS_SERVER = Path("/usr/bin/redis-server")  # Debian's (`make redis` installs it)
GUNICORN = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "app.wsgi:server"]
WORKER = [str(BIN / "celery"), "-A", "app.tasks", "worker", "--pool=solo", "--loglevel=INFO"]


@dataclass
class Sample:
    kind: str
    seconds: float
    ok: bool
    cached: bool | None = None  # POST /api/view: the server's "cached" flag
    error: str = ""


class Budget:
    """Stops every user at the deadline or when the request cap is spent (thread-safe)."""

    def __init__(self, duration: float, max_requests: int) -> None:
        self.deadline = time.monotonic() + duration
        self.left = max_requests
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            return True


def loopback_url(url: str) -> str:
    """``url`` without a trailing slash, if it is http on a loopback host; SystemExit otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise SystemExit(f"load.py: refusing {url!r}: only http://127.0.0.1, localhost or [::1]")
    return url.rstrip("/")


# -- the services of a set-up: child processes on loopback, stopped by their pids ----------------


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def describe(self) -> str:
        return f"{self.name} (pid {self.process.pid})"


def launch(name: str, command: list[str], log: Path, env: dict[str, str]) -> Service:
    try:
        with log.open("wb") as out:
            process = subprocess.Popen(command, cwd=devserver.REPO_ROOT, env=env, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except OSError as exc:  # a missing program, an unwritable log
        raise RuntimeError(f"{name}: could not start {command[0]}: {exc}") from exc
    return Service(name, process, log)


def wait_ready(service: Service, check: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll ``check`` until it is true; RuntimeError (with the log's tail) if the process exits
    or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not check():
        if service.process.poll() is not None or time.monotonic() > deadline:
            state = (f"exited with {service.process.returncode}" if service.process.poll() is not None
                     else f"not ready after {timeout:.0f} s")
            raise RuntimeError(f"{service.describe()}: {what}: {state}; log {service.log}:\n"
                               f"{service.text()[-3000:]}")
        time.sleep(0.2)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def redis_answers(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _children(pid: int) -> list[int]:
    """The child pids of ``pid`` (Linux /proc; empty elsewhere or once it has exited)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def stop_all(services: list[Service]) -> None:
    """Stop every service, the last started first: terminate by pid, kill after 10 s. Each one
    is stopped even if stopping another raised (Ctrl-C, a closed stdout). A master that had to be
    killed (gunicorn) may leave its workers: those are killed by pid too."""
    if not services:
        return
    service = services.pop()
    try:
        children = _children(service.process.pid)
        devserver.stop(service.process, grace=10.0)
        if service.process.returncode == -signal.SIGKILL:
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            print(f"warning: {service.describe()} did not stop within 10 s and was killed")
    finally:
        stop_all(services)


def log_path(args: argparse.Namespace, root: Path, setup: str, service: str) -> Path:
    """Where a service's log goes: under ``root`` (deleted afterwards), or beside --server-log
    (the web server's log is --server-log itself; with --setup all the set-up is named too)."""
    if args.server_log is None:
        return root / f"{service}.log"
    base = args.server_log
    base.parent.mkdir(parents=True, exist_ok=True)
    stem = base.stem + (f"-{setup}" if args.setup == "all" else "")
    name = stem + ("" if service == "web" else f"-{service}") + (base.suffix or ".log")
    return base.with_name(name)


def start_setup(setup: str, root: Path, args: argparse.Namespace, services: list[Service]) -> str:
    """Start ``setup`` with a fresh cache under ``root``; its base URL once every service is ready.

    Started services are appended to ``services`` as they start (the caller stops them, also
    when a later one fails: RuntimeError).
    """
    cache = root / "cache"
    if setup == "embedded":
        log = log_path(args, root, setup, "web")
        base, process = devserver.start_in_subprocess(cache, log=log, timeout=args.start_timeout)
        services.append(Service("dev server", process, log))
        return base
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FUNNELSCOPE_CACHE_DIR": str(cache)}
    env.pop("REDIS_URL", None)
    if setup == "redis":
        (root / "redis").mkdir()
        port = devserver.free_port()
        redis_url = f"redis://{devserver.HOST}:{port}/0"
        server = launch("redis-server", [str(REDIS_SERVER), "--port", str(port), "--bind",
                                         devserver.HOST, "--save", "", "--appendonly", "no",
                                         "--dir", str(root / "redis")],
                        log_path(args, root, setup, "redis"), env)
        services.append(server)
        wait_ready(server, lambda: redis_answers(redis_url), "PING", min(args.start_timeout, 30))
        env["REDIS_URL"] = redis_url
    port = devserver.free_port()
    env |= {"FUNNELSCOPE_BIND": f"{devserver.HOST}:{port}", "FUNNELSCOPE_WORKERS": str(args.workers)}
    web = launch("gunicorn", GUNICORN, log_path(args, root, setup, "web"), env)
    services.append(web)
    worker = None
    if setup == "redis":
        worker = launch("celery worker", WORKER, log_path(args, root, setup, "worker"), env)
        services.append(worker)
    base = f"http://{devserver.HOST}:{port}"
    wait_ready(web, lambda: http_status(base + "/healthz") == 200, "GET /healthz 200",
               args.start_timeout)
    if worker is not None:
        wait_ready(worker, lambda: re.search(r"\bready\b", worker.text()) is not None,
                   "'ready' in its log", args.start_timeout)
    return base


def cache_backend(base: str) -> str:
    """The cache backend the server reports on /healthz ("filesystem", "redis"; "?" if none)."""
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            return str(json.loads(response.read()).get("cache", "?"))
    except Exception:
        return "?"


# -- the load -------------------------------------------------------------------------------------


def request(base: str, kind: str, path: str, body: dict | None, timeout: float) -> Sample:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"} if body else {})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            payload = response.read()
            ok = 200 <= response.status < 300
        cached = json.loads(payload).get("cached") if body is not None else None
        return Sample(kind, time.perf_counter() - start, ok, cached)
    except urllib.error.HTTPError as exc:
        message = exc.read()[:200].decode(errors="replace")
        return Sample(kind, time.perf_counter() - start, False, error=f"HTTP {exc.code}: {message}")
    except Exception as exc:  # timeouts, refused connections, bad JSON: all count as errors
        return Sample(kind, time.perf_counter() - start, False, error=f"{type(exc).__name__}: {exc}")


def user(uid: int, base: str, budget: Budget, args: argparse.Namespace,
         defaults: list[tuple[dict, dict]], others: list[tuple[dict, dict]],
         out: list[Sample]) -> None:
    """One simulated student: page, layout, one view; again until the budget is spent."""
    rng = random.Random(args.seed * 1000 + uid)
    while True:
        for kind, path in (("page", "/"), ("layout", "/_dash-layout")):
            if not budget.take():
                return
            out.append(request(base, kind, path, None, args.timeout))
        draw = rng.random()
        if draw < args.uncached:
            kind = "uncached"
            spec = {"model": "ising", "n": 12, "native_bias": 2.0, "seed": rng.randrange(10**9)}
            view = {"view": "slice", "steps": 21}
        elif draw < args.uncached + (1 - args.uncached) * 0.75:
            kind, (spec, view) = "default", rng.choice(defaults)
        else:
            kind, (spec, view) = "other", rng.choice(others)
        if not budget.take():
            return
        out.append(request(base, kind, "/api/view", {"model": spec, "view": view}, args.timeout))


def run_load(base: str, args: argparse.Namespace, defaults: list[tuple[dict, dict]],
             others: list[tuple[dict, dict]]) -> tuple[list[Sample], float]:
    """Every user against ``base`` until the budget is spent: (samples, elapsed seconds)."""
    samples: list[Sample] = []  # list.append is atomic under the GIL
    budget = Budget(args.duration, args.max_requests)
    start = time.perf_counter()
    threads = [threading.Thread(target=user, daemon=True,
                                args=(k, base, budget, args, defaults, others, samples))
               for k in range(args.users)]
    for t in threads:
        t.start()
    for t in threads:  # in-flight requests finish (each bounded by --timeout)
        t.join(timeout=max(0.0, budget.deadline - time.monotonic()) + args.timeout + 5)
    elapsed = time.perf_counter() - start
    stuck = sum(t.is_alive() for t in threads)
    if stuck:
        print(f"warning: {stuck} users still waiting on a request; reported without them")
    return list(samples), elapsed


# -- reports --------------------------------------------------------------------------------------


@dataclass
class Summary:
    """One set-up's figures, for the comparison table (``failed``: why it did not run)."""

    setup: str
    requests: int = 0
    elapsed: float = 0.0
    errors: int = 0
    latency_ms: dict[str, tuple[float, float, float] | None] = field(default_factory=dict)
    cold_warm: float | None = None
    failed: str = ""


def percentiles(seconds: list[float]) -> tuple[float, float, float] | None:
    if not seconds:
        return None
    p50, p95, p99 = np.percentile(np.array(seconds) * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def percentiles_ms(seconds: list[float]) -> str:
    got = percentiles(seconds)
    if got is None:
        return f"{'-':>9}{'-':>9}{'-':>9}"
    p50, p95, p99 = got
    return f"{p50:9.1f}{p95:9.1f}{p99:9.1f}"


def report(setup: str, samples: list[Sample], elapsed: float) -> Summary:
    summary = Summary(setup, len(samples), elapsed, sum(not s.ok for s in samples))
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    print(f"\n{'kind':<10}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'cold':>6}")
    for kind in KINDS:
        got = by_kind.get(kind, [])
        errors = sum(not s.ok for s in got)
        cold = sum(s.cached is False for s in got)
        ok_seconds = [s.seconds for s in got if s.ok]
        summary.latency_ms[kind] = percentiles(ok_seconds)
        cold_column = "" if kind in ("page", "layout") else cold
        print(f"{kind:<10}{len(got):>9}{errors:>8}{percentiles_ms(ok_seconds)}{cold_column:>6}")
    errors = [s for s in samples if not s.ok]
    print(f"\nrequests: {len(samples)} in {elapsed:.1f} s = {len(samples) / elapsed:.1f} req/s; "
          f"errors: {len(errors)}")
    for message, count in sorted(_count(s.error for s in errors).items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {count} x {message}")
    default = [s for s in by_kind.get("default", []) if s.ok]
    cold = [s.seconds for s in default if s.cached is False]
    warm = [s.seconds for s in default if s.cached is True]
    if cold and warm:
        summary.cold_warm = float(np.median(cold) / np.median(warm))
        print(f"default views: cold p50 {np.median(cold) * 1000:.0f} ms ({len(cold)} requests) vs "
              f"warm p50 {np.median(warm) * 1000:.1f} ms ({len(warm)}): "
              f"cold/warm = {summary.cold_warm:.0f}x")
    else:
        print("default views: not enough cold and warm answers for a ratio "
              "(a server that was already warm has no cold answers)")
    return summary


def comparison(summaries: list[Summary], args: argparse.Namespace) -> None:
    """One column group per set-up: p50/p95/p99 per kind (ms, successful requests), then
    requests, throughput, errors and the default views' cold/warm ratio."""
    width = 24
    print(f"\n=== comparison: seed {args.seed}, {args.users} users, {args.duration:g} s or "
          f"{args.max_requests} requests per set-up; {args.workers} gunicorn workers ===")
    print(f"{'':<12}" + "".join(f"{s.setup:>{width}}" for s in summaries))
    print(f"{'kind (ms)':<12}" + "".join(f"{'p50':>8}{'p95':>8}{'p99':>8}" for _ in summaries))
    for kind in KINDS:
        cells = []
        for s in summaries:
            got = s.latency_ms.get(kind)
            cells.append(f"{'-':>8}" * 3 if got is None else "".join(f"{v:8.1f}" for v in got))
        print(f"{kind:<12}" + "".join(cells))

    def row(label: str, value: Callable[[Summary], str]) -> None:
        print(f"{label:<12}" + "".join(
            f"{('failed' if s.failed else value(s)):>{width}}" for s in summaries))

    row("requests", lambda s: str(s.requests))
    row("req/s", lambda s: f"{s.requests / s.elapsed:.1f}" if s.elapsed else "-")
    row("errors", lambda s: str(s.errors))
    row("cold/warm", lambda s: f"{s.cold_warm:.0f}x" if s.cold_warm else "-")
    for s in summaries:
        if s.failed:
            print(f"{s.setup}: failed: {s.failed}")


def server_exceptions(log: Path) -> None:
    """The exceptions the server logged (the last line of each traceback), with counts."""
    if not log.exists():
        return
    lines = log.read_text(errors="replace").splitlines()
    ends = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", line)]
    for message, count in sorted(_count(ends).items(), key=lambda kv: -kv[1])[:5]:
        print(f"  server log: {count} x {message[:200]}")
    if ends:
        print(f"  (tracebacks in {log})")


def _count(items) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item] += 1
    return counts


# -- main -----------------------------------------------------------------------------------------


def measure(setup: str, args: argparse.Namespace, defaults: list[tuple[dict, dict]],
            others: list[tuple[dict, dict]]) -> Summary:
    """Start ``setup`` (fresh cache; or use --url), run the load, report, stop what was started."""
    services: list[Service] = []
    with tempfile.TemporaryDirectory(prefix=f"funnelscope-load-{setup}-") as tmp:
        try:
            if args.url:
                base = loopback_url(args.url)
                print(f"\nsetup: {setup} (as labelled: --url); server {base} (already running)")
            else:
                print(f"\nsetup: {setup}: starting ...", flush=True)
                started = time.perf_counter()
                try:
                    base = start_setup(setup, Path(tmp), args, services)
                except RuntimeError as exc:
                    print(f"setup: {setup}: failed to start: {exc}")
                    return Summary(setup, failed=str(exc).splitlines()[0])
                pids = ", ".join(s.describe() for s in services)
                print(f"setup: {setup}; server {base}; {pids}; fresh cache "
                      f"({cache_backend(base)}); ready in {time.perf_counter() - started:.1f} s")
            print(f"users: {args.users}; duration: {args.duration:g} s; cap: {args.max_requests} "
                  f"requests; {len(defaults)} default views, {len(others)} others, "
                  f"{args.uncached:.0%} uncached; seed {args.seed}", flush=True)
            samples, elapsed = run_load(base, args, defaults, others)
            summary = report(setup, samples, elapsed)
            if services and summary.errors:
                for service in services:
                    server_exceptions(service.log)
            return summary
        finally:
            stop_all(services)  # by pid: terminate, kill after 10 s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30, help="concurrent simulated users")
    parser.add_argument("--duration", type=float, default=30.0,
                        help="seconds to send requests (per set-up)")
    parser.add_argument("--max-requests", type=int, default=5000,
                        help="hard cap on requests (per set-up)")
    parser.add_argument("--uncached", type=float, default=0.05,
                        help="probability that a view request is new (never cached)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--seed", type=int, default=0, help="seeds the users' choices")
    parser.add_argument("--server-log", type=Path,
                        help="keep the started web server's log here, the other services' beside "
                             "it (default: deleted with the cache)")
    parser.add_argument("--url", help="an already-running server on loopback (default: start one)")
    parser.add_argument("--setup", choices=[*SETUPS, "all"], default="embedded",
                        help="what to start and measure: embedded (one dev-server process, "
                             "filesystem cache), gunicorn (gunicorn workers, filesystem cache), "
                             "redis (gunicorn workers + Redis cache + a Celery worker), or all "
                             "three one after another with a comparison")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn worker processes (FUNNELSCOPE_WORKERS) for gunicorn, redis")
    parser.add_argument("--start-timeout", type=float, default=120.0,
                        help="seconds each started service may take to be ready")
    args = parser.parse_args()
    # a plain `kill` of this script still stops the services it started (the finally blocks run)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.users < 1 or args.duration <= 0 or args.max_requests < 1 or args.workers < 1:
        parser.error("--users, --duration, --max-requests and --workers must be positive")
    if args.url:
        loopback_url(args.url)  # refuse a non-loopback URL before anything runs
        if args.setup == "all":
            parser.error("--setup all starts its own servers: leave out --url")
    if args.setup in ("redis", "all") and not args.url and not REDIS_SERVER.exists():
        raise SystemExit(f"load.py: --setup {args.setup} needs Debian's redis-server "
                         f"({REDIS_SERVER} is missing): `make redis` installs it")
    if os.environ.pop("REDIS_URL", None) and not args.url:
        # the dev server inherits the environment: embedded and gunicorn must not use Redis
        print("note: REDIS_URL is ignored; --setup redis starts its own redis-server")

    pairs = list(default_views())
    defaults = [(s, v) for s, v in pairs if v["view"] == "slice"]
    others = [(s, v) for s, v in pairs if v["view"] != "slice"] + OTHER_SLICES
    setups = SETUPS if args.setup == "all" else (args.setup,)
    summaries = [measure(setup, args, defaults, others) for setup in setups]
    if args.setup == "all":
        comparison(summaries, args)
    if any(s.failed for s in summaries):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
