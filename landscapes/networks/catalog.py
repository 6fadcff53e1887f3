"""What the network family offers, as plain data: the example recipes, the losses and the
limits on uploads. Nothing here needs torch, so the command line names them in its options and
its help without loading the family (the modules that use them import them from here)."""

from dataclasses import dataclass

#: the architecture type of the module-based residual CNN (:mod:`landscapes.networks.resnet`)
RESNET_TYPE = "resnet"
#: the losses a network is evaluated with
LOSSES = ("cross_entropy", "mse")
#: the largest network, in parameters
MAX_PARAMETERS = 2_000_000
#: the largest checkpoint or data file read, in bytes
MAX_BYTES = 20 * 2**20
#: the Hessian spectrum view's defaults (:mod:`landscapes.networks.spectrum`): top eigenvalues,
#: their Lanczos iterations, the probes and each probe's Lanczos steps, the seed
SPECTRUM_DEFAULTS = {"view": "spectrum", "top": 8, "iterations": 60, "probes": 16, "steps": 60,
                     "seed": 0}


@dataclass(frozen=True)
class Recipe:
    arch: dict
    data: str
    loss: str
    optimizer: str
    lr: float
    steps: int
    record_every: int
    description: str
    stop_loss: float = float("inf")


#: the example networks (trained on first use by :mod:`landscapes.networks.examples`)
RECIPES = {
    "moons-mlp": Recipe(
        {"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}, "moons", "cross_entropy",
        "sgd", 1.0, 300, 10, "MLP 2-64-64-2 on two moons: init, final and its trajectory",
    ),
    "multiply-gate": Recipe(
        {"type": "mlp", "sizes": [2, 4, 1], "act": "softplus"}, "multiply", "mse",
        "adam", 0.05, 1500, 50, "Lin & Tegmark multiplication gate: 4 softplus neurons learn x*y",
    ),
    "digits-cnn": Recipe(
        {"type": "cnn", "in_channels": 1, "image_size": 8, "channels": [8, 16], "kernel": 3,
         "pool": "max", "batchnorm": True, "classes": 10, "act": "relu"},
        "digits", "cross_entropy", "adam", 0.01, 150, 10,
        "small CNN with BatchNorm on scikit-learn digits",
    ),
    "exploding-mlp": Recipe(
        {"type": "mlp", "sizes": [2, 64, 64, 2], "act": "relu"}, "moons", "cross_entropy",
        "sgd", 12.0, 60, 1, "the moons MLP with learning rate 12: the loss explodes",
        stop_loss=1e6,
    ),
    **{name: Recipe(
        {"type": RESNET_TYPE, "in_channels": 1, "image_size": 8, "channels": 8, "blocks": 8,
         "skip": skip, "batchnorm": True, "classes": 10},
        "digits", "cross_entropy", "adam", 0.01, 60, 10,
        f"deep CNN (stem + 8 blocks of 2 convs: 17 convs, 8 channels, BatchNorm) on the "
        f"digits, {words}",
    ) for name, skip, words in (("digits-resnet", True, "with identity skips"),
                                ("digits-plainnet", False, "the same without its skips"))},
}
