"""Views of the Ising model by exact enumeration: the funnel summary, the size sweep, the raw
enumeration (every state, the barrier tree) and the free-energy profile at one temperature.

View specs (plain data, like slices; see :mod:`landscapes.views`)::

    {"view": "funnel", "reference": "native", "temperatures": 41, "t_min": 0.05, "t_max": 10.0,
     "energy_bins": 50}
    {"view": "sweep", "n_min": 8, "n_max": 20, "seeds": 4}
    {"view": "enumeration"}
    {"view": "free_energy", "temperature": 1.0}

Conventions: energies per spin (H/N); Q the overlap s.r/N with the reference state r: the native
state xi (``reference: native``) or the exact ground state with xi.g >= 0 (``reference: ground``;
for a glass, whose "native" state is just a random one, this is the folding picture of
Bryngelson and Wolynes); temperatures in units of H
(k_B = 1); free energies per spin (see :mod:`landscapes.spin.funnel`). Minima and the barrier tree
are *mirror-folded*: a minimum s and its mirror -s (same energy, overlap -Q) are one entry,
listed by the member with Q >= 0, and ``basin_share`` counts both basins. Small trees are built in
numpy and larger ones by numba's compiled passes, imported then (:func:`barrier_tree`).
"""

import dataclasses
import sys

import numpy as np

from landscapes.chunks import map_blocks
from landscapes.errors import LandscapeError
from landscapes.registry import Progress
from landscapes.results import ViewResult, base_meta
from landscapes.spin.enumeration import (
    MAX_ENUMERATION_SPINS,
    check_enumerable,
    enumerate_ising,
    overlaps_with,
    spins_from_index,
)
from landscapes.spin.funnel import (
    OverlapEnsemble,
    folding_temperature,
    free_energy,
    funnel_histogram,
    two_state_barrier,
)
from landscapes.spin.models import IsingFunnel, build_ising, model_meta
from landscapes.spin.tree import (
    SMALL_TREE_SPINS,
    BarrierTree,
    fold_mirror,
    saddle_matrix,
    small_barrier_tree,
)
from landscapes.viewspec import Constraint, Interval, Options, fill_view

FUNNEL_DEFAULTS = {"view": "funnel", "reference": "native", "temperatures": 41, "t_min": 0.05,
                   "t_max": 10.0, "energy_bins": 50}
REFERENCES = ("native", "ground")
SWEEP_DEFAULTS = {"view": "sweep", "n_min": 8, "n_max": 20, "seeds": 4}
ENUMERATION_DEFAULTS = {"view": "enumeration"}
FREE_ENERGY_DEFAULTS = {"view": "free_energy", "temperature": 1.0}
DEFAULTS: dict[str, dict] = {"funnel": FUNNEL_DEFAULTS, "sweep": SWEEP_DEFAULTS,
            "enumeration": ENUMERATION_DEFAULTS, "free_energy": FREE_ENERGY_DEFAULTS}
MAX_SWEEP_SEEDS = 20
MAX_TEMPERATURE = 1000.0
#: every parameter of these views, with its range (:mod:`landscapes.viewspec`)
CONSTRAINTS: dict[str, Constraint] = {
    "reference": Options(REFERENCES),
    "temperatures": Interval(int, 2, 201),
    "t_min": Interval(float, 0, MAX_TEMPERATURE, low_open=True),
    "t_max": Interval(float, 0, MAX_TEMPERATURE, low_open=True),
    "energy_bins": Interval(int, 2, 400),
    "n_min": Interval(int, 2, MAX_ENUMERATION_SPINS),
    "n_max": Interval(int, 2, MAX_ENUMERATION_SPINS),
    "seeds": Interval(int, 1, MAX_SWEEP_SEEDS),
    "temperature": Interval(float, 0, MAX_TEMPERATURE, low_open=True),
}


def constraints_of(view: str) -> dict[str, Constraint]:
    """The constraints of one of these views' parameters."""
    return {k: CONSTRAINTS[k] for k in DEFAULTS[view] if k != "view"}


def normalize_view(view: dict) -> dict:
    """Canonical funnel, sweep, enumeration or free-energy view spec (defaults filled, values
    checked; LandscapeError otherwise)."""
    out = fill_view(view, DEFAULTS, CONSTRAINTS)
    if out["view"] == "funnel" and not out["t_min"] < out["t_max"]:
        raise LandscapeError(f"funnel: need t_min < t_max; got {out['t_min']}, {out['t_max']}")
    if out["view"] == "sweep" and not out["n_min"] <= out["n_max"]:
        raise LandscapeError(f"sweep: need n_min <= n_max; got {out['n_min']}, {out['n_max']}")
    return out


def temperature_grid(t_min: float, t_max: float, count: int, folding: float | None) -> np.ndarray:
    """``count`` log-spaced temperatures in [t_min, t_max], plus T_f when it lies inside."""
    grid = np.geomspace(t_min, t_max, count)
    if folding is not None and t_min < folding < t_max:
        grid = np.unique(np.append(grid, folding))
    return grid


def barrier_tree(energies: np.ndarray, n: int) -> BarrierTree:
    """The barrier tree of all 2^N energies: by the compiled passes of
    :mod:`landscapes.spin.barriers` (numba), except up to :data:`SMALL_TREE_SPINS` spins in a
    process that has not loaded numba (a command: numba takes longer to start than a small tree
    takes to build in numpy; 0.1 s at 16 spins against 2 ms compiled). The same tree either way."""
    if n <= SMALL_TREE_SPINS and "numba" not in sys.modules:
        return small_barrier_tree(energies, n)
    from landscapes.spin import barriers

    return barriers.barrier_tree(energies, n)


def folded_tree(energies: np.ndarray, overlaps: np.ndarray, n: int) -> BarrierTree:
    """The mirror-folded barrier tree, each class listed by its member with Q >= 0."""
    tree = fold_mirror(barrier_tree(energies, n))
    mask = 2**n - 1
    minima = np.where(overlaps[tree.minima] >= 0, tree.minima, mask ^ tree.minima)
    return dataclasses.replace(tree, minima=minima, ground=int(minima[0]))


def largest_barrier_into_ground(tree: BarrierTree) -> float:
    """Highest (saddle to the ground-state minimum - own energy) over the other minima, per spin.

    0 when the ground state is the only minimum (a perfect funnel).
    """
    if tree.minima.size < 2:
        return 0.0
    saddles = saddle_matrix(tree)[0, 1:]
    return float(np.max(saddles - tree.minimum_energies[1:]))


def compute_funnel(model: IsingFunnel, view: dict, progress: Progress = None) -> ViewResult:
    """Funnel diagram data, mirror-folded barrier tree and F(Q; T) on a temperature grid."""
    n = model.n
    check_enumerable(n)
    result = enumerate_ising(model)
    if progress:
        progress(1, 3)
    e, q = result.energies, result.overlaps
    if view["reference"] == "ground":
        q = overlaps_with(spins_from_index(result.ground, n), n)
    tree = folded_tree(e, q, n)
    hist = funnel_histogram(e, q, energy_bins=view["energy_bins"])
    if progress:
        progress(2, 3)
    ensemble = OverlapEnsemble.of(e, q)
    folding = folding_temperature(ensemble)
    temps = temperature_grid(view["t_min"], view["t_max"], view["temperatures"], folding)
    free = np.stack([ensemble.free_energy(t) for t in temps])
    barriers = np.array([two_state_barrier(hist.q_values, f) for f in free])
    if progress:
        progress(3, 3)
    arrays = {
        "q_values": hist.q_values, "q_counts": hist.counts, "q_lowest_energy": hist.lowest_energy,
        "q_entropy": hist.entropy, "density": hist.density, "energy_edges": hist.energy_edges,
        "minima": tree.minima, "minimum_energies": tree.minimum_energies,
        "minimum_overlaps": np.abs(q[tree.minima]), "basin_share": tree.basin_share,
        "merges": tree.merges, "temperatures": temps, "free_energy": free,
        "two_state_barrier": barriers,
        "reference": model.native if view["reference"] == "native"
        else spins_from_index(result.ground, n), **model.arrays(),
    }
    meta = {
        **model_meta(model),
        "kind": "funnel", "n": n, "view": view,
        "overlap": f"Q = s.r/N with r the {view['reference']} state ('reference' array)",
        "folding_temperature": folding,
        "index_convention": "spin i = bit i of the state index; bit 1 -> +1, bit 0 -> -1",
        "minima": "single-spin-flip local minima, mirror-folded (s and -s one entry, listed by "
                  "the member with Q >= 0), ascending energy; basin_share counts both basins",
        "merges": "rows (saddle energy per spin, a, b): positions in 'minima' of the lowest "
                  "minima of the two sides joined at that saddle (the disconnectivity graph)",
        "free_energy": "F(Q;T) per spin = -(T/N) ln sum over states with overlap Q of "
                       "exp(-N E/T); rows follow 'temperatures' (units of H, k_B = 1)",
        "folding": "T_f: native (|Q| >= 0.8) and unfolded (|Q| < 0.5) ensembles have equal "
                   "free energy; two_state_barrier: the F(|Q|) barrier between them, per spin",
    }
    return ViewResult(arrays, meta)


def compute_sweep(spec: dict, view: dict, progress: Progress = None) -> ViewResult:
    """How the funnel sharpens with size: N = n_min..n_max, seeds seed..seed+K-1 of ``spec``.

    Per (N, seed): the ground state's basin share (both mirrors), the number of minima (mirror
    classes), the largest barrier into the ground-state basin (per spin) and T_f (NaN if none).
    """
    sizes = np.arange(view["n_min"], view["n_max"] + 1)
    seeds = spec.get("seed", 0) + np.arange(view["seeds"])
    shape = (sizes.size, seeds.size)
    pairs = [(int(n), int(seed)) for n in sizes for seed in seeds]
    # the smallest pair first (computed here before any fork), then the largest first: a
    # pair costs ~2^N, so each worker takes the next largest when it is free
    order = [0, *sorted(range(1, len(pairs)), key=lambda k: -pairs[k][0])]
    work = np.array([2.0 ** pairs[k][0] for k in order])
    done = np.concatenate([[0.0], np.cumsum(work)])

    def measured(start: int, stop: int) -> np.ndarray:
        """(share, minima, barrier, T_f) of pairs order[start:stop]."""
        rows = []
        for k in order[start:stop]:
            n, seed = pairs[k]
            result = enumerate_ising(build_ising({**spec, "n": n, "seed": seed}))
            tree = folded_tree(result.energies, result.overlaps, n)
            tf = folding_temperature(OverlapEnsemble.of(result.energies, result.overlaps))
            rows.append((tree.basin_share[0], tree.minima.size, largest_barrier_into_ground(tree),
                         np.nan if tf is None else tf))
        return np.array(rows, dtype=np.float64).reshape(-1, 4)

    def report(finished: int, _: int) -> None:  # weighted by 2^N: the largest sizes are
        if progress:  # nearly all of the work
            progress(int(1000 * done[finished] / done[-1]), 1000)

    rows = np.empty((len(pairs), 4))
    rows[order] = map_blocks(measured, len(pairs), 1, report, min_blocks=1, chunks=len(pairs))
    share, barrier, folding = (rows[:, c].reshape(shape) for c in (0, 2, 3))
    count = rows[:, 1].astype(np.int64).reshape(shape)
    arrays = {"sizes": sizes, "seeds": seeds, "ground_basin_share": share, "minima_count": count,
              "largest_barrier": barrier, "folding_temperature": folding}
    family = {k: v for k, v in spec.items() if k not in ("n", "seed")}
    meta = {
        **base_meta(family, "energy per spin (barriers), temperature in units of H"),
        "kind": "sweep", "view": view,
        "definitions": "ground_basin_share: share of all 2^N states whose steepest descent ends "
                       "in the ground state or its mirror; minima_count: mirror classes of "
                       "single-flip minima; largest_barrier: max over minima of (lowest saddle "
                       "to the ground state - own energy), per spin; folding_temperature: NaN "
                       "where native and unfolded never exchange stability in [1e-3, 1e2]",
    }
    return ViewResult(arrays, meta)


def compute_enumeration(model: IsingFunnel, progress: Progress = None) -> ViewResult:
    """All 2^N states of ``model``: energies and native overlaps by state index, the (unfolded)
    barrier tree of single-flip minima and the histogram over the native overlap Q."""
    check_enumerable(model.n)
    result = enumerate_ising(model, progress)
    tree = barrier_tree(result.energies, model.n)
    hist = funnel_histogram(result.energies, result.overlaps)
    arrays = {
        "energies": result.energies, "overlaps": result.overlaps,
        "minima": tree.minima, "minimum_energies": tree.minimum_energies,
        "basin_share": tree.basin_share, "merges": tree.merges,
        "q_values": hist.q_values, "q_counts": hist.counts,
        "q_lowest_energy": hist.lowest_energy, "q_entropy": hist.entropy,
        "ground": np.asarray(result.ground, dtype=np.int64), **model.arrays(),
    }
    meta = {
        **model_meta(model),
        "kind": "enumeration",
        "index_convention": "spin i = bit i of the index; bit 1 -> +1, bit 0 -> -1",
        "minima": "single-spin-flip local minima (no single flip lowers the energy), ascending "
                  "energy; basin_share: fraction of states whose steepest descent ends there",
        "merges": "rows (saddle energy per spin, a, b): positions in 'minima' of the lowest "
                  "minima of the two basins joined at that saddle (the disconnectivity graph)",
        "q_histogram": "per native overlap Q: q_counts states, q_lowest_energy, q_entropy = ln count",
    }
    return ViewResult(arrays, meta)


def compute_free_energy(model: IsingFunnel, view: dict, progress: Progress = None) -> ViewResult:
    """F(Q; T) per spin over the native overlap Q at ``view["temperature"]`` (units of H), with
    the folding temperature and the two-state barrier of the profile."""
    check_enumerable(model.n)
    result = enumerate_ising(model, progress)
    temperature = view["temperature"]
    q, free = free_energy(result.energies, result.overlaps, model.n, temperature)
    arrays = {"q_values": q, "free_energy": free, **model.arrays()}
    meta = {
        **model_meta(model, "free energy per spin"),
        "kind": "free energy",
        "temperature": temperature,
        "definition": "F(Q;T) = -(T/N) ln sum over states with overlap Q of exp(-N E/T), "
                      "E per spin",
        "folding_temperature": folding_temperature(result.energies, result.overlaps, model.n),
        "two_state_barrier": two_state_barrier(q, free),
    }
    return ViewResult(arrays, meta)
