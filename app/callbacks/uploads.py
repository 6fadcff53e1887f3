"""Uploads: a panel's drop zones (checkpoints, data) are validated and stored; the panel's
UPLOADED store then holds their keys, which the panel's view reads. The line under an accepted
centre checkpoint shows its loss at the checkpoint (:func:`accepted_text`)."""

import base64
import logging

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, html, no_update

from app import ids, viewcache
from app.callbacks.panels import settings_inputs
from app.controls import LOSS_FROM_CHECKPOINT
from app.data import ViewStore
from app.ids import pid
from app.layout import UPLOAD_SLOTS
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.io.bounded import load_json
from landscapes.networks.store import UploadStore
from landscapes.networks.uploads import MAX_ARCH_CHARS
from landscapes.networks.views import center_summary, source_from_spec

log = logging.getLogger(__name__)

# the UPLOADED store's key of each drop zone (the URL names them by the zone's id)
SLOT_KEYS = {ids.UPLOAD_CHECKPOINT: "checkpoint", ids.UPLOAD_CHECKPOINT2: "checkpoint2",
             ids.UPLOAD_CHECKPOINT3: "checkpoint3", ids.UPLOAD_DATA: "data"}
SLOTS = tuple(slot for slot, _ in UPLOAD_SLOTS)


def not_stored(filename: str, exc: OSError) -> str:
    """What the page says when a valid file cannot be stored: the server's cause, not the file."""
    where = exc.filename or "the server's upload store"
    return (f"{filename} was read but cannot be stored on the server: "
            f"{viewcache.describe_os_error(exc, where)}")


def status_id(slot: str) -> str:
    """The name of the line under drop zone ``slot`` that says accepted or why not."""
    return slot + "-status"


def decode_upload(contents: str) -> bytes:
    """The bytes of a dcc.Upload ``contents`` data URL."""
    if not isinstance(contents, str):  # a hand-made request's
        raise LandscapeError("the upload could not be decoded; try the file again")
    try:
        return base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, ValueError):  # binascii.Error, and text that is not ASCII
        raise LandscapeError("the upload could not be decoded; try the file again") from None


def file_name(filename: object) -> str:
    """A dcc.Upload's ``filename``, which the page always sends as text."""
    if not isinstance(filename, str):  # a hand-made request's
        raise LandscapeError("the upload has no file name; try the file again")
    return filename


def architecture(arch_text: object) -> dict | None:
    """The architecture typed in the panel's Architecture field (None: empty). Raises
    LandscapeError saying what is wrong with it."""
    if arch_text is not None and not isinstance(arch_text, str):
        raise LandscapeError("the architecture must be JSON text, such as "
                             '{"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}')
    arch = load_json(arch_text, "the architecture", MAX_ARCH_CHARS) if arch_text else None
    if arch is not None and not isinstance(arch, dict):
        raise LandscapeError('the architecture must be a JSON object such as {"type": "mlp", '
                             f'"sizes": [2, 64, 64, 2], "act": "relu"}}; got {type(arch).__name__}')
    return arch


def accept_upload(uploads: UploadStore, kind: str, content_url: str, filename: str,
                  arch_text: str | None) -> str:
    """Validate and store one upload (``kind`` "data" or a checkpoint slot); returns its key.

    ``arch_text`` is the architecture JSON typed in the panel (needed for ``.pt`` files).
    Raises LandscapeError with a message for the panel; nothing invalid is stored.
    """
    content = decode_upload(content_url)
    filename = file_name(filename)
    arch = architecture(arch_text)
    if kind == "data":
        return uploads.put_data(content, filename)
    return uploads.put_checkpoint(content, filename, arch)


def accepted_text(uploads: UploadStore, filename: str, keys: dict, data: str | None,
                  loss: str | None) -> str:
    """The line under an accepted centre checkpoint: its name, architecture and loss at the
    checkpoint on the train split of the chosen data (an uploaded data file, else the Data
    control's built-in set), e.g. ``accepted: net.safetensors (mlp 2-64-64-2 relu; loss at this
    checkpoint 0.0123 (cross_entropy) on the train split of moons (1,000 samples))``; or why
    the loss cannot be computed yet (e.g. the data do not fit the network)."""
    spec = {"model": "network", "checkpoint": keys["checkpoint"], "checkpoint2": None,
            "checkpoint3": None, "data": f"upload:{keys['data']}" if keys.get("data") else data,
            "loss": None if loss in (None, LOSS_FROM_CHECKPOINT) else loss}
    try:
        summary = center_summary(source_from_spec(spec, uploads))
    except LandscapeError as exc:
        summary = f"loss not computed: {exc}"
    return f"accepted: {filename} ({summary})"


def open_export(uploads: UploadStore, content_url: str, filename: str
                ) -> tuple[go.Figure, str]:
    """Validate and store an opened ``.npz`` export (by content hash); returns its figure (as
    the panel draws its kind) and the line under the drop zone, ``opened: NAME (what it is)``.
    Raises LandscapeError with the reason a file is refused; nothing refused is stored."""
    content = decode_upload(content_url)
    key = uploads.put_export(content, file_name(filename))
    result = uploads.export(key)
    return formats.figure(result), f"opened: {filename} ({formats.describe(result.meta)})"


def register(app: Dash, store: ViewStore) -> None:
    """Each panel's upload validation, and its opened exports."""
    for side in ids.PANELS:
        _register_uploads(app, store, side)
        _register_open_export(app, store, side)


def _register_open_export(app: Dash, store: ViewStore, side: str) -> None:
    @app.callback(
        output={"figure": Output(pid(side, ids.SURFACE), "figure", allow_duplicate=True),
                "status": Output(pid(side, status_id(ids.OPEN_EXPORT)), "children")},
        inputs={"content_url": Input(pid(side, ids.OPEN_EXPORT), "contents")},
        state={"filename": State(pid(side, ids.OPEN_EXPORT), "filename")},
        prevent_initial_call=True,
    )
    def show_export(content_url, filename):
        if not content_url:
            return {"figure": no_update, "status": ""}
        try:
            figure, text = open_export(store.uploads, content_url, filename)
            return {"figure": figure, "status": html.Span(text, className="ok")}
        except LandscapeError as exc:
            return {"figure": no_update, "status": html.Span(str(exc), className="error")}
        except OSError as exc:  # the server's fault (a full disk...), not the file's
            log.exception("storing export %s failed", filename)
            return {"figure": no_update, "status": html.Span(not_stored(filename, exc),
                                                             className="error")}
        except Exception:  # a bad file never takes the worker down
            log.exception("opening export %s failed", filename)
            return {"figure": no_update,
                    "status": html.Span(f"{filename}: could not be read", className="error")}


def _register_uploads(app: Dash, store: ViewStore, side: str) -> None:
    @app.callback(
        output={"keys": Output(pid(side, ids.UPLOADED), "data"),
                "statuses": {slot: Output(pid(side, status_id(slot)), "children")
                             for slot in (*SLOTS, ids.ARCH)}},
        inputs={"contents": settings_inputs(side, SLOTS, Input, "contents"),
                "arch_typed": Input(pid(side, ids.ARCH), "n_blur"),  # read once typed
                "data": Input(pid(side, ids.NET_DATA), "value"),
                "loss": Input(pid(side, ids.NET_LOSS), "value")},
        state={"filenames": settings_inputs(side, SLOTS, State, "filename"),
               "arch_text": State(pid(side, ids.ARCH), "value"),
               "current": State(pid(side, ids.UPLOADED), "data")},
        prevent_initial_call=True,
    )
    def validate(contents, arch_typed, data, loss, filenames, arch_text, current=None):
        """Each drop zone's file checked and stored; an invalid Architecture is refused under
        its field (and only a .pt file, which needs it, is refused for want of it). The keys
        change only when the accepted uploads do: leaving the Architecture field unchanged (a
        blur) does not start the panel's view again."""
        keys, statuses = {}, {ids.ARCH: ""}
        try:
            architecture(arch_text)
        except LandscapeError as exc:
            statuses[ids.ARCH] = html.Span(str(exc), className="error")
            arch_text = None
        for slot in SLOTS:
            content_url, filename = contents[slot], filenames[slot]
            if not content_url:
                statuses[slot] = ""
                continue
            kind = SLOT_KEYS[slot]
            try:
                keys[kind] = accept_upload(store.uploads, kind, content_url, filename, arch_text)
                statuses[slot] = html.Span(f"accepted: {filename}", className="ok")
            except LandscapeError as exc:
                statuses[slot] = html.Span(str(exc), className="error")
            except OSError as exc:  # the server's fault (a full disk...), not the upload's
                log.exception("storing upload %s failed", filename)
                statuses[slot] = html.Span(not_stored(filename, exc), className="error")
            except Exception:  # a bad upload never takes the worker down
                log.exception("upload %s failed", filename)
                statuses[slot] = html.Span(f"{filename}: could not be read", className="error")
        if "checkpoint" in keys:
            filename = filenames[ids.UPLOAD_CHECKPOINT]
            text = accepted_text(store.uploads, filename, keys, data, loss)
            statuses[ids.UPLOAD_CHECKPOINT] = html.Span(text, className="ok")
        return {"keys": no_update if keys == current else keys, "statuses": statuses}
