"""Fixtures for the real-browser tests: the dashboard in a subprocess and headless chromium.

Debian's chromium (``make browser`` installs it) is driven by Playwright; when it is missing
the tests fail (they are never skipped). Every test here is marked ``e2e``.
"""

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Page

from app import devserver

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, request log) of the dashboard, served from a subprocess with an empty cache
    of its own."""
    root = tmp_path_factory.mktemp("dashboard")
    url, process = devserver.start_in_subprocess(root / "cache", log=root / "server.log")
    try:
        yield url, root / "server.log"
    finally:
        devserver.stop(process)


@pytest.fixture(scope="session")
def server_url(dashboard_server: tuple[str, Path]) -> str:
    """Base URL of the dashboard (:func:`dashboard_server`)."""
    return dashboard_server[0]


FIRST_LOAD_MS = 120_000  # the first load computes both default views (51 x 51) in the server


@pytest.fixture
def dashboard(page: Page, server_url: str) -> Page:
    """The page, opened on the dashboard once both 3D surfaces are drawn."""
    page.goto(server_url)
    page.wait_for_function(devserver.SURFACES_DRAWN, timeout=FIRST_LOAD_MS)
    return page


def query(page: Page) -> dict[str, str]:
    """The page's URL query, by key."""
    return dict(parse_qsl(urlsplit(page.url).query))


def wait_query(page: Page, key: str, value: str, timeout_ms: int = FIRST_LOAD_MS) -> None:
    """Wait until the page's URL says ``key=value``: the URL writer is a callback of its own,
    so the URL follows a redraw a moment later, not with it."""
    page.wait_for_function(
        "([k, v]) => new URLSearchParams(window.location.search).get(k) === v", arg=[key, value],
        timeout=timeout_ms)


def download_side(page: Page, side: str, fmt: str, timeout_ms: int = 60_000) -> tuple[bytes, str]:
    """Click a panel's ``fmt`` Download button; the saved file's bytes and suggested name."""
    with page.expect_download(timeout=timeout_ms) as info:
        page.locator(f"#{side}-download-{fmt}").click()
    saved = info.value
    assert saved.failure() is None
    return Path(saved.path()).read_bytes(), saved.suggested_filename
