"""What goes on the wire: float32 typed arrays in figures, compressed responses.

benchmarks/payload.py prints the same sizes and also times a real background callback.
"""

import gzip
import io
import json
import re

import numpy as np
import pytest
from dash._utils import to_json

from landscapes import views
from landscapes.io.npz import read_npz
from landscapes.plots import slices as figures
from tests.unit.typed_arrays import typed_array

SPEC = {"model": "ising", "n": 16, "native_bias": 2}
BIG = {"view": "slice", "steps": 101}
TARGET_BYTES = 80_000  # the target: a 101x101 surface update stays under 80 KB on the wire
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture(scope="module")
def big_slice():
    return views.compute(SPEC, BIG)


def loose_arrays(node, path: str = "") -> list[str]:
    """float64 typed arrays and numeric JSON lists longer than 16 anywhere under ``node``."""
    found = []
    if isinstance(node, dict):
        if node.get("dtype") == "f8" and "bdata" in node:
            found.append(path)
        for key, value in node.items():
            found += loose_arrays(value, f"{path}.{key}")
    elif isinstance(node, list):
        if len(node) > 16 and all(isinstance(v, int | float) for v in node):
            found.append(path)
        else:
            for i, value in enumerate(node):
                found += loose_arrays(value, f"{path}[{i}]")
    return found


def test_surface_goes_as_float32_typed_arrays(big_slice):
    sent = json.loads(to_json(figures.surface_figure(big_slice)))  # what a Dash callback sends
    surface = sent["data"][0]
    assert surface["type"] == "surface"
    for name in ("x", "y", "z"):
        assert surface[name]["dtype"] == "f4", name
    assert surface["z"]["shape"] == "101, 101"
    z = typed_array(surface["z"])
    np.testing.assert_array_equal(z, big_slice.values.astype(np.float32))
    np.testing.assert_allclose(z, big_slice.values, rtol=1e-6, atol=1e-6)
    x, y = big_slice.axes
    np.testing.assert_array_equal(typed_array(surface["x"]), x.astype(np.float32))
    np.testing.assert_array_equal(typed_array(surface["y"]), y.astype(np.float32))
    assert loose_arrays(sent) == []


def test_path_figure_goes_as_float32_typed_arrays():
    paths = [views.compute(SPEC, {"view": "path", "from": "random:0", "to": "minimum:0",
                                  "kind": kind, "steps": 101}) for kind in views.PATH_KINDS]
    sent = json.loads(to_json(figures.path_figure(paths)))
    assert [(t["x"]["dtype"], t["y"]["dtype"]) for t in sent["data"]] == [("f4", "f4")] * len(paths)
    assert loose_arrays(sent) == []


def test_a_101x101_surface_update_is_under_80_kb_gzipped(app, big_slice):
    body = to_json(figures.surface_figure(big_slice)).encode()
    wire = gzip.compress(body, app.server.config["COMPRESS_LEVEL"])  # flask-compress's level
    assert len(wire) < TARGET_BYTES, f"{len(wire)} bytes gzipped ({len(body)} uncompressed)"
    lists = json.loads(body)
    x, y = big_slice.axes
    lists["data"][0].update(x=x.tolist(), y=y.tolist(), z=big_slice.values.tolist())
    assert len(wire) < 0.6 * len(gzip.compress(to_json(lists).encode()))  # float64 lists


def assert_gzipped_copy(client, path: str) -> bytes:
    """GET ``path`` plain and with Accept-Encoding: gzip; the second is the first, gzipped."""
    plain = client.get(path)
    packed = client.get(path, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
    assert gzip.decompress(packed.data) == plain.data
    return plain.data


def test_json_responses_are_gzipped_for_clients_that_accept_it(client):
    layout = assert_gzipped_copy(client, "/_dash-layout")  # JSON, as callback responses are
    assert b"left-surface" in layout


def test_dash_scripts_are_gzipped(client):
    page = client.get("/").data.decode()
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+\.js[^"]*)"', page)
    assert scripts
    for script in scripts[:3]:
        assert assert_gzipped_copy(client, script)


def test_br_is_chosen_when_the_client_prefers_it(client):
    response = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip;q=0.5, br"})
    assert response.headers["Content-Encoding"] == "br"


def test_api_answers_json_with_and_without_gzip(client):
    request = {"model": SPEC | {"n": 10}, "view": {"view": "slice", "steps": 21}}
    plain = client.post("/api/view", json=request)
    packed = client.post("/api/view", json=request, headers=GZIP)
    assert plain.status_code == packed.status_code == 200
    assert plain.mimetype == packed.mimetype == "application/json"
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    body, unpacked = json.loads(plain.data), json.loads(gzip.decompress(packed.data))
    assert unpacked["key"] == body["key"] and unpacked["cached"] is True
    assert unpacked["values"] == body["values"] and np.shape(body["values"]) == (21, 21)


def test_npz_download_is_not_compressed_again(client):
    request = {"model": SPEC | {"n": 10}, "view": {"view": "slice", "steps": 9}}
    response = client.post("/api/view?format=npz", json=request, headers=GZIP)
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    assert "Content-Encoding" not in response.headers
    arrays, _ = read_npz(io.BytesIO(response.data))
    assert arrays["values"].shape == (9, 9)
