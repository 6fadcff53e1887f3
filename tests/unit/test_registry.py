"""The view registry: lookups and their errors, every view the issue lists, and a toy view kind
registered in this test alone, served by the library, the CLI, the HTTP API and the exports.

The toy view ("toy", Ising only) is the energy per spin of the seeded random starts
``random:0 .. random:K-1`` on the sphere; the test recomputes it with numpy from the couplings
(``H(s) = -1/2 s.K.s``, values H/N), independently of the library's energy functions.
"""

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from landscapes import cli, registry, views
from landscapes.errors import LandscapeError
from landscapes.io.npz import read_npz
from landscapes.registry import Context, ResultKind, ViewKind
from landscapes.results import ViewResult, base_meta
from landscapes.spin.models import build_model, normalize_spec
from landscapes.viewspec import Interval, fill_view

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"model": "ising", "n": 10, "native_bias": 1.0, "seed": 3}
TOY = {"view": "toy", "count": 6}
LISTED = {
    "ising": {"slice", "path", "funnel", "sweep", "minima", "enumeration", "free_energy"},
    "pspin": {"slice", "path", "minima", "spectrum"},
    "network": {"slice", "path", "minima", "spectrum"},
}
RESULT_KINDS = {"slice": "slice", "path": "path", "funnel": "funnel", "sweep": "sweep",
                "minima": "minima", "enumeration": "enumeration", "free_energy": "free energy",
                "spectrum": "spectrum"}


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


# --------------------------------------------------------------------------- the toy view kind


def _normalize_toy(view: dict) -> dict:
    return fill_view(view, {"toy": {"view": "toy", "count": 4}}, {"count": Interval(int, 1, 50)})


def _compute_toy(spec: dict, view: dict, progress, context: Context) -> ViewResult:
    model = build_model(spec)
    starts = np.stack([model.random_state(k) for k in range(view["count"])])
    energies = model.energy(torch.as_tensor(starts)).numpy()
    if progress:
        progress(view["count"], view["count"])
    arrays = {"k": np.arange(view["count"]), "energy": energies, "starts": starts}
    return ViewResult(arrays, {**base_meta(model.spec, "energy per spin", model.seed,
                                           model.energy_convention),
                               "kind": "toy", "view": view})


def _toy_figure(result: ViewResult, display: dict | None):
    import plotly.graph_objects as go

    a = result.arrays
    return go.Figure(go.Scatter(x=a["k"], y=a["energy"], mode="markers", name="toy energy"))


@pytest.fixture
def toy() -> Iterator[ViewKind]:
    """The toy view kind and its result kind, registered for one test and removed again."""
    record = registry.register_view(ViewKind(
        "ising", "toy", {"view": "toy", "count": 4}, _normalize_toy, _compute_toy, "toy",
        "energies of the seeded random starts", normalize_spec,
    ))
    registry.register_result(ResultKind(
        "toy", lambda meta: f"toy view of {meta['view']['count']} starts",
        table=lambda r: {"k": r.arrays["k"], "energy": r.arrays["energy"]},
        table_note="one row per start",
        vtk_grid=lambda r: ((len(r.arrays["k"]), 1, 1),
                            np.stack([r.arrays["k"], 0 * r.arrays["k"], 0 * r.arrays["k"]],
                                     axis=1).astype(float),
                            {"energy": r.arrays["energy"]}),
        figure=_toy_figure,
    ))
    yield record
    registry.unregister_view("ising", "toy")
    registry.unregister_result("toy")


def independent_toy(spec: dict, count: int) -> np.ndarray:
    """H/N of random:0 .. random:count-1 with numpy alone: H(s) = -1/2 s.K.s."""
    model = build_model(spec)
    k = np.asarray(model.arrays()["couplings"], dtype=np.float64)
    out = []
    for j in range(count):
        s = np.asarray(model.random_state(j), dtype=np.float64)
        assert np.isclose(s @ s, model.n)  # on the sphere |s|^2 = N
        out.append(-0.5 * s @ k @ s / model.n)
    return np.array(out)


# --------------------------------------------------------------------------- lookups


def test_every_listed_view_is_registered_with_its_result_kind():
    for family, names in LISTED.items():
        assert set(registry.views_of(family)) == names, family
        for name in names:
            record = registry.view_kind(family, name)
            assert record.result_kind == RESULT_KINDS[name]
            assert record.view == name and record.description
    assert set(registry.families()) >= set(LISTED)
    # the spin records are shared by both families, the exact ones are Ising's alone
    assert registry.view_kind("ising", "slice") is registry.view_kind("pspin", "slice")


@pytest.mark.parametrize(
    ("family", "view", "message"),
    [
        ("spinglass", "slice", "unknown model 'spinglass'; choose ising, network or pspin"),
        ("pspin", "funnel", "funnel views are computed for ising only; got 'pspin'"),
        ("network", "enumeration", "enumeration views are computed for ising only; got 'network'"),
        ("network", "sweeep",
         "unknown view 'sweeep' for network; choose slice, path, minima or spectrum"),
    ],
)
def test_lookup_errors_name_the_choices(family, view, message):
    with pytest.raises(LandscapeError, match=exactly(message)):
        registry.view_kind(family, view)
    with pytest.raises(LandscapeError, match=exactly(message)):
        views.compute({"model": family}, {"view": view})


def test_unknown_result_kind_is_refused():
    with pytest.raises(LandscapeError, match="^unknown kind of result 'nope'; known: "):
        registry.result_kind("nope")


def test_canonical_requests_come_from_the_records():
    spec, view = views.canonical_request({"model": "ising", "n": 8}, {"view": "free_energy"})
    assert view == {"view": "free_energy", "temperature": 1.0} and spec["native_bias"] == 0.0
    _, view = views.canonical_request({"model": "ising"}, {"steps": 11})  # no view: a slice
    assert view["view"] == "slice" and view["steps"] == 11
    spec, _ = views.canonical_request({"model": "ising", "n": 12}, {"view": "sweep", "n_max": 9})
    assert spec["n"] == 9  # the sweep's record sets N itself
    example = {"model": "network", "example": "moons-mlp"}
    _, view = views.canonical_request(example, {"view": "path", "to": "centre"})
    assert view["to"] == "center"  # one spelling in code; the old one accepted in input
    assert views.request_key(example, {"view": "path", "to": "centre"}) == views.request_key(
        example, {"view": "path"})
    too_many = "exact enumeration needs n <= 20 (2^n states); got n=22"
    with pytest.raises(LandscapeError, match=exactly(too_many)):
        views.request_key({"model": "ising", "n": 22}, {"view": "enumeration"})
    with pytest.raises(LandscapeError, match="only .an upload has no training recipe.$"):
        views.request_key({"model": "network", "checkpoint": "a" * 64, "data": "moons"},
                          {"view": "minima"})


def test_enumeration_and_free_energy_are_library_views():
    spec = {"model": "ising", "n": 8, "native_bias": 1.0}
    enum = views.compute(spec, {"view": "enumeration"})
    assert enum.meta["kind"] == "enumeration" and enum.arrays["energies"].shape == (256,)
    free = views.compute(spec, {"view": "free_energy", "temperature": 0.001})
    assert free.meta["kind"] == "free energy" and free.meta["temperature"] == 0.001
    # T -> 0: F(Q) -> the lowest energy per spin at each Q
    assert np.allclose(free.arrays["free_energy"], enum.arrays["q_lowest_energy"], atol=1e-3)


def test_one_progress_type_and_no_cross_imports():
    """spin/ and networks/ do not import each other; landscapes/ never imports app/; Progress is
    defined once (landscapes.registry)."""
    for path in (ROOT / "landscapes").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names]
        names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        part = path.relative_to(ROOT / "landscapes").parts[0]
        assert not any(n == "app" or n.startswith("app.") for n in names), path
        if part == "spin":
            assert not any(n.startswith("landscapes.networks") for n in names), path
        if part == "networks":
            assert not any(n.startswith("landscapes.spin") for n in names), path
        defines = [node for node in tree.body if isinstance(node, ast.Assign)
                   and any(getattr(t, "id", "") == "Progress" for t in node.targets)]
        assert not defines or path.name == "registry.py", path


# --------------------------------------------------------------------------- the toy, served


def test_toy_view_is_computed_by_the_library(toy):
    result = views.compute(SPEC, TOY)
    np.testing.assert_allclose(result.arrays["energy"], independent_toy(SPEC, 6), rtol=1e-12)
    assert result.meta["view"] == TOY and result.meta["model"] == normalize_spec(SPEC)
    assert views.canonical_request(SPEC, {"view": "toy"})[1] == {"view": "toy", "count": 4}
    with pytest.raises(LandscapeError, match=exactly(
            "toy: count must be a whole number in [1, 50]; got 0")):
        views.request_key(SPEC, {"view": "toy", "count": 0})
    with pytest.raises(LandscapeError, match=exactly("toy views are computed for ising only; "
                                                     "got 'pspin'")):
        views.compute({"model": "pspin"}, TOY)


def test_toy_view_is_gone_after_the_test():
    with pytest.raises(LandscapeError, match="unknown view 'toy' for ising"):
        views.compute(SPEC, TOY)


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_toy_view_is_served_by_the_cli(toy, tmp_path, capsys):
    out = tmp_path / "toy.npz"
    code, stdout, err = _cli(["view", "--model", json.dumps(SPEC), "--view", json.dumps(TOY),
                              "--out", str(out)], capsys)
    assert code == 0, err
    assert str(out) in stdout
    arrays, meta = read_npz(out)
    np.testing.assert_allclose(arrays["energy"], independent_toy(SPEC, 6), rtol=1e-12)
    assert meta["kind"] == "toy" and meta["view"] == TOY
    for argv, message in [
        (["--model", "{bad", "--view", "{}"], "--model is not valid JSON"),
        (["--model", "[1]", "--view", "{}"], "--model must be a JSON object"),
        (["--model", json.dumps(SPEC), "--view", '{"view": "toy", "count": 99}'],
         "toy: count must be a whole number in [1, 50]; got 99"),
        (["--model", json.dumps(SPEC), "--view", '{"view": "toyy"}'], "unknown view 'toyy'"),
    ]:
        code, _, err = _cli(["view", *argv, "--out", str(tmp_path / "x.npz")], capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and message in lines[0], (argv, err)
        assert lines[0].startswith("landscapes: error:")
    assert not (tmp_path / "x.npz").exists()


def test_toy_view_is_served_by_the_api(toy, client):
    answer = client.post("/api/view", json={"model": SPEC, "view": TOY})
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["key"] == views.request_key(SPEC, TOY) and body["cached"] is False
    np.testing.assert_allclose(body["arrays"]["energy"], independent_toy(SPEC, 6), rtol=1e-6)
    assert body["meta"]["kind"] == "toy"
    again = client.post("/api/view", json={"model": SPEC, "view": TOY}).get_json()
    assert again["cached"] is True and again["arrays"] == body["arrays"]
    bad = client.post("/api/view", json={"model": SPEC, "view": {"view": "toy", "count": 0}})
    assert bad.status_code == 400
    assert bad.get_json() == {"error": "toy: count must be a whole number in [1, 50]; got 0"}


@pytest.mark.parametrize("fmt", ["csv", "vtk", "html", "npz"])
def test_toy_view_is_written_in_every_format(toy, tmp_path, capsys, fmt):
    from landscapes.io import formats

    expected = independent_toy(SPEC, 6)
    out = tmp_path / f"toy.{fmt}"
    code, _, err = _cli(["view", "--model", json.dumps(SPEC), "--view", json.dumps(TOY),
                         "--out", str(out)], capsys)
    assert code == 0, err
    result = views.compute(SPEC, TOY)
    assert out.read_bytes() == formats.to_bytes(result, fmt) or fmt == "npz"
    if fmt == "csv":
        text = out.read_text()
        assert formats.read_csv_meta(text)["kind"] == "toy"
        rows = [line for line in text.splitlines() if line and not line.startswith("#")]
        header = rows[0].split(",")
        table = np.array([[float(v) for v in row.split(",")] for row in rows[1:]])
        np.testing.assert_allclose(table[:, header.index("energy")], expected, rtol=1e-9)
    elif fmt == "vtk":
        text = out.read_text()
        assert "DIMENSIONS 6 1 1" in text and "energy" in text
    elif fmt == "html":
        text = out.read_text()
        assert formats.read_html_meta(text)["kind"] == "toy" and "toy energy" in text
    else:
        arrays, meta = read_npz(out)
        np.testing.assert_allclose(arrays["energy"], expected, rtol=1e-12)
