"""Recording a subclassed layer's sub-layer calls (one symbolic call); part of the live-Keras-model extractor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import GanvizError, ModelNotBuiltError, NotAModelError
from .facts import shape

__all__ = ["LayerCall", "record_calls", "with_batch"]


@dataclass(eq=False)
class LayerCall:
    """One recorded ``Layer.__call__`` during a trace: its tensors and the calls made inside it."""

    layer: Any
    inputs: list[Any]
    outputs: list[Any] = field(default_factory=list)
    children: list[LayerCall] = field(default_factory=list)


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
    """Call ``layer`` once inside a ``tf.function`` and record every sub-layer call.

    Results (``None`` for a failed optional trace) are memoised in ``cache`` by ``id(layer)``;
    ``kept`` keeps traced layers alive so those ids stay unique.
    """
    if id(layer) in cache:
        return cache[id(layer)]
    import tensorflow as tf

    if input_shape is not None:
        args, kwargs = [_specs(tf, with_batch(input_shape))], {}
    elif node is not None:

        def to_spec(x: Any) -> Any:
            return tf.TensorSpec(shape(x.shape), x.dtype) if isinstance(x, keras.KerasTensor) else x

        args = [keras.tree.map_structure(to_spec, a) for a in node.arguments.args]
        kwargs = {k: keras.tree.map_structure(to_spec, v) for k, v in node.arguments.kwargs.items()}
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
        args, kwargs = [_specs(tf, _none_batch(s)) for s in shapes.values()], {}
    try:
        if not layer.built or not all(sub.built for sub in layer._flatten_layers()):
            _record(keras, tf, layer, args, kwargs)  # first call builds; its records are discarded
        root: LayerCall | None = _record(keras, tf, layer, args, kwargs)
    except (ModelNotBuiltError, NotAModelError):
        raise
    except Exception as exc:
        if required:
            raise GanvizError(f"could not trace {type(layer).__name__} {layer.name!r}: {exc}") from exc
        root = None
    cache[id(layer)] = root
    kept.append(layer)
    return root


def _record(keras: Any, tf: Any, layer: Any, args: list[Any], kwargs: dict[str, Any]) -> LayerCall:
    """Trace ``layer(*args, **kwargs)`` in a tf.function with ``Layer.__call__`` hooked.

    The hook is installed on the class for the duration of one trace (not thread-safe) and
    records, for every layer call, its input and output graph tensors and the calls made inside
    it. Nothing runs: the function is only traced, so no weight or state changes.
    """
    layer_cls = keras.layers.Layer
    original = layer_cls.__call__
    stack: list[LayerCall] = []
    roots: list[LayerCall] = []

    def tensors(value: Any) -> list[Any]:
        return [t for t in tf.nest.flatten(value, expand_composites=True) if isinstance(t, tf.Tensor)]

    def hooked(self: Any, *a: Any, **k: Any) -> Any:
        call = LayerCall(self, tensors((a, k)))
        parent = stack[-1] if stack else None
        stack.append(call)
        try:
            out = original(self, *a, **k)
        finally:
            stack.pop()
        call.outputs = tensors(out)
        if parent is not None:
            parent.children.append(call)
        elif self is layer:
            roots.append(call)
        return out

    extra = {"training": False} if getattr(layer, "_call_has_training_arg", False) and "training" not in kwargs else {}

    def fn(*a: Any, **k: Any) -> Any:
        return layer(*a, **k, **extra)

    layer_cls.__call__ = hooked
    try:
        tf.function(fn, autograph=False).get_concrete_function(*args, **kwargs)
    finally:
        layer_cls.__call__ = original
    if not roots:
        raise GanvizError(f"tracing {layer.name!r} recorded no call")
    return roots[-1]


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


def _specs(tf: Any, shapes: Any) -> Any:
    if isinstance(shapes, dict):
        return {k: _specs(tf, v) for k, v in shapes.items()}
    if isinstance(shapes, list):
        return [_specs(tf, s) for s in shapes]
    return tf.TensorSpec(shapes, tf.float32)
