"""A network's loss landscape: architecture + weights + data + loss as a function of (D,) points.

Points are flat float32 parameter vectors in ``named_parameters()`` order (see
:class:`ParameterLayout`). Evaluation is in eval mode with the BatchNorm buffers passed
explicitly, so the user's module is never mutated. Four methods give the same numbers (to
float32 rounding): ``loop``, the reference, one ``torch.func.functional_call`` forward per point;
``gemm`` (:class:`GemmProgram`), picked for the zoo's MLPs and CNNs, which evaluates many points
near the machine's FLOP limit -- per point only GEMMs over (features, samples) blocks that stay
in cache, and a few elementwise passes; ``inplace``, picked for any other ``nn.Module``
(:meth:`NetworkLandscape.from_module`) on a CPU: plain forwards of a private copy of the module
whose parameters are overwritten point by point, outputs scored in chunks; ``vmap``, picked for
such a module on a GPU: ``torch.func.vmap`` of ``functional_call`` over chunks of points
(:func:`vmap_chunk`). On a CPU ``vmap`` measured slower than ``inplace`` (1 thread: 1.5 against
1.1 ms per point for the residual MLP on moons, 108 against 56 ms for the digits resnet): its
batching rules add passes (LayerNorm's affine step, biases) over (points, samples, width)
blocks, while a plain forward's GEMMs already run near the FLOP limit. (``torch.compile`` was
measured and does not pay here: 8-85 s to compile on this 2-core machine against well under 1 s
for a moons slice, and no faster than these eager GEMMs in our runs.)
Units: mean cross-entropy (nats) or mean squared error over the split; accuracy as a fraction.
"""

from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from landscapes.errors import LandscapeError
from landscapes.networks.architectures import (
    ParameterLayout,
    build_network,
    input_shape,
    normalize_arch,
    output_size,
    parameter_count,
    split_state,
    zoo_arch_of,
)
from landscapes.networks.catalog import LOSSES, MAX_PARAMETERS
from landscapes.networks.datasets import Dataset
from landscapes.networks.gemm import GemmProgram, TooLarge, binary_scores, buffers_equal, scores

# points per vmap call: about VMAP_ROWS sample rows (points x samples), at most VMAP_POINTS points.
# Measured (1 thread, width-64 MLP and residual MLP, time per point by chunk 1..64): iris
# (150 samples) fastest at 32-64 points (3-4x chunk 4); moons (1500) about equal at 4-16 (4-5
# the steadiest on a loaded machine; 1 and 64 slower): 8k rows keeps a width-64 layer's
# (points, samples, width) block at 2 MB, near the L2 cache
VMAP_ROWS = 1 << 13
VMAP_POINTS = 64
MODULE_TYPE = "module"  # ``arch["type"]`` of a landscape of an arbitrary module


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
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    name = "network"
    discrete = False

    @classmethod
    def create(cls, arch: Mapping, state: Mapping[str, torch.Tensor], data: Dataset, loss: str,
               max_parameters: int = MAX_PARAMETERS) -> "NetworkLandscape":
        arch = normalize_arch(arch)
        if loss not in LOSSES:
            raise LandscapeError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
        _check_count(parameter_count(arch), max_parameters)
        module = build_network(arch).eval()
        layout = ParameterLayout.of(module)
        params, buffers = split_state(module, state)
        _check_data(arch, data, loss)
        return cls(arch, module, layout, layout.flatten(params), buffers, data, loss)

    @classmethod
    def from_module(cls, module: nn.Module, data: Dataset, loss: str,
                    max_parameters: int = MAX_PARAMETERS, device: torch.device | None = None,
                    recognize: bool = True) -> "NetworkLandscape":
        """The landscape of any ``nn.Module`` (trusted: it runs in this process) at its current
        weights, on ``data`` with ``loss`` (``cross_entropy`` or ``mse``).

        The contract: points are ``module.named_parameters()`` flattened in that order (float32);
        ``module.named_buffers()`` are passed explicitly (floating ones as float32) and never
        updated; ``module(X)`` on a float32 batch (samples, *sample shape) in eval mode returns
        logits (samples, classes) for ``cross_entropy``, predictions with ``outputs`` numbers per
        sample for ``mse``; a sample's output does not depend on the rest of the batch. The
        module is copied (``copy.deepcopy``), never changed. With ``recognize`` a module that is
        a zoo architecture (:func:`zoo_arch_of`) gets that ``arch`` and the fast ``gemm``
        method; any other gets ``arch = {"type": "module", "class": <class name>}`` and is
        evaluated by ``inplace`` (a CPU), or by ``vmap`` on a GPU where vmap can run its forward
        (not with ``.item()`` or data-dependent control flow: :func:`_vmap_works`). A
        LandscapeError (one
        line) for too many parameters, data the module cannot take, or outputs that do not fit
        the loss.
        """
        if not isinstance(module, nn.Module):
            raise LandscapeError(f"expected a torch.nn.Module; got {type(module).__name__}")
        if loss not in LOSSES:
            raise LandscapeError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
        _check_count(sum(p.numel() for p in module.parameters()), max_parameters)
        state = float32_state(module.state_dict())
        arch = zoo_arch_of(module, tuple(data.x_train.shape[1:])) if recognize else None
        if arch is not None:
            land = cls.create(arch, state, data, loss, max_parameters)
        else:
            try:
                copy = deepcopy(module).eval()
            except Exception as exc:  # noqa: BLE001 -- any failure to copy is the user's module
                raise LandscapeError(f"the module cannot be copied ({type(exc).__name__}: "
                                     f"{exc})") from None
            layout = ParameterLayout.of(copy)
            params, buffers = split_state(copy, state)
            land = cls({"type": MODULE_TYPE, "class": type(module).__name__}, copy, layout,
                       layout.flatten(params), buffers, data, loss)
            _check_module_outputs(land)
        return land if device is None else land.on(torch.device(device))

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
                 buffers: Mapping | None = None, method: str | None = None
                 ) -> dict[str, np.ndarray]:
        """Loss (and accuracy for classification) at each point (B, D) on one split (the fast
        method evaluates that split's samples only)."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
        columns = self._columns(points, buffers, method, split)
        result = {"loss": columns[:, 0]}
        if self.data.task == "classification":
            result["accuracy"] = columns[:, 1]
        return result

    def evaluate_splits(self, points: torch.Tensor, buffers: Mapping | None = None,
                        method: str | None = None) -> np.ndarray:
        """(B, K) per point: train loss, test loss[, train accuracy, test accuracy].

        ``method`` is ``gemm`` (the network as GEMMs over (features, samples) blocks, several
        points at a time; see :class:`GemmProgram`), ``loop`` (one ``functional_call`` forward per
        point, the reference) or None: :attr:`method` picks by architecture. A point equal to the
        centre (with the centre's buffers) always goes through ``loop``, so the centre's values are
        bit for bit the checkpoint's own float32 loss, as a user computes it.
        """
        return self._columns(points, buffers, method, None)

    def _columns(self, points: torch.Tensor, buffers: Mapping | None, method: str | None,
                 split: str | None) -> np.ndarray:
        """Metrics per point: [losses per split..., accuracies per split...] for both splits
        (``split`` None) or one."""
        method = method or self.method
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
        if method == "gemm" and (self.device.type != "cpu" or self.program(split) is None):
            method = "loop"  # the GEMM program is tuned for CPU caches
        pts = points.detach().to(torch.float32)
        classify = self.data.task == "classification"
        width = (2 if classify else 1) * (2 if split is None else 1)
        out = np.empty((len(pts), width))
        if len(pts) == 0:
            return out
        buffers = dict(self.buffers if buffers is None else buffers)
        exact = np.zeros(len(pts), dtype=bool)
        if method != "loop" and buffers_equal(buffers, self.buffers):
            head = min(16, self.dim)
            maybe = torch.nonzero((pts[:, :head] == self.center[:head]).all(1))[:, 0]
            exact[maybe[(pts[maybe] == self.center).all(1)].numpy()] = True
        keep: slice | list[int] = slice(None) if split is None else ([0, 2] if classify else [0])
        if split == "test":
            keep = [1, 3] if classify else [1]
        if method == "loop" or exact.any():
            loop = exact if method != "loop" else np.ones(len(pts), dtype=bool)
            out[loop] = self._loop(pts[torch.as_tensor(loop)], buffers)[:, keep]
        if method != "loop" and not exact.all():
            rest = pts[torch.as_tensor(~exact)] if exact.any() else pts
            evaluate = {"gemm": self._gemm, "vmap": self._vmap, "inplace": self._inplace}[method]
            out[~exact] = evaluate(rest, buffers, split)
        return out

    @property
    def method(self) -> str:
        """The evaluation picked for this architecture: ``gemm`` for the zoo's MLPs and CNNs
        whose index tables stay small (see :data:`MAX_INDEX`), else ``loop`` (always on a GPU);
        for any other module (:meth:`from_module`) ``inplace`` on a CPU, ``vmap`` on a GPU when
        vmap runs its forward (else ``inplace``)."""
        if self.arch["type"] == MODULE_TYPE:
            if self.device.type == "cpu":
                return "inplace"
            if "vmap_works" not in self._tensors:
                self._tensors["vmap_works"] = _vmap_works(self)
            return "vmap" if self._tensors["vmap_works"] else "inplace"
        if self.device.type != "cpu":
            return "loop"
        return "gemm" if self.program() is not None else "loop"

    def on(self, device: torch.device) -> "NetworkLandscape":
        """This landscape evaluated on ``device`` (a copy; the same module and data)."""
        if device == self.device:
            return self
        return replace(self, device=device, _tensors={})

    def method_meta(self) -> dict:
        """How slices of this landscape are evaluated (saved in a view's ``meta``)."""
        if self.method == "gemm":
            return {"method": "gemm", "dtype": "float32", "device": "cpu",
                    "detail": "per point: GEMMs over (features, samples) blocks; BatchNorm (eval) "
                              "folded into the convolutions; 2x2 pooling as a max/mean over "
                              "pooling-window slabs; a CNN's first convolution at points on a "
                              "line, plane or 3-D slice combined from its outputs at basis points "
                              "(it is linear in them); the centre point by the reference forward"}
        if self.method == "vmap":
            return {"method": "vmap", "dtype": "float32", "device": str(self.device),
                    "detail": f"torch.func.vmap of torch.func.functional_call over chunks of "
                              f"{vmap_chunk(len(self._samples(None)[0]))} points, train and test "
                              "samples in one batch; the centre point by the reference forward"}
        if self.method == "inplace":
            return {"method": "inplace", "dtype": "float32", "device": str(self.device),
                    "detail": "one plain forward per point over train and test samples of a "
                              "float32 copy of the module, its parameters overwritten in place; "
                              "the centre point by the reference forward"}
        return {"method": "loop", "dtype": "float32", "device": str(self.device),
                "detail": "one torch.func.functional_call forward per point over train and test"}

    def program(self, split: str | None = None) -> "GemmProgram | None":
        """The GEMM program over both splits' samples (or one split's), None if too large."""
        key = f"program:{split}"
        if self.arch["type"] == MODULE_TYPE:
            return None
        if key not in self._tensors:
            try:
                program = GemmProgram(self.arch, self.module, self.layout, self._samples(split)[0],
                                      binary=self.loss == "cross_entropy")
            except TooLarge:
                program = None
            self._tensors[key] = program
        return self._tensors[key]

    def _samples(self, split: str | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(samples, targets) of one split, or of train then test (``split`` None); targets
        as labels (N,) or regression targets transposed to (outputs, N)."""
        key = f"samples:{split}"
        if key not in self._tensors:
            parts = [self.tensors(s) for s in (("train", "test") if split is None else (split,))]
            x = torch.cat([p[0] for p in parts]).to(torch.float32)
            y = torch.cat([p[1] for p in parts])
            y = y if y.dim() == 1 else y.to(torch.float32).T.contiguous()
            self._tensors[key] = (x, y)
        return self._tensors[key]

    def _both(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(train and test samples together, train targets, test targets)."""
        if "both" not in self._tensors:
            (xa, ya), (xb, yb) = self.tensors("train"), self.tensors("test")
            self._tensors["both"] = (torch.cat([xa, xb]).to(torch.float32), ya, yb)
        return self._tensors["both"]

    def _ranges(self, split: str | None, samples: int) -> list[tuple[int, int]]:
        """The sample ranges the metrics are taken over: train then test of both splits'
        ``samples`` (``split`` None), or all of one split's."""
        if split is None:
            return [(0, len(self.data.y_train)), (len(self.data.y_train), samples)]
        return [(0, samples)]

    def _loop(self, pts: torch.Tensor, buffers: dict) -> np.ndarray:
        """The reference: one forward pass per point over train and test samples together (eval
        mode: the batch's composition does not change any output)."""
        x, y_train, y_test = (t.to(self.device) for t in self._both())
        buffers = {k: v.to(self.device) for k, v in buffers.items()}
        n = len(y_train)
        criterion = _criterion(self.loss)
        classify = self.data.task == "classification"
        out = np.empty((len(pts), 4 if classify else 2))
        with torch.no_grad():
            for k, flat in enumerate(pts.to(self.device)):
                params = self.layout.unflatten(flat)
                pred = torch.func.functional_call(self.module, (params, buffers), (x,))
                train, test = pred[:n], pred[n:]
                out[k, 0], out[k, 1] = float(criterion(train, y_train)), float(criterion(test, y_test))
                if classify:
                    out[k, 2] = float((train.argmax(1) == y_train).float().mean())
                    out[k, 3] = float((test.argmax(1) == y_test).float().mean())
        return out

    def _vmap(self, pts: torch.Tensor, buffers: dict, split: str | None) -> np.ndarray:
        """Metrics as :meth:`_gemm` gives them, on both splits' samples (``split`` None) or one
        split's: the forward passes of :func:`vmap_chunk` points per ``torch.func.vmap`` call,
        the metrics by the GEMM program's :func:`~landscapes.networks.gemm.scores` (the
        criterion's own batching rule under vmap costs as much as the network)."""
        x, targets = self._samples(split)  # the metrics are computed on the CPU
        x = x.to(self.device)
        buffers = {k: v.to(self.device) for k, v in buffers.items()}
        n = len(x)
        splits = self._ranges(split, n)
        classify = self.data.task == "classification"

        def forward(flat: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(self.module, (self.layout.unflatten(flat), buffers),
                                              (x,))

        batched = torch.func.vmap(forward)
        with torch.no_grad():
            rows = [scores(batched(part).reshape(len(part), n, -1).transpose(1, 2).cpu()
                           .contiguous(), targets, splits, classify)
                    for part in pts.to(self.device).split(vmap_chunk(n))]
        return np.concatenate(rows)

    def _inplace(self, pts: torch.Tensor, buffers: dict, split: str | None) -> np.ndarray:
        """Metrics as :meth:`_vmap` gives them, by one plain forward per point of a private
        float32 copy of the module whose parameters are overwritten in place (no autograd, no
        ``functional_call`` re-binding); the outputs of :func:`vmap_chunk` points are scored
        together. On a CPU this beats ``vmap``: its batching rules split LayerNorm's affine
        step and the biases into extra passes over (points, samples, width) blocks."""
        x, targets = self._samples(split)
        x = x.to(self.device)
        n = len(x)
        splits = self._ranges(split, n)
        classify = self.data.task == "classification"
        module = self._scratch()
        params: list[torch.Tensor] = [module.get_parameter(name) for name in self.layout.names]
        rows = []
        with torch.inference_mode():
            for name, value in buffers.items():
                module.get_buffer(name).copy_(value)
            for part in pts.to(self.device).split(vmap_chunk(n)):
                outs = []
                for flat in part:
                    torch._foreach_copy_(params, list(self.layout.unflatten(flat).values()))
                    outs.append(module(x).reshape(n, -1))
                z = torch.stack(outs).transpose(1, 2).cpu().contiguous()
                rows.append(scores(z, targets, splits, classify))
        return np.concatenate(rows)

    def _scratch(self) -> nn.Module:
        """A float32 copy of the module, its parameters overwritten by :meth:`_inplace`."""
        key = f"scratch:{self.device}"
        if key not in self._tensors:
            with torch.no_grad():
                self._tensors[key] = deepcopy(self.module).float().to(self.device).eval()
        return self._tensors[key]

    def _gemm(self, pts: torch.Tensor, buffers: dict, split: str | None) -> np.ndarray:
        program = self.program(split)
        assert program is not None
        _, targets = self._samples(split)
        total = program.samples
        splits = self._ranges(split, total)
        classify = self.data.task == "classification"
        if program.binary:
            key = f"binary:{split}"
            if key not in self._tensors:  # the sign that makes z[other] - z[y] of z1 - z0
                self._tensors[key] = (1.0 - 2.0 * targets.to(torch.float32), targets == 0)
            sign, zero = self._tensors[key]
            score = lambda d: binary_scores(d[:, 0], sign, zero, splits)  # noqa: E731
        else:
            score = lambda z: scores(z, targets, splits, classify)  # noqa: E731
        with torch.inference_mode():
            return program.evaluate(pts, buffers, score)

    def state_dict_at(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """A state_dict (parameters and buffers) for the point ``flat``."""
        return {**{k: v.clone() for k, v in self.layout.unflatten(flat).items()},
                **{k: v.clone() for k, v in self.buffers.items()}}


METHODS = ("gemm", "inplace", "vmap", "loop")


def vmap_chunk(samples: int) -> int:
    """Points per ``torch.func.vmap`` call on ``samples`` samples (see :data:`VMAP_ROWS`)."""
    return max(1, min(VMAP_POINTS, VMAP_ROWS // max(1, samples)))


def float32_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Floating tensors as float32 (the landscape's precision), detached; others as they are."""
    return {k: v.detach().to(torch.float32) if v.is_floating_point() else v.detach()
            for k, v in state.items()}


def _check_count(count: int, max_parameters: int) -> None:
    if count > max_parameters:
        raise LandscapeError(
            f"the network has {count:,} parameters, over the limit of {max_parameters:,} "
            "(FUNNELSCOPE_MAX_PARAMETERS in the dashboard, --max-parameters in the command "
            "line, max_parameters in Python)"
        )


def _check_module_outputs(land: NetworkLandscape) -> None:
    """The module takes the data and its outputs fit the loss (checked on two samples)."""
    data = land.data
    x = torch.as_tensor(data.x_train[:2])
    try:
        with torch.no_grad():
            out = torch.func.functional_call(land.module, (land.layout.unflatten(land.center),
                                                           land.buffers), (x,))
    except Exception as exc:  # noqa: BLE001 -- any failure is the module's or the data's
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise LandscapeError(f"the module fails on samples of shape {tuple(x.shape[1:])}: "
                             f"{type(exc).__name__}: {message}") from None
    if not isinstance(out, torch.Tensor) or out.shape[:1] != x.shape[:1]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise LandscapeError(f"the module must return one row per sample, a tensor "
                             f"({len(x)}, outputs); got {got}")
    outputs = int(np.prod(out.shape[1:]))
    if land.loss == "cross_entropy":
        if data.task != "classification":
            raise LandscapeError("data: cross_entropy needs integer class labels; use mse for "
                                 "real-valued targets")
        if out.dim() != 2:
            raise LandscapeError(f"cross_entropy needs logits of shape (samples, classes); the "
                                 f"module returns {tuple(out.shape)}")
        _check_labels(data, outputs)
    elif data.task != "regression" or data.y_train.shape[1] != outputs:
        raise LandscapeError(
            f"data: mse needs real-valued targets with {outputs} column(s), one per module output; "
            f"got {data.task} targets of shape {data.y_train.shape}"
        )


def _vmap_works(land: NetworkLandscape) -> bool:
    """Whether ``torch.func.vmap`` runs the module (two points, two samples): a forward with
    ``.item()``, data-dependent Python control flow or an op without a batching rule does not,
    and is evaluated point by point (``loop``) instead."""
    x = torch.as_tensor(land.data.x_train[:2])

    def forward(flat: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(land.module, (land.layout.unflatten(flat),
                                                        land.buffers), (x,))

    try:
        with torch.no_grad():
            torch.func.vmap(forward)(land.center.expand(2, -1))
    except Exception:  # noqa: BLE001 -- any failure under vmap means: evaluate point by point
        return False
    return True


def _check_labels(data: Dataset, outputs: int) -> None:
    top = int(max(data.y_train.max(), data.y_test.max()))
    if top >= outputs:
        raise LandscapeError(
            f"data: labels go up to {top} but the network has {outputs} outputs "
            f"(labels must be 0..{outputs - 1})"
        )


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
        _check_labels(data, outputs)
    else:
        if data.task != "regression":
            raise LandscapeError("data: mse needs real-valued targets; use cross_entropy for "
                                 "class labels")
        if data.y_train.shape[1] != outputs:
            raise LandscapeError(
                f"data: targets have {data.y_train.shape[1]} columns but the network has "
                f"{outputs} outputs"
            )
