"""Stand-in gradients for tracing: which sources a tape would differentiate, without TensorFlow's gradient graph.

A traced step's diagram needs to know, for each ``tape.gradient(target, sources)``, which sources get
a gradient (and which get ``None``), and that the result derives from the target (a gradient penalty
uses it as data). Building TensorFlow's real gradient graph for that was about half of a trace's
time (``benchmarks/bench_trace.py``). Instead, while a step is traced:

* each tape's recording windows are kept (the graph's op ids between ``_push_tape`` and ``_pop_tape``:
  ``with tape:``, re-entries, ``stop_recording``), with the tensors and variables it was told to watch;
* a gradient walks up from the target through ops recorded in those windows, as TensorFlow's tape
  does: through floating-point tensors only, never through ops without a gradient
  (``StopGradient``, ``Floor``...), to variable reads (a trainable variable read in a window, or one
  watched explicitly) and watched tensors;
* a connected source gets ``zeros(shape) + 0 * sum(target)``: its shape and dtype, and a path from the
  target, so an outer tape sees a penalty's dependence on the critic as the real graph would show it.

Nothing runs, so the values never matter; ``unconnected_gradients="zero"`` is honoured. One known
difference: a gradient taken of another gradient (a penalty) reaches every variable its target
depends on, where TensorFlow gives None to one that enters the inner gradient only additively (the
bias of a purely linear critic); with any nonlinearity between, both agree
(``tests/extract/test_standin_gradients.py`` compares both on every system of the zoos).
"""

from __future__ import annotations

from typing import Any

__all__ = ["TapeLog", "standin_gradient"]

# Ops whose registered gradient returns None for every input although it exists.
_NONE_GRADIENT_OPS = frozenset(
    {"Floor", "Ceil", "Round", "Rint", "FloorDiv", "TruncateDiv", "ArgMax", "ArgMin", "StopGradient"}
)
_NO_GRADIENT_CACHE: dict[str, bool] = {}


def _graph() -> Any:
    import tensorflow as tf

    return tf.compat.v1.get_default_graph()


def _last_op_id(graph: Any) -> int:
    """The id of the newest op of ``graph`` (op ids grow as ops are created), 0 when it has none."""
    nodes = getattr(graph, "_nodes_by_id", None)
    if nodes is not None:
        return max(nodes, default=0)
    return max((op._id for op in graph.get_operations()), default=0)  # noqa: SLF001


def _has_no_gradient(op_type: str) -> bool:
    hit = _NO_GRADIENT_CACHE.get(op_type)
    if hit is None:
        from tensorflow.python.framework import ops

        try:
            hit = ops._gradient_registry.lookup(op_type) is None  # noqa: SLF001 - tf.no_gradient registers None
        except LookupError:
            hit = False  # TensorFlow would fail on it; the trace treats it as differentiable
        hit = hit or op_type in _NONE_GRADIENT_OPS
        _NO_GRADIENT_CACHE[op_type] = hit
    return hit


def _trainable(dtype: Any) -> bool:
    return bool(getattr(dtype, "is_floating", False) or getattr(dtype, "is_complex", False))


def _handle(value: Any) -> Any:
    """A variable's resource handle (tf.Variable or Keras variable), else None."""
    handle = getattr(value, "handle", None)
    if handle is None:
        inner = getattr(value, "value", None)
        if inner is not None and not callable(inner):
            handle = getattr(inner, "handle", None)
    return handle


class TapeLog:
    """Recording windows and watched sources of every tape seen while a step is traced."""

    def __init__(self) -> None:
        self.windows: dict[int, list[list[int | None]]] = {}
        self.watched_tensors: dict[int, set[str]] = {}
        self.watched_handles: dict[int, set[int]] = {}

    def pushed(self, tape: Any) -> None:
        self.windows.setdefault(id(tape), []).append([_last_op_id(_graph()), None])

    def popped(self, tape: Any) -> None:
        spans = self.windows.get(id(tape))
        if spans and spans[-1][1] is None:
            spans[-1][1] = _last_op_id(_graph())

    def watched(self, tape: Any, values: Any) -> None:
        import tensorflow as tf

        for value in tf.nest.flatten(values):
            handle = _handle(value)
            if handle is not None:
                self.watched_handles.setdefault(id(tape), set()).add(id(handle))
            elif hasattr(value, "name") and hasattr(value, "op"):
                self.watched_tensors.setdefault(id(tape), set()).add(value.name)

    def recorded(self, tape: Any, op: Any) -> bool:
        op_id = getattr(op, "_id", None)
        if op_id is None:
            return True
        return any(start < op_id and (end is None or op_id <= end) for start, end in self.windows.get(id(tape), []))


def _captured_handles(graph: Any) -> dict[str, int]:
    """Inner placeholder name -> id of the captured resource handle, for the graph being traced."""
    out: dict[str, int] = {}
    for external, internal in getattr(graph, "captures", []):
        if getattr(internal, "dtype", None) is not None and internal.dtype.name == "resource":
            out[internal.name] = id(external)
    return out


def _reached(log: TapeLog, tape: Any, targets: list[Any], sources: list[Any], handles_of: list[Any]) -> list[bool]:
    """For each source, whether TensorFlow's tape would give it a gradient of ``targets``
    (``handles_of``: each source's variable handle, or None for a tensor)."""
    by_tensor: dict[str, list[int]] = {}
    by_handle: dict[int, list[int]] = {}
    trainable: dict[int, bool] = {}
    for i, (s, handle) in enumerate(zip(sources, handles_of)):
        if handle is not None:
            by_handle.setdefault(id(handle), []).append(i)
            trainable[id(handle)] = bool(getattr(s, "trainable", True))
        elif hasattr(s, "name") and hasattr(s, "op"):
            by_tensor.setdefault(s.name, []).append(i)
    auto = bool(getattr(tape, "_watch_accessed_variables", True))
    watched_handles = log.watched_handles.get(id(tape), set())
    watched_tensors = log.watched_tensors.get(id(tape), set())
    handles = _captured_handles(_graph()) if by_handle else {}
    hit = [False] * len(sources)
    stack = [t for t in targets if _trainable(t.dtype)]
    seen: set[str] = set()
    while stack:
        t = stack.pop()
        if t.name in seen:
            continue
        seen.add(t.name)
        op = t.op
        recorded = log.recorded(tape, op)
        for i in by_tensor.get(t.name, []):
            if t.name in watched_tensors or recorded:
                hit[i] = True
        if not recorded or _has_no_gradient(op.type):
            continue
        for x in op.inputs:
            if x.dtype.name == "resource":
                key = handles.get(x.name)
                if key in by_handle and (key in watched_handles or (auto and trainable.get(key, True))):
                    for i in by_handle[key]:
                        hit[i] = True
            elif _trainable(x.dtype) and x.name not in seen:
                stack.append(x)
    return hit


def standin_gradient(log: TapeLog, tape: Any, target: Any, sources: Any, unconnected_gradients: Any = None) -> Any:
    """What ``tape.gradient(target, sources)`` returns while tracing: zeros shaped like each source that a
    gradient would reach (derived from the target), ``None`` (or zeros, as asked) for the others."""
    import tensorflow as tf

    targets = [t for t in tf.nest.flatten(target) if hasattr(t, "op")]
    flat = tf.nest.flatten(sources)
    handles = [_handle(s) for s in flat]
    hit = _reached(log, tape, targets, flat, handles)
    if getattr(tape, "_recording", False) and not getattr(tape, "_persistent", True):
        tape._pop_tape()  # noqa: SLF001 - as TensorFlow does: a non-persistent tape stops recording here
    zero_unconnected = str(getattr(unconnected_gradients, "value", unconnected_gradients) or "none") == "zero"
    anchors: dict[Any, Any] = {}

    def anchor(dtype: Any) -> Any:
        if dtype not in anchors:
            floats = [tf.reduce_sum(tf.cast(t, tf.float32)) for t in targets if _trainable(t.dtype)]
            base = tf.add_n(floats) * 0.0 if floats else tf.constant(0.0)
            anchors[dtype] = tf.cast(base, dtype)
        return anchors[dtype]

    out = []
    for s, handle, connected in zip(flat, handles, hit):
        if not connected and not zero_unconnected:
            out.append(None)
            continue
        dtype = tf.as_dtype(s.dtype)
        if handle is not None and s.shape.is_fully_defined():
            zeros = tf.zeros(s.shape, dtype)
        else:
            zeros = tf.zeros_like(s)
        out.append(zeros + anchor(dtype) if connected else zeros)
    return tf.nest.pack_sequence_as(sources, out)
