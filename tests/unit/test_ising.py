"""Ising spin funnel: energies, enumeration, local minima and descents against brute force."""

import numpy as np
import pytest
import torch

from landscapes.errors import LandscapeError
from landscapes.spin.descent import flip_descent, seeded_starts
from landscapes.spin.enumeration import (
    enumerate_ising,
    index_from_spins,
    local_minima,
    spins_from_index,
)
from landscapes.spin.models import IsingFunnel
from tests.unit.reference import all_states, ising_energy_loops


@pytest.fixture(params=[(10, 0.0, 1), (11, 1.5, 2), (9, 4.0, 3)], ids=["sk", "mid", "funnel"])
def model(request) -> IsingFunnel:
    n, bias, seed = request.param
    return IsingFunnel.create(n=n, native_bias=bias, seed=seed)


def test_couplings_follow_the_definition():
    m = IsingFunnel.create(n=24, native_bias=2.0, seed=5)
    glass = m.couplings - 2.0 / 24 * np.outer(m.native, m.native)
    np.fill_diagonal(glass, 0.0)
    assert np.allclose(m.couplings, m.couplings.T) and np.all(np.diag(m.couplings) == 0)
    upper = glass[np.triu_indices(24, 1)]
    # J_ij ~ N(0, 1/N): 276 samples, variance within ~4 standard errors
    assert abs(upper.var() * 24 - 1) < 0.35 and abs(upper.mean()) < 0.1
    assert set(np.unique(m.native)) <= {-1.0, 1.0}


def test_index_convention():
    s = spins_from_index(np.array([0, 1, 6]), 3)
    assert s.tolist() == [[-1, -1, -1], [1, -1, -1], [-1, 1, 1]]
    idx = np.arange(2**7)
    assert np.array_equal(index_from_spins(spins_from_index(idx, 7)), idx)


def test_enumeration_matches_brute_force(model):
    result = enumerate_ising(model)
    states = all_states(model.n)
    direct = np.array([ising_energy_loops(model.couplings, s) for s in states])
    assert np.allclose(result.energies, direct, atol=1e-12)
    assert np.allclose(result.overlaps, states @ model.native / model.n)
    assert result.energies[result.ground] == pytest.approx(direct.min(), abs=1e-12)
    assert result.overlaps[result.ground] >= 0


def test_spin_flip_symmetry(model):
    energies = enumerate_ising(model).energies
    mirror = (2**model.n - 1) ^ np.arange(2**model.n)  # flips every spin
    assert np.allclose(energies, energies[mirror], atol=1e-12)


def test_minima_are_states_aligned_with_their_local_field(model):
    states = all_states(model.n)
    fields = states @ model.couplings
    aligned = np.all(states * fields >= -1e-12, axis=1)
    assert np.array_equal(enumerate_ising(model).minima, np.flatnonzero(aligned))


def test_local_minima_of_a_handmade_landscape():
    # 2 spins: energies of states 00, 01, 10, 11; state 1 (bits 01) and state 2 are minima
    energies = np.array([0.0, -1.0, -0.5, 0.2])
    assert local_minima(energies, 2).tolist() == [1, 2]


def test_strong_native_bias_makes_the_native_state_the_ground_state():
    m = IsingFunnel.create(n=14, native_bias=6.0, seed=11)
    result = enumerate_ising(m)
    assert np.array_equal(spins_from_index(result.ground, 14), m.native)
    assert result.overlaps[result.ground] == 1.0
    # the funnel has few minima; the glass at the same size has more
    glass = enumerate_ising(IsingFunnel.create(n=14, native_bias=0.0, seed=11))
    assert len(result.minima) < len(glass.minima)


def test_flip_descent_ends_in_an_enumerated_minimum(model):
    starts = seeded_starts(model, range(12))
    result = flip_descent(model, starts)
    minima = set(enumerate_ising(model).minima.tolist())
    assert set(index_from_spins(result.states).tolist()) <= minima
    start_e = np.array([ising_energy_loops(model.couplings, s) for s in starts])
    assert np.all(result.energies <= start_e + 1e-12)
    assert np.allclose(result.energies, [ising_energy_loops(model.couplings, s) for s in result.states])
    assert np.allclose(result.overlaps, result.states @ model.native / model.n)


def test_hamiltonian_is_the_quadratic_form_on_the_sphere():
    m = IsingFunnel.create(n=12, native_bias=1.0, seed=0)
    s = np.random.default_rng(0).standard_normal((5, 12))
    expected = [-0.5 * x @ m.couplings @ x / 12 for x in s]
    assert np.allclose(m.energy(torch.as_tensor(s)).numpy(), expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 1}, "between 2 and 24"), ({"n": 30}, "between 2 and 24"),
     ({"native_bias": -1.0}, "native_bias")],
)
def test_bad_parameters_are_refused(kwargs, message):
    with pytest.raises(LandscapeError, match=message):
        IsingFunnel.create(**kwargs)


def test_enumeration_refuses_more_than_twenty_spins():
    with pytest.raises(LandscapeError, match="n <= 20"):
        enumerate_ising(IsingFunnel.create(n=21))
