"""Recording a subclassed layer's sub-layer calls (one symbolic call on KerasTensors, any backend); part of the live-Keras-model extractor."""

from __future__ import annotations

import re
from typing import Any

from ...errors import GanvizError, ModelNotBuiltError, NotAModelError
from .facts import shape
from .layer_hook import LayerCall, hooked_calls, link_tensors, training_off

__all__ = ["LayerCall", "link_tensors", "record_calls", "with_batch"]


def record_calls(
    keras: Any,
    layer: Any,
    node: Any,
    input_shape: Any,
    *,
    required: bool,
    cache: dict[int, LayerCall | None],
    kept: list[Any],
) -> LayerCall | None:
    """Call ``layer`` once on symbolic ``KerasTensor`` inputs and record every sub-layer call.

    Works the same on the TensorFlow, JAX and PyTorch backends: nothing is computed, no weight
    or state changes, and the nodes the symbolic calls add to the layers are removed again.
    Results (``None`` for a failed optional trace) are memoised in ``cache`` by ``id(layer)``;
    ``kept`` keeps traced layers alive so those ids stay unique.
    """
    if id(layer) in cache:
        return cache[id(layer)]

    def fresh(x: Any) -> Any:  # a new symbolic tensor, not wired into any existing graph
        return keras.KerasTensor(shape(x.shape), dtype=x.dtype) if isinstance(x, keras.KerasTensor) else x

    if input_shape is not None:
        args, kwargs = [_symbolic(keras, with_batch(input_shape))], {}
    elif node is not None:
        args = [keras.tree.map_structure(fresh, a) for a in node.arguments.args]
        kwargs = {k: keras.tree.map_structure(fresh, v) for k, v in node.arguments.kwargs.items()}
    else:
        shapes = getattr(layer, "_build_shapes_dict", None)
        if not shapes:
            if not required:
                return None
            name, cls = layer.name, type(layer).__name__
            raise ModelNotBuiltError(
                f"cannot draw {cls} {name!r}: it was never built and its input shape is unknown; "
                "pass input_shape= without the batch dimension, e.g. model_to_graph(model, input_shape=(28, 28, 1))"
            )
        args, kwargs = [_symbolic(keras, _none_batch(s)) for s in shapes.values()], {}
    root: LayerCall | None = None
    try:
        root = _twice(_record, keras, layer, args, kwargs)
    except (ModelNotBuiltError, NotAModelError):
        raise
    except Exception as exc:
        if keras.backend.backend() == "tensorflow":  # a call() with tf.* functions: trace it in a tf.function
            from .calls_tf import record_tf

            try:
                root = _twice(record_tf, keras, layer, args, kwargs)
            except Exception:
                root = None
        if root is None and required:
            fix = "" if keras.backend.backend() == "tensorflow" else "; use keras.ops, not backend functions, in call()"
            raise GanvizError(
                f"could not trace {type(layer).__name__} {layer.name!r}: {_first_line(exc)}{fix}"
            ) from exc
    cache[id(layer)] = root
    kept.append(layer)
    return root


def _twice(record: Any, keras: Any, layer: Any, *rest: Any) -> LayerCall:
    """Record a call; an unbuilt layer is called once first to build it (those records are discarded)."""
    if not layer.built or not all(sub.built for sub in layer._flatten_layers()):
        record(keras, layer, *rest)
    return record(keras, layer, *rest)  # type: ignore[no-any-return]


# Lines Keras wraps the user's own error in.
_KERAS_WRAPPERS = (
    "Exception encountered when calling",
    "Arguments received",
    "Could not automatically infer the output",
)


def _first_line(exc: BaseException) -> str:
    r"""The informative line of an error (Keras wraps the cause in "Exception encountered when calling ...").

    >>> _first_line(ValueError("Exception encountered when calling M.call().\n\x1b[1mnope\x1b[0m\nArguments received"))
    'nope'
    """
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    useful = [x for x in lines if x and not x.startswith(_KERAS_WRAPPERS)]
    return useful[0] if useful else type(exc).__name__


def _record(keras: Any, layer: Any, args: list[Any], kwargs: dict[str, Any]) -> LayerCall:
    """Call ``layer(*args, **kwargs)`` on KerasTensors with ``Layer.__call__`` hooked.

    The hook is installed on the class for the duration of one trace (not thread-safe). Models
    (and ``layer`` itself) run their ``call()`` directly on the KerasTensors, so their sub-layer
    calls and the ``keras.ops`` between them are recorded as symbolic nodes; other layers make
    one ordinary symbolic call (their insides run on the backend's placeholders, unrecorded).
    """
    touched: dict[int, tuple[Any, int, int]] = {}  # id(layer) -> (layer, inbound, outbound) before

    def tensors(value: Any) -> list[Any]:
        return [t for t in keras.tree.flatten(value) if isinstance(t, keras.KerasTensor)]

    def remember(obj: Any) -> None:
        if id(obj) not in touched:
            touched[id(obj)] = (obj, len(obj._inbound_nodes), len(obj._outbound_nodes))

    def before(self: Any, ins: list[Any]) -> None:
        for t in ins:
            operation = _producer(t)
            if operation is not None:
                remember(operation)
        remember(self)

    def invoke(original: Any, self: Any, a: tuple[Any, ...], k: dict[str, Any]) -> Any:
        if self is layer or isinstance(self, keras.Model):
            return _direct_call(keras, original, self, a, k)
        return original(self, *a, **k)

    extra = training_off(layer, kwargs)
    try:
        with hooked_calls(keras, layer, tensors, skip_without_inputs=True, before=before, invoke=invoke) as roots:
            layer(*args, **kwargs, **extra)
        if not roots:
            raise GanvizError(f"tracing {layer.name!r} recorded no call")
        root: LayerCall = roots[-1]
        root.links = link_tensors(root, _keras_inputs)
    finally:
        for obj, inbound, outbound in touched.values():  # leave the user's layers as they were
            del obj._inbound_nodes[inbound:]
            del obj._outbound_nodes[outbound:]
    return root


def _direct_call(keras: Any, original: Any, layer: Any, a: tuple[Any, ...], k: dict[str, Any]) -> Any:
    """Run ``layer.call`` itself on KerasTensors (built first through the normal call if needed)."""
    if not layer.built:
        original(layer, *a, **k)
    k = {**k, **training_off(layer, k)}
    return layer.call(*a, **k)


def _producer(tensor: Any) -> Any:
    """The operation (layer or ``keras.ops`` op) whose symbolic call made ``tensor``, or None."""
    history = getattr(tensor, "_keras_history", None)
    return None if history is None else history.operation


def _keras_inputs(t: Any) -> list[Any]:
    """The input tensors of the layer call or ``keras.ops`` op that made ``t`` (none for inputs)."""
    if _producer(t) is None:
        return []
    history = t._keras_history
    nodes = history.operation._inbound_nodes
    return list(nodes[history.node_index].input_tensors) if history.node_index < len(nodes) else []


def _is_shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(d is None or isinstance(d, int) for d in value)


def _map_shapes(fn: Any, value: Any, whole: Any = None) -> Any:
    """Apply ``fn`` to every shape in ``value`` (a shape, or a list/tuple/dict of them)."""
    whole = value if whole is None else whole
    if isinstance(value, int):
        value = (value,)
    if _is_shape(value):
        return fn(tuple(value))
    if isinstance(value, dict):
        return {k: _map_shapes(fn, v, whole) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_shapes(fn, v, whole) for v in value]
    raise ValueError(f"input_shape must be a tuple of ints (or a list/dict of them), got {whole!r}")


def with_batch(input_shape: Any) -> Any:
    """Prefix a ``None`` batch dimension to a shape (or to each shape in a list/dict).

    >>> with_batch((28, 28, 1)), with_batch([(3,), (5,)])
    ((None, 28, 28, 1), [(None, 3), (None, 5)])
    """
    return _map_shapes(lambda s: (None, *s), input_shape)


def _none_batch(build_shape: Any) -> Any:
    """Replace the batch dimension of a recorded build shape (or nested shapes) with ``None``.

    >>> _none_batch((2, 5)), _none_batch([(2, 3), (2, 5)])
    ((None, 5), [(None, 3), (None, 5)])
    """
    return _map_shapes(lambda s: (None, *s[1:]) if s else s, build_shape)


def _symbolic(keras: Any, shapes: Any) -> Any:
    if isinstance(shapes, dict):
        return {k: _symbolic(keras, v) for k, v in shapes.items()}
    if isinstance(shapes, list):
        return [_symbolic(keras, s) for s in shapes]
    return keras.KerasTensor(shapes, dtype="float32")
