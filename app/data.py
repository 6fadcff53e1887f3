"""Data access for the views: cached by the canonical request key, computed on a miss.

Every view is computed by :func:`landscapes.views.compute`, the registry's lookup
(:mod:`landscapes.registry`): this module knows no view by name.

The cache holds plain arrays and JSON metadata (never figures, never pickles: app/viewcache.py),
keyed by :func:`landscapes.views.request_key` -- the sha256 of the canonical request and the
library version -- so every worker, the CLI and the tests agree on what is the same request.
Every entry carries its own key, checked on read.
"""

import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import torch
from flask_caching import Cache

from app import viewcache
from landscapes import chunks, views
from landscapes.errors import BudgetExceeded
from landscapes.networks.store import UploadStore
from landscapes.registry import Progress
from landscapes.results import ViewResult
from landscapes.slices import Slice

log = logging.getLogger(__name__)
Lock = Callable[[str], AbstractContextManager]
LOCK_TTL = 10.0  # seconds a Redis lock outlives its holder: renewed while the holder lives
LOCK_WAIT = 600.0  # seconds an identical request waits for the holder's result (Redis)


def file_lock(directory: Path) -> Lock:
    """Locks by key across the threads and processes of one machine (flock on a file)."""

    @contextmanager
    def lock(key: str) -> Iterator[None]:
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / (key.replace(":", "-") + ".lock"), "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # released by the kernel if the holder dies
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    return lock


def redis_lock(url: str, ttl: float = LOCK_TTL, wait: float = LOCK_WAIT) -> Lock:
    """Locks by key across machines, in Redis.

    A lock lives ``ttl`` seconds and a thread of the holder renews it every ``ttl / 3`` seconds
    for as long as the holder holds it: a holder that dies (``kill -9``, a lost machine) leaves
    a lock that expires within ``ttl`` seconds, so the next identical request computes the view
    instead of waiting for a result that never comes. A waiter gives up after ``wait`` seconds
    (``redis.exceptions.LockError``: the view is then computed unlocked, see ViewStore).
    """
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)

    @contextmanager
    def lock(key: str) -> Iterator[None]:
        # thread_local=False: the renewal thread extends the token the holder's thread took
        held = client.lock(f"funnelscope:lock:{key}", timeout=ttl, blocking_timeout=wait,
                           thread_local=False)
        if not held.acquire():
            raise redis.exceptions.LockError(f"waited {wait:g} s for the lock on {key}")
        stop = threading.Event()
        renewer = threading.Thread(target=_renew, args=(held, key, ttl, stop), daemon=True,
                                   name=f"lock-renewal {key}")
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            try:
                held.release()
            except redis.exceptions.LockError:  # expired while a renewal failed: logged there
                log.warning("the lock on %s had expired before it was released", key)

    return lock


def _renew(held, key: str, ttl: float, stop: threading.Event) -> None:
    """Reset the lock's time to live to ``ttl`` every ``ttl / 3`` s until ``stop`` is set."""
    while not stop.wait(ttl / 3):
        try:
            held.reacquire()
        except Exception:  # Redis gone or the lock lost: the holder goes on; a duplicate
            # computation of the same view is the worst that can follow
            log.warning("could not renew the lock on %s", key, exc_info=True)


GOODBYE_SECONDS = 3600  # how long a closed page's goodbye is kept (longer than any job)
_CANCELLED: ContextVar[Callable[[], bool] | None] = ContextVar("funnelscope_cancelled",
                                                               default=None)


def _goodbye_key(client: str) -> str:
    return "goodbye:" + hashlib.sha256(client.encode()).hexdigest()[:24]


@dataclass
class ViewStore:
    """Results by request, through ``cache``; ``computed`` counts misses in this process.

    ``uploads`` holds validated uploads and trained examples (network views read them).
    """

    cache: Cache
    uploads: UploadStore
    lock: Lock
    computed: int = 0
    device: torch.device | None = None  # where network views are evaluated (None: the CPU)
    budget: float | None = None  # seconds one computation may take (landscapes.budget)
    memory: int | None = None  # bytes one computation may grow the process by (landscapes.budget)
    # where a computation's chunks may go besides this process (app/spread.py; None: nowhere)
    spread: Callable[[dict, dict], chunks.Spread] | None = None

    def cached(self, model_spec: dict, view_spec: dict) -> Slice | ViewResult | None:
        """The cached view, or None (also when the cache cannot be reached, or its entry cannot
        be served: logged). A request that names no view (LandscapeError from its key) raises:
        that is not the cache's fault."""
        return self.lookup(self.key(model_spec, view_spec))

    def lookup(self, key: str) -> Slice | ViewResult | None:
        """The entry under the cache key ``key``, or None: a missing entry, an unreachable cache
        or a bad entry (unreadable, another request's, the wrong kind: logged; the next
        computation of the view overwrites it). Entries are never unpickled (app/viewcache.py)."""
        try:
            data = self.cache.get(key)
        except Exception:  # e.g. Redis down: compute instead of failing the request
            log.warning("cache unreachable; computing without it", exc_info=True)
            return None
        if data is None:
            return None
        try:
            return viewcache.decode(key, data)
        except viewcache.BadEntry as exc:
            log.warning("bad cache entry %s, treated as a miss: %s", key, exc)
            return None

    @staticmethod
    def key(model_spec: dict, view_spec: dict) -> str:
        return "view:" + views.request_key(model_spec, view_spec)

    def get(self, model_spec: dict, view_spec: dict, progress: Progress = None,
            cancelled: Callable[[], bool] | None = None) -> Slice | ViewResult:
        """The view, from the cache or computed now (once: identical requests wait for it).

        The compute budget (``budget`` seconds) counts from this call, waiting for an identical
        computation included; the memory budget (``memory`` bytes) from the computation's start;
        ``cancelled()`` true ends the computation (landscapes.budget). A call inside
        :meth:`cancelled_when` uses that check when it names none.
        """
        cancelled = cancelled or _CANCELLED.get()
        started = time.monotonic()
        key = self.key(model_spec, view_spec)
        hit = self.lookup(key)
        if hit is not None:
            return hit
        with self._locked(key):  # a concurrent identical request computes it while we wait
            hit = self.lookup(key)
            if hit is not None:
                return hit
            left = None if self.budget is None else self.budget - (time.monotonic() - started)
            if left is not None and left <= 0:
                raise BudgetExceeded(
                    f"the view ran past its compute budget of {self.budget:g} s waiting for an "
                    "identical request's computation, which did not finish; ask for fewer steps, "
                    "points or starts")
            spread = nullcontext() if self.spread is None else \
                chunks.spread(self.spread(model_spec, view_spec))
            with spread:
                result = views.compute(model_spec, view_spec, progress, store=self.uploads,
                                       device=self.device, budget=left, cancelled=cancelled,
                                       memory=self.memory)
            self.computed += 1
            try:
                stored = self.cache.set(key, viewcache.encode(key, result))
            except Exception:
                log.warning("cache unreachable; result not stored", exc_info=True)
            else:
                if stored is False:  # the file cache says why (full disk, read-only...)
                    why = getattr(self.cache.cache, "last_error", None) or "set returned False"
                    log.warning("result not stored in the cache: %s", why)
            return result

    def compute_uncached(self, model_spec: dict, view_spec: dict,
                         cancelled: Callable[[], bool] | None = None) -> Slice | ViewResult:
        """The view computed here, under the store's budgets, without the cache or its lock (a
        helper computing chunks of a view another process computes: app/spread.py)."""
        return views.compute(model_spec, view_spec, None, store=self.uploads, device=self.device,
                             budget=self.budget, cancelled=cancelled, memory=self.memory)

    @contextmanager
    def cancelled_when(self, check: Callable[[], bool]) -> Iterator[None]:
        """Every computation :meth:`get` starts in this block (this thread or task) ends once
        ``check()`` is true (a panel job whose page was closed: :meth:`page_closed`)."""
        token = _CANCELLED.set(check)
        try:
            yield
        finally:
            _CANCELLED.reset(token)

    def say_goodbye(self, client: str) -> None:
        """Record that the page of the browser session ``client`` was closed now: its panel
        jobs started before stop (:meth:`page_closed`). Kept for :data:`GOODBYE_SECONDS`."""
        self.cache.set(_goodbye_key(client), time.time_ns(), timeout=GOODBYE_SECONDS)

    def page_closed(self, client: str | None, started_ns: int) -> bool:
        """Whether the page of ``client`` was closed after ``started_ns`` (``time.time_ns()``
        when a job started; a cache that cannot answer says no)."""
        if not client:
            return False
        try:
            closed = self.cache.get(_goodbye_key(client))
        except Exception:  # the cache is down: keep computing
            return False
        return isinstance(closed, int) and closed >= started_ns

    def _locked(self, key: str) -> AbstractContextManager:
        try:
            lock = self.lock(key)
            lock.__enter__()
        except Exception:  # the lock service is down: compute unlocked rather than fail
            log.warning("lock unavailable for %s; computing unlocked", key, exc_info=True)
            return nullcontext()
        return _Held(lock)


class _Held(AbstractContextManager):
    """An already-entered lock, released on exit (errors on release are logged, not raised)."""

    def __init__(self, lock: AbstractContextManager) -> None:
        self._lock = lock

    def __exit__(self, *exc) -> None:
        try:
            self._lock.__exit__(*exc)
        except Exception:
            log.warning("could not release a view lock", exc_info=True)
