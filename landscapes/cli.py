"""The ``landscapes`` command line: slices, paths, minima and enumerations to ``.npz`` files.

Every command builds a request (model spec, view spec) from its options and computes it through
:func:`landscapes.views.compute`, the registry's lookup; ``landscapes view --model JSON --view
JSON`` serves any registered view from the plain request data. ``--format`` (or the suffix of
``--out``) also writes CSV, legacy VTK or standalone HTML (:mod:`landscapes.io.formats`). Every
command prints where it wrote; long work shows a tqdm progress bar (Ctrl-C cancels).
Bad arguments end with one ``landscapes: error: ...`` line and exit status 2.

The network family (torch) is imported by the commands that read a network, when they run:
``--help`` and the spin commands never load it (``tests/unit/test_cli_imports.py``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from tqdm import tqdm

import landscapes
from landscapes import chunks, registry, views
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.io.bounded import load_json
from landscapes.io.npz import check_writable
from landscapes.networks.catalog import (
    LOSSES,
    MAX_BYTES,
    MAX_PARAMETERS,
    RECIPES,
    SPECTRUM_DEFAULTS,
)
from landscapes.networks.datasets import BUILTIN, MAX_SAMPLES
from landscapes.registry import Result
from landscapes.slices import Slice
from landscapes.spin.spectrum import SPECTRUM_DEFAULTS as SPIN_SPECTRUM_DEFAULTS
from landscapes.viewspec import MAX_DEPTH

if TYPE_CHECKING:
    import torch

    from landscapes.networks.store import UploadStore

#: the longest --model or --view JSON read
MAX_SPEC_CHARS = 2**20

MODEL_OPTIONS = {  # CLI flag -> (spec key, type, families that take it)
    "n": ("n", int, ("ising", "pspin")),
    "p": ("p", int, ("pspin",)),
    "native_bias": ("native_bias", float, ("ising",)),
    "planted": ("planted", float, ("pspin",)),
    "planted_order": ("planted_order", int, ("pspin",)),
    "seed": ("seed", int, ("ising", "pspin")),
}


class OneLineParser(argparse.ArgumentParser):
    """A parser whose errors are one ``PROG: error: ...`` line and exit status 2 (no usage dump);
    also the dashboard's ``funnelscope`` command's."""

    def error(self, message: str) -> NoReturn:
        prog = self.prog.split()[0]  # a subcommand's parser is named "PROG COMMAND"
        self.exit(2, f"{prog}: error: {message} (see '{prog} --help')\n")


def run(args: argparse.Namespace, prog: str = "landscapes") -> int:
    """Run a parsed command (``args.func(args)``); its exit status: 0, 2 with one ``PROG: error:``
    line for a LandscapeError, 130 when cancelled (Ctrl-C).

    Text that the terminal's encoding cannot show (a file name that is not UTF-8) is printed
    with backslash escapes rather than failing."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        args.func(args)
    except LandscapeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: cancelled", file=sys.stderr)
        return 130
    return 0


def _add_network_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("networks")
    g.add_argument("--example", choices=list(RECIPES), help="a shipped example network")
    g.add_argument("--checkpoint",
                   help=".safetensors or .pt weights, or an .onnx network (the slice center)")
    g.add_argument("--checkpoint2", help="a second checkpoint (path end; plane through points)")
    g.add_argument("--checkpoint3", help="a third checkpoint (plane through three points)")
    g.add_argument("--arch", help='architecture JSON, e.g. \'{"type": "mlp", "sizes": [2, 64, 2]}\'')
    g.add_argument("--data", help=f"built-in dataset ({', '.join(BUILTIN)}) or .npz/.safetensors")
    g.add_argument("--loss", choices=LOSSES, help="default: from the checkpoint, else by data")
    g.add_argument("--include-1d", action="store_true", help="filter directions: keep biases")
    g.add_argument("--max-file-mb", type=float, default=MAX_BYTES / 2**20,
                   help="largest checkpoint or data file read, in MB (default: %(default)g)")
    g.add_argument("--max-samples", type=int, default=MAX_SAMPLES,
                   help="largest data file, in samples (default: %(default)s)")
    g.add_argument("--max-parameters", type=int, default=MAX_PARAMETERS,
                   help="largest network, in parameters (default: %(default)s)")
    g.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:K or auto: where "
                   "the network is evaluated; without a GPU, cuda falls back to the CPU")
    g.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "funnelscope"),
                   help="where trained examples are cached")


def _add_model_arguments(parser: argparse.ArgumentParser, models: tuple[str, ...]) -> None:
    parser.add_argument("model", help=" or ".join(models))
    parser.add_argument("--n", type=int, help="number of spins N")
    parser.add_argument("--p", type=int, help="p-spin order (2, 3 or 4)")
    parser.add_argument("--native-bias", type=float, help="Ising J0 >= 0 (0 = SK glass)")
    parser.add_argument("--planted", type=float, help="p-spin planted strength lambda >= 0")
    parser.add_argument("--planted-order", type=int, help="p-spin planted order r (default 2)")
    parser.add_argument("--seed", type=int, help="model seed (default 0)")


def _model_spec(args: argparse.Namespace) -> dict:
    if args.model not in ("ising", "pspin"):
        raise LandscapeError(f"unknown model {args.model!r}; choose ising, pspin or network")
    spec = {"model": args.model}
    for flag, (key, _, families) in MODEL_OPTIONS.items():
        value = getattr(args, flag)
        if value is None:
            continue
        if args.model not in families:
            raise LandscapeError(f"--{flag.replace('_', '-')} does not apply to {args.model}")
        spec[key] = value
    return spec


@contextmanager
def _progress_bar(desc: str) -> Iterator[Callable[[int, int], None]]:
    bar = tqdm(desc=desc, unit="pt", leave=False, file=sys.stderr, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


def _add_output_arguments(parser: argparse.ArgumentParser, help_out: str | None = None) -> None:
    parser.add_argument("--out", required=True, help=help_out or "output file")
    parser.add_argument("--format", choices=formats.FORMATS,
                        help="npz (the export contract), csv, vtk (legacy, for ParaView) or html "
                             "(standalone figure); default: from the suffix of --out, else npz")


def _add_jobs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes that share the view's points: 1 (default) this one "
                             "alone, 0 one per core; pays off for grids that take seconds")


def _write_view(args: argparse.Namespace, spec: dict, view: dict, store: UploadStore | None = None,
                device: torch.device | None = None) -> tuple[Result, Path]:
    """Compute the request through :func:`views.compute` and write it to ``--out``.

    The request, the output format (against the view's result kind) and the output path are
    all checked before any work.
    """
    spec, view = views.canonical_request(spec, view)
    kind = registry.view_kind(spec["model"], view["view"]).result_kind
    fmt = formats.format_from_path(args.out, args.format)
    formats.check_format(kind, fmt)
    out = check_writable(args.out)
    with chunks.processes(getattr(args, "jobs", 1)), _progress_bar(view["view"]) as progress:
        result = views.compute(spec, view, progress, store=store, device=device)
    formats.write(result, out, fmt)
    return result, out


def _grid_summary(view: str, result: Result) -> str:
    """``slice (5x5, loss, barrier 0.1)``: a slice's or path's shape, unit and headline number."""
    shape = "x".join(str(len(a)) for a in result.axes)
    extra = ""
    if "hessian_eigenvalues" in result.meta:
        extra = ", Hessian eigenvalues " + ", ".join(f"{v:.4g}" for v in result.meta[
            "hessian_eigenvalues"])
    if "barrier" in result.meta:
        extra = f", barrier {result.meta['barrier']:.4g}"
    return f"{view} ({shape}, {result.meta['unit']}{extra})"


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise LandscapeError(f"cannot read {path}: {exc.strerror or exc}") from None


def _network_request(args: argparse.Namespace, stack: ExitStack) -> tuple[dict, UploadStore]:
    """The network spec the CLI options name and the store it reads: an example (trained into
    ``--cache-dir``), or checkpoint files plus data, validated into a temporary upload store
    with the command's limits (exactly as the dashboard validates uploads)."""
    from landscapes.networks import uploads
    from landscapes.networks.store import UploadStore

    if args.example:
        if args.checkpoint:
            raise LandscapeError("give either --example or --checkpoint, not both")
        return {"model": "network", "example": args.example}, UploadStore(Path(args.cache_dir))
    if not args.checkpoint:
        raise LandscapeError("network views need --checkpoint FILE (or --example NAME)")
    for flag in ("max_file_mb", "max_samples", "max_parameters"):
        if not getattr(args, flag) > 0:
            raise LandscapeError(f"--{flag.replace('_', '-')} must be positive; "
                                 f"got {getattr(args, flag)}")
    arch: dict | None = None
    if args.arch:
        parsed = load_json(args.arch, "--arch", uploads.MAX_ARCH_CHARS)
        if not isinstance(parsed, dict):
            raise LandscapeError('--arch must be a JSON object, e.g. {"type": "mlp", "sizes": '
                                 f'[2, 64, 2]}}; got {type(parsed).__name__}')
        arch = parsed
    store = UploadStore(Path(stack.enter_context(tempfile.TemporaryDirectory())),
                        int(args.max_file_mb * 2**20), args.max_samples, args.max_parameters)
    spec = {"model": "network", "loss": args.loss}
    for name in ("checkpoint", "checkpoint2", "checkpoint3"):
        path = getattr(args, name)
        spec[name] = path and store.put_checkpoint(_read_bytes(path), Path(path).name, arch)
    if not args.data:
        raise LandscapeError(f"--data is needed: a built-in dataset ({', '.join(BUILTIN)}) "
                             "or an .npz/.safetensors file with X and y")
    spec["data"] = args.data if args.data in BUILTIN else (
        "upload:" + store.put_data(_read_bytes(args.data), Path(args.data).name))
    return spec, store


def _device(args: argparse.Namespace) -> torch.device:
    """The torch device ``--device`` names (a note on stderr when a missing GPU falls back)."""
    from landscapes.networks.devices import resolve_device

    device, note = resolve_device(args.device)
    if note:
        print(f"landscapes: note: {note}", file=sys.stderr)
    return device


def _write_network_view(args: argparse.Namespace, view: dict) -> None:
    device = _device(args)
    with ExitStack() as stack:
        spec, store = _network_request(args, stack)
        result, out = _write_view(args, spec, view, store, device)
    print(f"wrote {_grid_summary(view['view'], result)} to {out}")


def cmd_slice(args: argparse.Namespace) -> None:
    if args.model == "network":
        directions = args.directions if args.directions != "random" else "filter"
        if directions == "points" and args.dims > 2:
            raise LandscapeError("--directions points spans at most 2 dimensions (checkpoint2 "
                                 "and checkpoint3); a volume (--dims 3) needs random, pca or "
                                 "hessian directions")
        if directions == "points":
            directions = "through:" + ",".join(
                ["checkpoint2", "checkpoint3"][: args.dims]
            )
        view = {"view": "slice", "dims": args.dims, "steps": args.steps, "span": args.span,
                "directions": directions, "direction_seed": args.direction_seed,
                "include_1d": args.include_1d}
        _write_network_view(args, view)
        return
    view = {
        "view": "slice", "dims": args.dims, "steps": args.steps, "span": args.span,
        "center": args.center, "directions": args.directions,
        "direction_seed": args.direction_seed,
    }
    result, out = _write_view(args, _model_spec(args), view)
    print(f"wrote {_grid_summary('slice', result)} to {out}")


def cmd_path(args: argparse.Namespace) -> None:
    if args.model == "network":
        kind = "linear" if args.kind == "geodesic" else args.kind
        default_from, default_to = ("init", "center") if args.example else ("center", "checkpoint2")
        start = default_from if args.start == "native" else args.start
        end = default_to if args.end == "minimum:0" else args.end
        view = {"view": "path", "from": start, "to": end, "kind": kind, "steps": args.steps}
        _write_network_view(args, view)
        return
    view = {"view": "path", "from": args.start, "to": args.end, "kind": args.kind,
            "steps": args.steps}
    result, out = _write_view(args, _model_spec(args), view)
    print(f"wrote {_grid_summary('path', result)} to {out}")


def cmd_minima(args: argparse.Namespace) -> None:
    result, out = _write_view(args, _model_spec(args), {"view": "minima", "starts": args.starts})
    best = result.meta["lowest_energy"]
    print(f"wrote {args.starts} minima (lowest {best:.6f} per spin) to {out}")


NETWORK_SPECTRUM_FLAGS = {"top": "top", "iterations": "iterations", "probes": "probes",
                          "lanczos_steps": "steps", "probe_seed": "seed"}


def cmd_spectrum(args: argparse.Namespace) -> None:
    if args.model != "network":
        if args.model == "ising":
            raise LandscapeError("spectrum: the Ising model has no Hessian (its spins flip one "
                                 "at a time); choose pspin or network")
        for flag, key in NETWORK_SPECTRUM_FLAGS.items():
            if getattr(args, flag) != SPECTRUM_DEFAULTS[key]:
                raise LandscapeError(f"--{flag.replace('_', '-')} applies to networks (the "
                                     "p-spin glass's spectrum is exact)")
        result, out = _write_view(args, _model_spec(args),
                                  {"view": "spectrum", "starts": args.starts})
        meta = result.meta
        print(f"wrote the Hessian spectrum ({meta['dim']} eigenvalues at the lowest of "
              f"{args.starts} minima, E/N = {meta['lowest_energy']:.6f}: trace "
              f"{meta['trace']:.6g}, top eigenvalue {meta['top_eigenvalues'][0]:.6g}) to {out}")
        return
    if args.starts != SPIN_SPECTRUM_DEFAULTS["starts"]:
        raise LandscapeError("--starts applies to the p-spin glass (a network's spectrum is at "
                             "its checkpoint)")
    view = {"view": "spectrum", "top": args.top, "iterations": args.iterations,
            "probes": args.probes, "steps": args.lanczos_steps, "seed": args.probe_seed}
    device = _device(args)
    with ExitStack() as stack:
        spec, store = _network_request(args, stack)
        result, out = _write_view(args, spec, view, store, device)
    meta = result.meta
    print(f"wrote the Hessian spectrum ({meta['dim']:,} parameters: trace {meta['trace']:.6g} "
          f"+- {meta['trace_stderr']:.2g}, top eigenvalue {meta['top_eigenvalues'][0]:.6g}) "
          f"to {out}")


def cmd_enumerate(args: argparse.Namespace) -> None:
    result, out = _write_view(args, _model_spec(args), {"view": "enumeration"})
    a = result.arrays
    print(f"wrote {a['energies'].size:,} energies, {len(a['minima'])} minima and "
          f"{len(a['merges'])} merges to {out}")


def cmd_funnel(args: argparse.Namespace) -> None:
    view = {"view": "free_energy", "temperature": args.temperature}
    result, out = _write_view(args, _model_spec(args), view)
    meta, folding = result.meta, result.meta["folding_temperature"]
    tf = f"{folding:.4g}" if folding is not None else "none"
    print(f"wrote F(Q; T={meta['temperature']:g}) over {len(result.arrays['q_values'])} overlaps "
          f"(folding temperature {tf}, two-state barrier {meta['two_state_barrier']:.4g}) to {out}")


def cmd_sweep(args: argparse.Namespace) -> None:
    view = {"view": "sweep", "n_min": args.n_min, "n_max": args.n_max, "seeds": args.seeds}
    result, out = _write_view(args, _model_spec(args), view)
    a = result.arrays
    print("    N  ground basin share  minima  largest barrier/spin")
    for i, n in enumerate(a["sizes"]):
        print(f"{n:5d}  {a['ground_basin_share'][i].mean():18.3f}  "
              f"{a['minima_count'][i].mean():6.1f}  {a['largest_barrier'][i].mean():20.4f}")
    print(f"wrote the size sweep (N = {args.n_min}..{args.n_max}, {args.seeds} seeds) to {out}")


def _json_object(text: str, flag: str, example: str) -> dict:
    value = load_json(text, flag, MAX_SPEC_CHARS, MAX_DEPTH)
    if not isinstance(value, dict):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise LandscapeError(f"{flag} must be a JSON object, e.g. {example}; got {shown!r}")
    return value


def cmd_view(args: argparse.Namespace) -> None:
    """Any registered view, from its plain request data (networks read uploads and the trained
    examples from ``--cache-dir``, as the dashboard does)."""
    spec = _json_object(args.model_spec, "--model", '{"model": "ising", "n": 8}')
    view = _json_object(args.view_spec, "--view", '{"view": "slice"}')
    store, device = None, None
    if spec.get("model") == "network":  # the family that reads uploads and runs on a device
        from landscapes.networks.store import UploadStore

        store, device = UploadStore(Path(args.cache_dir)), _device(args)
    result, out = _write_view(args, spec, view, store, device)
    if isinstance(result, Slice):
        print(f"wrote {_grid_summary(result.meta['kind'], result)} to {out}")
        return
    unit = result.meta.get("unit")
    print(f"wrote {result.meta['kind']}{f' ({unit})' if unit else ''} to {out}")


def _registered_views() -> str:
    """``ising: slice, path, ...; network: ...``: the views the registry serves, per family."""
    return "; ".join(f"{family}: {', '.join(registry.views_of(family))}"
                     for family in sorted(registry.families()))


class RegisteredViewsHelp(argparse.HelpFormatter):
    """``landscapes view --help``: names the registered views after ``--view``'s help, looked up
    when the help is shown (listing them imports every family, torch's included)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if action.dest != "view_spec" or text is None:
            return text
        return f"{text}; registered: {_registered_views()}".replace("%", "%%")


def cmd_examples(args: argparse.Namespace) -> None:
    if not args.export:
        for name, recipe in RECIPES.items():
            print(f"{name:15s} {recipe.description} (data: {recipe.data}, loss: {recipe.loss})")
        return
    from landscapes.networks import examples, uploads

    folder = Path(args.export)
    if not folder.is_dir():
        raise LandscapeError(f"cannot export to {folder}: not a directory")
    for name in tqdm(list(RECIPES), desc="examples", file=sys.stderr, disable=None):
        if examples.module_based(RECIPES[name].arch):
            print(f"skipped {name}: not a zoo architecture, so not an uploadable checkpoint "
                  f"(its slices: landscapes slice network --example {name})", file=sys.stderr)
            continue
        ex = examples.load(name, Path(args.cache_dir) / "examples")
        extra = {"data": ex.data, "example": name}
        for suffix, state in (("", ex.final), ("-init", ex.init)):
            path = check_writable(folder / f"{name}{suffix}.safetensors")
            uploads.save_checkpoint(path, ex.arch, state, ex.loss, extra)
            print(f"wrote {path}")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="landscapes", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=landscapes.__version__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    p = sub.add_parser("slice", help="a 1D/2D/3D slice through a point (spin models: on the sphere)")
    _add_model_arguments(p, ("ising", "pspin", "network"))
    _add_network_arguments(p)
    p.add_argument("--dims", type=int, default=2, choices=(1, 2, 3))
    p.add_argument("--steps", type=int, default=51, help="grid points per axis")
    p.add_argument("--span", type=float, default=1.0, help="coefficients run from -A to A")
    p.add_argument("--center", default="minimum:0", help="native, ground, minimum:K, random:K")
    p.add_argument("--directions", default="random",
                   help="random or through:P1[,P2[,P3]]; networks: filter, pca, hessian, points")
    p.add_argument("--direction-seed", type=int, default=0)
    _add_output_arguments(p, "output file (.npz, .csv, .vtk or .html)")
    _add_jobs_argument(p)
    p.set_defaults(func=cmd_slice)

    p = sub.add_parser("path", help="energy (or loss) along a path between two named points")
    _add_model_arguments(p, ("ising", "pspin", "network"))
    _add_network_arguments(p)
    p.add_argument("--from", dest="start", default="native", help="native, minimum:K, ...")
    p.add_argument("--to", dest="end", default="minimum:0")
    p.add_argument("--kind", default="geodesic", choices=(*views.PATH_KINDS, "bezier"),
                   help="spin models: linear or geodesic; networks: linear or bezier")
    p.add_argument("--steps", type=int, default=101)
    _add_output_arguments(p)
    _add_jobs_argument(p)
    p.set_defaults(func=cmd_path)

    p = sub.add_parser("minima", help="minima from K seeded descents")
    _add_model_arguments(p, ("ising", "pspin"))
    p.add_argument("--starts", type=int, default=32)
    _add_output_arguments(p)
    p.set_defaults(func=cmd_minima)

    p = sub.add_parser("spectrum", help="the Hessian spectrum: a network's top eigenvalues, "
                       "trace and density (stochastic Lanczos quadrature), or every eigenvalue "
                       "at the p-spin glass's lowest minimum")
    _add_model_arguments(p, ("pspin", "network"))
    _add_network_arguments(p)
    p.add_argument("--starts", type=int, default=SPIN_SPECTRUM_DEFAULTS["starts"],
                   help="p-spin: descents whose lowest minimum is taken (default: %(default)s)")
    p.add_argument("--top", type=int, default=SPECTRUM_DEFAULTS["top"],
                   help="top eigenvalues by Lanczos (default: %(default)s)")
    p.add_argument("--iterations", type=int, default=SPECTRUM_DEFAULTS["iterations"],
                   help="Lanczos iterations for the top eigenvalues (default: %(default)s)")
    p.add_argument("--probes", type=int, default=SPECTRUM_DEFAULTS["probes"],
                   help="random probe vectors of the trace and the density (default: "
                        "%(default)s)")
    p.add_argument("--lanczos-steps", type=int, default=SPECTRUM_DEFAULTS["steps"],
                   help="Lanczos steps per probe (default: %(default)s)")
    p.add_argument("--probe-seed", type=int, default=SPECTRUM_DEFAULTS["seed"],
                   help="seed of the start vector and the probes (default: %(default)s)")
    _add_output_arguments(p, "output file (.npz, .csv or .html)")
    p.set_defaults(func=cmd_spectrum)

    p = sub.add_parser("enumerate", help="all 2^N Ising energies and local minima (N <= 20)")
    _add_model_arguments(p, ("ising",))
    _add_output_arguments(p)
    p.set_defaults(func=cmd_enumerate)

    p = sub.add_parser("examples", help="list the example networks, or export them")
    p.add_argument("--export", metavar="DIR", help="write NAME.safetensors (final) and "
                   "NAME-init.safetensors for each example into DIR")
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "funnelscope"))
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser("funnel", help="free energy F(Q; T) of an Ising model (exact, N <= 20)")
    _add_model_arguments(p, ("ising",))
    p.add_argument("--temperature", type=float, default=1.0, help="T in units of the couplings")
    _add_output_arguments(p)
    p.set_defaults(func=cmd_funnel)

    p = sub.add_parser("sweep", help="how the Ising funnel sharpens with N (exact, N <= 20)")
    _add_model_arguments(p, ("ising",))
    p.add_argument("--n-min", type=int, default=8)
    p.add_argument("--n-max", type=int, default=20)
    p.add_argument("--seeds", type=int, default=4, help="seeds SEED .. SEED+K-1 per size")
    _add_output_arguments(p)
    _add_jobs_argument(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("view", help="any registered view, from JSON model and view specs",
                       formatter_class=RegisteredViewsHelp)
    p.add_argument("--model", dest="model_spec", required=True,
                   help='model spec, e.g. \'{"model": "ising", "n": 8}\'')
    p.add_argument("--view", dest="view_spec", required=True,
                   help='view spec, e.g. \'{"view": "slice", "steps": 21}\'')
    p.add_argument("--device", default="cpu", help="networks: cpu (default), cuda, cuda:K or auto")
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "funnelscope"),
                   help="networks: where uploads and the trained examples are stored")
    _add_output_arguments(p, "output file (.npz, .csv, .vtk or .html)")
    _add_jobs_argument(p)
    p.set_defaults(func=cmd_view)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
