"""The skip-connection examples (digits-resnet, digits-plainnet) and the roughness figures.

* the two networks differ only in the skips: same parameter and buffer names and shapes, the
  same initialization from the same seed, and a block adds its input back only with skips;
* training is deterministic (the same loss history twice);
* the example is evaluated by the generic engine: its centre loss is a plain eval-mode forward
  of the trained module, and meta names the resnet architecture; the CLI slices it and the
  minima view trains it;
* the roughness figures on surfaces whose minima and convexity are known.
"""

import dataclasses

import numpy as np
import pytest
import torch

from landscapes import cli
from landscapes.cli import main
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.networks import examples
from landscapes.networks.datasets import load_builtin
from landscapes.networks.minima import network_minima
from landscapes.networks.resnet import BasicBlock, build_resnet, normalize_resnet_arch
from landscapes.networks.views import compute_slice, example_source
from landscapes.roughness import Roughness, curvature_ratio, grid_local_minima, nonconvex_fraction

PAIR = ("digits-resnet", "digits-plainnet")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _shapes(module: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(name, tuple(t.shape)) for name, t in module.state_dict().items()]


def test_the_pair_differs_only_in_the_skips():
    residual, plain = (examples.RECIPES[name] for name in PAIR)
    assert residual.arch["skip"] is True and plain.arch["skip"] is False
    assert {**residual.arch, "skip": False} == plain.arch
    assert dataclasses.replace(residual, arch=plain.arch, description="") == dataclasses.replace(
        plain, description="")
    nets = []
    for recipe in (residual, plain):
        torch.manual_seed(0)
        nets.append(examples.build(recipe.arch))
    assert _shapes(nets[0]) == _shapes(nets[1])
    assert [n for n, _ in nets[0].named_parameters()] == [n for n, _ in nets[1].named_parameters()]
    assert all(torch.equal(a, b) for a, b in zip(nets[0].state_dict().values(),
                                                 nets[1].state_dict().values(), strict=True))
    x = torch.as_tensor(load_builtin("digits").x_train[:16])
    assert not torch.allclose(nets[0].eval()(x), nets[1].eval()(x))


def test_a_block_adds_its_input_only_with_skips():
    torch.manual_seed(1)
    block = BasicBlock(4, skip=True, batchnorm=False)
    plain = BasicBlock(4, skip=False, batchnorm=False)
    plain.load_state_dict(block.state_dict())
    x = torch.randn(3, 4, 8, 8)
    inner = block.conv2(torch.relu(block.conv1(x)))
    assert torch.allclose(block(x), torch.relu(inner + x))
    assert torch.allclose(plain(x), torch.relu(inner))


def test_the_resnet_spec_is_checked():
    assert normalize_resnet_arch({"type": "resnet"})["skip"] is True
    with pytest.raises(LandscapeError, match="unknown key"):
        normalize_resnet_arch({"type": "resnet", "width": 3})
    with pytest.raises(LandscapeError, match="'skip' must be true or false"):
        normalize_resnet_arch({"type": "resnet", "skip": 1})


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A cache directory as the CLI and the dashboard use it (examples under ``examples/``)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def cache(root):
    return root / "examples"


@pytest.mark.slow
def test_training_is_deterministic(cache):
    once = examples.load("digits-resnet", cache)  # trained and cached
    again = examples.train("digits-resnet")
    assert np.array_equal(once.loss_history, again.loss_history)
    assert all(torch.equal(once.final[k], again.final[k]) for k in once.final)
    assert once.loss_history[-1] < 0.1 * once.loss_history[0]  # it learned


def test_the_example_is_evaluated_by_the_generic_engine(cache):
    source = example_source("digits-resnet", cache)
    land = source.landscape
    assert land.method == "inplace" and source.architecture == examples.RECIPES["digits-resnet"].arch
    ex = examples.load("digits-resnet", cache)
    net = build_resnet(ex.arch, ex.final).eval()
    data = load_builtin("digits")
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(net(torch.as_tensor(data.x_train)),
                                                 torch.as_tensor(data.y_train))
    assert land.evaluate(land.center[None])["loss"][0] == pytest.approx(float(loss), rel=1e-5)
    line = compute_slice(source, {"dims": 1, "steps": 3, "span": 0.5})
    assert line.meta["architecture"]["type"] == "resnet"
    assert line.values[1] == pytest.approx(float(loss), rel=1e-5)


def test_the_cli_slices_the_example(root, cache, tmp_path, capsys):
    examples.load("digits-resnet", cache)  # trained by the test above, or now
    out = tmp_path / "line.npz"
    code = main(["slice", "network", "--example", "digits-resnet", "--dims", "1", "--steps", "3",
                 "--cache-dir", str(root), "--out", str(out)])
    assert code in (0, None) and "wrote slice" in capsys.readouterr().out
    result = formats.open_export(out.read_bytes(), out.name)
    assert result.meta["architecture"] == examples.RECIPES["digits-resnet"].arch


def test_examples_export_skips_a_module_based_example(tmp_path, capsys, monkeypatch):
    # the command's list of examples (networks/catalog.py, as the CLI imported it): the pair only
    monkeypatch.setattr(cli, "RECIPES", {name: examples.RECIPES[name] for name in PAIR})
    code = main(["examples", "--export", str(tmp_path), "--cache-dir", str(tmp_path / "cache")])
    assert code in (0, None) and list(tmp_path.glob("*.safetensors")) == []
    err = capsys.readouterr().err
    assert all(f"skipped {name}: not a zoo architecture" in err for name in PAIR)


def test_the_minima_view_trains_the_example(cache):
    result = network_minima("digits-resnet", 1, cache)  # seed 0: the cached example
    assert result.meta["architecture"] == examples.RECIPES["digits-resnet"].arch
    land = example_source("digits-resnet", cache).landscape
    assert result.arrays["train_loss"][0] == pytest.approx(
        float(land.evaluate(land.center[None])["loss"][0]), rel=1e-6)
    assert not result.arrays["diverged"][0]


# --------------------------------------------------------------------------- roughness


def _grid(f, n: int = 21) -> np.ndarray:
    axis = np.linspace(-1, 1, n)
    x, y = np.meshgrid(axis, axis)
    return f(x, y)


def test_a_bowl_has_one_minimum_and_is_convex_everywhere():
    bowl = _grid(lambda x, y: x**2 + 2 * y**2 + 0.3 * x * y)
    assert Roughness.of(bowl) == Roughness(1, 0.0, curvature_ratio(bowl))
    assert 0.4 < curvature_ratio(bowl) < 0.6  # eigenvalues of [[2, .3], [.3, 4]]: 1.96, 4.04


def test_an_egg_crate_has_its_minima_and_its_saddles():
    crate = _grid(lambda x, y: -np.cos(2 * np.pi * x) * np.cos(2 * np.pi * y), 41)
    # minima of -cos cos at (0, 0), (+-.5, +-.5) and (+-1, 0), (0, +-1)...: interior ones only
    assert grid_local_minima(crate) == 5
    assert 0.5 < nonconvex_fraction(crate) < 1.0
    low = nonconvex_fraction(crate, below=-0.9)  # only the bottoms of the wells: convex
    assert low == 0.0 and np.isnan(nonconvex_fraction(crate, below=-2.0))
    saddle = _grid(lambda x, y: x**2 - y**2)
    assert grid_local_minima(saddle) == 0 and nonconvex_fraction(saddle) == 1.0
    assert curvature_ratio(saddle) == pytest.approx(1.0)


def test_roughness_needs_a_plane():
    with pytest.raises(ValueError, match="2-D slice"):
        grid_local_minima(np.zeros(5))

