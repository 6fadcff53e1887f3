"""Compiled (numba) MLP layers that a GEMM would waste time on, for :mod:`landscapes.models.gemm`.

An MLP's first layer usually has a handful of inputs (two for the moons): as a GEMM with K = 3 it
writes its (features, samples) block at a fraction of the machine's rate, and the activation then
reads and writes the block again. Its last layer has one row (two-class outputs as z1 - z0) or a
few: a matrix-vector product reading the whole block of the layer before, just after the
activation pass wrote it. Here each is one pass: ``act(b + W @ x)`` for a small K, written once;
and ``b + W @ act(h)``, the activation applied on the fly, nothing written but the outputs.
(Measured on the moons MLP, 1500 samples: 33 -> 12 us and 21 -> 11 us per point.)

Blocks are float32 (features, samples) arrays, weights ``[b | W]`` (rows, 1 + inputs) as in
:class:`landscapes.models.gemm.GemmProgram`; sums run over the inputs in order, in float32 (equal
to the GEMM to float32 rounding). Activations keep NaN (a diverged network stays NaN, as in
torch). Kernels are compiled per (inputs, activation) the first time they are asked for, and
cached on disk by numba.
"""

from collections.abc import Callable
from functools import cache

import numba
import numpy as np

ACTIVATIONS = ("identity", "relu")  # tanh and sigmoid as scalar libm calls: 100x slower than
# torch's vectorized ones, measured; those networks keep the GEMM and torch's activation
MAX_INPUTS = 8  # a first layer with at most this many inputs is one fused pass


def _scalar(activation: str) -> Callable[[float], float]:
    """The activation of one float32, compiled inline."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"no fused kernel for activation {activation!r}; have {ACTIVATIONS}")
    zero = np.float32(0.0)

    @numba.njit(cache=True, nogil=True, inline="always")
    def act(v):  # noqa: ANN001, ANN202  # pragma: no cover - compiled
        if activation == "relu":
            return v if not v < zero else zero  # NaN stays NaN
        return v

    return act


@cache
def first_layer(inputs: int, activation: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """``kernel(weights, x, out)``: out = act(b + W @ x), weights (M, 1 + inputs), x (inputs, N),
    out (M, N) float32; ``inputs`` is fixed at compile time (the loop over it unrolls)."""
    if not 1 <= inputs <= MAX_INPUTS:
        raise ValueError(f"a fused first layer takes 1 to {MAX_INPUTS} inputs; got {inputs}")
    act = _scalar(activation)

    @numba.njit(cache=True, nogil=True)
    def kernel(weights, x, out):  # noqa: ANN001, ANN202  # pragma: no cover - compiled
        for m in range(weights.shape[0]):
            row = out[m]
            for j in range(x.shape[1]):
                acc = weights[m, 0]
                for k in range(inputs):
                    acc += weights[m, k + 1] * x[k, j]
                row[j] = act(acc)

    return kernel


@cache
def last_layer(activation: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    """``kernel(weights, h, out)``: out = b + W @ act(h), weights (C, 1 + K), h (K, N) the layer
    before's outputs without its activation, out (C, N) float32 (may be a strided view)."""
    act = _scalar(activation)

    @numba.njit(cache=True, nogil=True)
    def kernel(weights, h, out):  # noqa: ANN001, ANN202  # pragma: no cover - compiled
        for c in range(weights.shape[0]):
            row = out[c]
            for j in range(h.shape[1]):
                row[j] = weights[c, 0]
            for k in range(weights.shape[1] - 1):
                w = weights[c, k + 1]
                hk = h[k]
                for j in range(h.shape[1]):
                    row[j] += w * act(hk[j])

    return kernel
