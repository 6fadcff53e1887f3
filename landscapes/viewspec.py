"""View specs are plain dicts (``{"view": "slice", "steps": 51, ...}``); this fills and types them."""

from landscapes.errors import LandscapeError


def fill_view(view: dict, defaults: dict[str, dict], casts: dict[str, type]) -> dict:
    """``view`` with its kind's defaults filled in, unknown keys refused and values cast.

    ``defaults`` maps each view kind (``slice``, ``path``) to its full default spec; ``casts``
    maps keys to the type their values must convert to (e.g. ``{"steps": int}``).
    """
    kind = view.get("view", "slice")
    base = defaults.get(kind)
    if base is None:
        raise LandscapeError(f"unknown view {kind!r}; choose {' or '.join(defaults)}")
    unknown = set(view) - set(base)
    if unknown:
        raise LandscapeError(f"{kind}: unknown setting(s) {', '.join(sorted(unknown))}")
    out = {**base, **{k: v for k, v in view.items() if v is not None}}
    for key, cast in casts.items():
        if key in out:
            try:
                out[key] = cast(out[key])
            except (TypeError, ValueError):
                raise LandscapeError(f"{kind}: {key} must be a number; got {out[key]!r}") from None
    return out


def check_whole(view: dict, key: str, kind: str) -> None:
    """Refuse a fractional ``view[key]`` (``2.5`` starts) before :func:`fill_view` casts it."""
    value = view.get(key)
    if isinstance(value, float) and not value.is_integer():
        raise LandscapeError(f"{kind}: {key} must be a whole number; got {value!r}")
