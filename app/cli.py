"""The dashboard's command line, ``funnelscope`` (also ``python -m app.cli``).

``funnelscope serve`` runs the dashboard (Flask's development server: for a class, use gunicorn
with ``app.wsgi:server``, see docs/teaching-lab.md); ``funnelscope precompute FILE.yaml
[--defaults]`` warms its cache before a class (:mod:`app.precompute`), with a tqdm bar.
Bad arguments and failures end with one ``funnelscope: error: ...`` line and exit status 2.
The library's own commands (slices, paths, minima, exports) are the ``landscapes`` command.
"""

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from landscapes.cli import OneLineParser, run
from landscapes.errors import LandscapeError

PROG = "funnelscope"


def cmd_serve(args: argparse.Namespace) -> None:
    """Run the dashboard on ``--host``:``--port``."""
    from app.main import create_app

    create_app().run(host=args.host, port=args.port, debug=args.debug)


def cmd_precompute(args: argparse.Namespace) -> None:
    """Compute the plan's views (and with ``--defaults`` the first-load ones) into the cache."""
    from app.config import Config
    from app.precompute import default_views, precompute, read_plan

    pairs = read_plan(Path(args.file)) if args.file else []
    if args.defaults:
        pairs += list(default_views())
    if not pairs:
        raise LandscapeError("nothing to precompute: give a FILE.yaml and/or --defaults")
    config = Config.from_env()
    if args.cache_dir:
        config = replace(config, cache_dir=Path(args.cache_dir))
    bar = tqdm(total=len(pairs), desc="precompute", unit="view", file=sys.stderr, disable=None)

    def report(k: int, spec: dict, view: dict, status: str) -> None:
        bar.update(1)
        if status.startswith("failed"):
            tqdm.write(f"view {k} ({spec.get('model')} {view.get('view')}): {status}",
                       file=sys.stderr)

    counts = precompute(config, pairs, report)
    bar.close()
    print(f"{counts['computed']} computed, {counts['cached']} already cached, "
          f"{counts['failed']} failed, in {config.cache_dir}")
    if counts["failed"]:
        raise LandscapeError(f"{counts['failed']} view(s) failed (see above)")


def build_parser() -> argparse.ArgumentParser:
    """The ``funnelscope`` parser: ``serve`` and ``precompute``."""
    parser = OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    p = sub.add_parser("serve", help="run the dashboard")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("precompute", help="warm the dashboard's cache with a list of views")
    p.add_argument("file", nargs="?", help="YAML file with a 'views:' list of {model, view}")
    p.add_argument("--defaults", action="store_true", help="add the dashboard's first-load views")
    p.add_argument("--cache-dir", help="default: FUNNELSCOPE_CACHE_DIR or ~/.cache/funnelscope")
    p.set_defaults(func=cmd_precompute)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; the exit status (0, 2 on an error, 130 when cancelled)."""
    return run(build_parser().parse_args(argv), PROG)


if __name__ == "__main__":
    sys.exit(main())
