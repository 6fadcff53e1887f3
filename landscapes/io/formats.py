"""Export formats: the front door. Every result -- a :class:`~landscapes.slices.Slice` (slices and
paths) or a :class:`~landscapes.results.ViewResult` (funnel, sweep, minima, enumeration, free
energy) -- can be written as

* ``npz`` -- the export contract of docs/file-formats.md (:func:`landscapes.io.npz.write_npz`),
  any result;
* ``csv`` -- its result kind's table (:mod:`landscapes.io.csv`);
* ``vtk`` -- its result kind's structured grid, legacy ASCII VTK (:mod:`landscapes.io.vtk`);
* ``html`` -- the dashboard's figure of it, standalone (:mod:`landscapes.io.html`).

What each kind offers is its :class:`~landscapes.registry.ResultKind` record (the library's own
are in :mod:`landscapes.io.kinds`, registered on ``import landscapes.io``): a kind registered
elsewhere is written the same way. Every file carries the result's JSON ``meta`` (model spec,
seed, direction kind, geometry, unit, library version), so a file alone says how to reproduce
it. Units are those of ``meta["unit"]``: spin-model energies per spin (H/N), network values the
mean train loss; coefficients are in units of the directions (see :mod:`landscapes.slices`).
"""

import re
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import numpy as np

from landscapes import registry
from landscapes.errors import LandscapeError
from landscapes.io import bounded, csv, html, vtk
from landscapes.io.csv import read_csv_meta, to_csv
from landscapes.io.html import FIGURE_ID, META_ID, figure, read_html_meta, to_html
from landscapes.io.npz import write_npz
from landscapes.io.text import describe, file_stem
from landscapes.io.vtk import to_vtk
from landscapes.registry import Result, ResultKind
from landscapes.results import GRID_KINDS, from_arrays
from landscapes.slices import AXIS_NAMES

FORMATS = ("npz", "csv", "vtk", "html")
SUFFIXES = {".npz": "npz", ".csv": "csv", ".vtk": "vtk", ".html": "html", ".htm": "html"}
MEDIA_TYPES = {"npz": "application/octet-stream", "csv": "text/csv", "vtk": "text/plain",
               "html": "text/html"}
# what each format needs of a result kind's record (npz needs nothing: every result has arrays)
REQUIREMENTS: dict[str, Callable[[ResultKind], object]] = {
    "npz": lambda record: None, "csv": csv.require, "vtk": vtk.require, "html": html.require}


def format_from_path(path: str | Path, explicit: str | None = None) -> str:
    """The format to write ``path`` in: ``explicit`` if given, else from the suffix.

    No suffix means ``npz``. Raises LandscapeError for an unknown format, an unknown suffix
    without an explicit format, and a suffix that names another format than ``explicit``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    implied = SUFFIXES.get(suffix)
    if explicit is not None:
        _known(explicit)
        if implied is not None and implied != explicit:
            raise LandscapeError(
                f"{path.name} ends in {suffix} but the format is {explicit}; name the file "
                f"*.{explicit} or choose format {implied}"
            )
        return explicit
    if implied is not None:
        return implied
    if not suffix:
        return "npz"
    raise LandscapeError(
        f"cannot tell the format of {path.name} from its suffix {suffix}; use "
        f"{', '.join(s for s in SUFFIXES if s != '.htm')} or choose a format ({_choices()})"
    )


def _choices() -> str:
    return ", ".join(FORMATS[:-1]) + " or " + FORMATS[-1]


def _known(fmt: str) -> None:
    if fmt not in FORMATS:
        raise LandscapeError(f"unknown format {fmt!r}; choose {_choices()}")


def check_format(kind: str, fmt: str) -> None:
    """Raise LandscapeError, before any work, if a ``kind`` result cannot be written as ``fmt``
    (an unknown format or kind, or a kind whose record lacks what the format needs)."""
    _known(fmt)
    REQUIREMENTS[fmt](registry.result_kind(kind))


def render(result: Result, fmt: str, display: dict | None = None) -> str:
    """The text of ``result`` in the text format ``fmt`` (csv, vtk or html); ``display``: the
    panel's drawing options, used by html only (:func:`landscapes.io.html.to_html`)."""
    if fmt == "html":
        return to_html(result, display)
    return {"csv": to_csv, "vtk": to_vtk}[fmt](result)


def to_bytes(result: Result, fmt: str, display: dict | None = None) -> bytes:
    """The file content of ``result`` in ``fmt`` (for downloads); ``display`` as in
    :func:`render`."""
    _known(fmt)
    if fmt != "npz":
        return render(result, fmt, display).encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        return write_npz(Path(tmp) / "export.npz", result.to_arrays(), result.meta).read_bytes()


def write(result: Result, path: str | Path, fmt: str | None = None,
          display: dict | None = None) -> Path:
    """Write ``result`` to exactly ``path`` in ``fmt`` (default: from the suffix; none -> npz);
    ``display`` as in :func:`render`.

    The text formats are rendered in full before the file is opened: an error leaves no file.
    """
    path = Path(path)
    fmt = format_from_path(path, fmt)
    if fmt == "npz":
        return write_npz(path, result.to_arrays(), result.meta)
    text = render(result, fmt, display)
    try:
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        raise LandscapeError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def suffix_of(fmt: str) -> str:
    """The file suffix of a format (``.npz``, ``.csv``, ``.vtk``, ``.html``)."""
    return f".{fmt}"


def file_name(meta: dict, fmt: str) -> str:
    """A download's file name for a result's ``meta`` in ``fmt``: the model and view in words,
    lower case, hyphens (at most 80 characters), then the suffix -- e.g.
    ``funnelscope-ising-n-16-native-bias-2-0-seed-0-2d-slice-random-directions-sphere.csv``.
    The same stem names the PNG of an HTML export's camera button."""
    _known(fmt)
    return file_stem(meta) + suffix_of(fmt)


#: the largest export :func:`open_export` reads, its arrays' expansion and count, and its meta
MAX_EXPORT_BYTES = 64 * 2**20
EXPORT_EXPANSION = 8
MAX_EXPORT_ARRAYS = 512
MAX_META_CHARS = 2**20
_ARRAY_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")


def open_export(content: bytes, filename: str, max_bytes: int = MAX_EXPORT_BYTES) -> Result:
    """A result from the bytes of an ``.npz`` export (the CLI's, a Python session's, a GPU
    box's), validated before it is drawn; a LandscapeError says what is wrong.

    Bounded before anything is decompressed: the file (``max_bytes``), the arrays it expands to
    (``EXPORT_EXPANSION`` times that) and their count; read with ``allow_pickle=False``; every
    array numeric (bool, int, float) except ``meta``, a JSON object of at most
    ``MAX_META_CHARS`` whose ``kind`` is a registered result kind; a slice or path has
    ``values``, ``center``, ``directions`` and its axes, with matching shapes. The result is
    drawn once (its kind's figure) so that a file that cannot be shown is refused here.
    """
    name = PurePosixPath(filename.replace("\\", "/")).name
    if len(content) > max_bytes:
        raise LandscapeError(f"{name}: the file is {len(content):,} bytes, over the limit of "
                             f"{max_bytes:,} for an opened export")
    arrays = _export_arrays(content, name, max_bytes * EXPORT_EXPANSION)
    meta = _export_meta(arrays.pop("meta"), name)
    record = registry.result_kind(str(meta.get("kind")))  # LandscapeError for unknown kinds
    if record.kind in GRID_KINDS:
        _check_grid(arrays, meta, name)
    result = from_arrays(arrays, meta)
    try:
        figure(result, None)
    except Exception as exc:  # noqa: BLE001 -- any failure to draw is a refusal, with its reason
        raise LandscapeError(
            f"{name}: a {record.kind} export that cannot be drawn ({type(exc).__name__}: "
            f"{str(exc)[:200]}); was it changed after it was written?"
        ) from None
    return result


def _export_arrays(content: bytes, name: str, max_expanded: int) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz``, its member names, count and sizes checked before reading
    (:func:`landscapes.io.bounded.read_npz`)."""
    members = bounded.zip_members(content, name, "not an .npz file (corrupt, truncated or another "
                                  "format); open an export written by Funnelscope or write_npz",
                                  MAX_EXPORT_ARRAYS)
    bad = [m for m in members if not m.endswith(".npy") or not _ARRAY_NAME.fullmatch(m[:-4])]
    if bad:
        raise LandscapeError(f"{name}: unexpected member {bad[0][:80]!r}; an .npz export holds "
                             "only .npy arrays")
    if "meta.npy" not in members:
        raise LandscapeError(f"{name}: no 'meta' entry; not a Funnelscope export (its arrays "
                             "need the JSON meta that says what they are)")
    arrays = bounded.read_npz(content, name, [m[:-4] for m in members], members, max_expanded,
                              "open a smaller export")
    for key, array in arrays.items():
        if key != "meta" and array.dtype.kind not in "biuf":
            raise LandscapeError(f"{name}: array {key!r} has dtype {array.dtype}; an export's "
                                 "arrays are numbers")
    return arrays


def _export_meta(raw: np.ndarray, name: str) -> dict:
    """The meta JSON object of an export (a 0-d string array)."""
    if raw.dtype.kind != "U" or raw.ndim != 0 or len(str(raw)) > MAX_META_CHARS:
        raise LandscapeError(f"{name}: 'meta' must be one JSON string of at most "
                             f"{MAX_META_CHARS:,} characters")
    meta = bounded.load_json(str(raw), f"{name}: 'meta'", MAX_META_CHARS)
    if not isinstance(meta, dict):
        raise LandscapeError(f"{name}: 'meta' must be a JSON object; got {type(meta).__name__}")
    return meta


def _check_grid(arrays: dict[str, np.ndarray], meta: dict, name: str) -> None:
    """A slice or path: values on its axes, a centre and one direction per axis."""
    missing = [k for k in ("x", "values", "center", "directions") if k not in arrays]
    if missing:
        raise LandscapeError(f"{name}: a {meta['kind']} export needs arrays "
                             f"{', '.join(missing)}")
    axes = [arrays[k] for k in AXIS_NAMES if k in arrays]
    if any(a.ndim != 1 or not np.isfinite(a).all() for a in axes):
        raise LandscapeError(f"{name}: the axes x, y, z must be finite 1-D arrays")
    want = tuple(len(a) for a in axes[::-1])
    if arrays["values"].shape != want:
        raise LandscapeError(f"{name}: values have shape {arrays['values'].shape}; the axes "
                             f"need {want}")
    center, directions = arrays["center"], arrays["directions"]
    if center.ndim != 1 or directions.shape != (len(axes), len(center)):
        raise LandscapeError(f"{name}: center {center.shape} and directions "
                             f"{directions.shape} must be (D,) and ({len(axes)}, D)")
    if meta.get("geometry") not in ("euclidean", "sphere"):
        raise LandscapeError(f"{name}: meta 'geometry' must be euclidean or sphere")


__all__ = [
    "FIGURE_ID", "FORMATS", "MEDIA_TYPES", "META_ID", "SUFFIXES", "check_format", "describe",
    "figure", "file_name", "format_from_path", "open_export", "read_csv_meta", "read_html_meta",
    "render",
    "suffix_of",
    "to_bytes", "to_csv", "to_html", "to_vtk", "write",
]
