"""Network slice timings against the machine's FLOP limit and the ``loss-landscapes`` package.

For the moons MLP (2-64-64-2) and the digits CNN: a 51x51 filter-normalized plane through the
trained example (``compute_slice``: train and test loss and accuracy at every point), beside

* the FLOP limit: FLOPs of one point's evaluation (one forward pass over train + test samples,
  counted with torch's ``FlopCounterMode``) times the grid points, divided by the fp32 matmul
  rate of this machine (a 1024x1024 matmul, best of several) measured in the same process;
* ``loss_landscapes.random_plane`` (3.0.6, ``pip install '.[bench]'``) on the same module, the
  same train samples (full batch), the same grid size, filter normalization; it computes the
  train loss only, one point at a time (its own direction sampling and scaling, which does not
  change the work per point);
* peak memory: each measurement runs in its own process and reports its ``ru_maxrss``;
* the generic engine (``from_module(..., engine="generic")``: plain forwards of a copy of the
  module, its parameters overwritten point by point) on the same trained moons MLP, the same
  slice, against the fast GEMM path (target: within 3x);
* two modules outside the zoo, evaluated by the generic engine: a residual MLP
  (``h + f(LayerNorm(h))``, trained briefly on moons) and the skip-connection example
  ``digits-resnet`` (a residual CNN; 21x21, since both tools take ~50 ms a point): our slice
  against ``loss_landscapes.random_plane`` on the same module, on its work (the train loss
  only; target: faster) and our whole slice (train and test, 4 metrics).

Run: ``.venv/bin/python benchmarks/networks.py [--steps 51] [--threads 1]`` (or ``make bench``,
which also runs ``--threads 0 --steps 101`` on the zoo's two: torch's default thread count, as
the command line runs). With one torch thread (``--threads 1``, as the app runs) times are the
process's CPU seconds, with more they are wall seconds; the matmul rate is timed the same way.
Our slice is the best of ``--repeat`` runs (the machine may be shared); the matmul rate is the
best of the runs around it.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESIDUAL = "residual"  # a module outside the zoo (:func:`residual_moons`)
RESNET = "digits-resnet"  # the skip-connection example: a residual CNN outside the zoo
GENERIC = (RESIDUAL, RESNET)  # modules the generic engine evaluates
RESNET_STEPS = 21  # its grid side (2601 points would take minutes per tool)
MODELS = ("moons-mlp", "digits-cnn", RESIDUAL, RESNET)
MATMUL = 1024


CLOCK = {"clock": time.process_time}


def clock() -> float:
    return CLOCK["clock"]()


def matmul_rate(reps: int = 5) -> float:
    """fp32 FLOP/s of a 1024x1024 matmul on this process's torch threads, best of ``reps``."""
    a, b = torch.randn(MATMUL, MATMUL), torch.randn(MATMUL, MATMUL)
    best = float("inf")
    a @ b
    for _ in range(reps):
        start = clock()
        for _ in range(3):
            a @ b
        best = min(best, (clock() - start) / 3)
    return 2 * MATMUL**3 / best


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def flops_per_point(land) -> int:
    """FLOPs torch counts for one point's evaluation (one forward over train + test)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        land.evaluate_splits(land.center[None], method="loop")
    return counter.get_total_flops()


def gemm_flops_per_point(land, points: np.ndarray) -> tuple[float, float]:
    """(GEMM FLOPs, compiled-pass FLOPs) per point our program does on ``points`` (a group of
    the slice's points, so a CNN's first convolution takes its basis path): the first counted
    with FlopCounterMode (bias columns and padded windows included), the second, which
    FlopCounterMode cannot see, as a multiply and an add per basis output combined."""
    from torch.utils.flop_counter import FlopCounterMode

    program = land.program()
    if program is None:
        return 0.0, 0.0
    flat = torch.as_tensor(points[: program.group], dtype=torch.float32)
    out = torch.empty(len(flat), program.outputs, program.samples)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        program.run(flat, land.buffers, out)
    basis = program._first_basis(flat, land.buffers)
    compiled = 0.0
    if basis is not None:
        q, _, windows = program.first_shape
        rank = basis.coef.shape[2]
        compiled = 2.0 * rank * q * program.layers[0].channels * windows * program.samples
    return counter.get_total_flops() / len(flat), compiled


def measure_ours(name: str, cache: Path, steps: int, repeat: int) -> dict:
    from landscapes.networks import views as network_views
    from landscapes.networks.hessian import hessian_directions

    source = network_views.example_source(name, cache)
    land = source.landscape
    before = rss_mib()
    view = {"steps": steps, "span": 1.0, "directions": "filter"}
    times, rates = [], [matmul_rate()]
    for _ in range(repeat):
        start = clock()
        result = network_views.compute_slice(source, view)
        times.append(clock() - start)
        rates.append(matmul_rate())
    pts = result.points()
    # random_plane's work: the train loss only, same grid, chunks of the slice's size
    points = torch.as_tensor(pts)
    train_only = []
    for _ in range(repeat):
        start = clock()
        for k in range(0, len(points), network_views.CHUNK):
            land.evaluate(points[k : k + network_views.CHUNK], "train")
        train_only.append(clock() - start)
    sample = np.random.default_rng(0).choice(len(pts), size=min(len(pts), 40), replace=False)
    ref = land.evaluate_splits(torch.as_tensor(pts[sample]), method="loop")
    got = np.stack([result.values, *(result.extras[k] for k in
                                     ("test_loss", "train_accuracy", "test_accuracy")
                                     if k in result.extras)], -1).reshape(len(pts), -1)[sample]
    generic = measure_generic(source, view, repeat, result) if land.arch["type"] == "mlp" else {}
    gemm_flops, compiled_flops = gemm_flops_per_point(land, pts)
    start = clock()
    eig = hessian_directions(land, k=2, iterations=20)
    lanczos = clock() - start
    return {
        "time": min(times), "times": times, "rate": max(rates), "train_only": min(train_only),
        "flops": flops_per_point(land), "gemm_flops": gemm_flops,
        "compiled_flops": compiled_flops,
        "points": len(pts), "method": result.meta["evaluation"]["method"],
        "group": land.program().group if land.program() else 0,
        "max_rel_error": float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-6))),
        "dim": land.dim, "train": len(land.data.x_train), "test": len(land.data.x_test),
        "lanczos": lanczos, "eigenvalues": [float(v) for v in eig.values],
        "peak_mib": peak_mib(), "before_mib": before, **generic,
    }


def measure_generic(source, view: dict, repeat: int, fast) -> dict:
    """The same slice of the same trained module by the generic engine, best of
    ``repeat``, and its largest relative difference to the fast result ``fast``."""
    from landscapes.networks import views as network_views
    from landscapes.networks.landscape import NetworkLandscape

    land = source.landscape
    module = land.module
    module.load_state_dict(land.state_dict_at(land.center))
    generic = NetworkLandscape.from_module(module, land.data, land.loss, recognize=False)
    generic_source = network_views.NetworkSource(generic, label=source.label)
    times = []
    for _ in range(repeat):
        start = clock()
        result = network_views.compute_slice(generic_source, view)
        times.append(clock() - start)
    rel = np.abs(result.values - fast.values) / np.maximum(np.abs(fast.values), 1e-6)
    return {"generic_time": min(times), "generic_times": times,
            "generic_method": result.meta["evaluation"]["method"],
            "generic_max_rel": float(rel.max())}


class Block(torch.nn.Module):
    """``h + f(LayerNorm(h))`` with ``f`` Linear-ReLU-Linear."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = torch.nn.LayerNorm(width)
        self.f = torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU(),
                                     torch.nn.Linear(width, width))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.f(self.norm(h))


def residual_moons(width: int = 64, blocks: int = 2, steps: int = 200):
    """A residual MLP trained (Adam, full batch, seeded) on the moons train split, and the data."""
    from landscapes.networks.datasets import load_builtin

    data = load_builtin("moons")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, width), *(Block(width) for _ in range(blocks)),
                                torch.nn.Linear(width, 2))
    x, y = torch.as_tensor(data.x_train), torch.as_tensor(data.y_train)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval(), data


def generic_case(name: str, cache: Path):
    """(module at its trained weights in eval mode, our landscape of it) for a module outside
    the zoo: the residual MLP (:func:`residual_moons`) or the ``digits-resnet`` example."""
    from landscapes.networks import views as network_views
    from landscapes.networks.landscape import NetworkLandscape

    if name == RESIDUAL:
        model, data = residual_moons()
        return model, NetworkLandscape.from_module(model, data, "cross_entropy")
    land = network_views.example_source(name, cache).landscape
    model = land.module
    model.load_state_dict(land.state_dict_at(land.center))
    return model.eval(), land


def measure_generic_module(name: str, cache: Path, steps: int, repeat: int) -> dict:
    """Our slice of a module outside the zoo (train and test, 4 metrics), and its train loss
    only on the slice's points (random_plane's work)."""
    from landscapes.networks import views as network_views

    _, land = generic_case(name, cache)
    source = network_views.NetworkSource(land, label={"module": name})
    view = {"steps": steps, "span": 1.0, "directions": "filter"}
    times = []
    for _ in range(repeat):
        start = clock()
        result = network_views.compute_slice(source, view)
        times.append(clock() - start)
    points = torch.as_tensor(result.points())
    train_only = []
    for _ in range(repeat):
        start = clock()
        for k in range(0, len(points), network_views.CHUNK):
            land.evaluate(points[k : k + network_views.CHUNK], "train")
        train_only.append(clock() - start)
    return {"time": min(times), "times": times, "train_only": min(train_only),
            "method": land.method, "dim": land.dim, "peak_mib": peak_mib(),
            "train": len(land.data.x_train), "test": len(land.data.x_test)}


def measure_generic_loss_landscapes(name: str, cache: Path, steps: int) -> dict:
    import loss_landscapes
    import loss_landscapes.metrics

    model, land = generic_case(name, cache)
    x, y = land.tensors("train")
    metric = loss_landscapes.metrics.Loss(torch.nn.functional.cross_entropy, x.float(), y)
    start = clock()
    values = loss_landscapes.random_plane(model, metric, distance=1, steps=steps,
                                          normalization="filter", deepcopy_model=True)
    return {"time": clock() - start, "shape": list(np.shape(values)), "peak_mib": peak_mib()}


def measure_loss_landscapes(name: str, cache: Path, steps: int) -> dict:
    import loss_landscapes
    import loss_landscapes.metrics

    from landscapes.networks import views as network_views

    source = network_views.example_source(name, cache)
    land = source.landscape
    model = land.module  # the centre checkpoint's weights and buffers, in eval mode
    model.load_state_dict(land.state_dict_at(land.center))
    model.eval()
    x, y = land.tensors("train")
    metric = loss_landscapes.metrics.Loss(torch.nn.functional.cross_entropy, x, y)
    before = rss_mib()
    rates = [matmul_rate()]
    start = clock()
    values = loss_landscapes.random_plane(model, metric, distance=1, steps=steps,
                                          normalization="filter", deepcopy_model=True)
    elapsed = clock() - start
    rates.append(matmul_rate())
    return {"time": elapsed, "rate": max(rates), "shape": list(np.shape(values)),
            "peak_mib": peak_mib(), "before_mib": before}


def child(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    if torch.get_num_threads() > 1:
        CLOCK["clock"] = time.perf_counter
    cache = Path(args.cache)
    if args.tool == "ours" and args.model in GENERIC:
        out = measure_generic_module(args.model, cache, args.steps, args.repeat)
    elif args.tool == "ours":
        out = measure_ours(args.model, cache, args.steps, args.repeat)
    elif args.model in GENERIC:
        out = measure_generic_loss_landscapes(args.model, cache, args.steps)
    else:
        out = measure_loss_landscapes(args.model, cache, args.steps)
    print(json.dumps(out))


def run_child(tool: str, name: str, cache: str, args: argparse.Namespace,
              steps: int | None = None) -> dict | None:
    cmd = [sys.executable, __file__, "--child", tool, "--model", name, "--cache", cache,
           "--steps", str(steps or args.steps), "--threads", str(args.threads),
           "--repeat", str(args.repeat)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {tool} on {name} failed:\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=51)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (the app uses 1; 0: torch's default, as the CLI)")
    parser.add_argument("--repeat", type=int, default=3, help="slice runs (the best is kept)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--no-loss-landscapes", action="store_true")
    parser.add_argument("--child", choices=("ours", "loss-landscapes"), help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.tool = args.child
        child(args)
        return
    try:
        import loss_landscapes  # noqa: F401
        have_ll = not args.no_loss_landscapes
    except ImportError:
        have_ll = False
        print("loss-landscapes is not installed (pip install '.[bench]'): no comparison")
    threads = args.threads or torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} thread(s); grid {args.steps}x{args.steps};"
          f" {'CPU' if threads == 1 else 'wall'} seconds; our slice: best of {args.repeat}")
    with tempfile.TemporaryDirectory() as cache:
        for name in (n for n in args.models.split(",") if n not in GENERIC):
            start = time.perf_counter()
            from landscapes.networks import examples

            examples.load(name, Path(cache))  # train once, outside the measurements
            trained = time.perf_counter() - start
            ours = run_child("ours", name, cache, args)
            if ours is None:
                continue
            ll = run_child("loss-landscapes", name, cache, args) if have_ll else None
            grid = ours["flops"] * ours["points"]
            limit = grid / ours["rate"]
            print(f"{name}: {ours['dim']:,} parameters, {ours['train']} train + {ours['test']} "
                  f"test samples (trained in {trained:.1f} s); method picked: {ours['method']}")
            print(f"  FLOPs (FlopCounterMode, one forward over train + test): "
                  f"{ours['flops'] / 1e6:.2f} MFLOP per point, {grid / 1e9:.2f} GFLOP per grid "
                  f"(ours, on the slice's first {ours['group']} points: "
                  f"{ours['gemm_flops'] / 1e6:.2f} MFLOP per point in GEMMs"
                  + (f" + {ours['compiled_flops'] / 1e6:.2f} in the compiled first-convolution "
                     "pass" if ours["compiled_flops"] else "") + ")")
            print(f"  fp32 matmul {MATMUL}x{MATMUL}: {ours['rate'] / 1e9:.1f} GFLOP/s -> FLOP limit"
                  f" {limit:.2f} s for the grid")
            print(f"  slice (train+test loss and accuracy): {ours['time']:.2f} s "
                  f"(runs {', '.join(f'{t:.2f}' for t in ours['times'])}) = "
                  f"{ours['time'] / limit:.2f}x the FLOP limit; peak RSS {ours['peak_mib']:.0f} MiB "
                  f"({ours['before_mib']:.0f} before the slices);"
                  f" max rel. difference to the reference loop on 40 points "
                  f"{ours['max_rel_error']:.1e}")
            if ll is not None:
                print(f"  loss_landscapes.random_plane (train loss only, as documented: grad "
                      f"mode on): {ll['time']:.2f} s, peak RSS {ll['peak_mib']:.0f} MiB "
                      f"({ll['before_mib']:.0f} before); our "
                      f"slice is {ll['time'] / ours['time']:.2f}x as fast doing "
                      f"{(ours['train'] + ours['test']) / ours['train']:.2f}x the samples and 4 "
                      f"metrics; on its work (train loss only: {ours['train_only']:.2f} s) ours "
                      f"is {ll['time'] / ours['train_only']:.2f}x as fast")
            print(f"  Lanczos top-2 Hessian eigenpairs (20 HVPs): {ours['lanczos']:.2f} s;"
                  f" eigenvalues {ours['eigenvalues'][0]:.4g}, {ours['eigenvalues'][1]:.4g}")
            if "generic_time" in ours:
                print(f"  generic engine ({ours['generic_method']}: from_module(..., "
                      f"engine='generic') on the same module): {ours['generic_time']:.2f} s (runs "
                      f"{', '.join(f'{t:.2f}' for t in ours['generic_times'])}) = "
                      f"{ours['generic_time'] / ours['time']:.2f}x the fast path (target: within "
                      f"3x); max rel. difference {ours['generic_max_rel']:.1e}")
        for name in (n for n in GENERIC if n in args.models.split(",")):
            generic(name, cache, args, have_ll)


def generic(name: str, cache: str, args: argparse.Namespace, have_ll: bool) -> None:
    """A module outside the zoo: our slice against loss_landscapes.random_plane."""
    steps = min(args.steps, RESNET_STEPS) if name == RESNET else args.steps
    if name == RESNET:
        from landscapes.networks import examples

        examples.load(name, Path(cache))  # train once, outside the measurements
    ours = run_child("ours", name, cache, args, steps)
    if ours is None:
        return
    what = ("residual MLP (h + f(LayerNorm(h)), moons)" if name == RESIDUAL else
            "digits-resnet (the skip-connection example: 8 residual blocks, BatchNorm)")
    print(f"{what}: {ours['dim']:,} parameters, {ours['train']} train + {ours['test']} test "
          f"samples; method picked: {ours['method']}; grid {steps}x{steps}")
    print(f"  slice (train+test loss and accuracy): {ours['time']:.2f} s (runs "
          f"{', '.join(f'{t:.2f}' for t in ours['times'])}); train loss only "
          f"{ours['train_only']:.2f} s; peak RSS {ours['peak_mib']:.0f} MiB")
    ll = run_child("loss-landscapes", name, cache, args, steps) if have_ll else None
    if ll is not None:
        samples = (ours["train"] + ours["test"]) / ours["train"]
        print(f"  loss_landscapes.random_plane (train loss only): {ll['time']:.2f} s, peak RSS "
              f"{ll['peak_mib']:.0f} MiB; on its work (train loss only) ours is "
              f"{ll['time'] / ours['train_only']:.2f}x as fast (target: faster); the whole "
              f"slice ({samples:.2f}x the samples, 4 metrics) {ll['time'] / ours['time']:.2f}x")


if __name__ == "__main__":
    main()
