"""Fixtures shared by the unit tests."""

from collections.abc import Iterator

import pytest
import torch
from dash import Dash

from app import create_app
from app.config import Config


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
