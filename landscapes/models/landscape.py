"""A network's loss landscape: architecture + weights + data + loss as a function of (D,) points.

Points are flat float32 parameter vectors in ``named_parameters()`` order (see
:class:`ParameterLayout`). Evaluation is in eval mode through ``torch.func.functional_call``
with the BatchNorm buffers passed explicitly, so nothing in the module is ever mutated.
Units: mean cross-entropy (nats) or mean squared error over the split; accuracy as a fraction.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from landscapes.datasets import Dataset
from landscapes.errors import LandscapeError
from landscapes.models.network import (
    LOSSES,
    ParameterLayout,
    build_network,
    input_shape,
    normalize_arch,
    output_size,
    parameter_count,
    split_state,
)

MAX_PARAMETERS = 2_000_000


@dataclass
class NetworkLandscape:
    arch: dict
    module: nn.Module
    layout: ParameterLayout
    center: torch.Tensor
    buffers: dict[str, torch.Tensor]
    data: Dataset
    loss: str
    _tensors: dict = field(default_factory=dict, repr=False)

    name = "network"
    discrete = False

    @classmethod
    def create(cls, arch: Mapping, state: Mapping[str, torch.Tensor], data: Dataset, loss: str,
               max_parameters: int = MAX_PARAMETERS) -> "NetworkLandscape":
        arch = normalize_arch(arch)
        if loss not in LOSSES:
            raise LandscapeError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
        count = parameter_count(arch)
        if count > max_parameters:
            raise LandscapeError(
                f"the network has {count:,} parameters, over the limit of {max_parameters:,}"
            )
        module = build_network(arch).eval()
        layout = ParameterLayout.of(module)
        params, buffers = split_state(module, state)
        _check_data(arch, data, loss)
        return cls(arch, module, layout, layout.flatten(params), buffers, data, loss)

    @property
    def dim(self) -> int:
        return self.layout.dim

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in self._tensors:
            d = self.data
            x, y = (d.x_train, d.y_train) if split == "train" else (d.x_test, d.y_test)
            self._tensors[split] = (torch.as_tensor(x), torch.as_tensor(y))
        return self._tensors[split]

    def loss_function(self, split: str = "train", buffers: Mapping | None = None
                      ) -> Callable[[torch.Tensor], torch.Tensor]:
        """A differentiable map flat parameters (D,) -> mean loss on ``split``."""
        x, y = self.tensors(split)
        buffers = dict(self.buffers if buffers is None else buffers)
        criterion = _criterion(self.loss)

        def loss(flat: torch.Tensor) -> torch.Tensor:
            out = torch.func.functional_call(self.module, (self.layout.unflatten(flat), buffers), (x,))
            return criterion(out, y)

        return loss

    def evaluate(self, points: torch.Tensor, split: str = "train",
                 buffers: Mapping | None = None) -> dict[str, np.ndarray]:
        """Loss (and accuracy for classification) at each point (B, D) on one split."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
        columns = self.evaluate_splits(points, buffers)
        k = 0 if split == "train" else 1
        result = {"loss": columns[:, k]}
        if self.data.task == "classification":
            result["accuracy"] = columns[:, 2 + k]
        return result

    def evaluate_splits(self, points: torch.Tensor, buffers: Mapping | None = None) -> np.ndarray:
        """(B, K) per point: train loss, test loss[, train accuracy, test accuracy].

        One forward pass per point over train and test samples together (eval mode: the
        batch's composition does not change any output).
        """
        if "both" not in self._tensors:
            (xa, ya), (xb, yb) = self.tensors("train"), self.tensors("test")
            self._tensors["both"] = (torch.cat([xa, xb]), ya, yb)
        x, y_train, y_test = self._tensors["both"]
        n = len(y_train)
        buffers = dict(self.buffers if buffers is None else buffers)
        criterion = _criterion(self.loss)
        classify = self.data.task == "classification"
        out = np.empty((len(points), 4 if classify else 2))
        with torch.no_grad():
            for k, flat in enumerate(points.to(torch.float32)):
                params = self.layout.unflatten(flat)
                pred = torch.func.functional_call(self.module, (params, buffers), (x,))
                train, test = pred[:n], pred[n:]
                out[k, 0], out[k, 1] = float(criterion(train, y_train)), float(criterion(test, y_test))
                if classify:
                    out[k, 2] = float((train.argmax(1) == y_train).float().mean())
                    out[k, 3] = float((test.argmax(1) == y_test).float().mean())
        return out

    def state_dict_at(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """A state_dict (parameters and buffers) for the point ``flat``."""
        return {**{k: v.clone() for k, v in self.layout.unflatten(flat).items()},
                **{k: v.clone() for k, v in self.buffers.items()}}


def _criterion(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if loss == "cross_entropy":
        return nn.functional.cross_entropy
    return lambda out, y: nn.functional.mse_loss(out, y.to(out.dtype).reshape(out.shape))


def _check_data(arch: dict, data: Dataset, loss: str) -> None:
    want = input_shape(arch)
    got = tuple(data.x_train.shape[1:])
    if got != want:
        raise LandscapeError(
            f"data: samples have shape {got} but the network takes inputs of shape {want}"
        )
    outputs = output_size(arch)
    if loss == "cross_entropy":
        if data.task != "classification":
            raise LandscapeError("data: cross_entropy needs integer class labels; use mse for "
                                 "real-valued targets")
        top = int(max(data.y_train.max(), data.y_test.max()))
        if top >= outputs:
            raise LandscapeError(
                f"data: labels go up to {top} but the network has {outputs} outputs "
                f"(labels must be 0..{outputs - 1})"
            )
    else:
        if data.task != "regression":
            raise LandscapeError("data: mse needs real-valued targets; use cross_entropy for "
                                 "class labels")
        if data.y_train.shape[1] != outputs:
            raise LandscapeError(
                f"data: targets have {data.y_train.shape[1]} columns but the network has "
                f"{outputs} outputs"
            )
