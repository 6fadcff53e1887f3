"""Minima statistics: where many seeded descents end, against the large-N theory of the p-spin.

* :func:`spin_minima` -- descents from the seeded random starts ``random:0 .. random:K-1`` of a
  spin model (gradient descent on the sphere for the p-spin, single-spin flips for Ising), the
  energies of the minima they reach, and the full Hessian spectrum at the lowest one. For the
  p-spin, ``meta`` carries the Auffinger-Ben Arous-Cerny threshold and ground-state energies and
  the semicircle the spectrum should follow (:mod:`landscapes.spin.theory`).
* :func:`network_minima` -- an example network's recipe trained from several initialization
  seeds: the train/test loss of each minimum and the distances between them.

Units. Spin energies are per spin, ``H/N`` (DESIGN.md normalization; ``unit`` =
``"energy per spin"``). Hessian eigenvalues are those of the TOTAL energy ``H`` (not per spin)
restricted to the tangent space of ``|s|^2 = N`` -- the Riemannian Hessian
``P (hess H - (s.grad H / N) I) P`` of :mod:`landscapes.sphere`, in units of H per unit
``|ds|^2`` -- exactly the quantity whose large-N law :mod:`landscapes.spin.theory` states
(semicircle of radius ``2 sqrt(p(p-1))`` centred at ``-p e``). Network losses are mean losses
over a split (cross-entropy in nats, or mean squared error); distances are Euclidean in the flat
parameter space (``named_parameters()`` order).
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

import landscapes
from landscapes.errors import LandscapeError
from landscapes.networks import examples
from landscapes.networks.datasets import load_builtin
from landscapes.networks.landscape import NetworkLandscape
from landscapes.results import BUFFER_PREFIX, ViewResult
from landscapes.sphere import riemannian_hessian_eigenvalues
from landscapes.spin import theory as pspin_theory
from landscapes.spin.descent import Descents, descend, seeded_starts
from landscapes.spin.models import SpinModel
from landscapes.viewspec import fill_view

Progress = Callable[[int, int], None] | None

MINIMA_DEFAULTS = {"view": "minima", "starts": 64}
NETWORK_MINIMA_DEFAULTS = {"view": "minima", "seeds": 8}
MAX_STARTS = 512
MAX_SEEDS = 16
# descents run in batches of this many starts: one step of a batch reads the couplings once for
# all its moving points (converged points cost nothing), so large batches amortize best
DESCENT_BATCH = 128
UNIT = "energy per spin"
HESSIAN_UNIT = (
    "eigenvalues of the Riemannian Hessian of H (total energy, not per spin) on |s|^2 = N: "
    "P (hess H - (s.grad H / N) I) P on the tangent space, units of H per unit |ds|^2"
)
THEORY_NOTE = (
    "threshold_energy and ground_energy are large-N (N -> infinity) values for the PURE p-spin "
    "glass (planted = 0) at this p, from Auffinger, Ben Arous & Cerny 2013; finite N and a "
    "planted term shift the minima actually found"
)


def _whole_number(view: dict, key: str, kind: str) -> None:
    value = view.get(key)
    if isinstance(value, float) and not value.is_integer():
        raise LandscapeError(f"{kind}: {key} must be a whole number; got {value!r}")


def normalize_minima_view(view: dict) -> dict:
    """Canonical minima view for spin models: ``{"view": "minima", "starts": K}``, 1 <= K <= 512.

    Raises LandscapeError (unknown settings, a non-number, K out of range).
    """
    _whole_number(view, "starts", "minima")
    out = fill_view({"view": "minima", **view}, {"minima": MINIMA_DEFAULTS}, {"starts": int})
    if not 1 <= out["starts"] <= MAX_STARTS:
        raise LandscapeError(
            f"minima: starts must be between 1 and {MAX_STARTS}; got {out['starts']}"
        )
    return out


def normalize_network_minima_view(view: dict) -> dict:
    """Canonical minima view for networks: ``{"view": "minima", "seeds": K}``, 1 <= K <= 16."""
    _whole_number(view, "seeds", "network minima")
    out = fill_view({"view": "minima", **view}, {"minima": NETWORK_MINIMA_DEFAULTS}, {"seeds": int})
    _check_seeds(out["seeds"])
    return out


def _check_seeds(seeds: int) -> None:
    if isinstance(seeds, bool) or not isinstance(seeds, int | np.integer):
        raise LandscapeError(f"network minima: seeds must be a whole number; got {seeds!r}")
    if not 1 <= seeds <= MAX_SEEDS:
        raise LandscapeError(
            f"network minima: seeds must be between 1 and {MAX_SEEDS}; got {seeds}"
        )


# --------------------------------------------------------------------------- spin models


def _descend_in_batches(model: SpinModel, starts: np.ndarray, progress: Progress) -> list[Descents]:
    total = len(starts)
    parts = []
    for lo in range(0, total, DESCENT_BATCH):
        report = None
        if progress is not None:
            def report(done: int, _: int, lo: int = lo) -> None:
                progress(lo + done, total)
        parts.append(descend(model, starts[lo:lo + DESCENT_BATCH], report))
    return parts


def _semicircle(model: SpinModel, state: np.ndarray) -> dict:
    """Centre and radius of the bulk semicircle of the Riemannian Hessian at ``state``.

    Pure glass: centre ``-p e`` (Euler: ``s.grad H = p H``). With a planted term
    ``-lambda N m^r`` (homogeneous of degree r) the radial shift is ``-(p e_glass + r e_planted)``
    with ``e_planted = -lambda m^r``, and the planted term adds one outlier (rank one), not bulk.
    ``energy`` is the energy per spin that gives this centre in
    :func:`landscapes.spin.theory.semicircle_density` (``-centre / p``).
    """
    s = torch.as_tensor(state)[None]
    e_glass = float(model.glass_hamiltonian(s)[0]) / model.n
    m = float(model.overlap(state))
    e_planted = -model.planted * m**model.planted_order
    centre = -(model.p * e_glass + model.planted_order * e_planted)
    energy = -centre / model.p
    centre, radius, left = pspin_theory.hessian_spectrum_bounds(model.p, energy)
    return {
        "centre": float(centre), "radius": float(radius), "left_edge": float(left),
        "energy": float(energy), "p": model.p,
        "formula": "large-N semicircle of radius 2 sqrt(p(p-1)) centred at -(s.grad H)/N "
                   "(= -p e for the pure glass)",
    }


def spin_minima(model: SpinModel, view: dict, progress: Progress = None) -> ViewResult:
    """Minima reached by descents from ``random:0 .. random:K-1`` (K = ``view["starts"]``).

    Arrays: ``energies``, ``overlaps``, ``converged``, ``min_hessian_eig``, ``steps`` (K,) per
    minimum (energies per spin; overlap with the native/planted state; smallest Riemannian
    Hessian eigenvalue of H, NaN for Ising flips); ``states`` (K, N) the minima themselves
    (``|s|^2 = N``; +-1 for Ising); ``lowest_state`` (N,) the lowest minimum
    among the converged ones with a positive Hessian (all, if none is); ``spectrum`` (N-1,) its
    full Riemannian Hessian spectrum (p-spin only); plus the model's ``couplings`` and
    ``native``. ``progress(done, total)`` counts finished descents; an exception raised from
    it cancels the computation.
    """
    view = normalize_minima_view(view)
    k = view["starts"]
    if progress:
        progress(0, k)
    parts = _descend_in_batches(model, seeded_starts(model, range(k)), progress)
    energies = np.concatenate([d.energies for d in parts])
    states = np.concatenate([d.states for d in parts])
    converged = np.concatenate([d.converged for d in parts])
    min_eig = np.concatenate([d.min_hessian_eig for d in parts])
    good = converged & (model.discrete | (min_eig > 0))
    pool = np.flatnonzero(good) if good.any() else np.arange(k)
    lowest = int(pool[np.argmin(energies[pool])])
    arrays = {
        "energies": energies,
        "overlaps": np.concatenate([d.overlaps for d in parts]),
        "converged": converged,
        "min_hessian_eig": min_eig,
        "steps": np.concatenate([d.steps for d in parts]),
        "states": states,
        "lowest_state": states[lowest],
        **model.arrays(),
    }
    meta = {
        "kind": "minima",
        "view": view,
        "model": model.spec,
        "seed": model.seed,
        "unit": UNIT,
        "energy_convention": model.energy_convention,
        "starts": f"random:0 .. random:{k - 1} (the model's seeded random starts)",
        "method": parts[0].method,
        "lowest_index": lowest,
        "lowest_energy": float(energies[lowest]),
        "converged_count": int(converged.sum()),
        "library_version": landscapes.__version__,
    }
    if model.discrete:
        meta.update(threshold_energy=None, ground_energy=None, semicircle=None,
                    theory_note="no analytic lines for the Ising model here")
    else:
        spectrum = riemannian_hessian_eigenvalues(
            model.hamiltonian, torch.as_tensor(states[lowest]), model.euclidean_hessian
        ).numpy()
        arrays["spectrum"] = spectrum
        meta.update(
            threshold_energy=float(pspin_theory.threshold_energy(model.p)),
            ground_energy=float(pspin_theory.ground_state_energy(model.p)),
            semicircle=_semicircle(model, states[lowest]),
            hessian_unit=HESSIAN_UNIT,
            tolerance="descents stop when |grad_R H| / sqrt(N) <= 1e-7",
            theory_note=THEORY_NOTE,
        )
    if progress:
        progress(k, k)
    return ViewResult(arrays, meta)


# --------------------------------------------------------------------------- networks


def _diverged(ex: examples.TrainedExample, recipe: examples.Recipe) -> bool:
    """Training stopped before its last step (loss above the recipe's stop loss, or not finite)."""
    history = ex.loss_history
    return bool(len(history) < recipe.steps or not np.all(np.isfinite(history))
                or history.max() > recipe.stop_loss)


def network_minima(source_name: str, seeds: int, cache_dir: Path,
                   progress: Progress = None) -> ViewResult:
    """Example ``source_name`` trained from initialization seeds 0 .. seeds-1 (1 <= seeds <= 16).

    Seed 0 is the shipped example; every seed is trained once and cached under ``cache_dir``
    (:func:`landscapes.networks.examples.load`). Arrays, one entry per seed: ``seeds`` (K,),
    ``train_loss``, ``test_loss``, ``train_accuracy``, ``test_accuracy`` (NaN for regression)
    at the final point; ``diverged`` (K,) whether training stopped early on a blown-up loss;
    ``init_distance`` (K,) |final - init|; ``distances`` (K, K) Euclidean distances between
    the final flat parameter vectors; ``parameters`` (K, D) those vectors (float32, as trained);
    with BatchNorm, ``buffer.<name>`` (K, ...) each seed's running statistics (the losses use them).
    ``progress(done, total)`` counts seeds; raising from it cancels.
    """
    recipe = examples.recipe_of(source_name)
    _check_seeds(seeds)
    seeds = int(seeds)
    data = load_builtin(recipe.data)
    classification = data.task == "classification"
    rows, finals, travel, diverged, statistics = [], [], [], [], []
    land = None
    if progress:
        progress(0, seeds)
    for seed in range(seeds):
        ex = examples.load(source_name, cache_dir, seed)
        land = NetworkLandscape.create(ex.arch, ex.final, data, ex.loss)
        metrics = land.evaluate_splits(land.center[None])[0]
        rows.append(metrics if classification else np.r_[metrics, np.nan, np.nan])
        final = land.center.double().numpy()
        init = land.layout.flatten({k: ex.init[k] for k in land.layout.names}).double().numpy()
        finals.append(final)
        statistics.append(land.buffers)
        travel.append(float(np.linalg.norm(final - init)))
        diverged.append(_diverged(ex, recipe))
        if progress:
            progress(seed + 1, seeds)
    assert land is not None
    metrics = np.array(rows)
    flat = np.stack(finals)
    distances = np.linalg.norm(flat[:, None, :] - flat[None, :, :], axis=-1)  # K <= 16: exact
    arrays = {
        "seeds": np.arange(seeds, dtype=np.int64),
        "train_loss": metrics[:, 0],
        "test_loss": metrics[:, 1],
        "train_accuracy": metrics[:, 2],
        "test_accuracy": metrics[:, 3],
        "diverged": np.array(diverged),
        "init_distance": np.array(travel),
        "distances": distances,
        "parameters": flat.astype(np.float32),
        **{BUFFER_PREFIX + name: np.stack([b[name].numpy() for b in statistics])
           for name in statistics[0]},
    }
    meta = {
        "kind": "minima",
        "view": {"view": "minima", "seeds": seeds},
        "model": {"model": "network", "example": source_name},
        "architecture": land.arch,
        "data": recipe.data,
        "loss": recipe.loss,
        "unit": "loss",
        "loss_unit": "mean cross-entropy (nats)" if recipe.loss == "cross_entropy"
        else "mean squared error",
        "training": {
            "optimizer": recipe.optimizer, "lr": recipe.lr, "steps": recipe.steps,
            "batch": "full batch (all training samples every step)",
            "init": "torch default initialization after torch.manual_seed(seed); seed 0 is the "
                    "shipped example",
            "stop_loss": None if np.isinf(recipe.stop_loss) else recipe.stop_loss,
            "mode": "train mode while training (BatchNorm batch statistics)",
        },
        "seeds": list(range(seeds)),
        "recipe": recipe.description,
        "parameters": land.layout.to_meta(),
        "parameter_order": "named_parameters() flattened",
        "distance": "Euclidean distance between final flat parameter vectors; not taken modulo "
                    "the permutation symmetry of hidden units",
        "batchnorm": "losses in eval mode with each seed's own running statistics (saved as "
                     "buffer.<name>, one row per seed)",
        "samples": {"train": len(data.x_train), "test": len(data.x_test)},
        "cache": f"{Path(cache_dir).name}/{source_name}[-seedK]-v{examples.VERSION}.safetensors",
        "library_version": landscapes.__version__,
    }
    return ViewResult(arrays, meta)


__all__ = [
    "MINIMA_DEFAULTS", "NETWORK_MINIMA_DEFAULTS", "network_minima", "normalize_minima_view",
    "normalize_network_minima_view", "spin_minima",
]
