"""Turn the layer tree of a model file into a :class:`Graph` shaped like the live extractor's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...ir.graph import Graph, GraphBuilder, Shape, shape_to_json
from ..sanitize import json_safe
from .config import Entry, Tensor, layer_details, to_dtype, to_shape, to_shapes
from .params import ALL_NON_TRAINABLE, NON_TRAINABLE_TAIL, Chain, Params
from .shapes import infer_output, nth

__all__ = ["Reader"]


class _Iface:
    """How a (nested) model connects: inner consumers of each input, inner producers of each output."""

    def __init__(self) -> None:
        self.consumers: list[list[str]] = []
        self.consumer_sets: dict[int, set[str]] = {}  # the same, as sets: a membership test per edge in O(1)
        self.producers: list[list[str]] = []
        self.in_shapes: tuple[Shape | None, ...] = ()
        self.out_shapes: tuple[Shape | None, ...] = ()
        self.dtype: str | None = None
        self.params = 0
        self.trainable_params = 0


_INPUT = "\0input:"  # marks "the i-th input of the model being read" among producer lists


def _batch_shape(entry: Entry) -> Shape | None:
    """An ``InputLayer``'s shape with its batch dimension (Keras 3 or Keras 2 key)."""
    return to_shape(entry.config.get("batch_shape", entry.config.get("batch_input_shape")))


def _build_shapes(entry: Entry) -> tuple[Shape | None, ...]:
    """The input shapes a layer's ``build_config`` records (``()`` when it records none)."""
    return to_shapes((entry.raw.get("build_config") or {}).get("input_shape"))


class Reader:
    """Builds the graph of one parsed model tree; ``params`` (per layer chain) gives parameter counts."""

    def __init__(self, params: Params | None) -> None:
        self.params = params
        self.builder = GraphBuilder("")

    # -- helpers ---------------------------------------------------------------------------
    def _counts(self, entry: Entry, chain: Chain, frozen: bool) -> tuple[int, int, bool]:
        trainable = entry.config.get("trainable", True) is not False
        total, own = (self.params or {}).get(chain, (0, []))
        if frozen or not trainable or entry.class_name in ALL_NON_TRAINABLE:
            return total, 0, trainable
        tail = NON_TRAINABLE_TAIL.get(entry.class_name, 0)
        return total, total - (sum(own[-tail:]) if tail else 0), trainable

    def _input_node(self, entry: Entry, name: str | None = None, shape: Any = None) -> str:
        cfg = entry.config
        batch = _batch_shape(entry) if shape is None else shape
        return self.builder.add_node(
            name or entry.name,
            kind="input",
            class_name="InputLayer",
            input_shapes=(batch,),
            output_shapes=(batch,),
            dtype=to_dtype(cfg.get("dtype")) or "float32",
            details={"config": json_safe(cfg)},
        )

    def _layer_node(
        self,
        entry: Entry,
        chain: Chain,
        parent: str | None,
        frozen: bool,
        ins: Any,
        outs: Any,
        dtype: str | None = None,
    ) -> tuple[str, int, int]:
        total, trainable_total, trainable = self._counts(entry, chain, frozen)
        activation = entry.config.get("activation")
        node = self.builder.add_node(
            entry.name,
            kind="layer",
            class_name=entry.class_name,
            parent=parent,
            input_shapes=tuple(ins),
            output_shapes=tuple(outs),
            dtype=dtype or to_dtype(entry.config.get("dtype")),
            params=total,
            trainable_params=trainable_total,
            trainable=trainable,
            activation=activation if isinstance(activation, str) else None,
            details=layer_details(entry),
        )
        return node, total, trainable_total

    # -- models ----------------------------------------------------------------------------
    def read(self, root: Entry) -> Graph:
        self.builder = GraphBuilder(root.name)
        if root.kind != "model":  # a subclassed model: its file stores no layer graph to draw
            total = (self.params or {}).get((), (0, []))[0]
            trainable = root.config.get("trainable", True) is not False
            self.builder.add_node(
                root.name,
                kind="model",
                class_name=root.class_name,
                params=total,
                trainable_params=total if trainable else 0,
                trainable=trainable,
                details={
                    "note": "subclassed model: the file stores no layer graph",
                    "config": json_safe(root.config),
                },
            )
            self.builder.details = {
                "class_name": root.class_name,
                "params": total,
                "trainable_params": total if trainable else 0,
            }
            return self.builder.build()
        iface = self._model(root, (), None, True, False, ())
        self.builder.details = {
            "class_name": root.class_name,
            "params": iface.params,
            "trainable_params": iface.trainable_params,
        }
        return self.builder.build()

    def _model(self, m: Entry, chain: Chain, parent: str | None, top: bool, frozen: bool, hint: tuple) -> _Iface:
        if m.sequential:
            return self._sequential(m, chain, parent, top, frozen, hint)
        return self._functional(m, chain, parent, top, frozen, hint)

    def _nested(self, child: Entry, chain: Chain, parent: str | None, frozen: bool, ins: Any, hint: tuple) -> _Iface:
        trainable = child.config.get("trainable", True) is not False
        cluster = self.builder.add_cluster(child.name, class_name=child.class_name, parent=parent, trainable=trainable)
        iface = self._model(child, chain, cluster, False, frozen or not trainable, hint)
        if ins:
            iface.in_shapes = tuple(ins)
        index = int(cluster[1:])
        self.builder.clusters[index] = replace(
            self.builder.clusters[index],
            params=iface.params,
            trainable_params=iface.trainable_params,
            details={
                "input_shapes": [shape_to_json(s) for s in iface.in_shapes],
                "output_shapes": [shape_to_json(s) for s in iface.out_shapes],
                "dtype": iface.dtype,
            },
        )
        return iface

    def _connect(self, sources: list[str], targets: list[str], iface: _Iface) -> None:
        for source in sources:
            if source.startswith(_INPUT):
                index = int(source[len(_INPUT) :])
                slot = iface.consumers[index]
                have = iface.consumer_sets.get(index)
                if have is None:
                    have = iface.consumer_sets[index] = set(slot)
                for t in targets:
                    if t not in have:
                        have.add(t)
                        slot.append(t)
            else:
                for target in targets:
                    self.builder.add_edge(source, target)

    def _sequential(self, m: Entry, chain: Chain, parent: str | None, top: bool, frozen: bool, hint: tuple) -> _Iface:
        iface = _Iface()
        iface.consumers = [[]]
        first = _build_shapes(m) or to_shapes(m.config.get("build_input_shape"))
        if m.seq_input is not None:
            first = (_batch_shape(m.seq_input),)
        elif m.children and not first:
            first = (to_shape(m.children[0].config.get("batch_input_shape")),)
        iface.in_shapes = first
        if top:
            name = m.seq_input.name if m.seq_input is not None else f"{m.name}_input"
            prev = [self._input_node(m.seq_input or Entry(name, "InputLayer"), name, first[0] if first else None)]
        else:
            prev = [f"{_INPUT}0"]
        shapes = first
        dtype = None
        for i, child in enumerate(m.children):
            ins = _build_shapes(child) or shapes
            if i + 1 < len(m.children):
                outs = _build_shapes(m.children[i + 1])
            else:
                outs = hint if any(s is not None for s in hint) else ()
            if child.kind == "model":
                sub = self._nested(child, (*chain, child.name), parent, frozen, ins, outs)
                iface.params += sub.params
                iface.trainable_params += sub.trainable_params
                targets = sub.consumers[0] if sub.consumers else []
                self._connect(prev, targets, iface)
                prev = [p for group in sub.producers for p in group]
                shapes = outs or sub.out_shapes
                dtype = sub.dtype
                continue
            if not outs:
                guess = infer_output(child.class_name, child.config, ins)
                outs = (guess,) if guess is not None else ()
            node, total, trainable_total = self._layer_node(child, (*chain, child.name), parent, frozen, ins, outs)
            iface.params += total
            iface.trainable_params += trainable_total
            self._connect(prev, [node], iface)
            prev, shapes, dtype = [node], outs, self.builder.nodes[-1].dtype
        iface.producers = [[p for p in prev if not p.startswith(_INPUT)]]
        iface.out_shapes = tuple(shapes)
        iface.dtype = dtype
        return iface

    def _functional(self, m: Entry, chain: Chain, parent: str | None, top: bool, frozen: bool, hint: tuple) -> _Iface:
        iface = _Iface()
        iface.consumers = [[] for _ in m.input_refs]
        seen: dict[tuple[str, int, int], Tensor] = {}
        n_out: dict[str, int] = {}
        for child in m.children:
            for call in child.calls:
                for t in call:
                    seen.setdefault(t.ref, t)
        for j, ref in enumerate(m.output_refs):
            if ref not in seen or seen[ref].shape is None:
                shape = hint[j] if j < len(hint) else None
                seen[ref] = Tensor(ref, shape, seen[ref].dtype if ref in seen else None)
        for name, call_index, tensor_index in seen:
            if call_index == 0:
                n_out[name] = max(n_out.get(name, 0), tensor_index + 1)
        input_slot = {ref[0]: i for i, ref in enumerate(m.input_refs)}
        nodes: dict[str, str] = {}
        subs: dict[str, _Iface] = {}
        out_shapes: dict[str, tuple[Shape | None, ...]] = {}
        dtypes: dict[str, str | None] = {}

        def resolve(ref: tuple[str, int, int]) -> list[str]:
            name, _, tensor_index = ref
            if name in nodes:
                return [nodes[name]]
            if name in subs:
                groups = subs[name].producers
                return groups[tensor_index] if tensor_index < len(groups) else [p for g in groups for p in g]
            if name in input_slot and not top:
                return [f"{_INPUT}{input_slot[name]}"]
            return []

        if top:  # like the live extractor: every model input first, then the layers in config order
            for child in m.children:
                if child.kind == "input":
                    nodes[child.name] = self._input_node(child)
        for child in m.children:
            sub_chain = (*chain, child.name)
            recorded = tuple(
                seen[(child.name, 0, j)].shape if (child.name, 0, j) in seen else None
                for j in range(n_out.get(child.name, 0))
            )
            first_call = child.calls[0] if child.calls else []
            ins = tuple(t.shape or nth(out_shapes.get(t.ref[0], ()), t.ref[2]) for t in first_call)
            if not any(s is not None for s in ins):  # Keras 2 configs record no tensor shapes
                ins = _build_shapes(child) or ins
            if child.kind == "input":
                out_shapes[child.name] = (_batch_shape(child),)
                dtypes[child.name] = to_dtype(child.config.get("dtype"))
                continue
            if child.kind == "model":
                sub = self._nested(child, sub_chain, parent, frozen, ins, recorded)
                subs[child.name] = sub
                iface.params += sub.params
                iface.trainable_params += sub.trainable_params
                out_shapes[child.name] = recorded if recorded and None not in recorded else sub.out_shapes
                dtypes[child.name] = sub.dtype
            else:
                outs = recorded
                if len(outs) <= 1 and (not outs or outs[0] is None):
                    guess = infer_output(child.class_name, child.config, ins)
                    outs = (guess,) if guess is not None else outs
                first_out = seen.get((child.name, 0, 0))
                out_dtype = first_out.dtype if first_out is not None else None
                node, total, trainable_total = self._layer_node(child, sub_chain, parent, frozen, ins, outs, out_dtype)
                nodes[child.name] = node
                iface.params += total
                iface.trainable_params += trainable_total
                out_shapes[child.name] = outs
                dtypes[child.name] = self.builder.nodes[-1].dtype
            for call in child.calls:
                for position, tensor in enumerate(call):
                    if child.kind == "model":
                        groups = subs[child.name].consumers
                        targets = groups[position] if position < len(groups) else []
                    else:
                        targets = [nodes[child.name]]
                    self._connect(resolve(tensor.ref), targets, iface)
        iface.producers = [[p for p in resolve(ref) if not p.startswith(_INPUT)] for ref in m.output_refs]
        outs_list: list[Shape | None] = []
        for name, _, tensor_index in m.output_refs:
            known = out_shapes.get(name, ())
            outs_list.append(known[tensor_index] if tensor_index < len(known) else None)
        iface.out_shapes = tuple(outs_list)
        iface.in_shapes = tuple(out_shapes.get(name, (None,))[0] for name, _, _ in m.input_refs)
        iface.dtype = dtypes.get(m.output_refs[0][0]) if m.output_refs else None
        return iface
