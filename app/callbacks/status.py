"""Page-wide notes: the status banner (the server's readiness) and the guided scenario the
page's URL opens (:mod:`app.presets`), shown above the panels."""

import logging
from collections.abc import Callable

from dash import Dash, Input, Output

from app import ids, presets
from app.layout import active_scenario, style

log = logging.getLogger(__name__)


def status_message(checks: dict[str, str]) -> str | None:
    """What the banner says for these readiness checks (None when all is well).

    It names the real cause: Redis only where Redis serves the cache and the jobs (its
    ``broker`` check is there); on a server without it, the cache directory's trouble (a full
    disk, a read-only file system) with what it breaks.
    """
    failed = {name: why for name, why in checks.items() if why != "ok" and not why.startswith("skipped")}
    if not failed:
        return None
    redis = "broker" in checks  # present only when the cache and the jobs live in Redis
    if "broker" in failed:
        return ("The cache and job queue (Redis) cannot be reached: new views cannot be computed "
                "until it is back. Views already on screen stay. (" + "; ".join(failed.values())
                + ")")
    if redis and "cache" in failed:
        return ("Redis answers but does not keep views (" + failed["cache"] + "): every view is "
                "computed again on each request.")
    if "workers" in failed:
        return ("No background worker is running: views that are not cached yet cannot be "
                "computed until one is back (a view being computed when a worker stopped will not "
                "finish: change a control to ask again). Cached views still load.")
    disk = [failed[name] for name in ("views_dir", "jobs_dir", "store_dir") if name in failed]
    disk = disk or [failed[name] for name in ("cache",) if name in failed]
    if disk:
        broken = []
        if "jobs_dir" in failed:
            broken.append("panels cannot be computed (their jobs are queued there)")
        if "views_dir" in failed or "cache" in failed:
            broken.append("views are not kept (each is computed again)")
        if "store_dir" in failed:
            broken.append("uploads cannot be stored")
        reasons = "; ".join(dict.fromkeys(disk))  # each cause once, in order
        return f"The cache directory cannot be written: {reasons}. " + \
            ", ".join(broken).capitalize() + "."
    return "The server is not ready: " + "; ".join(f"{k}: {v}" for k, v in failed.items())


def register(app: Dash, readiness: Callable[[], dict[str, str]] | None = None) -> None:
    """The scenario note; the status banner too when ``readiness()`` (checks by name: "ok" or
    why not) is given."""
    _register_scenarios(app)
    if readiness is not None:
        _register_status(app, readiness)


def _register_status(app: Dash, readiness: Callable[[], dict[str, str]]) -> None:
    @app.callback(
        output={"text": Output(ids.STATUS_BANNER, "children"),
                "style": Output(ids.STATUS_BANNER, "style")},
        inputs={"_": Input(ids.STATUS_POLL, "n_intervals")},
    )
    def show_status(_):
        try:
            message = status_message(readiness())
        except Exception:
            log.exception("readiness check failed")
            message = "The server could not check its services (see the server log)."
        return {"text": message or "", "style": style(bool(message))}


def _register_scenarios(app: Dash) -> None:
    @app.callback(
        output={"note": Output(ids.ACTIVE_SCENARIO, "children"),
                "style": Output(ids.ACTIVE_SCENARIO, "style")},
        inputs={"search": Input(ids.URL, "search")},
    )
    def show_active_scenario(search):
        """The guided scenario the page's URL opens (a preset's link, or a copy of it), above
        the panels. (The list of scenarios folds when a link in it is clicked: the page does
        that itself, as a Details' ``open`` prop does not follow a click on its summary.)"""
        note, note_style = active_scenario(presets.matching(search))
        return {"note": note, "style": note_style}
