"""A compiled (numba) pass that GEMMs would waste time on, for :mod:`landscapes.networks.gemm`.

A CNN's first convolution at points on a plane is a combination of a few basis outputs: that
combination, the pooling and the activation are one pass here (:func:`pooled_combination`),
where torch would write and re-read the block once per step. Only CNNs load this module: numba's
import and its first kernel (loaded from the disk cache) cost about 0.6 s and 120 MiB in a new
process, more than compiled passes would save an MLP's slice of 10,000 points (measured).

The kernel comes serial or parallel (``prange`` over independent rows, on numba's threads):
:func:`threads` says which to use for torch's thread count, so that a two-thread process keeps
both cores busy in this pass too (serial, it was a fifth of a CNN slice's time, on one of two
cores). Both builds give the same bits: each output is summed by one thread, in one order. The
parallel one needs a thread-safe threading layer (TBB or OpenMP; numba's fallback, workqueue,
aborts the process on concurrent use) and a process that is not a fork of one whose OpenMP
threads had started (GNU OpenMP is not fork-safe: numba terminates such a child).

Sums run in float32, equal to torch's to float32 rounding. Activations keep NaN (a diverged
network stays NaN, as in torch). Kernels are compiled per (shape constants, activation,
parallel) the first time they are asked for, and cached on disk by numba: their closures hold
only numbers and flags, which numba's cache keys on (a closure over a compiled function missed
the cache in every new process, 0.2-0.6 s each, and added a cache entry each time).
"""

import importlib
import os
from collections.abc import Callable
from functools import cache
from typing import Any

import numba
import numpy as np
from numba import prange

ACTIVATIONS = ("identity", "relu")  # tanh and sigmoid as scalar libm calls: 100x slower than
# torch's vectorized ones, measured; those networks keep the GEMM and torch's activation
MAX_RANK = 4  # pooled_combination takes up to this many basis outputs (a 3-D slice: 4)
ZERO = np.float32(0.0)
SAFE_LAYERS = {"default": ("tbb", "omp"), "threadsafe": ("tbb", "omp"), "safe": ("tbb",),
               "tbb": ("tbb",), "omp": ("omp",)}  # numba's settings and the pools they may use
_POOL = {"started": False, "forked": False, "safe": None}
_CONFIG: Any = numba.config  # its settings are set at import, out of a type checker's sight


def _after_fork_in_child() -> None:
    _POOL["forked"] = _POOL["forked"] or _POOL["started"]


os.register_at_fork(after_in_child=_after_fork_in_child)


def _safe_layer() -> bool:
    """Whether numba's threading layer will be thread-safe: TBB or OpenMP loads (as numba picks
    them, in its order) under the layer configured (``NUMBA_THREADING_LAYER``)."""
    if _POOL["safe"] is None:
        _POOL["safe"] = any(_loads(name)
                            for name in SAFE_LAYERS.get(str(_CONFIG.THREADING_LAYER), ()))
    return bool(_POOL["safe"])


def _loads(layer: str) -> bool:
    """Whether numba's ``layer`` pool loads (its library, libgomp or libtbb, is there)."""
    try:
        importlib.import_module(f"numba.np.ufunc.{layer}pool")
    except ImportError:
        return False
    return True


def threads(count: int) -> bool:
    """Whether to run the parallel kernels on ``count`` threads (torch's thread count, so
    that numba and torch share the cores alike); sets numba's count for this thread if so."""
    if (count < 2 and not _POOL["started"]) or _POOL["forked"] or not _safe_layer():
        return False  # once started, the pool serves even one thread: serial kernels run
        # between torch's calls after the pool had started were 2-3x slower (measured)
    numba.set_num_threads(max(1, min(count, int(_CONFIG.NUMBA_NUM_THREADS))))
    _POOL["started"] = True
    return True


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
def _threaded(parallel):  # noqa: ANN001, ANN202  # pragma: no cover - compiled
    """Nothing: a kernel calls it so that its ``parallel`` flag is in its closure, which numba's
    disk cache keys on (else the serial and parallel builds would share one cache entry)."""


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
def pooled_combination(rank: int, positions: int, activation: str, parallel: bool = False
                       ) -> Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int], None]:
    """``kernel(z, coef, shift, out, first, col)``: a pooled layer's outputs at P points from
    ``rank`` basis outputs, out[p, first + c * W + w, col + j] =
    act(max over q of (shift[p, c] + sum over r of coef[p, c, r] * z[q, r, c, w, j])).

    z (positions, rank, C, W, n): pre-activation outputs of the basis, ``positions`` 1 (no
    pooling) or 4 (the 2x2 pooling window); coef (P, C, rank), shift (P, C); out (P, rows, m)
    C-contiguous, written at rows ``first``.. and columns ``col``..col + n; all float32. The max
    keeps NaN (as torch.maximum). ``rank`` and ``positions`` are fixed at compile time. The
    output row is sliced from 0: indexed as ``out[p, row, col + j]``, numba's negative-index
    test kept the sample loop from vectorizing (10x slower, measured). ``parallel``: (channel,
    window) rows spread over numba's threads (:func:`threads`).
    """
    if not 1 <= rank <= MAX_RANK or positions not in (1, 4):
        raise ValueError(f"a pooled combination takes 1 to {MAX_RANK} basis outputs and 1 or 4 "
                         f"pooling positions; got {rank} and {positions}")
    relu = _relu_flag(activation)

    @numba.njit(cache=True, nogil=True, parallel=parallel)
    def kernel(z, coef, shift, out, first, col):  # noqa: ANN001, ANN202  # pragma: no cover
        _, _, channels, windows, n = z.shape
        _threaded(parallel)
        for cw in prange(channels * windows):
            c, w = cw // windows, cw % windows
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

