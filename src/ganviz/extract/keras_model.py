"""Live Keras 3 model -> Graph; the only module that touches Keras private attributes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import GanvizError, ModelNotBuiltError, NotAModelError
from ..ir.graph import Graph, GraphBuilder
from ..ir.transforms import collapse_to_depth

__all__ = ["model_to_graph"]

_MAX_STR = 200
_MAX_ITEMS = 32
_MAX_DEPTH = 6
_SHAPE_ONLY_OPS = frozenset({"Shape", "ShapeN", "Size", "Rank", "VariableShape"})

Sources = tuple[str, ...]  # ids of the nodes that produce one tensor


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
    """
    keras = _keras_or_none()
    if keras is None or not isinstance(model, keras.layers.Layer):
        raise NotAModelError(f"expected a keras.Model or keras.layers.Layer, got {type(model).__name__}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise ValueError(f"depth must be None or an integer >= 0, got {depth!r}")
    graph = _Extractor(keras).run(model, input_shape)
    if depth is None and not expand_nested:
        depth = 0
    return collapse_to_depth(graph, depth)


def _keras_or_none() -> Any:
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is installed wherever live models exist
        return None
    return keras


# -- small pure helpers ------------------------------------------------------------------
def _shape(shape: Any) -> tuple[int | None, ...] | None:
    """A shape as a tuple of ints/None (None for an unknown rank)."""
    if shape is None:
        return None
    if hasattr(shape, "as_list"):  # tf.TensorShape
        if shape.rank is None:
            return None
        shape = shape.as_list()
    return tuple(None if d is None else int(d) for d in shape)


def _dtype(tensor: Any) -> str | None:
    dtype = getattr(tensor, "dtype", None)
    if dtype is None:
        return None
    return str(getattr(dtype, "name", dtype))


def _json_safe(value: Any, level: int = 0) -> Any:
    """A JSON-safe, deterministic copy of a config value, with long strings and lists cut short.

    >>> _json_safe({"units": 4, "shape": (None, 3), "x": float("nan"), 1: "a" * 300})["shape"]
    [None, 3]
    >>> len(_json_safe("a" * 300))
    201
    """
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_STR else value[:_MAX_STR] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
        return _json_safe(value.item(), level)
    if level >= _MAX_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())
        out = {str(k): _json_safe(v, level + 1) for k, v in items[:_MAX_ITEMS]}
        if len(items) > _MAX_ITEMS:
            out["…"] = f"{len(items) - _MAX_ITEMS} more"
        return out
    if isinstance(value, (list, tuple)):
        out_list = [_json_safe(v, level + 1) for v in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            out_list.append(f"… {len(value) - _MAX_ITEMS} more")
        return out_list
    return f"<{type(value).__name__}>"


def _merge(groups: Any) -> Sources:
    """Concatenate source tuples, keeping the first occurrence of each id."""
    return tuple(dict.fromkeys(s for group in groups for s in group))


def _weights_size(weights: Any) -> int:
    seen: set[int] = set()
    total = 0
    for w in weights:
        if id(w) not in seen:
            seen.add(id(w))
            total += math.prod(int(d) for d in w.shape)
    return total


def _param_counts(layer: Any) -> tuple[int, int]:
    return _weights_size(layer.weights), _weights_size(layer.trainable_weights)


@dataclass(eq=False)
class _Call:
    """One recorded ``Layer.__call__`` during a trace: its tensors and the calls made inside it."""

    layer: Any
    inputs: list[Any]
    outputs: list[Any] = field(default_factory=list)
    children: list[_Call] = field(default_factory=list)


@dataclass(frozen=True)
class _Site:
    """Where a layer is first called: input/output shapes and output dtype."""

    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]

    def fields(self) -> dict[str, Any]:
        return {
            "input_shapes": tuple(_shape(t.shape) for t in self.inputs),
            "output_shapes": tuple(_shape(t.shape) for t in self.outputs),
            "dtype": _dtype(self.outputs[0]) if self.outputs else None,
        }


class _Extractor:
    """One conversion: emits nodes/clusters in layer order, then wires edges call by call."""

    def __init__(self, keras: Any) -> None:
        from keras.src.models.functional import Functional

        self.keras = keras
        self.functional_cls = Functional
        self.input_layer_cls = keras.layers.InputLayer
        self.builder: GraphBuilder
        self.layer_ids: dict[int, str] = {}  # id(layer) -> node or cluster id (never output)
        self.kept: list[Any] = []  # keeps layers alive so their id() stays unique
        self.cluster_layers: set[int] = set()
        self.traces: dict[int, _Call | None] = {}

    # -- classification ---------------------------------------------------------------
    def graph_of(self, layer: Any) -> Any:
        """The Functional graph behind a functional or built Sequential model, else None."""
        if isinstance(layer, self.functional_cls):
            return layer
        if isinstance(layer, self.keras.Sequential):
            return layer._functional
        return None

    # -- entry point ------------------------------------------------------------------
    def run(self, model: Any, input_shape: Any) -> Graph:
        """Convert ``model``: functional graphs are read, anything else is traced."""
        self.builder = GraphBuilder(model.name)
        if isinstance(model, self.keras.Sequential) and model._functional is None and input_shape is not None:
            model.build(_with_batch(input_shape))
        fn = self.graph_of(model)
        if fn is not None:
            self.run_functional(fn)
        else:
            self.run_traced(model, input_shape)
        params, trainable = _param_counts(model)
        self.builder.details.update(class_name=type(model).__name__, params=params, trainable_params=trainable)
        return self.builder.build()

    def run_functional(self, fn: Any) -> None:
        first = self.first_sites(fn)
        for layer in fn.layers:
            if isinstance(layer, self.input_layer_cls):
                site = first[id(layer)]
                fields = site.fields()
                fields["input_shapes"] = fields["output_shapes"]
                self.add_node(layer, None, site, kind="input", class_name="InputLayer", **fields)
        self.emit_functional(fn, None)
        self.wire_functional(fn, [(self.layer_ids[id(t._keras_history[0])],) for t in fn.inputs])

    def run_traced(self, model: Any, input_shape: Any) -> None:
        root = self.trace(model, None, input_shape, required=True)
        assert root is not None
        count = len(root.inputs)
        sources: list[Sources] = []
        for i, tensor in enumerate(root.inputs):
            shape = _shape(tensor.shape)
            name = f"{model.name}_input" if count == 1 else f"{model.name}_input_{i}"
            fields = {"input_shapes": (shape,), "output_shapes": (shape,), "dtype": _dtype(tensor)}
            sources.append((self.builder.add_node(name, kind="input", class_name="InputLayer", **fields),))
        if root.children:
            self.emit_calls(root, None)
            self.wire_calls(root, sources)
        else:  # a plain layer: one node
            node = self.add_node(model, None, _Site(tuple(root.inputs), tuple(root.outputs)))
            for src in _merge(sources):
                self.builder.add_edge(src, node)

    # -- node emission ----------------------------------------------------------------
    def add_node(self, layer: Any, parent: str | None, site: _Site | None, **fields: Any) -> str:
        if site is not None and "input_shapes" not in fields:
            fields.update(site.fields())
        fields.setdefault("kind", "layer")
        fields.setdefault("class_name", type(layer).__name__)
        params, trainable = _param_counts(layer)
        config = self.config_of(layer)
        activation = config.get("activation") if isinstance(config, dict) else None
        node_id = self.builder.add_node(
            str(layer.name),
            parent=parent,
            params=params,
            trainable_params=trainable,
            trainable=bool(layer.trainable),
            activation=activation if isinstance(activation, str) else None,
            details={"config": config} if config else {},
            **fields,
        )
        self.layer_ids[id(layer)] = node_id
        self.kept.append(layer)
        return node_id

    @staticmethod
    def config_of(layer: Any) -> dict[str, Any]:
        try:
            config = layer.get_config()
        except Exception:  # custom layers may not implement get_config
            return {}
        return _json_safe(config) if isinstance(config, dict) else {}

    def add_cluster(self, model: Any, parent: str | None, site: _Site | None) -> str:
        params, trainable = _param_counts(model)
        details: dict[str, Any] = {}
        if site is not None:
            f = site.fields()
            details = {
                "input_shapes": [None if s is None else list(s) for s in f["input_shapes"]],
                "output_shapes": [None if s is None else list(s) for s in f["output_shapes"]],
                "dtype": f["dtype"],
            }
        cluster_id = self.builder.add_cluster(
            str(model.name),
            class_name=type(model).__name__,
            parent=parent,
            params=params,
            trainable_params=trainable,
            trainable=bool(model.trainable),
            details=details,
        )
        self.layer_ids[id(model)] = cluster_id
        self.cluster_layers.add(id(model))
        self.kept.append(model)
        return cluster_id

    def first_sites(self, fn: Any) -> dict[int, _Site]:
        """Each operation's first call in a Functional graph, in topological order."""
        sites: dict[int, _Site] = {}
        for depth in sorted(fn._nodes_by_depth, reverse=True):
            for node in fn._nodes_by_depth[depth]:
                op = node.operation
                if op is not None and id(op) not in sites:
                    sites[id(op)] = _Site(tuple(node.input_tensors), tuple(node.outputs))
        return sites

    def emit_functional(self, fn: Any, parent: str | None) -> None:
        sites = self.first_sites(fn)
        nodes_of = {id(n.operation): n for d in fn._nodes_by_depth.values() for n in d if n.operation is not None}
        for layer in fn.layers:
            if isinstance(layer, self.input_layer_cls) or id(layer) in self.layer_ids:
                continue
            site = sites.get(id(layer))
            inner = self.graph_of(layer)
            if inner is not None:
                cluster = self.add_cluster(layer, parent, site)
                self.emit_functional(inner, cluster)
                continue
            if isinstance(layer, self.keras.Model):
                root = self.trace(layer, nodes_of.get(id(layer)), None, required=False)
                if root is not None and root.children:
                    cluster = self.add_cluster(layer, parent, site)
                    self.emit_calls(root, cluster)
                    continue
            self.add_node(layer, parent, site)

    def emit_calls(self, call: _Call, parent: str | None) -> None:
        for child in call.children:
            layer = child.layer
            if id(layer) in self.layer_ids:
                continue
            site = _Site(tuple(child.inputs), tuple(child.outputs))
            if isinstance(layer, self.keras.Model) and child.children:
                cluster = self.add_cluster(layer, parent, site)
                self.emit_calls(child, cluster)
            else:
                self.add_node(layer, parent, site)

    # -- wiring -----------------------------------------------------------------------
    def apply(
        self, op: Any, ins: list[Sources], n_out: int, call: _Call | None = None, node: Any = None
    ) -> list[Sources]:
        """Add the edges of one call of ``op`` fed by ``ins``; return the sources of its outputs."""
        target = self.layer_ids.get(id(op))
        if target is None:  # an ordinary op (keras.ops.add ...): outputs come from all its inputs
            return [_merge(ins)] * n_out
        if id(op) in self.cluster_layers:  # an open nested model
            if call is not None and call.children:
                return self.wire_calls(call, ins)
            inner = self.graph_of(op)
            if inner is not None:
                return self.wire_functional(inner, ins)
            root = self.trace(op, node, None, required=False)
            if root is not None:
                return self.wire_calls(root, ins)
        for src in _merge(ins):
            self.builder.add_edge(src, target)
        return [(target,)] * n_out

    def wire_functional(self, fn: Any, in_sources: list[Sources]) -> list[Sources]:
        tensors: dict[int, Sources] = {id(x): s for x, s in zip(fn.inputs, in_sources)}
        for depth in sorted(fn._nodes_by_depth, reverse=True):
            for node in fn._nodes_by_depth[depth]:
                if node.operation is None or node.is_input:
                    continue
                ins = [tensors.get(id(t), ()) for t in node.input_tensors]
                outs = self.apply(node.operation, ins, len(node.outputs), node=node)
                for t, s in zip(node.outputs, outs):
                    tensors[id(t)] = s
        return [tensors.get(id(t), ()) for t in fn.outputs]

    def wire_calls(self, call: _Call, in_sources: list[Sources]) -> list[Sources]:
        known: dict[str, Sources] = {t.name: s for t, s in zip(call.inputs, in_sources)}
        memo: dict[str, Sources] = {}

        def walk(tensor: Any) -> Sources:
            name = tensor.name
            if name in known:
                return known[name]
            if name in memo:
                return memo[name]
            memo[name] = ()  # guards against cycles
            op = tensor.op
            if op.type in _SHAPE_ONLY_OPS:
                return ()
            result = _merge(walk(t) for t in op.inputs if t.dtype.name != "resource")
            memo[name] = result
            return result

        for child in call.children:
            ins = [walk(t) for t in child.inputs]
            outs = self.apply(child.layer, ins, len(child.outputs), call=child)
            for t, s in zip(child.outputs, outs):
                known[t.name] = s
        return [walk(t) for t in call.outputs]

    # -- tracing subclassed models ------------------------------------------------------
    def trace(self, layer: Any, node: Any, input_shape: Any, *, required: bool) -> _Call | None:
        """Call ``layer`` once inside a ``tf.function`` and record every sub-layer call."""
        if id(layer) in self.traces:
            return self.traces[id(layer)]
        import tensorflow as tf

        keras = self.keras
        if input_shape is not None:
            args, kwargs = [_specs(tf, _with_batch(input_shape))], {}
        elif node is not None:

            def to_spec(x: Any) -> Any:
                return tf.TensorSpec(_shape(x.shape), x.dtype) if isinstance(x, keras.KerasTensor) else x

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
            root = _record(keras, tf, layer, args, kwargs)
        except (ModelNotBuiltError, NotAModelError):
            raise
        except Exception as exc:
            if required:
                raise GanvizError(f"could not trace {type(layer).__name__} {layer.name!r}: {exc}") from exc
            root = None
        self.traces[id(layer)] = root
        self.kept.append(layer)
        return root


def _record(keras: Any, tf: Any, layer: Any, args: list[Any], kwargs: dict[str, Any]) -> _Call:
    """Trace ``layer(*args, **kwargs)`` in a tf.function with ``Layer.__call__`` hooked.

    The hook is installed on the class for the duration of one trace (not thread-safe) and
    records, for every layer call, its input and output graph tensors and the calls made inside
    it. Nothing runs: the function is only traced, so no weight or state changes.
    """
    layer_cls = keras.layers.Layer
    original = layer_cls.__call__
    stack: list[_Call] = []
    roots: list[_Call] = []

    def tensors(value: Any) -> list[Any]:
        return [t for t in tf.nest.flatten(value, expand_composites=True) if isinstance(t, tf.Tensor)]

    def hooked(self: Any, *a: Any, **k: Any) -> Any:
        call = _Call(self, tensors((a, k)))
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


def _map_shapes(fn: Any, value: Any) -> Any:
    """Apply ``fn`` to every shape in ``value`` (a shape, or a list/tuple/dict of them)."""
    if isinstance(value, int):
        value = (value,)
    if _is_shape(value):
        return fn(tuple(value))
    if isinstance(value, dict):
        return {k: _map_shapes(fn, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_shapes(fn, v) for v in value]
    raise ValueError(f"input_shape must be a tuple of ints (or a list/dict of them), got {value!r}")


def _with_batch(input_shape: Any) -> Any:
    """Prefix a ``None`` batch dimension to a shape (or to each shape in a list/dict).

    >>> _with_batch((28, 28, 1)), _with_batch([(3,), (5,)])
    ((None, 28, 28, 1), [(None, 3), (None, 5)])
    """
    return _map_shapes(lambda s: (None, *s), input_shape)


def _none_batch(shape: Any) -> Any:
    """Replace the batch dimension of a recorded build shape (or nested shapes) with ``None``.

    >>> _none_batch((2, 5)), _none_batch([(2, 3), (2, 5)])
    ((None, 5), [(None, 3), (None, 5)])
    """
    return _map_shapes(lambda s: (None, *s[1:]) if s else s, shape)


def _specs(tf: Any, shape: Any) -> Any:
    if isinstance(shape, dict):
        return {k: _specs(tf, v) for k, v in shape.items()}
    if isinstance(shape, list):
        return [_specs(tf, s) for s in shape]
    return tf.TensorSpec(shape, tf.float32)
