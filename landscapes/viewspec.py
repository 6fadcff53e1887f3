"""Parameter validation for the plain-dict specs (model specs and view specs).

Like scikit-learn's ``_parameter_constraints``, every parameter of a spec is declared once with
a constraint -- :class:`Interval` (a whole or real number in a range), :class:`Options` (one of
a few values), :class:`Text` (a string, optionally parsed further) or :class:`Flag` (a
boolean) -- and :func:`validate` converts and checks a spec against its declaration. A refused
value raises :class:`~landscapes.errors.LandscapeError` with one line that names the parameter,
what it must be (its range) and the value it got::

    slice: steps must be a whole number in [2, 401]; got 1000000000

Every numeric parameter of every view has a finite range: that is what bounds the work one
request can ask for (the compute budget of :mod:`landscapes.budget` bounds the rest).
:func:`fill_view` fills a view spec's defaults and validates it; cross-parameter rules (steps
by dims, t_min < t_max) stay with the view that has them.
"""

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from landscapes.errors import LandscapeError

SHOWN = 60  # characters of a refused value quoted in a message
SEED_MAX = 2**32 - 1  # seeds are whole numbers in [0, SEED_MAX] (numpy's SeedSequence words)


def show(value: Any) -> str:
    """``repr(value)`` on one line, cut to :data:`SHOWN` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def _bound(x: float) -> str:
    return f"{x:,}" if isinstance(x, int) and abs(x) >= 10_000 else f"{x:g}" if isinstance(
        x, float) else str(x)


@dataclass(frozen=True)
class Interval:
    """A whole (``kind=int``) or finite real (``kind=float``) number in ``[low, high]``.

    ``low_open``: the low end is excluded (``(0, 10]``). Numbers given as strings (``"16"``) are
    read as numbers; booleans are not numbers; a real number for a whole one must be integral
    (``16.0`` is 16, ``2.5`` is refused).
    """

    kind: type
    low: float
    high: float
    low_open: bool = False
    note: str = ""  # said after the range (where another parameter narrows it)

    def describe(self) -> str:
        what = "a whole number" if self.kind is int else "a number"
        left = "(" if self.low_open else "["
        note = f" ({self.note})" if self.note else ""
        return f"{what} in {left}{_bound(self.low)}, {_bound(self.high)}]{note}"

    def convert(self, value: Any) -> int | float | None:
        """The number ``value`` stands for, or None if it is none (or not finite)."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
            return None
        if isinstance(value, str):
            if len(value) > 40:
                return None
            try:
                value = int(value) if self.kind is int else float(value)
            except ValueError:
                try:
                    value = float(value)
                except ValueError:
                    return None
        if isinstance(value, numbers.Integral):
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                return None
            if self.kind is int:
                if not value.is_integer():
                    return None
                return int(value)
        return self.kind(value)

    def check(self, where: str, name: str, value: Any) -> int | float:
        number = self.convert(value)
        if number is None or not self.low <= number <= self.high or (
                self.low_open and number == self.low):
            raise LandscapeError(f"{where}: {name} must be {self.describe()}; got {show(value)}")
        return number


@dataclass(frozen=True)
class Options:
    """One of ``values`` (compared by equality; a number option also matches ``3.0`` and
    ``"3"``, as :class:`Interval` reads numbers)."""

    values: tuple

    def describe(self) -> str:
        names = [str(v) for v in self.values]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return f"one of {listed}"

    def check(self, where: str, name: str, value: Any) -> Any:
        for option in self.values:
            if type(value) is type(option) and value == option:
                return option
            if isinstance(option, int) and not isinstance(option, bool):
                number = Interval(int, option, option).convert(value)
                if number is not None and number == option:
                    return option
        raise LandscapeError(f"{where}: {name} must be {self.describe()}; got {show(value)}")


@dataclass(frozen=True)
class Text:
    """A string of at most ``max_length`` characters; ``parse(text)`` (if given) checks it
    further and raises LandscapeError with its own one-line reason."""

    what: str = "a string"
    max_length: int = 200
    parse: Callable[[str], Any] | None = None

    def describe(self) -> str:
        return f"{self.what} (a string of at most {self.max_length} characters)"

    def check(self, where: str, name: str, value: Any) -> str:
        if not isinstance(value, str) or len(value) > self.max_length:
            raise LandscapeError(f"{where}: {name} must be {self.describe()}; got {show(value)}")
        if self.parse is not None:
            self.parse(value)
        return value


@dataclass(frozen=True)
class Flag:
    """A boolean (``true``/``false``; ``0`` and ``1`` are read as such)."""

    def describe(self) -> str:
        return "true or false"

    def check(self, where: str, name: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        raise LandscapeError(f"{where}: {name} must be {self.describe()}; got {show(value)}")


Constraint = Interval | Options | Text | Flag
SEED = Interval(int, 0, SEED_MAX)


def validate(values: Mapping[str, Any], constraints: Mapping[str, Constraint],
             where: str) -> dict:
    """``values`` with every declared parameter converted and checked (undeclared ones are
    passed through: unknown keys are the caller's to refuse)."""
    out = dict(values)
    for name, constraint in constraints.items():
        if name in out:
            out[name] = constraint.check(where, name, out[name])
    return out


def describe(constraints: Mapping[str, Constraint]) -> dict[str, str]:
    """Each parameter's allowed values in words (for the docs and the help)."""
    return {name: c.describe() for name, c in constraints.items()}


#: nesting of a request's JSON arrays and objects (a request needs 4; read by
#: :func:`landscapes.io.bounded.load_json`)
MAX_DEPTH = 16


def fill_view(view: dict, defaults: dict[str, dict],
              constraints: Mapping[str, Constraint], where: str | None = None) -> dict:
    """``view`` with its kind's defaults filled in, unknown keys refused and every declared
    parameter validated (:func:`validate`).

    ``defaults`` maps each view kind (``slice``, ``path``) to its full default spec;
    ``constraints`` maps parameters to their :data:`Constraint`; messages start with ``where``
    (default: the view kind).
    """
    kind = view.get("view", "slice")
    if not isinstance(kind, str):
        raise LandscapeError(f"view must name a view (a string); got {show(kind)}")
    base = defaults.get(kind)
    if base is None:
        raise LandscapeError(f"unknown view {show(kind)}; choose {' or '.join(defaults)}")
    unknown = set(view) - set(base)
    if unknown:
        names = ", ".join(sorted(str(k)[:SHOWN] for k in unknown))
        raise LandscapeError(f"{where or kind}: unknown setting(s) {names}")
    out = {**base, **{k: v for k, v in view.items() if v is not None}}
    return validate(out, {k: c for k, c in constraints.items() if k in base}, where or kind)
