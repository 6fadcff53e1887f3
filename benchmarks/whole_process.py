"""A network slice as a user times it: the whole ``landscapes slice network`` process against the
peer's script (``loss_landscapes.random_plane``, benchmarks/peer_random_plane.py) and a bare
``python -c "import torch"``, run alternately on the same machine.

The case: a 2-64-64-2 ReLU MLP trained on 1,000 two-moons points (scikit-learn's
``make_moons``, noise 0.2, seed 0), written as safetensors, its data as an ``.npz`` (X, y); a
101x101 filter-normalized plane, full batch, the process's default torch thread count. Our
command computes train and test loss and accuracy at every point (the 1,000 points split
800/200 by content), the peer the loss on all 1,000 (same samples per point).

Both pay ``import torch``, so the figure of merit is the work beyond it:
``(peer - bare) / (ours - bare)`` (target at least 1.5), and ours faster as a whole process.
Peak resident memory of each process (``ru_maxrss`` from ``wait4``) is printed beside it
(target: ours at most the peer's + 100 MiB).

Usage: python benchmarks/whole_process.py [--rounds 5] [--steps 101]
Medians of ``--rounds`` alternating runs; compare ratios within one run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ARCH = {"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}


def make_case(folder: Path) -> None:
    """Train the MLP (full-batch Adam, seeded) and write moons-mlp.safetensors and
    moons1000.npz into ``folder``."""
    import torch
    from sklearn.datasets import make_moons

    from landscapes.networks.architectures import build_network
    from landscapes.networks.uploads import save_checkpoint

    x, y = make_moons(1000, noise=0.2, random_state=0)
    x, y = x.astype(np.float32), y.astype(np.int64)
    torch.manual_seed(0)
    module = build_network(ARCH)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    for _ in range(300):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(module(xt), yt).backward()
        optimizer.step()
    save_checkpoint(folder / "moons-mlp.safetensors", ARCH, module.state_dict(),
                    loss="cross_entropy")
    np.savez(folder / "moons1000.npz", X=x, y=y)
    with torch.no_grad():  # the trained network's loss over all 1,000 points, to check ours by
        loss = torch.nn.functional.cross_entropy(module(xt), yt).item()
    (folder / "centre.json").write_text(json.dumps(loss))


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of ``command`` as a whole process."""
    with tempfile.TemporaryFile() as stderr:  # not a pipe: a child filling it would block
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        err = stderr.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: exit {process.returncode}\n{err[-2000:]}")
    return seconds, usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=101)
    parser.add_argument("--make-case", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_case:
        make_case(args.make_case)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # in a child: a child's peak RSS starts at its parent's, so this one never loads torch
        subprocess.run([sys.executable, __file__, "--make-case", str(folder)], check=True)
        model, data = folder / "moons-mlp.safetensors", folder / "moons1000.npz"
        steps = str(args.steps)
        commands = {
            "bare": [sys.executable, "-c", "import torch"],
            "ours": [str(Path(sys.executable).parent / "landscapes"), "slice", "network",
                     "--checkpoint", str(model), "--data", str(data), "--steps", steps,
                     "--directions", "filter", "--out", str(folder / "ours.npz")],
            "peer": [sys.executable, str(HERE / "peer_random_plane.py"), str(model), str(data),
                     steps, str(folder / "peer.npy")],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                wall, rss = timed(command)
                walls[name].append(wall)
                peaks[name].append(rss)
        c = args.steps // 2  # our grid's middle point is the trained network
        with np.load(folder / "ours.npz") as ours:
            grid = ours["values"].shape
            train, test = len(ours["y_train"]), len(ours["y_test"])
            ours_centre = (train * ours["values"][c, c] + test * ours["test_loss"][c, c]) / (
                train + test)
        peer_grid = np.load(folder / "peer.npy").shape
        centre = json.loads((folder / "centre.json").read_text())
    median = {name: statistics.median(v) for name, v in walls.items()}
    peak = {name: statistics.median(v) for name, v in peaks.items()}
    print(f"{args.steps}x{args.steps} moons MLP slice, whole processes, median of {args.rounds} "
          f"alternating runs ({os.cpu_count()} cores); grids: ours {grid}, peer {peer_grid}; "
          f"loss at the centre over all 1,000 points: ours {ours_centre:.6f}, torch "
          f"{centre:.6f}")
    print(f"{'command':44s} {'wall s':>7s} {'- bare s':>9s} {'peak MiB':>9s}")
    labels = {"bare": "python -c 'import torch'", "ours": "landscapes slice network",
              "peer": "loss_landscapes.random_plane script"}
    for name in commands:
        print(f"{labels[name]:44s} {median[name]:7.2f} {median[name] - median['bare']:9.2f} "
              f"{peak[name]:9.0f}")
    beyond = (median["peer"] - median["bare"]) / max(median["ours"] - median["bare"], 1e-3)
    whole = median["peer"] / median["ours"]
    extra = peak["ours"] - peak["peer"]
    print(f"\nwork beyond import torch, peer / ours = {beyond:.2f}x (target >= 1.5: "
          f"{'met' if beyond >= 1.5 else 'NOT met'})")
    print(f"whole process, peer / ours = {whole:.2f}x (target > 1: "
          f"{'met' if whole > 1 else 'NOT met'})")
    print(f"peak RSS, ours - peer = {extra:+.0f} MiB (target <= +100: "
          f"{'met' if extra <= 100 else 'NOT met'})")
    print(json.dumps({"median_s": median, "peak_mib": peak, "beyond_ratio": beyond,
                      "whole_ratio": whole}))


if __name__ == "__main__":
    main()
