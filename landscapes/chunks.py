"""Work made of independent blocks of points, on this process or on several.

A view whose work is a set of independent items (a slice's grid points, the size sweep's (N,
seed) pairs, the network minima's seeds) evaluates it block by block:
``evaluate(start, stop)`` gives the values of items ``start..stop``. The blocks are the same
whatever process runs them, and each block's values depend on nothing else, so the result is
bit for bit the one process's. :func:`map_blocks` runs the blocks in order on this process, or
in chunks of consecutive blocks elsewhere, and puts the values back together in order:

- inside ``with processes(N)``, on N worker processes forked from this one;
- inside ``with spread(S)``, wherever the :class:`Spread` ``S`` sends them (the dashboard's
  Celery workers on any number of hosts: ``app/spread.py``); a process helping with a view
  computes the same view inside ``with helping(H)``, and its :func:`map_blocks` hands the blocks
  to the :class:`Helper` ``H`` instead of computing them all.

Workers are forked from this process, not started afresh: a fork starts from the process as it
is (torch imported, the model built, the directions drawn) in milliseconds, where a new process
pays a torch start-up (~2 s, ~250 MiB; :mod:`benchmarks.scale` prints both). Each worker gives
torch ``cores // N`` threads (at least one), so that workers x threads <= cores; setting the
thread count in the child is also what keeps a fork after torch's OpenMP from hanging.

Errors raised by a block reach the caller as they are; a worker that dies (killed, out of
memory) ends the view with a LandscapeError that says so, never a wait; a ``progress`` callback
that raises (a cancel, the compute budget) kills the workers at once. Progress counts blocks
as the workers finish them, and is reported at least every :data:`POLL_SECONDS` while they
work, so a budget or a cancel is checked that often. Use it from a process's one computing
thread (the command line, a dashboard job): a fork copies only the forking thread.
"""

import contextlib
import contextvars
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.registry import Progress

CHUNKS_PER_JOB = 4  # chunks per worker sent elsewhere (Redis round trips, a lease each):
# later chunks even out a slower worker
FORK_CHUNKS_PER_JOB = 16  # chunks per forked worker: a pipe round trip each, so smaller chunks
# even out the end better (an 81x81 digits-CNN slice on two: 4.94 s -> 4.62 s, best of 6)
MIN_BLOCKS = 16  # blocks per worker below which a view stays on this process: a digits-CNN
# slice of 21x21 or 41x41 (7, 27 blocks) was 7-10% slower on two forked workers than on one
# process with two torch threads, one of 81x81 (103 blocks) 1.6x faster (benchmarks/scale.py)
MAX_CHUNK_BLOCKS = 64  # blocks a chunk sent elsewhere holds at most: its values stay small (a
# network slice's chunk at most 64 x 64 points x 4 metrics x 8 bytes = 128 KiB)
POLL_SECONDS = 0.25  # the longest wait between two progress reports while workers compute
Evaluate = Callable[[int, int], Any]
_JOBS: contextvars.ContextVar[int] = contextvars.ContextVar("landscapes_jobs", default=1)
_TASK: dict = {}  # the work the forked workers run, set before the fork
_WORKERS: dict[int, Any] = {}  # the forked workers computing now, by pid (for the memory budget)


class Spread(Protocol):
    """Somewhere else to run the chunks of :func:`map_blocks` calls (``app/spread.py``)."""

    def workers(self) -> int:
        """How many processes may take chunks, this one included."""

    def run(self, call: int, bounds: list[tuple[int, int]], evaluate: Evaluate, block: int,
            total: int, progress: Progress) -> list[list]:
        """The blocks' values of every chunk ``bounds[i]``, in order, for the ``call``-th
        :func:`map_blocks` call of this computation (counted from 0)."""


class Helper(Protocol):
    """A process helping another with one :func:`map_blocks` call of the same computation."""

    call: int  # which call it helps with (counted from 0, as the Spread counts them)

    def serve(self, evaluate: Evaluate, total: int, block: int) -> None:
        """Compute chunks of that call (``total`` items, ``block`` a block, as the helped
        process's call has: else it is not the same computation) until none is left."""


class Helped(BaseException):
    """A helper has done its part of the view: the rest of the computation is not its own
    (a BaseException, so that no ``except Exception`` of a view takes it for an error)."""


@dataclass
class _Role:
    """What :func:`map_blocks` does here: spread chunks, or help with them; and how many
    calls it has seen in this computation."""

    spread: Spread | None = None
    helper: Helper | None = None
    calls: int = 0

    def next_call(self) -> int:
        self.calls += 1
        return self.calls - 1


_ROLE: contextvars.ContextVar[_Role | None] = contextvars.ContextVar("landscapes_role",
                                                                      default=None)


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


@contextlib.contextmanager
def spread(where: Spread) -> Iterator[None]:
    """Send the chunks of :func:`map_blocks` calls inside to ``where`` (one computation: its
    calls are counted from 0)."""
    token = _ROLE.set(_Role(spread=where))
    try:
        yield
    finally:
        _ROLE.reset(token)


@contextlib.contextmanager
def helping(helper: Helper) -> Iterator[None]:
    """Inside, the computation a :class:`Spread` sent chunks of runs as far as the call
    ``helper.call``, whose chunks go to ``helper.serve`` (which ends the computation with
    :class:`Helped`); calls before it run here, whole."""
    token = _ROLE.set(_Role(helper=helper))
    try:
        yield
    finally:
        _ROLE.reset(token)


class OneThread:
    """Torch on one thread inside (restored after), for work whose last bits must not depend on
    the process's thread count: a chunk computed on a worker with one thread must give the bits
    of the same chunk on a process with two (MKL and LAPACK split a small matrix's sums over
    their threads)."""

    def __enter__(self) -> None:
        import torch

        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.threads)


def worker_pids() -> list[int]:
    """The pids of the forked workers computing blocks now (their memory counts against the
    view's budget: :mod:`landscapes.budget`)."""
    return list(_WORKERS)


def chunk_bounds(total: int, block: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` (at most one per block) runs of whole consecutive blocks covering ``total``
    items, their block counts as equal as they can be."""
    blocks = -(-total // block)
    chunks = max(1, min(chunks, blocks))
    edges = [block * (blocks * k // chunks) for k in range(chunks)] + [total]
    return [(a, min(b, total)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def run_chunk(evaluate: Evaluate, block: int, start: int, stop: int,
              done: Callable[[int], None] | None = None) -> list:
    """The values of the blocks of items ``start..stop`` in order; ``done(items)`` after each."""
    values = []
    for a in range(start, stop, block):
        values.append(evaluate(a, min(a + block, stop)))
        if done:
            done(min(a + block, stop) - a)
    return values


def map_blocks(evaluate: Evaluate, total: int, block: int, progress: Progress = None, *,
               min_blocks: int | None = None, chunks: int | None = None,
               warm_first: bool = True, combine: Callable[[list], Any] = np.concatenate) -> Any:
    """The values of items ``0..total``, ``block`` at a time, put together by ``combine`` (the
    blocks' values in order; by default concatenated along the first axis); ``progress(done,
    total)`` after every block. Elsewhere only with at least ``min_blocks`` blocks a worker
    (default MIN_BLOCKS; 1 for blocks of seconds), in ``chunks`` chunks (default
    FORK_CHUNKS_PER_JOB a forked worker, CHUNKS_PER_JOB a worker elsewhere; one a block for
    blocks of unequal cost, handed out largest first by the caller's order); ``warm_first``:
    on forked workers, the first block here before the fork (compiled kernels and caches come
    warm into the workers), or all on them (blocks of seconds that share no warm-up: a seed's
    training)."""
    per_worker = MIN_BLOCKS if min_blocks is None else min_blocks
    blocks = -(-total // block)
    role = _ROLE.get()
    if role is not None:
        call = role.next_call()
        if role.helper is not None and call == role.helper.call:
            role.helper.serve(evaluate, total, block)
            raise Helped
        if role.spread is not None:
            workers = min(role.spread.workers(), blocks // per_worker)
            if workers > 1:
                count = max(chunks or workers * CHUNKS_PER_JOB, -(-blocks // MAX_CHUNK_BLOCKS))
                bounds = chunk_bounds(total, block, count)
                parts = role.spread.run(call, bounds, evaluate, block, total, progress)
                return combine([values for chunk in parts for values in chunk])
    workers = min(_JOBS.get(), (blocks - warm_first) // per_worker)
    if workers > 1 and hasattr(os, "fork"):
        count = workers * FORK_CHUNKS_PER_JOB if chunks is None else chunks
        return combine(_pooled(evaluate, total, block, workers, count, warm_first, progress))
    finished = [0]

    def done(items: int) -> None:
        finished[0] += items
        if progress:
            progress(finished[0], total)

    return combine(run_chunk(evaluate, block, 0, total, done))


def _pooled(evaluate: Evaluate, total: int, block: int, workers: int, count: int,
            warm_first: bool, progress: Progress) -> list:
    """Every block's values in order: the first block here if ``warm_first`` (its compiled
    kernels and caches then come warm into every fork), the rest in chunks on ``workers``
    forked processes."""
    import multiprocessing  # only here: the command line starts without them
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    head = min(block, total) if warm_first else 0
    first = [evaluate(0, head)] if warm_first else []
    if progress and head:
        progress(head, total)
    bounds = [(a + head, b + head)
              for a, b in chunk_bounds(total - head, block, count)]
    context = multiprocessing.get_context("fork")
    finished = context.Value("q", head)  # items done, counted by the workers block by block
    _TASK.update(evaluate=evaluate, block=block, finished=finished)
    executor = ProcessPoolExecutor(workers, context, initializer=_start_worker,
                                   initargs=(max(1, cores() // workers),))
    parts: list[list | None] = [None] * len(bounds)
    try:
        pending = {executor.submit(_run_chunk, item) for item in enumerate(bounds)}
        _WORKERS.update(getattr(executor, "_processes", {}))
        while pending:
            ready, pending = wait(pending, POLL_SECONDS, FIRST_COMPLETED)
            for future in ready:
                index, values = future.result()
                parts[index] = values
            if progress:  # at least every POLL_SECONDS: the budget and a cancel are checked
                progress(finished.value, total)
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
        _WORKERS.clear()
    return [*first, *(values for chunk in parts for values in chunk or [])]


def _start_worker(threads: int) -> None:
    """A forked worker: torch's threads set (the fork rule), Ctrl-C left to the parent, and
    its own blocks on this process alone (no pool inside a pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _JOBS.set(1)
    _ROLE.set(None)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _run_chunk(item: tuple[int, tuple[int, int]]) -> tuple[int, list]:
    """A chunk's blocks' values, in order; the shared count of finished items goes up after
    each block."""
    index, (start, stop) = item
    finished = _TASK["finished"]

    def done(items: int) -> None:
        with finished.get_lock():
            finished.value += items

    return index, run_chunk(_TASK["evaluate"], _TASK["block"], start, stop, done)


def pack(values: list) -> bytes:
    """A chunk's block values as bytes for another process: the ``.npz`` export format (arrays
    and a JSON outline), never a pickle. Values are arrays, numbers, booleans, strings, and
    lists, tuples and string-keyed dicts of them."""
    from landscapes.io.npz import to_npz_bytes

    arrays: dict[str, np.ndarray] = {}

    def outline(value: Any) -> Any:
        if isinstance(value, np.ndarray | np.generic):
            arrays[f"a{len(arrays)}"] = np.asarray(value)
            return {"array": f"a{len(arrays) - 1}"}
        if value is None:
            return {"none": None}
        if isinstance(value, bool | int | float | str):
            arrays[f"a{len(arrays)}"] = np.array(value)
            return {"scalar": f"a{len(arrays) - 1}"}
        if isinstance(value, list | tuple):
            return {"list" if isinstance(value, list) else "tuple": [outline(v) for v in value]}
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"dict": {k: outline(v) for k, v in value.items()}}
        raise TypeError(f"a block's values cannot hold a {type(value).__name__}")

    return to_npz_bytes(arrays, {"outline": outline(values)})


def unpack(data: bytes) -> list:
    """The values :func:`pack` packed (``allow_pickle=False``: no code runs)."""
    from landscapes.io.npz import from_npz_bytes

    arrays, meta = from_npz_bytes(data)

    def rebuilt(node: dict) -> Any:
        (kind, value), = node.items()
        if kind == "none":
            return None
        if kind == "array":
            return arrays[value]
        if kind == "scalar":
            return arrays[value].item()
        if kind == "dict":
            return {k: rebuilt(v) for k, v in value.items()}
        items = [rebuilt(v) for v in value]
        return items if kind == "list" else tuple(items)

    return rebuilt(meta["outline"])
