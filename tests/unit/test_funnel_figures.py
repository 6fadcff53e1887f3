"""Funnel figure builders without a browser: the barrier-tree layout, funnel and F(Q) figures."""

import numpy as np
import pytest

from app.funnel_figures import (
    disconnectivity_figure,
    free_energy_figure,
    funnel_diagram,
    tree_layout,
)
from landscapes.barriers import barrier_tree
from landscapes.enumeration import enumerate_ising
from landscapes.funnel import free_energy, funnel_histogram
from landscapes.models import IsingFunnel


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
