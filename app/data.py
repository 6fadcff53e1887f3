"""Data access for the views: cached by the canonical request key, computed on a miss.

The cache holds plain arrays and JSON metadata (never figures), keyed by
:func:`landscapes.views.request_key` -- the sha256 of the canonical request and the library
version -- so every worker, the CLI and the tests agree on what is the same request.
"""

from dataclasses import dataclass

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
    computed: int = 0

    def get(self, model_spec: dict, view_spec: dict) -> Slice:
        key = "view:" + views.request_key(model_spec, view_spec)
        hit = self.cache.get(key)
        if hit is not None:
            arrays, meta = hit
            return Slice.from_arrays(arrays, meta)
        result = views.compute(model_spec, view_spec, store=self.uploads)
        self.computed += 1
        self.cache.set(key, (result.to_arrays(), result.meta))
        return result
