"""Load test: N simulated students against the dashboard on loopback, bounded in time and requests.

Starts the dashboard in a subprocess with a fresh temporary cache (nothing is precomputed: the
first requests for each view are cold) -- or targets an already-running server with ``--url``
(loopback only: 127.0.0.1, localhost or ::1; any other host is refused). Each simulated user
loops until ``--duration`` seconds have passed or ``--max-requests`` requests have been sent:

1. ``GET /`` (the page) and ``GET /_dash-layout`` (what the browser fetches next);
2. ``POST /api/view`` for one view: mostly one of the two default panel slices
   (``app.precompute.default_views()``), otherwise one of a small set of other views (the default
   paths and two small slices: cold on their first hit, cached after), and with probability
   ``--uncached`` (5%) an Ising n=12 slice (steps 21) with a random seed: always computed.

Prints p50/p95/p99 latency per request kind, throughput, the error count (non-2xx answers and
exceptions) and, for the default views, the ratio of cold (computed in that request or waiting
on its computation: the API's ``cached`` is false) to warm latency.

Usage: python benchmarks/load.py [--users 30] [--duration 30] [--max-requests 5000]
                                 [--url http://127.0.0.1:8050] [--setup embedded]

The load generator runs on the same machine as the server and shares its CPU cores: compare
ratios between runs on one machine, not raw numbers across machines.
"""

import argparse
import json
import random
import re
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from app import devserver
from app.precompute import default_views

LOOPBACK = ("127.0.0.1", "localhost", "::1")
KINDS = ("page", "layout", "default", "other", "uncached")
# further views: cold on their first hit, cached after (beside the default panels' paths)
OTHER_SLICES = [
    ({"model": "ising", "n": 16, "native_bias": 1.0, "seed": 2}, {"view": "slice", "steps": 31}),
    ({"model": "pspin", "n": 32, "p": 3, "seed": 1}, {"view": "slice", "steps": 31, "span": 1.5}),
]


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


def percentiles_ms(seconds: list[float]) -> str:
    if not seconds:
        return f"{'-':>9}{'-':>9}{'-':>9}"
    p50, p95, p99 = np.percentile(np.array(seconds) * 1000, [50, 95, 99])
    return f"{p50:9.1f}{p95:9.1f}{p99:9.1f}"


def report(samples: list[Sample], elapsed: float) -> None:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_kind[s.kind].append(s)
    print(f"\n{'kind':<10}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'cold':>6}")
    for kind in KINDS:
        got = by_kind.get(kind, [])
        errors = sum(not s.ok for s in got)
        cold = sum(s.cached is False for s in got)
        lat = percentiles_ms([s.seconds for s in got if s.ok])
        cold_column = "" if kind in ("page", "layout") else cold
        print(f"{kind:<10}{len(got):>9}{errors:>8}{lat}{cold_column:>6}")
    errors = [s for s in samples if not s.ok]
    print(f"\nrequests: {len(samples)} in {elapsed:.1f} s = {len(samples) / elapsed:.1f} req/s; "
          f"errors: {len(errors)}")
    for message, count in sorted(_count(s.error for s in errors).items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {count} x {message}")
    default = [s for s in by_kind.get("default", []) if s.ok]
    cold = [s.seconds for s in default if s.cached is False]
    warm = [s.seconds for s in default if s.cached is True]
    if cold and warm:
        ratio = np.median(cold) / np.median(warm)
        print(f"default views: cold p50 {np.median(cold) * 1000:.0f} ms ({len(cold)} requests) vs "
              f"warm p50 {np.median(warm) * 1000:.1f} ms ({len(warm)}): cold/warm = {ratio:.0f}x")
    else:
        print("default views: not enough cold and warm answers for a ratio "
              "(a server that was already warm has no cold answers)")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30, help="concurrent simulated users")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds to send requests")
    parser.add_argument("--max-requests", type=int, default=5000, help="hard cap on requests")
    parser.add_argument("--uncached", type=float, default=0.05,
                        help="probability that a view request is new (never cached)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--seed", type=int, default=0, help="seeds the users' choices")
    parser.add_argument("--server-log", type=Path,
                        help="keep the started server's log here (default: deleted with the cache)")
    parser.add_argument("--url", help="an already-running server on loopback (default: start one)")
    # TODO: a `--setup redis` variant (gunicorn workers + Redis cache + Celery jobs, started the
    # same way and stopped by pid) comes with the Redis/Celery backend; compare it with embedded.
    parser.add_argument("--setup", choices=["embedded"], default="embedded",
                        help="the server setup this run measures (embedded: one dev-server "
                             "process, filesystem cache)")
    args = parser.parse_args()
    if args.users < 1 or args.duration <= 0 or args.max_requests < 1:
        parser.error("--users, --duration and --max-requests must be positive")

    pairs = list(default_views())
    defaults = [(s, v) for s, v in pairs if v["view"] == "slice"]
    others = [(s, v) for s, v in pairs if v["view"] != "slice"] + OTHER_SLICES
    process = None
    with tempfile.TemporaryDirectory(prefix="funnelscope-load-") as tmp:
        log = args.server_log or Path(tmp) / "server.log"
        try:
            if args.url:
                base = loopback_url(args.url)
            else:
                base, process = devserver.start_in_subprocess(Path(tmp) / "cache", log=log)
            print(f"setup: {args.setup}; server {base}"
                  f"{f' (pid {process.pid}, fresh cache)' if process else ' (already running)'}")
            print(f"users: {args.users}; duration: {args.duration:g} s; cap: {args.max_requests} "
                  f"requests; {len(defaults)} default views, {len(others)} others, "
                  f"{args.uncached:.0%} uncached")
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
            report(list(samples), elapsed)
            if process is not None and any(not s.ok for s in samples):
                server_exceptions(log)
        finally:
            if process is not None:
                devserver.stop(process)  # terminates by pid; kills after a grace period


if __name__ == "__main__":
    main()
