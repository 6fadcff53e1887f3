"""Funnel figure builders without a browser: barrier-tree layout, funnel diagram and 3D funnel,
F(Q; T) and its slider marks, the size sweep, and the figures of whole funnel, sweep, free-energy
and enumeration results (the dashboard's main graphs and the HTML exports)."""

import functools
import math

import numpy as np
import pytest

from landscapes import views
from landscapes.plots.funnel import (
    GROUND_COLOR,
    MINIMUM_COLOR,
    disconnectivity_figure,
    enumeration_figure,
    free_energy_figure,
    free_energy_view_figure,
    funnel_diagram,
    funnel_proxies,
    funnel_surface_figure,
    funnel_view_figure,
    sweep_figure,
    sweep_series,
    sweep_table_rows,
    sweep_view_figure,
    temperature_marks,
    tree_layout,
)
from landscapes.plots.slices import DEFAULT_CAMERA
from landscapes.results import ViewResult
from landscapes.spin.barriers import barrier_tree, saddle_matrix
from landscapes.spin.enumeration import enumerate_ising
from landscapes.spin.funnel import folding_temperature, free_energy, funnel_histogram, two_state_barrier
from landscapes.spin.models import IsingFunnel


def test_a_chain_of_three_minima_is_drawn_with_the_ground_state_in_the_middle():
    layout = tree_layout(np.array([-3.0, -2.0, -1.0]), np.array([[-1.5, 0, 1], [-0.5, 0, 2]]))
    assert layout.leaf_x.tolist() == [1.0, 0.0, 2.0]
    rows = {tuple(r) for r in layout.segments.tolist()}
    assert rows == {
        (1.0, -3.0, 1.0, -1.5), (0.0, -2.0, 0.0, -1.5), (0.0, -1.5, 1.0, -1.5),  # first merge
        (0.5, -1.5, 0.5, -0.5), (2.0, -1.0, 2.0, -0.5), (0.5, -0.5, 2.0, -0.5),  # second
    }


@pytest.mark.parametrize("bias", [0.0, 2.0])
def test_layout_of_an_enumerated_tree(bias):
    result = enumerate_ising(IsingFunnel.create(n=10, native_bias=bias, seed=1))
    tree = barrier_tree(result.energies, 10)
    m = len(tree.minima)
    layout = tree_layout(tree.minimum_energies, tree.merges)
    assert sorted(layout.leaf_x.tolist()) == list(range(m))
    assert len(layout.segments) == 3 * (m - 1)
    bars = layout.segments[2::3]  # per merge: two branches, then the bar
    vertical = np.delete(layout.segments, np.s_[2::3], axis=0)
    assert np.all(bars[:, 1] == bars[:, 3]) and np.all(vertical[:, 0] == vertical[:, 2])
    assert np.allclose(np.sort(bars[:, 1]), np.sort(tree.merges[:, 0]))
    assert np.all(vertical[:, 3] >= vertical[:, 1])  # branches go up to their saddles
    starts = {(x, y) for x, y in vertical[:, :2].tolist()}
    for k in range(m):  # every minimum has its branch
        assert (layout.leaf_x[k], tree.minimum_energies[k]) in starts
    fig = disconnectivity_figure(tree.minimum_energies, tree.merges, tree.basin_share,
                                 tree.minima)
    assert len(fig.data[1].x) == m and np.allclose(fig.data[1].y, tree.minimum_energies)


def test_funnel_and_free_energy_figures_carry_the_numbers():
    result = enumerate_ising(IsingFunnel.create(n=10, native_bias=2.0, seed=0))
    hist = funnel_histogram(result.energies, result.overlaps)
    fig = funnel_diagram(hist)
    assert np.allclose(fig.data[1].y, hist.lowest_energy)
    assert np.nansum(10 ** np.asarray(fig.data[0].z, dtype=float)) == pytest.approx(2**10, rel=1e-4)
    q, free = free_energy(result.energies, result.overlaps, 10, 0.5)
    fig = free_energy_figure(q, free, 0.5)
    assert np.allclose(fig.data[0].y, free) and fig.data[0].name == "T = 0.5"


# --- arrays as the library hands them to the app, built here from exact enumeration ----------


@functools.cache
def funnel_arrays(n: int, bias: float, seed: int) -> dict:
    """The funnel-view arrays of one model, minima mirror-folded (a minimum and -s: one entry)."""
    result = enumerate_ising(IsingFunnel.create(n=n, native_bias=bias, seed=seed))
    hist = funnel_histogram(result.energies, result.overlaps)
    tree = barrier_tree(result.energies, n)
    mirror = (2**n - 1) ^ tree.minima
    position = {int(s): k for k, s in enumerate(tree.minima)}
    q = result.overlaps[tree.minima]
    keep = np.flatnonzero((q > 1e-12) | ((np.abs(q) <= 1e-12) & (tree.minima < mirror)))
    assert 2 * keep.size == tree.minima.size  # every minimum has its mirror among the minima
    share = np.array([tree.basin_share[k] + tree.basin_share[position[int(mirror[k])]] for k in keep])
    return {
        "energies": result.energies, "overlaps": result.overlaps, "tree": tree,
        "q_values": hist.q_values, "q_counts": hist.counts, "q_lowest_energy": hist.lowest_energy,
        "q_entropy": hist.entropy, "minima": tree.minima[keep],
        "minimum_energies": tree.minimum_energies[keep], "minimum_overlaps": np.abs(q[keep]),
        "basin_share": share,
    }


def surface_of(a: dict, **kwargs):
    return funnel_surface_figure(a["q_values"], a["q_lowest_energy"], a["q_entropy"],
                                 a["minimum_overlaps"], a["minimum_energies"], **kwargs)


def rings_of(fig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(radius per row, z (rows, angles)) of the surface trace, checking rows are circles."""
    surface = fig.data[0]
    x, y, z = (np.asarray(v, dtype=np.float64) for v in (surface.x, surface.y, surface.z))
    radius = np.hypot(x, y)
    assert np.allclose(radius, radius[:, :1], atol=1e-6)  # every row is one ring
    return radius[:, 0], z, np.asarray(surface.meta["abs_q"])


@pytest.mark.parametrize(("n", "bias", "seed"), [(12, 0.0, 0), (12, 3.0, 1), (11, 0.0, 2)])
def test_surface_of_revolution_carries_the_folded_profile(n, bias, seed):
    a = funnel_arrays(n, bias, seed)
    fig = surface_of(a, basin_share=a["basin_share"])
    radius, z, abs_q = rings_of(fig)
    levels = np.arange(n % 2, n + 1, 2) / n  # |Q| = k/N with k of N's parity
    assert np.allclose(abs_q, levels) and z.shape[0] == levels.size
    # radius = ln C(N, aligned) / its maximum: 1 at the rim, 0 at the native tip
    entropy = np.log([math.comb(n, (n + round(q * n)) // 2) for q in levels])
    assert np.allclose(radius, entropy / entropy.max(), atol=1e-6)
    assert radius[-1] == 0.0 and radius[0] == pytest.approx(1.0)
    # each ring's lowest point is the lowest energy over +Q and -Q, from the raw energies
    folded = np.abs(a["overlaps"])
    lowest = np.array([a["energies"][np.isclose(folded, q)].min() for q in levels])
    assert np.allclose(z.min(axis=1), lowest, atol=1e-6)
    native = np.isclose(a["overlaps"], 1.0)
    assert np.allclose(z[-1], a["energies"][native][0], atol=1e-6)  # the tip: the native state
    # rim roughness = std of the folded minima energies in the ring; flat rings without two minima
    ring_of = np.rint((a["minimum_overlaps"] - levels[0]) * n / 2).astype(int)
    for j in range(levels.size):
        e = a["minimum_energies"][ring_of == j]
        spread = e.std() if e.size > 1 else 0.0
        assert z[j].max() - z[j].min() == pytest.approx(spread, abs=1e-6)
        if e.size <= 1:
            assert np.all(z[j] == z[j, 0])
    assert np.allclose(fig.data[0].meta["roughness"], [
        a["minimum_energies"][ring_of == j].std() if np.sum(ring_of == j) > 1 else 0.0
        for j in range(levels.size)])
    # one marker per mirror pair, at its own energy and on its ring's radius
    markers = fig.data[1]
    assert len(markers.x) == len(a["tree"].minima) // 2
    assert np.allclose(markers.z, a["minimum_energies"])
    assert np.allclose(markers.customdata, a["minimum_overlaps"])
    assert np.all((np.asarray(markers.customdata) >= 0) & (np.asarray(markers.customdata) <= 1))
    assert np.allclose(np.hypot(markers.x, markers.y), radius[ring_of], atol=1e-6)
    # deterministic, and a scene with a camera like the slice surfaces
    again = surface_of(a, basin_share=a["basin_share"])
    assert np.array_equal(np.asarray(again.data[0].z), np.asarray(fig.data[0].z))
    assert np.array_equal(np.asarray(again.data[1].x), np.asarray(markers.x))
    assert fig.layout.scene.camera.eye.x is not None and fig.layout.scene.zaxis.title.text


def test_surface_folds_q_onto_its_absolute_value():
    q = np.linspace(-1.0, 1.0, 5)  # N = 4
    lowest = np.array([-0.5, -0.2, 0.1, -0.4, -0.9])  # deliberately asymmetric
    entropy = np.log([1.0, 4.0, 6.0, 4.0, 1.0])
    fig = funnel_surface_figure(q, lowest, entropy, np.array([0.5, 0.5, 0.0]),
                                np.array([-0.4, -0.1, 0.1]), title="t")
    radius, z, abs_q = rings_of(fig)
    assert abs_q.tolist() == [0.0, 0.5, 1.0]
    assert np.allclose(z.min(axis=1), [0.1, -0.4, -0.9])
    assert np.allclose(radius, [1.0, np.log(4) / np.log(6), 0.0])
    assert np.allclose(np.ptp(z, axis=1), [0.0, 0.15, 0.0])  # std of {-0.4, -0.1}
    assert fig.layout.title.text == "t"


def surface_proxy(fig) -> tuple[float, float]:
    """(depth rim -> tip, largest rim amplitude) read from the drawn surface."""
    _, z, _ = rings_of(fig)
    return float(z[0].min() - z[-1].min()), float(np.ptp(z, axis=1).max())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_funnel_is_a_deep_smooth_cone_and_a_glass_is_not(seed):
    funnel, glass = funnel_arrays(12, 3.0, seed), funnel_arrays(12, 0.0, seed)
    f_depth, f_rough = surface_proxy(surface_of(funnel))
    g_depth, g_rough = surface_proxy(surface_of(glass))
    assert f_depth > 0.6 and f_rough == pytest.approx(0.0, abs=1e-9)  # J0=3: deep, smooth
    assert g_depth < 0.0 and g_rough > 0.05  # J0=0: native point no lower than the rim, rough
    keys = ("q_values", "q_lowest_energy", "q_entropy", "minimum_overlaps", "minimum_energies")
    for arrays, depth, rough in ((funnel, f_depth, f_rough), (glass, g_depth, g_rough)):
        proxy = funnel_proxies(*(arrays[k] for k in keys))
        assert proxy["depth"] == pytest.approx(depth, abs=1e-6)
        assert proxy["roughness"] == pytest.approx(rough, abs=1e-6)
    assert funnel_proxies(*(funnel[k] for k in keys))["monotone"] == 1.0


# --- free energy and its temperature slider --------------------------------------------------


def test_free_energy_title_says_below_or_above_tf_and_two_state_or_downhill():
    a = funnel_arrays(12, 2.0, 0)
    t_f = folding_temperature(a["energies"], a["overlaps"], 12)
    assert t_f is not None and 0.3 < t_f < 1.0
    q, free = free_energy(a["energies"], a["overlaps"], 12, 0.2)
    barrier = two_state_barrier(q, free)
    assert barrier > 0.005
    text = free_energy_figure(q, free, 0.2, t_f).layout.title.text
    assert "below the folding temperature" in text and "two-state" in text
    assert f"{barrier:.4f} per spin" in text and f"= {12 * barrier / 0.2:.2f} kT" in text
    q, free = free_energy(a["energies"], a["overlaps"], 12, 1.0)
    text = free_energy_figure(q, free, 1.0, t_f).layout.title.text
    assert "above the folding temperature" in text and "downhill" in text
    text = free_energy_figure(q, free, 1.0, None, barrier=0.01).layout.title.text
    assert "no folding temperature" in text and "0.0100 per spin" in text and "= 0.12 kT" in text


def test_a_glass_is_never_called_downhill_and_its_inverted_funnel_is_explained():
    """The SK glass (J0 = 0) has no folding temperature: its F(Q; T) says so and no more (it
    said "downhill to native" too). Its funnel around the random "native" state rises to a
    spike; the title says why, measured against the rings it draws."""
    glass = {"model": "ising", "n": 12, "native_bias": 0.0, "seed": 0}
    result = views.compute(glass, {"view": "funnel"})
    a = result.arrays
    assert result.meta["folding_temperature"] is None
    for k, temperature in enumerate(a["temperatures"]):
        text = free_energy_figure(a["q_values"], a["free_energy"][k], float(temperature), None,
                                  float(a["two_state_barrier"][k]), 12).layout.title.text
        assert "no folding temperature found" in text and "downhill" not in text
    title = funnel_view_figure(result).layout.title.text.split("<br>")
    q, low = np.abs(a["q_values"]), a["q_lowest_energy"]
    rim, tip = np.nanmin(low[q == q.min()]), np.nanmin(low[q == 1.0])
    assert tip > rim  # the spike
    assert " ".join(title[1:]).startswith(
        f"inverted: the tip (|Q| = 1, the reference state) lies {tip - rim:.3f} per spin above "
        "the rim's lowest energy, so nothing funnels into it.")
    assert all(len(line) <= 80 for line in title[1:])  # wrapped to fit the panel
    ground = views.compute(glass, {"view": "funnel", "reference": "ground"})
    assert len(funnel_view_figure(ground).layout.title.text.split("<br>")) == 1
    funnel = views.compute({**glass, "native_bias": 2.0}, {"view": "funnel"})
    assert len(funnel_view_figure(funnel).layout.title.text.split("<br>")) == 1


def test_free_energy_gaps_are_nan_not_inf():
    a = funnel_arrays(10, 2.0, 0)
    q, free = free_energy(a["energies"], a["overlaps"], 10, 0.5)
    free = free.copy()
    free[[0, 4]] = np.inf  # no state there
    y = np.asarray(free_energy_figure(q, free, 0.5).data[0].y, dtype=np.float64)
    assert np.isnan(y[[0, 4]]).all() and not np.isinf(y).any()
    assert np.allclose(np.delete(y, [0, 4]), np.delete(free, [0, 4]))


def test_temperature_marks_put_tf_at_the_nearest_grid_point():
    grid = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5])
    marks = temperature_marks(grid, 1.8)
    assert marks[3] == "T_f" and list(marks.values()).count("T_f") == 1
    assert marks[0] == "0.5" and marks[10] == "5.5" and marks[5] == "3"
    assert temperature_marks(grid, 1.7)[2] == "T_f"
    assert temperature_marks(grid, 1.74)[2] == "T_f"  # nearest in T (in ln T it would be 2.0)
    assert "T_f" not in temperature_marks(grid, None).values()
    assert "T_f" not in temperature_marks(grid, 9.0).values()  # outside the grid: no mark
    a = funnel_arrays(12, 2.0, 0)
    temps = np.geomspace(0.05, 5.0, 40)
    t_f = folding_temperature(a["energies"], a["overlaps"], 12)
    marks = temperature_marks(temps, t_f)
    (k,) = [k for k, v in marks.items() if v == "T_f"]
    assert abs(temps[k] - t_f) == np.min(np.abs(temps - t_f))
    assert all(isinstance(k, int) and 0 <= k < 40 for k in marks)


# --- size sweep ------------------------------------------------------------------------------


def sweep_arrays(sizes, seeds, bias):
    share, count, barrier, t_f = (np.zeros((len(sizes), len(seeds))) for _ in range(4))
    for i, n in enumerate(sizes):
        for j, seed in enumerate(seeds):
            a = funnel_arrays(n, bias, seed)
            e = a["minimum_energies"]
            share[i, j] = a["basin_share"][e == e[0]].sum()
            count[i, j] = e.size
            tree = a["tree"]  # barrier from each minimum into the ground basin (unfolded tree)
            into_ground = saddle_matrix(tree)[:, 0] - tree.minimum_energies
            ground = tree.minimum_energies == tree.minimum_energies[0]
            barrier[i, j] = into_ground[~ground].max() if (~ground).any() else 0.0
            found = folding_temperature(a["energies"], a["overlaps"], n)
            t_f[i, j] = np.nan if found is None else found
    return np.array(sizes), share, count, barrier, t_f


def test_sweep_figure_and_rows_carry_the_seed_means():
    sizes, share, count, barrier, t_f = sweep_arrays([8, 10], [0, 1, 2], 1.5)
    t_f[0, 1] = np.nan  # a seed without a folding temperature
    fig = sweep_figure(sizes, share, count, barrier, t_f)
    means = {tr.name.split(":")[0]: tr for tr in fig.data if tr.name.endswith("mean +- std")}
    assert len(means) == 4 and len(fig.data) == 8
    for name, values in (("ground basin share", share), ("minima (mirror pairs folded)", count),
                         ("largest barrier into the ground basin", barrier),
                         ("folding temperature T_f", t_f)):
        trace = means[name]
        assert np.allclose(trace.x, sizes)
        assert np.allclose(trace.y, np.nanmean(values, axis=1), equal_nan=True)
        std, mean = np.nanstd(values, axis=1), np.nanmean(values, axis=1)
        top = 1.0 if name == "ground basin share" else np.inf
        bottom = 1.0 if name.startswith("minima") else 0.0
        assert np.allclose(trace.error_y.array, np.minimum(std, top - mean), equal_nan=True)
        assert np.allclose(trace.error_y.arrayminus, np.minimum(std, mean - bottom),
                           equal_nan=True)
    assert np.isfinite(t_f).sum(axis=1).min() >= 1 and np.isnan(t_f).any()
    rows = sweep_table_rows(sizes, share, count, barrier, t_f)
    assert [r["N"] for r in rows] == [8, 10]
    for i, row in enumerate(rows):
        assert row["ground basin share"] == pytest.approx(share[i].mean(), rel=1e-3)
        assert row["minima"] == pytest.approx(count[i].mean(), rel=1e-3)
        assert row["largest barrier / spin"] == pytest.approx(barrier[i].mean(), rel=1e-3)
        assert row["T_f"] == pytest.approx(np.nanmean(t_f[i]), rel=1e-3)
        assert row["folded"] == f"{np.isfinite(t_f[i]).sum()}/3"
        assert all(isinstance(v, int | float | str) for v in row.values())
    none = sweep_table_rows(sizes, share, count, barrier, np.full_like(t_f, np.nan))
    assert none[0]["T_f"] == "none" and none[0]["folded"] == "0/3"
    assert "T_f" not in sweep_table_rows(sizes, share, count, barrier)[0]
    assert len(sweep_figure(sizes, share, count, barrier).data) == 6


def test_sweep_error_bars_stop_at_the_ends_of_each_quantity_s_range():
    """A share of 1, 1 and 0.2 has mean 0.733 and std 0.377: the bar stopped at 1.11 above a
    share that cannot pass 1; barriers 0, 0, 0.3 (std 0.141 about 0.1) went below 0."""
    share = np.array([[1.0, 1.0, 0.2]])
    barrier = np.array([[0.0, 0.0, 0.3]])
    fig = sweep_figure(np.array([8]), share, np.array([[3, 3, 40]]), barrier)
    bars = {tr.name.split(":")[0]: tr.error_y for tr in fig.data if tr.name.endswith("std")}
    share_bar = bars["ground basin share"]
    assert share[0].mean() + share[0].std() > 1  # what the symmetric bar showed
    assert share_bar.array[0] == pytest.approx(1 - share[0].mean())
    assert share_bar.arrayminus[0] == pytest.approx(share[0].std())
    barrier_bar = bars["largest barrier into the ground basin"]
    assert barrier_bar.arrayminus[0] == pytest.approx(barrier[0].mean())  # down to 0, no lower
    assert barrier_bar.array[0] == pytest.approx(barrier[0].std())
    assert fig.layout.yaxis2.type == "log" and fig.layout.yaxis2.dtick == "D2"


# --- figures of whole results (what the panel's main graph and the HTML export show) ------------

CAMERA = {"eye": {"x": 2.0, "y": 0.1, "z": 0.5}, "up": {"x": 0, "y": 0, "z": 1}}


def test_funnel_view_figure_is_the_titled_surface_in_the_panels_camera():
    result = views.compute({"model": "ising", "n": 8, "native_bias": 1.5, "seed": 0},
                           {"view": "funnel", "temperatures": 4})
    a = result.arrays
    fig = funnel_view_figure(result, {"camera": CAMERA})
    plain = surface_of(a, basin_share=a["basin_share"])
    assert [t.type for t in fig.data] == ["surface", "scatter3d"]
    assert np.array_equal(fig.data[0].z, plain.data[0].z)
    assert np.array_equal(fig.data[1].marker.size, plain.data[1].marker.size)  # basin shares
    title = fig.layout.title.text.split("<br>")
    assert title[0] == "folding funnel: Ising spin funnel: N=8, J0=1.5, seed 0"
    assert title[1].startswith("inverted: the tip")  # this native state lies above the rim
    assert fig.layout.scene.camera.to_plotly_json() == CAMERA
    assert funnel_view_figure(result).layout.scene.camera.to_plotly_json() == DEFAULT_CAMERA


def test_sweep_view_figure_is_the_sweep_figure_titled_with_j0_and_the_seeds():
    sizes, share, count, barrier, t_f = sweep_arrays([8, 10], [0, 1, 2], 1.5)
    arrays = {"sizes": sizes, "seeds": np.arange(3), "ground_basin_share": share,
              "minima_count": count, "largest_barrier": barrier, "folding_temperature": t_f}
    result = ViewResult(arrays, {"kind": "sweep", "model": {"model": "ising", "native_bias": 1.5}})
    assert all(got is want for got, want in zip(sweep_series(arrays),
                                                (sizes, share, count, barrier, t_f), strict=True))
    fig = sweep_view_figure(result)
    assert fig.layout.title.text == "the funnel sharpens with size? J0 = 1.5, seeds 0..2"
    plain = sweep_figure(sizes, share, count, barrier, t_f)
    assert [t.name for t in fig.data] == [t.name for t in plain.data]
    assert all(np.allclose(f.y, p.y, equal_nan=True) for f, p in zip(fig.data, plain.data,
                                                                       strict=True))


def test_free_energy_view_figure_is_the_panels_f_of_q_graph():
    a = funnel_arrays(8, 1.5, 0)
    q, free = free_energy(a["energies"], a["overlaps"], 8, 0.5)
    t_f = folding_temperature(a["energies"], a["overlaps"], 8)
    barrier = two_state_barrier(q, free)
    result = ViewResult({"q_values": q, "free_energy": free},
                        {"kind": "free energy", "temperature": 0.5, "folding_temperature": t_f,
                         "two_state_barrier": barrier})
    fig = free_energy_view_figure(result)
    assert fig.to_json() == free_energy_figure(q, free, 0.5, t_f, barrier).to_json()


def test_enumeration_figure_marks_every_minimum_on_the_lowest_energy_profile():
    a = funnel_arrays(8, 1.5, 0)
    arrays = {k: a[k] for k in ("energies", "overlaps", "minima", "minimum_energies", "basin_share",
                                "q_values", "q_lowest_energy")}
    result = ViewResult(arrays, {"kind": "enumeration",
                                 "model": {"model": "ising", "n": 8, "native_bias": 1.5, "seed": 0}})
    profile, minima = enumeration_figure(result).data
    assert np.array_equal(profile.x, a["q_values"]) and np.array_equal(profile.y, a["q_lowest_energy"])
    assert np.array_equal(minima.x, a["overlaps"][a["minima"]])
    assert np.array_equal(minima.y, a["minimum_energies"])
    lowest = int(np.argmin(a["minimum_energies"]))
    assert minima.marker.color[lowest] == GROUND_COLOR
    assert set(minima.marker.color) - {GROUND_COLOR} <= {MINIMUM_COLOR}
    assert np.allclose(minima.marker.size, 5.0 + 25.0 * np.sqrt(a["basin_share"]))
