"""What every text export carries beside its numbers: exact number text, the meta JSON, the title
and the file-name stem. Titles name the model and the view in words; the view's words come from
its result kind's record (:func:`landscapes.registry.result_kind`)."""

import json
import re

import numpy as np

from landscapes import registry


def number_text(values: np.ndarray) -> list[str]:
    """The shortest text of each number that reads back exactly (``repr`` of Python floats and
    ints; NaN and infinities as ``nan``, ``inf``, ``-inf``); booleans as 0/1. C order."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    return [repr(v) for v in arr.ravel().tolist()]


def meta_json(meta: dict) -> str:
    """The meta dict as one line of JSON (keys sorted)."""
    return json.dumps(meta, sort_keys=True)


def describe(meta: dict) -> str:
    """A one-line title: the model and the view (``ising n=16 native_bias=2 seed=0 - 2D slice
    (random directions, sphere)``)."""
    model = meta.get("model", {})
    if isinstance(model, dict):
        name = str(model.get("model", "model"))
        model_text = " ".join([name] + [f"{k}={_short(v)}" for k, v in model.items() if k != "model"])
    else:
        model_text = str(model)
    return f"{model_text} - {registry.result_kind(str(meta.get('kind'))).describe(meta)}"


def _short(value: object) -> str:
    """A value as text; an upload's content hash (32+ hex digits) cut to its first 12."""
    text = str(value)
    return text[:12] if re.fullmatch(r"[0-9a-f]{32,}", text) else text


STEM_CHARS = 80


def file_stem(meta: dict) -> str:
    """``funnelscope`` and :func:`describe` in lower case, hyphens between words, at most
    :data:`STEM_CHARS` characters, cut between words (inside a word only where a long one would
    drop more than 20 characters): the name of a result's downloads (and of an HTML export's
    PNG)."""
    stem = re.sub(r"[^0-9A-Za-z]+", "-", f"funnelscope {describe(meta)}").strip("-").lower()
    if len(stem) > STEM_CHARS:
        cut = stem[:STEM_CHARS + 1].rfind("-")  # the last whole word that fits
        # unless a long word would take most of the name with it: then cut inside it
        stem = stem[:cut] if cut > STEM_CHARS - 20 else stem[:STEM_CHARS]
    return stem or "funnelscope"
