"""The path graph: the display options apply to it as to the surface, and its y range keeps
the segment between the path's two ends readable when the path runs on to far larger values."""

import numpy as np
import pytest

from landscapes import views
from landscapes.networks.store import UploadStore
from landscapes.plots import slices as figures

MOONS = {"model": "network", "example": "moons-mlp"}
EXPLODING = {"model": "network", "example": "exploding-mlp"}
LINE = {"view": "path", "from": "init", "to": "center", "kind": "linear", "steps": 41}


@pytest.fixture(scope="module")
def exploding(tmp_path_factory):
    return views.compute(EXPLODING, LINE, store=UploadStore(tmp_path_factory.mktemp("uploads")))


def _y(fig, name: str) -> np.ndarray:
    return np.asarray(next(t for t in fig.data if t.name == name).y, dtype=np.float64)


def test_log_scale_draws_log10_of_every_line(exploding):
    fig = figures.path_figure([exploding], {"log": True})
    assert np.allclose(_y(fig, "train"), np.log10(exploding.values), rtol=1e-5)
    assert np.allclose(_y(fig, "test"), np.log10(exploding.extras["test_loss"]), rtol=1e-5)
    assert fig.layout.yaxis.title.text == "log10 " + exploding.meta["loss_unit"]
    assert fig.layout.yaxis.range is None  # on a log scale the whole path is readable


def test_clipping_caps_every_line_at_one_percentile_of_all(exploding):
    fig = figures.path_figure([exploding], {"clip": 95.0})
    both = np.concatenate([exploding.values, exploding.extras["test_loss"]]).astype(np.float32)
    cap = np.percentile(both.astype(np.float64), 95)
    assert np.allclose(_y(fig, "train"), np.minimum(exploding.values, cap), rtol=1e-5)
    above = int(np.sum(both > cap))
    assert f"{above} values above the 95th percentile" in fig.layout.title.text


def test_a_spin_path_on_a_log_scale_says_it_cannot_be():
    spec = {"model": "pspin", "n": 16, "p": 3, "seed": 0}
    path = views.compute(spec, {"view": "path", "kind": "geodesic", "steps": 11,
                                "from": "random:0", "to": "minimum:0"})
    fig = figures.path_figure([path], {"log": True})  # energies per spin are negative
    assert np.allclose(_y(fig, "geodesic"), path.values, atol=1e-6)
    assert "log scale needs positive values: shown linear" in fig.layout.title.text


def test_the_range_keeps_the_segment_between_the_ends_readable(exploding):
    """The diverged MLP's line climbs from 0.75 to about 12,720 between its ends and to
    hundreds of millions beyond alpha = 1: on a linear axis the climb is cut at the segment's
    top, and the title says how high the rest goes."""
    fig = figures.path_figure([exploding])
    arc = exploding.extras["arc"]
    inside = (arc >= 0) & (arc <= 1)
    lines = np.stack([exploding.values, exploding.extras["test_loss"]]).astype(np.float32)
    low, top = float(lines.min()), float(lines[:, inside].max())
    assert lines.max() > 10 * top  # the path runs on far above its segment
    lo, hi = fig.layout.yaxis.range
    assert lo < low and top < hi < top + 0.1 * (top - low)
    assert f"beyond them up to {lines[:, ~inside].max():.4g} (log" in fig.layout.title.text


def test_readable_range_leaves_a_path_whose_segment_fills_the_graph():
    arc = np.linspace(-0.5, 1.5, 9)
    assert figures.readable_range([(arc, np.linspace(4, 0, 9))]) is None  # falls all the way
    bowl = (arc - 0.5) ** 2  # 1.0 at both outer ends, 0.25 at the segment's
    assert figures.readable_range([(arc, bowl)]) is None  # the rest: 4x the segment's height
    spike = np.where(arc > 1, 100.0, 1.0 - arc.clip(0, 1))
    lo, hi = figures.readable_range([(arc, spike)])
    assert lo == pytest.approx(-0.05) and hi == pytest.approx(1.05)
    assert figures.readable_range([(np.linspace(0, 1, 5), np.full(5, np.nan))]) is None


def test_the_log_scale_and_clipping_never_cut_the_axis(exploding):
    """The cut is for the linear picture: on the log scale the whole line is readable (its
    note would send the user to the scale already on), and clipping bounds the range itself."""
    for display in ({"log": True}, {"clip": 95.0}, {"log": True, "clip": 99.0}):
        fig = figures.path_figure([exploding], display)
        assert fig.layout.yaxis.range is None and "axis cut" not in fig.layout.title.text


def test_paths_of_different_lengths_each_keep_their_own_arc():
    spec = {"model": "pspin", "n": 16, "p": 3, "seed": 0}
    paths = [views.compute(spec, {"view": "path", "kind": kind, "steps": steps,
                                  "from": "random:0", "to": "minimum:0"})
             for kind, steps in (("linear", 11), ("geodesic", 21))]
    fig = figures.path_figure(paths)
    for trace, path in zip(fig.data, paths, strict=True):
        assert np.allclose(np.asarray(trace.x), path.extras["arc"], atol=1e-6)
        assert np.allclose(np.asarray(trace.y), path.values, atol=1e-6)


def test_one_clipped_value_is_one_value(exploding):
    """The exploding path on the log scale clipped at the 99th percentile has one value above
    the cap: its note read "1 values"."""
    fig = figures.path_figure([exploding], {"log": True, "clip": 99.0})
    both = np.log10(np.concatenate([exploding.values, exploding.extras["test_loss"]]))
    cap = np.percentile(both.astype(np.float32).astype(np.float64), 99)
    assert int(np.sum(both > cap + 1e-6)) == 1
    assert "1 value above the 99th percentile" in fig.layout.title.text
