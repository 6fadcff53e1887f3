"""Standalone HTML export: one page with plotly.js inlined (works offline) showing the figure the
dashboard shows for the result -- the result kind's :attr:`~landscapes.registry.ResultKind.figure`,
drawn with the panel's display options (colour scale, log, clip, plot type, contour levels,
weight decay, ``camera``), so the page matches the panel: same plot type, colour scale and
camera. The PNG camera of the Plotly toolbar downloads the figure. The meta JSON is embedded as
``<script type="application/json" id="funnelscope-meta">``.
"""

import html as html_lib
import json
import re
from collections.abc import Callable
from typing import Any

import landscapes
from landscapes import registry
from landscapes.errors import LandscapeError
from landscapes.io.text import describe, file_stem, meta_json
from landscapes.registry import Result, ResultKind

META_ID = "funnelscope-meta"
FIGURE_ID = "funnelscope-figure"


def require(record: ResultKind) -> Callable[[Result, dict | None], Any]:
    """``record``'s figure builder; LandscapeError if its results cannot be drawn."""
    if record.figure is None:
        raise LandscapeError(f"no html export for {record.kind!r} views; use npz")
    return record.figure


def figure(result: Result, display: dict | None = None):  # noqa: ANN201 -- a plotly Figure
    """The figure the dashboard shows for ``result`` with the drawing options ``display`` (as
    ``app.callbacks.display_options`` makes them, optionally with ``camera``; None: the
    defaults): the result kind's record draws it."""
    record = registry.result_kind(str(result.meta.get("kind")))
    return require(record)(result, display)


def _script_json(meta: dict) -> str:
    """JSON safe inside a <script> element (no '<', '>' or '&' can end or open a tag)."""
    text = meta_json(meta)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def to_html(result: Result, display: dict | None = None) -> str:
    """A standalone HTML page (plotly.js inlined) with :func:`figure` and the meta JSON."""
    fig = figure(result, display)
    title = f"Funnelscope: {describe(result.meta)}"
    div = fig.to_html(
        full_html=False, include_plotlyjs=True, div_id=FIGURE_ID, default_height="90vh",
        config={"responsive": True, "displaylogo": False,
                "toImageButtonOptions": {"format": "png", "filename": file_stem(result.meta),
                                         "scale": 2}},
    )
    version = result.meta.get("library_version", landscapes.__version__)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html_lib.escape(title)}</title>\n"
        f"<script type=\"application/json\" id=\"{META_ID}\">{_script_json(result.meta)}</script>\n"
        "</head>\n<body>\n"
        f"<p style=\"font-family: sans-serif; font-size: small\">{html_lib.escape(title)} "
        f"&middot; unit: {html_lib.escape(str(result.meta.get('unit', '')))} &middot; landscapes "
        f"{html_lib.escape(str(version))}; "
        f"the full settings are in the <code>{META_ID}</code> JSON block of this page.</p>\n"
        f"{div}\n</body>\n</html>\n"
    )


def read_html_meta(text: str) -> dict:
    """The meta dict embedded in an HTML export."""
    match = re.search(rf'<script type="application/json" id="{META_ID}">(.*?)</script>', text,
                      flags=re.S)
    if not match:
        raise LandscapeError("no Funnelscope meta block in this HTML")
    return json.loads(match.group(1))
