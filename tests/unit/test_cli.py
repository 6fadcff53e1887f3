"""The landscapes command line: files it writes, numbers in them, and its error lines."""

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from landscapes.cli import main
from landscapes.io.npz import read_npz
from landscapes.networks.architectures import build_network
from landscapes.networks.uploads import save_checkpoint
from landscapes.spin.enumeration import spins_from_index
from tests.unit.reference import energy_from_export, ising_energy_loops


def run(args: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_enumerate_writes_every_state_by_bit_pattern(tmp_path, capsys):
    out = tmp_path / "e.npz"
    code, stdout, _ = run(["enumerate", "ising", "--n", "10", "--native-bias", "1.0",
                           "--seed", "4", "--out", str(out)], capsys)
    assert code == 0 and str(out) in stdout
    arrays, meta = read_npz(out)
    assert arrays["energies"].shape == (1024,) and arrays["couplings"].shape == (10, 10)
    assert arrays["native"].shape == (10,)
    for index in (0, 1, 517, 1023):
        s = spins_from_index(index, 10)
        assert arrays["energies"][index] == pytest.approx(ising_energy_loops(arrays["couplings"], s))
    # every listed minimum has each spin aligned with its local field
    states = spins_from_index(arrays["minima"], 10)
    assert np.all(states * (states @ arrays["couplings"]) >= -1e-12)
    assert meta["model"] == {"model": "ising", "n": 10, "native_bias": 1.0, "seed": 4}
    assert "bit i" in meta["index_convention"]


def test_slice_file_recomputes(tmp_path, capsys):
    out = tmp_path / "s.npz"
    code, stdout, _ = run(["slice", "pspin", "--n", "12", "--p", "3", "--planted", "0.5",
                           "--steps", "5", "--span", "0.5", "--out", str(out)], capsys)
    assert code == 0 and "5x5" in stdout
    arrays, meta = read_npz(out)
    d1, d2 = arrays["directions"]
    point = arrays["center"] + arrays["x"][4] * d1 + arrays["y"][0] * d2
    point *= np.sqrt(12) / np.linalg.norm(point)
    assert arrays["values"][0, 4] == pytest.approx(energy_from_export(arrays, meta, point))


def test_a_network_volume_is_written_and_recomputes(tmp_path, capsys):
    out = tmp_path / "v.npz"
    code, stdout, _ = run(["slice", "network", "--example", "multiply-gate", "--dims", "3",
                           "--steps", "3", "--out", str(out)], capsys)
    assert code == 0 and "slice (3x3x3, loss)" in stdout
    arrays, meta = read_npz(out)
    assert arrays["values"].shape == (3, 3, 3) and meta["view"]["dims"] == 3
    assert arrays["values"][1, 1, 1] == pytest.approx(meta["center_energy"], rel=1e-6)


def test_path_and_minima(tmp_path, capsys):
    code, _, _ = run(["path", "ising", "--n", "8", "--from", "native", "--to", "minimum:2",
                      "--kind", "linear", "--steps", "7", "--out", str(tmp_path / "p.npz")], capsys)
    assert code == 0
    arrays, meta = read_npz(tmp_path / "p.npz")
    assert arrays["values"].shape == (7,) and meta["path_kind"] == "linear"
    code, stdout, _ = run(["minima", "pspin", "--n", "16", "--starts", "3",
                           "--out", str(tmp_path / "m.npz")], capsys)
    assert code == 0 and "3 minima" in stdout
    arrays, meta = read_npz(tmp_path / "m.npz")
    assert arrays["energies"].shape == (3,) and np.all(arrays["min_hessian_eig"] > 0)
    for k in range(3):
        e = energy_from_export(arrays, meta, arrays["states"][k])
        assert arrays["energies"][k] == pytest.approx(e)


def test_cli_minima_are_the_library_result(tmp_path, capsys):
    """``landscapes minima`` writes the registry's minima result: the union of what the CLI and
    the library wrote before (start states, lowest state, spectrum, view); Ising flips have no
    Hessian (NaN), and the starts are the model's seeded random starts."""
    from landscapes import views
    from landscapes.spin.descent import seeded_starts
    from landscapes.spin.models import build_model

    code, _, _ = run(["minima", "ising", "--n", "8", "--starts", "4",
                      "--out", str(tmp_path / "m.npz")], capsys)
    arrays, meta = read_npz(tmp_path / "m.npz")
    assert code == 0 and np.isnan(arrays["min_hessian_eig"]).all()
    assert arrays["states"].shape == (4, 8) and arrays["starts"].shape == (4, 8)
    spec = {"model": "ising", "n": 8}
    np.testing.assert_array_equal(arrays["starts"], seeded_starts(build_model(spec), range(4)))
    assert meta["view"] == {"view": "minima", "starts": 4} and "lowest_state" in arrays
    library = views.compute(spec, {"view": "minima", "starts": 4})
    assert sorted(library.arrays) == sorted(arrays)
    code, _, _ = run(["minima", "pspin", "--n", "12", "--starts", "2",
                      "--out", str(tmp_path / "p.npz")], capsys)
    arrays, _ = read_npz(tmp_path / "p.npz")
    assert code == 0 and arrays["spectrum"].shape == (11,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enumerate", "ising", "--n", "22"], "exact enumeration needs n <= 20"),
        (["slice", "spinglass"], "unknown model 'spinglass'"),
        (["slice", "pspin", "--p", "7"], "p must be one of 2, 3 or 4; got 7"),
        (["slice", "ising", "--p", "3"], "--p does not apply to ising"),
        (["slice", "pspin", "--n", "128", "--p", "4"], "use n <= 66 for p=4"),
        (["path", "ising", "--from", "top"], "unknown point 'top'"),
        (["enumerate", "pspin"], "for ising only"),
        (["minima", "ising", "--starts", "0"],
         "minima: starts must be a whole number in [1, 512]; got 0"),
        (["sweep", "ising", "--seeds", "0"], "sweep: seeds must be a whole number in [1, 20]; got 0"),
        (["sweep", "ising", "--n-max", "21"], "sweep: n_max must be a whole number in [2, 20]; got 21"),
        (["sweep", "pspin"], "sweep views are computed for ising only; got 'pspin'"),
        (["slice", "ising", "--dims", "5"], "invalid choice"),
        (["slice", "network", "--example", "multiply-gate", "--dims", "3", "--directions",
          "points"], "--directions points spans at most 2 dimensions"),
    ],
)
def test_bad_arguments_end_with_one_error_line(args, message, tmp_path, capsys):
    code, _, err = run([*args, "--out", str(tmp_path / "x.npz")], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("landscapes: error:")
    assert message in lines[0] and "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()


def test_unwritable_output_is_refused_before_work(tmp_path, capsys):
    code, _, err = run(["slice", "ising", "--out", str(tmp_path / "missing" / "x.npz")], capsys)
    assert code == 2 and "does not exist" in err
    code, _, err = run(["slice", "ising", "--out", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err


def test_console_script_is_installed(tmp_path):
    script = Path(sys.executable).parent / "landscapes"
    done = subprocess.run(
        [str(script), "slice", "ising", "--n", "99", "--out", str(tmp_path / "x.npz")],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "ising: n must be a whole number in [2, 24]; got 99" in done.stderr


def test_enumerate_writes_the_barrier_tree_and_q_histogram(tmp_path, capsys):
    from math import comb

    out = tmp_path / "e.npz"
    args = ["ising", "--n", "10", "--native-bias", "0.5", "--seed", "2"]
    assert run(["enumerate", *args, "--out", str(out)], capsys)[0] == 0
    arrays, meta = read_npz(out)
    m = len(arrays["minima"])
    assert arrays["merges"].shape == (m - 1, 3) and arrays["basin_share"].sum() == pytest.approx(1)
    assert np.all(np.diff(arrays["minimum_energies"]) >= 0)
    assert arrays["q_counts"].tolist() == [comb(10, k) for k in range(11)]
    assert "merges" in meta
    # F(Q; T -> 0) approaches the lowest energy per Q bin
    f_out = tmp_path / "f.npz"
    code, stdout, _ = run(["funnel", *args, "--temperature", "0.001", "--out", str(f_out)], capsys)
    assert code == 0 and "folding temperature" in stdout
    f_arrays, f_meta = read_npz(f_out)
    assert np.allclose(f_arrays["free_energy"], arrays["q_lowest_energy"], atol=1e-3)
    assert f_meta["temperature"] == 0.001 and f_meta["unit"] == "free energy per spin"


def test_funnel_refuses_what_it_cannot_compute(tmp_path, capsys):
    code, _, err = run(["funnel", "pspin", "--out", str(tmp_path / "f.npz")], capsys)
    assert code == 2 and "ising only" in err
    code, _, err = run(["funnel", "ising", "--temperature", "0", "--out", str(tmp_path / "f.npz")],
                       capsys)
    assert code == 2 and "free_energy: temperature must be a number in (0, 1000]; got 0.0" in err


def test_sweep_writes_the_table_it_prints(tmp_path, capsys):
    from landscapes.spin.barriers import barrier_tree, fold_mirror
    from landscapes.spin.enumeration import enumerate_ising
    from landscapes.spin.models import IsingFunnel

    out = tmp_path / "sweep.npz"
    code, stdout, _ = run(["sweep", "ising", "--native-bias", "2", "--seed", "3", "--n-min", "6",
                           "--n-max", "8", "--seeds", "2", "--out", str(out)], capsys)
    assert code == 0 and str(out) in stdout
    arrays, meta = read_npz(out)
    assert meta["kind"] == "sweep" and list(arrays["seeds"]) == [3, 4]
    tree = fold_mirror(barrier_tree(enumerate_ising(
        IsingFunnel.create(n=8, native_bias=2.0, seed=4)).energies, 8))
    assert arrays["ground_basin_share"][2, 1] == tree.basin_share[0]
    assert arrays["minima_count"][2, 1] == tree.minima.size
    share = arrays["ground_basin_share"][2].mean()
    assert f"    8  {share:18.3f}" in stdout


def _csv_rows(path: Path) -> tuple[list[str], np.ndarray]:
    """Header and rows of a CSV export, skipping its '#' comment lines."""
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
    return lines[0].split(","), np.array([[float(v) for v in ln.split(",")] for ln in lines[1:]])


def test_format_option_and_suffix_choose_what_is_written(tmp_path, capsys):
    args = ["slice", "ising", "--n", "8", "--native-bias", "1", "--steps", "5", "--span", "0.5"]
    assert run([*args, "--out", str(tmp_path / "s.npz")], capsys)[0] == 0
    arrays, meta = read_npz(tmp_path / "s.npz")
    out = tmp_path / "s.txt"  # --format wins where the suffix names no format
    code, stdout, _ = run([*args, "--format", "csv", "--out", str(out)], capsys)
    assert code == 0 and f"wrote slice (5x5, energy per spin) to {out}" in stdout
    header, rows = _csv_rows(out)
    assert header == ["a", "b", "energy_per_spin"]
    assert np.array_equal(rows[:, 2].reshape(5, 5), arrays["values"])
    assert np.array_equal(rows[:5, 0], arrays["x"]) and np.all(rows[:5, 1] == arrays["y"][0])
    assert f"# meta: {json.dumps(meta, sort_keys=True)}" in out.read_text()
    starts = {"csv": "# numpy:", "vtk": "# vtk DataFile Version 3.0", "html": "<!DOCTYPE html>"}
    for suffix, start in starts.items():  # the suffix alone picks the format
        code, stdout, _ = run([*args, "--out", str(tmp_path / f"t.{suffix}")], capsys)
        assert code == 0 and str(tmp_path / f"t.{suffix}") in stdout
        assert (tmp_path / f"t.{suffix}").read_text().startswith(start)
    code, _, _ = run([*args, "--format", "npz", "--out", str(tmp_path / "plain")], capsys)
    assert code == 0 and np.array_equal(read_npz(tmp_path / "plain")[0]["values"], arrays["values"])


def test_every_writing_command_takes_a_format(tmp_path, capsys):
    model = ["ising", "--n", "6", "--native-bias", "1"]
    code, _, _ = run(["enumerate", *model, "--out", str(tmp_path / "e.csv")], capsys)
    header, rows = _csv_rows(tmp_path / "e.csv")
    assert code == 0 and header == ["state", "energies", "overlaps"] and rows.shape == (64, 3)
    assert rows[:, 0].tolist() == list(range(64))
    code, _, _ = run(["funnel", *model, "--temperature", "0.5", "--out", str(tmp_path / "f.csv")],
                     capsys)
    header, rows = _csv_rows(tmp_path / "f.csv")
    assert code == 0 and header == ["q_values", "free_energy"] and rows.shape == (7, 2)
    code, _, _ = run(["funnel", *model, "--format", "vtk", "--out", str(tmp_path / "f.vtk")],
                     capsys)
    assert code == 0 and "DIMENSIONS 7 1 1" in (tmp_path / "f.vtk").read_text()
    code, _, _ = run(["minima", *model, "--starts", "3", "--out", str(tmp_path / "m.csv")], capsys)
    header, rows = _csv_rows(tmp_path / "m.csv")
    assert code == 0 and header[:3] == ["start", "energies", "overlaps"] and len(rows) == 3
    code, _, _ = run(["path", *model, "--steps", "7", "--out", str(tmp_path / "p.html")], capsys)
    assert code == 0 and "funnelscope-meta" in (tmp_path / "p.html").read_text()
    code, _, _ = run(["sweep", "ising", "--n-min", "4", "--n-max", "5", "--seeds", "1",
                      "--out", str(tmp_path / "s.csv")], capsys)
    header, rows = _csv_rows(tmp_path / "s.csv")
    assert code == 0 and header[:2] == ["n", "seed"] and rows[:, 0].tolist() == [4, 5]


@pytest.mark.parametrize(
    ("args", "name", "message"),
    [
        (["slice", "ising", "--format", "csv"], "x.npz",
         "landscapes: error: x.npz ends in .npz but the format is csv; name the file *.csv or "
         "choose format npz"),
        (["path", "ising", "--format", "vtk"], "x.html",
         "landscapes: error: x.html ends in .html but the format is vtk; name the file *.vtk or "
         "choose format html"),
        (["minima", "ising"], "x.dat",
         "landscapes: error: cannot tell the format of x.dat from its suffix .dat; use .npz, "
         ".csv, .vtk, .html or choose a format (npz, csv, vtk or html)"),
        (["sweep", "ising", "--n-min", "4", "--n-max", "6"], "x.vtk",
         "landscapes: error: a sweep view has no grid to write as VTK (VTK is for slice, path, "
         "funnel and free energy views); use csv, html or npz"),
        # argparse's own wording of the choices differs between Python versions: a prefix
        (["enumerate", "ising", "--format", "png"], "x.png", "landscapes: error: argument "
         "--format: invalid choice: 'png' (choose from "),
    ],
)
def test_a_format_mismatch_is_one_error_line_and_writes_nothing(args, name, message, tmp_path,
                                                                capsys):
    code, stdout, err = run([*args, "--out", str(tmp_path / name)], capsys)
    assert code == 2 and stdout == ""
    if message.endswith("(choose from "):
        assert err.startswith(message) and err.count("\n") == 1
    else:
        assert err == message + "\n"
    assert list(tmp_path.iterdir()) == []


def test_network_limits_are_options_of_the_command_line(tmp_path, capsys):
    """The dashboard's upload limits (checkpoint and data file size, samples, parameters) are
    options here: a researcher's data over the default 10,000 samples is refused with the option
    to name, and read once it is raised."""
    arch = {"type": "mlp", "sizes": [2, 8, 2], "act": "relu"}  # 42 parameters
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "net.safetensors", arch, build_network(arch).state_dict())
    g = np.random.default_rng(0)
    x = g.normal(size=(12_000, 2)).astype(np.float32)
    np.savez(tmp_path / "big.npz", X=x, y=(x[:, 0] > 0).astype(np.int64))
    out = tmp_path / "s.npz"
    base = ["slice", "network", "--checkpoint", str(ckpt), "--data", str(tmp_path / "big.npz"),
            "--steps", "3", "--out", str(out)]
    refused = [
        ([], "12,000 samples is over the limit of 10,000; subsample it, or raise the limit "
             "(FUNNELSCOPE_MAX_SAMPLES in the dashboard, --max-samples in the command line)"),
        (["--max-samples", "20000", "--max-parameters", "40"],
         "the network has 42 parameters, over the limit of 40"),
        (["--max-samples", "20000", "--max-file-mb", "0.0001"],
         "net.safetensors: the file is"),
        (["--max-samples", "0"], "--max-samples must be positive; got 0"),
    ]
    for extra, message in refused:
        code, _, err = run(base + extra, capsys)
        assert code == 2 and message in err and not out.exists(), (extra, err)
    assert "--max-file-mb in the command line" in run(base + refused[2][0], capsys)[2]
    code, stdout, err = run(base + ["--max-samples", "20000"], capsys)
    assert code == 0, err
    arrays, meta = read_npz(out)
    assert meta["samples"]["train"] + meta["samples"]["test"] == 12_000
    assert arrays["values"].shape == (3, 3) and np.isfinite(arrays["values"]).all()


def _npy_declaring(shape: tuple[int, ...]) -> bytes:
    """An .npy header of int64 ``shape`` followed by only 40 values."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<i8", "fortran_order": False, "shape": shape})
    return header.getvalue() + bytes(8 * 40)


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Files each of which once ended in a traceback: name -> (extra arguments, message)."""
    arch = {"type": "mlp", "sizes": [2, 8, 2], "act": "relu"}
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in build_network(arch).state_dict().items()}
    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    np.savez(tmp_path / "u64.npz", X=x, y=np.full(40, 2**63 + 1, np.uint64))
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        buffer = io.BytesIO()
        np.save(buffer, x)
        archive.writestr("X.npy", buffer.getvalue())
        archive.writestr("y.npy", _npy_declaring((10**10,)))
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "deep.safetensors").write_bytes(safetensors.torch.save(
        state, metadata={"architecture": "[" * 100 + "]" * 100}))
    (tmp_path / "deeper.safetensors").write_bytes(safetensors.torch.save(
        state, metadata={"architecture": deep}))
    (tmp_path / "int.safetensors").write_bytes(safetensors.torch.save(
        {k: v.to(torch.int64) for k, v in state.items()}, metadata={"architecture": json.dumps(arch)}))
    save_checkpoint(tmp_path / "net.safetensors", arch, state)
    np.savez(tmp_path / "ok.npz", X=x, y=(x[:, 0] > 0).astype(np.int64))
    ok = ["--checkpoint", str(tmp_path / "net.safetensors")]
    data = ["--data", str(tmp_path / "ok.npz")]
    return {
        "uint64 labels": (ok + ["--data", str(tmp_path / "u64.npz")],
                          "y holds 9223372036854775809. Renumber them"),
        "npy header of (1e10,)": (ok + ["--data", str(tmp_path / "huge.npz")],
                                  "'y' declares shape (10000000000,)"),
        "deep architecture metadata": (
            ["--checkpoint", str(tmp_path / "deeper.safetensors")] + data,
            "the 'architecture' metadata is 200,000 characters, over the limit of 65,536"),
        "nested architecture metadata": (
            ["--checkpoint", str(tmp_path / "deep.safetensors")] + data,
            "the 'architecture' metadata nests deeper than 64 levels"),
        "deep --arch": (ok + data + ["--arch", "[" * 1000 + "]" * 1000],
                        "--arch nests deeper than 64 levels"),
        "integer weights": (["--checkpoint", str(tmp_path / "int.safetensors")] + data,
                            "has dtype torch.int64; weights must be floating point"),
    }


def test_every_bad_upload_is_one_error_line(tmp_path, capsys):
    out = tmp_path / "s.npz"
    for case, (extra, message) in _bad_inputs(tmp_path).items():
        code, _, err = run(["slice", "network", "--steps", "3", "--out", str(out), *extra],
                           capsys)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("landscapes: error:"), \
            (case, err)
        assert message in lines[0], (case, err)
        assert not out.exists()


def test_a_file_name_that_is_not_utf8_is_printed_escaped(tmp_path, monkeypatch):
    """A strict UTF-8 terminal once raised UnicodeEncodeError on the error line itself."""
    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    bad = tmp_path / os.fsdecode(b"d\xff.npz")
    np.savez(str(bad), X=x, y=np.full(40, -1))
    arch = {"type": "mlp", "sizes": [2, 8, 2], "act": "relu"}
    save_checkpoint(tmp_path / "net.safetensors", arch, build_network(arch).state_dict())
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(raw, encoding="utf-8", errors="strict"))
    code = main(["slice", "network", "--checkpoint", str(tmp_path / "net.safetensors"),
                 "--data", str(bad), "--steps", "3", "--out", str(tmp_path / "s.npz")])
    sys.stderr.flush()
    err = raw.getvalue().decode()
    assert code == 2 and err.count("\n") == 1, err
    assert "d\\udcff.npz: data: class labels must be >= 0" in err
