"""Run functions of the page's script (app/assets/funnelscope.js) in Node.js, as the browser
would call them, with ``dash_clientside.no_update`` standing as None (JSON null)."""

import json
import shutil
import subprocess

import pytest

from app.main import ASSETS

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="needs Node.js (make test installs it)")


def call(function: str, calls: list[list]) -> list:
    """``funnelscope.<function>(*args)`` for each ``args`` in ``calls`` (JSON values)."""
    assert NODE is not None
    program = ("globalThis.window = {dash_clientside: {no_update: null}};\n"
               + (ASSETS / "funnelscope.js").read_text() + "\n"
               f"const f = window.dash_clientside.funnelscope.{function};\n"
               f"console.log(JSON.stringify({json.dumps(calls)}.map(args => f(...args))));")
    run = subprocess.run([NODE, "-e", program], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)
