"""Example networks shipped with Funnelscope, trained deterministically on first use and cached.

* ``moons-mlp`` -- MLP 2-64-64-2 (ReLU) on two moons, full-batch gradient descent; its init,
  final point and the recorded training trajectory (every 10 steps).
* ``multiply-gate`` -- the Lin & Tegmark multiplication gate: 2-4-1 with softplus learns x*y
  (four neurons suffice when the activation has sigma''(0) != 0).
* ``digits-cnn`` -- a small CNN (conv 8, conv 16, BatchNorm, max-pool) on scikit-learn digits.
* ``exploding-mlp`` -- the moons MLP with a learning rate (12) that makes it diverge; the
  trajectory runs until the loss passes 1e6 and ``final`` is the last point below that.

A trained example is stored as one safetensors file: ``init.<name>``/``final.<name>`` tensors
(parameters and buffers), ``trajectory`` (T, D) and ``loss_history`` (T,), with the
architecture, loss and dataset in the metadata.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from landscapes.datasets import load_builtin
from landscapes.errors import LandscapeError
from landscapes.models.network import ParameterLayout, build_network

VERSION = 2  # bump when training changes: cached files of other versions are ignored


@dataclass(frozen=True)
class Recipe:
    arch: dict
    data: str
    loss: str
    optimizer: str
    lr: float
    steps: int
    record_every: int
    description: str
    stop_loss: float = float("inf")


RECIPES = {
    "moons-mlp": Recipe(
        {"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}, "moons", "cross_entropy",
        "sgd", 1.0, 300, 10, "MLP 2-64-64-2 on two moons: init, final and its trajectory",
    ),
    "multiply-gate": Recipe(
        {"type": "mlp", "sizes": [2, 4, 1], "act": "softplus"}, "multiply", "mse",
        "adam", 0.05, 1500, 50, "Lin & Tegmark multiplication gate: 4 softplus neurons learn x*y",
    ),
    "digits-cnn": Recipe(
        {"type": "cnn", "in_channels": 1, "image_size": 8, "channels": [8, 16], "kernel": 3,
         "pool": "max", "batchnorm": True, "classes": 10, "act": "relu"},
        "digits", "cross_entropy", "adam", 0.01, 150, 10,
        "small CNN with BatchNorm on scikit-learn digits",
    ),
    "exploding-mlp": Recipe(
        {"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}, "moons", "cross_entropy",
        "sgd", 12.0, 60, 1, "the moons MLP with learning rate 12: the loss explodes",
        stop_loss=1e6,
    ),
}


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


def train(name: str) -> TrainedExample:
    """Train example ``name`` from seed 0 (full batch: the same result on every run)."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise LandscapeError(f"unknown example {name!r}; choose one of {', '.join(RECIPES)}")
    torch.manual_seed(0)
    net = build_network(recipe.arch)
    layout = ParameterLayout.of(net)
    data = load_builtin(recipe.data)
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    init = {k: v.clone() for k, v in net.state_dict().items()}
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
        torch.stack(trajectory).numpy(), np.array(history), recipe.description,
    )


def _cache_file(cache_dir: Path, name: str) -> Path:
    return Path(cache_dir) / f"{name}-v{VERSION}.safetensors"


def save(example: TrainedExample, path: Path) -> Path:
    tensors = {f"init.{k}": v.contiguous() for k, v in example.init.items()}
    tensors |= {f"final.{k}": v.contiguous() for k, v in example.final.items()}
    tensors["trajectory"] = torch.as_tensor(example.trajectory).contiguous()
    tensors["loss_history"] = torch.as_tensor(example.loss_history).contiguous()
    meta = {"architecture": json.dumps(example.arch), "loss": example.loss, "data": example.data,
            "description": example.description, "example": example.name}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)  # atomic: a concurrent reader never sees half a file
    return path


def load(name: str, cache_dir: Path) -> TrainedExample:
    """Example ``name``, from ``cache_dir`` if trained before, else trained now and cached."""
    path = _cache_file(cache_dir, name)
    if not path.exists():
        save(train(name), path)
    recipe = RECIPES[name]
    tensors = load_file(str(path))
    init = {k.removeprefix("init."): v for k, v in tensors.items() if k.startswith("init.")}
    final = {k.removeprefix("final."): v for k, v in tensors.items() if k.startswith("final.")}
    return TrainedExample(
        name, recipe.arch, recipe.data, recipe.loss, init, final,
        tensors["trajectory"].numpy(), tensors["loss_history"].numpy(), recipe.description,
    )
