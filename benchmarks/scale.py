"""One view on several processes: the digits-CNN slice as a whole ``landscapes slice`` process
with ``--jobs 1`` and ``--jobs 2``, and what an extra process costs.

Cases (the example trained once into a temporary cache; filter-normalized plane, train + test
loss and accuracy at every point; median of ``--rounds`` alternating runs, one run for 201x201):

* 21x21, 81x81 and 201x201: ``--jobs 1`` with torch's default threads (two here: the command
  as a user runs it), ``--jobs 1`` with one torch thread (``OMP_NUM_THREADS=1``: one worker of
  a lab, which runs one thread per worker), and ``--jobs 2`` (two forked workers, one thread
  each); speed-ups against both one-process figures. The 21x21 row is the overhead check: two
  processes must not make a small view slower by more than 10%.
* the network minima of the digits CNN from 8 seeds (``landscapes view ... minima``), each
  run in an empty cache (all 8 trained, on one torch thread each, as examples always train):
  ``--jobs 1`` and ``--jobs 2``;
* an extra worker: forked from this warm process (torch imported) against a fresh one started
  by ``spawn`` that imports the library: seconds until each answers its first task;
* the same slices (81x81 and 201x201) and minima on the teaching lab's engine: a real
  redis-server and 1, then 2, solo-pool Celery workers on loopback (one torch thread each, as
  the compose file runs them), each view computed as a task on a worker through the view store
  (``benchmarks/scale_celery.py``), its chunks spread over the workers (``app/spread.py``):
  wall seconds from sending the task to its answer, one run each (a new request every time;
  the minima in an emptied example cache).

Usage: ``.venv/bin/python benchmarks/scale.py [--rounds 3] [--sizes 21,81,201]
[--no-celery]``. Compare figures within one run: this machine's speed swings for minutes at a
time.
"""

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from whole_process import timed  # noqa: E402  # (wall seconds, peak MiB) of a whole process

SCRIPT = Path(sys.executable).parent / "landscapes"
SETUPS = {"jobs 1, default threads": ("1", None), "jobs 1, one thread": ("1", "1"),
          "jobs 2": ("2", None)}


def run_slice(cache: Path, steps: int, jobs: str, threads: str | None) -> tuple[float, float]:
    out = cache / f"s{steps}-{jobs}-{threads}.npz"
    command = [str(SCRIPT), "slice", "network", "--example", "digits-cnn", "--cache-dir",
               str(cache), "--steps", str(steps), "--jobs", jobs, "--out", str(out)]
    env_threads = os.environ.get("OMP_NUM_THREADS")
    try:
        if threads:
            os.environ["OMP_NUM_THREADS"] = threads
        return timed(command)
    finally:
        if env_threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = env_threads


def run_minima(folder: Path, jobs: str, seeds: int) -> tuple[float, float]:
    """The digits CNN's minima from ``seeds`` seeds in a new, empty cache."""
    cache = Path(tempfile.mkdtemp(dir=folder))
    model = '{"model": "network", "example": "digits-cnn"}'
    view = f'{{"view": "minima", "seeds": {seeds}}}'
    return timed([str(SCRIPT), "view", "--model", model, "--view", view, "--cache-dir",
                  str(cache), "--jobs", jobs, "--out", str(cache / "minima.npz")])


def _answer(_: int) -> int:
    return os.getpid()


def _import_library() -> None:
    import torch  # noqa: F401

    import landscapes.networks.views  # noqa: F401


def worker_start(method: str) -> float:
    """Seconds from creating a one-process pool (``fork`` or ``spawn``) to its first answer."""
    start = time.perf_counter()
    context = multiprocessing.get_context(method)
    init = _import_library if method == "spawn" else None
    with context.Pool(1, initializer=init) as pool:
        pool.map(_answer, [0])
    return time.perf_counter() - start


CNN = {"model": "network", "example": "digits-cnn"}


def celery_lab(cache: Path, sizes: list[int], seeds: int) -> None:
    """The slices and minima on 1 and 2 Celery workers (a redis-server of its own)."""
    from celery import Celery
    from redis import Redis

    from app import devserver

    if shutil.which("redis-server") is None:
        print("celery: skipped (no redis-server; `make test` installs it)")
        return
    port = devserver.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(cache)],
                             stdout=subprocess.DEVNULL)
    env = {**os.environ, "REDIS_URL": url, "FUNNELSCOPE_CACHE_DIR": str(cache / "lab"),
           "PYTHONPATH": str(HERE), "FUNNELSCOPE_COMPUTE_NICE": "0",
           "FUNNELSCOPE_COMPUTE_SECONDS": "3600"}
    client = Celery("benchmark", broker=url, backend=url)
    store = Redis.from_url(url)
    workers: list[subprocess.Popen] = []

    def start_worker() -> None:
        log = cache / f"worker-{len(workers)}.log"
        with open(log, "wb") as out:
            workers.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "celery"), "-A", "scale_celery", "worker",
                 "--pool=solo", "-n", f"w{len(workers)}@%h", "--loglevel=INFO"],
                cwd=HERE.parent, env=env, stdout=out, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while "ready" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline or workers[-1].poll() is not None:
                raise RuntimeError(f"a Celery worker did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)

    def run(view: dict) -> float:
        start = time.perf_counter()
        client.send_task("benchmark.view", args=[CNN, view]).get(timeout=3600)
        return time.perf_counter() - start

    figures: dict[str, dict[int, float]] = {}
    try:
        for count in (1, 2):
            while len(workers) < count:
                start_worker()
            for k in range(count):  # every worker warm (the example trained, kernels loaded)
                run({"view": "slice", "steps": 81, "span": 0.5 + 0.01 * (k + 10 * count)})
            for steps in sizes:  # a new request each time: a span no other run asks for
                figures.setdefault(f"{steps}x{steps} slice", {})[count] = run(
                    {"view": "slice", "steps": steps, "span": 1.0 + 0.001 * count})
            if seeds:
                for trained in (cache / "lab").rglob("digits-cnn*.safetensors"):
                    trained.unlink()  # all 8 trained again, as in the command-line runs
                for entry in store.scan_iter("funnelscope:view:*"):  # and no cached minima
                    store.delete(entry)
                figures.setdefault(f"minima from {seeds} seeds", {})[count] = run(
                    {"view": "minima", "seeds": seeds})
    finally:
        for process in [*workers, redis]:
            devserver.stop(process)
    print("digits CNN on Celery workers (solo pool, one torch thread each), a task on a worker "
          "through the view store, one run each:")
    for name, by_count in figures.items():
        print(f"  {name:24s} 1 worker {by_count[1]:7.2f} s   2 workers {by_count[2]:7.2f} s   "
              f"speed-up {by_count[1] / by_count[2]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="21,81,201")
    parser.add_argument("--seeds", type=int, default=8, help="network minima seeds (0: skip)")
    parser.add_argument("--no-celery", action="store_true", help="skip the Celery workers")
    args = parser.parse_args()
    import torch  # noqa: F401  # a warm process for the fork figure

    import landscapes.networks.views  # noqa: F401

    print(f"extra worker, until its first answer: forked from this warm process "
          f"{min(worker_start('fork') for _ in range(3)):.3f} s; spawned and importing the "
          f"library {min(worker_start('spawn') for _ in range(2)):.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        run_slice(cache, 3, "1", None)  # trains the example into the cache
        for steps in (int(s) for s in args.sizes.split(",")):
            rounds = 1 if steps > 100 else args.rounds
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in SETUPS}
            for _ in range(rounds):
                for name, (jobs, threads) in SETUPS.items():
                    runs[name].append(run_slice(cache, steps, jobs, threads))
            wall = {name: statistics.median(r[0] for r in v) for name, v in runs.items()}
            peak = {name: max(r[1] for r in v) for name, v in runs.items()}
            print(f"digits CNN {steps}x{steps} slice, whole process, median of {rounds}:")
            for name in SETUPS:
                print(f"  {name:24s} {wall[name]:7.2f} s  peak {peak[name]:5.0f} MiB (the parent)")
            two = wall["jobs 2"]
            print(f"  speed-up of jobs 2: {wall['jobs 1, one thread'] / two:.2f}x against one "
                  f"process on one thread, {wall['jobs 1, default threads'] / two:.2f}x against "
                  "one process on torch's default threads")
        if args.seeds:
            minima = {jobs: run_minima(cache, jobs, args.seeds) for jobs in ("1", "2")}
            print(f"digits CNN minima from {args.seeds} seeds, each trained (empty cache), whole "
                  "process, one run:")
            for jobs, (wall_s, peak_mib) in minima.items():
                print(f"  jobs {jobs}  {wall_s:7.2f} s  peak {peak_mib:5.0f} MiB (the parent)")
            print(f"  speed-up of jobs 2: {minima['1'][0] / minima['2'][0]:.2f}x")
        if not args.no_celery:
            celery_lab(cache, [s for s in (int(s) for s in args.sizes.split(",")) if s > 21],
                       args.seeds)


if __name__ == "__main__":
    main()
