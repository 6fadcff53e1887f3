"""The spin models and the one place that turns a model spec (plain dict) into an instance.

A spec is ``{"model": "ising", "n": 16, "native_bias": 2.0, "seed": 0}`` or
``{"model": "pspin", "n": 64, "p": 3, "planted": 0.0, "planted_order": 2, "seed": 0}``;
:func:`normalize_spec` fills defaults and checks types, so equal requests give equal keys.
"""

import inspect
import math
from functools import lru_cache

from landscapes.errors import LandscapeError
from landscapes.results import base_meta
from landscapes.spin.ising import MAX_SPINS, MIN_SPINS, IsingFunnel
from landscapes.spin.pspin import MAX_COUPLINGS, ORDERS, PSpinGlass
from landscapes.viewspec import SEED, SHOWN, Constraint, Interval, Options, show, validate

SpinModel = IsingFunnel | PSpinGlass
UNIT = "energy per spin"  # every spin energy is H/N (README.md, The models)
FAMILIES: dict[str, type[IsingFunnel] | type[PSpinGlass]] = {
    "ising": IsingFunnel,
    "pspin": PSpinGlass,
}


def _parameters(family: type[IsingFunnel] | type[PSpinGlass]) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(family.create).parameters)


def build_ising(spec: dict) -> IsingFunnel:
    """The Ising model of ``spec`` (LandscapeError if it names another family)."""
    model = build_model(spec)
    if not isinstance(model, IsingFunnel):
        raise LandscapeError(f"this view is computed for the Ising model only; got {model.name!r}")
    return model


#: every parameter of each spin family, with its range (:mod:`landscapes.viewspec`); the p-spin's
#: n is further limited by its couplings: n**p <= MAX_COUPLINGS (PSpinGlass.create)
CONSTRAINTS: dict[str, dict[str, Constraint]] = {
    "ising": {"n": Interval(int, MIN_SPINS, MAX_SPINS), "native_bias": Interval(float, 0, 100),
              "seed": SEED},
    "pspin": {"n": Interval(int, 2, math.isqrt(MAX_COUPLINGS)), "p": Options(ORDERS),
              "planted": Interval(float, 0, 100), "planted_order": Interval(int, 1, 8),
              "seed": SEED},
}


def normalize_spec(spec: dict) -> dict:
    """The canonical form of a model spec: known keys only, defaults filled, numbers typed and
    in range (:data:`CONSTRAINTS`)."""
    name = spec.get("model")
    if not isinstance(name, str) or name not in FAMILIES:
        raise LandscapeError(f"unknown model {show(name)}; choose one of {', '.join(FAMILIES)}")
    params = _parameters(FAMILIES[name])
    unknown = set(spec) - set(params) - {"model"}
    if unknown:
        raise LandscapeError(
            f"{name}: unknown parameter(s) {', '.join(sorted(str(k)[:SHOWN] for k in unknown))}; "
            f"allowed: {', '.join(params)}"
        )
    out: dict = {"model": name}
    for key, param in params.items():
        value = spec.get(key)
        out[key] = param.default if value is None else value
    return validate(out, CONSTRAINTS[name], name)


def build_model(spec: dict) -> SpinModel:
    """Draw the model a spec names (cached: the same spec returns the same instance)."""
    canonical = normalize_spec(spec)
    return _build(tuple(sorted(canonical.items())))


@lru_cache(maxsize=4)
def _build(items: tuple) -> SpinModel:
    spec = dict(items)
    family = FAMILIES[spec.pop("model")]
    return family.create(**spec)


def model_meta(model: SpinModel, unit: str = UNIT) -> dict:
    """The shared meta of a spin model's result (:func:`landscapes.results.base_meta`)."""
    return base_meta(model.spec, unit, model.seed, model.energy_convention)


__all__ = [
    "CONSTRAINTS", "FAMILIES", "UNIT", "IsingFunnel",
    "PSpinGlass", "SpinModel", "build_model", "model_meta",
    "normalize_spec",
]
