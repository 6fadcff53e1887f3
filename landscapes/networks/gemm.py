"""Fast evaluation of a network at many points: each point as a few GEMMs (the ``gemm`` method).

Used by :class:`landscapes.networks.landscape.NetworkLandscape` for the zoo's MLPs and CNNs: per
point only GEMMs over (features, samples) blocks that stay in cache (an MLP's batched over a tile
of points, one call per layer), and a few elementwise passes; BatchNorm (eval mode, buffers
explicit) is folded into the convolutions; 2x2 pooling is a max/mean over pooling-window slabs;
the first convolution's inputs are prepared once from the data and its weights stacked for
several points at a time. Results equal the reference forward pass (``loop``) to float32
rounding (tests/unit/test_network_eval.py). Units as in :mod:`landscapes.networks.landscape`.
"""

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from landscapes.chunks import OneThread
from landscapes.networks.architectures import ParameterLayout

GROUP = 64  # points evaluated together (their weights and outputs are held at once)
GROUP_FLOATS = 1 << 22  # ... and at most this many outputs (points x outputs x samples): 16 MB
WEIGHT_FLOATS = 1 << 24  # ... and weight matrices (points x index entries): 64 MB
CHUNK_FLOATS = 1 << 18  # a per-point working block of one data chunk: 1 MB, stays in L2
STACK_CHUNK_FLOATS = 1 << 20  # a CNN's working blocks for a stack of points on one chunk: 4 MB
TILE_FLOATS = 1 << 20  # an MLP layer's block for a tile of points on one chunk: 4 MB
STACK_FLOATS = 1 << 17  # a slab of the first convolution for a stack of points: 512 KB
COLUMN_FLOATS = 1 << 24  # the first convolution's im2col columns, built once: 64 MB
MAX_INDEX = 1 << 22  # weight-assembly index entries per point; above this, use the loop
STACK_ROWS = 64  # stack points in the first convolution until its GEMM has this many rows
SLAB_CLASSES = 16  # up to this many outputs, reduce over classes slab by slab
RANK_TOLERANCE = 1e-6  # a point's first-layer weights from basis matrices: error / channel size
MONOTONE = ("relu", "tanh", "sigmoid", "softplus", "elu")  # commute with max-pooling


def _whole(batch: int) -> contextlib.AbstractContextManager:
    """One torch thread for a GEMM of ``batch`` matrices fewer than torch's threads (a no-op
    otherwise): MKL splits such a GEMM's sums over its threads, so it sums in another order on
    one thread than on two (measured: a single point's last layer), where a batch of at least
    as many matrices as threads gives each matrix to one thread whole. Results then have the
    same bits on any thread count -- on a worker sharing a view, the dashboard's one thread, the
    command line's two. Costs 0.2 us a call."""
    return OneThread() if batch < torch.get_num_threads() else contextlib.nullcontext()


class TooLarge(Exception):
    """The index tables of a GEMM program would exceed MAX_INDEX: use the reference loop."""


def buffers_equal(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(a[k] is b[k] or torch.equal(a[k], b[k]) for k in a)


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The zoo's activation, applied in place."""
    inplace = {"relu": torch.relu_, "tanh": torch.tanh_, "sigmoid": torch.sigmoid_,
               "elu": nn.functional.elu_}
    if name in inplace:
        return inplace[name]
    fn = cast(Callable[[torch.Tensor], torch.Tensor],
              {"softplus": nn.functional.softplus, "gelu": nn.functional.gelu}[name])
    return lambda t: t.copy_(fn(t))


def scores(z: torch.Tensor, targets: torch.Tensor, splits: list[tuple[int, int]],
            classify: bool) -> np.ndarray:
    """(B, K) metrics from network outputs ``z`` (B, C, N): the loss on each split (a range of
    samples), then the accuracy on each split (classification).

    Cross-entropy as ``log sum exp(z - max) - (z[y] - max)``, log_softmax's order (terms below
    exp(-80) of the largest are dropped, which keeps exp out of slow denormals); accuracy with
    argmax's rule (the first of tied outputs). Sums in float32 like ``cross_entropy``'s mean,
    divided in float64.
    """
    b, c, total = z.shape
    if not classify:  # mean squared error over samples and outputs; targets (C, N)
        sq = (z - targets).square_()
        return np.stack([sq[..., lo:hi].sum((1, 2)).double().numpy() / ((hi - lo) * c)
                         for lo, hi in splits], 1)
    if c > SLAB_CLASSES:
        top = z.amax(1)
        total_exp = (z - top[:, None]).clamp_min_(-80.0).exp_().sum(1)
        pick = z.gather(1, targets.expand(b, 1, total))[:, 0]
    else:  # a reduction over a short middle axis copies: go class by class
        slabs = z.unbind(1)
        top = slabs[0] if c == 1 else torch.maximum(slabs[0], slabs[1])
        for slab in slabs[2:]:
            torch.maximum(top, slab, out=top)
        total_exp, tmp = torch.zeros_like(top), torch.empty_like(top)
        pick = slabs[0].clone()
        for k, slab in enumerate(slabs):
            torch.sub(slab, top, out=tmp).clamp_min_(-80.0).exp_()
            total_exp.add_(tmp)
            if k:
                torch.where(targets == k, slab, pick, out=pick)
    # a tie for the largest output puts two exact 1s into total_exp: only then look for ties
    tied = c > 1 and float(total_exp.max()) >= 2.0
    tied = tied and int(torch.count_nonzero(z == top[:, None])) != b * total
    hit = z.argmax(1) == targets if tied else pick == top
    loss = total_exp.log_().sub_(pick.sub_(top))  # log_softmax's order: exact 0 at the top
    losses = [loss[:, lo:hi].sum(1).double().numpy() / (hi - lo) for lo, hi in splits]
    hits = [torch.count_nonzero(hit[:, lo:hi], 1).numpy() / (hi - lo) for lo, hi in splits]
    return np.stack(losses + hits, 1)


def binary_scores(d: torch.Tensor, sign: torch.Tensor, label0: torch.Tensor,
                   splits: list[tuple[int, int]]) -> np.ndarray:
    """:func:`_scores` of a two-output classifier from ``d`` = z1 - z0 (B, N).

    Cross-entropy is softplus(u) with u = z[other] - z[y] = ``sign`` * d (``sign`` = 1 - 2y),
    u kept above -80 (below, softplus is under 2e-35; exp would go into slow denormals); argmax
    picks class 1 when d > 0, class 0 on a tie.
    """
    u = d * sign
    hit = u < 0
    if int(torch.count_nonzero(u)) != u.numel():  # a tie: right for label 0
        hit |= (u == 0) & label0
    loss = nn.functional.softplus(u.clamp_min_(-80.0))
    losses = [loss[:, lo:hi].sum(1).double().numpy() / (hi - lo) for lo, hi in splits]
    hits = [torch.count_nonzero(hit[:, lo:hi], 1).numpy() / (hi - lo) for lo, hi in splits]
    return np.stack(losses + hits, 1)


@dataclass
class _Basis:
    """A CNN's first convolution at B points from ``rank`` basis weight matrices (points on a
    line, a plane or a 3-D slice): channel c of point p is ``coef[p, c] @ basis outputs + shift``.

    ``matrices`` (rank * C, K) float32: the basis [W | b - running mean] per channel (rows r * C +
    c); ``coef`` (B, C, rank) float32: each point's combination times its BatchNorm scale;
    ``shift`` (B, C) float32: the BatchNorm shift (0 without BatchNorm).
    """

    matrices: torch.Tensor
    coef: np.ndarray
    shift: np.ndarray
    kernel: Callable


@dataclass
class _Layer:
    """One layer of a :class:`GemmProgram`.

    ``index`` (G, M, K) picks each point's weight matrices out of its source vector (parameters
    with BatchNorm folded in, then a 0). ``gather`` (G * K,) picks the input
    rows of G pooling windows (None: a dense layer, or the first convolution, whose columns are
    built once). Results (G, Q, C, m) pool Q positions into ``rows`` = G * C output features.
    """

    index: torch.Tensor
    gather: torch.Tensor | None
    q: int
    channels: int
    pool: str
    act: bool
    act_first: bool
    rows: int


class GemmProgram:
    """A zoo network evaluated as GEMMs over (features, samples) float32 blocks.

    Every activation block has a row of zeros (row 0, for padding), a row of ones (row 1, for
    biases) and then one row per feature, one column per sample; the data are cut into chunks
    of columns so that a block stays in cache. Per point, a dense layer is ``[b | W] @ block[1:]``.
    Convolutions carry their BatchNorm (eval mode) folded into weights and bias. The first
    convolution's im2col columns depend only on the data and are built once, one slab per
    position in the 2x2 pooling window; its weights are stacked for several points, so one GEMM
    per slab serves them all, and max-pooling is an elementwise max of the slabs. Later
    convolutions gather, for each pooling window, the input rows its receptive field covers and
    multiply by a per-window block matrix (a batched GEMM whose rows are (position, channel)),
    for the whole stack of points in one call (batched over (point, window)), as is the last
    layer; the stack's blocks of one data chunk are sized together (STACK_CHUNK_FLOATS).
    Monotone activations are applied after pooling (they commute with max), others before.
    When the points of a call lie on a line, a plane or a 3-D slice, the first convolution is
    linear in them: its outputs at a few basis points (one GEMM per slab for all the points), and
    per point one compiled pass combines, pools and activates them (:meth:`_first_basis`,
    :mod:`landscapes.networks.fused`: numba, loaded only for CNNs). An MLP runs a tile of points
    per call: each layer one batched GEMM over the tile (:meth:`_mlp`). Fewer, larger calls are
    what lets torch's threads share the work (a per-point GEMM of this size gains nothing from a
    second thread, measured).
    Workspaces are kept between calls (fresh large buffers cost page faults), under a lock.
    """

    def __init__(self, arch: dict, module: nn.Module, layout: ParameterLayout, x: torch.Tensor,
                 binary: bool = False):
        self.act = _activation(arch["act"])
        self.kind = arch["type"]
        self.act_name = arch["act"]
        offsets = np.cumsum([0, *layout.sizes])
        self.offset = dict(zip(layout.names, offsets[:-1].tolist(), strict=True))
        self.shapes = dict(zip(layout.names, layout.shapes, strict=True))
        self.dim = self.zero = int(offsets[-1])  # the source vector's 0 follows the parameters
        self.samples = n = len(x)
        self.folds: list[tuple[str, str, float]] = []  # (conv, batchnorm, eps)
        self.first_norm: tuple[str, float] | None = None  # the first convolution's (batchnorm, eps)
        self.layers: list[_Layer] = []
        rows = x.reshape(n, -1).T.to(torch.float32)
        self.x = torch.cat([torch.zeros(1, n), torch.ones(1, n), rows]).contiguous()
        self.stack = 1
        if self.kind == "mlp":
            linears = [name for name, m in module.named_children() if isinstance(m, nn.Linear)]
            for k, name in enumerate(linears):
                self.layers.append(self._dense(name, None, act=k < len(linears) - 1))
            per_sample = 0
        else:
            per_sample = self._build_cnn(arch, module)
        self.binary = binary and self.layers[-1].rows == 2
        self.outputs = 1 if self.binary else self.layers[-1].rows
        widest = max(per_sample, *(lay.rows + 2 for lay in self.layers))
        if self.kind == "cnn":  # a stack's blocks of a chunk (16 samples at least) stay bounded
            self.stack = max(1, min(self.stack, STACK_CHUNK_FLOATS // (16 * widest)))
        budget = CHUNK_FLOATS if self.kind == "mlp" else STACK_CHUNK_FLOATS // self.stack
        count = -(-n // max(16, budget // widest))
        self.chunk = -(-n // count)  # balanced chunks
        self.spans = [(a, min(a + self.chunk, n)) for a in range(0, n, self.chunk)]
        if self.kind == "cnn":
            self._first_slabs()
        # an MLP runs a tile of points at a time, each layer one batched GEMM over the tile
        self.tile = max(1, TILE_FLOATS // (max(lay.rows for lay in self.layers) * self.chunk))
        entries = sum(lay.index.numel() for lay in self.layers)
        self.group = max(1, min(GROUP, GROUP_FLOATS // (self.outputs * n), WEIGHT_FLOATS // entries))
        self._lock = threading.Lock()
        self._space: dict = {}

    # ---- building

    def _weight(self, name: str, co, ci, ky, kx):
        _, c_in, k, _ = self.shapes[name]
        return self.offset[name] + ((co * c_in + ci) * k + ky) * k + kx

    def _dense(self, name: str, order: np.ndarray | None, act: bool) -> _Layer:
        """``[b | W]`` (out, in + 1) for an input block whose feature r is torch's input
        ``order[r]`` (None: the same order)."""
        out_f, in_f = self.shapes[f"{name}.weight"]
        w, b = self.offset[f"{name}.weight"], self.offset[f"{name}.bias"]
        idx = np.empty((1, out_f, in_f + 1), dtype=np.int64)
        idx[0, :, 0] = b + np.arange(out_f)
        idx[0, :, 1:] = w + np.arange(out_f)[:, None] * in_f + (np.arange(in_f) if order is None
                                                                 else order)
        return _Layer(torch.as_tensor(idx), None, 1, out_f, "none", act, False, out_f)

    def _build_cnn(self, arch: dict, module: nn.Module) -> int:
        """The layers of a CNN; returns the widest per-point work buffer (floats per sample)."""
        children = list(module.named_children())
        convs = [name for name, m in children if isinstance(m, nn.Conv2d)]
        norms = {name: m for name, m in children if isinstance(m, nn.BatchNorm2d)}
        linear = next(name for name, m in children if isinstance(m, nn.Linear))
        c_in, size, k, pool = arch["in_channels"], arch["image_size"], arch["kernel"], arch["pool"]
        pad = k // 2
        q_pos = [(0, 0)] if pool == "none" else [(0, 0), (0, 1), (1, 0), (1, 1)]
        act_first = pool == "avg" or arch["act"] not in MONOTONE
        order = np.arange(c_in * size * size).reshape(c_in, size, size)  # block row - 2
        per_sample = 0
        for li, conv in enumerate(convs):
            c_out = self.shapes[f"{conv}.weight"][0]
            norm = str(int(conv) + 1)
            if norm in norms:
                self.folds.append((conv, norm, float(norms[norm].eps)))
            out = size + 2 * pad - k + 1
            nxt = out if pool == "none" else out // 2
            step = 1 if pool == "none" else 2
            wins = [(step * y, step * x) for y in range(nxt) for x in range(nxt)]
            if li == 0:
                self.first_norm = (norm, float(norms[norm].eps)) if norm in norms else None
                layer = self._first_conv(conv, c_in, size, k, pad, wins, q_pos, order, pool,
                                         act_first)
                self.stack = max(1, -(-STACK_ROWS // c_out))
                new_order = np.arange(c_out)[:, None] * len(wins) + np.arange(len(wins))
            else:
                layer = self._window_conv(conv, c_in, size, k, pad, wins, q_pos, order, pool,
                                          act_first)
                assert layer.gather is not None  # a window convolution always gathers
                per_sample = max(per_sample, layer.gather.numel(), layer.index[..., 0].numel())
                new_order = np.arange(len(wins))[None, :] * c_out + np.arange(c_out)[:, None]
            self.layers.append(layer)
            order = new_order.reshape(c_out, nxt, nxt)
            c_in, size = c_out, nxt
        # torch flattens (c, y, x); feature r of our last block is torch's feature torch_of[r]
        torch_of = np.empty(order.size, dtype=np.int64)
        torch_of[order.ravel()] = np.arange(order.size)
        self.layers.append(self._dense(linear, torch_of, act=False))
        return per_sample

    def _first_conv(self, conv: str, c_in: int, size: int, k: int, pad: int, wins: list,
                    q_pos: list, order: np.ndarray, pool: str, act_first: bool) -> _Layer:
        """im2col rows (ci, ky, kx, then ones) of the data for each (q, window) position."""
        w = f"{conv}.weight"
        c_out = self.shapes[w][0]
        kk = c_in * k * k + 1
        if kk * len(wins) * len(q_pos) * self.samples > COLUMN_FLOATS:
            raise TooLarge("the first convolution's columns would not fit")
        ci, ky, kx = (a.ravel() for a in np.meshgrid(np.arange(c_in), np.arange(k), np.arange(k),
                                                       indexing="ij"))
        gather = np.zeros((len(q_pos), kk, len(wins)), dtype=np.int64)  # row 0: zeros
        for qi, (qy, qx) in enumerate(q_pos):
            for wi, (wy, wx) in enumerate(wins):
                y, x = wy + qy + ky - pad, wx + qx + kx - pad
                inside = (y >= 0) & (y < size) & (x >= 0) & (x < size)
                rows = 2 + order[ci, y.clip(0, size - 1), x.clip(0, size - 1)]
                gather[qi, :-1, wi] = np.where(inside, rows, 0)
        gather[:, -1] = 1  # ones
        index = np.empty((1, c_out, kk), dtype=np.int64)
        index[0, :, :-1] = self._weight(w, np.arange(c_out)[:, None], ci, ky, kx)
        index[0, :, -1] = self.offset[f"{conv}.bias"] + np.arange(c_out)
        self.first_gather = torch.as_tensor(gather.ravel())
        self.first_shape = (len(q_pos), kk, len(wins))
        return _Layer(torch.as_tensor(index), None, len(q_pos), c_out, pool, True, act_first,
                      c_out * len(wins))

    def _first_slabs(self) -> None:
        """Per chunk: sub-chunks (a, b) and their columns (Q, K, windows * (b - a))."""
        q, kk, wins = self.first_shape
        first = self.layers[0]
        width = max(8, STACK_FLOATS // (self.stack * first.channels * wins))
        self.slabs = []
        for a0, b0 in self.spans:
            subs = []
            for a in range(a0, b0, width):
                b = min(a + width, b0)
                cols = self.x[:, a:b].index_select(0, self.first_gather).view(q, kk, wins * (b - a))
                subs.append((a - a0, b - a0, cols))
            self.slabs.append(subs)
        self.slab_width = width

    def _window_conv(self, conv: str, c_in: int, size: int, k: int, pad: int, wins: list,
                     q_pos: list, order: np.ndarray, pool: str, act_first: bool) -> _Layer:
        w = f"{conv}.weight"
        c_out = self.shapes[w][0]
        supports = []
        for wy, wx in wins:
            cover = {(wy + qy + ky - pad, wx + qx + kx - pad)
                     for qy, qx in q_pos for ky in range(k) for kx in range(k)}
            supports.append(sorted((y, x) for y, x in cover if 0 <= y < size and 0 <= x < size))
        kk = max(len(s) for s in supports) * c_in + 1
        if len(wins) * len(q_pos) * c_out * kk > MAX_INDEX:
            raise TooLarge("the convolution's block matrices would be too large")
        gather = np.zeros((len(wins), kk), dtype=np.int64)  # row 0: zeros
        gather[:, -1] = 1  # ones
        index = np.full((len(wins), len(q_pos) * c_out, kk), self.zero, dtype=np.int64)
        index[:, :, -1] = np.tile(self.offset[f"{conv}.bias"] + np.arange(c_out), len(q_pos))
        co, ci = np.arange(c_out)[:, None], np.arange(c_in)[None, :]
        for wi, ((wy, wx), support) in enumerate(zip(wins, supports, strict=True)):
            for si, (y, x) in enumerate(support):
                cols = slice(si * c_in, (si + 1) * c_in)
                gather[wi, cols] = 2 + order[:, y, x]
                for qi, (qy, qx) in enumerate(q_pos):
                    ky, kx = y - wy - qy + pad, x - wx - qx + pad
                    if 0 <= ky < k and 0 <= kx < k:
                        index[wi, qi * c_out : (qi + 1) * c_out, cols] = self._weight(w, co, ci, ky, kx)
        return _Layer(torch.as_tensor(index), torch.as_tensor(gather.ravel()), len(q_pos), c_out,
                      pool, True, act_first, len(wins) * c_out)

    # ---- running

    def _workspace(self) -> dict:
        """Buffers for ``group`` points, made once (fresh large buffers cost page faults)."""
        if not self._space:
            g, m = self.group, self.chunk
            space: dict = {"mats": [torch.empty(g, *lay.index.shape) for lay in self.layers]}
            if self.kind == "mlp":  # two tiles in turn for the hidden layers, one for the last
                widest = max(lay.rows for lay in self.layers[:-1]) if len(self.layers) > 1 else 0
                space["tiles"] = [torch.empty(self.tile * widest * m),
                                  torch.empty(self.tile * widest * m),
                                  torch.empty(self.tile * self.layers[-1].rows * m)]
            if self.binary:
                space["diff"] = torch.empty(g, 1, self.layers[-1].index.shape[2])
            space["work"] = [None if lay.gather is None else
                             (torch.empty(self.stack * lay.gather.numel() * m),
                              torch.empty(self.stack * lay.index[..., 0].numel() * m))
                             for lay in self.layers]
            if self.kind == "cnn":
                from landscapes.networks import fused  # numba: only CNNs load it

                # per layer, a stack of points' (zeros, ones, features) blocks
                space["blocks"] = [None] + [torch.zeros(self.stack, lay.rows + 2, m)
                                            for lay in self.layers[1:-1]]
                for block in space["blocks"][1:]:
                    block[:, 1] = 1.0
                space["src"] = torch.zeros(g, self.dim + 1)
                space["last"] = torch.empty(self.stack * self.outputs * m)
                first = self.layers[0]
                space["stacked"] = torch.zeros(self.stack, first.rows + 2, m)
                space["stacked"][:, 1] = 1.0
                slab = self.stack * first.channels * self.first_shape[2] * self.slab_width
                space["slab"] = (torch.empty(slab), torch.empty(slab))
                q, kk, wins = self.first_shape
                space["basis"] = torch.empty(q * fused.MAX_RANK * first.channels * wins * m)
            self._space = space
        return self._space

    def sources(self, flat: torch.Tensor, buffers: Mapping[str, torch.Tensor],
                src: torch.Tensor) -> torch.Tensor:
        """(B, D + 1): the points' parameters with BatchNorm folded into the convolutions, then 0."""
        src[:, : self.dim].copy_(flat)
        for conv, norm, eps in self.folds:
            w, b = self.offset[f"{conv}.weight"], self.offset[f"{conv}.bias"]
            g, beta = self.offset[f"{norm}.weight"], self.offset[f"{norm}.bias"]
            c = self.shapes[f"{conv}.weight"][0]
            size = int(np.prod(self.shapes[f"{conv}.weight"]))
            var = buffers[f"{norm}.running_var"].to(torch.float32)
            scale = flat[:, g : g + c] / torch.sqrt(var + eps)
            src[:, w : w + size].view(len(flat), c, -1).mul_(scale[:, :, None])
            mean = buffers[f"{norm}.running_mean"].to(torch.float32)
            src[:, b : b + c].sub_(mean).mul_(scale).add_(flat[:, beta : beta + c])
        return src

    def _matrices(self, lay: _Layer, src: torch.Tensor, mats: torch.Tensor) -> torch.Tensor:
        """(B, G, M, K): each point's weight matrices for ``lay``, written into ``mats``."""
        mats = mats[: len(src)]
        torch.index_select(src, 1, lay.index.view(-1), out=mats.view(len(src), -1))
        return mats

    def evaluate(self, points: torch.Tensor, buffers: Mapping[str, torch.Tensor],
                 score: Callable[[torch.Tensor], np.ndarray]) -> np.ndarray:
        """``score`` of the network outputs (B, C, N) at ``points`` (P, D), B points at a time."""
        group = self.group
        rows = []
        with self._lock:
            space = self._workspace()
            if "z" not in space:
                space["z"] = torch.empty(group, self.outputs, self.samples)
            for start in range(0, len(points), group):
                flat = points[start : start + group]
                z = space["z"][: len(flat)]
                self.run(flat, buffers, z)
                rows.append(score(z))
        return np.concatenate(rows)

    def run(self, flat: torch.Tensor, buffers: Mapping[str, torch.Tensor], out: torch.Tensor
            ) -> torch.Tensor:
        """Network outputs (B, C, N) at B <= ``group`` points ``flat`` (B, D), into ``out``
        (with ``binary``: (B, 1, N), the second output minus the first). Callers hold the lock."""
        assert len(flat) <= self.group
        space = self._workspace()
        src = flat  # dense layers never use the source's 0
        if self.kind == "cnn":
            src = self.sources(flat, buffers, space["src"][: len(flat)])
        full = [self._matrices(lay, src, m) for lay, m in zip(self.layers, space["mats"], strict=True)]
        last_mats = full[-1][:, 0]
        if self.binary:  # (B, 1, K): [b1 - b0 | w1 - w0]
            last_mats = torch.sub(last_mats[:, 1:], last_mats[:, :1], out=space["diff"][: len(flat)])
        if self.kind == "mlp":
            self._mlp([m[:, 0] for m in full[:-1]] + [last_mats], space, out)
            return out
        stack = self.stack  # a CNN: each layer for a stack of points at once
        basis = self._first_basis(flat, buffers)
        for ci, (a, b) in enumerate(self.spans):
            w = b - a
            outputs = self._basis_outputs(basis, space, ci) if basis else []
            for start in range(0, len(flat), stack):
                group = range(start, min(start + stack, len(flat)))
                if basis:
                    self._combined_first(basis, outputs, space, group, w)
                else:
                    self._stacked_first(space, full[0][start : group.stop], ci, w)
                block = space["stacked"][: len(group), :, :w]
                for li in range(1, len(self.layers) - 1):
                    into = space["blocks"][li][: len(group), :, :w]
                    self._window(self.layers[li], full[li][start : group.stop], block,
                                 space["work"][li], into[:, 2:], w)
                    block = into
                dst = out[start : group.stop, :, a:b]
                with _whole(len(group)):
                    if w == self.samples:
                        torch.bmm(last_mats[start : group.stop], block[:, 1:], out=dst)
                    else:  # into a contiguous block: a strided output changes the GEMM's bits
                        # with the thread count (its matrices split over threads, measured)
                        res = space["last"][: dst.numel()].view(dst.shape)
                        dst.copy_(torch.bmm(last_mats[start : group.stop], block[:, 1:], out=res))
        return out

    def _mlp(self, weights: list[torch.Tensor], space: dict, out: torch.Tensor) -> None:
        """The MLP at B points into ``out`` (B, C, N): per chunk of samples and tile of points,
        each layer one GEMM over the tile's points, then the activation in place. ``weights``
        per layer: the points' weight matrices ``[b | W]`` (B, M, K).

        Each layer is a batched ``b + W @ h`` (baddbmm; the first layer's input is the data,
        shared by the tile's points). Blocks (points, features, samples) are contiguous -- a
        strided output keeps torch's batched GEMM on one thread -- and sized to stay in cache
        (TILE_FLOATS); each call spreads the tile's points over torch's threads, so one call
        does the work a per-point loop did in ``tile`` calls.
        """
        hidden = len(self.layers) - 1
        for a, b in self.spans:
            w = b - a
            x = self.x[2:, a:b]  # the inputs (features, samples)
            for t0 in range(0, len(out), self.tile):
                t1 = min(t0 + self.tile, len(out))
                h = x.expand(t1 - t0, *x.shape)
                for li, layer in enumerate(weights):
                    mats = layer[t0:t1]
                    rows = mats.shape[1]
                    if li == hidden and w == self.samples:
                        dst = out[t0:t1]  # contiguous: the last layer writes the outputs
                    else:
                        buf = space["tiles"][2 if li == hidden else li % 2]
                        dst = buf[: (t1 - t0) * rows * w].view(t1 - t0, rows, w)
                    with _whole(t1 - t0):
                        torch.baddbmm(mats[:, :, :1], mats[:, :, 1:], h, out=dst)
                    if li < hidden:
                        self.act(dst)
                    h = dst
                if w != self.samples:
                    out[t0:t1, :, a:b] = h

    def _stacked_first(self, space: dict, mats: torch.Tensor, ci: int, w: int) -> None:
        """The first convolution for a stack of points: one GEMM per pooling slab."""
        lay = self.layers[0]
        s = len(mats)
        wst = mats.view(s * lay.channels, lay.index.shape[2])
        wins = self.first_shape[2]
        acc_buf, tmp_buf = space["slab"]
        for a, b, cols in self.slabs[ci]:
            width = b - a
            n_el = s * lay.channels * wins * width
            acc = acc_buf[:n_el].view(s * lay.channels, wins * width)
            tmp = tmp_buf[:n_el].view(s * lay.channels, wins * width)
            dst = space["stacked"][:s, 2:, a:b].view(s, lay.channels, wins, width)
            shape = (s, lay.channels, wins, width)
            with _whole(1):
                torch.mm(wst, cols[0], out=acc)
            if lay.act_first:
                self.act(acc)
            for q in range(1, lay.q):
                with _whole(1):
                    torch.mm(wst, cols[q], out=tmp)
                if lay.act_first:
                    self.act(tmp)
                target = dst if q == lay.q - 1 else acc.view(shape)
                if lay.pool == "max":
                    torch.maximum(acc.view(shape), tmp.view(shape), out=target)
                else:
                    torch.add(acc.view(shape), tmp.view(shape), out=target)
            if lay.q == 1:
                dst.copy_(acc.view(shape))
            elif lay.pool == "avg":
                dst.mul_(1.0 / lay.q)
            if not lay.act_first:
                self.act(dst)

    def _first_basis(self, flat: torch.Tensor, buffers: Mapping[str, torch.Tensor]
                     ) -> _Basis | None:
        """The first convolution at the points ``flat`` (B, D) from at most ``fused.MAX_RANK``
        basis weight matrices, or None: an MLP, a first layer that activates before it pools
        (the kernel pools, then activates), or points not on a line, plane or 3-D slice.

        Per channel, a point's [W | b - running mean] (float64) is taken from an SVD of all B of
        them: the smallest rank whose every channel is reproduced within RANK_TOLERANCE of that
        channel's largest norm over the points. Points formed in float64 on a plane and rounded
        to float32 are within about 1e-7 of rank 3.
        """
        lay = self.layers[0]
        if self.kind != "cnn" or (lay.act_first and lay.q > 1):
            return None
        from landscapes.networks import fused  # numba: only CNNs load it

        b, c, kk = len(flat), lay.channels, lay.index.shape[2]
        a = flat[:, lay.index.view(-1)].double().view(b, c, kk)
        scale, shift = torch.ones(b, c, dtype=torch.float64), torch.zeros(b, c)
        if self.first_norm is not None:
            norm, eps = self.first_norm
            g, beta = self.offset[f"{norm}.weight"], self.offset[f"{norm}.bias"]
            a[:, :, -1] -= buffers[f"{norm}.running_mean"].double()
            var = buffers[f"{norm}.running_var"].double()
            scale = flat[:, g : g + c].double() / torch.sqrt(var + eps)
            shift = flat[:, beta : beta + c]
        if not (torch.isfinite(a).all() and torch.isfinite(scale).all()):
            return None
        with _whole(1):  # LAPACK's threads would change the basis's last bits
            u, sv, vt = torch.linalg.svd(a.view(b, c * kk), full_matrices=False)
        size = a.norm(dim=2).amax(0)  # (C,)
        allowed = RANK_TOLERANCE * torch.maximum(size, 1e-9 * size.max())
        for rank in range(1, min(fused.MAX_RANK, len(sv)) + 1):
            rest = a - ((u[:, :rank] * sv[:rank]) @ vt[:rank]).view(b, c, kk)
            if (rest.norm(dim=2) <= allowed).all():
                break
        else:
            return None
        matrices = (sv[:rank, None] * vt[:rank]).to(torch.float32).reshape(rank * c, kk).contiguous()
        coef = (scale[:, :, None] * u[:, None, :rank]).to(torch.float32).numpy()
        act = "relu" if self.act_name == "relu" else "identity"
        return _Basis(matrices, coef, shift.to(torch.float32).contiguous().numpy(),
                      fused.pooled_combination(rank, lay.q, act,
                                               fused.threads(torch.get_num_threads())))

    def _basis_outputs(self, basis: _Basis, space: dict, ci: int) -> list[tuple]:
        """The basis points' first-convolution outputs on chunk ``ci``, per slab of its samples:
        (a, b, z) with z (Q, rank, C, windows, b - a), before pooling and activation."""
        q, _, wins = self.first_shape
        rank = basis.coef.shape[2]
        c = self.layers[0].channels
        outputs, at = [], 0
        for a, b, cols in self.slabs[ci]:
            size = q * rank * c * wins * (b - a)
            z = space["basis"][at : at + size].view(q, rank * c, wins * (b - a))
            with _whole(q):  # one matrix a pooling position: each whole on one thread
                torch.bmm(basis.matrices.expand(q, *basis.matrices.shape), cols, out=z)
            outputs.append((a, b, z.view(q, rank, c, wins, b - a).numpy()))
            at += size
        return outputs

    def _combined_first(self, basis: _Basis, outputs: list[tuple], space: dict, group: range,
                        w: int) -> None:
        """The first convolution, pooled and activated, for a stack of points from the basis
        outputs (:func:`fused.pooled_combination`) into their input blocks."""
        blocks = space["stacked"][: len(group)]
        coef, shift = basis.coef[group.start : group.stop], basis.shift[group.start : group.stop]
        for a, _, z in outputs:
            basis.kernel(z, coef, shift, blocks.numpy(), 2, a)
        if self.act_name != "relu":
            self.act(blocks[:, 2:, :w])

    def _window(self, lay: _Layer, mats: torch.Tensor, block: torch.Tensor, work: tuple,
                dst: torch.Tensor, w: int) -> None:
        """A later convolution for S points: gather each window's input rows from ``block``
        (S, rows, w), one batched GEMM over (point, window) with ``mats`` (S, G, M, K), pool
        into ``dst`` (S, G * C, w)."""
        s, (g, rows, kk) = len(mats), lay.index.shape
        assert lay.gather is not None  # a later convolution always gathers its windows
        cols = torch.index_select(block, 1, lay.gather,
                                  out=work[0][: s * g * kk * w].view(s, g * kk, w))
        res = work[1][: s * g * rows * w].view(s * g, rows, w)
        with _whole(s * g):
            torch.bmm(mats.view(s * g, rows, kk), cols.view(s * g, kk, w), out=res)
        res = res.view(s, g, lay.q, lay.channels, w)
        dst = dst.view(s, g, lay.channels, w)
        if lay.act_first:
            self.act(res)
        if lay.q == 1:
            dst.copy_(res[:, :, 0])
        elif lay.pool == "max":
            torch.amax(res, 2, out=dst)
        else:
            torch.mean(res, 2, out=dst)
        if not lay.act_first:
            self.act(dst)
