"""Example networks shipped with Funnelscope, trained deterministically on first use and cached.

* ``moons-mlp`` -- MLP 2-64-64-2 (ReLU) on two moons, full-batch gradient descent; its init,
  final point and the recorded training trajectory (every 10 steps).
* ``multiply-gate`` -- the Lin & Tegmark multiplication gate: 2-4-1 with softplus learns x*y
  (four neurons suffice when the activation has sigma''(0) != 0).
* ``digits-cnn`` -- a small CNN (conv 8, conv 16, BatchNorm, max-pool) on scikit-learn digits.
* ``exploding-mlp`` -- the moons MLP with a learning rate (12) that makes it diverge; the
  trajectory runs until the loss passes 1e6 and ``final`` is the last point below that.
* ``digits-resnet`` / ``digits-plainnet`` -- the same small deep residual CNN on the digits
  (:mod:`landscapes.networks.resnet`), with and without its identity skips: same parameters,
  same initialization, same training; they differ only in the skips.

An example's architecture is a zoo architecture (:mod:`landscapes.networks.architectures`:
evaluated by :meth:`NetworkLandscape.create`) or a module-based one, ``{"type": "resnet", ...}``,
built by :func:`landscapes.networks.resnet.build_resnet` and evaluated through the generic
engine (:meth:`NetworkLandscape.from_module`); :func:`build` and :func:`landscape` pick.

A trained example is stored as one safetensors file: ``init.<name>``/``final.<name>`` tensors
(parameters and buffers), ``trajectory`` (T, D) and ``loss_history`` (T,), with the
architecture, loss and dataset in the metadata. ``train(name, seed)`` / ``load(name, cache_dir,
seed)`` run the same recipe from another initialization seed (minima statistics): seed 0 is the
shipped example (file ``NAME-vVERSION.safetensors``), seed K is cached as
``NAME-seedK-vVERSION.safetensors``.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from landscapes import budget
from landscapes.chunks import OneThread
from landscapes.errors import LandscapeError
from landscapes.io.atomic import write_atomically
from landscapes.networks.architectures import ParameterLayout, build_network, split_state
from landscapes.networks.catalog import RECIPES, RESNET_TYPE, Recipe
from landscapes.networks.datasets import Dataset, load_builtin
from landscapes.networks.landscape import NetworkLandscape
from landscapes.networks.resnet import build_resnet

VERSION = 2  # bump when training changes: cached files of other versions are ignored


log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TrainedExample:
    name: str
    arch: dict
    data: str
    loss: str
    init: dict[str, torch.Tensor]
    final: dict[str, torch.Tensor]
    trajectory: np.ndarray
    loss_history: np.ndarray
    description: str
    seed: int = 0


def recipe_of(name: str) -> Recipe:
    """The recipe of example ``name`` (a LandscapeError names the known examples)."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise LandscapeError(f"unknown example {name!r}; choose one of {', '.join(RECIPES)}")
    return recipe


def module_based(arch: dict) -> bool:
    """Whether ``arch`` is built as a module outside the zoo (evaluated by the generic engine)."""
    return arch.get("type") == RESNET_TYPE


def build(arch: dict) -> torch.nn.Module:
    """The untrained network of an example's architecture (torch's default initialization)."""
    return build_resnet(arch) if module_based(arch) else build_network(arch)


def landscape(arch: dict, state: dict[str, torch.Tensor], data: Dataset, loss: str
              ) -> NetworkLandscape:
    """The landscape of an example's network at ``state`` (a state_dict): a zoo architecture
    through :meth:`NetworkLandscape.create`, a module-based one through
    :meth:`NetworkLandscape.from_module` (``arch`` then ``{"type": "module", ...}``; the
    example's own architecture stays in :attr:`TrainedExample.arch`)."""
    if not module_based(arch):
        return NetworkLandscape.create(arch, state, data, loss)
    return NetworkLandscape.from_module(build_resnet(arch, state), data, loss, recognize=False)


def flat_point(land: NetworkLandscape, state: dict[str, torch.Tensor]
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``state`` as a point of ``land`` (flat parameters, float32) and its buffers."""
    params, buffers = split_state(land.module, state)
    return land.layout.flatten(params), buffers


def train(name: str, seed: int = 0) -> TrainedExample:
    """Train example ``name`` from initialization ``seed`` (full batch, on one torch thread:
    the same result on every run, in any process). ``seed`` seeds torch's default initialization
    of the network; seed 0 is the shipped example. Torch's global random state is restored
    afterwards."""
    # the digits CNN's gradients differ in their last bits between one thread and two
    # (measured): the CLI (two), a dashboard worker (one) and a worker sharing a view
    # (landscapes.chunks) must train the same example
    with OneThread():
        return _train(name, seed)


def _train(name: str, seed: int) -> TrainedExample:
    recipe = recipe_of(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build(recipe.arch)
    layout = ParameterLayout.of(net)
    data = load_builtin(recipe.data)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    init = {k: v.clone() for k, v in net.state_dict().items()}
    opt: torch.optim.Optimizer
    if recipe.optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=recipe.lr)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    criterion = (torch.nn.functional.cross_entropy if recipe.loss == "cross_entropy"
                 else torch.nn.functional.mse_loss)

    def snapshot() -> torch.Tensor:
        return layout.flatten(dict(net.named_parameters())).detach().clone()

    trajectory, history = [snapshot()], []
    final = init
    for step in range(recipe.steps):
        budget.check()  # a first training inside a view counts against its compute budget
        net.train()
        opt.zero_grad()
        loss = criterion(net(x), y)
        history.append(float(loss.detach()))
        if not np.isfinite(history[-1]) or history[-1] > recipe.stop_loss:
            if torch.equal(trajectory[-1], snapshot()):
                trajectory.pop()  # the diverged point is not part of the kept trajectory
            break
        final = {k: v.clone() for k, v in net.state_dict().items()}
        loss.backward()
        opt.step()
        if (step + 1) % recipe.record_every == 0:
            trajectory.append(snapshot())
    else:
        final = {k: v.clone() for k, v in net.state_dict().items()}
    final_flat = layout.flatten(final)
    if not torch.equal(trajectory[-1], final_flat):
        trajectory.append(final_flat)
    return TrainedExample(
        name, recipe.arch, recipe.data, recipe.loss, init, final,
        torch.stack(trajectory).numpy(), np.array(history), recipe.description, seed,
    )


_UNSAVED: dict[Path, "TrainedExample"] = {}  # trained where the cache could not keep them


def _cache_file(cache_dir: Path, name: str, seed: int = 0) -> Path:
    """Seed 0 (the shipped example) keeps its original file name; other seeds add ``-seedK``."""
    tag = "" if seed == 0 else f"-seed{seed}"
    return Path(cache_dir) / f"{name}{tag}-v{VERSION}.safetensors"


def save(example: TrainedExample, path: Path) -> Path:
    tensors = {f"init.{k}": v.contiguous() for k, v in example.init.items()}
    tensors |= {f"final.{k}": v.contiguous() for k, v in example.final.items()}
    tensors["trajectory"] = torch.as_tensor(example.trajectory).contiguous()
    tensors["loss_history"] = torch.as_tensor(example.loss_history).contiguous()
    meta = {"architecture": json.dumps(example.arch), "loss": example.loss, "data": example.data,
            "description": example.description, "example": example.name,
            "seed": str(example.seed)}
    # a private temporary name: two workers training the same example never share one
    return write_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def load(name: str, cache_dir: Path, seed: int = 0) -> TrainedExample:
    """Example ``name`` trained from ``seed``: from ``cache_dir`` if trained before, else
    trained now and cached (kept in this process's memory when ``cache_dir`` cannot be written:
    a read-only or full disk costs a training per process, never a failed view)."""
    recipe = recipe_of(name)
    path = _cache_file(cache_dir, name, seed)
    if not path.exists():
        if path in _UNSAVED:
            return _UNSAVED[path]
        example = train(name, seed)
        try:
            save(example, path)
        except Exception as exc:  # a full disk (safetensors' own error), a read-only cache
            # (OSError): serve it from memory instead
            log.warning("example %s (seed %d) trained but not saved to %s (%s): kept in memory "
                        "by this process", name, seed, path, exc)
            _UNSAVED[path] = example
            return example
    tensors = load_file(str(path))
    init = {k.removeprefix("init."): v for k, v in tensors.items() if k.startswith("init.")}
    final = {k.removeprefix("final."): v for k, v in tensors.items() if k.startswith("final.")}
    return TrainedExample(
        name, recipe.arch, recipe.data, recipe.loss, init, final,
        tensors["trajectory"].numpy(), tensors["loss_history"].numpy(), recipe.description, seed,
    )
