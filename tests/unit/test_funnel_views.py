"""Mirror-folded barrier trees, the funnel and size-sweep views, against independent references."""

import math
import re

import numpy as np
import pytest

from landscapes import views
from landscapes.errors import LandscapeError
from landscapes.spin.barriers import barrier_tree, fold_mirror, saddle_matrix
from landscapes.spin.enumeration import enumerate_ising, local_minima, overlaps_with, spins_from_index
from landscapes.spin.funnel import OverlapEnsemble, folding_temperature, free_energy
from landscapes.spin.funnel_views import compute_sweep, largest_barrier_into_ground
from landscapes.spin.models import IsingFunnel
from tests.unit.test_funnel import bottleneck_from, descent_by_loops, flooding_saddle

ISING = {"model": "ising", "n": 10, "native_bias": 1.0, "seed": 2}


@pytest.mark.parametrize(("n", "j0", "seed"), [(8, 0.0, 0), (10, 0.0, 1), (10, 2.0, 4)])
def test_folded_tree_is_the_tree_of_mirror_classes(n, j0, seed):
    e = enumerate_ising(IsingFunnel.create(n=n, native_bias=j0, seed=seed)).energies
    full = barrier_tree(e, n)
    folded = fold_mirror(full)
    mask = 2**n - 1
    classes = {min(int(x), mask ^ int(x)) for x in local_minima(e, n)}
    assert folded.minima.size == len(classes)
    assert {min(int(x), mask ^ int(x)) for x in folded.minima} == classes
    assert folded.merges.shape == (len(classes) - 1, 3)
    assert np.all(np.diff(folded.minimum_energies) >= 0)
    # each class's share is its two basins: by steepest descent with plain loops
    reached = np.array([descent_by_loops(e, n, x) for x in range(e.size)])
    for k, x in enumerate(folded.minima):
        members = (reached == x) | (reached == (mask ^ x))
        assert folded.basin_share[k] == pytest.approx(members.mean(), abs=1e-15)
        assert np.array_equal(folded.basin_of == k, members)
    # the folded saddle of two classes is the lowest full saddle between any of their members
    full_saddles = saddle_matrix(full)
    position = {int(x): i for i, x in enumerate(full.minima)}
    folded_saddles = saddle_matrix(folded)
    for a, xa in enumerate(folded.minima):
        for b, xb in enumerate(folded.minima):
            if a == b:
                continue
            pa = [position[int(xa)], position[mask ^ int(xa)]]
            pb = [position[int(xb)], position[mask ^ int(xb)]]
            expected = min(full_saddles[i, j] for i in pa for j in pb)
            assert folded_saddles[a, b] == expected


def test_fold_mirror_refuses_an_asymmetric_landscape():
    e = np.random.default_rng(0).standard_normal(2**6)
    with pytest.raises(ValueError, match="mirror"):
        fold_mirror(barrier_tree(e, 6))


def test_barrier_tree_without_mirror_symmetry_matches_flooding():
    """Random energies take the all-states path (no mirror half): same references."""
    n = 8
    e = np.random.default_rng(5).standard_normal(2**n)
    tree = barrier_tree(e, n)
    reached = np.array([descent_by_loops(e, n, x) for x in range(e.size)])
    assert np.array_equal(tree.minima[tree.basin_of], reached)
    assert np.array_equal(np.sort(tree.minima), local_minima(e, n))
    saddles = saddle_matrix(tree)
    for a in range(min(tree.minima.size, 6)):
        ref = bottleneck_from(e, n, int(tree.minima[a]))[tree.minima]
        np.testing.assert_array_equal(saddles[a], ref)
    a, b = tree.minima[0], tree.minima[-1]
    assert saddles[0, -1] == flooding_saddle(e, n, int(a), int(b))


@pytest.mark.parametrize("temperature", [1e-3, 0.05, 0.7, 3.0, 100.0])
def test_overlap_ensemble_matches_direct_sums(temperature):
    model = IsingFunnel.create(n=12, native_bias=2.0, seed=3)
    en = enumerate_ising(model)
    ensemble = OverlapEnsemble.of(en.energies, en.overlaps)
    n = model.n
    for k, q in enumerate(ensemble.q_values):
        x = -n * en.energies[np.isclose(en.overlaps, q)] / temperature
        direct = -temperature / n * (x.max() + np.log(np.exp(x - x.max()).sum()))
        assert ensemble.free_energy(temperature)[k] == pytest.approx(direct, rel=1e-13, abs=1e-15)


def test_funnel_view_arrays_against_direct_computation():
    result = views.compute(ISING, {"view": "funnel", "temperatures": 7})
    model = IsingFunnel.create(n=10, native_bias=1.0, seed=2)
    en = enumerate_ising(model)
    a = result.arrays
    n = model.n
    assert result.meta["kind"] == "funnel"
    assert list(a["q_counts"]) == [math.comb(n, k) for k in range(n + 1)]
    # minima: one per mirror class, listed by the member with Q >= 0, with its |Q| and energy
    assert np.all(en.overlaps[a["minima"]] >= 0)
    np.testing.assert_array_equal(a["minimum_overlaps"], en.overlaps[a["minima"]])
    np.testing.assert_array_equal(a["minimum_energies"], en.energies[a["minima"]])
    assert a["basin_share"].sum() == pytest.approx(1.0)
    assert a["merges"].shape == (a["minima"].size - 1, 3)
    # F(Q; T) rows: the library's free energy at each grid temperature; T_f on the grid
    tf = folding_temperature(en.energies, en.overlaps, n)
    assert result.meta["folding_temperature"] == pytest.approx(tf, rel=1e-9)
    assert np.any(np.isclose(a["temperatures"], tf, rtol=1e-12))
    for t, row in zip(a["temperatures"], a["free_energy"], strict=True):
        np.testing.assert_allclose(row, free_energy(en.energies, en.overlaps, n, t)[1], rtol=1e-12)
    assert np.all(a["two_state_barrier"] >= 0)


def test_funnel_view_with_the_ground_state_as_reference():
    result = views.compute({**ISING, "native_bias": 0.0}, {"view": "funnel", "reference": "ground"})
    en = enumerate_ising(IsingFunnel.create(n=10, native_bias=0.0, seed=2))
    ground = spins_from_index(en.ground, 10)
    np.testing.assert_array_equal(result.arrays["reference"], ground)
    q = overlaps_with(ground, 10)
    np.testing.assert_allclose(q, spins_from_index(np.arange(2**10), 10) @ ground / 10)
    # the ground state is the tip: overlap 1, lowest energy
    assert result.arrays["minimum_overlaps"][0] == 1.0
    assert result.arrays["q_lowest_energy"][-1] == en.energies.min()


def test_sweep_against_brute_force():
    spec = {"model": "ising", "n": 16, "native_bias": 2.0, "seed": 5}
    result = compute_sweep(spec, {"view": "sweep", "n_min": 6, "n_max": 8, "seeds": 2})
    a = result.arrays
    assert list(a["sizes"]) == [6, 7, 8] and list(a["seeds"]) == [5, 6]
    for i, n in enumerate(a["sizes"]):
        for k, seed in enumerate(a["seeds"]):
            model = IsingFunnel.create(n=int(n), native_bias=2.0, seed=int(seed))
            e = enumerate_ising(model).energies
            mask = 2**n - 1
            minima = local_minima(e, int(n))
            assert a["minima_count"][i, k] == len({min(int(x), mask ^ int(x)) for x in minima})
            ground = int(np.argmin(e))
            reached = np.array([descent_by_loops(e, int(n), x) for x in range(e.size)])
            share = np.mean((reached == ground) | (reached == (mask ^ ground)))
            assert a["ground_basin_share"][i, k] == pytest.approx(share, abs=1e-15)
            # largest barrier into the ground state: minimax path energy by Dijkstra on max
            to_ground = np.minimum(bottleneck_from(e, int(n), ground),
                                   bottleneck_from(e, int(n), mask ^ ground))
            others = [x for x in minima if e[x] > e[ground]]
            expected = max((to_ground[x] - e[x] for x in others), default=0.0)
            assert a["largest_barrier"][i, k] == pytest.approx(expected, abs=1e-12)


def test_perfect_funnel_has_no_barrier():
    tree = fold_mirror(barrier_tree(enumerate_ising(
        IsingFunnel.create(n=10, native_bias=8.0, seed=0)).energies, 10))
    assert tree.minima.size == 1 and largest_barrier_into_ground(tree) == 0.0


def test_funnel_requests():
    key = views.request_key
    assert key({**ISING, "n": 12}, {"view": "sweep"}) == key({**ISING, "n": 14}, {"view": "sweep"})
    assert key(ISING, {"view": "funnel"}) != key(ISING, {"view": "funnel", "reference": "ground"})
    with pytest.raises(LandscapeError, match="funnel views are computed for ising only; got .pspin."):
        views.compute({"model": "pspin", "n": 16}, {"view": "funnel"})
    with pytest.raises(LandscapeError, match=re.escape(
            "sweep: seeds must be a whole number in [1, 20]; got 0")):
        views.request_key(ISING, {"view": "sweep", "seeds": 0})
    with pytest.raises(LandscapeError, match=re.escape(
            "sweep: n_max must be a whole number in [2, 20]; got 24")):
        views.request_key(ISING, {"view": "sweep", "n_max": 24})
    with pytest.raises(LandscapeError,
                       match="funnel: reference must be one of native or ground; got .other."):
        views.request_key(ISING, {"view": "funnel", "reference": "other"})


def test_state_points():
    model = IsingFunnel.create(n=10, native_bias=1.0, seed=2)
    np.testing.assert_array_equal(views.resolve_point(model, "state:5"), spins_from_index(5, 10))
    with pytest.raises(LandscapeError, match=r"state:1024 does not exist for n=10 spins"):
        views.resolve_point(model, "state:1024")
    with pytest.raises(LandscapeError, match="state:I names states only for ising"):
        views.compute({"model": "pspin", "n": 16}, {"view": "path", "to": "state:3"})
    path = views.compute(ISING, {"view": "path", "from": "native", "to": "state:5", "steps": 3})
    np.testing.assert_allclose(path.points()[-1], spins_from_index(5, 10), atol=1e-12)
