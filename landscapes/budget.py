"""A compute budget: a deadline, a memory allowance and a cancel check that end a computation
at its next progress report or checkpoint.

Every view reports its own units of work through ``progress(done, total)``
(:data:`landscapes.registry.Progress`); :func:`budgeted` wraps such a callback so that the report
after the deadline raises :class:`~landscapes.errors.BudgetExceeded` (a LandscapeError: one line
saying which budget ran out and how far the view got), so does a report once the process's
resident memory has grown by more than the view's allowance since it started, and a report after
``cancelled()`` turned true raises :class:`~landscapes.errors.Cancelled`. The computation
unwinds from inside its loop; nothing is cached.

Work that has no progress of its own to report -- an example network's first training, the
Lanczos iterations of Hessian directions -- calls :func:`check` in its loop: it raises the same
way when the computation running in this context (:func:`running`, set by
:func:`landscapes.views.compute`) is past its budget, and does nothing otherwise.

Views report at least every few hundred milliseconds of work (a chunk of grid points, ten
descent steps, 20 Bezier training steps), so a view overruns its budget by at most that much.

Memory is measured where it can be: the resident set size of this process (Linux
``/proc/self/statm``; elsewhere it is not measured) plus what the chunk workers it forked
(:mod:`landscapes.chunks`) have written since the fork, read at most every
:data:`CANCEL_CHECK_SECONDS`. It is the process's, not the view's: views computing in the same
process at the same time (request threads) count against each other's allowance, which is why the
allowance is generous and Celery workers compute one view per process. It catches a view that keeps
growing; the sizes a request may ask for are bounded before anything is allocated
(:mod:`landscapes.viewspec`), so no single step can outgrow it by much.
"""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from landscapes.chunks import worker_pids
from landscapes.errors import BudgetExceeded, Cancelled
from landscapes.registry import Progress

CANCEL_CHECK_SECONDS = 0.5  # cancelled() and the memory are asked at most this often
_STATM = "/proc/self/statm"


def resident_bytes() -> int | None:
    """This process's resident set size in bytes, plus the memory its forked chunk workers
    have made their own (:func:`private_bytes`), or None where it cannot be read."""
    try:
        with open(_STATM, "rb") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") + sum(private_bytes(p) for p in worker_pids())


def private_bytes(pid: int) -> int:
    """The resident memory process ``pid`` shares with no other process, in bytes (Linux
    ``smaps_rollup``; 0 where it cannot be read): what a forked worker has written since the
    fork, as the pages it shares with its parent are counted in the parent already."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            lines = rollup.read().splitlines()
    except OSError:
        return 0
    kib = sum(int(line.split()[1]) for line in lines
              if line.startswith((b"Private_Clean:", b"Private_Dirty:")))
    return kib * 1024


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


class Budget:
    """A deadline ``seconds`` from now (None: none), an allowance of ``memory`` bytes of
    resident-set growth from now (None: none; not enforced where ``rss()`` gives None) and a
    ``cancelled()`` check (None: none)."""

    def __init__(self, seconds: float | None, cancelled: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic, memory: int | None = None,
                 rss: Callable[[], int | None] = resident_bytes) -> None:
        self.seconds, self.cancelled, self.clock = seconds, cancelled, clock
        start = clock()
        self.deadline = None if seconds is None else start + seconds
        self.asked = start
        self.done, self.total = 0, 0
        self.memory, self.rss = memory, rss
        self.rss_start = None if memory is None else rss()

    def check(self, done: int | None = None, total: int | None = None) -> None:
        """Raise BudgetExceeded past the deadline or the memory allowance, Cancelled once
        ``cancelled()`` is true."""
        if done is not None and total is not None:
            self.done, self.total = done, total
        now = self.clock()
        if self.deadline is not None and now > self.deadline:
            raise BudgetExceeded(
                f"the view ran past its compute budget of {self.seconds:g} s{self._progress()} "
                "and was stopped; ask for fewer steps, points or starts")
        if now - self.asked < CANCEL_CHECK_SECONDS:
            return
        self.asked = now
        if self.memory is not None and self.rss_start is not None:
            rss = self.rss()
            if rss is not None and rss - self.rss_start > self.memory:
                raise BudgetExceeded(
                    f"the view grew the server's memory by {_mb(rss - self.rss_start)}, past its "
                    f"memory budget of {_mb(self.memory)}{self._progress()}, and was stopped; ask "
                    "for fewer points, samples or starts")
        if self.cancelled is not None and self.cancelled():
            raise Cancelled("the view was cancelled: nobody waits for it any more")

    def _progress(self) -> str:
        return f" ({self.done:,} of {self.total:,} units of work done)" if self.total else ""

    def wrap(self, progress: Progress) -> Callable[[int, int], None]:
        """``progress`` that checks first, then passes the report on."""
        def report(done: int, total: int) -> None:
            self.check(done, total)
            if progress is not None:
                progress(done, total)
        return report


def budgeted(progress: Progress, seconds: float | None,
             cancelled: Callable[[], bool] | None = None,
             clock: Callable[[], float] = time.monotonic, memory: int | None = None) -> Progress:
    """``progress`` that raises BudgetExceeded once ``seconds`` have passed since this call
    (None: no deadline) or the process has grown by more than ``memory`` bytes (None: no
    allowance), and Cancelled once ``cancelled()`` is true; otherwise it passes the report on.
    Returns ``progress`` itself when there is nothing to check."""
    if seconds is None and cancelled is None and memory is None:
        return progress
    return Budget(seconds, cancelled, clock, memory).wrap(progress)


_RUNNING: ContextVar[Budget | None] = ContextVar("landscapes_budget", default=None)


@contextmanager
def running(budget: Budget | None) -> Iterator[None]:
    """Make ``budget`` the one :func:`check` enforces while the block runs (in this context)."""
    token = _RUNNING.set(budget)
    try:
        yield
    finally:
        _RUNNING.reset(token)


def check() -> None:
    """Raise as :meth:`Budget.check` if the computation running here is past its budget."""
    budget = _RUNNING.get()
    if budget is not None:
        budget.check()


__all__ = ["CANCEL_CHECK_SECONDS", "Budget", "budgeted", "check", "private_bytes", "resident_bytes",
           "running"]
