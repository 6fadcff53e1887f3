"""The application factory."""

from pathlib import Path

import diskcache
import torch
from dash import Dash, DiskcacheManager
from flask_caching import Cache

from app import callbacks, health, layout
from app.config import Config
from app.data import ViewStore
from landscapes.store import UploadStore

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def create_app(config: Config | None = None) -> Dash:
    """A new dashboard with its own cache and callbacks (nothing global is shared)."""
    config = config or Config.from_env()
    torch.set_num_threads(config.torch_threads)  # see DESIGN.md: one torch thread per worker
    app = Dash(
        __name__,
        title="Funnelscope",
        assets_folder=str(ASSETS),
        update_title=None,
    )
    app.server.config["MAX_CONTENT_LENGTH"] = config.max_upload_bytes * 2  # base64 + form
    cache = Cache(app.server, config=config.flask_caching())
    uploads = UploadStore(Path(config.cache_dir) / "store", max_bytes=config.max_upload_bytes,
                          max_samples=config.max_samples, max_parameters=config.max_parameters)
    store = ViewStore(cache, uploads, Path(config.cache_dir) / "locks")
    manager = DiskcacheManager(diskcache.Cache(str(Path(config.cache_dir) / "jobs")))
    app.layout = layout.build()
    callbacks.register(app, store, manager, config.torch_threads)
    health.register(app.server, config, cache)  # /healthz, /readyz (app/health.py)
    app.server.extensions["funnelscope_store"] = store
    return app
