"""Barrier trees, funnel profiles and p-spin theory against independent computations."""

import heapq
import itertools
import math

import numpy as np
import pytest
import torch

from landscapes.sphere import riemannian_hessian_eigenvalues
from landscapes.spin import barriers
from landscapes.spin.barriers import barrier_tree, escape_barriers, saddle_matrix
from landscapes.spin.descent import seeded_starts, sphere_descent
from landscapes.spin.enumeration import enumerate_ising, local_minima
from landscapes.spin.funnel import (
    folding_free_energy_gap,
    folding_temperature,
    free_energy,
    funnel_histogram,
    two_state_barrier,
)
from landscapes.spin.models import IsingFunnel, PSpinGlass
from landscapes.spin.theory import (
    complexity,
    ground_state_energy,
    semicircle_density,
    threshold_energy,
)
from landscapes.spin.tree import SMALL_TREE_SPINS, small_barrier_tree

# ---------------------------------------------------------------- independent references


def descent_by_loops(energies: np.ndarray, n: int, start: int) -> int:
    """Steepest single-flip descent from ``start``: lowest neighbour while strictly lower."""
    x = start
    while True:
        best, best_e = x, energies[x]
        for i in range(n):
            y = x ^ (1 << i)
            if energies[y] < best_e:
                best, best_e = y, energies[y]
        if best == x:
            return x
        x = best


def bottleneck_from(energies: np.ndarray, n: int, source: int) -> np.ndarray:
    """Minimax path energy from ``source`` to every state (Dijkstra on max instead of sum)."""
    out = np.full(energies.size, np.inf)
    out[source] = energies[source]
    heap = [(energies[source], source)]
    while heap:
        level, x = heapq.heappop(heap)
        if level > out[x]:
            continue
        for i in range(n):
            y = x ^ (1 << i)
            cand = max(level, energies[y])
            if cand < out[y]:
                out[y] = cand
                heapq.heappush(heap, (cand, y))
    return out


def flooding_saddle(energies: np.ndarray, n: int, a: int, b: int) -> float:
    """Lowest threshold t at which a and b are connected in {E <= t}: BFS per candidate level."""
    levels = np.unique(energies[energies >= max(energies[a], energies[b])])
    lo, hi = 0, levels.size - 1  # binary search over the sorted levels
    while lo < hi:
        mid = (lo + hi) // 2
        allowed = energies <= levels[mid]
        seen, frontier = {a}, [a]
        while frontier:
            x = frontier.pop()
            for i in range(n):
                y = x ^ (1 << i)
                if allowed[y] and y not in seen:
                    seen.add(y)
                    frontier.append(y)
        if b in seen:
            hi = mid
        else:
            lo = mid + 1
    return float(levels[lo])


CASES = [(n, j0, seed) for n, j0, seed in itertools.product([8, 10], [0.0, 2.0], [0, 1, 2])]

# ---------------------------------------------------------------- barrier trees


@pytest.mark.parametrize(("n", "j0", "seed"), CASES)
def test_barrier_tree_matches_flooding(n, j0, seed):
    e = enumerate_ising(IsingFunnel.create(n=n, native_bias=j0, seed=seed)).energies
    tree = barrier_tree(e, n)
    m = tree.minima.size
    assert np.array_equal(np.sort(tree.minima), local_minima(e, n))
    assert np.all(np.diff(tree.minimum_energies) >= 0)
    assert tree.ground == tree.minima[0] and e[tree.ground] == e.min()
    # basins: steepest descent by plain loops, every state in exactly one listed minimum
    reached = np.array([descent_by_loops(e, n, x) for x in range(e.size)])
    assert np.array_equal(tree.minima[tree.basin_of], reached)
    assert tree.basin_share.sum() == pytest.approx(1.0)
    assert np.array_equal(np.bincount(tree.basin_of, minlength=m), tree.basin_share * e.size)
    # merges: M - 1 of them, ascending, each between the lowest minima of its two components
    assert tree.merges.shape == (m - 1, 3)
    assert np.all(np.diff(tree.merges[:, 0]) >= 0)
    saddles = saddle_matrix(tree)
    for a in range(m):
        ref = bottleneck_from(e, n, int(tree.minima[a]))[tree.minima]
        np.testing.assert_allclose(saddles[a], ref, rtol=0, atol=1e-12)
    # a second, threshold-flooding reference on a few pairs
    for a, b in list(itertools.combinations(range(m), 2))[:4]:
        expected = flooding_saddle(e, n, int(tree.minima[a]), int(tree.minima[b]))
        assert saddles[a, b] == pytest.approx(expected, abs=1e-12)
    barriers = escape_barriers(tree)
    assert np.isinf(barriers[0]) and np.all(barriers[1:] >= 0)


def test_barrier_tree_mirror_pairs():
    n = 10
    e = enumerate_ising(IsingFunnel.create(n=n, native_bias=1.0, seed=3)).energies
    tree = barrier_tree(e, n)
    mirror = (2**n - 1) ^ tree.minima
    assert set(mirror.tolist()) == set(tree.minima.tolist())
    pos = {int(x): k for k, x in enumerate(tree.minima)}
    for k, x in enumerate(tree.minima):
        assert tree.basin_share[pos[int((2**n - 1) ^ x)]] == tree.basin_share[k]


def test_native_bias_widens_the_ground_basin():
    n = 12
    shares = []
    for j0 in (0.0, 6.0):
        e = enumerate_ising(IsingFunnel.create(n=n, native_bias=j0, seed=0)).energies
        shares.append(barrier_tree(e, n).basin_share[0])
    assert shares[1] > shares[0]


def test_sorted_edge_path_matches_dense_table(monkeypatch):
    n = 12
    e = enumerate_ising(IsingFunnel.create(n=n, native_bias=0.0, seed=3)).energies
    dense = barrier_tree(e, n)
    monkeypatch.setattr(barriers, "DENSE_PAIR_LIMIT", 0)
    sparse = barrier_tree(e, n)
    np.testing.assert_array_equal(dense.merges, sparse.merges)
    assert dense.merges.shape[0] == dense.minima.size - 1 >= 19


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("block", [1, 8, 64, 1024])
def test_barrier_tree_is_the_same_in_any_number_of_threads(monkeypatch, symmetric, block):
    # chunks as small as one block of the compiled passes (whose low, within-block and
    # partner-block bits then differ): boundaries fall inside every bit's runs of 2 * 2^i states
    n = 11
    e = enumerate_ising(IsingFunnel.create(n=n, native_bias=0.5, seed=4)).energies
    if not symmetric:  # a field term breaks E(s) = E(-s): every state is visited
        e = e + 0.01 * np.random.default_rng(0).standard_normal(e.size)
    one = barrier_tree(e, n, threads=1)  # in one block of 1024 states (the default)
    monkeypatch.setattr(barriers, "MIN_CHUNK", 1)
    monkeypatch.setattr(barriers, "BLOCK", block)
    for threads in (1, 2, 3, 7):
        many = barrier_tree(e, n, threads=threads)
        assert np.array_equal(many.minima, one.minima)
        assert np.array_equal(many.basin_of, one.basin_of)
        assert np.array_equal(many.merges, one.merges)
        assert np.array_equal(barriers.descent_targets(e, n, threads),
                              barriers.descent_targets(e, n, 1))
    assert len(one.minima) > 3 and len(one.merges) == len(one.minima) - 1


@pytest.mark.parametrize("block", [1, 4, 8, 32, 256])
@pytest.mark.parametrize("symmetric", [True, False])
def test_barrier_tree_with_ties_in_any_block_size(monkeypatch, block, symmetric):
    """Energies from 3 levels: many equal neighbours, so the lowest-bit tie rule decides most
    descents; against plain loops (targets, basins) and minimax paths (saddles)."""
    n = 8
    levels = np.random.default_rng(block).integers(0, 3, 2**n).astype(np.float64)
    e = levels + levels[::-1] if symmetric else levels  # state ~s is at index 2^n - 1 - s
    monkeypatch.setattr(barriers, "BLOCK", block)
    targets = barriers.descent_targets(e, n)
    for x in range(e.size):
        lower = [x ^ (1 << i) for i in range(n) if e[x ^ (1 << i)] < e[x]]
        lowest = min(lower, key=lambda y: (e[y], (x ^ y).bit_length()), default=x)
        assert targets[x] == lowest
    tree = barrier_tree(e, n)
    assert (tree.mirror is not None) == symmetric
    assert np.array_equal(np.sort(tree.minima), local_minima(e, n))
    reached = np.array([descent_by_loops(e, n, x) for x in range(e.size)])
    assert np.array_equal(tree.minima[tree.basin_of], reached)
    saddles = saddle_matrix(tree)
    for a in range(0, tree.minima.size, 7):
        ref = bottleneck_from(e, n, int(tree.minima[a]))[tree.minima]
        np.testing.assert_array_equal(saddles[a], ref)


@pytest.mark.parametrize("kind", ["ising", "ties", "mirror ties", "normal"])
def test_the_numpy_tree_of_a_small_landscape_is_the_compiled_one(kind):
    """small_barrier_tree (numpy, what the views use up to SMALL_TREE_SPINS spins in a process
    without numba: the command line) and the compiled passes give the same minima, basins,
    shares and merges, ties included."""
    rng = np.random.default_rng(len(kind))
    for n in (0, 1, 2, 5, 9, 12):
        if kind == "ising":
            e = enumerate_ising(IsingFunnel.create(max(n, 2), float(rng.uniform(0, 3)), n)).energies
            n = max(n, 2)
        elif kind == "normal":
            e = rng.normal(size=2**n)
        else:
            levels = rng.integers(0, 3, 2**n).astype(np.float64)
            e = levels + levels[::-1] if kind == "mirror ties" else levels
        small, compiled = small_barrier_tree(e, n), barrier_tree(e, n)
        for name in ("minima", "minimum_energies", "basin_share", "merges", "basin_of"):
            np.testing.assert_array_equal(getattr(small, name), getattr(compiled, name), name)
        assert small.ground == compiled.ground
    n = SMALL_TREE_SPINS  # the largest: the enumeration of landscapes enumerate ising --n 16
    e = enumerate_ising(IsingFunnel.create(n, 1.0, 3)).energies
    small, compiled = small_barrier_tree(e, n), barrier_tree(e, n)
    assert np.array_equal(small.merges, compiled.merges)
    assert np.array_equal(small.basin_of, compiled.basin_of)


@pytest.mark.parametrize("symmetric", [True, False])
def test_edges_above_the_saddle_guess_are_weighed_only_when_needed(monkeypatch, symmetric):
    n = 12
    e = enumerate_ising(IsingFunnel.create(n=n, native_bias=1.0, seed=2)).energies
    if not symmetric:
        e = e + 0.01 * np.random.default_rng(1).standard_normal(e.size)
    ceilings = []
    weigh = barriers._basin_edges
    monkeypatch.setattr(barriers, "_basin_edges",
                        lambda *args: ceilings.append(args[6] if len(args) > 6 else np.inf)
                        or weigh(*args))
    monkeypatch.setattr(barriers, "SADDLE_QUANTILE", 1.0)  # every edge, in one pass
    full = barrier_tree(e, n)
    assert ceilings == [e.max()]
    highest_saddle = full.merges[-1, 0]
    assert len(full.merges) == len(full.minima) - 1 >= 5
    for quantile in (0.15, 0.0):
        ceilings.clear()
        monkeypatch.setattr(barriers, "SADDLE_QUANTILE", quantile)
        tree = barrier_tree(e, n)
        np.testing.assert_array_equal(tree.merges, full.merges)
        if quantile:  # the guess lies above the highest saddle: one pass, fewer edges
            assert ceilings == [pytest.approx(np.quantile(e, quantile))]
            assert highest_saddle <= ceilings[0] < e.max()
        else:  # the guess lies below a saddle: a second pass over every edge
            assert ceilings == [e.min(), np.inf] and e.min() < highest_saddle


def test_barrier_tree_handles_ties():
    """A flat landscape: every state is a minimum, all joined at zero height."""
    n = 4
    e = np.zeros(2**n)
    tree = barrier_tree(e, n)
    assert tree.minima.size == 2**n and tree.merges.shape == (2**n - 1, 3)
    assert np.array_equal(tree.minima[tree.basin_of], np.arange(2**n))
    assert np.all(tree.merges[:, 0] == 0)


# ---------------------------------------------------------------- funnel profiles


@pytest.fixture(scope="module")
def funnel10():
    model = IsingFunnel.create(n=10, native_bias=3.0, seed=1)
    en = enumerate_ising(model)
    return model.n, en.energies, en.overlaps


def test_funnel_histogram_against_loops(funnel10):
    n, e, q = funnel10
    h = funnel_histogram(e, q)
    np.testing.assert_allclose(h.q_values, [-1 + 2 * k / n for k in range(n + 1)])
    for k, qv in enumerate(h.q_values):
        sel = np.isclose(q, qv)
        assert h.counts[k] == sel.sum() == math.comb(n, k)
        assert h.lowest_energy[k] == e[sel].min()
        assert h.entropy[k] == pytest.approx(np.log(sel.sum()))
    assert h.density.sum() == e.size
    np.testing.assert_array_equal(h.density.sum(1), h.counts)
    edges = funnel_histogram(e, q, q_bins=np.array([-1.0, 0.0, 1.0]))
    assert edges.counts.sum() == e.size


def test_free_energy_against_direct_sums(funnel10):
    n, e, q = funnel10
    t = 1.0
    qv, f = free_energy(e, q, n, t)
    for k, x in enumerate(qv):
        sel = np.isclose(q, x)
        direct = -t / n * np.log(np.sum(np.exp(-n * e[sel] / t)))
        assert f[k] == pytest.approx(direct, rel=1e-12, abs=1e-12)


def test_free_energy_zero_temperature_limit(funnel10):
    n, e, q = funnel10
    t = 1e-3
    qv, f = free_energy(e, q, n, t)
    h = funnel_histogram(e, q)
    # e_min - (T/N) ln count <= F <= e_min (exact bounds; here (T/N) ln count <= 5.5e-4)
    assert np.all(f <= h.lowest_energy + 1e-15)
    assert np.all(f >= h.lowest_energy - t / n * np.log(h.counts) - 1e-15)
    # far lower T: no overflow with log-sum-exp
    _, f_cold = free_energy(e, q, n, 1e-8)
    np.testing.assert_allclose(f_cold, h.lowest_energy, atol=1e-8)


def test_folding_temperature_and_two_state_barrier(funnel10):
    n, e, q = funnel10
    tf = folding_temperature(e, q, n)
    assert tf is not None and 0 < tf < 100
    assert abs(folding_free_energy_gap(e, q, n, tf)) < 1e-8
    assert folding_free_energy_gap(e, q, n, tf * 0.9) < 0 < folding_free_energy_gap(e, q, n, tf * 1.1)
    # independent: direct Boltzmann sums at T_f
    a = np.abs(q)
    w = np.exp(-n * (e - e.min()) / tf)
    assert w[a >= 0.8 - 1e-12].sum() == pytest.approx(w[a < 0.5 - 1e-12].sum(), rel=1e-6)
    # no crossing when native states are the highest: E = +Q^2
    assert folding_temperature(q**2, q, n) is None
    qv, f = free_energy(e, q, n, tf)
    assert two_state_barrier(qv, f) >= 0


def test_two_state_barrier_on_profiles():
    q = np.linspace(-1, 1, 11)
    assert two_state_barrier(q, -np.abs(q)) == 0.0  # monotone downhill to the native state
    f = np.cos(np.pi * np.abs(q)) * 0.1 + 0.2 * np.abs(q)  # wells at 0 and 1, hump between
    fold = {round(abs(x), 6): y for x, y in zip(q, f, strict=True)}
    expected = max(fold.values()) - max(fold[0.0], min(fold[0.8], fold[1.0]))
    assert two_state_barrier(q, f) == pytest.approx(expected)


# ---------------------------------------------------------------- p-spin theory


def test_threshold_and_ground_state_energies():
    assert threshold_energy(3) == pytest.approx(-1.633, abs=5e-4)
    assert ground_state_energy(3) == pytest.approx(-1.657, abs=5e-4)
    for p in (3, 4):
        assert ground_state_energy(p) < threshold_energy(p)
        assert complexity(ground_state_energy(p), p) == pytest.approx(0.0, abs=1e-10)
        assert complexity(threshold_energy(p), p) > 0
    # p = 2 degenerate: ground = threshold = -sqrt(2) = lowest eigenvalue of sym(J)/sqrt(N)
    assert ground_state_energy(2) == threshold_energy(2) == pytest.approx(-np.sqrt(2))
    n = 400
    j = np.random.default_rng(0).standard_normal((n, n))
    lowest = np.linalg.eigvalsh((j + j.T) / 2 / np.sqrt(n))[0]
    assert lowest == pytest.approx(-np.sqrt(2), abs=0.05)


def test_semicircle_density_is_normalised():
    x = np.linspace(-20, 20, 200001)
    rho = semicircle_density(x, 3, -1.6)
    assert np.trapezoid(rho, x) == pytest.approx(1.0, abs=1e-6)
    assert np.trapezoid(x * rho, x) == pytest.approx(3 * 1.6, abs=1e-6)
    assert np.trapezoid((x - 4.8) ** 2 * rho, x) == pytest.approx(6.0, abs=1e-4)


def test_semicircle_matches_hessian_at_a_descent_minimum():
    p, n = 3, 100
    model = PSpinGlass.create(n=n, p=p, seed=0)
    d = sphere_descent(model, seeded_starts(model, range(1)), tol=1e-6)
    energy = float(d.energies[0])
    eig = riemannian_hessian_eigenvalues(model.hamiltonian, torch.as_tensor(d.states[0])).numpy()
    assert eig.size == n - 1 and eig[0] > 0
    # mean -p e and variance p(p-1) (finite-N: loose)
    assert eig.mean() == pytest.approx(-p * energy, abs=0.3)
    assert eig.var() == pytest.approx(p * (p - 1), rel=0.15)
    # empirical CDF against the semicircle CDF
    x = np.linspace(eig.min() - 2, eig.max() + 2, 4001)
    rho = semicircle_density(x, p, energy)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(x))])
    empirical = np.searchsorted(np.sort(eig), x, side="right") / eig.size
    assert np.max(np.abs(cdf - empirical)) < 0.15
