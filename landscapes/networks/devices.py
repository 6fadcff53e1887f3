"""Where torch computes: ``cpu`` (default), ``cuda`` / ``cuda:K`` when a GPU is present, or
``auto`` (the GPU if there is one). A GPU that is asked for but missing falls back to the CPU
with a note, never an error: the same request gives the same numbers (to float32 rounding) on
either, so cached results are shared.

What moves: network evaluation (slices, paths; the reference forward pass per point). Spin
models stay on the CPU: their slices are exact polynomials (milliseconds) and their descents
read a couplings tensor that would cross the bus at every step.
"""

import torch

from landscapes.errors import LandscapeError

CHOICES = ("cpu", "cuda", "auto")


def resolve_device(name: str | None) -> tuple[torch.device, str | None]:
    """(device, note): ``note`` says why a GPU that was asked for is not used (else None)."""
    name = (name or "cpu").strip().lower()
    kind, _, index = name.partition(":")
    if kind not in CHOICES or (index and (kind != "cuda" or not index.isdigit())):
        raise LandscapeError(f"unknown device {name!r}; use cpu, cuda, cuda:K or auto")
    if kind == "cpu":
        return torch.device("cpu"), None
    if not torch.cuda.is_available():
        note = None if kind == "auto" else f"{name}: no CUDA GPU is available here; computing on the CPU"
        return torch.device("cpu"), note
    if kind == "auto":
        return torch.device("cuda"), None
    if index and int(index) >= torch.cuda.device_count():
        return torch.device("cpu"), (f"{name}: this machine has {torch.cuda.device_count()} "
                                     "GPU(s); computing on the CPU")
    return torch.device(name), None
