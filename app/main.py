"""The application factory."""

from pathlib import Path

from dash import Dash
from flask_caching import Cache

from app import callbacks, layout
from app.config import Config
from app.data import ViewStore

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def create_app(config: Config | None = None) -> Dash:
    """A new dashboard with its own cache and callbacks (nothing global is shared)."""
    config = config or Config.from_env()
    app = Dash(
        __name__,
        title="Funnelscope",
        assets_folder=str(ASSETS),
        update_title=None,
    )
    cache = Cache(app.server, config=config.flask_caching())
    store = ViewStore(cache)
    app.layout = layout.build()
    callbacks.register(app, store)
    app.server.extensions["funnelscope_store"] = store
    return app
