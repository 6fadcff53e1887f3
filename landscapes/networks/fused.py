"""A compiled (numba) pass that GEMMs would waste time on, for :mod:`landscapes.networks.gemm`.

A CNN's first convolution at points on a plane is a combination of a few basis outputs: that
combination, the pooling and the activation are one pass here (:func:`pooled_combination`),
where torch would write and re-read the block once per step. Only CNNs load this module (numba
and the scipy it pulls in cost about a second of start-up); an MLP's layers are batched GEMMs.

Sums run in float32, equal to torch's to float32 rounding. Activations keep NaN (a diverged
network stays NaN, as in torch). Kernels are compiled per (rank, positions, activation) the
first time they are asked for, and cached on disk by numba: their closures hold only numbers
and flags, which numba's cache keys on (a closure over a compiled function missed the cache in
every new process, 0.2-0.6 s each, and added a cache entry each time).
"""

from collections.abc import Callable
from functools import cache

import numba
import numpy as np

ACTIVATIONS = ("identity", "relu")  # tanh and sigmoid as scalar libm calls: 100x slower than
# torch's vectorized ones, measured; those networks keep the GEMM and torch's activation
MAX_RANK = 4  # pooled_combination takes up to this many basis outputs (a 3-D slice: 4)
ZERO = np.float32(0.0)


def _relu_flag(activation: str) -> bool:
    if activation not in ACTIVATIONS:
        raise ValueError(f"no fused kernel for activation {activation!r}; have {ACTIVATIONS}")
    return activation == "relu"


@numba.njit(cache=True, nogil=True, inline="always")
def _act(v, relu):  # noqa: ANN001, ANN202  # pragma: no cover - compiled
    """ReLU (NaN stays NaN) if ``relu``, else the identity; ``relu`` is a compile-time flag."""
    if relu:
        return v if not v < ZERO else ZERO
    return v


@numba.njit(cache=True, nogil=True, inline="always")
def _larger(a, b):  # noqa: ANN001, ANN202  # pragma: no cover - compiled
    """max(a, b) that keeps NaN, as torch.maximum."""
    return b if (b > a or b != b) else a


@numba.njit(cache=True, nogil=True, inline="always")
def _combined(z, q, c, w, j, k0, k1, k2, k3, t, rank):  # noqa: ANN001, ANN202  # pragma: no cover - compiled
    """t + sum over r < rank of k_r * z[q, r, c, w, j]; ``rank`` is a compile-time constant."""
    v = t + k0 * z[q, 0, c, w, j]
    if rank > 1:
        v += k1 * z[q, 1, c, w, j]
    if rank > 2:
        v += k2 * z[q, 2, c, w, j]
    if rank > 3:
        v += k3 * z[q, 3, c, w, j]
    return v


@cache
def pooled_combination(rank: int, positions: int, activation: str
                       ) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int], None]:
    """``kernel(z, coef, shift, out, first, col)``: a pooled layer's outputs at P points from
    ``rank`` basis outputs, out[p, first + c * W + w, col + j] =
    act(max over q of (shift[p, c] + sum over r of coef[p, c, r] * z[q, r, c, w, j])).

    z (positions, rank, C, W, n): pre-activation outputs of the basis, ``positions`` 1 (no
    pooling) or 4 (the 2x2 pooling window); coef (P, C, rank), shift (P, C); out (P, rows, m)
    C-contiguous, written at rows ``first``.. and columns ``col``..col + n; all float32. The max
    keeps NaN (as torch.maximum). ``rank`` and ``positions`` are fixed at compile time. The
    output row is sliced from 0: indexed as ``out[p, row, col + j]``, numba's negative-index
    test kept the sample loop from vectorizing (10x slower, measured).
    """
    if not 1 <= rank <= MAX_RANK or positions not in (1, 4):
        raise ValueError(f"a pooled combination takes 1 to {MAX_RANK} basis outputs and 1 or 4 "
                         f"pooling positions; got {rank} and {positions}")
    relu = _relu_flag(activation)

    @numba.njit(cache=True, nogil=True)
    def kernel(z, coef, shift, out, first, col):  # noqa: ANN001, ANN202  # pragma: no cover
        _, _, channels, windows, n = z.shape
        for c in range(channels):
            for w in range(windows):
                for p in range(coef.shape[0]):
                    row = out[p, first + c * windows + w, col : col + n]
                    t = shift[p, c]
                    k0 = coef[p, c, 0]
                    k1 = coef[p, c, 1] if rank > 1 else ZERO
                    k2 = coef[p, c, 2] if rank > 2 else ZERO
                    k3 = coef[p, c, 3] if rank > 3 else ZERO
                    for j in range(n):
                        best = _combined(z, 0, c, w, j, k0, k1, k2, k3, t, rank)
                        for q in range(1, positions):
                            best = _larger(best, _combined(z, q, c, w, j, k0, k1, k2, k3, t, rank))
                        row[j] = _act(best, relu)

    return kernel
