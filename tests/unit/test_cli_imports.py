"""A command line that starts at once: each ``landscapes`` command, run in a fresh process,
imports only the heavy packages it uses.

torch (and the network family) loads for the commands that need it: network commands and the
spin descents behind slices, paths and minima. ``--help`` and the exact Ising views
(enumeration, funnel, sweep, free energy) never load it; numba loads for a barrier tree of more
than 16 spins (smaller ones are built in numpy), scipy's root finder for a folding temperature.
Each case checks both ways, so a test that stopped seeing the imports would fail too.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "numba", "scipy", "scipy.optimize", "onnx", "landscapes.networks.views",
         "sklearn")
# run the command as the console script does, then report which heavy modules it imported
SCRIPT = f"""
import json, sys
from landscapes.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps([code, [m for m in {HEAVY!r} if m in sys.modules]]))
"""


def loaded(args: list[str]) -> tuple[int, set[str]]:
    """(exit status, the heavy modules imported) of ``landscapes ARGS`` in a fresh process."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, *args], cwd=ROOT, capture_output=True,
                          text=True, check=False, timeout=600)
    assert done.stdout, done.stderr
    code, modules = json.loads(done.stdout.splitlines()[-1])
    return code, set(modules)


ISING = json.dumps({"model": "ising", "n": 8})
CASES = {  # name: (arguments, {out} and {missing} standing for files; imported; not imported)
    "help": (["--help"], set(), set(HEAVY)),
    "view help": (["view", "--help"], {"torch", "landscapes.networks.views"}, set()),
    "enumerate": (["enumerate", "ising", "--n", "16", "--out", "{out}"], set(),
                  {"torch", "numba", "scipy.optimize", "onnx", "landscapes.networks.views"}),
    "enumerate 17": (["enumerate", "ising", "--n", "17", "--out", "{out}"], {"numba"},
                     {"torch", "scipy.optimize", "onnx", "landscapes.networks.views"}),
    "funnel": (["funnel", "ising", "--n", "10", "--native-bias", "2", "--out", "{out}"],
               {"scipy.optimize"}, {"torch", "numba", "onnx", "landscapes.networks.views"}),
    "sweep": (["sweep", "ising", "--n-min", "6", "--n-max", "7", "--seeds", "1", "--out", "{out}"],
              set(), {"torch", "numba", "onnx", "landscapes.networks.views"}),
    "view free energy": (["view", "--model", ISING, "--view", '{"view": "free_energy"}',
                          "--out", "{out}"],
                         set(), {"torch", "numba", "onnx", "landscapes.networks.views"}),
    "view enumeration": (["view", "--model", ISING, "--view", '{"view": "enumeration"}',
                          "--out", "{out}"],
                         set(), {"torch", "numba", "scipy.optimize", "landscapes.networks.views"}),
    # the spin descents (the slice's centre minimum:0) run on torch; the network family stays out
    "slice ising": (["slice", "ising", "--n", "8", "--steps", "5", "--out", "{out}"], {"torch"},
                    {"numba", "scipy.optimize", "onnx", "landscapes.networks.views"}),
    "slice pspin": (["slice", "pspin", "--n", "8", "--steps", "5", "--out", "{out}"], {"torch"},
                    {"numba", "scipy.optimize", "onnx", "landscapes.networks.views"}),
    "examples": (["examples"], set(), {"torch", "numba", "landscapes.networks.views"}),
    # a network command loads torch and the family, but not the ONNX reader for a safetensors file
    "network": (["slice", "network", "--checkpoint", "{missing}", "--data", "moons",
                 "--out", "{out}"], {"torch"}, {"onnx"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_command_imports_what_it_uses(name, tmp_path):
    args, wanted, unwanted = CASES[name]
    places = {"{out}": str(tmp_path / "out.npz"), "{missing}": str(tmp_path / "x.safetensors")}
    args = [places.get(a, a) for a in args]
    code, modules = loaded(args)
    assert code == (2 if name == "network" else 0), (name, modules)
    assert wanted <= modules, f"{name}: expected {sorted(wanted - modules)} to be imported"
    assert not unwanted & modules, f"{name}: imported {sorted(unwanted & modules)}"


def test_an_mlp_slice_loads_torch_and_nothing_it_does_not_use(tmp_path):
    """An uploaded MLP's slice, end to end: torch, but neither numba nor scipy (an MLP is
    evaluated by batched torch GEMMs; numba is for the CNNs' compiled pass) nor the ONNX reader."""
    import numpy as np
    import torch

    from landscapes.networks.architectures import build_network
    from landscapes.networks.uploads import save_checkpoint

    arch = {"type": "mlp", "sizes": [2, 16, 16, 2], "act": "relu"}
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "mlp.safetensors", arch, build_network(arch).state_dict())
    x = np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)
    np.savez(tmp_path / "data.npz", X=x, y=(x[:, 0] > 0).astype(np.int64))
    code, modules = loaded(["slice", "network", "--checkpoint", str(model), "--data",
                            str(tmp_path / "data.npz"), "--steps", "5",
                            "--out", str(tmp_path / "out.npz")])
    assert code == 0
    assert {"torch", "landscapes.networks.views"} <= modules
    assert not {"numba", "scipy", "onnx"} & modules, modules  # not even scipy's core


def test_an_example_s_dataset_is_made_once_then_read_without_scikit_learn(tmp_path):
    """scikit-learn (1.3 s to import) makes a built-in dataset the first time; the example's
    cache then holds its arrays, and the next command reads them: the same file, no sklearn."""
    import numpy as np

    outs = [tmp_path / "first.npz", tmp_path / "second.npz"]
    runs = [loaded(["slice", "network", "--example", "moons-mlp", "--cache-dir",
                    str(tmp_path / "cache"), "--steps", "5", "--out", str(out)]) for out in outs]
    assert runs[0][0] == runs[1][0] == 0
    assert "sklearn" in runs[0][1] and "sklearn" not in runs[1][1], runs
    first, second = np.load(outs[0]), np.load(outs[1])
    assert first.files == second.files
    assert all(np.array_equal(first[k], second[k]) for k in first.files)
    (tmp_path / "cache" / "examples" / "dataset-moons.npz").write_bytes(b"not a zip")
    assert "sklearn" in loaded(["slice", "network", "--example", "moons-mlp", "--cache-dir",
                                str(tmp_path / "cache"), "--steps", "5", "--out",
                                str(outs[1])])[1]  # an unreadable file is made again
    assert np.array_equal(np.load(outs[1])["values"], first["values"])
