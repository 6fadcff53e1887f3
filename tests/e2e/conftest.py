"""Fixtures for the real-browser tests: the dashboard in a subprocess and headless chromium.

Debian's chromium (``make browser`` installs it) is driven by Playwright; when it is missing
the tests fail (they are never skipped). Every test here is marked ``e2e``.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from app import devserver

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the dashboard, served from a subprocess with an empty cache of its own."""
    root = tmp_path_factory.mktemp("dashboard")
    url, process = devserver.start_in_subprocess(root / "cache", log=root / "server.log")
    try:
        yield url
    finally:
        devserver.stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless chromium (Debian's, software WebGL)."""
    if not devserver.CHROMIUM.exists():
        pytest.fail(
            f"{devserver.CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`make browser` installs it; never `playwright install`)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(devserver.CHROMIUM), args=devserver.CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_errors() -> list[str]:
    """Console errors and uncaught page errors of the test's page (assert it stays empty)."""
    return []


@pytest.fixture
def page(browser: Browser, browser_errors: list[str]) -> Iterator[Page]:
    """A fresh page (own context, 1600x1000) that records its errors in ``browser_errors``."""
    context = browser.new_context(viewport=devserver.VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            browser_errors.append(f"console error: {message.text} ({message.location})")

    def on_page_error(error: Error) -> None:
        browser_errors.append(f"page error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield page
    context.close()


FIRST_LOAD_MS = 120_000  # the first load computes both default views (51 x 51) in the server


@pytest.fixture
def dashboard(page: Page, server_url: str) -> Page:
    """The page, opened on the dashboard once both 3D surfaces are drawn."""
    page.goto(server_url)
    page.wait_for_function(devserver.SURFACES_DRAWN, timeout=FIRST_LOAD_MS)
    return page
