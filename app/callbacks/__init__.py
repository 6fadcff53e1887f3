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
"""
