"""Reading and writing results: the ``.npz`` contract (:mod:`landscapes.io.npz`) and the export
formats (:mod:`landscapes.io.formats`). Importing this package registers the library's result
kinds (:mod:`landscapes.io.kinds`), which every writer and the dashboard look up."""

from landscapes.io import kinds  # noqa: F401 -- registers the result kinds
