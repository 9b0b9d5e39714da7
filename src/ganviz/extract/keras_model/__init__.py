"""Live Keras 3 model -> Graph; this package is the only code touching Keras private attributes."""

from __future__ import annotations

from typing import Any

from ...errors import NotAModelError
from ...ir.graph import Graph
from ...ir.transforms import check_depth, view
from .extractor import Extractor
from .facts import tensorflow_left_alone

__all__ = ["model_to_graph"]


def model_to_graph(
    model: Any, *, expand_nested: bool = True, depth: int | None = None, input_shape: Any = None
) -> Graph:
    """Read a live Keras 3 model (or layer) into a :class:`~ganviz.ir.Graph`.

    Sequential and functional models are read from their layer graph; subclassed models and
    layers with a custom ``call()`` are traced once on symbolic inputs (no weight changes) and
    their inner layer calls become nodes, linked through the ordinary ops between them.

    Args:
        model: a ``keras.Model`` or ``keras.layers.Layer``.
        expand_nested: draw nested models as open clusters; ``False`` collapses them all.
        depth: how many levels of nested models to keep open (wins over ``expand_nested``).
        input_shape: input shape without the batch dimension (a tuple, or a list/dict of tuples),
            used to build or trace a model that was never built.

    Returns:
        The architecture graph; ``details`` holds ``class_name``, ``params``, ``trainable_params``.

    Raises:
        NotAModelError: ``model`` is not a Keras model or layer.
        ModelNotBuiltError: the model was never built and ``input_shape`` was not given.
        ValueError: ``depth`` is not None or an integer >= 0.
    """
    keras = _keras_or_none()
    if keras is None or not isinstance(model, keras.layers.Layer):
        raise NotAModelError(f"expected a keras.Model or keras.layers.Layer, got {type(model).__name__}")
    check_depth(depth)  # before the (possibly slow) extraction
    with tensorflow_left_alone(keras):
        graph = Extractor(keras).run(model, input_shape)
    return view(graph, expand_nested=expand_nested, depth=depth)


def _keras_or_none() -> Any:
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is installed wherever live models exist
        return None
    return keras
