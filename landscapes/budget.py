"""A compute budget: a deadline (and a cancel check) that ends a computation at its next
progress report or checkpoint.

Every view reports its own units of work through ``progress(done, total)``
(:data:`landscapes.registry.Progress`); :func:`budgeted` wraps such a callback so that the report
after the deadline raises :class:`~landscapes.errors.BudgetExceeded` (a LandscapeError: one line
saying which budget ran out and how far the view got), and a report after ``cancelled()`` turned
true raises :class:`~landscapes.errors.Cancelled`. The computation unwinds from inside its loop;
nothing is cached.

Work that has no progress of its own to report -- an example network's first training, the
Lanczos iterations of Hessian directions -- calls :func:`check` in its loop: it raises the same
way when the computation running in this context (:func:`running`, set by
:func:`landscapes.views.compute`) is past its budget, and does nothing otherwise.

Views report at least every few hundred milliseconds of work (a chunk of grid points, ten
descent steps, 20 Bezier training steps), so a view overruns its budget by at most that much.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from landscapes.errors import BudgetExceeded, Cancelled
from landscapes.registry import Progress

CANCEL_CHECK_SECONDS = 0.5  # cancelled() is asked at most this often (it may cost a syscall)


class Budget:
    """A deadline ``seconds`` from now (None: none) and a ``cancelled()`` check (None: none)."""

    def __init__(self, seconds: float | None, cancelled: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.cancelled, self.clock = seconds, cancelled, clock
        start = clock()
        self.deadline = None if seconds is None else start + seconds
        self.asked = start
        self.done, self.total = 0, 0

    def check(self, done: int | None = None, total: int | None = None) -> None:
        """Raise BudgetExceeded past the deadline, Cancelled once ``cancelled()`` is true."""
        if done is not None and total is not None:
            self.done, self.total = done, total
        now = self.clock()
        if self.deadline is not None and now > self.deadline:
            progress = f" ({self.done:,} of {self.total:,} units of work done)" if self.total else ""
            raise BudgetExceeded(
                f"the view ran past its compute budget of {self.seconds:g} s{progress} and was "
                "stopped; ask for fewer steps, points or starts")
        if self.cancelled is not None and now - self.asked >= CANCEL_CHECK_SECONDS:
            self.asked = now
            if self.cancelled():
                raise Cancelled("the view was cancelled: nobody waits for it any more")

    def wrap(self, progress: Progress) -> Callable[[int, int], None]:
        """``progress`` that checks first, then passes the report on."""
        def report(done: int, total: int) -> None:
            self.check(done, total)
            if progress is not None:
                progress(done, total)
        return report


def budgeted(progress: Progress, seconds: float | None,
             cancelled: Callable[[], bool] | None = None,
             clock: Callable[[], float] = time.monotonic) -> Progress:
    """``progress`` that raises BudgetExceeded once ``seconds`` have passed since this call
    (None: no deadline) and Cancelled once ``cancelled()`` is true; otherwise it passes the
    report on. Returns ``progress`` itself when there is nothing to check."""
    if seconds is None and cancelled is None:
        return progress
    return Budget(seconds, cancelled, clock).wrap(progress)


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


__all__ = ["CANCEL_CHECK_SECONDS", "Budget", "budgeted", "check", "running"]
