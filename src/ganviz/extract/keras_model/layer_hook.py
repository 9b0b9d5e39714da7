"""The one hook on ``keras.layers.Layer.__call__`` both call recorders use (symbolic ``calls.py``, ``tf.function`` ``calls_tf.py``).

It records each sub-layer call as a :class:`LayerCall` tree while a block runs, and restores
``Layer.__call__`` afterwards; how tensors are found and how a call runs is the recorder's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LayerCall", "hooked_calls", "link_tensors", "training_off"]


@dataclass(eq=False)
class LayerCall:
    """One recorded ``Layer.__call__`` during a trace: its symbolic tensors and the calls made inside it.

    ``links`` (on the root only) maps ``id(tensor)`` to the tensors an ordinary op (``keras.ops.add``
    ...) made it from, for every tensor of the trace; the tensors stay alive through the records.
    """

    layer: Any
    inputs: list[Any]
    outputs: list[Any] = field(default_factory=list)
    children: list[LayerCall] = field(default_factory=list)
    links: dict[int, list[Any]] = field(default_factory=dict)


def training_off(layer: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``{"training": False}`` when ``layer.call`` takes ``training`` and ``kwargs`` does not set it."""
    return {"training": False} if getattr(layer, "_call_has_training_arg", False) and "training" not in kwargs else {}


@contextlib.contextmanager
def hooked_calls(
    keras: Any,
    layer: Any,
    tensors: Callable[[Any], list[Any]],
    *,
    skip_without_inputs: bool = False,
    before: Callable[[Any, list[Any]], None] | None = None,
    invoke: Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any] | None = None,
    call_cls: Any = None,
) -> Iterator[list[Any]]:
    """While the block runs, record every ``Layer.__call__``; yields the list of ``layer``'s own (root) calls.

    ``tensors`` picks a value's tensors; a call without any is passed through unrecorded when
    ``skip_without_inputs``; ``before(layer, inputs)`` sees each recorded call first; ``invoke(original,
    layer, args, kwargs)`` runs it (default: Keras's own ``__call__``).
    """
    make = call_cls or LayerCall
    layer_cls = keras.layers.Layer
    original = layer_cls.__call__
    stack: list[Any] = []
    roots: list[Any] = []

    def hooked(self: Any, *a: Any, **k: Any) -> Any:
        ins = tensors((a, k))
        if skip_without_inputs and not ins:
            return original(self, *a, **k)
        if before is not None:
            before(self, ins)
        call = make(self, ins)
        parent = stack[-1] if stack else None
        stack.append(call)
        try:
            out = invoke(original, self, a, k) if invoke is not None else original(self, *a, **k)
        finally:
            stack.pop()
        call.outputs = tensors(out)
        if parent is not None:
            parent.children.append(call)
        elif self is layer:
            roots.append(call)
        return out

    layer_cls.__call__ = hooked
    try:
        yield roots
    finally:
        layer_cls.__call__ = original


def link_tensors(root: Any, inputs_of: Any) -> dict[int, list[Any]]:
    """``id(tensor)`` -> ``inputs_of(tensor)`` for every tensor reached from ``root``'s call tree.

    Both recorders (Keras's symbolic call in ``calls``, ``tf.function`` in ``calls_tf``) walk the same way;
    only how a tensor's inputs are read differs.
    """
    links: dict[int, list[Any]] = {}
    stack: list[Any] = []
    calls = [root]
    while calls:
        call = calls.pop()
        stack += call.inputs + call.outputs
        calls += call.children
    while stack:
        t = stack.pop()
        if id(t) in links:
            continue
        ins = inputs_of(t)
        links[id(t)] = ins
        stack += ins
    return links
