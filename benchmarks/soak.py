"""Soak: 20 students for 60 s against gunicorn + Redis + 2 Celery workers, with failures.

Starts (every service on a free 127.0.0.1 port, stopped by its pid afterwards; the launcher
helpers are benchmarks/load.py's) Debian's redis-server, gunicorn (``--workers``, default 2)
and two Celery workers (``--pool=solo``), all with ``REDIS_URL`` and a fresh cache; warms the
default views; then runs ``--clients`` students (default 20), each an address of its own
(``X-Forwarded-For`` through loopback, which gunicorn trusts as a proxy: app/fairness.py), who
ask ``POST /api/view`` for cached views (the default panels, a few others) with a short think
time, and now and then a small new view. The minute is cut in phases:

1. ``unloaded`` (first fifth): everyone behaves; its p95 is the baseline;
2. ``flood`` (second fifth): student 0 floods new, never-cached p-spin slices from
   ``--flood-threads`` threads (honouring the 429's ``Retry-After``); the others' p95 against
   the baseline, with the target of at most 2x (the fair share per client:
   ``FUNNELSCOPE_JOBS_PER_CLIENT``, ``--jobs-per-client``; computations at the nice value
   ``FUNNELSCOPE_COMPUTE_NICE``, ``--compute-nice``: 0 to compare without it);
3. ``chaos`` (from two fifths on): ``kill -9`` of one gunicorn worker (gunicorn starts another: it
   computes ``/api/view``) and of one Celery worker (restarted here, as a supervisor would:
   the workers run the panels' jobs), 5 s later a restart of redis-server on the same port.
   Recovery is when Redis answers, ``/readyz`` is 200, gunicorn has its workers again and the
   restarted Celery worker is ready; the run goes on at least 10 s after it (up to 30 s past
   ``--duration``).

Prints requests, errors by cause, p50/p95 per phase, hung requests (over 10 s; target 0 among
those sent after recovery), wrong results (a sample of answers compared with
:func:`landscapes.views.compute` run here: target 0) and the resident memory of the gunicorn and
Celery workers before and after.

Usage: python benchmarks/soak.py [--clients 20] [--duration 60] [--workers 2]
                                 [--jobs-per-client 2] [--flood-threads 6] [--compute-nice 10]

Client and server share the machine's cores: compare ratios within one run.
"""

import argparse
import json
import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from load import (
    GUNICORN,
    OTHER_SLICES,
    REDIS_SERVER,
    WORKER,
    Service,
    _children,
    http_status,
    launch,
    redis_answers,
    stop_all,
    wait_ready,
)

from app import devserver
from app.precompute import default_views
from landscapes import views

HUNG = 10.0  # seconds: a request slower than this is hung
AFTER = 10.0  # seconds of load kept after recovery (the run goes on past --duration if need be)
GRACE = 30.0  # seconds past --duration that a run waits for recovery at most
PHASES = ("unloaded", "flood", "chaos", "recovered")


@dataclass
class Sample:
    client: int
    phase: str
    started: float  # monotonic
    seconds: float
    status: int  # 0: no answer
    error: str = ""
    body: dict | None = None
    request: tuple[dict, dict] | None = None
    flood: bool = False  # sent by the flooding threads (student 0's address)


def post(base: str, client: int, model: dict, view: dict,
         timeout: float) -> tuple[int, str, dict | None]:
    """(status, error cause, JSON body) of one ``POST /api/view`` as student ``client``."""
    data = json.dumps({"model": model, "view": view}).encode()
    address = f"10.0.{client // 250}.{client % 250 + 1}"
    req = urllib.request.Request(base + "/api/view", data=data, method="POST", headers={
        "Content-Type": "application/json", "X-Forwarded-For": address})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, "", json.loads(response.read())
    except urllib.error.HTTPError as exc:
        cause = {429: "429 fair share (retry later)"}.get(exc.code, f"HTTP {exc.code}")
        return exc.code, cause, None
    except TimeoutError:
        return 0, f"no answer within {timeout:.0f} s", None
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return 0, f"connection: {type(reason).__name__}", None


class Clock:
    """The phase of the run by elapsed time: unloaded for the first fifth, flood for the second,
    chaos from then on until recovery (``recovered_at``, set when seen). The run lasts
    ``duration`` seconds, longer if need be to have AFTER seconds after recovery (GRACE at most)."""

    def __init__(self, duration: float) -> None:
        self.start = time.monotonic()
        self.duration = duration
        self.chaos_at = duration * 2 / 5
        self.recovered_at: float | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def phase(self) -> str:
        t = self.elapsed()
        if t < self.duration / 5:
            return "unloaded"
        if t < self.chaos_at:
            return "flood"
        return "chaos" if self.recovered_at is None else "recovered"

    def end(self) -> float:
        if self.recovered_at is None:
            return self.duration + GRACE
        return min(max(self.duration, self.recovered_at + AFTER), self.duration + GRACE)

    def running(self) -> bool:
        return self.elapsed() < self.end()


def student(k: int, base: str, clock: Clock, views_: list[tuple[dict, dict]], args, out: list) -> None:
    rng = random.Random(args.seed * 1000 + k)
    while clock.running():
        if rng.random() < args.new:
            model = {"model": "ising", "n": 12, "native_bias": 2.0, "seed": rng.randrange(10**9)}
            view = {"view": "slice", "steps": 21}
        else:
            model, view = rng.choice(views_)
        phase, started = clock.phase(), time.monotonic()
        status, error, body = post(base, k, model, view, args.timeout)
        out.append(Sample(k, phase, started, time.monotonic() - started, status, error, body,
                          (model, view)))
        time.sleep(rng.uniform(0.1, 0.5))  # think time


def flooder(t: int, base: str, clock: Clock, args, out: list) -> None:
    """Student 0 in the flood phase: new p-spin slices, one after another, per thread."""
    rng = random.Random(args.seed * 7919 + t)
    while clock.running() and clock.phase() != "flood":
        time.sleep(0.1)
    while clock.running() and clock.phase() == "flood":
        model = {"model": "pspin", "n": 128, "p": 3, "seed": rng.randrange(10**9)}
        view = {"view": "slice", "steps": 51}
        started = time.monotonic()
        status, error, body = post(base, 0, model, view, args.timeout)
        out.append(Sample(0, "flood", started, time.monotonic() - started, status, error, body,
                          (model, view), flood=True))
        if status == 429:
            time.sleep(1.0)  # Retry-After


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def memory(web: Service, workers: list[Service]) -> str:
    parts = [f"gunicorn worker {pid}: {rss_mb(pid) or 0:.0f} MB" for pid in _children(web.process.pid)]
    parts += [f"celery {w.name} {w.process.pid}: {rss_mb(w.process.pid) or 0:.0f} MB" for w in workers]
    return "; ".join(parts)


def start_worker(name: str, root: Path, env: dict) -> Service:
    command = [*WORKER, "-n", f"{name}@%h"]
    return launch(f"celery {name}", command, root / f"{name}-{time.monotonic_ns()}.log", env)


def worker_ready(worker: Service) -> bool:
    return re.search(r"\bready\b", worker.text()) is not None


def chaos(base: str, clock: Clock, args, web: Service, workers: list[Service], redis: dict,
          services: list[Service], events: list[str]) -> None:
    """At half time: kill -9 a gunicorn worker and a Celery worker (restarted here); then
    restart Redis on its port; then wait for recovery."""
    while clock.running() and clock.elapsed() < clock.chaos_at:
        time.sleep(0.1)
    victims = _children(web.process.pid)
    if victims:
        os.kill(victims[0], signal.SIGKILL)
        events.append(f"{clock.elapsed():5.1f} s  kill -9 gunicorn worker {victims[0]} "
                      "(computes /api/view; gunicorn starts another)")
    dead = workers[0]
    os.kill(dead.process.pid, signal.SIGKILL)
    dead.process.wait()
    services.remove(dead)
    events.append(f"{clock.elapsed():5.1f} s  kill -9 Celery worker {dead.name} "
                  f"{dead.process.pid} (runs panel jobs)")
    fresh = start_worker("soak1", redis["root"], redis["env"])
    services.append(fresh)
    workers[0] = fresh
    events.append(f"{clock.elapsed():5.1f} s  restarted {fresh.name} as pid {fresh.process.pid}")
    time.sleep(5)
    server: Service = redis["service"]
    services.remove(server)
    devserver.stop(server.process)
    events.append(f"{clock.elapsed():5.1f} s  redis-server {server.process.pid} stopped")
    time.sleep(1.0)
    again = launch("redis-server", redis["command"], redis["root"] / "redis-2.log", redis["env"])
    services.append(again)
    redis["service"] = again
    events.append(f"{clock.elapsed():5.1f} s  redis-server restarted on the same port, "
                  f"pid {again.process.pid}")
    while clock.running():
        if (redis_answers(redis["url"]) and worker_ready(fresh)
                and http_status(base + "/readyz", timeout=2) == 200
                and len(_children(web.process.pid)) == args.workers):
            clock.recovered_at = clock.elapsed()
            events.append(f"{clock.recovered_at:5.1f} s  recovered: Redis answers, /readyz 200, "
                          f"{args.workers} gunicorn workers, {fresh.name} ready")
            return
        time.sleep(0.2)
    events.append("not recovered before the end of the run")


def p50_p95(samples: list[Sample]) -> tuple[float, float] | None:
    seconds = [s.seconds for s in samples if s.status == 200]
    if not seconds:
        return None
    p50, p95 = np.percentile(np.array(seconds) * 1000, [50, 95])
    return float(p50), float(p95)


def wrong_results(samples: list[Sample], count: int, seed: int) -> tuple[int, int]:
    """(checked, wrong): a sample of distinct answers against a direct computation."""
    by_key: dict[str, Sample] = {}
    for s in samples:
        if s.status == 200 and s.body and s.request and s.body.get("key") not in by_key:
            by_key[s.body["key"]] = s
    chosen = random.Random(seed).sample(sorted(by_key), min(count, len(by_key)))
    wrong = 0
    for key in chosen:
        s = by_key[key]
        assert s.body is not None and s.request is not None
        model, view = s.request
        direct = views.compute(model, view)
        got = np.array(s.body["values"], dtype=float)
        want = np.asarray(direct.values, dtype=np.float32).astype(float)
        same_key = views.request_key(model, view) == key
        if not same_key or got.shape != want.shape or not np.allclose(got, want, rtol=1e-5,
                                                                    atol=1e-6, equal_nan=True):
            wrong += 1
    return len(chosen), wrong


def report(samples: list[Sample], clock: Clock, args, events: list[str]) -> None:
    students = [s for s in samples if not s.flood]
    flood = [s for s in samples if s.flood]
    print("\nevents:\n  " + "\n  ".join(events))
    print(f"\n{'phase':<11}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}"
          "   (the students; the flooding threads apart)")
    figures = {}
    for phase in PHASES:
        got = [s for s in students if s.phase == phase]
        figures[phase] = p50_p95(got)
        cells = ("" if figures[phase] is None
                 else "".join(f"{v:9.1f}" for v in figures[phase]))  # type: ignore[union-attr]
        print(f"{phase:<11}{len(got):>9}{sum(s.status != 200 for s in got):>8}{cells}")
    ok = sum(s.status == 200 for s in flood)
    share = (f"{args.jobs_per_client} computing at once" if args.jobs_per_client > 0
             else "no limit")
    print(f"flooder    {len(flood):>9} new p-spin slices asked: {ok} computed, "
          f"{sum(s.status == 429 for s in flood)} refused with 429 (its fair share: {share})")
    errors = Counter(f"{s.phase}: {s.error or f'HTTP {s.status}'}"
                     + (" (the flooding threads)" if s.flood
                        else " (student 0's own loop: the flooding address)" if s.client == 0
                        else "")
                     for s in samples if s.status != 200 and not (s.flood and s.status == 429))
    print(f"\nrequests: {len(samples)} in {clock.end():.0f} s; errors (the flooding threads' "
          f"429s apart): {sum(errors.values())}")
    for cause, n in errors.most_common():
        print(f"  {n} x {cause}")
    base, loaded = figures["unloaded"], figures["flood"]
    if base and loaded:
        ratio = loaded[1] / base[1]
        print(f"\nfairness: the others' p95 {loaded[1]:.0f} ms while one student floods vs "
              f"{base[1]:.0f} ms unloaded = {ratio:.2f}x (target <= 2x: "
              f"{'met' if ratio <= 2 else 'NOT met'})")
    hung = [s for s in samples if s.seconds > HUNG or (s.status == 0 and "no answer" in s.error)]
    after = ([s for s in hung if s.started - clock.start >= clock.recovered_at]
             if clock.recovered_at is not None else [])
    print(f"hung requests (> {HUNG:.0f} s): {len(hung)} in all, {len(after)} sent after "
          f"recovery (target 0)")
    for s in hung[:5]:
        print(f"  sent at {s.started - clock.start:5.1f} s ({s.phase}), {s.seconds:.1f} s: "
              f"{s.error or f'HTTP {s.status}'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="simulated students")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--compute-nice", type=int, default=10,
                        help="FUNNELSCOPE_COMPUTE_NICE: the computing threads' nice value")
    parser.add_argument("--jobs-per-client", type=int, default=2,
                        help="FUNNELSCOPE_JOBS_PER_CLIENT for the server")
    parser.add_argument("--flood-threads", type=int, default=6,
                        help="concurrent requests of the flooding student")
    parser.add_argument("--new", type=float, default=0.05,
                        help="probability that a student's request is a new (small) view")
    parser.add_argument("--check", type=int, default=30, help="answers compared with a direct "
                        "computation")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start-timeout", type=float, default=180.0)
    args = parser.parse_args()
    if not REDIS_SERVER.exists():
        raise SystemExit(f"soak.py needs Debian's redis-server ({REDIS_SERVER}): `make redis`")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    services: list[Service] = []
    with tempfile.TemporaryDirectory(prefix="funnelscope-soak-") as tmp:
        root = Path(tmp)
        try:
            run(root, args, services)
        finally:
            stop_all(services)


def run(root: Path, args, services: list[Service]) -> None:
    started = time.monotonic()
    (root / "redis").mkdir()
    port = devserver.free_port()
    url = f"redis://{devserver.HOST}:{port}/0"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FUNNELSCOPE_CACHE_DIR": str(root / "cache"),
           "REDIS_URL": url, "FUNNELSCOPE_JOBS_PER_CLIENT": str(args.jobs_per_client),
           "FUNNELSCOPE_COMPUTE_NICE": str(args.compute_nice)}
    command = [str(REDIS_SERVER), "--port", str(port), "--bind", devserver.HOST, "--save", "",
               "--appendonly", "no", "--dir", str(root / "redis")]
    server = launch("redis-server", command, root / "redis.log", env)
    services.append(server)
    wait_ready(server, lambda: redis_answers(url), "PING", 30)
    web_port = devserver.free_port()
    env |= {"FUNNELSCOPE_BIND": f"{devserver.HOST}:{web_port}",
            "FUNNELSCOPE_WORKERS": str(args.workers)}
    web = launch("gunicorn", GUNICORN, root / "web.log", env)
    services.append(web)
    workers = [start_worker(name, root, env) for name in ("soak1", "soak2")]
    services.extend(workers)
    base = f"http://{devserver.HOST}:{web_port}"
    wait_ready(web, lambda: http_status(base + "/healthz") == 200, "GET /healthz 200",
               args.start_timeout)
    for w in workers:
        wait_ready(w, lambda w=w: worker_ready(w), "'ready' in its log", args.start_timeout)
    wait_ready(web, lambda: http_status(base + "/readyz", timeout=5) == 200, "GET /readyz 200",
               args.start_timeout)
    cached = [(s, v) for s, v in default_views()] + OTHER_SLICES
    for model, view in cached:  # warm: the students' views are in the cache
        post(base, 999, model, view, 300)
    post(base, 999, {"model": "pspin", "n": 128, "p": 3, "seed": 1}, {"view": "slice", "steps": 51}, 300)
    print(f"soak: {args.clients} students for {args.duration:g} s; gunicorn {args.workers} workers "
          f"(pid {web.process.pid}), 2 Celery workers, redis-server on port {port}; "
          f"FUNNELSCOPE_JOBS_PER_CLIENT={args.jobs_per_client}, "
          f"FUNNELSCOPE_COMPUTE_NICE={args.compute_nice}; {len(cached)} warm views; "
          f"ready in {time.monotonic() - started:.0f} s")
    before = memory(web, workers)
    samples: list[Sample] = []
    events: list[str] = []
    clock = Clock(args.duration)
    redis = {"service": server, "command": command, "url": url, "root": root, "env": env}
    threads = [threading.Thread(target=student, args=(k, base, clock, cached, args, samples),
                                daemon=True) for k in range(args.clients)]
    threads += [threading.Thread(target=flooder, args=(t, base, clock, args, samples), daemon=True)
                for t in range(args.flood_threads)]
    threads.append(threading.Thread(target=chaos, daemon=True, args=(base, clock, args, web,
                                                                    workers, redis, services, events)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, clock.end() - clock.elapsed()) + args.timeout + 5)
    if any(t.is_alive() for t in threads):
        print("warning: some clients still wait on a request; reported without them")
    time.sleep(2)  # the new gunicorn worker settles before its memory is read
    after = memory(web, workers)
    report(list(samples), clock, args, events)
    checked, wrong = wrong_results(list(samples), args.check, args.seed)
    print(f"wrong results: {wrong} of {checked} distinct answers compared with "
          "landscapes.views.compute (target 0)")
    print(f"memory before: {before}\nmemory after:  {after}")
    print(f"total wall time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
