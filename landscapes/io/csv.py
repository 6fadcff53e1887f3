"""CSV export: ``#`` comment lines (what the file is, its columns, ``# meta: {JSON}`` on one line),
then one header row of column names, then one row per point.

The columns are the result kind's table (:attr:`landscapes.registry.ResultKind.table`; see
:mod:`landscapes.io.kinds`), its ``table_note`` says what a row is. Numbers are written with the
shortest text that reads back exactly (``repr``); NaN and infinities as ``nan``, ``inf``, ``-inf``
(read by ``numpy.loadtxt``, pandas and ``float``); booleans as 0/1. Read with
``pandas.read_csv(path, comment="#")`` or ``numpy.loadtxt(path, delimiter=",", skiprows=K)``
(the first comment line gives K). Arrays that are not one value per row (couplings, states,
merges, a slice's center and directions) are only in the ``.npz``.
"""

import io
import json
from collections.abc import Callable

import numpy as np

import landscapes
from landscapes import registry
from landscapes.errors import LandscapeError
from landscapes.io.text import describe, meta_json, number_text
from landscapes.registry import Result, ResultKind


def require(record: ResultKind) -> Callable[[Result], dict]:
    """``record``'s table builder; LandscapeError if its results cannot be written as CSV."""
    if record.table is None:
        raise LandscapeError(f"a {record.kind} view has no single table to write as CSV; use npz")
    return record.table


def to_csv(result: Result) -> str:
    """The result as CSV text: ``#`` comment lines (meta JSON among them), a header, the rows."""
    kind = str(result.meta.get("kind"))
    record = registry.result_kind(kind)
    table = require(record)
    try:
        columns = table(result)
    except KeyError as exc:
        raise LandscapeError(f"a {kind} result lacks the array {exc}; cannot tabulate it") from None
    comments = [
        f"Funnelscope {kind} export (landscapes {landscapes.__version__}): {describe(result.meta)}",
        f"unit: {result.meta.get('unit', '')}",
        f"columns: {record.table_note}",
        "arrays that are not one value per row are only in the .npz export",
        f"meta: {meta_json(result.meta)}",
    ]
    return csv_text(columns, comments)


def csv_text(columns: dict[str, np.ndarray], comments: list[str]) -> str:
    """Comment lines (the first says how to read the file), the header row and one row per entry
    of the equally long ``columns``."""
    lengths = {len(np.asarray(v).reshape(-1)) for v in columns.values()}
    if len(lengths) != 1:
        raise LandscapeError("CSV columns of different lengths")
    for name in columns:
        if "," in name or "\n" in name or '"' in name:
            raise LandscapeError(f"column name {name!r} cannot be written to CSV")
    texts = [number_text(v) for v in columns.values()]
    skip = len(comments) + 2  # the comment lines, the 'skiprows' line itself and the header row
    head = [f"numpy: np.loadtxt(path, delimiter=',', skiprows={skip}); "
            "pandas: pd.read_csv(path, comment='#')"]
    out = io.StringIO()
    out.write("\n".join(f"# {c}" for c in head + comments) + "\n")
    out.write(",".join(columns) + "\n")
    for row in zip(*texts, strict=True):
        out.write(",".join(row) + "\n")
    return out.getvalue()


def read_csv_meta(text: str) -> dict:
    """The meta dict stored in a CSV export's ``# meta:`` comment line."""
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# meta: "):
            return json.loads(line.removeprefix("# meta: "))
    raise LandscapeError("no '# meta:' line in this CSV; not a Funnelscope export")
