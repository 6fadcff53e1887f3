"""Funnelscope's Dash dashboard. ``create_app(config)`` builds it; ``app.wsgi:server`` serves it."""

from app.main import create_app

__all__ = ["create_app"]
