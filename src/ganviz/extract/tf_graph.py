"""Helpers for step tracing: walk a traced TensorFlow graph back to model calls and sources."""

from __future__ import annotations

import os
import sys
import sysconfig
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "SHAPE_OPS",
    "STOP_OPS",
    "is_random_op",
    "constant_name",
    "noise_name",
    "Walker",
    "is_library_file",
    "user_frames",
    "shape_of",
    "forward_name",
    "is_graph_tensor",
    "only_masks",
]

# A dependency only through these ops is on a tensor's shape, never on its values.
SHAPE_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank", "VariableShape", "TensorListLength"})
# Variables and captured resources are weights, not data.
STOP_OPS = frozenset({"ReadVariableOp", "VarHandleOp", "VariableV2", "NoOp", "ResourceGather"})
_LIKE_OPS = {"OnesLike": "ones", "ZerosLike": "zeros"}
# A constant used only to compare or select (the zeros inside a sigmoid cross-entropy) is no label.
_MASK_OPS = frozenset(
    {"Greater", "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual", "Select", "SelectV2", "Maximum", "Minimum"}
)
_NOISE_NAMES = (
    ("TruncatedNormal", "truncated_normal"),
    ("Normal", "normal"),
    ("UniformInt", "uniform_int"),
    ("Uniform", "uniform"),
    ("Multinomial", "categorical"),
    ("Shuffle", "shuffle"),
    ("Gamma", "gamma"),
    ("Poisson", "poisson"),
    ("Binomial", "binomial"),
)


def walk_up(start: Any, descend: Callable[[Any], bool], *, limit: int) -> Iterable[Any]:
    """Each tensor ``start`` is computed from, once, depth first, at most ``limit`` of them.

    After the caller has looked at a tensor, ``descend(tensor)`` says whether to go on to its op's
    inputs (so the caller's checks on a tensor come before ``descend``'s).
    """
    stack, seen = [start], set()
    while stack and len(seen) < limit:
        t = stack.pop()
        if t.name in seen:
            continue
        seen.add(t.name)
        yield t
        if descend(t):
            stack.extend(t.op.inputs)


def is_random_op(op_type: str) -> bool:
    """Whether an op type draws random numbers (stateful or stateless).

    >>> is_random_op("RandomStandardNormal"), is_random_op("StatelessRandomUniformV2"), is_random_op("AddV2")
    (True, True, False)
    """
    if op_type.startswith(("Random", "StatelessRandom", "StatelessTruncated", "StatelessMultinomial")):
        return op_type not in ("RandomShuffleQueueV2",)
    return op_type in ("TruncatedNormal", "Multinomial", "ParameterizedTruncatedNormal", "StatefulStandardNormalV2")


def noise_name(op_type: str) -> str:
    """A short distribution name for a random op type.

    >>> noise_name("StatelessRandomNormalV2"), noise_name("RandomUniform")
    ('normal', 'uniform')
    """
    for key, name in _NOISE_NAMES:
        if key in op_type:
            return name
    return "noise"


def _static_value(tensor: Any) -> Any:
    import tensorflow as tf

    try:
        return tf.get_static_value(tensor)
    except Exception:  # pragma: no cover - defensive: any op TF cannot fold
        return None


_ELEMENTWISE = frozenset({"Sub", "AddV2", "Add", "Mul", "RealDiv", "DivNoNan", "Maximum", "Minimum"})


def _broadcast_into(tensor: Any, consumer: Any) -> bool:
    """Whether ``consumer`` is an elementwise op that broadcasts ``tensor`` up to a larger output.

    A label has its prediction's shape; a constant of shape ``(3,)`` against images ``(n, h, w, 3)``
    is a parameter of the op (a normalisation's mean), however many elements it has.
    """
    if consumer.type not in _ELEMENTWISE or not consumer.outputs:
        return False
    try:
        mine, out = tensor.shape.as_list(), consumer.outputs[0].shape
        if out.rank is None:
            return False
        full = out.as_list()
    except (ValueError, AttributeError):
        return False
    if len(mine) < len(full):
        return True
    return any(m == 1 and f != 1 for m, f in zip(mine, full))


def constant_name(tensor: Any) -> str | None:
    """``"ones"``/``"zeros"``/``"constant"`` when ``tensor`` is a label-like constant, else None.

    Label-like: a floating or boolean tensor of rank >= 1 made by ``Const``, ``Fill``,
    ``OnesLike`` or ``ZerosLike`` (a shape argument or a scalar factor is not a source).
    """
    op = tensor.op
    dtype = tensor.dtype
    if not (dtype.is_floating or dtype.is_bool):
        return None
    consumers = tensor.consumers()
    if consumers and all(c.type in _MASK_OPS for c in consumers):
        return None
    if consumers and all(_broadcast_into(tensor, c) for c in consumers):
        return None  # a per-channel mean or scale (``(x - mean) / std``) is a parameter of its op, no input
    if op.type in _LIKE_OPS:
        return _LIKE_OPS[op.type]
    if op.type not in ("Const", "Fill"):
        return None
    if tensor.shape.rank == 0:
        return None
    value = _static_value(op.inputs[1]) if op.type == "Fill" else _static_value(tensor)
    if value is None:
        return "constant"
    import numpy as np

    arr = np.asarray(value)
    if arr.size and np.all(arr == 1):
        return "ones"
    if arr.size and np.all(arr == 0):
        return "zeros"
    return "constant"


def only_masks(tensor: Any) -> bool:
    """Whether every use of ``tensor`` only compares or selects (``draws < probability``): no value flows on."""
    consumers = tensor.consumers()
    return bool(consumers) and all(c.type in _MASK_OPS for c in consumers)


def is_graph_tensor(value: Any) -> bool:
    """Whether ``value`` is a symbolic tensor of a traced graph."""
    return hasattr(value, "op") and hasattr(value, "graph") and hasattr(value, "dtype")


def shape_of(tensor: Any) -> tuple[int | None, ...] | None:
    """A traced tensor's static shape as a tuple (``None`` for unknown dimensions or rank)."""
    try:
        dims = tensor.shape.as_list()
    except (ValueError, AttributeError):
        return None
    return tuple(dims)


_WRAP_OPS = frozenset(
    {"Mul", "AddV2", "Add", "Sub", "RealDiv", "Cast", "Identity", "Reshape", "ExpandDims", "Squeeze", "StopGradient"}
)


def _scalar_constant(tensor: Any, depth: int = 3) -> bool:
    """Whether ``tensor`` is a scalar computed from constants only (``maxval - minval``)."""
    if tensor.shape.num_elements() != 1:
        return False
    op = tensor.op
    if op.type == "Const":
        return True
    if depth == 0 or not op.inputs or is_random_op(op.type) or op.type in STOP_OPS or op.type == "Placeholder":
        return False
    return all(_scalar_constant(t, depth - 1) for t in op.inputs)


def forward_name(tensor: Any, names: dict[str, str], steps: int = 4) -> str | None:
    """The user's name for ``tensor``, or for what it becomes through scaling/shifting by constants.

    ``tf.random.normal`` returns ``draw * stddev + mean``: the user's variable names the sum, not
    the random op, so follow a chain of single consumers whose other inputs are constants.
    """
    for _ in range(steps + 1):
        if tensor.name in names:
            return names[tensor.name]
        consumers = tensor.consumers()
        if len(consumers) != 1 or consumers[0].type not in _WRAP_OPS:
            return None
        op = consumers[0]
        others = [t for t in op.inputs if t.name != tensor.name]
        if not all(_scalar_constant(t) for t in others) or not op.outputs:
            return None
        tensor = op.outputs[0]
    return None


class Walker:
    """Find, for traced tensors, the nearest model calls and sources they derive from.

    Args:
        stops: tensor name -> id for tensors that end a walk (model call outputs, the step's
            data placeholders).
        owners: op name -> call id for every op created inside a model call (a loss may read a
            model's inner tensor, e.g. the logits before its final sigmoid).
        redirects: tensor name -> tensors to continue from instead (the output of a gradient
            that is used as data, e.g. a gradient penalty, continues from the gradient's target).
        new_source: called as ``new_source(kind, tensor, default_name)`` the first time a random
            op or a label-like constant is reached; returns the source id.
        new_op: called for every other tensor reached; returns an id when the tensor is an
            operation worth drawing (a concatenation of different inputs), which ends the walk.
        new_variable: called for a read of a variable; returns a source id when the variable is
            an input of the step (a fade-in ``alpha``), None when it is a weight.
    """

    def __init__(
        self,
        stops: dict[str, str],
        owners: dict[str, str],
        redirects: dict[str, Sequence[Any]],
        new_source: Callable[[str, Any, str], str],
        new_op: Callable[[Any], str | None] | None = None,
        new_variable: Callable[[Any], str | None] | None = None,
    ) -> None:
        self.stops = stops
        self.new_variable = new_variable
        self.owners = owners
        self.redirects = redirects
        self.new_source = new_source
        self.new_op = new_op
        self._sources: dict[str, str] = {}

    def _source_for(self, tensor: Any) -> str | None:
        name = tensor.name
        if name in self._sources:
            return self._sources[name]
        op_type = tensor.op.type
        if is_random_op(op_type):
            sid = self.new_source("noise", tensor, noise_name(op_type))
        else:
            const = constant_name(tensor)
            if const is None:
                return None
            sid = self.new_source("constant", tensor, const)
        self._sources[name] = sid
        return sid

    def origins(self, tensors: Iterable[Any], reached: dict[str, list[str]] | None = None) -> list[str]:
        """Ids of the calls and sources that ``tensors`` derive from, in a stable first-found order.

        ``reached``, when given, receives per id the names of the tensors reached where the walk
        stopped: a stop tensor (which outputs of a call returning several are used), or a tensor
        made inside a call (the logits under its sigmoid output).
        """
        found: list[str] = []
        seen: set[str] = set()
        stack = list(reversed(list(tensors)))
        while stack:
            t = stack.pop()
            if t is None or t.name in seen:
                continue
            seen.add(t.name)
            hit = self.stops.get(t.name)
            if hit is not None and reached is not None and t.name not in reached.setdefault(hit, []):
                reached[hit].append(t.name)
            if hit is None:
                hit = self.owners.get(t.op.name)
                if hit is not None and reached is not None and t.name not in reached.setdefault(hit, []):
                    reached[hit].append(t.name)
            if hit is None and t.name in self.redirects:
                stack.extend(reversed(list(self.redirects[t.name])))
                continue
            if hit is None:
                op = t.op
                if op.type == "ReadVariableOp" and self.new_variable is not None:
                    hit = self.new_variable(t)
                    if hit is not None:
                        if hit not in found:
                            found.append(hit)
                        continue
                if op.type in SHAPE_OPS or op.type in STOP_OPS or op.type == "Placeholder":
                    continue
                hit = self._source_for(t)
                if hit is None and self.new_op is not None:
                    hit = self.new_op(t)
                if hit is None:
                    if op.type.startswith("Random") or "Seed" in op.type:
                        continue
                    stack.extend(reversed(list(op.inputs)))
                    continue
            if hit not in found:
                found.append(hit)
        return found


_LIB_PACKAGES = ("tensorflow", "keras", "tf_keras", "tree", "optree", "absl", "wrapt", "numpy", "ml_dtypes")
_LIB_DIRS: tuple[str, ...] | None = None


def _library_dirs() -> tuple[str, ...]:
    global _LIB_DIRS
    if _LIB_DIRS is None:
        dirs = [os.path.dirname(os.path.abspath(__file__))]
        for key in ("stdlib", "platstdlib"):
            path = sysconfig.get_paths().get(key)
            if path:
                dirs.append(os.path.abspath(path))
        for mod in _LIB_PACKAGES:
            m = sys.modules.get(mod)
            if m is not None and getattr(m, "__file__", None):
                dirs.append(os.path.dirname(os.path.abspath(m.__file__)))
        _LIB_DIRS = tuple(d + os.sep for d in dirs)
    return _LIB_DIRS


def is_library_file(filename: str) -> bool:
    """Whether a code file belongs to TensorFlow, Keras, the standard library or this extractor."""
    path = os.path.abspath(filename)
    site = os.sep + "site-packages" + os.sep
    if site in path:
        top = path.split(site, 1)[1].split(os.sep, 1)[0]
        return top.startswith(_LIB_PACKAGES) or path.startswith(_library_dirs()[0])
    return path.startswith(_library_dirs())


def user_frames(start: types.FrameType | None, stop_code: types.CodeType | None) -> list[types.FrameType]:
    """The user's frames between ``start`` (innermost) and the frame running ``stop_code``."""
    out: list[types.FrameType] = []
    frame = start
    while frame is not None and frame.f_code is not stop_code:
        if not is_library_file(frame.f_code.co_filename):
            out.append(frame)
        frame = frame.f_back
    return out
