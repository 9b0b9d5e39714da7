"""Turn a recorded step (model calls, gradients, updates) into a ``Trace``."""

from __future__ import annotations

from typing import Any

from ...ir.graph import Graph
from ...ir.trace import Call, Loss, OptimizerInfo, Source, Trace, TraceModel, Update
from .. import tf_graph as tfg
from ..keras_model.facts import param_counts
from .find import Found
from .record import Recorder

__all__ = ["build_trace", "trace_model", "learning_rate"]


def _shapes(tensors: Any) -> tuple[tuple[int | None, ...] | None, ...]:
    return tuple(tfg.shape_of(t) for t in tensors)


def _model_graph(model: Any, name: str) -> Graph:
    try:
        from ..keras_model import model_to_graph
    except ImportError:
        return Graph(name=name, details={"class_name": type(model).__name__})
    try:
        return model_to_graph(model, expand_nested=True)
    except Exception:  # the architecture is a nicety; the trace stands without it
        return Graph(name=name, details={"class_name": type(model).__name__})


def trace_model(model: Any, name: str, first_call: tuple[str, list[Any], list[Any]] | None) -> TraceModel:
    params, trainable = param_counts(model)
    try:
        ins: tuple[Any, ...] = tuple(tuple(t.shape) for t in model.inputs)
        outs: tuple[Any, ...] = tuple(tuple(t.shape) for t in model.outputs)
    except Exception:
        ins = _shapes(first_call[1]) if first_call else ()
        outs = _shapes(first_call[2]) if first_call else ()
    return TraceModel(
        name=name,
        class_name=type(model).__name__,
        params=params,
        trainable_params=trainable,
        graph=_model_graph(model, name),
        trainable=bool(model.trainable),
        input_shapes=ins,
        output_shapes=outs,
    )


def learning_rate(optimizer: Any) -> float | None:
    try:
        lr = optimizer.get_config().get("learning_rate")
    except Exception:
        return None
    return float(f"{lr:.7g}") if isinstance(lr, (int, float)) else None  # drop float32 noise


def _grad_record_of(tensor: Any, grad_index: dict[str, int]) -> int | None:
    """The gradient call a (possibly clipped or scaled) gradient tensor comes from."""
    stack, seen = [tensor], set()
    while stack and len(seen) < 5000:
        t = stack.pop()
        if t.name in grad_index:
            return grad_index[t.name]
        if t.name in seen or t.op.type in tfg.SHAPE_OPS or t.op.type in tfg.STOP_OPS:
            continue
        seen.add(t.name)
        stack.extend(t.op.inputs)
    return None


def build_trace(rec: Recorder, found: Found, names: dict[int, str], trace_name: str, params: list[str]) -> Trace:
    call_ids = [f"call{i}" for i in range(len(rec.calls))]
    stops: dict[str, str] = {}
    for i, (_, _, outs) in enumerate(rec.calls):
        for t in outs:
            stops.setdefault(t.name, call_ids[i])
    data_names: dict[str, tuple[str, Any]] = {}
    for path, t in rec.data:
        idx, _, rest = path.partition("[")
        base = params[int(idx)] if int(idx) < len(params) else f"arg{idx}"
        key = f"data:{t.name}"
        stops.setdefault(t.name, key)
        data_names[key] = (rec.names.get(t.name) or (base + ("[" + rest if rest else "")), t)
    redirects: dict[str, list[Any]] = {}
    grad_index: dict[str, int] = {}
    for gi, (targets, results, _) in enumerate(rec.grads):
        for r in results:
            if r is not None:
                redirects.setdefault(r.name, targets)
                grad_index.setdefault(r.name, gi)

    pending: dict[str, tuple[str, str, Any]] = {}

    def new_source(kind: str, tensor: Any, default: str) -> str:
        key = f"{kind}:{tensor.name}"
        pending[key] = (kind, tfg.forward_name(tensor, rec.names) or default, tensor)
        return key

    owners = {op: call_ids[i] for i, ops in enumerate(rec.call_ops) for op in ops}
    walker = tfg.Walker(stops, owners, redirects, new_source)
    raw_call_inputs = [walker.origins(ins) for _, ins, _ in rec.calls]
    loss_keys: dict[str, int] = {}
    loss_targets: list[Any] = []
    loss_names: list[str] = []
    logs = rec.result if isinstance(rec.result, dict) else {}
    for targets, _, locals_ in rec.grads:
        for t, local in zip(targets, locals_):
            if t.name in loss_keys:
                continue
            loss_keys[t.name] = len(loss_targets)
            loss_targets.append(t)
            by_logs = next((str(k) for k, v in logs.items() if tfg.is_graph_tensor(v) and _same(v, t)), None)
            loss_names.append(by_logs or local or rec.names.get(t.name) or f"loss_{len(loss_targets) - 1}")
    raw_loss_inputs = [walker.origins([t]) for t in loss_targets]

    # Ids: sources in the order first reached, data first.
    order = [k for ins in raw_call_inputs + raw_loss_inputs for k in ins if not k.startswith("call")]
    data_rank = {f"data:{t.name}": i for i, (_, t) in enumerate(rec.data)}
    order = sorted(dict.fromkeys(order), key=lambda k: data_rank.get(k, len(data_rank)))
    src_ids = {k: f"src{i}" for i, k in enumerate(order)}
    sources = []
    for key in order:
        if key.startswith("data:"):
            name, t = data_names[key]
            sources.append(Source(src_ids[key], "data", name, tfg.shape_of(t)))
        else:
            kind, name, t = pending[key]
            sources.append(Source(src_ids[key], kind, name, tfg.shape_of(t)))

    def remap(keys: list[str]) -> tuple[str, ...]:
        return tuple(src_ids.get(k, k) for k in keys)

    calls = tuple(
        Call(call_ids[i], name, remap(raw_call_inputs[i]), tfg.shape_of(outs[0]) if outs else None)
        for i, (name, _, outs) in enumerate(rec.calls)
    )
    loss_ids = [f"loss{i}" for i in range(len(loss_targets))]
    losses = tuple(Loss(loss_ids[i], loss_names[i], remap(raw_loss_inputs[i])) for i in range(len(loss_targets)))

    # Updates: which optimizer applies which loss's gradients to which model's variables.
    var_owner: dict[int, str] = {}
    for key, (_, model) in sorted(found.models.items(), key=lambda kv: -len(kv[1][1].variables)):
        for v in model.variables:
            var_owner[id(v)] = names[key]
            value = getattr(v, "value", None)
            if value is not None:
                var_owner[id(value)] = names[key]
    opt_names: dict[int, str] = {}
    used_names: set[str] = set()
    for key, (attr, _) in found.optimizers.items():
        opt_names[key] = attr
        used_names.add(attr)
    counts: dict[tuple[str, str, str], int] = {}
    optimizers: dict[str, OptimizerInfo] = {}
    for opt, grads, variables in rec.applies:
        if id(opt) not in opt_names:
            base = name = str(getattr(opt, "name", type(opt).__name__))
            i = 1
            while name in used_names:
                name, i = f"{base}_{i}", i + 1
            used_names.add(name)
            opt_names[id(opt)] = name
        opt_name = opt_names[id(opt)]
        optimizers.setdefault(opt_name, OptimizerInfo(opt_name, type(opt).__name__, learning_rate(opt)))
        for g, v in zip(grads, variables):
            if g is None or id(v) not in var_owner:
                continue
            gi = _grad_record_of(g, grad_index)
            if gi is None:
                continue
            for t in rec.grads[gi][0]:
                k = (loss_ids[loss_keys[t.name]], opt_name, var_owner[id(v)])
                counts[k] = counts.get(k, 0) + 1
    updates = tuple(Update(loss, opt, model, n) for (loss, opt, model), n in counts.items())

    # Models: in the order of their first call, then models only updated.
    first: dict[str, tuple[str, list[Any], list[Any]]] = {}
    for call in rec.calls:
        first.setdefault(call[0], call)
    by_name = {names[k]: m for k, (_, m) in found.models.items()}
    order_models = list(first) + [u.model for u in updates if u.model not in first]
    used = dict.fromkeys(order_models)
    trace_models = tuple(trace_model(by_name[n], n, first.get(n)) for n in used)
    unused = [n for n in by_name if n not in used]
    return Trace(
        name=trace_name,
        models=trace_models,
        sources=tuple(sources),
        calls=calls,
        losses=losses,
        updates=updates,
        optimizers=tuple(optimizers.values()),
        assumed=False,
        details={"unused_models": unused} if unused else {},
    )


def _same(a: Any, b: Any) -> bool:
    """Whether ``a`` is ``b`` or ``b`` passed through identity/cast ops."""
    for _ in range(4):
        if a.name == b.name:
            return True
        if a.op.type not in ("Identity", "Cast") or not a.op.inputs:
            return False
        a = a.op.inputs[0]
    return False
