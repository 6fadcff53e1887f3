"""The Celery app of ``benchmarks/scale.py``'s workers: the dashboard's own (``app.tasks``: its
view store, its chunk helpers) plus one task that computes a view as a panel job does, through
the store (the cache, the lock, the chunks spread over every worker that listens).

Run by the benchmark as ``celery -A scale_celery worker --pool=solo`` with ``benchmarks/`` on
``PYTHONPATH`` and the dashboard's settings (``REDIS_URL``, ``FUNNELSCOPE_CACHE_DIR``) in the
environment.
"""

import time

from app.tasks import celery_app, dash_app

store = dash_app.server.extensions["funnelscope_store"]


@celery_app.task(name="benchmark.view")
def view(model_spec: dict, view_spec: dict) -> float:
    """Compute (or read) one view through the store; the seconds it took on this worker."""
    start = time.perf_counter()
    store.get(model_spec, view_spec)
    return time.perf_counter() - start


__all__ = ["celery_app", "view"]
