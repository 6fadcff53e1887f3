"""The page as tests see it without a browser: a panel's controls as the callbacks receive them
(by name, as in app.MODEL_NAMES) and the visible texts of a layout tree."""

from dash.development.base_component import Component

from app import ids
from app.controls import LOSS_FROM_CHECKPOINT, MODEL_NAMES

BASE = {ids.MODEL: "ising", ids.VIEW: "slice", ids.ISING_N: 10, ids.NATIVE_BIAS: 2.0,
        ids.PSPIN_N: 16, ids.P: 3, ids.PLANTED: 0.0, ids.SEED: 3, ids.SPAN: 1.0,
        ids.STEPS: 21, ids.CENTER: "minimum:0", ids.DIRECTIONS: "random",
        ids.PATH_FROM: "random:0", ids.PATH_TO: "minimum:0", ids.NET_SOURCE: "moons-mlp",
        ids.NET_DATA: "moons", ids.NET_LOSS: LOSS_FROM_CHECKPOINT, ids.NET_DIRECTIONS: "filter",
        ids.NET_PATH_KIND: "linear", ids.REFERENCE: "ground", ids.VOLUME_STEPS: 13}


def panel_controls(**changes) -> dict:
    """Every control of a panel: a small Ising slice (N = 10, 21x21) unless ``changes`` say
    otherwise; fails if a control is missing or unknown."""
    assert set(BASE) == set(MODEL_NAMES)
    unknown = set(changes) - set(BASE)
    assert not unknown, f"not panel controls: {unknown}"
    return {**BASE, **changes}


def components(node):
    """Every component in the tree under ``node`` (depth first)."""
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            yield from components(child)


def visible_texts(node, found: set[str] | None = None,  # noqa: ANN001 -- any node
                  strip: str = " ") -> set[str]:
    """The visible strings under ``node`` (text children and option labels), without the
    characters ``strip`` at either end (" :" also drops a label's colon)."""
    found = set() if found is None else found
    if isinstance(node, str):
        if node.strip(strip):
            found.add(node.strip(strip))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        found.add(f"{node:g}")
    elif isinstance(node, list | tuple):
        for child in node:
            visible_texts(child, found, strip)
    elif isinstance(node, dict):
        visible_texts(node.get("label"), found, strip)
    elif isinstance(node, Component):
        visible_texts(getattr(node, "children", None), found, strip)
        for option in getattr(node, "options", None) or []:
            visible_texts(option if isinstance(option, dict) else str(option), found, strip)
    return found
