"""Minima figure builders without a browser: theory lines, the semicircle, the seeds' losses."""

import json

import numpy as np
import pytest
import torch

from landscapes.plots.minima import (
    hessian_spectrum_figure,
    minima_figure,
    minima_histogram,
    network_minima_figure,
    semicircle_curve,
)
from landscapes.plots.slices import magnitude_axis
from landscapes.results import ViewResult
from landscapes.spin import theory as pspin_theory
from landscapes.spin.minima import spin_minima
from landscapes.spin.models import IsingFunnel, PSpinGlass

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def glass() -> ViewResult:
    return spin_minima(PSpinGlass.create(n=24, p=3, seed=0), {"starts": 16})


def test_histogram_of_minima_energies_with_the_abc_lines(glass):
    fig = minima_histogram(glass)
    assert len(fig.data) == 1  # every descent converged: no grey trace
    assert np.allclose(fig.data[0].x, glass.arrays["energies"], atol=1e-6)
    lines = {round(s.x0, 6) for s in fig.layout.shapes}
    assert lines == {round(pspin_theory.ground_state_energy(3), 6),
                     round(pspin_theory.threshold_energy(3), 6)}
    assert all(s.x0 == s.x1 for s in fig.layout.shapes)  # vertical
    texts = sorted(a.text for a in fig.layout.annotations)
    assert texts == ["ground state (ABC) -1.657", "threshold -1.633"]
    assert fig.layout.xaxis.title.text == "energy per spin of the minimum (H/N)"
    converged = int(glass.arrays["converged"].sum())
    assert fig.layout.title.text == (f"minima of {len(glass.arrays['energies'])} descents from "
                                     f"random starts: {converged} converged")
    json.loads(fig.to_json())


def test_unconverged_descents_get_their_own_trace_and_ising_has_no_lines():
    meta = {"kind": "minima", "threshold_energy": None, "ground_energy": None}
    result = ViewResult({"energies": np.array([-1.0, -0.9, -0.8]),
                         "converged": np.array([True, False, True])}, meta)
    fig = minima_histogram(result)
    assert [t.name for t in fig.data] == ["converged minima", "not converged"]
    assert np.allclose(fig.data[1].x, [-0.9]) and not fig.layout.shapes
    ising = spin_minima(IsingFunnel.create(n=10, seed=0), {"starts": 8})
    assert not minima_histogram(ising).layout.shapes
    empty = hessian_spectrum_figure(ising)
    assert not empty.data and "no Hessian spectrum" in empty.layout.annotations[0].text


def test_semicircle_curve_is_a_density_over_its_support(glass):
    x, density = semicircle_curve(glass.meta)
    circle = glass.meta["semicircle"]
    assert x[0] == pytest.approx(circle["centre"] - circle["radius"])
    assert x[-1] == pytest.approx(circle["centre"] + circle["radius"])
    assert np.trapezoid(density, x) == pytest.approx(1.0, abs=2e-3)
    assert density.max() == pytest.approx(2 / (np.pi * circle["radius"]), rel=1e-4)
    assert np.trapezoid(density * x, x) == pytest.approx(circle["centre"], rel=1e-3)


def test_spectrum_figure_overlays_the_semicircle_on_a_density_histogram(glass):
    fig = hessian_spectrum_figure(glass)
    hist, curve = fig.data
    assert hist.type == "histogram" and hist.histnorm == "probability density"
    assert np.allclose(hist.x, glass.arrays["spectrum"], rtol=1e-6)
    assert len(hist.x) == 23
    x, density = semicircle_curve(glass.meta)
    assert np.allclose(curve.x, x, rtol=1e-6) and np.allclose(curve.y, density, atol=1e-6)
    assert np.trapezoid(np.asarray(curve.y, float), np.asarray(curve.x, float)) == pytest.approx(
        1.0, abs=2e-3)
    assert [s.x0 for s in fig.layout.shapes] == [0.0]  # the zero line
    assert "Riemannian Hessian of H" in fig.layout.xaxis.title.text
    json.loads(fig.to_json())


def _network_result(accuracy: bool, diverged=(False, False, False)) -> ViewResult:
    acc = np.array([1.0, 0.99, 0.98]) if accuracy else np.full(3, np.nan)
    arrays = {"seeds": np.arange(3), "train_loss": np.array([0.001, 0.02, 0.03]),
              "test_loss": np.array([0.02, 0.03, 0.05]), "train_accuracy": acc,
              "test_accuracy": acc - 0.01, "diverged": np.array(diverged),
              "init_distance": np.array([5.0, 6.0, 7.0]), "distances": np.zeros((3, 3))}
    return ViewResult(arrays, {"kind": "minima", "loss_unit": "mean cross-entropy (nats)"})


def test_network_minima_figure_shows_both_losses_per_seed_with_accuracy_in_hover():
    result = _network_result(accuracy=True)
    fig = network_minima_figure(result)
    train, test = fig.data
    assert list(train.x) == ["seed 0", "seed 1", "seed 2"]
    assert np.allclose(train.y, result.arrays["train_loss"])
    assert np.allclose(test.y, result.arrays["test_loss"])
    assert np.allclose(np.asarray(test.customdata)[:, 0], result.arrays["test_accuracy"])
    assert "accuracy" in train.hovertemplate
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.dtick == "D2"  # 0.001 to 0.05
    assert "mean cross-entropy (nats)" in fig.layout.yaxis.title.text
    assert not fig.layout.annotations
    assert fig.layout.title.text == "the final point of 3 trainings, one per initialization seed"
    json.loads(fig.to_json())


def test_losses_within_a_decade_get_a_linear_axis():
    """Eight seeds of the moons MLP end between 0.0028 and 0.0052: a log axis labelled every
    0.0002 there; a linear one reads the same values with a handful of ticks."""
    result = _network_result(accuracy=True)
    result.arrays["train_loss"] = np.array([0.0028, 0.0029, 0.0031])
    result.arrays["test_loss"] = np.array([0.0045, 0.0052, 0.0042])
    assert network_minima_figure(result).layout.yaxis.type == "linear"
    assert magnitude_axis(np.array([1.0, 9.99])) == {"type": "linear"}
    assert magnitude_axis(np.array([1.0, 10.0, np.nan])) == {"type": "log", "dtick": "D2"}
    assert magnitude_axis(np.array([0.0, 100.0])) == {"type": "linear"}  # no log of 0
    assert magnitude_axis(np.array([np.nan])) == {"type": "linear"}


def test_regression_and_diverged_seeds():
    fig = network_minima_figure(_network_result(accuracy=False, diverged=(False, True, False)))
    assert "accuracy" not in fig.data[0].hovertemplate
    assert list(fig.data[0].text) == ["", "<br>training diverged", ""]
    assert fig.layout.title.text.split("<br>") == [
        "the final point of 3 trainings, one per initialization seed",
        "training diverged (loss blew up) for some seeds"]
    json.loads(fig.to_json())


def test_the_main_graph_of_a_minima_result_is_the_histogram_or_the_per_seed_losses(glass):
    """minima_figure: what the panel's main graph and the HTML export show."""
    assert minima_figure(glass).to_json() == minima_histogram(glass).to_json()
    network = _network_result(accuracy=True)
    assert minima_figure(network, {"camera": None}).to_json() == \
        network_minima_figure(network).to_json()
