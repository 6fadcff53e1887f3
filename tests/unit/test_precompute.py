"""`funnelscope precompute` (app/cli.py): the dashboard's cache is warm afterwards, under the same
keys; `funnelscope serve` runs the dashboard; `python -m app.cli` is the same command."""

import pytest

from app.cli import main
from app.config import Config
from app.main import create_app
from app.precompute import default_views

PLAN = """
views:
  - model: {model: ising, n: 10, native_bias: 1.0}
    view: {view: slice, steps: 11}
  - model: {model: pspin, n: 12, p: 3}
    view: {view: path, from: native, to: minimum:1, steps: 21}
"""


def test_precomputed_views_are_served_from_the_cache(tmp_path, capsys, monkeypatch):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    cache = tmp_path / "cache"
    assert main(["precompute", str(plan), "--defaults", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    total = 2 + len(list(default_views()))
    assert f"{total} computed, 0 already cached, 0 failed" in out

    store = create_app(Config(cache_dir=cache)).server.extensions["funnelscope_store"]
    for spec, view in [({"model": "ising", "n": 10, "native_bias": 1.0}, {"view": "slice",
                                                                        "steps": 11}),
                       *default_views()]:
        assert store.cached(spec, view) is not None
        store.get(spec, view)
    assert store.computed == 0  # a dashboard on this cache computes nothing for them

    assert main(["precompute", str(plan), "--cache-dir", str(cache)]) == 0
    assert "0 computed, 2 already cached" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("views: 3", "expected a top-level 'views:' list"),
        ("views: [{model: {model: ising}}]", "needs a 'model' mapping and a 'view' mapping"),
        ("views: [: bad", "is not valid YAML"),
        ("views: [{model: {model: ising, colour: red}, view: {}}]", "unknown parameter"),
    ],
)
def test_bad_plans_fail_with_one_clear_line(tmp_path, capsys, text, message):
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    assert main(["precompute", str(plan), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_out_of_range_values_fail_the_plan_before_any_work(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("views: [{model: {model: ising, n: 12}, view: {}}, "
                    "{model: {model: ising, n: 99}, view: {}}]")
    assert main(["precompute", str(plan), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err == "funnelscope: error: ising: n must be a whole number in [2, 24]; got 99\n"
    assert not (tmp_path / "c" / "views").exists()  # the first view was not computed either


def test_views_that_fail_when_computed_are_reported_and_fail_the_run(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"  # each number is in its range; together they are too many
    plan.write_text("views: [{model: {model: pspin, n: 128, p: 4}, view: {}}]")
    assert main(["precompute", str(plan), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "use n <= 66 for p=4" in err and "1 view(s) failed" in err


def test_serve_runs_the_dashboard_with_its_options(monkeypatch):
    import app.main

    ran = {}

    class Fake:
        def run(self, **kwargs):
            ran.update(kwargs)

    monkeypatch.setattr(app.main, "create_app", Fake)
    assert main(["serve", "--host", "0.0.0.0", "--port", "9000", "--debug"]) == 0
    assert ran == {"host": "0.0.0.0", "port": 9000, "debug": True}


def test_the_entry_point_runs_as_a_module_and_errors_in_one_line():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-m", "app.cli", "precompute"], cwd=root,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert run.stderr.strip() == ("funnelscope: error: nothing to precompute: give a FILE.yaml "
                                  "and/or --defaults")


def test_an_unknown_command_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["launch"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("funnelscope: error: argument command")
