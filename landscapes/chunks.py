"""Work made of independent blocks of points, on this process or on several.

A view whose work is a set of independent items (a slice's grid points, the size sweep's (N,
seed) pairs, the network minima's seeds) evaluates it block by block:
``evaluate(start, stop)`` gives the values of items ``start..stop``. The blocks are the same
whatever process runs them, and each block's values depend on nothing else, so the result is
bit for bit the one process's. :func:`map_blocks` runs the blocks in order on this process or,
inside ``with processes(N)``, on N worker processes, a chunk of consecutive blocks at a time,
and puts the values back together in order.

Workers are forked from this process, not started afresh: a fork starts from the process as it
is (torch imported, the model built, the directions drawn) in milliseconds, where a new process
pays a torch start-up (~2 s, ~250 MiB; :mod:`benchmarks.scale` prints both). Each worker gives
torch ``cores // N`` threads (at least one), so that workers x threads <= cores; setting the
thread count in the child is also what keeps a fork after torch's OpenMP from hanging.

Errors raised by a block reach the caller as they are; a worker that dies (killed, out of
memory) ends the view with a LandscapeError that says so, never a wait; a ``progress`` callback
that raises (a cancel, the compute budget) kills the workers at once. Use it from a process's
one computing thread (the command line, a dashboard job): a fork copies only the forking thread.
"""

import contextlib
import contextvars
import os
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.registry import Progress

CHUNKS_PER_JOB = 4  # chunks per worker: later chunks even out a slower worker; each is a round trip
MIN_BLOCKS = 16  # blocks per worker below which a view stays on this process: a digits-CNN
# slice of 21x21 or 41x41 (7, 27 blocks) was 7-10% slower on two forked workers than on one
# process with two torch threads, one of 81x81 (103 blocks) 1.6x faster (benchmarks/scale.py)
_JOBS: contextvars.ContextVar[int] = contextvars.ContextVar("landscapes_jobs", default=1)
_TASK: dict = {}  # the work the forked workers run, set before the fork


def cores() -> int:
    """The cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else os.cpu_count() or 1


@contextlib.contextmanager
def processes(jobs: int) -> Iterator[int]:
    """Run :func:`map_blocks` inside on ``jobs`` processes (0: one per core, 1: this one
    alone); yields the number of processes."""
    if jobs < 0:
        raise LandscapeError(f"jobs must be 0 (one process per core) or more; got {jobs}")
    count = cores() if jobs == 0 else jobs
    token = _JOBS.set(count)
    try:
        yield count
    finally:
        _JOBS.reset(token)


def jobs() -> int:
    """The processes :func:`map_blocks` uses here (1 outside :func:`processes`)."""
    return _JOBS.get()


def chunk_bounds(total: int, block: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` (at most one per block) runs of whole consecutive blocks covering ``total``
    items, their block counts as equal as they can be."""
    blocks = -(-total // block)
    chunks = max(1, min(chunks, blocks))
    edges = [block * (blocks * k // chunks) for k in range(chunks)] + [total]
    return [(a, min(b, total)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def map_blocks(evaluate: Callable[[int, int], Any], total: int, block: int,
               progress: Progress = None, *, min_blocks: int | None = None,
               chunks: int | None = None, warm_first: bool = True,
               combine: Callable[[list], Any] = np.concatenate) -> Any:
    """The values of items ``0..total``, ``block`` at a time, put together by ``combine`` (the
    blocks' values in order; by default concatenated along the first axis); ``progress(done,
    total)`` after every block (every chunk, on several processes). On several processes only
    with at least ``min_blocks`` blocks a worker (default MIN_BLOCKS; 1 for blocks of seconds),
    in ``chunks`` chunks (default CHUNKS_PER_JOB a worker; one a block for blocks of unequal
    cost, handed out largest first by the caller's order); ``warm_first``: the first block here
    before the fork (compiled kernels and caches come warm into the workers), or all on them
    (blocks of seconds that share no warm-up: a seed's training)."""
    per_worker = MIN_BLOCKS if min_blocks is None else min_blocks
    workers = min(_JOBS.get(), (-(-total // block) - warm_first) // per_worker)
    if workers > 1 and hasattr(os, "fork"):
        count = workers * CHUNKS_PER_JOB if chunks is None else chunks
        return combine(_pooled(evaluate, total, block, workers, count, warm_first, progress))
    parts = []
    for start in range(0, total, block):
        parts.append(evaluate(start, min(start + block, total)))
        if progress:
            progress(min(start + block, total), total)
    return combine(parts)


def _pooled(evaluate: Callable[[int, int], Any], total: int, block: int, workers: int,
            count: int, warm_first: bool, progress: Progress) -> list:
    """Every block's values in order: the first block here if ``warm_first`` (its compiled
    kernels and caches then come warm into every fork), the rest in chunks on ``workers``
    forked processes."""
    import multiprocessing  # only here: the command line starts without them
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    head = min(block, total) if warm_first else 0
    first = [evaluate(0, head)] if warm_first else []
    if progress and head:
        progress(head, total)
    bounds = [(a + head, b + head)
              for a, b in chunk_bounds(total - head, block, count)]
    _TASK.update(evaluate=evaluate, block=block)
    executor = ProcessPoolExecutor(workers, multiprocessing.get_context("fork"),
                                   initializer=_start_worker,
                                   initargs=(max(1, cores() // workers),))
    parts: list[list | None] = [None] * len(bounds)
    done = head
    try:
        pending = [executor.submit(_run_chunk, item) for item in enumerate(bounds)]
        for future in as_completed(pending):
            index, values = future.result()
            parts[index] = values
            done += bounds[index][1] - bounds[index][0]
            if progress:
                progress(done, total)
    except BrokenProcessPool:
        raise LandscapeError("a worker process ended while computing this view (killed, or out "
                             "of memory); the view was not finished") from None
    finally:
        # a cancel, a budget or a failed block: no chunk goes on running (the executor itself
        # would let running chunks finish; its processes are only reachable here)
        for process in list(getattr(executor, "_processes", {}).values()):
            if process.is_alive():
                process.kill()
        executor.shutdown(wait=True, cancel_futures=True)
        _TASK.clear()
    return [*first, *(values for chunk in parts for values in chunk or [])]


def _start_worker(threads: int) -> None:
    """A forked worker: torch's threads set (the fork rule), Ctrl-C left to the parent, and
    its own blocks on this process alone (no pool inside a pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _JOBS.set(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _run_chunk(item: tuple[int, tuple[int, int]]) -> tuple[int, list]:
    """A chunk's blocks' values, in order."""
    index, (start, stop) = item
    evaluate, block = _TASK["evaluate"], _TASK["block"]
    return index, [evaluate(a, min(a + block, stop)) for a in range(start, stop, block)]
