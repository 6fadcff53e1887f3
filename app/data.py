"""Data access for the views: cached by the canonical request key, computed on a miss.

Every view is computed by :func:`landscapes.views.compute`, the registry's lookup
(:mod:`landscapes.registry`): this module knows no view by name.

The cache holds plain arrays and JSON metadata (never figures), keyed by
:func:`landscapes.views.request_key` -- the sha256 of the canonical request and the library
version -- so every worker, the CLI and the tests agree on what is the same request.
"""

import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from flask_caching import Cache

from landscapes import views
from landscapes.errors import BudgetExceeded
from landscapes.networks.store import UploadStore
from landscapes.registry import Progress
from landscapes.results import ViewResult, from_arrays
from landscapes.slices import Slice

log = logging.getLogger(__name__)
Lock = Callable[[str], AbstractContextManager]
LOCK_TIMEOUT = 600  # seconds: a lock left by a killed job expires (Redis)


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


def redis_lock(url: str) -> Lock:
    """Locks by key across machines, in Redis (expire after LOCK_TIMEOUT if the holder dies)."""
    import redis

    client = redis.Redis.from_url(url)
    return lambda key: client.lock(f"funnelscope:lock:{key}", timeout=LOCK_TIMEOUT,
                                   blocking_timeout=LOCK_TIMEOUT)


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

    def cached(self, model_spec: dict, view_spec: dict) -> Slice | ViewResult | None:
        """The cached view, or None (also when the cache cannot be reached: logged). A request
        that names no view (LandscapeError from its key) raises: that is not the cache's fault."""
        key = self.key(model_spec, view_spec)
        try:
            hit = self.cache.get(key)
        except Exception:  # e.g. Redis down: compute instead of failing the request
            log.warning("cache unreachable; computing without it", exc_info=True)
            return None
        return None if hit is None else from_arrays(*hit)

    @staticmethod
    def key(model_spec: dict, view_spec: dict) -> str:
        return "view:" + views.request_key(model_spec, view_spec)

    def get(self, model_spec: dict, view_spec: dict, progress: Progress = None,
            cancelled: Callable[[], bool] | None = None) -> Slice | ViewResult:
        """The view, from the cache or computed now (once: identical requests wait for it).

        The compute budget (``budget`` seconds) counts from this call, waiting for an identical
        computation included; ``cancelled()`` true ends the computation (landscapes.budget).
        """
        started = time.monotonic()
        key = self.key(model_spec, view_spec)
        hit = self.cached(model_spec, view_spec)
        if hit is not None:
            return hit
        with self._locked(key):  # a concurrent identical request computes it while we wait
            hit = self.cached(model_spec, view_spec)
            if hit is not None:
                return hit
            left = None if self.budget is None else self.budget - (time.monotonic() - started)
            if left is not None and left <= 0:
                raise BudgetExceeded(
                    f"the view ran past its compute budget of {self.budget:g} s waiting for an "
                    "identical request's computation, which did not finish; ask for fewer steps, "
                    "points or starts")
            result = views.compute(model_spec, view_spec, progress, store=self.uploads,
                                   device=self.device, budget=left, cancelled=cancelled)
            self.computed += 1
            try:
                self.cache.set(key, (result.to_arrays(), result.meta))
            except Exception:
                log.warning("cache unreachable; result not stored", exc_info=True)
            return result

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
