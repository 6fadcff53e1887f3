"""Built-in datasets by name, deterministic train/test splits, and checks on uploaded data.

Every dataset is ``(X, y)`` numpy arrays: ``X`` float32 of shape (samples, *input_shape), ``y``
int64 class labels (classification) or float32 targets of shape (samples, outputs)
(regression). Names and what they hold:

* ``moons``, ``circles``, ``spirals`` -- 2-D points, two classes (scikit-learn generators /
  a two-arm spiral), 1000 train + 500 test points;
* ``digits`` -- scikit-learn's bundled 8x8 handwritten digits, (1, 8, 8) images in [0, 1],
  10 classes, 1437 train + 360 test;
* ``iris`` -- scikit-learn's bundled iris, 4 standardised features, 3 classes;
* ``multiply`` -- x, y uniform in [-1, 1] with target x*y (the Lin & Tegmark gate);
* ``regression`` -- scikit-learn's bundled diabetes set, standardised features and target.
"""

from dataclasses import dataclass

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.seeding import rng

BUILTIN = ("moons", "circles", "spirals", "digits", "iris", "multiply", "regression")
MAX_SAMPLES = 10_000


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays of one dataset; ``task`` is ``classification`` or ``regression``."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str

    @property
    def classes(self) -> int:
        return int(self.y_train.max()) + 1 if self.task == "classification" else 0


def _split(name: str, x: np.ndarray, y: np.ndarray, test_share: float) -> tuple:
    order = rng(0, f"split:{name}").permutation(len(x))
    cut = len(x) - max(1, int(round(test_share * len(x))))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]


def _standardize(a: np.ndarray) -> np.ndarray:
    return (a - a.mean(0)) / a.std(0)


def _spirals(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    g = rng(seed, "spirals")
    t = np.sqrt(g.uniform(0, 1, n)) * 3 * np.pi
    label = g.integers(0, 2, n)
    r = t / (3 * np.pi)
    angle = t + np.pi * label
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], 1) + g.normal(0, 0.03, (n, 2))
    return x, label


def load_builtin(name: str) -> Dataset:
    """A built-in dataset by name (deterministic: the same arrays on every machine and run)."""
    from sklearn import datasets as sk  # imported lazily: only network views need it

    if name in ("moons", "circles"):
        make = sk.make_moons if name == "moons" else sk.make_circles
        extra = {} if name == "moons" else {"factor": 0.5}
        x, y = make(n_samples=1500, noise=0.1, random_state=0, **extra)
        parts, task = _split(name, x, y, 1 / 3), "classification"
    elif name == "spirals":
        parts, task = _split(name, *_spirals(1500, 0), 1 / 3), "classification"
    elif name == "digits":
        d = sk.load_digits()
        x = (d.images / 16.0)[:, None, :, :]
        parts, task = _split(name, x, d.target, 0.2), "classification"
    elif name == "iris":
        d = sk.load_iris()
        parts, task = _split(name, _standardize(d.data), d.target, 0.2), "classification"
    elif name == "multiply":
        x = rng(0, "multiply").uniform(-1, 1, (1500, 2))
        parts, task = _split(name, x, (x[:, 0] * x[:, 1])[:, None], 1 / 3), "regression"
    elif name == "regression":
        d = sk.load_diabetes()
        target = _standardize(d.target[:, None])
        parts, task = _split(name, _standardize(d.data), target, 0.2), "regression"
    else:
        raise LandscapeError(f"unknown dataset {name!r}; built-in: {', '.join(BUILTIN)}")
    x_tr, y_tr, x_te, y_te = parts
    cast = (lambda v: v.astype(np.int64)) if task == "classification" else (
        lambda v: v.astype(np.float32))
    return Dataset(name, x_tr.astype(np.float32), cast(y_tr), x_te.astype(np.float32),
                   cast(y_te), task)


def from_arrays(name: str, x: np.ndarray, y: np.ndarray, max_samples: int = MAX_SAMPLES,
                test_share: float = 0.2) -> Dataset:
    """A dataset from uploaded arrays, checked (:func:`check_arrays`), split train/test by a
    permutation seeded by ``name``.

    Integer ``y`` of shape (samples,) is read as class labels; float ``y`` as regression targets
    (shape (samples,) or (samples, outputs)).
    """
    x, y, task = check_arrays(x, y, max_samples)
    if len(x) < 5:
        raise LandscapeError("data: need at least 5 samples (some are held out for the test split)")
    x_tr, y_tr, x_te, y_te = _split(name, x, y, test_share)
    return Dataset(name, x_tr, y_tr, x_te, y_te, task)


def from_train_test(name: str, x: np.ndarray, y: np.ndarray, x_test: np.ndarray,
                    y_test: np.ndarray, max_samples: int = MAX_SAMPLES) -> Dataset:
    """A dataset from given train and test arrays, each checked as in :func:`check_arrays`
    (``max_samples`` counts both); the two must agree in sample shape and task."""
    x, y, task = check_arrays(x, y, max_samples, "")
    x_test, y_test, test_task = check_arrays(x_test, y_test, max_samples - len(x), "test ")
    if x_test.shape[1:] != x.shape[1:] or test_task != task or y_test.shape[1:] != y.shape[1:]:
        raise LandscapeError(
            f"data: test samples {x_test.shape[1:]} / targets {y_test.dtype} {y_test.shape[1:]} do "
            f"not match the train samples {x.shape[1:]} / targets {y.dtype} {y.shape[1:]}"
        )
    return Dataset(name, x, y, x_test, y_test, task)


def check_arrays(x: np.ndarray, y: np.ndarray, max_samples: int = MAX_SAMPLES, which: str = ""
                 ) -> tuple[np.ndarray, np.ndarray, str]:
    """``(X float32, y, task)`` from arrays, checked: numeric, finite, matching lengths, at least
    one sample, at most ``max_samples``. Integer ``y`` (samples,) -> int64 labels >= 0 (task
    ``classification``); float ``y`` -> float32 targets (samples, outputs) (``regression``).
    ``which`` prefixes the array names in messages (``"test "``)."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or y.ndim < 1:
        raise LandscapeError(f"data: {which}X and {which}y must be arrays with one row per sample")
    if x.dtype.kind not in "fiu" or y.dtype.kind not in "fiub":
        raise LandscapeError(f"data: {which}X and {which}y must be numeric arrays; "
                             f"got {x.dtype} and {y.dtype}")
    if len(x) != len(y):
        raise LandscapeError(f"data: {which}X has {len(x)} samples but {which}y has {len(y)}")
    if len(x) < 1:
        raise LandscapeError(f"data: {which}X has no samples")
    if len(x) > max_samples:
        raise LandscapeError(
            f"data: {len(x):,} samples is over the limit of {max_samples:,}; subsample it, or "
            "raise the limit (FUNNELSCOPE_MAX_SAMPLES in the dashboard, --max-samples in the "
            "command line)"
        )
    if not np.isfinite(x).all() or not np.isfinite(y.astype(np.float64)).all():
        raise LandscapeError(f"data: {which}X or {which}y contains NaN or infinite values")
    if y.dtype.kind in "iub":
        if y.ndim != 1:
            raise LandscapeError(f"data: integer labels {which}y must be 1-D; got shape {y.shape}")
        if y.min() < 0:
            raise LandscapeError(f"data: class labels must be >= 0; found {int(y.min())}")
        return x.astype(np.float32), y.astype(np.int64), "classification"
    return x.astype(np.float32), (y[:, None] if y.ndim == 1 else y).astype(np.float32), "regression"
