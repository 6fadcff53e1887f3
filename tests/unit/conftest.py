"""Fixtures shared by the unit tests."""

from collections.abc import Iterator

import pytest
import torch
from dash import Dash
from dash.background_callback.managers import BaseBackgroundCallbackManager

from app import create_app
from app.config import Config
from app.jobs import ForkServerDiskcacheManager


@pytest.fixture(autouse=True)
def _stop_job_servers() -> Iterator[None]:
    """After each test, stop the job servers its apps forked (app/jobs.py).

    A job server is a fork of this pytest process and holds copies of every file descriptor it
    had -- the pipes to the Playwright driver of the browser tests among them, so the driver
    would never see them close and the session's end would wait for it forever.
    """
    yield
    for manager in BaseBackgroundCallbackManager.managers:
        if isinstance(manager, ForkServerDiskcacheManager):
            manager.stop_job_server()


@pytest.fixture
def app(tmp_path) -> Dash:
    """A dashboard app with its own empty cache directory."""
    return create_app(Config(cache_dir=tmp_path / "cache"))


@pytest.fixture
def client(app):
    """A Flask test client of :func:`app`."""
    return app.server.test_client()


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: the test machine is oversubscribed and tiny networks are fastest so."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
