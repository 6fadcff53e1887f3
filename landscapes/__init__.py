"""Funnelscope's computation library: spin-model energy landscapes, slices and paths.

Pure numpy + torch; nothing here imports Dash. The command line lives in
:mod:`landscapes.cli`, the request -> result entry point in :mod:`landscapes.views`.
``landscapes.from_module`` (any ``torch.nn.Module``'s loss landscape from Python,
:mod:`landscapes.networks.module`) is loaded on first use, so ``import landscapes`` stays light.
"""

import importlib
from typing import Any

from landscapes.errors import LandscapeError

__version__ = "0.1.0"

__all__ = ["LandscapeError", "__version__", "from_module"]

# attributes loaded on first access (PEP 562): name -> the module that defines it
LAZY = {"from_module": "landscapes.networks.module"}


def __getattr__(name: str) -> Any:
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'landscapes' has no attribute {name!r}")
