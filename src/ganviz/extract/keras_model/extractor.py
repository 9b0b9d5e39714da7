"""Layer graph or trace -> nodes, clusters and edges; part of the one live-Keras-model extractor."""

from __future__ import annotations

from typing import Any

from ...errors import ModelNotBuiltError
from ...ir.graph import Graph, GraphBuilder, shape_to_json
from .calls import LayerCall, record_calls, with_batch
from .facts import Site, config_of, dtype, param_counts, shape

__all__ = ["Extractor"]

Sources = tuple[str, ...]  # ids of the nodes that produce one tensor


def _merge(groups: Any) -> Sources:
    """Concatenate source tuples, keeping the first occurrence of each id."""
    return tuple(dict.fromkeys(s for group in groups for s in group))


def _site(node: Any) -> Site:
    """The tensors of one call (a Keras ``Node``) of a layer in a Functional graph."""
    return Site(tuple(node.input_tensors), tuple(node.outputs))


class Extractor:
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
        self.recorded: dict[int, LayerCall | None] = {}
        self.links: dict[int, list[Any]] = {}  # id(symbolic tensor) -> the tensors it was made from

    # -- classification ---------------------------------------------------------------
    def graph_of(self, layer: Any) -> Any:
        """The Functional graph behind a functional or built Sequential model, else None."""
        if isinstance(layer, self.functional_cls):
            return layer
        if isinstance(layer, self.keras.Sequential):
            return layer._functional
        return None

    def record(self, layer: Any, node: Any, input_shape: Any, *, required: bool) -> LayerCall | None:
        """Record ``layer``'s sub-layer calls once (memoised per layer); see :func:`.calls.record_calls`."""
        root = record_calls(
            self.keras, layer, node, input_shape, required=required, cache=self.recorded, kept=self.kept
        )
        if root is not None:
            self.links.update(root.links)
        return root

    # -- entry point ------------------------------------------------------------------
    def run(self, model: Any, input_shape: Any) -> Graph:
        """Convert ``model``: functional graphs are read, anything else is traced."""
        self.builder = GraphBuilder(model.name)
        if isinstance(model, self.keras.Sequential) and model._functional is None and input_shape is not None:
            shapes = with_batch(input_shape)
            try:
                model.build(shapes)
            except Exception as exc:  # no layers, or a shape the layers cannot take
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ModelNotBuiltError(
                    f"cannot build {type(model).__name__} {model.name!r} with input_shape={input_shape!r}: {reason}"
                ) from exc
        fn = self.graph_of(model)
        if fn is not None:
            self.run_functional(fn)
        else:
            self.run_traced(model, input_shape)
        params, trainable = param_counts(model)
        self.builder.details.update(class_name=type(model).__name__, params=params, trainable_params=trainable)
        return self.builder.build()

    def run_functional(self, fn: Any) -> None:
        first = self.first_nodes(fn)
        for layer in fn.layers:
            if isinstance(layer, self.input_layer_cls):
                site = _site(first[id(layer)])
                fields = site.fields()
                fields["input_shapes"] = fields["output_shapes"]
                self.add_node(layer, None, site, kind="input", class_name="InputLayer", **fields)
        self.emit_functional(fn, None, first)
        self.wire_functional(fn, [(self.layer_ids[id(t._keras_history[0])],) for t in fn.inputs])

    def run_traced(self, model: Any, input_shape: Any) -> None:
        root = self.record(model, None, input_shape, required=True)
        assert root is not None
        count = len(root.inputs)
        sources: list[Sources] = []
        for i, tensor in enumerate(root.inputs):
            tensor_shape = shape(tensor.shape)
            name = f"{model.name}_input" if count == 1 else f"{model.name}_input_{i}"
            fields = {"input_shapes": (tensor_shape,), "output_shapes": (tensor_shape,), "dtype": dtype(tensor)}
            sources.append((self.builder.add_node(name, kind="input", class_name="InputLayer", **fields),))
        if root.children:
            self.emit_calls(root, None)
            self.wire_calls(root, sources)
        else:  # a plain layer: one node
            node = self.add_node(model, None, Site(tuple(root.inputs), tuple(root.outputs)))
            for src in _merge(sources):
                self.builder.add_edge(src, node)

    # -- node emission ----------------------------------------------------------------
    def add_node(self, layer: Any, parent: str | None, site: Site | None, **fields: Any) -> str:
        if site is not None and "input_shapes" not in fields:
            fields.update(site.fields())
        fields.setdefault("kind", "layer")
        fields.setdefault("class_name", type(layer).__name__)
        params, trainable = param_counts(layer)
        config = config_of(layer)
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

    def add_cluster(self, model: Any, parent: str | None, site: Site | None) -> str:
        params, trainable = param_counts(model)
        details: dict[str, Any] = {}
        if site is not None:
            f = site.fields()
            details = {
                "input_shapes": [shape_to_json(s) for s in f["input_shapes"]],
                "output_shapes": [shape_to_json(s) for s in f["output_shapes"]],
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

    def first_nodes(self, fn: Any) -> dict[int, Any]:
        """Each operation's first call (its Keras ``Node``) in a Functional graph, in topological order."""
        first: dict[int, Any] = {}
        for depth in sorted(fn._nodes_by_depth, reverse=True):
            for node in fn._nodes_by_depth[depth]:
                if node.operation is not None:
                    first.setdefault(id(node.operation), node)
        return first

    def emit_functional(self, fn: Any, parent: str | None, first: dict[int, Any] | None = None) -> None:
        first = self.first_nodes(fn) if first is None else first
        for layer in fn.layers:
            if isinstance(layer, self.input_layer_cls) or id(layer) in self.layer_ids:
                continue
            node = first.get(id(layer))
            site = None if node is None else _site(node)
            inner = self.graph_of(layer)
            if inner is not None:
                cluster = self.add_cluster(layer, parent, site)
                self.emit_functional(inner, cluster)
                continue
            if isinstance(layer, self.keras.Model):
                root = self.record(layer, node, None, required=False)
                if root is not None and root.children:
                    cluster = self.add_cluster(layer, parent, site)
                    self.emit_calls(root, cluster)
                    continue
            self.add_node(layer, parent, site)

    def emit_calls(self, call: LayerCall, parent: str | None) -> None:
        for child in call.children:
            layer = child.layer
            if id(layer) in self.layer_ids:
                continue
            site = Site(tuple(child.inputs), tuple(child.outputs))
            if isinstance(layer, self.keras.Model) and child.children:
                cluster = self.add_cluster(layer, parent, site)
                self.emit_calls(child, cluster)
            else:
                self.add_node(layer, parent, site)

    # -- wiring -----------------------------------------------------------------------
    def apply(
        self, op: Any, ins: list[Sources], n_out: int, call: LayerCall | None = None, node: Any = None
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
            root = self.record(op, node, None, required=False)
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

    def wire_calls(self, call: LayerCall, in_sources: list[Sources]) -> list[Sources]:
        links = self.links
        known: dict[int, Sources] = {id(t): s for t, s in zip(call.inputs, in_sources)}
        memo: dict[int, Sources] = {}

        def value(tensor: Any) -> Sources:
            return known[id(tensor)] if id(tensor) in known else memo.get(id(tensor), ())

        def walk(tensor: Any) -> Sources:
            """The layer nodes ``tensor`` derives from, through ordinary ops (iterative: op chains can be long)."""
            stack: list[tuple[Any, bool]] = [(tensor, False)]
            while stack:
                t, inputs_done = stack.pop()
                if inputs_done:  # every input is resolved in ``memo``/``known`` by now
                    memo[id(t)] = _merge(value(x) for x in links.get(id(t), ()))
                elif id(t) not in known and id(t) not in memo:
                    memo[id(t)] = ()  # a guard against cycles
                    stack.append((t, True))
                    stack.extend((x, False) for x in reversed(links.get(id(t), ())))
            return value(tensor)

        for child in call.children:
            ins = [walk(t) for t in child.inputs]
            outs = self.apply(child.layer, ins, len(child.outputs), call=child)
            for t, s in zip(child.outputs, outs):
                known[id(t)] = s
        return [walk(t) for t in call.outputs]
