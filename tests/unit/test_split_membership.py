"""Which samples are train and which are test, pinned from outside the code under test.

The sizes and the membership digests below are literals (the sha256 of each part's rows,
sorted, as float32 bytes), and the rules are rebuilt here from their documented definitions
with numpy, hashlib and scikit-learn directly: a swapped, reshuffled or resized split fails
these tests even where every number computed *from* the split would still look plausible.
"""

import hashlib
import zlib

import numpy as np
import pytest
from sklearn import datasets as sk

from landscapes.networks.datasets import BUILTIN, from_arrays, from_split, load_builtin

# name: (train samples, test samples, train digest, test digest)
PINNED = {
    "moons": (1000, 500, "7c394a74343bc15a", "b8984b24fa3937c2"),
    "circles": (1000, 500, "3f9233172e9f2b32", "8236fd1306986b94"),
    "spirals": (1000, 500, "ad746b1c98547345", "b98401d671a4d378"),
    "digits": (1438, 359, "587d81ddbdb13d3e", "46ecb1c507da9c57"),
    "iris": (120, 30, "865615741be3dcf4", "e810beb1715892b8"),
    "multiply": (1000, 500, "edff1dcbeba2178d", "d506196c337d7c48"),
    "regression": (354, 88, "30a3aaf8b6c3d8f3", "c900d8e1bbb80972"),
}


def _digest(x: np.ndarray) -> str:
    rows = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    rows = rows[np.lexsort(rows.T[::-1])]
    return hashlib.sha256(rows.tobytes()).hexdigest()[:16]


def _rows(x: np.ndarray) -> set[bytes]:
    flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    return {row.tobytes() for row in flat}


def test_every_builtin_dataset_is_pinned():
    assert set(PINNED) == set(BUILTIN)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_builtin_split_sizes_and_membership(name):
    data = load_builtin(name)
    n_train, n_test, train, test = PINNED[name]
    assert (len(data.x_train), len(data.y_train)) == (n_train, n_train)
    assert (len(data.x_test), len(data.y_test)) == (n_test, n_test)
    assert (_digest(data.x_train), _digest(data.x_test)) == (train, test)


@pytest.mark.parametrize("name, make, share", [
    ("moons", lambda: sk.make_moons(n_samples=1500, noise=0.1, random_state=0), 1 / 3),
    ("digits", lambda: (sk.load_digits().images[:, None] / 16.0, sk.load_digits().target), 0.2),
])
def test_builtin_split_follows_its_documented_rule(name, make, share):
    """The permutation ``default_rng([0, crc32("split:" + name), 0])``; its last
    ``round(share * n)`` indices are the test samples."""
    x, y = make()
    order = np.random.default_rng([0, zlib.crc32(f"split:{name}".encode()), 0]).permutation(len(x))
    test = order[len(x) - round(share * len(x)):]
    train = order[: len(x) - round(share * len(x))]
    data = load_builtin(name)
    np.testing.assert_array_equal(data.x_train, x[train].astype(np.float32))
    np.testing.assert_array_equal(data.y_test, y[test])


def test_uploaded_x_y_split_is_80_20_seeded_by_the_content():
    g = np.random.default_rng(5)
    x = g.normal(size=(250, 3)).astype(np.float32)
    y = g.integers(0, 3, 250)
    data = from_arrays("whatever.npz", x, y)
    # the documented seed: sha256 over (shape repr, float32 X bytes, shape repr, int64 y bytes)
    digest = hashlib.sha256()
    for array in (x, y.astype(np.int64)):
        digest.update(repr(tuple(array.shape)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    order = np.random.default_rng(int(digest.hexdigest(), 16)).permutation(250)
    assert (len(data.x_train), len(data.x_test)) == (200, 50)
    np.testing.assert_array_equal(data.x_train, x[order[:200]])
    np.testing.assert_array_equal(data.x_test, x[order[200:]])
    np.testing.assert_array_equal(data.y_test, y[order[200:]])
    assert _rows(data.x_train).isdisjoint(_rows(data.x_test))
    # the same content under another name: the same split
    again = from_arrays("renamed.npz", x, y)
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_a_file_s_own_split_is_kept_as_given():
    g = np.random.default_rng(6)
    arrays = {"X_train": g.normal(size=(30, 2)), "y_train": g.integers(0, 2, 30),
              "X_test": g.normal(size=(7, 2)), "y_test": g.integers(0, 2, 7)}
    data = from_split("own.npz", arrays)
    np.testing.assert_array_equal(data.x_train, arrays["X_train"].astype(np.float32))
    np.testing.assert_array_equal(data.x_test, arrays["X_test"].astype(np.float32))
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])
