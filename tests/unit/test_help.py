"""The help panel (app/help.py) explains every control of the page and cannot go stale.

The checks walk the layout of :func:`app.layout.build` (no server, no browser):

* every field label of a panel (``html.Label`` with class ``field-label``) has an entry with
  exactly that label whose targets include the labelled control;
* every interactive component with an id (radio items, dropdowns, sliders, inputs, uploads,
  check boxes, buttons) is the target of an entry named by a text of the control or of its
  field (a button's text, a check box's option, the download row's "Download:");
* the graphs the user acts on (a surface's camera, a barrier-tree click) have entries too;
* every entry names components that exist, and (gestures aside) a text the page shows.

``problems`` returns what is wrong for a set of entries: dropping any single entry is caught
(tested below for each one), as is renaming a label on either side.
"""

from collections.abc import Iterator, Sequence

import pytest
from dash import dcc, html
from dash.development.base_component import Component

from app import help as control_help
from app import ids, layout
from app.help import HelpEntry
from app.ids import pid
from tests.unit.panels import visible_texts

INTERACTIVE = (dcc.RadioItems, dcc.Dropdown, dcc.Slider, dcc.Input, dcc.Upload, dcc.Checklist,
               html.Button)
# the scenario links are left out: each carries its own explanation beside it
GESTURE_TARGETS = (ids.SURFACE, ids.TREE)  # drag to turn the shared camera; click a minimum


def walk(node, parent: Component | None = None) -> Iterator[tuple[Component, Component | None]]:
    """Every component under ``node`` with its parent (depth first)."""
    if isinstance(node, list | tuple):
        for child in node:
            yield from walk(child, parent)
    elif isinstance(node, Component):
        yield node, parent
        yield from walk(getattr(node, "children", None), node)


def name_of(component_id: str) -> str:
    """A panel control's name (its id without the side prefix); a page id as it is."""
    for side in ids.PANELS:
        if component_id.startswith(side + "-"):
            return component_id.removeprefix(side + "-")
    return component_id


def covering(entries: Sequence[HelpEntry], component_id: str) -> list[HelpEntry]:
    return [e for e in entries if name_of(component_id) in e.targets]


def problems(entries: Sequence[HelpEntry], root: Component) -> list[str]:
    """Everything that ties ``entries`` to the page and is broken (empty: all is well)."""
    found = []
    components = list(walk(root))
    by_id = {c.id: c for c, _ in components if isinstance(getattr(c, "id", None), str)}
    page_texts = visible_texts(root, strip=" :")
    for label, _ in components:
        if isinstance(label, html.Label) and label.className == "field-label":
            text = label.children
            if not any(e.label == text for e in covering(entries, label.htmlFor)):
                found.append(f"field label {text!r} ({label.htmlFor}): no help entry with it")
    for component, parent in components:
        if isinstance(component, INTERACTIVE) and getattr(component, "id", None):
            names = visible_texts(component, strip=" :") | visible_texts(parent, strip=" :")
            if not any(e.label in names for e in covering(entries, component.id)):
                found.append(f"{type(component).__name__} {component.id}: no help entry named "
                             f"by its text or its field's")
    for name in GESTURE_TARGETS:
        if not any(name in e.targets for e in entries):
            found.append(f"graph {name}: no help entry for what it does when touched")
    for entry in entries:
        resolved = [by_id[i] for i in (entry.targets + tuple(pid(side, t) for side in ids.PANELS
                                                             for t in entry.targets))
                    if i in by_id]
        missing = [t for t in entry.targets
                   if t not in by_id and not any(pid(side, t) in by_id for side in ids.PANELS)]
        if not entry.targets or missing:
            found.append(f"help entry {entry.label!r}: no such component {missing}")
        gesture = bool(resolved) and all(isinstance(c, dcc.Graph) for c in resolved)
        if not gesture and entry.label not in page_texts:
            found.append(f"help entry {entry.label!r}: the page shows no such control name")
    return found


@pytest.fixture(scope="module")
def page() -> html.Div:
    return layout.build()


def test_the_help_explains_every_control_and_only_controls_that_exist(page: html.Div) -> None:
    assert problems(control_help.ENTRIES, page) == []


@pytest.mark.parametrize("dropped", control_help.ENTRIES, ids=lambda e: e.label)
def test_dropping_any_entry_is_caught(page: html.Div, dropped: HelpEntry) -> None:
    rest = [e for e in control_help.ENTRIES if e is not dropped]
    assert problems(rest, page), f"nothing noticed that {dropped.label!r} is gone"


def test_a_renamed_or_unknown_control_is_caught(page: html.Div) -> None:
    renamed = [e._replace(label="Grid size") if e.label == "Grid" else e
               for e in control_help.ENTRIES]
    assert any("'Grid'" in p for p in problems(renamed, page))
    ghost = [*control_help.ENTRIES, HelpEntry("Grid", "A control that is gone.", ("no-such-id",))]
    assert any("no such component ['no-such-id']" in p for p in problems(ghost, page))


def test_the_checker_sees_the_panels_labels(page: html.Div) -> None:
    labels = {c.children for c, _ in walk(page)
              if isinstance(c, html.Label) and c.className == "field-label"}
    for label in ("Model", "View", "Spins N", "Native bias J0", "Span", "Grid", "Seed",
                  "Slice centre", "Path to", "Network", "Loss",
                  "Temperature T (units of H; T_f marked)"):
        assert label in labels


def test_entries_are_unique_and_short() -> None:
    labels = [e.label for e in control_help.ENTRIES]
    assert len(labels) == len(set(labels))
    for entry in control_help.ENTRIES:
        sentences = [s for s in entry.text.replace("e.g.", "eg").split(". ") if s.strip()]
        assert 1 <= len(sentences) <= 2 and len(entry.text) <= 320, entry.label
        assert entry.text.endswith("."), entry.label


def test_the_help_panel_lists_every_entry_folded_near_the_top(page: html.Div) -> None:
    top = list(page.children)
    guides = next(c for c in top if getattr(c, "className", None) == "guides")
    panel = next(c for c in guides.children if getattr(c, "id", None) == ids.HELP)
    assert isinstance(panel, html.Details) and not panel.open
    assert top.index(guides) < next(i for i, c in enumerate(top) if isinstance(c, html.Main))
    summary, _, listing = panel.children
    assert isinstance(summary, html.Summary) and summary.children == control_help.SUMMARY
    shown = [(dt.children, dd.children) for dt, dd in zip(listing.children[::2],
                                                           listing.children[1::2], strict=True)]
    assert shown == [(e.label, e.text) for e in control_help.ENTRIES]
