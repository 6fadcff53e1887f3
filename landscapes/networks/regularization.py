"""Weight decay on a computed network slice: the L2 term added without recomputing the loss.

With weight decay the objective is ``L(theta) + lambda * |theta|^2``. On a slice the parameters
are ``theta = c + sum_k a_k d_k`` (centre ``c``, directions ``d_k``: the slice's own arrays), so

    |theta|^2 = [1, a] G [1, a]^T,   G = Gram matrix of the rows (c, d_1, ..., d_k),

a quadratic in the coefficients: one (k+1) x (k+1) Gram matrix and the grid give the term at
every point exactly (float64), whatever the network. ``lambda`` is in loss units per squared
parameter unit; PyTorch's ``weight_decay=wd`` in SGD adds the gradient of ``(wd / 2) |theta|^2``,
so it corresponds to ``lambda = wd / 2``. The parameters are those the slice moves (the centre
vector: every trainable parameter, BatchNorm running statistics excluded).

This is the network analogue of temperature in the spin models' F(Q; T): a knob that reshapes
the landscape the optimizer sees (here: tilting every direction towards the origin).
"""

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.slices import Slice, grid_coefficients


def squared_norm(result: Slice) -> np.ndarray:
    """|theta|^2 at every point of a Euclidean slice or path, in the shape of its grid.

    The grid's shape is ``result.values.shape`` without a trailing metrics axis (networks keep
    one value per point in ``values``; further metrics are extras).
    """
    coefs = result.extras.get("coefficients")
    if coefs is None:
        coefs = grid_coefficients(result.axes)
    return squared_norm_at(result, coefs).reshape(grid_shape(result))


def squared_norm_at(result: Slice, coefs: np.ndarray) -> np.ndarray:
    """|c + coefs @ directions|^2 for coefficient rows ``coefs`` (P, k), through the Gram matrix."""
    if result.geometry != "euclidean":
        raise LandscapeError("weight decay applies to network slices (Euclidean parameters); "
                             "this slice lies on the sphere")
    rows = np.vstack([result.center[None, :], result.directions]).astype(np.float64)
    gram = rows @ rows.T
    coefs = np.atleast_2d(np.asarray(coefs, dtype=np.float64))
    v = np.hstack([np.ones((coefs.shape[0], 1)), coefs])
    return np.einsum("pi,ij,pj->p", v, gram, v)


def grid_shape(result: Slice) -> tuple[int, ...]:
    """The shape of the slice's grid: (len(z), len(y), len(x)) for its axes, or (P,) for a path
    with per-point coefficients."""
    coefs = result.extras.get("coefficients")
    if coefs is not None:
        return (coefs.shape[0],)
    return tuple(len(a) for a in result.axes[::-1])


def with_weight_decay(result: Slice, strength: float) -> np.ndarray:
    """The slice's values plus ``strength * |theta|^2`` (``strength`` = lambda >= 0)."""
    if strength < 0 or not np.isfinite(strength):
        raise LandscapeError(f"weight decay must be a finite number >= 0; got {strength}")
    values = np.asarray(result.values, dtype=np.float64)
    if strength == 0:
        return values
    return values + strength * squared_norm(result).reshape(values.shape)
