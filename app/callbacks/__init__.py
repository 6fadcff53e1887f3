"""The dashboard's callbacks, by concern; ``create_app`` calls each module's ``register``.

* :mod:`app.callbacks.panels` -- panel views (background jobs), previews, redraws, which
  controls show, the funnel's temperature slider and barrier-tree clicks;
* :mod:`app.callbacks.url` -- the URL state (writer, reader, history, Copy link);
* :mod:`app.callbacks.camera` -- the shared 3D camera (clientside);
* :mod:`app.callbacks.uploads` -- validating and storing uploads;
* :mod:`app.callbacks.downloads` -- a panel's Download buttons (from the cache only);
* :mod:`app.callbacks.status` -- the status banner and the active scenario's note.

Signatures are dict-grouped (``inputs={"controls": {name: Input(...)}, ...}``): a callback
reads its arguments by name, never by position. The JavaScript of the clientside callbacks is
in ``app/assets/funnelscope.js``.

:func:`register_request_check` answers a callback request of a shape the page never sends (an
unknown output, an input too few, ...) with a 400 and one line, before Dash, which would
answer it with a 500; the callbacks themselves judge the values. A script path Dash does not
serve (``/_dash-component-suites/...``, which Dash answers with a 500 and a traceback listing
every file it has) is a 404 with one line.
"""

from typing import Any

import flask
from dash import Dash
from dash.exceptions import DependencyException

UPDATE_PATH = "_dash-update-component"  # where the page sends every callback request


def _prop(item: object) -> bool:
    """Whether ``item`` names a component's property: ``{"id": ..., "property": ...}``."""
    return (isinstance(item, dict) and isinstance(item.get("id"), str | dict)
            and isinstance(item.get("property"), str))


def request_problem(callback_map: dict[str, Any], body: object) -> str | None:
    """Why ``body`` is not a request for one of the server's callbacks (in ``callback_map``) as
    the page sends it, in one line; None when it is one.

    Only the shape is checked -- a known callback, its number of outputs, inputs and states,
    each naming a property, and the changed properties as strings: the values are the
    callback's to judge. Dash itself answers a request of another shape with a 500.
    """
    if not isinstance(body, dict):
        return "a callback request is a JSON object"
    output = body.get("output")
    callback = callback_map.get(output) if isinstance(output, str) else None
    if callback is None or "callback" not in callback:  # unknown, or clientside (in the page)
        return "output does not name a callback of this page that runs on the server"
    assert isinstance(output, str)
    outputs = body.get("outputs")
    if output.startswith(".."):
        count = output.count("...") + 1
        if not (isinstance(outputs, list) and len(outputs) == count and all(map(_prop, outputs))):
            return (f"outputs must list this callback's {count} outputs, each as "
                    '{"id": ..., "property": ...}')
    elif not _prop(outputs):
        return 'outputs must name this callback\'s output as {"id": ..., "property": ...}'
    for group in ("inputs", "state"):
        items, count = body.get(group, []), len(callback[group])
        noun = "input" if group == "inputs" else "state"
        if not (isinstance(items, list) and len(items) == count and all(map(_prop, items))):
            return (f"{group} must list this callback's {count} {noun} values, each as "
                    '{"id": ..., "property": ..., "value": ...}')
    changed = body.get("changedPropIds", [])
    if not (isinstance(changed, list) and all(isinstance(c, str) for c in changed)):
        return 'changedPropIds must list the changed properties as "id.property" strings'
    return None


def register_request_check(app: Dash) -> None:
    """Answer a callback request of a shape the page never sends with 400 and a one-line JSON
    ``{"error": ...}`` before Dash sees it: a body that is not JSON (or not sent as JSON, or
    JSON ``null``) included."""
    path = app.config.routes_pathname_prefix + UPDATE_PATH

    @app.server.before_request
    def _check_callback_request():
        request = flask.request
        if request.path != path or request.method != "POST":
            return None
        body = request.get_json(silent=True) if request.is_json else None
        if body is None:
            return flask.jsonify(error="a callback request is a JSON object sent as "
                                       "application/json"), 400
        problem = request_problem(app.callback_map, body)
        if problem is None:
            return None
        return flask.jsonify(error=problem), 400

    @app.server.errorhandler(DependencyException)
    def _unknown_script(_: DependencyException):
        return f"no such file: {flask.request.path[:200]}\n", 404, {"Content-Type": "text/plain"}
