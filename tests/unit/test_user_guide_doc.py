"""docs/user-guide.md cannot drift from the page or from the tests that draw its pictures.

* every image the guide shows exists under docs/images/;
* the ``guide-*.png`` images it shows are exactly those that tests/e2e/test_user_guide.py
  captures (``capture(..., "guide-...")``), so a step removed from either side fails here;
* every **bold** phrase in the guide is a control's visible text in the page's layout (a label,
  an option, a button): bold is reserved for them, so a renamed control fails; the views'
  headings are the View switch's options, in order.
"""

import re
from pathlib import Path

from app import controls, ids, layout
from tests.unit.panels import visible_texts

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
WALKTHROUGH = ROOT / "tests" / "e2e" / "test_user_guide.py"
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
CAPTURE = re.compile(r"""\bcapture\([^\n]*?,\s*["']([\w.-]+)["']""")  # (target, "name"
BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)


def page_texts() -> set[str]:
    return visible_texts(layout.build())


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_every_image_the_guide_shows_exists() -> None:
    images = IMAGE.findall(guide())
    assert images, "the guide shows no images"
    missing = [src for src in images if not (GUIDE.parent / src).is_file()]
    assert not missing, f"missing under docs/: {missing} (run `make docs-images`)"


def test_the_guide_shows_exactly_the_captured_screenshots() -> None:
    shown = {Path(src).stem for src in IMAGE.findall(guide()) if Path(src).name.startswith("guide-")}
    captured = set(CAPTURE.findall(WALKTHROUGH.read_text(encoding="utf-8")))
    assert captured, "no capture(page, 'guide-...') calls found in the walk-through"
    assert all(name.startswith("guide-") for name in captured), captured
    assert shown - captured == set(), f"shown in the guide but never captured: {shown - captured}"
    assert captured - shown == set(), f"captured but not shown in the guide: {captured - shown}"


def test_every_bold_control_name_is_on_the_page() -> None:
    names = {" ".join(name.split()) for name in BOLD.findall(guide())}
    assert len(names) > 40, f"too few control names marked bold: {sorted(names)}"
    texts = page_texts()
    unknown = sorted(name for name in names if name not in texts)
    assert not unknown, f"bold in docs/user-guide.md but no such text on the page: {unknown}"


def test_the_views_section_names_each_view_by_its_label() -> None:
    section = guide().split("\n## Views\n", 1)[1].split("\n## ", 1)[0]
    headings = re.findall(r"^### (.+)$", section, re.MULTILINE)
    assert headings == [option["label"] for option in controls.BY_NAME[ids.VIEW].options]


def test_the_layout_texts_are_found() -> None:
    # the collector itself: labels, radio and dropdown options, buttons, checklists
    texts = page_texts()
    for text in ("Model", "Ising spin funnel", "funnel (Ising, exact)", "Copy link", "Cancel",
                 "log scale (log10 of the values)", "random directions", "example: moons-mlp",
                 "Checkpoint (.safetensors, .pt, .onnx)", ".npz", "21", "0.0001"):
        assert text in texts, text
