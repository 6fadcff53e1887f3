"""A compute budget: a deadline (and a cancel check) that ends a computation at its next
progress report.

Every view reports its own units of work through ``progress(done, total)``
(:data:`landscapes.registry.Progress`); :func:`budgeted` wraps such a callback so that the report
after the deadline raises :class:`~landscapes.errors.BudgetExceeded` (a LandscapeError: one line
saying which budget ran out and how far the view got), and a report after ``cancelled()`` turned
true raises :class:`~landscapes.errors.Cancelled`. The computation unwinds from inside its loop;
nothing is cached. Views report at least every few hundred milliseconds of work (a chunk of grid
points, a batch of descent steps, 20 Bezier training steps), so a view overruns its budget by at
most that much. Work between reports -- building a model, an example's first training -- is
bounded by the parameter ranges instead (:mod:`landscapes.viewspec`).
"""

import time
from collections.abc import Callable

from landscapes.errors import BudgetExceeded, Cancelled
from landscapes.registry import Progress

CANCEL_CHECK_SECONDS = 0.5  # cancelled() is asked at most this often (it may cost a syscall)


def budgeted(progress: Progress, seconds: float | None,
             cancelled: Callable[[], bool] | None = None,
             clock: Callable[[], float] = time.monotonic) -> Progress:
    """``progress`` that raises BudgetExceeded once ``seconds`` have passed since this call
    (None: no deadline) and Cancelled once ``cancelled()`` is true; otherwise it passes the
    report on. Returns ``progress`` itself when there is nothing to check."""
    if seconds is None and cancelled is None:
        return progress
    start = clock()
    deadline = None if seconds is None else start + seconds
    asked = [start]

    def report(done: int, total: int) -> None:
        now = clock()
        if deadline is not None and now > deadline:
            raise BudgetExceeded(
                f"the view ran past its compute budget of {seconds:g} s ({done:,} of {total:,} "
                "units of work done) and was stopped; ask for fewer steps, points or starts")
        if cancelled is not None and now - asked[0] >= CANCEL_CHECK_SECONDS:
            asked[0] = now
            if cancelled():
                raise Cancelled("the view was cancelled: nobody waits for it any more")
        if progress is not None:
            progress(done, total)

    return report


__all__ = ["CANCEL_CHECK_SECONDS", "budgeted"]
