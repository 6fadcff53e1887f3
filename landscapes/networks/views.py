"""Slices and paths of a network's loss landscape, and the registry records of the network views.

A :class:`NetworkSource` is a :class:`NetworkLandscape` (the center checkpoint, its data and
loss) plus the other named points a view may use: ``init`` and a training ``trajectory`` for
the examples, ``checkpoint2``/``checkpoint3`` for uploads. Views (plain dicts):

    {"view": "slice", "dims": 2, "steps": 51, "span": 1.0, "directions": "filter",
     "direction_seed": 0, "include_1d": False}
    {"view": "path", "from": "init", "to": "center", "kind": "linear" | "bezier", "steps": 81}
    {"view": "minima", "seeds": 8}  (example networks only; :mod:`landscapes.networks.minima`)

Paths run between named checkpoints (``center`` is the slice center; the older spelling
``centre`` is accepted in input and stored as ``center``) from alpha = 0 to 1.

Directions: ``filter`` (Gaussian, filter-normalized, Li et al. 2018; coefficients are in units
of the filter norms), ``pca`` (principal directions, unit length, of the training trajectory or,
for uploads, of the uploaded checkpoints, centered on the center checkpoint; the span is
relative to their extent: :func:`_pca_plane`), ``hessian`` (top Hessian eigenvectors by Lanczos, unit
length; span in parameter-space distance), ``through:P1[,P2[,P3]]`` (``P - centre``). Geometry is
Euclidean. ``values`` is the train loss; ``test_loss`` (and ``train_accuracy``,
``test_accuracy`` for classification) have the same shape.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from landscapes.chunks import map_blocks
from landscapes.directions import directions_through, filter_normalized, pca_directions
from landscapes.errors import LandscapeError
from landscapes.networks import examples
from landscapes.networks.architectures import describe_arch, output_size, split_state
from landscapes.networks.catalog import LOSSES, SPECTRUM_DEFAULTS
from landscapes.networks.datasets import BUILTIN, Dataset, as_class_labels, load_builtin
from landscapes.networks.landscape import MAX_PARAMETERS, NetworkLandscape
from landscapes.networks.minima import (
    NETWORK_MINIMA_DEFAULTS,
    SEEDS,
    network_minima,
    normalize_network_minima_view,
)
from landscapes.networks.spectrum import (
    SPECTRUM_CONSTRAINTS,
    normalize_spectrum_view,
    spectrum_arrays,
)
from landscapes.networks.store import KEY_LENGTH, UploadStore
from landscapes.networks.uploads import Checkpoint
from landscapes.registry import Context, Progress, ViewKind, register_view
from landscapes.results import BUFFER_PREFIX, ViewResult, base_meta
from landscapes.slices import (
    MAX_POINTS,
    Slice,
    evaluate_points,
    grid_coefficients,
    symmetric_axis,
)
from landscapes.viewspec import (
    SEED,
    SHOWN,
    Constraint,
    Flag,
    Interval,
    Options,
    Text,
    fill_view,
    show,
    validate,
)

SLICE_DEFAULTS = {"view": "slice", "dims": 2, "steps": 51, "span": 1.0, "directions": "filter",
                  "direction_seed": 0, "include_1d": False}
PATH_DEFAULTS = {"view": "path", "from": "init", "to": "center", "kind": "linear", "steps": 81,
                 "bend_steps": 300}
NETWORK_PATH_KINDS = ("linear", "bezier")
LINEAR_RANGE = (-0.5, 1.5)  # Goodfellow et al. 2015
CHUNK = 64
PATH_BLOCK = 8  # path points a block (each its own evaluation: BatchNorm statistics vary)
CENTER = "center"  # the name of the center checkpoint among a source's points
SPELLINGS = {"centre": CENTER}  # accepted in input, stored in the canonical spelling


@dataclass
class NetworkSource:
    landscape: NetworkLandscape
    points: dict[str, np.ndarray] = field(default_factory=dict)
    buffers: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    trajectory: np.ndarray | None = None
    label: dict = field(default_factory=dict)
    #: uploaded checkpoints by point name (``center``, ``checkpoint2``, ...): ``{"name": file
    #: name, "sha256": hex digest of the uploaded file}``
    files: dict[str, dict] = field(default_factory=dict)
    #: what meta names as the architecture when it is not the engine's (an ONNX file's graph)
    architecture: dict | None = None

    def point(self, name: str) -> np.ndarray:
        name = SPELLINGS.get(name, name)
        if name == CENTER:
            return self.landscape.center.double().numpy()
        if name not in self.points:
            have = ", ".join([CENTER, *self.points])
            raise LandscapeError(f"no checkpoint named {name!r} here; available: {have}")
        return self.points[name]


def example_source(name: str, cache_dir: Path) -> NetworkSource:
    """An example network (trained and cached on first use): centre = final, plus ``init``. A
    module-based example (:func:`examples.module_based`) is evaluated by the generic engine and
    names its own architecture in meta."""
    ex = examples.load(name, cache_dir)
    land = examples.landscape(ex.arch, ex.final, load_builtin(ex.data, cache_dir), ex.loss)
    init, buffers = examples.flat_point(land, ex.init)
    return NetworkSource(
        land,
        points={"init": init.double().numpy()},
        buffers={"init": buffers},
        trajectory=ex.trajectory.astype(np.float64),
        label={"example": name},
        architecture=ex.arch if examples.module_based(ex.arch) else None,
    )


SPEC_KEYS = ("checkpoint", "checkpoint2", "checkpoint3", "data", "loss")


def on_device(source: NetworkSource, device: torch.device | None) -> NetworkSource:
    """``source`` with its landscape evaluated on ``device`` (None: as it is, the CPU)."""
    if device is None:
        return source
    return replace(source, landscape=source.landscape.on(device))


def normalize_spec(spec: dict) -> dict:
    """Canonical network spec: ``{"model": "network", "example": NAME}`` or uploads by key::

        {"model": "network", "checkpoint": KEY, "checkpoint2": KEY | None,
         "checkpoint3": KEY | None, "data": BUILTIN_NAME | "upload:KEY", "loss": LOSS | None}
    """
    if "example" in spec:
        unknown = set(spec) - {"model", "example"}
        if unknown:
            raise LandscapeError("network: an example takes no other settings "
                                 f"({', '.join(sorted(str(k)[:SHOWN] for k in unknown))})")
        example = spec["example"]
        if not isinstance(example, str) or example not in examples.RECIPES:
            raise LandscapeError(
                f"unknown example {show(example)}; choose one of {', '.join(examples.RECIPES)}"
            )
        return {"model": "network", "example": example}
    unknown = set(spec) - {"model", *SPEC_KEYS}
    if unknown:
        raise LandscapeError("network: unknown setting(s) "
                             f"{', '.join(sorted(str(k)[:SHOWN] for k in unknown))}")
    if not spec.get("checkpoint"):
        raise LandscapeError("network: choose an example or upload a checkpoint")
    if not spec.get("data"):
        raise LandscapeError("network: choose a dataset or upload a data file (X, y)")
    out = {"model": "network", **{k: spec.get(k) for k in SPEC_KEYS}}
    return validate({k: v for k, v in out.items() if v is not None}, SPEC_CONSTRAINTS,
                    "network") | {k: v for k, v in out.items() if v is None}


def _upload_key(key: str) -> None:
    if len(key) != KEY_LENGTH or any(c not in "0123456789abcdef" for c in key):
        raise LandscapeError(f"network: {show(key)} is not an upload key (64 hex digits, as "
                             "the upload answered)")


def _data_name(name: str) -> None:
    if name.startswith("upload:"):
        _upload_key(name.removeprefix("upload:"))
    elif name not in BUILTIN:
        raise LandscapeError(f"network: data must be one of {', '.join(BUILTIN)} or "
                             f"upload:KEY; got {show(name)}")


#: the parameters of an uploaded network's spec (:mod:`landscapes.viewspec`)
SPEC_CONSTRAINTS: dict[str, Constraint] = {
    **{name: Text("an upload key", parse=_upload_key)
       for name in ("checkpoint", "checkpoint2", "checkpoint3")},
    "data": Text("a data set name or upload:KEY", parse=_data_name),
    "loss": Options(LOSSES),
}


def source_from_spec(spec: dict, store: UploadStore) -> NetworkSource:
    """The network a (normalized) spec names: an example, or stored uploads."""
    if "example" in spec:
        return example_source(spec["example"], store.examples_dir)
    data_name = spec["data"]
    if str(data_name).startswith("upload:"):
        data = store.data(data_name.removeprefix("upload:"))
    else:
        data = load_builtin(data_name, store.examples_dir)
    center = store.checkpoint(spec["checkpoint"])
    others = {
        name: store.checkpoint(spec[name]) for name in ("checkpoint2", "checkpoint3") if spec[name]
    }
    return checkpoint_source(center, others, data, spec["loss"], label=dict(spec),
                             max_parameters=store.max_parameters)


def describe_network(source: NetworkSource) -> str:
    """A short name for people: the zoo's (:func:`describe_arch`), or for an ONNX file ``ONNX
    graph, 1,234 parameters in 6 tensors, input (batch, 3)`` (a symbolic dimension: ``batch``)."""
    land = source.landscape
    if source.architecture is None or source.architecture.get("type") != "onnx":
        return describe_arch(land.arch)
    dims = ", ".join("batch" if d is None else str(d) for d in source.architecture["inputs"])
    return (f"ONNX graph, {land.layout.dim:,} parameters in {len(land.layout.shapes)} tensors, "
            f"input ({dims})")


def center_summary(source: NetworkSource) -> str:
    """What an accepted upload is, with its loss at the centre checkpoint on the train split:
    ``mlp 2-64-64-2 relu; loss at this checkpoint 0.0123 (cross_entropy) on the train split of
    moons (1,000 samples)``, so a user can compare it with the loss they measured."""
    land = source.landscape
    loss = float(land.evaluate(land.center[None])["loss"][0])
    data = land.data.upload["name"] if land.data.upload else land.data.name
    return (f"{describe_network(source)}; loss at this checkpoint {loss:.6g} ({land.loss}) on the "
            f"train split of {data} ({len(land.data.x_train):,} samples)")


def default_loss(data: Dataset, outputs: int) -> str:
    """The loss when neither the request nor the checkpoint names one: cross-entropy for class
    labels, and for float labels of one column that are whole numbers >= 0 when the network has
    several outputs (they are class indices saved as floats); else mean squared error."""
    if data.task == "classification":
        return "cross_entropy"
    y = np.concatenate([data.y_train, data.y_test])
    whole = y.shape[1] == 1 and bool(np.all((y == np.round(y)) & (y >= 0)))
    return "cross_entropy" if whole and outputs > 1 else "mse"


def upload_file(ckpt: Checkpoint) -> dict:
    """``{"name", "sha256"}`` of the file a stored checkpoint was uploaded as."""
    return {"name": ckpt.meta.get("filename"), "sha256": ckpt.meta.get("sha256")}


VERIFY_SAMPLES = 256  # an ONNX graph is checked against onnxruntime on this many train samples


def _shapes(ckpt: Checkpoint) -> dict[str, tuple[int, ...]]:
    return {name: tuple(t.shape) for name, t in ckpt.state.items()}


def _same_network(center: Checkpoint, other: Checkpoint) -> bool:
    """Whether ``other``'s weights fit ``center``'s network: the same zoo architecture, or for
    ONNX files the same parameter and buffer names and shapes (they are evaluated in the center
    file's graph)."""
    if center.onnx is None or other.onnx is None:
        return center.onnx is None and other.onnx is None and other.arch == center.arch
    return _shapes(other) == _shapes(center)


def _network_words(ckpt: Checkpoint) -> str:
    if ckpt.onnx is not None:
        numbers = sum(t.numel() for t in ckpt.state.values())
        return f"ONNX graph of {len(ckpt.state)} tensors, {numbers:,} numbers"
    return str(ckpt.arch)


def checkpoint_source(center: Checkpoint, others: Mapping[str, Checkpoint], data: Dataset,
                      loss: str | None = None, label: dict | None = None,
                      max_parameters: int = MAX_PARAMETERS) -> NetworkSource:
    """A source from loaded checkpoints: the centre and named others (same architecture).

    Without a named loss, :func:`default_loss` chooses; for cross-entropy, whole-number float
    labels are cast to class labels (:func:`landscapes.networks.datasets.as_class_labels`)."""
    assert center.arch is not None  # a loaded checkpoint always has its architecture
    if center.onnx is not None:  # any graph: checked on the data, then the generic engine
        from landscapes.networks.onnx import verify  # (the onnx package is slow to load)

        verify(center.onnx, data.x_train[:VERIFY_SAMPLES])
        outputs = int(center.onnx.module(torch.as_tensor(data.x_train[:1])).shape[-1])
    else:
        outputs = output_size(center.arch)
    loss = loss or center.loss or default_loss(data, outputs)
    if loss == "cross_entropy":
        data = as_class_labels(data)
    if center.onnx is not None:
        land = NetworkLandscape.from_module(center.onnx.module, data, loss, max_parameters,
                                            recognize=False)
    else:
        land = NetworkLandscape.create(center.arch, center.state, data, loss, max_parameters)
    points, buffers = {}, {}
    for name, ckpt in others.items():
        if not _same_network(center, ckpt):
            raise LandscapeError(
                f"{name} has a different architecture from the center checkpoint "
                f"({_network_words(ckpt)} vs {_network_words(center)})"
            )
        params, bufs = split_state(land.module, ckpt.state)
        points[name] = land.layout.flatten(params).double().numpy()
        buffers[name] = bufs
    files = {name: upload_file(ckpt) for name, ckpt in (("center", center), *others.items())}
    return NetworkSource(land, points, buffers, None, label or {}, files,
                         center.arch if center.onnx is not None else None)


MAX_BEND_STEPS = 2000  # Adam steps that train a Bezier path's bend


def _check_directions(d: str) -> None:
    if d not in ("filter", "pca", "hessian") and not d.startswith("through:"):
        raise LandscapeError(f"unknown directions {show(d)}; use filter, pca, hessian or "
                             "through:P1[,P2[,P3]]")


#: every parameter of the network slice and path views, with its range (:mod:`landscapes.viewspec`)
CONSTRAINTS: dict[str, Constraint] = {
    "dims": Options((1, 2, 3)),  # a line, a plane or a volume
    "steps": Interval(int, 2, 201),  # a slice's; a path's: PATH_STEPS
    "span": Interval(float, 0, 100, low_open=True),
    "direction_seed": SEED,
    "include_1d": Flag(),
    "directions": Text("filter, pca, hessian or through:P1[,P2[,P3]]", parse=_check_directions),
    "from": Text("a checkpoint name"),
    "to": Text("a checkpoint name"),
    "kind": Options(NETWORK_PATH_KINDS),
    "bend_steps": Interval(int, 0, MAX_BEND_STEPS),
}
PATH_STEPS = Interval(int, 3, 1001)
VOLUME_STEPS = Interval(int, 2, 81)  # a volume's (dims=3): 81^3 = 531,441 points
SLICE_CONSTRAINTS = {**{k: CONSTRAINTS[k] for k in SLICE_DEFAULTS if k != "view"},
                     "steps": Interval(int, 2, 201, note="dims=1 and 2; dims=3: up to 81")}
PATH_CONSTRAINTS = {**{k: CONSTRAINTS[k] for k in PATH_DEFAULTS if k != "view"},
                    "steps": PATH_STEPS}


def normalize_view(view: dict) -> dict:
    kind = view.get("view", "slice")
    constraints = {**CONSTRAINTS, "steps": PATH_STEPS} if kind == "path" else CONSTRAINTS
    if kind == "slice":  # steps by dims: dims first
        dims = validate(view, {"dims": CONSTRAINTS["dims"]}, "network slice").get("dims", 2)
        if dims == 3:
            constraints = {**CONSTRAINTS, "steps": VOLUME_STEPS}
    out = fill_view(view, {"slice": SLICE_DEFAULTS, "path": PATH_DEFAULTS}, constraints,
                    f"network {kind}" if isinstance(kind, str) else None)
    if kind == "slice":
        d = out["directions"]
        if d.startswith("through:"):
            names = d.removeprefix("through:").split(",")
            out["directions"] = "through:" + ",".join(SPELLINGS.get(n, n) for n in names)
    else:
        out["from"], out["to"] = (SPELLINGS.get(out[end], out[end]) for end in ("from", "to"))
    return out


def _metrics(landscape: NetworkLandscape, buffers: Mapping | None = None
             ) -> Callable[[torch.Tensor], np.ndarray]:
    """Points (B, D) -> (B, K): train loss, test loss[, train accuracy, test accuracy]."""
    return lambda points: landscape.evaluate_splits(points, buffers)


def _grid(land: NetworkLandscape, center: np.ndarray, directions: np.ndarray,
          axes: list[np.ndarray], progress: Progress = None) -> np.ndarray:
    """Metrics (ny, nx, K) on the Euclidean grid: as :func:`slices.evaluate_grid`, with the
    points ``center + coefs @ directions`` formed in float64 (elementwise: a GEMM with K = 2 is
    slow) in reused buffers, then rounded to the network's float32; CHUNK points a block (on
    several processes inside :func:`landscapes.chunks.processes`)."""
    coefs = torch.as_tensor(grid_coefficients(axes))
    total = len(coefs)
    if total > MAX_POINTS:
        raise LandscapeError(f"a grid of {total:,} points is too large (limit {MAX_POINTS:,})")
    c = torch.as_tensor(np.asarray(center, dtype=np.float64))
    d = torch.as_tensor(np.asarray(directions, dtype=np.float64))
    wide = torch.empty(min(CHUNK, total), len(c), dtype=torch.float64)
    narrow = torch.empty(wide.shape, dtype=torch.float32)

    def block(start: int, stop: int) -> np.ndarray:
        part = coefs[start:stop]
        pts = torch.addcmul(c, part[:, :1], d[0], out=wide[: len(part)])
        for k in range(1, len(d)):
            pts.addcmul_(part[:, k : k + 1], d[k])
        return land.evaluate_splits(narrow[: len(part)].copy_(pts))

    values = map_blocks(block, total, CHUNK, progress)
    return values.reshape(*(len(a) for a in axes[::-1]), values.shape[1])


def _buffer_arrays(buffers: Mapping[str, torch.Tensor], prefix: str = BUFFER_PREFIX
                   ) -> dict[str, np.ndarray]:
    """The BatchNorm statistics a view was evaluated with, as export arrays (``prefix + name``)."""
    return {prefix + name: t.detach().cpu().numpy() for name, t in buffers.items()}


def _path_buffers(buffers: tuple[Mapping, Mapping]) -> dict[str, np.ndarray]:
    """Both ends' statistics of a path (``buffer.from.<name>``, ``buffer.to.<name>``)."""
    start, end = buffers
    return {**_buffer_arrays(start, BUFFER_PREFIX + "from."),
            **_buffer_arrays(end, BUFFER_PREFIX + "to.")}


def _split_metrics(values: np.ndarray, classification: bool) -> tuple[np.ndarray, dict]:
    extras = {"test_loss": values[..., 1]}
    if classification:
        extras.update(train_accuracy=values[..., 2], test_accuracy=values[..., 3])
    return values[..., 0], extras


def _upload_meta(source: NetworkSource) -> dict:
    """What names an upload's files and split in meta: ``checkpoints`` (by point name) and
    ``data`` as ``{"name", "sha256"}`` (never a local path), and the ``split`` rule."""
    out: dict = {}
    if source.files:
        out["checkpoints"] = source.files
    upload = source.landscape.data.upload
    if upload is not None:
        out["data"] = upload
        out["split"] = source.landscape.data.split or "as stored (an older upload)"
    return out


def _data_arrays(data: Dataset) -> dict[str, np.ndarray]:
    """The split as export arrays, so every value recomputes from the file alone: an upload's, or
    arrays passed from Python; a built-in dataset is recomputed by its name instead."""
    if data.upload is None and data.name in BUILTIN:
        return {}
    return {"X_train": data.x_train, "y_train": data.y_train, "X_test": data.x_test,
            "y_test": data.y_test}


def _base_meta(source: NetworkSource) -> dict:
    land = source.landscape
    return {
        **base_meta({"model": "network", **source.label}, "loss"),
        "architecture": source.architecture or land.arch,
        "loss": land.loss,
        "data": land.data.name,
        "loss_unit": "mean cross-entropy (nats)" if land.loss == "cross_entropy"
        else "mean squared error",
        "parameters": land.layout.to_meta(),
        "parameter_order": "named_parameters() flattened",
        "batchnorm": "eval mode; running statistics of the centre checkpoint, never updated",
        "samples": {"train": len(land.data.x_train), "test": len(land.data.x_test)},
        "evaluation": land.method_meta(),
        **_upload_meta(source),
    }


UPLOADED_POINTS = (CENTER, "checkpoint2", "checkpoint3")  # an upload's PCA points, in order


def _pca_plane(source: NetworkSource, center: np.ndarray, dims: int
               ) -> tuple[np.ndarray, float, dict, dict[str, np.ndarray]]:
    """PCA directions (dims, D), the extent the span is relative to, and the meta and arrays
    they add to a slice.

    Both kinds of source are centered on the center checkpoint (the slice's origin), as in Li et
    al. 2018, and decomposed by :func:`landscapes.directions.pca_directions` (unit directions,
    SVD of the rows ``point - center``):

    * an example: its recorded training trajectory (``trajectory_coords``: the trajectory in the
      slice's coordinates, drawn as a line);
    * an upload: the uploaded checkpoints ``center``, ``checkpoint2``, ``checkpoint3``, so dims
      directions need dims + 1 of them (a plane: all three; it is the plane through them, with
      orthonormal axes ordered by variance). ``checkpoint_coords`` (P, dims) are the
      checkpoints in the slice's coordinates (the center at 0), ``pca_points`` their names and
      ``pca_point_losses`` their train losses with the center's BatchNorm statistics, as the
      surface is evaluated (drawn as markers on it).

    The span is relative to the extent: the largest |coordinate| of the points. A source with
    neither (a module from Python) is refused.
    """
    land = source.landscape
    if source.trajectory is not None:
        dirs, ratio = pca_directions(source.trajectory, center, dims)
        coords = (source.trajectory - center) @ dirs.T
        extras = {"trajectory_coords": coords}
        info: dict = {"normalization": "unit principal directions of trajectory - centre",
                      "span_unit": "trajectory extent"}
    elif not source.files:  # a module from Python: neither a trajectory nor uploads
        raise LandscapeError("PCA directions need a recorded training trajectory (the examples) "
                             "or uploaded checkpoints; use filter or hessian directions")
    else:
        names = [name for name in UPLOADED_POINTS if name == CENTER or name in source.points]
        if dims + 1 > len(UPLOADED_POINTS):
            raise LandscapeError(
                f"PCA directions of an upload need {dims + 1} checkpoints for {dims} directions, "
                f"and an upload has at most {len(UPLOADED_POINTS)}: use filter or hessian "
                "directions")
        if len(names) < dims + 1:
            raise LandscapeError(
                f"PCA directions of an upload need {dims + 1} checkpoints for {dims} direction(s) "
                f"(have {len(names)}): upload a {'third' if dims == 2 else 'second'} checkpoint "
                "or use through-checkpoint directions")
        points = np.stack([source.point(name) for name in names])
        # the sign is fixed by the first row: checkpoint2 (the center's row is zero)
        dirs, ratio = pca_directions(np.roll(points, -1, axis=0), center, dims)
        coords = (points - center) @ dirs.T
        losses = land.evaluate(torch.as_tensor(points, dtype=torch.float32))["loss"]
        extras = {"checkpoint_coords": coords}
        info = {"normalization": "unit principal directions of the uploaded checkpoints - "
                                 "center checkpoint",
                "span_unit": "checkpoints' extent", "pca_points": names,
                "pca_point_losses": [float(v) for v in losses]}
    extent = float(np.abs(coords).max()) or 1.0
    return dirs, extent, {**info, "explained_variance": ratio.tolist()}, extras


def compute_slice(source: NetworkSource, view: dict, progress: Progress = None) -> Slice:
    """A 1D, 2D or 3D slice of the loss around the centre checkpoint (Euclidean geometry):
    ``values`` has shape ``(steps,) * dims`` in the order (c, b, a) of the coefficients along
    (d3, d2, d1), as every slice (:class:`landscapes.slices.Slice`)."""
    view = normalize_view({"view": "slice", **view})
    land = source.landscape
    center = land.center.double().numpy()
    dims, kind = view["dims"], view["directions"]
    axis = symmetric_axis(view["span"], view["steps"])
    axes = [axis] * dims
    info: dict = {}
    extras: dict[str, np.ndarray] = {}
    if kind == "filter":
        dirs = np.stack([
            filter_normalized(list(land.layout.shapes), center, view["direction_seed"], k,
                              view["include_1d"])
            for k in range(dims)
        ])
        info["normalization"] = ("filter-normalized (Li et al. 2018): each row/filter scaled to "
                                 "the centre's filter norm; 1-D parameters "
                                 + ("scaled as a whole" if view["include_1d"] else "zeroed"))
    elif kind == "pca":
        dirs, extent, pca_info, pca_extras = _pca_plane(source, center, dims)
        axes = [axis * extent] * dims
        extras.update(pca_extras)
        info.update(pca_info)
    elif kind == "hessian":
        from landscapes.networks.hessian import hessian_directions

        eig = hessian_directions(land, k=dims, seed=view["direction_seed"])
        dirs = eig.vectors
        info.update(normalization="unit Hessian eigenvectors (Lanczos, top = largest)",
                    hessian_eigenvalues=eig.values.tolist(),
                    lanczos_iterations=eig.iterations)
    else:
        names = kind.removeprefix("through:").split(",")
        if len(names) != dims:
            raise LandscapeError(f"dims={dims} needs {dims} checkpoint(s) after 'through:'")
        dirs = directions_through(center, [source.point(n) for n in names])
        info["normalization"] = "d_k = checkpoint_k - centre (unscaled)"
    values = _grid(land, center, dirs, axes, progress)
    values, metric_extras = _split_metrics(values, land.data.task == "classification")
    center_loss = land.evaluate(land.center[None])["loss"][0]
    meta = {**_base_meta(source), **info, "kind": "slice", "dims": dims, "view": view,
            "direction_kind": kind, "direction_seed": view["direction_seed"],
            "geometry": "euclidean", "center_energy": float(center_loss)}
    return Slice(axes, values, center, dirs, "euclidean", meta,
                 {**extras, **metric_extras, **_buffer_arrays(land.buffers),
                  **_data_arrays(land.data)})


def _interpolated_buffers(a: Mapping, b: Mapping, alpha: float) -> dict[str, torch.Tensor]:
    """BatchNorm statistics along a path: linear in alpha, variances kept >= 0, counts from a."""
    out = {}
    for name, va in a.items():
        if not va.is_floating_point():
            out[name] = va
            continue
        v = (1 - alpha) * va + alpha * b[name]
        out[name] = v.clamp_min(0.0) if name.endswith("running_var") else v
    return out


def _along(land: NetworkLandscape, start: np.ndarray, directions: np.ndarray, coefs: np.ndarray,
           ts: np.ndarray, buffers: tuple[Mapping, Mapping], progress: Progress = None
           ) -> np.ndarray:
    """Metrics at ``start + coefs[k] @ directions`` with BatchNorm statistics at fraction ts[k];
    PATH_BLOCK points a block (on several processes inside :func:`landscapes.chunks.processes`)."""
    def block(first: int, stop: int) -> np.ndarray:
        rows = []
        for coef, frac in zip(coefs[first:stop], ts[first:stop], strict=True):  # buffers vary:
            fn = _metrics(land, _interpolated_buffers(*buffers, float(frac)))  # one at a time
            rows.append(evaluate_points(fn, start, directions, coef[None, :], "euclidean")[0])
        return np.array(rows).reshape(stop - first, -1)

    return map_blocks(block, len(coefs), PATH_BLOCK, progress)


def _barrier(fractions: np.ndarray, losses: np.ndarray) -> float:
    """Highest loss on the path between its ends (fractions 0 and 1 on the grid) above both ends."""
    inside = (fractions >= 0) & (fractions <= 1)
    ends = max(losses[fractions == 0][0], losses[fractions == 1][0])
    return float(losses[inside].max() - ends)


def compute_path(source: NetworkSource, view: dict, progress: Progress = None) -> Slice:
    """Loss along the straight line (alpha in [-0.5, 1.5]) or a fitted Bezier curve.

    From checkpoint ``from`` (alpha = 0; e.g. ``init``) to ``to`` (alpha = 1; e.g. the centre),
    as in Goodfellow et al. 2015. BatchNorm statistics are interpolated with the weights (and
    variances kept >= 0). The straight line's grid always contains alpha = 0 and 1, so the
    barrier (highest loss between the ends above the higher end) is measured at the checkpoints.
    """
    view = normalize_view({"view": "path", **view})
    land = source.landscape
    start, end = source.point(view["from"]), source.point(view["to"])
    if np.array_equal(start, end):
        raise LandscapeError(f"the path's ends {view['from']} and {view['to']} are the same point")
    buffers = (source.buffers.get(view["from"], land.buffers),
               source.buffers.get(view["to"], land.buffers))
    classification = land.data.task == "classification"
    meta = {**_base_meta(source), "kind": "path", "dims": 1, "view": view,
            "path_kind": view["kind"], "geometry": "euclidean", "direction_kind": "through points",
            "batchnorm": "eval mode; running statistics interpolated between the two checkpoints "
                         "like the weights (variances clamped at 0)"}
    if view["kind"] == "bezier":
        return _bezier_path(source, view, start, end, buffers, progress, meta)
    alpha = np.union1d(np.linspace(*LINEAR_RANGE, view["steps"]), [0.0, 1.0])
    direction = directions_through(start, [end])
    rows = _along(land, start, direction, alpha[:, None], alpha, buffers, progress)
    values, extras = _split_metrics(rows, classification)
    meta.update(normalization="d = end - start (unscaled)", barrier=_barrier(alpha, values),
                alpha_range=list(LINEAR_RANGE))
    return Slice([alpha], values, start, direction, "euclidean", meta,
                 {**extras, "arc": alpha, **_path_buffers(buffers), **_data_arrays(land.data)})


def _bezier_path(source: NetworkSource, view: dict, start: np.ndarray, end: np.ndarray,
                 buffers: tuple[Mapping, Mapping], progress: Progress, meta: dict) -> Slice:
    """Quadratic Bezier curve (Garipov et al. 2018) with its bend trained to lower the loss.

    The curve ``(1-t)^2 A + 2t(1-t) theta + t^2 B`` lies in the plane of ``d1 = B - A`` and
    ``d2 = theta - A`` with coefficients ``(t^2, 2t(1-t))``; saved so, with ``coefficients``.
    The bend is trained with Adam on the mean train loss at random t (seeded), the BatchNorm
    statistics at each t interpolated between the ends.
    """
    land = source.landscape
    a = torch.as_tensor(start, dtype=torch.float32)
    b = torch.as_tensor(end, dtype=torch.float32)
    bend = ((a + b) / 2).clone().requires_grad_(True)
    opt = torch.optim.Adam([bend], lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    total = view["bend_steps"] + view["steps"]
    for step in range(view["bend_steps"]):
        losses = []
        for t in torch.rand(4, generator=gen).tolist():
            point = (1 - t) ** 2 * a + 2 * t * (1 - t) * bend + t**2 * b
            loss = land.loss_function("train", _interpolated_buffers(*buffers, t))
            losses.append(loss(point))
        opt.zero_grad()
        torch.stack(losses).mean().backward()
        opt.step()
        if progress and step % 20 == 0:
            progress(step, total)
    theta = bend.detach().double().numpy()
    t = np.linspace(0.0, 1.0, view["steps"])
    coefs = np.stack([t**2, 2 * t * (1 - t)], axis=1)
    directions = np.stack([end - start, theta - start])
    values, extras = _split_metrics(_along(land, start, directions, coefs, t, buffers),
                                    land.data.task == "classification")
    line = _along(land, start, directions[:1], t[:, None], t, buffers)[:, 0]
    meta.update(
        normalization="directions (end - start, bend - start); "
        "point = start + coefficients @ directions",
        barrier=_barrier(t, values), line_barrier=_barrier(t, line),
        bend_steps=view["bend_steps"],
    )
    if progress:
        progress(total, total)
    extras.update(coefficients=coefs, arc=t, line_loss=line, **_path_buffers(buffers),
                  **_data_arrays(land.data))
    return Slice([t], values, start, directions, "euclidean", meta, extras)


# --------------------------------------------------------------------------- the records


def _store(context: Context) -> UploadStore:
    if context.store is None:
        raise LandscapeError("network views need an upload store (a cache directory)")
    return context.store


def _source(spec: dict, context: Context) -> NetworkSource:
    return on_device(source_from_spec(spec, _store(context)), context.device)


def _example_only(spec: dict, view: dict) -> tuple[dict, dict]:
    if "example" not in spec:
        raise LandscapeError("minima from several seeds are trained for the example networks "
                             "only (an upload has no training recipe)")
    return spec, view


def _compute_slice(spec: dict, view: dict, progress: Progress, context: Context) -> Slice:
    return compute_slice(_source(spec, context), view, progress)


def _compute_path(spec: dict, view: dict, progress: Progress, context: Context) -> Slice:
    return compute_path(_source(spec, context), view, progress)


def _compute_spectrum(spec: dict, view: dict, progress: Progress,
                      context: Context) -> ViewResult:
    source = _source(spec, context)
    land = source.landscape
    arrays, meta = spectrum_arrays(land.loss_function("train"), land.center, view, progress)
    return ViewResult(arrays, {**_base_meta(source), **meta})


def _compute_minima(spec: dict, view: dict, progress: Progress, context: Context) -> ViewResult:
    return network_minima(spec["example"], view["seeds"], _store(context).examples_dir, progress)


RECORDS = (
    ViewKind("network", "slice", SLICE_DEFAULTS, normalize_view, _compute_slice,
             result_kind="slice", normalize_model=normalize_spec, constraints=SLICE_CONSTRAINTS,
             description="a 1D, 2D or 3D slice of the loss around the center checkpoint"),
    ViewKind("network", "path", PATH_DEFAULTS, normalize_view, _compute_path,
             result_kind="path", normalize_model=normalize_spec, constraints=PATH_CONSTRAINTS,
             description="the loss along a line or a trained Bezier curve between checkpoints"),
    ViewKind("network", "minima", NETWORK_MINIMA_DEFAULTS, normalize_network_minima_view,
             _compute_minima, result_kind="minima", normalize_model=normalize_spec,
             canonical=_example_only, constraints={"seeds": SEEDS},
             description="an example network trained from several initialization seeds"),
    ViewKind("network", "spectrum", SPECTRUM_DEFAULTS, normalize_spectrum_view,
             _compute_spectrum, result_kind="spectrum", normalize_model=normalize_spec,
             constraints=SPECTRUM_CONSTRAINTS,
             description="the Hessian's top eigenvalues, trace and spectral density at the "
                         "center"),
)
for _record in RECORDS:
    register_view(_record)
