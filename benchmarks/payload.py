"""Payload benchmark: the bytes a 101x101 surface update puts on the wire (target: < 80 KB).

Two measurements, both in-process (Flask test client of a real dashboard, fresh temporary cache):

1. the surface figure alone: ``landscapes.plots.slices.surface_figure`` of a 101x101 slice of the default
   Ising funnel (``views.compute``), serialized the way Dash serializes a callback output
   (``dash._utils.to_json``: numpy arrays as base64 typed arrays), beside a baseline that sends
   the same arrays as float64 JSON lists (what ``.tolist()`` or plotly < 6 would send);
2. the real callback: the left panel's ``/_dash-update-component`` request with Grid = 101 (a
   background callback: the job is started, then polled as the browser does), its final
   response fetched with ``Accept-Encoding: gzip`` (what flask-compress sends on the wire) and
   decompressed (the JSON Dash wrote).

Compressed sizes are those of gzip at flask-compress's level (6); br and zstd, which a browser
that accepts them gets instead, are printed beside it.

Usage: python benchmarks/payload.py [--steps 101] [--no-callback]
"""

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

from dash._utils import to_json

from app import create_app
from app.config import Config
from landscapes import views
from landscapes.plots import slices as figures

SPEC = {"model": "ising", "n": 16, "native_bias": 2}
TARGET_BYTES = 80_000  # "a 101x101 surface update stays under 80 KB on the wire"
PANEL = "left"  # its defaults are SPEC's model (app.controls.defaults)
POLL_TIMEOUT_S = 120.0


def surface_json(steps: int) -> tuple[bytes, bytes, bytes]:
    """The surface figure of a slice as Dash sends it, then with float64 typed arrays, then
    with float64 JSON lists (the surface's x, y, z; the rest as sent)."""
    result = views.compute(SPEC, {"view": "slice", "steps": steps})
    fig = figures.surface_figure(result)
    sent = to_json(fig).encode()
    x, y = result.axes
    baseline = json.loads(sent)
    baseline["data"][0].update(x=x.tolist(), y=y.tolist(), z=result.values.tolist())
    wide = to_json(fig.update_traces(x=x, y=y, z=result.values, selector=0)).encode()
    return sent, wide, to_json(baseline).encode()


def loose_arrays(node, path: str = "") -> list[str]:
    """Paths of the arrays in a figure/response JSON that are not float32 (or smaller) typed
    arrays: float64 typed arrays, and numeric JSON lists longer than 16 (click data aside)."""
    found = []
    if isinstance(node, dict):
        if node.get("dtype") == "f8" and "bdata" in node:
            found.append(f"{path} (f8)")
        for key, value in node.items():
            if key != "customdata":  # the barrier tree's click data are lists by design
                found += loose_arrays(value, f"{path}.{key}")
    elif isinstance(node, list):
        if len(node) > 16 and all(isinstance(v, int | float) for v in node):
            found.append(f"{path} (list of {len(node)})")
        else:
            for i, value in enumerate(node):
                found += loose_arrays(value, f"{path}[{i}]")
    return found


def compressed_sizes(body: bytes, app) -> dict[str, int]:
    """Bytes of ``body`` compressed as flask-compress would, for each algorithm it offers."""
    from flask_compress.flask_compress import _compress_data

    sizes = {"gzip": len(gzip.compress(body, app.server.config["COMPRESS_LEVEL"]))}
    for algorithm in ("br", "zstd"):
        sizes[algorithm] = len(_compress_data(app.server, body, algorithm))
    return sizes


def _component_values(node, found: dict) -> dict:
    """id -> component for every component with an id under ``node`` (the layout)."""
    if isinstance(node, list | tuple):
        for child in node:
            _component_values(child, found)
        return found
    if getattr(node, "id", None) is not None:
        found[node.id] = node
    children = getattr(node, "children", None)
    if children is not None and not isinstance(children, str | int | float):
        _component_values(children, found)
    return found


def panel_request(app, panel: str, **changes) -> tuple[str, dict]:
    """(callback key, request body) of ``panel``'s update with controls ``changes`` (by id suffix)."""
    key = next(k for k in app.callback_map
               if k.startswith(f"..{panel}-surface.figure...") and "@" not in k)
    spec = app.callback_map[key]
    components = _component_values(app.layout, {})
    def values(items: list[dict]) -> list[dict]:
        out = []
        for item in items:
            suffix = item["id"].removeprefix(f"{panel}-")
            value = changes.get(suffix, getattr(components[item["id"]], item["property"], None))
            out.append({**item, "value": value})
        return out

    outputs = [{"id": o.component_id, "property": o.component_property} for o in spec["output"]]
    return key, {"output": key, "outputs": outputs, "inputs": values(spec["inputs"]),
                 "state": values(spec["state"]), "changedPropIds": [f"{panel}-steps.value"]}


def run_callback(client, body: dict, headers: dict) -> tuple[bytes, str | None, int, int]:
    """Start the background callback and poll it to its end, as the browser does.

    Returns (final response body as sent, its Content-Encoding, number of polls, bytes of the
    start and poll responses as sent).
    """
    start = client.post("/_dash-update-component", json=body, headers=headers)
    assert start.status_code == 200, start.get_data(as_text=True)[:500]
    handles = json.loads(_decoded(start))
    query = {"cacheKey": handles["cacheKey"], "job": handles["job"]}
    small, polls = len(start.get_data()), 0
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        time.sleep(0.25)  # the callback's interval
        polls += 1
        response = client.post("/_dash-update-component", json=body, headers=headers,
                               query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        if "response" in json.loads(_decoded(response)):
            return (response.get_data(), response.headers.get("Content-Encoding"), polls, small)
        small += len(response.get_data())
    raise TimeoutError(f"the callback did not finish in {POLL_TIMEOUT_S:.0f} s")


def _decoded(response) -> bytes:
    data = response.get_data()
    return gzip.decompress(data) if response.headers.get("Content-Encoding") == "gzip" else data


def kb(n: int) -> str:
    return f"{n:>8,d} B ({n / 1000:6.1f} kB)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=101, help="grid points per axis (101)")
    parser.add_argument("--no-callback", action="store_true",
                        help="skip the real /_dash-update-component request")
    args = parser.parse_args(argv)
    n = args.steps

    with tempfile.TemporaryDirectory(prefix="funnelscope-payload-") as tmp:
        app = create_app(Config(cache_dir=Path(tmp) / "cache"))
        sent, wide, baseline = surface_json(n)
        sizes = compressed_sizes(sent, app)
        base_gz = len(gzip.compress(baseline, app.server.config["COMPRESS_LEVEL"]))
        z_dtype = json.loads(sent)["data"][0]["z"]["dtype"]
        print(f"surface figure, {n}x{n} slice of {SPEC} (z as {z_dtype!r} typed array):")
        print(f"  float32 typed arrays, uncompressed   {kb(len(sent))}")
        escapes = sent.count(rb"\u002f") * 5  # plotly's to_json writes "/" as "\u002f"
        print(f"    extra bytes of '/' written '\\u002f' {kb(escapes)}")
        print(f"  float32 typed arrays, gzip           {kb(sizes['gzip'])}")
        print(f"  float32 typed arrays, br / zstd      {sizes['br']:,d} / {sizes['zstd']:,d} B")
        print(f"  float64 typed arrays, uncompressed   {kb(len(wide))}")
        print(f"  float64 JSON lists, uncompressed     {kb(len(baseline))}")
        print(f"  float64 JSON lists, gzip             {kb(base_gz)}")
        print(f"  gzip wire / float64-lists: {sizes['gzip'] / len(baseline):.2f} of the "
              f"uncompressed, {sizes['gzip'] / base_gz:.2f} of the gzipped")
        ok = sizes["gzip"] < TARGET_BYTES

        if not args.no_callback:
            client = app.server.test_client()
            _, body = panel_request(app, PANEL, steps=n)
            t0 = time.perf_counter()
            wire, encoding, polls, small = run_callback(
                client, body, {"Accept-Encoding": "gzip"})
            seconds = time.perf_counter() - t0
            raw = gzip.decompress(wire) if encoding == "gzip" else wire
            response = json.loads(raw)["response"]
            z = response[f"{PANEL}-surface"]["figure"]["data"][0]["z"]
            grid = tuple(int(s) for s in z["shape"].split(","))
            print(f"real callback: POST /_dash-update-component, {PANEL} panel, Grid = {n} "
                  f"(background job, {polls} polls, {seconds:.1f} s):")
            print(f"  final response (surface {grid[0]}x{grid[1]} {z['dtype']!r} + path figure "
                  f"+ messages), Content-Encoding: {encoding}")
            print(f"  uncompressed                         {kb(len(raw))}")
            print(f"  on the wire                          {kb(len(wire))}")
            print(f"  start + progress polls on the wire   {kb(small)}")
            loose = loose_arrays(response)
            print(f"  arrays not sent as float32 typed arrays: {', '.join(loose) or 'none'}")
            ok = ok and encoding == "gzip" and len(wire) < TARGET_BYTES

    print(f"target: < {TARGET_BYTES:,d} B on the wire: {'met' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
