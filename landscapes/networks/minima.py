"""Minima of an example network: its recipe trained from several initialization seeds.

:func:`network_minima` reports the train/test loss of each minimum and the distances between
them. Losses are mean losses over a split (cross-entropy in nats, or mean squared error);
distances are Euclidean in the flat parameter space (``named_parameters()`` order).
"""

from pathlib import Path

import numpy as np

from landscapes.chunks import map_blocks
from landscapes.errors import LandscapeError
from landscapes.networks import examples
from landscapes.networks.datasets import load_builtin
from landscapes.registry import Progress
from landscapes.results import BUFFER_PREFIX, ViewResult, base_meta
from landscapes.viewspec import Interval, fill_view

NETWORK_MINIMA_DEFAULTS = {"view": "minima", "seeds": 8}
MAX_SEEDS = 16
SEEDS = Interval(int, 1, MAX_SEEDS)


def normalize_network_minima_view(view: dict) -> dict:
    """Canonical minima view for networks: ``{"view": "minima", "seeds": K}``, 1 <= K <= 16."""
    return fill_view({"view": "minima", **view}, {"minima": NETWORK_MINIMA_DEFAULTS},
                     {"seeds": SEEDS}, "network minima")


def _check_seeds(seeds: int) -> None:
    if isinstance(seeds, float):  # a whole number, not 2.0
        raise LandscapeError(f"network minima: seeds must be a whole number in [1, {MAX_SEEDS}]; "
                             f"got {seeds!r}")
    SEEDS.check("network minima", "seeds", seeds)

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
    data = load_builtin(recipe.data, cache_dir)
    classification = data.task == "classification"

    def trained(first: int, stop: int) -> list[tuple]:
        """Per seed: its metrics, final and init flat vectors' distance, divergence, buffers."""
        out = []
        for seed in range(first, stop):
            ex = examples.load(source_name, cache_dir, seed)
            land = examples.landscape(ex.arch, ex.final, data, ex.loss)
            metrics = land.evaluate_splits(land.center[None])[0]
            final = land.center.double().numpy()
            init = land.layout.flatten({k: ex.init[k] for k in land.layout.names}).double().numpy()
            out.append((metrics if classification else np.r_[metrics, np.nan, np.nan], final,
                        float(np.linalg.norm(final - init)), _diverged(ex, recipe),
                        {name: b.numpy() for name, b in land.buffers.items()}))
        return out

    if progress:
        progress(0, seeds)
    # a seed is seconds of training (when not cached): a worker pays for one seed
    per_seed = map_blocks(trained, seeds, 1, progress, min_blocks=1, chunks=seeds,
                          warm_first=False,
                          combine=lambda parts: [row for part in parts for row in part])
    rows, finals, travel, diverged, statistics = (list(column) for column in zip(*per_seed, strict=True))
    ex = examples.load(source_name, cache_dir, 0)  # cached now: the architecture for meta
    land = examples.landscape(ex.arch, ex.final, data, ex.loss)
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
        **{BUFFER_PREFIX + name: np.stack([b[name] for b in statistics])
           for name in statistics[0]},
    }
    meta = {
        **base_meta({"model": "network", "example": source_name}, "loss"),
        "kind": "minima",
        "view": {"view": "minima", "seeds": seeds},
        "architecture": recipe.arch if examples.module_based(recipe.arch) else land.arch,
        "data": recipe.data,
        "loss": recipe.loss,
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
    }
    return ViewResult(arrays, meta)


__all__ = ["MAX_SEEDS", "NETWORK_MINIMA_DEFAULTS", "network_minima",
           "normalize_network_minima_view"]
