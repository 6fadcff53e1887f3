"""Disconnectivity graph (barrier tree) of an exactly enumerated Ising landscape.

Conventions
-----------
* ``energies`` are per spin (H/N), one per state, indexed by bit pattern (spin ``i`` = bit ``i``,
  1 -> +1) as in :mod:`landscapes.spin.enumeration`; saddle energies are per spin too.
* Neighbourhood: single spin flips (the N-dimensional hypercube).
* A *minimum* is a state that no single flip lowers (as :func:`landscapes.spin.enumeration.local_minima`:
  a minimum may have an equal-energy neighbour; each such state is its own minimum and the
  two are joined by a zero-height merge at their common energy).
* Basins: steepest single-flip descent -- move to the lowest neighbour while it is strictly lower
  than the current state, ties between neighbours broken by the lowest flipped-bit index. A state
  is a fixed point exactly when it is a minimum, so every state reaches exactly one minimum.
* Merges: flooding by energy (union-find over states in ascending energy order). A merge row is
  ``(saddle_energy, a, b)`` with ``a < b`` the positions in ``minima`` of the lowest minima of the
  two components that join. A state that joins k >= 3 components gives k - 1 rows at its energy,
  each joining one more component onto the union so far. For the connected hypercube there are
  ``len(minima) - 1`` merges.

Mirror symmetry: the Ising energies satisfy E(s) = E(-s), and the descent rule commutes with the
mirror (flipping bit i of -s is the mirror of flipping bit i of s), so minima, basins and merges
come in mirror pairs; the two ground states (s, -s) have equal basin shares and join each other
at some finite saddle energy. Nothing special is needed: the tree is well defined, with exact ties
in the minima order broken by the state index.

Algorithm: the sub-level set {E <= t} restricted to one basin is connected (every state reaches
its minimum through strictly decreasing, hence <= t, states of the same basin), so the flooding
components at any threshold are unions of whole basins joined by hypercube edges (u, v) with
max(E_u, E_v) <= t. The merge tree is therefore Kruskal's algorithm on the (small) basin graph
whose edge weight between two basins is the lowest max(E_u, E_v) over edges between them.
Edges above the tree's highest saddle cannot change it, so a first pass weighs only the edges
below a guessed ceiling (``SADDLE_QUANTILE`` of the energies); if a merge comes out above it,
every edge is weighed again. The result is the same either way.
The passes over all states and edges are compiled loops (numba), in contiguous chunks on a
thread pool: descent targets (the mirror test on the way), then pointer jumping (each state's
pointer moves to its target's pointer, about 5 branch-free passes at n = 20, instead of following
each path to its end), then the lowest edge weight per pair of basins. When the energies are
exactly mirror symmetric (always, for Ising energies), only the half of the states with spin N-1
down is visited: the other half's descent targets, basins and edges are mirror images, and a
pointer to an unvisited state is stored folded (a flag and the visited mirror state).
The passes over neighbours (descent targets, crossing marks) work on blocks of states that
stay in the L1 cache, bit by bit, as vector loops over contiguous slices: flipping bit i of
every state of a block is the block's other half (low bits) or the partner block ``s0 ^ 2^i``
(high bits). (An index that numba cannot prove non-negative costs a wrap-around test per
access and blocks vectorization: the loops index slices from 0.)

:func:`fold_mirror` gives the tree of mirror classes: each minimum and its mirror are one leaf.
The tree's record, its merges (Kruskal), the saddle matrix, the mirror folding and the same tree
for small landscapes in plain numpy (no compiled passes: numba takes longer to start than that
tree takes to build) live in :mod:`landscapes.spin.tree`; they are imported here too.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from landscapes.spin.tree import (
    BarrierTree,
    check_energies,
    escape_barriers,
    fold_mirror,
    kruskal,
    saddle_matrix,
)

MIN_CHUNK = 2**16  # states per thread below which one thread does it all (n <= 17: one)
BLOCK = 1024  # states per block of the compiled passes (their work arrays stay in L1)
# Edges above the highest saddle of the tree cannot change it: a first pass weighs only the
# edges below this quantile of the energies (the highest saddle lay at 2-7% of the states at
# n = 20, up to 18% at n = 12), and the tree is exact if all its merges lie below; else all.
SADDLE_QUANTILE = 0.15
MIRRORED = np.int32(1 << 30)  # flag of a folded descent pointer: the mirror of a visited state
STATE_BITS = np.int32((1 << 30) - 1)
DENSE_PAIR_LIMIT = 4_000_000  # basin pairs m*m kept in a dense table; above it, sort edges


@numba.njit(cache=True, nogil=True)
def _log2(block: int) -> int:  # pragma: no cover - compiled
    """The exponent of a power of 2."""
    bits = 0
    while (1 << bits) < block:
        bits += 1
    return bits


@numba.njit(nogil=True, inline="always")
def _take_lower_at(best_e: np.ndarray, best_bit: np.ndarray, energies: np.ndarray, j: int,
                   neighbour: int, bit: int) -> None:  # pragma: no cover - compiled
    """Where energies[neighbour] < best_e[j] (strictly): best_e[j], best_bit[j] =
    energies[neighbour], bit (state j against one neighbour, within one block)."""
    lower = energies[neighbour] < best_e[j]
    best_e[j] = energies[neighbour] if lower else best_e[j]
    best_bit[j] = bit if lower else best_bit[j]


@numba.njit(nogil=True, inline="always")
def _take_lower(best_e: np.ndarray, best_bit: np.ndarray, energies: np.ndarray,
                bit: int) -> None:  # pragma: no cover - compiled
    """Where energies[j] < best_e[j] (strictly): best_e[j], best_bit[j] = energies[j], bit.

    Slices indexed from 0 by a loop counter: numba's negative-index handling folds away and the
    loop compiles to vector instructions (an index it cannot prove >= 0 becomes a gather).
    """
    for j in range(energies.size):
        _take_lower_at(best_e, best_bit, energies, j, j, bit)


@numba.njit(cache=True, nogil=True)
def _targets(e: np.ndarray, n: int, block: int, fold: int, start: int, stop: int,
             out: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Steepest-descent targets of states start..stop-1 (full state indices) into ``out``;
    returns whether E(s) == E(~s) exactly for each of these states (the mirror test, on the way).
    A target t >= ``fold`` is written folded, as ``MIRRORED | ~t`` (see :func:`_jump`).

    Blocks of ``block`` states (a power of 2 dividing start and stop) keep the lowest energy
    and flipped bit so far per state, bit by bit in ascending order (strict <: the lowest bit
    wins among equal neighbours): bits 0-2 within groups of 8, the block's other bits between
    its halves, the higher bits against the partner block ``s0 ^ 2^i``. Each step is a vector
    loop over contiguous slices (the former loop over one state's neighbours, indexed
    ``e[s ^ 2^i]``, measured 1.6x slower).
    """
    size = e.size
    best_e = np.empty(block, np.float64)
    best_bit = np.empty(block, np.int64)
    bits = _log2(block)
    mirrored = True
    for s0 in range(start, stop, block):
        own = e[s0:s0 + block]
        best_e[:] = own
        best_bit[:] = n  # n: no lower neighbour (a minimum)
        if block >= 8:  # a constant group size: the compiler unrolls the loop over it
            for g in range(0, block, 8):
                for i in range(3):
                    for k in range(8):
                        _take_lower_at(best_e, best_bit, own, g + k, g + (k ^ (1 << i)), i)
        else:
            for i in range(bits):
                for j in range(block):
                    _take_lower_at(best_e, best_bit, own, j, j ^ (1 << i), i)
        for i in range(3, bits):
            step = 1 << i
            for h in range(0, block, 2 * step):
                _take_lower(best_e[h:h + step], best_bit[h:h + step], own[h + step:h + 2 * step], i)
                _take_lower(best_e[h + step:h + 2 * step], best_bit[h + step:h + 2 * step],
                            own[h:h + step], i)
        for i in range(bits, n):
            partner = s0 ^ (1 << i)
            _take_lower(best_e, best_bit, e[partner:partner + block], i)
        targets = out[s0:s0 + block]
        mirror = e[size - s0 - block:size - s0]  # states ~s0 - block + 1 .. ~s0
        for j in range(block):
            b = best_bit[j]
            t = s0 + j if b == n else (s0 + j) ^ (1 << b)
            targets[j] = t if t < fold else MIRRORED | (size - 1 - t)
            mirrored &= own[j] == mirror[block - 1 - j]
    return mirrored


@numba.njit(cache=True, nogil=True)
def _jump(reached: np.ndarray, start: int, stop: int) -> int:  # pragma: no cover - compiled
    """One pointer-jumping pass over states start..stop-1, in place: each pointer moves to the
    pointer of the state it points to; returns how many moved.

    ``reached`` holds, per visited state, a state further down its descent (at first its
    descent target), possibly folded: ``MIRRORED | x`` stands for the mirror ~x of visited
    state x, whose descent is the mirror of x's descent, so its pointer is x's pointer with the
    flag toggled. Passes running at once in other threads only ever replace a pointer by one
    further down the same descent, so whatever this pass reads is still on the path; when a
    pass moves nothing, every pointer is a minimum. Branch-free, plain integer operations.
    """
    pointers = reached[start:stop]
    moved = 0
    for s in range(pointers.size):
        x = pointers[s]
        y = reached[x & STATE_BITS] ^ (x & MIRRORED)
        moved += y != x
        pointers[s] = y
    return moved


@numba.njit(cache=True, nogil=True)
def _to_basins(reached: np.ndarray, position: np.ndarray, mask: int, m: int, start: int,
               stop: int) -> np.ndarray:  # pragma: no cover - compiled
    """In place: the (possibly folded) minimum each state reaches -> its position in the sorted
    minima (through ``position``, indexed by state); returns how many of these states each
    basin has (m,)."""
    counts = np.zeros(m, np.int64)
    for s in range(start, stop):
        x = reached[s]
        a = position[mask ^ (x & STATE_BITS) if x & MIRRORED else x]
        reached[s] = a
        counts[a] += 1
    return counts


@numba.njit(cache=True)
def _basin_at(basin: np.ndarray, mirror: np.ndarray, v: int, mask: int) -> int:  # pragma: no cover
    """Basin of state v; states past the visited half are mirrors of visited ones."""
    return basin[v] if v < basin.size else mirror[basin[mask ^ v]]


@numba.njit(nogil=True, inline="always")
def _mark(crossing: np.ndarray, basins: np.ndarray, partners: np.ndarray,
          bit: int) -> None:  # pragma: no cover - compiled
    """Set ``bit`` of crossing[j] where basins[j] != partners[j] (a vector loop, as
    :func:`_take_lower`)."""
    for j in range(basins.size):
        crossing[j] |= np.uint32(basins[j] != partners[j]) << np.uint32(bit)


@numba.njit(nogil=True, inline="always")
def _mark_at(crossing: np.ndarray, basins: np.ndarray, j: int, neighbour: int,
             bit: int) -> None:  # pragma: no cover - compiled
    """One state of :func:`_mark`, for an edge to a higher neighbour within one block."""
    if j < neighbour:
        crossing[j] |= np.uint32(basins[j] != basins[neighbour]) << np.uint32(bit)


@numba.njit(cache=True, nogil=True)
def _pair_weights(e: np.ndarray, basin: np.ndarray, mirror: np.ndarray, n: int, m: int,
                  block: int, ceiling: float, start: int, stop: int,
                  table: np.ndarray) -> None:  # pragma: no cover - compiled
    """Lowest max(E_u, E_v) per ordered basin pair a*m+b over edges (u, u + 2^i) with u in
    start..stop-1 (visited states, bit i of u clear), into ``table`` (m*m,); exact for every
    weight <= ``ceiling`` (edges whose state u lies above it are skipped: their weight is too).

    Per block of states (as in :func:`_targets`), vector loops first mark which of each state's
    edges cross between basins (a bit per edge); then only those edges (about 45% at n = 20)
    are weighed and written to the table. Edges along bits whose partner lies past the visited
    half (the top bit, for half the states) read the partner's basin through the mirror.
    """
    limit, mask = basin.size, e.size - 1
    crossing = np.empty(block, np.uint32)
    partners = np.empty(block, basin.dtype)
    bits = _log2(block)
    for s0 in range(start, stop, block):
        own, energies = basin[s0:s0 + block], e[s0:s0 + block]
        below = 0
        for j in range(block):
            below += energies[j] <= ceiling
        if below == 0:
            continue
        crossing[:] = 0
        if block >= 8:  # a constant group size, as in _targets
            for g in range(0, block, 8):
                for i in range(3):
                    for k in range(8):
                        _mark_at(crossing, own, g + k, g + (k ^ (1 << i)), i)
        else:
            for i in range(bits):
                for j in range(block):
                    _mark_at(crossing, own, j, j ^ (1 << i), i)
        for i in range(3, bits):
            step = 1 << i
            for h in range(0, block, 2 * step):
                _mark(crossing[h:h + step], own[h:h + step], own[h + step:h + 2 * step], i)
        for i in range(bits, n):
            step = 1 << i
            if s0 & step:
                continue
            if step >= limit:  # the partner of s is the mirror of visited state limit - 1 - s
                reflected = basin[limit - s0 - block:limit - s0]
                for j in range(block):
                    partners[j] = mirror[reflected[block - 1 - j]]
                _mark(crossing, own, partners, i)
            else:
                _mark(crossing, own, basin[s0 + step:s0 + step + block], i)
        for j in range(block):
            edges = crossing[j]
            if edges == 0 or energies[j] > ceiling:
                continue
            u = s0 + j
            row, e_u = own[j] * m, energies[j]
            while edges:
                v = u + (1 << trailing_zeros(edges))  # type: ignore[call-arg]  # numba intrinsic
                edges &= edges - np.uint32(1)
                # (as _basin_at; a call here, even inlined, measured 5x slower)
                k = row + (basin[v] if v < limit else mirror[basin[mask ^ v]])
                table[k] = min(table[k], max(e_u, e[v]))


@numba.njit(cache=True)
def _crossing_edges(e: np.ndarray, basin: np.ndarray, mirror: np.ndarray, n: int,
                    m: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Every edge (u, u + 2^i), u visited, between two basins: pair keys (a < b) and weights."""
    limit, mask = basin.size, e.size - 1
    count = 0
    for i in range(n):
        step = 1 << i
        for hi in range(0, limit, 2 * step):
            for u in range(hi, min(hi + step, limit)):
                count += basin[u] != _basin_at(basin, mirror, u + step, mask)
    keys = np.empty(count, np.int64)
    weights = np.empty(count)
    k = 0
    for i in range(n):
        step = 1 << i
        for hi in range(0, limit, 2 * step):
            for u in range(hi, min(hi + step, limit)):
                a, b = basin[u], _basin_at(basin, mirror, u + step, mask)
                if a != b:
                    keys[k] = min(a, b) * m + max(a, b)
                    weights[k] = max(e[u], e[u + step])
                    k += 1
    return keys, weights


def default_threads() -> int:
    """Threads for the passes over states: the CPUs this process may run on, at most 8."""
    return max(1, min(8, len(os.sched_getaffinity(0))))


class _Passes:
    """Runs compiled passes over states 0..limit-1 in contiguous chunks, one per thread (the
    kernels release the GIL); one pool for all the passes of a tree. A context manager."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def __enter__(self) -> "_Passes":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def chunks(self, limit: int) -> int:
        """How many chunks (threads) a pass over ``limit`` states uses."""
        return max(1, min(self.threads, limit // MIN_CHUNK))

    def run(self, kernel, start: int, stop: int, *shared,  # noqa: ANN001 -- a numba kernel
            outputs=lambda t: (), align: int = 1) -> list:  # noqa: ANN001
        """``kernel(*shared, lo, hi, *outputs(t))`` for each chunk ``t`` of states start..stop-1;
        the kernels' results, by chunk. Chunk bounds are multiples of ``align`` (which must
        divide start and stop; some chunks may then be empty)."""
        count = self.chunks(stop - start)
        bounds = [start + (stop - start) * t // count // align * align for t in range(count)]
        bounds.append(stop)
        calls = [(kernel, *shared, bounds[t], bounds[t + 1], *outputs(t)) for t in range(count)]
        if self.pool is None or count == 1:
            return [call[0](*call[1:]) for call in calls]
        return [f.result() for f in [self.pool.submit(*call) for call in calls]]


def _block(states: int) -> int:
    """States per block of the blocked passes over ``states`` (a power of 2) states."""
    return max(1, min(BLOCK, states))


def _descend(e: np.ndarray, n: int, passes: _Passes) -> tuple[np.ndarray, bool]:
    """(minimum reached by each visited state, whether E(s) == E(~s) for all states); a minimum
    past the visited half is folded, ``MIRRORED | x`` for the mirror of visited state x.

    The mirror test comes with the descent targets of the lower half (spin N-1 down); when it
    holds, only that half is visited (the upper half are mirrors), otherwise the upper half's
    targets follow. Then pointer jumping until no pointer moves (about 5 passes at n = 20).
    """
    size, half = e.size, e.size // 2
    reached = np.empty(size, np.int32)
    block = _block(half)
    symmetric = n >= 1 and all(passes.run(_targets, 0, half, e, n, block, half, align=block,
                                          outputs=lambda t: (reached,)))
    if not symmetric:  # unfold the lower half's targets; then the upper half's
        lower = reached[:half]
        folded = (lower & MIRRORED) != 0
        lower[folded] = (size - 1) ^ (lower[folded] & STATE_BITS)
        passes.run(_targets, half, size, e, n, block, size, align=block,
                   outputs=lambda t: (reached,))
    limit = half if symmetric else size
    reached = reached[:limit]
    while sum(passes.run(_jump, 0, limit, reached)):
        pass
    return reached, symmetric


def descent_targets(energies: np.ndarray, n: int, threads: int | None = None) -> np.ndarray:
    """One steepest single-flip descent step for every state (the state itself at a minimum).

    The target is the lowest neighbour if it is strictly lower than the state; among equally low
    neighbours the lowest flipped-bit index wins.
    """
    e = check_energies(energies, n)
    out = np.empty(e.size, np.int32)
    with _Passes(threads or default_threads()) as passes:
        block = _block(e.size)
        passes.run(_targets, 0, e.size, e, n, block, e.size, align=block,
                   outputs=lambda t: (out,))
    return out


def _basin_edges(e: np.ndarray, basin: np.ndarray, mirror: np.ndarray, n: int,
                 m: int, passes: _Passes,
                 ceiling: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Unique basin pairs ``a * m + b`` (a < b) and their lowest crossing-edge weight, exact
    where it is <= ``ceiling`` (the dense table; above it, a pair's weight may be too high or
    the pair missing).

    The weight of a hypercube edge (u, v) is max(E_u, E_v). When only the lower half of the
    states was visited (``basin`` shorter than ``e``), each pair's mirror pair gets the same
    weight. Small basin graphs use a dense m*m table; otherwise the crossing edges are sorted by
    (pair, weight).
    """
    half = basin.size < e.size
    if m * m <= DENSE_PAIR_LIMIT:
        parts = [np.full(m * m, np.inf) for _ in range(passes.chunks(basin.size))]
        block = _block(basin.size)
        passes.run(_pair_weights, 0, basin.size, e, basin, mirror, n, m, block, ceiling,
                   align=block, outputs=lambda t: (parts[t],))
        table = np.min(parts, axis=0).reshape(m, m)
        table = np.minimum(table, table.T)
        if half:
            table = np.minimum(table, table[np.ix_(mirror, mirror)])
        table = np.triu(table, 1) + np.tril(np.full((m, m), np.inf))
        pairs = np.flatnonzero(np.isfinite(table))
        return pairs, table.reshape(-1)[pairs]
    keys, weights = _crossing_edges(e, basin, mirror, n, m)
    if half:
        a, b = mirror[keys // m], mirror[keys % m]
        keys = np.concatenate([keys, np.minimum(a, b) * m + np.maximum(a, b)])
        weights = np.concatenate([weights, weights])
    if keys.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    order = np.lexsort((weights, keys))
    keys, weights = keys[order], weights[order]
    first = np.concatenate([[True], keys[1:] != keys[:-1]])
    return keys[first], weights[first]


def barrier_tree(energies: np.ndarray, n: int, threads: int | None = None) -> BarrierTree:
    """Minima, basins and merge (disconnectivity) tree of all 2^N energies per spin.

    See the module docstring for the conventions. Compiled passes over the states and edges
    (half of them for mirror-symmetric energies); the first call in a process compiles them
    (cached on disk by numba). The passes over states run in ``threads`` threads (default:
    :func:`default_threads`); the result does not depend on it.
    """
    e = check_energies(energies, n)
    size, mask = e.size, e.size - 1
    with _Passes(threads or default_threads()) as passes:
        reached, symmetric = _descend(e, n, passes)
        visited_minima = np.flatnonzero(reached == np.arange(reached.size))
        minima_raw = np.concatenate([visited_minima, mask ^ visited_minima]) if symmetric \
            else visited_minima
        minima = minima_raw[np.lexsort((minima_raw, e[minima_raw]))]
        m = minima.size
        position = np.empty(size, dtype=np.int32)
        position[minima] = np.arange(m, dtype=np.int32)
        basin = reached  # each state's minimum becomes its basin's position, in place
        counts = np.sum(passes.run(_to_basins, 0, basin.size, basin, position, mask, m), axis=0)
        mirror = position[mask ^ minima] if symmetric else np.arange(m)
        if symmetric:  # upper-half states in basin a are mirrors of lower-half states in mirror[a]
            counts = counts + counts[mirror]
        ceiling = float(np.quantile(e[::max(1, size // 2**12)], SADDLE_QUANTILE))
        merges = kruskal(*_basin_edges(e, basin, mirror, n, m, passes, ceiling), m)
        if merges.shape[0] < m - 1 or (m > 1 and merges[-1, 0] > ceiling):  # guessed too low
            merges = kruskal(*_basin_edges(e, basin, mirror, n, m, passes), m)
    return BarrierTree(n, minima, e[minima], counts / size, merges, int(minima[0]), basin,
                       mirror if symmetric else None)


__all__ = [
    "BarrierTree", "barrier_tree", "default_threads", "descent_targets", "escape_barriers",
    "fold_mirror", "saddle_matrix",
]
