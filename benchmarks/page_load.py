"""Page-load benchmark: time until both 3D surfaces are drawn, with a cold and a warm result cache.

Starts the dashboard in a subprocess (fresh temporary cache) and opens it twice in headless
chromium (Debian's, software WebGL), each time in a fresh browser context:

1. cold: the server computes both default views;
2. warm: the server answers from its cache (the browser's cache is empty again).

Usage: python benchmarks/page_load.py [--screenshot PATH]
"""

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Response, sync_playwright

from app import devserver

LOAD_TIMEOUT_MS = 180_000


@dataclass
class Load:
    seconds: float  # page.goto until both surfaces are drawn
    body_bytes: int  # response bodies of the load, summed (decoded)
    wire_bytes: int  # the same bodies as sent (compressed where the server compresses)
    responses: int
    script_bytes: int  # of the decoded bodies: JavaScript (plotly.js alone is most of it)


def measure(browser: Browser, url: str, screenshot: Path | None = None) -> Load:
    """Open ``url`` in a fresh context and time it until both surfaces are drawn."""
    context = browser.new_context(viewport=devserver.VIEWPORT)
    try:
        page = context.new_page()
        responses: list[Response] = []
        page.on("response", lambda response: responses.append(response))
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(devserver.SURFACES_DRAWN, timeout=LOAD_TIMEOUT_MS)
        seconds = time.perf_counter() - start
        ok = [response for response in responses if response.ok]
        bodies = [len(response.body()) for response in ok]
        wire = sum(response.request.sizes()["responseBodySize"] for response in ok)
        scripts = sum(size for response, size in zip(ok, bodies, strict=True)
                      if ".js" in response.url.split("?")[0][-4:])
        if screenshot:
            page.wait_for_timeout(1000)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return Load(seconds, sum(bodies), wire, len(bodies), scripts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, help="save a full-page PNG of the loaded page")
    args = parser.parse_args(argv)
    if not devserver.CHROMIUM.exists():
        print(f"{devserver.CHROMIUM} is missing (`make browser` installs it)", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="funnelscope-bench-") as tmp:
        url, server = devserver.start_in_subprocess(Path(tmp) / "cache")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(devserver.CHROMIUM), args=devserver.CHROMIUM_ARGS,
                    headless=True,
                )
                cold = measure(browser, url)
                warm = measure(browser, url, args.screenshot)  # the screenshot is of this page
                browser.close()
        finally:
            devserver.stop(server)

    print(f"first load, cold cache: {cold.seconds:.2f} s")
    print(f"second load, warm cache: {warm.seconds:.2f} s")
    print(f"warm/cold ratio: {warm.seconds / cold.seconds:.2f}")
    print(f"first load, page weight: {cold.wire_bytes / 1e6:.2f} MB on the wire "
          f"({cold.body_bytes / 1e6:.2f} MB decoded, {cold.script_bytes / 1e6:.2f} MB of it "
          f"JavaScript) in {cold.responses} responses")
    print("(headless chromium draws WebGL in software here: on a machine with a GPU the "
          "surfaces appear sooner)")
    if args.screenshot:
        print(f"screenshot: {args.screenshot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
