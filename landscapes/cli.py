"""The ``landscapes`` command line: slices, paths, minima and enumerations to ``.npz`` files.

``--format`` (or the suffix of ``--out``) also writes CSV, legacy VTK or standalone HTML
(:mod:`landscapes.io.formats`). Every command prints where it wrote; long work shows a tqdm
progress bar (Ctrl-C cancels).
Bad arguments end with one ``landscapes: error: ...`` line and exit status 2.
"""

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from tqdm import tqdm

import landscapes
from landscapes import views
from landscapes.errors import LandscapeError
from landscapes.io import formats
from landscapes.io.npz import check_writable
from landscapes.networks import examples, uploads
from landscapes.networks import views as network_views
from landscapes.networks.architectures import LOSSES
from landscapes.networks.datasets import BUILTIN, MAX_SAMPLES, load_builtin
from landscapes.networks.devices import resolve_device
from landscapes.networks.landscape import MAX_PARAMETERS
from landscapes.results import ViewResult
from landscapes.spin.barriers import barrier_tree
from landscapes.spin.descent import descend, seeded_starts
from landscapes.spin.enumeration import check_enumerable, enumerate_ising
from landscapes.spin.funnel import folding_temperature, free_energy, funnel_histogram, two_state_barrier
from landscapes.spin.models import build_model

MODEL_OPTIONS = {  # CLI flag -> (spec key, type, families that take it)
    "n": ("n", int, ("ising", "pspin")),
    "p": ("p", int, ("pspin",)),
    "native_bias": ("native_bias", float, ("ising",)),
    "planted": ("planted", float, ("pspin",)),
    "planted_order": ("planted_order", int, ("pspin",)),
    "seed": ("seed", int, ("ising", "pspin")),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"landscapes: error: {message} (see 'landscapes --help')\n")


def _add_network_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("networks")
    g.add_argument("--example", choices=list(examples.RECIPES), help="a shipped example network")
    g.add_argument("--checkpoint", help=".safetensors or .pt weights (the slice centre)")
    g.add_argument("--checkpoint2", help="a second checkpoint (path end; plane through points)")
    g.add_argument("--checkpoint3", help="a third checkpoint (plane through three points)")
    g.add_argument("--arch", help='architecture JSON, e.g. \'{"type": "mlp", "sizes": [2, 64, 2]}\'')
    g.add_argument("--data", help=f"built-in dataset ({', '.join(BUILTIN)}) or .npz/.safetensors")
    g.add_argument("--loss", choices=LOSSES, help="default: from the checkpoint, else by data")
    g.add_argument("--include-1d", action="store_true", help="filter directions: keep biases")
    g.add_argument("--max-file-mb", type=float, default=uploads.MAX_BYTES / 2**20,
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


def _output(args: argparse.Namespace, kind: str) -> tuple[Path, str]:
    """The checked output path and format (before any work; ``kind`` is the view's kind)."""
    fmt = formats.format_from_path(args.out, args.format)
    formats.check_format(kind, fmt)
    return check_writable(args.out), fmt


def _write_view(args: argparse.Namespace, view: dict) -> None:
    out, fmt = _output(args, view["view"])
    with _progress_bar(view["view"]) as progress:
        result = views.compute(_model_spec(args), view, progress)
    formats.write(result, out, fmt)
    shape = "x".join(str(len(a)) for a in result.axes)
    print(f"wrote {view['view']} ({shape}, {result.meta['unit']}) to {out}")


def _network_source(args: argparse.Namespace) -> network_views.NetworkSource:
    """The network the CLI options name: an example, or checkpoint files plus data."""
    if args.example:
        if args.checkpoint:
            raise LandscapeError("give either --example or --checkpoint, not both")
        return network_views.example_source(args.example, Path(args.cache_dir) / "examples")
    if not args.checkpoint:
        raise LandscapeError("network views need --checkpoint FILE (or --example NAME)")
    for flag in ("max_file_mb", "max_samples", "max_parameters"):
        if not getattr(args, flag) > 0:
            raise LandscapeError(f"--{flag.replace('_', '-')} must be positive; "
                                 f"got {getattr(args, flag)}")
    max_bytes = int(args.max_file_mb * 2**20)
    arch = None
    if args.arch:
        try:
            arch = json.loads(args.arch)
        except json.JSONDecodeError as exc:
            raise LandscapeError(f"--arch is not valid JSON: {exc}") from None
    center = _read_checkpoint(args.checkpoint, arch, max_bytes)
    others = {name: _read_checkpoint(getattr(args, name), arch, max_bytes)
              for name in ("checkpoint2", "checkpoint3") if getattr(args, name)}
    if not args.data:
        raise LandscapeError(f"--data is needed: a built-in dataset ({', '.join(BUILTIN)}) "
                             "or an .npz/.safetensors file with X and y")
    if args.data in BUILTIN:
        data = load_builtin(args.data)
    else:
        data = uploads.load_data(_read_bytes(args.data), Path(args.data).name, max_bytes,
                                 args.max_samples)
    label = {"checkpoint": uploads.content_hash(_read_bytes(args.checkpoint)), "data": args.data}
    return network_views.checkpoint_source(center, others, data, args.loss, label,
                                           args.max_parameters)


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise LandscapeError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_checkpoint(path: str, arch: dict | None, max_bytes: int) -> uploads.Checkpoint:
    return uploads.load_checkpoint(_read_bytes(path), Path(path).name, arch, max_bytes)


def _write_network_view(args: argparse.Namespace, view: dict) -> None:
    device, note = resolve_device(args.device)
    out, fmt = _output(args, view["view"])
    if note:
        print(f"landscapes: note: {note}", file=sys.stderr)
    source = network_views.on_device(_network_source(args), device)
    with _progress_bar(view["view"]) as progress:
        if view["view"] == "slice":
            result = network_views.compute_slice(source, view, progress)
        else:
            result = network_views.compute_path(source, view, progress)
    formats.write(result, out, fmt)
    shape = "x".join(str(len(a)) for a in result.axes)
    extra = ""
    if "hessian_eigenvalues" in result.meta:
        eigs = result.meta["hessian_eigenvalues"]
        extra = ", Hessian eigenvalues " + ", ".join(f"{v:.4g}" for v in eigs)
    if "barrier" in result.meta:
        extra = f", barrier {result.meta['barrier']:.4g}"
    print(f"wrote {view['view']} ({shape}, {result.meta['unit']}{extra}) to {out}")


def cmd_slice(args: argparse.Namespace) -> None:
    if args.model == "network":
        directions = args.directions if args.directions != "random" else "filter"
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
    _write_view(args, view)


def cmd_path(args: argparse.Namespace) -> None:
    if args.model == "network":
        kind = "linear" if args.kind == "geodesic" else args.kind
        default_from, default_to = ("init", "centre") if args.example else ("centre", "checkpoint2")
        start = default_from if args.start == "native" else args.start
        end = default_to if args.end == "minimum:0" else args.end
        view = {"view": "path", "from": start, "to": end, "kind": kind, "steps": args.steps}
        _write_network_view(args, view)
        return
    view = {"view": "path", "from": args.start, "to": args.end, "kind": args.kind,
            "steps": args.steps}
    _write_view(args, view)


def cmd_minima(args: argparse.Namespace) -> None:
    if args.starts < 1:
        raise LandscapeError(f"--starts must be >= 1; got {args.starts}")
    model = build_model(_model_spec(args))
    out, fmt = _output(args, "minima")
    with _progress_bar("descents") as progress:
        result = descend(model, seeded_starts(model, range(args.starts)), progress)
    arrays = {
        "energies": result.energies, "overlaps": result.overlaps, "states": result.states,
        "starts": result.starts, "steps": result.steps, "converged": result.converged,
        **model.arrays(),
    }
    if not model.discrete:
        arrays["min_hessian_eig"] = result.min_hessian_eig
    meta = {
        "kind": "minima", "model": model.spec, "seed": model.seed, "method": result.method,
        "unit": "energy per spin", "energy_convention": model.energy_convention,
        "starts": "random:0 .. random:K-1", "library_version": landscapes.__version__,
    }
    formats.write(ViewResult(arrays, meta), out, fmt)
    best = float(np.min(result.energies))
    print(f"wrote {args.starts} minima (lowest {best:.6f} per spin) to {out}")


def cmd_enumerate(args: argparse.Namespace) -> None:
    if args.model != "ising":
        raise LandscapeError(f"exact enumeration is for ising only; got {args.model!r}")
    spec = _model_spec(args)
    check_enumerable(spec.get("n", 16))
    model = build_model(spec)
    out, fmt = _output(args, "enumeration")
    with _progress_bar("enumerate") as progress:
        result = enumerate_ising(model, progress)
    tree = barrier_tree(result.energies, model.n)
    hist = funnel_histogram(result.energies, result.overlaps)
    arrays = {
        "energies": result.energies, "overlaps": result.overlaps,
        "minima": tree.minima, "minimum_energies": tree.minimum_energies,
        "basin_share": tree.basin_share, "merges": tree.merges,
        "q_values": hist.q_values, "q_counts": hist.counts,
        "q_lowest_energy": hist.lowest_energy, "q_entropy": hist.entropy,
        "ground": np.int64(result.ground), **model.arrays(),
    }
    meta = {
        "kind": "enumeration", "model": model.spec, "seed": model.seed,
        "unit": "energy per spin", "energy_convention": model.energy_convention,
        "index_convention": "spin i = bit i of the index; bit 1 -> +1, bit 0 -> -1",
        "minima": "single-spin-flip local minima (no single flip lowers the energy), ascending "
                  "energy; basin_share: fraction of states whose steepest descent ends there",
        "merges": "rows (saddle energy per spin, a, b): positions in 'minima' of the lowest "
                  "minima of the two basins joined at that saddle (the disconnectivity graph)",
        "q_histogram": "per native overlap Q: q_counts states, q_lowest_energy, q_entropy = ln count",
        "library_version": landscapes.__version__,
    }
    formats.write(ViewResult(arrays, meta), out, fmt)
    print(f"wrote {2**model.n:,} energies, {len(tree.minima)} minima and "
          f"{len(tree.merges)} merges to {out}")


def cmd_funnel(args: argparse.Namespace) -> None:
    if args.model != "ising":
        raise LandscapeError(f"funnel views are computed exactly for ising only; got {args.model!r}")
    if not args.temperature > 0:
        raise LandscapeError(f"--temperature must be > 0; got {args.temperature}")
    spec = _model_spec(args)
    check_enumerable(spec.get("n", 16))
    model = build_model(spec)
    out, fmt = _output(args, "free energy")
    result = enumerate_ising(model)
    q, free = free_energy(result.energies, result.overlaps, model.n, args.temperature)
    folding = folding_temperature(result.energies, result.overlaps, model.n)
    barrier = two_state_barrier(q, free)
    arrays = {"q_values": q, "free_energy": free, **model.arrays()}
    meta = {
        "kind": "free energy", "model": model.spec, "seed": model.seed,
        "temperature": args.temperature, "unit": "free energy per spin",
        "definition": "F(Q;T) = -(T/N) ln sum over states with overlap Q of exp(-N E/T), "
                      "E per spin",
        "folding_temperature": folding, "two_state_barrier": barrier,
        "energy_convention": model.energy_convention,
        "library_version": landscapes.__version__,
    }
    formats.write(ViewResult(arrays, meta), out, fmt)
    tf = f"{folding:.4g}" if folding is not None else "none"
    print(f"wrote F(Q; T={args.temperature:g}) over {len(q)} overlaps (folding temperature {tf}, "
          f"two-state barrier {barrier:.4g}) to {out}")


def cmd_sweep(args: argparse.Namespace) -> None:
    if args.model != "ising":
        raise LandscapeError(f"the size sweep enumerates ising models only; got {args.model!r}")
    view = {"view": "sweep", "n_min": args.n_min, "n_max": args.n_max, "seeds": args.seeds}
    spec = _model_spec(args)
    views.request_key(spec, view)  # check the request before any work
    out, fmt = _output(args, "sweep")
    with _progress_bar("sweep") as progress:
        result = views.compute(spec, view, progress)
    formats.write(result, out, fmt)
    a = result.arrays
    print("    N  ground basin share  minima  largest barrier/spin")
    for i, n in enumerate(a["sizes"]):
        print(f"{n:5d}  {a['ground_basin_share'][i].mean():18.3f}  "
              f"{a['minima_count'][i].mean():6.1f}  {a['largest_barrier'][i].mean():20.4f}")
    print(f"wrote the size sweep (N = {args.n_min}..{args.n_max}, {args.seeds} seeds) to {out}")


def cmd_examples(args: argparse.Namespace) -> None:
    if not args.export:
        for name, recipe in examples.RECIPES.items():
            print(f"{name:15s} {recipe.description} (data: {recipe.data}, loss: {recipe.loss})")
        return
    folder = Path(args.export)
    if not folder.is_dir():
        raise LandscapeError(f"cannot export to {folder}: not a directory")
    for name in tqdm(list(examples.RECIPES), desc="examples", file=sys.stderr, disable=None):
        ex = examples.load(name, Path(args.cache_dir) / "examples")
        extra = {"data": ex.data, "example": name}
        for suffix, state in (("", ex.final), ("-init", ex.init)):
            path = check_writable(folder / f"{name}{suffix}.safetensors")
            uploads.save_checkpoint(path, ex.arch, state, ex.loss, extra)
            print(f"wrote {path}")


def cmd_precompute(args: argparse.Namespace) -> None:
    from app.config import Config  # the dashboard's cache: app is optional for library users
    from app.precompute import default_views, precompute, read_plan

    pairs = read_plan(Path(args.file)) if args.file else []
    if args.defaults:
        pairs += list(default_views())
    if not pairs:
        raise LandscapeError("nothing to precompute: give a FILE.yaml and/or --defaults")
    config = Config.from_env()
    if args.cache_dir:
        config = Config(**{**config.__dict__, "cache_dir": Path(args.cache_dir)})
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


def cmd_serve(args: argparse.Namespace) -> None:
    from app import create_app  # the dashboard is optional for library users

    create_app().run(host=args.host, port=args.port, debug=args.debug)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="landscapes", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=landscapes.__version__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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
    p.set_defaults(func=cmd_path)

    p = sub.add_parser("minima", help="minima from K seeded descents")
    _add_model_arguments(p, ("ising", "pspin"))
    p.add_argument("--starts", type=int, default=32)
    _add_output_arguments(p)
    p.set_defaults(func=cmd_minima)

    p = sub.add_parser("enumerate", help="all 2^N Ising energies and local minima (N <= 20)")
    _add_model_arguments(p, ("ising",))
    _add_output_arguments(p)
    p.set_defaults(func=cmd_enumerate)

    p = sub.add_parser("examples", help="list the example networks, or export them")
    p.add_argument("--export", metavar="DIR", help="write NAME.safetensors (final) and "
                   "NAME-init.safetensors for each example into DIR")
    p.add_argument("--cache-dir", default=str(Path.home() / ".cache" / "funnelscope"))
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser("precompute", help="warm the dashboard's cache with a list of views")
    p.add_argument("file", nargs="?", help="YAML file with a 'views:' list of {model, view}")
    p.add_argument("--defaults", action="store_true", help="add the dashboard's first-load views")
    p.add_argument("--cache-dir", help="default: FUNNELSCOPE_CACHE_DIR or ~/.cache/funnelscope")
    p.set_defaults(func=cmd_precompute)

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
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("serve", help="run the dashboard")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--debug", action="store_true")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except LandscapeError as exc:
        print(f"landscapes: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("landscapes: cancelled", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
