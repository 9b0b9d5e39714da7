"""Updates without an optimizer: EMA, copies and assigned step variables, from recorded ``assign`` calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...ir.trace_facts import Assignment
from .. import tf_graph as tfg

__all__ = ["build_assignments", "variable_name"]

_PASS = frozenset({"Identity", "Cast", "ReadVariableOp"})


def _handle_map(graph: Any, var_owner: dict[int, str], variables: list[Any]) -> dict[str, tuple[str, Any]]:
    """Name of each captured variable handle inside the traced graph -> (owner model, variable)."""
    by_handle: dict[int, tuple[str, Any]] = {}
    for v in variables:
        owner = var_owner.get(id(v))
        if owner is None:
            continue
        for obj in (v, getattr(v, "value", None)):
            handle = getattr(obj, "handle", None)
            if handle is not None:
                by_handle[id(handle)] = (owner, v)
    out: dict[str, tuple[str, Any]] = {}
    try:
        captures = list(graph.captures)
    except Exception:
        return out
    for external, internal in captures:
        hit = by_handle.get(id(external))
        if hit is not None:
            out[internal.name] = hit
    return out


def _read_models(
    value: Any, handles: dict[str, tuple[str, Any]], is_stop: Callable[[Any], bool], limit: int = 3000
) -> list[str]:
    """Models whose variables ``value`` reads directly (not through a model call), in first-found order."""
    found: list[str] = []

    def descend(t: Any) -> bool:
        return not (is_stop(t) or t.op.type == "ReadVariableOp" or t.op.type in tfg.SHAPE_OPS)

    for t in tfg.walk_up(value, descend, limit=limit):
        if t.op.type == "ReadVariableOp" and not is_stop(t):
            hit = handles.get(t.op.inputs[0].name)
            if hit is not None and hit[0] not in found:
                found.append(hit[0])
    return found


def _decay(value: Any, target_handle: str | None) -> float | None:
    """``d`` in ``d * target + (1 - d) * source``: a scalar constant multiplying a read of the target."""
    import numpy as np
    import tensorflow as tf

    stack, seen = [value], set()
    while stack and len(seen) < 200:
        t = stack.pop()
        if t.name in seen:
            continue
        seen.add(t.name)
        op = t.op
        if op.type == "Mul" and len(op.inputs) == 2:
            for a, b in (op.inputs, reversed(op.inputs)):
                reads = _reads_handle(b, target_handle)
                if reads and a.shape.num_elements() == 1:
                    v = _static_decay(a, tf)
                    if v is not None:
                        return float(f"{float(np.asarray(v).reshape(())):.6g}")
        if op.type in ("AddV2", "Add", "Sub", "Mul", "Identity", "Cast"):
            stack.extend(op.inputs)
    return None


def _static_decay(a: Any, tf: Any) -> Any:
    """A constant decay, or the constant cap of a warmed-up one (``min(0.999, (1 + step) / (10 + step))``)."""
    v = tf.get_static_value(a)
    for _ in range(3):
        if v is not None or a.op.type not in ("Minimum", "Identity", "Cast"):
            break
        if a.op.type == "Minimum":
            consts = [tf.get_static_value(x) for x in a.op.inputs]
            return next((c for c in consts if c is not None), None)
        a = a.op.inputs[0]
        v = tf.get_static_value(a)
    return v


def _reads_handle(t: Any, handle: str | None) -> bool:
    for _ in range(4):
        if t.op.type == "ReadVariableOp":
            return handle is not None and t.op.inputs[0].name == handle
        if t.op.type not in _PASS or not t.op.inputs:
            return False
        t = t.op.inputs[0]
    return False


def _is_copy(value: Any) -> bool:
    t = value
    for _ in range(4):
        if t.op.type == "ReadVariableOp":
            return True
        if t.op.type not in _PASS or not t.op.inputs:
            return False
        t = t.op.inputs[0]
    return False


def _increment(value: Any, method: str) -> float | None:
    """What ``assign_add(c)`` / ``assign_sub(c)`` of a constant adds: a step counter's +1, else None."""
    if method not in ("assign_add", "assign_sub"):
        return None
    import numpy as np
    import tensorflow as tf

    try:
        v = value if not tfg.is_graph_tensor(value) else tf.get_static_value(value)
        if v is None or np.size(v) != 1:
            return None
        c = float(np.asarray(v).reshape(()))
    except Exception:
        return None
    return float(f"{(c if method == 'assign_add' else -c):.6g}")


def variable_name(var: Any) -> str:
    """A step variable's name as its code names it: Keras's path, else TensorFlow's name without ``:0``.

    >>> class V: name = "augment_probability:0"
    >>> variable_name(V())
    'augment_probability'
    """
    name = str(getattr(var, "path", None) or getattr(var, "name", None) or "variable")
    head, sep, tail = name.rpartition(":")
    return head if sep and head and tail.isdigit() else name


def build_assignments(
    assigns: list[tuple[Any, Any, str]],
    var_owner: dict[int, str],
    variables: list[Any],
    origins: Callable[[list[Any]], tuple[str, ...]],
    is_stop: Callable[[Any], bool],
) -> tuple[list[Assignment], list[int]]:
    """One :class:`Assignment` per (target, source, kind, decay), and the index of each recorded assign.

    Args:
        assigns: ``(variable, value, method)`` as recorded.
        var_owner: ``id(variable)`` -> model name for every model variable.
        variables: all model variables.
        origins: the call and source ids a list of tensors derives from.
        is_stop: whether a tensor is a model call's output (or made inside a call).
    """
    graph = next((v.graph for _, v, _ in assigns if tfg.is_graph_tensor(v)), None)
    handles = _handle_map(graph, var_owner, variables) if graph is not None else {}
    handle_of: dict[int, str] = {}
    for name, (_, var) in handles.items():  # the Keras variable and the TensorFlow one it holds
        handle_of[id(var)] = name
        handle_of.setdefault(id(getattr(var, "value", var)), name)
    groups: dict[tuple[str, str | None, str, float | None, float | None], list[Any]] = {}
    index: list[int] = []
    for var, value, method in assigns:
        target = var_owner.get(id(var)) or variable_name(var)
        source: str | None = None
        kind, decay = "assign", None
        ins: tuple[str, ...] = ()
        if tfg.is_graph_tensor(value):
            read = [m for m in _read_models(value, handles, is_stop) if m != target]
            source = read[0] if read else None
            if method == "assign" and source is not None:
                decay = _decay(value, handle_of.get(id(var)))
                kind = "ema" if decay is not None else ("copy" if _is_copy(value) else "assign")
            if source is None:
                ins = tuple(origins([value]))
        step = _increment(value, method) if source is None and not ins else None
        key = (target, source, kind, decay, step)
        if key not in groups:
            groups[key] = [0, ins]
        groups[key][0] += 1
        groups[key][1] = tuple(dict.fromkeys((*groups[key][1], *ins)))
        index.append(list(groups).index(key))
    out = [Assignment(t, s, k, d, n, ins, step) for (t, s, k, d, step), (n, ins) in groups.items()]
    return out, index
