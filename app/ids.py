"""Every component id of the dashboard, in one place (layout, callbacks and tests use these).

The two panels share one set of controls, each id prefixed by the panel's side.
"""

PANELS = ("left", "right")

MODEL = "model"
ISING_CONTROLS = "ising-controls"
PSPIN_CONTROLS = "pspin-controls"
ISING_N = "ising-n"
NATIVE_BIAS = "native-bias"
PSPIN_N = "pspin-n"
P = "p"
PLANTED = "planted"
SEED = "seed"
SPAN = "span"
STEPS = "steps"
CENTER = "center"
DIRECTIONS = "directions"
PATH_FROM = "path-from"
PATH_TO = "path-to"
SURFACE = "surface"
PATH = "path"
MESSAGE = "message"


def pid(side: str, name: str) -> str:
    """The id of control ``name`` in panel ``side`` (e.g. ``left-surface``)."""
    return f"{side}-{name}"
