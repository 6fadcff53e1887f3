"""The in-page help: what each control of a panel (and of the header) does.

Pure data, in the order the page shows the controls. Each :class:`HelpEntry` has

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

from app import ids

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


ENTRIES: tuple[HelpEntry, ...] = (
    HelpEntry("Copy link",
              "Copies this page's address: it holds both panels' settings and the 3D camera, so "
              "whoever opens it sees the same comparison from the same angle.",
              (ids.COPY_LINK,)),
    HelpEntry("Model",
              "What the panel shows: the Ising spin funnel (N spins s = +-1 with a tunable pull "
              "toward a native state), the spherical p-spin glass, or the loss surface of a "
              "small network. Energies of spin models are per spin (H/N).",
              (ids.MODEL,)),
    HelpEntry("View",
              "slice and path: a 2D slice and the energy along a path; funnel and size sweep "
              "enumerate all 2^N states of the Ising model exactly; minima statistics: where "
              "many seeded descents (spins) or trainings (example networks) end.",
              (ids.VIEW_KIND,)),
    HelpEntry("Spins N",
              "The number of spins: 4 to 20 for the Ising model (every state is enumerated "
              "exactly), 16 to 128 in steps of 8 for the p-spin glass.",
              (ids.ISING_N, ids.PSPIN_N)),
    HelpEntry("Native bias J0",
              "Strength of the pull toward the native state, the coupling J0/N xi_i xi_j added "
              "to the random ones: 0 is the Sherrington-Kirkpatrick glass, large J0 a smooth "
              "funnel.",
              (ids.NATIVE_BIAS,)),
    HelpEntry("Order p",
              "How many spins each random coupling joins (2, 3 or 4): p = 2 is a quadratic form "
              "with a single pair of minima +-s, p >= 3 a glass with exponentially many.",
              (ids.P,)),
    HelpEntry("Planted strength lambda",
              "Adds -lambda N m^2, a funnel toward a planted state (m is the overlap with it): "
              "0 is the pure p-spin glass.",
              (ids.PLANTED,)),
    HelpEntry("Seed",
              "Draws the random numbers: for spin models the instance (couplings, native or "
              "planted state, random starts and directions), for networks the slice's random "
              "directions. Type a whole number and press Enter.",
              (ids.SEED,)),
    HelpEntry("Span",
              "The slice's coefficients run from -span to span: for spins (random plane) 1 is "
              "45 degrees away from the centre on the sphere; for networks 1 moves each filter "
              "by its own norm.",
              (ids.SPAN,)),
    HelpEntry("Grid",
              "Points per axis of the slice (21, 31 or 51): fewer compute faster; a coarse "
              "13x13 preview comes first.",
              (ids.STEPS,)),
    HelpEntry("Plot type",
              "Draws the slice as a rotatable 3D surface (with contour lines on its floor), a "
              "filled contour map or a heatmap, with axes a and b along the two directions. "
              "Redraws only: nothing is computed again.",
              (ids.PLOT_KIND,)),
    HelpEntry("Colour scale",
              "The slice's colours: perceptually uniform scales; Cividis is safe for "
              "colour-blind readers.",
              (ids.COLORSCALE,)),
    HelpEntry("log scale (log10 of the values)",
              "Draws log10 of the values; it needs all values positive (a loss, not an "
              "energy), otherwise the title notes it and the values stay linear.",
              (ids.LOG_SCALE,)),
    HelpEntry("Clip extreme values",
              "Caps values above the 99th or 95th percentile so that a few huge values do not "
              "flatten the rest; the title says how many were clipped.",
              (ids.CLIP,)),
    HelpEntry("Contour levels",
              "The number of contour lines (5 to 60), on the surface's floor and in the "
              "contour map.",
              (ids.CONTOUR_LEVELS,)),
    HelpEntry("Weight decay (networks)",
              "Adds lambda |theta|^2 to a network's loss surface, exactly and without "
              "recomputing the slice; spin models get nothing added (the title says so).",
              (ids.WEIGHT_DECAY,)),
    HelpEntry("Overlap with",
              "Funnel view: measure the overlap Q from the native state or from the ground "
              "state (a glass's native state is just a random state).",
              (ids.REFERENCE,)),
    HelpEntry("Slice centre",
              "The point the slice passes through: a descent minimum, the native or planted "
              "state, the ground state (Ising, exact) or a random start.",
              (ids.CENTER,)),
    HelpEntry("Slice plane",
              "The two directions of the slice: random, or through minima 1 and 2, where "
              "coefficient 1 on an axis lands exactly on that minimum.",
              (ids.DIRECTIONS,)),
    HelpEntry("Path from",
              "Where the path plot starts; it shows the energy per spin along the straight "
              "chord (linear) and the great circle (geodesic) on the sphere.",
              (ids.PATH_FROM,)),
    HelpEntry("Path to",
              "Where the path plot ends (a barrier-tree minimum clicked in the funnel view "
              "is added to this list).",
              (ids.PATH_TO,)),
    HelpEntry("Network",
              "An example network trained on the server on first use (then cached), or my "
              "upload: your own checkpoint in the drop zones below.",
              (ids.NET_SOURCE,)),
    HelpEntry("Checkpoint (.safetensors, .pt)",
              "Drop a file on a zone, or focus it and press Enter, to upload weights; the second "
              "and third checkpoints are optional (a path between checkpoints, a plane through "
              "three). A line under each zone says accepted or why the file was refused.",
              (ids.UPLOAD_CHECKPOINT, ids.UPLOAD_CHECKPOINT2, ids.UPLOAD_CHECKPOINT3)),
    HelpEntry("Data X, y (.npz, .safetensors; optional)",
              "Your own data set (arrays X and y) for the uploaded network; without it the "
              "built-in data set chosen under Data is used.",
              (ids.UPLOAD_DATA,)),
    HelpEntry("Architecture (for .pt files)",
              "The network's architecture as JSON, e.g. {\"type\": \"mlp\", \"sizes\": [2, 64, "
              "64, 2], \"act\": \"relu\"}; a .safetensors file carries it in its metadata.",
              (ids.ARCH,)),
    HelpEntry("Data",
              "The built-in data set an uploaded network is evaluated on, used unless a data "
              "file is uploaded.",
              (ids.NET_DATA,)),
    HelpEntry("Loss",
              "The loss of an uploaded network: as the checkpoint says (the loss it names, else "
              "cross_entropy for class labels and mse for real targets), or cross_entropy or mse "
              "whatever the checkpoint says.",
              (ids.NET_LOSS,)),
    HelpEntry("Directions",
              "The plane of a network's slice: random filter-normalized directions, the PCA of "
              "the training trajectory, the top-2 Hessian eigenvectors, or through uploaded "
              "checkpoints 2 and 3.",
              (ids.NET_DIRECTIONS,)),
    HelpEntry("Path",
              "A straight line or a Bezier curve (its bend trained to keep the loss low) from "
              "the initial to the trained weights (uploads: checkpoint to second checkpoint); "
              "its title gives the barrier height.",
              (ids.NET_PATH_KIND,)),
    HelpEntry("Temperature T (units of H; T_f marked)",
              "Funnel view: the temperature of the free energy F(Q; T) per spin drawn below "
              "it, starting at the folding temperature T_f; it redraws without recomputing.",
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
