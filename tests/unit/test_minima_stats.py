"""Minima statistics: spin descents against the ABC theory, and example networks from many seeds.

Energies, overlaps and the Hessian spectrum are recomputed independently here with numpy from
the returned couplings (no torch autodiff), the network losses by a plain forward pass.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from landscapes.errors import LandscapeError
from landscapes.io.npz import read_npz, write_npz
from landscapes.networks import examples
from landscapes.networks.architectures import build_network
from landscapes.networks.datasets import load_builtin
from landscapes.networks.minima import MAX_SEEDS, network_minima, normalize_network_minima_view
from landscapes.spin import theory as pspin_theory
from landscapes.spin.minima import MAX_STARTS, normalize_minima_view, spin_minima
from landscapes.spin.models import IsingFunnel, PSpinGlass

torch.set_num_threads(1)


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture(scope="module")
def glass():
    """64 descents on a pure p=3 glass with N=64 (~7 s): shared by the spin tests."""
    model = PSpinGlass.create(n=64, p=3, seed=0)
    return model, spin_minima(model, {"starts": 64})


def _pspin3_energy(couplings: np.ndarray, s: np.ndarray) -> np.ndarray:
    """H/N of states (K, N) for p=3, straight from the definition (ordered tuples)."""
    n = s.shape[1]
    return np.einsum("ijk,ai,aj,ak->a", couplings, s, s, s) * n ** (-(3 - 1) / 2) / n


def _riemannian_spectrum(couplings: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Tangent-space spectrum of hess H - (s.grad H / N) I for p=3, built by hand in numpy."""
    n = len(s)
    sym = sum(np.transpose(couplings, perm) for perm in
              [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]) / 6
    scale = n ** (-(3 - 1) / 2)
    grad = 3 * scale * np.einsum("ijk,j,k->i", sym, s, s)
    hess = 6 * scale * np.einsum("ijk,k->ij", sym, s)
    q, _ = np.linalg.qr(np.column_stack([s, np.eye(n)]))
    basis = q[:, 1:n]
    return np.linalg.eigvalsh(basis.T @ (hess - (s @ grad / n) * np.eye(n)) @ basis)


# --------------------------------------------------------------------------- p-spin


def test_energies_and_overlaps_are_those_of_the_returned_states(glass):
    model, result = glass
    a = result.arrays
    assert a["states"].shape == (64, 64) and a["energies"].shape == (64,)
    assert np.allclose((a["states"] ** 2).sum(1), 64)  # on the sphere
    assert np.allclose(_pspin3_energy(a["couplings"], a["states"]), a["energies"], atol=1e-10)
    assert np.allclose(a["states"] @ a["native"] / 64, a["overlaps"])
    assert np.array_equal(a["couplings"], model.couplings)
    lowest = result.meta["lowest_index"]
    assert np.array_equal(a["lowest_state"], a["states"][lowest])
    assert a["energies"][lowest] == a["energies"].min() == result.meta["lowest_energy"]


def test_every_converged_descent_ends_at_a_true_minimum(glass):
    _, result = glass
    a = result.arrays
    assert a["converged"].all()  # at N = 64 every descent meets the 1e-7 gradient tolerance
    assert np.all(a["min_hessian_eig"][a["converged"]] > 0)
    assert a["min_hessian_eig"][result.meta["lowest_index"]] == pytest.approx(a["spectrum"][0])


def test_theory_lines_are_the_abc_energies_for_p3(glass):
    model, result = glass
    meta = result.meta
    assert meta["kind"] == "minima" and meta["unit"] == "energy per spin"
    assert meta["threshold_energy"] == pspin_theory.threshold_energy(3)
    assert meta["ground_energy"] == pspin_theory.ground_state_energy(3)
    assert round(meta["threshold_energy"], 3) == -1.633
    assert round(meta["ground_energy"], 3) == -1.657
    assert "pure" in meta["theory_note"].lower() and "large-n" in meta["theory_note"].lower()
    circle = meta["semicircle"]
    e = meta["lowest_energy"]
    assert circle["centre"] == pytest.approx(-3 * e) and circle["energy"] == pytest.approx(e)
    assert circle["radius"] == pytest.approx(2 * np.sqrt(6))
    assert meta["model"] == model.spec and meta["view"] == {"view": "minima", "starts": 64}


def test_minima_energies_lie_in_the_band_around_the_theory(glass):
    """Finite size: at N = 64, gradient descent from random starts stops mostly a little ABOVE the
    large-N threshold (median about threshold + 0.09 here; corrections to typical minima energies
    are O(N^(-2/3)) ~ 0.06, and a finite landscape still holds many minima above the threshold),
    never far below the ground state. The lowest of 64 descents lies near the ground state."""
    _, result = glass
    e = result.arrays["energies"]
    ground, threshold = result.meta["ground_energy"], result.meta["threshold_energy"]
    assert np.all(e > ground - 0.1)
    assert np.all(e < threshold + 0.3)
    assert np.mean((e > ground - 0.1) & (e < threshold + 0.15)) >= 0.7
    assert threshold < np.median(e) < threshold + 0.15
    assert ground - 0.05 < e.min() < threshold + 0.05


def test_spectrum_at_the_lowest_minimum_follows_the_semicircle(glass):
    model, result = glass
    spectrum, circle = result.arrays["spectrum"], result.meta["semicircle"]
    assert spectrum.shape == (63,)
    assert np.all(np.diff(spectrum) >= 0) and np.all(spectrum > 0)
    by_hand = _riemannian_spectrum(model.couplings, result.arrays["lowest_state"])
    assert np.allclose(spectrum, by_hand, atol=1e-9)
    # mean: -p e plus the trace of a GOE part with std sqrt(2 p (p-1)) / N ~ 0.05 at N = 64
    assert spectrum.mean() == pytest.approx(circle["centre"], abs=0.25)
    # variance p (p-1) = 6 at large N (finite-N and edge effects: within 20 %)
    assert spectrum.var() == pytest.approx(6.0, rel=0.2)
    assert spectrum.max() < circle["centre"] + circle["radius"] + 1.0


def test_semicircle_centre_of_a_planted_model_is_the_radial_shift():
    model = PSpinGlass.create(n=16, p=3, planted=1.0, seed=2)
    result = spin_minima(model, {"starts": 4})
    s = torch.tensor(result.arrays["lowest_state"], requires_grad=True)
    h = model.hamiltonian(s[None])[0]
    (grad,) = torch.autograd.grad(h, s)
    radial = float(s.detach() @ grad) / 16
    circle = result.meta["semicircle"]
    assert circle["centre"] == pytest.approx(-radial, abs=1e-9)
    assert circle["centre"] == pytest.approx(-3 * circle["energy"])
    assert abs(circle["centre"] + 3 * result.meta["lowest_energy"]) > 0.1  # not -p e here
    # the ABC lines stay those of the pure glass at this p
    assert result.meta["threshold_energy"] == pspin_theory.threshold_energy(3)


def test_theory_follows_p():
    result = spin_minima(PSpinGlass.create(n=12, p=4, seed=0), {"starts": 2})
    assert result.meta["threshold_energy"] == pytest.approx(-2 * np.sqrt(3 / 4))
    assert result.meta["ground_energy"] == pspin_theory.ground_state_energy(4)
    assert result.meta["ground_energy"] < result.meta["threshold_energy"]
    assert result.arrays["spectrum"].shape == (11,)


def test_same_request_gives_the_same_numbers_and_progress_is_reported():
    model = PSpinGlass.create(n=16, p=3, seed=1)
    calls = []
    first = spin_minima(model, {"starts": 20}, progress=lambda d, t: calls.append((d, t)))
    second = spin_minima(model, {"starts": 20})
    assert first.arrays.keys() == second.arrays.keys()
    for key, value in first.arrays.items():
        assert np.array_equal(value, second.arrays[key]), key
    assert first.meta == second.meta
    assert calls[0] == (0, 20) and calls[-1] == (20, 20)
    assert all(t == 20 and 0 <= d <= 20 for d, t in calls)


def test_raising_from_progress_cancels():
    def stop(done, total):
        if done > 0:
            raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        spin_minima(PSpinGlass.create(n=16, p=3, seed=1), {"starts": 40}, progress=stop)


def test_ising_minima_are_single_flip_stable_and_carry_no_theory():
    model = IsingFunnel.create(n=12, native_bias=1.0, seed=3)
    result = spin_minima(model, {"starts": 16})
    a = result.arrays
    s, k = a["states"], a["couplings"]
    assert np.array_equal(np.abs(s), np.ones_like(s))
    assert np.allclose(a["energies"], -0.5 * np.einsum("ai,ij,aj->a", s, k, s) / 12)
    assert np.all(s * (s @ k) >= -1e-12)  # every spin aligned with its local field
    assert "spectrum" not in a and np.all(np.isnan(a["min_hessian_eig"]))
    assert result.meta["threshold_energy"] is None and result.meta["semicircle"] is None


def test_bad_minima_views_are_refused_with_clear_messages():
    assert normalize_minima_view({}) == {"view": "minima", "starts": 64}
    assert normalize_minima_view({"view": "minima", "starts": "8"})["starts"] == 8
    cases = {
        0: f"minima: starts must be a whole number in [1, {MAX_STARTS}]; got 0",
        513: "minima: starts must be a whole number in [1, 512]; got 513",
        2.5: "minima: starts must be a whole number in [1, 512]; got 2.5",
        "many": "minima: starts must be a whole number in [1, 512]; got 'many'",
    }
    for starts, message in cases.items():
        with pytest.raises(LandscapeError, match=exactly(message)):
            normalize_minima_view({"starts": starts})
    with pytest.raises(LandscapeError, match=exactly("minima: unknown setting(s) seeds")):
        normalize_minima_view({"seeds": 3})
    with pytest.raises(LandscapeError, match=exactly("unknown view 'slice'; choose minima")):
        normalize_minima_view({"view": "slice"})
    with pytest.raises(LandscapeError, match=exactly(cases[0])):
        spin_minima(PSpinGlass.create(n=8, p=3), {"starts": 0})


# --------------------------------------------------------------------------- networks


@pytest.fixture(scope="module")
def moons_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("examples")


@pytest.fixture(scope="module")
def moons(moons_cache):
    """moons-mlp trained from seeds 0, 1, 2 (about 1 s per seed)."""
    return network_minima("moons-mlp", 3, moons_cache)


def _flat_final(ex) -> np.ndarray:
    net = build_network(ex.arch)
    return np.concatenate([ex.final[name].double().reshape(-1).numpy()
                           for name, _ in net.named_parameters()])


def test_seeds_reach_different_minima_of_low_loss(moons, moons_cache):
    a, meta = moons.arrays, moons.meta
    assert a["seeds"].tolist() == [0, 1, 2]
    assert np.all(a["train_loss"] < 0.01) and np.all(a["train_accuracy"] > 0.99)
    assert np.all(a["test_accuracy"] > 0.95) and not a["diverged"].any()
    d = a["distances"]
    assert d.shape == (3, 3) and np.allclose(d, d.T) and np.all(np.diag(d) == 0)
    assert np.all(d[~np.eye(3, dtype=bool)] > 1.0)  # different seeds, different parameters
    flats = [_flat_final(examples.load("moons-mlp", moons_cache, k)) for k in range(3)]
    for i in range(3):
        assert np.allclose(a["parameters"][i], flats[i])
        for j in range(3):
            assert d[i, j] == pytest.approx(np.linalg.norm(flats[i] - flats[j]), rel=1e-9)
    assert meta["kind"] == "minima" and meta["data"] == "moons" and meta["loss"] == "cross_entropy"
    assert meta["training"]["optimizer"] == "sgd" and meta["training"]["steps"] == 300
    assert meta["model"] == {"model": "network", "example": "moons-mlp"}


def test_losses_match_a_plain_forward_pass(moons, moons_cache):
    data = load_builtin("moons")
    for seed in range(3):
        ex = examples.load("moons-mlp", moons_cache, seed)
        net = build_network(ex.arch)
        net.load_state_dict(ex.final)
        with torch.no_grad():
            for split, x, y in (("train", data.x_train, data.y_train),
                                ("test", data.x_test, data.y_test)):
                out = net(torch.as_tensor(x))
                loss = float(torch.nn.functional.cross_entropy(out, torch.as_tensor(y)))
                accuracy = float((out.argmax(1).numpy() == y).mean())
                assert moons.arrays[f"{split}_loss"][seed] == pytest.approx(loss, rel=1e-5)
                assert moons.arrays[f"{split}_accuracy"][seed] == pytest.approx(accuracy)


def test_seeds_are_cached_and_a_second_call_gives_the_same_numbers(moons, moons_cache):
    names = sorted(p.name for p in moons_cache.iterdir())
    v = examples.VERSION
    assert names == ["dataset-moons.npz", f"moons-mlp-seed1-v{v}.safetensors",
                     f"moons-mlp-seed2-v{v}.safetensors", f"moons-mlp-v{v}.safetensors"]
    again = network_minima("moons-mlp", 3, moons_cache)
    for key, value in moons.arrays.items():
        assert np.array_equal(value, again.arrays[key]), key
    # seed 0 is the shipped example itself
    shipped = examples.load("moons-mlp", moons_cache)
    assert np.allclose(moons.arrays["parameters"][0], _flat_final(shipped))


def test_seeded_training_leaves_torch_random_state_alone_and_seeds_differ():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    one = examples.train("exploding-mlp", seed=1)
    assert torch.equal(torch.rand(3), expected)
    zero = examples.train("exploding-mlp")
    assert one.seed == 1 and zero.seed == 0
    assert not torch.equal(one.init["0.weight"], zero.init["0.weight"])
    assert torch.equal(examples.train("exploding-mlp", seed=0).init["0.weight"],
                       zero.init["0.weight"])


def test_cnn_minima_save_each_seed_s_batchnorm_statistics(tmp_path):
    """Seed 1's losses recomputed from the file's arrays alone: its parameters row and its own
    running statistics (the shipped seed 0's statistics give another loss)."""
    result = network_minima("digits-cnn", 2, tmp_path)
    arrays, meta = read_npz(write_npz(tmp_path / "minima.npz", result.arrays, result.meta))
    stats = {k.removeprefix("buffer."): v for k, v in arrays.items() if k.startswith("buffer.")}
    net = build_network(meta["architecture"])
    assert stats.keys() == dict(net.named_buffers()).keys()
    assert all(v.shape[0] == 2 for v in stats.values())
    data = load_builtin("digits")
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)

    def loss_with(statistics_of: int) -> float:
        torch.nn.utils.vector_to_parameters(torch.as_tensor(arrays["parameters"][1]),
                                            net.parameters())
        for name, buffer in net.named_buffers():
            buffer.copy_(torch.as_tensor(stats[name][statistics_of]))
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(net.eval()(x), y))

    assert arrays["train_loss"][1] == pytest.approx(loss_with(1), rel=1e-5)
    assert abs(loss_with(0) - arrays["train_loss"][1]) > 1e-3


def test_regression_minima_have_no_accuracy(tmp_path):
    result = network_minima("multiply-gate", 1, tmp_path)
    a = result.arrays
    assert np.isnan(a["train_accuracy"]).all() and np.isnan(a["test_accuracy"]).all()
    assert a["train_loss"][0] < 0.01 and a["distances"].shape == (1, 1)
    assert result.meta["loss_unit"] == "mean squared error"


def test_bad_network_requests_are_refused_with_clear_messages(tmp_path):
    known = ", ".join(examples.RECIPES)
    with pytest.raises(LandscapeError, match=exactly(f"unknown example 'nope'; choose one of {known}")):
        network_minima("nope", 2, tmp_path)
    for seeds in (0, 100, MAX_SEEDS + 1):
        message = f"network minima: seeds must be a whole number in [1, 16]; got {seeds}"
        with pytest.raises(LandscapeError, match=exactly(message)):
            network_minima("moons-mlp", seeds, tmp_path)
        with pytest.raises(LandscapeError, match=exactly(message)):
            normalize_network_minima_view({"seeds": seeds})
    with pytest.raises(LandscapeError, match=exactly("network minima: seeds must be a whole number "
                                                     "in [1, 16]; got 2.5")):
        network_minima("moons-mlp", 2.5, tmp_path)
    assert normalize_network_minima_view({}) == {"view": "minima", "seeds": 8}
    assert not any(tmp_path.iterdir())  # nothing was trained
