"""A jaxpr flattened into plain nodes (calls to ``jit``/``custom_jvp`` functions inlined), and walks over them.

The JAX tracer (``jax_trace.py``) records a step with ``jax.make_jaxpr``; this module turns the
jaxpr into :class:`Node` s that know their inputs, so the tracer can ask where a value comes from
(a model call, the data, noise), whether it is a constant, and how a loss is summed. Standard
library only: the jaxpr is passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Node", "flatten_jaxpr", "walk_up", "constant_value", "RANDOM_PRIMS", "PASS_PRIMS", "LINEAR_PRIMS"]

# Primitives whose sub-jaxpr has the eqn's own inputs and outputs: their body is inlined.
_INLINE = frozenset(
    {"pjit", "jit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr"}
    | {"remat", "checkpoint", "custom_lin"}
)
RANDOM_PRIMS = frozenset({"random_bits", "random_seed", "random_wrap", "random_fold_in", "random_split"})
RANDOM_PRIMS |= frozenset({"threefry2x32", "rng_uniform", "rng_bit_generator"})
PASS_PRIMS = frozenset({"convert_element_type", "copy", "copy_p", "reduce_precision", "stop_gradient"})
SHAPE_PRIMS = frozenset({"reshape", "squeeze", "expand_dims", "broadcast_in_dim"})
LINEAR_PRIMS = (
    frozenset({"reduce_sum", "div", "mul", "neg", "sub", "add", "add_any", "concatenate", "slice", "dynamic_slice"})
    | frozenset({"gather", "select_n", "transpose", "squeeze", "dot_general"})
    | PASS_PRIMS
    | SHAPE_PRIMS
)


class Node:
    """One value of the flattened jaxpr: a primitive's output, a step input, a literal or a constant."""

    __slots__ = ("id", "prim", "inputs", "params", "shape", "dtype", "value", "index", "eqn")

    def __init__(
        self,
        nid: int,
        prim: str,
        inputs: tuple[Node, ...] = (),
        params: dict[str, Any] | None = None,
        aval: Any = None,
        value: Any = None,
        index: int = 0,
        eqn: Any = None,
    ) -> None:
        self.id = nid
        self.prim = prim  # "input", "literal", "const" or the primitive's name
        self.inputs = inputs
        self.params = params or {}
        shape = getattr(aval, "shape", None)
        self.shape: tuple[int | None, ...] | None = None if shape is None else tuple(int(d) for d in shape)
        self.dtype = str(getattr(aval, "dtype", ""))
        self.value = value
        self.index = index  # an input's position, or which output of a multi-output primitive
        self.eqn = eqn  # the jaxpr equation that computes it (``jax_eval`` runs it again on real values)

    @property
    def size(self) -> int | None:
        if self.shape is None:
            return None
        n = 1
        for d in self.shape:
            n *= int(d or 0)
        return n

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Node({self.id}, {self.prim}, {[i.id for i in self.inputs]})"


def flatten_jaxpr(closed: Any) -> tuple[list[Node], list[Node]]:
    """The nodes of the step's inputs and outputs, every primitive between them reachable from those outputs."""
    counter = [0]

    def new(prim: str, **kw: Any) -> Node:
        counter[0] += 1
        return Node(counter[0], prim, **kw)

    def read(env: dict[Any, Node], v: Any) -> Node:
        if hasattr(v, "val") and not hasattr(v, "count"):  # a Literal
            return new("literal", value=v.val, aval=getattr(v, "aval", None))
        hit = env.get(v)
        if hit is None:  # an unbound variable (should not happen): a constant of unknown value
            hit = env[v] = new("const", aval=getattr(v, "aval", None))
        return hit

    def run(jaxpr: Any, consts: list[Any], ins: list[Node], env: dict[Any, Node]) -> list[Node]:
        for var, value in zip(jaxpr.constvars, consts):
            env[var] = new("const", value=value, aval=getattr(var, "aval", None))
        for var, node in zip(jaxpr.invars, ins):
            env[var] = node
        for eqn in jaxpr.eqns:
            inputs = [read(env, v) for v in eqn.invars]
            body = _inline_body(eqn)
            if body is not None:
                inner, inner_consts = body
                outs = run(inner, inner_consts, inputs, {})
                for var, node in zip(eqn.outvars, outs):
                    env[var] = node
                continue
            params = {k: v for k, v in eqn.params.items() if _plain(v)}
            for k, var in enumerate(eqn.outvars):
                env[var] = new(eqn.primitive.name, inputs=tuple(inputs), params=params, aval=var.aval, index=k, eqn=eqn)
        return [read(env, v) for v in jaxpr.outvars]

    jaxpr = closed.jaxpr
    top: dict[Any, Node] = {}
    ins = [new("input", aval=v.aval, index=i) for i, v in enumerate(jaxpr.invars)]
    outs = run(jaxpr, list(closed.consts), ins, top)
    return ins, outs


def _inline_body(eqn: Any) -> tuple[Any, list[Any]] | None:
    if eqn.primitive.name not in _INLINE:
        return None
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        sub = eqn.params.get(key)
        if sub is None:
            continue
        inner = getattr(sub, "jaxpr", sub)
        consts = list(getattr(sub, "consts", []) or [])
        if len(inner.invars) == len(eqn.invars) and len(inner.outvars) == len(eqn.outvars):
            return inner, consts
    return None


def _plain(value: Any) -> bool:
    return isinstance(value, (int, float, bool, str, tuple)) or value is None


def walk_up(start: Node, descend: Callable[[Node], bool], limit: int = 20000) -> Iterator[Node]:
    """Every node from ``start`` upwards, breadth first; the inputs of a node are visited only where
    ``descend`` holds for it."""
    seen = {start.id}
    queue = [start]
    for node in queue:
        if len(seen) > limit:
            return
        yield node
        if not descend(node):
            continue
        for x in node.inputs:
            if x.id not in seen:
                seen.add(x.id)
                queue.append(x)


_UNIFORM_PASS = PASS_PRIMS | SHAPE_PRIMS | frozenset({"tile"})


def constant_value(node: Node, depth: int = 0) -> float | None:
    """The one value every element of a constant node holds (``10.0``, ``jnp.ones(...)``, ``-ones``), else None."""
    import numpy as np

    if depth > 12:
        return None
    if node.prim in ("literal", "const"):
        if node.value is None:
            return None
        try:
            value = np.asarray(node.value)
        except Exception:
            return None
        if value.size == 0 or not np.issubdtype(value.dtype, np.number):
            return None
        first = value.reshape(-1)[0]
        return float(first) if bool(np.all(value == first)) else None
    if node.prim == "neg" and node.inputs:
        v = constant_value(node.inputs[0], depth + 1)
        return None if v is None else -v
    if node.prim in _UNIFORM_PASS and node.inputs:
        return constant_value(node.inputs[0], depth + 1)
    if node.prim in ("mul", "add", "sub", "div", "max", "min") and len(node.inputs) == 2:
        a, b = (constant_value(x, depth + 1) for x in node.inputs)
        if a is None or b is None:
            return None
        if node.prim == "div":
            return None if b == 0 else a / b
        ops: dict[str, Callable[[float, float], float]] = {
            "mul": lambda x, y: x * y,
            "add": lambda x, y: x + y,
            "sub": lambda x, y: x - y,
            "max": max,
            "min": min,
        }
        return ops[node.prim](a, b)
    return None
