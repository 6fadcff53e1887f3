"""Exact fast sphere slices of the spin models from polynomial coefficients.

Conventions: values are energies per spin (H/N), geometry ``sphere``: the grid point with
coefficients ``x = (x_1, .., x_k)`` is ``retract(u)`` with ``u = c + x_1 d_1 + .. + x_k d_k`` and
``retract(u) = sqrt(N) u / |u|``; the output has the shape and ordering of
:func:`landscapes.slices.evaluate_grid` (``values[i, j]`` at ``(x[j], y[i])``, a volume is
``(nz, ny, nx)``).

Write ``e_0 = c, e_1 = d_1, .., e_k = d_k`` and ``y = (1, x_1, .., x_k)`` so that
``u = sum_m y_m e_m``. A form of degree ``q`` in ``u`` is then a polynomial of degree ``q`` in
``x``: with ``T[m_1..m_q] = F(e_m1, .., e_mq)`` (every slot contracted with its own vector -- the
p-spin couplings J are over *ordered* tuples and not symmetric), the coefficient of
``x_1^i_1 .. x_k^i_k`` sums T over every placement of ``i_1`` d_1's, .., ``i_k`` d_k's and the
remaining ``c``'s among the q slots. The pieces, each computed once per slice:

* glass ``P(x) = J.u^{⊗p}`` (degree p); on the sphere it scales by ``(N / |u|^2)^{p/2}``;
* norm ``Q(x) = |u|^2`` (degree 2, from the Gram matrix of the ``e_m``);
* planted ``L(x) = v.u`` (degree 1), so ``m = v.s / N = L / sqrt(N Q)``;
* Ising ``u.K.u`` (degree 2), scaled by ``N / Q``.

so that (per spin)

    p-spin:  E = N^{-(p-1)/2} P (N/Q)^{p/2} / N  -  lambda m^r,
    Ising:   E = -1/2 (u.K.u) / Q.

The coefficients cost one pass over J (``E @ J.reshape(N, -1)``, a (k+1, N^(p-1)) result, so
nothing bigger than J is materialised) and shrinking contractions after it; any grid is then a few
small tensor products with Vandermonde matrices of the axes and O(1) work per point.
"""

import numpy as np

from landscapes.errors import LandscapeError
from landscapes.registry import Progress
from landscapes.slices import MAX_POINTS, evaluate_grid
from landscapes.spin.ising import IsingFunnel
from landscapes.spin.pspin import PSpinGlass

POLYNOMIAL = "polynomial"
POINTWISE = "pointwise"


def contract_slots(tensor: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``T[m_1..m_q] = sum_i tensor[i_1..i_q] vectors[m_1, i_1] .. vectors[m_q, i_q]``.

    ``tensor`` has shape (N,)*q, ``vectors`` (r, N); the result has shape (r,)*q. Contracts the
    first slot first (one wide matrix product over J), so the largest intermediate is
    (r, N^(q-1)): no bigger than the tensor while r <= N.
    """
    q, n, r = tensor.ndim, tensor.shape[0], len(vectors)
    t = vectors @ np.asarray(tensor, dtype=np.float64).reshape(n, -1)  # (r, N^(q-1)): slot 1
    for done in range(1, q):
        # t[front, i, rest]: i indexes slot done + 1; vectors @ t gives [front, m, rest]
        t = vectors @ t.reshape(r**done, n, -1)
    return t.reshape((r,) * q)


def monomial_coefficients(tensor: np.ndarray) -> np.ndarray:
    """Coefficients of ``sum_m T[m_1..m_q] y_m1 .. y_mq`` with ``y = (1, x_1, .., x_k)``.

    ``tensor`` has shape (k+1,)*q; the result C has shape (q+1,)*k with ``C[i_1, .., i_k]`` the
    coefficient of ``x_1^i_1 .. x_k^i_k`` (zero where ``i_1 + .. + i_k > q``).
    """
    q, r = tensor.ndim, tensor.shape[0]
    k = r - 1
    slots = np.indices(tensor.shape).reshape(q, -1)
    powers = tuple((slots == m).sum(0) for m in range(1, r))
    coefs = np.zeros((q + 1,) * k)
    np.add.at(coefs, powers, tensor.reshape(-1))
    return coefs


def evaluate_polynomial(coefs: np.ndarray, axes: list[np.ndarray]) -> np.ndarray:
    """``sum C[i_1..i_k] x_1^i_1 .. x_k^i_k`` on the grid of ``axes``, shape (n_k, .., n_1)."""
    degree = coefs.shape[0] - 1
    out = coefs
    for axis in axes:  # contract the leading power index, append this axis's grid index
        vander = np.vander(np.asarray(axis, dtype=np.float64), degree + 1, increasing=True)
        out = np.tensordot(out, vander, axes=([0], [1]))
    return np.ascontiguousarray(out.transpose(tuple(range(len(axes)))[::-1]))


def _grid_form(tensor: np.ndarray, axes: list[np.ndarray]) -> np.ndarray:
    """The form with contracted tensor ``T`` (k+1,)*q evaluated at every grid point."""
    return evaluate_polynomial(monomial_coefficients(tensor), axes)


def _power(x: np.ndarray, k: int) -> np.ndarray:
    """``x**k`` for a whole k >= 1 by repeated multiplication (faster than pow for small k)."""
    if k > 8:
        return x**k
    out = x.copy()
    for _ in range(k - 1):
        out *= x
    return out


def _check(model: PSpinGlass | IsingFunnel, center: np.ndarray, directions: np.ndarray,
           axes: list[np.ndarray]) -> None:
    if len(axes) != len(directions):
        raise LandscapeError(f"{len(axes)} axes need {len(axes)} directions; got {len(directions)}")
    if not axes:
        raise LandscapeError("a slice needs at least one axis")
    if center.shape != (model.n,) or directions.shape[1:] != (model.n,):
        raise LandscapeError(
            f"centre {center.shape} and directions {directions.shape} must have {model.n} "
            "components (the model's N)"
        )
    total = int(np.prod([len(a) for a in axes]))
    if total > MAX_POINTS:
        raise LandscapeError(f"a grid of {total:,} points is too large (limit {MAX_POINTS:,})")


def supports(model: object) -> bool:
    """Whether :func:`sphere_grid` has an exact polynomial form for ``model``."""
    return isinstance(model, PSpinGlass | IsingFunnel)


def sphere_grid(
    model: object, center: np.ndarray, directions: np.ndarray, axes: list[np.ndarray]
) -> np.ndarray | None:
    """Energies per spin on the sphere slice, as ``evaluate_grid(model.energy, .., "sphere")``.

    Returns None for a model without a polynomial form (anything but p-spin and Ising); raises
    LandscapeError for inconsistent shapes or a grid over ``MAX_POINTS``.
    """
    if not supports(model):
        return None
    assert isinstance(model, PSpinGlass | IsingFunnel)
    center = np.asarray(center, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    axes = [np.asarray(a, dtype=np.float64) for a in axes]
    _check(model, center, directions, axes)
    n = model.n
    basis = np.concatenate([center[None, :], directions])  # e_0 = c, e_m = d_m
    norm2 = _grid_form(basis @ basis.T, axes)  # |u|^2 from the Gram matrix
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(model, IsingFunnel):  # -1/2 (N/Q) u.K.u / N
            return -0.5 * _grid_form(contract_slots(model.couplings, basis), axes) / norm2
        inv_norm = 1.0 / np.sqrt(norm2)
        # N^{-(p-1)/2} P (N/Q)^{p/2} / N = N^{-1/2} P / |u|^p
        glass = _grid_form(contract_slots(model.couplings, basis) * n**-0.5, axes)
        values = glass * _power(inv_norm, model.p)
        if model.planted > 0:  # -lambda m^r with m = v.u / (sqrt(N) |u|)
            overlap = _grid_form(basis @ model.native * n**-0.5, axes) * inv_norm
            values -= model.planted * _power(overlap, model.planted_order)
    return values


def sphere_values(
    model: object,
    center: np.ndarray,
    directions: np.ndarray,
    axes: list[np.ndarray],
    progress: Progress = None,
) -> tuple[np.ndarray, str]:
    """Slice values and the method used: ``polynomial`` where supported, else ``pointwise``.

    ``progress(total, total)`` is called once at the end of a polynomial evaluation (the
    pointwise fallback reports after every chunk as :func:`evaluate_grid` does).
    """
    values = sphere_grid(model, center, directions, axes)
    if values is None:
        energy = model.energy  # type: ignore[attr-defined]
        return evaluate_grid(energy, center, directions, axes, "sphere", progress=progress), POINTWISE
    if progress:
        total = int(np.prod([len(a) for a in axes]))
        progress(total, total)
    return values, POLYNOMIAL
