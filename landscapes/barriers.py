"""Disconnectivity graph (barrier tree) of an exactly enumerated Ising landscape.

Conventions
-----------
* ``energies`` are per spin (H/N), one per state, indexed by bit pattern (spin ``i`` = bit ``i``,
  1 -> +1) as in :mod:`landscapes.enumeration`; saddle energies are per spin too.
* Neighbourhood: single spin flips (the N-dimensional hypercube).
* A *minimum* is a state that no single flip lowers (as :func:`landscapes.enumeration.local_minima`:
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
whose edge weight between two basins is the lowest max(E_u, E_v) over edges between them. The
per-edge work is vectorised over the N edge directions; only the basin graph is looped over.
"""

from dataclasses import dataclass

import numpy as np

DENSE_PAIR_LIMIT = 4_000_000  # basin pairs m*m kept in a dense table; above it, sort edges


@dataclass(frozen=True)
class BarrierTree:
    """The barrier tree of one landscape.

    ``minima`` (M,) state indices, ascending energy (ties by index); ``minimum_energies`` (M,)
    per spin; ``basin_of`` (2^N,) position in ``minima`` reached by steepest descent;
    ``basin_share`` (M,) fraction of all states in each basin (sums to 1); ``merges`` (M-1, 3)
    float rows ``(saddle_energy, a, b)`` in ascending saddle energy (see module docstring);
    ``ground`` the state index of the lowest minimum (``minima[0]``; its mirror is degenerate).
    """

    n: int
    minima: np.ndarray
    minimum_energies: np.ndarray
    basin_of: np.ndarray
    basin_share: np.ndarray
    merges: np.ndarray
    ground: int


def _check(energies: np.ndarray, n: int) -> np.ndarray:
    e = np.asarray(energies, dtype=np.float64)
    if e.shape != (2**n,):
        raise ValueError(f"energies must have shape (2^{n},) = ({2**n},); got {e.shape}")
    return e


def descent_targets(energies: np.ndarray, n: int) -> np.ndarray:
    """One steepest single-flip descent step for every state (the state itself at a minimum).

    The target is the lowest neighbour if it is strictly lower than the state; among equally low
    neighbours the lowest flipped-bit index wins.
    """
    e = _check(energies, n)
    index = np.arange(e.size, dtype=np.int64)
    best_e = e.copy()
    best = index.copy()
    for i in range(n):
        flipped = e.reshape(-1, 2, 2**i)[:, ::-1, :].reshape(-1)
        better = flipped < best_e  # strict: keeps the lowest bit among equal neighbours
        best_e = np.where(better, flipped, best_e)
        best = np.where(better, index ^ (1 << i), best)
    return best


def steepest_descent_minima(energies: np.ndarray, n: int) -> np.ndarray:
    """The state index of the minimum each state's steepest descent reaches (pointer doubling)."""
    target = descent_targets(energies, n)
    while True:
        nxt = target[target]
        if np.array_equal(nxt, target):
            return target
        target = nxt


def _basin_edges(e: np.ndarray, basin: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique basin pairs ``a * m + b`` (a < b) and their lowest crossing-edge weight.

    The weight of a hypercube edge (u, v) is max(E_u, E_v). For a small basin graph the minima
    are kept in a dense (m*m + 1) table (the last slot collects same-basin edges); otherwise the
    crossing edges are sorted by (pair, weight).
    """
    best = np.full(m * m + 1, np.inf) if m * m <= DENSE_PAIR_LIMIT else None
    keys, weights = [], []
    for i in range(n):
        ev = e.reshape(-1, 2, 2**i)
        bv = basin.reshape(-1, 2, 2**i)
        b0, b1 = bv[:, 0, :], bv[:, 1, :]
        w = np.maximum(ev[:, 0, :], ev[:, 1, :])
        key = np.minimum(b0, b1) * m + np.maximum(b0, b1)
        if best is not None:
            np.minimum.at(best, np.where(b0 != b1, key, m * m).reshape(-1), w.reshape(-1))
        else:
            cross = b0 != b1
            keys.append(key[cross])
            weights.append(w[cross])
    if best is not None:
        pairs = np.flatnonzero(np.isfinite(best[:-1]))
        return pairs, best[pairs]
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0)
    key_all, weight_all = np.concatenate(keys), np.concatenate(weights)
    order = np.lexsort((weight_all, key_all))
    key_all, weight_all = key_all[order], weight_all[order]
    first = np.concatenate([[True], key_all[1:] != key_all[:-1]])
    return key_all[first], weight_all[first]


def barrier_tree(energies: np.ndarray, n: int) -> BarrierTree:
    """Minima, basins and merge (disconnectivity) tree of all 2^N energies per spin.

    See the module docstring for the conventions. Runs in about the time of the enumeration
    itself (vectorised over the N flip directions).
    """
    e = _check(energies, n)
    reached = steepest_descent_minima(e, n)
    minima_raw = np.flatnonzero(reached == np.arange(e.size))
    minima = minima_raw[np.lexsort((minima_raw, e[minima_raw]))]
    m = minima.size
    position = np.empty(e.size, dtype=np.int64)
    position[minima] = np.arange(m)
    basin = position[reached]
    share = np.bincount(basin, minlength=m) / e.size

    pairs, weights = _basin_edges(e, basin, n, m)
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
    merges = np.array(rows, dtype=np.float64).reshape(-1, 3)
    return BarrierTree(n, minima, e[minima], basin, share, merges, int(minima[0]))


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
