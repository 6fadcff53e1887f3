"""The barrier tree's record and its plain-numpy parts: merges (Kruskal's algorithm on the basin
graph), the saddle matrix, escape barriers, the tree of mirror classes, and the whole tree of a
small landscape (:func:`small_barrier_tree`).

Conventions and the algorithm: :mod:`landscapes.spin.barriers`, whose compiled passes (numba)
build the same tree for any N. Below :data:`SMALL_TREE_SPINS` spins numpy builds it in less time
than numba takes to start (about 0.1 s at N = 16 against about 0.6 s), so a command that
enumerates a small model never loads numba; ``tests/unit/test_funnel.py`` checks that both give
the same tree.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

#: the largest N whose tree :func:`small_barrier_tree` builds (2^N x N neighbour tables)
SMALL_TREE_SPINS = 16


@dataclass(frozen=True)
class BarrierTree:
    """The barrier tree of one landscape.

    ``minima`` (M,) state indices, ascending energy (ties by index); ``minimum_energies`` (M,)
    per spin; ``basin_share`` (M,) fraction of all states in each basin (sums to 1); ``merges``
    (M-1, 3) float rows ``(saddle_energy, a, b)`` in ascending saddle energy (see module
    docstring); ``ground`` the state index of the lowest minimum (``minima[0]``; its mirror is
    degenerate); :attr:`basin_of` (2^N,) the position in ``minima`` each state's steepest
    descent reaches, built when first asked for from ``half_basins`` -- the basins of the states
    visited (all of them, or the lower half: spin N-1 down) -- and ``mirror`` (the position of
    each minimum's mirror; None when every state was visited).
    """

    n: int
    minima: np.ndarray
    minimum_energies: np.ndarray
    basin_share: np.ndarray
    merges: np.ndarray
    ground: int
    half_basins: np.ndarray = field(repr=False)
    mirror: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def basin_of(self) -> np.ndarray:
        """(2^N,) basin position of every state (a state past the visited half is the mirror of
        state ``2^N - 1 - x``, in the mirror basin)."""
        if self.mirror is None:
            return self.half_basins
        return np.concatenate([self.half_basins, self.mirror[self.half_basins[::-1]]])


def check_energies(energies: np.ndarray, n: int) -> np.ndarray:
    """The energies as float64, checked to be one per state of ``n`` spins (n <= 30)."""
    if not 0 <= n <= 30:  # state indices (and a fold flag) fit in int32
        raise ValueError(f"n must be between 0 and 30; got {n}")
    e = np.asarray(energies, dtype=np.float64)
    if e.shape != (2**n,):
        raise ValueError(f"energies must have shape (2^{n},) = ({2**n},); got {e.shape}")
    return e


def kruskal(pairs: np.ndarray, weights: np.ndarray, m: int) -> np.ndarray:
    """Merge rows (saddle, a, b) of the basin graph, a < b the lowest minima of the two sides."""
    order = np.lexsort((pairs, weights))
    parent = list(range(m))  # the root of a component is its lowest minimum (smallest position)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows: list[tuple[float, int, int]] = []
    for k in order:
        a, b = divmod(int(pairs[k]), m)
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        lo, hi = min(ra, rb), max(ra, rb)
        parent[hi] = lo
        rows.append((float(weights[k]), lo, hi))
        if len(rows) == m - 1:
            break
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def small_barrier_tree(energies: np.ndarray, n: int) -> BarrierTree:
    """The barrier tree of all 2^N energies per spin, in numpy (N <= :data:`SMALL_TREE_SPINS`):
    the same tree as :func:`landscapes.spin.barriers.barrier_tree`, every state visited.

    Steepest descent: the lowest neighbour if strictly lower (argmin: the lowest flipped bit
    among equally low ones), then pointer jumping; merges: the lowest crossing edge per basin
    pair, then :func:`kruskal`.
    """
    e = check_energies(energies, n)
    if n > SMALL_TREE_SPINS:
        raise ValueError(f"n must be at most {SMALL_TREE_SPINS} here; got {n}")
    size = e.size
    states = np.arange(size)
    bits = 1 << np.arange(n)
    neighbours = states[None, :] ^ bits[:, None]  # (n, 2^N): state s with bit i flipped
    lowest = np.argmin(e[neighbours], axis=0) if n else np.zeros(size, np.int64)
    lower = n > 0 and e[neighbours[lowest, states]] < e
    reached = np.where(lower, states ^ (1 << lowest), states)
    while not np.array_equal(jumped := reached[reached], reached):
        reached = jumped
    found = np.flatnonzero(reached == states)
    minima = found[np.lexsort((found, e[found]))]
    m = minima.size
    position = np.empty(size, np.int64)
    position[minima] = np.arange(m)
    basin = position[reached]
    up = (states[None, :] & bits[:, None]) == 0  # each edge once: (u, u + 2^i), bit i of u clear
    u, v = np.broadcast_to(states, neighbours.shape)[up], neighbours[up]
    a, b = basin[u], basin[v]
    crossing = a != b
    keys = np.minimum(a, b)[crossing] * m + np.maximum(a, b)[crossing]
    weights = np.maximum(e[u], e[v])[crossing]
    order = np.lexsort((weights, keys))
    keys, weights = keys[order], weights[order]
    first = np.flatnonzero(np.diff(keys, prepend=-1))  # each pair's lowest edge
    merges = kruskal(keys[first], weights[first], m)
    counts = np.bincount(basin, minlength=m)
    return BarrierTree(n, minima, e[minima], counts / size, merges, int(minima[0]),
                       basin.astype(np.int32))


def saddle_matrix(tree: BarrierTree) -> np.ndarray:
    """(M, M) lowest saddle energy per spin between every pair of minima (diagonal: own energy).

    The minimax path energy between two minima is the energy of the merge that first puts them
    in one component (an ultrametric); +inf for minima never joined.
    """
    m = tree.minima.size
    out = np.full((m, m), np.inf)
    np.fill_diagonal(out, tree.minimum_energies)
    members = {i: [i] for i in range(m)}
    for saddle, a, b in tree.merges:
        ga, gb = members.pop(int(a)), members.pop(int(b))
        out[np.ix_(ga, gb)] = saddle
        out[np.ix_(gb, ga)] = saddle
        members[int(min(a, b))] = ga + gb
    return out


def escape_barriers(tree: BarrierTree) -> np.ndarray:
    """(M,) per minimum: saddle energy to reach any lower minimum minus its own energy (per spin).

    The lowest minimum gets +inf (nothing lower to reach). For a merge row ``(saddle, a, b)`` with
    ``a < b`` the component led by ``b`` escapes into the lower one, so ``b``'s barrier is
    ``saddle - E_b``.
    """
    out = np.full(tree.minima.size, np.inf)
    for saddle, _, b in tree.merges:
        out[int(b)] = saddle - tree.minimum_energies[int(b)]
    return out


def fold_mirror(tree: BarrierTree) -> BarrierTree:
    """The tree of mirror classes {s, -s} of a mirror-symmetric landscape (E(s) = E(-s)).

    Each minimum and its mirror become one leaf: ``minima`` holds the member listed first in
    ``tree.minima`` (equal energies: the lower state index), ``basin_share`` the two basins
    together, ``basin_of`` the class position of every state. Merges are the images of the full
    tree's merges (union-find over classes, in the same order), so a class joins its mirror at no
    merge and there are (classes - 1) merges. Raises ValueError if the minima do not come in
    mirror pairs of equal energy.
    """
    mask = 2**tree.n - 1
    position = {int(x): k for k, x in enumerate(tree.minima)}
    try:
        mirror = np.array([position[mask ^ int(x)] for x in tree.minima], dtype=np.int64)
    except KeyError:
        raise ValueError("the minima do not come in mirror pairs: not a mirror-symmetric landscape") \
            from None
    if not np.array_equal(tree.minimum_energies, tree.minimum_energies[mirror]):
        raise ValueError("mirror minima have different energies: not a mirror-symmetric landscape")
    keep = np.flatnonzero(np.arange(mirror.size) <= mirror)  # the first member of each class
    cls = np.empty(mirror.size, dtype=np.int64)
    cls[keep] = np.arange(keep.size)
    cls[mirror[keep]] = np.arange(keep.size)
    parent = list(range(keep.size))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows = []
    for saddle, a, b in tree.merges:
        ra, rb = find(int(cls[int(a)])), find(int(cls[int(b)]))
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            parent[hi] = lo
            rows.append((saddle, lo, hi))
    share = np.bincount(cls, weights=tree.basin_share, minlength=keep.size)
    merges = np.array(rows, dtype=np.float64).reshape(-1, 3)
    # a state's class is its basin's: the upper half mirrors the lower half into the same classes
    mirror_classes = None if tree.mirror is None else np.arange(keep.size)
    return BarrierTree(tree.n, tree.minima[keep], tree.minimum_energies[keep], share, merges,
                       int(tree.minima[keep[0]]), cls[tree.half_basins], mirror_classes)
