"""Slices, directions, paths and the .npz contract: every number recomputed from the file alone."""

import re

import numpy as np
import pytest
import torch

from landscapes import views
from landscapes.directions import directions_through, random_directions
from landscapes.errors import LandscapeError
from landscapes.io.npz import read_npz, write_npz
from landscapes.slices import Slice, grid_coefficients
from landscapes.spin.models import build_model
from tests.unit.reference import energy_from_export

ISING = {"model": "ising", "n": 12, "native_bias": 1.5, "seed": 3}
PSPIN = {"model": "pspin", "n": 10, "p": 3, "planted": 0.4, "seed": 2}


def _on_sphere(x: np.ndarray) -> np.ndarray:
    return np.sqrt(len(x)) * x / np.linalg.norm(x)


def _roundtrip(result: Slice, tmp_path) -> tuple[dict, dict]:
    path = write_npz(tmp_path / "view.npz", result.to_arrays(), result.meta)
    return read_npz(path)


@pytest.mark.parametrize("spec", [ISING, PSPIN], ids=["ising", "pspin"])
def test_saved_2d_slice_recomputes_from_the_file_alone(spec, tmp_path):
    result = views.compute(spec, {"view": "slice", "dims": 2, "steps": 7, "span": 0.8})
    arrays, meta = _roundtrip(result, tmp_path)
    assert meta["geometry"] == "sphere" and meta["unit"] == "energy per spin"
    assert meta["model"] == views.normalize_spec(spec)
    x, y, values = arrays["x"], arrays["y"], arrays["values"]
    assert values.shape == (len(y), len(x))
    d1, d2 = arrays["directions"]
    for i, j in [(0, 0), (1, 5), (6, 2), (3, 3)]:
        point = _on_sphere(arrays["center"] + x[j] * d1 + y[i] * d2)
        assert values[i, j] == pytest.approx(energy_from_export(arrays, meta, point), abs=1e-12)
    assert values[3, 3] == pytest.approx(meta["center_energy"])


def test_3d_volume_layout_is_z_y_x(tmp_path):
    result = views.compute(ISING, {"view": "slice", "dims": 3, "steps": 5, "span": 1.0})
    arrays, meta = _roundtrip(result, tmp_path)
    assert arrays["values"].shape == (5, 5, 5) and arrays["directions"].shape == (3, 12)
    x, y, z = arrays["x"], arrays["y"], arrays["z"]
    k, i, j = 4, 1, 2
    point = _on_sphere(arrays["center"] + arrays["directions"].T @ np.array([x[j], y[i], z[k]]))
    assert arrays["values"][k, i, j] == pytest.approx(energy_from_export(arrays, meta, point))


def test_1d_slice(tmp_path):
    result = views.compute(PSPIN, {"view": "slice", "dims": 1, "steps": 9})
    arrays, meta = _roundtrip(result, tmp_path)
    assert arrays["values"].shape == (9,) and arrays["directions"].shape == (1, 10)
    point = _on_sphere(arrays["center"] + arrays["x"][2] * arrays["directions"][0])
    assert arrays["values"][2] == pytest.approx(energy_from_export(arrays, meta, point))


def test_reloaded_slice_equals_the_original(tmp_path):
    result = views.compute(ISING, {"view": "slice", "steps": 5})
    again = Slice.from_arrays(*_roundtrip(result, tmp_path))
    assert np.array_equal(again.values, result.values)
    assert np.array_equal(again.points(), result.points())
    assert again.meta == result.meta and again.geometry == "sphere"


def test_grid_coefficients_follow_plotly_order():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([10.0, 20.0])
    coefs = grid_coefficients([x, y])
    assert coefs.tolist() == [[0, 10], [1, 10], [2, 10], [0, 20], [1, 20], [2, 20]]


def test_random_sphere_directions_are_tangent_orthogonal_and_radius_long():
    center = build_model(PSPIN).random_state(0)
    d = random_directions(center, 3, seed=1, geometry="sphere")
    assert np.allclose(d @ center, 0, atol=1e-10)
    assert np.allclose(d @ d.T, 10 * np.eye(3), atol=1e-10)
    # not all-positive (the peer bug): Gaussian directions have both signs
    assert (d > 0).any() and (d < 0).any()
    again = random_directions(center, 3, seed=1, geometry="sphere")
    assert np.array_equal(d, again)


def test_a_plane_through_two_minima_passes_through_them():
    spec = {"model": "pspin", "n": 24, "p": 3, "seed": 0}
    view = {"view": "slice", "steps": 5, "span": 2.0, "directions": "through:minimum:1,minimum:2"}
    result = views.compute(spec, view)
    model = build_model(spec)
    m1, m2 = (views.resolve_point(model, f"minimum:{k}") for k in (1, 2))
    x = result.axes[0]
    assert x[3] == 1.0  # grid -2, -1, 0, 1, 2
    assert result.values[2, 3] == pytest.approx(result.meta["point_energies"][0])
    assert result.values[3, 2] == pytest.approx(result.meta["point_energies"][1])
    e = model.energy(torch.as_tensor(np.stack([m1, m2]))).numpy()
    assert np.allclose(result.meta["point_energies"], e)
    assert np.allclose(result.points()[2 * 5 + 3], m1)


def test_directions_through_refuses_degenerate_points():
    c = np.ones(4)
    with pytest.raises(LandscapeError, match="coincides"):
        directions_through(c, [c])
    with pytest.raises(LandscapeError, match="collinear"):
        directions_through(c, [c + np.array([1.0, 0, 0, 0]), c + np.array([2.0, 0, 0, 0])])


def test_geodesic_path_is_evenly_spaced_on_the_great_circle(tmp_path):
    view = {"view": "path", "from": "random:0", "to": "minimum:0", "kind": "geodesic", "steps": 11}
    result = views.compute(PSPIN, view)
    arrays, meta = _roundtrip(result, tmp_path)
    pts = Slice.from_arrays(arrays, meta).points()
    assert np.allclose(np.linalg.norm(pts, axis=1) ** 2, 10)
    angles = np.arccos(np.clip(pts[:-1] @ pts[1:].T / 10, -1, 1)).diagonal()
    assert np.allclose(angles, angles[0], rtol=1e-6)
    model = build_model(PSPIN)
    assert np.allclose(pts[0], views.resolve_point(model, "random:0"))
    assert np.allclose(pts[-1], views.resolve_point(model, "minimum:0"))
    for k in (0, 4, 10):
        assert arrays["values"][k] == pytest.approx(energy_from_export(arrays, meta, pts[k]))
    assert np.allclose(arrays["arc"], np.linspace(0, 1, 11))


def test_linear_path_stays_on_the_chord(tmp_path):
    view = {"view": "path", "from": "native", "to": "minimum:1", "kind": "linear", "steps": 5}
    arrays, meta = _roundtrip(views.compute(ISING, view), tmp_path)
    assert meta["geometry"] == "euclidean"
    start, d = arrays["center"], arrays["directions"][0]
    for k, t in enumerate(arrays["x"]):
        direct = energy_from_export(arrays, meta, start + t * d)
        assert arrays["values"][k] == pytest.approx(direct, abs=1e-12)


def test_antipodal_geodesic_is_refused():
    spec = {"model": "ising", "n": 10, "native_bias": 6.0, "seed": 0}
    model = build_model(spec)
    # in a strong funnel every descent ends at +xi or -xi; find one that ends at -xi
    mirror = next(
        k for k in range(20)
        if np.allclose(views.resolve_point(model, f"minimum:{k}"), -model.native)
    )
    view = {"view": "path", "from": "native", "to": f"minimum:{mirror}", "kind": "geodesic"}
    with pytest.raises(LandscapeError, match="antipodal"):
        views.compute(spec, view)
    linear = views.compute(spec, view | {"kind": "linear", "steps": 3})
    assert linear.values[1] == 0.0  # the chord passes through the origin, where H = 0


def test_request_keys_are_canonical_and_versioned(monkeypatch):
    a = views.request_key({"model": "ising", "n": 12}, {"view": "slice"})
    b = views.request_key({"model": "ising", "n": 12.0, "seed": 0}, {"view": "slice", "dims": 2})
    c = views.request_key({"model": "ising", "n": 12, "seed": 1}, {"view": "slice"})
    assert a == b != c
    import landscapes

    monkeypatch.setattr(landscapes, "__version__", "9.9.9")
    assert views.request_key({"model": "ising", "n": 12}, {"view": "slice"}) != a


@pytest.mark.parametrize(
    ("view", "message"),
    [
        ({"view": "slice", "dims": 4}, "slice: dims must be one of 1, 2 or 3; got 4"),
        ({"view": "slice", "steps": 1}, "slice: steps must be a whole number in [2, 401]; got 1"),
        ({"view": "slice", "span": -1}, "slice: span must be a number in (0, 100]; got -1"),
        ({"view": "slice", "center": "summit"}, "unknown point 'summit'"),
        ({"view": "slice", "directions": "through:native"}, "needs 2 point"),
        ({"view": "slice", "directions": "sideways"}, "unknown directions"),
        ({"view": "path", "kind": "scenic"}, "linear or geodesic"),
        ({"view": "movie"}, "unknown view"),
        ({"view": "slice", "colour": "red"}, "unknown setting"),
    ],
)
def test_bad_views_are_refused_with_a_specific_message(view, message):
    with pytest.raises(LandscapeError, match=re.escape(message)):
        views.normalize_view(view)


def test_ground_state_is_only_for_ising():
    with pytest.raises(LandscapeError, match="only for ising"):
        views.compute(PSPIN, {"view": "slice", "center": "ground", "steps": 3})


def test_a_volume_draws_one_chosen_level_set_and_a_plane_cut_through_it():
    """The volume view's display: ``level`` picks one level set (a fraction of the value
    range), ``plane`` adds the grid's plane of c nearest it, coloured by its own values."""
    from landscapes.plots import slices as figures

    result = views.compute(ISING, {"view": "slice", "dims": 3, "steps": 5, "span": 1.0})
    lo, hi = float(result.values.min()), float(result.values.max())
    plain = figures.volume_figure(result)
    assert len(plain.data) == 1 and plain.data[0].surface.count == figures.ISOSURFACES
    assert plain.data[0].isomin == pytest.approx(lo) and plain.data[0].isomax == pytest.approx(hi)
    fig = figures.volume_figure(result, {"level": 0.25, "plane": 0.4})
    volume, plane = fig.data
    assert volume.surface.count == 1
    assert volume.isomin == volume.isomax == pytest.approx(lo + 0.25 * (hi - lo), rel=1e-6)
    c = result.axes[2]  # -1, -0.5, 0, 0.5, 1: 0.4 is nearest 0.5, the grid's plane k = 3
    assert np.allclose(np.asarray(plane.z), 0.5)
    np.testing.assert_allclose(np.asarray(plane.surfacecolor), result.values[3], rtol=1e-6)
    assert (plane.cmin, plane.cmax) == pytest.approx((lo, hi)) and c[3] == 0.5
    assert "plane c = 0.5" in fig.layout.title.text and "level set" in fig.layout.title.text
    assert figures.volume_figure(result, {"level": 7})["data"][0].isomin == pytest.approx(hi)
