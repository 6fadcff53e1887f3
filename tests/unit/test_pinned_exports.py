"""The ``.npz`` exports of a few spin-model views and the shipped example networks, pinned.

The fingerprints in ``tests/fixtures/pinned_exports.json`` were written before the library was
reorganised into ``spin/``, ``networks/`` and ``io/`` packages around the view registry; this
test recomputes each export through the public entry points (the library's ``views.compute``
and the ``landscapes`` command) and compares every array (name, shape, dtype, and its values
through sums and sampled entries, to 1e-9 relative, and absolute near zero; looser where another
CPU rounds differently and an iteration amplifies it: :data:`RTOL`) and the whole meta (bar the
library version). A change here is a change of the export contract: regenerate only on
purpose, with ``FUNNELSCOPE_REPIN=1 pytest tests/unit/test_pinned_exports.py``, and say so in
the docs.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from landscapes import cli
from landscapes.io.npz import read_npz, write_npz

FIXTURE = Path(__file__).parent.parent / "fixtures" / "pinned_exports.json"
SAMPLES = 7  # entries sampled from each array, evenly over its flat index

SPIN_REQUESTS = {
    "ising-slice": ({"model": "ising", "n": 12, "native_bias": 2.0},
                    {"view": "slice", "steps": 9, "span": 1.0}),
    "pspin-slice-through": ({"model": "pspin", "n": 32, "p": 3, "seed": 1},
                            {"view": "slice", "steps": 7, "span": 1.5,
                             "directions": "through:minimum:1,minimum:2"}),
    "pspin-slice-1d": ({"model": "pspin", "n": 24, "p": 4, "planted": 1.0},
                       {"view": "slice", "dims": 1, "steps": 11}),
    "ising-path-geodesic": ({"model": "ising", "n": 10, "native_bias": 1.0},
                            {"view": "path", "from": "random:1", "to": "minimum:2", "steps": 9}),
    "pspin-path-linear": ({"model": "pspin", "n": 20, "p": 2},
                          {"view": "path", "from": "random:0", "to": "minimum:0",
                           "kind": "linear", "steps": 9}),
    "ising-funnel": ({"model": "ising", "n": 10, "native_bias": 2.0},
                     {"view": "funnel", "temperatures": 5}),
    "ising-sweep": ({"model": "ising", "native_bias": 2.0},
                    {"view": "sweep", "n_min": 6, "n_max": 8, "seeds": 2}),
    "pspin-minima": ({"model": "pspin", "n": 16, "p": 3}, {"view": "minima", "starts": 4}),
    "ising-minima": ({"model": "ising", "n": 10, "native_bias": 1.0},
                     {"view": "minima", "starts": 4}),
}
NETWORK_REQUESTS = {
    "moons-mlp-slice": ({"model": "network", "example": "moons-mlp"},
                        {"view": "slice", "steps": 5, "span": 0.5}),
    "moons-mlp-path": ({"model": "network", "example": "moons-mlp"},
                       {"view": "path", "from": "init", "to": "centre", "steps": 5}),
}
#: relative tolerances looser than 1e-9, with the differences seen between two x86-64 CPUs (one
#: with AVX-512 and AMX) on the same pinned packages: the descent to a p-spin minimum ends
#: 2.4e-7 apart (entries of the direction between two minima that are ~2e-7 differ by 2e-8);
#: the example network's 300 float32 SGD steps end 1.5e-4 apart
RTOL = {"pspin-slice-through": 1e-6, "moons-mlp-slice": 1e-3, "moons-mlp-path": 1e-3}
CLI_COMMANDS = {
    "cli-enumerate": ["enumerate", "ising", "--n", "8", "--native-bias", "1"],
    "cli-funnel": ["funnel", "ising", "--n", "8", "--native-bias", "2", "--temperature", "0.5"],
}


def fingerprint(arrays: dict[str, np.ndarray], meta: dict) -> dict:
    """Names, shapes, dtypes and value summaries of every array, and the meta."""
    out = {}
    for name in sorted(arrays):
        arr = np.asarray(arrays[name])
        entry = {"shape": list(arr.shape), "dtype": str(arr.dtype)}
        if arr.dtype.kind in "biuf":
            flat = arr.astype(np.float64).ravel()
            finite = flat[np.isfinite(flat)]
            picks = np.linspace(0, flat.size - 1, min(SAMPLES, flat.size)).astype(int)
            entry.update(sum=float(finite.sum()), abs_sum=float(np.abs(finite).sum()),
                         nonfinite=int(flat.size - finite.size),
                         samples=[None if not np.isfinite(v) else float(v) for v in flat[picks]])
        else:
            entry["text"] = str(arr)[:200]
        out[name] = entry
    meta = {k: v for k, v in meta.items() if k != "library_version"}
    return {"arrays": out, "meta": json.loads(json.dumps(meta, sort_keys=True))}


def _library_export(spec: dict, view: dict, tmp_path: Path, store=None) -> dict:
    from landscapes import views

    result = views.compute(spec, view, store=store)
    path = write_npz(tmp_path / "out.npz", result.to_arrays(), result.meta)
    return fingerprint(*read_npz(path))


def _cli_export(argv: list[str], tmp_path: Path) -> dict:
    out = tmp_path / "cli.npz"
    assert cli.main([*argv, "--out", str(out)]) == 0
    return fingerprint(*read_npz(out))


def _close(a, b, path: str, rtol: float = 1e-9) -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))} differ"
        for k in a:
            _close(a[k], b[k], f"{path}.{k}", rtol)
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{k}]", rtol)
    elif isinstance(a, float) and isinstance(b, int | float):
        assert np.isclose(a, b, rtol=rtol, atol=rtol), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def pinned() -> dict:
    return json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}


@pytest.fixture(scope="module")
def network_store(tmp_path_factory):
    from landscapes.networks.store import UploadStore

    return UploadStore(tmp_path_factory.mktemp("pinned-store"))


def _check(name: str, got: dict, pinned: dict, rtol: float = 1e-9) -> None:
    if os.environ.get("FUNNELSCOPE_REPIN"):
        data = json.loads(FIXTURE.read_text()) if FIXTURE.exists() else {}
        data[name] = got
        FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        return
    assert name in pinned, f"{name} is not pinned; run with FUNNELSCOPE_REPIN=1 on purpose"
    _close(got, pinned[name], name, rtol)


@pytest.mark.parametrize("name", list(SPIN_REQUESTS))
def test_spin_exports_are_pinned(name, pinned, tmp_path):
    spec, view = SPIN_REQUESTS[name]
    _check(name, _library_export(spec, view, tmp_path), pinned, RTOL.get(name, 1e-9))


@pytest.mark.parametrize("name", list(NETWORK_REQUESTS))
def test_example_network_exports_are_pinned(name, pinned, tmp_path, network_store,
                                            one_torch_thread):
    spec, view = NETWORK_REQUESTS[name]
    _check(name, _library_export(spec, view, tmp_path, network_store), pinned, RTOL[name])


@pytest.mark.parametrize("name", list(CLI_COMMANDS))
def test_cli_exports_are_pinned(name, pinned, tmp_path):
    _check(name, _cli_export(CLI_COMMANDS[name], tmp_path), pinned)


def test_fingerprint_sees_a_changed_value():
    arrays = {"values": np.arange(12.0).reshape(3, 4)}
    before = fingerprint(arrays, {"kind": "slice"})
    arrays["values"][1, 2] += 1e-6
    with pytest.raises(AssertionError, match="sum"):
        _close(fingerprint(arrays, {"kind": "slice"}), before, "x")
