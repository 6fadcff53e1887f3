"""The in-page help: what each control of a panel (and of the header) does.

Pure data: the header's Copy link, then every panel control of :data:`app.controls.CONTROLS`
(its label and help text, in page order; controls with the same label, "Spins N" of either
spin model, share one entry), then the drop zones, buttons and gestures of a panel. Each
:class:`HelpEntry` has

* ``label`` -- the control's name exactly as the page shows it (its field label, its button or
  check box text); a gesture on a graph (rotating a surface, clicking the barrier tree) has a
  descriptive name instead;
* ``text`` -- what the control does, in one or two sentences, in the page's own units and
  conventions (energies per spin, span in units where 1 = 45 degrees for spins);
* ``targets`` -- the ids (names from :mod:`app.ids`) of the components it explains: a panel's
  control by its name without the side prefix (``ids.SPAN``), a header control by its page id
  (``ids.COPY_LINK``).

tests/unit/test_help.py ties the entries to the layout both ways: every labelled control, button
and check box has an entry with its exact label, and every entry's targets exist, so the help
cannot go stale when a control is added, renamed or removed.
"""

from typing import NamedTuple

from app import controls, ids

SUMMARY = "Help: what each control does"
INTRO = ("Both panels have the same controls; a group of controls appears only for the model "
         "and view it serves. Keyboard: Tab moves from control to control, arrow keys change a "
         "radio group or move a slider (Home and End jump to its ends), the Down arrow opens a "
         "dropdown, Space ticks a check box, Enter or Space presses a button or opens a drop "
         "zone's file chooser.")


class HelpEntry(NamedTuple):
    """One control (or gesture) explained: see the module docstring."""

    label: str
    text: str
    targets: tuple[str, ...]




def control_entries(schema: tuple[controls.Control, ...] = controls.CONTROLS) -> list[HelpEntry]:
    """One entry per label of the schema's controls (targets: every control with that label)."""
    entries: dict[str, HelpEntry] = {}
    for c in schema:
        known = entries.get(c.label)
        entries[c.label] = (HelpEntry(c.label, c.help, (c.name,)) if known is None
                            else known._replace(targets=(*known.targets, c.name)))
    return list(entries.values())


COPY_LINK = HelpEntry(
    "Copy link",
    "Copies this page's address: it holds both panels' settings and the 3D camera, so "
    "whoever opens it sees the same comparison from the same angle.",
    (ids.COPY_LINK,))
# what the schema does not hold: a panel's drop zones, graphs' gestures and buttons
OTHER_ENTRIES = (
    HelpEntry("Checkpoint (.safetensors, .pt, .onnx)",
              "Drop a file on a zone, or focus it and press Enter, to upload weights; the second "
              "and third checkpoints are optional (a path between checkpoints, a plane through "
              "three). A line under each zone says accepted or why the file was refused.",
              (ids.UPLOAD_CHECKPOINT, ids.UPLOAD_CHECKPOINT2, ids.UPLOAD_CHECKPOINT3)),
    HelpEntry("Data X, y (.npz, .safetensors; optional)",
              "Your own data set (arrays X and y) for the uploaded network; without it the "
              "built-in data set chosen under Data is used.",
              (ids.UPLOAD_DATA,)),
    HelpEntry("Temperature T (units of H; T_f marked)",
              "Funnel view: the temperature of the free energy F(Q; T) per spin drawn below "
              "it, starting at the folding temperature T_f; it redraws without recomputing. "
              "A temperature you pick stays when the funnel is recomputed (the nearest "
              "temperature of the new grid) and goes into the link.",
              (ids.TEMPERATURE,)),
    HelpEntry("Cancel",
              "Shown while the panel computes: stops its background job; the graphs keep what "
              "they showed and the other panel is not affected.",
              (ids.CANCEL,)),
    HelpEntry("Download",
              ".npz, CSV, VTK and HTML save the view on screen from the server's cache (nothing "
              "is computed for a download); hover a button for what its file holds.",
              tuple(ids.DOWNLOAD_BUTTONS.values())),
    HelpEntry("Rotating a 3D surface",
              "Drag to rotate, scroll to zoom: the other panel's surface follows (the camera is "
              "shared and kept in the link). The graph's toolbar (Tab reaches it) resets the "
              "camera, and its camera icon saves a PNG.",
              (ids.SURFACE,)),
    HelpEntry("Clicking a minimum in the barrier tree",
              "Funnel view: clicking a leaf of the disconnectivity graph makes that minimum the "
              "end of the path (Path to) and the path plot redraws to it. Without a pointer, "
              "Path to offers the descent minima and the ground state.",
              (ids.TREE,)),
)
ENTRIES: tuple[HelpEntry, ...] = (COPY_LINK, *control_entries(), *OTHER_ENTRIES)
