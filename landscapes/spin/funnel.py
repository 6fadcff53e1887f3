"""Funnel diagnostics of an exactly enumerated Ising landscape: E(Q), S(Q), F(Q; T), T_f.

Conventions
-----------
* ``energies`` (2^N,) are per spin, e = H/N; ``overlaps`` (2^N,) the native overlap
  Q = xi.s/N, which takes the N+1 values -1, -1 + 2/N, ..., 1.
* Temperature ``T`` is in the units of H (so of e as well): the Boltzmann weight of a state is
  exp(-H/T) = exp(-N e / T), with k_B = 1.
* Free energies are per spin: F(Q; T) = -(T/N) ln Z(Q), Z(Q) = sum_{s: Q(s)=Q} exp(-N e(s)/T),
  computed with log-sum-exp. As T -> 0, F(Q) -> the lowest energy per spin at that Q, with
  e_min(Q) - (T/N) ln count(Q) <= F(Q; T) <= e_min(Q).
* Entropies are ln(count) (dimensionless, not per spin); empty bins give -inf entropy and
  +inf free energy / NaN lowest energy.
* Mirror symmetry E(s) = E(-s), Q(-s) = -Q(s): profiles are symmetric in Q, so the folded
  ensembles below use |Q|.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FunnelHistogram:
    """Per Q bin: ``q_values`` (K,) bin centres, ``counts`` (K,) states, ``lowest_energy`` (K,)
    per spin (NaN if empty), ``entropy`` (K,) ln(count); ``density`` (K, B) state counts on the
    (Q bin, energy bin) grid with ``energy_edges`` (B+1,) per spin."""

    q_values: np.ndarray
    counts: np.ndarray
    lowest_energy: np.ndarray
    entropy: np.ndarray
    density: np.ndarray
    energy_edges: np.ndarray


def spins_of(energies: np.ndarray) -> int:
    """N from the number of states 2^N."""
    size = np.asarray(energies).size
    n = int(round(np.log2(size)))
    if 2**n != size:
        raise ValueError(f"expected 2^N energies; got {size}")
    return n


def q_bin_index(overlaps: np.ndarray, n: int) -> np.ndarray:
    """Index 0..N of each exact overlap value Q = -1 + 2k/N (k = number of aligned spins)."""
    return np.rint((np.asarray(overlaps) + 1.0) * n / 2.0).astype(np.int64)


def _bins(overlaps: np.ndarray, n: int, q_bins: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if q_bins is None:
        return q_bin_index(overlaps, n), np.linspace(-1.0, 1.0, n + 1)
    edges = np.asarray(q_bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("q_bins must be increasing bin edges (at least two)")
    # right-closed last bin, as numpy.histogram
    index = np.clip(np.searchsorted(edges, overlaps, side="right") - 1, 0, edges.size - 2)
    outside = (overlaps < edges[0]) | (overlaps > edges[-1])
    index = np.where(outside, -1, index)
    return index, 0.5 * (edges[1:] + edges[:-1])


def funnel_histogram(
    energies: np.ndarray,
    overlaps: np.ndarray,
    q_bins: np.ndarray | None = None,
    energy_bins: int = 50,
) -> FunnelHistogram:
    """Counts, lowest energy per spin, entropy ln(count) and the (Q, E) density per Q bin.

    ``q_bins`` None uses the N+1 exact overlap values as bins (centres -1, -1+2/N, ..., 1);
    otherwise increasing bin edges (states outside them are left out). ``energy_bins`` equal
    bins span [min E, max E].
    """
    e = np.asarray(energies, dtype=np.float64)
    n = spins_of(e)
    index, centers = _bins(np.asarray(overlaps, dtype=np.float64), n, q_bins)
    k = centers.size
    keep = index >= 0
    index, e_in = index[keep], e[keep]
    counts = np.bincount(index, minlength=k)
    lowest = np.full(k, np.inf)
    np.minimum.at(lowest, index, e_in)
    lowest[counts == 0] = np.nan
    with np.errstate(divide="ignore"):
        entropy = np.log(counts.astype(np.float64))
    edges = np.linspace(e.min(), e.max(), energy_bins + 1)
    if edges[-1] == edges[0]:
        edges = edges[0] + np.linspace(-0.5, 0.5, energy_bins + 1)
    density, _, _ = np.histogram2d(index, e_in, bins=[np.arange(k + 1) - 0.5, edges])
    return FunnelHistogram(centers, counts, lowest, entropy, density.astype(np.int64), edges)


CUTOFF = 50.0  # partition sums leave out terms below exp(-CUTOFF) of their largest


@dataclass(frozen=True)
class OverlapEnsemble:
    """All states grouped by their exact overlap value, for fast exact partition sums per Q.

    ``q_values`` (N+1,) the overlaps -1..1; ``lowest`` (N+1,) the lowest energy per spin in each
    group (+inf if empty); ``excess`` (2^N,) each state's energy minus its group's lowest,
    ascending within each group, stored group after group from ``starts`` (N+1,). Sums are
    shifted by the group minimum, so ln Z(Q) = -N lowest/T + ln sum exp(-N excess/T) never
    overflows, and terms below exp(-CUTOFF) of the largest (1) are left out: together they
    change Z by less than 2^20 exp(-50) ~ 2e-16 relative, below float64 resolution.
    """

    n: int
    q_values: np.ndarray
    lowest: np.ndarray
    excess: np.ndarray
    starts: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, energies: np.ndarray, overlaps: np.ndarray) -> "OverlapEnsemble":
        e = np.asarray(energies, dtype=np.float64)
        n = spins_of(e)
        index = q_bin_index(overlaps, n)
        order = np.lexsort((e, index))
        counts = np.bincount(index, minlength=n + 1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        grouped = e[order]
        lowest = np.full(n + 1, np.inf)
        present = counts > 0
        lowest[present] = np.minimum.reduceat(grouped, starts[present])
        excess = grouped - np.repeat(lowest, counts)
        return cls(n, np.linspace(-1.0, 1.0, n + 1), lowest, excess, starts, counts)

    def log_z(self, temperature: float) -> np.ndarray:
        """ln Z(Q) = ln sum_{Q(s)=Q} exp(-N e(s)/T) per overlap value (-inf where empty)."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0; got {temperature}")
        beta_n = self.n / temperature
        out = np.full(self.n + 1, -np.inf)
        for k in np.flatnonzero(self.counts):
            group = self.excess[self.starts[k] : self.starts[k] + self.counts[k]]
            kept = group[: np.searchsorted(group, CUTOFF / beta_n, side="right")]
            out[k] = -beta_n * self.lowest[k] + np.log(np.exp(-beta_n * kept).sum())
        return out

    def free_energy(self, temperature: float) -> np.ndarray:
        """F(Q; T) per spin over ``q_values`` (+inf where no state has that overlap)."""
        return -temperature / self.n * self.log_z(temperature)

    def gap(self, temperature: float, q_native: float = 0.8, q_unfold: float = 0.5) -> float:
        """F_native - F_unfolded per spin (native |Q| >= q_native, unfolded |Q| < q_unfold)."""
        log_z = self.log_z(temperature)
        a = np.abs(self.q_values)
        f = [-temperature / self.n * _log_sum(log_z[sel])
             for sel in (a >= q_native - 1e-12, a < q_unfold - 1e-12)]
        return f[0] - f[1]


def _log_sum(log_terms: np.ndarray) -> float:
    """ln sum exp(log_terms) (-inf when empty or all -inf)."""
    finite = log_terms[np.isfinite(log_terms)]
    if finite.size == 0:
        return -np.inf
    top = finite.max()
    return float(top + np.log(np.exp(finite - top).sum()))


def free_energy(
    energies: np.ndarray, overlaps: np.ndarray, n: int, temperature: float
) -> tuple[np.ndarray, np.ndarray]:
    """Free energy profile per spin F(Q; T) = -(T/N) ln sum_{Q(s)=Q} exp(-N e(s)/T).

    Returns ``(q_values, F)`` over the N+1 exact overlap values; +inf where no state has that Q.
    For many temperatures build one :class:`OverlapEnsemble` and call its ``free_energy``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    ensemble = OverlapEnsemble.of(energies, overlaps)
    if ensemble.n != n:
        raise ValueError(f"energies are for N={ensemble.n} spins, not {n}")
    return ensemble.q_values, ensemble.free_energy(temperature)


def ensemble_free_energy(energies: np.ndarray, n: int, temperature: float, mask: np.ndarray) -> float:
    """-(T/N) ln sum_{s in mask} exp(-N e(s)/T), per spin (+inf for an empty ensemble)."""
    x = -n * np.asarray(energies, dtype=np.float64)[mask] / temperature
    return float(-temperature / n * _log_sum(x))


def folding_free_energy_gap(
    energies: np.ndarray,
    overlaps: np.ndarray,
    n: int,
    temperature: float,
    q_native: float = 0.8,
    q_unfold: float = 0.5,
) -> float:
    """F_native - F_unfolded per spin at ``temperature``; native |Q| >= q_native, unfolded
    |Q| < q_unfold (states in between belong to neither)."""
    a = np.abs(np.asarray(overlaps))
    f_nat = ensemble_free_energy(energies, n, temperature, a >= q_native - 1e-12)
    f_unf = ensemble_free_energy(energies, n, temperature, a < q_unfold - 1e-12)
    return f_nat - f_unf


def folding_temperature(
    energies: np.ndarray | OverlapEnsemble,
    overlaps: np.ndarray | None = None,
    n: int | None = None,
    q_native: float = 0.8,
    q_unfold: float = 0.5,
    t_min: float = 1e-3,
    t_max: float = 1e2,
    grid: int = 60,
    tol: float = 1e-10,
) -> float | None:
    """Folding temperature T_f: where native (|Q| >= q_native) and unfolded (|Q| < q_unfold)
    ensembles have equal free energy.

    Pass the energies and overlaps (and N), or an :class:`OverlapEnsemble` built from them.
    The gap F_native - F_unfolded is evaluated on ``grid`` log-spaced temperatures in
    [t_min, t_max]; the lowest-temperature sign change from native-stable (gap < 0) to
    unfolded-stable (gap >= 0) is refined by Brent's method in ln T to ``tol``.
    Returns None when the gap never crosses (e.g. the lowest states are not native, or the
    native state is stable throughout the bracket). Choices: |Q| folds the mirror state into
    the native ensemble; default thresholds 0.8 / 0.5 keep Q = +-1 native at any N and put
    the bulk of the random states (|Q| ~ 1/sqrt(N)) in the unfolded ensemble.
    """
    if isinstance(energies, OverlapEnsemble):
        ensemble = energies
    elif overlaps is None:
        raise ValueError("pass the overlaps with the energies (or an OverlapEnsemble)")
    else:
        ensemble = OverlapEnsemble.of(energies, overlaps)
    if n is not None and ensemble.n != n:
        raise ValueError(f"energies are for N={ensemble.n} spins, not {n}")
    ts = np.geomspace(t_min, t_max, grid)
    gaps = np.array([ensemble.gap(t, q_native, q_unfold) for t in ts])
    crossing = np.flatnonzero((gaps[:-1] < 0) & (gaps[1:] >= 0))
    if crossing.size == 0:
        return None
    from scipy.optimize import brentq  # only to refine a crossing (scipy.optimize is slow to load)

    lo, hi = np.log(ts[crossing[0]]), np.log(ts[crossing[0] + 1])
    root = brentq(lambda x: ensemble.gap(float(np.exp(x)), q_native, q_unfold), lo, hi,
                  xtol=tol, rtol=4 * np.finfo(float).eps)
    return float(np.exp(root))


def two_state_barrier(
    q: np.ndarray, f: np.ndarray, q_native: float = 0.8, q_unfold: float = 0.5
) -> float:
    """Free-energy barrier per spin between the unfolded and native minima of a profile F(Q).

    The profile is folded onto |Q| (lowest F per |Q|). The native minimum is the lowest F at
    |Q| >= q_native, the unfolded one the lowest F at |Q| < q_unfold; the barrier is the highest
    F between them (inclusive) minus the higher of the two minima: 0 for a monotone profile.
    """
    a = np.abs(np.asarray(q, dtype=np.float64))
    fv = np.asarray(f, dtype=np.float64)
    levels = np.unique(np.round(a, 12))
    folded = np.array([fv[np.isclose(a, x, atol=1e-9)].min() for x in levels])
    nat = np.flatnonzero(levels >= q_native - 1e-12)
    unf = np.flatnonzero(levels < q_unfold - 1e-12)
    if nat.size == 0 or unf.size == 0:
        raise ValueError("profile has no native or no unfolded points")
    i_n = nat[np.argmin(folded[nat])]
    i_u = unf[np.argmin(folded[unf])]
    lo, hi = sorted((int(i_n), int(i_u)))
    return float(folded[lo : hi + 1].max() - max(folded[i_n], folded[i_u]))
