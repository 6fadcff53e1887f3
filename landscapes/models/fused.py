"""Compiled (numba) layers that a GEMM would waste time on, for :mod:`landscapes.models.gemm`.

An MLP's first layer usually has a handful of inputs (two for the moons): as a GEMM with K = 3 it
writes its (features, samples) block at a fraction of the machine's rate, and the activation then
reads and writes the block again. Its last layer has one row (two-class outputs as z1 - z0) or a
few: a matrix-vector product reading the whole block of the layer before, just after the
activation pass wrote it. Here each is one pass: ``act(b + W @ x)`` for a small K, written once;
and ``b + W @ act(h)``, the activation applied on the fly, nothing written but the outputs.
(Measured on the moons MLP, 1500 samples: 33 -> 12 us and 21 -> 11 us per point.)
A CNN's first convolution at points on a plane is a combination of a few basis outputs: that
combination, the pooling and the activation are one pass too (:func:`pooled_combination`).

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
MAX_RANK = 4  # pooled_combination takes up to this many basis outputs (a 3-D slice: 4)


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


_POOLED = """
def kernel(z, coef, shift, out, first, col):
    _, _, channels, windows, n = z.shape
    for c in range(channels):
        for w in range(windows):
            for p in range(coef.shape[0]):
                row = out[p, first + c * windows + w, col : col + n]
                t = shift[p, c]
{coefficients}
                for j in range(n):
{body}
                    row[j] = {result}
"""


@cache
def pooled_combination(rank: int, positions: int, activation: str
                       ) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int], None]:
    """``kernel(z, coef, shift, out, first, col)``: a pooled layer's outputs at P points from
    ``rank`` basis outputs, out[p, first + c * W + w, col + j] =
    act(max over q of (shift[p, c] + sum over r of coef[p, c, r] * z[q, r, c, w, j])).

    z (positions, rank, C, W, n): pre-activation outputs of the basis, ``positions`` 1 (no
    pooling) or 4 (the 2x2 pooling window); coef (P, C, rank), shift (P, C); out (P, rows, m)
    C-contiguous, written at rows ``first``.. and columns ``col``..col + n; all float32. The max
    keeps NaN (as torch.maximum). The loops over ranks and positions are written out (generated
    source, compiled on first use, about 0.6 s): looped, or over arrays sliced per basis output,
    LLVM does not vectorize the sample loop (measured 2-5x slower).
    """
    if not 1 <= rank <= MAX_RANK or positions not in (1, 4):
        raise ValueError(f"a pooled combination takes 1 to {MAX_RANK} basis outputs and 1 or 4 "
                         f"pooling positions; got {rank} and {positions}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"no fused kernel for activation {activation!r}; have {ACTIVATIONS}")
    pad = " " * 16
    coefficients = "\n".join(f"{pad}k{r} = coef[p, c, {r}]" for r in range(rank))
    body = [f"{pad}    v{q} = t" + "".join(f" + k{r} * z[{q}, {r}, c, w, j]" for r in range(rank))
            for q in range(positions)]
    names = [f"v{q}" for q in range(positions)]
    for step in range(positions - 1):  # a pairwise max that keeps NaN: b if b > a or b is NaN
        a, b, *names = names
        body.append(f"{pad}    m{step} = {b} if ({b} > {a} or {b} != {b}) else {a}")
        names.append(f"m{step}")
    best = names[0]
    result = f"{best} if not {best} < zero else zero" if activation == "relu" else best
    source = _POOLED.format(coefficients=coefficients, body="\n".join(body), result=result)
    namespace = {"zero": np.float32(0.0)}
    exec(compile(source, f"<pooled_combination {rank} {positions} {activation}>", "exec"), namespace)  # noqa: S102
    return numba.njit(nogil=True)(namespace["kernel"])
