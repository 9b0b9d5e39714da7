"""Turn a traced training step (``Trace``) into one system diagram (``Graph``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .graph import Graph, GraphBuilder, shape_to_json
from .trace import Loss, Trace, TraceModel
from .trace_calls import (
    assignment_label,
    diagram_details,
    inferred_targets,
    input_label,
    loss_summary,
    model_summary,
    read_label,
    source_key,
    trace_to_call_graph,
    update_label,
)
from .transforms import cluster_depths

__all__ = ["ASSUMED_CAPTION", "trace_to_graph", "optimizer_label"]

ASSUMED_CAPTION = "Assumed: the standard adversarial loop (not traced from a train_step)"


def optimizer_label(name: str, class_name: str = "", learning_rate: float | None = None) -> str:
    """The label of a gradient edge: the optimizer's name, class and learning rate.

    >>> optimizer_label("d_optimizer", "Adam", 0.0002)
    'd_optimizer: Adam lr=0.0002'
    >>> optimizer_label("opt")
    'opt'
    """
    extra = " ".join(p for p in (class_name, "" if learning_rate is None else f"lr={learning_rate:g}") if p)
    return f"{name}: {extra}" if extra else name


class _Anchors:
    """Where edges attach to a model: its node, or the entry/exit layers of its open cluster."""

    def __init__(self, entries: list[str], exits: list[str], cluster: str | None = None) -> None:
        self.entries = entries
        self.exits = exits
        self.cluster = cluster


def _embed(b: GraphBuilder, m: TraceModel, details: dict[str, Any]) -> _Anchors:
    """Add ``m``'s architecture as a cluster, with fresh deterministic ids; return its anchors."""
    cluster = b.add_cluster(
        m.name,
        class_name=m.class_name,
        params=m.params,
        trainable_params=m.trainable_params,
        trainable=m.trainable,
        details={
            **details,
            "input_shapes": [shape_to_json(s) for s in m.input_shapes],
            "output_shapes": [shape_to_json(s) for s in m.output_shapes],
        },
    )
    sub = m.graph
    depth = cluster_depths(sub)
    cmap: dict[str, str] = {}
    for c in sorted(sub.clusters, key=lambda c: depth[c.id]):  # parents first; stable otherwise
        fields = _fields(c)
        fields.pop("id")
        fields["parent"] = cmap.get(c.parent, cluster) if c.parent is not None else cluster
        cmap[c.id] = b.add_cluster(fields.pop("name"), **fields)
    nmap: dict[str, str] = {}
    for n in sub.nodes:
        fields = _fields(n)
        fields.pop("id")
        fields["parent"] = cluster if n.parent is None else cmap.get(n.parent, cluster)
        nmap[n.id] = b.add_node(fields.pop("name"), **fields)
    has_in = {e.target for e in sub.edges}
    has_out = {e.source for e in sub.edges}
    for e in sub.edges:
        b.add_edge(nmap[e.source], nmap[e.target], e.kind, e.label)
    entries = [nmap[n.id] for n in sub.nodes if n.kind == "input"] or [
        nmap[n.id] for n in sub.nodes if n.id not in has_in
    ]
    exits = [nmap[n.id] for n in sub.nodes if n.id not in has_out and n.kind != "input"] or [nmap[sub.nodes[-1].id]]
    return _Anchors(entries, exits, cluster)


def _fields(obj: Any) -> dict[str, Any]:
    return {k: getattr(obj, k) for k in obj.__dataclass_fields__}


CALLS = ("separate", "merged")


def trace_to_graph(trace: Trace, *, expand_nested: bool = False, calls: str = "separate") -> Graph:
    """One diagram of a training step: sources, model calls, losses, and gradient edges.

    With ``calls="separate"`` (the default) every model call is its own box, named after the
    result (see :func:`~ganviz.ir.trace_calls.trace_to_call_graph`); an expanded view
    (``expand_nested=True``) always merges calls, so each architecture is drawn once.

    Raises:
        ValueError: ``calls`` is not ``"separate"`` or ``"merged"``.
    """
    if calls not in CALLS:
        raise ValueError(f"unknown calls={calls!r} (must be one of {list(CALLS)})")
    if calls == "separate" and not expand_nested:
        graph = trace_to_call_graph(trace)
        if trace.assumed:
            graph = dataclasses.replace(graph, details={**graph.details, "caption": ASSUMED_CAPTION})
        return graph
    return trace_to_merged_graph(trace, expand_nested=expand_nested)


def loss_key(trace: Trace, loss: Loss) -> object:
    """What makes two losses one: name, terms (name, kind, weight) and the updates they drive.

    Two losses both called ``total_loss`` in two phases (one trains the discriminator, one the
    generator) are two losses; the same loss of an unfolded loop, repeated, is one.
    """
    drives = tuple(sorted((u.optimizer, u.model) for u in trace.updates if u.loss == loss.id))
    return (loss.name, tuple((t.name, t.kind, t.weight) for t in loss.terms), drives)


def trace_to_merged_graph(trace: Trace, *, expand_nested: bool = False) -> Graph:
    """One diagram of a training step: sources, each model once, losses, and gradient edges.

    Sources with the same kind, name and shape (the noise drawn in each iteration of a loop) become one
    node; each model is one ``model`` node (or, with ``expand_nested=True``, its architecture as a
    cluster); a model called N times from the same input gets one data edge labelled ``×N``; one
    loss is one node (:func:`loss_key`: two losses sharing a name in two phases are two nodes,
    labelled with their phase); a ``gradient`` edge goes from each loss to each model it
    updates, labelled with the optimizer (``d_optimizer: Adam lr=0.0002``). Frozen models have
    ``trainable=False``.

    Args:
        trace: the traced (or assumed) step.
        expand_nested: draw each model's architecture as an open cluster instead of one box.

    Returns:
        The :class:`Graph`; ``details`` holds ``{"assumed": trace.assumed}`` and, for an assumed
        loop, the caption :data:`ASSUMED_CAPTION` that renderers draw above the diagram.

    >>> from ganviz.ir.trace import Call, Loss, Source, Update
    >>> t = Trace(
    ...     models=(TraceModel("g", "Sequential", 10, 10, Graph("g")), TraceModel("d", "Sequential", 5, 5, Graph("d"))),
    ...     sources=(Source("s0", "noise", "z"),),
    ...     calls=(Call("c0", "g", ("s0",)), Call("c1", "d", ("c0",)), Call("c2", "d", ("c0",))),
    ...     losses=(Loss("l0", "g_loss", ("c1",)),),
    ...     updates=(Update("l0", "g_opt", "g", 2),),
    ... )
    >>> g = trace_to_merged_graph(t)
    >>> [(e.source, e.target, e.kind, e.label) for e in g.edges]
    [('n0', 'n1', 'data', None), ('n1', 'n2', 'data', '×2'), ('n2', 'n3', 'data', None), ('n3', 'n1', 'gradient', 'g_opt')]
    """
    b = GraphBuilder(trace.name)
    b.details = diagram_details(trace, "merged")
    if trace.assumed:  # (a compiled model's caption, when there is one, says more)
        b.details.setdefault("caption", ASSUMED_CAPTION)

    # Sources, merged by (kind, name, shape).
    src_key = {s.id: source_key(s) for s in trace.sources}
    src_count: dict[tuple[Any, ...], int] = {}
    for s in trace.sources:
        src_count[src_key[s.id]] = src_count.get(src_key[s.id], 0) + 1
    src_node: dict[tuple[Any, ...], str] = {}
    guessed = inferred_targets(trace)
    for s in trace.sources:
        key = src_key[s.id]
        if key not in src_node:
            n = src_count[key]
            src_node[key] = b.add_node(
                s.name,
                kind=s.kind,
                class_name=f"{s.kind}, inferred" if s.id in guessed else s.kind,
                output_shapes=(s.shape,),
                details={"count": n} if n > 1 else {},
            )

    # Models, once each.
    call_model = {c.id: c.model for c in trace.calls}
    calls_per_model: dict[str, int] = {}
    for c in trace.calls:
        calls_per_model[c.model] = calls_per_model.get(c.model, 0) + 1
    updated_by: dict[str, list[str]] = trace.updates_by_model()
    anchors: dict[str, _Anchors] = {}
    for m in trace.models:
        details: dict[str, Any] = {"calls": calls_per_model.get(m.name, 0), "updated_by": updated_by.get(m.name, [])}
        if not m.trainable:
            details["frozen"] = True
        if expand_nested and m.graph.nodes:
            anchors[m.name] = _embed(b, m, details)
            continue
        node = b.add_node(m.name, kind="model", class_name=m.class_name, details=details, **model_summary(m))
        anchors[m.name] = _Anchors([node], [node])
    op_node = {o.id: b.add_node(o.output or o.kind, kind="op", class_name=o.kind) for o in trace.ops}
    for c in trace.calls:  # a call of a model the trace does not describe still gets a box
        if c.model not in anchors:
            node = b.add_node(c.model, kind="model", details={"calls": calls_per_model[c.model]})
            anchors[c.model] = _Anchors([node], [node])

    def exits_of(ref: str) -> list[str]:
        if ref in call_model:
            return anchors[call_model[ref]].exits
        if ref in src_key:
            return [src_node[src_key[ref]]]
        if ref in op_node:
            return [op_node[ref]]
        return []

    for o in trace.ops:
        for ref in o.inputs:
            for src in exits_of(ref):
                b.add_edge(src, op_node[o.id], "data")

    # Data edges into models: one per distinct input, labelled with the number of calls.
    pair_count: dict[tuple[str, str], int] = {}
    first_ref: dict[tuple[str, str], str] = {}
    for c in trace.calls:
        origins: dict[str, str] = {}
        for ref in c.inputs:
            origin = call_model[ref] if ref in call_model else repr(src_key.get(ref, ref))
            origin += "/" + (input_label(c, ref) or "")
            origins.setdefault(origin, ref)
        for origin, ref in origins.items():
            key = (origin, c.model)
            pair_count[key] = pair_count.get(key, 0) + 1
            first_ref.setdefault(key, ref)
    for key, n in pair_count.items():
        arg = key[0].rsplit("/", 1)[1]
        label = " ".join(p for p in (arg, f"×{n}" if n > 1 else "") if p) or None
        for src in exits_of(first_ref[key]):
            for dst in anchors[key[1]].entries:
                b.add_edge(src, dst, "data", label)

    # Losses, one node per distinct loss (never merged by name alone), with edges from what they derive from.
    keys = {loss.id: loss_key(trace, loss) for loss in trace.losses}
    loss_count: dict[object, int] = {}
    for loss in trace.losses:
        loss_count[keys[loss.id]] = loss_count.get(keys[loss.id], 0) + 1
    shared = {n for n in (x.name for x in trace.losses) if len({keys[x.id] for x in trace.losses if x.name == n}) > 1}
    phase_of = {lid: p.name for p in trace.phases for lid in p.losses}
    loss_node: dict[object, str] = {}
    for loss in trace.losses:
        if keys[loss.id] not in loss_node:
            n = loss_count[keys[loss.id]]
            shown = f"{loss.name} ({phase_of[loss.id]})" if loss.name in shared and loss.id in phase_of else loss.name
            loss_node[keys[loss.id]] = b.add_node(
                shown,
                kind="loss",
                class_name=loss_summary(loss.terms) if loss.terms else "loss",
                details={"count": n} if n > 1 else {},
            )
    loss_of = {loss.id: loss_node[keys[loss.id]] for loss in trace.losses}
    # An edge from a model returning several tensors names the elements read, when its calls agree.
    read: dict[tuple[str, str], set[str | None]] = {}
    calls_by_id = {c.id: c for c in trace.calls}
    for loss in trace.losses:
        for ref in loss.inputs:
            for src in exits_of(ref):
                label = read_label(calls_by_id, ref, loss.input_elements)
                read.setdefault((src, loss_of[loss.id]), set()).add(label)
    for (src, dst), labels in read.items():
        b.add_edge(src, dst, "data", next(iter(labels)) if len(labels) == 1 else None)

    # Gradient edges: loss -> each model it updates (its cluster when open), labelled with the optimizer.
    for u in trace.updates:
        if u.loss not in loss_of or u.model not in anchors:
            continue
        info = trace.optimizer(u.optimizer)
        label = update_label(
            u.optimizer, info.class_name if info else "", info.learning_rate if info else None, u.times
        )
        b.add_edge(loss_of[u.loss], anchors[u.model].cluster or anchors[u.model].exits[0], "gradient", label)
    variable_node = {s.name: src_node[src_key[s.id]] for s in trace.sources if s.kind == "variable"}
    for a in trace.assignments:
        if not a.drawn:  # a step counter: named in the legend, kept in the JSON
            continue
        target = anchors[a.target].cluster or anchors[a.target].entries[0] if a.target in anchors else None
        target = target or variable_node.get(a.target)
        if target is None:
            target = b.add_node(a.target, kind="variable", class_name="step variable")
        if a.source in anchors:
            src = anchors[a.source].cluster or anchors[a.source].exits[0]
            b.add_edge(src, target, "assign", assignment_label(a))
        for ref in a.inputs:
            for src in exits_of(ref):
                b.add_edge(src, target, "assign", a.kind)
    return b.build()
