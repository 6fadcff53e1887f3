"""Guided scenarios: one-click presets, each a page URL with a short explanation beside it.

A preset is nothing but both panels' settings (what differs from the page's defaults) written
as the URL query :mod:`app.urlstate` reads, so opening a preset is opening a link: back and
forward work, and a teacher makes a new scenario by setting up the panels and copying the link.
``docs/teaching-exercises.md`` builds lab exercises on these.
"""

from dataclasses import dataclass, field

from app import ids, urlstate


@dataclass(frozen=True)
class Preset:
    """A named pair of panel settings. ``left`` and ``right`` map control names
    (:data:`app.controls.URL_NAMES`) to values; everything else stays at the page's default."""

    key: str
    title: str
    explanation: str
    left: dict = field(default_factory=dict)
    right: dict = field(default_factory=dict)

    def panels(self) -> urlstate.Panels:
        """Both panels' full settings (defaults updated with the preset's)."""
        return {"left": {**urlstate.defaults("left"), **self.left},
                "right": {**urlstate.defaults("right"), **self.right}}

    def search(self) -> str:
        """The URL query (``?...``) that opens this preset."""
        return urlstate.encode(self.panels())


ISING_FUNNEL = {ids.MODEL: "ising", ids.VIEW: "funnel", ids.ISING_N: 16}

PRESETS = (
    Preset(
        "funnel-vs-glass", "Funnel vs glass",
        "The same 16-spin Ising model, with a native bias J0 = 2 (left) and without (right). The "
        "biased one is a funnel: few minima, one basin holding most states, a barrier tree "
        "shaped like a palm, and a free energy F(Q; T) whose lowest point sits near the native "
        "state (|Q| near 1) below the folding temperature T_f and moves to Q = 0 above it (for "
        "this instance folding is downhill: no free-energy barrier on the way). The unbiased one "
        "is a glass: many minima of nearly equal energy, a banyan tree, no folding temperature: "
        "no native state to fold into. Its 3-D \"funnel\" rises to a spike: the tip is its "
        "native state, for a glass just a random state, far above the low states at the rim (the "
        "title says so); set Overlap with to ground state to centre it on its lowest state. Click "
        "a leaf of a tree to follow the path to that minimum.",
        left={**ISING_FUNNEL, ids.NATIVE_BIAS: 2.0},
        right={**ISING_FUNNEL, ids.NATIVE_BIAS: 0.0},
    ),
    Preset(
        "goodfellow", "Goodfellow: init to solution is a straight shot down",
        "The loss along the straight line from the initial weights (alpha = 0) to the trained "
        "ones (alpha = 1), as in Goodfellow, Vinyals and Saxe (2015): for both networks it falls "
        "monotonically from alpha = 0 to 1, with no barrier to climb, although the landscape is "
        "no simple bowl (just past alpha = 1 the CNN's loss shoots up). Left: an MLP on two "
        "moons; right: a small CNN on the digits.",
        left={ids.MODEL: "network", ids.NET_SOURCE: "moons-mlp", ids.NET_PATH_KIND: "linear"},
        right={ids.MODEL: "network", ids.NET_SOURCE: "digits-cnn", ids.NET_PATH_KIND: "linear",
               ids.STEPS: 31},
    ),
    Preset(
        "exploding", "An exploding network",
        "Left: the moons MLP trained with learning rate 12, which blew up: its training loss ends "
        "above 10,000 (guessing gives ln 2 = 0.69) and reaches millions within the slice. The "
        "log scale and clipping at the 99th percentile keep such a surface readable (a loss that "
        "is not finite would be drawn as a gap, with a note). Right: the same network trained "
        "with a sane step, on the same log scale.",
        left={ids.MODEL: "network", ids.NET_SOURCE: "exploding-mlp", ids.LOG_SCALE: ["log"],
              ids.CLIP: 99},
        right={ids.MODEL: "network", ids.NET_SOURCE: "moons-mlp", ids.LOG_SCALE: ["log"]},
    ),
    Preset(
        "regularization-as-temperature", "Regularization as temperature",
        "Left: the moons MLP's loss with weight decay lambda |theta|^2 (lambda = 0.01) added "
        "exactly to the computed slice, without recomputing: change Weight decay and watch the "
        "penalty lift the surface and bend it into a bowl around the point of the plane nearest "
        "theta = 0; at 0.1 the penalty outweighs the loss. Right: the spin funnel's free energy "
        "F(Q; T): move the temperature slider. Like lambda, T weighs the energy against another "
        "term (here the entropy) and reshapes the landscape the dynamics sees: above T_f the "
        "entropy wins and the lowest point of F moves to Q = 0.",
        left={ids.MODEL: "network", ids.NET_SOURCE: "moons-mlp", ids.WEIGHT_DECAY: 1e-2},
        right={**ISING_FUNNEL, ids.NATIVE_BIAS: 2.0},
    ),
    Preset(
        "funnel-sharpens", "The funnel sharpens with size",
        "Exact enumeration for N = 8 to 20 spins, 4 seeds each. With a native bias (left) the "
        "ground state keeps two thirds or more of all states in its basin at every size, and "
        "the barriers into it stay small: the funnel survives growth. Without one (right) the "
        "ground state's basin falls from about 65% of the states at N = 8 to about 13% at "
        "N = 20 while the number of minima grows from about 3 to about 38: the contrast "
        "sharpens with N.",
        left={ids.MODEL: "ising", ids.VIEW: "sweep", ids.NATIVE_BIAS: 2.0},
        right={ids.MODEL: "ising", ids.VIEW: "sweep", ids.NATIVE_BIAS: 0.0},
    ),
    Preset(
        "skip-connections", "Skip connections smooth the landscape",
        "The same deep CNN on the digits (a stem and 8 blocks of two convolutions: 17 "
        "convolutions of 8 channels, BatchNorm), trained alike (60 full-batch Adam steps), with "
        "its identity skips (left) and without them (right); a 21x21 filter-normalized slice "
        "through each. As Li et al. (2018) found for much deeper networks, though more mildly "
        "here: with skips the slice has 1 grid local minimum and curves like a bowl (positive "
        "definite discrete Hessian) at about three quarters of its points; without them it has "
        "more minima and is a bowl at only about half. Part of the difference is training: the "
        "same steps take the network with skips to a far lower train loss (hover the centre "
        "markers). The exact figures differ a little between machines: CPUs round differently "
        "and 60 training steps amplify it.",
        left={ids.MODEL: "network", ids.NET_SOURCE: "digits-resnet", ids.STEPS: 21},
        right={ids.MODEL: "network", ids.NET_SOURCE: "digits-plainnet", ids.STEPS: 21,
               ids.SPAN: 1.0},  # the right panel's default span is 1.5
    ),
    Preset(
        "bulk-and-outliers", "A network's Hessian: bulk and outliers beside a glass's semicircle",
        "Left: the Hessian of the moons MLP's train loss at its trained weights, 4,482 "
        "eigenvalues estimated from 16 random probes (stochastic Lanczos quadrature, on a log "
        "scale). Nearly all lie in a narrow bulk at 0; a few outliers stand far out: the "
        "largest is 0.658, and the two largest carry 82% of the trace, 1.22. Right: the p-spin "
        "glass (N = 64) at the lowest minimum of 64 descents: its 63 eigenvalues, all "
        "positive, fill a semicircle (red: the large-N law, radius 2 sqrt(6) = 4.90). The "
        "trained network sits in a valley that is flat in almost every direction and steep in "
        "a few; the glass's minimum curves alike in all directions, with no outliers.",
        left={ids.MODEL: "network", ids.VIEW: "spectrum"},
        right={ids.MODEL: "pspin", ids.VIEW: "spectrum"},
    ),
)


def by_key(key: str) -> Preset:
    """The preset named ``key`` (KeyError with the known names otherwise)."""
    for preset in PRESETS:
        if preset.key == key:
            return preset
    raise KeyError(f"no preset {key!r}; known: {', '.join(p.key for p in PRESETS)}")


def matching(search: str | None) -> Preset | None:
    """The preset whose URL is ``search`` (the same settings in any order), if one is.

    Only the panels' settings count: a preset's link with a turned camera (``cam=...``, which a
    rotation adds to the URL) is still that preset.
    """
    wanted = _settings(search)
    return next((p for p in PRESETS if _settings(p.search()) == wanted), None)


def _settings(search: str | None) -> str:
    """The canonical query of ``search``'s panel settings, the camera left out."""
    panels, _, _ = urlstate.decode(search)
    return urlstate.encode(panels)
