"""Minima of a spin model: where many seeded descents end, against the large-N p-spin theory.

:func:`spin_minima` runs descents from the seeded random starts ``random:0 .. random:K-1``
(gradient descent on the sphere for the p-spin, single-spin flips for Ising) and reports the
energies of the minima they reach, the start states themselves, and the full Hessian spectrum at
the lowest minimum. For the p-spin, ``meta`` carries the Auffinger-Ben Arous-Cerny threshold and
ground-state energies and the semicircle the spectrum should follow (:mod:`landscapes.spin.theory`).
This one result serves the library, the dashboard and ``landscapes minima``.

Units. Energies are per spin, ``H/N`` (README.md, The models; ``unit`` =
``"energy per spin"``). Hessian eigenvalues are those of the TOTAL energy ``H`` (not per spin)
restricted to the tangent space of ``|s|^2 = N`` -- the Riemannian Hessian
``P (hess H - (s.grad H / N) I) P`` of :mod:`landscapes.sphere`, in units of H per unit
``|ds|^2`` -- exactly the quantity whose large-N law :mod:`landscapes.spin.theory` states
(semicircle of radius ``2 sqrt(p(p-1))`` centred at ``-p e``).

The descents run on torch, imported when they run: the view's defaults and checks do not load it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import numpy as np

from landscapes.chunks import map_blocks
from landscapes.registry import Progress
from landscapes.results import ViewResult
from landscapes.spin import theory as pspin_theory
from landscapes.spin.models import SpinModel, model_meta
from landscapes.spin.pspin import PSpinGlass
from landscapes.viewspec import Interval, fill_view

if TYPE_CHECKING:
    from landscapes.spin.descent import Descents

MINIMA_DEFAULTS = {"view": "minima", "starts": 64}
MAX_STARTS = 512
MINIMA_STARTS = Interval(int, 1, MAX_STARTS)
# descents run in batches of this many starts: one step of a batch reads the couplings once for
# all its moving points (converged points cost nothing), so large batches amortize best
DESCENT_BATCH = 128
HESSIAN_UNIT = (
    "eigenvalues of the Riemannian Hessian of H (total energy, not per spin) on |s|^2 = N: "
    "P (hess H - (s.grad H / N) I) P on the tangent space, units of H per unit |ds|^2"
)
THEORY_NOTE = (
    "threshold_energy and ground_energy are large-N (N -> infinity) values for the PURE p-spin "
    "glass (planted = 0) at this p, from Auffinger, Ben Arous & Cerny 2013; finite N and a "
    "planted term shift the minima actually found"
)


def normalize_minima_view(view: dict) -> dict:
    """Canonical minima view for spin models: ``{"view": "minima", "starts": K}``, 1 <= K <= 512.

    Raises LandscapeError (unknown settings, a non-number, K out of range).
    """
    return fill_view({"view": "minima", **view}, {"minima": MINIMA_DEFAULTS},
                     {"starts": MINIMA_STARTS})


def _descend_in_batches(model: SpinModel, starts: np.ndarray, progress: Progress) -> list[Descents]:
    """The descents from ``starts``, DESCENT_BATCH at a time (the batches on several processes
    inside :func:`landscapes.chunks.processes`: each batch's descents are the same wherever
    they run). Progress counts descents on this process, whole batches from workers."""
    from landscapes.spin.descent import Descents, descend

    total = len(starts)
    home = os.getpid()

    def batch(lo: int, hi: int) -> dict:
        report = None
        if progress is not None and os.getpid() == home:  # not from a forked worker
            def report(done: int, _: int) -> None:
                progress(lo + done, total)
        return dataclasses.asdict(descend(model, starts[lo:hi], report))

    # a batch is a second or more and shares no warm-up: every batch on the workers
    parts = map_blocks(batch, total, DESCENT_BATCH, progress, min_blocks=1, warm_first=False,
                       combine=list)
    return [Descents(**part) for part in parts]


def _semicircle(model: SpinModel, state: np.ndarray) -> dict:
    """Centre and radius of the bulk semicircle of the Riemannian Hessian at ``state``.

    Pure glass: center ``-p e`` (Euler: ``s.grad H = p H``). With a planted term
    ``-lambda N m^r`` (homogeneous of degree r) the radial shift is ``-(p e_glass + r e_planted)``
    with ``e_planted = -lambda m^r``, and the planted term adds one outlier (rank one), not bulk.
    ``energy`` is the energy per spin that gives this center in
    :func:`landscapes.spin.theory.semicircle_density` (``-center / p``).
    """
    import torch

    assert isinstance(model, PSpinGlass)  # the semicircle is the p-spin glass's
    s = torch.as_tensor(state)[None]
    e_glass = float(model.glass_hamiltonian(s)[0]) / model.n
    m = float(model.overlap(state))
    e_planted = -model.planted * m**model.planted_order
    center = -(model.p * e_glass + model.planted_order * e_planted)
    energy = -center / model.p
    center, radius, left = pspin_theory.hessian_spectrum_bounds(model.p, energy)
    return {
        "centre": float(center), "radius": float(radius), "left_edge": float(left),
        "energy": float(energy), "p": model.p,
        "formula": "large-N semicircle of radius 2 sqrt(p(p-1)) centred at -(s.grad H)/N "
                   "(= -p e for the pure glass)",
    }


def spin_minima(model: SpinModel, view: dict, progress: Progress = None) -> ViewResult:
    """Minima reached by descents from ``random:0 .. random:K-1`` (K = ``view["starts"]``).

    Arrays: ``energies``, ``overlaps``, ``converged``, ``min_hessian_eig``, ``steps`` (K,) per
    minimum (energies per spin; overlap with the native/planted state; smallest Riemannian
    Hessian eigenvalue of H, NaN for Ising flips); ``states`` (K, N) the minima themselves
    (``|s|^2 = N``; +-1 for Ising); ``starts`` (K, N) the start states ``random:0 ..
    random:K-1`` the descents began from; ``lowest_state`` (N,) the lowest minimum
    among the converged ones with a positive Hessian (all, if none is); ``spectrum`` (N-1,) its
    full Riemannian Hessian spectrum (p-spin only); plus the model's ``couplings`` and
    ``native``. ``progress(done, total)`` counts finished descents; an exception raised from
    it cancels the computation.
    """
    import torch

    from landscapes.sphere import riemannian_hessian_eigenvalues
    from landscapes.spin.descent import seeded_starts

    view = normalize_minima_view(view)
    k = view["starts"]
    if progress:
        progress(0, k)
    starts = seeded_starts(model, range(k))
    parts = _descend_in_batches(model, starts, progress)
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
        "starts": starts,
        "lowest_state": states[lowest],
        **model.arrays(),
    }
    meta = {
        **model_meta(model),
        "kind": "minima",
        "view": view,
        "starts": f"random:0 .. random:{k - 1} (the model's seeded random starts)",
        "method": parts[0].method,
        "lowest_index": lowest,
        "lowest_energy": float(energies[lowest]),
        "converged_count": int(converged.sum()),
    }
    if not isinstance(model, PSpinGlass):
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


__all__ = ["MAX_STARTS", "MINIMA_DEFAULTS", "normalize_minima_view", "spin_minima"]
