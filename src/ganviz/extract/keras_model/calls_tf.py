"""The TensorFlow-only fallback of ``record_calls``: a ``call()`` that applies ``tf.*`` functions to its inputs.

Keras's symbolic call cannot pass a ``KerasTensor`` to a TensorFlow function, so on the
TensorFlow backend such a model is traced once in a ``tf.function`` instead (traced, never run),
and the links between its sub-layer calls are read from the graph's ops.
"""

from __future__ import annotations

from typing import Any

from ..tf_graph import SHAPE_OPS
from .facts import shape
from .layer_hook import hooked_calls, link_tensors, training_off

__all__ = ["record_tf"]


def record_tf(keras: Any, layer: Any, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Trace ``layer(*args, **kwargs)`` (KerasTensors become ``tf.TensorSpec`` s) and record its calls.

    Returns the root :class:`~.layer_hook.LayerCall` record with ``links`` filled from the traced graph; raises
    whatever the tracing raises.
    """
    import tensorflow as tf

    def to_spec(x: Any) -> Any:
        return tf.TensorSpec(shape(x.shape), x.dtype) if isinstance(x, keras.KerasTensor) else x

    specs = [keras.tree.map_structure(to_spec, a) for a in args]
    kw_specs = {k: keras.tree.map_structure(to_spec, v) for k, v in kwargs.items()}

    def tensors(value: Any) -> list[Any]:
        return [t for t in tf.nest.flatten(value, expand_composites=True) if isinstance(t, tf.Tensor)]

    extra = training_off(layer, kwargs)

    def fn(*a: Any, **k: Any) -> Any:
        return layer(*a, **k, **extra)

    with hooked_calls(keras, layer, tensors) as roots:
        tf.function(fn, autograph=False).get_concrete_function(*specs, **kw_specs)
    if not roots:
        raise RuntimeError(f"tracing {layer.name!r} recorded no call")
    root = roots[-1]
    root.links = link_tensors(root, _graph_inputs)
    return root


def _graph_inputs(t: Any) -> list[Any]:
    """The data inputs of the graph op that made ``t`` (none for shape-only ops and weights)."""
    return [] if t.op.type in SHAPE_OPS else [x for x in t.op.inputs if x.dtype.name != "resource"]
