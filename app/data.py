"""Data access for the views: cached by the canonical request key, computed on a miss.

The cache holds plain arrays and JSON metadata (never figures), keyed by
:func:`landscapes.views.request_key` -- the sha256 of the canonical request and the library
version -- so every worker, the CLI and the tests agree on what is the same request.
"""

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask_caching import Cache

from landscapes import views
from landscapes.slices import Slice
from landscapes.store import UploadStore


@dataclass
class ViewStore:
    """Results by request, through ``cache``; ``computed`` counts misses in this process.

    ``uploads`` holds validated uploads and trained examples (network views read them).
    """

    cache: Cache
    uploads: UploadStore
    lock_dir: Path
    computed: int = 0

    def cached(self, model_spec: dict, view_spec: dict) -> Slice | None:
        hit = self.cache.get(self.key(model_spec, view_spec))
        return None if hit is None else Slice.from_arrays(*hit)

    @staticmethod
    def key(model_spec: dict, view_spec: dict) -> str:
        return "view:" + views.request_key(model_spec, view_spec)

    def get(self, model_spec: dict, view_spec: dict,
            progress: Callable[[int, int], None] | None = None) -> Slice:
        """The view, from the cache or computed now (once: identical requests wait for it)."""
        key = self.key(model_spec, view_spec)
        hit = self.cached(model_spec, view_spec)
        if hit is not None:
            return hit
        with self._lock(key):  # a concurrent identical request computes it while we wait
            hit = self.cached(model_spec, view_spec)
            if hit is not None:
                return hit
            result = views.compute(model_spec, view_spec, progress, store=self.uploads)
            self.computed += 1
            self.cache.set(key, (result.to_arrays(), result.meta))
            return result

    @contextmanager
    def _lock(self, key: str) -> Iterator[None]:
        """An exclusive lock on ``key`` across threads and processes (flock on a file)."""
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        with open(self.lock_dir / (key.replace(":", "-") + ".lock"), "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
