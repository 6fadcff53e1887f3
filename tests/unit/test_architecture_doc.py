"""The maps stay true: README's layout names every module of the library, and every file that
docs/architecture.md names exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layout_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Layout\n"):]
    return section[section.index("```\n") + 4: section.index("```\n", section.index("```\n") + 4)]


def test_readme_layout_names_every_library_module():
    block = _layout_block()
    missing = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "landscapes").rglob("*.py"))
               if path.name != "__init__.py" and path.name not in block]
    assert missing == []
    for package in ("spin/", "networks/", "io/", "plots/"):
        assert package in block


def test_readme_layout_names_every_dashboard_module():
    block = _layout_block()
    modules = [p.stem for p in (ROOT / "app").glob("*.py") if p.stem not in ("__init__", "wsgi",
                                                                            "devserver", "ids",
                                                                            "tasks", "precompute")]
    modules += [p.stem for p in (ROOT / "app" / "callbacks").glob("*.py") if p.stem != "__init__"]
    assert [m for m in modules if m not in block] == []


def test_every_file_the_architecture_map_names_exists():
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`((?:landscapes|app|tests|assets|docs)/[\w/.-]+\.(?:py|js|md))`", text))
    assert len(named) >= 10
    assert [name for name in sorted(named) if not (ROOT / name).exists()] == []


def test_nothing_cites_a_file_outside_the_repository():
    offenders = []
    for path in ROOT.rglob("*"):
        if (not path.is_file() or any(part.startswith(".") for part in path.relative_to(ROOT).parts)
                or path.suffix not in (".py", ".md", ".yml", ".toml", ".js", ".css", ".txt", "")):
            continue
        text = path.read_text(errors="ignore")
        if "DESIGN" + ".md" in text or "../" + "shared" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
