"""Plotly's typed arrays (``{"dtype", "bdata", "shape"?}``, how figures send numbers) read back
as numpy, for tests that check the numbers a figure or an HTML export carries."""

import base64

import numpy as np


def typed_array(node: object) -> np.ndarray:
    """A typed array or a plain list of numbers, as numpy (a typed array keeps its dtype and
    shape; a list becomes float64)."""
    if isinstance(node, dict):
        values = np.frombuffer(base64.b64decode(node["bdata"]), dtype=np.dtype(node["dtype"]))
        shape = node.get("shape")
        return values.reshape([int(n) for n in str(shape).split(",")]) if shape else values
    return np.asarray(node, dtype=np.float64)


def decoded(value: object) -> object:
    """``value`` with a typed array decoded (anything else as it is)."""
    return typed_array(value) if isinstance(value, dict) and "bdata" in value else value
