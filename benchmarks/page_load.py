"""Page-load benchmark: time until both 3D surfaces are drawn, with a cold and a warm result cache,
and a changed control until its surface is redrawn.

Starts the dashboard in a subprocess (fresh temporary cache) and opens it twice in headless
chromium (Debian's, software WebGL), each time in a fresh browser context:

1. cold: the server computes both default views;
2. warm, ``--loads`` times: the server answers from its cache (the browser's cache is empty
   again; target: both surfaces within 2.5 s, the median). Where the time of the load nearest
   the median went is printed as a timeline: the scripts (Resource Timing), each
   ``_dash-update-component`` round trip (which outputs it asked for, when it was sent and
   answered), and when each surface appeared;
3. the size and place of each panel's main graph and path plot at the window's 1600x1000
   (target: each main graph at least 45% of the width and 520 px tall);
4. redraw: on the last warm page, the left colour scale changed ``--redraws`` times (alternating),
   each timed from the keypress to the new colours on the surface (target: 300 ms); then a
   recomputing control (the grid size) moved to a cached value and back, timed the same way.

Usage: python benchmarks/page_load.py [--screenshot PATH] [--redraws 5] [--loads 5]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, Request, Response, sync_playwright

from app import devserver, ids
from app.ids import pid

LOAD_TIMEOUT_MS = 180_000
# before each warm load: the last page's background jobs end and the browser's GPU process
# finishes drawing it in software, so each load starts, as a user's first one, on an idle machine
SETTLE_S = 3.0


@dataclass
class Load:
    seconds: float  # page.goto until both surfaces are drawn
    body_bytes: int  # response bodies of the load, summed (decoded)
    wire_bytes: int  # the same bodies as sent (compressed where the server compresses)
    responses: int
    script_bytes: int  # of the decoded bodies: JavaScript (plotly.js alone is most of it)
    timeline: list[str] = field(default_factory=list)  # where the time went, one line per event
    redraws: dict[str, list[float]] = field(default_factory=dict)  # control -> seconds
    graphs: dict[str, dict] = field(default_factory=dict)  # graph id -> its box (CSS pixels)


#: the boxes of both panels' main graph and path plot (their dcc.Graph elements: sized by the
#: page's CSS, drawn or not yet)
GRAPH_BOXES = """() => Object.fromEntries(['left', 'right'].flatMap(side =>
    ['surface', 'path'].map(name => {
        const r = document.getElementById(`${side}-${name}`).getBoundingClientRect();
        return [`${side}-${name}`, {x: r.x, y: r.y, width: r.width, height: r.height}];
    })))"""


#: seconds since navigation start at which each panel's first surface trace appeared
SURFACE_TIMES = """() => window.__surfaceTimes || {}"""
WATCH_SURFACES = """() => {
    window.__surfaceTimes = {};
    const check = () => {
        for (const side of ['left', 'right']) {
            const gd = document.querySelector(`#${side}-surface .js-plotly-plot`);
            if (!(side in window.__surfaceTimes) && gd && gd.data
                && gd.data.some(t => t.type === 'surface')) {
                window.__surfaceTimes[side] = performance.now() / 1000;
            }
        }
        if (Object.keys(window.__surfaceTimes).length < 2) requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
}"""
SCRIPTS_DONE = """() => Math.max(0, ...performance.getEntriesByType('resource')
    .filter(e => e.initiatorType === 'script').map(e => e.responseEnd)) / 1000"""


def _outputs(request: Request) -> str:
    """The outputs a ``_dash-update-component`` request asks for, shortened."""
    try:
        body = json.loads(request.post_data or "{}")
    except ValueError:
        return "?"
    text = str(body.get("output", "?")).replace("..", " ").strip(".")
    return text if len(text) <= 70 else text[:67] + "..."


def measure(browser: Browser, url: str, screenshot: Path | None = None,
            redraws: int = 0) -> Load:
    """Open ``url`` in a fresh context and time it until both surfaces are drawn; then time
    ``redraws`` colour-scale changes (and a grid-size change and back) when asked."""
    context = browser.new_context(viewport=devserver.VIEWPORT)
    try:
        page = context.new_page()
        responses: list[Response] = []
        page.on("response", lambda response: responses.append(response))
        calls: dict[Request, list] = {}
        page.on("request", lambda r: calls.__setitem__(r, [time.perf_counter(), None])
                if "_dash-update-component" in r.url else None)
        page.on("requestfinished", lambda r: calls[r].__setitem__(1, time.perf_counter())
                if r in calls else None)
        page.add_init_script(f"({WATCH_SURFACES})()")
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(devserver.SURFACES_DRAWN, timeout=LOAD_TIMEOUT_MS)
        seconds = time.perf_counter() - start
        timeline = _timeline(page, calls, start)
        graphs = page.evaluate(GRAPH_BOXES)
        timed = _redraws(page, redraws) if redraws else {}
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
    return Load(seconds, sum(bodies), wire, len(bodies), scripts, timeline, timed, graphs)


def _timeline(page: Page, calls: dict[Request, list], start: float) -> list[str]:
    """The load's events in order, in seconds since ``goto`` (navigation start in the page)."""
    nav = page.evaluate("() => performance.timeOrigin / 1000")
    offset = nav - (time.time() - (time.perf_counter() - start))  # page clock -> since goto
    events = [(page.evaluate(SCRIPTS_DONE) + offset, "scripts loaded (Resource Timing)")]
    events += [(t + offset, f"{side} surface drawn")
               for side, t in page.evaluate(SURFACE_TIMES).items()]
    for n, (request, (sent, done)) in enumerate(sorted(calls.items(), key=lambda kv: kv[1][0])):
        took = f"{(done - sent) * 1000:5.0f} ms" if done else "  open"
        events.append((sent - start, f"callback {n + 1:2d} ({took}): {_outputs(request)}"))
    return [f"{t:6.2f} s  {what}" for t, what in sorted(events)]


def _redraws(page: Page, count: int) -> dict[str, list[float]]:
    """Seconds from a keypress to the redrawn surface: the left colour scale (a display control,
    redrawn from the cached slice) ``count`` times, and the grid size moved to 21 and back (a
    recomputing control whose views are then cached)."""
    surface = ("document.querySelector('#left-surface .js-plotly-plot').data"
               ".find(t => t.type === 'surface')")
    colour = f"() => {surface}.colorscale[0][1]"
    # z arrives as a list of rows, or as plotly's typed array {dtype, bdata, shape: "rows,cols"}
    steps = (f"() => {{ const z = {surface}.z; "
             "return z.shape ? Number(String(z.shape).split(',')[0]) : z.length; }")
    dropdown = page.locator(f"#{pid('left', ids.COLORSCALE)}")
    out: dict[str, list[float]] = {"colour scale (display, from the cache)": [],
                                   "grid size (recomputing control, cached)": []}
    for k in range(count):
        before = page.evaluate(colour)
        dropdown.focus()
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(200)
        page.keyboard.press("ArrowDown" if k % 2 == 0 else "ArrowUp")
        page.wait_for_timeout(200)
        started = time.perf_counter()
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => ({colour})() !== {json.dumps(before)}",
                               timeout=LOAD_TIMEOUT_MS)
        out["colour scale (display, from the cache)"].append(time.perf_counter() - started)
        page.wait_for_timeout(300)
    radio = f"#{pid('left', ids.STEPS)}"
    default = page.evaluate(steps)
    for n, key in enumerate(["ArrowRight", "ArrowLeft"] * max(1, count // 2)):
        page.locator(f"{radio} input:checked").focus()
        started = time.perf_counter()
        page.keyboard.press(key)  # the coarse preview (13 rows) does not count as redrawn
        goal = f"v === {default}" if key == "ArrowLeft" else f"v !== {default} && v !== 13"
        page.wait_for_function(f"() => {{ const v = ({steps})(); return {goal}; }}",
                               timeout=LOAD_TIMEOUT_MS)
        if n:  # the first move computed its grid; every later one is in the cache
            out["grid size (recomputing control, cached)"].append(time.perf_counter() - started)
        page.wait_for_timeout(1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshot", type=Path, help="save a full-page PNG of the loaded page")
    parser.add_argument("--redraws", type=int, default=5, help="colour-scale changes to time")
    parser.add_argument("--loads", type=int, default=5,
                        help="warm loads, each in a fresh browser context (the median counts)")
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
                warms = []
                for n in range(args.loads):
                    time.sleep(SETTLE_S)
                    last = n == args.loads - 1  # its redraws are timed, its picture taken
                    warms.append(measure(browser, url, args.screenshot if last else None,
                                         args.redraws if last else 0))
                browser.close()
        finally:
            devserver.stop(server)

    times = [load.seconds for load in warms]
    median = statistics.median(times)
    warm = min(warms, key=lambda load: abs(load.seconds - median))  # its timeline is printed
    width, height = devserver.VIEWPORT["width"], devserver.VIEWPORT["height"]
    print(f"window {width}x{height}: main graphs (target: each >= 45% of the width and "
          ">= 520 px tall, both on screen)")
    for name, box in warms[-1].graphs.items():
        shown = box["y"] + box["height"] <= height
        print(f"  {name}: {box['width']:.0f}x{box['height']:.0f} px at ({box['x']:.0f}, "
              f"{box['y']:.0f}), {box['width'] / width:.0%} of the width, "
              f"{'on screen' if shown else 'below the fold'}")
    print(f"first load, cold cache: {cold.seconds:.2f} s")
    print(f"later loads, warm cache: median {median:.2f} s of {len(times)} (runs "
          f"{', '.join(f'{t:.2f}' for t in times)} s; target <= 2.5 s: "
          f"{'met' if median <= 2.5 else 'NOT met'}); where the {warm.seconds:.2f} s one went:")
    for line in warm.timeline:
        print("  " + line)
    for what, redraws in warms[-1].redraws.items():
        if redraws:
            middle = statistics.median(redraws)
            print(f"redraw, {what}: median {middle * 1000:.0f} ms of {len(redraws)} (runs "
                  f"{', '.join(f'{t * 1000:.0f}' for t in redraws)} ms; target <= 300 ms: "
                  f"{'met' if middle <= 0.3 else 'NOT met'})")
    print(f"warm/cold ratio: {median / cold.seconds:.2f}")
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
