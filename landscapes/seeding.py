"""Named random streams, so that one model seed drives independent, reproducible draws.

``rng(seed, "couplings")`` and ``rng(seed, "start", 3)`` never share numbers, and the same
arguments always give the same numbers (numpy's PCG64 seeded from a SeedSequence).
"""

import zlib

import numpy as np


def rng(seed: int, stream: str, index: int = 0) -> np.random.Generator:
    """A generator for the draw ``stream`` (e.g. ``"couplings"``) number ``index`` of ``seed``."""
    return np.random.default_rng([int(seed), zlib.crc32(stream.encode()), int(index)])
