"""The partial plotly.js bundle (plotlyjs/, built by make into app/assets/): the plotly.js
version plotly.py's figures are made for, every trace type the figure builders make, and
served by the dashboard before Dash's renderer starts (so Dash never loads its full bundle)."""

import json
import re
from pathlib import Path

from plotly.offline import get_plotlyjs_version

from app.config import Config
from app.main import ASSETS, create_app

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "plotlyjs"
BUNDLE = ASSETS / "plotly-partial.min.js"
FIGURE_CODE = [*(ROOT / "landscapes" / "plots").glob("*.py"), *(ROOT / "app").rglob("*.py")]


def registered_traces() -> set[str]:
    """The trace types entry.js registers, plus scatter (plotly.js's core always has it)."""
    entry = (RECIPE / "entry.js").read_text()
    return {"scatter", *re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry)} - {"core"}


def test_the_bundle_is_the_plotly_js_version_plotly_py_draws_for():
    wanted = get_plotlyjs_version()
    assert json.loads((RECIPE / "package.json").read_text())["dependencies"]["plotly.js"] == wanted
    locked = json.loads((RECIPE / "package-lock.json").read_text())["packages"]
    assert locked["node_modules/plotly.js"]["version"] == wanted
    assert locked["node_modules/plotly.js"]["integrity"].startswith("sha512-")


def test_the_bundle_has_every_trace_type_the_figures_use():
    used = {name.lower() for path in FIGURE_CODE
            for name in re.findall(r"\bgo\.([A-Z][A-Za-z0-9]*)\(", path.read_text())} - {"figure"}
    assert {"surface", "scatter3d", "isosurface", "contour", "heatmap", "histogram"} <= used
    missing = used - registered_traces()
    assert not missing, f"add {sorted(missing)} to plotlyjs/entry.js (the page could not draw them)"


def test_the_built_bundle_is_served_before_the_renderer_starts(tmp_path):
    assert BUNDLE.is_file(), f"{BUNDLE} is missing: `make` builds it (needs npm)"
    text = BUNDLE.read_text()
    assert f'.version="{get_plotlyjs_version()}"' in text
    for trace in registered_traces():  # each module names its type once: name:"surface"
        assert f'name:"{trace}"' in text, trace
    client = create_app(Config.from_env({"FUNNELSCOPE_CACHE_DIR": str(tmp_path)})).server.test_client()
    page = client.get("/").get_data(as_text=True)
    bundle_at = page.index("/assets/plotly-partial.min.js")
    assert bundle_at < page.index("DashRenderer(")  # window.Plotly exists when Graphs load
    response = client.get("/assets/plotly-partial.min.js")
    assert response.status_code == 200 and response.get_data() == BUNDLE.read_bytes()
