"""A panel's controls as the callbacks receive them (by name, as in app.callbacks.CONTROL_NAMES),
for tests that call the panel, preview and download functions without a browser."""

from app import callbacks, ids, layout

BASE = {ids.MODEL: "ising", ids.VIEW_KIND: "slice", ids.ISING_N: 10, ids.NATIVE_BIAS: 2.0,
        ids.PSPIN_N: 16, ids.P: 3, ids.PLANTED: 0.0, ids.SEED: 3, ids.SPAN: 1.0,
        ids.STEPS: 21, ids.CENTER: "minimum:0", ids.DIRECTIONS: "random",
        ids.PATH_FROM: "random:0", ids.PATH_TO: "minimum:0", ids.NET_SOURCE: "moons-mlp",
        ids.NET_DATA: "moons", ids.NET_LOSS: layout.LOSS_FROM_CHECKPOINT, ids.NET_DIRECTIONS: "filter",
        ids.NET_PATH_KIND: "linear", ids.REFERENCE: "ground"}


def panel_controls(**changes) -> dict:
    """Every control of a panel: a small Ising slice (N = 10, 21x21) unless ``changes`` say
    otherwise; fails if a control is missing or unknown."""
    assert set(BASE) == set(callbacks.CONTROL_NAMES)
    unknown = set(changes) - set(BASE)
    assert not unknown, f"not panel controls: {unknown}"
    return {**BASE, **changes}
