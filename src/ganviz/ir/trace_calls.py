"""A traced step as one box per model call, grouped by phase: the default system diagram."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .graph import Graph, GraphBuilder
from .trace import Call, Source, Trace, TraceModel
from .trace_facts import Assignment, LossTerm

__all__ = [
    "COMPILED_CAPTION",
    "MAX_INCHES",
    "model_summary",
    "diagram_details",
    "trace_to_call_graph",
    "union_graph",
    "weight_text",
    "loss_summary",
    "update_label",
    "assignment_label",
    "legend_lines",
    "trace_summary",
    "not_drawn",
    "source_key",
    "inferred_targets",
    "input_label",
    "read_label",
]

# A system diagram is scaled down to fit this many inches a side: 8,000 px at the default 200 dpi.
MAX_INCHES = 40


def weight_text(weight: float | None) -> str:
    """A term's weight as a factor: ``""`` for 1, ``"10×"``, ``"−1×"``, ``"w×"`` when not a constant.

    >>> weight_text(1.0), weight_text(10.0), weight_text(0.5), weight_text(-1.0), weight_text(None)
    ('', '10×', '0.5×', '−1×', 'w×')
    """
    if weight is None:
        return "w×"
    if weight == 1:
        return ""
    return f"{weight:g}×".replace("-", "−")


def loss_summary(terms: tuple[LossTerm, ...]) -> str:
    """The kinds and weights of a loss's terms in one line.

    >>> loss_summary((LossTerm("adv", "mse"), LossTerm("cyc", "mae", 10.0), LossTerm("id", "mae", 5.0)))
    'mse + 10×mae + 5×mae'
    """
    return " + ".join(weight_text(t.weight) + t.kind for t in terms).replace("+ −", "− ")


def update_label(optimizer: str, class_name: str, learning_rate: float | None, times: int) -> str:
    """The label of a gradient edge: optimizer, class, learning rate and how often it is applied.

    >>> update_label("d_optimizer", "Adam", 0.0002, 3)
    'd_optimizer: Adam lr=0.0002 ×3'
    """
    extra = " ".join(p for p in (class_name, "" if learning_rate is None else f"lr={learning_rate:g}") if p)
    text = f"{optimizer}: {extra}" if extra else optimizer
    return text + (f" ×{times}" if times > 1 else "")


def assignment_label(a: Assignment) -> str:
    """``EMA decay=0.999``, ``copy`` or ``assign``, with the number of variables set.

    >>> assignment_label(Assignment("ema_g", "g", "ema", 0.999, 6))
    'EMA decay=0.999 (6 variables)'
    >>> assignment_label(Assignment("gan/noise_counter", increment=1.0))
    'step counter +1'
    """
    if a.increment is not None:
        return f"step counter {a.increment:+g}".replace("-", "−")
    head = f"EMA decay={a.decay:g}" if a.kind == "ema" and a.decay is not None else a.kind
    return head + (f" ({a.variables} variables)" if a.variables > 1 else "")


def not_drawn(trace: Trace) -> list[str]:
    """Assignments a diagram cannot attach (a step counter): named here, kept in the trace JSON.

    >>> not_drawn(Trace("t", assignments=(Assignment("gan/noise_counter", increment=1.0),)))
    ['gan/noise_counter: step counter +1']
    """
    return [f"{a.target}: {assignment_label(a)}" for a in trace.assignments if not a.drawn]


def trace_summary(trace: Trace) -> list[list[Any]]:
    """The counts a page shows for a traced step, from the trace (never from drawn boxes, which a
    page holding two diagrams would count twice).

    >>> trace_summary(Trace("t"))
    [['Models', 0], ['Model calls', 0], ['Losses', 0], ['Loss terms', 0], ['Phases', 0]]
    """
    return [
        ["Models", len(trace.models)],
        ["Model calls", len(trace.calls)],
        ["Losses", len(trace.losses)],
        ["Loss terms", sum(max(1, len(loss.terms)) for loss in trace.losses)],
        ["Phases", len(trace.phases)],
    ]


COMPILED_CAPTION = (
    "No step traced: each compiled model's train_on_batch as compiled (inputs and targets inferred from the models)"
)


def legend_lines(trace: Trace) -> list[str]:
    """The key of a traced system diagram: how to read terms, weights, arrows; what is left out."""
    lines: list[str] = []
    split = [loss for loss in trace.losses if len(loss.terms) > 1]
    if split:
        lines.append(
            "Loss terms (small boxes): name, kind below; ×w on the arrow is the weight; "
            f"the loss box sums them ({split[0].name} = {loss_summary(split[0].terms)})"
        )
    elif trace.losses:
        lines.append("Loss box: the kinds and weights of its terms")
    names = {t.name for loss in trace.losses for t in loss.terms if t.kind == "gradient_penalty"}
    if names:
        lines.append(
            "gradient_penalty: a term on an inner tape's gradient of the discriminator"
            " (r1: |grad D(real)|² at real data; gp: (|grad D(mix)| − 1)² at real/fake mixes)"
        )
    if trace.updates:
        lines.append("Red dashed arrows: a loss's gradients → the model its optimizer updates (optimizer, lr, ×N)")
    if any(a.drawn for a in trace.assignments):
        lines.append("Purple dotted arrows: weights set without an optimizer (EMA decay, copy, assign)")
    hidden = not_drawn(trace)
    if hidden:
        lines.append("Not drawn (bookkeeping, kept in the trace JSON): " + "; ".join(hidden))
    seen: set[str] = set()
    for c in trace.compiled:
        if c.warning and c.warning not in seen:
            seen.add(c.warning)
            lines.append("WARNING: " + c.warning)
    for c in trace.compiled:
        if c.note and c.note not in seen:
            seen.add(c.note)
            lines.append("Note: " + c.note)
    inferred = inferred_targets(trace)
    if inferred:
        labels_of = {s.id: s.name for s in trace.sources}
        labels_of.update({c.id: c.output or c.model for c in trace.calls})
        by_reason: dict[str, list[str]] = {}
        for ref, why in inferred.items():
            label = labels_of.get(ref, ref)
            if label not in by_reason.setdefault(why, []):
                by_reason[why].append(label)
        shown = "; ".join(f"{', '.join(labels)}: {why}" for why, labels in by_reason.items())
        lines.append("Targets inferred from the models, not read from a step: " + shown)
    if trace.verified is not None:
        lines.append(trace.verified.verdict())
    return lines


def inferred_targets(trace: Trace) -> dict[str, str]:
    """``{target id: how it was inferred}`` of the compiled outputs drawn without a step.

    >>> from ganviz.ir.trace_facts import CompiledOutput, CompiledUpdate
    >>> out = CompiledOutput("d", "bce", "bce", None, "call0", "src1", inferred="ones: a frozen judge's score")
    >>> inferred_targets(Trace("t", compiled=(CompiledUpdate("combined", "opt", "loss0", outputs=(out,)),)))
    {'src1': "ones: a frozen judge's score"}
    """
    return {o.target: o.inferred for c in trace.compiled for o in c.outputs if o.target and o.inferred}


def source_key(source: Source, each_draw: bool = False) -> tuple[Any, ...]:
    """What makes two sources one box: kind, name and shape (4x4 and 8x8 noise maps are two).

    With ``each_draw`` (the call view) every random draw is its own box: fresh noise drawn for
    the generator's phase is not the noise of the discriminator's. Equal constants stay one box.

    >>> source_key(Source("s0", "noise", "noise[0]", (4, 4, 4, 1)))
    ('noise', 'noise[0]', (4, 4, 4, 1))
    >>> source_key(Source("s3", "noise", "z", (4, 2)), each_draw=True)
    ('noise', 'z', (4, 2), 's3')
    """
    key: tuple[Any, ...] = (source.kind, source.name, source.shape)
    return key + (source.id,) if each_draw and source.kind == "noise" else key


def input_label(call: Call, ref: str) -> str | None:
    """The label of the edge ``ref`` -> ``call``: the element used (``z`` of an encoder's
    ``z_mean, z_log_var, z``) and the model input it goes to, when known.

    >>> input_label(Call("c1", "decoder", ("c0",), input_elements={"c0": "z"}), "c0")
    'z'
    >>> input_label(Call("c2", "critic", ("c0",), input_names={"c0": "adjacency_in, features_in"}), "c0")
    'adjacency_in, features_in'
    >>> input_label(Call("c3", "d", ("c0",), input_names={"c0": "image"}, input_elements={"c0": "fake"}), "c0")
    'fake → image'
    """
    element, name = call.input_elements.get(ref), shown_input_name(call.input_names.get(ref))
    if element and name and element != name:
        return f"{element} → {name}"
    return element or name


def read_label(calls: dict[str, Call], ref: str, elements: dict[str, str] | Any) -> str | None:
    """The label of the edge ``ref`` -> a loss or term: the elements of a tuple output it reads,
    unless that is every element (the call's box already names them all).

    >>> enc = Call("c0", "encoder", outputs=("z_mean", "z_log_var", "z"))
    >>> read_label({"c0": enc}, "c0", {"c0": "z_mean, z_log_var"}), read_label({"c0": enc}, "c0", {})
    ('z_mean, z_log_var', None)
    >>> read_label({"c0": enc}, "c0", {"c0": "z_mean, z_log_var, z"}) is None
    True
    """
    shown = elements.get(ref)
    call = calls.get(ref)
    if shown and call is not None and shown == ", ".join(call.outputs):
        return None
    return shown or None


def _call_name(call: Call, names: dict[str, str]) -> str:
    if call.output:
        return call.output
    args = ", ".join(names.get(i, i) for i in call.inputs[:2]) + (", ..." if len(call.inputs) > 2 else "")
    return f"{call.model}({args})"


# What a model's box shows of the model: the fields of Node that a TraceModel has too.
_SUMMARY_FIELDS = ("input_shapes", "output_shapes", "params", "trainable_params", "trainable")


def model_summary(m: TraceModel) -> dict[str, Any]:
    """A model's shapes, parameters and trainable flag, as keywords of a model box.

    >>> model_summary(TraceModel("g", "Sequential", 10, 8, Graph("g"), output_shapes=((None, 2),)))
    {'input_shapes': (), 'output_shapes': ((None, 2),), 'params': 10, 'trainable_params': 8, 'trainable': True}
    """
    return {name: getattr(m, name) for name in _SUMMARY_FIELDS}


def _model_node(b: GraphBuilder, m: TraceModel | None, name: str, label: str, cls: str, parent: str | None) -> str:
    """A call box; the first call of a model carries its summary (class, shapes, parameters)."""
    if m is None:
        return b.add_node(label, kind="model", class_name=cls, parent=parent)
    details = {"model": name, "class": m.class_name}
    return b.add_node(label, kind="model", class_name=cls, parent=parent, details=details, **model_summary(m))


def diagram_details(trace: Trace, calls: str) -> dict[str, Any]:
    """The details of a system diagram (``calls``: its view): the page's counts, the key, a caption.

    >>> sorted(diagram_details(Trace("t"), "merged"))
    ['assumed', 'calls', 'legend', 'max_inches', 'not_drawn', 'summary']
    """
    details = {"assumed": trace.assumed, "calls": calls, "max_inches": MAX_INCHES, "summary": trace_summary(trace)}
    if not trace.assumed:
        details.update(legend=legend_lines(trace), not_drawn=not_drawn(trace))
    if any(c.method == "compile" for c in trace.compiled):
        details["caption"] = COMPILED_CAPTION
    return details


def trace_to_call_graph(trace: Trace) -> Graph:  # noqa: C901 - one block per element kind, in data order
    """One box per model call, labelled with the result's name, inside one cluster per phase.

    A model's summary (class, shapes, parameters) is on its first call only; later calls show the
    model's name and output shape. Losses with several terms get one small node per term, joined
    to the loss by an edge labelled with the term's weight. Gradient edges go from each loss to the
    model's call in that phase, labelled with the optimizer and ``×N`` when applied N times;
    assignments (an EMA) join the source model to the target.
    """
    b = GraphBuilder(trace.name)
    b.details = diagram_details(trace, "separate")
    models = {m.name: m for m in trace.models}
    names: dict[str, str] = {s.id: s.name for s in trace.sources}
    for o in trace.ops:
        names[o.id] = o.output or o.kind
    for c in trace.calls:
        names[c.id] = _call_name(c, names)

    src_key = {s.id: source_key(s, each_draw=True) for s in trace.sources}
    src_node: dict[tuple[Any, ...], str] = {}
    guessed = inferred_targets(trace)  # a target the drawing chose, not the step's: said on its box
    for s in trace.sources:
        if src_key[s.id] not in src_node:
            cls = f"{s.kind}, inferred" if s.id in guessed else s.kind
            src_node[src_key[s.id]] = b.add_node(s.name, kind=s.kind, class_name=cls, output_shapes=(s.shape,))

    # Phases as clusters, in order; a phase run N times says so.
    phase_cluster: dict[str, str] = {}
    trapped = {c.phase for c in trace.compiled if c.warning and c.phase}
    for i, p in enumerate(trace.phases):
        title = f"{i + 1}. {p.name}" + (f"  ×{p.repeat}" if p.repeat > 1 else "")
        if p.name in trapped:  # Keras 3's trainable trap: the line in the key says why and the fix
            title = title + "  (WARNING: see the key)"
        phase_cluster[p.name] = b.add_cluster(title, class_name="", details={"phase": True, "repeat": p.repeat})
    loss_phase = {lid: p.name for p in trace.phases for lid in p.losses}

    node_of: dict[str, str] = {}
    for ref, key in src_key.items():
        node_of[ref] = src_node[key]
    op_phase: dict[str, str] = {}
    for c in trace.calls:
        for ref in c.inputs:
            if c.phase and ref.startswith("op"):
                op_phase.setdefault(ref, c.phase)
    for loss in trace.losses:  # an op read only by a loss (a drift term's concatenation of scores)
        for ref in (*loss.inputs, *(i for t in loss.terms for i in t.inputs)):
            if ref.startswith("op") and loss.id in loss_phase:
                op_phase.setdefault(ref, loss_phase[loss.id])
    for o in reversed(trace.ops):  # an op feeding an op (a concat of concats) joins its phase
        for ref in o.inputs:
            if o.id in op_phase and ref.startswith("op"):
                op_phase.setdefault(ref, op_phase[o.id])
    for o in trace.ops:
        parent = phase_cluster.get(op_phase.get(o.id, ""))
        node_of[o.id] = b.add_node(o.output or o.kind, kind="op", class_name=o.kind, parent=parent)
    summarised: set[str] = set()
    first_call_in: dict[tuple[str | None, str], str] = {}
    # A model frozen inside a compiled model's update (the discriminator in ``combined``) is drawn frozen there.
    frozen_in = {(cu.phase, name) for cu in trace.compiled for name in cu.frozen}
    frozen_in |= {(p.name, name) for p in trace.phases for name in p.frozen}  # frozen when its gradient was taken
    for c in trace.calls:
        parent = phase_cluster.get(c.phase) if c.phase else None
        cls = c.model if c.in_tape else f"{c.model} · no tape"
        frozen_here = (c.phase, c.model) in frozen_in
        frozen: dict[str, bool] = {"trainable": False} if frozen_here else {}
        if c.model in summarised or c.model not in models:
            shape = (c.output_shape,) if c.output_shape is not None else ()
            node = b.add_node(
                names[c.id],
                kind="model",
                class_name=cls,
                parent=parent,
                output_shapes=shape,
                details={"model": c.model},
                **frozen,
            )
        else:
            m = models[c.model]
            shown = dataclasses.replace(m, trainable=False) if frozen_here else m
            node = _model_node(b, shown, c.model, names[c.id], cls, parent)
        summarised.add(c.model)
        node_of[c.id] = node
        first_call_in.setdefault((c.phase, c.model), node)
    for o in trace.ops:
        for ref in o.inputs:
            if ref in node_of:
                b.add_edge(node_of[ref], node_of[o.id], "data")
    for c in trace.calls:
        for ref in c.inputs:
            if ref in node_of:
                b.add_edge(node_of[ref], node_of[c.id], "data", input_label(c, ref))

    # Models never called (an EMA copy) still get a box when something updates them.
    def model_box(name: str, last: bool = False) -> str:
        """The model's first call in the step (``last``: its call in the last phase that calls it, where an
        assignment such as an EMA, made after the step's updates, reads its weights), else its own box."""
        hits = [node for (_, model), node in first_call_in.items() if model == name]
        if hits:
            return hits[-1] if last else hits[0]
        if name not in node_of:
            m = models.get(name)
            node_of[name] = _model_node(b, m, name, name, m.class_name if m else "", None)
        return node_of[name]

    loss_node: dict[str, str] = {}
    calls_by_id = {c.id: c for c in trace.calls}
    for loss in trace.losses:
        parent = phase_cluster.get(loss_phase.get(loss.id, ""))
        terms = loss.terms
        cls = loss_summary(terms) if terms else "loss"
        node = b.add_node(loss.name, kind="loss", class_name=cls, parent=parent)
        loss_node[loss.id] = node
        if len(terms) > 1:
            for t in terms:
                tn = b.add_node(t.name, kind="term", class_name=t.kind, parent=parent)
                for ref in t.inputs:
                    if ref in node_of:  # a call returning several tensors: the elements the term reads
                        b.add_edge(node_of[ref], tn, "data", read_label(calls_by_id, ref, t.input_elements))
                w = weight_text(t.weight)
                b.add_edge(tn, node, "data", "×" + w.rstrip("×") if w else None)
        else:
            for ref in loss.inputs:
                if ref in node_of:
                    b.add_edge(node_of[ref], node, "data", read_label(calls_by_id, ref, loss.input_elements))

    for u in trace.updates:
        if u.loss not in loss_node:
            continue
        info = trace.optimizer(u.optimizer)
        label = update_label(
            u.optimizer, info.class_name if info else "", info.learning_rate if info else None, u.times
        )
        phase = loss_phase.get(u.loss)
        in_phase = first_call_in.get((phase, u.model)) if phase is not None else None
        target = in_phase or _feeding_call(trace, u.loss, u.model, node_of) or model_box(u.model)
        b.add_edge(loss_node[u.loss], target, "gradient", label)

    variable_node = {s.name: src_node[src_key[s.id]] for s in trace.sources if s.kind == "variable"}
    for a in trace.assignments:
        if not a.drawn:  # a step counter: nothing to attach it to; named in the legend instead
            continue
        if a.target in models or a.source in models:
            target = model_box(a.target)
        elif a.target in variable_node:  # the variable is also an input of the step (a fade-in alpha)
            target = variable_node[a.target]
        else:
            target = node_of.setdefault(a.target, b.add_node(a.target, kind="variable", class_name="step variable"))
        if a.source is not None:
            b.add_edge(model_box(a.source, last=True), target, "assign", assignment_label(a))
        for ref in a.inputs:
            if ref in node_of:
                b.add_edge(node_of[ref], target, "assign", a.kind)
    return b.build()


_AUTO_INPUT = re.compile(r"^keras_tensor(_\d+)?$")  # Keras names an input layer; the symbolic tensor names say nothing


def shown_input_name(name: str | None) -> str | None:
    """A model input's name as an edge label; Keras's automatic ones (``keras_tensor_31``) say nothing.

    >>> shown_input_name("img_B"), shown_input_name("keras_tensor_31"), shown_input_name(None)
    ('img_B', None, None)
    """
    return None if not name or _AUTO_INPUT.match(name) else name


def _feeding_call(trace: Trace, loss_id: str, model: str, node_of: dict[str, str]) -> str | None:
    """The box of ``model``'s call nearest upstream of the loss (breadth first), for a trace without phases.

    In the standard loop the generator is called twice, once for the discriminator's loss and once
    for its own: its optimizer's arrow belongs on the call its loss comes from.
    """
    loss = next((x for x in trace.losses if x.id == loss_id), None)
    calls = {c.id: c for c in trace.calls}
    ops = {o.id: o for o in trace.ops}
    queue, seen = list(loss.inputs if loss is not None else ()), set()
    while queue:
        ref = queue.pop(0)
        if ref in seen:
            continue
        seen.add(ref)
        call = calls.get(ref)
        if call is not None and call.model == model and ref in node_of:
            return node_of[ref]
        queue.extend(call.inputs if call is not None else ops[ref].inputs if ref in ops else ())
    return None


def union_graph(steps: Graph, full: Graph, prefix: str = "step_") -> tuple[Graph, Graph]:
    """``steps`` with prefixed ids, and one graph holding both (for a page that shows both views).

    >>> from ganviz.ir.graph import Node
    >>> a, b = Graph("s", nodes=(Node("n0", "x"),)), Graph("f", nodes=(Node("n0", "y"),))
    >>> s, u = union_graph(a, b)
    >>> [n.id for n in s.nodes], [n.id for n in u.nodes]
    (['step_n0'], ['n0', 'step_n0'])
    """

    def ref(i: str | None) -> str | None:
        return None if i is None else prefix + i

    nodes = tuple(dataclasses.replace(n, id=prefix + n.id, parent=ref(n.parent)) for n in steps.nodes)
    clusters = tuple(dataclasses.replace(c, id=prefix + c.id, parent=ref(c.parent)) for c in steps.clusters)
    edges = tuple(dataclasses.replace(e, source=prefix + e.source, target=prefix + e.target) for e in steps.edges)
    renamed = dataclasses.replace(steps, nodes=nodes, clusters=clusters, edges=edges)
    both = dataclasses.replace(
        full, nodes=full.nodes + nodes, clusters=full.clusters + clusters, edges=full.edges + edges
    )
    return renamed, both
