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

import contextlib
import hashlib
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.io.atomic import write_atomically
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
    #: an uploaded dataset's file: ``{"name": file name, "sha256": hex digest of its bytes}``
    upload: dict | None = None
    #: how an uploaded dataset was split (:data:`CONTENT_SPLIT` or :data:`OWN_SPLIT`)
    split: str | None = None

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


def load_builtin(name: str, cache_dir: Path | None = None) -> Dataset:
    """A built-in dataset by name (deterministic: the same arrays on every machine and run).

    With ``cache_dir`` (the trained examples' folder), the arrays are read from
    ``dataset-NAME.npz`` there, written the first time: scikit-learn, which makes or loads
    them, takes 1.3 s to import, a third of a small slice's command (measured). A file that
    cannot be read is made again."""
    path = None if cache_dir is None else Path(cache_dir) / f"dataset-{name}.npz"
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return Dataset(name, f["x_train"], f["y_train"], f["x_test"], f["y_test"],
                               str(f["task"]))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            pass  # made again below
    data = _make_builtin(name)
    if path is not None:
        _save_dataset(data, path)
    return data


def _save_dataset(data: Dataset, path: Path) -> None:
    """Write ``data``'s arrays to ``path`` whole (:func:`write_atomically`); a folder that
    cannot be written leaves the data in memory only."""
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            np.savez(out, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
                     y_test=data.y_test, task=np.array(data.task))

    with contextlib.suppress(OSError):
        write_atomically(path, write)


def _make_builtin(name: str) -> Dataset:
    """A built-in dataset, made (scikit-learn's generators, seeded) or loaded (its files)."""
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


FLOAT32_MAX = float(np.finfo(np.float32).max)
#: the largest class label accepted (labels index the network's outputs: far fewer than this)
MAX_LABEL = 2**31 - 1
CONTENT_SPLIT = ("80/20 by a permutation seeded from the sha256 of X and y (float32 X, int64 "
                 "labels or float32 targets; docs/file-formats.md)")
OWN_SPLIT = "the file's own X_train, y_train, X_test, y_test"
SPLIT_KEYS = ("X_train", "y_train", "X_test", "y_test")


def content_digest(x: np.ndarray, y: np.ndarray) -> str:
    """The sha256 of a dataset's content: ``X`` as C-ordered float32 bytes, then ``y`` as
    C-ordered int64 bytes (class labels) or float32 bytes (targets), each after its shape.

    It seeds the 80/20 split of uploaded ``X, y``, so the same data give the same split under
    any file name and in either file format (``.npz`` or ``.safetensors``)."""
    digest = hashlib.sha256()
    for array in (x, y):
        digest.update(repr(tuple(array.shape)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def content_split(x: np.ndarray, y: np.ndarray, test_share: float = 0.2) -> tuple:
    """``(x_train, y_train, x_test, y_test)``: ``order = default_rng(int(content_digest(x, y),
    16)).permutation(n)``; the last ``max(1, round(test_share * n))`` of ``order`` are the test
    samples, the rest (in that order) the train samples."""
    order = np.random.default_rng(int(content_digest(x, y), 16)).permutation(len(x))
    cut = len(x) - max(1, int(round(test_share * len(x))))
    train, test = order[:cut], order[cut:]
    return x[train], y[train], x[test], y[test]


def _checked(key: str, a: np.ndarray, labels: bool) -> np.ndarray:
    """``a`` as a numeric array with one row per sample, finite and within float32's range."""
    a = np.asarray(a)
    if a.ndim < 1:
        raise LandscapeError(f"data: {key} is a single number; it must have one row per sample")
    if a.dtype.kind not in ("fiub" if labels else "fiu"):
        raise LandscapeError(f"data: {key} must be a numeric array; got dtype {a.dtype}")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise LandscapeError(f"data: {key} contains NaN or infinite values; drop or impute them")
        big = float(np.abs(a).max(initial=0.0))
        if big > FLOAT32_MAX:
            raise LandscapeError(
                f"data: {key} holds values up to {big:.3g}, beyond the float32 range (about "
                f"{FLOAT32_MAX:.3g}) that the networks compute in; rescale it (e.g. standardise "
                "the features) before saving"
            )
    return a


def _labels(key: str, y: np.ndarray) -> tuple[str, np.ndarray]:
    """(task, labels): integer (or boolean) ``y`` of shape (samples,) are class labels (int64,
    >= 0); float ``y`` are regression targets (float32, shape (samples, outputs))."""
    if y.dtype.kind in "iub":
        if y.ndim != 1:
            raise LandscapeError(
                f"data: integer labels {key} must be 1-D (one class index per sample); got shape "
                f"{y.shape}. For one-hot labels save {key}.argmax(1)"
            )
        if len(y) and y.min() < 0:
            raise LandscapeError(
                f"data: class labels must be >= 0; {key} holds {int(y.min())}. Renumber them "
                "0..C-1, e.g. numpy.unique(y, return_inverse=True)[1]"
            )
        if len(y) and int(y.max()) > MAX_LABEL:
            raise LandscapeError(
                f"data: class labels must be 0..C-1 for C classes (at most {MAX_LABEL:,}); {key} "
                f"holds {int(y.max())}. Renumber them, e.g. numpy.unique(y, return_inverse=True)[1]"
            )
        return "classification", y.astype(np.int64)
    return "regression", (y[:, None] if y.ndim == 1 else y).astype(np.float32)


def _check_count(n: int, max_samples: int) -> None:
    if n > max_samples:
        raise LandscapeError(
            f"data: {n:,} samples is over the limit of {max_samples:,}; subsample it, or "
            "raise the limit (FUNNELSCOPE_MAX_SAMPLES in the dashboard, --max-samples in the "
            "command line)"
        )


def from_arrays(name: str, x: np.ndarray, y: np.ndarray, max_samples: int = MAX_SAMPLES,
                test_share: float = 0.2, upload: dict | None = None) -> Dataset:
    """A dataset from uploaded ``X, y``, checked (numeric, finite, within float32's range,
    matching lengths, size limits) and split by :func:`content_split` (seeded by the content,
    never by the name).

    Integer ``y`` of shape (samples,) is read as class labels; float ``y`` as regression targets
    (shape (samples,) or (samples, outputs)); :func:`as_class_labels` turns whole-number float
    labels into classes when a loss needs them.
    """
    x, y = _checked("X", x, False), _checked("y", y, True)
    if len(x) != len(y):
        raise LandscapeError(f"data: X has {len(x)} samples but y has {len(y)}")
    if len(x) < 5:
        raise LandscapeError("data: need at least 5 samples (some are held out for the test split)")
    _check_count(len(x), max_samples)
    task, y = _labels("y", y)
    x_tr, y_tr, x_te, y_te = content_split(x.astype(np.float32), y, test_share)
    return Dataset(name, x_tr, y_tr, x_te, y_te, task, upload, CONTENT_SPLIT)


def from_split(name: str, arrays: dict[str, np.ndarray], max_samples: int = MAX_SAMPLES,
               upload: dict | None = None) -> Dataset:
    """A dataset from the user's own split: ``arrays`` holds ``X_train, y_train, X_test,
    y_test``, checked as :func:`from_arrays` checks ``X, y`` and against each other (the same
    sample shape, the same kind of labels, at least one sample in each split)."""
    x_tr, x_te = (_checked(k, arrays[k], False) for k in ("X_train", "X_test"))
    y_tr, y_te = (_checked(k, arrays[k], True) for k in ("y_train", "y_test"))
    for xs, ys, part in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        if len(xs) != len(ys):
            raise LandscapeError(f"data: X_{part} has {len(xs)} samples but y_{part} has {len(ys)}")
        if not len(xs):
            raise LandscapeError(f"data: X_{part} is empty; each split needs at least one sample")
    _check_count(len(x_tr) + len(x_te), max_samples)
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise LandscapeError(f"data: X_train samples have shape {x_tr.shape[1:]} but X_test "
                             f"samples {x_te.shape[1:]}; they must match")
    (task, y_tr), (test_task, y_te) = _labels("y_train", y_tr), _labels("y_test", y_te)
    if task != test_task or y_tr.shape[1:] != y_te.shape[1:]:
        raise LandscapeError(
            f"data: y_train ({y_tr.dtype}, shape {y_tr.shape}) and y_test ({y_te.dtype}, shape "
            f"{y_te.shape}) must be the same kind of labels: both integer class labels or both "
            "float targets with the same number of columns"
        )
    return Dataset(name, x_tr.astype(np.float32), y_tr, x_te.astype(np.float32), y_te, task,
                   upload, OWN_SPLIT)


def from_train_test(name: str, x: np.ndarray, y: np.ndarray, x_test: np.ndarray,
                    y_test: np.ndarray, max_samples: int = MAX_SAMPLES) -> Dataset:
    """A dataset from given train and test arrays (``from_module``'s ``X_test, y_test``),
    checked as :func:`from_split` checks a file's own split."""
    return from_split(name, {"X_train": x, "y_train": y, "X_test": x_test, "y_test": y_test},
                      max_samples)


def as_class_labels(data: Dataset) -> Dataset:
    """``data`` with whole-number float targets of one column cast to int64 class labels (what
    cross-entropy needs); other targets raise a LandscapeError that says what to change."""
    if data.task == "classification":
        return data
    parts = {"y_train": data.y_train, "y_test": data.y_test}
    for key, y in parts.items():
        if y.shape[1] != 1:
            raise LandscapeError(
                f"data: cross_entropy needs one class index per sample, but {key} has "
                f"{y.shape[1]} columns (one-hot or several targets); save y.argmax(1) as "
                "integers for one-hot labels, or choose loss mse"
            )
        bad = np.flatnonzero((y[:, 0] != np.round(y[:, 0])) | (y[:, 0] < 0)
                             | (y[:, 0] > MAX_LABEL))
        if len(bad):
            raise LandscapeError(
                f"data: cross_entropy needs class indices 0, 1, 2, ...; {key}[{bad[0]}] is "
                f"{float(y[bad[0], 0])!r}. Save the labels as integers (e.g. "
                "y.astype('int64') when they are classes), or choose loss mse for real-valued "
                "targets"
            )
    return replace(data, y_train=data.y_train[:, 0].astype(np.int64),
                   y_test=data.y_test[:, 0].astype(np.int64), task="classification")
