"""Fixtures shared by the browser tests (tests/e2e, tests/services): headless Debian chromium.

Debian's chromium (``make browser`` installs it) is driven by Playwright; when it is missing
the tests fail (they are never skipped).
"""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from app import devserver


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
