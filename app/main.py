"""The application factory."""

import logging
import os
import tempfile
from pathlib import Path

import diskcache
import torch
from dash import Dash
from dash.background_callback.managers import BaseBackgroundCallbackManager
from flask_caching import Cache

from app import access, api, fairness, health, layout, spread
from app.callbacks import camera, downloads, panels, register_request_check, status, uploads, url
from app.config import Config
from app.data import ViewStore, file_lock, redis_lock
from app.jobs import CancellingCeleryManager, ForkServerDiskcacheManager
from landscapes.networks.devices import resolve_device
from landscapes.networks.store import UploadStore

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"  # package data (pyproject.toml): in the wheel too


def create_app(config: Config | None = None) -> Dash:
    """A new dashboard with its own cache and callbacks (nothing global is shared)."""
    config = config or Config.from_env()
    torch.set_num_threads(config.torch_threads)  # one torch thread per worker (docs/architecture.md)
    app = Dash(
        __name__,
        title="Funnelscope",
        assets_folder=str(ASSETS),
        update_title=None,  # type: ignore[arg-type]  # documented: no 'Updating...' title
        # flask-compress (dash[compress]): JSON callback responses (background polls too), the
        # layout and Dash's JS bundles go out compressed for any browser that accepts it. Dash
        # sets COMPRESS_ALGORITHM to gzip only after flask-compress has read its defaults, so
        # the defaults hold: the first of zstd, br, gzip, deflate that the request's
        # Accept-Encoding allows (application/octet-stream, the .npz export, is never
        # compressed). benchmarks/payload.py measures a 101x101 surface update.
        compress=True,
    )
    app.server.config["MAX_CONTENT_LENGTH"] = config.max_upload_bytes * 2  # base64 + form
    cache = Cache(app.server, config=config.flask_caching())
    upload_store = UploadStore(Path(config.cache_dir) / "store", max_bytes=config.max_upload_bytes,
                               max_samples=config.max_samples, max_parameters=config.max_parameters)
    device, note = resolve_device(config.device)
    if note:
        log.warning("FUNNELSCOPE_DEVICE=%s: %s", config.device, note)
    manager: BaseBackgroundCallbackManager
    jobs_dir: Path | None = None  # the local job queue's directory (None: Celery in Redis)
    if config.redis_url:  # shared by every worker and machine
        import redis
        from celery import Celery

        celery_app = Celery("funnelscope", broker=config.redis_url, backend=config.redis_url)
        # a worker busy with a view reserves no more than one further task, so the helpers of
        # its view's chunks go to the workers that are free (app/spread.py)
        celery_app.conf.update(broker_connection_retry_on_startup=True, task_track_started=True,
                               worker_prefetch_multiplier=1)
        client = redis.Redis.from_url(config.redis_url, socket_connect_timeout=2,
                                      socket_timeout=5)
        manager = CancellingCeleryManager(celery_app, client)
        store = ViewStore(cache, upload_store, redis_lock(config.redis_url), device=device,
                          budget=config.compute_seconds, memory=config.compute_memory_bytes)
        spread.register(celery_app, client, store, config.processes_per_view, config.compute_nice)
        app.server.extensions["funnelscope_celery"] = celery_app
    else:  # one machine: files under the cache directory, jobs in local processes
        jobs_dir = Path(config.cache_dir) / "jobs"
        try:
            queue = diskcache.Cache(str(jobs_dir))
        except Exception as exc:  # a read-only cache directory: jobs still need a queue
            fallback = Path(tempfile.gettempdir()) / f"funnelscope-jobs-{os.getuid()}"
            log.warning("the job queue cannot live in %s (%s): using %s", jobs_dir, exc, fallback)
            jobs_dir, queue = fallback, diskcache.Cache(str(fallback))
        manager = ForkServerDiskcacheManager(queue)
        store = ViewStore(cache, upload_store, file_lock(Path(config.cache_dir) / "locks"),
                          device=device, budget=config.compute_seconds,
                          memory=config.compute_memory_bytes)
    app.layout = layout.build()
    slots = fairness.slots(config.jobs_per_client, config.redis_url, Path(config.cache_dir))
    forked = 1 if config.redis_url else config.processes_per_view  # processes a job forks
    panels.register(app, store, manager, config.torch_threads, slots,  # app/callbacks/, by concern
                    config.compute_nice, forked)
    fairness.register(app)  # the page's client id, for fair job slots (app/fairness.py)
    uploads.register(app, store)
    downloads.register(app, store)
    camera.register(app)
    url.register(app)
    # the banner and /healthz share the checks, which test the job queue's real directory
    recent = health.cached_readiness(config, cache, jobs_dir=jobs_dir)
    status.register(app, readiness=recent)
    health.register(app.server, config, cache, recent, jobs_dir)  # /healthz, /readyz
    access.register(app.server, config.lab_token)  # optional lab token (app/access.py)
    register_request_check(app)  # a malformed callback request: 400, one line
    # /api/view: cached views as JSON (app/api.py), in fair slots per address
    api.register(app.server, store, config.api_computations, slots, config.compute_nice)
    app.server.extensions["funnelscope_store"] = store
    if isinstance(manager, ForkServerDiskcacheManager):  # now: every job is registered, and
        manager.start_job_server()  # the web server has not started its threads (app/jobs.py)

    # Dash registers the paths of its JS files while rendering the index page; a gunicorn worker
    # that never served "/" answers 500 for them (the browser may fetch "/" from another worker).
    with app.server.test_request_context("/"):
        app.index()

    @app.server.after_request
    def _served_by(response):  # which worker process answered (load tests, debugging)
        response.headers["X-Funnelscope-Worker"] = str(os.getpid())
        return response

    return app
