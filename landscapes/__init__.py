"""Funnelscope's computation library: spin-model energy landscapes, slices and paths.

Pure numpy + torch; nothing here imports Dash. The command line lives in
:mod:`landscapes.cli`, the request -> result entry point in :mod:`landscapes.views`.
"""

from landscapes.errors import LandscapeError

__version__ = "0.1.0"

__all__ = ["LandscapeError", "__version__"]
